#!/bin/sh
# guest.js_dts: guest/js/rusm.d.ts type-checks a typed app (tsc --strict, no
# DOM library) and rejects a wrong one with exactly its three errors.
# Usage: check_dts.sh NODE SOURCE_DIR. tsc is the dashboard's (its npm ci
# puts it in dashboard/node_modules); exit 77 (skipped) without it.
node=$1
src=$2
tsc=$src/dashboard/node_modules/typescript/bin/tsc
if [ ! -f "$tsc" ]; then
  echo "no tsc in $tsc: build the dashboard target (npm ci) first"
  exit 77
fi
check() {
  "$node" "$tsc" --noEmit --strict --lib es2020 --target es2020 --module es2020 \
    --moduleResolution node "$src/guest/js/rusm.d.ts" "$@"
}
check "$src/tests/js/platform.ts" || { echo "tests/js/platform.ts does not type-check"; exit 1; }
out=$(check "$src/tests/js/platform_type_error.ts")
n=$(printf '%s\n' "$out" | grep -c 'error TS')
if [ "$n" -ne 3 ]; then
  printf '%s\n' "$out"
  echo "$n type errors in tests/js/platform_type_error.ts, expected 3"
  exit 1
fi
echo "rusm.d.ts: ok"
