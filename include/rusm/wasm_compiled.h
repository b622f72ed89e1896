// The compiled tier (WebAssembly to native code through LLVM), a separate
// target (rusm_wasm_llvm) so that an embedder that only interprets does not
// link LLVM. A program that links it calls enable_compiled_tier() once,
// before compiling modules with CompileOptions::tier kCompiled or kAuto.
#pragma once

#include <string>

#include "rusm/result.h"
#include "rusm/wasm.h"

namespace rusm::wasm {

// Installs the compiled tier in the engine. Thread-safe; idempotent.
void enable_compiled_tier();

// The directory of the on-disk cache `options` names (see
// CompileOptions::native_cache_dir), or "" when the cache is off.
std::string native_cache_dir(const CompileOptions& options);

}  // namespace rusm::wasm
