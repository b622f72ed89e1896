// Unit tests of decode() on binaries built by hand.
#include "wasm/decoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace rusm::wasm {
namespace {

// --- a tiny byte builder -------------------------------------------------------

using Bytes = std::vector<uint8_t>;

// One piece of a byte string: a byte or a run of bytes.
struct Piece {
  Piece(int byte) : bytes{static_cast<uint8_t>(byte)} {}  // NOLINT: implicit by design
  Piece(Bytes b) : bytes(std::move(b)) {}                 // NOLINT
  Bytes bytes;
};

Bytes cat(std::initializer_list<Piece> pieces) {
  Bytes out;
  for (const Piece& p : pieces) {
    out.insert(out.end(), p.bytes.begin(), p.bytes.end());
  }
  return out;
}

Bytes leb(uint64_t v) {
  Bytes out;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out.push_back(v ? (b | 0x80) : b);
  } while (v);
  return out;
}

Bytes sleb(int64_t v) {
  Bytes out;
  for (;;) {
    uint8_t b = v & 0x7F;
    v >>= 7;
    bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
    out.push_back(done ? b : (b | 0x80));
    if (done) {
      return out;
    }
  }
}

Bytes str(std::string_view s) {
  Bytes out = leb(s.size());
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

// A vector: its count, then its items.
Bytes vec(std::initializer_list<Bytes> items) {
  Bytes out = leb(items.size());
  for (const Bytes& item : items) {
    out.insert(out.end(), item.begin(), item.end());
  }
  return out;
}

Bytes section(uint8_t id, const Bytes& contents) {
  Bytes out{id};
  Bytes size = leb(contents.size());
  out.insert(out.end(), size.begin(), size.end());
  out.insert(out.end(), contents.begin(), contents.end());
  return out;
}

const Bytes kHeader = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};

Bytes module(std::initializer_list<Bytes> sections) {
  Bytes out = kHeader;
  for (const Bytes& s : sections) {
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

// Section ids.
constexpr uint8_t kCustom = 0, kType = 1, kImport = 2, kFunction = 3, kTable = 4, kMemory = 5,
                  kGlobal = 6, kExport = 7, kStart = 8, kElement = 9, kCode = 10, kData = 11,
                  kDataCount = 12;
// Value types.
constexpr uint8_t kI32 = 0x7F, kI64 = 0x7E, kF32 = 0x7D, kF64 = 0x7C, kV128 = 0x7B, kFuncRef = 0x70,
                  kExternRef = 0x6F;
constexpr uint8_t kEnd = 0x0B;

Bytes func_type(Bytes params, Bytes results) {
  return cat({0x60, leb(params.size()), params, leb(results.size()), results});
}
// A type section with the single type [] -> [].
Bytes void_type_section() {
  return section(kType, vec({func_type({}, {})}));
}
// A function body: local declarations, then instructions (which must end in `end`).
Bytes body(Bytes locals_vec, Bytes code) {
  Bytes contents = cat({locals_vec, code});
  return cat({leb(contents.size()), contents});
}
Bytes empty_body() {
  return body(vec({}), {kEnd});
}
// A module with one function, of type [] -> [], with the given body.
Bytes one_function(const Bytes& b) {
  return cat(
      {kHeader, void_type_section(), section(kFunction, vec({{0x00}})), section(kCode, vec({b}))});
}

Bytes i32_const(int32_t v) {
  return cat({0x41, sleb(v), kEnd});
}

// --- helpers to check results --------------------------------------------------

std::unique_ptr<ModuleIR> decode_ok(const Bytes& bytes, const CompileOptions& options = {}) {
  auto r = decode(bytes, options);
  EXPECT_TRUE(r.is_ok()) << r.message();
  return r.is_ok() ? std::move(r.value()) : nullptr;
}

// Expects an error with `code` whose message ends with ": <reason...>" where
// the reason starts with `reason`; returns the whole message.
std::string decode_error(const Bytes& bytes, ErrorCode code, std::string_view reason,
                         const CompileOptions& options = {}) {
  auto r = decode(bytes, options);
  if (r.is_ok()) {
    ADD_FAILURE() << "decoded, expected error \"" << reason << "\"";
    return "";
  }
  const std::string& msg = r.message();
  EXPECT_EQ(r.error().code(), static_cast<int>(code)) << msg;
  size_t colon = msg.find(": ");
  EXPECT_NE(colon, std::string::npos) << msg;
  if (colon != std::string::npos) {
    EXPECT_EQ(msg.compare(colon + 2, reason.size(), reason), 0)
        << "expected reason \"" << reason << "\", got: " << msg;
  }
  return msg;
}

void expect_malformed(const Bytes& bytes, std::string_view reason) {
  decode_error(bytes, ErrorCode::kMalformed, reason);
}
void expect_invalid(const Bytes& bytes, std::string_view reason) {
  decode_error(bytes, ErrorCode::kInvalid, reason);
}

// --- header and framing ----------------------------------------------------------

TEST(DecoderTest, EmptyModuleDecodes) {
  auto ir = decode_ok(kHeader);
  ASSERT_TRUE(ir);
  EXPECT_TRUE(ir->types.empty());
  EXPECT_TRUE(ir->bodies.empty());
  EXPECT_FALSE(ir->start);
  EXPECT_EQ(ir->bytes, kHeader);
}

TEST(DecoderTest, HeaderErrorsNameTheHeader) {
  EXPECT_EQ(decode_error({}, ErrorCode::kMalformed, "unexpected end"),
            "header, offset 0x0: unexpected end");
  EXPECT_EQ(decode_error({0x00, 0x61, 0x73}, ErrorCode::kMalformed, "unexpected end"),
            "header, offset 0x0: unexpected end");
  EXPECT_EQ(decode_error({0x00, 0x61, 0x73, 0x6D, 0x01}, ErrorCode::kMalformed, "unexpected end"),
            "header, offset 0x4: unexpected end");
  EXPECT_EQ(decode_error({0x00, 0x41, 0x53, 0x4D, 0x01, 0x00, 0x00, 0x00}, ErrorCode::kMalformed,
                         "magic header not detected"),
            "header, offset 0x0: magic header not detected");
  EXPECT_EQ(decode_error({0x00, 0x61, 0x73, 0x6D, 0x02, 0x00, 0x00, 0x00}, ErrorCode::kMalformed,
                         "unknown binary version"),
            "header, offset 0x4: unknown binary version");
}

TEST(DecoderTest, ErrorMessageNamesSectionAndAbsoluteOffset) {
  // Type section at 0x8: id, size at 0x9, count at 0xa..0xe whose 5th byte
  // (at 0xe) carries bits past 32.
  Bytes m = module({section(kType, {0x80, 0x80, 0x80, 0x80, 0x10})});
  EXPECT_EQ(decode_error(m, ErrorCode::kMalformed, "integer too large"),
            "type section, offset 0xe: integer too large");
}

TEST(DecoderTest, MalformedSectionId) {
  std::string msg =
      decode_error(module({{13, 0x00}}), ErrorCode::kMalformed, "malformed section id");
  EXPECT_EQ(msg, "module, offset 0x8: malformed section id");
  expect_malformed(module({{0x80, 0x00}}), "malformed section id");
}

TEST(DecoderTest, SectionsOutOfOrderOrRepeated) {
  expect_malformed(module({section(kFunction, vec({})), void_type_section()}),
                   "unexpected content after last section");
  expect_malformed(module({void_type_section(), void_type_section()}),
                   "unexpected content after last section");
  // Data count goes between element and code.
  expect_malformed(module({section(kCode, vec({})), section(kDataCount, {0x00})}),
                   "unexpected content after last section");
  decode_ok(module({section(kDataCount, {0x00}), section(kCode, vec({}))}));
}

TEST(DecoderTest, SectionSizeMismatchAndOutOfBounds) {
  // The type section claims one more byte than its one type uses.
  expect_malformed(module({section(kType, cat({vec({func_type({}, {})}), 0x60}))}),
                   "section size mismatch");
  // A size past the module's end.
  expect_malformed(cat({kHeader, kType, 0x20, 0x00}), "length out of bounds");
  // A section that ends before its contents do reads into the module's end.
  expect_malformed(cat({kHeader, kTable, 0x01, 0x01}), "unexpected end of section or function");
}

TEST(DecoderTest, CustomSectionsAnywhereAndRecorded) {
  Bytes custom = section(kCustom, cat({str("hello"), 0x01, 0x02, 0x03}));
  auto ir =
      decode_ok(module({custom, void_type_section(), custom, section(kFunction, vec({})), custom}));
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->sections.size(), 5u);
  EXPECT_EQ(ir->sections[0].id, 0);
  EXPECT_EQ(ir->sections[0].name, "hello");
  EXPECT_EQ(ir->sections[0].offset, 10u);
  EXPECT_EQ(ir->sections[0].size, 9u);
  EXPECT_EQ(ir->sections[1].name, "type");
  EXPECT_EQ(ir->sections[3].name, "function");
}

TEST(DecoderTest, CustomSectionErrors) {
  expect_malformed(module({section(kCustom, str("\xff"))}), "malformed UTF-8 encoding");
  // A name longer than the section.
  expect_malformed(module({section(kCustom, {0x05}), {0x01, 0x00, 0x07, 0x00, 0x00}}),
                   "unexpected end");
  // An empty section cannot hold the name's length.
  expect_malformed(cat({kHeader, kCustom, 0x00}), "unexpected end");
}

// --- LEB128 ----------------------------------------------------------------------

TEST(DecoderTest, Leb128EdgeCases) {
  // Padded encodings of small values are allowed up to the maximum length.
  auto ir = decode_ok(module({section(kMemory, {0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x00})}));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->memories[0].limits.min, 2u);
  expect_malformed(module({section(kMemory, {0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00})}),
                   "integer representation too long");
  expect_malformed(module({section(kMemory, {0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x10})}),
                   "integer too large");
  // A last byte that is wrong both ways gets the reference's message.
  expect_malformed(module({section(kMemory, {0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x90, 0x00})}),
                   "integer too large");
  // Signed: the extreme values, then one past each.
  auto g = [](Bytes init) { return module({section(kGlobal, vec({cat({kI32, 0x00, init})}))}); };
  ir = decode_ok(g({0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, kEnd}));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->global_defs[0].init.bits, 0x7FFFFFFFu);
  ir = decode_ok(g({0x41, 0x80, 0x80, 0x80, 0x80, 0x78, kEnd}));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->global_defs[0].init.bits, 0x80000000u);
  expect_malformed(g({0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, kEnd}), "integer too large");
  expect_malformed(g({0x41, 0x80, 0x80, 0x80, 0x80, 0x70, kEnd}), "integer too large");
  expect_malformed(g({0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, kEnd}),
                   "integer representation too long");
  // i64: ten bytes at most.
  auto g64 = [](Bytes init) { return module({section(kGlobal, vec({cat({kI64, 0x00, init})}))}); };
  ir = decode_ok(g64(cat({0x42, sleb(INT64_MIN), kEnd})));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->global_defs[0].init.bits, 0x8000000000000000u);
  expect_malformed(g64({0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, kEnd}),
                   "integer too large");
  expect_malformed(
      g64({0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, kEnd}),
      "integer representation too long");
}

TEST(DecoderTest, LengthsAreCheckedAgainstTheRemainingBytes) {
  // A count of 2^32-1 types in a few bytes fails at once, without reserving.
  expect_malformed(module({section(kType, {0xFF, 0xFF, 0xFF, 0xFF, 0x0F})}),
                   "length out of bounds");
  // A name longer than what remains.
  expect_malformed(module({section(kImport, cat({vec({}), 0x40}))}), "section size mismatch");
  expect_malformed(cat({kHeader, kImport, 0x05, 0x01, 0x40, 0x00, 0x00, 0x00}),
                   "length out of bounds");
}

// --- types and imports --------------------------------------------------------------

TEST(DecoderTest, TypeSectionReadsEveryValueType) {
  auto ir = decode_ok(module(
      {section(kType, vec({func_type({kI32, kI64, kF32, kF64}, {kV128, kFuncRef, kExternRef}),
                           func_type({}, {})}))}));
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->types.size(), 2u);
  EXPECT_EQ(ir->types[0].params,
            (std::vector<ValType>{ValType::I32, ValType::I64, ValType::F32, ValType::F64}));
  EXPECT_EQ(ir->types[0].results,
            (std::vector<ValType>{ValType::V128, ValType::FuncRef, ValType::ExternRef}));
  EXPECT_TRUE(ir->types[1].params.empty());
}

TEST(DecoderTest, MalformedTypes) {
  expect_malformed(module({section(kType, vec({func_type({0x40}, {})}))}),
                   "malformed reference type");
  expect_malformed(module({section(kType, vec({func_type({0x7A}, {})}))}), "malformed vector type");
  expect_malformed(module({section(kType, vec({func_type({0xFF, 0x7F}, {})}))}),
                   "integer representation too long");
  expect_malformed(module({section(kType, vec({{0x61, 0x00, 0x00}}))}), "malformed function type");
  expect_malformed(module({section(kType, vec({{0xE0, 0x7F, 0x00, 0x00}}))}),
                   "integer representation too long");
}

TEST(DecoderTest, ImportsOfEveryKind) {
  Bytes imports = vec({
      cat({str("env"), str("f"), 0x00, 0x00}),
      cat({str("env"), str("t"), 0x01, kExternRef, 0x01, 0x01, 0x05}),
      cat({str("env"), str("m"), 0x02, 0x00, 0x02}),
      cat({str("env"), str("g"), 0x03, kI64, 0x01}),
  });
  auto ir = decode_ok(
      module({section(kType, vec({func_type({kI32}, {kI64})})), section(kImport, imports)}));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->num_imported_funcs, 1u);
  EXPECT_EQ(ir->num_imported_tables, 1u);
  EXPECT_EQ(ir->num_imported_memories, 1u);
  EXPECT_EQ(ir->num_imported_globals, 1u);
  ASSERT_EQ(ir->import_infos.size(), 4u);
  EXPECT_EQ(ir->import_infos[0].module, "env");
  EXPECT_EQ(ir->import_infos[0].name, "f");
  EXPECT_EQ(ir->import_infos[0].func, ir->types[0]);
  EXPECT_EQ(ir->tables[0].elem, ValType::ExternRef);
  EXPECT_EQ(ir->tables[0].limits.min, 1u);
  EXPECT_EQ(ir->tables[0].limits.max, 5u);
  EXPECT_EQ(ir->memories[0].limits.min, 2u);
  EXPECT_FALSE(ir->memories[0].limits.max);
  EXPECT_EQ(ir->globals[0].type, ValType::I64);
  EXPECT_TRUE(ir->globals[0].is_mutable);
  EXPECT_EQ(ir->func_types, std::vector<uint32_t>{0});
}

TEST(DecoderTest, ImportErrors) {
  expect_invalid(module({section(kImport, vec({cat({str("a"), str("b"), 0x00, 0x00})}))}),
                 "unknown type 0");
  expect_malformed(module({section(kImport, vec({cat({str("a"), str("b"), 0x04, 0x00})}))}),
                   "malformed import kind");
  expect_malformed(module({section(kImport, vec({cat({str("a"), str("b"), 0x03, kI32, 0x02})}))}),
                   "malformed mutability");
  expect_malformed(
      module({section(kImport, vec({cat({str("\xc0\x80"), str("b"), 0x02, 0x00, 0x00})}))}),
      "malformed UTF-8 encoding");
  expect_invalid(module({section(kImport, vec({cat({str("a"), str("m"), 0x02, 0x00, 0x00}),
                                               cat({str("a"), str("n"), 0x02, 0x00, 0x00})}))}),
                 "multiple memories");
}

// --- tables, memories, limits -------------------------------------------------------

TEST(DecoderTest, LimitsValidation) {
  auto mem = [](Bytes limits) { return module({section(kMemory, vec({limits}))}); };
  decode_ok(mem({0x01, 0x00, 0x80, 0x80, 0x04}));  // 0..65536 pages
  expect_invalid(mem({0x00, 0x81, 0x80, 0x04}), "memory size must be at most 65536 pages (4GiB)");
  expect_invalid(mem({0x01, 0x00, 0x81, 0x80, 0x04}),
                 "memory size must be at most 65536 pages (4GiB)");
  expect_invalid(mem({0x01, 0x02, 0x01}), "size minimum must not be greater than maximum");
  expect_malformed(mem({0x02, 0x00}), "integer too large");
  expect_malformed(mem({0x81, 0x00, 0x00, 0x00}), "integer representation too long");
  expect_invalid(module({section(kMemory, vec({{0x00, 0x00}, {0x00, 0x00}}))}),
                 "multiple memories");

  auto table = [](Bytes t) { return module({section(kTable, vec({t}))}); };
  auto ir = decode_ok(table({kFuncRef, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->tables[0].limits.max, 0xFFFFFFFFu);
  expect_invalid(table({kFuncRef, 0x01, 0x02, 0x01}),
                 "size minimum must not be greater than maximum");
  expect_malformed(table({kI32, 0x00, 0x00}), "malformed reference type");
  // Several tables are fine in 2.0.
  ir =
      decode_ok(module({section(kTable, vec({{kFuncRef, 0x00, 0x01}, {kExternRef, 0x00, 0x02}}))}));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->tables.size(), 2u);
}

// --- globals and constant expressions ----------------------------------------------

TEST(DecoderTest, ConstantExpressionsOfEveryKind) {
  Bytes imports = vec({cat({str("env"), str("g"), 0x03, kF32, 0x00})});
  Bytes v128 = {0xFD, 0x0C, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, kEnd};
  Bytes globals = vec({
      cat({kI32, 0x00, i32_const(-1)}),
      cat({kI64, 0x01, 0x42, sleb(-2), kEnd}),
      cat({kF32, 0x00, 0x43, 0x00, 0x00, 0x80, 0x3F, kEnd}),
      cat({kF64, 0x00, 0x44, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, kEnd}),
      cat({kV128, 0x00, v128}),
      cat({kFuncRef, 0x00, 0xD0, kFuncRef, kEnd}),
      cat({kExternRef, 0x00, 0xD0, kExternRef, kEnd}),
      cat({kFuncRef, 0x00, 0xD2, 0x00, kEnd}),
      cat({kF32, 0x00, 0x23, 0x00, kEnd}),
  });
  auto ir = decode_ok(
      module({void_type_section(), section(kImport, imports), section(kFunction, vec({{0x00}})),
              section(kGlobal, globals), section(kCode, vec({empty_body()}))}));
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->global_defs.size(), 9u);
  ASSERT_EQ(ir->globals.size(), 10u);
  using K = ConstExpr::Kind;
  const auto& d = ir->global_defs;
  EXPECT_EQ(d[0].init.kind, K::kI32);
  EXPECT_EQ(d[0].init.bits, 0xFFFFFFFFu);
  EXPECT_EQ(d[1].init.kind, K::kI64);
  EXPECT_EQ(d[1].init.bits, static_cast<uint64_t>(-2));
  EXPECT_TRUE(d[1].type.is_mutable);
  EXPECT_EQ(d[2].init.kind, K::kF32);
  EXPECT_EQ(d[2].init.bits, 0x3F800000u);
  EXPECT_EQ(d[3].init.kind, K::kF64);
  EXPECT_EQ(d[3].init.bits, 0x3FF0000000000000u);
  EXPECT_EQ(d[4].init.kind, K::kV128);
  EXPECT_EQ(d[4].init.bits, 0x0807060504030201u);
  EXPECT_EQ(d[4].init.bits_hi, 0x100F0E0D0C0B0A09u);
  EXPECT_EQ(d[5].init.kind, K::kRefNull);
  EXPECT_EQ(d[5].init.type, ValType::FuncRef);
  EXPECT_EQ(d[6].init.kind, K::kRefNull);
  EXPECT_EQ(d[6].init.type, ValType::ExternRef);
  EXPECT_EQ(d[7].init.kind, K::kRefFunc);
  EXPECT_EQ(d[7].init.bits, 0u);
  EXPECT_EQ(d[8].init.kind, K::kGlobalGet);
  EXPECT_EQ(d[8].init.bits, 0u);
  EXPECT_EQ(d[8].init.type, ValType::F32);
  // ref.func in a global initializer declares the function.
  EXPECT_EQ(ir->declared_func_refs, std::vector<bool>{true});
}

TEST(DecoderTest, ConstantExpressionErrors) {
  auto g = [](uint8_t type, Bytes init) {
    return module({section(kGlobal, vec({cat({type, 0x00, init})}))});
  };
  expect_invalid(g(kI32, {0x01, kEnd}), "constant expression required");  // nop
  expect_invalid(g(kI32, {0x41, 0x00, 0x41, 0x00, 0x6A, kEnd}), "constant expression required");
  expect_invalid(g(kI32, {0x20, 0x00, kEnd}), "constant expression required");  // local.get
  expect_invalid(g(kI32, {0x41, 0x00, 0x41, 0x00, kEnd}), "type mismatch");
  expect_invalid(g(kI32, {kEnd}), "type mismatch");
  expect_invalid(g(kI32, {0x42, 0x00, kEnd}), "type mismatch");
  expect_invalid(g(kFuncRef, {0xD0, kExternRef, kEnd}), "type mismatch");
  expect_invalid(g(kFuncRef, {0xD2, 0x00, kEnd}), "unknown function 0");
  // global.get sees only imported globals, and only immutable ones are constant.
  expect_invalid(module({section(kGlobal, vec({cat({kI32, 0x00, i32_const(0)}),
                                               cat({kI32, 0x00, 0x23, 0x00, kEnd})}))}),
                 "unknown global 0");
  expect_invalid(module({section(kImport, vec({cat({str("a"), str("g"), 0x03, kI32, 0x01})})),
                         section(kGlobal, vec({cat({kI32, 0x00, 0x23, 0x00, kEnd})}))}),
                 "constant expression required");
  // Malformed beats invalid: an unknown opcode, or a missing end.
  expect_malformed(g(kI32, {0x06, kEnd}), "illegal opcode 06");
  expect_malformed(g(kI32, {0x41, 0x00}), "unexpected end of section or function");
  expect_malformed(g(kI32, {0x41, 0x00, 0x05, kEnd}), "END opcode expected");
  expect_malformed(module({section(kGlobal, vec({cat({kI32, 0x02, i32_const(0)})}))}),
                   "malformed mutability");
}

// --- exports and start ---------------------------------------------------------------

TEST(DecoderTest, ExportsAndDeclaredFunctions) {
  Bytes m = module({
      void_type_section(),
      section(kFunction, vec({{0x00}, {0x00}})),
      section(kTable, vec({{kFuncRef, 0x00, 0x00}})),
      section(kMemory, vec({{0x00, 0x00}})),
      section(kGlobal, vec({cat({kI32, 0x00, i32_const(0)})})),
      section(kExport, vec({cat({str("f1"), 0x00, 0x01}), cat({str("t"), 0x01, 0x00}),
                            cat({str("m"), 0x02, 0x00}), cat({str("g"), 0x03, 0x00})})),
      section(kCode, vec({empty_body(), empty_body()})),
  });
  auto ir = decode_ok(m);
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->exports.size(), 4u);
  EXPECT_EQ(ir->exports[0].name, "f1");
  EXPECT_EQ(ir->exports[0].kind, ExternKind::Func);
  EXPECT_EQ(ir->exports[0].index, 1u);
  EXPECT_EQ(ir->exports[3].kind, ExternKind::Global);
  EXPECT_EQ(ir->declared_func_refs, (std::vector<bool>{false, true}));
}

TEST(DecoderTest, ExportErrors) {
  Bytes funcs = cat({void_type_section(), section(kFunction, vec({{0x00}}))});
  Bytes code = section(kCode, vec({empty_body()}));
  auto m = [&](Bytes exports) { return cat({kHeader, funcs, section(kExport, exports), code}); };
  expect_invalid(m(vec({cat({str("a"), 0x00, 0x01})})), "unknown function 1");
  expect_invalid(m(vec({cat({str("a"), 0x01, 0x00})})), "unknown table 0");
  expect_invalid(m(vec({cat({str("a"), 0x02, 0x00})})), "unknown memory 0");
  expect_invalid(m(vec({cat({str("a"), 0x03, 0x00})})), "unknown global 0");
  expect_invalid(m(vec({cat({str("a"), 0x00, 0x00}), cat({str("a"), 0x00, 0x00})})),
                 "duplicate export name");
  expect_malformed(m(vec({cat({str("a"), 0x04, 0x00})})), "malformed export kind");
  // Different names that share a prefix are distinct.
  decode_ok(m(vec(
      {cat({str("a"), 0x00, 0x00}), cat({str("ab"), 0x00, 0x00}), cat({str(""), 0x00, 0x00})})));
}

TEST(DecoderTest, StartFunction) {
  Bytes types = section(kType, vec({func_type({}, {}), func_type({kI32}, {})}));
  auto m = [&](uint8_t type, uint8_t start) {
    return module({types, section(kFunction, vec({{type}})), section(kStart, {start}),
                   section(kCode, vec({empty_body()}))});
  };
  auto ir = decode_ok(m(0, 0));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->start, 0u);
  expect_invalid(m(0, 1), "unknown function 1");
  expect_invalid(m(1, 0), "start function");
}

// --- function and code sections ------------------------------------------------------

TEST(DecoderTest, CodeBodiesAndLocals) {
  Bytes code = {0x20, 0x00, 0x1A, kEnd};  // local.get 0, drop
  Bytes b = body(vec({{0x03, kI32}, {0x01, kI64}, {0x00, kF32}, {0x02, kV128}}), code);
  Bytes m = one_function(b);
  auto ir = decode_ok(m);
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->bodies.size(), 1u);
  const FunctionBody& fb = ir->bodies[0];
  EXPECT_EQ(fb.type_index, 0u);
  EXPECT_EQ(fb.locals, (std::vector<ValType>{ValType::I32, ValType::I32, ValType::I32, ValType::I64,
                                             ValType::V128, ValType::V128}));
  ASSERT_EQ(fb.code_size, code.size());
  ASSERT_LE(fb.code_offset + fb.code_size, ir->bytes.size());
  EXPECT_EQ(0, std::memcmp(ir->bytes.data() + fb.code_offset, code.data(), code.size()));
}

TEST(DecoderTest, FunctionAndCodeCountsMustAgree) {
  expect_malformed(module({void_type_section(), section(kFunction, vec({{0x00}}))}),
                   "function and code section have inconsistent lengths");
  expect_malformed(module({void_type_section(), section(kCode, vec({empty_body()}))}),
                   "function and code section have inconsistent lengths");
  expect_invalid(module({section(kFunction, vec({{0x00}})), section(kCode, vec({empty_body()}))}),
                 "unknown type 0");
}

TEST(DecoderTest, TooManyLocals) {
  // 2^32 - 1 + 2 locals: malformed, whatever the limits.
  expect_malformed(
      one_function(body(vec({{0xFF, 0xFF, 0xFF, 0xFF, 0x0F, kI32}, {0x02, kI64}}), {kEnd})),
      "too many locals");
  // Over the engine's limit: kLimit, checked before anything is allocated.
  CompileOptions options;
  options.max_locals_per_function = 100;
  decode_ok(one_function(body(vec({cat({leb(100), kI32})}), {kEnd})), options);
  decode_error(one_function(body(vec({cat({leb(60), kI32}), cat({leb(41), kI64})}), {kEnd})),
               ErrorCode::kLimit, "too many locals", options);
}

TEST(DecoderTest, LocalsOfTheWholeModuleAreBoundedByItsSize) {
  // Each five-byte body declares 50,000 locals: 200 of them would expand a
  // 1 KiB module into 10 MB of locals.
  Bytes b = body(vec({cat({leb(50'000), kI32})}), {kEnd});
  Bytes funcs = leb(200);
  Bytes bodies = leb(200);
  for (int i = 0; i < 200; ++i) {
    funcs.push_back(0x00);
    bodies.insert(bodies.end(), b.begin(), b.end());
  }
  Bytes m = module({void_type_section(), section(kFunction, funcs), section(kCode, bodies)});
  decode_error(m, ErrorCode::kLimit, "too many locals in the module");
}

TEST(DecoderTest, EngineLimitsAreLimitErrors) {
  CompileOptions options;
  options.max_functions = 2;
  Bytes three = module({void_type_section(), section(kFunction, vec({{0x00}, {0x00}, {0x00}})),
                        section(kCode, vec({empty_body(), empty_body(), empty_body()}))});
  decode_error(three, ErrorCode::kLimit, "too many functions", options);
  Bytes imports =
      vec({cat({str("a"), str("f"), 0x00, 0x00}), cat({str("a"), str("g"), 0x00, 0x00})});
  decode_error(module({void_type_section(), section(kImport, imports),
                       section(kFunction, vec({{0x00}})), section(kCode, vec({empty_body()}))}),
               ErrorCode::kLimit, "too many functions", options);

  options = {};
  options.max_function_body_bytes = 4;
  decode_ok(one_function(body(vec({}), {0x01, 0x01, kEnd})), options);
  decode_error(one_function(body(vec({}), {0x01, 0x01, 0x01, kEnd})), ErrorCode::kLimit,
               "function body too large", options);
}

TEST(DecoderTest, BodyEncodingErrors) {
  auto f = [](Bytes code) { return one_function(body(vec({}), code)); };
  expect_malformed(f({0x06, kEnd}), "illegal opcode 06");
  expect_malformed(f({0xFC, 0x12, kEnd}), "illegal opcode fc 12");
  expect_malformed(f({0xFD, 0x9A, 0x01, kEnd}), "illegal opcode fd 9a");
  expect_malformed(f({0xFC, 0x87, 0x80, 0x80, 0x80, 0x80, 0x00, kEnd}),
                   "integer representation too long");
  expect_malformed(f({0x3F, 0x01, 0x1A, kEnd}), "zero byte expected");
  expect_malformed(f({0x05, kEnd}), "END opcode expected");  // else outside if
  expect_malformed(f({0x02, 0x40, 0x05, kEnd, kEnd}), "END opcode expected");
  expect_malformed(f({0x04, 0x40, 0x05, 0x05, kEnd, kEnd}), "END opcode expected");
  expect_malformed(f({0x02, 0x41, kEnd, kEnd}), "malformed reference type");  // block type
  expect_malformed(f({0xD0, 0x7F, 0x1A, kEnd}), "malformed reference type");
  expect_malformed(f({0x1C, 0x01, 0x40, kEnd}), "malformed reference type");  // select t
  // Trailing bytes after the final end.
  expect_malformed(f({0x01, kEnd, 0x01}), "section size mismatch");
  // A body that ends inside a block: the next body's bytes are read as
  // instructions, as the reference does.
  Bytes two = module({void_type_section(), section(kFunction, vec({{0x00}, {0x00}})),
                      section(kCode, vec({body(vec({}), {0x41, 0x01, 0x1A}),
                                          body(vec({}), {0x41, 0x01, 0x1A, kEnd})}))});
  expect_malformed(two, "END opcode expected");
  expect_malformed(f({0x02, 0x40, kEnd}), "unexpected end of section or function");
}

TEST(DecoderTest, BodiesWithEveryImmediateShapeDecode) {
  Bytes code = cat({
      0x02,
      0x40,
      0x03,
      0x7F,
      0x41,
      0x00,
      0x0B,
      0x1A,
      kEnd,  // block { loop (result i32) }
      0x02,
      0x00,
      kEnd,  // block (type 0)
      0x41,
      0x01,
      0x04,
      0x40,
      0x01,
      0x05,
      0x01,
      kEnd,  // if/else
      0x02,
      0x40,
      0x41,
      0x00,
      0x0E,
      0x02,
      0x00,
      0x00,
      0x00,
      kEnd,  // br_table
      0x41,
      0x00,
      0x41,
      0x00,
      0x41,
      0x00,
      0x1C,
      0x01,
      kI32,
      0x1A,  // select (result i32)
      0x41,
      0x00,
      0x28,
      0x02,
      0x10,
      0x1A,  // i32.load offset=16
      0x3F,
      0x00,
      0x1A,  // memory.size
      0x42,
      0x7F,
      0x1A,
      0x43,
      0,
      0,
      0,
      0,
      0x1A,  // i64.const, f32.const
      0x44,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x1A,  // f64.const
      0xD0,
      kFuncRef,
      0xD1,
      0x1A,
      0xD2,
      0x00,
      0x1A,  // ref.null, is_null, ref.func
      0xFC,
      0x00,  // i32.trunc_sat_f32_s (operand-less)
      0xFC,
      0x0A,
      0x00,
      0x00,
      0xFC,
      0x0B,
      0x00,  // memory.copy, memory.fill
      0xFC,
      0x0C,
      0x00,
      0x00,
      0xFC,
      0x0D,
      0x00,  // table.init, elem.drop
      0xFC,
      0x0E,
      0x00,
      0x00,
      0xFC,
      0x10,
      0x00,
      0x1A,  // table.copy, table.size
      0xFD,
      0x0C,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,  // v128.const
      0xFD,
      0x0D,
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,  // i8x16.shuffle
      0xFD,
      0x15,
      0x03,
      0x1A,  // i8x16.extract_lane_s 3
      0x41,
      0x00,
      0xFD,
      0x0C,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0xFD,
      0x54,
      0x00,
      0x00,
      0x01,
      0x1A,  // v128.load8_lane
             // 0 0 1
      0x41,
      0x00,
      0xFD,
      0x5C,
      0x02,
      0x00,
      0x1A,  // v128.load32_zero
      0xFD,
      0xFF,
      0x01,  // a two-byte sub-opcode
      kEnd,
  });
  // Only the encoding is checked here, not the types.
  auto ir = decode_ok(one_function(body(vec({}), code)));
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->bodies[0].code_size, code.size());
}

TEST(DecoderTest, DeepNestingDoesNotRecurse) {
  constexpr int kDepth = 100'000;
  Bytes code;
  for (int i = 0; i < kDepth; ++i) {
    code.insert(code.end(), {0x02, 0x40});
  }
  code.insert(code.end(), kDepth + 1, kEnd);
  decode_ok(one_function(body(vec({}), code)));
}

TEST(DecoderTest, DataCountRequiredByMemoryInitAndDataDrop) {
  Bytes memory = section(kMemory, vec({{0x00, 0x01}}));
  Bytes data = section(kData, vec({cat({0x01, str("x")})}));
  auto m = [&](Bytes code, bool with_count) {
    Bytes funcs = cat({void_type_section(), section(kFunction, vec({{0x00}})), memory});
    Bytes count = with_count ? section(kDataCount, {0x01}) : Bytes{};
    return cat({kHeader, funcs, count, section(kCode, vec({body(vec({}), code)})), data});
  };
  Bytes drop = {0xFC, 0x09, 0x00, kEnd};
  Bytes init = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x08, 0x00, 0x00, kEnd};
  decode_ok(m(drop, true));
  decode_ok(m(init, true));
  expect_malformed(m(drop, false), "data count section required");
  expect_malformed(m(init, false), "data count section required");
  expect_malformed(m({0xFC, 0x08, 0x00, 0x01, kEnd}, true), "zero byte expected");
}

// --- element segments -------------------------------------------------------------------

TEST(DecoderTest, AllEightElementEncodings) {
  Bytes offset = i32_const(1);
  Bytes null_expr = {0xD0, kFuncRef, kEnd};
  Bytes func_expr = {0xD2, 0x01, kEnd};
  Bytes elems = vec({
      cat({0x00, offset, vec({{0x00}, {0x01}})}),                // 0: active table 0, indices
      cat({0x01, 0x00, vec({{0x01}})}),                          // 1: passive, indices
      cat({0x02, 0x01, offset, 0x00, vec({{0x00}})}),            // 2: active table 1, indices
      cat({0x03, 0x00, vec({{0x02}})}),                          // 3: declarative, indices
      cat({0x04, offset, vec({null_expr, func_expr})}),          // 4: active table 0, exprs
      cat({0x05, kExternRef, vec({{0xD0, kExternRef, kEnd}})}),  // 5: passive, exprs
      cat({0x06, 0x01, offset, kFuncRef, vec({func_expr})}),     // 6: active table 1, exprs
      cat({0x07, kFuncRef, vec({null_expr})}),                   // 7: declarative, exprs
  });
  Bytes m = module({
      void_type_section(),
      section(kFunction, vec({{0x00}, {0x00}, {0x00}, {0x00}})),
      section(kTable, vec({{kFuncRef, 0x00, 0x05}, {kFuncRef, 0x00, 0x05}})),
      section(kElement, elems),
      section(kCode, vec({empty_body(), empty_body(), empty_body(), empty_body()})),
  });
  auto ir = decode_ok(m);
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->elems.size(), 8u);
  using K = ConstExpr::Kind;
  const auto& e = ir->elems;
  EXPECT_EQ(e[0].mode, SegmentMode::kActive);
  EXPECT_EQ(e[0].table, 0u);
  EXPECT_EQ(e[0].offset.kind, K::kI32);
  EXPECT_EQ(e[0].offset.bits, 1u);
  EXPECT_EQ(e[0].type, ValType::FuncRef);
  ASSERT_EQ(e[0].init.size(), 2u);
  EXPECT_EQ(e[0].init[1].kind, K::kRefFunc);
  EXPECT_EQ(e[0].init[1].bits, 1u);
  EXPECT_EQ(e[1].mode, SegmentMode::kPassive);
  EXPECT_EQ(e[2].mode, SegmentMode::kActive);
  EXPECT_EQ(e[2].table, 1u);
  EXPECT_EQ(e[3].mode, SegmentMode::kDeclarative);
  EXPECT_EQ(e[3].init[0].bits, 2u);
  EXPECT_EQ(e[4].mode, SegmentMode::kActive);
  EXPECT_EQ(e[4].init[0].kind, K::kRefNull);
  EXPECT_EQ(e[4].init[1].kind, K::kRefFunc);
  EXPECT_EQ(e[5].mode, SegmentMode::kPassive);
  EXPECT_EQ(e[5].type, ValType::ExternRef);
  EXPECT_EQ(e[6].table, 1u);
  EXPECT_EQ(e[7].mode, SegmentMode::kDeclarative);
  // Functions 0, 1, 2 are named by segments; 3 is not.
  EXPECT_EQ(ir->declared_func_refs, (std::vector<bool>{true, true, true, false}));
}

TEST(DecoderTest, ElementSegmentErrors) {
  Bytes funcs = cat({void_type_section(), section(kFunction, vec({{0x00}}))});
  Bytes code = section(kCode, vec({empty_body()}));
  auto m = [&](Bytes table, Bytes elems) {
    return cat({kHeader, funcs, table, section(kElement, elems), code});
  };
  Bytes funcref_table = section(kTable, vec({{kFuncRef, 0x00, 0x01}}));
  Bytes externref_table = section(kTable, vec({{kExternRef, 0x00, 0x01}}));
  expect_malformed(m(funcref_table, vec({{0x08}})), "malformed elements segment kind");
  expect_malformed(m(funcref_table, vec({cat({0x01, 0x01, vec({})})})), "malformed element kind");
  expect_malformed(m(funcref_table, vec({cat({0x05, kI32, vec({})})})), "malformed reference type");
  expect_malformed(m(funcref_table, vec({cat({0x05, kFuncRef, vec({{0xF3, 0x00, kEnd}})})})),
                   "illegal opcode f3");
  expect_invalid(m({}, vec({cat({0x00, i32_const(0), vec({})})})), "unknown table 0");
  expect_invalid(m(funcref_table, vec({cat({0x02, 0x01, i32_const(0), 0x00, vec({})})})),
                 "unknown table 1");
  expect_invalid(m(funcref_table, vec({cat({0x00, i32_const(0), vec({{0x01}})})})),
                 "unknown function 1");
  expect_invalid(m(externref_table, vec({cat({0x00, i32_const(0), vec({})})})), "type mismatch");
  expect_invalid(m(funcref_table, vec({cat({0x00, Bytes{0x42, 0x00, kEnd}, vec({})})})),
                 "type mismatch");
  expect_invalid(m(funcref_table, vec({cat({0x05, kFuncRef, vec({{0xD0, kExternRef, kEnd}})})})),
                 "type mismatch");
  expect_invalid(m(funcref_table, vec({cat({0x05, kFuncRef, vec({{0x41, 0x00, kEnd}})})})),
                 "type mismatch");
  expect_invalid(m(funcref_table, vec({cat({0x05, kFuncRef, vec({{0x01, kEnd}})})})),
                 "constant expression required");
}

// --- data segments --------------------------------------------------------------------------

TEST(DecoderTest, AllThreeDataEncodings) {
  Bytes datas = vec({
      cat({0x00, i32_const(8), str("abc")}),
      cat({0x01, str("de")}),
      cat({0x02, 0x00, i32_const(16), str("")}),
  });
  Bytes m = module(
      {section(kMemory, vec({{0x00, 0x01}})), section(kDataCount, {0x03}), section(kData, datas)});
  auto ir = decode_ok(m);
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->datas.size(), 3u);
  EXPECT_EQ(ir->data_count, 3u);
  const auto& d = ir->datas;
  EXPECT_EQ(d[0].mode, SegmentMode::kActive);
  EXPECT_EQ(d[0].offset.bits, 8u);
  ASSERT_EQ(d[0].size, 3u);
  EXPECT_EQ(0, std::memcmp(ir->bytes.data() + d[0].bytes_offset, "abc", 3));
  EXPECT_EQ(d[1].mode, SegmentMode::kPassive);
  ASSERT_EQ(d[1].size, 2u);
  EXPECT_EQ(0, std::memcmp(ir->bytes.data() + d[1].bytes_offset, "de", 2));
  EXPECT_EQ(d[2].mode, SegmentMode::kActive);
  EXPECT_EQ(d[2].memory, 0u);
  EXPECT_EQ(d[2].offset.bits, 16u);
  EXPECT_EQ(d[2].size, 0u);
}

TEST(DecoderTest, DataSegmentErrors) {
  Bytes memory = section(kMemory, vec({{0x00, 0x01}}));
  expect_malformed(module({memory, section(kData, vec({cat({0x03, str("")})}))}),
                   "malformed data segment kind");
  expect_invalid(module({section(kData, vec({cat({0x00, i32_const(0), str("")})}))}),
                 "unknown memory 0");
  expect_invalid(module({memory, section(kData, vec({cat({0x02, 0x01, i32_const(0), str("")})}))}),
                 "unknown memory 1");
  expect_invalid(
      module({memory, section(kData, vec({cat({0x00, Bytes{0x42, 0x00, kEnd}, str("")})}))}),
      "type mismatch");
  expect_malformed(
      module({memory, section(kDataCount, {0x02}), section(kData, vec({cat({0x01, str("")})}))}),
      "data count and data section have inconsistent lengths");
  expect_malformed(module({memory, section(kDataCount, {0x01})}),
                   "data count and data section have inconsistent lengths");
  // Bytes past the module's end. As in the reference, a length may count the
  // bytes of its own encoding before it is "out of bounds".
  expect_malformed(cat({kHeader, memory, kData, 0x05, 0x01, 0x01, 0x03, 'a', 'b'}),
                   "unexpected end of section or function");
  expect_malformed(cat({kHeader, memory, kData, 0x05, 0x01, 0x01, 0x04, 'a', 'b'}),
                   "length out of bounds");
}

// --- the name section -----------------------------------------------------------------------

Bytes name_section(Bytes subsections) {
  return section(kCustom, cat({str("name"), subsections}));
}

TEST(DecoderTest, NameSectionGivesModuleAndFunctionNames) {
  Bytes module_name = cat({0x00, leb(4), str("mod")});
  Bytes func_names = cat({vec({cat({0x00, str("first")}), cat({0x01, str("second")})})});
  Bytes func_sub = cat({0x01, leb(func_names.size()), func_names});
  Bytes local_sub = cat({0x02, leb(3), 0x00, 0x00, 0x00});  // skipped
  Bytes m = module({void_type_section(), section(kFunction, vec({{0x00}, {0x00}})),
                    section(kCode, vec({empty_body(), empty_body()})),
                    name_section(cat({module_name, func_sub, local_sub}))});
  auto ir = decode_ok(m);
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->module_name, "mod");
  ASSERT_EQ(ir->func_names.size(), 2u);
  EXPECT_EQ(ir->func_names.at(0), "first");
  EXPECT_EQ(ir->func_names.at(1), "second");
  EXPECT_EQ(ir->sections.back().name, "name");
}

TEST(DecoderTest, MalformedNameSectionIsIgnored) {
  Bytes funcs = cat({void_type_section(), section(kFunction, vec({{0x00}})),
                     section(kCode, vec({empty_body()}))});
  auto with_names = [&](Bytes subsections) {
    return cat({kHeader, funcs, name_section(subsections)});
  };
  // A subsection longer than the section.
  auto ir = decode_ok(with_names({0x01, 0x10, 0x01}));
  ASSERT_TRUE(ir);
  EXPECT_TRUE(ir->func_names.empty());
  // Bad UTF-8 in a function name drops the module name too.
  Bytes module_name = cat({0x00, leb(4), str("mod")});
  Bytes bad = cat({vec({cat({0x00, str("\xff")})})});
  ir = decode_ok(with_names(cat({module_name, 0x01, leb(bad.size()), bad})));
  ASSERT_TRUE(ir);
  EXPECT_TRUE(ir->module_name.empty());
  EXPECT_TRUE(ir->func_names.empty());
  // Subsections out of order.
  ir = decode_ok(with_names(cat({0x01, 0x01, 0x00, module_name})));
  ASSERT_TRUE(ir);
  EXPECT_TRUE(ir->module_name.empty());
  // A name for a function that does not exist is dropped, the rest kept.
  Bytes names = cat({vec({cat({0x00, str("f")}), cat({0x07, str("ghost")})})});
  ir = decode_ok(with_names(cat({0x01, leb(names.size()), names})));
  ASSERT_TRUE(ir);
  ASSERT_EQ(ir->func_names.size(), 1u);
  EXPECT_EQ(ir->func_names.at(0), "f");
}

// --- ordering of errors and robustness ------------------------------------------------------

TEST(DecoderTest, MalformedIsReportedOverAnEarlierInvalid) {
  // An export of an unknown function (invalid), then an illegal opcode in a body.
  Bytes m = module({void_type_section(), section(kFunction, vec({{0x00}})),
                    section(kExport, vec({cat({str("a"), 0x00, 0x05})})),
                    section(kCode, vec({body(vec({}), {0x06, kEnd})}))});
  expect_malformed(m, "illegal opcode 06");
}

// A module that uses most of the format, for mutation tests.
Bytes rich_module() {
  Bytes func_names = vec({cat({0x00, str("f")})});
  return module({
      section(kType, vec({func_type({kI32}, {kI32}), func_type({}, {})})),
      section(kImport, vec({cat({str("env"), str("g"), 0x03, kI32, 0x00})})),
      section(kFunction, vec({{0x00}, {0x01}})),
      section(kTable, vec({{kFuncRef, 0x00, 0x02}})),
      section(kMemory, vec({{0x01, 0x01, 0x02}})),
      section(kGlobal, vec({cat({kI32, 0x01, 0x23, 0x00, kEnd})})),
      section(kExport, vec({cat({str("f"), 0x00, 0x00}), cat({str("mem"), 0x02, 0x00})})),
      section(kStart, {0x01}),
      section(kElement, vec({cat({0x00, i32_const(0), vec({{0x00}, {0x01}})})})),
      section(kDataCount, {0x01}),
      section(kCode, vec({body(vec({{0x01, kI64}}),
                               {0x20, 0x00, 0x04, 0x7F, 0x41, 0x01, 0x05, 0x41, 0x02, kEnd, kEnd}),
                          body(vec({}), {0xFC, 0x09, 0x00, kEnd})})),
      section(kData, vec({cat({0x00, i32_const(4), str("hi")})})),
      name_section(cat({0x01, leb(func_names.size()), func_names})),
  });
}

TEST(DecoderTest, RichModuleDecodes) {
  auto ir = decode_ok(rich_module());
  ASSERT_TRUE(ir);
  EXPECT_EQ(ir->func_types.size(), 2u);
  EXPECT_EQ(ir->func_names.at(0), "f");
  EXPECT_EQ(ir->start, 1u);
}

TEST(DecoderTest, TruncatedAndMutatedModulesNeverCrash) {
  const Bytes good = rich_module();
  for (size_t n = 0; n < good.size(); ++n) {
    Bytes prefix(good.begin(), good.begin() + n);
    (void)decode(prefix, CompileOptions{});
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (int v = 0; v < 256; ++v) {
      Bytes m = good;
      m[i] = static_cast<uint8_t>(v);
      auto r = decode(m, CompileOptions{});
      if (!r.is_ok()) {
        int code = r.error().code();
        EXPECT_TRUE(code == static_cast<int>(ErrorCode::kMalformed) ||
                    code == static_cast<int>(ErrorCode::kInvalid) ||
                    code == static_cast<int>(ErrorCode::kLimit))
            << r.message();
      }
    }
  }
}

}  // namespace
}  // namespace rusm::wasm
