#!/usr/bin/env bash
# Runs a serving example with `rusm serve` on a free port and curls it:
#   serve_example.sh RUSM APP_DIR 'curl args' EXPECTED [more 'curl args' EXPECTED pairs]
# APP_DIR is build/examples/serve/<app>; its rusm.toml is copied beside the
# modules with `listen` set to port 0. Fails unless every response contains
# its EXPECTED text and the server stops cleanly on SIGTERM.
set -euo pipefail
rusm=$1
app=$2
shift 2
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
cp -r "$app"/. "$dir"/
sed -i 's|^listen = .*|listen = "127.0.0.1:0"|' "$dir/rusm.toml"
"$rusm" serve "$dir/rusm.toml" > "$dir/out.log" 2>&1 &
pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$dir/out.log" | head -1)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$dir/out.log"; exit 1; }
  sleep 0.05
done
[ -n "$url" ] || { echo "rusm serve did not say where it listens"; cat "$dir/out.log"; exit 1; }
url=${url%/}
while [ $# -ge 2 ]; do
  # shellcheck disable=SC2086
  got=$(eval curl -sS --max-time 10 $1 2>&1) || true
  if [[ "$got" != *"$2"* ]]; then
    echo "curl $1: expected '$2', got: $got"
    cat "$dir/out.log"
    exit 1
  fi
  echo "ok: curl $1"
  shift 2
done
kill -TERM $pid
code=0
wait $pid || code=$?
pid=
if [ $code -ne 0 ]; then
  echo "rusm serve exited with $code after SIGTERM"
  cat "$dir/out.log"
  exit 1
fi
grep -q "stopped" "$dir/out.log" || { echo "no clean stop"; cat "$dir/out.log"; exit 1; }
