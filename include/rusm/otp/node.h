// A node: the process table, the M:N scheduler (worker threads with local run
// queues and work stealing), the name registry and the timers.
//
//   Node node;                                   // one worker per core
//   Result<Pid> p = node.spawn(my_body, 42);     // my_body(Context&, int) -> Task<>
//   node.send(*p, Message::make(1, "hello"));
//   node.shutdown(std::chrono::seconds(5));
//
// Thread-safety: every Node method may be called from any thread, including
// from process bodies, except wait_exit() and shutdown(), which block the
// calling thread and so must not be called from a process (they would stall a
// worker). Destroying a Node shuts it down (killing everything still alive).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rusm/otp/context.h"
#include "rusm/otp/info.h"
#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"
#include "rusm/otp/router.h"
#include "rusm/otp/trace.h"
#include "rusm/result.h"

namespace rusm::otp {

// The node's budgets keep what guests can make it hold below what the
// machine has, so that a spawn or a send fails with a clear error before the
// OOM killer ends the node:
//   - max_processes: how many processes may live at once.
//   - max_memory_bytes: bytes held on behalf of processes: messages waiting
//     in mailboxes, pending timers, and what bodies reserve (a Wasm process's
//     memories and tables, see reserve_memory()). Past it, spawns fail, and
//     so do sends and send_after, as for a full mailbox.
//   - max_mailbox_bytes: each process's message budget, the bytes of the
//     messages waiting in its mailbox plus its own pending timers (payloads
//     and bookkeeping). A send that would pass the receiver's budget fails
//     (the sender learns, as with a bounded mailbox); a timer past the
//     owner's is refused. Exit signals and DOWN notifications are never
//     refused or counted.
// Counting costs one atomic add per send on the receiver's record; the
// node-wide total is kept per worker and folded in every 1 MiB, so it may be
// off by up to that much per worker.
// An event loop the node's workers run while they have no process to run, so
// that I/O completions and the processes they wake share the workers' threads
// (no hand-off to a separate I/O thread and back). Workers call poll() between
// slices (every few slices, and whenever their own queue runs dry); a worker
// with nothing to do blocks in wait() instead of sleeping. At most one worker
// is inside poll() or wait() at a time, so wake() reaches the one that waits
// even if a wake-up is a handler that any caller of poll() could have run.
// Handlers run by poll() and wait() run on a worker between slices: they
// may spawn, send and wake (the processes go to that worker's queue) but must
// never block, and never wait for a process.
class IdleDriver {
 public:
  virtual ~IdleDriver() = default;
  // Runs the handlers that are ready, without blocking.
  virtual void poll() = 0;
  // Blocks until a handler has run, wake() was called, or timeout_ns passed
  // (-1: no timeout); then runs whatever else is ready.
  virtual void wait(int64_t timeout_ns) = 0;
  // Makes the current wait(), or the next one, return soon. Any thread.
  virtual void wake() = 0;
};

// A node's identity (for distribution, see router.h): node_id goes into
// every Pid it makes, name is what peers and operators call it, and creation
// tells its incarnations apart. The generation counter of every slot starts
// from a value derived from creation, so that the pids of a node restarted
// under the same id (a new creation) differ from its previous incarnation's
// (as Erlang's creation does), while Pid keeps its 64-bit layout: a stale
// remote pid reaches no process of the new incarnation unless the two
// creations' 24-bit generation bases happen to lie within the number of
// reuses of that slot.
struct NodeOptions {
  unsigned workers = 0;                // worker threads; 0 = one per core
  uint16_t node_id = 0;                // goes into every Pid (for distribution)
  std::string name = "nonode@nohost";  // the node's name (Erlang's default)
  uint32_t creation = 0;               // incarnation; 0 = derived from time and randomness
  uint32_t max_processes = 1u << 22;   // process table capacity (at most 1 << 24)
  int64_t slice_reductions = 4000;     // reduction budget of one slice (as the BEAM)
  uint64_t max_memory_bytes = 0;       // node memory budget; 0 = the machine's physical memory
  uint64_t max_mailbox_bytes = uint64_t{64} << 20;  // per process, unless SpawnOptions say
  // Global names this node's replica holds at most (register_global fails
  // past it, and names peers announce past it are not kept here): a bound on
  // the memory that registrations, local or from peers, can take.
  size_t max_global_names = 100'000;
  // Topics (subscribe/publish) this node keeps at most: those its own
  // processes subscribe to, and, separately, those peers say they have
  // subscribers for (past it, subscribe fails and peers' topics are not
  // kept). And subscriptions of this node's processes at most.
  size_t max_topics = 100'000;
  size_t max_subscriptions = 1'000'000;
};

class Node {
 public:
  explicit Node(NodeOptions options = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // ---- Spawning from outside a process (the process has no parent; links
  // and monitors in SpawnOptions are ignored). Errors: the node is shutting
  // down, or the process table is full.
  template <typename F, typename... A>
  Result<Pid> spawn(F&& f, A&&... args) {
    Result<Spawned> s = spawn_opt(SpawnOptions{}, std::forward<F>(f), std::forward<A>(args)...);
    if (!s) {
      return s.error();
    }
    return s->pid;
  }
  template <typename F, typename... A>
  Result<Spawned> spawn_opt(const SpawnOptions& options, F&& f, A&&... args) {
    return detail::spawn_native(impl_.get(), nullptr, options, std::forward<F>(f),
                                std::forward<A>(args)...);
  }
  Result<Spawned> spawn_body(std::unique_ptr<Body> body, const SpawnOptions& options = {});

  // ---- Identity (NodeOptions): the id in this node's pids, its name, and
  // its creation (never 0: derived at start when the options said 0).
  uint16_t id() const;
  const std::string& name() const;
  uint32_t creation() const;

  // ---- Signals and messages from outside (no sender).
  // A pid of another node goes to the router (see set_router); without one
  // the send fails with "not connected to node N".
  Status send(Pid to, Message m);
  Status send(std::string_view name, Message m);
  // Sends to the process registered as name on `node` (this node's id: as
  // send(name, m)). Remote: the router's send_named, errors as for send.
  Status send_named(uint16_t node, std::string_view name, Message m);
  void exit(Pid pid, ExitReason reason);
  // Ends a wait_event() of pid (or makes its next one return at once).
  // Meant for I/O reactors; callable from any thread. No-op if pid is dead.
  void wake(Pid pid);

  Status register_name(std::string name, Pid pid);
  Status unregister_name(std::string_view name);
  Pid whereis(std::string_view name) const;

  // ---- Global names (Erlang's global): a name resolves to the same pid on
  // every node of the cluster. Without a router (a node alone) they work on
  // this node. Each node keeps a replica of every name (see router.h and
  // docs/cluster.md, "Global names"): registering checks this node's
  // replica, then tells every connected peer; a process that exits, for
  // any reason, loses its names everywhere; when a node goes down, the
  // others drop its processes' names. When two registrations of one name
  // meet (two nodes registered it at once, or a partition heals), every
  // node keeps the older one (GlobalName, global_name_wins) and the
  // loser's own node sends it an exit signal error "global name conflict:
  // NAME", or a kGlobalConflictTag message (ClusterOptions). A process may
  // hold several global names.
  //
  // Errors: the name is empty or longer than kMaxGlobalName bytes; it is
  // taken (the message names the pid); pid of this node not alive; pid of a
  // node that is not connected. The pid of another (connected) node is
  // registered here at once and confirmed by that node, which may still
  // refuse it (dead by then, or the name taken there first): then the name
  // is dropped everywhere, or resolved as a conflict.
  Status register_global(std::string name, Pid pid);
  // Error if name is not registered. Drops it everywhere, whichever node's
  // process held it.
  Status unregister_global(std::string_view name);
  // The same, answered through done (once, on another thread or at once on
  // this one), for callers that must not wait: with a GlobalAuthority (the
  // etcd backend) the answer takes a round trip to the store, and the
  // blocking forms above wait for it.
  void register_global_async(std::string name, Pid pid, std::function<void(Status)> done);
  void unregister_global_async(std::string name, std::function<void(Status)> done);
  // The pid registered as name (this node's replica); invalid if none.
  Pid whereis_global(std::string_view name) const;
  // Error if no process is registered as name; otherwise as send(pid, m).
  Status send_global(std::string_view name, Message m);
  // Every name in this node's replica, sorted by name (for the shell and the
  // observer).
  std::vector<std::pair<std::string, Pid>> global_names() const;

  // ---- Topics (Erlang's pg, as a publish/subscribe service): a process
  // subscribes to a topic by name; publish(topic, m) delivers a copy of m to
  // every subscriber, on this node and, in a cluster, on every node (one
  // frame per node that has subscribers, fanned out there). Delivery is a
  // plain message in the subscriber's mailbox (from: the publisher, or
  // invalid from outside a process), so it composes with selective receive;
  // a full mailbox drops that copy, as a send would. A process that exits
  // loses its subscriptions (its node tells the others when a topic has no
  // subscriber left there). Subscribing twice is subscribing once.
  //
  // Errors: the topic is empty or longer than kMaxGlobalName bytes; pid is not
  // a live process of this node; NodeOptions::max_topics or
  // max_subscriptions reached; publish of a message holding host resources.
  Status subscribe(std::string topic, Pid pid);
  // Error if pid was not subscribed.
  Status unsubscribe(std::string_view topic, Pid pid);
  // How many copies went out: to local subscribers, plus one per other node
  // with subscribers (each fans it out there).
  Result<size_t> publish(std::string_view topic, Message m, Pid from = Pid());
  // This node's subscribers of topic, in subscription order.
  std::vector<Pid> subscribers(std::string_view topic) const;
  // The other nodes that have subscribers of topic (as they said).
  std::vector<uint16_t> topic_nodes(std::string_view topic) const;

  // An invalid TimerRef (nothing sent) if the node's memory budget is spent.
  TimerRef send_after(Duration delay, Pid to, Message m);
  std::optional<Duration> cancel_timer(TimerRef timer);

  // ---- The node's memory budget (NodeOptions::max_memory_bytes), for
  // bodies and embedders that hold memory on a process's behalf (the Wasm
  // runtime reserves each instance's memories and tables). Reserves `bytes`;
  // false, with nothing reserved, if the budget has no room for them.
  bool reserve_memory(uint64_t bytes);
  void release_memory(uint64_t bytes);

  // ---- Introspection (read-only, cheap; see info.h)
  bool is_alive(Pid pid) const;
  std::optional<ProcessInfo> info(Pid pid) const;
  std::vector<ProcessInfo> processes() const;
  NodeStats stats() const;
  uint64_t process_count() const;
  unsigned workers() const;

  // Blocks until pid exits (returns its reason; noproc if it was already
  // gone) or timeout passes (nullopt). Not from a process.
  std::optional<ExitReason> wait_exit(Pid pid, Duration timeout);

  // Graceful shutdown: refuses new spawns, then sends shutdown exit signals
  // to the processes spawned from outside (the roots of the supervision
  // trees), newest first, waiting for each tree to finish; then kills
  // whatever is left (processes outside any tree, probes) and stops the
  // workers. If `timeout` runs out first, the rest is killed at once and the
  // result is an error naming how many processes had to be killed.
  // Idempotent. Not from a process.
  Status shutdown(Duration timeout = std::chrono::seconds(5));

  // Lets the workers drive `driver` (see IdleDriver); null stops it. When
  // this returns, no worker is using the previous driver, which may then be
  // destroyed. Any thread but a worker's.
  void set_idle_driver(IdleDriver* driver);

  // ---- Distribution (see router.h). Every method here is thread-safe.

  // Operations on pids of other nodes go to `router` from now on; nullptr
  // clears it (they then fail as "not connected to node N": a send returns
  // that error, a link gives noconnection, a monitor a DOWN noconnection).
  // When this returns, no thread is inside a call to the previous router any
  // more, so it may then be destroyed; until then it must stay alive. A
  // router must not call set_router from inside one of its methods, and
  // neither may a process body.
  void set_router(Router* router);

  // Inbound: what the router delivers from peers. `to` must be a pid of this
  // node (others are ignored, or an error for the sends), `from` a pid of the
  // peer. For one (from, to) pair, call these in the order the peer's
  // process made the calls; they never block (callable from the event loop's
  // thread, a worker's included).
  //
  // A message from `from`; errors as for a local send (full mailbox, memory
  // budget, `to` not on this node). A dead `to` is not an error.
  Status remote_send(Pid from, Pid to, Message m);
  // A message to the process registered as name here; error if none is.
  Status remote_send_named(Pid from, std::string_view name, Message m);
  // An exit signal. linked = true: a link's propagation (from exited with
  // reason): acts only if `to` still has the link, removes it, and follows
  // trap_exit (an EXIT message, or death unless reason is normal). linked =
  // false: as exit(to, reason) sent by `from` (kill is untrappable).
  void remote_exit(Pid from, Pid to, ExitReason reason, bool linked);
  // `from` linked to `to`: recorded on `to`'s side. If `to` is gone, the
  // router is told at once: exit_signal(to, from, noproc, true).
  void remote_link(Pid from, Pid to);
  void remote_unlink(Pid from, Pid to);
  // `from` monitors `to` with ref. If `to` is gone: router down(to, from,
  // ref, noproc) at once.
  void remote_monitor(Pid from, Pid to, MonitorRef ref);
  void remote_demonitor(Pid from, Pid to, MonitorRef ref);
  // `from`, which `to` monitors with ref, exited with reason: a DOWN message
  // for `to`, unless it demonitored meanwhile (exactly once).
  void remote_down(Pid from, Pid to, MonitorRef ref, ExitReason reason);
  // A process of another node, `child`, was spawned for the local process
  // `parent` (SpawnOptions::remote_parent on that node) linked to it (link)
  // and/or monitored by it with ref (0: no monitor): records parent's sides.
  // Call it when the spawn's answer arrives, before anything else from
  // child's node. If parent is gone, child's node is told as if parent had
  // exited (an exit signal noproc through the link; a demonitor).
  void remote_spawned(Pid child, Pid parent, bool link, MonitorRef ref);
  // A fresh reference, unique on this node (Context::make_ref from outside).
  MonitorRef make_ref();

  // Tracing (rusm/otp/trace.h): pid's events go to tracer until untrace()
  // or its exit (a last kExit event; the node then drops the tracer).
  // Errors: pid is not a live process of this node, or it is traced already
  // (one tracer per process).
  Status trace(Pid pid, std::shared_ptr<Tracer> tracer);
  // Stops tracer's trace of pid (nothing if another tracer has it now).
  void untrace(Pid pid, const Tracer* tracer);

  // Global names a peer sent (Router::global_add / global_del /
  // global_sync). The router checks first that the pids are of the sending
  // peer's node (a peer registers only its own processes); names that are
  // empty or too long are ignored.
  //
  // g.pid (a process of another node, up) holds g.name: inserted, or
  // resolved against the name's current holder (the older wins). Returns the
  // local process that lost the name to g, if any (else an invalid Pid): the
  // router tells it (its conflict policy: an exit signal or a message).
  Pid remote_global_add(const GlobalName& g);
  // pid no longer holds name: dropped if this replica has name for pid.
  void remote_global_del(std::string_view name, Pid pid);
  // A peer registered g.pid, a process of this node, as g.name
  // (Router::global_add of another node's pid): checked as register_global
  // would (alive, then the name resolved against its holder with g's
  // stamp), then told to every peer (global_add if it holds the name,
  // global_del if not). Returns the local process that lost a conflict (g.pid
  // itself, or the name's former holder), if any.
  Pid remote_global_ask(const GlobalName& g);

  // What a GlobalAuthority (router.h) tells the replica, in the store's
  // order. authority_put: g.pid holds g.name now (g.stamp: when the store
  // made it). lost: the local process that held the name before, if any (the
  // authority tells it, by the conflict policy); holder_dead: g.pid is a
  // process of this node that is not alive (the authority drops the name in
  // the store). A local g.pid that is alive gets its name dropped at its exit
  // (through unregister_name). authority_del: nobody holds name now; returns
  // the local process that held it, if any.
  struct AuthorityPut {
    Pid lost;
    bool holder_dead = false;
  };
  AuthorityPut authority_put(const GlobalName& g);
  Pid authority_del(std::string_view name);

  // Topics a peer reports (Router::topic_join / topic_leave / topic_sync):
  // node N has subscribers of topic (or no longer has). And a PUBLISH from
  // a peer: delivered to this node's subscribers of topic; returns how many.
  void remote_topic_join(uint16_t node, std::string_view topic);
  void remote_topic_leave(uint16_t node, std::string_view topic);
  size_t remote_publish(Pid from, std::string_view topic, Message m);

  // The router reports its connections. node_up(N): processes that called
  // monitor_node(N) get a kNodeUpTag message (if N was down). node_down(N):
  // every link of a local process to a process of N fires as an exit signal
  // with reason noconnection, and every monitor of one gives a DOWN
  // noconnection, each exactly once; those entries (and monitors of local
  // processes by processes of N) are dropped; then monitor_node(N)
  // subscribers get kNodeDownTag (if N was up). Calling node_down again
  // fires nothing twice. The router must already refuse operations for N
  // when it calls node_down(N) (see router.h). `name` is what N is called
  // (node_name), kept after it goes down.
  void node_up(uint16_t node, std::string name = {});
  void node_down(uint16_t node);
  // Whether node is up as the router last reported (this node's id: true).
  bool node_is_up(uint16_t node) const;
  // The other nodes that are up now, by id (Erlang's nodes()).
  std::vector<uint16_t> connected_nodes() const;
  // What node is called: this node's name() for its own id, the name the
  // router gave with node_up for a peer, "" for a node never seen.
  std::string node_name(uint16_t node) const;
  // How many processes are recorded as watching node (monitor_node); exited
  // ones may still count until the next sweep (at most as many as the live).
  size_t node_watchers(uint16_t node) const;

  detail::NodeImpl* impl() const { return impl_.get(); }

 private:
  std::unique_ptr<detail::NodeImpl> impl_;
};

// While one is alive on a thread outside the workers, the wake-ups that
// thread's sends and signals would give parked workers are held back and
// given once, when the outermost one ends. An I/O thread that delivers a
// burst of inbound messages wraps the burst in one, so that a worker on the
// same core wakes once for the burst (and runs every process it made
// runnable) instead of once per message, preempting the I/O thread each
// time. Keep the scope short: nothing runs the processes until it ends.
class DeferWakeups {
 public:
  DeferWakeups();
  ~DeferWakeups();
  DeferWakeups(const DeferWakeups&) = delete;
  DeferWakeups& operator=(const DeferWakeups&) = delete;
};

// A mailbox for code outside the node (tests, tools, the CLI): a real process
// whose messages the owning thread can receive, blocking. It traps exits, so
// links show up as kExitTag messages. Thread-safety: one thread uses a Probe
// at a time. Destroying it kills its process.
class Probe {
 public:
  explicit Probe(Node& node);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  Pid pid() const { return pid_; }
  // Sends with from() = pid().
  Status send(Pid to, Message m);
  Status send_named(uint16_t node, std::string_view name, Message m);
  std::optional<Message> receive(Duration timeout);
  // The oldest message satisfying pred; others stay queued for later.
  std::optional<Message> receive_if(const std::function<bool(const Message&)>& pred,
                                    Duration timeout);
  // In place when these return: a pid that is already gone by then gives an
  // exit (noproc) or a DOWN (noproc) message, as in a process.
  void link(Pid pid);
  MonitorRef monitor(Pid pid);
  // As Context::monitor_node / demonitor_node: kNodeUpTag / kNodeDownTag
  // messages for node (see message.h).
  void monitor_node(uint16_t node);
  void demonitor_node(uint16_t node);

 public:
  struct Shared;  // implementation detail

 private:
  void request(Message m);

  Node* node_;
  Pid pid_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace rusm::otp
