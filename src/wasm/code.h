// The engine's internal code: what the compiler (compiler.cc) produces from a
// validated function body and the interpreter (interp.cc) runs. The full
// encoding and the dispatch scheme are explained at the top of interp.cc;
// this header holds the shared definitions.
//
// In short: a register machine over 8-byte value slots. Every Wasm local and
// every operand-stack position has a fixed slot in the function's frame,
// known at compile time, so instructions name their inputs and output by
// slot index and the interpreter never pushes or pops. An instruction is one
// 8-byte word holding its handler (a function or label address, or an op
// number in switch mode) followed by operand words.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "rusm/wasm.h"

namespace rusm::wasm::internal {

using Word = uint64_t;
using Slot = uint64_t;

// Slot operands are packed three to a word, 16 bits each (bits 48-63 are
// zero), so that a handler reads each with one 16-bit load from the code:
// code_slot(p, k). A frame therefore has at most 65535 slots.
constexpr unsigned kSlotBits = 16;
constexpr uint32_t kMaxSlots = 0xffff;
constexpr Word pack_slots(uint32_t f0, uint32_t f1 = 0, uint32_t f2 = 0) {
  return Word{f0} | (Word{f1} << kSlotBits) | (Word{f2} << (2 * kSlotBits));
}
inline uint32_t slot_f0(Word w) {
  return static_cast<uint32_t>(w) & kMaxSlots;
}
inline uint32_t slot_f1(Word w) {
  return static_cast<uint32_t>(w >> kSlotBits) & kMaxSlots;
}
inline uint32_t slot_f2(Word w) {
  return static_cast<uint32_t>(w >> (2 * kSlotBits)) & kMaxSlots;
}
inline Word with_slot_f2(Word w, uint32_t f2) {
  return (w & ~(Word{kMaxSlots} << (2 * kSlotBits))) | (Word{f2} << (2 * kSlotBits));
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the code layout assumes little endian");
// Field k (0, 1, 2) of the slot word at p, read straight from memory.
inline uint32_t code_slot(const Word* p, int k) {
  uint16_t v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(p) + 2 * k, 2);
  return v;
}
// The signed 32-bit immediate in the upper half of the word at p.
inline int32_t code_imm32(const Word* p) {
  int32_t v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(p) + 4, 4);
  return v;
}

// A branch word: the target as a signed word offset from the start of the
// branching instruction, and the fuel a taken branch charges: signed, since
// a branch that skips instructions its run had prepaid gives them back (see
// "Fuel" at the top of interp.cc).
constexpr Word pack_branch(int32_t offset, int32_t cost) {
  return Word{static_cast<uint32_t>(offset)} | (Word{static_cast<uint32_t>(cost)} << 32);
}
inline int32_t branch_offset(Word w) {
  return static_cast<int32_t>(static_cast<uint32_t>(w));
}
inline int32_t branch_cost(Word w) {
  return static_cast<int32_t>(static_cast<uint32_t>(w >> 32));
}

// The longest run (straight-line stretch of code charged at once, see "Fuel"
// at the top of interp.cc) the compiler emits: a longer one is cut by a
// `charge` instruction. It bounds what any single charge can be, hence how far
// past its budget a run can go (bulk operations aside).
constexpr uint32_t kMaxFuelRun = static_cast<uint32_t>(kMaxFuelOvershoot);

// Per-function information the call instructions need. Lives in the module
// (shared by all instances); `entry` points into the module's code buffer.
struct FuncCode {
  const Word* entry = nullptr;
  uint32_t func_index = 0;    // module function index space
  uint32_t type_id = 0;       // canonical type id (call_indirect's check)
  uint32_t param_slots = 0;   // slots taken by the parameters
  uint32_t local_slots = 0;   // declared locals after the params (zeroed on entry)
  uint32_t frame_slots = 0;   // params + locals + deepest operand stack
  uint32_t result_slots = 0;  // slots the results take (written at fp[0...])
  uint32_t fuel_cost = 0;     // charged on entry: the instructions of the entry run
  uint32_t code_begin = 0;    // word range of this function in the code buffer
  uint32_t code_end = 0;
  // The compiled tier's entry (fast calling convention) and its trampoline
  // (native.h), when the module was compiled to native code.
  void* native = nullptr;
  void* tramp = nullptr;
  // No loop, no call of a function of the module, at most
  // kStraightLineBytes of Wasm: a call runs each instruction at most once,
  // which the interpreter does in less time than compiled code takes to
  // switch onto its own stack. Under Tier::kAuto a call that begins here is
  // interpreted even when the module has compiled code (compiled callers
  // call its compiled code). docs/engine.md, "Short calls stay interpreted".
  bool straight_line = false;
  static constexpr uint32_t kStraightLineBytes = 256;
};

// A function's entry as calls read it: Module::adopt_native_code may
// replace it while other threads run the module's code.
inline const Word* entry_of(const FuncCode* fc) {
  return __atomic_load_n(&fc->entry, __ATOMIC_ACQUIRE);
}
// Its compiled entry, or null (set before the entry is replaced).
inline void* native_of(const FuncCode* fc) {
  return __atomic_load_n(&fc->native, __ATOMIC_ACQUIRE);
}

inline uint32_t slot_count(ValType t) {
  return t == ValType::V128 ? 2 : 1;
}
inline uint32_t slot_count(const std::vector<ValType>& types) {
  uint32_t n = 0;
  for (ValType t : types) {
    n += slot_count(t);
  }
  return n;
}

// Global, process-wide interning of function types, so that call_indirect
// compares one integer. Thread-safe.
uint32_t canonical_type_id(const FuncType& type);

// Which dispatch scheme code was compiled for. Code holds handler addresses
// of one scheme; the interpreter is built once per scheme (see interp.cc).
enum class Dispatch : uint8_t {
  kTailCall,  // one function per handler, [[clang::musttail]] between them (clang only)
  kGoto,      // one function, computed goto between labels
};
Dispatch default_dispatch();
bool dispatch_available(Dispatch d);

// The X-macro list of internal instructions. Each entry: X(name). The
// operand layout of each is documented where its handler is defined, in
// interp_ops.inc.
// clang-format off
#define RUSM_FOR_EACH_SIMPLE_OP(X) \
  /* control */ \
  X(unreachable) X(nop) X(halt) X(br) X(br_if_nz) X(br_if_z) X(br_table) X(return0) \
  X(return1) X(return2) X(return_n) X(call) X(call_import) X(call_indirect) X(call_fn) \
  X(charge) X(enter_native) \
  /* data movement */ \
  X(copy) X(copy128) X(const64) X(const128) X(select) X(select128) X(global_get) \
  X(global_set) X(global_get128) X(global_set128) \
  /* memory */ \
  X(i32_load) X(i64_load) X(f32_load) X(f64_load) X(i32_load8_s) X(i32_load8_u) \
  X(i32_load16_s) X(i32_load16_u) X(i64_load8_s) X(i64_load8_u) X(i64_load16_s) \
  X(i64_load16_u) X(i64_load32_s) X(i64_load32_u) X(i32_store) X(i64_store) X(i32_store8) \
  X(i32_store16) X(i64_store8) X(i64_store16) X(i64_store32) X(memory_size) X(memory_grow) \
  X(memory_fill) X(memory_copy) X(memory_init) X(data_drop) \
  /* tables and references */ \
  X(table_get) X(table_set) X(table_size) X(table_grow) X(table_fill) X(table_copy) \
  X(table_init) X(elem_drop) X(ref_func) X(ref_is_null) \
  /* i32 */ \
  X(i32_eqz) X(i32_eq) X(i32_ne) X(i32_lt_s) X(i32_lt_u) X(i32_gt_s) X(i32_gt_u) X(i32_le_s) \
  X(i32_le_u) X(i32_ge_s) X(i32_ge_u) X(i32_clz) X(i32_ctz) X(i32_popcnt) X(i32_add) \
  X(i32_sub) X(i32_mul) X(i32_div_s) X(i32_div_u) X(i32_rem_s) X(i32_rem_u) X(i32_and) \
  X(i32_or) X(i32_xor) X(i32_shl) X(i32_shr_s) X(i32_shr_u) X(i32_rotl) X(i32_rotr) \
  /* i64 */ \
  X(i64_eqz) X(i64_eq) X(i64_ne) X(i64_lt_s) X(i64_lt_u) X(i64_gt_s) X(i64_gt_u) X(i64_le_s) \
  X(i64_le_u) X(i64_ge_s) X(i64_ge_u) X(i64_clz) X(i64_ctz) X(i64_popcnt) X(i64_add) \
  X(i64_sub) X(i64_mul) X(i64_div_s) X(i64_div_u) X(i64_rem_s) X(i64_rem_u) X(i64_and) \
  X(i64_or) X(i64_xor) X(i64_shl) X(i64_shr_s) X(i64_shr_u) X(i64_rotl) X(i64_rotr) \
  /* f32 / f64 */ \
  X(f32_eq) X(f32_ne) X(f32_lt) X(f32_gt) X(f32_le) X(f32_ge) X(f64_eq) X(f64_ne) X(f64_lt) \
  X(f64_gt) X(f64_le) X(f64_ge) X(f32_abs) X(f32_neg) X(f32_ceil) X(f32_floor) X(f32_trunc) \
  X(f32_nearest) X(f32_sqrt) X(f32_add) X(f32_sub) X(f32_mul) X(f32_div) X(f32_min) \
  X(f32_max) X(f32_copysign) X(f64_abs) X(f64_neg) X(f64_ceil) X(f64_floor) X(f64_trunc) \
  X(f64_nearest) X(f64_sqrt) X(f64_add) X(f64_sub) X(f64_mul) X(f64_div) X(f64_min) \
  X(f64_max) X(f64_copysign) \
  /* conversions */ \
  X(i32_wrap_i64) X(i32_trunc_f32_s) X(i32_trunc_f32_u) X(i32_trunc_f64_s) X(i32_trunc_f64_u) \
  X(i64_extend_i32_s) X(i64_extend_i32_u) X(i64_trunc_f32_s) X(i64_trunc_f32_u) \
  X(i64_trunc_f64_s) X(i64_trunc_f64_u) X(f32_convert_i32_s) X(f32_convert_i32_u) \
  X(f32_convert_i64_s) X(f32_convert_i64_u) X(f32_demote_f64) X(f64_convert_i32_s) \
  X(f64_convert_i32_u) X(f64_convert_i64_s) X(f64_convert_i64_u) X(f64_promote_f32) \
  X(i32_extend8_s) X(i32_extend16_s) X(i64_extend8_s) X(i64_extend16_s) X(i64_extend32_s) \
  X(i32_trunc_sat_f32_s) X(i32_trunc_sat_f32_u) X(i32_trunc_sat_f64_s) X(i32_trunc_sat_f64_u) \
  X(i64_trunc_sat_f32_s) X(i64_trunc_sat_f32_u) X(i64_trunc_sat_f64_s) X(i64_trunc_sat_f64_u)
// clang-format on

// Superinstructions the compiler forms from common sequences: a binary op
// with a constant operand (`_imm`), and a comparison fused with the branch
// that consumes it (`br_<cmp>` branches when the comparison holds,
// `brn_<cmp>` when it does not).
// clang-format off
#define RUSM_FOR_EACH_IMM_OP(X) \
  X(i32_add_imm) X(i32_sub_imm) X(i32_mul_imm) X(i32_and_imm) X(i32_or_imm) X(i32_xor_imm) \
  X(i32_shl_imm) X(i32_shr_s_imm) X(i32_shr_u_imm) X(i32_eq_imm) X(i32_ne_imm) \
  X(i32_lt_s_imm) X(i32_lt_u_imm) X(i32_gt_s_imm) X(i32_gt_u_imm) X(i32_le_s_imm) \
  X(i32_le_u_imm) X(i32_ge_s_imm) X(i32_ge_u_imm) X(i64_add_imm) X(i64_sub_imm) \
  X(i64_mul_imm) X(i64_and_imm) X(i64_or_imm) X(i64_xor_imm) X(i64_shl_imm) X(i64_shr_s_imm) \
  X(i64_shr_u_imm) X(i64_eq_imm) X(i64_ne_imm) X(i64_lt_s_imm) X(i64_lt_u_imm) \
  X(i64_gt_s_imm) X(i64_gt_u_imm) X(i64_le_s_imm) X(i64_le_u_imm) X(i64_ge_s_imm) \
  X(i64_ge_u_imm) X(i32_rotl_imm) X(i32_rotr_imm) X(i64_rotl_imm) X(i64_rotr_imm) \
  X(i32_rsub_imm) X(i64_rsub_imm)
// clang-format on

// clang-format off
#define RUSM_FOR_EACH_CMP(X) \
  X(i32_eq) X(i32_ne) X(i32_lt_s) X(i32_lt_u) X(i32_gt_s) X(i32_gt_u) X(i32_le_s) X(i32_le_u) \
  X(i32_ge_s) X(i32_ge_u) X(i64_eq) X(i64_ne) X(i64_lt_s) X(i64_lt_u) X(i64_gt_s) X(i64_gt_u) \
  X(i64_le_s) X(i64_le_u) X(i64_ge_s) X(i64_ge_u)
// clang-format on

// Superinstructions that fuse an instruction with the one producing its
// operand (compiler.cc forms them when the intermediate value is dead):
// address arithmetic folded into loads and stores, a load folded into the
// arithmetic that consumes it, and stores of a constant.
// clang-format off
#define RUSM_FOR_EACH_FUSED_OP(X) \
  X(i32_add_shl) X(i32_load_add) X(i64_load_add) X(f32_load_add) X(f64_load_add) \
  X(i32_load8_s_add) X(i32_load8_u_add) X(i32_load16_s_add) X(i32_load16_u_add) \
  X(i32_store_add) X(i64_store_add) X(i32_store8_add) X(i32_store16_add) X(i32_add_load) \
  X(i64_add_load) X(f32_add_load) X(f32_sub_load) X(f32_mul_load) X(f64_add_load) \
  X(f64_sub_load) X(f64_mul_load) X(i32_store_imm) X(i64_store_imm) X(i32_store8_imm) \
  X(i32_store16_imm)
// clang-format on

#define RUSM_FOR_EACH_OP(X)  \
  RUSM_FOR_EACH_SIMPLE_OP(X) \
  RUSM_FOR_EACH_IMM_OP(X)    \
  RUSM_FOR_EACH_BR_CMP_OP(X) \
  RUSM_FOR_EACH_FUSED_OP(X)  \
  RUSM_FOR_EACH_SIMD_OP(X)

// Expanded list of fused compare-and-branch ops.
// clang-format off
#define RUSM_FOR_EACH_BR_CMP_OP(X) \
  X(br_i32_eq) X(brn_i32_eq) X(br_i32_eq_imm) X(brn_i32_eq_imm) X(br_i32_ne) X(brn_i32_ne) \
  X(br_i32_ne_imm) X(brn_i32_ne_imm) X(br_i32_lt_s) X(brn_i32_lt_s) X(br_i32_lt_s_imm) \
  X(brn_i32_lt_s_imm) X(br_i32_lt_u) X(brn_i32_lt_u) X(br_i32_lt_u_imm) X(brn_i32_lt_u_imm) \
  X(br_i32_gt_s) X(brn_i32_gt_s) X(br_i32_gt_s_imm) X(brn_i32_gt_s_imm) X(br_i32_gt_u) \
  X(brn_i32_gt_u) X(br_i32_gt_u_imm) X(brn_i32_gt_u_imm) X(br_i32_le_s) X(brn_i32_le_s) \
  X(br_i32_le_s_imm) X(brn_i32_le_s_imm) X(br_i32_le_u) X(brn_i32_le_u) X(br_i32_le_u_imm) \
  X(brn_i32_le_u_imm) X(br_i32_ge_s) X(brn_i32_ge_s) X(br_i32_ge_s_imm) X(brn_i32_ge_s_imm) \
  X(br_i32_ge_u) X(brn_i32_ge_u) X(br_i32_ge_u_imm) X(brn_i32_ge_u_imm) X(br_i64_eq) \
  X(brn_i64_eq) X(br_i64_eq_imm) X(brn_i64_eq_imm) X(br_i64_ne) X(brn_i64_ne) \
  X(br_i64_ne_imm) X(brn_i64_ne_imm) X(br_i64_lt_s) X(brn_i64_lt_s) X(br_i64_lt_s_imm) \
  X(brn_i64_lt_s_imm) X(br_i64_lt_u) X(brn_i64_lt_u) X(br_i64_lt_u_imm) X(brn_i64_lt_u_imm) \
  X(br_i64_gt_s) X(brn_i64_gt_s) X(br_i64_gt_s_imm) X(brn_i64_gt_s_imm) X(br_i64_gt_u) \
  X(brn_i64_gt_u) X(br_i64_gt_u_imm) X(brn_i64_gt_u_imm) X(br_i64_le_s) X(brn_i64_le_s) \
  X(br_i64_le_s_imm) X(brn_i64_le_s_imm) X(br_i64_le_u) X(brn_i64_le_u) X(br_i64_le_u_imm) \
  X(brn_i64_le_u_imm) X(br_i64_ge_s) X(brn_i64_ge_s) X(br_i64_ge_s_imm) X(brn_i64_ge_s_imm) \
  X(br_i64_ge_u) X(brn_i64_ge_u) X(br_i64_ge_u_imm) X(brn_i64_ge_u_imm)
// clang-format on

// Fixed-width SIMD (all 128-bit; every v128 operand takes two slots).
// clang-format off
#define RUSM_FOR_EACH_SIMD_OP(X) \
  X(v128_load) X(v128_load8x8_s) X(v128_load8x8_u) X(v128_load16x4_s) X(v128_load16x4_u) \
  X(v128_load32x2_s) X(v128_load32x2_u) X(v128_load8_splat) X(v128_load16_splat) \
  X(v128_load32_splat) X(v128_load64_splat) X(v128_load32_zero) X(v128_load64_zero) \
  X(v128_store) X(v128_load8_lane) X(v128_load16_lane) X(v128_load32_lane) \
  X(v128_load64_lane) X(v128_store8_lane) X(v128_store16_lane) X(v128_store32_lane) \
  X(v128_store64_lane) X(i8x16_shuffle) X(i8x16_swizzle) X(i8x16_splat) X(i16x8_splat) \
  X(i32x4_splat) X(i64x2_splat) X(f32x4_splat) X(f64x2_splat) X(i8x16_extract_lane_s) \
  X(i8x16_extract_lane_u) X(i8x16_replace_lane) X(i16x8_extract_lane_s) \
  X(i16x8_extract_lane_u) X(i16x8_replace_lane) X(i32x4_extract_lane) X(i32x4_replace_lane) \
  X(i64x2_extract_lane) X(i64x2_replace_lane) X(f32x4_extract_lane) X(f32x4_replace_lane) \
  X(f64x2_extract_lane) X(f64x2_replace_lane) X(i8x16_eq) X(i8x16_ne) X(i8x16_lt_s) \
  X(i8x16_lt_u) X(i8x16_gt_s) X(i8x16_gt_u) X(i8x16_le_s) X(i8x16_le_u) X(i8x16_ge_s) \
  X(i8x16_ge_u) X(i16x8_eq) X(i16x8_ne) X(i16x8_lt_s) X(i16x8_lt_u) X(i16x8_gt_s) \
  X(i16x8_gt_u) X(i16x8_le_s) X(i16x8_le_u) X(i16x8_ge_s) X(i16x8_ge_u) X(i32x4_eq) \
  X(i32x4_ne) X(i32x4_lt_s) X(i32x4_lt_u) X(i32x4_gt_s) X(i32x4_gt_u) X(i32x4_le_s) \
  X(i32x4_le_u) X(i32x4_ge_s) X(i32x4_ge_u) X(i64x2_eq) X(i64x2_ne) X(i64x2_lt_s) \
  X(i64x2_gt_s) X(i64x2_le_s) X(i64x2_ge_s) X(f32x4_eq) X(f32x4_ne) X(f32x4_lt) X(f32x4_gt) \
  X(f32x4_le) X(f32x4_ge) X(f64x2_eq) X(f64x2_ne) X(f64x2_lt) X(f64x2_gt) X(f64x2_le) \
  X(f64x2_ge) X(v128_not) X(v128_and) X(v128_andnot) X(v128_or) X(v128_xor) X(v128_bitselect) \
  X(v128_any_true) X(i8x16_abs) X(i8x16_neg) X(i8x16_popcnt) X(i8x16_all_true) \
  X(i8x16_bitmask) X(i8x16_narrow_i16x8_s) X(i8x16_narrow_i16x8_u) X(i8x16_shl) \
  X(i8x16_shr_s) X(i8x16_shr_u) X(i8x16_add) X(i8x16_add_sat_s) X(i8x16_add_sat_u) \
  X(i8x16_sub) X(i8x16_sub_sat_s) X(i8x16_sub_sat_u) X(i8x16_min_s) X(i8x16_min_u) \
  X(i8x16_max_s) X(i8x16_max_u) X(i8x16_avgr_u) X(i16x8_extadd_pairwise_i8x16_s) \
  X(i16x8_extadd_pairwise_i8x16_u) X(i32x4_extadd_pairwise_i16x8_s) \
  X(i32x4_extadd_pairwise_i16x8_u) X(i16x8_abs) X(i16x8_neg) X(i16x8_q15mulr_sat_s) \
  X(i16x8_all_true) X(i16x8_bitmask) X(i16x8_narrow_i32x4_s) X(i16x8_narrow_i32x4_u) \
  X(i16x8_extend_low_i8x16_s) X(i16x8_extend_high_i8x16_s) X(i16x8_extend_low_i8x16_u) \
  X(i16x8_extend_high_i8x16_u) X(i16x8_shl) X(i16x8_shr_s) X(i16x8_shr_u) X(i16x8_add) \
  X(i16x8_add_sat_s) X(i16x8_add_sat_u) X(i16x8_sub) X(i16x8_sub_sat_s) X(i16x8_sub_sat_u) \
  X(i16x8_mul) X(i16x8_min_s) X(i16x8_min_u) X(i16x8_max_s) X(i16x8_max_u) X(i16x8_avgr_u) \
  X(i16x8_extmul_low_i8x16_s) X(i16x8_extmul_high_i8x16_s) X(i16x8_extmul_low_i8x16_u) \
  X(i16x8_extmul_high_i8x16_u) X(i32x4_abs) X(i32x4_neg) X(i32x4_all_true) X(i32x4_bitmask) \
  X(i32x4_extend_low_i16x8_s) X(i32x4_extend_high_i16x8_s) X(i32x4_extend_low_i16x8_u) \
  X(i32x4_extend_high_i16x8_u) X(i32x4_shl) X(i32x4_shr_s) X(i32x4_shr_u) X(i32x4_add) \
  X(i32x4_sub) X(i32x4_mul) X(i32x4_min_s) X(i32x4_min_u) X(i32x4_max_s) X(i32x4_max_u) \
  X(i32x4_dot_i16x8_s) X(i32x4_extmul_low_i16x8_s) X(i32x4_extmul_high_i16x8_s) \
  X(i32x4_extmul_low_i16x8_u) X(i32x4_extmul_high_i16x8_u) X(i64x2_abs) X(i64x2_neg) \
  X(i64x2_all_true) X(i64x2_bitmask) X(i64x2_extend_low_i32x4_s) X(i64x2_extend_high_i32x4_s) \
  X(i64x2_extend_low_i32x4_u) X(i64x2_extend_high_i32x4_u) X(i64x2_shl) X(i64x2_shr_s) \
  X(i64x2_shr_u) X(i64x2_add) X(i64x2_sub) X(i64x2_mul) X(i64x2_extmul_low_i32x4_s) \
  X(i64x2_extmul_high_i32x4_s) X(i64x2_extmul_low_i32x4_u) X(i64x2_extmul_high_i32x4_u) \
  X(f32x4_ceil) X(f32x4_floor) X(f32x4_trunc) X(f32x4_nearest) X(f32x4_abs) X(f32x4_neg) \
  X(f32x4_sqrt) X(f32x4_add) X(f32x4_sub) X(f32x4_mul) X(f32x4_div) X(f32x4_min) X(f32x4_max) \
  X(f32x4_pmin) X(f32x4_pmax) X(f64x2_ceil) X(f64x2_floor) X(f64x2_trunc) X(f64x2_nearest) \
  X(f64x2_abs) X(f64x2_neg) X(f64x2_sqrt) X(f64x2_add) X(f64x2_sub) X(f64x2_mul) X(f64x2_div) \
  X(f64x2_min) X(f64x2_max) X(f64x2_pmin) X(f64x2_pmax) X(i32x4_trunc_sat_f32x4_s) \
  X(i32x4_trunc_sat_f32x4_u) X(f32x4_convert_i32x4_s) X(f32x4_convert_i32x4_u) \
  X(i32x4_trunc_sat_f64x2_s_zero) X(i32x4_trunc_sat_f64x2_u_zero) \
  X(f64x2_convert_low_i32x4_s) X(f64x2_convert_low_i32x4_u) X(f32x4_demote_f64x2_zero) \
  X(f64x2_promote_low_f32x4)
// clang-format on

enum class Op : uint16_t {
#define RUSM_OP_ENUM(name) name,
  RUSM_FOR_EACH_OP(RUSM_OP_ENUM)
#undef RUSM_OP_ENUM
      kCount
};

const char* op_name(Op op);

// The handler table of a dispatch scheme: handlers[op] is the word the
// compiler writes as the instruction's first word.
const Word* handler_table(Dispatch d);

}  // namespace rusm::wasm::internal
