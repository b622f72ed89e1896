// The interpreter's code generator: a CodeGen (validator.h) that the shared
// validator drives through each body, one callback per validated
// instruction, and that emits internal code (see the top of interp.cc for the
// encoding). It checks nothing but its own limits; everything about an
// instruction that is not how the interpreter runs it (its encoding, its
// typing, its immediates) is in the opcode table (opcodes.h) and the
// validator.
//
// Code generation keeps, for every operand-stack entry, where its value
// lives:
//   kTemp   in its home slot (the slot of its stack position),
//   kLocal  still in a local's slot (a `local.get` emits nothing),
//   kConst  nowhere yet (a constant emits nothing until needed; binary ops
//           with a constant operand use an `_imm` variant).
// Lazy entries are materialized into their home slot when a value must sit
// in a fixed place: at block boundaries, for call arguments, when the local
// they read is about to be overwritten ("preserving" it), and so on.
//
// Peepholes: the last emitted instruction is remembered while nothing else
// is emitted and no label is bound, so that a following `local.set` can
// retarget its output to the local, and a following `br_if`/`if` can fuse
// with a comparison into one compare-and-branch instruction.
//
// Fuel: the compiler cuts the code into runs (straight-line stretches ending
// with an unconditional transfer), counts the instructions it emits, and
// once the function is done patches every taken branch's charge (what its
// target's run prepays less what its own run had prepaid past it) and the
// entry charge; see "Fuel" at the top of interp.cc.
//
// Hot path: compile time only (not spawn); guarded by `rusm bench cpu` for
// the quality of the code it produces.
#include "wasm/compiler.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "wasm/opcodes.h"
#include "wasm/validator.h"
#include "wasm/validator_impl.h"

namespace rusm::wasm::internal {
namespace {

constexpr ValType kUnknown = kNoType;
constexpr size_t kNone = static_cast<size_t>(-1);

uint32_t size_of(ValType t) {
  return t == ValType::V128 ? 2 : 1;
}

// ---------------------------------------------------------------------------
// Opcode tables

// The internal instruction that runs each instruction the opcode table types
// by its class (opcodes.h): the one of the same name, except for these.
namespace interp_names {
using enum Op;
// Slots hold raw bits: a float is stored as the integer of its width, and a
// reinterpretation emits no code (only the type changes).
constexpr Op f32_store = i32_store;
constexpr Op f64_store = i64_store;
constexpr Op i32_reinterpret_f32 = nop;
constexpr Op i64_reinterpret_f64 = nop;
constexpr Op f32_reinterpret_i32 = nop;
constexpr Op f64_reinterpret_i64 = nop;
}  // namespace interp_names

// clang-format off
#define RUSM_INTERP_OP_Special(ident) Op::kCount
#define RUSM_INTERP_OP_Unary(ident) interp_names::ident
#define RUSM_INTERP_OP_Binary(ident) interp_names::ident
#define RUSM_INTERP_OP_Ternary(ident) interp_names::ident
#define RUSM_INTERP_OP_Reinterpret(ident) interp_names::ident
#define RUSM_INTERP_OP_Load(ident) interp_names::ident
#define RUSM_INTERP_OP_Store(ident) interp_names::ident
#define RUSM_INTERP_OP_LoadLane(ident) interp_names::ident
#define RUSM_INTERP_OP_StoreLane(ident) interp_names::ident
#define RUSM_INTERP_OP_ExtractLane(ident) interp_names::ident
#define RUSM_INTERP_OP_ReplaceLane(ident) interp_names::ident
#define RUSM_INTERP_OP(code, ident, name, cls, ...) RUSM_INTERP_OP_##cls(ident),
// Indexed by Opcode; Op::kCount for kSpecial instructions, which the
// compiler emits by hand.
constexpr Op kInterpOp[] = {RUSM_WASM_OPCODES(RUSM_INTERP_OP)};
#undef RUSM_INTERP_OP
// clang-format on
static_assert(std::size(kInterpOp) == kOpcodeCount);

struct CmpInfo {
  Op cmp, br, brn, br_imm, brn_imm;
  bool is64;
};

const CmpInfo kCmps[] = {
#define RUSM_CMP_INFO(name) \
  {Op::name, Op::br_##name, Op::brn_##name, Op::br_##name##_imm, Op::brn_##name##_imm, false},
    RUSM_FOR_EACH_CMP(RUSM_CMP_INFO)
#undef RUSM_CMP_INFO
};

int cmp_index(Op op) {
  for (int i = 0; i < static_cast<int>(std::size(kCmps)); ++i) {
    if (kCmps[i].cmp == op) {
      return i;
    }
  }
  return -1;
}

// Binary operations with an `_imm` variant (a constant right operand), and
// whether a constant left operand may swap into it.
struct ImmForm {
  Op op, imm;
  bool commutative;
};
constexpr ImmForm kImmForms[] = {
    {Op::i32_eq, Op::i32_eq_imm, true},        {Op::i32_ne, Op::i32_ne_imm, true},
    {Op::i32_lt_s, Op::i32_lt_s_imm, false},   {Op::i32_lt_u, Op::i32_lt_u_imm, false},
    {Op::i32_gt_s, Op::i32_gt_s_imm, false},   {Op::i32_gt_u, Op::i32_gt_u_imm, false},
    {Op::i32_le_s, Op::i32_le_s_imm, false},   {Op::i32_le_u, Op::i32_le_u_imm, false},
    {Op::i32_ge_s, Op::i32_ge_s_imm, false},   {Op::i32_ge_u, Op::i32_ge_u_imm, false},
    {Op::i64_eq, Op::i64_eq_imm, true},        {Op::i64_ne, Op::i64_ne_imm, true},
    {Op::i64_lt_s, Op::i64_lt_s_imm, false},   {Op::i64_lt_u, Op::i64_lt_u_imm, false},
    {Op::i64_gt_s, Op::i64_gt_s_imm, false},   {Op::i64_gt_u, Op::i64_gt_u_imm, false},
    {Op::i64_le_s, Op::i64_le_s_imm, false},   {Op::i64_le_u, Op::i64_le_u_imm, false},
    {Op::i64_ge_s, Op::i64_ge_s_imm, false},   {Op::i64_ge_u, Op::i64_ge_u_imm, false},
    {Op::i32_add, Op::i32_add_imm, true},      {Op::i32_sub, Op::i32_sub_imm, false},
    {Op::i32_mul, Op::i32_mul_imm, true},      {Op::i32_and, Op::i32_and_imm, true},
    {Op::i32_or, Op::i32_or_imm, true},        {Op::i32_xor, Op::i32_xor_imm, true},
    {Op::i32_shl, Op::i32_shl_imm, false},     {Op::i32_shr_s, Op::i32_shr_s_imm, false},
    {Op::i32_shr_u, Op::i32_shr_u_imm, false}, {Op::i32_rotl, Op::i32_rotl_imm, false},
    {Op::i32_rotr, Op::i32_rotr_imm, false},   {Op::i64_add, Op::i64_add_imm, true},
    {Op::i64_sub, Op::i64_sub_imm, false},     {Op::i64_mul, Op::i64_mul_imm, true},
    {Op::i64_and, Op::i64_and_imm, true},      {Op::i64_or, Op::i64_or_imm, true},
    {Op::i64_xor, Op::i64_xor_imm, true},      {Op::i64_shl, Op::i64_shl_imm, false},
    {Op::i64_shr_s, Op::i64_shr_s_imm, false}, {Op::i64_shr_u, Op::i64_shr_u_imm, false},
    {Op::i64_rotl, Op::i64_rotl_imm, false},   {Op::i64_rotr, Op::i64_rotr_imm, false},
};

// What the compiler needs to emit an instruction of the unary, binary and
// reinterpret classes: its internal instruction and operand types (from the
// opcode table) and the superinstructions it can become.
struct NumInfo {
  Op op = Op::nop;
  ValType a = kUnknown, b = kUnknown, r = kUnknown;  // b == kUnknown: unary
  Op imm = Op::kCount;                               // `_imm` variant, if any
  bool commutative = false;
  int cmp = -1;              // index into kCmps when a comparison that can fuse
  bool reinterpret = false;  // no code: only the type changes
};

struct NumTable {
  NumInfo info[kOpcodeCount];
  NumTable() {
    for (size_t i = 0; i < kOpcodeCount; ++i) {
      const OpcodeInfo& row = opcode_info(static_cast<Opcode>(i));
      if (row.cls != OpClass::kUnary && row.cls != OpClass::kBinary &&
          row.cls != OpClass::kReinterpret) {
        continue;
      }
      NumInfo& n = info[i];
      n.op = kInterpOp[i];
      n.a = row.a;
      n.b = row.cls == OpClass::kBinary ? row.b : kUnknown;
      n.r = row.result;
      n.reinterpret = row.cls == OpClass::kReinterpret;
      n.cmp = row.cls == OpClass::kBinary ? cmp_index(n.op) : -1;
      for (const ImmForm& f : kImmForms) {
        if (f.op == n.op) {
          n.imm = f.imm;
          n.commutative = f.commutative;
        }
      }
    }
  }
};

const NumTable& num_table() {
  static const NumTable table;
  return table;
}

// ---------------------------------------------------------------------------
// The code generator of one function

struct Operand {
  enum Kind : uint8_t { kTemp, kLocal, kConst };
  ValType type = kUnknown;
  Kind kind = kTemp;
  uint32_t home = 0;   // slot of this stack position
  uint32_t local = 0;  // kLocal: the local's slot
  uint64_t lo = 0;     // kConst: the value (low half of a v128)
  uint64_t hi = 0;
};

// A point in a function's code for fuel accounting (see "Fuel" at the top of
// interp.cc): an instruction index (instructions emitted before it) and the
// run it belongs to. What the run's instructions from this point on cost is
// known once the run ends.
struct FuelPoint {
  uint32_t insn = 0;
  uint32_t run = 0;
};

struct Fixup {
  size_t insn;     // start of the branching instruction (offsets are relative to it)
  size_t word;     // the branch word to patch
  FuelPoint from;  // the branch's fall-through point (what it stops prepaying)
};

struct Ctrl {
  FrameKind kind = FrameKind::kFunction;
  std::vector<ValType> params;
  std::vector<ValType> results;
  size_t height = 0;       // operand stack size below the params
  uint32_t base_slot = 0;  // home slot of stack position `height`
  bool unreachable = false;
  size_t loop_pc = 0;              // loops: the branch target
  FuelPoint loop_point;            // loops: the branch target's fuel point
  std::vector<Fixup> forward;      // branches to the end of the block
  Fixup else_fixup{kNone, 0, {}};  // if: the branch to the else arm
  const std::vector<ValType>& label_types() const {
    return kind == FrameKind::kLoop ? params : results;
  }
};

// Emits the internal code of one function as the validator walks it. Its
// operand stack mirrors the validator's (see "Stack discipline" in
// validator.h), with where each value lives instead of only its type.
class FunctionCompiler final : public CodeGen {
 public:
  FunctionCompiler(ModuleData& md, uint32_t def_index)
      : md_(md),
        ir_(md.ir),
        def_index_(def_index),
        func_index_(def_index + md.ir.num_imported_funcs),
        body_(md.ir.bodies[def_index]),
        type_(md.ir.func_type(func_index_)),
        code_(md.code),
        handlers_(handler_table(md.dispatch)) {}

  // Lays out the frame (params, then locals; kLimit if they need more slots
  // than an instruction can name). Then the validator drives the callbacks,
  // and finish() completes md.funcs[def_index].
  Status begin();
  void finish();

  const std::string& error() const override { return error_; }
  ErrorCode error_code() const override { return error_code_; }

  bool on_unreachable() override {
    emit_op(Op::unreachable);
    end_run();
    set_unreachable();
    return true;
  }
  bool on_block(FrameKind kind, const std::vector<ValType>& params,
                const std::vector<ValType>& results) override;
  bool on_if(const std::vector<ValType>& params, const std::vector<ValType>& results) override;
  bool on_else() override;
  bool on_end() override;
  bool on_br(uint32_t depth) override;
  bool on_br_if(uint32_t depth) override;
  bool on_br_table(const std::vector<uint32_t>& depths, uint32_t default_depth) override;
  bool on_return() override {
    if (!check_top(type_.results)) {
      return false;
    }
    emit_return();
    set_unreachable();
    return true;
  }
  bool on_call(uint32_t func_index, const FuncType& type) override;
  bool on_call_indirect(uint32_t type_index, uint32_t table_index, const FuncType& type) override;

  bool on_drop() override {
    pop();
    return true;
  }
  bool on_select(ValType type) override;
  bool on_local_get(uint32_t index) override {
    Operand o;
    o.type = local_types_[index];
    o.kind = Operand::kLocal;
    o.local = local_slot_[index];
    return push_operand(o);
  }
  bool on_local_set(uint32_t index, bool tee) override;
  bool on_global_get(uint32_t index, ValType type) override {
    uint32_t dst = next_home();
    size_t pos = emit_op(type == ValType::V128 ? Op::global_get128 : Op::global_get);
    emit(pack_slots(0, 0, dst));
    emit(index);
    produced(pos, dst);
    return push(type);
  }
  bool on_global_set(uint32_t index, ValType type) override {
    Operand v = pop();
    uint32_t sv = slot_of(v);
    emit_op(type == ValType::V128 ? Op::global_set128 : Op::global_set);
    emit(pack_slots(sv));
    emit(index);
    return true;
  }

  bool on_const(ValType type, uint64_t lo, uint64_t hi) override {
    return push_const(type, lo, hi);
  }

  bool on_numeric(Opcode op) override;
  bool on_load(Opcode op, uint64_t offset) override {
    return do_load(interp_op(op), opcode_info(op).result, offset);
  }
  bool on_store(Opcode op, uint64_t offset) override { return do_store(interp_op(op), offset); }
  bool on_load_lane(Opcode op, uint64_t offset, uint8_t lane) override;
  bool on_store_lane(Opcode op, uint64_t offset, uint8_t lane) override;
  bool on_lane(Opcode op, uint8_t lane) override;
  bool on_shuffle(const uint8_t lanes[16]) override;

  bool on_memory_size() override {
    uint32_t dst = next_home();
    size_t pos = emit_op(Op::memory_size);
    emit(pack_slots(0, 0, dst));
    produced(pos, dst);
    return push(ValType::I32);
  }
  bool on_memory_grow() override { return emit_unary(Op::memory_grow, ValType::I32); }
  bool on_memory_init(uint32_t segment) override {
    emit_three(Op::memory_init);
    emit(segment);
    return true;
  }
  bool on_data_drop(uint32_t segment) override {
    emit_op(Op::data_drop);
    emit(segment);
    return true;
  }
  bool on_memory_copy() override {
    emit_three(Op::memory_copy);
    return true;
  }
  bool on_memory_fill() override {
    emit_three(Op::memory_fill);
    return true;
  }
  bool on_table_get(uint32_t table, ValType elem) override {
    Operand i = pop();
    uint32_t si = slot_of(i);
    uint32_t dst = next_home();
    size_t pos = emit_op(Op::table_get);
    emit(pack_slots(si, 0, dst));
    emit(table);
    produced(pos, dst);
    return push(elem);
  }
  bool on_table_set(uint32_t table, ValType elem) override {
    Operand v = pop(), i = pop();
    uint32_t si = slot_of(i), sv = slot_of(v);
    emit_op(Op::table_set);
    emit(pack_slots(si, sv));
    emit(table);
    return true;
  }
  bool on_table_init(uint32_t table, uint32_t segment) override {
    emit_three(Op::table_init);
    emit(Word{table} | (Word{segment} << 32));
    return true;
  }
  bool on_elem_drop(uint32_t segment) override {
    emit_op(Op::elem_drop);
    emit(segment);
    return true;
  }
  bool on_table_copy(uint32_t dst_table, uint32_t src_table) override {
    emit_three(Op::table_copy);
    emit(Word{dst_table} | (Word{src_table} << 32));
    return true;
  }
  bool on_table_grow(uint32_t table, ValType elem) override {
    Operand n = pop(), init = pop();
    uint32_t si = slot_of(init), sn = slot_of(n);
    uint32_t dst = next_home();
    size_t pos = emit_op(Op::table_grow);
    emit(pack_slots(si, sn, dst));
    emit(table);
    produced(pos, dst);
    return push(ValType::I32);
  }
  bool on_table_size(uint32_t table) override {
    uint32_t dst = next_home();
    size_t pos = emit_op(Op::table_size);
    emit(pack_slots(0, 0, dst));
    emit(table);
    produced(pos, dst);
    return push(ValType::I32);
  }
  bool on_table_fill(uint32_t table, ValType elem) override {
    emit_three(Op::table_fill);
    emit(table);
    return true;
  }
  bool on_ref_is_null() override { return emit_unary(Op::ref_is_null, ValType::I32); }
  bool on_ref_func(uint32_t func_index) override {
    uint32_t dst = next_home();
    size_t pos = emit_op(Op::ref_func);
    emit(pack_slots(0, 0, dst));
    emit(func_index);
    produced(pos, dst);
    return push(ValType::FuncRef);
  }

 private:
  // --- errors: only the engine's own limits (the validator checks the rest)
  bool fail(const char* reason, ErrorCode code) {
    if (error_.empty()) {
      error_ = reason;
      error_code_ = code;
    }
    return false;
  }

  // --- emission
  size_t emit_op(Op op) {
    if (insns_ - run_start_ >= kMaxFuelRun) {
      split_run();
    }
    size_t pos = code_.size();
    code_.push_back(handlers_[static_cast<size_t>(op)]);
    ++insns_;
    last_.valid = false;
    cmp_.valid = false;
    last_op_ = op;
    last_op_pos_ = pos;
    return pos;
  }
  // True if `o` is the (dead once popped) value the last instruction
  // produced, and that instruction is `op`.
  bool producer_is(const Operand& o, Op op) const {
    return is_last_producer_of(o) && last_op_ == op && last_op_pos_ == last_.pos;
  }
  // Removes the last instruction (a producer_is() match), returning its
  // operand words so that a fused instruction can take over its inputs.
  void take_producer(Word* w1, Word* w2) {
    *w1 = code_[last_.pos + 1];
    *w2 = last_.pos + 2 < code_.size() ? code_[last_.pos + 2] : 0;
    code_.resize(last_.pos);
    --insns_;
    last_.valid = false;
    cmp_.valid = false;
  }
  void emit(Word w) { code_.push_back(w); }
  // Remembers that the instruction at `pos` writes its result to F2 of its
  // first operand word, so a following local.set may retarget it.
  void produced(size_t pos, uint32_t dst) {
    last_.valid = true;
    last_.pos = pos;
    last_.end = code_.size();
    last_.dst = dst;
  }
  bool is_last_producer_of(const Operand& o) const {
    return last_.valid && o.kind == Operand::kTemp && last_.dst == o.home &&
           last_.end == code_.size();
  }
  void bind_label() {
    last_.valid = false;
    cmp_.valid = false;
  }
  // Points the branch of `f` here (the next instruction emitted).
  void bind_branch(const Fixup& f) {
    int64_t off = static_cast<int64_t>(code_.size()) - static_cast<int64_t>(f.insn);
    code_[f.word] = (code_[f.word] & ~Word{0xffffffff}) | static_cast<uint32_t>(off);
    charges_.push_back(Charge{f.word, f.from, here()});
  }
  // A fixup for the branch word about to be emitted by the conditional
  // branch at `insn`, which falls through here.
  Fixup fixup_here(size_t insn) const { return Fixup{insn, code_.size(), here()}; }

  // --- fuel (see "Fuel" at the top of interp.cc)
  FuelPoint here() const { return FuelPoint{insns_, static_cast<uint32_t>(run_end_.size())}; }
  // Ends the open run after an unconditional transfer (or to cut it).
  void end_run() {
    run_end_.push_back(insns_);
    run_start_ = insns_;
  }
  // Cuts a run that reached kMaxFuelRun: a `charge` instruction starts the
  // next one, charging it on the fall-through path.
  void split_run() {
    FuelPoint from = here();
    end_run();
    FuelPoint to = here();
    emit_op(Op::charge);
    size_t word = code_.size();
    emit(pack_branch(0, 0));
    charges_.push_back(Charge{word, from, to});
  }
  // Fuel a run prepays from `p` to its end.
  int64_t prepaid(FuelPoint p) const {
    return static_cast<int64_t>(run_end_[p.run]) - static_cast<int64_t>(p.insn);
  }
  void patch_charges();
  bool check_slot(uint64_t slot) {
    if (slot >= kMaxSlots) {
      return fail("function needs more than 65535 value slots (locals and operands)",
                  ErrorCode::kLimit);
    }
    return true;
  }

  // --- operand stack (the validator's, with locations)
  uint32_t next_home() const {
    return stack_.empty() ? local_slots_ : stack_.back().home + size_of(stack_.back().type);
  }
  bool push(ValType t) {
    Operand o;
    o.type = t;
    o.home = next_home();
    return push_operand(o);
  }
  bool push_operand(Operand o) {
    o.home = next_home();
    max_slot_ = std::max<uint64_t>(max_slot_, uint64_t{o.home} + size_of(o.type));
    stack_.push_back(o);
    return check_slot(max_slot_);
  }
  bool push_const(ValType t, uint64_t lo, uint64_t hi = 0) {
    Operand o;
    o.type = t;
    o.kind = Operand::kConst;
    o.lo = lo;
    o.hi = hi;
    return push_operand(o);
  }
  // Pops one operand; in unreachable code past the frame's height, a
  // phantom of no type (the validator's bottom type).
  Operand pop() {
    const Ctrl& c = ctrls_.back();
    if (stack_.size() == c.height && c.unreachable) {
      Operand o;
      o.home = next_home();
      return o;
    }
    Operand o = stack_.back();
    stack_.pop_back();
    return o;
  }
  // Pops `n` operands into `out` (in stack order).
  void pop_n(size_t n, std::vector<Operand>* out) {
    out->resize(n);
    for (size_t i = n; i-- > 0;) {
      (*out)[i] = pop();
    }
  }
  bool push_operands(std::vector<Operand>& ops) {
    for (Operand& o : ops) {
      if (!push_operand(o)) {
        return false;
      }
    }
    return true;
  }
  // The top of the stack after a branch to a label of `types` (that stays in
  // place): typed as the label's types, or with keep_actual as the operands
  // were (br_table).
  bool check_top(const std::vector<ValType>& types, bool keep_actual = false) {
    std::vector<Operand> ops;
    pop_n(types.size(), &ops);
    if (!keep_actual) {
      for (size_t i = 0; i < ops.size(); ++i) {
        ops[i].type = types[i];
      }
    }
    return push_operands(ops);
  }
  void set_unreachable() {
    stack_.resize(ctrls_.back().height);
    ctrls_.back().unreachable = true;
    bind_label();
  }

  // --- values into slots
  void emit_move(const Operand& o, uint32_t dst) {
    bool wide = o.type == ValType::V128;
    if (o.kind == Operand::kConst) {
      size_t pos = emit_op(wide ? Op::const128 : Op::const64);
      emit(pack_slots(0, 0, dst));
      emit(o.lo);
      if (wide) {
        emit(o.hi);
      }
      produced(pos, dst);
      return;
    }
    uint32_t src = o.kind == Operand::kLocal ? o.local : o.home;
    if (src == dst) {
      return;
    }
    size_t pos = emit_op(wide ? Op::copy128 : Op::copy);
    emit(pack_slots(src, 0, dst));
    produced(pos, dst);
  }
  // Puts a lazy operand's value into its home slot.
  void materialize(Operand& o) {
    if (o.kind != Operand::kTemp) {
      emit_move(o, o.home);
      o.kind = Operand::kTemp;
    }
  }
  // The slot to read an operand from (constants are materialized first).
  uint32_t slot_of(Operand& o) {
    if (o.kind == Operand::kConst) {
      materialize(o);
    }
    return o.kind == Operand::kLocal ? o.local : o.home;
  }
  void materialize_all() {
    for (Operand& o : stack_) {
      materialize(o);
    }
  }
  void preserve_local(uint32_t local_slot) {
    for (Operand& o : stack_) {
      if (o.kind == Operand::kLocal && o.local == local_slot) {
        materialize(o);
      }
    }
  }

  // --- control
  bool push_ctrl(FrameKind kind, const std::vector<ValType>& params,
                 const std::vector<ValType>& results);
  Ctrl* label(uint32_t depth) { return &ctrls_[ctrls_.size() - 1 - depth]; }
  bool is_function_label(const Ctrl* c) const { return c == &ctrls_[0]; }
  bool needs_transfer(const Ctrl& target) const;
  void materialize_in_place(const Ctrl& target);
  void emit_transfer(const Ctrl& target);
  void emit_jump(Ctrl& target);
  void add_branch_word(Ctrl& target, size_t insn);
  void emit_return();

  // Compare fusion: if the popped condition is the result of the last
  // instruction, a comparison, removes that instruction and returns it.
  struct PendingCmp {
    bool valid = false;
    int cmp = -1;  // kCmps index; -1 with eqz
    bool eqz = false;
    bool is64 = false;
    uint32_t a = 0, b = 0;
    bool imm = false;
    int64_t imm_value = 0;
  };
  PendingCmp take_cmp(const Operand& cond);
  // Emits a conditional branch (on `cond` or a fused comparison), taken when
  // the condition holds (or does not, with `invert`). Returns the
  // instruction start; the branch word is at start + 2.
  size_t emit_cond_branch(const PendingCmp& cmp, Operand& cond, bool invert);

  // --- instructions
  // Pops three operands (d s n) and emits `op` on their slots.
  void emit_three(Op op) {
    Operand n = pop(), s = pop(), d = pop();
    uint32_t sd = slot_of(d), ss = slot_of(s), sn = slot_of(n);
    emit_op(op);
    emit(pack_slots(sd, ss, sn));
  }
  bool emit_unary(Op op, ValType out);
  bool do_load(Op op, ValType result, uint64_t offset);
  bool do_store(Op op, uint64_t offset);
  bool fuse_binop(const NumInfo& info, Operand& a, Operand& b, uint32_t dst);
  static Op load_add_variant(Op load) {
    switch (load) {
      case Op::i32_load:
        return Op::i32_load_add;
      case Op::i64_load:
        return Op::i64_load_add;
      case Op::f32_load:
        return Op::f32_load_add;
      case Op::f64_load:
        return Op::f64_load_add;
      case Op::i32_load8_s:
        return Op::i32_load8_s_add;
      case Op::i32_load8_u:
        return Op::i32_load8_u_add;
      case Op::i32_load16_s:
        return Op::i32_load16_s_add;
      case Op::i32_load16_u:
        return Op::i32_load16_u_add;
      default:
        return Op::kCount;
    }
  }
  static Op store_add_variant(Op store) {
    switch (store) {
      case Op::i32_store:
        return Op::i32_store_add;
      case Op::i64_store:
        return Op::i64_store_add;
      case Op::i32_store8:
        return Op::i32_store8_add;
      case Op::i32_store16:
        return Op::i32_store16_add;
      default:
        return Op::kCount;
    }
  }
  static Op store_imm_variant(Op store) {
    switch (store) {
      case Op::i32_store:
        return Op::i32_store_imm;
      case Op::i64_store:
        return Op::i64_store_imm;
      case Op::i32_store8:
        return Op::i32_store8_imm;
      case Op::i32_store16:
        return Op::i32_store16_imm;
      default:
        return Op::kCount;
    }
  }

  ModuleData& md_;
  bool straight_line_ = true;  // no loop, no call of a defined function so far
  const ModuleIR& ir_;
  uint32_t def_index_;
  uint32_t func_index_;
  const FunctionBody& body_;
  const FuncType& type_;
  std::vector<Word>& code_;
  const Word* handlers_;

  std::vector<ValType> local_types_;
  std::vector<uint32_t> local_slot_;
  uint32_t param_slots_ = 0;
  uint32_t local_slots_ = 0;
  uint64_t max_slot_ = 0;

  std::vector<Operand> stack_;
  std::vector<Ctrl> ctrls_;

  // Fuel: instructions emitted so far, the open run's first instruction, each
  // ended run's end (one past its last instruction; the open run's index is
  // run_end_.size()), and the branch words whose charges are patched at the
  // end, when every run's length is known.
  struct Charge {
    size_t word;
    FuelPoint from, to;
  };
  uint32_t insns_ = 0;
  uint32_t run_start_ = 0;
  std::vector<uint32_t> run_end_;
  std::vector<Charge> charges_;

  struct {
    bool valid = false;
    size_t pos = 0, end = 0;
    uint32_t dst = 0;
  } last_;
  struct {
    bool valid = false;
    size_t pos = 0, end = 0;
    uint32_t dst = 0;
    int cmp = -1;
    bool eqz = false, is64 = false;
    uint32_t a = 0, b = 0;
    bool imm = false;
    int64_t imm_value = 0;
  } cmp_;

  Op last_op_ = Op::nop;
  size_t last_op_pos_ = kNone;

  std::string error_;
  ErrorCode error_code_ = ErrorCode::kLimit;
};

bool FunctionCompiler::push_ctrl(FrameKind kind, const std::vector<ValType>& params,
                                 const std::vector<ValType>& results) {
  // The params are on top of the stack: they stay, as the frame's first
  // operands.
  std::vector<Operand> ops;
  pop_n(params.size(), &ops);
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].type = params[i];
  }
  Ctrl c;
  c.kind = kind;
  c.height = stack_.size();
  c.base_slot = next_home();
  c.params = params;
  c.results = results;
  ctrls_.push_back(std::move(c));
  return push_operands(ops);
}

bool FunctionCompiler::on_block(FrameKind kind, const std::vector<ValType>& params,
                                const std::vector<ValType>& results) {
  materialize_all();
  bool ok = push_ctrl(kind, params, results);
  if (ok && kind == FrameKind::kLoop) {
    straight_line_ = false;
    ctrls_.back().loop_pc = code_.size();
    ctrls_.back().loop_point = here();
  }
  bind_label();
  return ok;
}

bool FunctionCompiler::needs_transfer(const Ctrl& target) const {
  const std::vector<ValType>& types = target.label_types();
  if (stack_.size() < types.size()) {
    return false;  // unreachable code: nothing will run
  }
  uint32_t dst = target.base_slot;
  for (size_t j = 0; j < types.size(); ++j) {
    const Operand& o = stack_[stack_.size() - types.size() + j];
    if (o.kind != Operand::kTemp || o.home != dst) {
      return true;
    }
    dst += size_of(types[j]);
  }
  return false;
}

// Lazy label values already at the right position are put in their homes,
// so that a branch needs no copies.
void FunctionCompiler::materialize_in_place(const Ctrl& target) {
  const std::vector<ValType>& types = target.label_types();
  if (stack_.size() < types.size()) {
    return;
  }
  uint32_t dst = target.base_slot;
  for (size_t j = 0; j < types.size(); ++j) {
    Operand& o = stack_[stack_.size() - types.size() + j];
    if (o.home == dst) {
      materialize(o);
    }
    dst += size_of(types[j]);
  }
}

void FunctionCompiler::emit_transfer(const Ctrl& target) {
  const std::vector<ValType>& types = target.label_types();
  if (stack_.size() < types.size()) {
    return;
  }
  uint32_t dst = target.base_slot;
  for (size_t j = 0; j < types.size(); ++j) {
    const Operand& o = stack_[stack_.size() - types.size() + j];
    if (o.kind != Operand::kTemp || o.home != dst) {
      emit_move(o, dst);
    }
    dst += size_of(types[j]);
  }
}

void FunctionCompiler::add_branch_word(Ctrl& target, size_t insn) {
  size_t word = code_.size();
  if (target.kind == FrameKind::kLoop) {
    int64_t off = static_cast<int64_t>(target.loop_pc) - static_cast<int64_t>(insn);
    emit(pack_branch(static_cast<int32_t>(off), 0));
    charges_.push_back(Charge{word, here(), target.loop_point});
  } else {
    emit(pack_branch(0, 0));
    target.forward.push_back(Fixup{insn, word, here()});
  }
}

void FunctionCompiler::emit_jump(Ctrl& target) {
  size_t insn = emit_op(Op::br);
  add_branch_word(target, insn);
  end_run();
}

void FunctionCompiler::emit_return() {
  const std::vector<ValType>& results = type_.results;
  size_t n = results.size();
  uint32_t slots = slot_count(results);
  if (stack_.size() < n) {
    emit_op(Op::unreachable);  // unreachable code
  } else if (n == 0) {
    emit_op(Op::return0);
  } else if (n == 1) {
    Operand& o = stack_.back();
    uint32_t src = slot_of(o);
    emit_op(slots == 1 ? Op::return1 : Op::return2);
    emit(pack_slots(src));
  } else {
    size_t first = stack_.size() - n;
    for (size_t i = first; i < stack_.size(); ++i) {
      materialize(stack_[i]);
    }
    emit_op(Op::return_n);
    emit(pack_slots(stack_[first].home));
    emit(slots);
  }
  end_run();
}

FunctionCompiler::PendingCmp FunctionCompiler::take_cmp(const Operand& cond) {
  PendingCmp p;
  if (!cmp_.valid || cond.kind != Operand::kTemp || cond.home != cmp_.dst ||
      cmp_.end != code_.size()) {
    return p;
  }
  p.valid = true;
  p.cmp = cmp_.cmp;
  p.eqz = cmp_.eqz;
  p.is64 = cmp_.is64;
  p.a = cmp_.a;
  p.b = cmp_.b;
  p.imm = cmp_.imm;
  p.imm_value = cmp_.imm_value;
  code_.resize(cmp_.pos);
  --insns_;
  last_.valid = false;
  cmp_.valid = false;
  return p;
}

size_t FunctionCompiler::emit_cond_branch(const PendingCmp& cmp, Operand& cond, bool invert) {
  if (!cmp.valid) {
    uint32_t c = slot_of(cond);
    size_t insn = emit_op(invert ? Op::br_if_z : Op::br_if_nz);
    emit(pack_slots(c));
    return insn;
  }
  if (cmp.eqz) {
    if (!cmp.is64) {
      // eqz(a) holds when a == 0.
      size_t insn = emit_op(invert ? Op::br_if_nz : Op::br_if_z);
      emit(pack_slots(cmp.a));
      return insn;
    }
    const CmpInfo& eq = kCmps[cmp_index(Op::i64_eq)];
    size_t insn = emit_op(invert ? eq.brn_imm : eq.br_imm);
    emit(pack_slots(cmp.a));
    return insn;
  }
  const CmpInfo& info = kCmps[cmp.cmp];
  if (cmp.imm) {
    size_t insn = emit_op(invert ? info.brn_imm : info.br_imm);
    emit(pack_slots(cmp.a) |
         (Word{static_cast<uint32_t>(static_cast<int32_t>(cmp.imm_value))} << 32));
    return insn;
  }
  size_t insn = emit_op(invert ? info.brn : info.br);
  emit(pack_slots(cmp.a, cmp.b));
  return insn;
}

bool FunctionCompiler::on_br(uint32_t depth) {
  Ctrl* target = label(depth);
  if (!check_top(target->label_types())) {
    return false;
  }
  if (is_function_label(target)) {
    emit_return();
  } else {
    emit_transfer(*target);
    emit_jump(*target);
  }
  set_unreachable();
  return true;
}

bool FunctionCompiler::on_br_if(uint32_t depth) {
  Operand cond = pop();
  PendingCmp cmp = take_cmp(cond);
  Ctrl* target = label(depth);
  if (!check_top(target->label_types())) {
    return false;
  }
  if (is_function_label(target)) {
    Fixup skip = fixup_here(emit_cond_branch(cmp, cond, /*invert=*/true));
    emit(pack_branch(0, 0));
    emit_return();
    bind_branch(skip);
    bind_label();
    return true;
  }
  materialize_in_place(*target);
  if (!needs_transfer(*target)) {
    size_t insn = emit_cond_branch(cmp, cond, /*invert=*/false);
    add_branch_word(*target, insn);
    return true;
  }
  Fixup skip = fixup_here(emit_cond_branch(cmp, cond, /*invert=*/true));
  emit(pack_branch(0, 0));
  emit_transfer(*target);
  emit_jump(*target);
  bind_branch(skip);
  bind_label();
  return true;
}

bool FunctionCompiler::on_br_table(const std::vector<uint32_t>& depths, uint32_t default_depth) {
  const uint32_t count = static_cast<uint32_t>(depths.size());
  Operand index = pop();
  Ctrl* def = label(default_depth);
  size_t arity = def->label_types().size();
  for (uint32_t d : depths) {
    if (!check_top(label(d)->label_types(), /*keep_actual=*/true)) {
      return false;
    }
  }
  if (!check_top(def->label_types(), /*keep_actual=*/true)) {
    return false;
  }
  // Code: the index and the label values in place, then the table; entries
  // whose target needs copies (or a return) go through a stub after it.
  uint32_t index_slot = slot_of(index);
  if (stack_.size() >= arity) {
    for (size_t i = stack_.size() - arity; i < stack_.size(); ++i) {
      materialize(stack_[i]);
    }
  }
  size_t insn = emit_op(Op::br_table);
  emit(pack_slots(index_slot));
  emit(count);
  size_t entries = code_.size();
  for (uint32_t i = 0; i <= count; ++i) {
    emit(pack_branch(0, 0));
  }
  FuelPoint from = here();
  end_run();
  std::vector<std::pair<size_t, Ctrl*>> stubs;
  for (uint32_t i = 0; i <= count; ++i) {
    Ctrl* t = label(i < count ? depths[i] : default_depth);
    size_t word = entries + i;
    if (is_function_label(t) || needs_transfer(*t)) {
      stubs.emplace_back(word, t);
    } else if (t->kind == FrameKind::kLoop) {
      int64_t off = static_cast<int64_t>(t->loop_pc) - static_cast<int64_t>(insn);
      code_[word] = pack_branch(static_cast<int32_t>(off), 0);
      charges_.push_back(Charge{word, from, t->loop_point});
    } else {
      t->forward.push_back(Fixup{insn, word, from});
    }
  }
  for (auto& [word, t] : stubs) {
    bind_branch(Fixup{insn, word, from});
    if (is_function_label(t)) {
      emit_return();
    } else {
      emit_transfer(*t);
      emit_jump(*t);
    }
  }
  set_unreachable();
  return true;
}

bool FunctionCompiler::on_if(const std::vector<ValType>& params,
                             const std::vector<ValType>& results) {
  Operand cond = pop();
  PendingCmp cmp = take_cmp(cond);
  materialize_all();
  Fixup to_else = fixup_here(emit_cond_branch(cmp, cond, /*invert=*/true));
  emit(pack_branch(0, 0));
  if (!push_ctrl(FrameKind::kIf, params, results)) {
    return false;
  }
  ctrls_.back().else_fixup = to_else;
  bind_label();
  return true;
}

bool FunctionCompiler::on_else() {
  Ctrl& c = ctrls_.back();
  std::vector<Operand> ops;
  pop_n(c.results.size(), &ops);
  if (!c.unreachable) {
    // Results of the then arm into the block's result slots.
    uint32_t dst = c.base_slot;
    for (Operand& o : ops) {
      if (o.kind != Operand::kTemp || o.home != dst) {
        emit_move(o, dst);
      }
      dst += size_of(o.type);
    }
    emit_jump(c);
  }
  bind_branch(c.else_fixup);
  c.else_fixup.insn = kNone;
  c.kind = FrameKind::kElse;
  c.unreachable = false;
  bind_label();
  for (ValType t : c.params) {
    if (!push(t)) {
      return false;
    }
  }
  return true;
}

bool FunctionCompiler::on_end() {
  Ctrl& c = ctrls_.back();
  const std::vector<ValType> results = c.results;
  std::vector<Operand> ops;
  pop_n(results.size(), &ops);
  if (ctrls_.size() == 1) {
    // The function's end: return what is on the stack.
    bool ok = true;
    if (!c.unreachable) {
      for (Operand& o : ops) {
        ok = push_operand(o) && ok;
      }
      emit_return();
    } else {
      emit_op(Op::unreachable);
    }
    ctrls_.pop_back();
    return ok;
  }
  if (!c.unreachable) {
    uint32_t dst = c.base_slot;
    for (Operand& o : ops) {
      if (o.kind != Operand::kTemp || o.home != dst) {
        emit_move(o, dst);
      }
      dst += size_of(o.type);
    }
  }
  if (c.else_fixup.insn != kNone) {
    bind_branch(c.else_fixup);
  }
  for (const Fixup& f : c.forward) {
    bind_branch(f);
  }
  ctrls_.pop_back();
  bind_label();
  for (ValType t : results) {
    if (!push(t)) {
      return false;
    }
  }
  return true;
}

bool FunctionCompiler::on_call(uint32_t func_index, const FuncType& ft) {
  std::vector<Operand> args;
  pop_n(ft.params.size(), &args);
  for (Operand& o : args) {
    materialize(o);
  }
  uint32_t arg_base = args.empty() ? next_home() : args[0].home;
  if (func_index < ir_.num_imported_funcs) {
    emit_op(Op::call_import);
    emit(pack_slots(arg_base));
    emit(func_index);
  } else {
    straight_line_ = false;
    emit_op(Op::call);
    emit(pack_slots(arg_base));
    emit(reinterpret_cast<Word>(&md_.funcs[func_index - ir_.num_imported_funcs]));
  }
  for (ValType t : ft.results) {
    if (!push(t)) {
      return false;
    }
  }
  return true;
}

bool FunctionCompiler::on_call_indirect(uint32_t type_index, uint32_t table_index,
                                        const FuncType& ft) {
  Operand index = pop();
  std::vector<Operand> args;
  pop_n(ft.params.size(), &args);
  for (Operand& o : args) {
    materialize(o);
  }
  uint32_t arg_base = args.empty() ? next_home() : args[0].home;
  // The index lives above the arguments; read it before the call clobbers it.
  uint32_t index_slot = slot_of(index);
  straight_line_ = false;
  emit_op(Op::call_indirect);
  emit(pack_slots(index_slot, arg_base));
  emit(Word{table_index} | (Word{md_.type_ids[type_index]} << 32));
  for (ValType t : ft.results) {
    if (!push(t)) {
      return false;
    }
  }
  return true;
}

bool FunctionCompiler::on_select(ValType t) {
  Operand c = pop(), b = pop(), a = pop();
  uint32_t sa = slot_of(a), sb = slot_of(b), sc = slot_of(c);
  uint32_t dst = next_home();
  size_t pos = emit_op(t == ValType::V128 ? Op::select128 : Op::select);
  emit(pack_slots(sa, sb, dst));
  emit(pack_slots(sc));
  produced(pos, dst);
  return push(t);
}

bool FunctionCompiler::emit_unary(Op op, ValType out) {
  Operand a = pop();
  uint32_t sa = slot_of(a);
  uint32_t dst = next_home();
  size_t pos = emit_op(op);
  emit(pack_slots(sa, 0, dst));
  produced(pos, dst);
  return push(out);
}

bool FunctionCompiler::on_numeric(Opcode opcode) {
  if (opcode_info(opcode).cls == OpClass::kTernary) {
    Operand c = pop(), b = pop(), a = pop();
    uint32_t sa = slot_of(a), sb = slot_of(b), sc = slot_of(c);
    uint32_t dst = next_home();
    size_t pos = emit_op(interp_op(opcode));
    emit(pack_slots(sa, sb, dst));
    emit(pack_slots(sc));
    produced(pos, dst);
    return push(opcode_info(opcode).result);
  }
  const NumInfo& info = num_table().info[static_cast<size_t>(opcode)];
  if (info.reinterpret) {
    // Slots hold raw bits: only the type changes.
    Operand a = pop();
    a.type = info.r;
    return push_operand(a);
  }
  if (info.b == kUnknown) {
    Operand a = pop();
    uint32_t sa = slot_of(a);
    uint32_t dst = next_home();
    size_t pos = emit_op(info.op);
    emit(pack_slots(sa, 0, dst));
    produced(pos, dst);
    if (info.op == Op::i32_eqz || info.op == Op::i64_eqz) {
      cmp_.valid = true;
      cmp_.pos = pos;
      cmp_.end = code_.size();
      cmp_.dst = dst;
      cmp_.eqz = true;
      cmp_.is64 = info.op == Op::i64_eqz;
      cmp_.cmp = -1;
      cmp_.a = sa;
      cmp_.imm = false;
    }
    return push(info.r);
  }
  Operand b = pop(), a = pop();
  bool is64 = info.a == ValType::I64;
  // A constant operand becomes an immediate where a variant exists.
  if (info.imm != Op::kCount && a.kind == Operand::kConst && b.kind != Operand::kConst &&
      info.commutative) {
    std::swap(a, b);
  }
  uint32_t dst = next_home();
  if ((info.op == Op::i32_sub || info.op == Op::i64_sub) && a.kind == Operand::kConst &&
      b.kind != Operand::kConst) {
    // c - x: reverse subtraction with an immediate.
    uint32_t sb = slot_of(b);
    size_t pos = emit_op(is64 ? Op::i64_rsub_imm : Op::i32_rsub_imm);
    emit(pack_slots(sb, 0, dst));
    emit(is64 ? a.lo : static_cast<uint32_t>(a.lo));
    produced(pos, dst);
    return push(info.r);
  }
  if (info.imm != Op::kCount && b.kind == Operand::kConst) {
    uint32_t sa = slot_of(a);
    uint64_t imm = is64 ? b.lo : static_cast<uint32_t>(b.lo);
    size_t pos = emit_op(info.imm);
    emit(pack_slots(sa, 0, dst));
    emit(imm);
    produced(pos, dst);
    int64_t sval = is64 ? static_cast<int64_t>(b.lo)
                        : static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(b.lo)));
    if (info.cmp >= 0 && sval >= INT32_MIN && sval <= INT32_MAX) {
      cmp_.valid = true;
      cmp_.pos = pos;
      cmp_.end = code_.size();
      cmp_.dst = dst;
      cmp_.eqz = false;
      cmp_.is64 = is64;
      cmp_.cmp = info.cmp;
      cmp_.a = sa;
      cmp_.imm = true;
      cmp_.imm_value = sval;
    }
    return push(info.r);
  }
  if (fuse_binop(info, a, b, dst)) {
    return push(info.r);
  }
  uint32_t sa = slot_of(a);
  uint32_t sb = slot_of(b);
  size_t pos = emit_op(info.op);
  emit(pack_slots(sa, sb, dst));
  produced(pos, dst);
  if (info.cmp >= 0) {
    cmp_.valid = true;
    cmp_.pos = pos;
    cmp_.end = code_.size();
    cmp_.dst = dst;
    cmp_.eqz = false;
    cmp_.is64 = is64;
    cmp_.cmp = info.cmp;
    cmp_.a = sa;
    cmp_.b = sb;
    cmp_.imm = false;
  }
  return push(info.r);
}

bool FunctionCompiler::fuse_binop(const NumInfo& info, Operand& a, Operand& b, uint32_t dst) {
  if (info.op == Op::i32_add) {
    // a + (x << k)
    Operand* t = producer_is(b, Op::i32_shl_imm)   ? &b
                 : producer_is(a, Op::i32_shl_imm) ? &a
                                                   : nullptr;
    if (t != nullptr) {
      Operand& other = t == &b ? a : b;
      Word w1, k;
      take_producer(&w1, &k);
      uint32_t so = slot_of(other);
      size_t pos = emit_op(Op::i32_add_shl);
      emit(pack_slots(so, slot_f0(w1), dst));
      emit(k);
      produced(pos, dst);
      return true;
    }
  }
  Op fused = Op::kCount, load = Op::kCount;
  switch (info.op) {
    case Op::i32_add:
      fused = Op::i32_add_load, load = Op::i32_load;
      break;
    case Op::i64_add:
      fused = Op::i64_add_load, load = Op::i64_load;
      break;
    case Op::f32_add:
      fused = Op::f32_add_load, load = Op::f32_load;
      break;
    case Op::f32_sub:
      fused = Op::f32_sub_load, load = Op::f32_load;
      break;
    case Op::f32_mul:
      fused = Op::f32_mul_load, load = Op::f32_load;
      break;
    case Op::f64_add:
      fused = Op::f64_add_load, load = Op::f64_load;
      break;
    case Op::f64_sub:
      fused = Op::f64_sub_load, load = Op::f64_load;
      break;
    case Op::f64_mul:
      fused = Op::f64_mul_load, load = Op::f64_load;
      break;
    default:
      return false;
  }
  // a OP load(...): the load folds into the operation (either side when
  // the operation commutes).
  bool commutes = info.op != Op::f32_sub && info.op != Op::f64_sub;
  Operand* loaded = producer_is(b, load) ? &b : commutes && producer_is(a, load) ? &a : nullptr;
  if (loaded == nullptr) {
    return false;
  }
  Operand& other = loaded == &b ? a : b;
  Word w1, offset;
  take_producer(&w1, &offset);
  uint32_t so = slot_of(other);
  size_t pos = emit_op(fused);
  emit(pack_slots(so, slot_f0(w1), dst));
  emit(offset);
  produced(pos, dst);
  return true;
}

bool FunctionCompiler::do_load(Op op, ValType result, uint64_t offset) {
  Operand addr = pop();
  uint32_t dst = next_home();
  Op fused = load_add_variant(op);
  if (fused != Op::kCount && producer_is(addr, Op::i32_add)) {
    // load(a + b + offset): the address arithmetic folds into the load.
    Word w1, w2;
    take_producer(&w1, &w2);
    size_t pos = emit_op(fused);
    emit(pack_slots(slot_f0(w1), slot_f1(w1), dst));
    emit(offset);
    produced(pos, dst);
    return push(result);
  }
  uint32_t sa = slot_of(addr);
  size_t pos = emit_op(op);
  emit(pack_slots(sa, 0, dst));
  emit(offset);
  produced(pos, dst);
  return push(result);
}

bool FunctionCompiler::do_store(Op op, uint64_t offset) {
  Operand v = pop(), addr = pop();
  Op with_imm = store_imm_variant(op);
  if (with_imm != Op::kCount && v.kind == Operand::kConst) {
    uint32_t sa = slot_of(addr);
    emit_op(with_imm);
    emit(pack_slots(sa));
    emit(offset);
    emit(v.lo);
    return true;
  }
  Op with_add = store_add_variant(op);
  if (with_add != Op::kCount && v.kind == Operand::kLocal && producer_is(addr, Op::i32_add)) {
    Word w1, w2;
    take_producer(&w1, &w2);
    emit_op(with_add);
    emit(pack_slots(slot_f0(w1), slot_f1(w1), v.local));
    emit(offset);
    return true;
  }
  uint32_t sa = slot_of(addr);
  uint32_t sv = slot_of(v);
  emit_op(op);
  emit(pack_slots(sa, sv));
  emit(offset);
  return true;
}

bool FunctionCompiler::on_local_set(uint32_t index, bool tee) {
  ValType t = local_types_[index];
  uint32_t ls = local_slot_[index];
  Operand v = pop();
  preserve_local(ls);
  if (v.kind == Operand::kLocal && v.local == ls) {
    // local.set x (local.get x): nothing to do.
  } else if (is_last_producer_of(v)) {
    // Retarget the producer's output (F2 of its first operand word).
    code_[last_.pos + 1] = with_slot_f2(code_[last_.pos + 1], ls);
    last_.valid = false;
    cmp_.valid = false;
  } else {
    emit_move(v, ls);
    last_.valid = false;
  }
  if (tee) {
    Operand o;
    o.type = t;
    o.kind = Operand::kLocal;
    o.local = ls;
    return push_operand(o);
  }
  return true;
}

bool FunctionCompiler::on_load_lane(Opcode op, uint64_t offset, uint8_t lane) {
  Operand v = pop(), addr = pop();
  uint32_t sa = slot_of(addr);
  uint32_t sv = slot_of(v);
  uint32_t dst = next_home();
  size_t pos = emit_op(interp_op(op));
  emit(pack_slots(sa, sv, dst));
  emit(offset);
  emit(lane);
  produced(pos, dst);
  return push(ValType::V128);
}

bool FunctionCompiler::on_store_lane(Opcode op, uint64_t offset, uint8_t lane) {
  Operand v = pop(), addr = pop();
  uint32_t sa = slot_of(addr);
  uint32_t sv = slot_of(v);
  emit_op(interp_op(op));
  emit(pack_slots(sa, sv));
  emit(offset);
  emit(lane);
  return true;
}

bool FunctionCompiler::on_lane(Opcode op, uint8_t lane) {
  const OpcodeInfo& info = opcode_info(op);
  if (info.cls == OpClass::kExtractLane) {
    Operand a = pop();
    uint32_t sa = slot_of(a);
    uint32_t dst = next_home();
    size_t pos = emit_op(interp_op(op));
    emit(pack_slots(sa, 0, dst));
    emit(lane);
    produced(pos, dst);
    return push(info.result);
  }
  Operand s = pop(), a = pop();
  uint32_t sa = slot_of(a), ss = slot_of(s);
  uint32_t dst = next_home();
  size_t pos = emit_op(interp_op(op));
  emit(pack_slots(sa, ss, dst));
  emit(lane);
  produced(pos, dst);
  return push(ValType::V128);
}

bool FunctionCompiler::on_shuffle(const uint8_t lanes[16]) {
  Operand b = pop(), a = pop();
  uint32_t sa = slot_of(a), sb = slot_of(b);
  uint32_t dst = next_home();
  uint64_t lo, hi;
  std::memcpy(&lo, lanes, 8);
  std::memcpy(&hi, lanes + 8, 8);
  size_t pos = emit_op(Op::i8x16_shuffle);
  emit(pack_slots(sa, sb, dst));
  emit(lo);
  emit(hi);
  produced(pos, dst);
  return push(ValType::V128);
}

Status FunctionCompiler::begin() {
  // Locals: params first, then the declared ones; v128 takes two slots.
  local_types_ = type_.params;
  local_types_.insert(local_types_.end(), body_.locals.begin(), body_.locals.end());
  uint32_t slot = 0;
  local_slot_.reserve(local_types_.size());
  for (size_t i = 0; i < local_types_.size(); ++i) {
    if (i == type_.params.size()) {
      param_slots_ = slot;
    }
    local_slot_.push_back(slot);
    slot += size_of(local_types_[i]);
    if (slot >= kMaxSlots) {
      return Error("code section, offset 0x" + std::to_string(body_.code_offset) +
                       ": too many locals (function " + std::to_string(func_index_) + ")",
                   static_cast<int>(ErrorCode::kLimit));
    }
  }
  if (local_types_.size() == type_.params.size()) {
    param_slots_ = slot;
  }
  local_slots_ = slot;
  max_slot_ = slot;

  md_.funcs[def_index_].code_begin = static_cast<uint32_t>(code_.size());

  Ctrl fn;
  fn.kind = FrameKind::kFunction;
  fn.results = type_.results;
  fn.height = 0;
  fn.base_slot = local_slots_;
  ctrls_.push_back(std::move(fn));
  return Status::ok();
}

void FunctionCompiler::finish() {
  FuncCode& fc = md_.funcs[def_index_];
  fc.code_end = static_cast<uint32_t>(code_.size());
  fc.func_index = func_index_;
  fc.type_id = md_.type_ids[ir_.func_types[func_index_]];
  fc.param_slots = param_slots_;
  fc.local_slots = local_slots_ - param_slots_;
  fc.frame_slots = static_cast<uint32_t>(max_slot_);
  fc.result_slots = slot_count(type_.results);
  fc.straight_line =
      straight_line_ && ir_.bodies[def_index_].code_size <= FuncCode::kStraightLineBytes;
  patch_charges();
  fc.fuel_cost = static_cast<uint32_t>(prepaid(FuelPoint{0, 0}));
}

void FunctionCompiler::patch_charges() {
  end_run();  // the open run (empty: the code ends with a return or a trap)
  for (const Charge& c : charges_) {
    int64_t cost = prepaid(c.to) - prepaid(c.from);
    code_[c.word] = (code_[c.word] & 0xffffffffu) |
                    (Word{static_cast<uint32_t>(static_cast<int32_t>(cost))} << 32);
  }
}

}  // namespace

Op interp_op(Opcode op) {
  return kInterpOp[static_cast<size_t>(op)];
}

Status compile_functions(ModuleData& md) {
  const ModuleIR& ir = md.ir;
  md.type_ids.resize(ir.types.size());
  for (size_t i = 0; i < ir.types.size(); ++i) {
    md.type_ids[i] = canonical_type_id(ir.types[i]);
  }
  md.funcs.assign(ir.bodies.size(), FuncCode{});
  size_t total_bytes = 0;
  for (const FunctionBody& b : ir.bodies) {
    total_bytes += b.code_size;
  }
  md.code.reserve(total_bytes * 2 + 16);
  for (uint32_t i = 0; i < ir.bodies.size(); ++i) {
    FunctionCompiler gen(md, i);
    Status s = gen.begin();
    if (s) {
      s = validate_body(ir, i, gen);  // direct calls: FunctionCompiler is final
    }
    if (!s) {
      return s;
    }
    gen.finish();
  }
  md.code.shrink_to_fit();
  for (FuncCode& f : md.funcs) {
    f.entry = md.code.data() + f.code_begin;
  }
  return Status::ok();
}

}  // namespace rusm::wasm::internal
