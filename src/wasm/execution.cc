// Executions (resumable calls), host functions and host calls.
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "wasm/engine.h"
#include "wasm/native.h"

namespace rusm::wasm {

using internal::ExecState;
using internal::Frame;
using internal::InstanceImpl;
using internal::Slot;

struct Execution::State : ExecState {};

namespace internal {

uint32_t canonical_type_id(const FuncType& type) {
  static std::mutex mu;
  static std::unordered_map<std::string, uint32_t> ids;
  std::string key;
  key.reserve(type.params.size() + type.results.size() + 1);
  for (ValType t : type.params) {
    key.push_back(static_cast<char>(t));
  }
  key.push_back('\0');
  for (ValType t : type.results) {
    key.push_back(static_cast<char>(t));
  }
  std::lock_guard<std::mutex> lock(mu);
  auto [it, inserted] = ids.try_emplace(std::move(key), static_cast<uint32_t>(ids.size() + 1));
  return it->second;
}

bool ExecState::grow_stack(Slot** fp, size_t need) {
  size_t max_slots = limits.max_stack_bytes / sizeof(Slot);
  size_t offset = static_cast<size_t>(*fp - stack);
  size_t required = offset + need;
  if (required > max_slots) {
    return false;
  }
  size_t size = std::min(std::max(stack_slots * 2, required), max_slots);
  std::unique_ptr<Slot[]> bigger(new Slot[size]);
  std::memcpy(bigger.get(), stack, stack_slots * sizeof(Slot));
  Slot* old_base = stack;
  Slot* new_base = bigger.get();
  auto move = [&](Slot* p) { return p == nullptr ? p : new_base + (p - old_base); };
  for (Frame* f = frames; f <= frame; ++f) {
    f->fp = move(f->fp);
  }
  this->fp = move(this->fp);
  *fp = move(*fp);
  grown_stack = std::move(bigger);
  stack = new_base;
  stack_slots = size;
  stack_end = stack + size;
  return true;
}

bool ExecState::grow_frames() {
  size_t max_frames = size_t{limits.max_call_depth} + 1;
  if (frame_capacity >= max_frames) {
    return false;
  }
  size_t capacity = std::min(frame_capacity * 2, max_frames);
  std::unique_ptr<Frame[]> bigger(new Frame[capacity]);
  size_t top = static_cast<size_t>(frame - frames);
  std::copy(frames, frames + top + 1, bigger.get());
  grown_frames = std::move(bigger);
  frames = grown_frames.get();
  frame_capacity = capacity;
  frame = frames + top;
  frame_end = frames + capacity;
  return true;
}

void record_trap(ExecState& st, const Word* ip, TrapCode code, std::string message) {
  st.status = RunStatus::kTrapped;
  st.trap.code = code;
  st.trap.message = message.empty() ? to_string(code) : std::move(message);
  st.trap.func_index = st.entry != nullptr ? st.entry->index() : 0;
  st.trap.func_name.clear();
  const InstanceImpl* inst = st.inst;
  if (inst != nullptr && ip != nullptr) {
    const std::vector<Word>& code_words = inst->md_->code;
    if (ip >= code_words.data() && ip < code_words.data() + code_words.size()) {
      if (const FuncCode* fc = inst->md_->func_at(static_cast<size_t>(ip - code_words.data()))) {
        st.trap.func_index = fc->func_index;
      }
    }
    auto it = inst->md_->ir.func_names.find(st.trap.func_index);
    if (it != inst->md_->ir.func_names.end()) {
      st.trap.func_name = it->second;
    }
  }
}

namespace {

// A host function: the Function plus what only host functions have.
class HostFunction final : public HostFunctionBase {
 public:
  HostFunction(FuncType type, HostCallback callback, void* data, std::string name)
      : stored_type_(std::move(type)), name_(std::move(name)) {
    type_ = &stored_type_;
    type_id_ = canonical_type_id(stored_type_);
    callback_ = callback;
    host_data_ = data;
    auto one_slot = [](const std::vector<ValType>& v) {
      return std::none_of(v.begin(), v.end(), [](ValType t) { return slot_count(t) != 1; });
    };
    one_slot_types_ = one_slot(stored_type_.params) && one_slot(stored_type_.results);
  }
  const std::string& name() const { return name_; }

 private:
  FuncType stored_type_;
  std::string name_;
};

void write_value(Slot* slots, const Value& v) {
  slots[0] = v.raw();
  if (v.type() == ValType::V128) {
    slots[1] = v.raw_hi();
  }
}

Value read_value(ValType t, const Slot* s) {
  switch (t) {
    case ValType::I32:
      return Value::i32(static_cast<uint32_t>(s[0]));
    case ValType::I64:
      return Value::i64(s[0]);
    case ValType::F32:
      return Value::f32_bits(static_cast<uint32_t>(s[0]));
    case ValType::F64:
      return Value::f64_bits(s[0]);
    case ValType::V128:
      return Value::v128_words(s[0], s[1]);
    case ValType::FuncRef:
      return Value::funcref(reinterpret_cast<Function*>(s[0]));
    case ValType::ExternRef:
      return Value::externref(static_cast<uintptr_t>(s[0]));
  }
  return Value();
}

Status check_values(const std::vector<ValType>& types, std::span<const Value> values,
                    const char* what) {
  if (values.size() != types.size()) {
    return Error(std::string(what) + ": expected " + std::to_string(types.size()) +
                     " values, got " + std::to_string(values.size()),
                 static_cast<int>(ErrorCode::kUsage));
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (values[i].type() != types[i]) {
      return Error(std::string(what) + " " + std::to_string(i) + ": expected " +
                       to_string(types[i]) + ", got " + to_string(values[i].type()),
                   static_cast<int>(ErrorCode::kUsage));
    }
  }
  return Status::ok();
}

}  // namespace
}  // namespace internal

// ---------------------------------------------------------------------------
// Functions

std::unique_ptr<Function> Function::host(FuncType type, HostCallback callback, void* data,
                                         std::string debug_name) {
  return std::make_unique<internal::HostFunction>(std::move(type), callback, data,
                                                  std::move(debug_name));
}

std::string_view Function::debug_name() const {
  if (code_ == nullptr) {
    return static_cast<const internal::HostFunction*>(this)->name();
  }
  return instance_->module().func_name(index_);
}

Instance* Function::instance() const {
  return instance_;
}

// ---------------------------------------------------------------------------
// Host calls

size_t HostCall::wide_slot_of(size_t i, bool param) const {
  const std::vector<ValType>& types = param ? type_->params : type_->results;
  size_t s = 0;
  for (size_t k = 0; k < i; ++k) {
    s += internal::slot_count(types[k]);
  }
  return s;
}

Memory* HostCall::memory() const {
  return caller_ != nullptr ? caller_->memory(0) : nullptr;
}

float HostCall::arg_f32(size_t i) const {
  return arg(i).f32();
}
double HostCall::arg_f64(size_t i) const {
  return arg(i).f64();
}
Value HostCall::arg(size_t i) const {
  return internal::read_value(type_->params[i], slots_ + slot_of_arg(i));
}
void HostCall::set_result(size_t i, const Value& v) {
  internal::write_value(slots_ + slot_of_result(i), v);
}
void HostCall::consume_fuel(int64_t units) {
  exec_->consume_fuel(units);
}

// ---------------------------------------------------------------------------
// Executions

// One allocation per Execution (a spawn makes one): the state, then its
// initial control stack, then its initial value stack.
Execution::Execution(const ExecutionLimits& limits) {
  size_t slots = std::max<size_t>(limits.initial_stack_bytes / sizeof(Slot), 16);
  size_t frames =
      std::min<size_t>(std::clamp<size_t>(slots / 8, 2, 16), size_t{limits.max_call_depth} + 1);
  static_assert(alignof(State) >= alignof(Frame) && alignof(Frame) >= alignof(Slot));
  static_assert(sizeof(State) % alignof(Frame) == 0 && sizeof(Frame) % alignof(Slot) == 0);
  void* mem = ::operator new(sizeof(State) + frames * sizeof(Frame) + slots * sizeof(Slot));
  state_.reset(new (mem) State());
  State& st = *state_;
  st.exec = this;
  st.limits = limits;
  st.frames = new (static_cast<char*>(mem) + sizeof(State)) Frame[frames];
  st.frame_capacity = frames;
  st.stack = new (st.frames + frames) Slot[slots];
  st.stack_slots = slots;
  st.stack_end = st.stack + slots;
  st.frames[0] = Frame{nullptr, st.stack, nullptr};
  st.frame = st.frames;
  st.frame_end = st.frames + frames;
}

void Execution::FreeState::operator()(State* s) const {
  internal::discard_native(*s);
  delete s->native_run;
  s->~State();
  ::operator delete(s);
}

Execution::~Execution() = default;

Status Execution::begin(Function* f, std::span<const Value> args) {
  State& st = *state_;
  if (f == nullptr) {
    return Error("no function to call", static_cast<int>(ErrorCode::kUsage));
  }
  Status s = internal::check_values(f->type().params, args, "argument");
  if (!s) {
    return s;
  }
  size_t arg_slots = internal::slot_count(f->type().params);
  // Compiled code's trampoline writes the results where the arguments were
  // (the interpreter makes room for its entry frame's results itself).
  size_t need = arg_slots;
  void* native_entry = f->code_ != nullptr && f->instance_->md_->runs_compiled(*f->code_)
                           ? internal::native_of(f->code_)
                           : nullptr;
  if (native_entry != nullptr) {
    need = std::max<size_t>(need, internal::slot_count(f->type().results));
  }
  Slot* base = st.stack;
  if (need + 1 > st.stack_slots) {
    st.frame = st.frames;
    st.fp = nullptr;
    if (!st.grow_stack(&base, need + 1)) {
      return Error("arguments or results exceed the stack limit",
                   static_cast<int>(ErrorCode::kUsage));
    }
  }
  Slot* p = base;
  for (const Value& v : args) {
    internal::write_value(p, v);
    p += internal::slot_count(v.type());
  }
  internal::Dispatch dispatch = internal::default_dispatch();
  if (f->instance_ != nullptr) {
    dispatch = f->instance_->md_->dispatch;
  }
  const internal::Word* handlers = internal::handler_table(dispatch);
  st.dispatch = dispatch;
  st.boot[0] = handlers[static_cast<size_t>(internal::Op::call_fn)];
  st.boot[1] = internal::pack_slots(0);
  st.boot[2] = reinterpret_cast<internal::Word>(f);
  st.boot[3] = handlers[static_cast<size_t>(internal::Op::halt)];
  st.ip = st.boot;
  st.fp = base;
  internal::discard_native(st);
  st.native = native_entry != nullptr && internal::ensure_vmctx(*f->instance_) != nullptr;
  st.native_nested = false;
  st.enter_native = nullptr;
  if (st.native) {
    internal::prepare_native_call(st, *f->instance_, *f->code_, base);
  }
  st.frame = st.frames;
  st.frames[0] = Frame{nullptr, base, nullptr};
  st.enter_instance(nullptr);
  st.entry = f;
  st.suspended_at = nullptr;
  st.fuel_consumed = 0;
  st.status = RunStatus::kOutOfFuel;  // ready to run
  st.begun = true;
  if (!st.trap.message.empty()) {
    st.trap = Trap();
  }
  return Status::ok();
}

Status Execution::begin_start(Instance& instance) {
  auto start = instance.module().start_function();
  if (!start) {
    return Error("the module has no start function", static_cast<int>(ErrorCode::kUsage));
  }
  return begin(instance.function(*start), {});
}

RunStatus Execution::run(int64_t fuel) {
  State& st = *state_;
  if (!st.begun || st.status == RunStatus::kFinished || st.status == RunStatus::kTrapped ||
      st.status == RunStatus::kSuspended) {
    return st.status;
  }
  if (fuel <= 0) {
    return RunStatus::kOutOfFuel;
  }
  // Taken branches can give fuel back (interp.cc, "Fuel"): keep the count
  // far from overflow. 2^62 units is a century of work.
  fuel = std::min<int64_t>(fuel, int64_t{1} << 62);
  st.fuel = fuel;
  if (st.fuel_debt != 0) {
    // Charged since the last run (a resumed host call's work).
    st.fuel -= st.fuel_debt;
    st.fuel_debt = 0;
    if (st.fuel < 0) {
      st.fuel_consumed += fuel - st.fuel;
      return RunStatus::kOutOfFuel;
    }
  }
  for (;;) {
    if (st.native) {
      internal::run_native(st);
      if (st.native_nested && st.status == RunStatus::kFinished) {
        // A compiled callee of interpreted frames returned (its results are
        // at st.fp): the interpreter goes on at its return.
        st.native = false;
        st.native_nested = false;
        st.status = RunStatus::kOutOfFuel;
        if (st.fuel > 0) {
          continue;
        }
      }
      break;
    }
    internal::run_interpreter(st);
    if (st.enter_native == nullptr) {
      break;
    }
    // The interpreter reached a function that has compiled code now
    // (Module::adopt_native_code): run it on a fiber from here.
    const internal::FuncCode* fc = st.enter_native;
    st.enter_native = nullptr;
    internal::ensure_vmctx(*st.inst);
    internal::prepare_native_call(st, *st.inst, *fc, st.fp);
    st.native = true;
    st.native_nested = true;
  }
  if (st.status != RunStatus::kTrapped) {
    // A bulk operation may overshoot the budget: it is charged in full. A
    // run can give back more than it charged (work prepaid in an earlier
    // run and skipped in this one): it then consumed nothing.
    st.fuel_consumed += std::max<int64_t>(0, fuel - st.fuel);
  }
  return st.status;
}

RunStatus Execution::status() const {
  return state_->status;
}

Status Execution::set_host_results(std::span<const Value> results) {
  State& st = *state_;
  if (st.status != RunStatus::kSuspended || st.suspended_at == nullptr) {
    return Error("the execution is not suspended", static_cast<int>(ErrorCode::kUsage));
  }
  const std::vector<ValType>& types = st.suspended_at->type().results;
  // The common case (one result of the right type) without building a Status.
  if (results.size() != 1 || types.size() != 1 || results[0].type() != types[0]) {
    Status s = internal::check_values(types, results, "host result");
    if (!s) {
      return s;
    }
  }
  if (st.native) {
    internal::unpark_native(st);  // the results go into a compiled frame
  }
  Slot* p = st.native ? st.native_run->host_slots : st.stack + st.suspended_slots;
  for (const Value& v : results) {
    internal::write_value(p, v);
    p += internal::slot_count(v.type());
  }
  st.suspended_at = nullptr;
  st.status = RunStatus::kOutOfFuel;
  return Status::ok();
}

Function* Execution::suspended_at() const {
  return state_->suspended_at;
}

size_t Execution::stack_bytes() const {
  return state_->stack_slots * sizeof(Slot) + state_->frame_capacity * sizeof(internal::Frame);
}

std::vector<Value> Execution::results() const {
  const State& st = *state_;
  std::vector<Value> out;
  if (st.status != RunStatus::kFinished || st.entry == nullptr) {
    return out;
  }
  const Slot* p = st.stack;
  for (ValType t : st.entry->type().results) {
    out.push_back(internal::read_value(t, p));
    p += internal::slot_count(t);
  }
  return out;
}

const Trap& Execution::trap() const {
  return state_->trap;
}

int64_t Execution::fuel_consumed() const {
  return state_->fuel_consumed;
}

size_t Execution::parked_stack_bytes() const {
  return state_->native ? internal::parked_stack_bytes(*state_) : 0;
}

void Execution::consume_fuel(int64_t units) {
  if (units > 0) {
    state_->fuel_debt += units;
  }
}

void Execution::set_interrupt(const std::atomic<bool>* flag) {
  state_->interrupt = flag != nullptr ? flag : &internal::kNeverInterrupted;
}

Result<std::vector<Value>> call(Function* f, std::span<const Value> args,
                                const ExecutionLimits& limits) {
  Execution e(limits);
  Status s = e.begin(f, args);
  if (!s) {
    return s.error();
  }
  switch (e.run()) {
    case RunStatus::kFinished:
      return e.results();
    case RunStatus::kTrapped:
      return Error(e.trap().to_string());
    case RunStatus::kSuspended:
      return Error("a host function asked to suspend a call that cannot be resumed",
                   static_cast<int>(ErrorCode::kUsage));
    case RunStatus::kOutOfFuel:
      break;
  }
  return Error("out of fuel", static_cast<int>(ErrorCode::kUsage));
}

Result<std::shared_ptr<Instance>> instantiate_and_start(std::shared_ptr<const Module> module,
                                                        const ResolvedImports& imports,
                                                        const InstanceOptions& options) {
  auto inst = Instance::instantiate(std::move(module), imports, options);
  if (!inst) {
    return inst;
  }
  if ((*inst)->module().start_function()) {
    Execution e;
    Status s = e.begin_start(**inst);
    if (!s) {
      return s.error();
    }
    RunStatus r = e.run();
    if (r == RunStatus::kTrapped) {
      return Error(e.trap().to_string(), static_cast<int>(ErrorCode::kUninstantiable));
    }
    if (r != RunStatus::kFinished) {
      return Error("the start function suspended", static_cast<int>(ErrorCode::kUsage));
    }
  }
  return inst;
}

}  // namespace rusm::wasm
