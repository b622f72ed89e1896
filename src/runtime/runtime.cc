// Runtime: the node, the module registry and spawning of Wasm processes.
#include "rusm/runtime/runtime.h"

#include <cassert>
#include <condition_variable>
#include <thread>

#include "runtime/internal.h"
#include "rusm/runtime/module_file.h"

namespace rusm::runtime {

namespace {

wasi::Context* wasi_lookup(wasm::HostCall& c) {
  return static_cast<WasmProcess&>(Process::of(c)).wasi();
}

// A WASI call asked for what its config lacks: a refused capability when the
// process does not hold the bit (an embedder's config may lack it otherwise).
void wasi_refused(wasm::HostCall& c, wasi::Refusal what) {
  uint32_t cap = 0;
  switch (what) {
    case wasi::Refusal::kClock:
      cap = kCapClock;
      break;
    case wasi::Refusal::kRandom:
      cap = kCapRandom;
      break;
    case wasi::Refusal::kEnv:
      cap = kCapEnv;
      break;
    case wasi::Refusal::kFs:
      cap = kCapFs;
      break;
  }
  Process& p = Process::of(c);
  if (cap != 0 && !p.capabilities().has(cap)) {
    p.denied(cap);
  }
}

std::string labelled(std::string_view label, const Capabilities& caps) {
  std::string s(label);
  s += " [";
  s += caps.profile;
  s += ']';
  return s;
}

}  // namespace

std::string profile_of_label(std::string_view label) {
  if (label.empty() || label.back() != ']') {
    return {};
  }
  size_t open = label.rfind(" [");
  if (open == std::string_view::npos) {
    return {};
  }
  return std::string(label.substr(open + 2, label.size() - open - 3));
}

std::shared_ptr<const wasi::Config> filter_config(const wasi::Config& c, const Capabilities& caps) {
  auto out = std::make_shared<wasi::Config>(c);
  if (!caps.has(kCapStdio)) {
    out->stdin_mode = out->stdout_mode = out->stderr_mode = wasi::StdioMode::kNull;
    out->stdin_data.clear();
  }
  if (!caps.has(kCapEnv)) {
    out->env.clear();
    if (out->args.size() > 1) {
      out->args.resize(1);
    }
  }
  if (!caps.has(kCapFs)) {
    out->preopens.clear();
  }
  out->allow_clock = out->allow_clock && caps.has(kCapClock);
  out->allow_random = out->allow_random && caps.has(kCapRandom);
  return out;
}

Runtime::Impl::Impl(RuntimeOptions o)
    : options(std::move(o)),
      node(std::make_unique<otp::Node>(options.node)),
      wasi_funcs(wasi_lookup, wasi_refused) {
  if (options.fuel_per_reduction < 1) {
    options.fuel_per_reduction = 1;
  }
  add_rusm_imports(*this);
  add_crypto_imports(*this);
  add_kv_imports(*this);
  add_fetch_imports(*this);
  wasi_funcs.add_to(imports);
}

Runtime::Impl::~Impl() {
  stop_tier_up();
  // Processes (and their instances, which import our host functions) go first.
  (void)node->shutdown(std::chrono::seconds(5));
  kv.reset();    // answers what is queued (its callbacks wake processes of the node)
  loop.reset();  // its handlers wake processes of the node
  node.reset();
}

std::shared_ptr<const ModuleEntry> Runtime::Impl::find_module(std::string_view name) const {
  std::shared_lock lock(modules_mu);
  auto it = modules.find(std::string(name));
  return it == modules.end() ? nullptr : it->second;
}

EventLoop& Runtime::Impl::get_event_loop() {
  std::call_once(loop_once, [this] {
    loop = std::make_unique<EventLoop>(*node, options.io_threads, options.idle_spin);
  });
  return *loop;
}

Result<std::unique_ptr<WasmProcess>> Runtime::Impl::make_process(
    std::shared_ptr<const ModuleEntry> mod, std::string_view function,
    std::span<const uint64_t> args, Capabilities caps,
    std::shared_ptr<const wasi::Config> wasi_config, std::shared_ptr<OutcomeSlot> outcome,
    std::shared_ptr<const wasm::Snapshot> snapshot) {
  auto p = std::make_unique<WasmProcess>(this, std::move(mod), std::move(caps),
                                         std::move(wasi_config), std::move(outcome));
  if (Status s = p->init(function, args, std::move(snapshot)); !s) {
    return s.error();
  }
  return p;
}

Result<otp::Spawned> Runtime::Impl::spawn_body(otp::Context* ctx, std::unique_ptr<WasmProcess> body,
                                               otp::SpawnOptions options) {
  if (ctx != nullptr) {
    return ctx->spawn_body(std::move(body), options);
  }
  return node->spawn_body(std::move(body), options);
}

Runtime::Runtime(RuntimeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->owner = this;
}
Runtime::~Runtime() = default;

EventLoop& Runtime::event_loop() {
  return impl_->get_event_loop();
}

otp::Node& Runtime::node() {
  return *impl_->node;
}

Result<kv::Store*> Runtime::kv_store() {
  return impl_->kv_store();
}

Result<kv::Store*> Runtime::Impl::kv_store() {
  std::lock_guard lock(kv_mu);
  if (kv) {
    return kv.get();
  }
  if (options.kv.path.empty()) {
    return Error(
        "this node has no key-value store (give it a path: rusm run --kv, [kv] in rusm.toml)",
        kErrNotSupported);
  }
  if (kv_error.empty()) {
    auto s = kv::Store::open(options.kv);
    if (s) {
      kv = std::move(*s);
      return kv.get();
    }
    kv_error = s.message();
  }
  return Error(kv_error, kErrIo);
}

Status Runtime::load(std::string name, std::span<const uint8_t> bytes) {
  auto m = wasm::Module::compile(bytes, impl_->options.compile);
  if (!m) {
    return Error("bad module: " + m.message());
  }
  bool interpreted_for_now = impl_->options.compile.tier == wasm::Tier::kAuto &&
                             (*m)->tier() == wasm::Tier::kInterpreter && (*m)->worth_compiling();
  auto e = impl_->make_entry(name, std::move(*m),
                             std::make_shared<const std::string>(
                                 reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!e) {
    return e.error();
  }
  {
    std::unique_lock lock(impl_->modules_mu);
    impl_->modules[name] = *e;
  }
  if (interpreted_for_now) {
    impl_->watch_tier_up(std::move(name), std::move(*e));
  }
  return Status::ok();
}

// ---- switching a module to compiled code (Runtime::load)

constexpr auto kTierUpPoll = std::chrono::seconds(1);
// Longer than the background compile may take (it gives up after 600 s of CPU).
constexpr auto kTierUpWatch = std::chrono::minutes(15);

void Runtime::Impl::watch_tier_up(std::string name, std::shared_ptr<const ModuleEntry> entry) {
  std::lock_guard<std::mutex> lock(tier_up_mu);
  if (tier_up_stop) {
    return;
  }
  tier_ups.push_back(
      TierUp{std::move(name), entry, std::chrono::steady_clock::now() + kTierUpWatch});
  if (!tier_up_thread.joinable()) {
    tier_up_thread = std::thread([this] { tier_up_loop(); });
  }
  tier_up_cv.notify_all();
}

void Runtime::Impl::stop_tier_up() {
  {
    std::lock_guard<std::mutex> lock(tier_up_mu);
    tier_up_stop = true;
  }
  tier_up_cv.notify_all();
  if (tier_up_thread.joinable()) {
    tier_up_thread.join();
  }
}

void Runtime::Impl::tier_up_loop() {
  std::unique_lock<std::mutex> lock(tier_up_mu);
  for (;;) {
    if (tier_ups.empty()) {
      tier_up_cv.wait(lock, [this] { return tier_up_stop || !tier_ups.empty(); });
    } else {
      tier_up_cv.wait_for(lock, kTierUpPoll, [this] { return tier_up_stop; });
    }
    if (tier_up_stop) {
      return;
    }
    std::vector<TierUp> watched = tier_ups;
    lock.unlock();
    std::vector<std::string> done;
    wasm::CompileOptions opts = options.compile;
    opts.on_native_cache_miss = nullptr;  // its compile is under way already
    for (const TierUp& w : watched) {
      std::shared_ptr<const ModuleEntry> e = w.entry.lock();
      if (!e || !e->source || std::chrono::steady_clock::now() > w.until) {
        done.push_back(w.name);
        continue;
      }
      std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(e->source->data()),
                                     e->source->size());
      if (!wasm::native_code_cached(bytes, opts)) {
        continue;
      }
      done.push_back(w.name);
      auto m = wasm::Module::compile(bytes, opts);
      if (!m || (*m)->tier() != wasm::Tier::kCompiled) {
        continue;  // it stays interpreted (a damaged entry is compiled again next start)
      }
      // The loaded module takes the machine code: its running processes
      // switch at their next function entry, new ones start compiled.
      if (e->module->adopt_native_code(**m)) {
        continue;
      }
      Result<std::shared_ptr<const ModuleEntry>> fresh = [&] {
        std::shared_lock imports_lock(modules_mu);  // add_host_function writes imports under it
        return make_entry(w.name, std::move(*m), e->source);
      }();
      if (!fresh) {
        continue;
      }
      std::unique_lock modules_lock(modules_mu);
      auto it = modules.find(w.name);
      if (it != modules.end() && it->second == e) {  // not replaced or unloaded meanwhile
        it->second = std::move(*fresh);
      }
    }
    lock.lock();
    std::erase_if(tier_ups, [&](const TierUp& w) {
      return std::find(done.begin(), done.end(), w.name) != done.end();
    });
  }
}

Status Runtime::load_file(std::string name, const std::string& path) {
  Result<std::vector<uint8_t>> bytes = read_module_file(path);
  if (!bytes) {
    return Error(bytes.message());
  }
  Status s = load(std::move(name), *bytes);
  if (!s) {
    return Error(path + ": " + s.message());
  }
  return s;
}

Status Runtime::add_host_function(std::string module, std::string name, wasm::FuncType type,
                                  wasm::HostCallback callback, void* data) {
  std::unique_lock<std::shared_mutex> lock(impl_->modules_mu);
  if (impl_->imports.find(module, name) != nullptr &&
      impl_->stand_ins.erase(module + "." + name) == 0) {
    return Error("host function " + module + "." + name + " is already defined");
  }
  impl_->rusm_funcs.push_back(
      wasm::Function::host(std::move(type), callback, data, module + "." + name));
  wasm::Extern e;
  e.func = impl_->rusm_funcs.back().get();
  impl_->imports.add(module, name, e);
  return Status::ok();
}

Status Runtime::add_module(std::string name, std::shared_ptr<const wasm::Module> module) {
  return impl_->add_module(std::move(name), std::move(module), nullptr);
}

Status Runtime::Impl::add_module(std::string name, std::shared_ptr<const wasm::Module> module,
                                 std::shared_ptr<const std::string> source) {
  auto e = make_entry(name, std::move(module), std::move(source));
  if (!e) {
    return e.error();
  }
  std::unique_lock lock(modules_mu);
  modules[std::move(name)] = std::move(*e);
  return Status::ok();
}

Result<std::shared_ptr<const ModuleEntry>> Runtime::Impl::make_entry(
    std::string name, std::shared_ptr<const wasm::Module> module,
    std::shared_ptr<const std::string> source) {
  auto resolved = wasm::resolve_imports(*module, imports);
  if (!resolved) {
    return Error("bad module: " + resolved.message());
  }
  auto e = std::make_shared<ModuleEntry>();
  e->name = name;
  e->module = std::move(module);
  e->imports = std::move(*resolved);
  for (const wasm::ImportInfo& i : e->module->imports()) {
    if (i.module == wasi::kModuleName) {
      e->uses_wasi = true;
    }
  }
  for (const wasm::ExportInfo& x : e->module->exports()) {
    if (x.kind == wasm::ExternKind::Func) {
      e->functions.emplace(x.name, x.index);
      if (x.name == "_initialize" && e->module->func_type(x.index).params.empty()) {
        e->initialize = x.index;
      }
    }
  }
  if (source) {
    e->sha256 =
        runtime::module_sha256({reinterpret_cast<const uint8_t*>(source->data()), source->size()});
    e->source = std::move(source);
  }
  return std::shared_ptr<const ModuleEntry>(std::move(e));
}

bool Runtime::has_module(std::string_view name) const {
  return impl_->find_module(name) != nullptr;
}

bool Runtime::unload(std::string_view name) {
  std::unique_lock lock(impl_->modules_mu);
  return impl_->modules.erase(std::string(name)) > 0;
}

std::string Runtime::module_sha256(std::string_view name) const {
  auto m = impl_->find_module(name);
  return m ? m->sha256 : std::string();
}

std::optional<wasm::Tier> Runtime::module_tier(std::string_view name) const {
  auto m = impl_->find_module(name);
  if (!m) {
    return std::nullopt;
  }
  return m->module->tier();
}

size_t Runtime::module_count() const {
  std::shared_lock lock(impl_->modules_mu);
  return impl_->modules.size();
}

void Runtime::set_remote_spawner(std::shared_ptr<RemoteSpawner> spawner) {
  std::lock_guard<std::mutex> lock(impl_->spawner_mu);
  impl_->spawner = std::move(spawner);
}

void Runtime::spawn_on(uint16_t node, const ProcessSpec& spec, otp::Pid parent,
                       const Capabilities* parent_caps, RemoteSpawnDone done) {
  auto fail = [&](int code, std::string message) { done(Error(std::move(message), code)); };
  if (node == impl_->node->id()) {
    ProcessSpec local = spec;
    if ((spec.options.link || spec.options.monitor) && parent.valid()) {
      // A local child linked to or monitored by `parent` from outside its
      // body is not something otp offers: only remote parents are.
      return fail(kErrNotSupported,
                  "not supported yet: spawn_on this node with link or monitor (use spawn)");
    }
    Result<otp::Spawned> s = spawn_impl(nullptr, local, parent_caps);
    if (!s) {
      return fail(kErrLimit, s.message());
    }
    return done(*s);
  }
  auto mod = impl_->find_module(spec.module);
  if (!mod) {
    return fail(kErrNotFound, "no module named '" + spec.module + "'");
  }
  if (!mod->source) {
    return fail(kErrBadArg,
                "module '" + spec.module +
                    "' was not loaded from bytes, so it cannot be sent to another node");
  }
  auto fn = mod->functions.find(spec.function);
  if (fn == mod->functions.end()) {
    return fail(kErrNotFound,
                "module '" + spec.module + "' exports no function '" + spec.function + "'");
  }
  if (mod->module->func_type(fn->second).params.size() != spec.args.size()) {
    return fail(kErrBadArg, "function '" + spec.function + "' takes " +
                                std::to_string(mod->module->func_type(fn->second).params.size()) +
                                " arguments, " + std::to_string(spec.args.size()) + " given");
  }
  std::shared_ptr<RemoteSpawner> spawner;
  {
    std::lock_guard<std::mutex> lock(impl_->spawner_mu);
    spawner = impl_->spawner;
  }
  if (!spawner) {
    return fail(kErrNoConn,
                "this node is not in a cluster: cannot spawn on node " + std::to_string(node));
  }
  RemoteSpawnRequest r;
  r.node = node;
  r.parent = parent;
  r.module = spec.module;
  r.sha256 = mod->sha256;
  r.bytes = mod->source;
  r.function = spec.function;
  r.args = spec.args;
  r.caps = parent_caps ? spec.caps.restricted_to(*parent_caps) : spec.caps;
  r.link = spec.options.link && parent.valid();
  r.monitor = spec.options.monitor && parent.valid();
  r.trap_exit = spec.options.trap_exit;
  r.monitor_ref = r.monitor ? impl_->node->make_ref() : 0;
  r.mailbox_bound = spec.options.mailbox_bound;
  r.label = spec.options.label;
  spawner->spawn(std::move(r), std::move(done));
}

Result<otp::Spawned> Runtime::spawn_on(uint16_t node, const ProcessSpec& spec,
                                       otp::Duration timeout) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<otp::Spawned>> answer;
  };
  auto w = std::make_shared<Wait>();
  ProcessSpec plain = spec;
  plain.options.link = plain.options.monitor = false;
  spawn_on(node, plain, otp::Pid(), nullptr, [w](Result<otp::Spawned> r) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->answer = std::move(r);
    w->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(w->mu);
  if (!w->cv.wait_for(lock, timeout, [&] { return w->answer.has_value(); })) {
    return Error(
        "spawn on node " + std::to_string(node) + ": no answer within " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
            " ms",
        kErrTimeout);
  }
  return std::move(*w->answer);
}

Result<otp::Spawned> Runtime::spawn(const ProcessSpec& spec) {
  return spawn_impl(nullptr, spec, nullptr);
}

Result<otp::Spawned> Runtime::spawn(const ProcessSpec& spec, std::unique_ptr<Resource> resource) {
  return spawn_impl(nullptr, spec, nullptr, std::move(resource));
}

Result<otp::Spawned> Runtime::spawn_from(otp::Context& ctx, const ProcessSpec& spec,
                                         const Capabilities* parent_caps) {
  return spawn_impl(&ctx, spec, parent_caps);
}

Result<otp::Spawned> Runtime::spawn_impl(otp::Context* ctx, const ProcessSpec& spec,
                                         const Capabilities* parent_caps,
                                         std::unique_ptr<Resource> resource,
                                         std::shared_ptr<Template> made_template) {
  auto mod = impl_->find_module(spec.module);
  if (!mod) {
    return Error("no module named '" + spec.module + "'");
  }
  Capabilities caps = parent_caps ? spec.caps.restricted_to(*parent_caps) : spec.caps;
  std::shared_ptr<OutcomeSlot> slot;
  if (spec.record_outcome) {
    slot = std::make_shared<OutcomeSlot>();
  }
  auto body = impl_->make_process(mod, spec.function, spec.args, caps,
                                  filter_config(spec.wasi, caps), slot, spec.snapshot);
  if (!body) {
    return body.error();
  }
  if (made_template != nullptr) {
    made_template->module = mod;
    (*body)->make_template(made_template);
  }
  if (resource != nullptr) {
    [[maybe_unused]] int32_t h = (*body)->resources().add(std::move(resource));
    assert(h == ResourceTable::kFirstHandle);
  }
  otp::SpawnOptions o = spec.options;
  o.label = labelled(o.label.empty() ? spec.function : o.label, caps);
  auto s = impl_->spawn_body(ctx, std::move(*body), std::move(o));
  if (s && slot) {
    std::lock_guard<std::mutex> lock(impl_->outcomes_mu);
    impl_->outcomes[s->pid.bits()] = slot;
  }
  return s;
}

Result<std::shared_ptr<const wasm::Snapshot>> Runtime::make_template(
    const ProcessSpec& spec, std::optional<otp::Message> first, otp::Duration timeout) {
  auto t = std::make_shared<Template>();
  ProcessSpec s = spec;
  s.record_outcome = true;
  auto p = spawn_impl(nullptr, s, nullptr, nullptr, t);
  if (!p) {
    return p.error();
  }
  if (first) {
    if (Status sent = impl_->node->send(p->pid, std::move(*first)); !sent) {
      impl_->node->exit(p->pid, otp::ExitReason::kill());
      return Error("template: " + sent.message());
    }
  }
  bool settled;
  {
    std::unique_lock<std::mutex> lock(t->mu);
    auto ready = [&] { return t->state != Template::State::kPending; };
    settled = timeout == otp::kInfinity ? (t->settled.wait(lock, ready), true)
                                        : t->settled.wait_for(lock, timeout, ready);
  }
  if (!settled) {
    impl_->node->exit(p->pid, otp::ExitReason::kill());
    (void)wait(p->pid, std::chrono::seconds(5));
    return Error("template: its entry function did not return in time", kErrTimeout);
  }
  std::optional<Outcome> o = wait(p->pid, std::chrono::seconds(10));
  std::lock_guard<std::mutex> lock(t->mu);
  if (t->state == Template::State::kReady) {
    return t->snapshot;
  }
  std::string why = o ? o->reason.to_string() : "it did not end";
  if (o && o->reason.is_normal()) {
    why = "its state cannot be captured (see docs/abi.md, \"Templates\")";
  }
  return Error("template: the process ended without leaving a state: " + why);
}

otp::ChildSpec Runtime::child_spec(std::string id, ProcessSpec spec) {
  otp::ChildSpec c;
  c.id = id;
  spec.options.link = true;
  if (spec.options.label.empty()) {
    spec.options.label = id;
  }
  spec.record_outcome = false;
  c.start = [this, spec](otp::Context& ctx, const otp::Message&) -> Result<otp::Pid> {
    auto s = spawn_from(ctx, spec, nullptr);
    if (!s) {
      return s.error();
    }
    return s->pid;
  };
  return c;
}

std::optional<Outcome> Runtime::wait(otp::Pid pid, otp::Duration timeout) {
  std::optional<otp::ExitReason> r = impl_->node->wait_exit(pid, timeout);
  if (!r) {
    return std::nullopt;
  }
  std::shared_ptr<OutcomeSlot> slot;
  {
    std::lock_guard<std::mutex> lock(impl_->outcomes_mu);
    auto it = impl_->outcomes.find(pid.bits());
    if (it != impl_->outcomes.end()) {
      slot = it->second;
      impl_->outcomes.erase(it);
    }
  }
  Outcome o;
  o.reason = *r;
  if (slot) {
    // The slot's reason is exact even when wait_exit came too late and says
    // noproc: finish() fills it when the process ends itself, on_exit() when
    // it is killed; the captured output follows from the destructor, which
    // may still be running on a worker.
    for (int i = 0; i < 1000; ++i) {
      std::lock_guard<std::mutex> lock(slot->mu);
      if (slot->done) {
        o = slot->outcome;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return o;
}

std::optional<ProcessDetails> Runtime::details(otp::Pid pid) const {
  auto info = impl_->node->info(pid);
  if (!info) {
    return std::nullopt;
  }
  ProcessDetails d;
  d.profile = profile_of_label(info->label);
  d.info = std::move(*info);
  return d;
}

}  // namespace rusm::runtime
