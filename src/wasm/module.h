// The decoded form of a binary module: what the decoder (decoder.h) produces
// and the compiler and instantiator consume. Everything here has passed the
// module-level checks of validation (index bounds, limits, constant
// expressions, export names unique, ...); function bodies are kept as byte
// ranges and validated by the compiler, which translates them to internal
// code in the same pass.
//
// Immutable once built; shared by every instance of the module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rusm/wasm.h"

namespace rusm::wasm {

// A constant expression. In Wasm 2.0 a constant expression is one
// instruction followed by `end`: a constant, ref.null, ref.func or
// global.get of an imported global.
struct ConstExpr {
  enum class Kind : uint8_t { kI32, kI64, kF32, kF64, kV128, kRefNull, kRefFunc, kGlobalGet };
  Kind kind = Kind::kI32;
  ValType type = ValType::I32;  // type of the value it produces
  uint64_t bits = 0;            // constant payload (low half for v128), func or global index
  uint64_t bits_hi = 0;         // high half of a v128 constant
};

enum class SegmentMode : uint8_t { kActive, kPassive, kDeclarative };

struct ElemSegment {
  SegmentMode mode = SegmentMode::kActive;
  uint32_t table = 0;        // active only
  ConstExpr offset;          // active only, i32
  ValType type = ValType::FuncRef;
  std::vector<ConstExpr> init;  // one per element (function-index forms become kRefFunc)
};

struct DataSegment {
  SegmentMode mode = SegmentMode::kActive;  // never kDeclarative
  uint32_t memory = 0;
  ConstExpr offset;           // active only, i32
  uint32_t bytes_offset = 0;  // into ModuleIR::bytes
  uint32_t size = 0;
};

struct GlobalDef {
  GlobalType type;
  ConstExpr init;
};

struct FunctionBody {
  uint32_t type_index = 0;
  // Locals declared by the body (not the params), expanded one entry per local.
  std::vector<ValType> locals;
  // The instruction bytes (after the locals declarations, through the final
  // `end`), as an offset into ModuleIR::bytes, so errors can report module offsets.
  // The decoder has checked their encoding (known opcodes, well-formed
  // immediates, balanced blocks, the final `end` at code_offset + code_size - 1),
  // not their types.
  uint32_t code_offset = 0;
  uint32_t code_size = 0;
};

struct ImportDef {
  std::string module;
  std::string name;
  ExternKind kind = ExternKind::Func;
  uint32_t type_index = 0;  // Func
  TableType table;          // Table
  MemoryType memory;        // Memory
  GlobalType global;        // Global
};

struct ModuleIR {
  std::vector<uint8_t> bytes;  // a copy of the module's binary

  std::vector<FuncType> types;
  std::vector<ImportDef> imports;

  // Index spaces, imports first. func_types[i] is the type index of function i.
  std::vector<uint32_t> func_types;
  std::vector<TableType> tables;
  std::vector<MemoryType> memories;
  std::vector<GlobalType> globals;
  uint32_t num_imported_funcs = 0;
  uint32_t num_imported_tables = 0;
  uint32_t num_imported_memories = 0;
  uint32_t num_imported_globals = 0;

  std::vector<GlobalDef> global_defs;  // defined globals only (index - num_imported_globals)
  std::vector<ExportInfo> exports;
  std::optional<uint32_t> start;
  std::vector<ElemSegment> elems;
  std::vector<DataSegment> datas;
  std::optional<uint32_t> data_count;
  std::vector<FunctionBody> bodies;  // defined functions only (index - num_imported_funcs)

  // Functions that may be referenced by ref.func inside function bodies
  // (the spec's C.refs: those named in exports, elements or global inits).
  std::vector<bool> declared_func_refs;

  // From the "name" custom section, when present and well-formed (a
  // malformed name section is ignored, as the spec allows).
  std::string module_name;
  std::unordered_map<uint32_t, std::string> func_names;

  std::vector<SectionInfo> sections;
  std::vector<ImportInfo> import_infos;  // public view of `imports`

  const FuncType& func_type(uint32_t func_index) const { return types[func_types[func_index]]; }
};

}  // namespace rusm::wasm
