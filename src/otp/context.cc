// Context: what a process body calls. Runs on the process's worker thread.
// HOT PATH (guarded by bench ping-pong): send.
#include <algorithm>

#include "otp/access.h"
#include "otp/node_impl.h"

namespace rusm::otp {

using detail::Access;
using detail::MessageNode;
using detail::NodeKind;
using detail::ProcessExt;
using detail::SpinLock;

Pid Context::self() const {
  return proc_->pid_;
}
Node& Context::node() const {
  return *proc_->node_->owner_;
}
Pid Context::parent() const {
  return proc_->parent_;
}

namespace {

// An event of the traced process p (trace.h); the caller saw its flag set.
void traced(detail::Process* p, TraceKind kind, Pid other, uint64_t tag = 0, size_t size = 0) {
  TraceEvent e;
  e.kind = kind;
  e.pid = p->pid_;
  e.other = other;
  e.tag = tag;
  e.size = size;
  p->node_->trace_event(e);
}

}  // namespace

Status Context::send(Pid to, Message m) {
  budget_ -= 1;
  if (proc_->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    traced(proc_, TraceKind::kSend, to, m.tag(), m.size());
  }
  return proc_->node_->send_message(proc_->pid_, to, std::move(m));
}

Status Context::send(std::string_view name, Message m) {
  Pid to = proc_->node_->whereis(name);
  if (!to) {
    return Error("send to '" + std::string(name) + "': no process registered under that name");
  }
  return send(to, std::move(m));
}

Status Context::send_named(uint16_t node, std::string_view name, Message m) {
  budget_ -= 1;
  return proc_->node_->send_named(proc_->pid_, node, name, std::move(m));
}

void Context::monitor_node(uint16_t node) {
  proc_->node_->monitor_node(proc_->pid_, node);
}
void Context::demonitor_node(uint16_t node) {
  proc_->node_->demonitor_node(proc_->pid_, node);
}
bool Context::node_is_up(uint16_t node) const {
  return proc_->node_->node_is_up(node);
}

void Context::report_memory(size_t bytes) {
  proc_->body_bytes_.store(bytes, std::memory_order_relaxed);
}

const std::atomic<bool>& Context::interrupt_flag() const {
  return proc_->signalled_;
}

bool Context::reserve_memory(uint64_t bytes) {
  return proc_->node_->owner_->reserve_memory(bytes);
}

void Context::release_memory(uint64_t bytes) {
  proc_->node_->owner_->release_memory(bytes);
}

Message Context::take_delivered() {
  return Access::wrap(std::exchange(delivered_, nullptr));
}

Result<Spawned> Context::spawn_body(std::unique_ptr<Body> body, const SpawnOptions& options) {
  budget_ -= 10;
  Result<detail::Process*> child = detail::spawn_prepare(proc_->node_, proc_, options);
  if (!child) {
    return child.error();
  }
  return detail::spawn_commit(*child, proc_, options, {}, std::move(body));
}

void Context::set_label(std::string label) {
  ProcessExt& e = proc_->ext();
  std::lock_guard<SpinLock> lock(e.lock);
  e.label = std::move(label);
}

void Context::link(Pid pid) {
  detail::Process* p = proc_;
  if (pid == p->pid_) {
    return;
  }
  ProcessExt& e = p->ext();
  if (std::find(e.links.begin(), e.links.end(), pid) != e.links.end()) {
    return;
  }
  {
    std::lock_guard<SpinLock> lock(e.lock);
    e.links.push_back(pid);
  }
  if (p->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    traced(p, TraceKind::kLink, pid);
  }
  if (p->node_->is_remote(pid)) [[unlikely]] {
    p->node_->link_remote(p, pid);
    return;
  }
  MessageNode* n = detail::new_node();
  n->kind = NodeKind::kLink;
  n->from = p->pid_;
  if (!p->node_->deliver(pid, n)) {
    // Linking to a process that is gone: an exit signal with reason noproc.
    n->kind = NodeKind::kExit;
    n->from = pid;
    n->linked = true;
    n->reason = ExitReason::noproc();
    p->inbox_.push(n);
  }
}

void Context::unlink(Pid pid) {
  detail::Process* p = proc_;
  ProcessExt* e = p->ext_if_any();
  if (e == nullptr) {
    return;
  }
  bool had;
  {
    std::lock_guard<SpinLock> lock(e->lock);
    auto it = std::find(e->links.begin(), e->links.end(), pid);
    had = it != e->links.end();
    if (had) {
      *it = e->links.back();
      e->links.pop_back();
    }
  }
  if (had && p->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    traced(p, TraceKind::kUnlink, pid);
  }
  if (had && p->node_->is_remote(pid)) [[unlikely]] {
    p->node_->unlink_remote(p->pid_, pid);
  } else if (had) {
    MessageNode* n = detail::new_node();
    n->kind = NodeKind::kUnlink;
    n->from = p->pid_;
    if (!p->node_->deliver(pid, n)) {
      detail::free_node(n);
    }
  }
}

MonitorRef Context::monitor(Pid pid) {
  MonitorRef ref = proc_->node_->make_ref();
  if (proc_->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    traced(proc_, TraceKind::kMonitor, pid);
  }
  detail::NodeImpl::monitor_with_ref(*this, pid, ref);
  return ref;
}

bool Context::demonitor(MonitorRef ref, bool flush) {
  detail::Process* p = proc_;
  ProcessExt* e = p->ext_if_any();
  Pid target;
  bool active = false;
  if (e != nullptr) {
    std::lock_guard<SpinLock> lock(e->lock);
    auto it = std::find_if(e->monitors_out.begin(), e->monitors_out.end(),
                           [&](const detail::MonitorEntry& m) { return m.ref == ref; });
    if (it != e->monitors_out.end()) {
      active = true;
      target = it->pid;
      *it = e->monitors_out.back();
      e->monitors_out.pop_back();
    }
  }
  if (active && p->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    traced(p, TraceKind::kDemonitor, target);
  }
  if (active && p->node_->is_remote(target)) [[unlikely]] {
    p->node_->demonitor_remote(p->pid_, target, ref);
  } else if (active) {
    MessageNode* n = detail::new_node();
    n->kind = NodeKind::kDemonitor;
    n->from = p->pid_;
    n->ref = ref;
    if (!p->node_->deliver(target, n)) {
      detail::free_node(n);
    }
  }
  if (flush) {
    p->node_->absorb(p);
    WakeReason saved = wake_;
    MessageNode* prev = nullptr;
    for (MessageNode* n = p->q_head_; n != nullptr;) {
      MessageNode* next = n->next;
      if (n->tag == kDownTag && n->ref == ref) {
        detail::NodeImpl::take_message(p, prev, n, p->node_->current_worker());
        budget_ += 1;
        detail::free_node(std::exchange(delivered_, nullptr));
      } else {
        prev = n;
      }
      n = next;
    }
    wake_ = saved;
  }
  return active;
}

bool Context::trap_exit(bool on) {
  return proc_->trap_exit_.exchange(on, std::memory_order_relaxed);
}

void Context::exit(Pid pid, ExitReason reason) {
  budget_ -= 1;
  proc_->node_->send_exit(proc_->pid_, pid, reason, false);
}

bool Context::is_alive(Pid pid) const {
  return proc_->node_->owner_->is_alive(pid);
}

Status Context::register_name(std::string name) {
  return proc_->node_->register_name(std::move(name), proc_->pid_);
}
Status Context::unregister_name(std::string_view name) {
  return proc_->node_->unregister_name(name);
}
Pid Context::whereis(std::string_view name) const {
  return proc_->node_->whereis(name);
}

TimerRef Context::send_after(Duration delay, Pid to, Message m) {
  return proc_->node_->send_after(proc_, delay, to, std::move(m));
}
std::optional<Duration> Context::cancel_timer(TimerRef timer) {
  return proc_->node_->cancel_timer(timer);
}
bool Context::timer_pending(TimerRef timer) const {
  const auto* t = reinterpret_cast<const detail::Timer*>(timer.handle);
  return t != nullptr &&
         t->state_id.load(std::memory_order_relaxed) == (timer.id << 2 | detail::Timer::kPending);
}

std::optional<ProcessInfo> Context::info(Pid pid) const {
  return proc_->node_->info(pid);
}
MonitorRef Context::make_ref() {
  return proc_->node_->make_ref();
}

namespace detail {

void NodeImpl::monitor_with_ref(Context& ctx, Pid pid, MonitorRef ref) {
  Process* p = ctx.proc_;
  ProcessExt& e = p->ext();
  {
    std::lock_guard<SpinLock> lock(e.lock);
    e.monitors_out.push_back({ref, pid});
  }
  if (p->node_->is_remote(pid)) [[unlikely]] {
    p->node_->monitor_remote(p, pid, ref);
    return;
  }
  MessageNode* n = new_node();
  n->kind = NodeKind::kMonitor;
  n->from = p->pid_;
  n->ref = ref;
  if (!p->node_->deliver(pid, n)) {
    // Monitoring a process that is gone: an immediate DOWN with noproc.
    n->kind = NodeKind::kDown;
    n->from = pid;
    n->reason = ExitReason::noproc();
    p->inbox_.push(n);
  }
}

}  // namespace detail
}  // namespace rusm::otp
