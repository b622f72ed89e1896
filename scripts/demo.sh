#!/usr/bin/env bash
# The main job. Installs dependencies, builds everything, then runs the demo:
# the C benchmark corpus compiled to Wasm and run on rusm's engine next to the
# same programs compiled natively and on node's V8, the instantiate benchmark,
# and the actor core's scenarios against the BEAM (when `erl` is installed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
rusm="${RUSM_BUILD_DIR:-$root/build}/rusm"
corpus="${RUSM_BUILD_DIR:-$root/build}/bench/engine/corpus"

echo "== a Wasm guest: fib.wasm, inspected and invoked"
"$rusm" wasm inspect "$corpus/fib.wasm" | sed -n '/^exports/,$p'
"$rusm" wasm invoke "$corpus/fib.wasm" run
for s in instantiate cpu spawn-storm ping-pong fault-recovery fairness; do
  echo
  "$rusm" bench "$s" --duration "${RUSM_DEMO_SECONDS:-2}"
done
