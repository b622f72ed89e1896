// Inside a Node: the process table, the workers and their run queues, parking,
// the registry and the shared counters. See scheduler.cc for how a worker
// runs, process.cc for signals and exits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "otp/process.h"
#include "otp/run_queue.h"
#include "otp/timer_wheel.h"
#include "rusm/otp/node.h"

namespace rusm::otp::detail {

class NodeImpl;

// Fixed-capacity table of type-stable process records, allocated in chunks on
// demand. Slots are handed out from per-worker caches (Worker::free_slots_)
// backed by a locked global stack.
class ProcessTable {
 public:
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;

  // Fresh slots start at generation base_generation (the first process in a
  // slot gets base_generation + 1): see NodeOptions::creation.
  ProcessTable(uint32_t capacity, uint32_t base_generation);
  ~ProcessTable();

  uint32_t capacity() const { return capacity_; }
  // The record for slot, or null if its chunk was never allocated.
  Process* at(uint32_t slot) const {
    if (slot >= capacity_) {
      return nullptr;
    }
    Process* chunk = chunks_[slot >> kChunkBits].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : &chunk[slot & (kChunkSize - 1)];
  }
  // Takes free slots into cache (at least one) ; false if the table is full.
  bool refill(std::vector<uint32_t>& cache, NodeImpl* node);
  void give_back(std::vector<uint32_t>& cache, size_t keep);
  void free_one(uint32_t slot);
  uint32_t chunks_allocated() const { return allocated_chunks_.load(std::memory_order_acquire); }

 private:
  uint32_t capacity_;
  uint32_t base_generation_;
  std::unique_ptr<std::atomic<Process*>[]> chunks_;
  std::mutex mu_;
  std::vector<uint32_t> free_;
  std::atomic<uint32_t> allocated_chunks_{0};
};

struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> spawns{0};
  std::atomic<uint64_t> exits[4] = {};  // normal, shutdown, killed, error
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> reductions{0};
  std::atomic<uint64_t> runs{0};
  std::atomic<uint64_t> steals{0};
  std::atomic<uint64_t> parks{0};
  std::atomic<uint64_t> parked_ns{0};
  // When the current park began (now_ns), 0 if not parked: lets stats() count
  // a park still in progress as idle rather than busy.
  std::atomic<int64_t> parked_since{0};
  std::atomic<uint64_t> restarts{0};

  // Owner-only increment: a relaxed load and store, no locked instruction.
  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class Worker {
 public:
  Worker(NodeImpl* node, unsigned index);

  void start();
  void join();
  void main();

  // Owner thread only.
  void push_local(Process* p);     // back of the local queue (may notify a parked worker)
  void make_runnable(Process* p);  // a process this thread just woke
  void balance_on_yield();         // before requeueing a yielding process
  void add_timer(Timer* t);
  uint64_t next_ref() { return (uint64_t{index_ + 1} << 48) | ++ref_counter_; }

  // Any thread.
  void post_timer(Timer* t);  // hands a timer to this worker's wheel
  // Asks this worker to reclaim timer t (cancelled, id) from its wheel now.
  void post_reclaim(Timer* t, uint64_t id);
  void unpark();

  NodeImpl* const node_;
  const unsigned index_;
  RunQueue queue_;
  Process* lifo_ = nullptr;
  int lifo_streak_ = 0;
  bool in_slice_ = false;
  TimerWheel wheel_;
  std::atomic<Timer*> incoming_timers_{nullptr};
  std::atomic<Reclaim*> reclaims_{nullptr};
  // This worker's share of the node's memory count not yet folded into
  // NodeImpl::held_bytes_, and of the bytes held by pending timers (owner
  // bumps; stats() reads them).
  std::atomic<int64_t> budget_drift_{0};
  std::atomic<int64_t> timer_bytes_{0};
  alignas(64) std::atomic<uint32_t> park_word_{0};
  bool parked_listed_ = false;  // guarded by NodeImpl::park_mu_
  bool driving_ = false;        // parked in the idle driver's wait(); guarded by park_mu_
  // Set while this worker may be inside the idle driver (set_idle_driver
  // waits for it to clear).
  std::atomic<bool> in_driver_{false};
  // How deeply this worker is inside calls to the router (set_router waits
  // for it to be 0). Owner writes; set_router reads.
  std::atomic<uint32_t> router_depth_{0};
  std::vector<uint32_t> free_slots_;
  WorkerCounters counters_;
  std::atomic<uint64_t> started_ns_{0};

 private:
  Process* find_work();
  Process* steal_work();
  void run_timers();
  void fire(Timer* t);
  void park();
  // Runs the idle driver's ready handlers; false if there is no driver.
  bool poll_driver();
  void drain_incoming_timers();
  void run_reclaims();

  std::thread thread_;
  uint64_t ref_counter_ = 0;
  uint32_t rng_ = 0;
  uint32_t ticks_ = 0;
  bool searching_ = false;
};

extern thread_local Worker* tls_worker;

bool filter_matches(const MessageFilter& f, MessageNode* n);

class NodeImpl {
 public:
  NodeImpl(Node* owner, NodeOptions options);
  ~NodeImpl();

  void start_workers();
  void stop_workers();

  // ---- process lookup. acquire() returns a referenced record or null.
  Process* acquire(Pid pid) const;
  void release(Process* p);
  void recycle(Process* p);

  // ---- scheduling
  void schedule(Process* p);  // p was woken (its inbox push returned kWoke)
  void inject(Process* p);    // global queue, from any thread
  Process* pop_injected();
  bool has_injected() const { return inject_size_.load(std::memory_order_relaxed) != 0; }
  void notify();  // a worker may be needed
  Worker* current_worker() const {
    Worker* w = tls_worker;
    return w != nullptr && w->node_ == this ? w : nullptr;
  }

  // ---- signals (ownership of n passes to the callee). False if `to` is gone
  // (n is then freed, unless keep_on_fail).
  bool deliver(Pid to, MessageNode* n);
  Status send_message(Pid from, Pid to, Message m);
  void send_exit(Pid from, Pid to, const ExitReason& reason, bool linked);
  void send_down(Pid from, Pid to, MonitorRef ref, const ExitReason& reason);

  // ---- spawn
  Result<Process*> prepare(Process* parent, const SpawnOptions& options);
  Spawned commit(Process* child, Process* parent, const SpawnOptions& options,
                 std::coroutine_handle<> top, std::unique_ptr<Body> body, bool track_root = true);

  // ---- running (scheduler.cc)
  void run_slice(Worker* w, Process* p);
  void absorb(Process* p);
  bool wait_satisfied(Process* p);
  void exit_process(Worker* w, Process* p, ExitReason reason);
  void handle_signal(Process* p, MessageNode* n);
  // w: the current worker (null outside the workers).
  static void take_message(Process* p, MessageNode* prev, MessageNode* n, Worker* w);
  // Owner: n (charged) leaves p's mailbox: its cost is released.
  // HOT (bench ping-pong): inline, no locked instruction.
  static void release_charge(Process* p, MessageNode* n, Worker* w) {
    uint64_t cost = message_cost(n);
    p->msg_released_.store(p->msg_released_.load(std::memory_order_relaxed) + cost,
                           std::memory_order_relaxed);
    p->node_->account(w, -static_cast<int64_t>(cost));
    n->charged = false;
  }
  static void monitor_with_ref(Context& ctx, Pid pid, MonitorRef ref);

  // ---- registry
  Status register_name(std::string name, Pid pid);
  Status unregister_name(std::string_view name);
  Pid whereis(std::string_view name) const;

  // ---- global names (global.cc; see Node::register_global). The replica of
  // every name in the cluster. global_order_mu_ is held across a change and
  // the router call that tells the peers (so that the changes of a name
  // leave in order); global_mu_ guards the map. Order: global_order_mu_,
  // then global_mu_.
  struct GlobalEntry {
    Pid pid;
    int64_t stamp = 0;
  };
  Status register_global(std::string name, Pid pid);
  Status unregister_global(std::string_view name);
  void register_global_async(std::string name, Pid pid, std::function<void(Status)> done);
  void unregister_global_async(std::string name, std::function<void(Status)> done);
  // The replicas' way (no GlobalAuthority): decided here, then told to peers.
  Status register_global_here(std::string name, Pid pid);
  Status unregister_global_here(std::string_view name);
  // Runs f(authority) if the router has one (inside a RouterUse); false if not.
  bool with_authority(const std::function<void(GlobalAuthority&)>& f);
  Node::AuthorityPut authority_put(const GlobalName& g);
  Pid authority_del(std::string_view name);
  Pid whereis_global(std::string_view name) const;
  std::vector<std::pair<std::string, Pid>> global_names() const;
  // At the exit of local `pid` (has_global_ set): drops its names and tells
  // the peers.
  void drop_globals(Pid pid);
  Pid remote_global_add(const GlobalName& g);
  void remote_global_del(std::string_view name, Pid pid);
  Pid remote_global_ask(const GlobalName& g);
  // Node up: sends it the names local processes hold. Node down: drops the
  // names its processes held.
  void global_node_up(uint16_t node);
  void global_node_down(uint16_t node);
  std::mutex global_order_mu_;
  mutable std::shared_mutex global_mu_;
  std::map<std::string, GlobalEntry, std::less<>> globals_;

  // ---- topics (pubsub.cc; see Node::subscribe). topic_mu_ guards the maps
  // and is held across the router's topic_* calls (so one topic's changes
  // leave in order).
  Status subscribe(std::string topic, Pid pid);
  Status unsubscribe(std::string_view topic, Pid pid);
  Result<size_t> publish(std::string_view topic, Message m, Pid from);
  std::vector<Pid> subscribers(std::string_view topic) const;
  std::vector<uint16_t> topic_nodes(std::string_view topic) const;
  void remote_topic_join(uint16_t node, std::string_view topic);
  void remote_topic_leave(uint16_t node, std::string_view topic);
  size_t remote_publish(Pid from, std::string_view topic, Message m);
  // At the exit of local `pid` (has_topics_ set).
  void drop_topics(Pid pid);
  void topic_node_up(uint16_t node);
  void topic_node_down(uint16_t node);
  // Delivers a copy of m to each of pids (from `from`); how many took it.
  size_t deliver_copies(Pid from, const std::vector<Pid>& pids, const Message& m);
  mutable std::mutex topic_mu_;
  std::map<std::string, std::vector<Pid>, std::less<>> subscribers_;       // local
  std::unordered_map<Pid, std::vector<std::string>> topics_of_;            // the reverse
  std::map<std::string, std::vector<uint16_t>, std::less<>> topic_nodes_;  // peers'
  size_t subscription_count_ = 0;

  // ---- timers (owner: the process that pays for it, or null from outside)
  TimerRef send_after(Process* owner, Duration delay, Pid to, Message m);
  std::optional<Duration> cancel_timer(TimerRef ref);
  // At p's exit: cancels its pending timers.
  void cancel_owned_timers(Process* p);
  // Recycles a timer this worker's wheel no longer holds, releasing what its
  // payload counted.
  void drop_timer(Worker* w, Timer* t);

  // ---- budgets (see NodeOptions). HOT (bench ping-pong): account,
  // try_charge and release_charge run on every send and receive.
  // Adds `bytes` (negative: releases) to the node's memory count, through
  // the current worker's share when on a worker (w may be null).
  void account(Worker* w, int64_t bytes) {
    if (w != nullptr) {
      int64_t d = w->budget_drift_.load(std::memory_order_relaxed) + bytes;
      if (d < kBudgetGrain && d > -kBudgetGrain) [[likely]] {
        w->budget_drift_.store(d, std::memory_order_relaxed);
        return;
      }
      w->budget_drift_.store(0, std::memory_order_relaxed);
      bytes = d;
    }
    held_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  bool node_has_room(uint64_t bytes) const {
    int64_t held = held_bytes_.load(std::memory_order_relaxed);
    return held <= 0 || static_cast<uint64_t>(held) + bytes <= max_memory_;
  }
  // Charges `cost` to p's message budget if both it and the node's have
  // room (true); else nothing is charged.
  bool try_charge(Process* p, uint64_t cost) {
    uint64_t in_use = p->msg_charged_.fetch_add(cost, std::memory_order_relaxed) + cost -
                      p->msg_released_.load(std::memory_order_relaxed);
    if (in_use <= p->mailbox_limit_ && node_has_room(cost)) [[likely]] {
      return true;
    }
    p->msg_charged_.fetch_sub(cost, std::memory_order_relaxed);
    return false;
  }
  // try_charge(p, cost), with an error saying which budget was full.
  Status charge(Process* p, uint64_t cost);
  static uint64_t budget_in_use(const Process* p) {
    return p->msg_charged_.load(std::memory_order_relaxed) -
           p->msg_released_.load(std::memory_order_relaxed);
  }
  int64_t memory_held() const;
  int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                start_)
        .count();
  }
  // now_ns() + delta_ns (delta >= 0), saturated at INT64_MAX: a timeout from
  // a guest can be any 64-bit value.
  int64_t deadline_after(int64_t delta_ns) const {
    int64_t now = now_ns();
    return delta_ns > std::numeric_limits<int64_t>::max() - now
               ? std::numeric_limits<int64_t>::max()
               : now + delta_ns;
  }
  // The 1 ms tick a deadline falls in (rounded up). ns >= 0.
  static uint64_t tick_of(int64_t ns) {
    return static_cast<uint64_t>(ns / 1'000'000) + (ns % 1'000'000 != 0 ? 1 : 0);
  }

  // ---- distribution (see router.h). HOT (bench ping-pong, spawn-storm): a
  // local pid costs one compare of its node id on the send path, nothing
  // more.
  bool is_remote(Pid pid) const { return pid.node() != node_id_ && pid.valid(); }
  bool is_local(Pid pid) const { return pid.node() == node_id_ && pid.valid(); }
  Status send_remote(Pid from, Pid to, Message m);
  Status send_named(Pid from, uint16_t node, std::string_view name, Message m);
  // p (running, on its worker) linked / monitors remote `pid`, already
  // recorded in p's ext: tells the router, or fires noconnection at once.
  void link_remote(Process* p, Pid pid);
  void monitor_remote(Process* p, Pid pid, MonitorRef ref);
  void unlink_remote(Pid from, Pid to);
  void demonitor_remote(Pid from, Pid to, MonitorRef ref);
  // Remembers that local may hold links or monitors involving node's
  // processes, for node_down.
  void note_remote(uint16_t node, Pid local);

  // ---- tracing (trace.cc; rusm/otp/trace.h)
  Status trace(Pid pid, std::shared_ptr<Tracer> tracer);
  void untrace(Pid pid, const Tracer* tracer);
  // An event of a traced process (its traced_ flag was seen set).
  void trace_event(const TraceEvent& e);
  // p is exiting with reason: its last event, and its tracer dropped.
  void trace_exit(Process* p, const ExitReason& reason);
  void set_router(Router* r);
  void node_up(uint16_t node, std::string name);
  void node_down(uint16_t node);
  std::vector<uint16_t> connected_nodes() const;
  std::string node_name(uint16_t node) const;
  size_t node_watchers(uint16_t node) const;
  bool node_is_up(uint16_t node) const {
    return node == node_id_ ||
           (up_nodes_[node >> 6].load(std::memory_order_acquire) >> (node & 63) & 1) != 0;
  }
  void monitor_node(Pid watcher, uint16_t node);
  void demonitor_node(Pid watcher, uint16_t node);

  // ---- misc
  MonitorRef make_ref();
  std::optional<ProcessInfo> info(Pid pid) const;
  uint64_t live_count() const;
  void bump_restarts();

  Node* const owner_;
  const NodeOptions options_;
  const uint16_t node_id_;
  const uint32_t creation_;
  ProcessTable table_;
  std::vector<std::unique_ptr<Worker>> workers_;

  std::mutex inject_mu_;
  Process* inject_head_ = nullptr;
  Process* inject_tail_ = nullptr;
  std::atomic<size_t> inject_size_{0};

  std::mutex park_mu_;
  // Wakes w, which the caller just took off parked_ (under park_mu_): through
  // the idle driver if w waits in it, else through its futex (after unlock).
  // Returns true if the caller must futex_wake w after unlocking.
  bool wake_parked_locked(Worker* w);
  void set_driver(IdleDriver* d);  // Node::set_idle_driver
  std::atomic<IdleDriver*> driver_{nullptr};
  std::atomic<bool> driver_busy_{false};  // a worker is in the driver (waiting or polling)
  std::vector<Worker*> parked_;
  std::atomic<int> num_parked_{0};
  std::atomic<int> num_searching_{0};

  // The node's memory count: folded worker shares plus outside charges.
  std::atomic<int64_t> held_bytes_{0};
  std::atomic<int64_t> outside_timer_bytes_{0};  // timers started from outside
  uint64_t max_memory_ = 0;
  static constexpr int64_t kBudgetGrain = int64_t{1} << 20;

  std::atomic<bool> accepting_{true};
  std::atomic<bool> stopping_{false};
  bool shut_down_ = false;
  std::mutex shutdown_mu_;

  mutable std::shared_mutex reg_mu_;
  std::unordered_map<std::string, Pid> names_;

  std::mutex roots_mu_;
  std::vector<Pid> roots_;

  // Counters for work done outside worker threads.
  WorkerCounters outside_;
  std::atomic<uint64_t> outside_spawns_{0};
  std::atomic<uint64_t> outside_sent_{0};
  std::atomic<uint64_t> outside_refs_{0};
  std::atomic<uint64_t> outside_restarts_{0};

  const std::chrono::steady_clock::time_point start_;

  // ---- distribution
  std::atomic<Router*> router_{nullptr};
  std::atomic<uint64_t> outside_router_users_{0};  // threads other than workers in a router call
  // node id -> local pids that may hold links or monitors with its
  // processes (stale entries are harmless; dead ones are pruned now and then).
  struct RemoteSet {
    std::unordered_set<Pid> pids;
    size_t prune_at = 64;
  };
  std::mutex remote_mu_;
  std::unordered_map<uint16_t, RemoteSet> remote_index_;
  // Traced processes and their tracers (trace.cc).
  std::mutex trace_mu_;
  std::unordered_map<Pid, std::shared_ptr<Tracer>> traces_;
  // Nodes up (as the router reported) and monitor_node subscribers; changed
  // under nodes_mu_ so that a subscriber sees nodeup/nodedown in order.
  mutable std::mutex nodes_mu_;
  std::atomic<uint64_t> up_nodes_[1024] = {};
  std::unordered_map<uint16_t, std::vector<Pid>> node_watchers_;
  std::unordered_map<uint16_t, std::string> node_names_;  // peers' names (node_up)
};

// Holds the node's router for the duration of one call (set_router waits
// until no thread holds the old one). Nests.
class RouterUse {
 public:
  explicit RouterUse(NodeImpl* node);
  ~RouterUse();
  RouterUse(const RouterUse&) = delete;
  RouterUse& operator=(const RouterUse&) = delete;
  Router* get() const { return router_; }
  Router* operator->() const { return router_; }
  explicit operator bool() const { return router_ != nullptr; }

 private:
  NodeImpl* node_;
  Worker* worker_;
  uint32_t depth_ = 0;
  Router* router_;
};

// "not connected to node N", for what has no router to go to.
Error not_connected(uint16_t node);

}  // namespace rusm::otp::detail
