# Helpers that build Wasm guests from source at build time (never committed as
# binaries): WAT via wabt's wat2wasm, C via clang-19 --target=wasm32-wasi.

find_program(RUSM_WAT2WASM wat2wasm REQUIRED)
find_program(RUSM_WAST2JSON wast2json REQUIRED)

# rusm_add_wat_guests(<target> <output_dir> <wat files...>)
# Compiles each .wat into <output_dir>/<name>.wasm; <target> builds them all.
function(rusm_add_wat_guests target out_dir)
  set(outputs)
  foreach(src ${ARGN})
    get_filename_component(name ${src} NAME_WE)
    set(out ${out_dir}/${name}.wasm)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND ${RUSM_WAT2WASM} --debug-names ${src} -o ${out}
      DEPENDS ${src}
      COMMENT "wat2wasm ${name}.wat"
      VERBATIM)
    list(APPEND outputs ${out})
  endforeach()
  add_custom_target(${target} ALL DEPENDS ${outputs})
endfunction()

# C guests: clang-19 --target=wasm32-wasi with Debian's wasi-libc (its headers
# and libraries are found by clang without a --sysroot; set RUSM_WASI_SYSROOT
# to use another one).
find_program(RUSM_WASI_CC NAMES clang-19 DOC "clang that targets wasm32-wasi")
set(RUSM_WASI_SYSROOT "" CACHE PATH "wasi-libc sysroot for C guests (empty: clang's default)")

# rusm_add_c_wasm(<target>
#     OUTPUT <file.wasm>               absolute, or relative to the current binary dir
#     SOURCES <file.c>...              relative to the current source dir, or absolute
#     [EXEC_MODEL command|reactor|no-entry]
#     [EXPORTS <symbol>...]            functions to export (-Wl,--export=<symbol>)
#     [COMPILE_FLAGS <flag>...]        replaces the default -O2
#     [DEFINES <NAME[=value]>...]
#     [INCLUDE_DIRS <dir>...]
#     [LINK_FLAGS <flag>...]           extra wasm-ld flags, e.g. -Wl,-z,stack-size=65536
#     [DEPENDS <file-or-target>...]    extra dependencies (headers are tracked by depfiles)
#     [EXCLUDE_FROM_ALL])
#
# Compiles each source to an object, links them with wasi-libc into one module
# and adds a custom target <target> that builds it (with `all`, unless
# EXCLUDE_FROM_ALL). Execution models:
#   command   (default) a program: exports _start, which runs main() and exits.
#   reactor   a library: exports _initialize (the embedder calls it once, before
#             anything else) and EXPORTS; no main().
#   no-entry  -nostartfiles -Wl,--no-entry: no libc start-up code at all, only
#             EXPORTS (wasm-ld then wraps each export to run static
#             destructors after it; prefer reactor when libc is used).
# The module's imports are whatever wasi-libc needs (none when no libc
# function used needs the host); check with `wasm-objdump -x -j Import`.
function(rusm_add_c_wasm target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "EXCLUDE_FROM_ALL" "OUTPUT;EXEC_MODEL"
                        "SOURCES;EXPORTS;COMPILE_FLAGS;DEFINES;INCLUDE_DIRS;LINK_FLAGS;DEPENDS")
  if(NOT RUSM_WASI_CC)
    message(FATAL_ERROR "rusm_add_c_wasm(${target}): clang-19 not found "
                        "(scripts/bootstrap.sh installs it; or -DRUSM_BUILD_GUESTS=OFF)")
  endif()
  if(NOT arg_OUTPUT OR NOT arg_SOURCES)
    message(FATAL_ERROR "rusm_add_c_wasm(${target}): OUTPUT and SOURCES are required")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "rusm_add_c_wasm(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_EXEC_MODEL)
    set(arg_EXEC_MODEL command)
  endif()
  if(NOT DEFINED arg_COMPILE_FLAGS)
    set(arg_COMPILE_FLAGS -O2)
  endif()
  cmake_path(ABSOLUTE_PATH arg_OUTPUT BASE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
             OUTPUT_VARIABLE output)

  set(base_flags --target=wasm32-wasi)
  if(RUSM_WASI_SYSROOT)
    list(APPEND base_flags --sysroot=${RUSM_WASI_SYSROOT})
  endif()
  set(cflags ${base_flags} ${arg_COMPILE_FLAGS})
  foreach(d ${arg_DEFINES})
    list(APPEND cflags -D${d})
  endforeach()
  foreach(dir ${arg_INCLUDE_DIRS})
    cmake_path(ABSOLUTE_PATH dir BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND cflags -I${dir})
  endforeach()

  set(link_flags ${base_flags} ${arg_COMPILE_FLAGS})
  if(arg_EXEC_MODEL STREQUAL "reactor")
    list(APPEND link_flags -mexec-model=reactor)
  elseif(arg_EXEC_MODEL STREQUAL "no-entry")
    list(APPEND link_flags -nostartfiles -Wl,--no-entry)
  elseif(NOT arg_EXEC_MODEL STREQUAL "command")
    message(FATAL_ERROR "rusm_add_c_wasm(${target}): EXEC_MODEL must be command, reactor or "
                        "no-entry, not '${arg_EXEC_MODEL}'")
  endif()
  foreach(sym ${arg_EXPORTS})
    list(APPEND link_flags -Wl,--export=${sym})
  endforeach()
  list(APPEND link_flags ${arg_LINK_FLAGS})

  set(obj_dir ${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${target}.wasm.dir)
  set(objects)
  foreach(src ${arg_SOURCES})
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    # Objects are named for the source's path, so a.c and sub/a.c can coexist.
    file(RELATIVE_PATH name ${CMAKE_CURRENT_SOURCE_DIR} ${src})
    string(REPLACE "/" "_" name "${name}")
    string(REPLACE ".." "__" name "${name}")
    set(obj ${obj_dir}/${name}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${obj_dir}
      COMMAND ${RUSM_WASI_CC} ${cflags} -MD -MF ${obj}.d -c ${src} -o ${obj}
      DEPENDS ${src} ${arg_DEPENDS}
      DEPFILE ${obj}.d
      COMMENT "wasm32-wasi: compiling ${name} for ${target}"
      VERBATIM COMMAND_EXPAND_LISTS)
    list(APPEND objects ${obj})
  endforeach()
  get_filename_component(out_dir ${output} DIRECTORY)
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${RUSM_WASI_CC} ${link_flags} ${objects} -o ${output}
    DEPENDS ${objects} ${arg_DEPENDS}
    COMMENT "wasm32-wasi: linking ${output}"
    VERBATIM COMMAND_EXPAND_LISTS)
  if(arg_EXCLUDE_FROM_ALL)
    add_custom_target(${target} DEPENDS ${output})
  else()
    add_custom_target(${target} ALL DEPENDS ${output})
  endif()
endfunction()

# Rust guests: Debian's rustc 1.63 with its wasm32-wasi std
# (rustc + libstd-rust-dev-wasm32, installed by scripts/bootstrap.sh), called
# directly, without cargo: the SDK crate guest/rust/rusm has no dependencies.
# /usr/bin/rustc first: a rustup rustc earlier on PATH lacks the target.
find_program(RUSM_RUSTC NAMES rustc PATHS /usr/bin NO_DEFAULT_PATH)
set(RUSM_RUST_FLAGS --edition 2021 --target wasm32-wasi -O -C strip=debuginfo)
set(RUSM_RUST_SDK_RLIB ${CMAKE_BINARY_DIR}/guest/rust/librusm.rlib)

# The SDK crate, once per build tree (target rusm_rust_sdk).
function(rusm_rust_sdk)
  if(TARGET rusm_rust_sdk)
    return()
  endif()
  if(NOT RUSM_RUSTC)
    message(FATAL_ERROR "Rust guests need /usr/bin/rustc with the wasm32-wasi std: "
                        "run scripts/bootstrap.sh (rustc, libstd-rust-dev-wasm32)")
  endif()
  set(src ${PROJECT_SOURCE_DIR}/guest/rust/rusm/src)
  add_custom_command(
    OUTPUT ${RUSM_RUST_SDK_RLIB}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/guest/rust
    COMMAND ${RUSM_RUSTC} ${RUSM_RUST_FLAGS} --crate-type rlib --crate-name rusm ${src}/lib.rs
            -o ${RUSM_RUST_SDK_RLIB}
    DEPENDS ${src}/lib.rs ${src}/sys.rs
    COMMENT "rustc: the rusm crate for wasm32-wasi"
    VERBATIM)
  add_custom_target(rusm_rust_sdk DEPENDS ${RUSM_RUST_SDK_RLIB})
endfunction()

# rusm_add_rust_wasm(<target> OUTPUT <file.wasm> SOURCE <file.rs> [COMMAND [EXPORTS fn...]])
# A Rust guest using the rusm crate: a library of exported functions
# (cdylib), or with COMMAND a program with main (a WASI command) that also
# exports the #[no_mangle] functions named in EXPORTS (what it spawns).
function(rusm_add_rust_wasm target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "COMMAND" "OUTPUT;SOURCE" "EXPORTS")
  rusm_rust_sdk()
  get_filename_component(src ${arg_SOURCE} ABSOLUTE)
  set(out ${arg_OUTPUT})
  if(NOT IS_ABSOLUTE ${out})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${out})
  endif()
  get_filename_component(out_dir ${out} DIRECTORY)
  set(exports)
  foreach(e ${arg_EXPORTS})
    list(APPEND exports -C link-arg=--export=${e})
  endforeach()
  if(arg_COMMAND)
    set(kind bin)
  else()
    set(kind cdylib)
  endif()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${RUSM_RUSTC} ${RUSM_RUST_FLAGS} --crate-type ${kind} ${exports}
            --extern rusm=${RUSM_RUST_SDK_RLIB} ${src} -o ${out}
    DEPENDS ${src} ${RUSM_RUST_SDK_RLIB}
    COMMENT "rustc: ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
  add_dependencies(${target} rusm_rust_sdk)
endfunction()
