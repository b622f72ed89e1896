// The `rusm` import module: the guest ABI (docs/abi.md is the contract;
// guest/c/rusm.h the C view of it). Every function finds its process through
// Execution::user_data(). Guest pointers and lengths are checked: a bad one
// gives kErrBadArg, never a host crash. Every function charges fuel for the
// bytes it copies (HostCall::charge_bytes, a unit per 64 bytes, as bulk
// memory operations do), so no call escapes the slice's budget.
//
// HOT PATH (bench wasm-ping-pong): send, receive, message_read.
#include <cstring>
#include <string>

#include "runtime/internal.h"
#include "rusm/otp/router.h"

namespace rusm::runtime {
namespace {

using otp::ExitReason;
using otp::Message;
using otp::Pid;
using otp::Step;
using wasm::HostAction;
using wasm::HostCall;

WasmProcess& proc(HostCall& c) {
  return static_cast<WasmProcess&>(Process::of(c));
}

HostAction ret32(HostCall& c, int32_t v) {
  c.set_result_i32(0, static_cast<uint32_t>(v));
  return HostAction::kReturn;
}
HostAction ret64(HostCall& c, int64_t v) {
  c.set_result_i64(0, static_cast<uint64_t>(v));
  return HostAction::kReturn;
}

std::optional<std::string_view> bytes(HostCall& c, uint32_t ptr, uint32_t len) {
  return guest_bytes(c, ptr, len);
}

bool write(HostCall& c, uint32_t ptr, const void* data, size_t len) {
  wasm::Memory* m = c.memory();
  return m != nullptr && m->write(ptr, data, len);
}

bool require(WasmProcess& p, uint32_t cap) {
  if (p.caps().has(cap)) {
    return true;
  }
  p.denied(cap);
  return false;
}

ExitReason reason_of(uint32_t kind, std::string_view detail) {
  switch (kind) {
    case 0:
      return ExitReason::normal();
    case 1:
      return ExitReason::shutdown(std::string(detail));
    case 3:
      return ExitReason::kill();
    default:
      return ExitReason::error(detail.empty() ? "exit" : std::string(detail));
  }
}

std::string labelled(std::string_view label, const Capabilities& caps) {
  std::string s(label);
  s += " [";
  s += caps.profile;
  s += ']';
  return s;
}

std::optional<std::string_view> copied(HostCall& c, uint32_t ptr, uint32_t len) {
  return guest_bytes_charged(c, ptr, len);
}

// Killing a process, or linking with it (a crash then kills it), needs
// `proc` unless it is the caller itself (docs/abi.md, "Capabilities").
bool may_signal(WasmProcess& p, Pid pid) {
  return pid == p.ctx().self() || require(p, kCapProcessCtl);
}

// Why a send was refused: its node is not connected, or (a local or a
// connected node) the message could not be queued.
int32_t refused(WasmProcess& p, uint16_t node) {
  const otp::Node& n = p.ctx().node();
  return node != n.id() && !n.node_is_up(node) ? kErrNoConn : kErrFull;
}

// ---- identity

HostAction abi_version(HostCall& c) {
  return ret32(c, kAbiVersion);
}
HostAction self(HostCall& c) {
  return ret64(c, proc(c).ctx().self().bits());
}
HostAction parent(HostCall& c) {
  return ret64(c, proc(c).ctx().parent().bits());
}

// A timeout argument: negative waits forever.
otp::Duration duration_of(int64_t ns) {
  return ns < 0 ? otp::kInfinity : otp::Duration(ns);
}

// ---- spawning

// rusm_spawn_opts (abi/rusm.toml).
using SpawnOpts = AbiSpawnOpts;
constexpr uint32_t kSpawnLink = 1, kSpawnMonitor = 2, kSpawnTrapExit = 4, kSpawnCaps = 8,
                   kSpawnTemplate = 16;

// The capabilities a child asks for, never more than the parent holds; without
// RUSM_SPAWN_CAPS the parent's, less its not_inherited bits.
Capabilities child_caps(const Capabilities& parent, const SpawnOpts& o) {
  Capabilities c = parent;
  c.bits &= ~parent.not_inherited;  // given only when asked for, below
  if (o.flags & kSpawnCaps) {
    Capabilities want;
    want.bits = o.caps;
    want.max_memory_pages = parent.max_memory_pages;
    want.not_inherited = parent.not_inherited;
    want.profile = "custom";
    want.kv = parent.kv;
    want.net = parent.net;
    c = want.restricted_to(parent);
  }
  if (o.max_memory_pages != 0 && o.max_memory_pages < c.max_memory_pages) {
    c.max_memory_pages = o.max_memory_pages;
  }
  return c;
}

// A spawn call's arguments and options, read from guest memory.
struct SpawnCall {
  uint64_t args[64];
  uint32_t nargs = 0;
  SpawnOpts o{};
  std::string_view label;
};

// Checks the capability and reads the arguments; kOk to go on.
int32_t read_spawn_call(HostCall& c, uint32_t args_ptr, uint32_t nargs, uint32_t opts_ptr,
                        SpawnCall& out) {
  if (!require(proc(c), kCapSpawn)) {
    return kErrDenied;
  }
  if (nargs > 64) {
    return kErrBadArg;
  }
  out.nargs = nargs;
  if (nargs > 0) {
    auto a = bytes(c, args_ptr, nargs * 8);
    if (!a) {
      return kErrBadArg;
    }
    std::memcpy(out.args, a->data(), nargs * 8);
  }
  if (opts_ptr != 0) {
    auto raw = bytes(c, opts_ptr, sizeof out.o);
    if (!raw) {
      return kErrBadArg;
    }
    std::memcpy(&out.o, raw->data(), sizeof out.o);
  }
  std::optional<std::string_view> label = copied(c, out.o.label, out.o.label_len);
  if (!label) {
    return kErrBadArg;
  }
  out.label = *label;
  return kOk;
}

// `snapshot`: spawn_from's template state (null: a fresh instance).
int32_t do_spawn(HostCall& c, std::shared_ptr<const ModuleEntry> mod, std::string_view fn,
                 uint32_t args_ptr, uint32_t nargs, uint32_t opts_ptr, uint32_t out_ptr,
                 std::shared_ptr<const wasm::Snapshot> snapshot = nullptr) {
  WasmProcess& p = proc(c);
  SpawnCall call;
  if (int32_t e = read_spawn_call(c, args_ptr, nargs, opts_ptr, call); e != kOk) {
    return e;
  }
  std::shared_ptr<Template> made;  // RUSM_SPAWN_TEMPLATE: what the child will fill
  if (call.o.flags & kSpawnTemplate) {
    if (!p.templates()) {
      p.set_templates(std::make_shared<Templates>());
    }
    std::lock_guard<std::mutex> lock(p.templates()->mu);
    if (p.templates()->by_pid.size() >= Templates::kMax) {
      return kErrLimit;
    }
    made = std::make_shared<Template>();
    made->module = mod;
  }
  const uint64_t* args = call.args;
  const SpawnOpts& o = call.o;
  const std::string_view* label = &call.label;
  auto fit = mod->functions.find(std::string(fn));
  if (fit == mod->functions.end()) {
    return kErrNotFound;
  }
  if (mod->module->func_type(fit->second).params.size() != nargs) {
    return kErrBadArg;
  }
  Capabilities caps = child_caps(p.caps(), o);
  std::shared_ptr<const wasi::Config> cfg = p.wasi_config();
  if (cfg && caps.bits != p.caps().bits) {
    cfg = filter_config(*cfg, caps);
  }
  auto body = p.rt().make_process(std::move(mod), fn, {args, nargs}, caps, cfg, nullptr,
                                  std::move(snapshot));
  if (!body) {
    return kErrLimit;
  }
  (*body)->set_templates(p.templates());
  if (made) {
    (*body)->make_template(made);
  }
  otp::SpawnOptions so;
  so.link = o.flags & kSpawnLink;
  so.monitor = o.flags & kSpawnMonitor;
  so.trap_exit = o.flags & kSpawnTrapExit;
  so.mailbox_bound = o.mailbox_bound;
  so.label = labelled(label->empty() ? fn : *label, caps);
  auto s = p.rt().spawn_body(&p.ctx(), std::move(*body), std::move(so));
  if (!s) {
    return kErrLimit;
  }
  if (made) {
    // The child may have settled it already: the waiters look it up after this.
    std::lock_guard<std::mutex> lock(p.templates()->mu);
    p.templates()->by_pid[s->pid.bits()] = std::move(made);
  }
  if (out_ptr != 0) {
    uint64_t out[2] = {s->pid.bits(), s->monitor};
    if (!write(c, out_ptr, out, sizeof out)) {
      return kErrBadArg;
    }
  }
  return kOk;
}

// spawn(fn_ptr, fn_len, args_ptr, nargs, opts_ptr, out_ptr) -> i32
HostAction spawn(HostCall& c) {
  auto fn = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!fn) {
    return ret32(c, kErrBadArg);
  }
  int32_t r =
      do_spawn(c, proc(c).module(), *fn, c.arg_i32(2), c.arg_i32(3), c.arg_i32(4), c.arg_i32(5));
  if (proc(c).ctx().budget() <= 0) {
    return proc(c).yield_with(r);  // a spawn loop is preempted like any other
  }
  return ret32(c, r);
}

// The family's template made by process `pid`, or null.
std::shared_ptr<Template> find_template(WasmProcess& p, uint64_t pid) {
  if (!p.templates()) {
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(p.templates()->mu);
  auto it = p.templates()->by_pid.find(pid);
  return it == p.templates()->by_pid.end() ? nullptr : it->second;
}

// template_wait(template: i64, timeout_ns: i64) -> i32: until the template
// process returned from its entry function (OK) or ended otherwise (EBADSTATE).
HostAction template_wait(HostCall& c) {
  WasmProcess& p = proc(c);
  std::shared_ptr<Template> t = find_template(p, c.arg_i64(0));
  if (!t) {
    return ret32(c, kErrNotFound);
  }
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (t->state == Template::State::kReady) {
      return ret32(c, kOk);
    }
    if (t->state == Template::State::kFailed) {
      return ret32(c, kErrBadState);
    }
  }
  int64_t ns = static_cast<int64_t>(c.arg_i64(1));
  if (ns == 0) {
    return ret32(c, kErrTimeout);
  }
  return p.await_template(std::move(t), duration_of(ns));
}

// spawn_from(template: i64, fn_ptr, fn_len, args_ptr, nargs, opts_ptr, out_ptr) -> i32:
// spawn, the instance starting in the template's state.
HostAction spawn_from(HostCall& c) {
  WasmProcess& p = proc(c);
  if (!require(p, kCapSpawn)) {
    return ret32(c, kErrDenied);
  }
  auto fn = bytes(c, c.arg_i32(1), c.arg_i32(2));
  if (!fn) {
    return ret32(c, kErrBadArg);
  }
  std::shared_ptr<Template> t = find_template(p, c.arg_i64(0));
  if (!t) {
    return ret32(c, kErrNotFound);
  }
  std::shared_ptr<const wasm::Snapshot> snap;
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (t->state != Template::State::kReady) {
      return ret32(c, kErrBadState);
    }
    snap = t->snapshot;
  }
  int32_t r = do_spawn(c, t->module, *fn, c.arg_i32(3), c.arg_i32(4), c.arg_i32(5), c.arg_i32(6),
                       std::move(snap));
  if (p.ctx().budget() <= 0) {
    return p.yield_with(r);
  }
  return ret32(c, r);
}

// spawn_module(mod_ptr, mod_len, fn_ptr, fn_len, args_ptr, nargs, opts_ptr, out_ptr) -> i32
HostAction spawn_module(HostCall& c) {
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  auto fn = bytes(c, c.arg_i32(2), c.arg_i32(3));
  if (!name || !fn) {
    return ret32(c, kErrBadArg);
  }
  auto mod = proc(c).rt().find_module(*name);
  if (!mod) {
    return ret32(c, require(proc(c), kCapSpawn) ? kErrNotFound : kErrDenied);
  }
  return ret32(
      c, do_spawn(c, std::move(mod), *fn, c.arg_i32(4), c.arg_i32(5), c.arg_i32(6), c.arg_i32(7)));
}

// spawn_on(node, mod_ptr, mod_len, fn_ptr, fn_len, args_ptr, nargs, opts_ptr, out_ptr,
//          timeout_ns) -> i32: spawn_module on another node of the cluster
// (docs/abi.md, "Nodes"); this node's id spawns here.
HostAction spawn_on(HostCall& c) {
  WasmProcess& p = proc(c);
  uint32_t node = c.arg_i32(0);
  auto name = bytes(c, c.arg_i32(1), c.arg_i32(2));
  auto fn = bytes(c, c.arg_i32(3), c.arg_i32(4));
  if (!name || !fn || node == 0 || node > 0xffff) {
    return ret32(c, kErrBadArg);
  }
  if (node == p.rt().node->id()) {
    auto mod = p.rt().find_module(*name);
    if (!mod) {
      return ret32(c, require(p, kCapSpawn) ? kErrNotFound : kErrDenied);
    }
    return ret32(c, do_spawn(c, std::move(mod), *fn, c.arg_i32(5), c.arg_i32(6), c.arg_i32(7),
                             c.arg_i32(8)));
  }
  SpawnCall call;
  if (int32_t e = read_spawn_call(c, c.arg_i32(5), c.arg_i32(6), c.arg_i32(7), call); e != kOk) {
    return ret32(c, e);
  }
  ProcessSpec spec;
  spec.module = std::string(*name);
  spec.function = std::string(*fn);
  spec.args.assign(call.args, call.args + call.nargs);
  spec.caps = child_caps(p.caps(), call.o);
  spec.options.link = call.o.flags & kSpawnLink;
  spec.options.monitor = call.o.flags & kSpawnMonitor;
  spec.options.trap_exit = call.o.flags & kSpawnTrapExit;
  spec.options.mailbox_bound = call.o.mailbox_bound;
  spec.options.label = std::string(call.label);
  return p.spawn_on(static_cast<uint16_t>(node), spec,
                    duration_of(static_cast<int64_t>(c.arg_i64(9))), c.arg_i32(8));
}

// ---- exits

// exit(kind, detail_ptr, detail_len): never returns.
HostAction exit_self(HostCall& c) {
  auto detail = bytes(c, c.arg_i32(1), c.arg_i32(2));
  ExitReason r = reason_of(c.arg_i32(0), detail.value_or("exit (bad detail pointer)"));
  if (r.kind() == otp::ExitKind::kKill) {
    r = ExitReason::killed();
  }
  return proc(c).end(std::move(r));
}

// exit_pid(pid, kind, detail_ptr, detail_len) -> i32
HostAction exit_pid(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid pid = Pid::from_bits(c.arg_i64(0));
  if (!pid.valid()) {
    return ret32(c, kErrBadArg);
  }
  if (!may_signal(p, pid)) {
    return ret32(c, kErrDenied);
  }
  auto detail = copied(c, c.arg_i32(2), c.arg_i32(3));
  if (!detail || c.arg_i32(1) > 3) {
    return ret32(c, kErrBadArg);
  }
  if (!p.ctx().is_alive(pid)) {
    return ret32(c, kErrNoproc);
  }
  p.ctx().exit(pid, reason_of(c.arg_i32(1), *detail));
  return ret32(c, kOk);
}

HostAction is_alive(HostCall& c) {
  return ret32(c, proc(c).ctx().is_alive(Pid::from_bits(c.arg_i64(0))) ? 1 : 0);
}

// ---- introspection

std::string pid_list(const std::vector<Pid>& v) {
  std::string s;
  for (Pid p : v) {
    if (!s.empty()) {
      s += ',';
    }
    s += p.to_string();
  }
  return s;
}

// process_info(pid, buf, cap) -> i32: "key=value\n" lines; returns the full length.
HostAction process_info(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid pid = Pid::from_bits(c.arg_i64(0));
  if (pid != p.ctx().self() && !require(p, kCapProcessCtl)) {
    return ret32(c, kErrDenied);
  }
  std::optional<otp::ProcessInfo> info = p.ctx().info(pid);
  if (!info) {
    return ret32(c, kErrNoproc);
  }
  std::string label = info->label;
  std::string profile = profile_of_label(label);
  if (!profile.empty()) {
    label.resize(label.size() - profile.size() - 3);
  }
  std::string s =
      "pid=" + info->pid.to_string() + "\nstatus=" + to_string(info->status) + "\nlabel=" + label +
      "\nprofile=" + profile + "\nregistered_name=" + info->registered_name +
      "\nmailbox=" + std::to_string(info->mailbox_length) +
      "\nreductions=" + std::to_string(info->reductions) +
      "\nmemory=" + std::to_string(info->memory_bytes) + "\nlinks=" + pid_list(info->links) +
      "\nmonitors=" + pid_list(info->monitors) + "\ntrap_exit=" + (info->trap_exit ? "1" : "0") +
      "\nparent=" + (info->parent.valid() ? info->parent.to_string() : "") +
      "\ncurrent_wait=" + info->current_wait + "\n";
  uint32_t cap = c.arg_i32(2);
  c.charge_bytes(s.size());
  if (cap > 0 && !write(c, c.arg_i32(1), s.data(), std::min<size_t>(cap, s.size()))) {
    return ret32(c, kErrBadArg);
  }
  return ret32(c, static_cast<int32_t>(s.size()));
}

// processes(buf, max) -> i32: up to max pids (u64); returns how many exist.
HostAction processes(HostCall& c) {
  WasmProcess& p = proc(c);
  if (!require(p, kCapProcessCtl)) {
    return ret32(c, kErrDenied);
  }
  std::vector<otp::ProcessInfo> all = p.ctx().node().processes();
  // Listing builds a ProcessInfo (a few hundred bytes) per live process.
  c.charge_bytes(all.size() * 256);
  uint32_t max = c.arg_i32(1);
  for (uint32_t i = 0; i < max && i < all.size(); ++i) {
    uint64_t bits = all[i].pid.bits();
    if (!write(c, c.arg_i32(0) + 8 * i, &bits, 8)) {
      return ret32(c, kErrBadArg);
    }
  }
  return ret32(c, static_cast<int32_t>(all.size()));
}

HostAction set_label(HostCall& c) {
  WasmProcess& p = proc(c);
  auto label = copied(c, c.arg_i32(0), c.arg_i32(1));
  if (!label) {
    return ret32(c, kErrBadArg);
  }
  p.ctx().set_label(labelled(*label, p.caps()));
  return ret32(c, kOk);
}

// ---- messages

// send(pid, tag, ptr, len) -> i32
HostAction send(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid to = Pid::from_bits(c.arg_i64(0));
  uint64_t tag = c.arg_i64(1);
  auto data = copied(c, c.arg_i32(2), c.arg_i32(3));
  if (!to.valid() || !data || tag >= otp::kSystemTagBase) {
    return ret32(c, kErrBadArg);
  }
  int32_t r = p.ctx().send(to, Message::make(tag, *data)) ? kOk : refused(p, to.node());
  if (p.ctx().budget() <= 0) {
    return p.yield_with(r);
  }
  return ret32(c, r);
}

// send_named(node, name_ptr, name_len, tag, ptr, len) -> i32: to the
// process registered as name on node (Erlang's {Name, Node} ! Msg).
HostAction send_named(HostCall& c) {
  WasmProcess& p = proc(c);
  uint32_t node = c.arg_i32(0);
  auto name = bytes(c, c.arg_i32(1), c.arg_i32(2));
  uint64_t tag = c.arg_i64(3);
  auto data = copied(c, c.arg_i32(4), c.arg_i32(5));
  if (node > 0xFFFF || !name || name->empty() || !data || tag >= otp::kSystemTagBase) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  auto id = static_cast<uint16_t>(node);
  if (id == p.ctx().node().id() && !p.ctx().whereis(*name).valid()) {
    return ret32(c, kErrNotFound);
  }
  if (!p.ctx().send_named(id, *name, Message::make(tag, *data))) {
    return ret32(c, refused(p, id));
  }
  return ret32(c, kOk);
}

// send_name(name_ptr, name_len, tag, ptr, len) -> i32
HostAction send_name(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  uint64_t tag = c.arg_i64(2);
  auto data = copied(c, c.arg_i32(3), c.arg_i32(4));
  if (!name || !data || tag >= otp::kSystemTagBase) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  Pid to = p.ctx().whereis(*name);
  if (!to.valid()) {
    return ret32(c, kErrNotFound);
  }
  if (!p.ctx().send(to, Message::make(tag, *data))) {
    return ret32(c, kErrFull);
  }
  return ret32(c, kOk);
}

// receive(tag, use_tag, timeout_ns, hdr_ptr, buf_ptr, buf_cap) -> i32 (payload size)
HostAction receive(HostCall& c) {
  WasmProcess& p = proc(c);
  p.recv = {c.arg_i32(3), c.arg_i32(4), c.arg_i32(5)};
  otp::MessageFilter f =
      c.arg_i32(1) ? otp::MessageFilter::by_tag(c.arg_i64(0)) : otp::MessageFilter::any();
  if (otp::detail::HeaderAccess::try_receive_now(p.ctx(), f)) {
    return ret32(c, p.deliver(p.ctx().take_delivered()));
  }
  return p.suspend_receive(f, duration_of(static_cast<int64_t>(c.arg_i64(2))));
}

// message_read(offset, ptr, len) -> i32 (bytes copied)
HostAction message_read(HostCall& c) {
  return ret32(c, proc(c).read_current(c.arg_i32(0), c.arg_i32(1), c.arg_i32(2)));
}

// ---- links and monitors

HostAction link(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid pid = Pid::from_bits(c.arg_i64(0));
  if (!pid.valid()) {
    return ret32(c, kErrBadArg);
  }
  if (!may_signal(p, pid)) {
    return ret32(c, kErrDenied);
  }
  if (pid != p.ctx().self()) {  // linking to itself changes nothing (as in Erlang)
    p.ctx().link(pid);
  }
  return ret32(c, kOk);
}
HostAction unlink(HostCall& c) {
  Pid pid = Pid::from_bits(c.arg_i64(0));
  if (!pid.valid()) {
    return ret32(c, kErrBadArg);
  }
  proc(c).ctx().unlink(pid);
  return ret32(c, kOk);
}
HostAction monitor(HostCall& c) {
  Pid pid = Pid::from_bits(c.arg_i64(0));
  if (!pid.valid()) {
    return ret64(c, kErrBadArg);
  }
  return ret64(c, static_cast<int64_t>(proc(c).ctx().monitor(pid)));
}
HostAction demonitor(HostCall& c) {
  return ret32(c, proc(c).ctx().demonitor(c.arg_i64(0), c.arg_i32(1) != 0) ? 1 : 0);
}
HostAction trap_exit(HostCall& c) {
  return ret32(c, proc(c).ctx().trap_exit(c.arg_i32(0) != 0) ? 1 : 0);
}

// ---- registry

HostAction register_name(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name || name->empty()) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  return ret32(c, p.ctx().register_name(std::string(*name)) ? kOk : kErrExists);
}
HostAction unregister_name(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  return ret32(c, p.ctx().unregister_name(*name) ? kOk : kErrNotFound);
}
HostAction whereis(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name) {
    return ret64(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret64(c, kErrDenied);
  }
  return ret64(c, static_cast<int64_t>(p.ctx().whereis(*name).bits()));
}

// ---- topics (docs/abi.md, "Topics"): publish/subscribe across the cluster

HostAction subscribe(HostCall& c) {
  WasmProcess& p = proc(c);
  auto topic = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!topic || topic->empty() || topic->size() > otp::kMaxGlobalName) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapPubSub)) {
    return ret32(c, kErrDenied);
  }
  // The caller is alive and local: the refusal left is a limit.
  return ret32(c, p.ctx().node().subscribe(std::string(*topic), p.ctx().self()) ? kOk : kErrLimit);
}
HostAction unsubscribe(HostCall& c) {
  WasmProcess& p = proc(c);
  auto topic = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!topic) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapPubSub)) {
    return ret32(c, kErrDenied);
  }
  return ret32(c, p.ctx().node().unsubscribe(*topic, p.ctx().self()) ? kOk : kErrNotFound);
}
// publish(topic_ptr, topic_len, tag, ptr, len) -> i32 copies sent
HostAction publish(HostCall& c) {
  WasmProcess& p = proc(c);
  auto topic = bytes(c, c.arg_i32(0), c.arg_i32(1));
  uint64_t tag = c.arg_i64(2);
  auto data = copied(c, c.arg_i32(3), c.arg_i32(4));
  if (!topic || topic->empty() || topic->size() > otp::kMaxGlobalName || !data ||
      tag >= otp::kSystemTagBase) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapPubSub)) {
    return ret32(c, kErrDenied);
  }
  Result<size_t> n = p.ctx().node().publish(*topic, otp::Message::make(tag, *data), p.ctx().self());
  if (!n) {
    return ret32(c, kErrBadArg);
  }
  return ret32(c, static_cast<int32_t>(std::min<size_t>(*n, INT32_MAX)));
}

// ---- global names (docs/abi.md, "Nodes"): one name for a pid on every node

HostAction register_global(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name || name->empty() || name->size() > otp::kMaxGlobalName) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  // With the cluster's etcd registry the answer takes a round trip: the
  // process waits for it, suspended (WasmProcess::global_name).
  if (auto code = p.global_name(true, std::string(*name))) {
    return ret32(c, *code);
  }
  return p.await_global();
}
HostAction unregister_global(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  if (auto code = p.global_name(false, std::string(*name))) {
    return ret32(c, *code);
  }
  return p.await_global();
}
HostAction whereis_global(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name) {
    return ret64(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret64(c, kErrDenied);
  }
  return ret64(c, static_cast<int64_t>(p.ctx().node().whereis_global(*name).bits()));
}
// send_global(name_ptr, name_len, tag, ptr, len) -> i32
HostAction send_global(HostCall& c) {
  WasmProcess& p = proc(c);
  auto name = bytes(c, c.arg_i32(0), c.arg_i32(1));
  uint64_t tag = c.arg_i64(2);
  auto data = copied(c, c.arg_i32(3), c.arg_i32(4));
  if (!name || !data || tag >= otp::kSystemTagBase) {
    return ret32(c, kErrBadArg);
  }
  if (!require(p, kCapRegistry)) {
    return ret32(c, kErrDenied);
  }
  Pid to = p.ctx().node().whereis_global(*name);
  if (!to.valid()) {
    return ret32(c, kErrNotFound);
  }
  int32_t r = p.ctx().send(to, Message::make(tag, *data)) ? kOk : refused(p, to.node());
  return ret32(c, r);
}

// ---- nodes (docs/abi.md, "Nodes")

HostAction node_self(HostCall& c) {
  return ret32(c, proc(c).ctx().node().id());
}

// nodes(buf, max) -> i32: up to max u32 ids of the other nodes that are up;
// returns how many there are.
HostAction nodes(HostCall& c) {
  std::vector<uint16_t> ids = proc(c).ctx().node().connected_nodes();
  c.charge_bytes(ids.size() * 4);
  uint32_t max = c.arg_i32(1);
  for (uint32_t i = 0; i < max && i < ids.size(); ++i) {
    uint32_t id = ids[i];
    if (!write(c, c.arg_i32(0) + 4 * i, &id, 4)) {
      return ret32(c, kErrBadArg);
    }
  }
  return ret32(c, static_cast<int32_t>(ids.size()));
}

// node_name(id, buf, cap) -> i32: the full length of the name (copied up to cap).
HostAction node_name(HostCall& c) {
  uint32_t id = c.arg_i32(0);
  if (id > 0xFFFF) {
    return ret32(c, kErrBadArg);
  }
  std::string name = proc(c).ctx().node().node_name(static_cast<uint16_t>(id));
  if (name.empty()) {
    return ret32(c, kErrNotFound);
  }
  uint32_t cap = c.arg_i32(2);
  if (cap > 0 && !write(c, c.arg_i32(1), name.data(), std::min<size_t>(cap, name.size()))) {
    return ret32(c, kErrBadArg);
  }
  return ret32(c, static_cast<int32_t>(name.size()));
}

// monitor_node(id, on) -> i32
HostAction monitor_node(HostCall& c) {
  uint32_t id = c.arg_i32(0);
  if (id > 0xFFFF) {
    return ret32(c, kErrBadArg);
  }
  otp::Context& ctx = proc(c).ctx();
  if (c.arg_i32(1) != 0) {
    ctx.monitor_node(static_cast<uint16_t>(id));
  } else {
    ctx.demonitor_node(static_cast<uint16_t>(id));
  }
  return ret32(c, kOk);
}

// ---- timers

// send_after(delay_ns, pid, tag, ptr, len) -> i64 timer id
HostAction send_after(HostCall& c) {
  WasmProcess& p = proc(c);
  int64_t delay = static_cast<int64_t>(c.arg_i64(0));
  Pid to = Pid::from_bits(c.arg_i64(1));
  uint64_t tag = c.arg_i64(2);
  auto data = copied(c, c.arg_i32(3), c.arg_i32(4));
  if (delay < 0 || !to.valid() || !data || tag >= otp::kSystemTagBase) {
    return ret64(c, kErrBadArg);
  }
  otp::TimerRef t = p.ctx().send_after(otp::Duration(delay), to, Message::make(tag, *data));
  if (!t.valid()) {
    return ret64(c, kErrLimit);  // its message budget (or the node's) has no room
  }
  return ret64(c, static_cast<int64_t>(p.add_timer(t)));
}
// cancel_timer(id) -> i64 nanoseconds left, or kErrNotFound
HostAction cancel_timer(HostCall& c) {
  WasmProcess& p = proc(c);
  std::optional<otp::TimerRef> t = p.take_timer(c.arg_i64(0));
  if (!t) {
    return ret64(c, kErrNotFound);
  }
  std::optional<otp::Duration> left = p.ctx().cancel_timer(*t);
  return ret64(c, left ? left->count() : kErrNotFound);
}
HostAction sleep(HostCall& c) {
  return proc(c).suspend_sleep(duration_of(static_cast<int64_t>(c.arg_i64(0))));
}
HostAction yield(HostCall& c) {
  return proc(c).suspend_yield();
}

// ---- supervisors

// rusm_sup_header and rusm_child_spec (abi/rusm.toml).
using SupHeader = AbiSupHeader;
using SupChild = AbiChildSpec;

// Spawns a supervisor's Wasm child, linked to the supervisor: `fn` of `mod`
// with `args`, then (simple_one_for_one) the u64 arguments that start_child
// passed in `extra`. Errors carry an AbiError code for the start_child caller.
Result<Pid> start_wasm_child(otp::Context& ctx, Runtime::Impl* rt,
                             const std::shared_ptr<const ModuleEntry>& mod, const std::string& fn,
                             const std::vector<uint64_t>& args, std::string_view extra,
                             const Capabilities& caps,
                             const std::shared_ptr<const wasi::Config>& cfg,
                             const std::string& label,
                             const std::shared_ptr<const wasm::Snapshot>& snapshot,
                             const std::shared_ptr<Templates>& family) {
  size_t params = mod->module->func_type(mod->functions.at(fn)).params.size();
  if (extra.size() % 8 != 0 || args.size() + extra.size() / 8 != params) {
    return Error("start_child: '" + fn + "' takes " + std::to_string(params) + " arguments, got " +
                     std::to_string(args.size()) + " + " + std::to_string(extra.size() / 8),
                 kErrBadArg);
  }
  std::vector<uint64_t> all(args);
  all.resize(params);
  if (!extra.empty()) {
    std::memcpy(all.data() + args.size(), extra.data(), extra.size());
  }
  auto body = rt->make_process(mod, fn, all, caps, cfg, nullptr, snapshot);
  if (!body) {
    return Error(body.message(), kErrLimit);  // instantiation failed (as spawn reports it)
  }
  (*body)->set_templates(family);
  otp::SpawnOptions so;
  so.link = true;
  so.label = label;
  auto s = rt->spawn_body(&ctx, std::move(*body), std::move(so));
  if (!s) {
    return Error(s.message(), kErrLimit);
  }
  return s->pid;
}

// supervisor_start(spec_ptr, spec_len) -> i64 pid or error
HostAction supervisor_start(HostCall& c) {
  WasmProcess& p = proc(c);
  if (!require(p, kCapSpawn)) {
    return ret64(c, kErrDenied);
  }
  uint32_t len = c.arg_i32(1);
  auto raw = copied(c, c.arg_i32(0), len);
  SupHeader h;
  if (!raw || len < sizeof h) {
    return ret64(c, kErrBadArg);
  }
  std::memcpy(&h, raw->data(), sizeof h);
  if (h.nchildren > 1024 || len != sizeof h + h.nchildren * sizeof(SupChild) || h.strategy > 3) {
    return ret64(c, kErrBadArg);
  }
  const bool simple = h.strategy == static_cast<uint32_t>(otp::Strategy::kSimpleOneForOne);
  if (simple && h.nchildren != 1) {
    return ret64(c, kErrBadArg);  // simple_one_for_one: exactly one template
  }
  otp::SupervisorSpec spec;
  spec.strategy = static_cast<otp::Strategy>(h.strategy);
  spec.max_restarts = static_cast<int>(h.max_restarts);
  spec.max_seconds = std::chrono::milliseconds(h.max_seconds_ms);
  spec.label = labelled("supervisor", p.caps());
  for (uint32_t i = 0; i < h.nchildren; ++i) {
    SupChild ch;
    std::memcpy(&ch, raw->data() + sizeof h + i * sizeof ch, sizeof ch);
    auto id = bytes(c, ch.id, ch.id_len);
    auto mod_name = bytes(c, ch.module, ch.module_len);
    auto fn = bytes(c, ch.fn, ch.fn_len);
    auto args = bytes(c, ch.args, ch.nargs * 8);
    if (!id || !mod_name || !fn || !args || ch.nargs > 64 || ch.restart > 2) {
      return ret64(c, kErrBadArg);
    }
    std::shared_ptr<const ModuleEntry> mod =
        mod_name->empty() ? p.module() : p.rt().find_module(*mod_name);
    // v10: flag RUSM_SPAWN_TEMPLATE: the first argument is a template of the
    // caller's family, which the child starts from (its module's `fn`).
    std::shared_ptr<const wasm::Snapshot> snapshot;
    uint32_t skip = 0;
    if (ch.flags & kSpawnTemplate) {
      if (ch.nargs < 1) {
        return ret64(c, kErrBadArg);
      }
      uint64_t tpid;
      std::memcpy(&tpid, args->data(), 8);
      std::shared_ptr<Template> t = find_template(p, tpid);
      if (!t) {
        return ret64(c, kErrNotFound);
      }
      std::lock_guard<std::mutex> lock(t->mu);
      if (t->state != Template::State::kReady) {
        return ret64(c, kErrBadState);
      }
      snapshot = t->snapshot;
      mod = t->module;
      skip = 1;
    }
    if (!mod) {
      return ret64(c, kErrNotFound);
    }
    auto fit = mod->functions.find(std::string(*fn));
    if (fit == mod->functions.end()) {
      return ret64(c, kErrNotFound);
    }
    size_t params = mod->module->func_type(fit->second).params.size();
    // A fixed child gets exactly its arguments; a template at most (the rest
    // come with each start_child).
    const uint32_t nargs = ch.nargs - skip;
    if (simple ? nargs > params : nargs != params) {
      return ret64(c, kErrBadArg);
    }
    SpawnOpts o{};
    o.flags = ch.flags & kSpawnCaps;
    o.caps = ch.caps;
    Capabilities caps = child_caps(p.caps(), o);
    std::shared_ptr<const wasi::Config> cfg = p.wasi_config();
    if (cfg && caps.bits != p.caps().bits) {
      cfg = filter_config(*cfg, caps);
    }
    std::vector<uint64_t> argv(nargs);
    if (nargs > 0) {
      std::memcpy(argv.data(), args->data() + 8 * skip, nargs * 8);
    }
    otp::ChildSpec cs;
    cs.id = std::string(*id);
    cs.restart = static_cast<otp::Restart>(ch.restart);
    cs.shutdown = std::chrono::milliseconds(ch.shutdown_ms);
    Runtime::Impl* rt = &p.rt();
    std::string function(*fn);
    std::string label = labelled(cs.id, caps);
    std::shared_ptr<Templates> family = p.templates();
    cs.start = [rt, mod, function, argv, caps, cfg, label, snapshot, family](
                   otp::Context& ctx, const Message& arg) -> Result<Pid> {
      return start_wasm_child(ctx, rt, mod, function, argv, arg.empty() ? "" : arg.text(), caps,
                              cfg, label, snapshot, family);
    };
    spec.children.push_back(std::move(cs));
  }
  Result<Pid> sup = otp::start_supervisor(p.ctx(), std::move(spec));
  if (!sup) {
    return ret64(c, kErrLimit);
  }
  return ret64(c, static_cast<int64_t>(sup->bits()));
}

// Checks shared by the calls into a running supervisor; kOk to go on.
int32_t check_supervisor_call(WasmProcess& p, Pid sup) {
  if (!require(p, kCapSpawn)) {
    return kErrDenied;
  }
  if (!sup.valid() || sup == p.ctx().self()) {
    return kErrBadArg;  // a process waiting on itself would never answer
  }
  return p.ctx().is_alive(sup) ? kOk : kErrNoproc;
}

// supervisor_start_child(sup, args_ptr, nargs, timeout_ns) -> i64 pid or error
HostAction supervisor_start_child(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid sup = Pid::from_bits(c.arg_i64(0));
  if (int32_t e = check_supervisor_call(p, sup); e != kOk) {
    return ret64(c, e);
  }
  uint32_t nargs = c.arg_i32(2);
  auto args = nargs <= 64 ? bytes(c, c.arg_i32(1), nargs * 8) : std::nullopt;
  if (!args) {
    return ret64(c, kErrBadArg);
  }
  return p.call_supervisor(WasmProcess::SupervisorOp::kStartChild, sup,
                           otp::supervisor::start_child_request(Message::make(0, *args)),
                           duration_of(static_cast<int64_t>(c.arg_i64(3))));
}

// supervisor_terminate_child(sup, child, timeout_ns) -> i32
HostAction supervisor_terminate_child(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid sup = Pid::from_bits(c.arg_i64(0));
  if (int32_t e = check_supervisor_call(p, sup); e != kOk) {
    return ret32(c, e);
  }
  // Terminating a child kills it: only the supervisor's parent, or a holder
  // of `proc`, may ask (as for exit_pid).
  if (!p.caps().has(kCapProcessCtl)) {
    std::optional<otp::ProcessInfo> info = p.ctx().info(sup);
    if (!info || info->parent != p.ctx().self()) {
      p.denied(kCapProcessCtl);
      return ret32(c, kErrDenied);
    }
  }
  return p.call_supervisor(WasmProcess::SupervisorOp::kTerminateChild, sup,
                           otp::supervisor::terminate_child_request(Pid::from_bits(c.arg_i64(1))),
                           duration_of(static_cast<int64_t>(c.arg_i64(2))));
}

// supervisor_which_children(sup, buf_ptr, cap, timeout_ns) -> i32 count
HostAction supervisor_which_children(HostCall& c) {
  WasmProcess& p = proc(c);
  Pid sup = Pid::from_bits(c.arg_i64(0));
  if (int32_t e = check_supervisor_call(p, sup); e != kOk) {
    return ret32(c, e);
  }
  uint32_t cap = c.arg_i32(2);
  if (cap > (1u << 20) || !copied(c, c.arg_i32(1), cap * 8)) {
    return ret32(c, kErrBadArg);
  }
  return p.call_supervisor(WasmProcess::SupervisorOp::kWhichChildren, sup,
                           otp::supervisor::which_children_request(),
                           duration_of(static_cast<int64_t>(c.arg_i64(3))), c.arg_i32(1), cap);
}

const HostDef kDefs[] = {
    {"abi_version", abi_version},
    {"self", self},
    {"parent", parent},
    {"spawn", spawn},
    {"spawn_module", spawn_module},
    {"template_wait", template_wait},
    {"spawn_from", spawn_from},
    {"exit", exit_self},
    {"exit_pid", exit_pid},
    {"is_alive", is_alive},
    {"process_info", process_info},
    {"processes", processes},
    {"set_label", set_label},
    {"send", send},
    {"send_name", send_name},
    {"send_named", send_named},
    {"receive", receive},
    {"message_read", message_read},
    {"link", link},
    {"unlink", unlink},
    {"monitor", monitor},
    {"demonitor", demonitor},
    {"trap_exit", trap_exit},
    {"register", register_name},
    {"unregister", unregister_name},
    {"whereis", whereis},
    {"node_self", node_self},
    {"nodes", nodes},
    {"node_name", node_name},
    {"monitor_node", monitor_node},
    {"register_global", register_global},
    {"unregister_global", unregister_global},
    {"whereis_global", whereis_global},
    {"send_global", send_global},
    {"subscribe", subscribe},
    {"unsubscribe", unsubscribe},
    {"publish", publish},
    {"send_after", send_after},
    {"cancel_timer", cancel_timer},
    {"sleep", sleep},
    {"yield", yield},
    {"spawn_on", spawn_on},
    {"supervisor_start", supervisor_start},
    {"supervisor_start_child", supervisor_start_child},
    {"supervisor_terminate_child", supervisor_terminate_child},
    {"supervisor_which_children", supervisor_which_children},
};

}  // namespace

std::optional<wasm::FuncType> abi_function_type(std::string_view name) {
  for (const AbiFunction& f : kAbiFunctions) {
    if (name == f.name) {
      wasm::FuncType t;
      for (const char* p = f.params; *p != 0; ++p) {
        t.params.push_back(*p == 'I' ? wasm::ValType::I64 : wasm::ValType::I32);
      }
      if (f.result != 0) {
        t.results.push_back(f.result == 'I' ? wasm::ValType::I64 : wasm::ValType::I32);
      }
      return t;
    }
  }
  return std::nullopt;
}

void add_host_defs(Runtime::Impl& impl, std::span<const HostDef> defs) {
  for (const HostDef& d : defs) {
    std::optional<wasm::FuncType> t = abi_function_type(d.name);
    if (!t) {
      std::fprintf(stderr, "rusm: internal error: rusm.%s is not in abi/rusm.toml\n", d.name);
      std::abort();
    }
    impl.rusm_funcs.push_back(
        wasm::Function::host(std::move(*t), d.cb, nullptr, std::string("rusm.") + d.name));
    wasm::Extern e;
    e.func = impl.rusm_funcs.back().get();
    impl.imports.add("rusm", d.name, e);
  }
}

// The serving calls (http_*, ws_*) outside a server: no process has a
// request or a connection, so each answers EBADARG as the serving layer's
// own do for a handle that is not one. A module that serves and does other
// work (rusm-js.wasm, an SDK's runtime) thus loads everywhere; the serving
// layer registers the real ones later, which shadow these.
HostAction not_a_request(HostCall& c) {
  if (!c.type().results.empty()) {
    c.set_result_i32(0, static_cast<uint32_t>(kErrBadArg));
  }
  return HostAction::kReturn;
}

void add_rusm_imports(Runtime::Impl& impl) {
  std::vector<HostDef> serving;
  for (const AbiFunction& f : kAbiFunctions) {
    std::string_view name = f.name;
    if (name.starts_with("http_") || name.starts_with("ws_")) {
      serving.push_back({f.name, not_a_request});
    }
  }
  add_host_defs(impl, serving);
  for (const HostDef& d : serving) {
    impl.stand_ins.insert(std::string("rusm.") + d.name);
  }
  add_host_defs(impl, kDefs);
}

}  // namespace rusm::runtime
