// Node: the thread-safe entry points from outside, observer snapshots,
// graceful shutdown, and Probe.
#include <condition_variable>
#include <deque>
#include <thread>

#include "otp/access.h"
#include "otp/node_impl.h"

namespace rusm::otp {

using detail::Access;
using detail::MessageNode;
using detail::NodeImpl;
using detail::NodeKind;
using detail::Process;

namespace {

// steady_clock::now() + timeout, saturated: kInfinity (or anything past the
// clock's range) is time_point::max().
std::chrono::steady_clock::time_point steady_deadline(Duration timeout) {
  auto now = std::chrono::steady_clock::now();
  if (timeout >= std::chrono::steady_clock::time_point::max() - now) {
    return std::chrono::steady_clock::time_point::max();
  }
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
}

}  // namespace

Node::Node(NodeOptions options) : impl_(std::make_unique<NodeImpl>(this, options)) {
  impl_->start_workers();
}

Node::~Node() {
  (void)shutdown(Duration(0));
}

Result<Spawned> Node::spawn_body(std::unique_ptr<Body> body, const SpawnOptions& options) {
  Result<Process*> child = impl_->prepare(nullptr, options);
  if (!child) {
    return child.error();
  }
  return impl_->commit(*child, nullptr, options, {}, std::move(body));
}

Status Node::send(Pid to, Message m) {
  return impl_->send_message(Pid(), to, std::move(m));
}

Status Node::send(std::string_view name, Message m) {
  Pid to = impl_->whereis(name);
  if (!to) {
    return Error("send to '" + std::string(name) + "': no process registered under that name");
  }
  return send(to, std::move(m));
}

void Node::exit(Pid pid, ExitReason reason) {
  impl_->send_exit(Pid(), pid, reason, false);
}

void Node::set_idle_driver(IdleDriver* driver) {
  impl_->set_driver(driver);
}

void Node::wake(Pid pid) {
  MessageNode* n = detail::new_node();
  n->kind = NodeKind::kWake;
  if (!impl_->deliver(pid, n)) {
    detail::free_node(n);
  }
}

Status Node::register_name(std::string name, Pid pid) {
  return impl_->register_name(std::move(name), pid);
}
Status Node::unregister_name(std::string_view name) {
  return impl_->unregister_name(name);
}
Pid Node::whereis(std::string_view name) const {
  return impl_->whereis(name);
}

TimerRef Node::send_after(Duration delay, Pid to, Message m) {
  return impl_->send_after(nullptr, delay, to, std::move(m));
}
std::optional<Duration> Node::cancel_timer(TimerRef timer) {
  return impl_->cancel_timer(timer);
}

bool Node::reserve_memory(uint64_t bytes) {
  if (!impl_->node_has_room(bytes)) {
    return false;
  }
  impl_->account(impl_->current_worker(), static_cast<int64_t>(bytes));
  return true;
}

void Node::release_memory(uint64_t bytes) {
  impl_->account(impl_->current_worker(), -static_cast<int64_t>(bytes));
}

bool Node::is_alive(Pid pid) const {
  Process* p = impl_->acquire(pid);
  if (p == nullptr) {
    return false;
  }
  bool alive = !p->exiting_.load(std::memory_order_relaxed);
  impl_->release(p);
  return alive;
}

std::optional<ProcessInfo> Node::info(Pid pid) const {
  return impl_->info(pid);
}

std::vector<ProcessInfo> Node::processes() const {
  std::vector<ProcessInfo> out;
  uint32_t slots = impl_->table_.chunks_allocated() * detail::ProcessTable::kChunkSize;
  for (uint32_t s = 0; s < slots && s < impl_->table_.capacity(); ++s) {
    Process* p = impl_->table_.at(s);
    if (p == nullptr) {
      continue;
    }
    uint64_t r = p->refs_.load(std::memory_order_acquire);
    if ((r & Process::kLiveBit) == 0) {
      continue;
    }
    Pid pid = Pid::make(impl_->options_.node_id, static_cast<uint32_t>(r >> Process::kGenShift), s);
    if (auto i = impl_->info(pid)) {
      out.push_back(std::move(*i));
    }
  }
  return out;
}

NodeStats Node::stats() const {
  NodeStats s;
  auto add = [&](const detail::WorkerCounters& c) {
    s.spawns += c.spawns.load(std::memory_order_relaxed);
    s.exits_normal += c.exits[0].load(std::memory_order_relaxed);
    s.exits_shutdown += c.exits[1].load(std::memory_order_relaxed);
    s.exits_killed += c.exits[2].load(std::memory_order_relaxed);
    s.exits_error += c.exits[3].load(std::memory_order_relaxed);
    s.messages_sent += c.sent.load(std::memory_order_relaxed);
    s.messages_received += c.received.load(std::memory_order_relaxed);
    s.reductions += c.reductions.load(std::memory_order_relaxed);
    s.restarts += c.restarts.load(std::memory_order_relaxed);
  };
  add(impl_->outside_);
  int64_t now = impl_->now_ns();
  for (auto& w : impl_->workers_) {
    add(w->counters_);
    WorkerStats ws;
    uint64_t started = w->started_ns_.load(std::memory_order_relaxed);
    uint64_t parked = w->counters_.parked_ns.load(std::memory_order_relaxed);
    int64_t since = w->counters_.parked_since.load(std::memory_order_relaxed);
    if (since != 0 && now > since) {
      parked += static_cast<uint64_t>(now - since);  // a park still in progress
    }
    uint64_t alive = started != 0 && static_cast<uint64_t>(now) > started ? now - started : 0;
    ws.busy_ns = alive > parked ? alive - parked : 0;
    ws.runs = w->counters_.runs.load(std::memory_order_relaxed);
    ws.steals = w->counters_.steals.load(std::memory_order_relaxed);
    ws.parks = w->counters_.parks.load(std::memory_order_relaxed);
    ws.run_queue_length = w->queue_.size();
    s.workers.push_back(ws);
  }
  s.processes = impl_->live_count();
  s.max_processes = impl_->table_.capacity();
  s.memory_held = impl_->memory_held();
  s.memory_limit = impl_->max_memory_;
  s.timer_bytes = impl_->outside_timer_bytes_.load(std::memory_order_relaxed);
  for (auto& w : impl_->workers_) {
    s.timer_bytes += w->timer_bytes_.load(std::memory_order_relaxed);
  }
  return s;
}

uint64_t Node::process_count() const {
  return impl_->live_count();
}
unsigned Node::workers() const {
  return static_cast<unsigned>(impl_->workers_.size());
}

std::optional<ExitReason> Node::wait_exit(Pid pid, Duration timeout) {
  Probe probe(*this);
  MonitorRef ref = probe.monitor(pid);
  auto m =
      probe.receive_if([ref](const Message& m) { return m.is_down() && m.ref() == ref; }, timeout);
  if (!m) {
    return std::nullopt;
  }
  return m->reason();
}

Status Node::shutdown(Duration timeout) {
  NodeImpl& n = *impl_;
  std::lock_guard<std::mutex> lock(n.shutdown_mu_);
  if (n.shut_down_) {
    return Status::ok();
  }
  auto deadline = steady_deadline(timeout);
  n.accepting_.store(false, std::memory_order_seq_cst);
  std::vector<Pid> roots;
  {
    std::lock_guard<std::mutex> rlock(n.roots_mu_);
    roots = n.roots_;
  }
  auto wait_dead = [&](Pid pid, std::chrono::steady_clock::time_point until) {
    auto pause = std::chrono::microseconds(20);
    while (is_alive(pid) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
    }
    return !is_alive(pid);
  };
  // Newest root first: later trees may depend on earlier ones.
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) {
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    if (is_alive(*it)) {
      exit(*it, ExitReason::shutdown());
      wait_dead(*it, deadline);
    }
  }
  // Whatever is left (processes outside any tree, probes) is killed; that is
  // only a failure if the deadline passed first.
  bool late = std::chrono::steady_clock::now() >= deadline;
  uint64_t killed = 0;
  for (int round = 0; round < 1000 && n.live_count() > 0; ++round) {
    for (const ProcessInfo& info : processes()) {
      exit(info.pid, ExitReason::kill());
      if (round == 0) {
        ++killed;
      }
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);
    while (n.live_count() > 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  n.stop_workers();
  n.shut_down_ = true;
  if (late && killed > 0) {
    return Error("shutdown: " + std::to_string(killed) +
                 " processes did not stop in time and were killed");
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------
// Probe

namespace {
constexpr uint64_t kProbeLink = kSystemTagBase + 10;
constexpr uint64_t kProbeMonitor = kSystemTagBase + 11;
}  // namespace

struct Probe::Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> queue;
  uint64_t requests = 0;  // links/monitors asked for (owner thread)
  uint64_t done = 0;      // ...and set up by the probe's process
};

namespace {

class ProbeBody final : public Body {
 public:
  explicit ProbeBody(std::shared_ptr<Probe::Shared> shared) : shared_(std::move(shared)) {}
  Step run(Context& ctx) override {
    if (ctx.wake_reason() == WakeReason::kMessage) {
      Message m = ctx.take_delivered();
      const bool request = (m.tag() == kProbeLink || m.tag() == kProbeMonitor) && !m.from().valid();
      if (request) {
        if (m.tag() == kProbeLink) {
          ctx.link(m.as<Pid>());
        } else {
          detail::NodeImpl::monitor_with_ref(ctx, m.as<Pid>(), m.ref());
        }
        std::lock_guard<std::mutex> lock(shared_->mu);
        ++shared_->done;
        shared_->cv.notify_all();
      } else {
        std::lock_guard<std::mutex> lock(shared_->mu);
        shared_->queue.push_back(std::move(m));
        shared_->cv.notify_all();
      }
    }
    return Step::wait_message(MessageFilter::any());
  }

 private:
  std::shared_ptr<Probe::Shared> shared_;
};

}  // namespace

Probe::Probe(Node& node) : node_(&node), shared_(std::make_shared<Shared>()) {
  SpawnOptions o;
  o.trap_exit = true;
  o.label = "probe";
  // A probe must work during shutdown too (wait_exit), so bypass the refusal.
  NodeImpl* n = node.impl();
  bool accepting = n->accepting_.load(std::memory_order_acquire);
  Result<Process*> child = accepting ? n->prepare(nullptr, o) : Result<Process*>(Error("closed"));
  if (child) {
    pid_ = n->commit(*child, nullptr, o, {}, std::make_unique<ProbeBody>(shared_), false).pid;
  }
}

Probe::~Probe() {
  if (pid_) {
    node_->exit(pid_, ExitReason::kill());
  }
}

Status Probe::send(Pid to, Message m) {
  return node_->impl()->send_message(pid_, to, std::move(m));
}

std::optional<Message> Probe::receive(Duration timeout) {
  return receive_if([](const Message&) { return true; }, timeout);
}

std::optional<Message> Probe::receive_if(const std::function<bool(const Message&)>& pred,
                                         Duration timeout) {
  auto deadline = steady_deadline(timeout);
  std::unique_lock<std::mutex> lock(shared_->mu);
  for (;;) {
    for (auto it = shared_->queue.begin(); it != shared_->queue.end(); ++it) {
      if (pred(*it)) {
        Message m = std::move(*it);
        shared_->queue.erase(it);
        return m;
      }
    }
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      shared_->cv.wait(lock);
    } else if (shared_->cv.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (auto it = shared_->queue.begin(); it != shared_->queue.end(); ++it) {
        if (pred(*it)) {
          Message m = std::move(*it);
          shared_->queue.erase(it);
          return m;
        }
      }
      return std::nullopt;
    }
  }
}

void Probe::link(Pid pid) {
  request(Message::of(kProbeLink, pid));
}

void Probe::request(Message m) {
  const uint64_t ticket = ++shared_->requests;
  if (!node_->send(pid_, std::move(m))) {
    return;  // the probe's process is gone (node shut down)
  }
  // Bounded: a node that stops scheduling must not hang its caller.
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->cv.wait_for(lock, std::chrono::seconds(10), [&] { return shared_->done >= ticket; });
}

MonitorRef Probe::monitor(Pid pid) {
  MonitorRef ref = node_->impl()->make_ref();
  Message m = Message::of(kProbeMonitor, pid);
  m.set_ref(ref);
  request(std::move(m));
  return ref;
}

}  // namespace rusm::otp
