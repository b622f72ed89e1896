# Writes prelude.js as a C string (kPrelude) into a header for rusm_js.c;
# included by cmake/RusmQuickJS.cmake with INPUT and OUTPUT set, or run as
#   cmake -DINPUT=prelude.js -DOUTPUT=rusm_prelude.h -P embed_prelude.cmake
# Bytes as \x escapes, so any character survives.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" text "${hex}")
string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){32})" "\\1\"\n\"" text "${text}")
set(content "/* Generated from guest/js/prelude.js by guest/js/embed_prelude.cmake. */\nstatic const char kPrelude[] =\n\"${text}\";\n")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE ${OUTPUT} "${content}")
