// A disassembler for the internal code, for `rusm wasm inspect --code`:
// one line per instruction with its word offset, name and operands.
#include <array>
#include <cinttypes>
#include <cstdio>
#include <unordered_map>

#include "wasm/disasm.h"

#include "wasm/compiler.h"
#include "wasm/opcodes.h"

namespace rusm::wasm::internal {
namespace {

constexpr size_t kOpCount = static_cast<size_t>(Op::kCount);

enum class Shape : uint8_t {
  kNone,       // [h]
  kBranch,     // [h][branch]
  kCondBr,     // [h][F0][branch]
  kCmpBr,      // [h][F0 F1][branch]
  kCmpBrImm,   // [h][F0 | imm << 32][branch]
  kSlots,      // [h][F0 F1 F2]
  kSlotsImm,   // [h][F0 F1 F2][imm]
  kSlotsImm2,  // [h][F0 F1 F2][imm][imm]
  kSlotsW,     // [h][F0 F1 F2][F0 F1 F2]
  kBrTable,    // [h][F0][count][branch...]
  kReturnN,    // [h][F0][slots]
  kIndex,      // [h][imm]
  kCharge,     // [h][branch word: cost only]
};

// The shapes of the instructions that shape_of() does not list: the fused
// compare-and-branch instructions, the `_imm` and fused superinstructions
// (an immediate word after the slots), and the internal instruction of each
// Wasm instruction the opcode table types by class: memory and lane accesses
// carry an immediate word (offset or lane), the others only slots.
const std::array<Shape, kOpCount>& shape_table() {
  static const std::array<Shape, kOpCount> table = [] {
    std::array<Shape, kOpCount> t;
    t.fill(Shape::kSlots);
    auto set = [&t](Op op, Shape shape) { t[static_cast<size_t>(op)] = shape; };
#define RUSM_CMP_SHAPE(name)                  \
  set(Op::br_##name, Shape::kCmpBr);          \
  set(Op::brn_##name, Shape::kCmpBr);         \
  set(Op::br_##name##_imm, Shape::kCmpBrImm); \
  set(Op::brn_##name##_imm, Shape::kCmpBrImm);
    RUSM_FOR_EACH_CMP(RUSM_CMP_SHAPE)
#undef RUSM_CMP_SHAPE
#define RUSM_IMM_SHAPE(name) set(Op::name, Shape::kSlotsImm);
    RUSM_FOR_EACH_IMM_OP(RUSM_IMM_SHAPE)
    RUSM_FOR_EACH_FUSED_OP(RUSM_IMM_SHAPE)
#undef RUSM_IMM_SHAPE
    for (size_t i = 0; i < kOpcodeCount; ++i) {
      const Opcode wasm_op = static_cast<Opcode>(i);
      switch (opcode_info(wasm_op).cls) {
        case OpClass::kLoad:
        case OpClass::kStore:
        case OpClass::kLoadLane:
        case OpClass::kStoreLane:
        case OpClass::kExtractLane:
        case OpClass::kReplaceLane:
          set(interp_op(wasm_op), Shape::kSlotsImm);
          break;
        default:
          break;
      }
    }
    return t;
  }();
  return table;
}

Shape shape_of(Op op) {
  switch (op) {
    case Op::unreachable:
    case Op::nop:
    case Op::halt:
    case Op::return0:
      return Shape::kNone;
    case Op::br:
      return Shape::kBranch;
    case Op::charge:
      return Shape::kCharge;
    case Op::br_if_nz:
    case Op::br_if_z:
      return Shape::kCondBr;
    case Op::br_table:
      return Shape::kBrTable;
    case Op::return1:
    case Op::return2:
    case Op::copy:
    case Op::copy128:
    case Op::memory_size:
    case Op::memory_grow:
    case Op::memory_fill:
    case Op::memory_copy:
    case Op::ref_is_null:
      return Shape::kSlots;
    case Op::return_n:
      return Shape::kReturnN;
    case Op::data_drop:
    case Op::elem_drop:
    case Op::enter_native:
      return Shape::kIndex;
    case Op::i32_store_imm:
    case Op::i64_store_imm:
    case Op::i32_store8_imm:
    case Op::i32_store16_imm:
    case Op::const128:
    case Op::i8x16_shuffle:
    case Op::v128_load8_lane:
    case Op::v128_load16_lane:
    case Op::v128_load32_lane:
    case Op::v128_load64_lane:
    case Op::v128_store8_lane:
    case Op::v128_store16_lane:
    case Op::v128_store32_lane:
    case Op::v128_store64_lane:
      return Shape::kSlotsImm2;
    case Op::select:
    case Op::select128:
    case Op::v128_bitselect:
      return Shape::kSlotsW;
    case Op::i32_add_shl:
    case Op::call:
    case Op::call_import:
    case Op::call_fn:
    case Op::call_indirect:
    case Op::const64:
    case Op::global_get:
    case Op::global_set:
    case Op::global_get128:
    case Op::global_set128:
    case Op::memory_init:
    case Op::table_get:
    case Op::table_set:
    case Op::table_size:
    case Op::table_grow:
    case Op::table_fill:
    case Op::table_copy:
    case Op::table_init:
    case Op::ref_func:
      return Shape::kSlotsImm;
    default:
      break;
  }
  return shape_table()[static_cast<size_t>(op)];
}

size_t length_of(Shape s, const Word* ip) {
  switch (s) {
    case Shape::kNone:
      return 1;
    case Shape::kBranch:
    case Shape::kSlots:
    case Shape::kIndex:
    case Shape::kCharge:
      return 2;
    case Shape::kCondBr:
    case Shape::kCmpBr:
    case Shape::kCmpBrImm:
    case Shape::kSlotsImm:
    case Shape::kSlotsW:
    case Shape::kReturnN:
      return 3;
    case Shape::kSlotsImm2:
      return 4;
    case Shape::kBrTable:
      return 3 + ip[2] + 1;
  }
  return 1;
}

std::string slots(Word w) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "s%u s%u -> s%u", slot_f0(w), slot_f1(w), slot_f2(w));
  return buf;
}

std::string branch(Word w, size_t at) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "@%zu",
                static_cast<size_t>(static_cast<int64_t>(at) + branch_offset(w)));
  std::string s = buf;
  if (branch_cost(w) != 0) {
    s += " (fuel " + std::to_string(branch_cost(w)) + ")";
  }
  return s;
}

}  // namespace

std::string disassemble(const ModuleData& md, uint32_t func_index) {
  if (func_index < md.ir.num_imported_funcs ||
      func_index - md.ir.num_imported_funcs >= md.funcs.size()) {
    return "function " + std::to_string(func_index) + " is imported or does not exist\n";
  }
  const FuncCode& fc = md.funcs[func_index - md.ir.num_imported_funcs];
  std::unordered_map<Word, Op> ops;
  const Word* table = handler_table(md.dispatch);
  for (size_t i = 0; i < static_cast<size_t>(Op::kCount); ++i) {
    ops.emplace(table[i], static_cast<Op>(i));
  }
  std::string out = "function " + std::to_string(func_index) + ": params " +
                    std::to_string(fc.param_slots) + " slots, locals " +
                    std::to_string(fc.local_slots) + ", frame " + std::to_string(fc.frame_slots) +
                    ", entry fuel " + std::to_string(fc.fuel_cost) + "\n";
  const Word* code = md.code.data();
  size_t pc = fc.code_begin;
  while (pc < fc.code_end) {
    const Word* ip = code + pc;
    auto it = ops.find(ip[0]);
    if (it == ops.end()) {
      out += "  " + std::to_string(pc - fc.code_begin) + ": ???\n";
      break;
    }
    Op op = it->second;
    Shape s = shape_of(op);
    size_t rel = pc - fc.code_begin;
    std::string line = "  " + std::to_string(rel) + ": " + op_name(op);
    switch (s) {
      case Shape::kNone:
        break;
      case Shape::kBranch:
        line += " " + branch(ip[1], rel);
        break;
      case Shape::kCondBr:
        line += " s" + std::to_string(slot_f0(ip[1])) + " " + branch(ip[2], rel);
        break;
      case Shape::kCmpBr:
        line += " s" + std::to_string(slot_f0(ip[1])) + " s" + std::to_string(slot_f1(ip[1])) +
                " " + branch(ip[2], rel);
        break;
      case Shape::kCmpBrImm:
        line += " s" + std::to_string(slot_f0(ip[1])) + " #" +
                std::to_string(static_cast<int32_t>(ip[1] >> 32)) + " " + branch(ip[2], rel);
        break;
      case Shape::kSlots:
        line += " " + slots(ip[1]);
        break;
      case Shape::kSlotsImm:
        line += " " + slots(ip[1]) + " #" + std::to_string(static_cast<int64_t>(ip[2]));
        break;
      case Shape::kSlotsImm2:
        line += " " + slots(ip[1]) + " #" + std::to_string(ip[2]) + " #" + std::to_string(ip[3]);
        break;
      case Shape::kSlotsW:
        line += " " + slots(ip[1]) + " cond s" + std::to_string(slot_f0(ip[2]));
        break;
      case Shape::kReturnN:
        line += " s" + std::to_string(slot_f0(ip[1])) + " x" + std::to_string(ip[2]);
        break;
      case Shape::kIndex:
        line += " #" + std::to_string(ip[1]);
        break;
      case Shape::kCharge:
        line += " (fuel " + std::to_string(branch_cost(ip[1])) + ")";
        break;
      case Shape::kBrTable: {
        line += " s" + std::to_string(slot_f0(ip[1])) + " [";
        for (size_t i = 0; i <= ip[2]; ++i) {
          line += (i ? " " : "") + branch(ip[3 + i], rel);
        }
        line += "]";
        break;
      }
    }
    out += line + "\n";
    pc += length_of(s, ip);
  }
  return out;
}

}  // namespace rusm::wasm::internal
