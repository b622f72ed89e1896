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
// (quieted), -0 below +0, else the smaller (larger) operand.
//
// llvm.minimum/maximum say this for LLVM, but LLVM does not model signalling
// NaNs: when it can prove one operand is not a NaN, x86's lowering returns
// that operand for a signalling NaN in the other (tier_diff seed 1546,
// fuzz/tier_diff_found/fmin_fmax_snan.wat). And writing the whole operation
// out with fcmp and select met an InstCombine fold that turned
// max(0.0, fabs(x)) into 0 for x < 0 (seed 2864: fmax_fabs_zero.wat). So the
// NaN case is decided on the bits (an integer test LLVM does not reason
// about as a float class), and only ordered operands reach llvm.maximum.
inline llvm::Value* wasm_min_max(llvm::IRBuilder<>& b, bool is_min, llvm::Value* a,
                                 llvm::Value* c) {
  llvm::Type* t = a->getType();
  llvm::Type* it = same_shape_int(t);
  unsigned bits = t->getScalarType()->getPrimitiveSizeInBits();
  auto constant = [&](uint64_t v) {
    llvm::Constant* k = llvm::ConstantInt::get(it->getScalarType(), v);
    if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(it)) {
      return llvm::ConstantVector::getSplat(vt->getElementCount(), k);
    }
    return k;
  };
  uint64_t abs_mask = bits == 64 ? ~(uint64_t{1} << 63) : 0x7fffffffu;
  uint64_t infinity = bits == 64 ? 0x7ff0000000000000u : 0x7f800000u;
  uint64_t quiet = bits == 64 ? uint64_t{1} << 51 : uint64_t{1} << 22;
  llvm::Value* ai = b.CreateBitCast(a, it);
  llvm::Value* ci = b.CreateBitCast(c, it);
  llvm::Value* a_nan = b.CreateICmpUGT(b.CreateAnd(ai, constant(abs_mask)), constant(infinity));
  llvm::Value* c_nan = b.CreateICmpUGT(b.CreateAnd(ci, constant(abs_mask)), constant(infinity));
  llvm::Value* nan = b.CreateBitCast(b.CreateOr(b.CreateSelect(a_nan, ai, ci), constant(quiet)), t);
  llvm::Value* ordered =
      b.CreateIntrinsic(is_min ? llvm::Intrinsic::minimum : llvm::Intrinsic::maximum, {t}, {a, c});
  return b.CreateSelect(b.CreateOr(a_nan, c_nan), nan, ordered);
}

}  // namespace rusm::wasm::llvm_tier
