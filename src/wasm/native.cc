// The compiled tier's run-time side: fibers and their stacks, the VmCtx of
// an instance, and the helpers compiled code calls (native.h).
#include "wasm/native.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUSM_ASAN_FIBERS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RUSM_ASAN_FIBERS 1
#endif
#ifdef RUSM_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif

namespace rusm::wasm::internal {
namespace {

namespace fctx = boost::context::detail;

// AddressSanitizer must be told about every switch between stacks, or it
// takes the fiber's frames for an overflow of the thread's stack. No-ops in
// other builds.
#ifdef RUSM_ASAN_FIBERS
void asan_leave(void** fake_stack_save, const void* to_bottom, size_t to_size) {
  __sanitizer_start_switch_fiber(fake_stack_save, to_bottom, to_size);
}
void asan_arrive(void* fake_stack_save, const void** from_bottom, size_t* from_size) {
  __sanitizer_finish_switch_fiber(fake_stack_save, from_bottom, from_size);
}
#else
void asan_leave(void**, const void*, size_t) {}
void asan_arrive(void*, const void**, size_t*) {}
#endif

// ---------------------------------------------------------------------------
// Fiber stacks
//
// A compiled call runs on a stack of its own, taken from this pool when the
// call starts and returned when it finishes or traps, so only calls that are
// suspended inside compiled code hold one. Stacks are carved out of large
// reservations (MAP_NORESERVE: only touched pages cost memory), never one
// mapping each, for the same reason as linear memories (memory.h): a million
// suspended processes must not need a million mappings. There is no guard
// page between stacks (a guard splits the mapping); compiled code checks the
// stack pointer against NativeRun::stack_limit at every function entry, which
// leaves kHostReserveBytes below it for the host functions compiled code
// calls.
constexpr size_t kFiberStackBytes = size_t{2} << 20;
constexpr size_t kHostReserveBytes = size_t{256} << 10;
constexpr size_t kSlabStacks = 64;
// Stacks kept with their pages: more than this many free ones give their
// pages back to the kernel (all but the top, where shallow calls run).
constexpr size_t kHotStacks = 64;
constexpr size_t kKeptTopBytes = size_t{16} << 10;

}  // namespace

// Parking and trimming. A call suspended inside compiled code keeps its
// stack; once it has been idle for a while (kTrimAfterTicks of the trimmer's
// clock, 100-200 ms) a background thread copies its live frames (the bytes
// above the saved stack pointer: a few hundred bytes for a process blocked in
// receive) to the heap and gives all the stack's pages back to the kernel,
// so a million idle compiled processes hold no stack pages. Resuming copies
// the frames back to the same addresses (frames hold pointers into their own
// stack, so they cannot move) before the fiber runs or anything writes into
// it. Each stack's state is one atomic: the owner parks and unparks with a
// compare-and-swap, the trimmer takes a parked stack only by swapping it to
// kTrimming, so the two never touch a stack at once.
enum StackState : uint8_t { kFree, kRunning, kParked, kTrimming, kTrimmed };

struct StackSlot {
  std::atomic<uint8_t> state{kFree};
  std::atomic<uint32_t> parked_tick{0};
  uint8_t* base = nullptr;
  void* sp = nullptr;        // the fiber's saved context (its lowest live byte) when parked
  uint8_t* saved = nullptr;  // the live frames while trimmed
  size_t saved_len = 0;
};

namespace {

constexpr auto kTrimPeriod = std::chrono::milliseconds(100);
constexpr uint32_t kTrimAfterTicks = 2;
// Deeper suspended stacks keep their pages (copying them would cost more
// than it saves).
constexpr size_t kMaxSavedBytes = size_t{64} << 10;
constexpr size_t kMaxSlabs = size_t{1} << 16;  // 4M stacks: more than the address space holds

std::atomic<uint32_t> g_tick{0};

// Copies between a fiber stack and the heap. Under AddressSanitizer without
// its checks (and through volatile, so that no memcpy it intercepts is
// made): the frames of host functions on the stack carry poisoned redzones.
#ifdef RUSM_ASAN_FIBERS
__attribute__((no_sanitize("address"))) void copy_frames(uint8_t* to, const uint8_t* from,
                                                         size_t n) {
  volatile uint8_t* t = to;
  const volatile uint8_t* f = from;
  for (size_t i = 0; i < n; ++i) {
    t[i] = f[i];
  }
}
#else
void copy_frames(uint8_t* to, const uint8_t* from, size_t n) {
  std::memcpy(to, from, n);
}
#endif

class StackPool {
 public:
  StackSlot* acquire() {
    // A few warm stacks per thread first: a short call (a spawn's entry that
    // returns at once) takes and returns one without the lock.
    ThreadCache& cache = thread_cache();
    if (cache.count != 0) {
      StackSlot* slot = cache.slots[--cache.count];
      slot->state.store(kRunning, std::memory_order_relaxed);
      return slot;
    }
    std::lock_guard<std::mutex> lock(mu_);
    StackSlot* slot = nullptr;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      free_count_.store(free_.size(), std::memory_order_relaxed);
    } else {
      if (used_in_slab_ == kSlabStacks) {
        if (!add_slab()) {
          return nullptr;
        }
      }
      slot = &slabs_[slab_count_.load(std::memory_order_relaxed) - 1]->slots[used_in_slab_++];
    }
    slot->state.store(kRunning, std::memory_order_relaxed);
    return slot;
  }

  void release(StackSlot* slot) {
    ThreadCache& cache = thread_cache();
    if (cache.count < kThreadStacks) {
      slot->state.store(kFree, std::memory_order_release);
      cache.slots[cache.count++] = slot;
      return;
    }
    if (free_count_.load(std::memory_order_relaxed) >= kHotStacks) {
      ::madvise(slot->base, kFiberStackBytes - kKeptTopBytes, MADV_DONTNEED);
    }
    slot->state.store(kFree, std::memory_order_release);
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
    free_count_.store(free_.size(), std::memory_order_relaxed);
  }

  // The trimmer's pass: every stack parked since before `before` is trimmed.
  void trim(uint32_t now) {
    size_t slabs = slab_count_.load(std::memory_order_acquire);
    for (size_t i = 0; i < slabs; ++i) {
      for (StackSlot& slot : slabs_[i]->slots) {
        uint8_t parked = kParked;
        if (slot.state.load(std::memory_order_relaxed) != kParked ||
            now - slot.parked_tick.load(std::memory_order_relaxed) < kTrimAfterTicks ||
            !slot.state.compare_exchange_strong(parked, kTrimming, std::memory_order_acquire)) {
          continue;
        }
        auto* sp = static_cast<uint8_t*>(slot.sp);
        size_t live = static_cast<size_t>(slot.base + kFiberStackBytes - sp);
        auto* copy = live <= kMaxSavedBytes ? static_cast<uint8_t*>(std::malloc(live)) : nullptr;
        if (copy == nullptr) {
          slot.parked_tick.store(now, std::memory_order_relaxed);  // not again until later
          slot.state.store(kParked, std::memory_order_release);
          continue;
        }
        copy_frames(copy, sp, live);
        ::madvise(slot.base, kFiberStackBytes, MADV_DONTNEED);
        slot.saved = copy;
        slot.saved_len = live;
        slot.state.store(kTrimmed, std::memory_order_release);
      }
    }
  }

 private:
  struct Slab {
    StackSlot slots[kSlabStacks];
  };

  // Per thread, given back to the pool when the thread ends.
  static constexpr size_t kThreadStacks = 4;
  struct ThreadCache {
    StackSlot* slots[kThreadStacks];
    size_t count = 0;
    ~ThreadCache();
  };
  static ThreadCache& thread_cache() {
    thread_local ThreadCache cache;
    return cache;
  }
  void release_shared(StackSlot* slot) {
    slot->state.store(kFree, std::memory_order_release);
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
    free_count_.store(free_.size(), std::memory_order_relaxed);
  }

  bool add_slab() {
    size_t n = slab_count_.load(std::memory_order_relaxed);
    if (n == kMaxSlabs) {
      return false;
    }
    size_t bytes = kSlabStacks * kFiberStackBytes;
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      return false;
    }
    auto* slab = new Slab();
    for (size_t i = 0; i < kSlabStacks; ++i) {
      slab->slots[i].base = static_cast<uint8_t*>(m) + i * kFiberStackBytes;
    }
    slabs_[n] = slab;
    used_in_slab_ = 0;
    slab_count_.store(n + 1, std::memory_order_release);
    return true;
  }

  std::mutex mu_;
  std::vector<StackSlot*> free_;
  std::atomic<size_t> free_count_{0};
  // Append-only (the trimmer walks them without the lock): never freed.
  std::unique_ptr<Slab* []> slabs_ { new Slab*[kMaxSlabs] };
  std::atomic<size_t> slab_count_{0};
  size_t used_in_slab_ = kSlabStacks;
};

StackPool& stack_pool() {
  static StackPool* pool = new StackPool();  // never destroyed: fibers may outlive statics
  return *pool;
}

StackPool::ThreadCache::~ThreadCache() {
  for (size_t i = 0; i < count; ++i) {
    stack_pool().release_shared(slots[i]);
  }
}

// Starts the trimmer the first time a call parks (a detached thread that
// sleeps between passes; programs that never suspend compiled code never
// start it).
void start_trimmer() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::thread([] {
      for (;;) {
        std::this_thread::sleep_for(kTrimPeriod);
        stack_pool().trim(g_tick.fetch_add(1, std::memory_order_relaxed) + 1);
      }
    }).detach();
  });
}

// Takes a parked or trimmed stack back for its owner (waits out a trim in
// progress; restores a trimmed one's frames).
void take_back(StackSlot* slot) {
  for (;;) {
    uint8_t s = slot->state.load(std::memory_order_acquire);
    if (s == kRunning) {
      return;
    }
    if (s == kTrimming) {
      std::this_thread::yield();
      continue;
    }
    if (slot->state.compare_exchange_weak(s, kRunning, std::memory_order_acquire)) {
      if (s == kTrimmed) {
        copy_frames(static_cast<uint8_t*>(slot->sp), slot->saved, slot->saved_len);
        std::free(slot->saved);
        slot->saved = nullptr;
        slot->saved_len = 0;
      }
      return;
    }
  }
}

// The owner leaves its stack suspended: the trimmer may take it from now.
void park(StackSlot* slot, void* sp) {
  slot->sp = sp;
  slot->parked_tick.store(g_tick.load(std::memory_order_relaxed), std::memory_order_relaxed);
  slot->state.store(kParked, std::memory_order_release);
  start_trimmer();
}

void release_stack(NativeRun* run) {
  stack_pool().release(run->slot);
  run->slot = nullptr;
  run->stack_base = nullptr;
  run->fiber_context = nullptr;
}

std::atomic<NativeCompiler> g_compiler{nullptr};

// ---------------------------------------------------------------------------
// Switching

// Leaves the fiber for good (its call finished or trapped). Nothing on the
// fiber's stack owns anything by then: compiled frames hold plain values and
// the helpers below end their C++ objects' lives before they come here.
[[noreturn]] void fiber_exit(NativeRun* run) {
  run->finished = true;
  asan_leave(nullptr, run->host_stack_bottom, run->host_stack_size);  // this stack ends
  fctx::jump_fcontext(run->host_context, nullptr);
  __builtin_unreachable();
}

// Leaves the fiber until Execution::run() switches back in, possibly on
// another thread. Callers touch no thread-local state across it.
void fiber_yield(VmCtx* c) {
  NativeRun* run = c->run;
  void* fake_stack = nullptr;
  asan_leave(&fake_stack, run->host_stack_bottom, run->host_stack_size);
  fctx::transfer_t t = fctx::jump_fcontext(run->host_context, nullptr);
  asan_arrive(fake_stack, &run->host_stack_bottom, &run->host_stack_size);
  run->host_context = t.fctx;
  c->run = run;
}

void fiber_main(fctx::transfer_t t) {
  auto* run = static_cast<NativeRun*>(t.data);
  asan_arrive(nullptr, &run->host_stack_bottom, &run->host_stack_size);
  run->host_context = t.fctx;
  reinterpret_cast<Trampoline>(run->entry_tramp)(run->entry_ctx, run->entry_fn, run->slots);
  run->st->status = RunStatus::kFinished;
  fiber_exit(run);
}

// ---------------------------------------------------------------------------
// Traps

void fill_trap(VmCtx* c, TrapCode code, uint32_t func_index, int64_t element) {
  ExecState& st = *c->run->st;
  st.status = RunStatus::kTrapped;
  st.trap.code = code;
  if (code != TrapCode::kHost) {
    st.trap.message = to_string(code);
    if (element >= 0) {
      st.trap.message += " " + std::to_string(element);
    }
  }
  st.trap.func_index = func_index;
  const auto& names = c->inst->md_->ir.func_names;
  auto it = names.find(func_index);
  st.trap.func_name = it != names.end() ? it->second : std::string();
}

[[noreturn]] void trap_out(VmCtx* c, TrapCode code, uint32_t func_index, int64_t element = -1) {
  fill_trap(c, code, func_index, element);
  fiber_exit(c->run);
}

// Prepares the shared slow paths (interp.cc) to act on c's instance.
ExecState& enter(VmCtx* c) {
  ExecState& st = *c->run->st;
  if (st.inst != c->inst) {
    st.enter_instance(c->inst);
  }
  return st;
}

void charge(VmCtx* c, uint64_t units) {
  c->run->fuel -= static_cast<int64_t>(units);
}

// Calls f (a host function, or a Wasm function of any compiled instance)
// with its arguments in `slots`; its results come back in `slots`.
void call_function(VmCtx* c, Function* f, uint64_t* slots, uint32_t caller) {
  NativeRun* run = c->run;
  ExecState* st = run->st;
  if (f->code_ == nullptr) {
    if (st->interrupt->load(std::memory_order_relaxed)) {
      // The embedder's interrupt: stop before the call, make it when resumed.
      st->status = RunStatus::kOutOfFuel;
      fiber_yield(c);
    }
    if (st->inst != c->inst) {
      st->enter_instance(c->inst);
    }
    HostAction action;
    {
      HostCall call(st->exec, c->inst, f, slots);
      action = static_cast<HostFunctionBase*>(f)->callback_(call);
      if (action == HostAction::kTrap) {
        st->trap.message = std::move(call.trap_message());
      }
    }
    if (st->fuel_debt != 0) {
      run->fuel -= st->fuel_debt;
      st->fuel_debt = 0;
      if (run->fuel < 0 && action == HostAction::kReturn) {
        st->status = RunStatus::kOutOfFuel;  // results kept; go on when resumed
        fiber_yield(c);
      }
    }
    switch (action) {
      case HostAction::kReturn:
        return;
      case HostAction::kTrap:
        trap_out(c, TrapCode::kHost, caller);
      case HostAction::kSuspend:
        st->status = RunStatus::kSuspended;
        st->suspended_at = f;
        run->host_slots = slots;
        fiber_yield(c);  // set_host_results() wrote the results into slots
        return;
    }
    return;
  }
  const FuncCode* fc = f->code_;
  VmCtx* callee = native_of(fc) != nullptr ? ensure_vmctx(*f->instance_) : nullptr;
  if (callee == nullptr) {
    st->trap.message = "not supported yet: a call from compiled code to an interpreted module";
    trap_out(c, TrapCode::kHost, caller);
  }
  callee->run = run;
  reinterpret_cast<Trampoline>(fc->tramp)(callee, fc->native, slots);
  c->run = run;
}

// ---------------------------------------------------------------------------
// The helpers (native_helpers() names them for the backend)

[[noreturn]] void rt_trap(VmCtx* c, uint32_t code, uint32_t func_index) {
  trap_out(c, static_cast<TrapCode>(code), func_index);
}

[[noreturn]] void rt_trap_element(VmCtx* c, uint32_t code, uint32_t func_index, uint32_t elem) {
  trap_out(c, static_cast<TrapCode>(code), func_index, elem);
}

// Takes the spent counter and returns the next slice's. Compiled code
// declares this call as touching no memory it can see (codegen.cc): a yield
// for fuel changes no memory, global, table or dirty mark of the instance
// (nothing writes to a process's instance while it is between slices), so
// LLVM may keep memory bases, sizes and loads in registers across it.
int64_t rt_out_of_fuel(VmCtx* c, int64_t fuel) {
  c->run->fuel = fuel;
  c->run->st->status = RunStatus::kOutOfFuel;
  fiber_yield(c);
  return c->run->fuel;
}

// A guarded loop's stores (llvm/loop_guards.h): marks the chunks of bytes
// [first, last] before the loop runs instead of a mark per store.
void rt_mark_range(VmCtx* c, uint64_t first, uint64_t last) {
  MemoryImpl* m = c->memory;
  if (m == nullptr || first > last || first >= m->size_bytes()) {
    return;
  }
  last = std::min(last, m->size_bytes() - 1);
  m->mark(first, last - first + 1);
}

void rt_call_import(VmCtx* c, uint32_t callee, uint64_t* slots, uint32_t caller) {
  call_function(c, c->funcs[callee], slots, caller);
}

void rt_call_ref(VmCtx* c, Function* f, uint64_t* slots, uint32_t caller) {
  call_function(c, f, slots, caller);
}

uint32_t rt_memory_grow(VmCtx* c, uint32_t delta) {
  return memory_grow(&enter(c), delta);
}

void rt_memory_fill(VmCtx* c, uint32_t d, uint32_t v, uint32_t n, uint32_t fidx) {
  MemoryImpl* m = c->memory;
  if (uint64_t{d} + n > m->size_bytes()) {
    trap_out(c, TrapCode::kOutOfBoundsMemory, fidx);
  }
  if (n != 0) {
    std::memset(m->base() + d, static_cast<int>(v & 0xff), n);
    m->mark(d, n);
  }
  charge(c, n / kBytesPerFuel);
}

void rt_memory_copy(VmCtx* c, uint32_t d, uint32_t s, uint32_t n, uint32_t fidx) {
  MemoryImpl* m = c->memory;
  if (uint64_t{d} + n > m->size_bytes() || uint64_t{s} + n > m->size_bytes()) {
    trap_out(c, TrapCode::kOutOfBoundsMemory, fidx);
  }
  if (n != 0) {
    std::memmove(m->base() + d, m->base() + s, n);
    m->mark(d, n);
  }
  charge(c, n / kBytesPerFuel);
}

void rt_memory_init(VmCtx* c, uint32_t seg, uint32_t d, uint32_t s, uint32_t n, uint32_t fidx) {
  if (!memory_init(&enter(c), seg, d, s, n)) {
    trap_out(c, TrapCode::kOutOfBoundsMemory, fidx);
  }
  charge(c, n / kBytesPerFuel);
}

void rt_data_drop(VmCtx* c, uint32_t seg) {
  c->inst->data_dropped_[seg] = 1;
}

uint64_t rt_table_get(VmCtx* c, uint32_t t, uint32_t i, uint32_t fidx) {
  TableView* v = c->tables[t];
  if (i >= v->size) {
    trap_out(c, TrapCode::kOutOfBoundsTable, fidx);
  }
  return v->data[i];
}

void rt_table_set(VmCtx* c, uint32_t t, uint32_t i, uint64_t value, uint32_t fidx) {
  TableView* v = c->tables[t];
  if (i >= v->size) {
    trap_out(c, TrapCode::kOutOfBoundsTable, fidx);
  }
  v->data[i] = value;
}

uint32_t rt_table_size(VmCtx* c, uint32_t t) {
  return static_cast<uint32_t>(c->tables[t]->size);
}

uint32_t rt_table_grow(VmCtx* c, uint32_t t, uint64_t init, uint32_t n) {
  uint32_t r = table_grow(&enter(c), t, init, n);
  if (r != 0xffffffffu) {
    charge(c, n >> 3);
  }
  return r;
}

void rt_table_fill(VmCtx* c, uint32_t t, uint32_t i, uint64_t value, uint32_t n, uint32_t fidx) {
  TableView* v = c->tables[t];
  if (uint64_t{i} + n > v->size) {
    trap_out(c, TrapCode::kOutOfBoundsTable, fidx);
  }
  std::fill_n(v->data + i, n, value);
  charge(c, n >> 3);
}

void rt_table_copy(VmCtx* c, uint32_t dt, uint32_t stab, uint32_t d, uint32_t s, uint32_t n,
                   uint32_t fidx) {
  if (!table_copy(&enter(c), dt, stab, d, s, n)) {
    trap_out(c, TrapCode::kOutOfBoundsTable, fidx);
  }
  charge(c, n >> 3);
}

void rt_table_init(VmCtx* c, uint32_t t, uint32_t seg, uint32_t d, uint32_t s, uint32_t n,
                   uint32_t fidx) {
  if (!table_init(&enter(c), t, seg, d, s, n)) {
    trap_out(c, TrapCode::kOutOfBoundsTable, fidx);
  }
  charge(c, n >> 3);
}

void rt_elem_drop(VmCtx* c, uint32_t seg) {
  c->inst->elem_dropped_[seg] = 1;
}

uint64_t rt_ref_func(VmCtx* c, uint32_t index) {
  return ref_func(&enter(c), index);
}

}  // namespace

// ---------------------------------------------------------------------------
// The engine's side

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
const NativeLayout& native_layout() {
  static const NativeLayout layout = [] {
    NativeLayout l{};
    MemoryImpl::field_offsets(&l.memory_base, &l.memory_size, &l.memory_dirty);
    l.func_type_id = offsetof(Function, type_id_);
    l.func_code = offsetof(Function, code_);
    l.func_instance = offsetof(Function, instance_);
    l.code_native = offsetof(FuncCode, native);
    return l;
  }();
  return layout;
}
#pragma GCC diagnostic pop

void set_native_compiler(NativeCompiler compiler) {
  g_compiler.store(compiler, std::memory_order_release);
}

std::atomic<NativeCacheProbe> g_probe{nullptr};

void set_native_cache_probe(NativeCacheProbe probe) {
  g_probe.store(probe, std::memory_order_release);
}

NativeCompiler native_compiler() {
  return g_compiler.load(std::memory_order_acquire);
}

const std::vector<NativeHelper>& native_helpers() {
  static const std::vector<NativeHelper> helpers = {
#define RUSM_HELPER(name) {"rusm_" #name, reinterpret_cast<void*>(&name)}
      RUSM_HELPER(rt_trap),        RUSM_HELPER(rt_trap_element), RUSM_HELPER(rt_out_of_fuel),
      RUSM_HELPER(rt_call_import), RUSM_HELPER(rt_call_ref),     RUSM_HELPER(rt_memory_grow),
      RUSM_HELPER(rt_memory_fill), RUSM_HELPER(rt_memory_copy),  RUSM_HELPER(rt_memory_init),
      RUSM_HELPER(rt_data_drop),   RUSM_HELPER(rt_table_get),    RUSM_HELPER(rt_table_set),
      RUSM_HELPER(rt_table_size),  RUSM_HELPER(rt_table_grow),   RUSM_HELPER(rt_table_fill),
      RUSM_HELPER(rt_table_copy),  RUSM_HELPER(rt_table_init),   RUSM_HELPER(rt_elem_drop),
      RUSM_HELPER(rt_ref_func),    RUSM_HELPER(rt_mark_range),
#undef RUSM_HELPER
  };
  return helpers;
}

VmCtx* make_vmctx(InstanceImpl& inst) {
  auto* c = new (inst.arena_.allocate(sizeof(VmCtx), alignof(VmCtx))) VmCtx();
  c->memory = inst.memory_;
  c->globals = inst.globals_.data();
  c->funcs = inst.funcs_.data();
  c->inst = &inst;
  c->type_ids = inst.md_->type_ids.data();
  size_t n = inst.tables_.size();
  auto** views = static_cast<TableView**>(
      inst.arena_.allocate(std::max<size_t>(n, 1) * sizeof(TableView*), alignof(TableView*)));
  for (size_t i = 0; i < n; ++i) {
    views[i] = inst.tables_[i]->view();
  }
  c->tables = views;
  return c;
}

VmCtx* ensure_vmctx(InstanceImpl& inst) {
  if (inst.vmctx_ == nullptr && inst.md_->native_code() != nullptr) {
    inst.vmctx_ = make_vmctx(inst);
  }
  return inst.vmctx_;
}

void prepare_native_call(ExecState& st, InstanceImpl& inst, const FuncCode& fc, Slot* slots) {
  if (st.native_run == nullptr) {
    st.native_run = new NativeRun();
  }
  NativeRun& run = *st.native_run;
  run.entry_ctx = inst.vmctx_;
  run.entry_fn = native_of(&fc);
  run.entry_tramp = __atomic_load_n(&fc.tramp, __ATOMIC_RELAXED);
  run.slots = slots;
  run.host_slots = nullptr;
}

void run_native(ExecState& st) {
  NativeRun* run = st.native_run;
  if (run->fiber_context == nullptr) {
    StackSlot* slot = stack_pool().acquire();
    if (slot == nullptr) {
      record_trap(st, nullptr, TrapCode::kCallStackExhausted,
                  "no stack for compiled code: the address space is exhausted");
      return;
    }
    uint8_t* stack = slot->base;
    run->slot = slot;
    run->stack_base = stack;
    // Compiled frames may use the execution's stack budget (ExecutionLimits::
    // max_stack_bytes), at most what the fiber has above the host's reserve.
    size_t budget = std::min(st.limits.max_stack_bytes, kFiberStackBytes - kHostReserveBytes);
    run->stack_limit = reinterpret_cast<uintptr_t>(stack) + kFiberStackBytes - budget;
    run->finished = false;
    run->fiber_context =
        fctx::make_fcontext(stack + kFiberStackBytes, kFiberStackBytes, fiber_main);
  } else {
    take_back(run->slot);
  }
  run->st = &st;
  run->fuel = st.fuel;
  run->entry_ctx->run = run;
  void* fake_stack = nullptr;
  asan_leave(&fake_stack, run->stack_base, kFiberStackBytes);
  fctx::transfer_t t = fctx::jump_fcontext(run->fiber_context, run);
  asan_arrive(fake_stack, nullptr, nullptr);
  if (run->finished) {
    release_stack(run);
  } else {
    run->fiber_context = t.fctx;
    park(run->slot, t.fctx);
  }
  st.fuel = run->fuel;
}

void discard_native(ExecState& st) {
  NativeRun* run = st.native_run;
  if (run != nullptr && run->fiber_context != nullptr) {
    take_back(run->slot);
    release_stack(run);
  }
}

void unpark_native(ExecState& st) {
  NativeRun* run = st.native_run;
  if (run != nullptr && run->fiber_context != nullptr) {
    take_back(run->slot);
    // Parked again at once (the clock restarts): the owner runs it next.
    park(run->slot, run->fiber_context);
  }
}

size_t parked_stack_bytes(const ExecState& st) {
  const NativeRun* run = st.native_run;
  if (run == nullptr || run->fiber_context == nullptr) {
    return 0;
  }
  const StackSlot* slot = run->slot;
  if (slot->state.load(std::memory_order_acquire) == kTrimmed) {
    return slot->saved_len;
  }
  // The live frames' pages (the ones below were touched too, perhaps).
  auto top = reinterpret_cast<uintptr_t>(slot->base + kFiberStackBytes);
  auto sp = reinterpret_cast<uintptr_t>(run->fiber_context) & ~uintptr_t{4095};
  return top - sp;
}

}  // namespace rusm::wasm::internal

namespace rusm::wasm {

bool native_code_cached(std::span<const uint8_t> bytes, const CompileOptions& options) {
  internal::NativeCacheProbe probe = internal::g_probe.load(std::memory_order_acquire);
  return probe != nullptr && probe(bytes, options);
}

}  // namespace rusm::wasm
