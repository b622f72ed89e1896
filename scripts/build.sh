#!/usr/bin/env bash
# Configures and builds rusm into build/ (or $RUSM_BUILD_DIR) with clang-19 and
# Ninja, in RelWithAsserts mode (optimized, assertions on). Extra arguments go
# to CMake. Set RUSM_CC/RUSM_CXX to use another compiler (e.g. gcc/g++), and
# RUSM_TARGETS="a b" to build only those targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RUSM_BUILD_DIR:-$root/build}
cc=${RUSM_CC:-clang-19}
cxx=${RUSM_CXX:-clang++-19}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" "$@"
elif [ $# -gt 0 ]; then
  cmake "$build" "$@"
fi
targets=()
for t in ${RUSM_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "${RUSM_JOBS:-$(nproc)}" "${targets[@]}"
