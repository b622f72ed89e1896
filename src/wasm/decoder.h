// The binary decoder: turns the bytes of a WebAssembly 2.0 binary module into
// a ModuleIR (module.h) that has passed every module-level validation rule.
//
// What decode() checks:
//   - The whole binary format: header, section framing and order, every
//     section's contents, LEB128 and UTF-8 encodings, and also the encoding
//     of every instruction in function bodies and constant expressions
//     (known opcodes, well-formed immediates, block nesting, the final
//     `end`, the data count section required by memory.init/data.drop in a
//     module that has data segments; without any, those instructions name an
//     unknown segment and the validator reports the module invalid).
//     So a function body handed to the validator is a well-formed
//     instruction sequence that ends exactly at the body's end.
//   - Validation at module level: index bounds of every reference outside
//     function bodies, limits, at most one memory, constant expressions,
//     element and data segments, unique export names, the start function.
//
// What it leaves to the validator (validator.h): the typing of instruction
// sequences in function bodies (operand stack, labels, block types including
// their type indices, local/global/function/table/memory/segment indices used
// by instructions, alignment, lane indices, ref.func against
// ModuleIR::declared_func_refs, select's type-vector arity).
//
// Untrusted input: no input makes decode() crash, hang, read out of bounds,
// or allocate memory out of proportion to the size of `bytes` (every count is
// checked against the bytes that remain before anything is reserved). Its
// cost is linear in the size of the input.
//
// Thread-safety: decode() keeps no shared state; call it from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "rusm/result.h"
#include "rusm/wasm.h"
#include "wasm/module.h"

namespace rusm::wasm {

// Decodes `bytes` into a ModuleIR: the binary format plus every module-level
// validation rule (everything except the typing of instruction sequences
// inside function bodies, which the validator checks).
//
// On success, returns the module; its `bytes` is a copy of `bytes`, and every
// offset in it (code, data) is absolute in that copy.
//
// On error, the error's code is ErrorCode::kMalformed (not a well-formed
// binary), kInvalid (well-formed but invalid) or kLimit (exceeds `options`:
// more than max_functions functions, a body over max_function_body_bytes, more
// than max_locals_per_function locals in a function, or, to bound memory, more
// locals in the whole module than max_locals_per_function plus 16 per byte of
// input). A module that is both malformed and invalid is reported malformed,
// as the reference interpreter does (it decodes everything before it
// validates). The message has the form
//   "<section> section, offset 0x<hex>: <reason>"
// e.g. "type section, offset 0x1f: integer too large", with the offset
// absolute in `bytes`; errors in the 8-byte header name "header", errors
// between sections (a malformed section id) name "module". The reason starts
// with the reference interpreter's wording ("unexpected end", "integer too
// large", "unknown global", "type mismatch", ...), sometimes followed by
// details ("unknown function 7", "illegal opcode fc 12"), so the spec tests'
// expected texts match it as a prefix, which is how the reference test
// runner compares them.
Result<std::unique_ptr<ModuleIR>> decode(std::span<const uint8_t> bytes,
                                         const CompileOptions& options);

}  // namespace rusm::wasm
