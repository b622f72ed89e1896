#!/usr/bin/env bash
# The CI checks beyond the README's test command:
#   1. the engine's and the actor core's tests under AddressSanitizer + UBSan,
#   2. the actor core's tests under ThreadSanitizer,
#   3. each libFuzzer target for a short while (RUSM_FUZZ_SECONDS, default 60).
# Each build has its own directory; all use ccache.
set -euo pipefail
export RUSM_TIER=interp  # as scripts/test.sh
root=$(cd "$(dirname "$0")/.." && pwd)
export RUSM_CACHE_DIR="$root/build-asan/.rusm-test-cache"  # the compiled tier's, not $HOME's
cd "$root"
jobs=${RUSM_JOBS:-$(nproc)}
fuzz_seconds=${RUSM_FUZZ_SECONDS:-60}

echo "== ASan+UBSan build"
RUSM_BUILD_DIR="$root/build-asan" scripts/build.sh -DRUSM_SANITIZE=ON -DRUSM_BUILD_GUESTS=ON >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j "$jobs" --timeout 1800 -L "asan" -E "^$" --repeat until-pass:2 ) || exit 1

if [ -d tests/otp ]; then
  echo "== ThreadSanitizer build (actor core)"
  RUSM_BUILD_DIR="$root/build-tsan" RUSM_TARGETS=otp_tests scripts/build.sh -DRUSM_TSAN=ON \
    -DRUSM_BUILD_GUESTS=OFF >/dev/null
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j "$jobs" -R "^otp\\." --timeout 900)
fi

if [ -d fuzz ]; then
  echo "== fuzzers (${fuzz_seconds}s each)"
  RUSM_BUILD_DIR="$root/build-fuzz" \
    RUSM_TARGETS="decode_fuzz run_fuzz abi_fuzz memory_fuzz dashboard_fuzz net_fuzz cluster_frame_fuzz fetch_policy_fuzz tier_diff_fuzz fuzz_seed" \
    scripts/build.sh -DRUSM_FUZZ=ON >/dev/null
  for f in build-fuzz/fuzz/*_fuzz; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus="build-fuzz/fuzz/corpus-$name"
    mkdir -p "$corpus"
    # The module fuzzers start from the spec suite's modules; abi_fuzz's
    # inputs are call programs, memory_fuzz's store programs, and
    # dashboard_fuzz's and net_fuzz's raw bytes on a socket,
    # cluster_frame_fuzz's raw frame bytes, and tier_diff_fuzz's the choices
    # of its module generator.
    seeds=build-fuzz/fuzz/seed
    case "$name" in
      abi_fuzz | memory_fuzz | net_fuzz | cluster_frame_fuzz | fetch_policy_fuzz | tier_diff_fuzz) seeds= ;;
      dashboard_fuzz) seeds=fuzz/dashboard_seed ;;
    esac
    echo "-- $name"
    "$f" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=10 "$corpus" \
       $seeds 2>&1 | tail -n 3
  done
fi
echo "sanitizers and fuzzers: ok"
