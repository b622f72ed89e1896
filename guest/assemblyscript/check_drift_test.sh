#!/usr/bin/env bash
# scripts/abi.py check must fail, naming the file, when the AssemblyScript
# SDK's generated sys.ts drifts from abi/rusm.toml (the test
# abi.assemblyscript_drift):  check_drift_test.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sys_ts=$src/guest/assemblyscript/rusm/assembly/sys.ts
check() { RUSM_ABI_AS=$tmp/sys.ts python3 "$src/scripts/abi.py" check; }

cp "$sys_ts" "$tmp/sys.ts"
check > /dev/null || { echo "FAIL: the check fails on the sources themselves"; exit 1; }

# expect_drift WHAT: the check fails and names sys.ts.
expect_drift() {
  if check > "$tmp/out" 2>&1; then
    echo "FAIL: the check passed after: $1"; exit 1
  fi
  grep -qF "guest/assemblyscript/rusm/assembly/sys.ts" "$tmp/out" ||
    { echo "FAIL: did not name sys.ts after: $1"; cat "$tmp/out"; exit 1; }
  echo "ok: $1"
}

cp "$sys_ts" "$tmp/sys.ts"
sed -i 's/^export declare function is_alive(pid: u64): i32;/export declare function is_alive(pid: u32): i32;/' "$tmp/sys.ts"
grep -q "is_alive(pid: u32)" "$tmp/sys.ts" || { echo "FAIL: the edit did not apply"; exit 1; }
expect_drift "a hand edit of an import's type"

cp "$sys_ts" "$tmp/sys.ts"
sed -i 's/^export const ECONFLICT: i32 = -16;/export const ECONFLICT: i32 = -15;/' "$tmp/sys.ts"
expect_drift "a wrong error code"

rm "$tmp/sys.ts"
expect_drift "a missing sys.ts"
echo PASS
