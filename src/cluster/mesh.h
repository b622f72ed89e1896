// The mesh of a node: one connection per peer node, kept up.
//
// A Mesh listens for peers (address:port; port 0 takes an ephemeral port,
// reported by port()), dials its seeds, and learns of further members by
// gossip: as soon as a connection is up, each side sends a PEERS frame with
// itself and every peer it has up (name + listen address), and tells its other
// peers about the newcomer, so every member dials every other and the nodes
// form a full mesh.
//
// Reconnection: a dial target (a seed, or an address learned by gossip) that
// failed is dialled again after a backoff that starts at backoff_initial and
// doubles up to backoff_max (defaults 20 ms and 2 s); it resets when a
// connection through it comes up. A peer that went down is dialled again,
// first after backoff_initial. Targets are kept forever.
//
// Admission: a peer is refused (REFUSE with the reason) when it claims this
// node's own name or id, or a node id that another connected peer already
// has. A second connection to a peer already connected is resolved the same
// way on both ends: the connection dialled by the node with the smaller name
// stays; a peer that reconnects with a new creation (a restarted node)
// replaces its old connection (node down, then node up). A connection
// replaced by the preferred one of a simultaneous dial is swapped silently.
//
// Operators: a connection whose HELLO says it is an operator's (`rusm
// attach`, frame.h) is admitted when attach_shell is set and fewer than
// max_operators are attached; it is never a peer (no PEERS, no on_node_up,
// not in peers()), its SHELL_LINEs go to an AttachSession (attach.h) and any
// other frame from it closes it with a REFUSE. Peers' SHELL_LINE and
// SHELL_RESULT frames are dropped (logged).
//
// Threading: create() may be called from any thread; everything else must be
// called on the io_context's thread, where every callback runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cluster/attach.h"
#include "cluster/connection.h"
#include "cluster/frame.h"
#include "rusm/cluster/cluster.h"
#include "rusm/result.h"

namespace rusm::cluster {

struct MeshOptions {
  std::string name;  // this node's name: must be its certificate's name
  uint16_t node_id = 0;
  uint32_t creation = 0;
  TlsFiles tls;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: ephemeral
  // What peers should dial to reach us; default listen_host:bound port.
  std::string advertise;
  std::vector<std::string> seeds;  // "host:port"
  std::chrono::milliseconds tick{1000};
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::microseconds busy_poll{200};  // ConnectionOptions::busy_poll
  std::chrono::milliseconds backoff_initial{20};
  std::chrono::milliseconds backoff_max{2000};
  size_t send_limit = size_t{4} << 20;
  uint32_t max_frame = kDefaultMaxFrame;
  // Incoming connections still in their handshake; beyond, new ones are closed.
  size_t max_pending = 64;
  uint16_t protocol_version = kProtocolVersion;      // test hook
  std::function<void(const std::string& line)> log;  // default: stderr
  // Operators (see above): the shell of each (null: attach refused), and how
  // many may be attached at once.
  std::function<AttachShell()> attach_shell;
  size_t max_operators = 8;
};

struct PeerInfo {
  std::string name;
  uint16_t node_id = 0;
  uint32_t creation = 0;
  std::string address;  // its advertised listen address ("" until gossiped)
  bool up = false;
  ConnectionStats stats;  // of the current connection
};

class Mesh : public std::enable_shared_from_this<Mesh> {
 public:
  using SendResult = Connection::SendResult;
  struct Callbacks {
    std::function<void(const PeerInfo& peer)> on_node_up;
    std::function<void(const std::string& peer, const std::string& reason)> on_node_down;
    // Every frame from an up peer except TICK and PEERS.
    std::function<void(const std::string& peer, Frame&& frame)> on_frame;
    // The peer's send buffer fell below the limit after a kWouldBlock.
    std::function<void(const std::string& peer)> on_drain;
  };

  // Loads the certificates, binds the listening socket (port() is valid on
  // return) and starts accepting and dialling on `io`. Errors: unusable TLS
  // files, an address that cannot be bound, a bad seed.
  static Result<std::shared_ptr<Mesh>> create(boost::asio::io_context& io, MeshOptions options,
                                              Callbacks callbacks);
  Mesh(boost::asio::io_context& io, MeshOptions options, Callbacks callbacks);
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;
  ~Mesh();

  uint16_t port() const { return port_; }
  const std::string& name() const { return options_.name; }
  const std::string& advertised() const { return advertise_; }

  // Sends to an up peer (kDown when it is not up). See Connection::send and
  // send_control for the buffer limits.
  SendResult send(const std::string& peer, const Frame& frame);
  SendResult send_control(const std::string& peer, const Frame& frame);
  // Writes what is queued for an up peer now (Connection::flush_now).
  void flush(const std::string& peer);

  // Every peer known by name (up or down), sorted by name.
  std::vector<PeerInfo> peers() const;
  bool is_up(const std::string& peer) const;
  // Dials another address ("host:port"), kept as a target like a seed.
  Status connect(const std::string& address);

  // Test hooks simulating a partition from `peer`: silence() silences the
  // current connection (both ends then time out) and refuses/does not dial
  // that peer until resume(), which dials it again at once.
  void silence(const std::string& peer);
  void resume(const std::string& peer);

  // Operators attached now.
  size_t operators() const { return operators_.size(); }
  // Refuses operators from now on, disconnects those attached, and hands
  // over their sessions (stopped, maybe still answering a line) for the
  // caller to join off this thread: a shell may be waiting for this thread
  // (Cluster::nodes()).
  std::vector<std::shared_ptr<AttachSession>> close_operators();

  // Closes the listener, every connection and timer; no callback runs after.
  // Waits for the sessions of operators still attached (see
  // close_operators()).
  void stop();

 private:
  struct Peer {
    std::string name;
    uint16_t node_id = 0;
    uint32_t creation = 0;
    std::string address;
    std::shared_ptr<Connection> conn;  // current connection (up), or null
  };
  struct Target {
    std::string address;
    std::string name;  // learned from gossip or the first HELLO; "" for an unknown seed
    bool seed = false;
    std::chrono::milliseconds backoff{0};
    std::shared_ptr<Connection> conn;  // dial in progress
    std::unique_ptr<boost::asio::steady_timer> timer;
    bool scheduled = false;
    unsigned failures = 0;  // dials in a row that did not come up; past the first, not logged
  };

  Status listen();
  void accept_next();
  ConnectionOptions connection_options() const;
  Connection::Callbacks connection_callbacks();
  Status add_target(const std::string& address, const std::string& name, bool seed);
  void maintain(Target& t);
  void dial(Target& t);
  Target* target_of(const Connection& c);
  std::optional<std::string> admit(Connection& c, const Hello& h);
  std::optional<std::string> admit_operator(Connection& c, const Hello& h);
  void operator_up(Connection& c);
  void operator_frame(Connection& c, Frame&& f);
  void reap_sessions();
  void on_up(Connection& c, const Hello& h);
  void on_down(Connection& c, const std::string& reason);
  void on_frame(Connection& c, Frame&& f);
  void learn(const std::string& from, const Peers& p);
  Peers gossip() const;
  PeerInfo info(const Peer& p) const;
  bool preferred(const Connection& c) const;
  void log(const std::string& line) const;
  std::shared_ptr<Connection> find_conn(const Connection& c);

  boost::asio::io_context& io_;
  MeshOptions options_;
  Callbacks callbacks_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::string advertise_;
  bool stopped_ = false;
  std::map<std::string, Peer> peers_;
  std::map<std::string, Target> targets_;        // by address
  std::set<std::shared_ptr<Connection>> conns_;  // every live connection
  std::set<std::string> silenced_;
  struct Operator {
    std::shared_ptr<Connection> conn;
    std::shared_ptr<AttachSession> session;
  };
  std::map<const Connection*, Operator> operators_;
  std::vector<std::shared_ptr<AttachSession>> retired_;  // stopped, maybe still running
  bool operators_closed_ = false;
};

}  // namespace rusm::cluster
