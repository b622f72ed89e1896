// Process lifecycle: the table, spawn, signals between processes, exit and
// propagation over links and monitors, the registry, timers, info.
//
// HOT PATH (guarded by benches spawn-storm, ping-pong, fault-recovery):
// prepare/commit, send_message, exit_process. No locks or system calls on
// these paths unless the process has a registered name or a free-slot cache
// runs dry.
#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>

#include "otp/access.h"
#include "otp/node_impl.h"
#include "otp/pool.h"

namespace rusm::otp::detail {

namespace {
thread_local size_t tls_last_frame = 0;

// Owner-only bump on a worker; a real RMW from outside.
void count(NodeImpl* node, std::atomic<uint64_t> WorkerCounters::*field, uint64_t n = 1) {
  Worker* w = node->current_worker();
  if (w != nullptr) {
    WorkerCounters::bump(w->counters_.*field, n);
  } else {
    (node->outside_.*field).fetch_add(n, std::memory_order_relaxed);
  }
}
}  // namespace

void* frame_alloc(size_t size) {
  tls_last_frame = size;
  return pool_alloc(size);
}
void frame_free(void* p, size_t size) {
  pool_free(p, size);
}

// ---------------------------------------------------------------------------
// ProcessTable

ProcessTable::ProcessTable(uint32_t capacity, uint32_t base_generation)
    : capacity_(std::min<uint32_t>(std::max<uint32_t>(capacity, 1), 1u << 24)),
      base_generation_(base_generation & Pid::kGenerationMask),
      chunks_(new std::atomic<Process*>[(capacity_ + kChunkSize - 1) / kChunkSize]) {
  for (uint32_t i = 0; i < (capacity_ + kChunkSize - 1) / kChunkSize; ++i) {
    chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
}

ProcessTable::~ProcessTable() {
  uint32_t n = allocated_chunks_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i) {
    delete[] chunks_[i].load(std::memory_order_relaxed);
  }
}

bool ProcessTable::refill(std::vector<uint32_t>& cache, NodeImpl* node) {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) {
    uint32_t c = allocated_chunks_.load(std::memory_order_relaxed);
    if (uint64_t{c} * kChunkSize >= capacity_) {
      return false;
    }
    Process* chunk = new Process[kChunkSize];
    for (uint32_t i = 0; i < kChunkSize; ++i) {
      chunk[i].refs_.store(uint64_t{base_generation_} << Process::kGenShift,
                           std::memory_order_relaxed);
    }
    chunks_[c].store(chunk, std::memory_order_release);
    allocated_chunks_.store(c + 1, std::memory_order_release);
    uint32_t end = std::min<uint32_t>((c + 1) * kChunkSize, capacity_);
    for (uint32_t s = end; s-- > c * kChunkSize;) {
      free_.push_back(s);
    }
  }
  size_t take = std::min<size_t>(free_.size(), 256);
  cache.insert(cache.end(), free_.end() - take, free_.end());
  free_.resize(free_.size() - take);
  return true;
}

void ProcessTable::give_back(std::vector<uint32_t>& cache, size_t keep) {
  if (cache.size() <= keep) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  free_.insert(free_.end(), cache.begin() + keep, cache.end());
  cache.resize(keep);
}

void ProcessTable::free_one(uint32_t slot) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(slot);
}

// ---------------------------------------------------------------------------
// NodeImpl basics

namespace {
uint64_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                               : uint64_t{1} << 34;  // 16 GiB if the system will not say
}

// NodeOptions::creation, or (0) one made from the clock and the system's
// randomness; never 0.
uint32_t make_creation(uint32_t asked) {
  if (asked != 0) {
    return asked;
  }
  uint64_t x = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  std::random_device rd;
  x ^= (uint64_t{rd()} << 32) | rd();
  x *= 0x9E3779B97F4A7C15ull;
  uint32_t c = static_cast<uint32_t>(x >> 32);
  return c != 0 ? c : 1;
}

// Where the slots' generations start for a creation: spread over the 24
// bits, so that two incarnations' pids differ (see NodeOptions).
uint32_t base_generation(uint32_t creation) {
  return static_cast<uint32_t>((uint64_t{creation} * 0x9E3779B1u) >> 8) & Pid::kGenerationMask;
}
}  // namespace

NodeImpl::NodeImpl(Node* owner, NodeOptions options)
    : owner_(owner),
      options_(options),
      node_id_(options.node_id),
      creation_(make_creation(options.creation)),
      table_(options.max_processes, base_generation(creation_)),
      max_memory_(options.max_memory_bytes != 0 ? options.max_memory_bytes : physical_memory()),
      start_(std::chrono::steady_clock::now()) {
  unsigned n = options.workers;
  if (n == 0) {
    n = std::max(1u, std::thread::hardware_concurrency());
  }
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i));
  }
}

NodeImpl::~NodeImpl() = default;

void NodeImpl::start_workers() {
  for (auto& w : workers_) {
    w->start();
  }
}

void NodeImpl::stop_workers() {
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& w : workers_) {
    w->unpark();
    w->park_word_.store(1, std::memory_order_release);
  }
  for (auto& w : workers_) {
    w->unpark();
    w->join();
  }
}

Process* NodeImpl::acquire(Pid pid) const {
  if (pid.node() != options_.node_id) {
    return nullptr;
  }
  Process* p = table_.at(pid.slot());
  if (p == nullptr || !p->try_ref(pid)) {
    return nullptr;
  }
  return p;
}

void NodeImpl::release(Process* p) {
  if (p->unref()) {
    recycle(p);
  }
}

void NodeImpl::recycle(Process* p) {
  uint32_t slot = p->pid_.slot();
  if (Worker* w = current_worker()) {
    w->free_slots_.push_back(slot);
    if (w->free_slots_.size() > 2048) {
      table_.give_back(w->free_slots_, 1024);
    }
  } else {
    table_.free_one(slot);
  }
}

uint64_t NodeImpl::live_count() const {
  uint64_t spawned = outside_.spawns.load(std::memory_order_relaxed);
  uint64_t exited = 0;
  for (auto& w : workers_) {
    spawned += w->counters_.spawns.load(std::memory_order_relaxed);
    for (auto& e : w->counters_.exits) {
      exited += e.load(std::memory_order_relaxed);
    }
  }
  return spawned >= exited ? spawned - exited : 0;
}

MonitorRef NodeImpl::make_ref() {
  if (Worker* w = current_worker()) {
    return w->next_ref();
  }
  return outside_refs_.fetch_add(1, std::memory_order_relaxed) + 1;
}

void NodeImpl::bump_restarts() {
  count(this, &WorkerCounters::restarts);
}

// ---------------------------------------------------------------------------
// Spawn

Result<Process*> NodeImpl::prepare(Process* parent, const SpawnOptions& options) {
  if (!accepting_.load(std::memory_order_acquire)) {
    return Error("spawn refused: the node is shutting down");
  }
  if (held_bytes_.load(std::memory_order_relaxed) >= static_cast<int64_t>(max_memory_)) {
    return Error("spawn refused: the node's memory budget is spent (" +
                 std::to_string(memory_held()) + " of " + std::to_string(max_memory_) +
                 " bytes held for processes)");
  }
  uint32_t slot;
  if (Worker* w = current_worker()) {
    if (w->free_slots_.empty() && !table_.refill(w->free_slots_, this)) {
      return Error("spawn refused: the process table is full (" +
                   std::to_string(table_.capacity()) + " processes)");
    }
    slot = w->free_slots_.back();
    w->free_slots_.pop_back();
  } else {
    std::vector<uint32_t> one;
    if (!table_.refill(one, this)) {
      return Error("spawn refused: the process table is full (" +
                   std::to_string(table_.capacity()) + " processes)");
    }
    slot = one.back();
    one.pop_back();
    table_.give_back(one, 0);
  }
  Process* p = table_.at(slot);
  uint32_t gen =
      static_cast<uint32_t>(p->refs_.load(std::memory_order_acquire) >> Process::kGenShift);
  gen = (gen + 1) & Pid::kGenerationMask;
  if (gen == 0) {
    gen = 1;
  }
  // Not live yet: lookups of the new pid fail until commit().
  p->refs_.store(uint64_t{gen} << Process::kGenShift, std::memory_order_relaxed);
  p->pid_ = Pid::make(options_.node_id, gen, slot);
  p->node_ = this;
  p->inbox_.reset();
  p->bounded_count_.store(0, std::memory_order_relaxed);
  p->mailbox_bound_ = options.mailbox_bound;
  p->msg_charged_.store(0, std::memory_order_relaxed);
  p->msg_released_.store(0, std::memory_order_relaxed);
  p->mailbox_limit_ =
      options.max_mailbox_bytes != 0 ? options.max_mailbox_bytes : options_.max_mailbox_bytes;
  if (p->mailbox_limit_ == 0) {
    p->mailbox_limit_ = UINT64_MAX;
  }
  p->signalled_.store(false, std::memory_order_relaxed);
  p->status_.store(static_cast<uint8_t>(ProcessStatus::kRunnable), std::memory_order_relaxed);
  p->exiting_.store(false, std::memory_order_relaxed);
  p->traced_.store(false, std::memory_order_relaxed);
  p->has_name_.store(false, std::memory_order_relaxed);
  p->has_global_.store(false, std::memory_order_relaxed);
  p->queue_len_.store(0, std::memory_order_relaxed);
  p->reductions_.store(0, std::memory_order_relaxed);
  p->wait_desc_.store(kWaitNone, std::memory_order_relaxed);
  Context& ctx = p->ctx_;
  ctx.budget_ = 0;
  ctx.current_ = {};
  ctx.delivered_ = nullptr;
  ctx.wake_ = WakeReason::kStart;
  p->coro_.top = {};
  p->body_ = nullptr;
  p->parent_ = parent != nullptr ? parent->pid_ : Pid();
  p->run_next_ = nullptr;
  p->q_head_ = p->q_tail_ = p->scan_prev_ = nullptr;
  p->scan_from_start_ = true;
  p->scan_primed_ = false;
  p->wait_kind_ = Step::Kind::kYield;
  p->wait_deadline_ns_ = -1;
  p->wait_timer_ = nullptr;
  p->timed_out_ = false;
  p->event_pending_ = false;
  p->trap_exit_.store(options.trap_exit, std::memory_order_relaxed);
  p->exit_pending_ = false;
  if (ProcessExt* e = p->ext_if_any()) {
    std::lock_guard<SpinLock> lock(e->lock);
    e->clear();
  }
  if (!options.label.empty()) {
    ProcessExt& e = p->ext();
    std::lock_guard<SpinLock> lock(e.lock);
    e.label = options.label;
  }
  tls_last_frame = 0;
  return p;
}

Spawned NodeImpl::commit(Process* child, Process* parent, const SpawnOptions& options,
                         std::coroutine_handle<> top, std::unique_ptr<Body> body, bool track_root) {
  if (top) {
    child->coro_.top = top;
    child->ctx_.current_ = top;
    child->body_ = &child->coro_;
    child->frame_bytes_ = tls_last_frame;
    child->body_bytes_.store(0, std::memory_order_relaxed);  // the slot may have had a body
  } else {
    child->owned_body_ = std::move(body);
    child->body_ = child->owned_body_.get();
    child->frame_bytes_ = 0;
    child->body_bytes_.store(child->body_->memory_bytes(), std::memory_order_relaxed);
  }
  Spawned out{child->pid_, 0};
  if (parent != nullptr && options.link) {
    ProcessExt& ce = child->ext();
    ce.links.push_back(parent->pid_);
    ProcessExt& pe = parent->ext();
    std::lock_guard<SpinLock> lock(pe.lock);
    pe.links.push_back(child->pid_);
  }
  if (parent != nullptr && options.monitor) {
    out.monitor = make_ref();
    ProcessExt& ce = child->ext();
    ce.monitors_in.push_back({out.monitor, parent->pid_});
    ProcessExt& pe = parent->ext();
    std::lock_guard<SpinLock> lock(pe.lock);
    pe.monitors_out.push_back({out.monitor, child->pid_});
  }
  const bool for_remote =
      parent == nullptr && is_remote(options.remote_parent) && (options.link || options.monitor);
  if (for_remote) {
    ProcessExt& ce = child->ext();
    if (options.link) {
      ce.links.push_back(options.remote_parent);
    }
    if (options.monitor) {
      ce.monitors_in.push_back({options.remote_monitor, options.remote_parent});
    }
  }
  if (options.before_start) {
    options.before_start(child->pid_);
  }
  uint64_t gen = child->pid_.generation();
  child->refs_.store(gen << Process::kGenShift | Process::kLiveBit | 1, std::memory_order_release);
  if (for_remote) {
    // Indexed once reachable (the index forgets pids it cannot acquire), and
    // before it is scheduled. (A node-down that lands between the two misses
    // this child: its link then fires only when the child exits.)
    note_remote(options.remote_parent.node(), child->pid_);
  }
  if (parent == nullptr && track_root) {
    std::lock_guard<std::mutex> lock(roots_mu_);
    if (roots_.size() >= 1024 && (roots_.size() & (roots_.size() - 1)) == 0) {
      // Forget roots that already exited, now and then, so the list stays small.
      std::erase_if(roots_, [&](Pid r) {
        Process* q = acquire(r);
        if (q == nullptr) {
          return true;
        }
        release(q);
        return false;
      });
    }
    roots_.push_back(child->pid_);
  }
  if (parent != nullptr && parent->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    TraceEvent e;
    e.kind = TraceKind::kSpawn;
    e.pid = parent->pid_;
    e.other = child->pid_;
    trace_event(e);
  }
  if (Worker* w = current_worker()) {
    WorkerCounters::bump(w->counters_.spawns);
    w->push_local(child);
  } else {
    outside_.spawns.fetch_add(1, std::memory_order_relaxed);
    inject(child);
  }
  return out;
}

Result<Process*> spawn_prepare(NodeImpl* node, Process* parent, const SpawnOptions& options) {
  return node->prepare(parent, options);
}
Context& context_of(Process* p) {
  return p->ctx_;
}
Spawned spawn_commit(Process* child, Process* parent, const SpawnOptions& options,
                     std::coroutine_handle<> top, std::unique_ptr<Body> body) {
  return child->node_->commit(child, parent, options, top, std::move(body));
}
NodeImpl* node_impl(Node& node) {
  return node.impl();
}

// ---------------------------------------------------------------------------
// Signals

bool NodeImpl::deliver(Pid to, MessageNode* n) {
  Process* p = acquire(to);
  if (p == nullptr) {
    return false;
  }
  Inbox::Push r = p->inbox_.push(n);
  if (r == Inbox::Push::kWoke) {
    schedule(p);
  }
  release(p);
  return r != Inbox::Push::kClosed;
}

// ---------------------------------------------------------------------------
// Budgets

int64_t NodeImpl::memory_held() const {
  int64_t held = held_bytes_.load(std::memory_order_relaxed);
  for (auto& w : workers_) {
    held += w->budget_drift_.load(std::memory_order_relaxed);
  }
  return held;
}

Status NodeImpl::charge(Process* p, uint64_t cost) {
  if (try_charge(p, cost)) {
    return Status::ok();
  }
  uint64_t in_use = budget_in_use(p);
  if (in_use + cost > p->mailbox_limit_) {
    return Error("mailbox of " + p->pid_.to_string() + " is full (" + std::to_string(in_use) +
                 " bytes of messages and timers held, limit " + std::to_string(p->mailbox_limit_) +
                 "; this one needs " + std::to_string(cost) + ")");
  }
  return Error("the node's memory budget is spent (" + std::to_string(memory_held()) + " of " +
               std::to_string(max_memory_) + " bytes held for processes)");
}

// ---------------------------------------------------------------------------
// Sending

Status NodeImpl::send_message(Pid from, Pid to, Message m) {
  if (to.node() != node_id_) [[unlikely]] {
    if (to.valid()) {
      return send_remote(from, to, std::move(m));
    }
  }
  MessageNode* n = Access::release(m);
  n->from = from;
  n->kind = NodeKind::kMessage;
  n->counted = false;
  n->charged = false;
  Worker* w = current_worker();
  if (w != nullptr) {
    WorkerCounters::bump(w->counters_.sent);
  } else {
    outside_.sent.fetch_add(1, std::memory_order_relaxed);
  }
  Process* p = acquire(to);
  if (p == nullptr) {
    free_node(n);
    return Status::ok();
  }
  if (p->mailbox_bound_ != 0) {
    if (p->bounded_count_.fetch_add(1, std::memory_order_relaxed) >=
        static_cast<int32_t>(p->mailbox_bound_)) {
      p->bounded_count_.fetch_sub(1, std::memory_order_relaxed);
      uint32_t bound = p->mailbox_bound_;
      release(p);
      free_node(n);
      return Error("mailbox of " + to.to_string() + " is full (bound " + std::to_string(bound) +
                   ")");
    }
    n->counted = true;
  }
  uint64_t cost = message_cost(n);
  if (!try_charge(p, cost)) [[unlikely]] {
    Status st = charge(p, cost);  // to say why (or, if room was made meanwhile, to charge it)
    if (!st) {
      if (n->counted) {
        p->bounded_count_.fetch_sub(1, std::memory_order_relaxed);
      }
      release(p);
      free_node(n);
      return st;
    }
  }
  n->charged = true;
  if (p->traced_.load(std::memory_order_relaxed)) [[unlikely]] {
    TraceEvent e;
    e.kind = TraceKind::kReceive;
    e.pid = to;
    e.other = from;
    e.tag = n->tag;
    e.size = n->size;
    trace_event(e);
  }
  Inbox::Push r = p->inbox_.push(n);
  if (r == Inbox::Push::kWoke) {
    schedule(p);
  } else if (r == Inbox::Push::kClosed) {
    p->msg_charged_.fetch_sub(cost, std::memory_order_relaxed);
    free_node(n);
    release(p);
    return Status::ok();
  }
  account(w, static_cast<int64_t>(cost));
  release(p);
  return Status::ok();
}

void NodeImpl::send_exit(Pid from, Pid to, const ExitReason& reason, bool linked) {
  if (is_remote(to)) [[unlikely]] {
    if (RouterUse r(this); r) {
      r->exit_signal(from, to, reason, linked);
    }
    return;
  }
  MessageNode* n = new_node();
  n->kind = NodeKind::kExit;
  n->from = from;
  n->reason = reason;
  n->linked = linked;
  Process* p = acquire(to);
  if (p == nullptr) {
    free_node(n);
    return;
  }
  Inbox::Push r = p->inbox_.push(n);
  if (r == Inbox::Push::kWoke) {
    schedule(p);
  } else if (r == Inbox::Push::kClosed) {
    free_node(n);
  } else {
    // It may be running: have its body stop at the next chance (after the
    // push, so that the scheduler finds the signal when it looks).
    p->signalled_.store(true, std::memory_order_release);
  }
  release(p);
}

void NodeImpl::send_down(Pid from, Pid to, MonitorRef ref, const ExitReason& reason) {
  if (is_remote(to)) [[unlikely]] {
    if (RouterUse r(this); r) {
      r->down(from, to, ref, reason);
    }
    return;
  }
  MessageNode* n = new_node();
  n->kind = NodeKind::kDown;
  n->from = from;
  n->ref = ref;
  n->reason = reason;
  if (!deliver(to, n)) {
    free_node(n);
  }
}

void NodeImpl::exit_process(Worker* w, Process* p, ExitReason reason) {
  p->status_.store(static_cast<uint8_t>(ProcessStatus::kExiting), std::memory_order_relaxed);
  p->exiting_.store(true, std::memory_order_seq_cst);
  if (p->traced_.load(std::memory_order_seq_cst)) [[unlikely]] {
    trace_exit(p, reason);
  }
  p->wait_desc_.store(kWaitNone, std::memory_order_relaxed);
  // The name goes before any exit signal is sent (as on the BEAM), so a
  // supervisor restarting this process on another worker finds it free.
  // Pairs with register_name: it sets has_name_ then checks exiting_.
  if (p->has_name_.load(std::memory_order_seq_cst)) {
    std::unique_lock<std::shared_mutex> lock(reg_mu_);
    ProcessExt& e = p->ext();
    auto it = names_.find(e.name);
    if (it != names_.end() && it->second == p->pid_) {
      names_.erase(it);
    }
    p->has_name_.store(false, std::memory_order_relaxed);
  }
  // Global names too, everywhere (global.cc). Pairs with register_global.
  if (p->has_global_.load(std::memory_order_seq_cst)) [[unlikely]] {
    drop_globals(p->pid_);
  }
  // Its subscriptions (pubsub.cc). Pairs with subscribe.
  if (p->has_topics_.load(std::memory_order_seq_cst)) [[unlikely]] {
    drop_topics(p->pid_);
  }
  // The body next: its destructors may still send.
  if (p->body_ == &p->coro_) {
    if (p->coro_.top) {
      p->coro_.top.destroy();
      p->coro_.top = {};
    }
  } else if (p->owned_body_) {
    p->owned_body_->on_exit(reason);
    p->owned_body_.reset();
  }
  p->body_ = nullptr;
  p->ctx_.current_ = {};
  if (p->ctx_.delivered_ != nullptr) {
    free_node(std::exchange(p->ctx_.delivered_, nullptr));
  }
  if (p->wait_timer_ != nullptr) {
    Timer* t = p->wait_timer_;
    p->wait_timer_ = nullptr;
    uint64_t expect = p->wait_timer_id_ << 2 | Timer::kPending;
    if (t->state_id.compare_exchange_strong(expect, p->wait_timer_id_ << 2 | Timer::kCancelled,
                                            std::memory_order_acq_rel) &&
        t->wheel.load(std::memory_order_relaxed) == &w->wheel_) {
      w->wheel_.remove(t);
      drop_timer(w, t);
    }
  }
  cancel_owned_timers(p);
  // Drop the mailbox and close the inbox; then answer link and monitor
  // requests that raced with the exit. The drop is counted before the inbox
  // closes (a monitor arriving after that gets its DOWN at once), so that
  // whoever hears of the exit sees the node's memory count without it.
  int64_t freed = 0;  // charged messages dropped
  MessageNode* requests = nullptr;
  auto drop = [&](MessageNode* n) {
    for (; n != nullptr;) {
      MessageNode* next = n->next;
      if (n->kind == NodeKind::kLink || n->kind == NodeKind::kMonitor ||
          n->kind == NodeKind::kWatch) {
        n->next = requests;
        requests = n;
      } else {
        if (n->charged) {
          freed += static_cast<int64_t>(message_cost(n));
        }
        free_node(n);
      }
      n = next;
    }
  };
  drop(p->q_head_);
  drop(p->inbox_.take_all());
  drop(p->inbox_.close());  // what raced in since
  if (freed != 0) {
    account(w, -freed);
  }
  for (MessageNode* n = requests; n != nullptr;) {
    MessageNode* next = n->next;
    if (n->kind == NodeKind::kLink) {
      send_exit(p->pid_, n->from, reason, true);
    } else if (n->kind == NodeKind::kWatch) {
      demonitor_remote(p->pid_, n->from, n->ref);  // the watcher is gone
    } else {
      send_down(p->pid_, n->from, n->ref, reason);
    }
    free_node(n);
    n = next;
  }
  p->q_head_ = p->q_tail_ = p->scan_prev_ = nullptr;
  p->queue_len_.store(0, std::memory_order_relaxed);
  if (ProcessExt* e = p->ext_if_any()) {
    std::vector<Pid> links;
    std::vector<MonitorEntry> in, out;
    {
      std::lock_guard<SpinLock> lock(e->lock);
      links.swap(e->links);
      in.swap(e->monitors_in);
      out.swap(e->monitors_out);
    }
    for (Pid l : links) {
      send_exit(p->pid_, l, reason, true);
    }
    for (const MonitorEntry& m : in) {
      send_down(p->pid_, m.pid, m.ref, reason);
    }
    for (const MonitorEntry& m : out) {
      if (is_remote(m.pid)) {
        demonitor_remote(p->pid_, m.pid, m.ref);
        continue;
      }
      MessageNode* n = new_node();
      n->kind = NodeKind::kDemonitor;
      n->from = p->pid_;
      n->ref = m.ref;
      if (!deliver(m.pid, n)) {
        free_node(n);
      }
    }
    // Keep the vectors' capacity for the slot's next process.
    std::lock_guard<SpinLock> lock(e->lock);
    links.clear();
    in.clear();
    out.clear();
    e->links.swap(links);
    e->monitors_in.swap(in);
    e->monitors_out.swap(out);
  }
  int kind;
  switch (reason.kind()) {
    case ExitKind::kNormal:
      kind = 0;
      break;
    case ExitKind::kShutdown:
      kind = 1;
      break;
    case ExitKind::kKilled:
    case ExitKind::kKill:
      kind = 2;
      break;
    default:
      kind = 3;
      break;
  }
  WorkerCounters::bump(w->counters_.exits[kind]);
  if (p->release_live()) {
    recycle(p);
  }
}

// ---------------------------------------------------------------------------
// Registry

Status NodeImpl::register_name(std::string name, Pid pid) {
  if (name.empty()) {
    return Error("register: the name is empty");
  }
  Process* p = acquire(pid);
  if (p == nullptr) {
    return Error("register '" + name + "': " + pid.to_string() + " is not alive");
  }
  std::unique_lock<std::shared_mutex> lock(reg_mu_);
  auto it = names_.find(name);
  if (it != names_.end()) {
    Pid holder = it->second;
    lock.unlock();
    release(p);
    return Error("register '" + name + "': name already registered to " + holder.to_string());
  }
  if (p->has_name_.load(std::memory_order_relaxed)) {
    std::string old = p->ext().name;
    lock.unlock();
    release(p);
    return Error("register '" + name + "': " + pid.to_string() + " is already registered as '" +
                 old + "'");
  }
  p->has_name_.store(true, std::memory_order_seq_cst);
  if (p->exiting_.load(std::memory_order_seq_cst)) {
    p->has_name_.store(false, std::memory_order_relaxed);
    lock.unlock();
    release(p);
    return Error("register '" + name + "': " + pid.to_string() + " is not alive");
  }
  {
    ProcessExt& e = p->ext();
    std::lock_guard<SpinLock> elock(e.lock);
    e.name = name;
  }
  names_.emplace(std::move(name), pid);
  lock.unlock();
  release(p);
  return Status::ok();
}

Status NodeImpl::unregister_name(std::string_view name) {
  std::unique_lock<std::shared_mutex> lock(reg_mu_);
  auto it = names_.find(std::string(name));
  if (it == names_.end()) {
    return Error("unregister '" + std::string(name) + "': name not registered");
  }
  Pid pid = it->second;
  names_.erase(it);
  if (Process* p = acquire(pid)) {
    p->has_name_.store(false, std::memory_order_relaxed);
    ProcessExt& e = p->ext();
    {
      std::lock_guard<SpinLock> elock(e.lock);
      e.name.clear();
    }
    release(p);
  }
  return Status::ok();
}

Pid NodeImpl::whereis(std::string_view name) const {
  std::shared_lock<std::shared_mutex> lock(reg_mu_);
  auto it = names_.find(std::string(name));
  return it == names_.end() ? Pid() : it->second;
}

// ---------------------------------------------------------------------------
// Timers

// A timer's cost (record + message) counts against its owner's message
// budget from send_after until it fires or is cancelled, and against the
// node's until its payload is delivered or freed (by its home worker).
TimerRef NodeImpl::send_after(Process* owner, Duration delay, Pid to, Message m) {
  MessageNode* n = Access::release(m);
  uint64_t cost = sizeof(Timer) + message_cost(n);
  if (owner != nullptr ? !charge(owner, cost) : !node_has_room(cost)) {
    free_node(n);
    return {};
  }
  n->from = owner != nullptr ? owner->pid_ : Pid();
  n->kind = NodeKind::kMessage;
  n->counted = false;
  n->charged = false;
  Timer* t = alloc_timer();
  t->kind = Timer::Kind::kSendAfter;
  t->target = to;
  t->msg = n;
  t->cost = cost;
  int64_t deadline = deadline_after(std::max<int64_t>(delay.count(), 0));
  t->deadline_ns.store(deadline, std::memory_order_relaxed);
  t->tick = tick_of(deadline);
  TimerRef ref{reinterpret_cast<uintptr_t>(t), t->id()};
  Worker* w = current_worker();
  Worker* home = w != nullptr ? w : workers_[ref.id % workers_.size()].get();
  t->home = home->index_;
  account(w, static_cast<int64_t>(cost));
  if (w != nullptr) {
    w->timer_bytes_.store(
        w->timer_bytes_.load(std::memory_order_relaxed) + static_cast<int64_t>(cost),
        std::memory_order_relaxed);
  } else {
    outside_timer_bytes_.fetch_add(static_cast<int64_t>(cost), std::memory_order_relaxed);
  }
  if (owner != nullptr) {
    t->owner = owner->pid_;
    ProcessExt& e = owner->ext();
    if (e.timers.size() >= e.timers_prune_at) {
      std::erase_if(e.timers, [](TimerRef r) {
        auto* x = reinterpret_cast<Timer*>(r.handle);
        return x->state_id.load(std::memory_order_relaxed) != (r.id << 2 | Timer::kPending);
      });
      e.timers_prune_at = std::max<size_t>(16, 2 * e.timers.size());
    }
    e.timers.push_back(ref);
  }
  if (w != nullptr) {
    w->add_timer(t);
  } else {
    home->post_timer(t);
  }
  return ref;
}

std::optional<Duration> NodeImpl::cancel_timer(TimerRef ref) {
  if (!ref.valid()) {
    return std::nullopt;
  }
  auto* t = reinterpret_cast<Timer*>(ref.handle);
  uint64_t expect = ref.id << 2 | Timer::kPending;
  if (!t->state_id.compare_exchange_strong(expect, ref.id << 2 | Timer::kCancelling,
                                           std::memory_order_acq_rel)) {
    return std::nullopt;
  }
  // While kCancelling, the home worker leaves t alone: read what we need.
  int64_t left = t->deadline_ns.load(std::memory_order_relaxed) - now_ns();
  Pid owner = t->owner;
  uint64_t cost = t->cost;
  Worker* home = workers_[t->home].get();
  Worker* w = current_worker();
  bool here = w == home && t->wheel.load(std::memory_order_relaxed) == &w->wheel_;
  t->state_id.store(ref.id << 2 | Timer::kCancelled, std::memory_order_release);
  if (owner.valid()) {
    if (Process* o = acquire(owner)) {
      o->msg_charged_.fetch_sub(cost, std::memory_order_relaxed);
      release(o);
    }
  }
  if (here) {
    w->wheel_.remove(t);
    drop_timer(w, t);
  } else {
    home->post_reclaim(t, ref.id);
  }
  return Duration(std::max<int64_t>(left, 0));
}

void NodeImpl::cancel_owned_timers(Process* p) {
  ProcessExt* e = p->ext_if_any();
  if (e == nullptr || e->timers.empty()) {
    return;
  }
  for (TimerRef r : e->timers) {
    (void)cancel_timer(r);
  }
  e->timers.clear();
  e->timers_prune_at = 16;
}

void NodeImpl::drop_timer(Worker* w, Timer* t) {
  if (t->msg != nullptr) {
    int64_t cost = static_cast<int64_t>(t->cost);
    account(w, -cost);
    w->timer_bytes_.store(w->timer_bytes_.load(std::memory_order_relaxed) - cost,
                          std::memory_order_relaxed);
  }
  t->wheel.store(nullptr, std::memory_order_relaxed);
  recycle_timer(t);
}

// ---------------------------------------------------------------------------
// Info

std::optional<ProcessInfo> NodeImpl::info(Pid pid) const {
  Process* p = acquire(pid);
  if (p == nullptr) {
    return std::nullopt;
  }
  ProcessInfo info;
  info.pid = pid;
  info.status = static_cast<ProcessStatus>(p->status_.load(std::memory_order_relaxed));
  info.mailbox_length = p->queue_len_.load(std::memory_order_relaxed);
  info.reductions = p->reductions_.load(std::memory_order_relaxed);
  info.trap_exit = p->trap_exit_.load(std::memory_order_relaxed);
  info.parent = p->parent_;
  info.mailbox_bytes = budget_in_use(p);
  info.mailbox_limit = p->mailbox_limit_;
  info.memory_bytes = sizeof(Process) + p->frame_bytes_ +
                      p->body_bytes_.load(std::memory_order_relaxed) + info.mailbox_bytes;
  switch (p->wait_desc_.load(std::memory_order_relaxed)) {
    case kWaitAny:
      info.current_wait = "receive any";
      break;
    case kWaitTag:
      info.current_wait =
          "receive tag " + std::to_string(p->wait_tag_.load(std::memory_order_relaxed));
      break;
    case kWaitPredicate:
      info.current_wait = "receive matching";
      break;
    case kWaitSleep:
      info.current_wait = "sleep";
      break;
    case kWaitEvent:
      info.current_wait = "event";
      break;
    default:
      break;
  }
  if (ProcessExt* e = p->ext_if_any()) {
    std::lock_guard<SpinLock> lock(e->lock);
    info.links = e->links;
    for (auto& m : e->monitors_out) {
      info.monitors.push_back(m.pid);
    }
    for (auto& m : e->monitors_in) {
      info.monitored_by.push_back(m.pid);
    }
    info.registered_name = e->name;
    info.label = e->label;
    info.memory_bytes +=
        sizeof(ProcessExt) + e->links.capacity() * sizeof(Pid) +
        (e->monitors_in.capacity() + e->monitors_out.capacity()) * sizeof(MonitorEntry);
  }
  const_cast<NodeImpl*>(this)->release(p);
  return info;
}

}  // namespace rusm::otp::detail
