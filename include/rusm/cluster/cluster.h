// A node's membership in a cluster: rusm nodes joined by mutual TLS, where a
// pid works the same whichever node its process lives on.
//
//   otp::NodeOptions no;
//   no.name = "n1";
//   no.node_id = cluster::node_id_for("n1");
//   otp::Node node(no);
//   cluster::ClusterOptions co;
//   cluster::use_certs_dir(co, "cluster-certs", "n1");  // `rusm cluster ca|cert`
//   co.listen_port = 4370;
//   co.seeds = {"10.0.0.2:4370"};
//   auto c = cluster::Cluster::start(node, co);
//
// From then on the node's processes send to pids of other nodes, link to and
// monitor them, send to names on other nodes (Node::send_named) and watch
// nodes (monitor_node), and all of it arrives over one connection per pair
// of nodes (src/cluster/: frame.h is the wire format, connection.h the TLS
// handshake and heartbeats, mesh.h membership). When a node goes down (its
// connection fails, or it is silent for two heartbeat ticks), every link and
// monitor to its processes fires with reason noconnection, exactly once.
//
// Global names (otp::Node::register_global, Erlang's global): every node
// keeps a replica of every name and the cluster carries the changes; two
// registrations of one name that meet (at once, or when a partition heals)
// resolve to the older on every node, and the loser's node tells the loser
// (ClusterOptions::global_conflict). See docs/cluster.md, "Global names".
// With ClusterOptions::etcd, etcd holds the names instead (EtcdOptions).
//
// Remote spawn (ClusterOptions::runtime; docs/cluster.md, "Remote spawn").
// With a runtime, the node's processes spawn on peers (runtime::Runtime::
// spawn_on, the guest's rusm_spawn_on): the request names the module by the
// SHA-256 of its bytes, and the bytes travel once per peer (the peer answers
// "module needed", then keeps them, up to max_peer_modules modules and
// max_peer_module_total bytes, least recently used first out). A node takes
// spawns from peers only with ClusterOptions::remote_spawn set: its capabilities are the most a
// peer's child gets (what the peer asked for, intersected with them), so a peer never grants more
// than this node allows. Link and monitor work as for a local child, atomically with the spawn.
//
// Back-pressure: each peer has a send buffer (ClusterOptions::
// send_buffer_bytes). A send to a node whose buffer is full fails at once
// with an error the sender sees (as a full local mailbox does); links,
// monitors and exit signals are never refused for that reason, and a peer
// that stops reading altogether is declared down. Memory per peer is bounded.
//
// Operators (`rusm attach`, docs/cluster.md). The listener also takes
// operators: a client whose certificate is of the cluster's CA and whose
// HELLO says it is an operator (frame.h) gets a shell, never membership. Its
// SHELL_LINE frames are answered by SHELL_RESULT frames from the function
// ClusterOptions::attach_shell made for that operator, run on a thread of
// the operator's own (one line at a time, in order), so a slow command never
// holds up the heartbeats. Lines above kMaxAttachLine bytes are answered with
// an error, at most max_operators are attached at once, and at most
// kMaxAttachQueue lines may wait for their answers (beyond, the operator is
// disconnected). The node's heartbeats keep an idle attach alive, and an
// operator that stops answering them is dropped like a silent peer.
//
// Thread-safety: start/stop from one thread; nodes() and node_id() from any.
// The cluster runs its connections on the node's event loop
// (ClusterOptions::io) or on a thread of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/result.h"

#include "rusm/runtime/capabilities.h"

namespace boost::asio {
class io_context;
}
namespace rusm::otp {
class Node;
}
namespace rusm::runtime {
class Runtime;
}

namespace rusm::cluster {

// What happens to a process that loses its global name to an older
// registration of the same name (two nodes registered it at once, or a
// partition healed), as Erlang's global resolve function.
enum class GlobalConflict {
  kExit,     // an exit signal, reason error "global name conflict: NAME" (Erlang's default)
  kMessage,  // a message: tag otp::kGlobalConflictTag, payload NAME; it lives on
};

// Global names in etcd instead of on every node (docs/cluster.md, "Global
// names in etcd"): etcd decides each registration, so names are
// linearizable (never two holders, whatever the partitions between nodes),
// and each node's names are held by a lease it keeps alive, so they go when
// it dies or is cut off from etcd for longer than lease_ttl. Every node of
// the cluster must use the same endpoints and prefix. etcd 3.4 or later,
// through its JSON gateway (the client port).
struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://host:port", tried in order; empty: embedded names
  std::string prefix = "rusm";         // keys: PREFIX/names/NAME, PREFIX/nodes/ID
  std::chrono::seconds lease_ttl{5};   // how long a dead node's names outlive it, at most
  std::chrono::milliseconds timeout{2000};  // per request to etcd
};

// The answer to one operator's line.
struct AttachAnswer {
  bool ok = true;      // false: the command failed or was refused; output says why
  std::string output;  // lines ending in '\n'
};
// Where a command streams output before its answer (`trace`): each call
// sends a chunk to the operator (an empty one sends nothing) and says
// whether to go on: false once the operator cancelled the line (Ctrl-C),
// left, or stopped reading (more than kMaxAttachStreamBacklog bytes unsent).
using AttachStream = std::function<bool(std::string_view chunk)>;
// One operator's shell: called with each of its lines, in order, one at a
// time, on that operator's own thread.
using AttachShell = std::function<AttachAnswer(std::string_view line, const AttachStream& stream)>;

// The longest line an operator may send (the observer shell's
// kMaxCommandBytes), and how many lines may wait for their answers.
inline constexpr size_t kMaxAttachLine = 16 * 1024;
inline constexpr size_t kMaxAttachQueue = 16;
// Observer requests (Cluster::observe) waiting for answers at once.
inline constexpr size_t kMaxObserveRequests = 64;
// Streamed output waiting to go to an operator, past which its stream stops.
inline constexpr size_t kMaxAttachStreamBacklog = size_t{1} << 20;

struct ClusterOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;        // 0: an ephemeral port (see Cluster::port)
  std::string advertise;           // "host:port" peers are told to dial; "": the listen address
  std::vector<std::string> seeds;  // "host:port" of nodes to join through
  // PEM files: the cluster's CA, this node's certificate (its name in the
  // SAN or CN must be the node's name) and key. use_certs_dir() fills them.
  std::string ca_file, cert_file, key_file;
  std::chrono::milliseconds tick{1000};        // heartbeat; a silent peer is down within 2 ticks
  size_t send_buffer_bytes = size_t{4} << 20;  // per peer (see above)
  // After traffic, the cluster's thread keeps polling its connections this
  // long (yielding the core between polls) before it sleeps, so an answer
  // that comes soon is read without waking a thread (as the BEAM's
  // schedulers spin before sleeping); it costs CPU while traffic trickles.
  // 0: sleep at once.
  std::chrono::microseconds busy_poll{200};
  // The loop to run the connections on: the node's event loop
  // (runtime::Runtime::event_loop().context(), run by the node's workers when
  // they are idle), so that a frame that arrives wakes one thread, which
  // delivers it and runs the process it woke, and an answer leaves from the
  // thread that ran its sender (no hand-off to a thread of the cluster's and
  // back). It must be running (or driven) until stop() returns. Set
  // busy_poll to 0 when the workers drive the loop: they must not spin in
  // it (an idle worker blocks there, which is what makes an answer cheap).
  // Null: the cluster runs a thread of its own.
  boost::asio::io_context* io = nullptr;
  GlobalConflict global_conflict = GlobalConflict::kExit;  // see GlobalConflict
  EtcdOptions etcd;  // global names in etcd, if it has endpoints (see EtcdOptions)
  std::function<void(const std::string& line)> log;  // default: standard error
  // Makes the shell of an operator who attached (called on the cluster's
  // thread, once per operator). Null: operators are refused ("this node does
  // not accept attach"). The shells run until the operator leaves or stop();
  // stop() waits for a line being answered, so a shell may call nodes().
  std::function<AttachShell()> attach_shell;
  size_t max_operators = 8;  // attached at once; beyond, refused

  // Remote spawn (see above). The runtime that owns the node given to
  // start() (null: no remote spawn either way); it must outlive the Cluster.
  runtime::Runtime* runtime = nullptr;
  // The most a peer's spawn may grant here; nullopt: peers' spawns are
  // refused ("this node takes no spawns from peers").
  std::optional<runtime::Capabilities> remote_spawn;
  // This node's observer snapshot (its JSON, docs/dashboard.md) for a peer
  // that asks (Cluster::observe): called on the cluster's thread, so keep it
  // quick (`rusm serve` answers from its sampler, at most twice a second).
  // Null: peers are told "no observer on this node".
  std::function<Result<std::string>()> observer;
  size_t max_peer_modules = 64;                      // shipped modules kept (LRU)
  size_t max_peer_module_bytes = size_t{64} << 20;   // the largest one taken
  size_t max_peer_module_total = size_t{256} << 20;  // all of them (LRU out past it)
};

// The files `rusm cluster ca` / `rusm cluster cert NAME` write into dir:
// ca.pem, NAME.pem and NAME.key.
void use_certs_dir(ClusterOptions& options, const std::string& dir, const std::string& name);

// The node id a node named `name` takes when none is configured: a hash of
// the name into 1..65535. Two names may collide; a cluster refuses a second
// node with an id it already has, so configure ids explicitly for large
// clusters.
uint16_t node_id_for(std::string_view name);

// What Cluster::nodes() reports about one peer.
struct NodeStatus {
  std::string name;
  uint16_t id = 0;
  std::string address;  // where it listens ("" if not known yet)
  bool up = false;
  uint64_t bytes_in = 0, bytes_out = 0, frames_in = 0, frames_out = 0;
};

class Cluster {
 public:
  // Starts listening, dials the seeds, and becomes `node`'s router (see
  // rusm/otp/router.h). The node's id, name and creation (NodeOptions) are
  // its identity in the cluster. Errors: unreadable or mismatched
  // certificates, an address that cannot be bound, a node id of 0.
  static Result<std::unique_ptr<Cluster>> start(otp::Node& node, ClusterOptions options);
  // stop().
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Leaves the cluster: the node stops routing (operations on remote pids
  // fail as "not connected"), every link and monitor to a remote process
  // fires with noconnection, connections close. Idempotent.
  void stop();

  uint16_t port() const;  // where it accepts peers
  std::vector<NodeStatus> nodes() const;
  std::optional<uint16_t> node_id(std::string_view name) const;

  // Asks peer `node` for its observer snapshot (ClusterOptions::observer
  // there): done runs once, on the cluster's thread or at once on this one,
  // with the snapshot's JSON or why not (unknown or unconnected node, it
  // went down, it has no observer, kMaxObserveRequests already waiting).
  void observe(const std::string& node, std::function<void(Result<std::string>)> done);

  // Test hooks: a partition. silence(peer) stops traffic both ways on the
  // connection to peer (it goes down after the heartbeat timeout, and is not
  // redialled) until resume(peer).
  void silence(const std::string& peer);
  void resume(const std::string& peer);
  // Test hook for the etcd registry: stops (or resumes) renewing this node's
  // lease, so that it expires as if the node were cut off from etcd.
  void pause_etcd_lease(bool paused);

  struct Impl;

 private:
  explicit Cluster(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace rusm::cluster
