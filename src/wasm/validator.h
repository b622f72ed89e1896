// The function-body validator that every tier shares: it walks a body once,
// types the operand stack by the algorithm of the spec's validation appendix
// (a stack of value types and a stack of control frames) and, for each
// instruction it has checked, calls the tier's code generator (CodeGen) with
// what it decoded and computed. A code generator never reads the body's bytes
// and never checks a type: what it is handed is valid.
//
// The validator reads the opcode table (opcodes.h): the typing of every
// instruction of a class other than kSpecial (numeric, memory and lane
// accesses, most of SIMD) comes from the table's signature columns, and only
// the kSpecial instructions (control, variables, calls, tables, references,
// constants, bulk memory, shuffle) are typed by hand here.
//
// Stack discipline for code generators. A generator that tracks values (the
// interpreter's slots, the LLVM backend's SSA values) mirrors the validator's
// operand stack: every callback says how many operands the instruction pops
// (from its signature, the callback's types or the generator's own control
// frames) and pushes. In unreachable code (after br, br_table, return or
// unreachable, until the frame's end or else) the validator lets an
// instruction pop operands that are not there: the "bottom" type of the
// spec's algorithm. A generator mirrors that by popping, past the height of
// its innermost frame while that frame is unreachable, a placeholder of no
// type (kNoType); it learns heights from on_block/on_if and unreachability
// from the transfers themselves (on_unreachable, on_br, on_br_table,
// on_return), exactly as the validator does.
//
// Errors: the validator reports every validation error (and the encoding
// errors the decoder leaves to it) in the reference interpreter's words, as
// "code section, offset 0x<hex>: <reason> (function N)"; a code generator
// may refuse an instruction only for a limit of its own (kLimit), by
// returning false from a callback after setting its error(); the validator
// reports that at the instruction's offset in the same form.
//
// Not thread-safe; one validator per body. Hot path: compile time (ms per MB
// of Wasm, see docs/engine.md); it allocates only for block types, the values
// a branch keeps, and the stacks' growth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rusm/result.h"
#include "rusm/wasm.h"
#include "wasm/module.h"
#include "wasm/opcodes.h"

namespace rusm::wasm {

// Kinds of control frame, by the byte of the instruction that opened it.
enum class FrameKind : uint8_t {
  kFunction = 0x00,
  kBlock = 0x02,
  kLoop = 0x03,
  kIf = 0x04,
  kElse = 0x05,
};

// What a tier implements to turn a validated body into code. Each callback is
// called once the instruction has passed validation; it returns false only to
// refuse a body for a limit of the generator's own, with error() set.
// Operand and result types of the table-typed instructions are in
// opcode_info(op); kSpecial ones say them in their parameters or below.
class CodeGen {
 public:
  virtual ~CodeGen() = default;

  // The reason (and ErrorCode, normally kLimit) a callback returned false.
  virtual const std::string& error() const = 0;
  virtual ErrorCode error_code() const = 0;

  // --- control. Blocks, loops and ifs pop their params and push them back
  // inside the frame; end pops the frame's results and pushes them after it.
  virtual bool on_unreachable() = 0;  // then unreachable
  virtual bool on_block(FrameKind kind, const std::vector<ValType>& params,
                        const std::vector<ValType>& results) = 0;  // kBlock or kLoop
  virtual bool on_if(const std::vector<ValType>& params,
                     const std::vector<ValType>& results) = 0;  // pops i32 first
  virtual bool on_else() = 0;
  virtual bool on_end() = 0;  // the last one ends the function
  // Branches keep the label's values on the stack (typed as the label's
  // types; br_table keeps their types as they were, unknown included).
  virtual bool on_br(uint32_t depth) = 0;     // then unreachable
  virtual bool on_br_if(uint32_t depth) = 0;  // pops i32
  virtual bool on_br_table(const std::vector<uint32_t>& depths, uint32_t default_depth) = 0;
  virtual bool on_return() = 0;  // then unreachable
  virtual bool on_call(uint32_t func_index, const FuncType& type) = 0;
  virtual bool on_call_indirect(uint32_t type_index, uint32_t table_index,
                                const FuncType& type) = 0;  // pops i32, then the params

  // --- parametric and variables
  virtual bool on_drop() = 0;
  virtual bool on_select(ValType type) = 0;  // a b i32 -> a; type may be kNoType (bottom)
  virtual bool on_local_get(uint32_t index) = 0;
  virtual bool on_local_set(uint32_t index, bool tee) = 0;
  virtual bool on_global_get(uint32_t index, ValType type) = 0;
  virtual bool on_global_set(uint32_t index, ValType type) = 0;

  // --- constants: i32/i64/f32/f64 bits in lo, v128 in lo/hi, ref.null as 0
  virtual bool on_const(ValType type, uint64_t lo, uint64_t hi) = 0;

  // --- table-typed instructions (opcode_info(op).cls)
  virtual bool on_numeric(Opcode op) = 0;  // kUnary, kBinary, kReinterpret, kTernary
  virtual bool on_load(Opcode op, uint64_t offset) = 0;
  virtual bool on_store(Opcode op, uint64_t offset) = 0;
  virtual bool on_load_lane(Opcode op, uint64_t offset, uint8_t lane) = 0;
  virtual bool on_store_lane(Opcode op, uint64_t offset, uint8_t lane) = 0;
  virtual bool on_lane(Opcode op, uint8_t lane) = 0;  // kExtractLane, kReplaceLane
  virtual bool on_shuffle(const uint8_t lanes[16]) = 0;

  // --- memory, tables and references
  virtual bool on_memory_size() = 0;
  virtual bool on_memory_grow() = 0;
  virtual bool on_memory_init(uint32_t segment) = 0;
  virtual bool on_data_drop(uint32_t segment) = 0;
  virtual bool on_memory_copy() = 0;
  virtual bool on_memory_fill() = 0;
  virtual bool on_table_get(uint32_t table, ValType elem) = 0;
  virtual bool on_table_set(uint32_t table, ValType elem) = 0;
  virtual bool on_table_init(uint32_t table, uint32_t segment) = 0;
  virtual bool on_elem_drop(uint32_t segment) = 0;
  virtual bool on_table_copy(uint32_t dst_table, uint32_t src_table) = 0;
  virtual bool on_table_grow(uint32_t table, ValType elem) = 0;
  virtual bool on_table_size(uint32_t table) = 0;
  virtual bool on_table_fill(uint32_t table, ValType elem) = 0;
  virtual bool on_ref_is_null() = 0;
  virtual bool on_ref_func(uint32_t func_index) = 0;
};

// Validates body `def_index` of `ir` (a defined function's index, imports not
// counted), driving `gen` through it (virtual calls; a generator whose final
// type is known at the call can use validate_body<Gen>() from
// validator_impl.h for direct ones). On error returns kInvalid, kMalformed
// (an encoding error the decoder leaves to the validator) or the generator's
// code, with the message form above; `gen` is then abandoned mid-body.
Status validate_function(const ModuleIR& ir, uint32_t def_index, CodeGen& gen);

}  // namespace rusm::wasm
