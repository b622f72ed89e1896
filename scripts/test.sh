#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test: the unit and
# integration tests (CTest, which includes the WebAssembly spec test suite).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
cd "${RUSM_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" --timeout 1200
