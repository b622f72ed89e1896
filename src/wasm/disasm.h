// Disassembly of the internal code (code.h), for developers:
// `rusm wasm inspect --code FUNC`.
#pragma once

#include <string>

#include "wasm/engine.h"

namespace rusm::wasm::internal {

// One line per instruction: word offset, name, operands ("s3" is slot 3,
// "#5" an immediate, "@12" a branch target).
std::string disassemble(const ModuleData& md, uint32_t func_index);

}  // namespace rusm::wasm::internal
