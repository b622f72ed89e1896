// The engine's side of the compiled tier: what native code (produced by the
// LLVM backend in src/wasm/llvm/, a separate target) needs from the engine at
// run time, and how an Execution runs it.
//
// Native code runs on a fiber: a stack from a pool, taken when an Execution
// starts a compiled call and kept only while that call is unfinished. A host
// call that suspends (receive, sleep, I/O), running out of fuel, or an
// embedder's interrupt switches back to the thread that called
// Execution::run(); run() again (on any thread) switches back into the fiber
// and the call goes on where it stopped. A trap abandons the fiber (compiled
// frames own nothing) and returns the stack to the pool. The choice and its
// costs are explained in docs/engine.md ("The compiled tier").
//
// The layouts below are read by generated code at fixed offsets (NativeLayout
// says where in the engine's C++ objects); keep them plain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rusm/wasm.h"
#include "wasm/engine.h"

namespace rusm::wasm::internal {

// Per Execution, while compiled code runs: the fuel left and the stack's low
// water mark (compiled functions trap when the stack pointer passes it).
struct NativeRun {
  int64_t fuel = 0;                  // offset 0: decremented by compiled code
  uintptr_t stack_limit = 0;         // offset 8
  ExecState* st = nullptr;           // offset 16
  void* host_context = nullptr;      // where a switch out of the fiber goes
  void* fiber_context = nullptr;     // where run() switches back in
  uint8_t* stack_base = nullptr;     // the fiber's stack (lowest address), pooled
  struct StackSlot* slot = nullptr;  // its entry in the pool (native.cc: parking, trimming)
  bool finished = false;             // the fiber has returned or trapped
  // The call the fiber makes when it starts.
  VmCtx* entry_ctx = nullptr;
  void* entry_fn = nullptr;
  void* entry_tramp = nullptr;
  uint64_t* slots = nullptr;       // arguments in, results out (the value stack)
  uint64_t* host_slots = nullptr;  // a suspended host call's arguments and results
  // AddressSanitizer's view of the stack switches (native.cc); unused otherwise.
  const void* host_stack_bottom = nullptr;
  size_t host_stack_size = 0;
};

// Per instance of a compiled module.
struct VmCtx {
  NativeRun* run = nullptr;            // 0: the Execution running it now
  MemoryImpl* memory = nullptr;        // 8: memory 0 (owned or imported), or null
  Slot** globals = nullptr;            // 16: every global's cell, imports first
  TableView** tables = nullptr;        // 24: every table's view, imports first
  Function** funcs = nullptr;          // 32: InstanceImpl::funcs_ (imports resolved)
  InstanceImpl* inst = nullptr;        // 40
  const uint32_t* type_ids = nullptr;  // 48: canonical id of each type index
};

// Offsets into the engine's objects that compiled code reads (computed in
// native.cc, where the classes are complete).
struct NativeLayout {
  uint32_t memory_base;    // Memory::base_
  uint32_t memory_size;    // Memory::size_
  uint32_t memory_dirty;   // Memory::dirty_chunks_
  uint32_t func_type_id;   // Function::type_id_
  uint32_t func_code;      // Function::code_
  uint32_t func_instance;  // Function::instance_
  uint32_t code_native;    // FuncCode::native
};
const NativeLayout& native_layout();

// Compiled code for one module (made by the backend, owned by ModuleData).
// Pointers stay valid as long as the object lives.
class NativeCode {
 public:
  virtual ~NativeCode() = default;
  // Entry of defined function i (the fast calling convention), and a
  // trampoline per defined function's type: tramp(ctx, fn, slots) reads the
  // arguments from slots, calls fn and writes its results to slots.
  std::vector<void*> funcs;
  std::vector<void*> tramps;
  size_t code_bytes = 0;    // the object file's size
  bool from_cache = false;  // loaded from the on-disk cache
  double ms = 0;            // time to compile (or load) it
};
using Trampoline = void (*)(VmCtx* ctx, void* fn, uint64_t* slots);

// The backend, installed by the compiled tier's target (enable_compiled_tier).
using NativeCompiler = Result<std::shared_ptr<NativeCode>> (*)(const ModuleData& md,
                                                               const CompileOptions& options);
void set_native_compiler(NativeCompiler compiler);
NativeCompiler native_compiler();
// Whether the backend's cache has machine code for these bytes now (the
// compiled tier's, installed with it).
using NativeCacheProbe = bool (*)(std::span<const uint8_t> bytes, const CompileOptions& options);
void set_native_cache_probe(NativeCacheProbe probe);

// Runs the Execution's compiled call (st.native is set): starts it on a
// fiber, or switches back into the fiber it stopped in. The outcome is in
// st.status, as run_interpreter's.
void run_native(ExecState& st);
// Abandons an unfinished compiled call (a new begin(), or the Execution's end).
void discard_native(ExecState& st);
// Makes a suspended compiled call's stack whole again if it was trimmed
// (native.cc): before anything outside the fiber touches the stack (a host
// call's results are written into the caller's frame).
void unpark_native(ExecState& st);
// Host memory a suspended compiled call's stack holds: its live frames'
// pages, or their saved copy once trimmed. 0 when none is held.
size_t parked_stack_bytes(const ExecState& st);

// Makes the VmCtx of an instance of a compiled module (in its arena).
VmCtx* make_vmctx(InstanceImpl& inst);
// The instance's VmCtx, made now if its module has adopted compiled code
// since it was instantiated; null if the module has none. The instance's
// thread only.
VmCtx* ensure_vmctx(InstanceImpl& inst);
// Points the Execution's fiber at a call of fc's compiled code on an
// instance with a VmCtx, its arguments at `slots` (results come back there).
void prepare_native_call(ExecState& st, InstanceImpl& inst, const FuncCode& fc, Slot* slots);

// The helpers compiled code calls, by name (the backend's object refers to
// them; the JIT resolves them to these addresses).
struct NativeHelper {
  const char* name;
  void* address;
};
const std::vector<NativeHelper>& native_helpers();

}  // namespace rusm::wasm::internal
