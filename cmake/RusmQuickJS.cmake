# JavaScript processes (guest/js, docs/js.md): QuickJS 2021-03-27 built for
# wasm32-wasi with the JS host layer into one module, rusm-js.wasm, which the
# rusm binary embeds to run `rusm run app.js`.
#
# QuickJS's C sources come from the npm package qjsc 0.3.0, which
# scripts/bootstrap.sh unpacks into RUSM_QUICKJS_DIR; the build never calls
# npm. Three lines of quickjs.c assume Linux or threads, so configuration
# writes a patched copy into the build tree (the original stays untouched):
# wasi-libc declares malloc_usable_size in <malloc.h> (and takes a non-const
# pointer), wasm32-wasi has no
# threads (no Atomics), and wasm has only round-to-nearest (no fesetround, so
# CONFIG_PRINTF_RNDN's tie rounding in toFixed/toPrecision is left out);
# and js_random_init is made visible, so that a process started from a
# template reseeds Math.random (guest/js/rusm_js.c).
#
# Defines RUSM_JS_WASM (the module's path) and the target rusm_js_wasm when
# the sources are there; otherwise RUSM_JS_WASM is empty and rusm is built
# without JavaScript (`rusm run app.js` then says how to get it).
set(RUSM_QUICKJS_DIR /opt/rusm/toolchains/quickjs/quickjs-2021-03-27 CACHE PATH
    "QuickJS 2021-03-27 C sources (scripts/bootstrap.sh: npm pack qjsc@0.3.0)")
set(RUSM_JS_WASM "")

if(NOT RUSM_BUILD_GUESTS OR NOT RUSM_WASI_CC)
  message(STATUS "JavaScript processes: off (no Wasm guests are built)")
  return()
endif()
if(NOT EXISTS ${RUSM_QUICKJS_DIR}/quickjs.c)
  message(STATUS "JavaScript processes: off (no QuickJS sources in ${RUSM_QUICKJS_DIR}: "
                 "run scripts/bootstrap.sh)")
  return()
endif()

set(_qjs_out ${CMAKE_BINARY_DIR}/guest/js/quickjs)
file(MAKE_DIRECTORY ${_qjs_out})
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${RUSM_QUICKJS_DIR}/quickjs.c)
file(READ ${RUSM_QUICKJS_DIR}/quickjs.c _qjs_text)
foreach(_pair
    "#elif defined(__linux__)\n#include <malloc.h>|#elif defined(__linux__) || defined(__wasi__)\n#include <malloc.h>"
    "#elif defined(__linux__)\n    (size_t (*)(const void *))malloc_usable_size,|#elif defined(__linux__) || defined(__wasi__)\n    (size_t (*)(const void *))malloc_usable_size,"
    "#if !defined(EMSCRIPTEN)\n#define CONFIG_ATOMICS|#if !defined(EMSCRIPTEN) && !defined(__wasi__)\n#define CONFIG_ATOMICS"
    "#if !defined(_WIN32)\n/* define it if printf uses the RNDN|#if !defined(_WIN32) && !defined(__wasi__)\n/* define it if printf uses the RNDN"
    "static void js_random_init(JSContext *ctx)\n{|void js_random_init(JSContext *ctx);\nvoid js_random_init(JSContext *ctx)\n{")
  string(FIND "${_pair}" "|" _bar)
  string(SUBSTRING "${_pair}" 0 ${_bar} _from)
  math(EXPR _bar "${_bar} + 1")
  string(SUBSTRING "${_pair}" ${_bar} -1 _to)
  string(FIND "${_qjs_text}" "${_from}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "${RUSM_QUICKJS_DIR}/quickjs.c is not QuickJS 2021-03-27 as "
                        "cmake/RusmQuickJS.cmake expects (text not found: ${_from}); "
                        "rerun scripts/bootstrap.sh")
  endif()
  string(REPLACE "${_from}" "${_to}" _qjs_text "${_qjs_text}")
endforeach()
set(_qjs_patched ${_qjs_out}/quickjs.c)
if(EXISTS ${_qjs_patched})
  file(READ ${_qjs_patched} _qjs_old)
else()
  set(_qjs_old "")
endif()
if(NOT _qjs_old STREQUAL _qjs_text)
  file(WRITE ${_qjs_patched} "${_qjs_text}")
endif()

# prelude.js, the JS side of the API, as a C string; written at configure
# time (an edit of prelude.js reconfigures), so that only rusm_js.c, whose
# depfile names the header, is recompiled, never QuickJS.
set(_js_gen ${CMAKE_BINARY_DIR}/guest/js/gen)
file(MAKE_DIRECTORY ${_js_gen})
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/guest/js/prelude.js ${PROJECT_SOURCE_DIR}/guest/js/platform.js
             ${PROJECT_SOURCE_DIR}/guest/js/crypto.js ${PROJECT_SOURCE_DIR}/guest/js/embed_prelude.cmake)
set(INPUT ${PROJECT_SOURCE_DIR}/guest/js/prelude.js)
set(OUTPUT ${_js_gen}/rusm_prelude.h)
include(${PROJECT_SOURCE_DIR}/guest/js/embed_prelude.cmake)
# platform.js and crypto.js, the platform's JS side, compiled by a process
# when it first uses them (guest/js/platform.c); as code, so that they are
# not in the memory of the processes that never do.
set(CODE ON)
set(INPUT ${PROJECT_SOURCE_DIR}/guest/js/platform.js)
set(OUTPUT ${_js_gen}/rusm_platform_js.h)
set(NAME kPlatformJs)
include(${PROJECT_SOURCE_DIR}/guest/js/embed_prelude.cmake)
set(INPUT ${PROJECT_SOURCE_DIR}/guest/js/crypto.js)
set(OUTPUT ${_js_gen}/rusm_crypto_js.h)
set(NAME kCryptoJs)
include(${PROJECT_SOURCE_DIR}/guest/js/embed_prelude.cmake)
unset(INPUT)
unset(OUTPUT)
unset(NAME)
unset(CODE)

set(RUSM_JS_WASM ${CMAKE_BINARY_DIR}/guest/js/rusm-js.wasm)
# Reactor: rusm runs _initialize in every new instance, then the entry
# (js_main for `rusm run`, js_spawned for a child). -mbulk-memory and
# -msign-ext as the bench programs' QuickJS (memcpy and memset as single
# instructions). 512 KiB of C stack: QuickJS keeps JS frames on it, and
# rusm-js bounds JS recursion well within it (JS_SetMaxStackSize).
rusm_add_c_wasm(rusm_js_wasm
  OUTPUT ${RUSM_JS_WASM}
  SOURCES ${_qjs_patched}
          ${RUSM_QUICKJS_DIR}/libregexp.c
          ${RUSM_QUICKJS_DIR}/libunicode.c
          ${RUSM_QUICKJS_DIR}/cutils.c
          ${PROJECT_SOURCE_DIR}/guest/js/rusm_js.c
          ${PROJECT_SOURCE_DIR}/guest/js/platform.c
  EXEC_MODEL reactor
  EXPORTS js_main js_spawned js_supervised js_boot_server js_template js_from_template
          js_supervised_from_template js_http js_sse js_ws
  COMPILE_FLAGS -O2 -mbulk-memory -msign-ext -w
  DEFINES "CONFIG_VERSION=\"2021-03-27\""
  INCLUDE_DIRS ${RUSM_QUICKJS_DIR} ${PROJECT_SOURCE_DIR}/guest/c ${_js_gen}
  LINK_FLAGS -Wl,-z,stack-size=524288 -lm)

# The C baseline of guest/js/bench/platform.sh (the platform's calls from JS
# against the same calls from C).
rusm_add_c_wasm(rusm_js_bench_platform_c
  OUTPUT ${CMAKE_BINARY_DIR}/guest/js/bench/platform_c.wasm
  SOURCES ${PROJECT_SOURCE_DIR}/guest/js/bench/platform_c.c
  INCLUDE_DIRS ${PROJECT_SOURCE_DIR}/guest/c
  EXPORTS child)
