// The interpreter.
//
// Hot path: everything here. Guarded by `rusm bench cpu` (the C corpus under
// the engine, natively and under V8) and `rusm bench dispatch`.
//
// ## The internal code
//
// The compiler (compiler.cc) translates each validated function body into a
// register-machine code over 8-byte value slots:
//
//   frame (fp[0] ...):  params | declared locals | operand-stack slots
//
// Every local and every operand-stack position has a slot fixed at compile
// time (a v128 takes two), so an instruction names its inputs and output by
// slot index and nothing is pushed or popped at run time. `local.get` costs
// nothing (the consumer reads the local's slot directly), `local.set` of a
// computed value usually costs nothing (the producer writes the local), and
// constants mostly become immediates.
//
// An instruction is a handler word followed by operand words:
//
//   [handler] [operands...]
//
//   slot word   three slot indices of 21 bits: F0 = bits 0-20, F1 = 21-41,
//               F2 = 42-62 (code.h: pack_slots / slot_f0..2). By convention
//               inputs are F0, F1 and the output F2.
//   branch word low 32 bits: signed offset in words from the start of the
//               branching instruction; high 32: the signed fuel charged when
//               taken (see Fuel below).
//   immediates  one word each (constants, memory offsets, indices, pointers).
//
// The layout of each instruction is written above its handler in
// interp_ops.inc, e.g. `i32_add: [h][F0=a F1=b F2=d]` or
// `i32_load: [h][F0=addr F2=d][offset]`.
//
// Superinstructions: `<binop>_imm` takes its second operand as an immediate
// word; `br_<cmp>` / `brn_<cmp>` fuse a comparison with the branch that
// consumes it (branch if it holds / does not hold), with `_imm` variants
// whose immediate sits in the upper half of the slot word.
//
// Calls: the arguments of a call are the top operand-stack slots of the
// caller, consecutive; the callee's frame starts there (fp' = fp + arg_base),
// so arguments become the callee's first locals without copying, and the
// callee leaves its results at fp'[0...], which is where the caller expects
// them. Return addresses, caller frame pointers and instances go to a
// separate control stack (Frame, engine.h). Both stacks belong to the
// Execution, never to the native stack, which is what makes a call
// resumable on another thread.
//
// ## Dispatch
//
// Handlers are written once, in interp_ops.inc, with macros (OP, NEXT,
// DISPATCH, TRAP, ...) and compiled under two schemes:
//
//   kTailCall  each handler is a function taking the machine registers
//              (ip, fp, mem, msize, st, fuel) as arguments and ending in a
//              guaranteed tail call ([[clang::musttail]]) to the next
//              handler; the registers stay in machine registers across the
//              whole run. clang only. The handler word is a function pointer.
//   kGoto      one function, handlers are labels, `goto *handler` between
//              them (GNU computed goto). The handler word is a label address.
//
// Code is compiled for one scheme (Module::compile's default, or the
// benchmark's choice) since the handler words differ.
//
// ## Fuel
//
// One unit of fuel is one executed instruction of this internal code (so
// `local.get`, `block` or a fused compare-and-branch cost what they cost
// here: nothing, nothing, one), charged on the path actually taken, whatever
// the control flow: a loop over a `switch` of 3000 cases costs per iteration
// the dozen instructions it runs, not the 3000 cases.
//
// The charge points are the ones that already exist: taken branches (their
// branch word holds a charge) and function entry (FuncCode::fuel_cost). The
// code of a function is cut into runs: a run is a stretch of code in code
// order that ends with an unconditional transfer (br, br_table, return,
// unreachable), so the fall-through path only ever moves forward within a
// run, through conditional branches not taken and through branch targets.
// Entering a run at instruction p prepays the rest of the run, R(p) =
// instructions from p to the run's end; falling through costs nothing. A
// taken branch to t charges R(t) - R(n), n being the instruction after the
// branch, which its run had prepaid: negative when the branch skips prepaid
// code (a forward branch within its run gives back what it skips), R(t) for
// an unconditional transfer (R(n) is 0: its run ends with it). Function
// entry charges R(entry); a call does not end the caller's run (the rest was
// prepaid) and a return charges nothing. So at every moment
//
//   fuel charged = instructions executed + R(current point) + R(each
//                  caller's return point)
//
// exactly: a finished call has been charged exactly the instructions it
// executed, and no control-flow shape can make a unit worth more or less
// than an instruction. A run longer than kMaxFuelRun is cut by a `charge`
// instruction that prepays the next piece on the fall-through path, so no
// single charge exceeds kMaxFuelRun (= kMaxFuelOvershoot, wasm.h): that bounds
// how far past its budget a run goes. Charges cost nothing extra at run
// time: every taken branch already subtracted its (formerly often zero)
// charge and checked the fuel.
//
// Preemption: every cycle in the control flow passes a taken branch or a
// call, where fuel is checked, and a full turn of any cycle charges exactly
// its instructions (at least one), so fuel at a given check point falls by at
// least one per turn: every loop, however its body branches, runs out. Bulk
// memory and table operations also charge by size (a unit per 64 bytes or 8
// elements). Fuel below zero stops the run with kOutOfFuel at a point where
// it can resume: the next instruction to execute is saved with the frame
// pointer. A refund only raises fuel, so it never stops a run.
//
// ## Memory
//
// `mem`/`msize` hold memory 0's base and byte size, reloaded after anything
// that can move or grow it (memory.grow, calls, returns). Accesses compute a
// 64-bit effective address (u32 operand + offset) and compare its end with
// msize: no guard pages. Stores also mark the written 256-byte chunk dirty at
// mem[-1 - (ea >> kChunkShift)], testing the mark first so that only a
// chunk's first store writes it and counts it for the footprint (memory.h).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>

#include "wasm/engine.h"

#if defined(__clang__)
#define RUSM_HAVE_TAILCALL 1
#else
#define RUSM_HAVE_TAILCALL 0
#endif

#if defined(__has_attribute)
#if __has_attribute(preserve_none)
#define RUSM_PRESERVE_NONE __attribute__((preserve_none))
#endif
#endif
#ifndef RUSM_PRESERVE_NONE
#define RUSM_PRESERVE_NONE
#endif

#define RUSM_LIKELY(x) __builtin_expect(!!(x), 1)
#define RUSM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RUSM_NOINLINE __attribute__((noinline))
#define RUSM_INLINE inline __attribute__((always_inline))

namespace rusm::wasm::internal {
namespace {

// ---------------------------------------------------------------------------
// Typed slot access

template <typename T>
RUSM_INLINE T get(Slot s) {
  if constexpr (std::is_same_v<T, uint32_t>) {
    return static_cast<uint32_t>(s);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return static_cast<int32_t>(static_cast<uint32_t>(s));
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return s;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<int64_t>(s);
  } else if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<float>(static_cast<uint32_t>(s));
  } else {
    static_assert(std::is_same_v<T, double>);
    return std::bit_cast<double>(s);
  }
}

template <typename T>
RUSM_INLINE Slot put(T v) {
  if constexpr (std::is_same_v<T, uint32_t>) {
    return v;
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return static_cast<uint32_t>(v);
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return v;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<uint64_t>(v);
  } else if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<uint32_t>(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? 1 : 0;
  } else {
    static_assert(std::is_same_v<T, double>);
    return std::bit_cast<uint64_t>(v);
  }
}

// ---------------------------------------------------------------------------
// Numeric semantics that C++ does not give directly

template <typename F>
RUSM_INLINE F wasm_min(F a, F b) {
  if (std::isnan(a) || std::isnan(b)) {
    return a + b;  // a quiet NaN, propagating an input's payload
  }
  if (a == b) {
    return std::signbit(a) ? a : b;  // min(-0, +0) = -0
  }
  return a < b ? a : b;
}

template <typename F>
RUSM_INLINE F wasm_max(F a, F b) {
  if (std::isnan(a) || std::isnan(b)) {
    return a + b;
  }
  if (a == b) {
    return std::signbit(a) ? b : a;
  }
  return a > b ? a : b;
}

template <typename F>
RUSM_INLINE F wasm_ceil(F x) {
  return std::isnan(x) ? x + x : std::ceil(x);
}
template <typename F>
RUSM_INLINE F wasm_floor(F x) {
  return std::isnan(x) ? x + x : std::floor(x);
}
template <typename F>
RUSM_INLINE F wasm_trunc(F x) {
  return std::isnan(x) ? x + x : std::trunc(x);
}
template <typename F>
RUSM_INLINE F wasm_nearest(F x) {
  return std::isnan(x) ? x + x : std::nearbyint(x);
}

RUSM_INLINE float f32_abs(float x) {
  return std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0x7fffffffu);
}
RUSM_INLINE float f32_neg(float x) {
  return std::bit_cast<float>(std::bit_cast<uint32_t>(x) ^ 0x80000000u);
}
RUSM_INLINE float f32_copysign(float a, float b) {
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & 0x7fffffffu) |
                              (std::bit_cast<uint32_t>(b) & 0x80000000u));
}
RUSM_INLINE double f64_abs(double x) {
  return std::bit_cast<double>(std::bit_cast<uint64_t>(x) & 0x7fffffffffffffffull);
}
RUSM_INLINE double f64_neg(double x) {
  return std::bit_cast<double>(std::bit_cast<uint64_t>(x) ^ 0x8000000000000000ull);
}
RUSM_INLINE double f64_copysign(double a, double b) {
  return std::bit_cast<double>((std::bit_cast<uint64_t>(a) & 0x7fffffffffffffffull) |
                               (std::bit_cast<uint64_t>(b) & 0x8000000000000000ull));
}

// Float -> integer truncation: the open interval (lo, hi) of inputs whose
// truncation fits the target type.
template <typename I, typename F>
struct TruncRange;
template <>
struct TruncRange<int32_t, float> {
  static constexpr float lo = -2147483904.0f, hi = 2147483648.0f;
};
template <>
struct TruncRange<uint32_t, float> {
  static constexpr float lo = -1.0f, hi = 4294967296.0f;
};
template <>
struct TruncRange<int32_t, double> {
  static constexpr double lo = -2147483649.0, hi = 2147483648.0;
};
template <>
struct TruncRange<uint32_t, double> {
  static constexpr double lo = -1.0, hi = 4294967296.0;
};
template <>
struct TruncRange<int64_t, float> {
  static constexpr float lo = -9223373136366403584.0f, hi = 9223372036854775808.0f;
};
template <>
struct TruncRange<uint64_t, float> {
  static constexpr float lo = -1.0f, hi = 18446744073709551616.0f;
};
template <>
struct TruncRange<int64_t, double> {
  static constexpr double lo = -9223372036854777856.0, hi = 9223372036854775808.0;
};
template <>
struct TruncRange<uint64_t, double> {
  static constexpr double lo = -1.0, hi = 18446744073709551616.0;
};

// 0 = ok, 1 = NaN, 2 = out of range.
template <typename I, typename F>
RUSM_INLINE int trunc_check(F x) {
  if (std::isnan(x)) {
    return 1;
  }
  if (!(x > TruncRange<I, F>::lo && x < TruncRange<I, F>::hi)) {
    return 2;
  }
  return 0;
}

template <typename I, typename F>
RUSM_INLINE I trunc_sat(F x) {
  if (std::isnan(x)) {
    return 0;
  }
  if (!(x > TruncRange<I, F>::lo)) {
    return std::numeric_limits<I>::min();
  }
  if (!(x < TruncRange<I, F>::hi)) {
    return std::numeric_limits<I>::max();
  }
  return static_cast<I>(x);
}

template <typename T, typename W>
RUSM_INLINE T saturate(W v) {
  if (v < static_cast<W>(std::numeric_limits<T>::min())) {
    return std::numeric_limits<T>::min();
  }
  if (v > static_cast<W>(std::numeric_limits<T>::max())) {
    return std::numeric_limits<T>::max();
  }
  return static_cast<T>(v);
}

// ---------------------------------------------------------------------------
// Slow paths shared by both dispatch schemes. Each takes what it needs and
// writes the machine state back into the ExecState when it stops the run.

RUSM_NOINLINE void exit_out_of_fuel(ExecState* st, const Word* ip, Slot* fp, int64_t fuel) {
  st->ip = ip;
  st->fp = fp;
  st->fuel = fuel;
  st->status = RunStatus::kOutOfFuel;
}

RUSM_NOINLINE void exit_trap(ExecState* st, const Word* ip, Slot* fp, TrapCode code) {
  st->fp = fp;
  record_trap(*st, ip, code);
}

// A call_indirect trap names the element, as the reference interpreter does.
RUSM_NOINLINE void exit_trap_element(ExecState* st, const Word* ip, Slot* fp, TrapCode code,
                                     uint32_t index) {
  st->fp = fp;
  record_trap(*st, ip, code, std::string(to_string(code)) + " " + std::to_string(index));
}

// Makes room for a call whose frame starts `arg_base` slots above *fp and
// needs `frame_slots`; false (with a trap recorded) if a limit forbids it.
RUSM_NOINLINE bool make_room(ExecState* st, const Word* ip, Slot** fp, size_t arg_base,
                             size_t frame_slots) {
  if (st->frame + 1 >= st->frame_end && !st->grow_frames()) {
    exit_trap(st, ip, *fp, TrapCode::kCallStackExhausted);
    return false;
  }
  if (*fp + arg_base + frame_slots > st->stack_end && !st->grow_stack(fp, arg_base + frame_slots)) {
    exit_trap(st, ip, *fp, TrapCode::kCallStackExhausted);
    return false;
  }
  return true;
}

// Calls `f` (any instance, or a host function) with its arguments at
// fp + arg_base. Returns the next instruction (the callee's entry, or
// ret_ip after a host function), with st->fp set to the frame to run in; or
// nullptr when the run must stop (trap, suspension, out of fuel; the state
// is saved).
//
// A host call is where an embedder's interrupt takes effect (the run stops
// before the call, to make it when resumed: every call instruction is
// kCallWords long, so it starts at ret_ip - kCallWords), and where the fuel a
// host function charged (st->fuel_debt) is taken: a call that spent more
// than was left ends the run when it returns.
constexpr size_t kCallWords = 3;  // call_import, call_fn, call_indirect

RUSM_NOINLINE const Word* invoke(ExecState* st, Function* f, const Word* ret_ip, Slot* fp,
                                 size_t arg_base, int64_t* fuel) {
  if (f->code_ == nullptr) {
    if (RUSM_UNLIKELY(st->interrupt->load(std::memory_order_relaxed))) {
      exit_out_of_fuel(st, ret_ip - kCallWords, fp, *fuel);
      return nullptr;
    }
    Slot* args = fp + arg_base;
    HostCall call(st->exec, st->inst, f, args);
    HostAction action = static_cast<HostFunctionBase*>(f)->callback_(call);
    if (RUSM_UNLIKELY(st->fuel_debt != 0)) {
      *fuel -= st->fuel_debt;
      st->fuel_debt = 0;
      if (*fuel < 0 && action == HostAction::kReturn) {
        exit_out_of_fuel(st, ret_ip, fp, *fuel);
        return nullptr;
      }
    }
    switch (action) {
      case HostAction::kReturn:
        st->fp = fp;
        return ret_ip;
      case HostAction::kTrap:
        st->fp = fp;
        record_trap(*st, ret_ip - 1, TrapCode::kHost, std::move(call.trap_message()));
        return nullptr;
      case HostAction::kSuspend:
        st->status = RunStatus::kSuspended;
        st->suspended_at = f;
        st->suspended_slots = static_cast<size_t>(args - st->stack_base());
        st->ip = ret_ip;
        st->fp = fp;
        st->fuel = *fuel;
        return nullptr;
    }
    return nullptr;
  }
  const FuncCode* fc = f->code_;
  if (!make_room(st, ret_ip - 1, &fp, arg_base, fc->frame_slots)) {
    return nullptr;
  }
  Frame* frame = ++st->frame;
  frame->ret_ip = ret_ip;
  frame->fp = fp;
  frame->inst = st->inst;
  InstanceImpl* callee_inst = f->instance_;
  if (callee_inst != st->inst) {
    st->enter_instance(callee_inst);
  }
  Slot* nfp = fp + arg_base;
  if (fc->local_slots != 0) {
    std::memset(nfp + fc->param_slots, 0, fc->local_slots * sizeof(Slot));
  }
  *fuel -= fc->fuel_cost;
  st->fp = nfp;
  const Word* entry = entry_of(fc);
  if (*fuel < 0) {
    exit_out_of_fuel(st, entry, nfp, *fuel);
    return nullptr;
  }
  return entry;
}

}  // namespace

// The slow paths of memory, table and reference instructions, shared with
// the compiled tier's helpers (native.cc).

// memory.grow: the old size in pages, or -1.
// The instance's ResourceLimiter (if any) is asked once the engine's own
// limit allows the growth.
RUSM_NOINLINE uint32_t memory_grow(ExecState* st, uint32_t delta) {
  MemoryImpl* m = st->memory;
  if (m == nullptr) {
    return 0xffffffffu;
  }
  ResourceLimiter* limiter = st->inst->limiter_;
  uint64_t old_pages = m->pages();
  bool asked = limiter != nullptr && delta != 0 && delta <= m->limit_pages() - old_pages;
  if (asked && !limiter->memory_growing(old_pages * kPageSize, (old_pages + delta) * kPageSize)) {
    return 0xffffffffu;
  }
  auto old = m->grow(delta);
  if (!old) {
    if (asked) {
      limiter->memory_grow_failed(old_pages * kPageSize, (old_pages + delta) * kPageSize);
    }
    return 0xffffffffu;
  }
  return static_cast<uint32_t>(*old);
}

RUSM_NOINLINE bool memory_init(ExecState* st, uint32_t seg, uint64_t d, uint64_t s, uint64_t n) {
  const DataSegment& data = st->inst->md_->ir.datas[seg];
  uint64_t size = st->inst->data_dropped_[seg] ? 0 : data.size;
  MemoryImpl* m = st->memory;
  if (s + n > size || d + n > m->size_bytes()) {
    return false;
  }
  if (n != 0) {
    std::memcpy(m->base() + d, st->inst->md_->ir.bytes.data() + data.bytes_offset + s, n);
    m->mark(d, n);
  }
  return true;
}

RUSM_NOINLINE bool table_init(ExecState* st, uint32_t table, uint32_t seg, uint64_t d, uint64_t s,
                              uint64_t n) {
  InstanceImpl* inst = st->inst;
  const ElemSegment& elem = inst->md_->ir.elems[seg];
  uint64_t size = inst->elem_dropped_[seg] ? 0 : elem.init.size();
  TableImpl* t = st->tables[table];
  if (s + n > size || d + n > t->size()) {
    return false;
  }
  uint64_t* data = t->data();
  for (uint64_t i = 0; i < n; ++i) {
    data[d + i] = inst->eval_const(elem.init[s + i]);
  }
  return true;
}

RUSM_NOINLINE bool table_copy(ExecState* st, uint32_t dt, uint32_t stab, uint64_t d, uint64_t s,
                              uint64_t n) {
  TableImpl* dst = st->tables[dt];
  TableImpl* src = st->tables[stab];
  if (s + n > src->size() || d + n > dst->size()) {
    return false;
  }
  if (n != 0) {
    std::memmove(dst->data() + d, src->data() + s, n * sizeof(uint64_t));
  }
  return true;
}

RUSM_NOINLINE Slot ref_func(ExecState* st, uint32_t index) {
  return reinterpret_cast<Slot>(st->inst->function(index));
}

RUSM_NOINLINE uint32_t table_grow(ExecState* st, uint32_t table, uint64_t init, uint32_t n) {
  TableImpl* t = st->tables[table];
  ResourceLimiter* limiter = st->inst->limiter_;
  uint32_t old = t->size();
  if (limiter != nullptr && n != 0 && n <= t->limit() - old &&
      !limiter->table_growing(old, uint64_t{old} + n)) {
    return 0xffffffffu;
  }
  auto r = t->grow_raw(n, init);
  return r ? *r : 0xffffffffu;
}

namespace {

// ---------------------------------------------------------------------------
// Handlers, compiled once per dispatch scheme.

#define RUSM_V128_AT(p) (p)

#if RUSM_HAVE_TAILCALL

#define HARGS const Word *ip, Slot *fp, uint8_t *mem, uint64_t msize, ExecState *st, int64_t fuel
#define HPASS ip, fp, mem, msize, st, fuel
typedef RUSM_PRESERVE_NONE void (*Handler)(HARGS);

#define OP(name) RUSM_PRESERVE_NONE RUSM_NOINLINE void tc_##name(HARGS)
#define DISPATCH() [[clang::musttail]] return reinterpret_cast<Handler>(*ip)(HPASS)

namespace tailcall {
#include "wasm/interp_ops.inc"

const Word kTable[] = {
#define RUSM_TC_ENTRY(name) reinterpret_cast<Word>(&tc_##name),
    RUSM_FOR_EACH_OP(RUSM_TC_ENTRY)
#undef RUSM_TC_ENTRY
};

void run(ExecState& state) {
  ExecState* st = &state;
  const Word* ip = st->ip;
  reinterpret_cast<Handler> (*ip)(ip, st->fp, st->mem_base(), st->mem_size(), st, st->fuel);
}
}  // namespace tailcall

#undef OP
#undef DISPATCH
#undef HARGS
#undef HPASS
#endif  // RUSM_HAVE_TAILCALL

namespace computed_goto {

const Word* table_ptr = nullptr;

#ifdef RUSM_OP_PROFILE
// Developer builds only (cmake -DRUSM_OP_PROFILE=ON, computed-goto dispatch):
// counts executed instructions and pairs of consecutive instructions, printed
// at exit, to find which superinstructions would pay off.
struct OpProfile {
  static constexpr size_t kOps = static_cast<size_t>(Op::kCount);
  uint64_t count[kOps] = {};
  uint64_t pair[kOps][kOps] = {};
  size_t last = 0;
  ~OpProfile() {
    uint64_t total = 0;
    for (uint64_t c : count) {
      total += c;
    }
    if (total == 0) {
      return;
    }
    std::vector<std::pair<uint64_t, size_t>> ops;
    for (size_t i = 0; i < kOps; ++i) {
      if (count[i] != 0) {
        ops.emplace_back(count[i], i);
      }
    }
    std::sort(ops.rbegin(), ops.rend());
    std::fprintf(stderr, "op profile: %llu instructions\n", static_cast<unsigned long long>(total));
    for (size_t i = 0; i < ops.size() && i < 25; ++i) {
      std::fprintf(stderr, "  %6.2f%%  %s\n", 100.0 * ops[i].first / total,
                   op_name(static_cast<Op>(ops[i].second)));
    }
    std::vector<std::pair<uint64_t, size_t>> pairs;
    for (size_t a = 0; a < kOps; ++a) {
      for (size_t b = 0; b < kOps; ++b) {
        if (pair[a][b] != 0) {
          pairs.emplace_back(pair[a][b], a * kOps + b);
        }
      }
    }
    std::sort(pairs.rbegin(), pairs.rend());
    std::fprintf(stderr, "pairs:\n");
    for (size_t i = 0; i < pairs.size() && i < 25; ++i) {
      std::fprintf(stderr, "  %6.2f%%  %s -> %s\n", 100.0 * pairs[i].first / total,
                   op_name(static_cast<Op>(pairs[i].second / kOps)),
                   op_name(static_cast<Op>(pairs[i].second % kOps)));
    }
  }
};
OpProfile op_profile;
#define RUSM_PROFILE_OP(name)                   \
  do {                                          \
    size_t op_ = static_cast<size_t>(Op::name); \
    ++op_profile.count[op_];                    \
    ++op_profile.pair[op_profile.last][op_];    \
    op_profile.last = op_;                      \
  } while (0);
#else
#define RUSM_PROFILE_OP(name)
#endif

void run(ExecState* st) {
  static const void* const kLabels[] = {
#define RUSM_GOTO_ENTRY(name) &&L_##name,
      RUSM_FOR_EACH_OP(RUSM_GOTO_ENTRY)
#undef RUSM_GOTO_ENTRY
  };
  if (st == nullptr) {
    table_ptr = reinterpret_cast<const Word*>(kLabels);
    return;
  }
  const Word* ip = st->ip;
  Slot* fp = st->fp;
  uint8_t* mem = st->mem_base();
  uint64_t msize = st->mem_size();
  int64_t fuel = st->fuel;
#define OP(name) L_##name : RUSM_PROFILE_OP(name)
#define DISPATCH() goto* reinterpret_cast<const void*>(*ip)
  DISPATCH();
#include "wasm/interp_ops.inc"
#undef OP
#undef DISPATCH
}

}  // namespace computed_goto

}  // namespace

const Word* handler_table(Dispatch d) {
#if RUSM_HAVE_TAILCALL
  if (d == Dispatch::kTailCall) {
    return tailcall::kTable;
  }
#endif
  static std::once_flag once;
  std::call_once(once, [] { computed_goto::run(nullptr); });
  return computed_goto::table_ptr;
}

Dispatch default_dispatch() {
#if RUSM_HAVE_TAILCALL
  return Dispatch::kTailCall;
#else
  return Dispatch::kGoto;
#endif
}

bool dispatch_available(Dispatch d) {
  return d == Dispatch::kGoto || RUSM_HAVE_TAILCALL;
}

void run_interpreter(ExecState& st) {
#if RUSM_HAVE_TAILCALL
  if (st.dispatch == Dispatch::kTailCall) {
    tailcall::run(st);
    return;
  }
#endif
  computed_goto::run(&st);
}

const char* op_name(Op op) {
  static const char* const kNames[] = {
#define RUSM_OP_NAME(name) #name,
      RUSM_FOR_EACH_OP(RUSM_OP_NAME)
#undef RUSM_OP_NAME
  };
  size_t i = static_cast<size_t>(op);
  return i < static_cast<size_t>(Op::kCount) ? kNames[i] : "?";
}

}  // namespace rusm::wasm::internal
