# Writes a JS file into a header for the C host layer, minified (comment
# lines, blank lines and indentation left out: neither file breaks a string
# or template over lines, and their error lines are never shown, their
# names starting with '<'). Two forms:
#   a string (NAME, default kPrelude): `static const char NAME[]`, the
#     source as \x escapes (prelude.js for rusm_js.c);
#   code (CODE set): `static void NAME_write(char* out)`, which writes the
#     source into out (NAME_size bytes, a multiple of 8, padded with
#     spaces), as 64-bit stores (platform.js for platform.c). A string is a
#     data segment, in every process's memory from its start; code is not,
#     so a source that most processes never use costs them nothing.
# Included by cmake/RusmQuickJS.cmake with INPUT, OUTPUT (NAME, CODE) set,
# or run as
#   cmake -DINPUT=prelude.js -DOUTPUT=rusm_prelude.h -P embed_prelude.cmake
file(READ ${INPUT} src)
string(REGEX REPLACE "\n[ \t]*//[^\n]*" "" src "\n${src}")
string(REGEX REPLACE "\n[ \t]+" "\n" src "${src}")
string(REGEX REPLACE "\n\n+" "\n" src "${src}")
string(REGEX REPLACE "^\n" "" src "${src}")
if(NOT NAME)
  set(NAME kPrelude)
endif()
get_filename_component(_embed_input ${INPUT} NAME)
set(_embed_head "/* Generated from guest/js/${_embed_input} by guest/js/embed_prelude.cmake. */\n")
if(CODE)
  string(LENGTH "${src}" _embed_len)
  math(EXPR _embed_pad "(8 - ${_embed_len} % 8) % 8")
  if(_embed_pad GREATER 0)
    foreach(_i RANGE 1 ${_embed_pad})
      string(APPEND src " ")
    endforeach()
  endif()
  string(LENGTH "${src}" _embed_len)
  string(HEX "${src}" hex)
  # Eight bytes b0..b7 -> one little-endian u64 store.
  set(_b "([0-9a-f][0-9a-f])")
  string(REGEX REPLACE "${_b}${_b}${_b}${_b}${_b}${_b}${_b}${_b}"
         "  *p++ = 0x\\8\\7\\6\\5\\4\\3\\2\\1ull;\n" stores "${hex}")
  set(content "${_embed_head}#include <stdint.h>\n#define ${NAME}_size ${_embed_len}\nstatic void ${NAME}_write(char* out) {\n  volatile uint64_t* p = (volatile uint64_t*)out;\n${stores}}\n")
else()
  string(HEX "${src}" hex)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" text "${hex}")
  string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){32})" "\\1\"\n\"" text "${text}")
  set(content "${_embed_head}static const char ${NAME}[] =\n\"${text}\";\n")
endif()
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE ${OUTPUT} "${content}")
