// The compiled tier's SIMD instructions (see simd.h).
//
// Everything here is target-independent IR that LLVM's x86-64 (and AArch64)
// backends select for any CPU of the architecture: plain vector arithmetic,
// casts and shuffles, and the generic intrinsics (saturating add/sub,
// smin/umax, abs, ctpop, minimum/maximum, ceil/roundeven, sqrt)
// that the backends legalize when the CPU lacks an instruction. Semantics are
// the interpreter's (interp_simd.inc), which follows the spec.
#include "wasm/llvm/simd.h"
#include "wasm/llvm/float_ops.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

namespace rusm::wasm::llvm_tier {

using llvm::CmpInst;
using llvm::FixedVectorType;
using llvm::Instruction;
using llvm::Type;
using llvm::Value;
namespace Intrinsic = llvm::Intrinsic;

SimdGen::SimdGen(llvm::IRBuilder<>& b) : b_(b) {
  i8_ = b.getInt8Ty();
  i16_ = b.getInt16Ty();
  i32_ = b.getInt32Ty();
  i64_ = b.getInt64Ty();
  v128_ = vec(i64_, 2);
  i8x16_ = vec(i8_, 16);
  i16x8_ = vec(i16_, 8);
  i32x4_ = vec(i32_, 4);
  i64x2_ = v128_;
  f32x4_ = vec(b.getFloatTy(), 4);
  f64x2_ = vec(b.getDoubleTy(), 2);
}

FixedVectorType* SimdGen::vec(Type* elem, unsigned n) {
  return FixedVectorType::get(elem, n);
}

FixedVectorType* SimdGen::ints(unsigned bits, unsigned n) {
  return vec(b_.getIntNTy(bits), n);
}

FixedVectorType* SimdGen::same_shape_ints(Type* vt) {
  auto* v = llvm::cast<FixedVectorType>(vt);
  return ints(v->getScalarSizeInBits(), v->getNumElements());
}

// The integer vector of a lane instruction's lane count (opcodes.h).
FixedVectorType* SimdGen::by_lanes(Opcode op) {
  unsigned lanes = opcode_info(op).lanes;
  return ints(128 / lanes, lanes);
}

Value* SimdGen::as(Value* v, Type* vt) {
  return b_.CreateBitCast(v, vt);
}
Value* SimdGen::out(Value* v) {
  return b_.CreateBitCast(v, v128_);
}

Value* SimdGen::splat_int(Type* vt, uint64_t x) {
  auto* v = llvm::cast<FixedVectorType>(vt);
  return llvm::ConstantVector::getSplat(v->getElementCount(),
                                        llvm::ConstantInt::get(v->getElementType(), x));
}

// A NaN lane with its quiet bit set (codegen.cc's quiet(), lane-wise): for
// minimum/maximum, whose x86 lowering passes a NaN operand through, and for
// results LLVM may fold to an operand (x * 1.0, demote(promote(x))).
// llvm.canonicalize would say it, but x86 cannot select it in LLVM 19.
Value* SimdGen::quiet(Value* v) {
  Type* vt = v->getType();
  Type* it = same_shape_ints(vt);
  bool f64 = vt->getScalarType()->isDoubleTy();
  Value* bit = splat_int(it, f64 ? uint64_t{1} << 51 : uint64_t{1} << 22);
  Value* quieted = as(b_.CreateOr(as(v, it), bit), vt);
  return b_.CreateSelect(b_.CreateFCmpUNO(v, v), quieted, v);
}

// Arithmetic on a constant may be folded to an operand, which passes a
// signalling NaN through; other arithmetic quiets in hardware.
Value* SimdGen::quiet_if_constant(Value* r, Value* x, Value* y) {
  bool folded = llvm::isa<llvm::Constant>(x) || (y != nullptr && llvm::isa<llvm::Constant>(y));
  return folded ? quiet(r) : r;
}

Value* SimdGen::icmp(CmpInst::Predicate p, Type* vt, Value* a, Value* c) {
  return out(b_.CreateSExt(b_.CreateICmp(p, as(a, vt), as(c, vt)), vt));
}

Value* SimdGen::fcmp(CmpInst::Predicate p, Type* vt, Value* a, Value* c) {
  return out(b_.CreateSExt(b_.CreateFCmp(p, as(a, vt), as(c, vt)), same_shape_ints(vt)));
}

Value* SimdGen::binary(Instruction::BinaryOps op, Type* vt, Value* a, Value* c) {
  return out(b_.CreateBinOp(op, as(a, vt), as(c, vt)));
}

Value* SimdGen::float_binary(Instruction::BinaryOps op, Type* vt, Value* a, Value* c) {
  Value* x = as(a, vt);
  Value* y = as(c, vt);
  return out(quiet_if_constant(b_.CreateBinOp(op, x, y), x, y));
}

Value* SimdGen::intrinsic1(Intrinsic::ID id, Type* vt, Value* a) {
  return out(b_.CreateIntrinsic(id, {vt}, {as(a, vt)}));
}

Value* SimdGen::intrinsic2(Intrinsic::ID id, Type* vt, Value* a, Value* c) {
  return out(b_.CreateIntrinsic(id, {vt}, {as(a, vt), as(c, vt)}));
}

Value* SimdGen::float_unary(Intrinsic::ID id, Type* vt, Value* a) {
  Value* x = as(a, vt);
  return out(quiet_if_constant(b_.CreateIntrinsic(id, {vt}, {x}), x));
}

// min/max: NaN if either lane is NaN, and -0 < +0 (float_ops.h).
Value* SimdGen::min_max(Intrinsic::ID id, Type* vt, Value* a, Value* c) {
  return out(wasm_min_max(b_, id == Intrinsic::minimum, as(a, vt), as(c, vt)));
}

// pmin is b < a ? b : a, pmax a < b ? b : a: an operand as it is.
Value* SimdGen::pmin_pmax(bool max, Type* vt, Value* a, Value* c) {
  Value* x = as(a, vt);
  Value* y = as(c, vt);
  Value* take_y = max ? b_.CreateFCmpOLT(x, y) : b_.CreateFCmpOLT(y, x);
  return out(b_.CreateSelect(take_y, y, x));
}

// The count is taken modulo the lane width.
Value* SimdGen::shift(Instruction::BinaryOps op, Type* vt, Value* a, Value* count) {
  auto* v = llvm::cast<FixedVectorType>(vt);
  unsigned bits = v->getScalarSizeInBits();
  Value* n = b_.CreateAnd(count, b_.getInt32(bits - 1));
  n = b_.CreateZExtOrTrunc(n, v->getElementType());
  return out(b_.CreateBinOp(op, as(a, vt), b_.CreateVectorSplat(v->getNumElements(), n)));
}

Value* SimdGen::all_true(Type* vt, Value* a) {
  auto* v = llvm::cast<FixedVectorType>(vt);
  Value* nonzero = b_.CreateICmpNE(as(a, vt), llvm::Constant::getNullValue(vt));
  Value* bits = b_.CreateBitCast(nonzero, b_.getIntNTy(v->getNumElements()));
  Value* all = llvm::Constant::getAllOnesValue(bits->getType());
  return b_.CreateZExt(b_.CreateICmpEQ(bits, all), i32_);
}

// Bit i of the result is lane i's sign.
Value* SimdGen::bitmask(Type* vt, Value* a) {
  auto* v = llvm::cast<FixedVectorType>(vt);
  Value* negative = b_.CreateICmpSLT(as(a, vt), llvm::Constant::getNullValue(vt));
  return b_.CreateZExt(b_.CreateBitCast(negative, b_.getIntNTy(v->getNumElements())), i32_);
}

// The low or high half of a vector's lanes.
Value* SimdGen::half(Value* v, bool high) {
  unsigned n = llvm::cast<FixedVectorType>(v->getType())->getNumElements();
  llvm::SmallVector<int, 16> mask;
  for (unsigned i = 0; i < n / 2; ++i) {
    mask.push_back(static_cast<int>(high ? n / 2 + i : i));
  }
  return b_.CreateShuffleVector(v, mask);
}

// Each lane extended to twice its width.
Value* SimdGen::widen(Value* v, bool is_signed) {
  auto* t = llvm::cast<FixedVectorType>(v->getType());
  Type* wide = ints(2 * t->getScalarSizeInBits(), t->getNumElements());
  return is_signed ? b_.CreateSExt(v, wide) : b_.CreateZExt(v, wide);
}

Value* SimdGen::extend(Type* vt, bool high, bool is_signed, Value* a) {
  return out(widen(half(as(a, vt), high), is_signed));
}

Value* SimdGen::extmul(Type* vt, bool high, bool is_signed, Value* a, Value* c) {
  Value* x = widen(half(as(a, vt), high), is_signed);
  Value* y = widen(half(as(c, vt), high), is_signed);
  return out(b_.CreateMul(x, y));
}

Value* SimdGen::extadd_pairwise(Type* vt, bool is_signed, Value* a) {
  Value* x = as(a, vt);
  unsigned n = llvm::cast<FixedVectorType>(vt)->getNumElements();
  llvm::SmallVector<int, 16> even, odd;
  for (unsigned i = 0; i < n / 2; ++i) {
    even.push_back(static_cast<int>(2 * i));
    odd.push_back(static_cast<int>(2 * i + 1));
  }
  Value* lo = widen(b_.CreateShuffleVector(x, even), is_signed);
  Value* hi = widen(b_.CreateShuffleVector(x, odd), is_signed);
  return out(b_.CreateAdd(lo, hi));
}

// Each lane clamped to [lo, hi] (signed).
Value* SimdGen::clamp(Value* v, int64_t lo, int64_t hi) {
  Type* vt = v->getType();
  v = b_.CreateBinaryIntrinsic(Intrinsic::smax, v, splat_int(vt, static_cast<uint64_t>(lo)));
  return b_.CreateBinaryIntrinsic(Intrinsic::smin, v, splat_int(vt, static_cast<uint64_t>(hi)));
}

// The lanes of a then c, each a signed value saturated to half its width
// (signed, or unsigned for _u).
Value* SimdGen::narrow(Type* vt, bool is_signed, Value* a, Value* c) {
  auto* v = llvm::cast<FixedVectorType>(vt);
  unsigned n = v->getNumElements();
  unsigned bits = v->getScalarSizeInBits() / 2;
  llvm::SmallVector<int, 16> both;
  for (unsigned i = 0; i < 2 * n; ++i) {
    both.push_back(static_cast<int>(i));
  }
  Value* x = b_.CreateShuffleVector(as(a, vt), as(c, vt), both);
  int64_t lo = is_signed ? -(int64_t{1} << (bits - 1)) : 0;
  int64_t hi = is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
  return out(b_.CreateTrunc(clamp(x, lo, hi), ints(bits, 2 * n)));
}

// (a + b + 1) >> 1 without overflow: in lanes of twice the width.
Value* SimdGen::avgr_u(Type* vt, Value* a, Value* c) {
  Value* x = widen(as(a, vt), false);
  Value* y = widen(as(c, vt), false);
  Value* sum = b_.CreateAdd(b_.CreateAdd(x, y), splat_int(x->getType(), 1));
  return out(b_.CreateTrunc(b_.CreateLShr(sum, splat_int(x->getType(), 1)), vt));
}

// (a * b + 0x4000) >> 15, saturated: only -32768 * -32768 overflows.
Value* SimdGen::q15mulr_sat_s(Value* a, Value* c) {
  Value* x = widen(as(a, i16x8_), true);
  Value* y = widen(as(c, i16x8_), true);
  Value* p = b_.CreateAdd(b_.CreateMul(x, y), splat_int(x->getType(), 0x4000));
  p = b_.CreateAShr(p, splat_int(x->getType(), 15));
  return out(b_.CreateTrunc(clamp(p, -32768, 32767), i16x8_));
}

// Lane i: a[2i] * b[2i] + a[2i+1] * b[2i+1], wrapping at 32 bits.
Value* SimdGen::dot_i16x8_s(Value* a, Value* c) {
  Value* p = b_.CreateMul(widen(as(a, i16x8_), true), widen(as(c, i16x8_), true));
  Value* even = b_.CreateShuffleVector(p, {0, 2, 4, 6});
  Value* odd = b_.CreateShuffleVector(p, {1, 3, 5, 7});
  return out(b_.CreateAdd(even, odd));
}

// Each lane truncated to an i32, saturating (NaN is 0), as fptosi.sat and
// fptoui.sat, which LLVM 19 unrolls into scalar code on x86: the lanes are
// clamped into the conversion's range (out of it, its result is poison) and
// the too-large ones replaced after it.
Value* SimdGen::trunc_sat(Value* x, bool is_signed) {
  auto* ft = llvm::cast<FixedVectorType>(x->getType());
  Type* to = ints(32, ft->getNumElements());
  Value* zero = llvm::Constant::getNullValue(ft);
  if (is_signed) {
    Value* lo = llvm::ConstantFP::get(ft, -2147483648.0);
    Value* too_big = b_.CreateFCmpOGE(x, llvm::ConstantFP::get(ft, 2147483648.0));
    Value* c = b_.CreateSelect(b_.CreateFCmpOLT(x, lo), lo, x);
    c = b_.CreateSelect(b_.CreateOr(too_big, b_.CreateFCmpUNO(x, x)), zero, c);
    return b_.CreateSelect(too_big, splat_int(to, 0x7fffffff), b_.CreateFPToSI(c, to));
  }
  Value* too_big = b_.CreateFCmpOGE(x, llvm::ConstantFP::get(ft, 4294967296.0));
  Value* not_positive = b_.CreateFCmpULE(x, zero);  // or NaN
  Value* c = b_.CreateSelect(b_.CreateOr(too_big, not_positive), zero, x);
  return b_.CreateSelect(too_big, splat_int(to, 0xffffffff), b_.CreateFPToUI(c, to));
}

// Lane i: a[s[i]] if s[i] < 16, else 0. The lanes are extracts of a at
// masked indices (x86 selects the build vector as one pshufb where the CPU
// has it), then the out-of-range lanes are zeroed.
Value* SimdGen::swizzle(Value* a, Value* c) {
  Value* x = as(a, i8x16_);
  Value* s = as(c, i8x16_);
  Value* index = b_.CreateAnd(s, splat_int(i8x16_, 15));
  Value* r = llvm::PoisonValue::get(i8x16_);
  for (unsigned i = 0; i < 16; ++i) {
    Value* lane = b_.CreateExtractElement(x, b_.CreateExtractElement(index, i));
    r = b_.CreateInsertElement(r, lane, i);
  }
  Value* in_range = b_.CreateICmpULT(s, splat_int(i8x16_, 16));
  return out(b_.CreateSelect(in_range, r, llvm::Constant::getNullValue(i8x16_)));
}

Value* SimdGen::numeric(Opcode op, const std::vector<Value*>& in) {
  using P = CmpInst::Predicate;
  using I = Instruction::BinaryOps;
  Value* a = in[0];
  Value* c = in.size() > 1 ? in[1] : nullptr;
  switch (op) {
    case Opcode::i8x16_swizzle:
      return swizzle(a, c);

    // splats
    case Opcode::i8x16_splat:
      return out(b_.CreateVectorSplat(16, b_.CreateTrunc(a, i8_)));
    case Opcode::i16x8_splat:
      return out(b_.CreateVectorSplat(8, b_.CreateTrunc(a, i16_)));
    case Opcode::i32x4_splat:
    case Opcode::f32x4_splat:
      return out(b_.CreateVectorSplat(4, a));
    case Opcode::i64x2_splat:
    case Opcode::f64x2_splat:
      return out(b_.CreateVectorSplat(2, a));

    // comparisons
    case Opcode::i8x16_eq:
      return icmp(P::ICMP_EQ, i8x16_, a, c);
    case Opcode::i8x16_ne:
      return icmp(P::ICMP_NE, i8x16_, a, c);
    case Opcode::i8x16_lt_s:
      return icmp(P::ICMP_SLT, i8x16_, a, c);
    case Opcode::i8x16_lt_u:
      return icmp(P::ICMP_ULT, i8x16_, a, c);
    case Opcode::i8x16_gt_s:
      return icmp(P::ICMP_SGT, i8x16_, a, c);
    case Opcode::i8x16_gt_u:
      return icmp(P::ICMP_UGT, i8x16_, a, c);
    case Opcode::i8x16_le_s:
      return icmp(P::ICMP_SLE, i8x16_, a, c);
    case Opcode::i8x16_le_u:
      return icmp(P::ICMP_ULE, i8x16_, a, c);
    case Opcode::i8x16_ge_s:
      return icmp(P::ICMP_SGE, i8x16_, a, c);
    case Opcode::i8x16_ge_u:
      return icmp(P::ICMP_UGE, i8x16_, a, c);
    case Opcode::i16x8_eq:
      return icmp(P::ICMP_EQ, i16x8_, a, c);
    case Opcode::i16x8_ne:
      return icmp(P::ICMP_NE, i16x8_, a, c);
    case Opcode::i16x8_lt_s:
      return icmp(P::ICMP_SLT, i16x8_, a, c);
    case Opcode::i16x8_lt_u:
      return icmp(P::ICMP_ULT, i16x8_, a, c);
    case Opcode::i16x8_gt_s:
      return icmp(P::ICMP_SGT, i16x8_, a, c);
    case Opcode::i16x8_gt_u:
      return icmp(P::ICMP_UGT, i16x8_, a, c);
    case Opcode::i16x8_le_s:
      return icmp(P::ICMP_SLE, i16x8_, a, c);
    case Opcode::i16x8_le_u:
      return icmp(P::ICMP_ULE, i16x8_, a, c);
    case Opcode::i16x8_ge_s:
      return icmp(P::ICMP_SGE, i16x8_, a, c);
    case Opcode::i16x8_ge_u:
      return icmp(P::ICMP_UGE, i16x8_, a, c);
    case Opcode::i32x4_eq:
      return icmp(P::ICMP_EQ, i32x4_, a, c);
    case Opcode::i32x4_ne:
      return icmp(P::ICMP_NE, i32x4_, a, c);
    case Opcode::i32x4_lt_s:
      return icmp(P::ICMP_SLT, i32x4_, a, c);
    case Opcode::i32x4_lt_u:
      return icmp(P::ICMP_ULT, i32x4_, a, c);
    case Opcode::i32x4_gt_s:
      return icmp(P::ICMP_SGT, i32x4_, a, c);
    case Opcode::i32x4_gt_u:
      return icmp(P::ICMP_UGT, i32x4_, a, c);
    case Opcode::i32x4_le_s:
      return icmp(P::ICMP_SLE, i32x4_, a, c);
    case Opcode::i32x4_le_u:
      return icmp(P::ICMP_ULE, i32x4_, a, c);
    case Opcode::i32x4_ge_s:
      return icmp(P::ICMP_SGE, i32x4_, a, c);
    case Opcode::i32x4_ge_u:
      return icmp(P::ICMP_UGE, i32x4_, a, c);
    case Opcode::i64x2_eq:
      return icmp(P::ICMP_EQ, i64x2_, a, c);
    case Opcode::i64x2_ne:
      return icmp(P::ICMP_NE, i64x2_, a, c);
    case Opcode::i64x2_lt_s:
      return icmp(P::ICMP_SLT, i64x2_, a, c);
    case Opcode::i64x2_gt_s:
      return icmp(P::ICMP_SGT, i64x2_, a, c);
    case Opcode::i64x2_le_s:
      return icmp(P::ICMP_SLE, i64x2_, a, c);
    case Opcode::i64x2_ge_s:
      return icmp(P::ICMP_SGE, i64x2_, a, c);
    case Opcode::f32x4_eq:
      return fcmp(P::FCMP_OEQ, f32x4_, a, c);
    case Opcode::f32x4_ne:
      return fcmp(P::FCMP_UNE, f32x4_, a, c);
    case Opcode::f32x4_lt:
      return fcmp(P::FCMP_OLT, f32x4_, a, c);
    case Opcode::f32x4_gt:
      return fcmp(P::FCMP_OGT, f32x4_, a, c);
    case Opcode::f32x4_le:
      return fcmp(P::FCMP_OLE, f32x4_, a, c);
    case Opcode::f32x4_ge:
      return fcmp(P::FCMP_OGE, f32x4_, a, c);
    case Opcode::f64x2_eq:
      return fcmp(P::FCMP_OEQ, f64x2_, a, c);
    case Opcode::f64x2_ne:
      return fcmp(P::FCMP_UNE, f64x2_, a, c);
    case Opcode::f64x2_lt:
      return fcmp(P::FCMP_OLT, f64x2_, a, c);
    case Opcode::f64x2_gt:
      return fcmp(P::FCMP_OGT, f64x2_, a, c);
    case Opcode::f64x2_le:
      return fcmp(P::FCMP_OLE, f64x2_, a, c);
    case Opcode::f64x2_ge:
      return fcmp(P::FCMP_OGE, f64x2_, a, c);

    // bitwise
    case Opcode::v128_not:
      return b_.CreateNot(a);
    case Opcode::v128_and:
      return b_.CreateAnd(a, c);
    case Opcode::v128_andnot:
      return b_.CreateAnd(a, b_.CreateNot(c));
    case Opcode::v128_or:
      return b_.CreateOr(a, c);
    case Opcode::v128_xor:
      return b_.CreateXor(a, c);
    case Opcode::v128_bitselect: {
      Value* mask = in[2];
      return b_.CreateOr(b_.CreateAnd(a, mask), b_.CreateAnd(c, b_.CreateNot(mask)));
    }
    case Opcode::v128_any_true: {
      Value* bits = b_.CreateBitCast(a, b_.getInt128Ty());
      return b_.CreateZExt(b_.CreateICmpNE(bits, b_.getIntN(128, 0)), i32_);
    }

    // integer lanes
    case Opcode::i8x16_abs:
      return out(b_.CreateBinaryIntrinsic(Intrinsic::abs, as(a, i8x16_), b_.getFalse()));
    case Opcode::i16x8_abs:
      return out(b_.CreateBinaryIntrinsic(Intrinsic::abs, as(a, i16x8_), b_.getFalse()));
    case Opcode::i32x4_abs:
      return out(b_.CreateBinaryIntrinsic(Intrinsic::abs, as(a, i32x4_), b_.getFalse()));
    case Opcode::i64x2_abs:
      return out(b_.CreateBinaryIntrinsic(Intrinsic::abs, a, b_.getFalse()));
    case Opcode::i8x16_neg:
      return out(b_.CreateNeg(as(a, i8x16_)));
    case Opcode::i16x8_neg:
      return out(b_.CreateNeg(as(a, i16x8_)));
    case Opcode::i32x4_neg:
      return out(b_.CreateNeg(as(a, i32x4_)));
    case Opcode::i64x2_neg:
      return b_.CreateNeg(a);
    case Opcode::i8x16_popcnt:
      return intrinsic1(Intrinsic::ctpop, i8x16_, a);
    case Opcode::i8x16_all_true:
      return all_true(i8x16_, a);
    case Opcode::i16x8_all_true:
      return all_true(i16x8_, a);
    case Opcode::i32x4_all_true:
      return all_true(i32x4_, a);
    case Opcode::i64x2_all_true:
      return all_true(i64x2_, a);
    case Opcode::i8x16_bitmask:
      return bitmask(i8x16_, a);
    case Opcode::i16x8_bitmask:
      return bitmask(i16x8_, a);
    case Opcode::i32x4_bitmask:
      return bitmask(i32x4_, a);
    case Opcode::i64x2_bitmask:
      return bitmask(i64x2_, a);
    case Opcode::i8x16_narrow_i16x8_s:
      return narrow(i16x8_, true, a, c);
    case Opcode::i8x16_narrow_i16x8_u:
      return narrow(i16x8_, false, a, c);
    case Opcode::i16x8_narrow_i32x4_s:
      return narrow(i32x4_, true, a, c);
    case Opcode::i16x8_narrow_i32x4_u:
      return narrow(i32x4_, false, a, c);
    case Opcode::i16x8_extend_low_i8x16_s:
      return extend(i8x16_, false, true, a);
    case Opcode::i16x8_extend_high_i8x16_s:
      return extend(i8x16_, true, true, a);
    case Opcode::i16x8_extend_low_i8x16_u:
      return extend(i8x16_, false, false, a);
    case Opcode::i16x8_extend_high_i8x16_u:
      return extend(i8x16_, true, false, a);
    case Opcode::i32x4_extend_low_i16x8_s:
      return extend(i16x8_, false, true, a);
    case Opcode::i32x4_extend_high_i16x8_s:
      return extend(i16x8_, true, true, a);
    case Opcode::i32x4_extend_low_i16x8_u:
      return extend(i16x8_, false, false, a);
    case Opcode::i32x4_extend_high_i16x8_u:
      return extend(i16x8_, true, false, a);
    case Opcode::i64x2_extend_low_i32x4_s:
      return extend(i32x4_, false, true, a);
    case Opcode::i64x2_extend_high_i32x4_s:
      return extend(i32x4_, true, true, a);
    case Opcode::i64x2_extend_low_i32x4_u:
      return extend(i32x4_, false, false, a);
    case Opcode::i64x2_extend_high_i32x4_u:
      return extend(i32x4_, true, false, a);
    case Opcode::i16x8_extmul_low_i8x16_s:
      return extmul(i8x16_, false, true, a, c);
    case Opcode::i16x8_extmul_high_i8x16_s:
      return extmul(i8x16_, true, true, a, c);
    case Opcode::i16x8_extmul_low_i8x16_u:
      return extmul(i8x16_, false, false, a, c);
    case Opcode::i16x8_extmul_high_i8x16_u:
      return extmul(i8x16_, true, false, a, c);
    case Opcode::i32x4_extmul_low_i16x8_s:
      return extmul(i16x8_, false, true, a, c);
    case Opcode::i32x4_extmul_high_i16x8_s:
      return extmul(i16x8_, true, true, a, c);
    case Opcode::i32x4_extmul_low_i16x8_u:
      return extmul(i16x8_, false, false, a, c);
    case Opcode::i32x4_extmul_high_i16x8_u:
      return extmul(i16x8_, true, false, a, c);
    case Opcode::i64x2_extmul_low_i32x4_s:
      return extmul(i32x4_, false, true, a, c);
    case Opcode::i64x2_extmul_high_i32x4_s:
      return extmul(i32x4_, true, true, a, c);
    case Opcode::i64x2_extmul_low_i32x4_u:
      return extmul(i32x4_, false, false, a, c);
    case Opcode::i64x2_extmul_high_i32x4_u:
      return extmul(i32x4_, true, false, a, c);
    case Opcode::i16x8_extadd_pairwise_i8x16_s:
      return extadd_pairwise(i8x16_, true, a);
    case Opcode::i16x8_extadd_pairwise_i8x16_u:
      return extadd_pairwise(i8x16_, false, a);
    case Opcode::i32x4_extadd_pairwise_i16x8_s:
      return extadd_pairwise(i16x8_, true, a);
    case Opcode::i32x4_extadd_pairwise_i16x8_u:
      return extadd_pairwise(i16x8_, false, a);
    case Opcode::i16x8_q15mulr_sat_s:
      return q15mulr_sat_s(a, c);
    case Opcode::i32x4_dot_i16x8_s:
      return dot_i16x8_s(a, c);
    case Opcode::i8x16_shl:
      return shift(I::Shl, i8x16_, a, c);
    case Opcode::i8x16_shr_s:
      return shift(I::AShr, i8x16_, a, c);
    case Opcode::i8x16_shr_u:
      return shift(I::LShr, i8x16_, a, c);
    case Opcode::i16x8_shl:
      return shift(I::Shl, i16x8_, a, c);
    case Opcode::i16x8_shr_s:
      return shift(I::AShr, i16x8_, a, c);
    case Opcode::i16x8_shr_u:
      return shift(I::LShr, i16x8_, a, c);
    case Opcode::i32x4_shl:
      return shift(I::Shl, i32x4_, a, c);
    case Opcode::i32x4_shr_s:
      return shift(I::AShr, i32x4_, a, c);
    case Opcode::i32x4_shr_u:
      return shift(I::LShr, i32x4_, a, c);
    case Opcode::i64x2_shl:
      return shift(I::Shl, i64x2_, a, c);
    case Opcode::i64x2_shr_s:
      return shift(I::AShr, i64x2_, a, c);
    case Opcode::i64x2_shr_u:
      return shift(I::LShr, i64x2_, a, c);
    case Opcode::i8x16_add:
      return binary(I::Add, i8x16_, a, c);
    case Opcode::i16x8_add:
      return binary(I::Add, i16x8_, a, c);
    case Opcode::i32x4_add:
      return binary(I::Add, i32x4_, a, c);
    case Opcode::i64x2_add:
      return binary(I::Add, i64x2_, a, c);
    case Opcode::i8x16_sub:
      return binary(I::Sub, i8x16_, a, c);
    case Opcode::i16x8_sub:
      return binary(I::Sub, i16x8_, a, c);
    case Opcode::i32x4_sub:
      return binary(I::Sub, i32x4_, a, c);
    case Opcode::i64x2_sub:
      return binary(I::Sub, i64x2_, a, c);
    case Opcode::i16x8_mul:
      return binary(I::Mul, i16x8_, a, c);
    case Opcode::i32x4_mul:
      return binary(I::Mul, i32x4_, a, c);
    case Opcode::i64x2_mul:
      return binary(I::Mul, i64x2_, a, c);
    case Opcode::i8x16_add_sat_s:
      return intrinsic2(Intrinsic::sadd_sat, i8x16_, a, c);
    case Opcode::i8x16_add_sat_u:
      return intrinsic2(Intrinsic::uadd_sat, i8x16_, a, c);
    case Opcode::i8x16_sub_sat_s:
      return intrinsic2(Intrinsic::ssub_sat, i8x16_, a, c);
    case Opcode::i8x16_sub_sat_u:
      return intrinsic2(Intrinsic::usub_sat, i8x16_, a, c);
    case Opcode::i16x8_add_sat_s:
      return intrinsic2(Intrinsic::sadd_sat, i16x8_, a, c);
    case Opcode::i16x8_add_sat_u:
      return intrinsic2(Intrinsic::uadd_sat, i16x8_, a, c);
    case Opcode::i16x8_sub_sat_s:
      return intrinsic2(Intrinsic::ssub_sat, i16x8_, a, c);
    case Opcode::i16x8_sub_sat_u:
      return intrinsic2(Intrinsic::usub_sat, i16x8_, a, c);
    case Opcode::i8x16_min_s:
      return intrinsic2(Intrinsic::smin, i8x16_, a, c);
    case Opcode::i8x16_min_u:
      return intrinsic2(Intrinsic::umin, i8x16_, a, c);
    case Opcode::i8x16_max_s:
      return intrinsic2(Intrinsic::smax, i8x16_, a, c);
    case Opcode::i8x16_max_u:
      return intrinsic2(Intrinsic::umax, i8x16_, a, c);
    case Opcode::i16x8_min_s:
      return intrinsic2(Intrinsic::smin, i16x8_, a, c);
    case Opcode::i16x8_min_u:
      return intrinsic2(Intrinsic::umin, i16x8_, a, c);
    case Opcode::i16x8_max_s:
      return intrinsic2(Intrinsic::smax, i16x8_, a, c);
    case Opcode::i16x8_max_u:
      return intrinsic2(Intrinsic::umax, i16x8_, a, c);
    case Opcode::i32x4_min_s:
      return intrinsic2(Intrinsic::smin, i32x4_, a, c);
    case Opcode::i32x4_min_u:
      return intrinsic2(Intrinsic::umin, i32x4_, a, c);
    case Opcode::i32x4_max_s:
      return intrinsic2(Intrinsic::smax, i32x4_, a, c);
    case Opcode::i32x4_max_u:
      return intrinsic2(Intrinsic::umax, i32x4_, a, c);
    case Opcode::i8x16_avgr_u:
      return avgr_u(i8x16_, a, c);
    case Opcode::i16x8_avgr_u:
      return avgr_u(i16x8_, a, c);

    // float lanes
    case Opcode::f32x4_abs:
      return intrinsic1(Intrinsic::fabs, f32x4_, a);
    case Opcode::f64x2_abs:
      return intrinsic1(Intrinsic::fabs, f64x2_, a);
    case Opcode::f32x4_neg:
      return out(b_.CreateFNeg(as(a, f32x4_)));
    case Opcode::f64x2_neg:
      return out(b_.CreateFNeg(as(a, f64x2_)));
    case Opcode::f32x4_sqrt:
      return float_unary(Intrinsic::sqrt, f32x4_, a);
    case Opcode::f64x2_sqrt:
      return float_unary(Intrinsic::sqrt, f64x2_, a);
    case Opcode::f32x4_ceil:
      return float_unary(Intrinsic::ceil, f32x4_, a);
    case Opcode::f64x2_ceil:
      return float_unary(Intrinsic::ceil, f64x2_, a);
    case Opcode::f32x4_floor:
      return float_unary(Intrinsic::floor, f32x4_, a);
    case Opcode::f64x2_floor:
      return float_unary(Intrinsic::floor, f64x2_, a);
    case Opcode::f32x4_trunc:
      return float_unary(Intrinsic::trunc, f32x4_, a);
    case Opcode::f64x2_trunc:
      return float_unary(Intrinsic::trunc, f64x2_, a);
    case Opcode::f32x4_nearest:
      return float_unary(Intrinsic::roundeven, f32x4_, a);
    case Opcode::f64x2_nearest:
      return float_unary(Intrinsic::roundeven, f64x2_, a);
    case Opcode::f32x4_add:
      return float_binary(I::FAdd, f32x4_, a, c);
    case Opcode::f64x2_add:
      return float_binary(I::FAdd, f64x2_, a, c);
    case Opcode::f32x4_sub:
      return float_binary(I::FSub, f32x4_, a, c);
    case Opcode::f64x2_sub:
      return float_binary(I::FSub, f64x2_, a, c);
    case Opcode::f32x4_mul:
      return float_binary(I::FMul, f32x4_, a, c);
    case Opcode::f64x2_mul:
      return float_binary(I::FMul, f64x2_, a, c);
    case Opcode::f32x4_div:
      return float_binary(I::FDiv, f32x4_, a, c);
    case Opcode::f64x2_div:
      return float_binary(I::FDiv, f64x2_, a, c);
    case Opcode::f32x4_min:
      return min_max(Intrinsic::minimum, f32x4_, a, c);
    case Opcode::f64x2_min:
      return min_max(Intrinsic::minimum, f64x2_, a, c);
    case Opcode::f32x4_max:
      return min_max(Intrinsic::maximum, f32x4_, a, c);
    case Opcode::f64x2_max:
      return min_max(Intrinsic::maximum, f64x2_, a, c);
    case Opcode::f32x4_pmin:
      return pmin_pmax(false, f32x4_, a, c);
    case Opcode::f64x2_pmin:
      return pmin_pmax(false, f64x2_, a, c);
    case Opcode::f32x4_pmax:
      return pmin_pmax(true, f32x4_, a, c);
    case Opcode::f64x2_pmax:
      return pmin_pmax(true, f64x2_, a, c);

    // conversions
    case Opcode::i32x4_trunc_sat_f32x4_s:
      return out(trunc_sat(as(a, f32x4_), true));
    case Opcode::i32x4_trunc_sat_f32x4_u:
      return out(trunc_sat(as(a, f32x4_), false));
    case Opcode::i32x4_trunc_sat_f64x2_s_zero:
    case Opcode::i32x4_trunc_sat_f64x2_u_zero: {
      Type* i32x2 = vec(i32_, 2);
      Value* r = trunc_sat(as(a, f64x2_), op == Opcode::i32x4_trunc_sat_f64x2_s_zero);
      return out(b_.CreateShuffleVector(r, llvm::Constant::getNullValue(i32x2), {0, 1, 2, 3}));
    }
    case Opcode::f32x4_convert_i32x4_s:
      return out(b_.CreateSIToFP(as(a, i32x4_), f32x4_));
    case Opcode::f32x4_convert_i32x4_u:
      return out(b_.CreateUIToFP(as(a, i32x4_), f32x4_));
    case Opcode::f64x2_convert_low_i32x4_s:
      return out(b_.CreateSIToFP(half(as(a, i32x4_), false), f64x2_));
    case Opcode::f64x2_convert_low_i32x4_u:
      return out(b_.CreateUIToFP(half(as(a, i32x4_), false), f64x2_));
    case Opcode::f32x4_demote_f64x2_zero: {  // demote(promote(x)) folds to x
      Type* f32x2 = vec(b_.getFloatTy(), 2);
      Value* r = quiet(b_.CreateFPTrunc(as(a, f64x2_), f32x2));
      return out(b_.CreateShuffleVector(r, llvm::Constant::getNullValue(f32x2), {0, 1, 2, 3}));
    }
    case Opcode::f64x2_promote_low_f32x4: {
      Value* x = as(a, f32x4_);
      return out(quiet_if_constant(b_.CreateFPExt(half(x, false), f64x2_), x));
    }
    default:
      return nullptr;
  }
}

Value* SimdGen::lane(Opcode op, uint8_t lane, const std::vector<Value*>& in) {
  Value* a = in[0];
  switch (op) {
    case Opcode::i8x16_extract_lane_s:
      return b_.CreateSExt(b_.CreateExtractElement(as(a, i8x16_), lane), i32_);
    case Opcode::i8x16_extract_lane_u:
      return b_.CreateZExt(b_.CreateExtractElement(as(a, i8x16_), lane), i32_);
    case Opcode::i16x8_extract_lane_s:
      return b_.CreateSExt(b_.CreateExtractElement(as(a, i16x8_), lane), i32_);
    case Opcode::i16x8_extract_lane_u:
      return b_.CreateZExt(b_.CreateExtractElement(as(a, i16x8_), lane), i32_);
    case Opcode::i32x4_extract_lane:
      return b_.CreateExtractElement(as(a, i32x4_), lane);
    case Opcode::i64x2_extract_lane:
      return b_.CreateExtractElement(a, lane);
    case Opcode::f32x4_extract_lane:
      return b_.CreateExtractElement(as(a, f32x4_), lane);
    case Opcode::f64x2_extract_lane:
      return b_.CreateExtractElement(as(a, f64x2_), lane);
    case Opcode::i8x16_replace_lane:
      return out(b_.CreateInsertElement(as(a, i8x16_), b_.CreateTrunc(in[1], i8_), lane));
    case Opcode::i16x8_replace_lane:
      return out(b_.CreateInsertElement(as(a, i16x8_), b_.CreateTrunc(in[1], i16_), lane));
    case Opcode::i32x4_replace_lane:
      return out(b_.CreateInsertElement(as(a, i32x4_), in[1], lane));
    case Opcode::i64x2_replace_lane:
      return b_.CreateInsertElement(a, in[1], lane);
    case Opcode::f32x4_replace_lane:
      return out(b_.CreateInsertElement(as(a, f32x4_), in[1], lane));
    case Opcode::f64x2_replace_lane:
      return out(b_.CreateInsertElement(as(a, f64x2_), in[1], lane));
    default:
      return nullptr;
  }
}

// Lane i of the result is byte lanes[i] of a's and b's 32 bytes.
Value* SimdGen::shuffle(Value* a, Value* b, const uint8_t lanes[16]) {
  llvm::SmallVector<int, 16> mask(lanes, lanes + 16);
  return out(b_.CreateShuffleVector(as(a, i8x16_), as(b, i8x16_), mask));
}

Type* SimdGen::load_type(Opcode op) {
  switch (op) {
    case Opcode::v128_load:
      return v128_;
    case Opcode::v128_load8x8_s:
    case Opcode::v128_load8x8_u:
      return vec(i8_, 8);
    case Opcode::v128_load16x4_s:
    case Opcode::v128_load16x4_u:
      return vec(i16_, 4);
    case Opcode::v128_load32x2_s:
    case Opcode::v128_load32x2_u:
      return vec(i32_, 2);
    case Opcode::v128_load8_splat:
      return i8_;
    case Opcode::v128_load16_splat:
      return i16_;
    case Opcode::v128_load32_splat:
    case Opcode::v128_load32_zero:
      return i32_;
    case Opcode::v128_load64_splat:
    case Opcode::v128_load64_zero:
      return i64_;
    default:
      return nullptr;
  }
}

Value* SimdGen::loaded(Opcode op, Value* v) {
  switch (op) {
    case Opcode::v128_load:
      return v;
    case Opcode::v128_load8x8_s:
    case Opcode::v128_load16x4_s:
    case Opcode::v128_load32x2_s:
      return out(widen(v, true));
    case Opcode::v128_load8x8_u:
    case Opcode::v128_load16x4_u:
    case Opcode::v128_load32x2_u:
      return out(widen(v, false));
    case Opcode::v128_load8_splat:
      return out(b_.CreateVectorSplat(16, v));
    case Opcode::v128_load16_splat:
      return out(b_.CreateVectorSplat(8, v));
    case Opcode::v128_load32_splat:
      return out(b_.CreateVectorSplat(4, v));
    case Opcode::v128_load64_splat:
      return b_.CreateVectorSplat(2, v);
    case Opcode::v128_load32_zero:
      return out(b_.CreateInsertElement(llvm::Constant::getNullValue(i32x4_), v, uint64_t{0}));
    case Opcode::v128_load64_zero:
      return b_.CreateInsertElement(llvm::Constant::getNullValue(v128_), v, uint64_t{0});
    default:
      return nullptr;
  }
}

Type* SimdGen::lane_type(Opcode op) {
  return by_lanes(op)->getElementType();
}

Value* SimdGen::insert_lane(Opcode op, Value* v, uint8_t lane, Value* x) {
  return out(b_.CreateInsertElement(as(v, by_lanes(op)), x, lane));
}

Value* SimdGen::extract_lane(Opcode op, Value* v, uint8_t lane) {
  return b_.CreateExtractElement(as(v, by_lanes(op)), lane);
}

}  // namespace rusm::wasm::llvm_tier
