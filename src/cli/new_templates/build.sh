#!/bin/sh
# Builds {{name}}'s Wasm modules beside their sources. Needs clang-19 and a
# wasm32-wasi libc (Debian/Ubuntu: apt install clang-19 lld-19 wasi-libc
# libclang-rt-19-dev-wasm32). CC=... picks another clang; WASI_SYSROOT=...
# a wasi-libc sysroot that clang does not find by itself.
set -eu
cd "$(dirname "$0")"
CC=${CC:-clang-19}
set -x
@if http
# rusm ABI handlers are reactors: no main(), they export their entry.
"$CC" --target=wasm32-wasi ${WASI_SYSROOT:+--sysroot="$WASI_SYSROOT"} -O2 -mexec-model=reactor -I. http.c -o http.wasm
@end
@if sse
"$CC" --target=wasm32-wasi ${WASI_SYSROOT:+--sysroot="$WASI_SYSROOT"} -O2 -mexec-model=reactor -I. sse.c -o sse.wasm
@end
@if ws
"$CC" --target=wasm32-wasi ${WASI_SYSROOT:+--sysroot="$WASI_SYSROOT"} -O2 -mexec-model=reactor -I. ws.c -o ws.wasm
@end
@if cgi
# A CGI handler is a plain WASI command (main).
"$CC" --target=wasm32-wasi ${WASI_SYSROOT:+--sysroot="$WASI_SYSROOT"} -O2 cgi.c -o cgi.wasm
@end
