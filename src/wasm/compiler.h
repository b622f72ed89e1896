// The interpreter's compiler: every function body of a decoded module goes
// through the shared validator (validator.h), which drives the interpreter's
// code generator (compiler.cc) to translate it to internal code (code.h; the
// encoding is explained at the top of interp.cc) in the same pass.
#pragma once

#include "rusm/result.h"
#include "wasm/code.h"
#include "wasm/engine.h"
#include "wasm/opcodes.h"

namespace rusm::wasm::internal {

// Compiles every body of md.ir into md.code / md.funcs for `md.dispatch`.
// Errors: kInvalid (or kMalformed for encoding errors inside a body, kLimit
// for engine limits), with a message "code section, offset 0x..: <reason>
// (function N)".
Status compile_functions(ModuleData& md);

// The internal instruction that runs `op`, for every instruction the opcode
// table types by its class (the same name but for a few, e.g. f32.store runs
// as i32_store, a reinterpretation as nop); Op::kCount for kSpecial ones,
// which the compiler emits by hand.
Op interp_op(Opcode op);

}  // namespace rusm::wasm::internal
