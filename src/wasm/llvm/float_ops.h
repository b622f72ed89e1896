// Float operations whose Wasm semantics LLVM's own intrinsics do not give on
// every input, shared by the scalar (codegen.cc) and SIMD (simd.cc) code.
#pragma once

#include <llvm/IR/IRBuilder.h>

namespace rusm::wasm::llvm_tier {

// The integer type of the same shape as float type (or vector type) t.
inline llvm::Type* same_shape_int(llvm::Type* t) {
  llvm::Type* elem = t->getScalarType();
  llvm::Type* ielem = llvm::Type::getIntNTy(t->getContext(), elem->getPrimitiveSizeInBits());
  if (auto* v = llvm::dyn_cast<llvm::FixedVectorType>(t)) {
    return llvm::FixedVectorType::get(ielem, v->getNumElements());
  }
  return ielem;
}

// Wasm's fmin/fmax (lane-wise for vectors): a NaN if either operand is one
// (quieted), -0 below +0, else the smaller (larger) operand. Written out
// because llvm.minimum/maximum are not enough: when LLVM can prove one
// operand is not a NaN, x86's lowering returns that operand for a
// signalling NaN in the other (found by the tier_diff fuzzer:
// fuzz/tier_diff_found/fmin_fmax_snan.wat).
inline llvm::Value* wasm_min_max(llvm::IRBuilder<>& b, bool is_min, llvm::Value* a,
                                 llvm::Value* c) {
  llvm::Type* t = a->getType();
  llvm::Type* it = same_shape_int(t);
  llvm::Value* ai = b.CreateBitCast(a, it);
  llvm::Value* ci = b.CreateBitCast(c, it);
  // Equal operands: the same value, or zeros of two signs (min takes -0,
  // whose sign bit an or keeps; max takes +0, an and).
  llvm::Value* equal = b.CreateBitCast(is_min ? b.CreateOr(ai, ci) : b.CreateAnd(ai, ci), t);
  llvm::Value* a_first = is_min ? b.CreateFCmpOLT(a, c) : b.CreateFCmpOGT(a, c);
  llvm::Value* c_first = is_min ? b.CreateFCmpOLT(c, a) : b.CreateFCmpOGT(c, a);
  llvm::Value* ordered = b.CreateSelect(a_first, a, b.CreateSelect(c_first, c, equal));
  // A NaN operand: an addition propagates it, quieted by the hardware.
  llvm::Value* nan = b.CreateFAdd(a, c);
  return b.CreateSelect(b.CreateFCmpUNO(a, c), nan, ordered);
}

}  // namespace rusm::wasm::llvm_tier
