# AssemblyScript guests: asc (assemblyscript 0.28.20) and
# @assemblyscript/wasi-shim 0.1.0 from npm, installed by scripts/bootstrap.sh
# into RUSM_AS_TOOLCHAIN. The build runs only what is installed there: it
# never calls npm, so it works offline and every checkout uses the same,
# pinned compiler.
set(RUSM_AS_TOOLCHAIN /opt/rusm/toolchains/assemblyscript CACHE PATH
    "npm prefix holding assemblyscript and @assemblyscript/wasi-shim (scripts/bootstrap.sh)")
find_program(RUSM_ASC asc PATHS ${RUSM_AS_TOOLCHAIN}/node_modules/.bin NO_DEFAULT_PATH)
set(RUSM_AS_SHIM ${RUSM_AS_TOOLCHAIN}/node_modules/@assemblyscript/wasi-shim/assembly)
set(RUSM_AS_SDK ${PROJECT_SOURCE_DIR}/guest/assemblyscript/rusm)
file(GLOB RUSM_AS_SDK_SOURCES CONFIGURE_DEPENDS ${RUSM_AS_SDK}/*.ts ${RUSM_AS_SDK}/assembly/*.ts)

# asc runs in the source tree with relative paths: asc 0.28 joins a --lib
# directory to its base directory even when the directory is absolute. The
# module is a WASI module through the shim (console, process.argv, Date), its
# aborts end the process through rusm (no env.abort import), and its start
# function is exported as _initialize, which rusm runs in every new instance
# before the entry (_start for `rusm run`, or the function a spawn names).
file(RELATIVE_PATH _rusm_as_shim_rel ${PROJECT_SOURCE_DIR} ${RUSM_AS_SHIM})
set(RUSM_AS_FLAGS
    --path guest/assemblyscript
    --lib ${_rusm_as_shim_rel}
    --use ASC_WASI=1
    --use abort=~lib/rusm/assembly/index/__rusm_abort
    --use trace=wasi_trace
    --use seed=wasi_seed
    --use console=wasi_console
    --use process=wasi_process
    --use Date=wasi_Date
    --use performance=wasi_performance
    --use crypto=wasi_crypto
    --exportStart _initialize
    -O2)

# rusm_add_as_wasm(<target> OUTPUT <file.wasm> SOURCE <file.ts>)
# Compiles an AssemblyScript entry file (it imports the SDK as "rusm") into a
# module; the entry file's exported functions are the module's exports.
# Configuration fails here, at the first AssemblyScript guest, when the
# toolchain is missing.
function(rusm_add_as_wasm target)
  if(NOT RUSM_ASC OR NOT EXISTS ${RUSM_AS_SHIM}/wasi_process.ts)
    message(FATAL_ERROR "AssemblyScript guests need asc and @assemblyscript/wasi-shim in "
                        "${RUSM_AS_TOOLCHAIN}: run scripts/bootstrap.sh (it npm-installs "
                        "them there), or point -DRUSM_AS_TOOLCHAIN at such an npm prefix")
  endif()
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT;SOURCE" "")
  if(NOT arg_OUTPUT OR NOT arg_SOURCE OR arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "rusm_add_as_wasm(${target} OUTPUT <file.wasm> SOURCE <file.ts>)")
  endif()
  get_filename_component(src ${arg_SOURCE} ABSOLUTE)
  file(RELATIVE_PATH src_rel ${PROJECT_SOURCE_DIR} ${src})
  set(out ${arg_OUTPUT})
  if(NOT IS_ABSOLUTE ${out})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${out})
  endif()
  get_filename_component(out_dir ${out} DIRECTORY)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${RUSM_ASC} ${src_rel} ${RUSM_AS_FLAGS} -o ${out}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DEPENDS ${src} ${RUSM_AS_SDK_SOURCES}
    COMMENT "asc: ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()
