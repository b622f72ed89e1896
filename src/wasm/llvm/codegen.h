// The compiled tier's code generator: a CodeGen (validator.h) per function
// body that builds LLVM IR, and the module-level pieces (trampolines, the
// tables of entry points) around it. The IR follows the engine's contracts
// in native.h: every function takes its instance's VmCtx first, charges fuel
// per basic block and checks it at entry and loop headers, checks the stack
// pointer at entry, bounds-checks every memory access, marks the dirty chunk
// of every store, and calls the helpers in native.cc for what it does not do
// inline.
#pragma once

#include <memory>
#include <string>

#include "rusm/result.h"
#include "wasm/engine.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace rusm::wasm::llvm_tier {

// The symbols of the object a module compiles to: an array of the defined
// functions' entries and one of their trampolines.
inline constexpr const char* kFuncsSymbol = "rusm_funcs";
inline constexpr const char* kTrampsSymbol = "rusm_tramps";

// Builds the IR of every defined function of md. Errors: "not supported yet:
// ..." for what the tier does not compile (the module then runs
// interpreted), kLimit/kInvalid as the validator reports them.
Result<std::unique_ptr<llvm::Module>> build_module(const internal::ModuleData& md,
                                                   llvm::LLVMContext& context,
                                                   const std::string& stack_register);

}  // namespace rusm::wasm::llvm_tier
