// Private to runtime/: the compiled-module registry entry, the Wasm process
// body and the runtime's shared state.
//
// HOT PATH (guarded by bench module-storm and wasm-ping-pong): WasmProcess
// construction + instantiate (spawn), WasmProcess::run (every slice), and
// the rusm send/receive host functions.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "rusm/otp/context.h"
#include "rusm/runtime/runtime.h"

namespace rusm::runtime {

// One compiled module with its imports resolved once (shared by every
// process running it). Immutable after creation.
struct ModuleEntry {
  std::string name;
  std::shared_ptr<const wasm::Module> module;
  wasm::ResolvedImports imports;
  bool uses_wasi = false;
  // A reactor module's `_initialize`, run before the entry function.
  std::optional<uint32_t> initialize;
  std::unordered_map<std::string, uint32_t> functions;  // exported functions
};

// Filled by a process when it exits, read by Runtime::wait().
struct OutcomeSlot {
  std::mutex mu;
  bool done = false;
  bool finished = false;  // outcome.reason is set (finish() or on_exit())
  Outcome outcome;
};

struct Runtime::Impl {
  explicit Impl(RuntimeOptions o);
  ~Impl();

  RuntimeOptions options;
  std::unique_ptr<otp::Node> node;
  wasi::HostFunctions wasi_funcs;
  std::vector<std::unique_ptr<wasm::Function>> rusm_funcs;
  wasm::Imports imports;
  std::unique_ptr<Reactor> reactor;
  std::once_flag reactor_once;

  mutable std::shared_mutex modules_mu;
  std::unordered_map<std::string, std::shared_ptr<const ModuleEntry>> modules;

  std::mutex outcomes_mu;
  std::unordered_map<uint64_t, std::shared_ptr<OutcomeSlot>> outcomes;

  std::shared_ptr<const ModuleEntry> find_module(std::string_view name) const;
  Reactor& get_reactor();

  // Builds a Wasm process body (instantiated, not yet started). Errors as
  // Runtime::spawn.
  Result<std::unique_ptr<class WasmProcess>> make_process(
      std::shared_ptr<const ModuleEntry> mod, std::string_view function,
      std::span<const uint64_t> args, Capabilities caps,
      std::shared_ptr<const wasi::Config> wasi_config, std::shared_ptr<OutcomeSlot> outcome);
  // Spawns a body: from outside (ctx == nullptr) or from a process.
  Result<otp::Spawned> spawn_body(otp::Context* ctx, std::unique_ptr<WasmProcess> body,
                                  otp::SpawnOptions options);
};

// Adds the `rusm` host functions (abi.cc) to impl.rusm_funcs / impl.imports.
void add_rusm_imports(Runtime::Impl& impl);

// A Wasm process: one instance on one Execution, driven as an otp body.
class WasmProcess final : public otp::Body {
 public:
  // What a suspended `rusm` call waits for.
  enum class Pending : uint8_t {
    kNone,
    kReceive,
    kSleep,
    kYield,
    kYieldWith,
    kExit,
    kWasi,
    kSupervisorCall
  };

  WasmProcess(Runtime::Impl* rt, std::shared_ptr<const ModuleEntry> mod, Capabilities caps,
              std::shared_ptr<const wasi::Config> wasi_config,
              std::shared_ptr<OutcomeSlot> outcome);
  ~WasmProcess() override;

  // Instantiates and prepares the call of `function` with `args`.
  Status init(std::string_view function, std::span<const uint64_t> args);

  otp::Step run(otp::Context& ctx) override;
  void on_exit(const otp::ExitReason& reason) override;
  size_t memory_bytes() const override;

  // ---- for the rusm host functions (abi.cc), valid during run()
  otp::Context& ctx() { return *ctx_; }
  Runtime::Impl& rt() { return *rt_; }
  const std::shared_ptr<const ModuleEntry>& module() const { return mod_; }
  const Capabilities& caps() const { return caps_; }
  const std::shared_ptr<const wasi::Config>& wasi_config() const { return wasi_config_; }
  wasi::Context* wasi() { return wasi_.get(); }
  // Records a refused capability (shown in the exit line of `rusm run`).
  void denied(uint32_t cap) { denied_ = cap; }

  // Suspensions requested by a host function; run() then returns the
  // matching Step. (Kept as plain fields: building and moving a Step, with
  // its ExitReason, on every receive showed in wasm-ping-pong's profile.)
  // Waits for a message matching `f` (MessageFilter::nothing(): a sleep).
  void suspend_wait(Pending p, otp::MessageFilter f, otp::Duration timeout) {
    pending_ = p;
    wait_filter_ = f;
    wait_timeout_ = timeout;
  }
  void suspend_yield(Pending p) { pending_ = p; }
  void suspend_exit(otp::ExitReason reason) {
    pending_ = Pending::kExit;
    exit_reason_ = std::move(reason);
  }
  // A host call that spent the slice's budget (spawn, send) returns `v`
  // after the process yields, so that a loop of such calls is preempted.
  wasm::HostAction yield_with(int32_t v) {
    yield_value_ = v;
    suspend_yield(Pending::kYieldWith);
    return wasm::HostAction::kSuspend;
  }
  // receive(): where to put the next delivered message.
  struct ReceiveArgs {
    uint32_t hdr_ptr = 0, buf_ptr = 0, buf_cap = 0;
  } recv;
  // Makes m the current message, writes its header and as much payload as
  // fits; returns the payload size or a negative error.
  int32_t deliver(otp::Message m);
  // Copies [offset, offset+len) of the current message's payload to ptr.
  int32_t read_current(uint32_t offset, uint32_t ptr, uint32_t len);

  // A call into a supervisor (start_child, terminate_child, which_children):
  // sends `request` to `sup` under a monitor and suspends until the reply, the
  // supervisor's DOWN, or the timeout. The result is computed in run().
  enum class SupervisorOp : uint8_t { kStartChild, kTerminateChild, kWhichChildren };
  wasm::HostAction call_supervisor(SupervisorOp op, otp::Pid sup, otp::Message request,
                                   otp::Duration timeout, uint32_t out_ptr = 0,
                                   uint32_t out_cap = 0);

  uint64_t add_timer(otp::TimerRef t);
  std::optional<otp::TimerRef> take_timer(uint64_t id);

 private:
  otp::Step drive(otp::Context& ctx);
  otp::Step finish(otp::ExitReason reason);
  // Tells otp what the process holds now (process info: memory); after a
  // run of the instance, only when worth the cost (see process.cc).
  void report_memory(otp::Context& ctx);
  void maybe_report_memory(otp::Context& ctx, int64_t fuel_spent, bool waits);
  wasm::Value supervisor_result(otp::Message reply);
  static bool is_supervisor_answer(const otp::Message& m, void* self);
  otp::Step wasi_step();

  Runtime::Impl* rt_;
  std::shared_ptr<const ModuleEntry> mod_;
  Capabilities caps_;
  std::shared_ptr<const wasi::Config> wasi_config_;
  std::shared_ptr<OutcomeSlot> outcome_;
  std::shared_ptr<wasm::Instance> instance_;
  wasm::Execution exec_;
  std::unique_ptr<wasi::Context> wasi_;
  wasm::Function* entry_ = nullptr;
  std::vector<wasm::Value> args_;
  // The current call runs before entry_ (the start function, or a reactor's
  // _initialize); pending_init_: _initialize is still to run after it.
  bool running_pre_ = false;
  bool pending_init_ = false;
  otp::Context* ctx_ = nullptr;

  Pending pending_ = Pending::kNone;
  otp::MessageFilter wait_filter_;  // kReceive, kSleep, kSupervisorCall
  otp::Duration wait_timeout_{};
  otp::ExitReason exit_reason_;  // kExit
  uint32_t denied_ = 0;
  wasm::Memory* memory_ = nullptr;  // memory 0 of instance_, if any
  uint64_t reported_size_ = 0;      // its size at the last report_memory
  int64_t scan_cost_ = 0;           // fuel equivalent of a footprint scan
  uint32_t runs_since_report_ = 0;
  int64_t fuel_since_report_ = 0;
  int32_t yield_value_ = 0;

  // The current message (receive) and, for EXIT/DOWN, its synthesized payload.
  otp::Message current_;
  std::string synth_;
  bool has_current_ = false;

  struct SupervisorCall {
    SupervisorOp op = SupervisorOp::kStartChild;
    uint64_t ref = 0;
    otp::MonitorRef monitor = 0;
    uint32_t out_ptr = 0, out_cap = 0;
  } sup_call_;

  uint64_t next_timer_ = 1;
  std::unordered_map<uint64_t, otp::TimerRef> timers_;
};

// Guest-visible error codes (docs/abi.md).
enum AbiError : int32_t {
  kOk = 0,
  kErrTimeout = -1,
  kErrNoproc = -2,
  kErrBadArg = -3,
  kErrDenied = -4,
  kErrNotFound = -5,
  kErrExists = -6,
  kErrFull = -7,
  kErrNoMessage = -8,
  kErrLimit = -9,
  kErrNotSupported = -10,
};

// What a process with `caps` may see of a WASI configuration: stdio only
// with kCapStdio, args beyond argv[0] and the environment only with kCapEnv,
// preopens only with kCapFs, clocks and randomness only with their bits.
// The preopens are the same held directories (shared, never reopened), so a
// child's preopens are its parent's, or none: never more, never another path.
std::shared_ptr<const wasi::Config> filter_config(const wasi::Config& c, const Capabilities& caps);

// Splits "label [profile]" into its profile ("" if none).
std::string profile_of_label(std::string_view label);

}  // namespace rusm::runtime
