// The runtime: Wasm processes on the actor core.
//
// A Runtime owns an otp::Node (scheduler, process table, registry, timers),
// a registry of compiled modules by name (compiled once, instantiated per
// process, imports resolved once per module), the host functions of the
// `rusm` guest ABI (docs/abi.md) and of WASI, and the node's one event loop
// (rusm/runtime/event_loop.h; started on first use) that wakes processes
// blocked on host file descriptors and runs the serving layer's sockets.
//
//   Runtime rt;
//   rt.load_file("app", "app.wasm");
//   ProcessSpec spec;  spec.module = "app";  spec.caps = *profile("trusted");
//   Result<otp::Spawned> p = rt.spawn(spec);
//   std::optional<Outcome> o = rt.wait(p->pid, std::chrono::seconds(5));
//
// A Wasm process runs one instance on one engine Execution: its reduction
// budget is fuel, a `rusm` or WASI call that blocks suspends the process
// (never the worker thread), a trap ends it with an error reason naming the
// trap and the function, proc_exit(0) ends it normally and proc_exit(N) with
// error "exit code N".
//
// Thread-safety: every Runtime method may be called from any thread outside
// the node's workers; spawn_from() only from the process body that owns ctx.
// wait() blocks and must not be called from a process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/kv/store.h"
#include "rusm/otp/node.h"
#include "rusm/otp/supervisor.h"
#include "rusm/result.h"
#include "rusm/runtime/capabilities.h"
#include "rusm/runtime/event_loop.h"
#include "rusm/runtime/host.h"
#include "rusm/runtime/remote_spawn.h"
#include "rusm/wasi.h"
#include "rusm/wasm.h"

namespace rusm::runtime {

// kAbiVersion, what rusm.abi_version() returns, is abi/rusm.toml's
// (rusm/runtime/abi_def.h, through host.h).

// Outbound HTTP(S) for guests (docs/fetch.md): the `fetch` calls, to the
// hosts a process was granted (Capabilities::net).
struct FetchOptions {
  // PEM certificates trusted besides the system's (/etc/ssl/certs); ""
  // for the system's only. Servers' certificates are always verified.
  std::string ca_file;
  // Bound on a fetch until the response's head, and on each wait for body
  // bytes; a request may ask for less, never more.
  std::chrono::milliseconds timeout{30'000};
  // Body bytes of one response at most; a request may ask for less.
  uint64_t max_response = 64ull << 20;
  // Bytes of one request (method, URL, headers and body) at most.
  uint32_t max_request = 16u << 20;
  // Exchanges open at once in one process, and in the node.
  uint32_t max_per_process = 64;
  uint32_t max_open = 4096;
};

struct RuntimeOptions {
  otp::NodeOptions node;
  // Fuel units (executed interpreter instructions, see rusm/wasm.h) per
  // reduction of the otp budget.
  int64_t fuel_per_reduction = 20;
  // Threads of the node's event loop (EventLoop) beside node.workers; 0: the
  // workers run it between processes (no hand-off between threads per event;
  // measured in `rusm bench http-throughput`).
  unsigned io_threads = 0;
  // With io_threads == 0: how long an idle worker keeps polling the event
  // loop after it last ran a handler before it blocks in it (EventLoop), so
  // that an answer that comes soon is read without waking a thread (as the
  // BEAM's schedulers spin before sleeping; measured in `rusm bench
  // distributed-ping-pong`). 0: block at once.
  std::chrono::microseconds idle_spin{30};
  wasm::ExecutionLimits limits{
      .max_call_depth = 10'000, .max_stack_bytes = 1024 * 1024, .initial_stack_bytes = 1024};
  // Hears each capability refused to a Wasm process as it happens, with the
  // process and the Cap bit: a `rusm` call answered EDENIED, or a WASI call
  // that asked for what the process lacks (wasi::Refusal): a clock,
  // randomness, the environment, or, for kCapFs, preopened directories
  // (wasi-libc looks for them when the guest starts, if it uses files, and
  // then fails opens on its own, unseen by the host). Called on the worker
  // running that process, possibly on several workers at once; it must be
  // quick and must not call into the Runtime. `rusm run` prints a hint from
  // it.
  std::function<void(otp::Pid pid, uint32_t cap)> on_denied;
  // The node's durable key-value store (docs/kv.md), opened on first use
  // (kv_store()). An empty path: none; the guests' kv calls answer ENOTSUP.
  kv::StoreOptions kv;
  FetchOptions fetch;
  // How load() compiles modules: the tier (interpreter, compiled, auto; the
  // compiled tier needs enable_compiled_tier(), rusm/wasm_compiled.h) and
  // the compiled code's cache.
  wasm::CompileOptions compile;
};

// How a process ended, as the runtime saw it.
struct Outcome {
  otp::ExitReason reason;
  std::optional<uint32_t> exit_code;  // set when the guest called proc_exit
  std::string captured_stdout;        // WASI kCapture output
  std::string captured_stderr;
  std::string denied;  // the last capability refused to it ("" if none)
};

// What to start.
struct ProcessSpec {
  std::string module;               // a name given to load()/add_module()
  std::string function = "_start";  // an exported function
  std::vector<uint64_t> args;       // one per parameter (i32 or i64 only)
  Capabilities caps;                // default: sandboxed
  // Filtered by caps (see docs/runtime.md). Its preopens are directories
  // held open (wasi::Preopen::open), shared by every process started from
  // this spec, supervisor restarts included, and by their children.
  wasi::Config wasi;
  otp::SpawnOptions options;    // link, monitor, trap_exit, label, mailbox bound
  bool record_outcome = false;  // keep an Outcome for wait()
  // Start in this state (a template's: make_template) instead of a fresh
  // instance; `module` must be the module it was made from. Its start
  // function and _initialize do not run again.
  std::shared_ptr<const wasm::Snapshot> snapshot;
};

// Per-process data the runtime shows in info (the otp label carries
// "<label> [<profile>]").
struct ProcessDetails {
  otp::ProcessInfo info;
  std::string profile;  // parsed from the label, "" for non-Wasm processes
};

struct Template;  // a template process's state in the making (internal)

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  // Shuts the node down (killing what is left after 5 s).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  otp::Node& node();
  // The node's event loop, started on first use. Stopped after the node's
  // processes when the Runtime is destroyed; a layer that runs sockets on it
  // (a server) must close them before that.
  EventLoop& event_loop();
  // The node's key-value store, opened (or created) at RuntimeOptions::kv
  // on the first call; later calls return it, or the first call's error.
  // Thread-safe. The store lives until the Runtime's processes are gone.
  Result<kv::Store*> kv_store();

  // Compiles and registers a module under `name` (replacing any previous
  // one). Errors: the engine's message ("bad module: code section, offset
  // 0x1f: ..."), or an unresolvable import ("unknown import env.f").
  // With options.compile.tier kAuto and the compiled tier's cache missing
  // the module, it runs interpreted, and the runtime watches the cache (a
  // background compile fills it: CompileOptions::on_native_cache_miss): when
  // the machine code appears, the loaded module adopts it
  // (wasm::Module::adopt_native_code): processes spawned from then on run
  // native code, and those running switch to it at their next function
  // entry (a frame already running, such as a main loop, goes on
  // interpreted). module_tier() says which.
  Status load(std::string name, std::span<const uint8_t> bytes);
  Status load_file(std::string name, const std::string& path);
  Status add_module(std::string name, std::shared_ptr<const wasm::Module> module);

  // Adds a host function that modules import as `module`.`name` (another
  // layer's host module: serving, storage, ...; see rusm/runtime/host.h for
  // what it may do with its process). Call before loading the modules that
  // import it. Errors: the name is taken.
  Status add_host_function(std::string module, std::string name, wasm::FuncType type,
                           wasm::HostCallback callback, void* data = nullptr);
  bool has_module(std::string_view name) const;
  // Forgets a module (processes running it keep it until they end). False
  // if there was none by that name.
  bool unload(std::string_view name);
  // The SHA-256 of the bytes a module was loaded from (32 bytes; "" for a
  // module given to add_module, which has no bytes).
  std::string module_sha256(std::string_view name) const;
  // How many modules are registered.
  size_t module_count() const;
  // The tier a module's new processes run (nullopt: no such module).
  std::optional<wasm::Tier> module_tier(std::string_view name) const;

  // Spawns from outside any process. Errors: unknown module or function,
  // a parameter that is not i32/i64 or an argument count mismatch,
  // instantiation failure (e.g. memory and tables exceed
  // caps.max_memory_pages, or the node's memory budget is spent; the message
  // says which), node shutting down.
  Result<otp::Spawned> spawn(const ProcessSpec& spec);
  // Spawns with `resource` already in the process's ResourceTable under
  // handle ResourceTable::kFirstHandle (pass that handle in spec.args when
  // the entry takes it). How the serving layer hands a request or a
  // WebSocket to its process. On error the resource is destroyed.
  Result<otp::Spawned> spawn(const ProcessSpec& spec, std::unique_ptr<Resource> resource);
  // Spawns from inside a (native) process body; the child is limited to
  // what `parent_caps` allows (pass nullptr for no limit).
  Result<otp::Spawned> spawn_from(otp::Context& ctx, const ProcessSpec& spec,
                                  const Capabilities* parent_caps = nullptr);
  // ---- Remote spawn (rusm/runtime/remote_spawn.h; docs/cluster.md)
  // The cluster's spawner (null: none; spawn_on then fails kErrNoConn).
  void set_remote_spawner(std::shared_ptr<RemoteSpawner> spawner);
  // Starts spec on node `node` of the cluster. spec.module must be loaded
  // from bytes (load/load_file): they are what the other node runs. With
  // spec.options.link / monitor, `parent` (a process of this node) is linked
  // to / monitors the child. The capabilities asked for are spec.caps,
  // limited to parent_caps if given; the other node may grant fewer, never
  // more. spec.wasi is not sent: the child gets the other node's defaults
  // filtered by its capabilities. `done` as RemoteSpawner::spawn (called at
  // once, on this thread, for errors found here). node == this node's id:
  // a local spawn.
  void spawn_on(uint16_t node, const ProcessSpec& spec, otp::Pid parent,
                const Capabilities* parent_caps, RemoteSpawnDone done);
  // The same from outside any process (no link or monitor), waiting for the
  // answer up to `timeout` (then an error kErrTimeout).
  Result<otp::Spawned> spawn_on(uint16_t node, const ProcessSpec& spec, otp::Duration timeout);

  // Runs spec as a template process (docs/abi.md, "Templates"), after
  // sending it `first` (from no process: its sender is pid 0), and waits up
  // to `timeout` for its entry function to return; the state it left, for
  // ProcessSpec::snapshot. Errors: spawn's; the process ended otherwise
  // (its reason); the timeout (the process is killed). Blocks the caller:
  // not for a process body.
  Result<std::shared_ptr<const wasm::Snapshot>> make_template(const ProcessSpec& spec,
                                                              std::optional<otp::Message> first,
                                                              otp::Duration timeout);

  // A supervisor child spec that starts `spec` linked to the supervisor.
  otp::ChildSpec child_spec(std::string id, ProcessSpec spec);

  // Waits for pid's exit. With record_outcome, the Outcome is complete and
  // its reason exact however the process ended (return, trap, exit,
  // proc_exit, or a signal, even one before wait() was called); the Outcome
  // is kept until the first wait() for it. Without record_outcome only the
  // reason is set, and a process already gone reports noproc. nullopt on
  // timeout.
  std::optional<Outcome> wait(otp::Pid pid, otp::Duration timeout);

  std::optional<ProcessDetails> details(otp::Pid pid) const;

  struct Impl;
  Impl* impl() const { return impl_.get(); }

 private:
  Result<otp::Spawned> spawn_impl(otp::Context* ctx, const ProcessSpec& spec,
                                  const Capabilities* parent_caps,
                                  std::unique_ptr<Resource> resource = nullptr,
                                  std::shared_ptr<Template> made_template = nullptr);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rusm::runtime
