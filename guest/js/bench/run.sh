#!/usr/bin/env bash
# Spawn cost and idle size of a JavaScript process against a C process, in
# the same run (docs/js.md, "Measurements"):
#   guest/js/bench/run.sh [build-dir] [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
n=${2:-500}
rusm=$build/rusm
flags=(--allow spawn --allow clock --allow proc)
c=$("$rusm" run "$build/guest/js/bench/spawn_c.wasm" "${flags[@]}" -- "$n")
js=$("$rusm" run "$here/spawn.js" "${flags[@]}" -- "$n")
python3 - "$c" "$js" <<'PY'
import json, sys
c, js = (json.loads(a) for a in sys.argv[1:])
print(f"{'process':<8} {'spawned':>8} {'spawns/s':>10} {'idle bytes':>12}")
for r in (c, js):
    print(f"{r['kind']:<8} {r['spawned']:>8} {r['spawns_per_s']:>10} {r['idle_bytes']:>12}")
print(f"js/c     {'':>8} {js['spawns_per_s'] / c['spawns_per_s']:>10.4f} "
      f"{js['idle_bytes'] / c['idle_bytes']:>12.1f}")
PY
