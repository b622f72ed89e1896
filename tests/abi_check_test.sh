#!/usr/bin/env bash
# scripts/abi.py check must fail, naming the problem, when guest/c/rusm.h or
# docs/abi.md drift from abi/rusm.toml:
#   abi_check_test.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { RUSM_ABI_HEADER=$tmp/rusm.h RUSM_ABI_DOCS=$tmp/abi.md python3 "$src/scripts/abi.py" check; }
fresh() { cp "$src/guest/c/rusm.h" "$tmp/rusm.h"; cp "$src/docs/abi.md" "$tmp/abi.md"; }

# expect_drift TEXT: the check fails and says TEXT.
expect_drift() {
  if check > "$tmp/out" 2>&1; then
    echo "FAIL: the check passed after: $2"; exit 1
  fi
  grep -qF -- "$1" "$tmp/out" || { echo "FAIL: did not say '$1' after: $2"; cat "$tmp/out"; exit 1; }
  echo "ok: $2"
}

fresh
check > /dev/null || { echo "FAIL: the check fails on the sources themselves"; exit 1; }

fresh
sed -i 's/^RUSM_IMPORT_(is_alive) int32_t rusm_is_alive(rusm_pid pid);/RUSM_IMPORT_(is_alive) int32_t rusm_is_alive(uint32_t pid);/' "$tmp/rusm.h"
expect_drift "rusm.h: its generated blocks are out of date" "a hand edit of an import in rusm.h"

fresh
sed -i 's/^| `is_alive` | `(pid: i64) -> i32` |/| `is_alive` | `(pid: i32) -> i32` |/' "$tmp/abi.md"
expect_drift "is_alive is documented as (i32) -> i32" "a wrong signature in docs/abi.md"

fresh
sed -i '/^| `yield` |/d' "$tmp/abi.md"
expect_drift "no row for yield" "a function missing from docs/abi.md"

fresh
sed -i 's/^| -14 | `ENOTCONN` |/| -15 | `ENOTCONN` |/' "$tmp/abi.md"
expect_drift "error ENOTCONN should be code -14" "a wrong error code in docs/abi.md"

fresh
echo '| `teleport` | `(node: i32) -> i32` | not a thing |' >> "$tmp/abi.md"
expect_drift "teleport is documented but not in abi/rusm.toml" "a function only the docs have"
echo PASS
