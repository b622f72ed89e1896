#!/usr/bin/env bash
# The platform's calls from JS against the same calls from C, in the same
# run, on one fresh store file (docs/js.md, "Measurements"):
#   guest/js/bench/platform.sh [build-dir] [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../../build}
n=${2:-200}
rusm=$build/rusm
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
flags=(--allow spawn --allow clock --allow kv:bench --allow crypto --allow pubsub --kv "$dir/kv.db")
c=$("$rusm" run "$build/guest/js/bench/platform_c.wasm" "${flags[@]}" -- "$n")
js=$("$rusm" run "$here/platform.js" "${flags[@]}" -- "$n")
python3 - "$c" "$js" <<'PY'
import json, sys
c, js = (json.loads(a) for a in sys.argv[1:])
rows = [("spawn until the child's first message (ms)", "spawn_ms"),
        ("supervisor startChild, same (ms)", "start_child_ms"),
        ("kv incr, a durable commit (us)", "kv_incr_us"), ("kv get (us)", "kv_get_us"),
        ("HMAC-SHA-256 of 256 B (us)", "hmac_us"), ("SHA-256 of 256 B (us)", "digest_us"),
        ("publish to itself + receive (us)", "publish_us")]
print(f"{'call':<44} {'C':>10} {'JS':>10} {'JS/C':>7}")
for name, k in rows:
    cv, jv = c.get(k), js.get(k)
    ratio = f"{jv / cv:7.1f}" if cv else "       "
    print(f"{name:<44} {cv if cv is not None else '-':>10} {round(jv, 2):>10} {ratio}")
PY
