// Private to runtime/: the compiled-module registry entry, the Wasm process
// body and the runtime's shared state.
//
// HOT PATH (guarded by bench module-storm and wasm-ping-pong): WasmProcess
// construction + instantiate (spawn), WasmProcess::run (every slice), and
// the rusm send/receive host functions.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rusm/otp/context.h"
#include "rusm/runtime/host.h"
#include "rusm/runtime/runtime.h"

namespace rusm::runtime {

// The answer to a register_global / unregister_global that waited for the
// cluster's store (WasmProcess::global_name); the guest never sees it, since
// it waits until it comes.
inline constexpr uint64_t kGlobalReplyTag = otp::kSystemTagBase + 0x19;

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
  // The bytes it was compiled from and their SHA-256 (load(); null and ""
  // for add_module): what remote spawn ships.
  std::shared_ptr<const std::string> source;
  std::string sha256;
};

// Filled by a process when it exits, read by Runtime::wait().
struct OutcomeSlot {
  std::mutex mu;
  bool done = false;
  bool finished = false;  // outcome.reason is set (finish() or on_exit())
  Outcome outcome;
};

struct FetchShared;  // fetch.cc

struct Runtime::Impl {
  explicit Impl(RuntimeOptions o);
  ~Impl();

  Runtime* owner = nullptr;
  RuntimeOptions options;
  std::unique_ptr<otp::Node> node;
  wasi::HostFunctions wasi_funcs;
  std::vector<std::unique_ptr<wasm::Function>> rusm_funcs;
  wasm::Imports imports;
  // Imports defined as stand-ins (the serving calls outside a server,
  // abi.cc) that add_host_function may define for real once.
  std::unordered_set<std::string> stand_ins;
  std::unique_ptr<EventLoop> loop;
  std::once_flag loop_once;

  mutable std::shared_mutex modules_mu;
  std::unordered_map<std::string, std::shared_ptr<const ModuleEntry>> modules;

  std::mutex kv_mu;
  std::unique_ptr<kv::Store> kv;
  std::string kv_error;  // why it could not be opened ("" before the first try)
  Result<kv::Store*> kv_store();

  // Outbound fetch (fetch.cc): options, counts and the TLS context; shared
  // with the exchanges in flight, which may outlive the Impl's other parts
  // until the event loop is gone.
  std::shared_ptr<FetchShared> fetch;

  mutable std::mutex spawner_mu;
  std::shared_ptr<RemoteSpawner> spawner;

  std::mutex outcomes_mu;
  std::unordered_map<uint64_t, std::shared_ptr<OutcomeSlot>> outcomes;

  std::shared_ptr<const ModuleEntry> find_module(std::string_view name) const;
  EventLoop& get_event_loop();

  // Builds a Wasm process body (instantiated, not yet started). Errors as
  // Runtime::spawn.
  Result<std::unique_ptr<class WasmProcess>> make_process(
      std::shared_ptr<const ModuleEntry> mod, std::string_view function,
      std::span<const uint64_t> args, Capabilities caps,
      std::shared_ptr<const wasi::Config> wasi_config, std::shared_ptr<OutcomeSlot> outcome,
      std::shared_ptr<const wasm::Snapshot> snapshot = nullptr);
  Status add_module(std::string name, std::shared_ptr<const wasm::Module> module,
                    std::shared_ptr<const std::string> source);
  // Builds a registry entry (imports resolved). Errors: as add_module.
  Result<std::shared_ptr<const ModuleEntry>> make_entry(std::string name,
                                                        std::shared_ptr<const wasm::Module> module,
                                                        std::shared_ptr<const std::string> source);

  // Modules loaded with Tier::kAuto that run interpreted until the compiled
  // tier's cache has them (Runtime::load): polled each second by a thread,
  // for at most kTierUpWatch, and swapped for the compiled module when it
  // appears, if the name still names the entry that was loaded.
  struct TierUp {
    std::string name;
    std::weak_ptr<const ModuleEntry> entry;
    std::chrono::steady_clock::time_point until;
  };
  std::mutex tier_up_mu;
  std::condition_variable tier_up_cv;
  std::vector<TierUp> tier_ups;
  bool tier_up_stop = false;
  std::thread tier_up_thread;
  void watch_tier_up(std::string name, std::shared_ptr<const ModuleEntry> entry);
  void tier_up_loop();
  void stop_tier_up();
  // Spawns a body: from outside (ctx == nullptr) or from a process.
  Result<otp::Spawned> spawn_body(otp::Context* ctx, std::unique_ptr<WasmProcess> body,
                                  otp::SpawnOptions options);
};

// A template (docs/abi.md, "Templates"): a process spawned with
// RUSM_SPAWN_TEMPLATE whose entry function returned normally leaves its
// instance's state, from which spawn_from starts processes. Filled once by
// the template process (on a worker), read by the processes that share its
// Templates.
struct Template {
  enum class State : uint8_t { kPending, kReady, kFailed };
  std::mutex mu;
  State state = State::kPending;
  std::shared_ptr<const wasm::Snapshot> snapshot;  // kReady
  std::shared_ptr<const ModuleEntry> module;
  std::vector<otp::Pid> waiters;    // in template_wait
  std::condition_variable settled;  // for Runtime::make_template

  // The template process ended: ready with `snap`, or failed (null).
  void settle(otp::Node& node, std::shared_ptr<const wasm::Snapshot> snap);
};

// The templates a family of processes may use: made by the first process
// that spawns a template, and shared with every process it (or they) spawn
// afterwards. Keyed by the template process's pid.
struct Templates {
  static constexpr size_t kMax = 16;  // per family; each holds a copy of a memory
  std::mutex mu;
  std::unordered_map<uint64_t, std::shared_ptr<Template>> by_pid;
};

// One host function of the `rusm` module: its type is abi/rusm.toml's.
struct HostDef {
  const char* name;
  wasm::HostCallback cb;
};
// Adds defs to impl.rusm_funcs / impl.imports as rusm.<name>, typed as
// abi/rusm.toml defines them (a name it lacks aborts: a build of
// inconsistent sources, which every test that starts a runtime catches).
void add_host_defs(Runtime::Impl& impl, std::span<const HostDef> defs);
// Adds the `rusm` host functions: the actor calls (abi.cc), crypto
// (crypto.cc), the key-value store (kv.cc) and outbound HTTP (fetch.cc).
void add_rusm_imports(Runtime::Impl& impl);
void add_crypto_imports(Runtime::Impl& impl);
void add_kv_imports(Runtime::Impl& impl);
void add_fetch_imports(Runtime::Impl& impl);

// A process's budget for what its instance allocates, asked by the engine
// before the instance's memory or tables take more host memory: memory and
// tables together stay within the process's limit
// (Capabilities::max_memory_pages), and every byte is reserved from the
// node's memory budget until the process ends (the destructor gives it back).
class ProcessLimiter final : public wasm::ResourceLimiter {
 public:
  ProcessLimiter(otp::Node& node, uint64_t limit_bytes) : node_(node), limit_(limit_bytes) {}
  ~ProcessLimiter() override;
  ProcessLimiter(const ProcessLimiter&) = delete;
  ProcessLimiter& operator=(const ProcessLimiter&) = delete;

  bool memory_growing(uint64_t current, uint64_t desired) override;
  bool table_growing(uint64_t current, uint64_t desired) override;
  void memory_grow_failed(uint64_t current, uint64_t desired) override;
  // Bytes the process holds besides its memory and tables (its record and
  // stack), counted against the node's budget only: reserved together with
  // its first memory or table (one reservation per spawn), or by
  // reserve_rest() if it has none. Call before instantiating.
  void add_overhead(uint64_t bytes) { pending_ += bytes; }
  bool reserve_rest();

  uint64_t held() const { return held_; }
  // Why the last request was refused ("" if none was).
  const std::string& refusal() const { return refusal_; }

 private:
  bool take(uint64_t bytes, const char* what);
  bool reserve_from_node(uint64_t bytes);  // sets refusal_ when the node has no room

  otp::Node& node_;
  uint64_t limit_;         // memory + tables
  uint64_t held_ = 0;      // memory + tables
  uint64_t overhead_ = 0;  // reserved besides
  uint64_t pending_ = 0;   // overhead not reserved yet
  std::string refusal_;
};

// A Wasm process: one instance on one Execution, driven as an otp body.
// Every blocking host call, the runtime's own included, is a Suspension
// (rusm/runtime/host.h): the body never names what a call waits for.
class WasmProcess final : public otp::Body, public Process {
 public:
  WasmProcess(Runtime::Impl* rt, std::shared_ptr<const ModuleEntry> mod, Capabilities caps,
              std::shared_ptr<const wasi::Config> wasi_config,
              std::shared_ptr<OutcomeSlot> outcome);
  ~WasmProcess() override;

  // Instantiates (from `snapshot`, if given: its start function and
  // _initialize have run) and prepares the call of `function` with `args`.
  Status init(std::string_view function, std::span<const uint64_t> args,
              std::shared_ptr<const wasm::Snapshot> snapshot = nullptr);

  otp::Step run(otp::Context& ctx) override;
  void on_exit(const otp::ExitReason& reason) override;
  size_t memory_bytes() const override;

  // ---- Process (rusm/runtime/host.h), for every host function
  otp::Context& context() override { return *ctx_; }
  wasm::Execution& execution() override { return exec_; }
  wasm::Memory* memory() override { return memory_; }
  const Capabilities& capabilities() const override { return caps_; }
  Runtime& runtime() override { return *rt_->owner; }
  ResourceTable& resources() override { return resources_; }
  void denied(uint32_t cap) override;
  wasm::HostAction suspend(Suspension* s) override {
    suspended_ = s;
    return wasm::HostAction::kSuspend;
  }
  wasm::HostAction end(otp::ExitReason reason) override {
    exit_reason_ = std::move(reason);
    ending_ = true;
    return wasm::HostAction::kSuspend;
  }

  // ---- for the rusm host functions (abi.cc), valid during run()
  otp::Context& ctx() { return *ctx_; }
  Runtime::Impl& rt() { return *rt_; }
  const std::shared_ptr<const ModuleEntry>& module() const { return mod_; }
  const Capabilities& caps() const { return caps_; }
  const std::shared_ptr<const wasi::Config>& wasi_config() const { return wasi_config_; }
  wasi::Context* wasi() { return wasi_.get(); }

  // The runtime's own blocking calls. Each suspension is a member, so a
  // receive allocates nothing.
  // receive(): the oldest message matching `f`, or kErrTimeout after `timeout`.
  wasm::HostAction suspend_receive(otp::MessageFilter f, otp::Duration timeout) {
    receive_.filter = f;
    receive_.timeout = timeout;
    return suspend(&receive_);
  }
  wasm::HostAction suspend_sleep(otp::Duration timeout) {
    sleep_.timeout = timeout;
    return suspend(&sleep_);
  }
  wasm::HostAction suspend_yield() {
    yield_.has_value = false;
    return suspend(&yield_);
  }
  // A host call that spent the slice's budget (spawn, send) returns `v`
  // after the process yields, so that a loop of such calls is preempted.
  wasm::HostAction yield_with(int32_t v) {
    yield_.has_value = true;
    yield_.value = v;
    return suspend(&yield_);
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
  // supervisor's DOWN, or the timeout.
  // kSpawnOn (spawn_on): the same suspension waits for a remote spawn's
  // answer (a kSpawnReplyTag message) instead of a supervisor's reply.
  // kGlobal (register_global / unregister_global with a store that decides
  // global names, the cluster's etcd): waits for the store's answer (a
  // kGlobalReplyTag message, payload an i32 AbiError), which always comes.
  enum class SupervisorOp : uint8_t {
    kStartChild,
    kTerminateChild,
    kWhichChildren,
    kSpawnOn,
    kGlobal
  };
  wasm::HostAction call_supervisor(SupervisorOp op, otp::Pid sup, otp::Message request,
                                   otp::Duration timeout, uint32_t out_ptr = 0,
                                   uint32_t out_cap = 0);

  // spawn_on: asks node `node` to start spec (Runtime::spawn_on, with this
  // process as the parent and its capabilities as the limit) and suspends
  // until the answer or the timeout; the result (0 or an AbiError) is the
  // call's, and {pid, monitor ref} go to out_ptr.
  wasm::HostAction spawn_on(uint16_t node, const ProcessSpec& spec, otp::Duration timeout,
                            uint32_t out_ptr);

  // register_global (reg) or unregister_global of name for this process:
  // the result if the node answered at once (no store, or a refusal), else
  // nullopt, and the caller returns await_global(), which suspends until
  // the store's answer.
  std::optional<int32_t> global_name(bool reg, std::string name);
  wasm::HostAction await_global();

  uint64_t add_timer(otp::TimerRef t);
  std::optional<otp::TimerRef> take_timer(uint64_t id);

  // Templates: the family's (null until a template is spawned), and the one
  // this process fills when its entry function returns (if it is one).
  std::shared_ptr<Templates>& templates() { return templates_; }
  void set_templates(std::shared_ptr<Templates> t) { templates_ = std::move(t); }
  void make_template(std::shared_ptr<Template> t) { template_ = std::move(t); }
  // template_wait: suspends until `t` is settled or the timeout.
  wasm::HostAction await_template(std::shared_ptr<Template> t, otp::Duration timeout);

 private:
  otp::Step drive(otp::Context& ctx);
  void settle_template();
  otp::Step finish(otp::ExitReason reason);
  // Tells otp what the process holds now (process info: memory) after a run
  // of the instance, when it changed (see process.cc).
  void maybe_report_memory(otp::Context& ctx);
  otp::Step step_of(const Wait& w);
  otp::Step exit_step();
  wasm::Value supervisor_result(otp::Message reply);
  static bool is_supervisor_answer(const otp::Message& m, void* self);

  // Waits for a message matching `filter` (or the timeout).
  struct MessageSuspension : Suspension {
    otp::MessageFilter filter;
    otp::Duration timeout{};
    Wait wait(Process&) override { return Wait::message(filter, timeout); }
  };
  struct ReceiveSuspension final : MessageSuspension {
    Resumed resume(Process& p, otp::Context& ctx) override;
  };
  struct SleepSuspension final : Suspension {
    otp::Duration timeout{};
    Wait wait(Process&) override { return Wait::message(otp::MessageFilter::nothing(), timeout); }
    Resumed resume(Process& p, otp::Context& ctx) override;
  };
  struct YieldSuspension final : Suspension {
    bool has_value = false;
    int32_t value = 0;
    Wait wait(Process&) override { return Wait::yield(); }
    Resumed resume(Process& p, otp::Context& ctx) override;
  };
  struct SupervisorSuspension final : MessageSuspension {
    Resumed resume(Process& p, otp::Context& ctx) override;
  };
  // A blocked WASI call: waits as wasi::Context::pending() says (an fd
  // through the runtime's event loop), then redoes the call.
  struct WasiSuspension final : Suspension {
    Wait wait(Process& p) override;
    Resumed resume(Process& p, otp::Context& ctx) override;
  };

  // template_wait: until the template settles (its process wakes the
  // waiters) or the timeout.
  struct TemplateSuspension final : Suspension {
    std::shared_ptr<Template> awaited;
    otp::Duration timeout{};
    std::chrono::steady_clock::time_point deadline;
    Wait wait(Process&) override;
    Resumed resume(Process& p, otp::Context& ctx) override;
  };

  Runtime::Impl* rt_;
  std::shared_ptr<const ModuleEntry> mod_;
  Capabilities caps_;
  std::shared_ptr<const wasi::Config> wasi_config_;
  std::shared_ptr<OutcomeSlot> outcome_;
  ProcessLimiter limiter_;  // outlives instance_, which consults it
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

  Suspension* suspended_ = nullptr;  // the blocked host call, if any
  bool ending_ = false;              // end() was called: exit with exit_reason_
  otp::ExitReason exit_reason_;
  ReceiveSuspension receive_;
  TemplateSuspension template_wait_;
  std::shared_ptr<Templates> templates_;
  std::shared_ptr<Template> template_;
  SleepSuspension sleep_;
  YieldSuspension yield_;
  SupervisorSuspension supervisor_;
  WasiSuspension wasi_wait_;
  ResourceTable resources_;  // destroyed before the instance (declared after it)
  uint32_t denied_ = 0;
  wasm::Memory* memory_ = nullptr;  // memory 0 of instance_, if any
  uint64_t reported_stamp_ = 0;     // memory_'s size + written bytes at the last report
  uint32_t runs_since_report_ = 0;

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
  size_t timers_prune_at_ = 16;  // fired timers are forgotten when the map doubles
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
