# Embeds the `rusm new` templates and the C guest SDK into a C++ header, so
# that the rusm binary carries them and guest/c/rusm.h stays the one source:
#   cmake -DOUTPUT=<header> -DTEMPLATE_DIR=<dir> -DRUSM_H=<rusm.h> -P embed_files.cmake
# Every file under TEMPLATE_DIR becomes an entry named by its relative path,
# and RUSM_H the entry "rusm.h". Bytes are written as \x escapes, so any
# content (quotes, backslashes, non-ASCII) survives unchanged.
foreach(var OUTPUT TEMPLATE_DIR RUSM_H)
  if(NOT ${var})
    message(FATAL_ERROR "embed_files.cmake: -D${var}=... is required")
  endif()
endforeach()

file(GLOB_RECURSE templates RELATIVE ${TEMPLATE_DIR} ${TEMPLATE_DIR}/*)
list(SORT templates)
set(entries)
foreach(name ${templates})
  list(APPEND entries "${name}=${TEMPLATE_DIR}/${name}")
endforeach()
list(APPEND entries "rusm.h=${RUSM_H}")

set(body "")
foreach(entry ${entries})
  string(FIND "${entry}" "=" eq)
  string(SUBSTRING "${entry}" 0 ${eq} name)
  math(EXPR at "${eq} + 1")
  string(SUBSTRING "${entry}" ${at} -1 path)
  file(READ ${path} hex HEX)
  file(SIZE ${path} size)
  # 32 bytes per line, each byte as \xNN.
  string(REGEX REPLACE "(................................................................)"
                       "\\1\n" hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" text "${hex}")
  string(REPLACE "\n" "\"\n         \"" text "${text}")
  string(APPEND body "    {\"${name}\",\n     std::string_view(\"${text}\",\n                      ${size})},\n")
endforeach()

set(content "// Generated at build time by src/cli/embed_files.cmake from src/cli/new_templates/
// and guest/c/rusm.h: do not edit. The files `rusm new` writes. Immutable
// data, safe to read from any thread.
#pragma once

#include <string_view>

namespace rusm::cli::new_templates {

struct File {
  std::string_view path;  // relative to the template directory (or \"rusm.h\")
  std::string_view text;
};

inline constexpr File kFiles[] = {
${body}};

}  // namespace rusm::cli::new_templates
")
# Only touch the header when it changes, so that rusm is not rebuilt for nothing.
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE ${OUTPUT} "${content}")
