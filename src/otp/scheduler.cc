// The M:N scheduler: worker threads, run queues, stealing, parking, timers,
// and the slice loop that drives a process body.
//
// HOT PATH (guarded by benches spawn-storm, ping-pong, fairness). Design:
//  - Each worker has a local FIFO ring (RunQueue) plus a one-process LIFO slot.
//    A process woken by a send from a running process goes to the sender's
//    LIFO slot, so a request/reply pair stays on one worker and in cache; the
//    slot is not stealable, and after kMaxLifoStreak consecutive LIFO runs the
//    worker goes back to its queue so the pair cannot starve others.
//  - New and yielding processes go to the back of the local queue. Work from
//    outside the workers goes to a global queue, polled every 61 ticks and
//    when the local queue is empty.
//  - An idle worker steals half of another worker's queue, then parks on a
//    futex with a timeout for its next timer. Whoever makes work stealable
//    wakes one parked worker, unless a worker is already searching; parking and
//    waking are ordered by seq_cst fences so no wakeup is lost.
//  - With an idle driver (the node's event loop, Node::set_idle_driver),
//    workers poll it every 16 ticks and whenever their queues run dry, and
//    one parked worker blocks in the driver instead of its futex; waking that
//    worker goes through the driver. One worker at a time is inside it. I/O completions then run on
//    the worker that will run the processes they wake: no thread hand-off per event.
//  - A slice gets slice_reductions of budget; the body charges it. Signals
//    (exits, links, monitors) are handled between runs of the body.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <thread>

#include "otp/access.h"
#include "otp/node_impl.h"
#include "otp/pool.h"

namespace rusm::otp::detail {

thread_local Worker* tls_worker = nullptr;

namespace {

constexpr int kMaxLifoStreak = 32;

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  timespec ts;
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    tsp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, tsp, nullptr,
          0);
}

void futex_wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

bool filter_matches(const MessageFilter& f, MessageNode* n) {
  switch (f.kind) {
    case MessageFilter::Kind::kAny:
      return true;
    case MessageFilter::Kind::kTag:
      return n->tag == f.tag;
    case MessageFilter::Kind::kPredicate: {
      MessageView view(n);
      return f.predicate(view.get(), f.arg);
    }
    case MessageFilter::Kind::kNothing:
      return false;
  }
  return false;
}

namespace {

void add_owned(std::atomic<uint64_t>& c, uint64_t n) {
  WorkerCounters::bump(c, n);
}

}  // namespace

// ---------------------------------------------------------------------------
// Worker

Worker::Worker(NodeImpl* node, unsigned index)
    : node_(node), index_(index), rng_(index * 2654435761u + 12345u) {}

void Worker::start() {
  thread_ = std::thread([this] { main(); });
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::main() {
  tls_worker = this;
  started_ns_.store(static_cast<uint64_t>(node_->now_ns()), std::memory_order_relaxed);
  for (;;) {
    Process* p = find_work();
    if (p != nullptr) {
      if (searching_) {
        searching_ = false;
        if (node_->num_searching_.fetch_sub(1, std::memory_order_seq_cst) == 1) {
          node_->notify();
        }
      }
      node_->run_slice(this, p);
      continue;
    }
    if (node_->stopping_.load(std::memory_order_acquire)) {
      break;
    }
    park();
  }
  if (searching_) {
    searching_ = false;
    node_->num_searching_.fetch_sub(1, std::memory_order_seq_cst);
  }
  run_reclaims();
  drain_incoming_timers();
  for (Timer* t = wheel_.drain(); t != nullptr;) {
    Timer* next = t->next;
    node_->drop_timer(this, t);
    t = next;
  }
  node_->table_.give_back(free_slots_, 0);
  tls_worker = nullptr;
}

Process* Worker::find_work() {
  ++ticks_;
  if ((ticks_ & 31) == 0) {
    run_timers();
  }
  if ((ticks_ & 15) == 0) {
    poll_driver();  // I/O keeps moving while this worker stays busy
  }
  if (ticks_ % 61 == 0 && node_->has_injected()) {
    // Take a fair share of the global queue so it cannot grow without bound
    // while this worker's own queue stays busy.
    size_t share = node_->inject_size_.load(std::memory_order_relaxed) / node_->workers_.size() + 1;
    Process* first = node_->pop_injected();
    for (size_t i = 1; first != nullptr && i < share && i < RunQueue::kCapacity / 4; ++i) {
      Process* q = node_->pop_injected();
      if (q == nullptr || !queue_.push(q)) {
        if (q != nullptr) {
          node_->inject(q);
        }
        break;
      }
    }
    if (first != nullptr) {
      return first;
    }
  }
  if (lifo_ != nullptr) {
    Process* p = lifo_;
    lifo_ = nullptr;
    if (lifo_streak_ < kMaxLifoStreak || queue_.size() == 0) {
      ++lifo_streak_;
      return p;
    }
    push_local(p);
  }
  lifo_streak_ = 0;
  if (Process* p = queue_.pop()) {
    return p;
  }
  if (Process* p = node_->pop_injected()) {
    return p;
  }
  run_timers();
  poll_driver();
  if (lifo_ != nullptr) {
    return std::exchange(lifo_, nullptr);
  }
  if (Process* p = queue_.pop()) {
    return p;
  }
  return steal_work();
}

Process* Worker::steal_work() {
  auto& ws = node_->workers_;
  size_t n = ws.size();
  if (n <= 1) {
    return nullptr;
  }
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 17;
  rng_ ^= rng_ << 5;
  size_t start = rng_ % n;
  Process* buf[RunQueue::kCapacity / 2 + 1];
  for (size_t i = 0; i < n; ++i) {
    Worker* v = ws[(start + i) % n].get();
    if (v == this) {
      continue;
    }
    uint32_t k = v->queue_.steal(buf, RunQueue::kCapacity / 2);
    if (k > 0) {
      add_owned(counters_.steals, k);
      for (uint32_t j = 1; j < k; ++j) {
        push_local(buf[j]);
      }
      return buf[0];
    }
  }
  return nullptr;
}

void Worker::push_local(Process* p) {
  if (!queue_.push(p)) {
    // Full: move half of the queue to the global queue, then retry.
    Process* buf[RunQueue::kCapacity / 2 + 1];
    uint32_t k = queue_.steal(buf, RunQueue::kCapacity / 2);
    {
      std::lock_guard<std::mutex> lock(node_->inject_mu_);
      for (uint32_t i = 0; i < k; ++i) {
        buf[i]->run_next_ = nullptr;
        if (node_->inject_tail_ != nullptr) {
          node_->inject_tail_->run_next_ = buf[i];
        } else {
          node_->inject_head_ = buf[i];
        }
        node_->inject_tail_ = buf[i];
      }
      node_->inject_size_.fetch_add(k, std::memory_order_relaxed);
    }
    queue_.push(p);
  }
  // A worker always runs its own queue eventually, so waking a parked worker
  // here is only for parallelism: no fence (keeps spawn and yield cheap).
  if (node_->num_parked_.load(std::memory_order_relaxed) != 0) {
    node_->notify();
  }
}

void Worker::balance_on_yield() {
  // The yielding process is alone here: if another worker has processes
  // waiting, take one, so that k runnable processes share n workers evenly
  // (otherwise a worker with one busy process never steals, and the two
  // sharing another worker get half as much). Costs a steal per slice only in
  // that uneven case (bench fairness).
  if (queue_.size() != 0 || lifo_ != nullptr) {
    return;
  }
  auto& ws = node_->workers_;
  for (size_t i = 0; i < ws.size(); ++i) {
    Worker* v = ws[(index_ + 1 + i) % ws.size()].get();
    if (v == this || v->queue_.size() == 0) {
      continue;
    }
    Process* buf[1];
    if (v->queue_.steal(buf, 1) == 1) {
      add_owned(counters_.steals, 1);
      queue_.push(buf[0]);
      return;
    }
  }
}

void Worker::make_runnable(Process* p) {
  if (in_slice_) {
    if (lifo_ != nullptr) {
      push_local(lifo_);
    }
    lifo_ = p;
  } else {
    push_local(p);
  }
}

void Worker::add_timer(Timer* t) {
  t->wheel.store(&wheel_, std::memory_order_relaxed);
  wheel_.insert(t);
}

void Worker::post_timer(Timer* t) {
  Timer* head = incoming_timers_.load(std::memory_order_relaxed);
  do {
    t->next_incoming = head;
  } while (!incoming_timers_.compare_exchange_weak(head, t, std::memory_order_release,
                                                   std::memory_order_relaxed));
  unpark();
}

void Worker::post_reclaim(Timer* t, uint64_t id) {
  auto* r = static_cast<Reclaim*>(pool_alloc(sizeof(Reclaim)));
  r->timer = t;
  r->id = id;
  Reclaim* head = reclaims_.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!reclaims_.compare_exchange_weak(head, r, std::memory_order_release,
                                            std::memory_order_relaxed));
  unpark();
}

void Worker::drain_incoming_timers() {
  if (incoming_timers_.load(std::memory_order_relaxed) == nullptr) {
    return;
  }
  Timer* list = incoming_timers_.exchange(nullptr, std::memory_order_acquire);
  while (list != nullptr) {
    Timer* t = list;
    list = t->next_incoming;
    if ((t->state_id.load(std::memory_order_acquire) & 3) == Timer::kCancelled) {
      node_->drop_timer(this, t);  // cancelled before it got here
    } else {
      add_timer(t);
    }
  }
}

// Reclaims timers cancelled from other threads. The requests are taken
// before the incoming timers are drained: a timer is posted before anyone
// can cancel it, so the timer of every request taken is in the wheel by then
// (or was dropped by the drain).
void Worker::run_reclaims() {
  if (reclaims_.load(std::memory_order_relaxed) == nullptr) {
    return;
  }
  Reclaim* list = reclaims_.exchange(nullptr, std::memory_order_acquire);
  drain_incoming_timers();
  while (list != nullptr) {
    Reclaim* r = list;
    list = r->next;
    Timer* t = r->timer;
    if (t->state_id.load(std::memory_order_acquire) == (r->id << 2 | Timer::kCancelled) &&
        t->wheel.load(std::memory_order_relaxed) == &wheel_) {
      wheel_.remove(t);
      node_->drop_timer(this, t);
    }
    pool_free(r, sizeof(Reclaim));
  }
}

void Worker::run_timers() {
  run_reclaims();
  drain_incoming_timers();
  if (wheel_.size() == 0) {
    return;
  }
  uint64_t now = static_cast<uint64_t>(node_->now_ns()) / 1'000'000;
  if (now < wheel_.now()) {
    return;
  }
  wheel_.advance(now, [this](Timer* t) { fire(t); });
}

void Worker::fire(Timer* t) {
  uint64_t s = t->state_id.load(std::memory_order_acquire);
  if ((s & 3) == Timer::kPending &&
      t->state_id.compare_exchange_strong(s, (s >> 2) << 2 | Timer::kFired,
                                          std::memory_order_acq_rel)) {
    s = (s >> 2) << 2 | Timer::kFired;
  }  // else s holds the state that won: a canceller's
  if ((s & 3) == Timer::kCancelling) {
    // The canceller is reading it; it will be kCancelled in a moment.
    t->tick = wheel_.now() + 1;
    wheel_.insert(t);
    return;
  }
  t->wheel.store(nullptr, std::memory_order_relaxed);
  if ((s & 3) != Timer::kFired) {
    node_->drop_timer(this, t);  // cancelled from another thread
    return;
  }
  if (t->kind == Timer::Kind::kReceiveTimeout) {
    MessageNode* n = new_node();
    n->kind = NodeKind::kTimeout;
    n->ref = t->seq;
    if (!node_->deliver(t->target, n)) {
      free_node(n);
    }
    recycle_timer(t);
    return;
  }
  // The owner's budget and the node's stop paying for the timer; the message
  // is charged to the receiver's budget, but never refused: it was paid for.
  MessageNode* n = std::exchange(t->msg, nullptr);
  Pid target = t->target;
  if (t->owner.valid()) {
    if (Process* o = node_->acquire(t->owner)) {
      o->msg_charged_.fetch_sub(t->cost, std::memory_order_relaxed);
      node_->release(o);
    }
  }
  int64_t cost = static_cast<int64_t>(t->cost);
  node_->account(this, -cost);
  timer_bytes_.store(timer_bytes_.load(std::memory_order_relaxed) - cost,
                     std::memory_order_relaxed);
  recycle_timer(t);
  Process* p = node_->acquire(target);
  if (p == nullptr) {
    free_node(n);
    return;
  }
  uint64_t mcost = message_cost(n);
  p->msg_charged_.fetch_add(mcost, std::memory_order_relaxed);
  n->charged = true;
  Inbox::Push r = p->inbox_.push(n);
  if (r == Inbox::Push::kClosed) {
    p->msg_charged_.fetch_sub(mcost, std::memory_order_relaxed);
    free_node(n);
  } else {
    node_->account(this, static_cast<int64_t>(mcost));
    if (r == Inbox::Push::kWoke) {
      node_->schedule(p);
    }
  }
  node_->release(p);
}

void Worker::unpark() {
  bool futex = false;
  {
    std::lock_guard<std::mutex> lock(node_->park_mu_);
    if (parked_listed_) {
      auto& v = node_->parked_;
      v.erase(std::find(v.begin(), v.end(), this));
      parked_listed_ = false;
      node_->num_parked_.fetch_sub(1, std::memory_order_seq_cst);
      node_->num_searching_.fetch_add(1, std::memory_order_seq_cst);
      park_word_.store(1, std::memory_order_release);
      futex = node_->wake_parked_locked(this);
    }
  }
  if (futex) {
    futex_wake(&park_word_);
  }
}

bool Worker::poll_driver() {
  if (node_->driver_.load(std::memory_order_relaxed) == nullptr ||
      node_->driver_busy_.load(std::memory_order_relaxed) ||
      node_->driver_busy_.exchange(true, std::memory_order_acquire)) {
    return false;  // none, or another worker is in it (it runs what is ready)
  }
  // Announce first, then look (set_idle_driver stores, then looks at us).
  in_driver_.store(true, std::memory_order_seq_cst);
  IdleDriver* d = node_->driver_.load(std::memory_order_seq_cst);
  if (d != nullptr) {
    d->poll();
  }
  in_driver_.store(false, std::memory_order_release);
  node_->driver_busy_.store(false, std::memory_order_release);
  return d != nullptr;
}

void Worker::park() {
  run_timers();
  if (lifo_ != nullptr || queue_.size() != 0) {
    return;
  }
  // One parked worker at a time waits in the idle driver (it blocks in the
  // event loop instead of its futex); the others sleep as usual. Only one
  // worker is ever inside the driver (waiting or polling): a wake-up is a
  // handler posted to it, and it must reach the worker that waits, not run on
  // another worker's poll while the waiter stays blocked.
  bool drive = node_->driver_.load(std::memory_order_relaxed) != nullptr &&
               !node_->driver_busy_.exchange(true, std::memory_order_acq_rel);
  {
    std::lock_guard<std::mutex> lock(node_->park_mu_);
    park_word_.store(0, std::memory_order_relaxed);
    node_->parked_.push_back(this);
    parked_listed_ = true;
    driving_ = drive;
    node_->num_parked_.fetch_add(1, std::memory_order_seq_cst);
  }
  if (searching_) {
    searching_ = false;
    node_->num_searching_.fetch_sub(1, std::memory_order_seq_cst);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool work = node_->has_injected() || node_->stopping_.load(std::memory_order_acquire) ||
              incoming_timers_.load(std::memory_order_relaxed) != nullptr ||
              reclaims_.load(std::memory_order_relaxed) != nullptr;
  for (auto& w : node_->workers_) {
    if (w.get() != this && w->queue_.size() > 0) {
      work = true;
    }
  }
  if (!work) {
    int64_t timeout = -1;
    uint64_t next = wheel_.next_deadline();
    if (next != UINT64_MAX) {
      int64_t at = static_cast<int64_t>(next) * 1'000'000;
      timeout = std::max<int64_t>(at - node_->now_ns(), 0);
    }
    int64_t t0 = node_->now_ns();
    add_owned(counters_.parks, 1);
    counters_.parked_since.store(std::max<int64_t>(t0, 1), std::memory_order_relaxed);
    if (drive) {
      in_driver_.store(true, std::memory_order_seq_cst);
      IdleDriver* d = node_->driver_.load(std::memory_order_seq_cst);
      // A wake that came before we got here left park_word_ set (and a
      // wake-up queued in the driver, which the next poll clears).
      if (d != nullptr && park_word_.load(std::memory_order_acquire) == 0) {
        if (timeout == 0) {
          d->poll();
        } else {
          d->wait(timeout);
        }
      }
      in_driver_.store(false, std::memory_order_release);
    } else if (timeout != 0) {
      futex_wait(&park_word_, 0, timeout);
    }
    add_owned(counters_.parked_ns, static_cast<uint64_t>(node_->now_ns() - t0));
    counters_.parked_since.store(0, std::memory_order_relaxed);
  }
  {
    std::lock_guard<std::mutex> lock(node_->park_mu_);
    driving_ = false;
    if (parked_listed_) {
      auto& v = node_->parked_;
      v.erase(std::find(v.begin(), v.end(), this));
      parked_listed_ = false;
      node_->num_parked_.fetch_sub(1, std::memory_order_seq_cst);
    } else {
      searching_ = true;  // an unpark() took us off the list and counted us as searching
    }
  }
  if (drive) {
    node_->driver_busy_.store(false, std::memory_order_release);
  }
}

// ---------------------------------------------------------------------------
// NodeImpl: queues and waking

namespace {

// DeferWakeups on this thread: its depth, and the nodes whose notify() it
// held back (usually one: an I/O thread serves one node).
thread_local int defer_depth = 0;
thread_local std::vector<NodeImpl*>* deferred = nullptr;

}  // namespace

void NodeImpl::notify() {
  if (defer_depth != 0 && current_worker() == nullptr) {
    if (deferred == nullptr) {
      static thread_local std::vector<NodeImpl*> held;
      deferred = &held;
    }
    if (std::find(deferred->begin(), deferred->end(), this) == deferred->end()) {
      deferred->push_back(this);
    }
    return;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (num_parked_.load(std::memory_order_relaxed) == 0 ||
      num_searching_.load(std::memory_order_relaxed) != 0) {
    return;
  }
  Worker* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(park_mu_);
    if (parked_.empty()) {
      return;
    }
    w = parked_.back();
    parked_.pop_back();
    w->parked_listed_ = false;
    num_parked_.fetch_sub(1, std::memory_order_seq_cst);
    num_searching_.fetch_add(1, std::memory_order_seq_cst);
    w->park_word_.store(1, std::memory_order_release);
    if (!wake_parked_locked(w)) {
      return;
    }
  }
  futex_wake(&w->park_word_);
}

bool NodeImpl::wake_parked_locked(Worker* w) {
  if (!w->driving_) {
    return true;
  }
  // Under park_mu_, so set_idle_driver cannot retire the driver meanwhile.
  if (IdleDriver* d = driver_.load(std::memory_order_acquire)) {
    d->wake();
  }
  return false;
}

void NodeImpl::set_driver(IdleDriver* d) {
  IdleDriver* old = driver_.exchange(d, std::memory_order_seq_cst);
  if (old == d) {
    return;
  }
  if (d != nullptr) {
    // Workers asleep on their futex would not hear the loop: wake them, and
    // the first to park again waits in the driver.
    for (auto& w : workers_) {
      w->unpark();
    }
  }
  if (old == nullptr) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(park_mu_);  // wakers holding `old` are done
  }
  for (auto& w : workers_) {
    while (w->in_driver_.load(std::memory_order_seq_cst)) {
      old->wake();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void NodeImpl::inject(Process* p) {
  {
    std::lock_guard<std::mutex> lock(inject_mu_);
    p->run_next_ = nullptr;
    if (inject_tail_ != nullptr) {
      inject_tail_->run_next_ = p;
    } else {
      inject_head_ = p;
    }
    inject_tail_ = p;
    inject_size_.fetch_add(1, std::memory_order_relaxed);
  }
  notify();
}

Process* NodeImpl::pop_injected() {
  if (inject_size_.load(std::memory_order_relaxed) == 0) {
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(inject_mu_);
  Process* p = inject_head_;
  if (p != nullptr) {
    inject_head_ = p->run_next_;
    if (inject_head_ == nullptr) {
      inject_tail_ = nullptr;
    }
    inject_size_.fetch_sub(1, std::memory_order_relaxed);
  }
  return p;
}

void NodeImpl::schedule(Process* p) {
  p->status_.store(static_cast<uint8_t>(ProcessStatus::kRunnable), std::memory_order_relaxed);
  if (Worker* w = current_worker()) {
    w->make_runnable(p);
  } else {
    inject(p);
  }
}

// Takes n (found after prev, or at the head) out of the mailbox and hands it
// to the body.
void NodeImpl::take_message(Process* p, MessageNode* prev, MessageNode* n, Worker* w) {
  if (prev != nullptr) {
    prev->next = n->next;
  } else {
    p->q_head_ = n->next;
  }
  if (p->q_tail_ == n) {
    p->q_tail_ = prev;
  }
  n->next = nullptr;
  p->queue_len_.store(p->queue_len_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  if (n->counted) {
    p->bounded_count_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (n->charged) {
    release_charge(p, n, w);
  }
  p->ctx_.delivered_ = n;
  p->ctx_.wake_ = WakeReason::kMessage;
  p->ctx_.budget_ -= 1;
}

// ---------------------------------------------------------------------------
// The slice loop

void NodeImpl::absorb(Process* p) {
  if (!p->inbox_.has_pending()) {
    return;
  }
  MessageNode* n = p->inbox_.take_all();
  while (n != nullptr) {
    MessageNode* next = n->next;
    n->next = nullptr;
    handle_signal(p, n);
    n = next;
  }
}

namespace {

void append(Process* p, MessageNode* n) {
  n->next = nullptr;
  if (p->q_tail_ != nullptr) {
    p->q_tail_->next = n;
  } else {
    p->q_head_ = n;
  }
  p->q_tail_ = n;
  p->queue_len_.store(p->queue_len_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void die(Process* p, ExitReason reason) {
  if (!p->exit_pending_) {
    p->exit_pending_ = true;
    p->pending_reason_ = std::move(reason);
  }
}

template <typename V, typename Pred>
bool erase_first(V& v, Pred pred) {
  auto it = std::find_if(v.begin(), v.end(), pred);
  if (it == v.end()) {
    return false;
  }
  *it = std::move(v.back());
  v.pop_back();
  return true;
}

// What an exit signal n (already checked against p's links if linked) does
// to p: death, an EXIT message, or nothing. Takes n.
void exit_effect(Process* p, MessageNode* n) {
  if (!n->linked && n->reason.kind() == ExitKind::kKill) {
    die(p, ExitReason::killed());
    free_node(n);
  } else if (p->trap_exit_.load(std::memory_order_relaxed)) {
    n->kind = NodeKind::kMessage;
    n->tag = kExitTag;
    n->counted = false;
    append(p, n);
  } else if (n->reason.is_normal()) {
    if (!n->linked && n->from == p->pid_) {
      die(p, ExitReason::normal());
    }
    free_node(n);
  } else {
    die(p, n->reason);
    free_node(n);
  }
}

// Node `node` went down: p's links to its processes fire with noconnection,
// its monitors of them give DOWN noconnection, and their monitors of p are
// forgotten. Each entry is removed here, so whatever else would fire it (a
// late remote exit or DOWN) finds nothing: exactly once.
void node_went_down(Process* p, uint16_t node) {
  ProcessExt* e = p->ext_if_any();
  if (e == nullptr) {
    return;
  }
  std::vector<Pid> links;
  std::vector<MonitorEntry> downs;
  {
    std::lock_guard<SpinLock> lock(e->lock);
    std::erase_if(e->links, [&](Pid x) {
      if (x.node() != node) {
        return false;
      }
      links.push_back(x);
      return true;
    });
    std::erase_if(e->monitors_out, [&](const MonitorEntry& m) {
      if (m.pid.node() != node) {
        return false;
      }
      downs.push_back(m);
      return true;
    });
    std::erase_if(e->monitors_in, [&](const MonitorEntry& m) { return m.pid.node() == node; });
  }
  for (const MonitorEntry& m : downs) {
    MessageNode* d = new_node();
    d->kind = NodeKind::kMessage;
    d->tag = kDownTag;
    d->from = m.pid;
    d->ref = m.ref;
    d->reason = ExitReason::noconnection();
    append(p, d);
  }
  for (Pid l : links) {
    MessageNode* x = new_node();
    x->kind = NodeKind::kExit;
    x->from = l;
    x->linked = true;
    x->reason = ExitReason::noconnection();
    exit_effect(p, x);
  }
}

}  // namespace

void NodeImpl::handle_signal(Process* p, MessageNode* n) {
  switch (n->kind) {
    case NodeKind::kMessage:
      append(p, n);
      return;
    case NodeKind::kExit: {
      if (n->linked) {
        ProcessExt* e = p->ext_if_any();
        bool was_linked = false;
        if (e != nullptr) {
          std::lock_guard<SpinLock> lock(e->lock);
          was_linked = erase_first(e->links, [&](Pid x) { return x == n->from; });
        }
        if (!was_linked) {
          free_node(n);  // unlinked meanwhile: the link's exit signal no longer applies
          return;
        }
      }
      exit_effect(p, n);
      return;
    }
    case NodeKind::kLink: {
      ProcessExt& e = p->ext();
      if (std::find(e.links.begin(), e.links.end(), n->from) == e.links.end()) {
        std::lock_guard<SpinLock> lock(e.lock);
        e.links.push_back(n->from);
      }
      free_node(n);
      return;
    }
    case NodeKind::kUnlink: {
      if (ProcessExt* e = p->ext_if_any()) {
        std::lock_guard<SpinLock> lock(e->lock);
        erase_first(e->links, [&](Pid x) { return x == n->from; });
      }
      free_node(n);
      return;
    }
    case NodeKind::kMonitor: {
      ProcessExt& e = p->ext();
      {
        std::lock_guard<SpinLock> lock(e.lock);
        e.monitors_in.push_back({n->ref, n->from});
      }
      free_node(n);
      return;
    }
    case NodeKind::kWatch: {
      ProcessExt& e = p->ext();
      {
        std::lock_guard<SpinLock> lock(e.lock);
        e.monitors_out.push_back({n->ref, n->from});
      }
      free_node(n);
      return;
    }
    case NodeKind::kDemonitor: {
      if (ProcessExt* e = p->ext_if_any()) {
        std::lock_guard<SpinLock> lock(e->lock);
        // Refs are unique per node, so a watcher of another node may use
        // the same value: match the watcher too.
        erase_first(e->monitors_in,
                    [&](const MonitorEntry& m) { return m.ref == n->ref && m.pid == n->from; });
      }
      free_node(n);
      return;
    }
    case NodeKind::kDown: {
      bool active = false;
      if (ProcessExt* e = p->ext_if_any()) {
        std::lock_guard<SpinLock> lock(e->lock);
        active = erase_first(e->monitors_out, [&](const MonitorEntry& m) {
          return m.ref == n->ref && m.pid == n->from;
        });
      }
      if (!active) {
        free_node(n);  // demonitored meanwhile
        return;
      }
      n->kind = NodeKind::kMessage;
      n->tag = kDownTag;
      n->counted = false;
      append(p, n);
      return;
    }
    case NodeKind::kTimeout:
      if (p->wait_kind_ != Step::Kind::kYield && n->ref == p->wait_seq_) {
        p->timed_out_ = true;
      }
      free_node(n);
      return;
    case NodeKind::kWake:
      p->event_pending_ = true;
      free_node(n);
      return;
    case NodeKind::kNodeDown: {
      const auto node = static_cast<uint16_t>(n->ref);
      free_node(n);
      node_went_down(p, node);
      return;
    }
  }
}

namespace {

void cancel_wait_timer(NodeImpl* node, Process* p) {
  Timer* t = p->wait_timer_;
  if (t == nullptr) {
    return;
  }
  p->wait_timer_ = nullptr;
  uint64_t expect = p->wait_timer_id_ << 2 | Timer::kPending;
  if (t->state_id.compare_exchange_strong(expect, p->wait_timer_id_ << 2 | Timer::kCancelled,
                                          std::memory_order_acq_rel)) {
    Worker* w = node->current_worker();
    if (w != nullptr && t->wheel.load(std::memory_order_relaxed) == &w->wheel_) {
      w->wheel_.remove(t);
      node->drop_timer(w, t);
    }
  }
}

void end_wait(NodeImpl* node, Process* p) {
  p->wait_kind_ = Step::Kind::kYield;
  p->wait_desc_.store(kWaitNone, std::memory_order_relaxed);
  p->timed_out_ = false;
  cancel_wait_timer(node, p);
}

}  // namespace

bool NodeImpl::wait_satisfied(Process* p) {
  if (p->wait_kind_ == Step::Kind::kWaitMessage) {
    const MessageFilter& f = p->wait_filter_;
    if (f.kind != MessageFilter::Kind::kNothing) {
      MessageNode* prev = p->scan_from_start_ ? nullptr : p->scan_prev_;
      MessageNode* n = prev != nullptr ? prev->next : p->q_head_;
      while (n != nullptr) {
        if (filter_matches(f, n)) {
          Worker* w = current_worker();
          take_message(p, prev, n, w);
          if (w != nullptr) {
            add_owned(w->counters_.received, 1);
          }
          end_wait(this, p);
          return true;
        }
        prev = n;
        n = n->next;
      }
      p->scan_prev_ = prev;
      p->scan_from_start_ = prev == nullptr;
    }
  } else if (p->event_pending_) {
    p->event_pending_ = false;
    p->ctx_.wake_ = WakeReason::kEvent;
    end_wait(this, p);
    return true;
  }
  if (p->timed_out_ || p->wait_deadline_ns_ == 0 ||
      (p->wait_deadline_ns_ > 0 && p->wait_timer_ == nullptr && now_ns() >= p->wait_deadline_ns_)) {
    p->ctx_.wake_ = WakeReason::kTimeout;
    end_wait(this, p);
    return true;
  }
  return false;
}

void NodeImpl::run_slice(Worker* w, Process* p) {
  WorkerCounters::bump(w->counters_.runs);
  if (p->signalled_.load(std::memory_order_relaxed)) {
    // Whatever raised it is in the inbox, absorbed below.
    p->signalled_.store(false, std::memory_order_relaxed);
  }
  Context& ctx = p->ctx_;
  ctx.budget_ = options_.slice_reductions;
  const int64_t start_budget = ctx.budget_;
  w->in_slice_ = true;
  p->status_.store(static_cast<uint8_t>(ProcessStatus::kRunning), std::memory_order_relaxed);
  auto account = [&] {
    uint64_t used = static_cast<uint64_t>(std::max<int64_t>(start_budget - ctx.budget_, 0));
    p->reductions_.store(p->reductions_.load(std::memory_order_relaxed) + used,
                         std::memory_order_relaxed);
    add_owned(w->counters_.reductions, used);
  };
  for (;;) {
    absorb(p);
    if (p->exit_pending_) {
      account();
      exit_process(w, p, std::move(p->pending_reason_));
      break;
    }
    if (p->wait_kind_ != Step::Kind::kYield && !wait_satisfied(p)) {
      if (p->wait_deadline_ns_ > 0 && p->wait_timer_ == nullptr) {
        Timer* t = alloc_timer();
        t->kind = Timer::Kind::kReceiveTimeout;
        t->target = p->pid_;
        t->seq = p->wait_seq_;
        t->deadline_ns.store(p->wait_deadline_ns_, std::memory_order_relaxed);
        t->tick = tick_of(p->wait_deadline_ns_);
        p->wait_timer_ = t;
        p->wait_timer_id_ = t->id();
        w->add_timer(t);
      }
      account();
      p->status_.store(static_cast<uint8_t>(ProcessStatus::kWaiting), std::memory_order_relaxed);
      if (p->inbox_.try_block()) {
        break;  // p may already run elsewhere: hands off
      }
      p->status_.store(static_cast<uint8_t>(ProcessStatus::kRunning), std::memory_order_relaxed);
      continue;
    }
    if (ctx.budget_ <= 0) {
      account();
      p->status_.store(static_cast<uint8_t>(ProcessStatus::kRunnable), std::memory_order_relaxed);
      w->in_slice_ = false;
      w->balance_on_yield();
      w->push_local(p);
      break;
    }
    Step s;
    try {
      s = p->body_->run(ctx);
    } catch (const std::exception& e) {
      s = Step::exit(ExitReason::error(e.what()));
    } catch (...) {
      s = Step::exit(ExitReason::error("unknown exception"));
    }
    switch (s.kind) {
      case Step::Kind::kYield:
        if (p->signalled_.load(std::memory_order_acquire)) {
          // The body stopped early for an exit signal (Context::interrupt_flag):
          // handle it now rather than after a turn in the run queue.
          p->signalled_.store(false, std::memory_order_relaxed);
          ctx.wake_ = WakeReason::kResume;
          continue;
        }
        account();
        ctx.wake_ = WakeReason::kResume;
        p->status_.store(static_cast<uint8_t>(ProcessStatus::kRunnable), std::memory_order_relaxed);
        w->in_slice_ = false;
        w->balance_on_yield();
        w->push_local(p);
        return;
      case Step::Kind::kWaitMessage:
      case Step::Kind::kWaitEvent: {
        p->wait_kind_ = s.kind;
        p->wait_filter_ = s.filter;
        p->timed_out_ = false;
        ++p->wait_seq_;
        if (s.timeout == kInfinity) {
          p->wait_deadline_ns_ = -1;
        } else if (s.timeout.count() <= 0) {
          p->wait_deadline_ns_ = 0;
        } else {
          int64_t d = deadline_after(s.timeout.count());
          // Past the clock's range is never; 0 means "poll", so at least 1.
          p->wait_deadline_ns_ =
              d == std::numeric_limits<int64_t>::max() ? -1 : std::max<int64_t>(d, 1);
        }
        if (s.kind == Step::Kind::kWaitEvent) {
          p->wait_desc_.store(kWaitEvent, std::memory_order_relaxed);
        } else {
          switch (s.filter.kind) {
            case MessageFilter::Kind::kAny:
              p->wait_desc_.store(kWaitAny, std::memory_order_relaxed);
              break;
            case MessageFilter::Kind::kTag:
              p->wait_tag_.store(s.filter.tag, std::memory_order_relaxed);
              p->wait_desc_.store(kWaitTag, std::memory_order_relaxed);
              break;
            case MessageFilter::Kind::kPredicate:
              p->wait_desc_.store(kWaitPredicate, std::memory_order_relaxed);
              break;
            case MessageFilter::Kind::kNothing:
              p->wait_desc_.store(kWaitSleep, std::memory_order_relaxed);
              break;
          }
        }
        if (!p->scan_primed_) {
          p->scan_from_start_ = true;
        }
        p->scan_primed_ = false;
        continue;
      }
      case Step::Kind::kExit:
        account();
        exit_process(w, p, std::move(s.reason));
        w->in_slice_ = false;
        return;
    }
  }
  w->in_slice_ = false;
}

// ---------------------------------------------------------------------------
// The native coroutine body

Step CoroutineBody::run(Context& ctx) {
  ctx.current_.resume();
  if (top.done()) {
    auto h = Task<>::Handle::from_address(top.address());
    if (h.promise().exception_) {
      try {
        std::rethrow_exception(h.promise().exception_);
      } catch (const std::exception& e) {
        return Step::exit(ExitReason::error(e.what()));
      } catch (...) {
        return Step::exit(ExitReason::error("unknown exception"));
      }
    }
    return Step::exit(ExitReason::normal());
  }
  return std::move(ctx.pending_);
}

}  // namespace rusm::otp::detail

namespace rusm::otp {

// The receive fast path: HOT (bench ping-pong).
bool Context::try_receive_now(const MessageFilter& f) {
  detail::Process* p = proc_;
  using namespace detail;
  if (budget_ <= 0) {
    return false;
  }
  if (p->inbox_.has_pending()) {
    p->node_->absorb(p);
    if (p->exit_pending_) {
      return false;
    }
  }
  MessageNode* prev = nullptr;
  for (MessageNode* n = p->q_head_; n != nullptr; prev = n, n = n->next) {
    if (detail::filter_matches(f, n)) {
      Worker* w = p->node_->current_worker();
      NodeImpl::take_message(p, prev, n, w);
      if (w != nullptr) {
        WorkerCounters::bump(w->counters_.received);
      }
      return true;
    }
  }
  p->scan_prev_ = prev;
  p->scan_from_start_ = prev == nullptr;
  p->scan_primed_ = true;
  return false;
}

DeferWakeups::DeferWakeups() {
  ++detail::defer_depth;
}

DeferWakeups::~DeferWakeups() {
  if (--detail::defer_depth != 0 || detail::deferred == nullptr) {
    return;
  }
  // Depth 0 now: these notify() calls wake for real and add nothing.
  for (detail::NodeImpl* n : *detail::deferred) {
    n->notify();
  }
  detail::deferred->clear();
}

}  // namespace rusm::otp
