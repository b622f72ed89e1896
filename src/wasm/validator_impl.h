// The validator's implementation (see validator.h), as a template over the
// code generator's type: validator.cc instantiates it for CodeGen (virtual
// calls), and a tier whose generator is a final class known where it calls
// validate_body() gets direct calls that the compiler can inline; the
// interpreter's compiler does, since it runs on every module load (compile
// time: `rusm bench module-storm`, and ms per MB of Wasm).
//
// The spec's validation algorithm over an operand stack of types and a stack
// of control frames, reading the opcode table for every instruction it types
// by class. The order of the checks within an instruction is the reference
// interpreter's, so that a body with several errors reports the same first
// one: the spec tests compare the text.
#pragma once

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "wasm/reader.h"
#include "wasm/validator.h"

namespace rusm::wasm::validator_detail {

inline constexpr ValType kUnknown = kNoType;

inline bool is_num_or_vec(ValType t) {
  return t == ValType::I32 || t == ValType::I64 || t == ValType::F32 || t == ValType::F64 ||
         t == ValType::V128 || t == kUnknown;
}

inline bool is_ref_or_unknown(ValType t) {
  return t == ValType::FuncRef || t == ValType::ExternRef || t == kUnknown;
}

inline std::optional<ValType> valtype_from_byte(uint8_t b) {
  switch (b) {
    case 0x7F:
      return ValType::I32;
    case 0x7E:
      return ValType::I64;
    case 0x7D:
      return ValType::F32;
    case 0x7C:
      return ValType::F64;
    case 0x7B:
      return ValType::V128;
    case 0x70:
      return ValType::FuncRef;
    case 0x6F:
      return ValType::ExternRef;
    default:
      return std::nullopt;
  }
}

struct Frame {
  FrameKind kind = FrameKind::kFunction;
  std::vector<ValType> params;
  std::vector<ValType> results;
  size_t height = 0;  // operand stack size below the params
  bool unreachable = false;
  const std::vector<ValType>& label_types() const {
    return kind == FrameKind::kLoop ? params : results;
  }
};

template <class Gen>
class Validator {
 public:
  Validator(const ModuleIR& ir, uint32_t def_index, Gen& gen)
      : ir_(ir),
        gen_(gen),
        func_index_(def_index + ir.num_imported_funcs),
        body_(ir.bodies[def_index]),
        type_(ir.func_type(func_index_)),
        reader_(std::span<const uint8_t>(ir.bytes.data() + body_.code_offset, body_.code_size),
                body_.code_offset) {}

  Status run();

 private:
  // --- errors
  bool fail(const char* reason, ErrorCode code = ErrorCode::kInvalid) {
    if (error_.empty()) {
      error_ = reason;
      error_code_ = code;
      error_offset_ = op_offset_;
    }
    return false;
  }
  bool reader_ok() {
    if (!reader_.ok()) {
      if (error_.empty()) {
        error_ = reader_.error();
        error_code_ = ErrorCode::kMalformed;
        error_offset_ = reader_.error_offset();
      }
      return false;
    }
    return true;
  }
  // What a code generator callback returned: false is its own limit.
  [[gnu::always_inline]] bool gen(bool ok) { return ok || gen_failed(); }
  bool gen_failed() {
    if (error_.empty()) {
      error_ = gen_.error();
      error_code_ = gen_.error_code();
      error_offset_ = op_offset_;
    }
    return false;
  }

  // --- operand stack (inlined: they run for every instruction)
  [[gnu::always_inline]] void push(ValType t) { stack_.push_back(t); }
  void push_types(const std::vector<ValType>& types) {
    stack_.insert(stack_.end(), types.begin(), types.end());
  }
  // Pops one operand of any type; in unreachable code past the frame's
  // height, the bottom type (kUnknown).
  [[gnu::always_inline]] bool pop_any(ValType* out) {
    const Frame& f = frames_.back();
    if (stack_.size() == f.height) {
      if (f.unreachable) {
        *out = kUnknown;
        return true;
      }
      return fail("type mismatch");
    }
    *out = stack_.back();
    stack_.pop_back();
    return true;
  }
  [[gnu::always_inline]] bool pop(ValType expect, ValType* out) {
    if (!pop_any(out)) {
      return false;
    }
    if (*out != expect && *out != kUnknown && expect != kUnknown) {
      return fail("type mismatch");
    }
    return true;
  }
  [[gnu::always_inline]] bool pop(ValType expect) {
    ValType t;
    return pop(expect, &t);
  }
  // Pops operands of `types` (last first) into `out` (in stack order).
  bool pop_types(const std::vector<ValType>& types, std::vector<ValType>* out) {
    out->resize(types.size());
    for (size_t i = types.size(); i-- > 0;) {
      if (!pop(types[i], &(*out)[i])) {
        return false;
      }
    }
    return true;
  }
  bool pop_types(const std::vector<ValType>& types) { return pop_types(types, &scratch_); }
  // Checks that the top of the stack has `types`, leaving it in place:
  // typed as `types`, or with keep_actual as the operands were (an unknown
  // type stays unknown, so that br_table's labels of different types can
  // all accept a bottom operand).
  bool check_top(const std::vector<ValType>& types, bool keep_actual = false) {
    std::vector<ValType> ops;
    if (!pop_types(types, &ops)) {
      return false;
    }
    push_types(keep_actual ? ops : types);
    return true;
  }
  void set_unreachable() {
    stack_.resize(frames_.back().height);
    frames_.back().unreachable = true;
  }

  // --- immediates and module context
  Opcode read_opcode();
  bool read_block_type(std::vector<ValType>* params, std::vector<ValType>* results);
  bool read_memarg(uint32_t natural_align, uint64_t* offset);
  bool read_lane(uint32_t lanes, uint8_t* lane) {
    *lane = reader_.u8();
    if (!reader_ok()) {
      return false;
    }
    if (*lane >= lanes) {
      return fail("invalid lane index");
    }
    return true;
  }
  bool zero_byte() {
    uint8_t zero = reader_.u8();
    if (!reader_ok()) {
      return false;
    }
    if (zero != 0) {
      return fail("zero byte expected", ErrorCode::kMalformed);
    }
    return true;
  }
  const Frame* label(uint32_t depth) {
    if (depth >= frames_.size()) {
      fail("unknown label");
      return nullptr;
    }
    return &frames_[frames_.size() - 1 - depth];
  }
  bool need_memory() {
    if (ir_.memories.empty()) {
      return fail("unknown memory 0");
    }
    return true;
  }
  bool need_table(uint32_t index) {
    if (index >= ir_.tables.size()) {
      return fail("unknown table");
    }
    return true;
  }
  // The decoder has checked that a module using memory.init or data.drop
  // with data segments has a data count section.
  uint32_t num_data_segments() const {
    return ir_.data_count.value_or(static_cast<uint32_t>(ir_.datas.size()));
  }

  // --- instructions
  bool instruction(Opcode op);
  bool by_class(Opcode op);
  bool push_frame(FrameKind kind, std::vector<ValType> params, std::vector<ValType> results);
  bool do_end();
  bool do_else();
  bool do_br_table();
  bool do_select(Opcode op);
  bool do_bulk(Opcode op);

  const ModuleIR& ir_;
  Gen& gen_;
  uint32_t func_index_;
  const FunctionBody& body_;
  const FuncType& type_;
  Reader reader_;

  std::vector<ValType> local_types_;
  std::vector<ValType> stack_;
  std::vector<Frame> frames_;
  std::vector<ValType> scratch_;
  std::vector<uint32_t> depths_;

  size_t op_offset_ = 0;
  std::string error_;
  ErrorCode error_code_ = ErrorCode::kInvalid;
  size_t error_offset_ = 0;
};

template <class Gen>
Opcode Validator<Gen>::read_opcode() {
  const uint8_t byte = reader_.u8();
  Opcode op;
  if (byte == kPrefixFC || byte == kPrefixFD) {
    const uint32_t sub = reader_.u32_leb();
    if (!reader_ok()) {
      return kNoOpcode;
    }
    op = prefixed_opcode(byte, sub);
  } else {
    op = opcode_of(byte);
  }
  if (op == kNoOpcode) {
    fail("illegal opcode", ErrorCode::kMalformed);
  }
  return op;
}

template <class Gen>
bool Validator<Gen>::read_block_type(std::vector<ValType>* params, std::vector<ValType>* results) {
  uint8_t b = reader_.peek_u8();
  if (b == 0x40) {
    reader_.u8();
    return reader_ok();
  }
  if (auto t = valtype_from_byte(b)) {
    reader_.u8();
    results->push_back(*t);
    return reader_ok();
  }
  int64_t index = reader_.s33_leb();
  if (!reader_ok()) {
    return false;
  }
  if (index < 0) {
    return fail("malformed block type", ErrorCode::kMalformed);
  }
  if (static_cast<uint64_t>(index) >= ir_.types.size()) {
    return fail("unknown type");
  }
  *params = ir_.types[index].params;
  *results = ir_.types[index].results;
  return true;
}

template <class Gen>
bool Validator<Gen>::read_memarg(uint32_t natural_align, uint64_t* offset) {
  uint32_t align = reader_.u32_leb();
  uint32_t off = reader_.u32_leb();
  if (!reader_ok()) {
    return false;
  }
  if (!need_memory()) {
    return false;
  }
  if (align > natural_align) {
    return fail("alignment must not be larger than natural");
  }
  *offset = off;
  return true;
}

template <class Gen>
bool Validator<Gen>::push_frame(FrameKind kind, std::vector<ValType> params,
                                std::vector<ValType> results) {
  // The params are on top of the stack: check them; they stay, as the
  // frame's first operands.
  if (!pop_types(params)) {
    return false;
  }
  Frame f;
  f.kind = kind;
  f.height = stack_.size();
  f.params = std::move(params);
  f.results = std::move(results);
  frames_.push_back(std::move(f));
  push_types(frames_.back().params);
  return true;
}

template <class Gen>
bool Validator<Gen>::do_else() {
  Frame& f = frames_.back();
  if (f.kind != FrameKind::kIf) {
    return fail("else without matching if");
  }
  if (!pop_types(f.results)) {
    return false;
  }
  if (stack_.size() != f.height) {
    return fail("type mismatch");
  }
  if (!gen(gen_.on_else())) {
    return false;
  }
  f.kind = FrameKind::kElse;
  f.unreachable = false;
  push_types(f.params);
  return true;
}

template <class Gen>
bool Validator<Gen>::do_end() {
  Frame& f = frames_.back();
  if (!pop_types(f.results)) {
    return false;
  }
  if (stack_.size() != f.height) {
    return fail("type mismatch");
  }
  if (f.kind == FrameKind::kIf && f.params != f.results) {
    return fail("type mismatch");  // an if without else must pass its params through
  }
  if (!gen(gen_.on_end())) {
    return false;
  }
  std::vector<ValType> results = std::move(f.results);
  frames_.pop_back();
  if (!frames_.empty()) {
    push_types(results);
  }
  return true;
}

template <class Gen>
bool Validator<Gen>::do_br_table() {
  uint32_t count = reader_.u32_leb();
  if (!reader_ok()) {
    return false;
  }
  if (count > reader_.remaining()) {
    return fail("unexpected end", ErrorCode::kMalformed);
  }
  depths_.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    depths_[i] = reader_.u32_leb();
  }
  uint32_t default_depth = reader_.u32_leb();
  if (!reader_ok()) {
    return false;
  }
  if (!pop(ValType::I32)) {
    return false;
  }
  const Frame* def = label(default_depth);
  if (def == nullptr) {
    return false;
  }
  size_t arity = def->label_types().size();
  for (uint32_t d : depths_) {
    const Frame* t = label(d);
    if (t == nullptr) {
      return false;
    }
    if (t->label_types().size() != arity) {
      return fail("type mismatch");
    }
    if (!check_top(t->label_types(), /*keep_actual=*/true)) {
      return false;
    }
  }
  if (!check_top(def->label_types(), /*keep_actual=*/true)) {
    return false;
  }
  if (!gen(gen_.on_br_table(depths_, default_depth))) {
    return false;
  }
  set_unreachable();
  return true;
}

template <class Gen>
bool Validator<Gen>::do_select(Opcode op) {
  ValType t = kUnknown;
  if (op == Opcode::select_t) {
    uint32_t n = reader_.u32_leb();
    if (!reader_ok()) {
      return false;
    }
    if (n != 1) {
      return fail("invalid result arity");
    }
    auto vt = valtype_from_byte(reader_.u8());
    if (!reader_ok()) {
      return false;
    }
    if (!vt) {
      return fail("malformed value type", ErrorCode::kMalformed);
    }
    t = *vt;
  }
  ValType b, a;
  if (!pop(ValType::I32) || !pop(t, &b) || !pop(t, &a)) {
    return false;
  }
  if (op == Opcode::select) {
    if (!is_num_or_vec(a) || !is_num_or_vec(b)) {
      return fail("type mismatch");
    }
    if (a != b && a != kUnknown && b != kUnknown) {
      return fail("type mismatch");
    }
    t = a != kUnknown ? a : b;
  }
  if (!gen(gen_.on_select(t))) {
    return false;
  }
  push(t);
  return true;
}

template <class Gen>
bool Validator<Gen>::do_bulk(Opcode op) {
  const ValType I32 = ValType::I32;
  switch (op) {
    case Opcode::memory_init: {
      uint32_t seg = reader_.u32_leb();
      if (!reader_ok() || !zero_byte() || !need_memory()) {
        return false;
      }
      if (seg >= num_data_segments()) {
        return fail("unknown data segment");
      }
      return pop(I32) && pop(I32) && pop(I32) && gen(gen_.on_memory_init(seg));
    }
    case Opcode::data_drop: {
      uint32_t seg = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (seg >= num_data_segments()) {
        return fail("unknown data segment");
      }
      return gen(gen_.on_data_drop(seg));
    }
    case Opcode::memory_copy: {
      uint8_t z1 = reader_.u8();
      uint8_t z2 = reader_.u8();
      if (!reader_ok()) {
        return false;
      }
      if (z1 != 0 || z2 != 0) {
        return fail("zero byte expected", ErrorCode::kMalformed);
      }
      if (!need_memory()) {
        return false;
      }
    }
      return pop(I32) && pop(I32) && pop(I32) && gen(gen_.on_memory_copy());
    case Opcode::memory_fill:
      if (!zero_byte() || !need_memory()) {
        return false;
      }
      return pop(I32) && pop(I32) && pop(I32) && gen(gen_.on_memory_fill());
    case Opcode::table_init: {
      uint32_t seg = reader_.u32_leb();
      uint32_t table = reader_.u32_leb();
      if (!reader_ok() || !need_table(table)) {
        return false;
      }
      if (seg >= ir_.elems.size()) {
        return fail("unknown elem segment");
      }
      if (ir_.elems[seg].type != ir_.tables[table].elem) {
        return fail("type mismatch");
      }
      return pop(I32) && pop(I32) && pop(I32) && gen(gen_.on_table_init(table, seg));
    }
    case Opcode::elem_drop: {
      uint32_t seg = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (seg >= ir_.elems.size()) {
        return fail("unknown elem segment");
      }
      return gen(gen_.on_elem_drop(seg));
    }
    case Opcode::table_copy: {
      uint32_t dst_table = reader_.u32_leb();
      uint32_t src_table = reader_.u32_leb();
      if (!reader_ok() || !need_table(dst_table) || !need_table(src_table)) {
        return false;
      }
      if (ir_.tables[dst_table].elem != ir_.tables[src_table].elem) {
        return fail("type mismatch");
      }
      return pop(I32) && pop(I32) && pop(I32) && gen(gen_.on_table_copy(dst_table, src_table));
    }
    case Opcode::table_grow: {
      uint32_t table = reader_.u32_leb();
      if (!reader_ok() || !need_table(table)) {
        return false;
      }
      ValType elem = ir_.tables[table].elem;
      if (!pop(I32) || !pop(elem) || !gen(gen_.on_table_grow(table, elem))) {
        return false;
      }
      push(I32);
      return true;
    }
    case Opcode::table_size: {
      uint32_t table = reader_.u32_leb();
      if (!reader_ok() || !need_table(table) || !gen(gen_.on_table_size(table))) {
        return false;
      }
      push(I32);
      return true;
    }
    case Opcode::table_fill: {
      uint32_t table = reader_.u32_leb();
      if (!reader_ok() || !need_table(table)) {
        return false;
      }
      ValType elem = ir_.tables[table].elem;
      return pop(I32) && pop(elem) && pop(I32) && gen(gen_.on_table_fill(table, elem));
    }
    default:
      return fail("illegal opcode", ErrorCode::kMalformed);
  }
}

// The instructions the opcode table types: pop the signature's operands,
// push its result.
template <class Gen>
bool Validator<Gen>::by_class(Opcode op) {
  const OpcodeInfo& info = opcode_info(op);
  uint64_t offset = 0;
  uint8_t lane = 0;
  bool ok = false;
  switch (info.cls) {
    case OpClass::kSpecial:
      return fail("illegal opcode", ErrorCode::kMalformed);
    case OpClass::kUnary:
    case OpClass::kReinterpret:
      ok = pop(info.a) && gen(gen_.on_numeric(op));
      break;
    case OpClass::kBinary:
      ok = pop(info.b) && pop(info.a) && gen(gen_.on_numeric(op));
      break;
    case OpClass::kTernary:
      ok = pop(info.c) && pop(info.b) && pop(info.a) && gen(gen_.on_numeric(op));
      break;
    case OpClass::kLoad:
      ok = read_memarg(info.align, &offset) && pop(info.a) && gen(gen_.on_load(op, offset));
      break;
    case OpClass::kStore:
      ok = read_memarg(info.align, &offset) && pop(info.b) && pop(info.a) &&
           gen(gen_.on_store(op, offset));
      break;
    case OpClass::kLoadLane:
    case OpClass::kStoreLane:
      ok = read_memarg(info.align, &offset) && read_lane(info.lanes, &lane) && pop(info.b) &&
           pop(info.a) &&
           gen(info.cls == OpClass::kLoadLane ? gen_.on_load_lane(op, offset, lane)
                                              : gen_.on_store_lane(op, offset, lane));
      break;
    case OpClass::kExtractLane:
      ok = read_lane(info.lanes, &lane) && pop(info.a) && gen(gen_.on_lane(op, lane));
      break;
    case OpClass::kReplaceLane:
      ok =
          read_lane(info.lanes, &lane) && pop(info.b) && pop(info.a) && gen(gen_.on_lane(op, lane));
      break;
  }
  if (ok && info.result != kNoType) {
    push(info.result);
  }
  return ok;
}

template <class Gen>
bool Validator<Gen>::instruction(Opcode op) {
  switch (op) {
    case Opcode::unreachable:
      if (!gen(gen_.on_unreachable())) {
        return false;
      }
      set_unreachable();
      return true;
    case Opcode::nop:
      return true;
    case Opcode::block:
    case Opcode::loop:
    case Opcode::if_: {
      std::vector<ValType> params, results;
      if (!read_block_type(&params, &results)) {
        return false;
      }
      if (op == Opcode::if_ && !pop(ValType::I32)) {
        return false;
      }
      FrameKind kind = op == Opcode::block  ? FrameKind::kBlock
                       : op == Opcode::loop ? FrameKind::kLoop
                                            : FrameKind::kIf;
      if (!push_frame(kind, std::move(params), std::move(results))) {
        return false;
      }
      const Frame& f = frames_.back();
      return gen(kind == FrameKind::kIf ? gen_.on_if(f.params, f.results)
                                        : gen_.on_block(kind, f.params, f.results));
    }
    case Opcode::else_:
      return do_else();
    case Opcode::end:
      return do_end();
    case Opcode::br:
    case Opcode::br_if: {
      uint32_t depth = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (op == Opcode::br_if && !pop(ValType::I32)) {
        return false;
      }
      const Frame* target = label(depth);
      if (target == nullptr || !check_top(target->label_types())) {
        return false;
      }
      if (op == Opcode::br_if) {
        return gen(gen_.on_br_if(depth));
      }
      if (!gen(gen_.on_br(depth))) {
        return false;
      }
      set_unreachable();
      return true;
    }
    case Opcode::br_table:
      return do_br_table();
    case Opcode::return_:
      if (!check_top(type_.results) || !gen(gen_.on_return())) {
        return false;
      }
      set_unreachable();
      return true;
    case Opcode::call: {
      uint32_t f = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (f >= ir_.func_types.size()) {
        return fail("unknown function");
      }
      const FuncType& ft = ir_.func_type(f);
      if (!pop_types(ft.params) || !gen(gen_.on_call(f, ft))) {
        return false;
      }
      push_types(ft.results);
      return true;
    }
    case Opcode::call_indirect: {
      uint32_t type_index = reader_.u32_leb();
      uint32_t table_index = reader_.u32_leb();
      if (!reader_ok() || !need_table(table_index)) {
        return false;
      }
      if (ir_.tables[table_index].elem != ValType::FuncRef) {
        return fail("type mismatch");
      }
      if (type_index >= ir_.types.size()) {
        return fail("unknown type");
      }
      const FuncType& ft = ir_.types[type_index];
      if (!pop(ValType::I32) || !pop_types(ft.params) ||
          !gen(gen_.on_call_indirect(type_index, table_index, ft))) {
        return false;
      }
      push_types(ft.results);
      return true;
    }
    case Opcode::drop: {
      ValType t;
      return pop_any(&t) && gen(gen_.on_drop());
    }
    case Opcode::select:
    case Opcode::select_t:
      return do_select(op);
    case Opcode::local_get: {
      uint32_t index = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (index >= local_types_.size()) {
        return fail("unknown local");
      }
      if (!gen(gen_.on_local_get(index))) {
        return false;
      }
      push(local_types_[index]);
      return true;
    }
    case Opcode::local_set:
    case Opcode::local_tee: {
      uint32_t index = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (index >= local_types_.size()) {
        return fail("unknown local");
      }
      ValType t = local_types_[index];
      if (!pop(t) || !gen(gen_.on_local_set(index, op == Opcode::local_tee))) {
        return false;
      }
      if (op == Opcode::local_tee) {
        push(t);
      }
      return true;
    }
    case Opcode::global_get:
    case Opcode::global_set: {
      uint32_t index = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (index >= ir_.globals.size()) {
        return fail("unknown global");
      }
      ValType t = ir_.globals[index].type;
      if (op == Opcode::global_get) {
        if (!gen(gen_.on_global_get(index, t))) {
          return false;
        }
        push(t);
        return true;
      }
      if (!ir_.globals[index].is_mutable) {
        return fail("global is immutable");
      }
      return pop(t) && gen(gen_.on_global_set(index, t));
    }
    case Opcode::table_get:
    case Opcode::table_set: {
      uint32_t table = reader_.u32_leb();
      if (!reader_ok() || !need_table(table)) {
        return false;
      }
      ValType elem = ir_.tables[table].elem;
      if (op == Opcode::table_get) {
        if (!pop(ValType::I32) || !gen(gen_.on_table_get(table, elem))) {
          return false;
        }
        push(elem);
        return true;
      }
      return pop(elem) && pop(ValType::I32) && gen(gen_.on_table_set(table, elem));
    }
    case Opcode::memory_size:
    case Opcode::memory_grow:
      if (!zero_byte() || !need_memory()) {
        return false;
      }
      if (op == Opcode::memory_size) {
        if (!gen(gen_.on_memory_size())) {
          return false;
        }
      } else if (!pop(ValType::I32) || !gen(gen_.on_memory_grow())) {
        return false;
      }
      push(ValType::I32);
      return true;
    case Opcode::i32_const: {
      int32_t v = reader_.s32_leb();
      if (!reader_ok() || !gen(gen_.on_const(ValType::I32, static_cast<uint32_t>(v), 0))) {
        return false;
      }
      push(ValType::I32);
      return true;
    }
    case Opcode::i64_const: {
      int64_t v = reader_.s64_leb();
      if (!reader_ok() || !gen(gen_.on_const(ValType::I64, static_cast<uint64_t>(v), 0))) {
        return false;
      }
      push(ValType::I64);
      return true;
    }
    case Opcode::f32_const: {
      uint32_t bits = reader_.fixed_u32();
      if (!reader_ok() || !gen(gen_.on_const(ValType::F32, bits, 0))) {
        return false;
      }
      push(ValType::F32);
      return true;
    }
    case Opcode::f64_const: {
      uint64_t bits = reader_.fixed_u64();
      if (!reader_ok() || !gen(gen_.on_const(ValType::F64, bits, 0))) {
        return false;
      }
      push(ValType::F64);
      return true;
    }
    case Opcode::v128_const: {
      std::span<const uint8_t> bytes = reader_.bytes(16);
      if (!reader_ok()) {
        return false;
      }
      uint64_t lo, hi;
      std::memcpy(&lo, bytes.data(), 8);
      std::memcpy(&hi, bytes.data() + 8, 8);
      if (!gen(gen_.on_const(ValType::V128, lo, hi))) {
        return false;
      }
      push(ValType::V128);
      return true;
    }
    case Opcode::i8x16_shuffle: {
      std::span<const uint8_t> bytes = reader_.bytes(16);
      if (!reader_ok()) {
        return false;
      }
      for (uint8_t lane : bytes) {
        if (lane >= 32) {
          return fail("invalid lane index");
        }
      }
      if (!pop(ValType::V128) || !pop(ValType::V128) || !gen(gen_.on_shuffle(bytes.data()))) {
        return false;
      }
      push(ValType::V128);
      return true;
    }
    case Opcode::ref_null: {
      auto t = valtype_from_byte(reader_.u8());
      if (!reader_ok()) {
        return false;
      }
      if (!t || !is_ref(*t)) {
        return fail("malformed reference type", ErrorCode::kMalformed);
      }
      if (!gen(gen_.on_const(*t, 0, 0))) {
        return false;
      }
      push(*t);
      return true;
    }
    case Opcode::ref_is_null: {
      ValType t;
      if (!pop_any(&t)) {
        return false;
      }
      if (!is_ref_or_unknown(t)) {
        return fail("type mismatch");
      }
      if (!gen(gen_.on_ref_is_null())) {
        return false;
      }
      push(ValType::I32);
      return true;
    }
    case Opcode::ref_func: {
      uint32_t f = reader_.u32_leb();
      if (!reader_ok()) {
        return false;
      }
      if (f >= ir_.func_types.size()) {
        return fail("unknown function");
      }
      if (f >= ir_.declared_func_refs.size() || !ir_.declared_func_refs[f]) {
        return fail("undeclared function reference");
      }
      if (!gen(gen_.on_ref_func(f))) {
        return false;
      }
      push(ValType::FuncRef);
      return true;
    }
    case Opcode::memory_init:
    case Opcode::data_drop:
    case Opcode::memory_copy:
    case Opcode::memory_fill:
    case Opcode::table_init:
    case Opcode::elem_drop:
    case Opcode::table_copy:
    case Opcode::table_grow:
    case Opcode::table_size:
    case Opcode::table_fill:
      return do_bulk(op);
    default:
      return by_class(op);
  }
}

template <class Gen>
Status Validator<Gen>::run() {
  local_types_ = type_.params;
  local_types_.insert(local_types_.end(), body_.locals.begin(), body_.locals.end());
  Frame fn;
  fn.kind = FrameKind::kFunction;
  fn.results = type_.results;
  frames_.push_back(std::move(fn));

  stack_.reserve(64);
  bool ok = true;
  while (ok && !frames_.empty()) {
    op_offset_ = reader_.offset();
    if (reader_.at_end()) {
      ok = fail("unexpected end of section or function", ErrorCode::kMalformed);
      break;
    }
    const Opcode op = read_opcode();
    ok = op != kNoOpcode && instruction(op);
  }
  if (ok && !reader_.at_end()) {
    op_offset_ = reader_.offset();
    ok = fail("section size mismatch", ErrorCode::kMalformed);
  }
  if (!ok || !error_.empty()) {
    reader_ok();
    char where[64];
    std::snprintf(where, sizeof where, "code section, offset 0x%zx: ", error_offset_);
    return Error(where + error_ + " (function " + std::to_string(func_index_) + ")",
                 static_cast<int>(error_code_));
  }
  return Status::ok();
}

}  // namespace rusm::wasm::validator_detail

namespace rusm::wasm {

// validate_function() for a generator of type Gen (derived from CodeGen).
template <class Gen>
Status validate_body(const ModuleIR& ir, uint32_t def_index, Gen& gen) {
  validator_detail::Validator<Gen> v(ir, def_index, gen);
  return v.run();
}

}  // namespace rusm::wasm
