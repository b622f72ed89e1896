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
