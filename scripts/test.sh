#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test: the unit and
# integration tests (CTest, which includes the WebAssembly spec test suite).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
cd "${RUSM_BUILD_DIR:-$root/build}"
# A test that fails is run once more (its failure is printed either way):
# a few end-to-end tests (the dashboard in a browser, cluster attach, the
# load sweep, descriptor exhaustion) have failed once each under the load of
# a 2-core machine at -j2 and passed alone; a test that fails twice fails the
# run. The notes of issues 13/14 list the ones seen.
# The suite's `rusm run`s interpret (their own tests cover the compiled tier
# with --tier), so that no result depends on a background compile finishing.
export RUSM_TIER=interp RUSM_CACHE_DIR="$PWD/.rusm-test-cache"
ctest --output-on-failure -j "$(nproc)" --timeout 1200 --repeat until-pass:2
