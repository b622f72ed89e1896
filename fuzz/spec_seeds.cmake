# Converts every .wast of the spec suite with wast2json into OUT_DIR, keeping
# only the binary modules (the fuzzers' seeds).
file(GLOB wasts ${SPEC_DIR}/*.wast)
file(MAKE_DIRECTORY ${OUT_DIR}/tmp)
foreach(wast ${wasts})
  get_filename_component(name ${wast} NAME_WE)
  execute_process(COMMAND ${WAST2JSON} ${wast} -o ${OUT_DIR}/tmp/${name}.json
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
endforeach()
file(GLOB modules ${OUT_DIR}/tmp/*.wasm)
foreach(m ${modules})
  get_filename_component(n ${m} NAME)
  file(RENAME ${m} ${OUT_DIR}/${n})
endforeach()
file(REMOVE_RECURSE ${OUT_DIR}/tmp)
