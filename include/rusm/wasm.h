// rusm's WebAssembly engine: the embedding API.
//
// The engine decodes, validates and compiles a module once (`Module`), then
// instantiates it cheaply and many times (`Instance`). A call into an
// instance runs on an `Execution`, which owns the Wasm value stack and call
// frames; it never uses the native stack for Wasm frames, so a call can stop
// (out of fuel, or suspended by a host function) and be resumed later, on
// any thread.
//
// Thread-safety:
//   - Module: immutable after compile(); share it freely between threads.
//   - Instance, Memory, Table, Global: used by one thread at a time (the
//     thread running the process that owns them). The engine does no locking.
//   - Execution: one thread at a time; may move between threads between runs.
//   - Function: a host function object is immutable after creation; a Wasm
//     function belongs to its instance.
//
// Errors are values (rusm::Result / rusm::Status); no call here throws, and
// no input module can make the engine crash, hang or exhaust the host.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/result.h"

namespace rusm::wasm {

// ---------------------------------------------------------------------------
// Types

enum class ValType : uint8_t {
  I32 = 0x7F,
  I64 = 0x7E,
  F32 = 0x7D,
  F64 = 0x7C,
  V128 = 0x7B,
  FuncRef = 0x70,
  ExternRef = 0x6F,
};
const char* to_string(ValType t);
inline bool is_ref(ValType t) {
  return t == ValType::FuncRef || t == ValType::ExternRef;
}

struct FuncType {
  std::vector<ValType> params;
  std::vector<ValType> results;
  bool operator==(const FuncType&) const = default;
};
std::string to_string(const FuncType& t);  // "(i32, i64) -> (f32)"

struct Limits {
  uint64_t min = 0;
  std::optional<uint64_t> max;
  bool operator==(const Limits&) const = default;
};

struct TableType {
  ValType elem = ValType::FuncRef;
  Limits limits;
};

struct MemoryType {
  Limits limits;  // in 64 KiB pages
};

struct GlobalType {
  ValType type = ValType::I32;
  bool is_mutable = false;
};

enum class ExternKind : uint8_t { Func = 0, Table = 1, Memory = 2, Global = 3 };
const char* to_string(ExternKind k);

constexpr uint64_t kPageSize = 65536;
constexpr uint64_t kMaxPages = 65536;  // 4 GiB, the wasm32 limit
// Host memory a table element takes (a funcref or externref word).
constexpr uint64_t kTableElementBytes = 8;
// Bulk memory operations and host calls charge one unit of fuel per this many
// bytes they move (HostCall::consume_fuel, Execution::consume_fuel).
constexpr uint64_t kBytesPerFuel = 64;

// ---------------------------------------------------------------------------
// Values

struct alignas(16) V128 {
  uint8_t bytes[16] = {};
  bool operator==(const V128& o) const { return std::memcmp(bytes, o.bytes, 16) == 0; }
};

class Function;

// A typed Wasm value. Floats are kept as bit patterns so NaN payloads survive.
// References: a funcref is a Function* (nullptr = null); an externref is an
// opaque host word (0 = null, so hosts must use nonzero words for non-null).
class Value {
 public:
  Value() : type_(ValType::I32) {}

  static Value i32(uint32_t v) { return Value(ValType::I32, v); }
  static Value i64(uint64_t v) { return Value(ValType::I64, v); }
  static Value f32_bits(uint32_t bits) { return Value(ValType::F32, bits); }
  static Value f64_bits(uint64_t bits) { return Value(ValType::F64, bits); }
  static Value f32(float f);
  static Value f64(double d);
  static Value v128(const V128& v);
  static Value v128_words(uint64_t lo, uint64_t hi);
  static Value funcref(Function* f);
  static Value externref(uintptr_t word);
  static Value null(ValType ref_type);
  static Value zero(ValType t);  // the default value of a local of type t

  ValType type() const { return type_; }
  uint32_t i32() const { return static_cast<uint32_t>(bits_); }
  uint64_t i64() const { return bits_; }
  uint32_t f32_bits() const { return static_cast<uint32_t>(bits_); }
  uint64_t f64_bits() const { return bits_; }
  float f32() const;
  double f64() const;
  V128 v128() const;
  Function* funcref() const { return reinterpret_cast<Function*>(bits_); }
  uintptr_t externref() const { return static_cast<uintptr_t>(bits_); }
  bool is_null() const { return bits_ == 0; }  // meaningful for references

  // Raw 64-bit payload (low half of a v128), as the interpreter stores it.
  uint64_t raw() const { return bits_; }
  uint64_t raw_hi() const { return hi_; }

  std::string to_string() const;  // "i32:42", "f64:0x1p+0", "funcref:null", ...

 private:
  Value(ValType t, uint64_t bits) : type_(t), bits_(bits) {}
  ValType type_;
  uint64_t bits_ = 0;
  uint64_t hi_ = 0;  // high half of a v128
};

// ---------------------------------------------------------------------------
// Errors and traps

// Codes carried by rusm::Error values from this layer.
enum class ErrorCode : int {
  kMalformed = 1,       // the bytes are not a well-formed binary module
  kInvalid = 2,         // well-formed, but fails validation
  kUnlinkable = 3,      // an import is missing or has the wrong type
  kUninstantiable = 4,  // instantiation trapped (segment out of bounds, start trapped)
  kLimit = 5,           // an engine limit was exceeded (too many functions, pages, ...)
  kUsage = 6,           // the embedder called the API wrongly (argument type mismatch, ...)
};

enum class TrapCode : uint8_t {
  kUnreachable,
  kIntegerDivideByZero,
  kIntegerOverflow,
  kInvalidConversion,
  kOutOfBoundsMemory,
  kOutOfBoundsTable,
  kUndefinedElement,      // call_indirect index past the table's end
  kUninitializedElement,  // call_indirect to a null entry
  kIndirectCallTypeMismatch,
  kNullReference,
  kCallStackExhausted,  // call depth or value-stack limit reached
  kOutOfBoundsDataSegment,
  kOutOfBoundsElemSegment,
  kHost,  // a host function trapped; the message says why
};
// The spec's wording ("integer divide by zero", "out of bounds memory access", ...).
const char* to_string(TrapCode code);

struct Trap {
  TrapCode code = TrapCode::kUnreachable;
  std::string message;            // to_string(code), or the host's message
  uint32_t func_index = 0;        // function (module index space) executing when it trapped
  std::string func_name;          // from the name section when present, else ""
  std::string to_string() const;  // "out of bounds memory access in function 3 (foo)"
};

// ---------------------------------------------------------------------------
// Modules

// How the interpreter dispatches between instructions (see src/wasm/interp.cc).
// kDefault picks the fastest available: tail calls under clang, computed goto
// otherwise. Modules called from one another must use the same scheme.
enum class DispatchScheme : uint8_t { kDefault, kTailCall, kComputedGoto };

// Which execution tier runs a module's code.
//   kInterpreter: the interpreter (compiles in ~10 ms/MB, runs at ~10x native).
//   kCompiled:    native code through LLVM (src/wasm/llvm/, the
//                 rusm_wasm_llvm target): compiling fails if the tier is not
//                 linked in (enable_compiled_tier(), rusm/wasm_compiled.h) or
//                 cannot compile the module ("not supported yet: ...").
//   kAuto:        compiled code when the on-disk cache has the module's
//                 machine code (`rusm compile`, or an earlier run's
//                 background compile: on_native_cache_miss), else the
//                 interpreter. A module not worth compiling
//                 (Module::worth_compiling) is always interpreted, and a
//                 call that begins at a short straight-line function (no
//                 loop, no call of the module's functions, at most 256
//                 bytes) is interpreted in a compiled module too: running
//                 it takes the interpreter less time than compiled code
//                 takes to switch onto its own stack.
enum class Tier : uint8_t { kInterpreter, kCompiled, kAuto };
const char* to_string(Tier t);

struct CompileOptions {
  DispatchScheme dispatch = DispatchScheme::kDefault;
  Tier tier = Tier::kInterpreter;
  // The compiled tier's on-disk cache of machine code, keyed by the module's
  // hash, the engine's version and the CPU: "" for the default
  // ($RUSM_CACHE_DIR/native, else $XDG_CACHE_HOME/rusm/native, else
  // ~/.cache/rusm/native); "off" to neither read nor write it.
  std::string native_cache_dir;
  // Compile even when the cache has the module, and replace its entry.
  bool native_cache_refresh = false;
  // kAuto, when the cache does not have the module: it runs interpreted now,
  // and this is called (on the compiling thread) with the module's bytes so
  // that the embedder can compile it in the background for the next time
  // (the rusm command starts `rusm compile` as a detached low-priority
  // process). Compiling in the calling thread would make the first start of
  // a large module wait seconds for LLVM.
  std::function<void(std::span<const uint8_t> bytes)> on_native_cache_miss;
  // Engine limits checked at compile time; exceeding one is an ErrorCode::kLimit error.
  uint32_t max_functions = 1'000'000;
  uint32_t max_locals_per_function = 50'000;
  uint32_t max_function_body_bytes = 8 * 1024 * 1024;
};

// Whether compiling these bytes with Tier::kAuto would load machine code
// from the compiled tier's on-disk cache now: a cheap check (a SHA-256 of
// the bytes and a file's existence) for an embedder waiting for a
// background compile to finish. False when the compiled tier is not
// enabled or `options` turn the cache off.
bool native_code_cached(std::span<const uint8_t> bytes, const CompileOptions& options);

struct ImportInfo {
  std::string module;
  std::string name;
  ExternKind kind;
  FuncType func;      // when kind == Func
  TableType table;    // when kind == Table
  MemoryType memory;  // when kind == Memory
  GlobalType global;  // when kind == Global
};

struct ExportInfo {
  std::string name;
  ExternKind kind;
  uint32_t index;  // in the kind's index space (imports first)
};

struct SectionInfo {
  uint8_t id;
  std::string name;  // "type", "import", ..., or the custom section's name
  uint32_t offset;   // of the section's contents within the module bytes
  uint32_t size;
};

namespace internal {
struct ModuleData;
}

// A decoded, validated and compiled module. Immutable; thread-safe to share.
class Module {
 public:
  // Decodes, validates and compiles `bytes`. On failure the error's code is
  // kMalformed or kInvalid (or kLimit) and its message names the section, the
  // byte offset and the reason.
  static Result<std::shared_ptr<const Module>> compile(std::span<const uint8_t> bytes,
                                                       const CompileOptions& options = {});
  ~Module();

  std::span<const ImportInfo> imports() const;
  std::span<const ExportInfo> exports() const;
  std::span<const SectionInfo> sections() const;
  std::optional<ExportInfo> find_export(std::string_view name) const;
  // Type of function `index` (module function index space, imports first).
  const FuncType& func_type(uint32_t index) const;
  uint32_t num_functions() const;  // imports included
  // Name from the name section, or "" when absent.
  std::string_view func_name(uint32_t index) const;
  std::optional<uint32_t> start_function() const;
  // False when every function is short straight-line code (no loop, no
  // call of the module's functions, at most 256 bytes): a call runs each
  // instruction at most once, which the interpreter does in less time than
  // compiled code takes to switch onto its stack. Tier::kAuto interprets
  // such a module; kCompiled compiles it anyway.
  bool worth_compiling() const;
  // The tier that runs it: kInterpreter or kCompiled (never kAuto).
  Tier tier() const;
  // How the compiled tier got its code: compiled now, or loaded from the
  // cache; and how long that took (0 for the interpreter).
  bool from_cache() const;
  double native_compile_ms() const;
  // Takes the compiled tier's code of `compiled` (this module's bytes,
  // compiled again with Tier::kCompiled) into this interpreted module: calls
  // of running instances run compiled code from their next function entry
  // (frames already running go on interpreted), and new instances start in
  // it; tier() is kCompiled from then on. Thread-safe; a no-op when this
  // module has compiled code already. kUsage if `compiled` has none or is
  // another module.
  Status adopt_native_code(const Module& compiled) const;

  const internal::ModuleData& data() const { return *data_; }

 private:
  explicit Module(std::unique_ptr<internal::ModuleData> data);
  std::unique_ptr<internal::ModuleData> data_;
};

// ---------------------------------------------------------------------------
// Runtime objects: functions, memories, tables, globals
//
// These are defined in src/wasm/; embedders handle them by pointer. Objects
// defined by an instance live as long as the instance; host-created ones
// (Memory::create etc.) are owned by their shared_ptr.

class Instance;
class Execution;
class Memory;

// What a host function asks the engine to do when it returns.
enum class HostAction : uint8_t {
  kReturn,   // results are set; continue
  kTrap,     // trap with HostCall::trap_message
  kSuspend,  // stop the Execution; the embedder resumes it later with results
};

// The view a host function gets of its call. Arguments are read from, and
// results written to, the caller's value stack.
class HostCall {
 public:
  Execution& execution() const { return *exec_; }
  // The instance whose code made the call (nullptr when called from the host).
  Instance* caller() const { return caller_; }
  // The caller's memory 0, or nullptr if it has none.
  Memory* memory() const;
  void* host_data() const { return host_data_; }
  const FuncType& type() const { return *type_; }

  uint32_t arg_i32(size_t i) const { return static_cast<uint32_t>(slots_[slot_of_arg(i)]); }
  uint64_t arg_i64(size_t i) const { return slots_[slot_of_arg(i)]; }
  float arg_f32(size_t i) const;
  double arg_f64(size_t i) const;
  Value arg(size_t i) const;
  void set_result_i32(size_t i, uint32_t v) { slots_[slot_of_result(i)] = v; }
  void set_result_i64(size_t i, uint64_t v) { slots_[slot_of_result(i)] = v; }
  void set_result(size_t i, const Value& v);

  HostAction trap(std::string message) {
    trap_message_ = std::move(message);
    return HostAction::kTrap;
  }

  // Charges `units` of fuel to the running call, as if Wasm code had spent
  // them: a host function charges what it does (one unit per kBytesPerFuel
  // bytes it copies, see charge_bytes) so that no host call escapes the
  // budget. If the call's fuel goes negative, the Execution stops with
  // kOutOfFuel right after this host function returns (its results are
  // kept; run() continues after the call).
  void consume_fuel(int64_t units);
  void charge_bytes(uint64_t bytes) {
    if (bytes >= kBytesPerFuel) {  // small copies cost the call's own fuel only
      consume_fuel(static_cast<int64_t>(bytes / kBytesPerFuel));
    }
  }

  // Internal: constructed by the interpreter.
  HostCall(Execution* exec, Instance* caller, const Function* f, uint64_t* slots);
  HostCall(Execution* exec, Instance* caller, const FuncType* type, void* host_data,
           uint64_t* slots)
      : exec_(exec),
        caller_(caller),
        type_(type),
        host_data_(host_data),
        slots_(slots),
        one_slot_(false) {}
  std::string& trap_message() { return trap_message_; }

 private:
  // Argument or result i's first slot: i itself unless a v128 comes first.
  size_t slot_of_arg(size_t i) const { return one_slot_ ? i : wide_slot_of(i, true); }
  size_t slot_of_result(size_t i) const { return one_slot_ ? i : wide_slot_of(i, false); }
  size_t wide_slot_of(size_t i, bool param) const;

  Execution* exec_;
  Instance* caller_;
  const FuncType* type_;
  void* host_data_;
  uint64_t* slots_;  // args start at slots_[0]; results are written from slots_[0]
  bool one_slot_;    // argument i and result i are slots_[i]
  std::string trap_message_;
};

using HostCallback = HostAction (*)(HostCall& call);

namespace internal {
struct FuncCode;
class InstanceImpl;
}  // namespace internal

// A function: either a Wasm function of an instance or a host function.
class Function {
 public:
  // A host function. `data` is passed back through HostCall::host_data().
  // The returned object must outlive every instance that imports it.
  static std::unique_ptr<Function> host(FuncType type, HostCallback callback, void* data,
                                        std::string debug_name);
  virtual ~Function() = default;
  Function(const Function&) = delete;
  Function& operator=(const Function&) = delete;

  const FuncType& type() const { return *type_; }
  bool is_host() const { return code_ == nullptr; }
  // The host function's name, or the Wasm function's name-section name ("" if none).
  std::string_view debug_name() const;
  // The instance a Wasm function belongs to; nullptr for host functions.
  Instance* instance() const;
  // Index in the owning module's function index space (0 for host functions).
  uint32_t index() const { return index_; }

  // Engine internals, read by the interpreter on every call; embedders must
  // not touch them.
  const FuncType* type_ = nullptr;
  uint32_t type_id_ = 0;  // canonical: equal ids <=> equal types
  uint32_t index_ = 0;
  internal::InstanceImpl* instance_ = nullptr;
  const internal::FuncCode* code_ = nullptr;  // null: a host function (a HostFunctionBase)

  Function() = default;
};

// What only a host function has (Function::host makes one), apart so that a
// Wasm function — one per table slot and escaping function of every
// instance — stays small. Engine internals, read on every host call.
class HostFunctionBase : public Function {
 public:
  HostCallback callback_ = nullptr;
  void* host_data_ = nullptr;
  bool one_slot_types_ = false;  // no v128 parameters or results
};

inline HostCall::HostCall(Execution* exec, Instance* caller, const Function* f, uint64_t* slots)
    : exec_(exec),
      caller_(caller),
      type_(f->type_),
      host_data_(static_cast<const HostFunctionBase*>(f)->host_data_),
      slots_(slots),
      one_slot_(static_cast<const HostFunctionBase*>(f)->one_slot_types_) {}

// A linear memory, bounds-checked; every access from the host goes through
// read()/write() or a checked span. Not thread-safe: used by the thread that
// runs its instance.
class Memory {
 public:
  // A standalone memory (e.g. the spec tests' "spectest.memory").
  static Result<std::shared_ptr<Memory>> create(const MemoryType& type);
  virtual ~Memory() = default;

  uint64_t size_bytes() const { return size_; }
  uint64_t pages() const { return size_ / kPageSize; }
  // Bytes written so far, rounded up to 256-byte chunks (never decreases;
  // O(1): the engine counts chunks as they are first written).
  uint64_t written_bytes() const { return dirty_chunks_ << 8; }
  virtual const MemoryType& type() const = 0;
  // Grows by `delta` pages; returns the old size in pages, or nullopt if the
  // maximum or the engine's limit forbids it (memory is unchanged then).
  // Growing may move the memory: pointers from span() become invalid.
  virtual std::optional<uint64_t> grow(uint64_t delta) = 0;

  // Checked access: false (and nothing copied) when out of bounds.
  bool read(uint64_t offset, void* out, uint64_t len) const;
  bool write(uint64_t offset, const void* in, uint64_t len);
  // A pointer to [offset, offset+len) for reading and writing, or nullptr
  // when out of bounds. Valid until the memory grows.
  uint8_t* span(uint64_t offset, uint64_t len);
  // The same for reading only.
  const uint8_t* read_span(uint64_t offset, uint64_t len) const;

  // The memory's bytes, valid until it grows. For reading: the engine zeroes
  // and moves only what it knows was written, so writes go through write()
  // or span().
  uint8_t* base() const { return base_; }

 protected:
  // Records that [offset, offset+len) may have been written (the engine
  // recycles memories by zeroing only what was written).
  void mark_written(uint64_t offset, uint64_t len);
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t dirty_chunks_ = 0;  // chunks marked written, counted as they are marked
};

class Table {
 public:
  static Result<std::shared_ptr<Table>> create(const TableType& type, Value init);
  virtual ~Table() = default;
  virtual const TableType& type() const = 0;
  virtual uint32_t size() const = 0;
  virtual std::optional<Value> get(uint32_t index) const = 0;
  virtual Status set(uint32_t index, const Value& v) = 0;
  virtual std::optional<uint32_t> grow(uint32_t delta, const Value& init) = 0;
};

class Global {
 public:
  static Result<std::shared_ptr<Global>> create(const GlobalType& type, const Value& v);
  virtual ~Global() = default;
  virtual const GlobalType& type() const = 0;
  virtual Value get() const = 0;
  virtual Status set(const Value& v) = 0;  // fails for immutable globals or wrong type
};

// A reference to something importable/exportable.
struct Extern {
  ExternKind kind = ExternKind::Func;
  Function* func = nullptr;
  Table* table = nullptr;
  Memory* memory = nullptr;
  Global* global = nullptr;
  // Keeps the owner (an Instance or a standalone object) alive while an
  // importer uses it. May be null for objects the embedder keeps alive.
  std::shared_ptr<void> owner;
};

// Name -> Extern, built by the embedder.
class Imports {
 public:
  void add(std::string module, std::string name, Extern e);
  // Adds every export of `instance` under `module` (the spec's `register`).
  void add_instance(std::string module, const std::shared_ptr<Instance>& instance);
  const Extern* find(std::string_view module, std::string_view name) const;

 private:
  struct Entry {
    std::string module, name;
    Extern ext;
  };
  std::vector<Entry> entries_;
};

// A module's imports resolved and type-checked once, in import order; reuse
// it to instantiate the same module many times without name lookups.
struct ResolvedImports {
  std::vector<Extern> externs;
};
// Errors have code kUnlinkable and name the import ("env.f: expected func
// (i32) -> (), got (i64) -> ()" / "unknown import env.g").
Result<ResolvedImports> resolve_imports(const Module& module, const Imports& imports);

// An embedder's limit on what instances allocate (like Wasmtime's
// ResourceLimiter). The engine consults it before an instance's memory or
// table takes more host memory: at instantiation, for the initial sizes
// (current = 0), and when Wasm code runs memory.grow or table.grow. A refusal
// fails instantiation with ErrorCode::kLimit (the message names the memory or
// table and its size), and makes memory.grow / table.grow return -1. The
// engine's own limits (InstanceOptions, the type's maximum) are checked
// first, so the limiter is asked only about growth that can happen. Growth
// the embedder asks for itself (Memory::grow, Table::grow) is not reported.
//
// Approvals are never handed back by the engine (memories and tables do not
// shrink, and destroying an instance releases everything at once): a limiter
// usually lives and dies with its instance, or the embedder releases what it
// approved when it destroys the instance.
//
// Called on the thread running the instance; it must not call into it.
class ResourceLimiter {
 public:
  virtual ~ResourceLimiter() = default;
  // A memory grows from `current` to `desired` bytes. True to allow.
  virtual bool memory_growing(uint64_t current, uint64_t desired) = 0;
  // A table grows from `current` to `desired` elements (each takes
  // kTableElementBytes of host memory). True to allow.
  virtual bool table_growing(uint64_t current, uint64_t desired) = 0;
  // An approved memory growth failed in the engine after all (no address
  // space left): `desired - current` bytes were not taken.
  virtual void memory_grow_failed(uint64_t current, uint64_t desired) {}
};

namespace internal {
struct SnapshotData;
}

// The state of an instance captured between calls, as Wizer does it: its
// memory's size and the bytes written to it, its defined globals, its
// defined tables (elements as function indices) and which segments are
// dropped. An instance created from a snapshot (InstanceOptions::snapshot)
// starts in that state instead of applying the module's segments: what the
// captured instance computed before (its start function, an initializer)
// has run once, for every instance made from it. Immutable; shared.
//
// Only the instance's own objects are captured: an instance that imports a
// memory, a table or a global, or holds a non-null externref or a host
// function that is not one of its imports, cannot be captured.
class Snapshot {
 public:
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  const Module& module() const;
  uint64_t memory_pages() const;
  // Bytes of memory contents it holds (the written, non-zero chunks): what
  // each instance made from it copies.
  uint64_t memory_bytes() const;
  // Host memory it holds.
  size_t footprint() const;

  const internal::SnapshotData& data() const { return *data_; }
  explicit Snapshot(std::unique_ptr<internal::SnapshotData> data);

 private:
  std::unique_ptr<internal::SnapshotData> data_;
};

struct InstanceOptions {
  uint64_t max_memory_pages = kMaxPages;  // cap on every memory of the instance
  uint32_t max_table_elements = 10'000'000;
  void* user_data = nullptr;  // the embedder's (a process, for the runtime)
  // Consulted for every allocation and growth of the instance's memories and
  // tables; null for none. Not owned; must outlive the instance.
  ResourceLimiter* limiter = nullptr;
  // Start from this state (Snapshot) instead of the module's segments; the
  // snapshot must be of the same module. The memory starts at the snapshot's
  // size, which must fit max_memory_pages (kLimit otherwise).
  std::shared_ptr<const Snapshot> snapshot;
};

// An instantiated module. Create with instantiate(); the start function, if
// any, is *not* run by instantiate() so that the embedder can run it on an
// Execution with fuel (see Execution::begin_start()).
//
// Lifetime: an instance keeps alive everything it imports. Objects it
// exports keep it alive through Extern::owner. A funcref is a plain pointer:
// if an instance stores its functions into a table owned by another
// instance (through an imported table), the embedder must keep it alive as
// long as that table may be used. (rusm processes never share tables.)
class Instance : public std::enable_shared_from_this<Instance> {
 public:
  // Errors: kUnlinkable (import count/type mismatch), kUninstantiable (an
  // active segment out of bounds: the spec's trap during instantiation).
  static Result<std::shared_ptr<Instance>> instantiate(std::shared_ptr<const Module> module,
                                                       const ResolvedImports& imports,
                                                       const InstanceOptions& options = {});
  // The two halves of instantiate(): create() links and allocates, and
  // initialize() applies the active element and data segments (once). An
  // embedder that must keep even a failed instance alive (its earlier
  // segment writes into imported tables may reference its functions, as the
  // spec's store semantics allow) holds the result of create().
  static Result<std::shared_ptr<Instance>> create(std::shared_ptr<const Module> module,
                                                  const ResolvedImports& imports,
                                                  const InstanceOptions& options = {});
  virtual Status initialize() = 0;
  virtual ~Instance() = default;

  virtual const Module& module() const = 0;
  virtual std::optional<Extern> find_export(std::string_view name) = 0;
  Function* exported_function(std::string_view name);
  Global* exported_global(std::string_view name);
  virtual Function* function(uint32_t index) = 0;  // module function index space
  virtual Memory* memory(uint32_t index = 0) = 0;  // nullptr if none
  virtual Table* table(uint32_t index) = 0;
  virtual Global* global(uint32_t index) = 0;
  virtual void* user_data() const = 0;
  virtual void set_user_data(void* p) = 0;
  // Bytes of host memory this instance holds (linear memories' committed
  // pages, tables, globals and the instance itself).
  virtual size_t memory_footprint() const = 0;
  // Captures the instance's state (see Snapshot). Call it between calls:
  // state an Execution keeps outside the instance (its value stack and
  // frames) is not captured. Errors: kUsage (not initialized, or a
  // "not supported yet" case named in the message).
  virtual Result<std::shared_ptr<const Snapshot>> snapshot() const = 0;
};

// ---------------------------------------------------------------------------
// Execution

enum class RunStatus : uint8_t {
  kFinished,   // results() holds the results
  kTrapped,    // trap() says why; the execution cannot continue
  kOutOfFuel,  // run() again to continue
  kSuspended,  // a host function asked to suspend; set_host_results() then run()
};
const char* to_string(RunStatus s);

constexpr int64_t kUnlimitedFuel = std::numeric_limits<int64_t>::max();

// Fuel: one unit per instruction the interpreter executes (its internal
// instructions, so `local.get` and `block` cost nothing), charged per
// straight-line run of code on the path actually taken, whatever the control
// flow; bulk operations (memory.fill/copy/init, table bulk operations) charge
// by size. run(fuel) stops at most this many units past its budget, bulk
// operations aside.
constexpr int64_t kMaxFuelOvershoot = 1024;

struct ExecutionLimits {
  uint32_t max_call_depth = 20'000;
  size_t max_stack_bytes = 8 * 1024 * 1024;  // value stack (locals + operands)
  // Grows on demand up to max_stack_bytes. The control stack starts with a
  // frame per 8 slots of it (2 to 16). A call of compiled code needs only
  // room for its arguments and results there.
  size_t initial_stack_bytes = 4 * 1024;
};

// A resumable call into Wasm. Owns the value stack and the call frames.
class Execution {
 public:
  explicit Execution(const ExecutionLimits& limits = {});
  ~Execution();
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // Prepares a call of `f` with `args` (checked against its type). Any
  // previous call's state is discarded. Errors: kUsage.
  Status begin(Function* f, std::span<const Value> args);
  // Prepares the instance's start function (error kUsage if it has none).
  Status begin_start(Instance& instance);

  // Runs (or continues) the call, spending `fuel` units, plus at most
  // kMaxFuelOvershoot (and a bulk operation's size) past them when it comes
  // back kOutOfFuel.
  RunStatus run(int64_t fuel = kUnlimitedFuel);
  RunStatus status() const;

  // After kSuspended: the results of the host call that suspended, checked
  // against its type; then run() continues after that call.
  Status set_host_results(std::span<const Value> results);
  // The suspended host function (valid while status() == kSuspended).
  Function* suspended_at() const;

  std::vector<Value> results() const;  // valid after kFinished
  const Trap& trap() const;            // valid after kTrapped
  int64_t fuel_consumed() const;       // total over the current call
  // Host memory held by a call suspended inside compiled code: its live
  // frames' stack pages, or their saved copy once the engine has trimmed
  // the stack of a call idle for a while (docs/engine.md, "The compiled
  // tier"). 0 for interpreted calls and between calls.
  size_t parked_stack_bytes() const;
  // Host memory of the interpreter's stacks (values and call frames), as
  // allocated now: the initial ones, or what they grew to.
  size_t stack_bytes() const;

  // Charges fuel for work done on the call's behalf outside a host function
  // (e.g. copying a message into guest memory when a suspended call is
  // resumed): it is taken from the next run()'s fuel (and counted in
  // fuel_consumed()); a charge larger than that fuel makes the run stop
  // at once with kOutOfFuel.
  void consume_fuel(int64_t units);

  // An interrupt flag the embedder may raise from any thread (e.g. when the
  // process running this call is killed): while it is set, the call stops
  // at its next host call, before making it, with kOutOfFuel (a later run()
  // makes that call). Code that calls no host function stops when its fuel
  // runs out, as always; so a run ends within one slice's fuel or at the
  // next host call, whichever comes first. The engine only reads the flag;
  // clearing it is the embedder's. Null (the default) for none; the flag
  // must outlive the Execution or be reset first.
  void set_interrupt(const std::atomic<bool>* flag);

  void* user_data() const { return user_data_; }
  void set_user_data(void* p) { user_data_ = p; }

  struct State;  // defined in src/wasm/
  State* state() { return state_.get(); }

 private:
  struct FreeState {
    void operator()(State* s) const;
  };
  std::unique_ptr<State, FreeState> state_;
  void* user_data_ = nullptr;
};

// Runs `f` to completion with unlimited fuel on a fresh Execution. A trap
// becomes an error whose message is Trap::to_string(); a host suspension is
// an error too (kUsage).
Result<std::vector<Value>> call(Function* f, std::span<const Value> args,
                                const ExecutionLimits& limits = {});

// Instantiates and runs the start function to completion (spec semantics;
// a trap in start is kUninstantiable).
Result<std::shared_ptr<Instance>> instantiate_and_start(std::shared_ptr<const Module> module,
                                                        const ResolvedImports& imports,
                                                        const InstanceOptions& options = {});

}  // namespace rusm::wasm
