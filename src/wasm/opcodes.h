// The WebAssembly 2.0 instruction set as one table, read by every part of the
// engine that needs to know an instruction: the decoder (which opcodes exist
// and the shape of their immediates), the validator (the stack signature of
// every instruction it types by rule rather than by hand), the code
// generators (which internal instruction or native operation implements it)
// and anything that prints an instruction's name. Nothing else in the engine
// lists opcodes: adding an instruction starts here.
//
// One X-macro list per opcode space (one byte, the 0xFC prefix, the 0xFD SIMD
// prefix). Each entry:
//
//   X(code, ident, "text name", class, a, b, c, result, immediates, align, lanes)
//
//   code        the byte (one-byte space) or the u32 sub-opcode after the prefix
//   ident       a C++ identifier: the text name with '.' as '_' (and a trailing
//               '_' for C++ keywords: if_, else_, return_)
//   class       OpClass: how the validator types it (see below); the operand
//   a, b, c     types in stack order and the result type, `_` where there is
//   result      none. For kSpecial they are unused: the validator types those
//               instructions by their own rule (control, variables, calls,
//               tables, references, constants, bulk memory, shuffle).
//   immediates  ImmKind: what follows the opcode in the binary
//   align       memory accesses: the natural alignment, log2 of the access size
//   lanes       lane accesses: the number of lanes (a lane index must be below)
//
// Thread-safety: constant data only.
#pragma once

#include <array>
#include <cstdint>

#include "rusm/wasm.h"

namespace rusm::wasm {

// How the validator types an instruction.
enum class OpClass : uint8_t {
  kSpecial,      // by its own rule
  kUnary,        // a -> result
  kBinary,       // a b -> result
  kTernary,      // a b c -> result
  kReinterpret,  // a -> result, the same bits
  kLoad,         // a (i32 address) -> result; memarg
  kStore,        // a (i32 address) b -> []; memarg
  kLoadLane,     // a (i32 address) b (v128) -> result (v128); memarg, lane
  kStoreLane,    // a (i32 address) b (v128) -> []; memarg, lane
  kExtractLane,  // a (v128) -> result; lane
  kReplaceLane,  // a (v128) b -> result (v128); lane
};

// The immediates that follow an opcode.
enum class ImmKind : uint8_t {
  kNone,
  kBlockType,      // block type: 0x40, a value type, or an s33 type index
  kLabel,          // u32 label depth
  kBrTable,        // vec(u32 label) u32 label
  kIndex,          // one u32 index (function, local, global, table, segment)
  kTwoIndices,     // two u32 indices (call_indirect, table.init, table.copy)
  kSelectTypes,    // vec(value type)
  kMemarg,         // u32 alignment, u32 offset
  kMemargLane,     // memarg, then a lane byte
  kLane,           // a lane byte
  kZeroByte,       // a reserved 0x00 byte (memory.size, memory.grow, memory.fill)
  kZeroBytes2,     // two reserved 0x00 bytes (memory.copy)
  kIndexZeroByte,  // u32 index, then a reserved 0x00 byte (memory.init)
  kI32,            // s32
  kI64,            // s64
  kF32,            // 4 bytes
  kF64,            // 8 bytes
  kV128,           // 16 bytes (v128.const)
  kShuffle,        // 16 lane bytes (i8x16.shuffle)
  kRefType,        // a reference type (ref.null)
};

// Prefix bytes of the multi-byte opcode spaces.
constexpr uint8_t kPrefixFC = 0xFC;
constexpr uint8_t kPrefixFD = 0xFD;

// The names the table's type columns use.
namespace opcode_table_types {
using enum ValType;
constexpr ValType _ = static_cast<ValType>(0);
}  // namespace opcode_table_types

// "No type" in OpcodeInfo's type columns.
constexpr ValType kNoType = opcode_table_types::_;

// clang-format off
#define RUSM_WASM_OPCODES_1BYTE(X) \
  X(0x00, unreachable, "unreachable", Special, _, _, _, _, None, 0, 0) \
  X(0x01, nop, "nop", Special, _, _, _, _, None, 0, 0) \
  X(0x02, block, "block", Special, _, _, _, _, BlockType, 0, 0) \
  X(0x03, loop, "loop", Special, _, _, _, _, BlockType, 0, 0) \
  X(0x04, if_, "if", Special, _, _, _, _, BlockType, 0, 0) \
  X(0x05, else_, "else", Special, _, _, _, _, None, 0, 0) \
  X(0x0B, end, "end", Special, _, _, _, _, None, 0, 0) \
  X(0x0C, br, "br", Special, _, _, _, _, Label, 0, 0) \
  X(0x0D, br_if, "br_if", Special, _, _, _, _, Label, 0, 0) \
  X(0x0E, br_table, "br_table", Special, _, _, _, _, BrTable, 0, 0) \
  X(0x0F, return_, "return", Special, _, _, _, _, None, 0, 0) \
  X(0x10, call, "call", Special, _, _, _, _, Index, 0, 0) \
  X(0x11, call_indirect, "call_indirect", Special, _, _, _, _, TwoIndices, 0, 0) \
  X(0x1A, drop, "drop", Special, _, _, _, _, None, 0, 0) \
  X(0x1B, select, "select", Special, _, _, _, _, None, 0, 0) \
  X(0x1C, select_t, "select", Special, _, _, _, _, SelectTypes, 0, 0) \
  X(0x20, local_get, "local.get", Special, _, _, _, _, Index, 0, 0) \
  X(0x21, local_set, "local.set", Special, _, _, _, _, Index, 0, 0) \
  X(0x22, local_tee, "local.tee", Special, _, _, _, _, Index, 0, 0) \
  X(0x23, global_get, "global.get", Special, _, _, _, _, Index, 0, 0) \
  X(0x24, global_set, "global.set", Special, _, _, _, _, Index, 0, 0) \
  X(0x25, table_get, "table.get", Special, _, _, _, _, Index, 0, 0) \
  X(0x26, table_set, "table.set", Special, _, _, _, _, Index, 0, 0) \
  X(0x28, i32_load, "i32.load", Load, I32, _, _, I32, Memarg, 2, 0) \
  X(0x29, i64_load, "i64.load", Load, I32, _, _, I64, Memarg, 3, 0) \
  X(0x2A, f32_load, "f32.load", Load, I32, _, _, F32, Memarg, 2, 0) \
  X(0x2B, f64_load, "f64.load", Load, I32, _, _, F64, Memarg, 3, 0) \
  X(0x2C, i32_load8_s, "i32.load8_s", Load, I32, _, _, I32, Memarg, 0, 0) \
  X(0x2D, i32_load8_u, "i32.load8_u", Load, I32, _, _, I32, Memarg, 0, 0) \
  X(0x2E, i32_load16_s, "i32.load16_s", Load, I32, _, _, I32, Memarg, 1, 0) \
  X(0x2F, i32_load16_u, "i32.load16_u", Load, I32, _, _, I32, Memarg, 1, 0) \
  X(0x30, i64_load8_s, "i64.load8_s", Load, I32, _, _, I64, Memarg, 0, 0) \
  X(0x31, i64_load8_u, "i64.load8_u", Load, I32, _, _, I64, Memarg, 0, 0) \
  X(0x32, i64_load16_s, "i64.load16_s", Load, I32, _, _, I64, Memarg, 1, 0) \
  X(0x33, i64_load16_u, "i64.load16_u", Load, I32, _, _, I64, Memarg, 1, 0) \
  X(0x34, i64_load32_s, "i64.load32_s", Load, I32, _, _, I64, Memarg, 2, 0) \
  X(0x35, i64_load32_u, "i64.load32_u", Load, I32, _, _, I64, Memarg, 2, 0) \
  X(0x36, i32_store, "i32.store", Store, I32, I32, _, _, Memarg, 2, 0) \
  X(0x37, i64_store, "i64.store", Store, I32, I64, _, _, Memarg, 3, 0) \
  X(0x38, f32_store, "f32.store", Store, I32, F32, _, _, Memarg, 2, 0) \
  X(0x39, f64_store, "f64.store", Store, I32, F64, _, _, Memarg, 3, 0) \
  X(0x3A, i32_store8, "i32.store8", Store, I32, I32, _, _, Memarg, 0, 0) \
  X(0x3B, i32_store16, "i32.store16", Store, I32, I32, _, _, Memarg, 1, 0) \
  X(0x3C, i64_store8, "i64.store8", Store, I32, I64, _, _, Memarg, 0, 0) \
  X(0x3D, i64_store16, "i64.store16", Store, I32, I64, _, _, Memarg, 1, 0) \
  X(0x3E, i64_store32, "i64.store32", Store, I32, I64, _, _, Memarg, 2, 0) \
  X(0x3F, memory_size, "memory.size", Special, _, _, _, _, ZeroByte, 0, 0) \
  X(0x40, memory_grow, "memory.grow", Special, _, _, _, _, ZeroByte, 0, 0) \
  X(0x41, i32_const, "i32.const", Special, _, _, _, _, I32, 0, 0) \
  X(0x42, i64_const, "i64.const", Special, _, _, _, _, I64, 0, 0) \
  X(0x43, f32_const, "f32.const", Special, _, _, _, _, F32, 0, 0) \
  X(0x44, f64_const, "f64.const", Special, _, _, _, _, F64, 0, 0) \
  X(0x45, i32_eqz, "i32.eqz", Unary, I32, _, _, I32, None, 0, 0) \
  X(0x46, i32_eq, "i32.eq", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x47, i32_ne, "i32.ne", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x48, i32_lt_s, "i32.lt_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x49, i32_lt_u, "i32.lt_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x4A, i32_gt_s, "i32.gt_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x4B, i32_gt_u, "i32.gt_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x4C, i32_le_s, "i32.le_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x4D, i32_le_u, "i32.le_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x4E, i32_ge_s, "i32.ge_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x4F, i32_ge_u, "i32.ge_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x50, i64_eqz, "i64.eqz", Unary, I64, _, _, I32, None, 0, 0) \
  X(0x51, i64_eq, "i64.eq", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x52, i64_ne, "i64.ne", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x53, i64_lt_s, "i64.lt_s", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x54, i64_lt_u, "i64.lt_u", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x55, i64_gt_s, "i64.gt_s", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x56, i64_gt_u, "i64.gt_u", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x57, i64_le_s, "i64.le_s", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x58, i64_le_u, "i64.le_u", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x59, i64_ge_s, "i64.ge_s", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x5A, i64_ge_u, "i64.ge_u", Binary, I64, I64, _, I32, None, 0, 0) \
  X(0x5B, f32_eq, "f32.eq", Binary, F32, F32, _, I32, None, 0, 0) \
  X(0x5C, f32_ne, "f32.ne", Binary, F32, F32, _, I32, None, 0, 0) \
  X(0x5D, f32_lt, "f32.lt", Binary, F32, F32, _, I32, None, 0, 0) \
  X(0x5E, f32_gt, "f32.gt", Binary, F32, F32, _, I32, None, 0, 0) \
  X(0x5F, f32_le, "f32.le", Binary, F32, F32, _, I32, None, 0, 0) \
  X(0x60, f32_ge, "f32.ge", Binary, F32, F32, _, I32, None, 0, 0) \
  X(0x61, f64_eq, "f64.eq", Binary, F64, F64, _, I32, None, 0, 0) \
  X(0x62, f64_ne, "f64.ne", Binary, F64, F64, _, I32, None, 0, 0) \
  X(0x63, f64_lt, "f64.lt", Binary, F64, F64, _, I32, None, 0, 0) \
  X(0x64, f64_gt, "f64.gt", Binary, F64, F64, _, I32, None, 0, 0) \
  X(0x65, f64_le, "f64.le", Binary, F64, F64, _, I32, None, 0, 0) \
  X(0x66, f64_ge, "f64.ge", Binary, F64, F64, _, I32, None, 0, 0) \
  X(0x67, i32_clz, "i32.clz", Unary, I32, _, _, I32, None, 0, 0) \
  X(0x68, i32_ctz, "i32.ctz", Unary, I32, _, _, I32, None, 0, 0) \
  X(0x69, i32_popcnt, "i32.popcnt", Unary, I32, _, _, I32, None, 0, 0) \
  X(0x6A, i32_add, "i32.add", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x6B, i32_sub, "i32.sub", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x6C, i32_mul, "i32.mul", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x6D, i32_div_s, "i32.div_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x6E, i32_div_u, "i32.div_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x6F, i32_rem_s, "i32.rem_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x70, i32_rem_u, "i32.rem_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x71, i32_and, "i32.and", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x72, i32_or, "i32.or", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x73, i32_xor, "i32.xor", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x74, i32_shl, "i32.shl", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x75, i32_shr_s, "i32.shr_s", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x76, i32_shr_u, "i32.shr_u", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x77, i32_rotl, "i32.rotl", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x78, i32_rotr, "i32.rotr", Binary, I32, I32, _, I32, None, 0, 0) \
  X(0x79, i64_clz, "i64.clz", Unary, I64, _, _, I64, None, 0, 0) \
  X(0x7A, i64_ctz, "i64.ctz", Unary, I64, _, _, I64, None, 0, 0) \
  X(0x7B, i64_popcnt, "i64.popcnt", Unary, I64, _, _, I64, None, 0, 0) \
  X(0x7C, i64_add, "i64.add", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x7D, i64_sub, "i64.sub", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x7E, i64_mul, "i64.mul", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x7F, i64_div_s, "i64.div_s", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x80, i64_div_u, "i64.div_u", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x81, i64_rem_s, "i64.rem_s", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x82, i64_rem_u, "i64.rem_u", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x83, i64_and, "i64.and", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x84, i64_or, "i64.or", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x85, i64_xor, "i64.xor", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x86, i64_shl, "i64.shl", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x87, i64_shr_s, "i64.shr_s", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x88, i64_shr_u, "i64.shr_u", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x89, i64_rotl, "i64.rotl", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x8A, i64_rotr, "i64.rotr", Binary, I64, I64, _, I64, None, 0, 0) \
  X(0x8B, f32_abs, "f32.abs", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x8C, f32_neg, "f32.neg", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x8D, f32_ceil, "f32.ceil", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x8E, f32_floor, "f32.floor", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x8F, f32_trunc, "f32.trunc", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x90, f32_nearest, "f32.nearest", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x91, f32_sqrt, "f32.sqrt", Unary, F32, _, _, F32, None, 0, 0) \
  X(0x92, f32_add, "f32.add", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x93, f32_sub, "f32.sub", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x94, f32_mul, "f32.mul", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x95, f32_div, "f32.div", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x96, f32_min, "f32.min", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x97, f32_max, "f32.max", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x98, f32_copysign, "f32.copysign", Binary, F32, F32, _, F32, None, 0, 0) \
  X(0x99, f64_abs, "f64.abs", Unary, F64, _, _, F64, None, 0, 0) \
  X(0x9A, f64_neg, "f64.neg", Unary, F64, _, _, F64, None, 0, 0) \
  X(0x9B, f64_ceil, "f64.ceil", Unary, F64, _, _, F64, None, 0, 0) \
  X(0x9C, f64_floor, "f64.floor", Unary, F64, _, _, F64, None, 0, 0) \
  X(0x9D, f64_trunc, "f64.trunc", Unary, F64, _, _, F64, None, 0, 0) \
  X(0x9E, f64_nearest, "f64.nearest", Unary, F64, _, _, F64, None, 0, 0) \
  X(0x9F, f64_sqrt, "f64.sqrt", Unary, F64, _, _, F64, None, 0, 0) \
  X(0xA0, f64_add, "f64.add", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA1, f64_sub, "f64.sub", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA2, f64_mul, "f64.mul", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA3, f64_div, "f64.div", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA4, f64_min, "f64.min", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA5, f64_max, "f64.max", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA6, f64_copysign, "f64.copysign", Binary, F64, F64, _, F64, None, 0, 0) \
  X(0xA7, i32_wrap_i64, "i32.wrap_i64", Unary, I64, _, _, I32, None, 0, 0) \
  X(0xA8, i32_trunc_f32_s, "i32.trunc_f32_s", Unary, F32, _, _, I32, None, 0, 0) \
  X(0xA9, i32_trunc_f32_u, "i32.trunc_f32_u", Unary, F32, _, _, I32, None, 0, 0) \
  X(0xAA, i32_trunc_f64_s, "i32.trunc_f64_s", Unary, F64, _, _, I32, None, 0, 0) \
  X(0xAB, i32_trunc_f64_u, "i32.trunc_f64_u", Unary, F64, _, _, I32, None, 0, 0) \
  X(0xAC, i64_extend_i32_s, "i64.extend_i32_s", Unary, I32, _, _, I64, None, 0, 0) \
  X(0xAD, i64_extend_i32_u, "i64.extend_i32_u", Unary, I32, _, _, I64, None, 0, 0) \
  X(0xAE, i64_trunc_f32_s, "i64.trunc_f32_s", Unary, F32, _, _, I64, None, 0, 0) \
  X(0xAF, i64_trunc_f32_u, "i64.trunc_f32_u", Unary, F32, _, _, I64, None, 0, 0) \
  X(0xB0, i64_trunc_f64_s, "i64.trunc_f64_s", Unary, F64, _, _, I64, None, 0, 0) \
  X(0xB1, i64_trunc_f64_u, "i64.trunc_f64_u", Unary, F64, _, _, I64, None, 0, 0) \
  X(0xB2, f32_convert_i32_s, "f32.convert_i32_s", Unary, I32, _, _, F32, None, 0, 0) \
  X(0xB3, f32_convert_i32_u, "f32.convert_i32_u", Unary, I32, _, _, F32, None, 0, 0) \
  X(0xB4, f32_convert_i64_s, "f32.convert_i64_s", Unary, I64, _, _, F32, None, 0, 0) \
  X(0xB5, f32_convert_i64_u, "f32.convert_i64_u", Unary, I64, _, _, F32, None, 0, 0) \
  X(0xB6, f32_demote_f64, "f32.demote_f64", Unary, F64, _, _, F32, None, 0, 0) \
  X(0xB7, f64_convert_i32_s, "f64.convert_i32_s", Unary, I32, _, _, F64, None, 0, 0) \
  X(0xB8, f64_convert_i32_u, "f64.convert_i32_u", Unary, I32, _, _, F64, None, 0, 0) \
  X(0xB9, f64_convert_i64_s, "f64.convert_i64_s", Unary, I64, _, _, F64, None, 0, 0) \
  X(0xBA, f64_convert_i64_u, "f64.convert_i64_u", Unary, I64, _, _, F64, None, 0, 0) \
  X(0xBB, f64_promote_f32, "f64.promote_f32", Unary, F32, _, _, F64, None, 0, 0) \
  X(0xBC, i32_reinterpret_f32, "i32.reinterpret_f32", Reinterpret, F32, _, _, I32, None, 0, 0) \
  X(0xBD, i64_reinterpret_f64, "i64.reinterpret_f64", Reinterpret, F64, _, _, I64, None, 0, 0) \
  X(0xBE, f32_reinterpret_i32, "f32.reinterpret_i32", Reinterpret, I32, _, _, F32, None, 0, 0) \
  X(0xBF, f64_reinterpret_i64, "f64.reinterpret_i64", Reinterpret, I64, _, _, F64, None, 0, 0) \
  X(0xC0, i32_extend8_s, "i32.extend8_s", Unary, I32, _, _, I32, None, 0, 0) \
  X(0xC1, i32_extend16_s, "i32.extend16_s", Unary, I32, _, _, I32, None, 0, 0) \
  X(0xC2, i64_extend8_s, "i64.extend8_s", Unary, I64, _, _, I64, None, 0, 0) \
  X(0xC3, i64_extend16_s, "i64.extend16_s", Unary, I64, _, _, I64, None, 0, 0) \
  X(0xC4, i64_extend32_s, "i64.extend32_s", Unary, I64, _, _, I64, None, 0, 0) \
  X(0xD0, ref_null, "ref.null", Special, _, _, _, _, RefType, 0, 0) \
  X(0xD1, ref_is_null, "ref.is_null", Special, _, _, _, _, None, 0, 0) \
  X(0xD2, ref_func, "ref.func", Special, _, _, _, _, Index, 0, 0)

#define RUSM_WASM_OPCODES_FC(X) \
  X(0, i32_trunc_sat_f32_s, "i32.trunc_sat_f32_s", Unary, F32, _, _, I32, None, 0, 0) \
  X(1, i32_trunc_sat_f32_u, "i32.trunc_sat_f32_u", Unary, F32, _, _, I32, None, 0, 0) \
  X(2, i32_trunc_sat_f64_s, "i32.trunc_sat_f64_s", Unary, F64, _, _, I32, None, 0, 0) \
  X(3, i32_trunc_sat_f64_u, "i32.trunc_sat_f64_u", Unary, F64, _, _, I32, None, 0, 0) \
  X(4, i64_trunc_sat_f32_s, "i64.trunc_sat_f32_s", Unary, F32, _, _, I64, None, 0, 0) \
  X(5, i64_trunc_sat_f32_u, "i64.trunc_sat_f32_u", Unary, F32, _, _, I64, None, 0, 0) \
  X(6, i64_trunc_sat_f64_s, "i64.trunc_sat_f64_s", Unary, F64, _, _, I64, None, 0, 0) \
  X(7, i64_trunc_sat_f64_u, "i64.trunc_sat_f64_u", Unary, F64, _, _, I64, None, 0, 0) \
  X(8, memory_init, "memory.init", Special, _, _, _, _, IndexZeroByte, 0, 0) \
  X(9, data_drop, "data.drop", Special, _, _, _, _, Index, 0, 0) \
  X(10, memory_copy, "memory.copy", Special, _, _, _, _, ZeroBytes2, 0, 0) \
  X(11, memory_fill, "memory.fill", Special, _, _, _, _, ZeroByte, 0, 0) \
  X(12, table_init, "table.init", Special, _, _, _, _, TwoIndices, 0, 0) \
  X(13, elem_drop, "elem.drop", Special, _, _, _, _, Index, 0, 0) \
  X(14, table_copy, "table.copy", Special, _, _, _, _, TwoIndices, 0, 0) \
  X(15, table_grow, "table.grow", Special, _, _, _, _, Index, 0, 0) \
  X(16, table_size, "table.size", Special, _, _, _, _, Index, 0, 0) \
  X(17, table_fill, "table.fill", Special, _, _, _, _, Index, 0, 0)

#define RUSM_WASM_OPCODES_FD(X) \
  X(0, v128_load, "v128.load", Load, I32, _, _, V128, Memarg, 4, 0) \
  X(1, v128_load8x8_s, "v128.load8x8_s", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(2, v128_load8x8_u, "v128.load8x8_u", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(3, v128_load16x4_s, "v128.load16x4_s", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(4, v128_load16x4_u, "v128.load16x4_u", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(5, v128_load32x2_s, "v128.load32x2_s", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(6, v128_load32x2_u, "v128.load32x2_u", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(7, v128_load8_splat, "v128.load8_splat", Load, I32, _, _, V128, Memarg, 0, 0) \
  X(8, v128_load16_splat, "v128.load16_splat", Load, I32, _, _, V128, Memarg, 1, 0) \
  X(9, v128_load32_splat, "v128.load32_splat", Load, I32, _, _, V128, Memarg, 2, 0) \
  X(10, v128_load64_splat, "v128.load64_splat", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(11, v128_store, "v128.store", Store, I32, V128, _, _, Memarg, 4, 0) \
  X(12, v128_const, "v128.const", Special, _, _, _, _, V128, 0, 0) \
  X(13, i8x16_shuffle, "i8x16.shuffle", Special, V128, V128, _, V128, Shuffle, 0, 0) \
  X(14, i8x16_swizzle, "i8x16.swizzle", Binary, V128, V128, _, V128, None, 0, 0) \
  X(15, i8x16_splat, "i8x16.splat", Unary, I32, _, _, V128, None, 0, 0) \
  X(16, i16x8_splat, "i16x8.splat", Unary, I32, _, _, V128, None, 0, 0) \
  X(17, i32x4_splat, "i32x4.splat", Unary, I32, _, _, V128, None, 0, 0) \
  X(18, i64x2_splat, "i64x2.splat", Unary, I64, _, _, V128, None, 0, 0) \
  X(19, f32x4_splat, "f32x4.splat", Unary, F32, _, _, V128, None, 0, 0) \
  X(20, f64x2_splat, "f64x2.splat", Unary, F64, _, _, V128, None, 0, 0) \
  X(21, i8x16_extract_lane_s, "i8x16.extract_lane_s", ExtractLane, V128, _, _, I32, Lane, 0, 16) \
  X(22, i8x16_extract_lane_u, "i8x16.extract_lane_u", ExtractLane, V128, _, _, I32, Lane, 0, 16) \
  X(23, i8x16_replace_lane, "i8x16.replace_lane", ReplaceLane, V128, I32, _, V128, Lane, 0, 16) \
  X(24, i16x8_extract_lane_s, "i16x8.extract_lane_s", ExtractLane, V128, _, _, I32, Lane, 0, 8) \
  X(25, i16x8_extract_lane_u, "i16x8.extract_lane_u", ExtractLane, V128, _, _, I32, Lane, 0, 8) \
  X(26, i16x8_replace_lane, "i16x8.replace_lane", ReplaceLane, V128, I32, _, V128, Lane, 0, 8) \
  X(27, i32x4_extract_lane, "i32x4.extract_lane", ExtractLane, V128, _, _, I32, Lane, 0, 4) \
  X(28, i32x4_replace_lane, "i32x4.replace_lane", ReplaceLane, V128, I32, _, V128, Lane, 0, 4) \
  X(29, i64x2_extract_lane, "i64x2.extract_lane", ExtractLane, V128, _, _, I64, Lane, 0, 2) \
  X(30, i64x2_replace_lane, "i64x2.replace_lane", ReplaceLane, V128, I64, _, V128, Lane, 0, 2) \
  X(31, f32x4_extract_lane, "f32x4.extract_lane", ExtractLane, V128, _, _, F32, Lane, 0, 4) \
  X(32, f32x4_replace_lane, "f32x4.replace_lane", ReplaceLane, V128, F32, _, V128, Lane, 0, 4) \
  X(33, f64x2_extract_lane, "f64x2.extract_lane", ExtractLane, V128, _, _, F64, Lane, 0, 2) \
  X(34, f64x2_replace_lane, "f64x2.replace_lane", ReplaceLane, V128, F64, _, V128, Lane, 0, 2) \
  X(35, i8x16_eq, "i8x16.eq", Binary, V128, V128, _, V128, None, 0, 0) \
  X(36, i8x16_ne, "i8x16.ne", Binary, V128, V128, _, V128, None, 0, 0) \
  X(37, i8x16_lt_s, "i8x16.lt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(38, i8x16_lt_u, "i8x16.lt_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(39, i8x16_gt_s, "i8x16.gt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(40, i8x16_gt_u, "i8x16.gt_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(41, i8x16_le_s, "i8x16.le_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(42, i8x16_le_u, "i8x16.le_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(43, i8x16_ge_s, "i8x16.ge_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(44, i8x16_ge_u, "i8x16.ge_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(45, i16x8_eq, "i16x8.eq", Binary, V128, V128, _, V128, None, 0, 0) \
  X(46, i16x8_ne, "i16x8.ne", Binary, V128, V128, _, V128, None, 0, 0) \
  X(47, i16x8_lt_s, "i16x8.lt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(48, i16x8_lt_u, "i16x8.lt_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(49, i16x8_gt_s, "i16x8.gt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(50, i16x8_gt_u, "i16x8.gt_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(51, i16x8_le_s, "i16x8.le_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(52, i16x8_le_u, "i16x8.le_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(53, i16x8_ge_s, "i16x8.ge_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(54, i16x8_ge_u, "i16x8.ge_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(55, i32x4_eq, "i32x4.eq", Binary, V128, V128, _, V128, None, 0, 0) \
  X(56, i32x4_ne, "i32x4.ne", Binary, V128, V128, _, V128, None, 0, 0) \
  X(57, i32x4_lt_s, "i32x4.lt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(58, i32x4_lt_u, "i32x4.lt_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(59, i32x4_gt_s, "i32x4.gt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(60, i32x4_gt_u, "i32x4.gt_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(61, i32x4_le_s, "i32x4.le_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(62, i32x4_le_u, "i32x4.le_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(63, i32x4_ge_s, "i32x4.ge_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(64, i32x4_ge_u, "i32x4.ge_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(65, f32x4_eq, "f32x4.eq", Binary, V128, V128, _, V128, None, 0, 0) \
  X(66, f32x4_ne, "f32x4.ne", Binary, V128, V128, _, V128, None, 0, 0) \
  X(67, f32x4_lt, "f32x4.lt", Binary, V128, V128, _, V128, None, 0, 0) \
  X(68, f32x4_gt, "f32x4.gt", Binary, V128, V128, _, V128, None, 0, 0) \
  X(69, f32x4_le, "f32x4.le", Binary, V128, V128, _, V128, None, 0, 0) \
  X(70, f32x4_ge, "f32x4.ge", Binary, V128, V128, _, V128, None, 0, 0) \
  X(71, f64x2_eq, "f64x2.eq", Binary, V128, V128, _, V128, None, 0, 0) \
  X(72, f64x2_ne, "f64x2.ne", Binary, V128, V128, _, V128, None, 0, 0) \
  X(73, f64x2_lt, "f64x2.lt", Binary, V128, V128, _, V128, None, 0, 0) \
  X(74, f64x2_gt, "f64x2.gt", Binary, V128, V128, _, V128, None, 0, 0) \
  X(75, f64x2_le, "f64x2.le", Binary, V128, V128, _, V128, None, 0, 0) \
  X(76, f64x2_ge, "f64x2.ge", Binary, V128, V128, _, V128, None, 0, 0) \
  X(77, v128_not, "v128.not", Unary, V128, _, _, V128, None, 0, 0) \
  X(78, v128_and, "v128.and", Binary, V128, V128, _, V128, None, 0, 0) \
  X(79, v128_andnot, "v128.andnot", Binary, V128, V128, _, V128, None, 0, 0) \
  X(80, v128_or, "v128.or", Binary, V128, V128, _, V128, None, 0, 0) \
  X(81, v128_xor, "v128.xor", Binary, V128, V128, _, V128, None, 0, 0) \
  X(82, v128_bitselect, "v128.bitselect", Ternary, V128, V128, V128, V128, None, 0, 0) \
  X(83, v128_any_true, "v128.any_true", Unary, V128, _, _, I32, None, 0, 0) \
  X(84, v128_load8_lane, "v128.load8_lane", LoadLane, I32, V128, _, V128, MemargLane, 0, 16) \
  X(85, v128_load16_lane, "v128.load16_lane", LoadLane, I32, V128, _, V128, MemargLane, 1, 8) \
  X(86, v128_load32_lane, "v128.load32_lane", LoadLane, I32, V128, _, V128, MemargLane, 2, 4) \
  X(87, v128_load64_lane, "v128.load64_lane", LoadLane, I32, V128, _, V128, MemargLane, 3, 2) \
  X(88, v128_store8_lane, "v128.store8_lane", StoreLane, I32, V128, _, _, MemargLane, 0, 16) \
  X(89, v128_store16_lane, "v128.store16_lane", StoreLane, I32, V128, _, _, MemargLane, 1, 8) \
  X(90, v128_store32_lane, "v128.store32_lane", StoreLane, I32, V128, _, _, MemargLane, 2, 4) \
  X(91, v128_store64_lane, "v128.store64_lane", StoreLane, I32, V128, _, _, MemargLane, 3, 2) \
  X(92, v128_load32_zero, "v128.load32_zero", Load, I32, _, _, V128, Memarg, 2, 0) \
  X(93, v128_load64_zero, "v128.load64_zero", Load, I32, _, _, V128, Memarg, 3, 0) \
  X(94, f32x4_demote_f64x2_zero, "f32x4.demote_f64x2_zero", Unary, V128, _, _, V128, None, 0, 0) \
  X(95, f64x2_promote_low_f32x4, "f64x2.promote_low_f32x4", Unary, V128, _, _, V128, None, 0, 0) \
  X(96, i8x16_abs, "i8x16.abs", Unary, V128, _, _, V128, None, 0, 0) \
  X(97, i8x16_neg, "i8x16.neg", Unary, V128, _, _, V128, None, 0, 0) \
  X(98, i8x16_popcnt, "i8x16.popcnt", Unary, V128, _, _, V128, None, 0, 0) \
  X(99, i8x16_all_true, "i8x16.all_true", Unary, V128, _, _, I32, None, 0, 0) \
  X(100, i8x16_bitmask, "i8x16.bitmask", Unary, V128, _, _, I32, None, 0, 0) \
  X(101, i8x16_narrow_i16x8_s, "i8x16.narrow_i16x8_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(102, i8x16_narrow_i16x8_u, "i8x16.narrow_i16x8_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(103, f32x4_ceil, "f32x4.ceil", Unary, V128, _, _, V128, None, 0, 0) \
  X(104, f32x4_floor, "f32x4.floor", Unary, V128, _, _, V128, None, 0, 0) \
  X(105, f32x4_trunc, "f32x4.trunc", Unary, V128, _, _, V128, None, 0, 0) \
  X(106, f32x4_nearest, "f32x4.nearest", Unary, V128, _, _, V128, None, 0, 0) \
  X(107, i8x16_shl, "i8x16.shl", Binary, V128, I32, _, V128, None, 0, 0) \
  X(108, i8x16_shr_s, "i8x16.shr_s", Binary, V128, I32, _, V128, None, 0, 0) \
  X(109, i8x16_shr_u, "i8x16.shr_u", Binary, V128, I32, _, V128, None, 0, 0) \
  X(110, i8x16_add, "i8x16.add", Binary, V128, V128, _, V128, None, 0, 0) \
  X(111, i8x16_add_sat_s, "i8x16.add_sat_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(112, i8x16_add_sat_u, "i8x16.add_sat_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(113, i8x16_sub, "i8x16.sub", Binary, V128, V128, _, V128, None, 0, 0) \
  X(114, i8x16_sub_sat_s, "i8x16.sub_sat_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(115, i8x16_sub_sat_u, "i8x16.sub_sat_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(116, f64x2_ceil, "f64x2.ceil", Unary, V128, _, _, V128, None, 0, 0) \
  X(117, f64x2_floor, "f64x2.floor", Unary, V128, _, _, V128, None, 0, 0) \
  X(118, i8x16_min_s, "i8x16.min_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(119, i8x16_min_u, "i8x16.min_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(120, i8x16_max_s, "i8x16.max_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(121, i8x16_max_u, "i8x16.max_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(122, f64x2_trunc, "f64x2.trunc", Unary, V128, _, _, V128, None, 0, 0) \
  X(123, i8x16_avgr_u, "i8x16.avgr_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(124, i16x8_extadd_pairwise_i8x16_s, "i16x8.extadd_pairwise_i8x16_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(125, i16x8_extadd_pairwise_i8x16_u, "i16x8.extadd_pairwise_i8x16_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(126, i32x4_extadd_pairwise_i16x8_s, "i32x4.extadd_pairwise_i16x8_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(127, i32x4_extadd_pairwise_i16x8_u, "i32x4.extadd_pairwise_i16x8_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(128, i16x8_abs, "i16x8.abs", Unary, V128, _, _, V128, None, 0, 0) \
  X(129, i16x8_neg, "i16x8.neg", Unary, V128, _, _, V128, None, 0, 0) \
  X(130, i16x8_q15mulr_sat_s, "i16x8.q15mulr_sat_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(131, i16x8_all_true, "i16x8.all_true", Unary, V128, _, _, I32, None, 0, 0) \
  X(132, i16x8_bitmask, "i16x8.bitmask", Unary, V128, _, _, I32, None, 0, 0) \
  X(133, i16x8_narrow_i32x4_s, "i16x8.narrow_i32x4_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(134, i16x8_narrow_i32x4_u, "i16x8.narrow_i32x4_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(135, i16x8_extend_low_i8x16_s, "i16x8.extend_low_i8x16_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(136, i16x8_extend_high_i8x16_s, "i16x8.extend_high_i8x16_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(137, i16x8_extend_low_i8x16_u, "i16x8.extend_low_i8x16_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(138, i16x8_extend_high_i8x16_u, "i16x8.extend_high_i8x16_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(139, i16x8_shl, "i16x8.shl", Binary, V128, I32, _, V128, None, 0, 0) \
  X(140, i16x8_shr_s, "i16x8.shr_s", Binary, V128, I32, _, V128, None, 0, 0) \
  X(141, i16x8_shr_u, "i16x8.shr_u", Binary, V128, I32, _, V128, None, 0, 0) \
  X(142, i16x8_add, "i16x8.add", Binary, V128, V128, _, V128, None, 0, 0) \
  X(143, i16x8_add_sat_s, "i16x8.add_sat_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(144, i16x8_add_sat_u, "i16x8.add_sat_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(145, i16x8_sub, "i16x8.sub", Binary, V128, V128, _, V128, None, 0, 0) \
  X(146, i16x8_sub_sat_s, "i16x8.sub_sat_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(147, i16x8_sub_sat_u, "i16x8.sub_sat_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(148, f64x2_nearest, "f64x2.nearest", Unary, V128, _, _, V128, None, 0, 0) \
  X(149, i16x8_mul, "i16x8.mul", Binary, V128, V128, _, V128, None, 0, 0) \
  X(150, i16x8_min_s, "i16x8.min_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(151, i16x8_min_u, "i16x8.min_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(152, i16x8_max_s, "i16x8.max_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(153, i16x8_max_u, "i16x8.max_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(155, i16x8_avgr_u, "i16x8.avgr_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(156, i16x8_extmul_low_i8x16_s, "i16x8.extmul_low_i8x16_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(157, i16x8_extmul_high_i8x16_s, "i16x8.extmul_high_i8x16_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(158, i16x8_extmul_low_i8x16_u, "i16x8.extmul_low_i8x16_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(159, i16x8_extmul_high_i8x16_u, "i16x8.extmul_high_i8x16_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(160, i32x4_abs, "i32x4.abs", Unary, V128, _, _, V128, None, 0, 0) \
  X(161, i32x4_neg, "i32x4.neg", Unary, V128, _, _, V128, None, 0, 0) \
  X(163, i32x4_all_true, "i32x4.all_true", Unary, V128, _, _, I32, None, 0, 0) \
  X(164, i32x4_bitmask, "i32x4.bitmask", Unary, V128, _, _, I32, None, 0, 0) \
  X(167, i32x4_extend_low_i16x8_s, "i32x4.extend_low_i16x8_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(168, i32x4_extend_high_i16x8_s, "i32x4.extend_high_i16x8_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(169, i32x4_extend_low_i16x8_u, "i32x4.extend_low_i16x8_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(170, i32x4_extend_high_i16x8_u, "i32x4.extend_high_i16x8_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(171, i32x4_shl, "i32x4.shl", Binary, V128, I32, _, V128, None, 0, 0) \
  X(172, i32x4_shr_s, "i32x4.shr_s", Binary, V128, I32, _, V128, None, 0, 0) \
  X(173, i32x4_shr_u, "i32x4.shr_u", Binary, V128, I32, _, V128, None, 0, 0) \
  X(174, i32x4_add, "i32x4.add", Binary, V128, V128, _, V128, None, 0, 0) \
  X(177, i32x4_sub, "i32x4.sub", Binary, V128, V128, _, V128, None, 0, 0) \
  X(181, i32x4_mul, "i32x4.mul", Binary, V128, V128, _, V128, None, 0, 0) \
  X(182, i32x4_min_s, "i32x4.min_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(183, i32x4_min_u, "i32x4.min_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(184, i32x4_max_s, "i32x4.max_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(185, i32x4_max_u, "i32x4.max_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(186, i32x4_dot_i16x8_s, "i32x4.dot_i16x8_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(188, i32x4_extmul_low_i16x8_s, "i32x4.extmul_low_i16x8_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(189, i32x4_extmul_high_i16x8_s, "i32x4.extmul_high_i16x8_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(190, i32x4_extmul_low_i16x8_u, "i32x4.extmul_low_i16x8_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(191, i32x4_extmul_high_i16x8_u, "i32x4.extmul_high_i16x8_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(192, i64x2_abs, "i64x2.abs", Unary, V128, _, _, V128, None, 0, 0) \
  X(193, i64x2_neg, "i64x2.neg", Unary, V128, _, _, V128, None, 0, 0) \
  X(195, i64x2_all_true, "i64x2.all_true", Unary, V128, _, _, I32, None, 0, 0) \
  X(196, i64x2_bitmask, "i64x2.bitmask", Unary, V128, _, _, I32, None, 0, 0) \
  X(199, i64x2_extend_low_i32x4_s, "i64x2.extend_low_i32x4_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(200, i64x2_extend_high_i32x4_s, "i64x2.extend_high_i32x4_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(201, i64x2_extend_low_i32x4_u, "i64x2.extend_low_i32x4_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(202, i64x2_extend_high_i32x4_u, "i64x2.extend_high_i32x4_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(203, i64x2_shl, "i64x2.shl", Binary, V128, I32, _, V128, None, 0, 0) \
  X(204, i64x2_shr_s, "i64x2.shr_s", Binary, V128, I32, _, V128, None, 0, 0) \
  X(205, i64x2_shr_u, "i64x2.shr_u", Binary, V128, I32, _, V128, None, 0, 0) \
  X(206, i64x2_add, "i64x2.add", Binary, V128, V128, _, V128, None, 0, 0) \
  X(209, i64x2_sub, "i64x2.sub", Binary, V128, V128, _, V128, None, 0, 0) \
  X(213, i64x2_mul, "i64x2.mul", Binary, V128, V128, _, V128, None, 0, 0) \
  X(214, i64x2_eq, "i64x2.eq", Binary, V128, V128, _, V128, None, 0, 0) \
  X(215, i64x2_ne, "i64x2.ne", Binary, V128, V128, _, V128, None, 0, 0) \
  X(216, i64x2_lt_s, "i64x2.lt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(217, i64x2_gt_s, "i64x2.gt_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(218, i64x2_le_s, "i64x2.le_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(219, i64x2_ge_s, "i64x2.ge_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(220, i64x2_extmul_low_i32x4_s, "i64x2.extmul_low_i32x4_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(221, i64x2_extmul_high_i32x4_s, "i64x2.extmul_high_i32x4_s", Binary, V128, V128, _, V128, None, 0, 0) \
  X(222, i64x2_extmul_low_i32x4_u, "i64x2.extmul_low_i32x4_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(223, i64x2_extmul_high_i32x4_u, "i64x2.extmul_high_i32x4_u", Binary, V128, V128, _, V128, None, 0, 0) \
  X(224, f32x4_abs, "f32x4.abs", Unary, V128, _, _, V128, None, 0, 0) \
  X(225, f32x4_neg, "f32x4.neg", Unary, V128, _, _, V128, None, 0, 0) \
  X(227, f32x4_sqrt, "f32x4.sqrt", Unary, V128, _, _, V128, None, 0, 0) \
  X(228, f32x4_add, "f32x4.add", Binary, V128, V128, _, V128, None, 0, 0) \
  X(229, f32x4_sub, "f32x4.sub", Binary, V128, V128, _, V128, None, 0, 0) \
  X(230, f32x4_mul, "f32x4.mul", Binary, V128, V128, _, V128, None, 0, 0) \
  X(231, f32x4_div, "f32x4.div", Binary, V128, V128, _, V128, None, 0, 0) \
  X(232, f32x4_min, "f32x4.min", Binary, V128, V128, _, V128, None, 0, 0) \
  X(233, f32x4_max, "f32x4.max", Binary, V128, V128, _, V128, None, 0, 0) \
  X(234, f32x4_pmin, "f32x4.pmin", Binary, V128, V128, _, V128, None, 0, 0) \
  X(235, f32x4_pmax, "f32x4.pmax", Binary, V128, V128, _, V128, None, 0, 0) \
  X(236, f64x2_abs, "f64x2.abs", Unary, V128, _, _, V128, None, 0, 0) \
  X(237, f64x2_neg, "f64x2.neg", Unary, V128, _, _, V128, None, 0, 0) \
  X(239, f64x2_sqrt, "f64x2.sqrt", Unary, V128, _, _, V128, None, 0, 0) \
  X(240, f64x2_add, "f64x2.add", Binary, V128, V128, _, V128, None, 0, 0) \
  X(241, f64x2_sub, "f64x2.sub", Binary, V128, V128, _, V128, None, 0, 0) \
  X(242, f64x2_mul, "f64x2.mul", Binary, V128, V128, _, V128, None, 0, 0) \
  X(243, f64x2_div, "f64x2.div", Binary, V128, V128, _, V128, None, 0, 0) \
  X(244, f64x2_min, "f64x2.min", Binary, V128, V128, _, V128, None, 0, 0) \
  X(245, f64x2_max, "f64x2.max", Binary, V128, V128, _, V128, None, 0, 0) \
  X(246, f64x2_pmin, "f64x2.pmin", Binary, V128, V128, _, V128, None, 0, 0) \
  X(247, f64x2_pmax, "f64x2.pmax", Binary, V128, V128, _, V128, None, 0, 0) \
  X(248, i32x4_trunc_sat_f32x4_s, "i32x4.trunc_sat_f32x4_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(249, i32x4_trunc_sat_f32x4_u, "i32x4.trunc_sat_f32x4_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(250, f32x4_convert_i32x4_s, "f32x4.convert_i32x4_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(251, f32x4_convert_i32x4_u, "f32x4.convert_i32x4_u", Unary, V128, _, _, V128, None, 0, 0) \
  X(252, i32x4_trunc_sat_f64x2_s_zero, "i32x4.trunc_sat_f64x2_s_zero", Unary, V128, _, _, V128, None, 0, 0) \
  X(253, i32x4_trunc_sat_f64x2_u_zero, "i32x4.trunc_sat_f64x2_u_zero", Unary, V128, _, _, V128, None, 0, 0) \
  X(254, f64x2_convert_low_i32x4_s, "f64x2.convert_low_i32x4_s", Unary, V128, _, _, V128, None, 0, 0) \
  X(255, f64x2_convert_low_i32x4_u, "f64x2.convert_low_i32x4_u", Unary, V128, _, _, V128, None, 0, 0)
// clang-format on

#define RUSM_WASM_OPCODES(X) \
  RUSM_WASM_OPCODES_1BYTE(X) \
  RUSM_WASM_OPCODES_FC(X)    \
  RUSM_WASM_OPCODES_FD(X)

// Every instruction, in table order (one-byte space, 0xFC, 0xFD).
enum class Opcode : uint16_t {
#define RUSM_OPCODE_ENUM(code, ident, ...) ident,
  RUSM_WASM_OPCODES(RUSM_OPCODE_ENUM)
#undef RUSM_OPCODE_ENUM
      kCount
};
// What a lookup of an opcode that does not exist returns.
constexpr Opcode kNoOpcode = Opcode::kCount;
constexpr size_t kOpcodeCount = static_cast<size_t>(Opcode::kCount);

// One row of the table.
struct OpcodeInfo {
  uint8_t prefix;    // 0 in the one-byte space, else kPrefixFC or kPrefixFD
  uint32_t code;     // the byte, or the sub-opcode after the prefix
  const char* name;  // in the text format
  OpClass cls;
  ValType a, b, c;  // operand types in stack order (kNoType: none)
  ValType result;   // kNoType: none
  ImmKind imm;
  uint8_t align;  // memory accesses: natural alignment (log2 bytes)
  uint8_t lanes;  // lane accesses: number of lanes
};

namespace opcode_table_types {
// clang-format off
#define RUSM_OPCODE_ROW(prefix, code, ident, name, cls, a, b, c, r, imm, align, lanes) \
  OpcodeInfo{prefix, code, name, OpClass::k##cls, a, b, c, r, ImmKind::k##imm, align, lanes},
#define RUSM_OPCODE_ROW_1BYTE(...) RUSM_OPCODE_ROW(0, __VA_ARGS__)
#define RUSM_OPCODE_ROW_FC(...) RUSM_OPCODE_ROW(kPrefixFC, __VA_ARGS__)
#define RUSM_OPCODE_ROW_FD(...) RUSM_OPCODE_ROW(kPrefixFD, __VA_ARGS__)
inline constexpr OpcodeInfo kOpcodeInfo[] = {
    RUSM_WASM_OPCODES_1BYTE(RUSM_OPCODE_ROW_1BYTE)
    RUSM_WASM_OPCODES_FC(RUSM_OPCODE_ROW_FC)
    RUSM_WASM_OPCODES_FD(RUSM_OPCODE_ROW_FD)
};
#undef RUSM_OPCODE_ROW_FD
#undef RUSM_OPCODE_ROW_FC
#undef RUSM_OPCODE_ROW_1BYTE
#undef RUSM_OPCODE_ROW
// clang-format on
}  // namespace opcode_table_types
static_assert(std::size(opcode_table_types::kOpcodeInfo) == kOpcodeCount);

// The row of `op`.
constexpr const OpcodeInfo& opcode_info(Opcode op) {
  return opcode_table_types::kOpcodeInfo[static_cast<size_t>(op)];
}
// The text-format name of `op` ("i32.add", "v128.load8_lane").
constexpr const char* opcode_name(Opcode op) {
  return opcode_info(op).name;
}

namespace opcode_detail {
// Opcode by byte or sub-opcode, per space; kNoOpcode where none exists.
struct OpcodeMaps {
  std::array<Opcode, 256> one_byte{};
  std::array<Opcode, 32> fc{};
  std::array<Opcode, 256> fd{};
};
constexpr OpcodeMaps make_opcode_maps() {
  OpcodeMaps m;
  m.one_byte.fill(kNoOpcode);
  m.fc.fill(kNoOpcode);
  m.fd.fill(kNoOpcode);
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    const OpcodeInfo& info = opcode_table_types::kOpcodeInfo[i];
    // A code out of its array's range is no constant expression: it fails
    // the build.
    Opcode op = static_cast<Opcode>(i);
    if (info.prefix == 0) {
      m.one_byte[info.code] = op;
    } else if (info.prefix == kPrefixFD) {
      m.fd[info.code] = op;
    } else {
      m.fc[info.code] = op;
    }
  }
  return m;
}
inline constexpr OpcodeMaps kOpcodeMaps = make_opcode_maps();
}  // namespace opcode_detail

// The instruction of a one-byte opcode; kNoOpcode for a prefix byte or a byte
// that is no WebAssembly 2.0 instruction.
constexpr Opcode opcode_of(uint8_t byte) {
  return opcode_detail::kOpcodeMaps.one_byte[byte];
}
// The instruction of sub-opcode `sub` of the space of `prefix` (kPrefixFC or
// kPrefixFD); kNoOpcode if there is none.
constexpr Opcode prefixed_opcode(uint8_t prefix, uint32_t sub) {
  if (prefix == kPrefixFD) {
    return sub < 256 ? opcode_detail::kOpcodeMaps.fd[sub] : kNoOpcode;
  }
  return sub < 32 ? opcode_detail::kOpcodeMaps.fc[sub] : kNoOpcode;
}

}  // namespace rusm::wasm
