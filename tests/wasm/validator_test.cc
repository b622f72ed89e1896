// Unit tests of the shared validator (src/wasm/validator.h) through a code
// generator that records the callbacks it receives.
#include "wasm/validator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wasm/decoder.h"

namespace rusm::wasm {
namespace {

using Bytes = std::vector<uint8_t>;

void append_leb(Bytes* out, uint64_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out->push_back(v ? (b | 0x80) : b);
  } while (v);
}

// A module with one function of type [] -> [] whose body is `code` (which
// must end in `end`).
std::unique_ptr<ModuleIR> one_function(const Bytes& code) {
  Bytes m = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};
  auto section = [&m](uint8_t id, const Bytes& contents) {
    m.push_back(id);
    append_leb(&m, contents.size());
    m.insert(m.end(), contents.begin(), contents.end());
  };
  section(1, {0x01, 0x60, 0x00, 0x00});
  section(3, {0x01, 0x00});
  Bytes body = {0x00};
  body.insert(body.end(), code.begin(), code.end());
  Bytes code_section = {0x01};
  append_leb(&code_section, body.size());
  code_section.insert(code_section.end(), body.begin(), body.end());
  section(10, code_section);
  auto r = decode(m, CompileOptions{});
  EXPECT_TRUE(r.is_ok()) << r.message();
  return r.is_ok() ? std::move(r.value()) : nullptr;
}

// Records each callback as a line; refuses on_numeric when told to.
class Recorder final : public CodeGen {
 public:
  std::vector<std::string> calls;
  bool refuse_numeric = false;

  const std::string& error() const override { return error_; }
  ErrorCode error_code() const override { return ErrorCode::kLimit; }

  bool on_unreachable() override { return note("unreachable"); }
  bool on_block(FrameKind kind, const std::vector<ValType>& params,
                const std::vector<ValType>& results) override {
    return note(kind == FrameKind::kLoop ? "loop" : "block");
  }
  bool on_if(const std::vector<ValType>&, const std::vector<ValType>&) override {
    return note("if");
  }
  bool on_else() override { return note("else"); }
  bool on_end() override { return note("end"); }
  bool on_br(uint32_t depth) override { return note("br " + std::to_string(depth)); }
  bool on_br_if(uint32_t depth) override { return note("br_if " + std::to_string(depth)); }
  bool on_br_table(const std::vector<uint32_t>& depths, uint32_t def) override {
    return note("br_table " + std::to_string(depths.size()) + " " + std::to_string(def));
  }
  bool on_return() override { return note("return"); }
  bool on_call(uint32_t f, const FuncType&) override { return note("call"); }
  bool on_call_indirect(uint32_t, uint32_t, const FuncType&) override {
    return note("call_indirect");
  }
  bool on_drop() override { return note("drop"); }
  bool on_select(ValType t) override {
    return note(std::string("select ") + (t == kNoType ? "bottom" : to_string(t)));
  }
  bool on_local_get(uint32_t i) override { return note("local.get"); }
  bool on_local_set(uint32_t i, bool tee) override { return note("local.set"); }
  bool on_global_get(uint32_t, ValType) override { return note("global.get"); }
  bool on_global_set(uint32_t, ValType) override { return note("global.set"); }
  bool on_const(ValType t, uint64_t lo, uint64_t hi) override {
    return note(std::string("const ") + to_string(t) + " " + std::to_string(lo));
  }
  bool on_numeric(Opcode op) override {
    if (refuse_numeric) {
      error_ = "too much for this generator";
      return false;
    }
    return note(opcode_name(op));
  }
  bool on_load(Opcode op, uint64_t offset) override {
    return note(std::string(opcode_name(op)) + " offset " + std::to_string(offset));
  }
  bool on_store(Opcode op, uint64_t) override { return note(opcode_name(op)); }
  bool on_load_lane(Opcode op, uint64_t, uint8_t) override { return note(opcode_name(op)); }
  bool on_store_lane(Opcode op, uint64_t, uint8_t) override { return note(opcode_name(op)); }
  bool on_lane(Opcode op, uint8_t lane) override {
    return note(std::string(opcode_name(op)) + " " + std::to_string(lane));
  }
  bool on_shuffle(const uint8_t[16]) override { return note("shuffle"); }
  bool on_memory_size() override { return note("memory.size"); }
  bool on_memory_grow() override { return note("memory.grow"); }
  bool on_memory_init(uint32_t) override { return note("memory.init"); }
  bool on_data_drop(uint32_t) override { return note("data.drop"); }
  bool on_memory_copy() override { return note("memory.copy"); }
  bool on_memory_fill() override { return note("memory.fill"); }
  bool on_table_get(uint32_t, ValType) override { return note("table.get"); }
  bool on_table_set(uint32_t, ValType) override { return note("table.set"); }
  bool on_table_init(uint32_t, uint32_t) override { return note("table.init"); }
  bool on_elem_drop(uint32_t) override { return note("elem.drop"); }
  bool on_table_copy(uint32_t, uint32_t) override { return note("table.copy"); }
  bool on_table_grow(uint32_t, ValType) override { return note("table.grow"); }
  bool on_table_size(uint32_t) override { return note("table.size"); }
  bool on_table_fill(uint32_t, ValType) override { return note("table.fill"); }
  bool on_ref_is_null() override { return note("ref.is_null"); }
  bool on_ref_func(uint32_t) override { return note("ref.func"); }

 private:
  bool note(std::string s) {
    calls.push_back(std::move(s));
    return true;
  }
  std::string error_;
};

using Calls = std::vector<std::string>;

TEST(ValidatorTest, DrivesTheGeneratorOncePerInstruction) {
  // i32.const 1; i32.const 2; i32.add; drop; nop; end
  auto ir = one_function({0x41, 0x01, 0x41, 0x02, 0x6A, 0x1A, 0x01, 0x0B});
  ASSERT_NE(ir, nullptr);
  Recorder gen;
  Status s = validate_function(*ir, 0, gen);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(gen.calls, (Calls{"const i32 1", "const i32 2", "i32.add", "drop", "end"}));
}

TEST(ValidatorTest, HandsTheGeneratorWhatItComputed) {
  // f64.const 0; f64.const 0; i32.const 1; select; drop;
  // block; i32.const 0; br_table 0 0 1; end; end
  Bytes code = {0x44};
  code.insert(code.end(), 8, 0);
  code.push_back(0x44);
  code.insert(code.end(), 8, 0);
  Bytes rest = {0x41, 0x01, 0x1B, 0x1A, 0x02, 0x40, 0x41, 0x00,
                0x0E, 0x02, 0x00, 0x00, 0x01, 0x0B, 0x0B};
  code.insert(code.end(), rest.begin(), rest.end());
  auto ir = one_function(code);
  ASSERT_NE(ir, nullptr);
  Recorder gen;
  Status s = validate_function(*ir, 0, gen);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(gen.calls, (Calls{"const f64 0", "const f64 0", "const i32 1", "select f64", "drop",
                              "block", "const i32 0", "br_table 2 1", "end", "end"}));
}

TEST(ValidatorTest, UnreachableCodeIsTypedWithTheBottomType) {
  // block; br 0; i32.add; select; drop; end; end: valid, every instruction
  // reaches the generator, select with no known type.
  auto ir = one_function({0x02, 0x40, 0x0C, 0x00, 0x6A, 0x1B, 0x1A, 0x0B, 0x0B});
  ASSERT_NE(ir, nullptr);
  Recorder gen;
  Status s = validate_function(*ir, 0, gen);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(gen.calls, (Calls{"block", "br 0", "i32.add", "select bottom", "drop", "end", "end"}));
}

TEST(ValidatorTest, AnInvalidInstructionNeverReachesTheGenerator) {
  // i32.const 1; i64.const 2; i32.add (at body offset 4): type mismatch.
  auto ir = one_function({0x41, 0x01, 0x42, 0x02, 0x6A, 0x1A, 0x0B});
  ASSERT_NE(ir, nullptr);
  Recorder gen;
  Status s = validate_function(*ir, 0, gen);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error().code(), static_cast<int>(ErrorCode::kInvalid));
  size_t at = ir->bodies[0].code_offset + 4;
  char expected[96];
  std::snprintf(expected, sizeof expected, "code section, offset 0x%zx: type mismatch (function 0)",
                at);
  EXPECT_EQ(s.message(), expected);
  EXPECT_EQ(gen.calls, (Calls{"const i32 1", "const i64 2"}));
}

TEST(ValidatorTest, AGeneratorLimitIsReportedAtItsInstruction) {
  auto ir = one_function({0x41, 0x01, 0x41, 0x02, 0x6A, 0x1A, 0x0B});
  ASSERT_NE(ir, nullptr);
  Recorder gen;
  gen.refuse_numeric = true;
  Status s = validate_function(*ir, 0, gen);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error().code(), static_cast<int>(ErrorCode::kLimit));
  char expected[112];
  std::snprintf(expected, sizeof expected,
                "code section, offset 0x%zx: too much for this generator (function 0)",
                static_cast<size_t>(ir->bodies[0].code_offset + 4));
  EXPECT_EQ(s.message(), expected);
}

}  // namespace
}  // namespace rusm::wasm
