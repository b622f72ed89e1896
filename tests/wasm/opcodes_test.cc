// Unit tests of the opcode table (src/wasm/opcodes.h): its own consistency,
// and that the decoder and the interpreter's compiler agree with it.
#include "wasm/opcodes.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "wasm/compiler.h"
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
// must end in `end`), and a memory.
Bytes one_function(const Bytes& code) {
  Bytes m = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};
  auto section = [&m](uint8_t id, const Bytes& contents) {
    m.push_back(id);
    append_leb(&m, contents.size());
    m.insert(m.end(), contents.begin(), contents.end());
  };
  section(1, {0x01, 0x60, 0x00, 0x00});  // type section: [] -> []
  section(3, {0x01, 0x00});              // function section
  section(5, {0x01, 0x00, 0x01});        // memory section: one memory, min 1
  Bytes body = {0x00};                   // no locals
  body.insert(body.end(), code.begin(), code.end());
  Bytes code_section = {0x01};
  append_leb(&code_section, body.size());
  code_section.insert(code_section.end(), body.begin(), body.end());
  section(10, code_section);
  return m;
}

std::string decode_message(const Bytes& code) {
  auto r = decode(one_function(code), CompileOptions{});
  return r.is_ok() ? "" : r.message();
}

std::string hex(uint32_t v, const char* format) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

TEST(OpcodeTableTest, EveryRowLooksUpToItself) {
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    const Opcode op = static_cast<Opcode>(i);
    const OpcodeInfo& info = opcode_info(op);
    const Opcode found = info.prefix == 0 ? opcode_of(static_cast<uint8_t>(info.code))
                                          : prefixed_opcode(info.prefix, info.code);
    EXPECT_EQ(found, op) << info.name << " does not look up to its own row";
  }
}

TEST(OpcodeTableTest, HoldsTheWholeWasm20InstructionSet) {
  size_t one_byte = 0, fc = 0, fd = 0;
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    const OpcodeInfo& info = opcode_info(static_cast<Opcode>(i));
    (info.prefix == 0 ? one_byte : info.prefix == kPrefixFC ? fc : fd)++;
  }
  EXPECT_EQ(one_byte, 183u);  // MVP + sign extension + reference types
  EXPECT_EQ(fc, 18u);         // saturating truncation, bulk memory and tables
  EXPECT_EQ(fd, 236u);        // fixed-width SIMD
  EXPECT_EQ(opcode_of(kPrefixFC), kNoOpcode);
  EXPECT_EQ(opcode_of(kPrefixFD), kNoOpcode);
  EXPECT_EQ(prefixed_opcode(kPrefixFD, 256), kNoOpcode);
  EXPECT_EQ(prefixed_opcode(kPrefixFC, 18), kNoOpcode);
}

TEST(OpcodeTableTest, NamesAreTheTextFormatsAndUnique) {
  EXPECT_STREQ(opcode_name(Opcode::i32_add), "i32.add");
  EXPECT_STREQ(opcode_name(Opcode::br_if), "br_if");
  EXPECT_STREQ(opcode_name(Opcode::if_), "if");
  EXPECT_STREQ(opcode_name(Opcode::i64_trunc_sat_f64_u), "i64.trunc_sat_f64_u");
  EXPECT_STREQ(opcode_name(Opcode::v128_load8_lane), "v128.load8_lane");
  EXPECT_STREQ(opcode_name(Opcode::i32x4_trunc_sat_f64x2_u_zero), "i32x4.trunc_sat_f64x2_u_zero");
  std::set<std::string> names;
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    const Opcode op = static_cast<Opcode>(i);
    if (op == Opcode::select_t) {
      EXPECT_STREQ(opcode_name(op), "select");  // the typed form has the same name
      continue;
    }
    EXPECT_TRUE(names.insert(opcode_name(op)).second) << "duplicate name " << opcode_name(op);
  }
}

TEST(OpcodeTableTest, SignaturesAgreeWithImmediates) {
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    const OpcodeInfo& r = opcode_info(static_cast<Opcode>(i));
    switch (r.cls) {
      case OpClass::kSpecial:
        break;
      case OpClass::kUnary:
      case OpClass::kReinterpret:
        EXPECT_EQ(r.imm, ImmKind::kNone) << r.name;
        EXPECT_NE(r.a, kNoType) << r.name;
        EXPECT_EQ(r.b, kNoType) << r.name;
        EXPECT_NE(r.result, kNoType) << r.name;
        break;
      case OpClass::kBinary:
      case OpClass::kTernary:
        EXPECT_EQ(r.imm, ImmKind::kNone) << r.name;
        EXPECT_NE(r.b, kNoType) << r.name;
        EXPECT_EQ(r.c == kNoType, r.cls == OpClass::kBinary) << r.name;
        EXPECT_NE(r.result, kNoType) << r.name;
        break;
      case OpClass::kLoad:
      case OpClass::kStore:
        EXPECT_EQ(r.imm, ImmKind::kMemarg) << r.name;
        EXPECT_EQ(r.a, ValType::I32) << r.name;
        EXPECT_LE(r.align, 4) << r.name;
        EXPECT_EQ(r.result == kNoType, r.cls == OpClass::kStore) << r.name;
        break;
      case OpClass::kLoadLane:
      case OpClass::kStoreLane:
        EXPECT_EQ(r.imm, ImmKind::kMemargLane) << r.name;
        EXPECT_EQ(r.lanes, 16 >> r.align) << r.name << ": a lane is as wide as the access";
        break;
      case OpClass::kExtractLane:
      case OpClass::kReplaceLane:
        EXPECT_EQ(r.imm, ImmKind::kLane) << r.name;
        EXPECT_TRUE(r.lanes == 2 || r.lanes == 4 || r.lanes == 8 || r.lanes == 16) << r.name;
        break;
    }
  }
  EXPECT_EQ(opcode_info(Opcode::i64_load16_s).align, 1);
  EXPECT_EQ(opcode_info(Opcode::v128_load64_splat).align, 3);
  EXPECT_EQ(opcode_info(Opcode::f64_store).b, ValType::F64);
  EXPECT_EQ(opcode_info(Opcode::i8x16_shl).b, ValType::I32);
}

// The decoder's notion of a known opcode is the table's: every byte and
// sub-opcode outside it is "illegal opcode", every one inside it is not.
TEST(OpcodeTableTest, DecoderRejectsExactlyWhatTheTableLacks) {
  for (uint32_t b = 0; b < 256; ++b) {
    if (b == kPrefixFC || b == kPrefixFD) {
      continue;
    }
    std::string msg = decode_message({static_cast<uint8_t>(b), 0x0B});
    if (opcode_of(static_cast<uint8_t>(b)) == kNoOpcode) {
      EXPECT_NE(msg.find("illegal opcode " + hex(b, "%02x")), std::string::npos)
          << "byte " << b << ": " << msg;
    } else {
      EXPECT_EQ(msg.find("illegal opcode"), std::string::npos) << "byte " << b << ": " << msg;
    }
  }
  for (uint8_t prefix : {kPrefixFC, kPrefixFD}) {
    const char* space = prefix == kPrefixFC ? "fc " : "fd ";
    for (uint32_t sub = 0; sub < 300; ++sub) {
      Bytes code = {prefix};
      append_leb(&code, sub);
      code.push_back(0x0B);
      std::string msg = decode_message(code);
      if (prefixed_opcode(prefix, sub) == kNoOpcode) {
        EXPECT_NE(msg.find(std::string("illegal opcode ") + space + hex(sub, "%x")),
                  std::string::npos)
            << space << sub << ": " << msg;
      } else {
        EXPECT_EQ(msg.find("illegal opcode"), std::string::npos) << space << sub << ": " << msg;
      }
    }
  }
}

// Every instruction the table types by class has an internal instruction in
// the interpreter; kSpecial ones are emitted by hand.
TEST(OpcodeTableTest, InterpreterImplementsEveryTableTypedInstruction) {
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    const Opcode op = static_cast<Opcode>(i);
    const bool special = opcode_info(op).cls == OpClass::kSpecial;
    EXPECT_EQ(internal::interp_op(op) == internal::Op::kCount, special) << opcode_name(op);
  }
  EXPECT_EQ(internal::interp_op(Opcode::f32_store), internal::Op::i32_store);
  EXPECT_EQ(internal::interp_op(Opcode::i8x16_add), internal::Op::i8x16_add);
}

}  // namespace
}  // namespace rusm::wasm
