// The compiled tier's SIMD instructions (the 0xFD space): the IR of each,
// for the function generator in codegen.cc to call. A v128 is a <2 x i64>
// on the operand stack; every instruction bitcasts it to the lane type it
// works on (<16 x i8>, <8 x i16>, <4 x i32>, <4 x float>, <2 x double>)
// and its result back. Memory accesses stay with the caller (bounds check,
// TBAA tag, dirty mark): this says what type a load reads and what v128 it
// makes, and which lane a lane store writes.
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <cstdint>
#include <vector>

#include "wasm/opcodes.h"

namespace rusm::wasm::llvm_tier {

class SimdGen {
 public:
  explicit SimdGen(llvm::IRBuilder<>& b);

  // A kUnary, kBinary or kTernary instruction of the 0xFD space, operands
  // in stack order. nullptr if op is none of them.
  llvm::Value* numeric(Opcode op, const std::vector<llvm::Value*>& in);

  // kExtractLane (in: the vector) and kReplaceLane (the vector, the scalar).
  llvm::Value* lane(Opcode op, uint8_t lane, const std::vector<llvm::Value*>& in);

  llvm::Value* shuffle(llvm::Value* a, llvm::Value* b, const uint8_t lanes[16]);

  // A kLoad of the 0xFD space: the type it reads (1 << align bytes), and the
  // v128 it makes of the value read.
  llvm::Type* load_type(Opcode op);
  llvm::Value* loaded(Opcode op, llvm::Value* v);

  // kLoadLane and kStoreLane: the lane's type (what is read or written),
  // the vector with the lane replaced, the lane's value.
  llvm::Type* lane_type(Opcode op);
  llvm::Value* insert_lane(Opcode op, llvm::Value* v, uint8_t lane, llvm::Value* x);
  llvm::Value* extract_lane(Opcode op, llvm::Value* v, uint8_t lane);

 private:
  llvm::FixedVectorType* vec(llvm::Type* elem, unsigned n);
  llvm::FixedVectorType* ints(unsigned bits, unsigned n);
  llvm::FixedVectorType* same_shape_ints(llvm::Type* vt);
  llvm::FixedVectorType* by_lanes(Opcode op);

  llvm::Value* as(llvm::Value* v, llvm::Type* vt);
  llvm::Value* out(llvm::Value* v);
  llvm::Value* splat_int(llvm::Type* vt, uint64_t x);
  llvm::Value* quiet(llvm::Value* v);
  llvm::Value* quiet_if_constant(llvm::Value* r, llvm::Value* x, llvm::Value* y = nullptr);

  llvm::Value* icmp(llvm::CmpInst::Predicate p, llvm::Type* vt, llvm::Value* a, llvm::Value* c);
  llvm::Value* fcmp(llvm::CmpInst::Predicate p, llvm::Type* vt, llvm::Value* a, llvm::Value* c);
  llvm::Value* binary(llvm::Instruction::BinaryOps op, llvm::Type* vt, llvm::Value* a,
                      llvm::Value* c);
  llvm::Value* float_binary(llvm::Instruction::BinaryOps op, llvm::Type* vt, llvm::Value* a,
                            llvm::Value* c);
  llvm::Value* intrinsic1(llvm::Intrinsic::ID id, llvm::Type* vt, llvm::Value* a);
  llvm::Value* intrinsic2(llvm::Intrinsic::ID id, llvm::Type* vt, llvm::Value* a, llvm::Value* c);
  llvm::Value* float_unary(llvm::Intrinsic::ID id, llvm::Type* vt, llvm::Value* a);
  llvm::Value* min_max(llvm::Intrinsic::ID id, llvm::Type* vt, llvm::Value* a, llvm::Value* c);
  llvm::Value* pmin_pmax(bool max, llvm::Type* vt, llvm::Value* a, llvm::Value* c);
  llvm::Value* shift(llvm::Instruction::BinaryOps op, llvm::Type* vt, llvm::Value* a,
                     llvm::Value* count);
  llvm::Value* all_true(llvm::Type* vt, llvm::Value* a);
  llvm::Value* bitmask(llvm::Type* vt, llvm::Value* a);
  llvm::Value* half(llvm::Value* v, bool high);
  llvm::Value* widen(llvm::Value* v, bool is_signed);
  llvm::Value* extend(llvm::Type* vt, bool high, bool is_signed, llvm::Value* a);
  llvm::Value* extmul(llvm::Type* vt, bool high, bool is_signed, llvm::Value* a, llvm::Value* c);
  llvm::Value* extadd_pairwise(llvm::Type* vt, bool is_signed, llvm::Value* a);
  llvm::Value* narrow(llvm::Type* vt, bool is_signed, llvm::Value* a, llvm::Value* c);
  llvm::Value* avgr_u(llvm::Type* vt, llvm::Value* a, llvm::Value* c);
  llvm::Value* q15mulr_sat_s(llvm::Value* a, llvm::Value* c);
  llvm::Value* dot_i16x8_s(llvm::Value* a, llvm::Value* c);
  llvm::Value* swizzle(llvm::Value* a, llvm::Value* c);
  llvm::Value* trunc_sat(llvm::Value* x, bool is_signed);
  llvm::Value* clamp(llvm::Value* v, int64_t lo, int64_t hi);

  llvm::IRBuilder<>& b_;
  llvm::Type* i8_;
  llvm::Type* i16_;
  llvm::Type* i32_;
  llvm::Type* i64_;
  llvm::FixedVectorType* v128_;  // <2 x i64>, the stack's representation
  llvm::FixedVectorType* i8x16_;
  llvm::FixedVectorType* i16x8_;
  llvm::FixedVectorType* i32x4_;
  llvm::FixedVectorType* i64x2_;
  llvm::FixedVectorType* f32x4_;
  llvm::FixedVectorType* f64x2_;
};

}  // namespace rusm::wasm::llvm_tier
