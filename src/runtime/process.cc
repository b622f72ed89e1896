// The Wasm process body: drives one instance's Execution as an otp body.
//
// HOT PATH (bench module-storm, wasm-ping-pong, wasm-fairness): run() is
// entered on every slice; the constructor + init() on every spawn.
//
// Mapping (see body.h for the otp side):
//   otp budget (reductions)  -> fuel = budget * fuel_per_reduction
//   out of fuel              -> Step::yield()
//   rusm.receive/sleep/yield -> Step::wait_message / wait_message(nothing) / yield
//   rusm.exit                -> Step::exit(reason)
//   WASI suspension          -> wasi::Context::pending(): kYield -> yield,
//                               kDeadline -> wait_event(timeout), kFdRead/Write ->
//                               reactor watch + wait_event, kStream ->
//                               Stream::notify(Node::wake) + wait_event;
//                               resume() on wake
//   trap                     -> exit error "trap: <what> in function N (name)"
//   proc_exit(0) / (N)       -> exit normal / error "exit code N"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "runtime/internal.h"
#include "rusm/otp/supervisor.h"

namespace rusm::runtime {

using otp::ExitReason;
using otp::Step;
using wasm::RunStatus;
using wasm::Value;

namespace {

// A process whose module runs compiled keeps its Wasm frames on a fiber
// stack: the interpreter's stacks hold only the entry call's arguments and
// results (they grow if ever needed).
wasm::ExecutionLimits exec_limits(const wasm::ExecutionLimits& limits, const ModuleEntry& mod) {
  wasm::ExecutionLimits l = limits;
  if (mod.module->tier() == wasm::Tier::kCompiled) {
    l.initial_stack_bytes = std::min<size_t>(l.initial_stack_bytes, 128);
  }
  return l;
}

}  // namespace

WasmProcess::WasmProcess(Runtime::Impl* rt, std::shared_ptr<const ModuleEntry> mod,
                         Capabilities caps, std::shared_ptr<const wasi::Config> wasi_config,
                         std::shared_ptr<OutcomeSlot> outcome)
    : rt_(rt),
      mod_(std::move(mod)),
      caps_(std::move(caps)),
      wasi_config_(std::move(wasi_config)),
      outcome_(std::move(outcome)),
      limiter_(*rt->node, caps_.max_memory_pages * wasm::kPageSize),
      exec_(exec_limits(rt->options.limits, *mod_)) {
  exec_.set_user_data(static_cast<Process*>(this));
}

WasmProcess::~WasmProcess() {
  if (outcome_) {
    std::lock_guard<std::mutex> lock(outcome_->mu);
    if (!outcome_->done) {
      outcome_->done = true;
      if (wasi_) {
        outcome_->outcome.captured_stdout = wasi_->take_stdout();
        outcome_->outcome.captured_stderr = wasi_->take_stderr();
      }
    }
  }
  // exec_ is declared after instance_, so it is destroyed first.
}

Status WasmProcess::init(std::string_view function, std::span<const uint64_t> args,
                         std::shared_ptr<const wasm::Snapshot> snapshot) {
  auto it = mod_->functions.find(std::string(function));
  if (it == mod_->functions.end()) {
    return Error("module '" + mod_->name + "' exports no function '" + std::string(function) + "'",
                 kErrNotFound);
  }
  const wasm::FuncType& type = mod_->module->func_type(it->second);
  if (type.params.size() != args.size()) {
    return Error("function '" + std::string(function) + "' takes " +
                     std::to_string(type.params.size()) + " arguments, got " +
                     std::to_string(args.size()),
                 kErrBadArg);
  }
  args_.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    if (type.params[i] == wasm::ValType::I32) {
      args_.push_back(Value::i32(static_cast<uint32_t>(args[i])));
    } else if (type.params[i] == wasm::ValType::I64) {
      args_.push_back(Value::i64(args[i]));
    } else {
      return Error("function '" + std::string(function) + "': parameter " + std::to_string(i) +
                       " is " + wasm::to_string(type.params[i]) +
                       "; only i32 and i64 are supported",
                   kErrBadArg);
    }
  }
  limiter_.add_overhead(sizeof(WasmProcess) + exec_.stack_bytes());
  wasm::InstanceOptions io;
  io.max_memory_pages = caps_.max_memory_pages;
  io.user_data = this;
  io.limiter = &limiter_;
  const bool from_snapshot = snapshot != nullptr;
  io.snapshot = std::move(snapshot);
  auto inst = wasm::Instance::instantiate(mod_->module, mod_->imports, io);
  if (!inst) {
    std::string why = limiter_.refusal().empty() ? "" : ": " + limiter_.refusal();
    return Error("instantiating '" + mod_->name + "': " + inst.message() + why);
  }
  if (!limiter_.reserve_rest()) {
    return Error("spawn refused: " + limiter_.refusal());
  }
  instance_ = std::move(*inst);
  memory_ = instance_->memory(0);
  entry_ = instance_->function(it->second);
  if (mod_->uses_wasi) {
    auto w = wasi::Context::create(wasi_config_ ? *wasi_config_ : wasi::Config{});
    if (!w) {
      return Error("WASI: " + w.message());
    }
    wasi_ = std::move(*w);
  }
  if (from_snapshot) {
    return exec_.begin(entry_, args_);  // the snapshot's start and _initialize have run
  }
  bool has_init = mod_->initialize && *mod_->initialize != it->second;
  if (mod_->module->start_function()) {
    running_pre_ = true;
    pending_init_ = has_init;
    return exec_.begin_start(*instance_);
  }
  if (has_init) {
    running_pre_ = true;
    return exec_.begin(instance_->function(*mod_->initialize), {});
  }
  return exec_.begin(entry_, args_);
}

// What a process holds changes when its linear memory grows or writes a
// chunk it never wrote; both are counters the memory keeps (wasm/memory.h),
// so the check after each run is two loads, and the report follows at once:
// the observer always shows the current figure; so does the stack a call
// suspended in compiled code holds. Tables, globals and functions change
// rarely; they show at the next change, or within 256 runs.
void WasmProcess::maybe_report_memory(otp::Context& ctx) {
  uint64_t stamp = (memory_ != nullptr ? memory_->size_bytes() + memory_->written_bytes() : 0) +
                   exec_.stack_bytes() + exec_.parked_stack_bytes();
  if (stamp != reported_stamp_ || ++runs_since_report_ >= 256) {
    reported_stamp_ = stamp;
    runs_since_report_ = 0;
    ctx.report_memory(memory_bytes());
  }
}

size_t WasmProcess::memory_bytes() const {
  // The interpreter's stacks, and a compiled call's parked stack pages.
  return sizeof(*this) + (instance_ ? instance_->memory_footprint() : 0) + exec_.stack_bytes() +
         exec_.parked_stack_bytes();
}

Step WasmProcess::run(otp::Context& ctx) {
  if (ctx_ == nullptr) {
    exec_.set_interrupt(&ctx.interrupt_flag());  // a kill stops it at its next host call
  }
  ctx_ = &ctx;
  if (ending_) {  // a Suspension's wait() ended the process
    suspended_ = nullptr;
    return exit_step();
  }
  if (suspended_ != nullptr) {
    switch (suspended_->resume(*this, ctx)) {
      case Suspension::Resumed::kContinue:
        suspended_ = nullptr;
        break;
      case Suspension::Resumed::kWait:
        return step_of(suspended_->wait(*this));
      case Suspension::Resumed::kEnd:
        suspended_ = nullptr;
        return exit_step();
    }
  }
  return drive(ctx);
}

Step WasmProcess::step_of(const Wait& w) {
  switch (w.kind) {
    case Wait::Kind::kYield:
      return Step::yield();
    case Wait::Kind::kMessage:
      return Step::wait_message(w.filter, w.timeout);
    case Wait::Kind::kEvent:
      return Step::wait_event(w.timeout);
  }
  return Step::yield();
}

Step WasmProcess::exit_step() {
  ending_ = false;
  return finish(std::move(exit_reason_));
}

Step WasmProcess::drive(otp::Context& ctx) {
  const int64_t fpr = rt_->options.fuel_per_reduction;
  for (;;) {
    int64_t budget = ctx.budget();
    if (budget <= 0) {
      return Step::yield();
    }
    int64_t before = exec_.fuel_consumed();
    RunStatus s = exec_.run(budget * fpr);
    int64_t spent = exec_.fuel_consumed() - before;
    ctx.charge(spent / fpr + 1);
    maybe_report_memory(ctx);
    switch (s) {
      case RunStatus::kFinished:
        if (running_pre_) {
          wasm::Function* next = entry_;
          std::span<const Value> next_args = args_;
          if (pending_init_) {
            pending_init_ = false;
            next = instance_->function(*mod_->initialize);
            next_args = {};
          } else {
            running_pre_ = false;
          }
          if (Status st = exec_.begin(next, next_args); !st) {
            return finish(ExitReason::error(st.message()));
          }
          continue;
        }
        if (template_) {
          settle_template();
        }
        return finish(ExitReason::normal());
      case RunStatus::kOutOfFuel:
        return Step::yield();
      case RunStatus::kTrapped: {
        if (wasi_) {
          if (auto code = wasi_->exit_code()) {
            return finish(*code == 0 ? ExitReason::normal()
                                     : ExitReason::error("exit code " + std::to_string(*code)));
          }
        }
        return finish(ExitReason::error("trap: " + exec_.trap().to_string()));
      }
      case RunStatus::kSuspended:
        if (ending_) {
          suspended_ = nullptr;
          return exit_step();
        }
        if (suspended_ == nullptr && wasi_ && rt_->wasi_funcs.owns(exec_.suspended_at())) {
          suspended_ = &wasi_wait_;
        }
        if (suspended_ == nullptr) {
          return finish(ExitReason::error("suspended in an unknown host function"));
        }
        return step_of(suspended_->wait(*this));
    }
  }
}

Suspension::Resumed WasmProcess::ReceiveSuspension::resume(Process& p, otp::Context& ctx) {
  auto& self = static_cast<WasmProcess&>(p);
  otp::Message m = ctx.take_delivered();
  Value v = Value::i32(static_cast<uint32_t>(m ? self.deliver(std::move(m)) : kErrTimeout));
  (void)self.exec_.set_host_results({&v, 1});
  return Resumed::kContinue;
}

Suspension::Resumed WasmProcess::SleepSuspension::resume(Process& p, otp::Context&) {
  (void)p.execution().set_host_results({});
  return Resumed::kContinue;
}

Suspension::Resumed WasmProcess::YieldSuspension::resume(Process& p, otp::Context&) {
  if (has_value) {
    Value v = Value::i32(static_cast<uint32_t>(value));
    (void)p.execution().set_host_results({&v, 1});
  } else {
    (void)p.execution().set_host_results({});
  }
  return Resumed::kContinue;
}

Suspension::Resumed WasmProcess::SupervisorSuspension::resume(Process& p, otp::Context& ctx) {
  auto& self = static_cast<WasmProcess&>(p);
  Value v = self.supervisor_result(ctx.take_delivered());
  (void)self.exec_.set_host_results({&v, 1});
  return Resumed::kContinue;
}

Wait WasmProcess::WasiSuspension::wait(Process& p) {
  auto& self = static_cast<WasmProcess&>(p);
  const wasi::Wait& w = self.wasi_->pending();
  auto remaining = [&]() -> otp::Duration {
    if (w.deadline == std::chrono::steady_clock::time_point::max()) {
      return otp::kInfinity;
    }
    auto d = w.deadline - std::chrono::steady_clock::now();
    return d.count() < 0 ? otp::Duration::zero() : std::chrono::duration_cast<otp::Duration>(d);
  };
  switch (w.kind) {
    case wasi::Wait::Kind::kNone:
    case wasi::Wait::Kind::kYield:
      return Wait::yield();
    case wasi::Wait::Kind::kDeadline:
      return Wait::event(remaining());
    case wasi::Wait::Kind::kFdRead:
    case wasi::Wait::Kind::kFdWrite:
      if (Status s = self.rt_->get_event_loop().watch_fd(
              w.host_fd, w.kind == wasi::Wait::Kind::kFdWrite, self.ctx_->self());
          !s) {
        self.end(ExitReason::error("I/O wait: " + s.message()));  // run() ends it next
        return Wait::yield();
      }
      return Wait::event(remaining());
    case wasi::Wait::Kind::kStream: {
      // The stream wakes the process (a stale wake after its end is a no-op).
      otp::Node* node = self.rt_->node.get();
      otp::Pid pid = self.ctx_->self();
      w.stream->notify(w.writing, [node, pid] { node->wake(pid); });
      return Wait::event(remaining());
    }
  }
  return Wait::yield();
}

Suspension::Resumed WasmProcess::WasiSuspension::resume(Process& p, otp::Context&) {
  auto& self = static_cast<WasmProcess&>(p);
  std::string trap;
  wasm::HostAction a = self.wasi_->resume(self.exec_, &trap);
  switch (a) {
    case wasm::HostAction::kSuspend:
      return Resumed::kWait;
    case wasm::HostAction::kTrap:
      if (auto code = self.wasi_->exit_code()) {
        self.end(*code == 0 ? ExitReason::normal()
                            : ExitReason::error("exit code " + std::to_string(*code)));
      } else {
        self.end(ExitReason::error("trap: " + trap));
      }
      return Resumed::kEnd;
    default:
      return Resumed::kContinue;
  }
}

void WasmProcess::denied(uint32_t cap) {
  denied_ = cap;
  if (rt_->options.on_denied) {
    rt_->options.on_denied(ctx_->self(), cap);
  }
}

Step WasmProcess::finish(ExitReason reason) {
  if (outcome_) {
    std::lock_guard<std::mutex> lock(outcome_->mu);
    Outcome& o = outcome_->outcome;
    o.reason = reason;
    if (wasi_) {
      o.exit_code = wasi_->exit_code();
      o.captured_stdout = wasi_->take_stdout();
      o.captured_stderr = wasi_->take_stderr();
    }
    if (denied_ != 0) {
      o.denied = cap_name(denied_);
    }
    outcome_->done = true;
    outcome_->finished = true;
  }
  return Step::exit(std::move(reason));
}

void WasmProcess::on_exit(const otp::ExitReason& reason) {
  if (template_) {  // it ended otherwise than by returning: no template
    template_->settle(*rt_->node, nullptr);
    template_.reset();
  }
  resources_.process_exiting(reason);
  // A process killed between runs never reaches finish(): record why it ended.
  if (outcome_) {
    std::lock_guard<std::mutex> lock(outcome_->mu);
    if (!outcome_->finished) {
      outcome_->outcome.reason = reason;
      outcome_->finished = true;
    }
  }
}

bool WasmProcess::is_supervisor_answer(const otp::Message& m, void* self) {
  const SupervisorCall& c = static_cast<WasmProcess*>(self)->sup_call_;
  if (c.op == SupervisorOp::kSpawnOn) {
    return m.tag() == kSpawnReplyTag && m.ref() == c.ref;
  }
  if (c.op == SupervisorOp::kGlobal) {
    return m.tag() == kGlobalReplyTag && m.ref() == c.ref;
  }
  return otp::supervisor::is_reply(m, c.ref) || (m.tag() == otp::kDownTag && m.ref() == c.monitor);
}

namespace {

// The answer to a guest's spawn_on, as it arrives in its mailbox (and as the
// guest sees a late one: rusm_spawn_reply, abi/rusm.toml).
using SpawnAnswer = AbiSpawnReply;

}  // namespace

wasm::HostAction WasmProcess::spawn_on(uint16_t node, const ProcessSpec& spec,
                                       otp::Duration timeout, uint32_t out_ptr) {
  otp::Context& c = *ctx_;
  sup_call_ = {SupervisorOp::kSpawnOn, c.make_ref(), 0, out_ptr, 0};
  otp::Node* n = rt_->node.get();
  otp::Pid self = c.self();
  uint64_t ref = sup_call_.ref;
  rt_->owner->spawn_on(node, spec, self, &caps_, [n, self, ref](Result<otp::Spawned> r) {
    SpawnAnswer a{};
    if (r) {
      a.pid = r->pid.bits();
      a.monitor = r->monitor;
    } else {
      a.code = r.error().code() < 0 ? r.error().code() : kErrLimit;
    }
    otp::Message m = otp::Message::make(
        kSpawnReplyTag, std::string_view(reinterpret_cast<const char*>(&a), sizeof a));
    m.set_ref(ref);
    (void)n->send(self, std::move(m));
  });
  supervisor_.filter = otp::MessageFilter::by_predicate(is_supervisor_answer, this);
  supervisor_.timeout = timeout;
  return suspend(&supervisor_);
}

namespace {

// The guest's code for a register_global / unregister_global answer.
int32_t global_code(const Status& s, bool reg, otp::Node& node, const std::string& name) {
  if (s) {
    return kOk;
  }
  if (s.error().code() < 0) {
    return s.error().code();  // from the store (cluster/etcd.cc)
  }
  if (!reg) {
    return kErrNotFound;
  }
  // The caller is alive and local: the other refusals are a taken name and
  // a full registry (NodeOptions::max_global_names).
  return node.whereis_global(name).valid() ? kErrExists : kErrLimit;
}

}  // namespace

std::optional<int32_t> WasmProcess::global_name(bool reg, std::string name) {
  otp::Context& c = *ctx_;
  otp::Node* n = rt_->node.get();
  otp::Pid self = c.self();
  uint64_t ref = c.make_ref();
  // The answer comes at once (on this thread, inside the call) or later
  // (from the store's thread): whichever side moves `phase` first decides.
  struct Answer {
    std::atomic<int> phase{0};  // 0: in the call; 1: the call returned; 2: answered in it
    int32_t code = 0;
  };
  auto a = std::make_shared<Answer>();
  auto done = [a, n, self, ref, reg, name](Status s) {
    int32_t code = global_code(s, reg, *n, name);
    int expected = 0;
    if (a->phase.compare_exchange_strong(expected, 2, std::memory_order_acq_rel)) {
      a->code = code;
      return;
    }
    otp::Message m = otp::Message::make(
        kGlobalReplyTag, std::string_view(reinterpret_cast<const char*>(&code), sizeof code));
    m.set_ref(ref);
    (void)n->send(self, std::move(m));
  };
  if (reg) {
    n->register_global_async(name, self, std::move(done));
  } else {
    n->unregister_global_async(name, std::move(done));
  }
  int expected = 0;
  if (!a->phase.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    return a->code;
  }
  sup_call_ = {SupervisorOp::kGlobal, ref, 0, 0, 0};
  return std::nullopt;
}

wasm::HostAction WasmProcess::await_global() {
  supervisor_.filter = otp::MessageFilter::by_predicate(is_supervisor_answer, this);
  supervisor_.timeout = otp::kInfinity;
  return suspend(&supervisor_);
}

wasm::HostAction WasmProcess::call_supervisor(SupervisorOp op, otp::Pid sup, otp::Message request,
                                              otp::Duration timeout, uint32_t out_ptr,
                                              uint32_t out_cap) {
  otp::Context& c = *ctx_;
  // The monitor turns a supervisor that dies (or is already gone) during the
  // call into a DOWN, so the caller never waits on a process that cannot answer.
  sup_call_ = {op, c.make_ref(), c.monitor(sup), out_ptr, out_cap};
  request.set_ref(sup_call_.ref);
  (void)c.send(sup, std::move(request));
  supervisor_.filter = otp::MessageFilter::by_predicate(is_supervisor_answer, this);
  supervisor_.timeout = timeout;
  return suspend(&supervisor_);
}

Value WasmProcess::supervisor_result(otp::Message reply) {
  const SupervisorCall call = sup_call_;
  const bool is_i64 = call.op == SupervisorOp::kStartChild;
  auto code = [&](int64_t v) {
    return is_i64 ? Value::i64(static_cast<uint64_t>(v))
                  : Value::i32(static_cast<uint32_t>(static_cast<int32_t>(v)));
  };
  if (call.op == SupervisorOp::kGlobal) {
    int32_t v = kErrTimeout;  // not reached: the wait has no timeout
    if (reply && reply.size() == sizeof v) {
      v = reply.as<int32_t>();
    }
    return code(v);
  }
  if (call.op == SupervisorOp::kSpawnOn) {
    if (!reply) {
      return code(kErrTimeout);  // a late answer comes as a kSpawnReplyTag message
    }
    SpawnAnswer a{};
    if (reply.size() != sizeof a) {
      return code(kErrBadArg);
    }
    a = reply.as<SpawnAnswer>();
    if (a.code != 0) {
      return code(a.code);
    }
    uint64_t out[2] = {a.pid, a.monitor};
    wasm::Memory* mem = memory_;
    if (call.out_ptr != 0 && (mem == nullptr || !mem->write(call.out_ptr, out, sizeof out))) {
      return code(kErrBadArg);
    }
    return code(kOk);
  }
  if (!reply || reply.tag() == otp::kDownTag) {
    if (!reply) {
      // A reply may still come after this: the guest sees it as a message
      // with the reserved supervisor-reply tag (docs/abi.md), as in OTP
      // before process aliases.
      ctx_->demonitor(call.monitor, /*flush=*/true);
    }
    return code(reply ? kErrNoproc : kErrTimeout);
  }
  ctx_->demonitor(call.monitor, /*flush=*/true);
  switch (call.op) {
    case SupervisorOp::kStartChild: {
      Result<otp::Pid> r = otp::supervisor::parse_reply(reply);
      if (!r) {
        // The template's start function says why (abi.cc); the supervisor's
        // own refusal (not simple_one_for_one) has no code.
        return code(r.error().code() < 0 ? r.error().code() : kErrBadArg);
      }
      return code(static_cast<int64_t>(r->bits()));
    }
    case SupervisorOp::kTerminateChild: {
      Result<otp::Pid> r = otp::supervisor::parse_reply(reply);
      return code(r ? kOk : kErrNotFound);
    }
    case SupervisorOp::kWhichChildren: {
      std::vector<otp::Pid> kids = otp::supervisor::parse_children(reply);
      size_t n = std::min<size_t>(kids.size(), call.out_cap);
      std::vector<uint64_t> bits(n);
      for (size_t i = 0; i < n; ++i) {
        bits[i] = kids[i].bits();
      }
      wasm::Memory* mem = memory_;
      if (n > 0 && (mem == nullptr || !mem->write(call.out_ptr, bits.data(), n * 8))) {
        return code(kErrBadArg);
      }
      return code(static_cast<int64_t>(kids.size()));
    }
    case SupervisorOp::kSpawnOn:
    case SupervisorOp::kGlobal:
      break;  // above
  }
  return code(kErrBadArg);
}

int32_t WasmProcess::deliver(otp::Message m) {
  current_ = std::move(m);
  has_current_ = true;
  synth_.clear();
  const bool is_exit = current_.tag() == otp::kExitTag;
  const bool is_down = current_.tag() == otp::kDownTag;
  if (is_exit || is_down) {
    // rusm_down_payload / rusm_exit_payload (abi/rusm.toml), then the detail.
    const otp::ExitReason& r = current_.reason();
    uint64_t from = current_.from().bits();
    uint32_t kind = static_cast<uint32_t>(r.kind());
    uint32_t len = static_cast<uint32_t>(r.detail().size());
    if (is_down) {
      AbiDownPayload d{current_.ref(), from, kind, len};
      synth_.append(reinterpret_cast<const char*>(&d), sizeof d);
    } else {
      AbiExitPayload e{from, kind, len};
      synth_.append(reinterpret_cast<const char*>(&e), sizeof e);
    }
    synth_ += r.detail();
  }
  std::string_view payload = (is_exit || is_down) ? std::string_view(synth_) : current_.text();
  wasm::Memory* mem = memory_;
  if (recv.hdr_ptr != 0) {
    AbiMsgHeader hdr{current_.tag(), current_.from().bits(), current_.ref(),
                     static_cast<uint32_t>(payload.size()), 0};  // rusm_msg
    if (mem == nullptr || !mem->write(recv.hdr_ptr, &hdr, sizeof hdr)) {
      return kErrBadArg;
    }
  }
  if (recv.buf_cap > 0 && !payload.empty()) {
    uint32_t n = std::min<uint32_t>(recv.buf_cap, static_cast<uint32_t>(payload.size()));
    if (mem == nullptr || !mem->write(recv.buf_ptr, payload.data(), n)) {
      return kErrBadArg;
    }
    if (n >= wasm::kBytesPerFuel) {
      exec_.consume_fuel(n / wasm::kBytesPerFuel);
    }
  }
  return static_cast<int32_t>(payload.size());
}

int32_t WasmProcess::read_current(uint32_t offset, uint32_t ptr, uint32_t len) {
  if (!has_current_) {
    return kErrNoMessage;
  }
  std::string_view payload = synth_.empty() ? current_.text() : std::string_view(synth_);
  if (offset > payload.size()) {
    return kErrBadArg;
  }
  uint32_t n = std::min<uint32_t>(len, static_cast<uint32_t>(payload.size() - offset));
  wasm::Memory* mem = memory_;
  if (n > 0 && (mem == nullptr || !mem->write(ptr, payload.data() + offset, n))) {
    return kErrBadArg;
  }
  if (n >= wasm::kBytesPerFuel) {
    exec_.consume_fuel(n / wasm::kBytesPerFuel);
  }
  return static_cast<int32_t>(n);
}

uint64_t WasmProcess::add_timer(otp::TimerRef t) {
  if (timers_.size() >= timers_prune_at_) {
    std::erase_if(timers_, [&](const auto& kv) { return !ctx_->timer_pending(kv.second); });
    timers_prune_at_ = std::max<size_t>(16, 2 * timers_.size());
  }
  uint64_t id = next_timer_++;
  timers_.emplace(id, t);
  return id;
}

std::optional<otp::TimerRef> WasmProcess::take_timer(uint64_t id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) {
    return std::nullopt;
  }
  otp::TimerRef t = it->second;
  timers_.erase(it);
  return t;
}

// ---------------------------------------------------------------------------
// ProcessLimiter

ProcessLimiter::~ProcessLimiter() {
  if (held_ + overhead_ != 0) {
    node_.release_memory(held_ + overhead_);
  }
}

bool ProcessLimiter::reserve_from_node(uint64_t bytes) {
  if (node_.reserve_memory(bytes)) {
    return true;
  }
  otp::NodeStats s = node_.stats();
  refusal_ = "the node's memory budget is spent (" + std::to_string(s.memory_held) + " of " +
             std::to_string(s.memory_limit) + " bytes held for processes)";
  return false;
}

bool ProcessLimiter::reserve_rest() {
  if (pending_ == 0) {
    return true;
  }
  if (!reserve_from_node(pending_)) {
    return false;
  }
  overhead_ += std::exchange(pending_, 0);
  return true;
}

bool ProcessLimiter::take(uint64_t bytes, const char* what) {
  if (held_ > limit_ || bytes > limit_ - held_) {
    refusal_ = std::string(what) + " would take the process's memory and tables to " +
               std::to_string(held_ + bytes) + " bytes, past its limit of " +
               std::to_string(limit_) + " bytes";
    return false;
  }
  if (!reserve_from_node(bytes + pending_)) {
    return false;
  }
  overhead_ += std::exchange(pending_, 0);
  held_ += bytes;
  return true;
}

bool ProcessLimiter::memory_growing(uint64_t current, uint64_t desired) {
  return take(desired - current, "the memory");
}

bool ProcessLimiter::table_growing(uint64_t current, uint64_t desired) {
  return take((desired - current) * wasm::kTableElementBytes, "the table");
}

void ProcessLimiter::memory_grow_failed(uint64_t current, uint64_t desired) {
  held_ -= desired - current;
  node_.release_memory(desired - current);
}

}  // namespace rusm::runtime

namespace rusm::runtime {

// ---- templates (docs/abi.md, "Templates")

void Template::settle(otp::Node& node, std::shared_ptr<const wasm::Snapshot> snap) {
  std::vector<otp::Pid> wake;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (state != State::kPending) {
      return;
    }
    state = snap ? State::kReady : State::kFailed;
    snapshot = std::move(snap);
    wake.swap(waiters);
  }
  settled.notify_all();
  for (otp::Pid pid : wake) {
    node.wake(pid);
  }
}

// The entry function returned: its instance's state is the template. A
// state that cannot be captured (wasm::Instance::snapshot's "not supported
// yet") fails the template, and the process still ends normally.
void WasmProcess::settle_template() {
  auto snap = instance_->snapshot();
  template_->settle(*rt_->node, snap ? std::move(*snap) : nullptr);
  template_.reset();
}

wasm::HostAction WasmProcess::await_template(std::shared_ptr<Template> t, otp::Duration timeout) {
  template_wait_.awaited = std::move(t);
  template_wait_.timeout = timeout;
  template_wait_.deadline = timeout == otp::kInfinity ? std::chrono::steady_clock::time_point::max()
                                                      : std::chrono::steady_clock::now() + timeout;
  {
    std::lock_guard<std::mutex> lock(template_wait_.awaited->mu);
    template_wait_.awaited->waiters.push_back(ctx_->self());
  }
  return suspend(&template_wait_);
}

Wait WasmProcess::TemplateSuspension::wait(Process&) {
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    return Wait::event(otp::kInfinity);
  }
  auto left = deadline - std::chrono::steady_clock::now();
  return Wait::event(left.count() < 0 ? otp::Duration::zero()
                                      : std::chrono::duration_cast<otp::Duration>(left));
}

Suspension::Resumed WasmProcess::TemplateSuspension::resume(Process& p, otp::Context&) {
  int32_t code;
  {
    std::lock_guard<std::mutex> lock(awaited->mu);
    switch (awaited->state) {
      case Template::State::kReady:
        code = kOk;
        break;
      case Template::State::kFailed:
        code = kErrBadState;
        break;
      case Template::State::kPending:
        if (std::chrono::steady_clock::now() < deadline) {
          return Resumed::kWait;  // a stale wake
        }
        std::erase(awaited->waiters, static_cast<WasmProcess&>(p).ctx().self());
        code = kErrTimeout;
        break;
    }
  }
  awaited.reset();
  wasm::Value v = wasm::Value::i32(static_cast<uint32_t>(code));
  (void)p.execution().set_host_results({&v, 1});
  return Resumed::kContinue;
}

}  // namespace rusm::runtime
