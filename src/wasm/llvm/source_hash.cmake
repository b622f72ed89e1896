# Writes OUTPUT: a header defining RUSM_NATIVE_SOURCE_HASH, the SHA-256 of
# the compiled tier's sources (SOURCES, '|'-separated). It is part of the
# cache key of compiled code (tier.cc), so that a change to the code
# generator can never load machine code an older one made.
set(all "")
string(REPLACE "|" ";" SOURCES "${SOURCES}")
foreach(f IN LISTS SOURCES)
  file(SHA256 "${f}" h)
  string(APPEND all "${h}")
endforeach()
string(SHA256 hash "${all}")
set(content "#pragma once\n#define RUSM_NATIVE_SOURCE_HASH \"${hash}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
