// The actor core's one seam for distribution.
//
// A Pid carries the id of the node its process lives on (Pid::node()). When
// otp/ meets a pid whose node is not its own (Node::id()), it does not look
// it up: it hands the operation to the Router set with Node::set_router().
// The cluster layer implements a Router over its connections; otp/ itself
// never opens a socket. What a Router receives is plain data, so that it can
// be written to bytes and read back on the other node:
//
//   Pid          Pid::bits() / Pid::from_bits()              (64 bits)
//   MonitorRef   a uint64_t, made by the watcher's node
//   ExitReason   kind() (ExitKind, a uint8_t) + detail() / ExitReason::of()
//                or ExitReason::from_code() for untrusted input
//   Message      tag() + ref() + bytes() / Message::make(tag, bytes) then
//                set_ref(ref). A message holding host resources
//                (resource_count() != 0) is refused before it reaches the
//                Router: sockets and files cannot cross nodes.
//
// On the other side, the peer's Router delivers what arrives through the
// Node's inbound entry points (Node::remote_send, remote_exit, remote_link,
// ...), and reports connections with Node::node_up / Node::node_down.
//
// Contract for implementations:
//   - Every method may be called from any thread: a worker running a process,
//     an outside thread (Node::send, a Probe), or the thread that calls one of
//     the Node's inbound entry points (a method may be called re-entrantly
//     from inside such an entry point). They must not block: queue the
//     operation and return.
//   - Calls made by one thread for one (from, to) pair must reach the peer in
//     the order they were made, messages and signals alike: the receiving
//     node keeps Erlang's per-pair order only if the Router does.
//   - No lock of the Node is held during a call, so a method may call back
//     the Node's inbound entry points, even synchronously.
//   - Before the Router calls Node::node_down(N), it must already refuse new
//     operations for node N (send returns an error, link/monitor return an
//     error): that is what lets the node fire every link and monitor to N
//     exactly once.
//   - Operations that return nothing are best effort: if the node is not
//     connected they are dropped, since the peer's side of the link or
//     monitor fires with noconnection when it sees this node go down.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"
#include "rusm/result.h"

namespace rusm::otp {

// The longest global name, in bytes.
inline constexpr size_t kMaxGlobalName = 255;

// One global name (Node::register_global) as the replicas hold it: the
// process and when it was registered (microseconds since the Unix epoch, on
// the clock of the node that registered it). Of two registrations of one
// name, the older wins: smaller stamp, then smaller node id, then smaller
// pid bits (global_name_wins).
struct GlobalName {
  std::string name;
  Pid pid;
  int64_t stamp = 0;
  friend bool operator==(const GlobalName&, const GlobalName&) = default;
};

// Whether registration (a_pid, a_stamp) beats (b_pid, b_stamp) of one name;
// the same answer on every node.
inline bool global_name_wins(Pid a_pid, int64_t a_stamp, Pid b_pid, int64_t b_stamp) {
  if (a_stamp != b_stamp) {
    return a_stamp < b_stamp;
  }
  if (a_pid.node() != b_pid.node()) {
    return a_pid.node() < b_pid.node();
  }
  return a_pid.bits() < b_pid.bits();
}

// A store that decides global names for the whole cluster, instead of the
// replicas' older-wins resolution (a Router offers one through
// global_authority(); the cluster's etcd backend is one). Registrations are
// decided by the store, one at a time (so two processes never hold one
// name, even across a partition), and the store feeds every node's replica
// through Node::authority_put / authority_del. Methods are called from any
// thread, with no lock of the Node held; they must not block (queue the
// request), and each calls `done` exactly once, later, on a thread of the
// store's (never inside the call).
class GlobalAuthority {
 public:
  virtual ~GlobalAuthority() = default;
  // Registers g.name for g.pid (alive when asked; of this node or another);
  // done(ok) once the store has committed it and this node's replica holds
  // it. Errors: the name is taken ("name already registered to PID"), the
  // pid's node holds no lease in the store, the store cannot be reached.
  virtual void register_name(const GlobalName& g, std::function<void(Status)> done) = 0;
  // Drops `name`: only if `pid` holds it (pid valid), or whoever holds it
  // (pid invalid; an error if nobody does). done may be null.
  virtual void unregister_name(std::string name, Pid pid, std::function<void(Status)> done) = 0;
};

class Router {
 public:
  virtual ~Router() = default;

  // Delivers m to the process `to` on node to.node(). `from` is the sending
  // local process (invalid when sent from outside any process). Error if the
  // node cannot be reached now (e.g. "not connected to node 3") or the
  // message cannot be queued (the connection's buffer is full); the sender
  // sees the error, as for a full local mailbox.
  virtual Status send(Pid from, Pid to, Message m) = 0;
  // Delivers m to the process registered as `name` on `node` (the peer calls
  // Node::remote_send_named). Errors as for send().
  virtual Status send_named(Pid from, uint16_t node, std::string name, Message m) = 0;

  // An exit signal from `from` (local) to `to` (remote). linked = true: the
  // propagation of a link when `from` exits (or the answer to a link request
  // of a process that was already gone, reason noproc); the peer calls
  // Node::remote_exit(from, to, r, true), which only acts if the link is still
  // there. linked = false: an explicit exit(to, r).
  virtual void exit_signal(Pid from, Pid to, ExitReason r, bool linked) = 0;

  // `from` (local) has linked to `to` (remote) and recorded the link on its
  // side; the peer calls Node::remote_link(from, to). An error means the
  // node is not reachable: `from` then gets an exit signal noconnection at
  // once, as in Erlang, and the link is dropped.
  virtual Status link(Pid from, Pid to) = 0;
  // `from` (local) dropped its link to `to`; the peer calls Node::remote_unlink.
  virtual void unlink(Pid from, Pid to) = 0;

  // `from` (local) monitors `to` (remote) with ref; the peer calls
  // Node::remote_monitor(from, to, ref). An error means the node is not
  // reachable: `from` then gets a DOWN noconnection at once.
  virtual Status monitor(Pid from, Pid to, MonitorRef ref) = 0;
  // `from` (local) dropped its monitor ref of `to`; the peer calls
  // Node::remote_demonitor(from, to, ref).
  virtual void demonitor(Pid from, Pid to, MonitorRef ref) = 0;
  // The local process `from`, monitored by `to` (remote) with ref, exited
  // with r (or was gone when the monitor arrived: noproc); the peer calls
  // Node::remote_down(from, to, ref, r).
  virtual void down(Pid from, Pid to, MonitorRef ref, ExitReason r) = 0;

  // ---- Global names (Node::register_global). Every node keeps a replica of
  // every name; these hooks carry this node's changes to its peers, which
  // deliver them with Node::remote_global_add / remote_global_del /
  // remote_global_ask. They are called with the node's global-name order
  // lock held (so that the changes of one name leave in the order they were
  // made), and no other lock: like the others they must not block, and they
  // must not call the Node's global-name methods synchronously. The default
  // implementations drop them (a router without a cluster: global names then
  // stay on this node).
  //
  // `name` is held by `pid` since `stamp`. pid of this node: tell every
  // connected peer (remote_global_add). pid of node N: ask N
  // (remote_global_ask), which checks and then tells every peer itself.
  virtual void global_add(const GlobalName& name) { (void)name; }
  // `pid` no longer holds `name` (it exited, or it was unregistered): tell
  // every connected peer (remote_global_del).
  virtual void global_del(std::string_view name, Pid pid) {
    (void)name;
    (void)pid;
  }
  // `node` just came up (Node::node_up): send it `names`, the global names
  // this node's own processes hold (remote_global_add for each, there).
  virtual void global_sync(uint16_t node, std::vector<GlobalName> names) {
    (void)node;
    (void)names;
  }
  // ---- Topics (Node::subscribe / publish). Each node tells its peers which
  // topics have subscribers on it; they deliver with Node::remote_topic_join
  // / remote_topic_leave. Called with the node's topic lock held (so the
  // changes of one topic leave in order) and nothing else; they must not
  // block or call the Node's topic methods. Default: dropped.
  //
  // This node has subscribers of topic now (it had none): tell every peer.
  virtual void topic_join(std::string_view topic) { (void)topic; }
  // It has none left: tell every peer.
  virtual void topic_leave(std::string_view topic) { (void)topic; }
  // `node` just came up: send it the topics this node has subscribers of.
  virtual void topic_sync(uint16_t node, std::vector<std::string> topics) {
    (void)node;
    (void)topics;
  }
  // Delivers m to node's subscribers of topic (the peer calls
  // Node::remote_publish). Errors as for send(). Called without locks.
  virtual Status publish(Pid from, uint16_t node, std::string_view topic, const Message& m) {
    (void)from;
    (void)topic;
    (void)m;
    return Error("not connected to node " + std::to_string(node));
  }

  // The store that decides global names, if the router has one (see
  // GlobalAuthority): then the Node asks it instead of calling the three
  // hooks above, and keeps the names of a node that went down (they go when
  // the store says so: the node's lease expired). Null: the replicas decide.
  virtual GlobalAuthority* global_authority() { return nullptr; }
};

}  // namespace rusm::otp
