// Tracing one process (rusm/otp/trace.h): the table of traced processes and
// their tracers. The hot paths check only the process's traced_ flag.
#include "otp/node_impl.h"

namespace rusm::otp {

const char* trace_kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::kSend:
      return "send";
    case TraceKind::kReceive:
      return "receive";
    case TraceKind::kSpawn:
      return "spawn";
    case TraceKind::kLink:
      return "link";
    case TraceKind::kUnlink:
      return "unlink";
    case TraceKind::kMonitor:
      return "monitor";
    case TraceKind::kDemonitor:
      return "demonitor";
    case TraceKind::kExit:
      return "exit";
  }
  return "?";
}

Status Node::trace(Pid pid, std::shared_ptr<Tracer> tracer) {
  return impl_->trace(pid, std::move(tracer));
}

void Node::untrace(Pid pid, const Tracer* tracer) {
  impl_->untrace(pid, tracer);
}

namespace detail {

Status NodeImpl::trace(Pid pid, std::shared_ptr<Tracer> tracer) {
  if (!tracer) {
    return Error("trace: no tracer");
  }
  Process* p = is_local(pid) ? acquire(pid) : nullptr;
  if (p == nullptr) {
    return Error("trace: " + pid.to_string() + " is not a live process of this node");
  }
  {
    std::lock_guard<std::mutex> lock(trace_mu_);
    if (!traces_.emplace(pid, std::move(tracer)).second) {
      release(p);
      return Error("trace: " + pid.to_string() + " is traced already");
    }
    // Set under the lock, so that trace_exit (which clears it and then takes
    // the lock) finds the entry whenever it sees the flag.
    p->traced_.store(true, std::memory_order_seq_cst);
  }
  // Exiting already: it may have passed its trace_exit; drop the entry.
  if (p->exiting_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> lock(trace_mu_);
    if (p->traced_.exchange(false)) {
      traces_.erase(pid);
    }
  }
  release(p);
  return Status::ok();
}

void NodeImpl::untrace(Pid pid, const Tracer* tracer) {
  std::shared_ptr<Tracer> dropped;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(trace_mu_);
  auto it = traces_.find(pid);
  if (it == traces_.end() || it->second.get() != tracer) {
    return;
  }
  dropped = std::move(it->second);
  traces_.erase(it);
  if (Process* p = acquire(pid)) {
    p->traced_.store(false, std::memory_order_relaxed);
    release(p);
  }
}

void NodeImpl::trace_event(const TraceEvent& e) {
  std::shared_ptr<Tracer> t;
  {
    std::lock_guard<std::mutex> lock(trace_mu_);
    auto it = traces_.find(e.pid);
    if (it == traces_.end()) {
      return;
    }
    t = it->second;
  }
  t->event(e);
}

void NodeImpl::trace_exit(Process* p, const ExitReason& reason) {
  if (!p->traced_.exchange(false, std::memory_order_seq_cst)) {
    return;
  }
  std::shared_ptr<Tracer> t;
  {
    std::lock_guard<std::mutex> lock(trace_mu_);
    auto it = traces_.find(p->pid_);
    if (it == traces_.end()) {
      return;
    }
    t = std::move(it->second);
    traces_.erase(it);
  }
  TraceEvent e;
  e.kind = TraceKind::kExit;
  e.pid = p->pid_;
  e.reason = reason;
  t->event(e);
}

}  // namespace detail
}  // namespace rusm::otp
