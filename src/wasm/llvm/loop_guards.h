// Loop versioning for the compiled tier's guards.
//
// Every memory access of compiled code is bounds-checked, every store marks
// its dirty chunk, and every loop header charges fuel and checks it
// (codegen.h). Inside a hot loop those guards are most of the work, and the
// branches to traps and to the out-of-fuel call keep LLVM from vectorizing.
// This pass, run just before LLVM's loop vectorizer, proves the guards of an
// innermost loop once, before it starts, and runs a copy without them when
// the proof holds:
//
// - a bounds check (a branch to a trap) never fires if its operands are
//   linear in the iteration number and the check passes at the first and the
//   last iteration the loop can run (a linear function is monotonic: the
//   extremes are at the ends). Values are tracked exactly (in 128 bits) and
//   every wrap-around of the 32- and 64-bit arithmetic between is ruled out
//   at the ends too;
// - a fuel check never fires if the counter at entry covers every iteration
//   at the most a single iteration can charge (the sum of the loop's
//   charges); the copy still counts the same fuel, so accounting is exact;
// - a store's dirty mark is set for the whole range the store can reach,
//   once, before the loop (a superset: an extra mark only costs a recycle).
//
// When any guard of the loop cannot be proven the loop is left alone, so the
// copy is made only for loops that gain from it. Both copies compute the
// same results; the checked one runs when the entry check fails (the loop
// may trap, run out of fuel or the proof was too coarse).
#pragma once

#include <llvm/IR/PassManager.h>

namespace rusm::wasm::llvm_tier {

// The runtime helper the guarded copy calls to mark its stores' range
// (native.cc: rt_mark_range(VmCtx*, first byte, last byte)).
inline constexpr const char* kMarkRangeHelper = "rusm_rt_mark_range";
inline constexpr const char* kOutOfFuelHelper = "rusm_rt_out_of_fuel";

struct VersionGuardedLoops : llvm::PassInfoMixin<VersionGuardedLoops> {
  llvm::PreservedAnalyses run(llvm::Function& f, llvm::FunctionAnalysisManager& fam);
};

}  // namespace rusm::wasm::llvm_tier
