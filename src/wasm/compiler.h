// The function compiler: validates every function body of a decoded module
// and translates it to internal code (code.h; the encoding is explained at
// the top of interp.cc) in the same pass.
#pragma once

#include "rusm/result.h"
#include "wasm/engine.h"

namespace rusm::wasm::internal {

// Compiles every body of md.ir into md.code / md.funcs for `md.dispatch`.
// Errors: kInvalid (or kMalformed for encoding errors inside a body, kLimit
// for engine limits), with a message "code section, offset 0x..: <reason>
// (function N)".
Status compile_functions(ModuleData& md);

}  // namespace rusm::wasm::internal
