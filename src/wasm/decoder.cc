// The binary decoder (see decoder.h for its contract).
//
// How it reads: one Reader over the whole module, as the reference
// interpreter does. A section's contents are decoded from that stream and
// then its end is checked ("section size mismatch"); a section or body that
// claims too few bytes is read past its end into what follows and fails
// there. Reading past the end of the module is "unexpected end of section or
// function". Lengths (vector counts, string and section sizes) are checked
// the way the reference checks them: a length may not exceed the bytes from
// where the length starts to the end of the module ("length out of bounds").
// Because every element of every vector takes at least one byte, no count can
// make us reserve more than a constant times the input size.
//
// Errors: a malformed encoding or a kLimit error stops decoding at once. A
// validation error (kInvalid) is recorded (the first one wins) and decoding
// goes on, so that a module that is also malformed further on is reported
// malformed, as the spec requires. Code after an invalid index therefore
// never trusts that index.
#include "wasm/decoder.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "wasm/opcodes.h"
#include "wasm/reader.h"

namespace rusm::wasm {
namespace {

constexpr uint8_t kCustomId = 0;
constexpr uint8_t kTypeId = 1;
constexpr uint8_t kImportId = 2;
constexpr uint8_t kFunctionId = 3;
constexpr uint8_t kTableId = 4;
constexpr uint8_t kMemoryId = 5;
constexpr uint8_t kGlobalId = 6;
constexpr uint8_t kExportId = 7;
constexpr uint8_t kStartId = 8;
constexpr uint8_t kElementId = 9;
constexpr uint8_t kCodeId = 10;
constexpr uint8_t kDataId = 11;
constexpr uint8_t kDataCountId = 12;
constexpr uint8_t kMaxSectionId = 12;

// Position of each section id in the required order (data count sits between
// element and code).
constexpr std::array<uint8_t, 13> kSectionRank = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};

constexpr std::array<const char*, 13> kSectionNames = {
    "custom", "type",  "import",  "function", "table", "memory",    "global",
    "export", "start", "element", "code",     "data",  "data count"};

// How error messages name each section.
constexpr std::array<const char*, 13> kSectionLabels = {
    "custom section", "type section",   "import section",    "function section", "table section",
    "memory section", "global section", "export section",    "start section",    "element section",
    "code section",   "data section",   "data count section"};

// Bound on the locals of the whole module, beyond max_locals_per_function,
// per byte of input: each local costs a byte in FunctionBody::locals, and a
// three-byte declaration can declare millions of them.
constexpr uint64_t kLocalsPerInputByte = 16;

// What the scan of instructions needs per byte of the one-byte space, in one
// load (compile time is guarded by `rusm bench module-storm`): the
// instruction (kNoOpcode for a prefix or an illegal byte), its immediates,
// and whether the scan must look at it by name (it changes the block nesting,
// or it is a prefix, behind which memory.init and data.drop use a data
// segment). Derived from the opcode table.
struct ScanInfo {
  Opcode op = kNoOpcode;
  ImmKind imm = ImmKind::kNone;
  bool structural = false;
};
constexpr std::array<ScanInfo, 256> make_scan_table() {
  std::array<ScanInfo, 256> t{};
  for (int b = 0; b < 256; ++b) {
    const Opcode op = opcode_of(static_cast<uint8_t>(b));
    if (op == kNoOpcode) {
      continue;
    }
    t[b].op = op;
    t[b].imm = opcode_info(op).imm;
    t[b].structural = op == Opcode::block || op == Opcode::loop || op == Opcode::if_ ||
                      op == Opcode::else_ || op == Opcode::end;
  }
  t[kPrefixFC].structural = true;
  return t;
}
constexpr std::array<ScanInfo, 256> kScanByByte = make_scan_table();

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// An opcode byte as the reference prints it ("illegal opcode 06").
std::string opcode_hex(uint8_t op) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02x", op);
  return buf;
}

// What the scan of a constant expression found, in the order the reference
// validator looks at it: first whether every instruction is constant (and
// global.get names an imported global), then the instructions' own checks,
// then the result type.
struct ConstScan {
  size_t offset = 0;    // of the expression's first byte
  uint32_t values = 0;  // constant instructions at the top level
  ConstExpr expr;       // the first of them
  size_t problem_at = 0;
  std::string problem;  // "constant expression required" or "unknown global N"
  size_t func_problem_at = 0;
  std::string func_problem;  // "unknown function N"
};

class Decoder {
 public:
  Decoder(std::span<const uint8_t> bytes, const CompileOptions& options)
      : bytes_(bytes), options_(options), r_(bytes) {}

  Result<std::unique_ptr<ModuleIR>> run();

 private:
  // --- errors
  // Records a malformed-encoding error; always returns false.
  bool malformed(size_t offset, std::string reason) {
    r_.fail_at(offset, std::move(reason));
    return false;
  }
  // Records a kLimit error and stops decoding; always returns false.
  bool limit(size_t offset, std::string reason) {
    if (!limit_error_) {
      limit_error_ = make_error(ErrorCode::kLimit, offset, reason);
    }
    r_.fail_at(offset, "limit");  // stops every later read
    return false;
  }
  // Records a validation error unless one is recorded already; decoding goes on.
  void invalid(size_t offset, std::string_view reason) {
    if (!invalid_error_) {
      invalid_error_ = make_error(ErrorCode::kInvalid, offset, reason);
    }
  }
  Error make_error(ErrorCode code, size_t offset, std::string_view reason) const {
    std::string msg = section_;
    msg += ", offset 0x";
    msg += hex(offset);
    msg += ": ";
    msg += reason;
    return Error(std::move(msg), static_cast<int>(code));
  }

  // --- primitives
  uint32_t len32();
  bool name(std::string* out);
  bool val_type(ValType* out);
  bool ref_type(ValType* out);
  bool limits(Limits* out);
  bool table_type(TableType* out);
  bool global_type(GlobalType* out);
  bool block_type();
  bool zero_byte();

  // --- instruction sequences
  template <bool kConst>
  bool scan_instructions(ConstScan* cs);
  void note_const(ConstScan* cs, size_t at, Opcode op, uint64_t lo, uint64_t hi);
  bool const_expr(ConstScan* cs);
  bool check_const(const ConstScan& cs, ValType expected);

  // --- validation helpers
  void check_table_limits(size_t at, const Limits& l);
  void check_memory_limits(size_t at, const Limits& l);
  bool check_function_count(size_t at, uint64_t count);
  uint32_t num_funcs() const { return static_cast<uint32_t>(ir_->func_types.size()); }

  // --- sections
  bool header();
  bool section(uint8_t id, size_t start, size_t end);
  bool custom_section(size_t start, size_t end);
  bool type_section();
  bool import_section();
  bool function_section();
  bool table_section();
  bool memory_section();
  bool global_section();
  bool export_section();
  bool start_section();
  bool element_section();
  bool elem_segment();
  bool data_count_section();
  bool code_section();
  bool function_body(uint32_t index);
  bool data_section();
  bool end_checks();
  void name_section(size_t begin, size_t end);

  std::span<const uint8_t> bytes_;
  const CompileOptions& options_;
  Reader r_;
  std::unique_ptr<ModuleIR> ir_;
  const char* section_ = "header";  // names the section in error messages

  std::optional<Error> limit_error_;
  std::optional<Error> invalid_error_;

  // Section bookkeeping.
  uint8_t last_rank_ = 0;
  size_t function_section_at_ = 0;
  size_t code_section_at_ = 0;
  size_t data_section_at_ = 0;
  size_t data_count_at_ = 0;
  bool has_code_section_ = false;
  bool has_data_section_ = false;
  std::optional<size_t> first_data_use_;  // memory.init/data.drop in a body
  size_t name_begin_ = 0;
  size_t name_end_ = 0;
  bool has_name_section_ = false;
  bool memories_reported_ = false;

  // Functions named by ref.func in constant expressions, by exports and by
  // element segments (only indices already checked against num_funcs()).
  std::vector<uint32_t> func_refs_;
  uint64_t module_locals_ = 0;

  // Scratch space reused across calls.
  std::vector<uint8_t> frames_;  // open blocks while scanning instructions
  std::vector<std::pair<uint32_t, ValType>> local_decls_;
};

// --- primitives ------------------------------------------------------------

// A length or count: at most the bytes from where it starts to the module's end.
uint32_t Decoder::len32() {
  size_t at = r_.offset();
  uint32_t n = r_.u32_leb();
  if (r_.ok() && n > bytes_.size() - at) {
    malformed(at, "length out of bounds");
    return 0;
  }
  return n;
}

bool Decoder::name(std::string* out) {
  size_t at = r_.offset();
  uint32_t n = len32();
  std::span<const uint8_t> s = r_.bytes(n);
  if (!r_.ok()) {
    return false;
  }
  if (!Reader::valid_utf8(s)) {
    return malformed(at, "malformed UTF-8 encoding");
  }
  out->assign(reinterpret_cast<const char*>(s.data()), s.size());
  return true;
}

// Value types are read as a signed 7-bit LEB128 and classified by their first
// byte, as the reference does: >= 0x7c a number type, down to 0x71 a vector
// type, below that a reference type.
bool Decoder::val_type(ValType* out) {
  size_t at = r_.offset();
  uint8_t b = r_.u8();
  if (!r_.ok()) {
    return false;
  }
  if (b & 0x80) {
    return malformed(at + 1, "integer representation too long");
  }
  switch (b) {
    case 0x7F:
    case 0x7E:
    case 0x7D:
    case 0x7C:
    case 0x7B:
    case 0x70:
    case 0x6F:
      *out = static_cast<ValType>(b);
      return true;
    default:
      break;
  }
  return malformed(at, b > 0x70 ? "malformed vector type" : "malformed reference type");
}

bool Decoder::ref_type(ValType* out) {
  size_t at = r_.offset();
  uint8_t b = r_.u8();
  if (!r_.ok()) {
    return false;
  }
  if (b & 0x80) {
    return malformed(at + 1, "integer representation too long");
  }
  if (b != 0x70 && b != 0x6F) {
    return malformed(at, "malformed reference type");
  }
  *out = static_cast<ValType>(b);
  return true;
}

bool Decoder::limits(Limits* out) {
  size_t at = r_.offset();
  uint8_t flag = r_.u8();
  if (!r_.ok()) {
    return false;
  }
  // The flag is a one-bit unsigned LEB128.
  if ((flag & 0x7F) > 1) {
    return malformed(at, "integer too large");
  }
  if (flag & 0x80) {
    return malformed(at + 1, "integer representation too long");
  }
  out->min = r_.u32_leb();
  if (flag) {
    out->max = r_.u32_leb();
  }
  return r_.ok();
}

bool Decoder::table_type(TableType* out) {
  return ref_type(&out->elem) && limits(&out->limits);
}

bool Decoder::global_type(GlobalType* out) {
  if (!val_type(&out->type)) {
    return false;
  }
  size_t at = r_.offset();
  uint8_t m = r_.u8();
  if (!r_.ok()) {
    return false;
  }
  if (m > 1) {
    return malformed(at, "malformed mutability");
  }
  out->is_mutable = m == 1;
  return true;
}

bool Decoder::block_type() {
  uint8_t b = r_.peek_u8();
  if (b == 0x40 && !r_.at_end()) {
    r_.u8();
    return true;
  }
  if ((b & 0xC0) == 0x40) {  // a one-byte negative: a value type
    ValType t;
    return val_type(&t);
  }
  // A type index (s33). A negative one is not a type index; the compiler
  // rejects it as an unknown type, as the reference validator does.
  r_.s33_leb();
  return r_.ok();
}

bool Decoder::zero_byte() {
  size_t at = r_.offset();
  uint8_t b = r_.u8();
  if (!r_.ok()) {
    return false;
  }
  if (b != 0) {
    return malformed(at, "zero byte expected");
  }
  return true;
}

// --- instruction sequences ----------------------------------------------------

// Decodes instructions through the `end` that closes the sequence (a function
// body or a constant expression), checking opcodes, immediates and nesting.
// With kConst, records in `cs` what validating a constant expression needs.
template <bool kConst>
bool Decoder::scan_instructions(ConstScan* cs) {
  constexpr uint8_t kFrameBlock = 0;  // block, loop, the sequence itself, if after else
  constexpr uint8_t kFrameIf = 1;     // if before its else
  frames_.clear();
  frames_.push_back(kFrameBlock);
  for (;;) {
    const size_t at = r_.offset();
    const uint8_t byte = r_.u8();
    if (!r_.ok()) {
      return false;
    }
    const bool top = frames_.size() == 1;
    Opcode op = kScanByByte[byte].op;
    ImmKind imm = kScanByByte[byte].imm;
    if (byte == kPrefixFC || byte == kPrefixFD) {
      const uint32_t sub = r_.u32_leb();
      if (!r_.ok()) {
        return false;
      }
      op = prefixed_opcode(byte, sub);
      if (op == kNoOpcode) {
        return malformed(
            at, std::string("illegal opcode ") + (byte == kPrefixFC ? "fc " : "fd ") + hex(sub));
      }
      imm = opcode_info(op).imm;
    } else if (op == kNoOpcode) {
      return malformed(at, "illegal opcode " + opcode_hex(byte));
    }
    uint64_t lo = 0;
    uint64_t hi = 0;
    switch (imm) {
      case ImmKind::kNone:
        break;
      case ImmKind::kBlockType:
        if (!block_type()) {
          return false;
        }
        break;
      case ImmKind::kLabel:
      case ImmKind::kIndex:
        lo = r_.u32_leb();
        break;
      case ImmKind::kTwoIndices:
      case ImmKind::kMemarg:
        r_.u32_leb();
        r_.u32_leb();
        break;
      case ImmKind::kMemargLane:
        r_.u32_leb();
        r_.u32_leb();
        r_.u8();
        break;
      case ImmKind::kLane:
        r_.u8();
        break;
      case ImmKind::kBrTable: {
        uint32_t n = len32();
        for (uint32_t i = 0; i < n && r_.ok(); ++i) {
          r_.u32_leb();
        }
        r_.u32_leb();
        break;
      }
      case ImmKind::kSelectTypes: {
        uint32_t n = len32();
        for (uint32_t i = 0; i < n && r_.ok(); ++i) {
          ValType t;
          if (!val_type(&t)) {
            return false;
          }
        }
        break;
      }
      case ImmKind::kZeroByte:
        if (!zero_byte()) {
          return false;
        }
        break;
      case ImmKind::kZeroBytes2:
        if (!zero_byte() || !zero_byte()) {
          return false;
        }
        break;
      case ImmKind::kIndexZeroByte:
        r_.u32_leb();
        if (!zero_byte()) {
          return false;
        }
        break;
      case ImmKind::kI32:
        lo = static_cast<uint32_t>(r_.s32_leb());
        break;
      case ImmKind::kI64:
        lo = static_cast<uint64_t>(r_.s64_leb());
        break;
      case ImmKind::kF32:
        lo = r_.fixed_u32();
        break;
      case ImmKind::kF64:
        lo = r_.fixed_u64();
        break;
      case ImmKind::kV128:
      case ImmKind::kShuffle:
        lo = r_.fixed_u64();
        hi = r_.fixed_u64();
        break;
      case ImmKind::kRefType: {
        ValType t;
        if (!ref_type(&t)) {
          return false;
        }
        lo = static_cast<uint8_t>(t);
        break;
      }
    }
    if (!r_.ok()) {
      return false;
    }
    if (kScanByByte[byte].structural) {
      switch (op) {
        case Opcode::block:
        case Opcode::loop:
          frames_.push_back(kFrameBlock);
          break;
        case Opcode::if_:
          frames_.push_back(kFrameIf);
          break;
        case Opcode::else_:
          if (frames_.back() != kFrameIf) {
            return malformed(at, "END opcode expected");
          }
          frames_.back() = kFrameBlock;
          break;
        case Opcode::end:
          frames_.pop_back();
          if (frames_.empty()) {
            return true;
          }
          break;
        case Opcode::memory_init:
        case Opcode::data_drop:
          if constexpr (!kConst) {
            if (!first_data_use_) {
              first_data_use_ = at;
            }
          }
          break;
        default:
          break;
      }
    }
    if constexpr (kConst) {
      if (top) {
        note_const(cs, at, op, lo, hi);
      }
    }
  }
}

void Decoder::note_const(ConstScan* cs, size_t at, Opcode op, uint64_t lo, uint64_t hi) {
  ConstExpr e;
  switch (op) {
    case Opcode::i32_const:
      e.kind = ConstExpr::Kind::kI32;
      e.type = ValType::I32;
      break;
    case Opcode::i64_const:
      e.kind = ConstExpr::Kind::kI64;
      e.type = ValType::I64;
      break;
    case Opcode::f32_const:
      e.kind = ConstExpr::Kind::kF32;
      e.type = ValType::F32;
      break;
    case Opcode::f64_const:
      e.kind = ConstExpr::Kind::kF64;
      e.type = ValType::F64;
      break;
    case Opcode::ref_null:
      e.kind = ConstExpr::Kind::kRefNull;
      e.type = static_cast<ValType>(lo);
      lo = 0;
      break;
    case Opcode::ref_func:
      e.kind = ConstExpr::Kind::kRefFunc;
      e.type = ValType::FuncRef;
      if (lo >= num_funcs()) {
        if (cs->func_problem.empty()) {
          cs->func_problem = "unknown function " + std::to_string(lo);
          cs->func_problem_at = at;
        }
      } else {
        func_refs_.push_back(static_cast<uint32_t>(lo));
      }
      break;
    case Opcode::global_get:
      e.kind = ConstExpr::Kind::kGlobalGet;
      // In 2.0 a constant expression sees only the imported globals.
      if (lo >= ir_->num_imported_globals) {
        if (cs->problem.empty()) {
          cs->problem = "unknown global " + std::to_string(lo);
          cs->problem_at = at;
        }
      } else {
        const GlobalType& g = ir_->globals[lo];
        e.type = g.type;
        if (g.is_mutable && cs->problem.empty()) {
          cs->problem = "constant expression required";
          cs->problem_at = at;
        }
      }
      break;
    case Opcode::v128_const:
      e.kind = ConstExpr::Kind::kV128;
      e.type = ValType::V128;
      break;
    default:
      if (cs->problem.empty()) {
        cs->problem = "constant expression required";
        cs->problem_at = at;
      }
      return;
  }
  e.bits = lo;
  e.bits_hi = hi;
  if (cs->values++ == 0) {
    cs->expr = e;
  }
}

bool Decoder::const_expr(ConstScan* cs) {
  cs->offset = r_.offset();
  return scan_instructions<true>(cs);
}

// Validates a scanned constant expression against the type it must produce.
bool Decoder::check_const(const ConstScan& cs, ValType expected) {
  if (!cs.problem.empty()) {
    invalid(cs.problem_at, cs.problem);
    return false;
  }
  if (!cs.func_problem.empty()) {
    invalid(cs.func_problem_at, cs.func_problem);
    return false;
  }
  if (cs.values != 1 || cs.expr.type != expected) {
    std::string got = cs.values == 0   ? std::string("no value")
                      : cs.values == 1 ? std::string(to_string(cs.expr.type))
                                       : std::to_string(cs.values) + " values";
    invalid(cs.offset, std::string("type mismatch: constant expression must produce one ") +
                           to_string(expected) + ", got " + got);
    return false;
  }
  return true;
}

// --- validation helpers ---------------------------------------------------------

void Decoder::check_table_limits(size_t at, const Limits& l) {
  if (l.max && l.min > *l.max) {
    invalid(at, "size minimum must not be greater than maximum");
  }
}

void Decoder::check_memory_limits(size_t at, const Limits& l) {
  if (l.min > kMaxPages || (l.max && *l.max > kMaxPages)) {
    invalid(at, "memory size must be at most 65536 pages (4GiB)");
  } else if (l.max && l.min > *l.max) {
    invalid(at, "size minimum must not be greater than maximum");
  }
  if (ir_->memories.size() > 1 && !memories_reported_) {
    memories_reported_ = true;
    invalid(at, "multiple memories");
  }
}

bool Decoder::check_function_count(size_t at, uint64_t count) {
  if (count > options_.max_functions) {
    return limit(at, "too many functions (" + std::to_string(count) + ", limit " +
                         std::to_string(options_.max_functions) + ")");
  }
  return true;
}

// --- sections --------------------------------------------------------------------

bool Decoder::header() {
  uint32_t magic = r_.fixed_u32();
  if (!r_.ok()) {
    return false;
  }
  if (magic != 0x6D736100) {
    return malformed(0, "magic header not detected");
  }
  uint32_t version = r_.fixed_u32();
  if (!r_.ok()) {
    return false;
  }
  if (version != 1) {
    return malformed(4, "unknown binary version");
  }
  return true;
}

bool Decoder::section(uint8_t id, size_t start, size_t end) {
  switch (id) {
    case kCustomId:
      return custom_section(start, end);
    case kTypeId:
      return type_section();
    case kImportId:
      return import_section();
    case kFunctionId:
      function_section_at_ = start;
      return function_section();
    case kTableId:
      return table_section();
    case kMemoryId:
      return memory_section();
    case kGlobalId:
      return global_section();
    case kExportId:
      return export_section();
    case kStartId:
      return start_section();
    case kElementId:
      return element_section();
    case kDataCountId:
      data_count_at_ = start;
      return data_count_section();
    case kCodeId:
      has_code_section_ = true;
      code_section_at_ = start;
      return code_section();
    case kDataId:
      has_data_section_ = true;
      data_section_at_ = start;
      return data_section();
    default:
      return false;  // not reached: ids are checked by run()
  }
}

bool Decoder::custom_section(size_t start, size_t end) {
  std::string section_name;
  if (!name(&section_name)) {
    return false;
  }
  if (r_.offset() > end) {
    // The name runs past the section's end.
    return malformed(bytes_.size(), "unexpected end of section or function");
  }
  size_t contents = r_.offset();
  r_.skip(end - contents);
  if (section_name == "name" && !has_name_section_) {
    has_name_section_ = true;
    name_begin_ = contents;
    name_end_ = end;
  }
  ir_->sections.back().name = std::move(section_name);
  return r_.ok();
}

bool Decoder::type_section() {
  uint32_t count = len32();
  ir_->types.reserve(std::min<size_t>(count, r_.remaining() / 3));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    size_t at = r_.offset();
    uint8_t form = r_.u8();
    if (!r_.ok()) {
      return false;
    }
    if (form & 0x80) {
      return malformed(at + 1, "integer representation too long");
    }
    if (form != 0x60) {
      return malformed(at, "malformed function type");
    }
    FuncType type;
    for (std::vector<ValType>* v : {&type.params, &type.results}) {
      uint32_t n = len32();
      v->reserve(std::min<size_t>(n, r_.remaining()));
      for (uint32_t k = 0; k < n && r_.ok(); ++k) {
        ValType t;
        if (!val_type(&t)) {
          return false;
        }
        v->push_back(t);
      }
    }
    ir_->types.push_back(std::move(type));
  }
  return r_.ok();
}

bool Decoder::import_section() {
  uint32_t count = len32();
  ir_->imports.reserve(std::min<size_t>(count, r_.remaining() / 4));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    ImportDef imp;
    if (!name(&imp.module) || !name(&imp.name)) {
      return false;
    }
    size_t kind_at = r_.offset();
    uint8_t kind = r_.u8();
    if (!r_.ok()) {
      return false;
    }
    size_t at = r_.offset();
    switch (kind) {
      case 0:
        imp.kind = ExternKind::Func;
        imp.type_index = r_.u32_leb();
        if (!r_.ok()) {
          return false;
        }
        if (imp.type_index >= ir_->types.size()) {
          invalid(at, "unknown type " + std::to_string(imp.type_index));
        }
        if (!check_function_count(at, uint64_t{ir_->func_types.size()} + 1)) {
          return false;
        }
        ir_->func_types.push_back(imp.type_index);
        ++ir_->num_imported_funcs;
        break;
      case 1:
        imp.kind = ExternKind::Table;
        if (!table_type(&imp.table)) {
          return false;
        }
        check_table_limits(at, imp.table.limits);
        ir_->tables.push_back(imp.table);
        ++ir_->num_imported_tables;
        break;
      case 2:
        imp.kind = ExternKind::Memory;
        if (!limits(&imp.memory.limits)) {
          return false;
        }
        ir_->memories.push_back(imp.memory);
        ++ir_->num_imported_memories;
        check_memory_limits(at, imp.memory.limits);
        break;
      case 3:
        imp.kind = ExternKind::Global;
        if (!global_type(&imp.global)) {
          return false;
        }
        ir_->globals.push_back(imp.global);
        ++ir_->num_imported_globals;
        break;
      default:
        return malformed(kind_at, "malformed import kind");
    }
    ir_->imports.push_back(std::move(imp));
  }
  return r_.ok();
}

bool Decoder::function_section() {
  size_t at = r_.offset();
  uint32_t count = len32();
  if (!r_.ok() || !check_function_count(at, uint64_t{ir_->func_types.size()} + count)) {
    return false;
  }
  ir_->func_types.reserve(ir_->func_types.size() + count);
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    size_t type_at = r_.offset();
    uint32_t type_index = r_.u32_leb();
    if (r_.ok() && type_index >= ir_->types.size()) {
      invalid(type_at, "unknown type " + std::to_string(type_index));
    }
    ir_->func_types.push_back(type_index);
  }
  return r_.ok();
}

bool Decoder::table_section() {
  uint32_t count = len32();
  ir_->tables.reserve(ir_->tables.size() + std::min<size_t>(count, r_.remaining() / 3));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    size_t at = r_.offset();
    TableType t;
    if (!table_type(&t)) {
      return false;
    }
    check_table_limits(at, t.limits);
    ir_->tables.push_back(t);
  }
  return r_.ok();
}

bool Decoder::memory_section() {
  uint32_t count = len32();
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    size_t at = r_.offset();
    MemoryType m;
    if (!limits(&m.limits)) {
      return false;
    }
    ir_->memories.push_back(m);
    check_memory_limits(at, m.limits);
  }
  return r_.ok();
}

bool Decoder::global_section() {
  uint32_t count = len32();
  size_t reserve = std::min<size_t>(count, r_.remaining() / 4);
  ir_->global_defs.reserve(reserve);
  ir_->globals.reserve(ir_->globals.size() + reserve);
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    GlobalDef g;
    ConstScan cs;
    if (!global_type(&g.type) || !const_expr(&cs)) {
      return false;
    }
    check_const(cs, g.type.type);
    g.init = cs.expr;
    ir_->globals.push_back(g.type);
    ir_->global_defs.push_back(g);
  }
  return r_.ok();
}

bool Decoder::export_section() {
  uint32_t count = len32();
  ir_->exports.reserve(std::min<size_t>(count, r_.remaining() / 3));
  std::unordered_set<std::string_view> names;
  names.reserve(std::min<size_t>(count, r_.remaining() / 3));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    size_t at = r_.offset();
    ExportInfo e;
    if (!name(&e.name)) {
      return false;
    }
    // A view of the name in the input, which outlives this function.
    std::string_view key(reinterpret_cast<const char*>(r_.position()) - e.name.size(),
                         e.name.size());
    size_t kind_at = r_.offset();
    uint8_t kind = r_.u8();
    if (!r_.ok()) {
      return false;
    }
    if (kind > 3) {
      return malformed(kind_at, "malformed export kind");
    }
    e.kind = static_cast<ExternKind>(kind);
    size_t index_at = r_.offset();
    e.index = r_.u32_leb();
    if (!r_.ok()) {
      return false;
    }
    size_t bound = 0;
    const char* what = "";
    switch (e.kind) {
      case ExternKind::Func:
        bound = num_funcs();
        what = "unknown function ";
        break;
      case ExternKind::Table:
        bound = ir_->tables.size();
        what = "unknown table ";
        break;
      case ExternKind::Memory:
        bound = ir_->memories.size();
        what = "unknown memory ";
        break;
      case ExternKind::Global:
        bound = ir_->globals.size();
        what = "unknown global ";
        break;
    }
    if (e.index >= bound) {
      invalid(index_at, what + std::to_string(e.index));
    } else if (e.kind == ExternKind::Func) {
      func_refs_.push_back(e.index);
    }
    if (!names.insert(key).second) {
      invalid(at, "duplicate export name \"" + e.name + "\"");
    }
    ir_->exports.push_back(std::move(e));
  }
  return r_.ok();
}

bool Decoder::start_section() {
  size_t at = r_.offset();
  uint32_t index = r_.u32_leb();
  if (!r_.ok()) {
    return false;
  }
  ir_->start = index;
  if (index >= num_funcs()) {
    invalid(at, "unknown function " + std::to_string(index));
    return true;
  }
  uint32_t type_index = ir_->func_types[index];
  if (type_index < ir_->types.size()) {
    const FuncType& t = ir_->types[type_index];
    if (!t.params.empty() || !t.results.empty()) {
      invalid(at, "start function must have type [] -> [], not " + to_string(t));
    }
  }
  return true;
}

bool Decoder::element_section() {
  uint32_t count = len32();
  ir_->elems.reserve(std::min<size_t>(count, r_.remaining() / 3));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    if (!elem_segment()) {
      return false;
    }
  }
  return r_.ok();
}

// The eight encodings: bit 0 passive or declarative (else active), bit 1 an
// explicit table index (active) or declarative (else passive), bit 2 the
// elements are expressions (else function indices).
bool Decoder::elem_segment() {
  size_t at = r_.offset();
  uint32_t flags = r_.u32_leb();
  if (!r_.ok()) {
    return false;
  }
  if (flags > 7) {
    return malformed(at, "malformed elements segment kind");
  }
  const bool active = (flags & 1) == 0;
  const bool exprs = (flags & 4) != 0;
  ElemSegment seg;
  if (!active) {
    seg.mode = (flags & 2) ? SegmentMode::kDeclarative : SegmentMode::kPassive;
  }
  size_t table_at = at;
  if (active && (flags & 2)) {
    table_at = r_.offset();
    seg.table = r_.u32_leb();
  }
  ConstScan offset;
  if (active && !const_expr(&offset)) {
    return false;
  }
  if (flags & 3) {  // an element type or kind follows
    if (exprs) {
      if (!ref_type(&seg.type)) {
        return false;
      }
    } else {
      size_t kind_at = r_.offset();
      uint8_t kind = r_.u8();
      if (!r_.ok()) {
        return false;
      }
      if (kind != 0) {
        return malformed(kind_at, "malformed element kind");
      }
    }
  }
  uint32_t n = len32();
  seg.init.reserve(std::min<size_t>(n, r_.remaining()));
  for (uint32_t k = 0; k < n && r_.ok(); ++k) {
    if (exprs) {
      ConstScan cs;
      if (!const_expr(&cs)) {
        return false;
      }
      check_const(cs, seg.type);
      seg.init.push_back(cs.expr);
    } else {
      size_t x_at = r_.offset();
      uint32_t x = r_.u32_leb();
      if (!r_.ok()) {
        return false;
      }
      if (x >= num_funcs()) {
        invalid(x_at, "unknown function " + std::to_string(x));
      } else {
        func_refs_.push_back(x);
      }
      ConstExpr e;
      e.kind = ConstExpr::Kind::kRefFunc;
      e.type = ValType::FuncRef;
      e.bits = x;
      seg.init.push_back(e);
    }
  }
  if (!r_.ok()) {
    return false;
  }
  if (active) {
    if (seg.table >= ir_->tables.size()) {
      invalid(table_at, "unknown table " + std::to_string(seg.table));
    } else if (ir_->tables[seg.table].elem != seg.type) {
      invalid(at, std::string("type mismatch: segment of ") + to_string(seg.type) +
                      " for a table of " + to_string(ir_->tables[seg.table].elem));
    } else {
      check_const(offset, ValType::I32);
    }
    seg.offset = offset.expr;
  }
  ir_->elems.push_back(std::move(seg));
  return true;
}

bool Decoder::data_count_section() {
  ir_->data_count = r_.u32_leb();
  return r_.ok();
}

bool Decoder::code_section() {
  uint32_t count = len32();
  if (!r_.ok()) {
    return false;
  }
  ir_->bodies.reserve(std::min<size_t>(count, r_.remaining() / 3));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    if (!function_body(i)) {
      return false;
    }
  }
  return r_.ok();
}

bool Decoder::function_body(uint32_t index) {
  size_t size_at = r_.offset();
  uint32_t size = len32();
  if (!r_.ok()) {
    return false;
  }
  if (size > options_.max_function_body_bytes) {
    return limit(size_at, "function body too large (" + std::to_string(size) + " bytes, limit " +
                              std::to_string(options_.max_function_body_bytes) + ")");
  }
  const size_t start = r_.offset();
  const size_t end = start + size;

  // Local declarations: read them all and check the total before expanding.
  size_t locals_at = r_.offset();
  uint32_t groups = len32();
  local_decls_.clear();
  uint64_t total = 0;
  for (uint32_t g = 0; g < groups && r_.ok(); ++g) {
    uint32_t n = r_.u32_leb();
    ValType t;
    if (!val_type(&t)) {
      return false;
    }
    local_decls_.emplace_back(n, t);
    total += n;
  }
  if (!r_.ok()) {
    return false;
  }
  if (total > UINT32_MAX) {
    return malformed(locals_at, "too many locals");
  }
  if (total > options_.max_locals_per_function) {
    return limit(locals_at, "too many locals (" + std::to_string(total) + ", limit " +
                                std::to_string(options_.max_locals_per_function) + ")");
  }
  module_locals_ += total;
  if (module_locals_ >
      options_.max_locals_per_function + kLocalsPerInputByte * uint64_t{bytes_.size()}) {
    return limit(locals_at, "too many locals in the module (" + std::to_string(module_locals_) +
                                " in " + std::to_string(bytes_.size()) + " bytes)");
  }

  FunctionBody body;
  size_t func_index = size_t{ir_->num_imported_funcs} + index;
  body.type_index = func_index < ir_->func_types.size() ? ir_->func_types[func_index] : 0;
  body.locals.reserve(total);
  for (const auto& [n, t] : local_decls_) {
    body.locals.insert(body.locals.end(), n, t);
  }
  body.code_offset = static_cast<uint32_t>(r_.offset());
  if (!scan_instructions<false>(nullptr)) {
    return false;
  }
  if (r_.offset() != end) {
    return malformed(start, "section size mismatch");
  }
  body.code_size = static_cast<uint32_t>(end - body.code_offset);
  ir_->bodies.push_back(std::move(body));
  return true;
}

bool Decoder::data_section() {
  uint32_t count = len32();
  ir_->datas.reserve(std::min<size_t>(count, r_.remaining() / 3));
  for (uint32_t i = 0; i < count && r_.ok(); ++i) {
    size_t at = r_.offset();
    uint32_t flags = r_.u32_leb();
    if (!r_.ok()) {
      return false;
    }
    if (flags > 2) {
      return malformed(at, "malformed data segment kind");
    }
    DataSegment seg;
    size_t memory_at = at;
    ConstScan offset;
    if (flags == 1) {
      seg.mode = SegmentMode::kPassive;
    } else {
      if (flags == 2) {
        memory_at = r_.offset();
        seg.memory = r_.u32_leb();
      }
      if (!const_expr(&offset)) {
        return false;
      }
    }
    uint32_t n = len32();
    seg.bytes_offset = static_cast<uint32_t>(r_.offset());
    seg.size = n;
    r_.skip(n);
    if (!r_.ok()) {
      return false;
    }
    if (seg.mode == SegmentMode::kActive) {
      if (seg.memory >= ir_->memories.size()) {
        invalid(memory_at, "unknown memory " + std::to_string(seg.memory));
      } else {
        check_const(offset, ValType::I32);
      }
      seg.offset = offset.expr;
    }
    ir_->datas.push_back(seg);
  }
  return r_.ok();
}

// Checks that need the whole module, in the reference's order.
bool Decoder::end_checks() {
  size_t defined = ir_->func_types.size() - ir_->num_imported_funcs;
  if (defined != ir_->bodies.size()) {
    section_ = has_code_section_ ? "code section" : "function section";
    return malformed(has_code_section_ ? code_section_at_ : function_section_at_,
                     "function and code section have inconsistent lengths");
  }
  if (ir_->data_count && *ir_->data_count != ir_->datas.size()) {
    section_ = has_data_section_ ? "data section" : "data count section";
    return malformed(has_data_section_ ? data_section_at_ : data_count_at_,
                     "data count and data section have inconsistent lengths");
  }
  // Without any data segment, memory.init and data.drop name an unknown
  // segment: the module is invalid whatever its encoding, and the compiler
  // says so. (wast2json leaves out the data count section for such text
  // modules, which the suite expects to be reported invalid.)
  if (!ir_->data_count && first_data_use_ && !ir_->datas.empty()) {
    section_ = "code section";
    return malformed(*first_data_use_, "data count section required");
  }
  return true;
}

// The "name" custom section, read leniently: anything malformed in it makes
// us drop the whole section, never an error. Reads the module name
// (subsection 0) and the function names (subsection 1); skips the rest.
void Decoder::name_section(size_t begin, size_t end) {
  Reader r(bytes_.subspan(begin, end - begin), begin);
  std::string module_name;
  std::unordered_map<uint32_t, std::string> func_names;
  int last_id = -1;
  while (!r.at_end()) {
    uint8_t id = r.u8();
    uint32_t size = r.u32_leb();
    if (!r.ok() || size > r.remaining() || id <= last_id) {
      return;
    }
    last_id = id;
    Reader sub(std::span<const uint8_t>(r.position(), size), r.offset());
    r.skip(size);
    if (id == 0) {
      module_name = sub.name();
    } else if (id == 1) {
      uint32_t count = sub.u32_leb();
      if (count > sub.remaining()) {
        return;
      }
      for (uint32_t i = 0; i < count && sub.ok(); ++i) {
        uint32_t index = sub.u32_leb();
        std::string n = sub.name();
        if (sub.ok() && index < num_funcs()) {
          func_names.emplace(index, std::move(n));
        }
      }
    } else {
      continue;
    }
    if (!sub.ok() || !sub.at_end()) {
      return;
    }
  }
  ir_->module_name = std::move(module_name);
  ir_->func_names = std::move(func_names);
}

Result<std::unique_ptr<ModuleIR>> Decoder::run() {
  if (bytes_.size() > UINT32_MAX) {
    return make_error(ErrorCode::kLimit, 0, "module larger than 4 GiB");
  }
  ir_ = std::make_unique<ModuleIR>();
  if (header()) {
    while (!r_.at_end()) {
      const size_t id_at = r_.offset();
      const uint8_t id = r_.u8();
      if (id > kMaxSectionId) {
        section_ = "module";
        malformed(id_at, "malformed section id");
        break;
      }
      section_ = kSectionLabels[id];
      if (id != kCustomId) {
        if (kSectionRank[id] <= last_rank_) {
          malformed(id_at, "unexpected content after last section");
          break;
        }
        last_rank_ = kSectionRank[id];
      }
      const uint32_t size = len32();
      if (!r_.ok()) {
        break;
      }
      // `end` may lie a few bytes past the module's end (len32 lets a length
      // count its own encoding, as the reference does); decoding the section
      // then fails with "unexpected end".
      const size_t start = r_.offset();
      const size_t end = start + size;
      ir_->sections.push_back(
          SectionInfo{id, kSectionNames[id], static_cast<uint32_t>(start), size});
      if (!section(id, start, end)) {
        break;
      }
      if (r_.offset() != end) {
        malformed(start, "section size mismatch");
        break;
      }
    }
  }
  if (r_.ok()) {
    end_checks();
  }
  if (limit_error_) {
    return *limit_error_;
  }
  if (!r_.ok()) {
    std::string reason = r_.error();
    if (reason == "unexpected end" && std::string_view(section_) != "header") {
      reason = "unexpected end of section or function";
    }
    return make_error(ErrorCode::kMalformed, r_.error_offset(), reason);
  }
  if (invalid_error_) {
    return *invalid_error_;
  }

  if (has_name_section_) {
    name_section(name_begin_, name_end_);
  }
  ir_->declared_func_refs.assign(num_funcs(), false);
  for (uint32_t f : func_refs_) {
    ir_->declared_func_refs[f] = true;
  }
  ir_->import_infos.reserve(ir_->imports.size());
  for (const ImportDef& imp : ir_->imports) {
    ImportInfo info;
    info.module = imp.module;
    info.name = imp.name;
    info.kind = imp.kind;
    if (imp.kind == ExternKind::Func) {
      info.func = ir_->types[imp.type_index];
    }
    info.table = imp.table;
    info.memory = imp.memory;
    info.global = imp.global;
    ir_->import_infos.push_back(std::move(info));
  }
  ir_->bytes.assign(bytes_.begin(), bytes_.end());
  return std::move(ir_);
}

}  // namespace

Result<std::unique_ptr<ModuleIR>> decode(std::span<const uint8_t> bytes,
                                         const CompileOptions& options) {
  return Decoder(bytes, options).run();
}

}  // namespace rusm::wasm
