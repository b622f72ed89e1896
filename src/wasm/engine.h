// The engine's runtime objects as the interpreter sees them: compiled module
// data, instances, tables, globals and the execution state. Internal to
// src/wasm/; embedders use include/rusm/wasm.h.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <vector>

#include "rusm/wasm.h"
#include "wasm/code.h"
#include "wasm/memory.h"
#include "wasm/module.h"

namespace rusm::wasm::internal {

class NativeCode;  // native.h

// Everything compile() produces. Immutable after compile, except that an
// interpreted module can adopt the compiled tier's code once (adopt_native):
// shared by instances.
struct ModuleData {
  ModuleIR ir;
  Dispatch dispatch = Dispatch::kGoto;
  std::vector<Word> code;          // all functions' internal code
  std::vector<FuncCode> funcs;     // defined functions (index - num_imported_funcs)
  std::vector<uint32_t> type_ids;  // canonical id of each type index
  // The compiled tier's code (native.h), when the module was compiled to it
  // or has adopted it since; set once, before native_code() returns it.
  std::shared_ptr<NativeCode> native;
  // The same, readable while adopt_native runs on another thread.
  std::atomic<const NativeCode*> native_published{nullptr};
  // Adopted code's entry stubs (adopt_native): per defined function,
  // [enter_native][FuncCode*][return0].
  std::unique_ptr<Word[]> native_stubs;
  std::mutex adopt_mu;
  const NativeCode* native_code() const { return native_published.load(std::memory_order_acquire); }
  // For each defined global, how many slots its value takes.
  uint32_t num_defined_globals() const {
    return static_cast<uint32_t>(ir.globals.size()) - ir.num_imported_globals;
  }
  // Compiled with Tier::kAuto: the engine picks the tier per call, and
  // calls that begin at a straight-line function (FuncCode::straight_line)
  // are interpreted. Under kCompiled every call runs compiled code.
  bool auto_tier = false;
  // Every function is straight-line: compiled code would gain nothing, so
  // Tier::kAuto interprets the module.
  bool cheap_to_interpret() const;
  // Whether a call that begins at fc runs its compiled code.
  bool runs_compiled(const FuncCode& fc) const {
    return !(auto_tier && fc.straight_line) && native_of(&fc) != nullptr;
  }
  // The FuncCode whose code contains word index `pos`, or nullptr.
  const FuncCode* func_at(size_t pos) const;
};

// What a Snapshot holds (rusm/wasm.h).
struct SnapshotData {
  std::shared_ptr<const Module> module;
  uint64_t memory_pages = 0;  // 0 when the module defines no memory
  // The memory's non-zero written bytes, as runs: run i is runs[i].second
  // bytes at offset runs[i].first, its bytes next in `bytes`.
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  std::vector<uint8_t> bytes;
  // Two slots per defined global; a funcref is a function index + 1 (0: null).
  std::vector<Slot> globals;
  // Per defined table, its elements: function index + 1 (0: null).
  std::vector<std::vector<uint32_t>> tables;
  std::vector<uint8_t> elem_dropped;
  std::vector<uint8_t> data_dropped;
};

class GlobalImpl final : public Global {
 public:
  GlobalImpl(const GlobalType& type, Slot* cell) : type_(type), cell_(cell) {}
  // A standalone global owning its cell.
  explicit GlobalImpl(const GlobalType& type) : type_(type), cell_(own_) {}

  const GlobalType& type() const override { return type_; }
  Value get() const override;
  Status set(const Value& v) override;
  Slot* cell() const { return cell_; }

 private:
  GlobalType type_;
  Slot* cell_;
  Slot own_[2] = {0, 0};
};

// A table's elements as compiled code reads them (TableImpl keeps it current).
struct TableView {
  uint64_t* data = nullptr;
  uint64_t size = 0;
};

struct NativeRun;
struct VmCtx;

class TableImpl final : public Table {
 public:
  TableImpl(const TableType& type, uint32_t limit, uint64_t init);
  const TableType& type() const override { return type_; }
  uint32_t size() const override { return static_cast<uint32_t>(elems_.size()); }
  std::optional<Value> get(uint32_t index) const override;
  Status set(uint32_t index, const Value& v) override;
  std::optional<uint32_t> grow(uint32_t delta, const Value& init) override;

  // Raw element words: Function* for funcref, the host word for externref; 0 = null.
  uint64_t* data() { return elems_.data(); }
  std::optional<uint32_t> grow_raw(uint32_t delta, uint64_t init);
  // The most elements it may hold (its type's maximum capped by the engine's).
  uint32_t limit() const { return limit_; }
  // Where compiled code reads the elements (updated whenever they move).
  TableView* view() { return &view_; }

 private:
  TableType type_;
  uint32_t limit_;  // maximum elements (type max, capped by the engine limit)
  std::vector<uint64_t> elems_;
  TableView view_;
};

class InstanceImpl final : public Instance {
 public:
  ~InstanceImpl() override;

  const Module& module() const override { return *module_; }
  std::optional<Extern> find_export(std::string_view name) override;
  Function* function(uint32_t index) override;
  Memory* memory(uint32_t index = 0) override { return index == 0 ? memory_ : nullptr; }
  Table* table(uint32_t index) override {
    return index < tables_.size() ? tables_[index] : nullptr;
  }
  Global* global(uint32_t index) override;
  void* user_data() const override { return user_data_; }
  void set_user_data(void* p) override { user_data_ = p; }
  size_t memory_footprint() const override;
  Status initialize() override;
  Result<std::shared_ptr<const Snapshot>> snapshot() const override;

  // Sets up the defined memory, tables and globals from `snap` (create()'s
  // part of instantiating from a snapshot; initialize() copies the memory).
  Status restore(const SnapshotData& snap, const InstanceOptions& options);
  // The function index a funcref word stands for, + 1 (0: null); nullopt
  // for a function that is neither this instance's nor one it imports.
  std::optional<uint32_t> funcref_index(Slot word) const;

  // Evaluates a constant expression in this instance (globals and
  // functions resolved). Pre: validated.
  Slot eval_const(const ConstExpr& e, Slot* hi = nullptr);

  // Allocates and constructs a Function in the arena (destroyed with the instance).
  Function* new_function();

  // `arena_bytes`: what the instance's arrays and functions are expected to
  // need (see Instance::create).
  explicit InstanceImpl(size_t arena_bytes) : arena_(arena_bytes) {}

  // The instance's arrays and Function objects come from this arena: one
  // block sized for the module (then more blocks if it needs more), released
  // at once with the instance. Instantiating thus costs two allocations
  // instead of one per array and per function.
  std::pmr::monotonic_buffer_resource arena_;

  std::shared_ptr<const Module> module_;
  const ModuleData* md_ = nullptr;
  MemoryImpl* memory_ = nullptr;  // memory 0, owned or imported; nullptr if none
  std::unique_ptr<MemoryImpl> own_memory_;
  std::pmr::vector<TableImpl*> tables_{&arena_};
  std::pmr::vector<std::unique_ptr<TableImpl>> own_tables_{&arena_};
  std::pmr::vector<Slot*> globals_{&arena_};                 // cell of every global, imports first
  std::pmr::vector<Slot> global_cells_{&arena_};             // two slots per defined global
  std::vector<std::unique_ptr<GlobalImpl>> global_objects_;  // created on demand
  std::pmr::vector<Function*> funcs_{&arena_};  // every function; defined ones created on demand
  std::pmr::vector<Function*> own_funcs_{&arena_};  // in the arena; destroyed by ~InstanceImpl
  std::vector<std::shared_ptr<void>> keep_alive_;   // owners of imported objects
  std::pmr::vector<uint8_t> elem_dropped_{&arena_};
  std::pmr::vector<uint8_t> data_dropped_{&arena_};
  void* user_data_ = nullptr;
  ResourceLimiter* limiter_ = nullptr;        // InstanceOptions::limiter
  std::shared_ptr<const Snapshot> snapshot_;  // until initialize() copies its memory
  VmCtx* vmctx_ = nullptr;  // compiled code's view of it (a compiled module's instance only)
  bool initialized_ = false;
};

// One Wasm call frame's return information. Operands and locals live in the
// value stack; this is the separate control stack.
struct Frame {
  const Word* ret_ip;
  Slot* fp;
  InstanceImpl* inst;
};

inline const std::atomic<bool> kNeverInterrupted{false};

// The state of an Execution (Execution::State). The first members are what
// handlers touch on every call and return; keep them together.
struct ExecState {
  Frame* frame = nullptr;      // top of the control stack
  Frame* frame_end = nullptr;  // call depth limit
  Slot* stack_end = nullptr;   // value stack limit (current allocation)
  InstanceImpl* inst = nullptr;
  Slot** globals = nullptr;
  TableImpl** tables = nullptr;
  MemoryImpl* memory = nullptr;

  // Saved registers while not running.
  const Word* ip = nullptr;
  Slot* fp = nullptr;
  int64_t fuel = 0;

  RunStatus status = RunStatus::kFinished;
  bool begun = false;
  Trap trap;
  Function* entry = nullptr;         // the function begin() called
  Function* suspended_at = nullptr;  // host function that asked to suspend
  size_t suspended_slots = 0;        // its argument/result slots (offset in stack)
  int64_t fuel_consumed = 0;
  // Fuel charged by host code (Execution/HostCall::consume_fuel) not yet
  // taken from `fuel`: taken when the host call returns, or at the next run().
  int64_t fuel_debt = 0;
  // Execution::set_interrupt's flag, or one that is never raised.
  const std::atomic<bool>* interrupt = &kNeverInterrupted;
  Dispatch dispatch = Dispatch::kGoto;
  // The call runs compiled code (native.h); its fiber's state, made on first use.
  bool native = false;
  // The compiled code runs a call made by interpreted frames (a function
  // whose module adopted compiled code while the call was interpreted): when
  // it returns, the interpreter goes on at `ip`.
  bool native_nested = false;
  // Set by the interpreter's enter_native: the function to run compiled,
  // its arguments at fp.
  const FuncCode* enter_native = nullptr;
  NativeRun* native_run = nullptr;

  Execution* exec = nullptr;
  ExecutionLimits limits;
  // The value and control stacks start in the state's own allocation (see
  // Execution's constructor) and move to the heap when they grow.
  Slot* stack = nullptr;
  size_t stack_slots = 0;
  Frame* frames = nullptr;
  size_t frame_capacity = 0;
  std::unique_ptr<Slot[]> grown_stack;    // owns `stack` once it has grown
  std::unique_ptr<Frame[]> grown_frames;  // owns `frames` once they have grown
  Word boot[6] = {};                      // call_fn <entry>; halt

  Slot* stack_base() { return stack; }

  // Makes `inst` the current instance (nullptr for none).
  void enter_instance(InstanceImpl* i) {
    inst = i;
    if (i != nullptr) {
      globals = i->globals_.data();
      tables = i->tables_.data();
      memory = i->memory_;
    } else {
      globals = nullptr;
      tables = nullptr;
      memory = nullptr;
    }
  }
  uint8_t* mem_base() const { return memory ? memory->base() : nullptr; }
  uint64_t mem_size() const { return memory ? memory->size_bytes() : 0; }

  // Grows the value stack so that `need` slots fit above `fp`, moving it if
  // necessary (adjusting every saved frame pointer and *fp). False when the
  // limit forbids it.
  bool grow_stack(Slot** fp, size_t need);
  // Grows the control stack by one frame if the depth limit allows.
  bool grow_frames();
};

// Runs from st.ip until the call finishes, traps, runs out of fuel or
// suspends; the outcome is in st.status.
void run_interpreter(ExecState& st);

// Slow paths of the memory, table and reference instructions (interp.cc),
// on the current instance (st.inst): memory.grow's result (-1 on failure);
// false when the bulk operation is out of bounds (nothing done); ref.func's
// Function*.
uint32_t memory_grow(ExecState* st, uint32_t delta);
bool memory_init(ExecState* st, uint32_t seg, uint64_t d, uint64_t s, uint64_t n);
bool table_init(ExecState* st, uint32_t table, uint32_t seg, uint64_t d, uint64_t s, uint64_t n);
bool table_copy(ExecState* st, uint32_t dt, uint32_t stab, uint64_t d, uint64_t s, uint64_t n);
Slot ref_func(ExecState* st, uint32_t index);
uint32_t table_grow(ExecState* st, uint32_t table, uint64_t init, uint32_t n);

// Records a trap at `ip` (an instruction of the current instance's code, or
// nullptr when not known) and sets st.status.
void record_trap(ExecState& st, const Word* ip, TrapCode code, std::string message = {});

// The instruction a branch at `ip` with branch word `w` goes to.
inline const Word* branch_target(const Word* ip, Word w) {
  return ip + branch_offset(w);
}

}  // namespace rusm::wasm::internal
