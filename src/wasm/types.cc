// Names and printing of the engine's value types, values, traps and statuses.
#include <cinttypes>
#include <cstdio>

#include "rusm/wasm.h"

namespace rusm::wasm {

const char* to_string(ValType t) {
  switch (t) {
    case ValType::I32:
      return "i32";
    case ValType::I64:
      return "i64";
    case ValType::F32:
      return "f32";
    case ValType::F64:
      return "f64";
    case ValType::V128:
      return "v128";
    case ValType::FuncRef:
      return "funcref";
    case ValType::ExternRef:
      return "externref";
  }
  return "?";
}

std::string to_string(const FuncType& t) {
  std::string s = "(";
  for (size_t i = 0; i < t.params.size(); ++i) {
    s += i ? ", " : "";
    s += to_string(t.params[i]);
  }
  s += ") -> (";
  for (size_t i = 0; i < t.results.size(); ++i) {
    s += i ? ", " : "";
    s += to_string(t.results[i]);
  }
  return s + ")";
}

const char* to_string(ExternKind k) {
  switch (k) {
    case ExternKind::Func:
      return "func";
    case ExternKind::Table:
      return "table";
    case ExternKind::Memory:
      return "memory";
    case ExternKind::Global:
      return "global";
  }
  return "?";
}

const char* to_string(TrapCode code) {
  switch (code) {
    case TrapCode::kUnreachable:
      return "unreachable";
    case TrapCode::kIntegerDivideByZero:
      return "integer divide by zero";
    case TrapCode::kIntegerOverflow:
      return "integer overflow";
    case TrapCode::kInvalidConversion:
      return "invalid conversion to integer";
    case TrapCode::kOutOfBoundsMemory:
      return "out of bounds memory access";
    case TrapCode::kOutOfBoundsTable:
      return "out of bounds table access";
    case TrapCode::kUndefinedElement:
      return "undefined element";
    case TrapCode::kUninitializedElement:
      return "uninitialized element";
    case TrapCode::kIndirectCallTypeMismatch:
      return "indirect call type mismatch";
    case TrapCode::kNullReference:
      return "null reference";
    case TrapCode::kCallStackExhausted:
      return "call stack exhausted";
    case TrapCode::kOutOfBoundsDataSegment:
      return "out of bounds memory access";
    case TrapCode::kOutOfBoundsElemSegment:
      return "out of bounds table access";
    case TrapCode::kHost:
      return "host trap";
  }
  return "?";
}

std::string Trap::to_string() const {
  std::string s = message.empty() ? wasm::to_string(code) : message;
  s += " in function " + std::to_string(func_index);
  if (!func_name.empty()) {
    s += " (" + func_name + ")";
  }
  return s;
}

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kFinished:
      return "finished";
    case RunStatus::kTrapped:
      return "trapped";
    case RunStatus::kOutOfFuel:
      return "out of fuel";
    case RunStatus::kSuspended:
      return "suspended";
  }
  return "?";
}

Value Value::f32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return Value(ValType::F32, bits);
}

Value Value::f64(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return Value(ValType::F64, bits);
}

Value Value::v128(const V128& v) {
  Value r(ValType::V128, 0);
  std::memcpy(&r.bits_, v.bytes, 8);
  std::memcpy(&r.hi_, v.bytes + 8, 8);
  return r;
}

Value Value::v128_words(uint64_t lo, uint64_t hi) {
  Value r(ValType::V128, lo);
  r.hi_ = hi;
  return r;
}

Value Value::funcref(Function* f) {
  return Value(ValType::FuncRef, reinterpret_cast<uintptr_t>(f));
}

Value Value::externref(uintptr_t word) {
  return Value(ValType::ExternRef, word);
}

Value Value::null(ValType ref_type) {
  return Value(ref_type, 0);
}

Value Value::zero(ValType t) {
  return Value(t, 0);
}

float Value::f32() const {
  float f;
  uint32_t bits = f32_bits();
  std::memcpy(&f, &bits, 4);
  return f;
}

double Value::f64() const {
  double d;
  std::memcpy(&d, &bits_, 8);
  return d;
}

V128 Value::v128() const {
  V128 v;
  std::memcpy(v.bytes, &bits_, 8);
  std::memcpy(v.bytes + 8, &hi_, 8);
  return v;
}

std::string Value::to_string() const {
  char buf[96];
  switch (type_) {
    case ValType::I32:
      std::snprintf(buf, sizeof buf, "i32:%" PRIu32, i32());
      break;
    case ValType::I64:
      std::snprintf(buf, sizeof buf, "i64:%" PRIu64, i64());
      break;
    case ValType::F32:
      std::snprintf(buf, sizeof buf, "f32:%.9g", static_cast<double>(f32()));
      break;
    case ValType::F64:
      std::snprintf(buf, sizeof buf, "f64:%.17g", f64());
      break;
    case ValType::V128:
      std::snprintf(buf, sizeof buf, "v128:0x%016" PRIx64 "%016" PRIx64, hi_, bits_);
      break;
    case ValType::FuncRef:
      if (is_null()) {
        return "funcref:null";
      }
      std::snprintf(buf, sizeof buf, "funcref:%p", reinterpret_cast<void*>(bits_));
      break;
    case ValType::ExternRef:
      if (is_null()) {
        return "externref:null";
      }
      std::snprintf(buf, sizeof buf, "externref:%" PRIu64, bits_);
      break;
  }
  return buf;
}

}  // namespace rusm::wasm
