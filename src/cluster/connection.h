// One mutually authenticated TLS 1.3 connection between two rusm nodes.
//
// Life of a connection:
//
//   kConnecting  (dialer) resolving and connecting the TCP socket
//   kTls         TLS handshake; both sides present a certificate signed by the
//                cluster CA and verify the other's (no certificate, or one of
//                another CA, fails here)
//   kHello       HELLO exchange. The dialer sends its HELLO first; the
//                acceptor checks it and answers with its own HELLO (accepted)
//                or REFUSE (then closes); the dialer checks the answer the
//                same way. A check refuses when the protocol versions differ
//                ("protocol version X, this node speaks Y"), when the announced
//                node name is not the certificate's name (its SAN DNS names, or
//                its CN when it has no SAN), or when the owner's on_hello says
//                so (a duplicate node id, a second connection to one peer).
//                An operator (`rusm attach`) dials with node id 0 and
//                kHelloOperator in its HELLO's flags (one without the other is
//                refused); an acceptor that admits it answers with its own
//                HELLO carrying kHelloOperator, and a dialer checks that its
//                answer carries the flag exactly when it asked as an operator
//                ("does not accept attach" otherwise).
//   kUp          frames flow; on_up has run
//   kDown        closed; on_down has run exactly once, whatever the state was
//
// Heartbeats. A timer runs every tick/4. While up, a connection queues a TICK
// when it has sent nothing for tick/4 and has nothing buffered, so a live peer
// hears from us at least every 1/2 tick. A peer from which nothing (not one
// byte) arrived for 3/2 tick is declared down; the check runs every tick/4, so
// a peer that falls silent is declared down within 7/4 tick of its last
// bytes: within 2 ticks, with a whole tick of slack for a healthy but loaded
// peer's scheduling delays (half a tick flapped 200 ms ticks on a busy
// 2-core machine). Before kUp, the same timer enforces handshake_timeout.
//
// Back-pressure. Outgoing frames are encoded into one buffer and written with
// one async_write once the io thread has run the handlers already queued
// (so frames queued by one batch of handlers share a TLS record and a
// sendto), or, while a write is in flight, when it completes (two buffers
// swap, so steady-state sending allocates nothing). send() refuses a frame (kWouldBlock, nothing
// queued) while the buffered bytes are at or above send_limit, and on_drain
// runs once they fall below it again. send_control() (EXIT, LINK, DOWN, ...:
// signals that must not be dropped) is accepted up to 4 x send_limit; beyond
// that the peer is not reading and the connection is declared down, so a stuck
// peer never grows our memory without bound.
//
// Threading: a Connection lives on one io_context, run by one thread. Every
// method must be called on that thread, and every callback runs there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cluster/frame.h"
#include "rusm/result.h"

namespace rusm::cluster {

// The PEM files of a node: the cluster's CA, this node's certificate (its
// SAN DNS name or CN is the node's name) and its private key.
struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// A TLS 1.3-only context for both roles, requiring and verifying the peer's
// certificate against the CA. Errors name the file that was unusable.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const TlsFiles& files);

struct ConnectionOptions {
  // This node's identity, sent in HELLO.
  std::string node_name;
  uint16_t node_id = 0;
  uint32_t creation = 0;
  uint32_t flags = 0;
  // The version we announce and require; differs from kProtocolVersion only
  // in tests.
  uint16_t protocol_version = kProtocolVersion;
  std::chrono::milliseconds tick{1000};
  // Bound on kConnecting + kTls + kHello.
  std::chrono::milliseconds handshake_timeout{5000};
  size_t send_limit = size_t{4} << 20;
  uint32_t max_frame = kDefaultMaxFrame;
  // After it sent or received frames, the connection keeps the io thread
  // polling (epoll without blocking, yielding the core to whatever else is
  // runnable between polls) for this long, so that an answer arriving soon
  // is read without the cost of waking a sleeping thread, as the BEAM's
  // schedulers busy-wait before sleeping. 0: block at once.
  std::chrono::microseconds busy_poll{200};
  // Answer every TICK received with a TICK (when nothing else is queued). An
  // operator's client sets it: it does not know the node's tick, and the
  // node's heartbeats then keep the idle attach alive.
  bool echo_ticks = false;
  // Why a connection was refused or went down; default: stderr.
  std::function<void(const std::string& line)> log;
};

struct ConnectionStats {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Role : uint8_t { kDialer, kAcceptor };
  enum class State : uint8_t { kConnecting, kTls, kHello, kUp, kDown };
  enum class SendResult : uint8_t {
    kOk,          // queued
    kWouldBlock,  // not queued: the buffer is full, wait for on_drain
    kTooLarge,    // not queued: above max_frame
    kDown,        // not queued: the connection is not up (or just went down)
  };

  struct Callbacks {
    // Admission, after the version and certificate-name checks passed: return
    // a reason to refuse the peer, or nullopt to accept it.
    std::function<std::optional<std::string>(Connection&, const Hello&)> on_hello;
    std::function<void(Connection&, const Hello&)> on_up;
    // Every frame after the handshake except TICK.
    std::function<void(Connection&, Frame&&)> on_frame;
    // Exactly once per connection, also for one that never came up.
    std::function<void(Connection&, const std::string& reason)> on_down;
    std::function<void(Connection&)> on_drain;
  };

  // Dials host:port. The connection starts on the io_context (no callback
  // runs before this returns).
  static std::shared_ptr<Connection> dial(boost::asio::io_context& io,
                                          std::shared_ptr<boost::asio::ssl::context> tls,
                                          std::string host, uint16_t port,
                                          ConnectionOptions options, Callbacks callbacks);
  // Takes an accepted TCP socket and runs the server side of the handshake.
  static std::shared_ptr<Connection> accept(boost::asio::io_context& io,
                                            std::shared_ptr<boost::asio::ssl::context> tls,
                                            boost::asio::ip::tcp::socket socket,
                                            ConnectionOptions options, Callbacks callbacks);

  Connection(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
             boost::asio::ip::tcp::socket socket, Role role, ConnectionOptions options,
             Callbacks callbacks);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // A data frame (SEND, SEND_NAMED, PEERS): refused while the buffer is full.
  SendResult send(const Frame& frame);
  // A control frame (EXIT, LINK, UNLINK, MONITOR, DEMONITOR, DOWN): accepted up
  // to 4 x send_limit, beyond which the connection goes down (kDown).
  SendResult send_control(const Frame& frame);

  // Starts writing what is queued now rather than after the handlers already
  // queued on the io thread (for an owner that has just queued a whole
  // burst); nothing happens while a write is in flight or nothing is queued.
  void flush_now() { flush(); }

  // Closes the connection (on_down runs with `reason`) unless already down.
  void close(const std::string& reason);
  // Sends REFUSE with `reason` (the peer logs it), then closes as close().
  void refuse(const std::string& reason);
  // No callback runs any more (used when the owner goes away before the
  // connection's last handler). Safe to call from inside a callback.
  void detach();

  // Test hooks simulating a partition: silence() stops writing (frames still
  // queue, within the limits) and discards every received byte, so both ends
  // time out. resume() lifts it; a connection that discarded bytes has lost
  // its framing and is closed.
  void silence();
  void resume();
  bool silenced() const { return silenced_; }
  // Test hook: stop/restart reading from the socket (a peer that does not read).
  void hold_reads(bool hold);
  // Lowers the bound on incoming frames from here on (an operator's
  // connection, whose lines are short).
  void limit_incoming_frames(uint32_t max_frame) { decoder_.set_max_frame(max_frame); }

  Role role() const { return role_; }
  State state() const { return state_; }
  bool up() const { return state_ == State::kUp; }
  // The peer's HELLO (valid once up).
  const Hello& peer() const { return peer_; }
  // An operator's attach rather than a link between two nodes (known once
  // the peer's HELLO was accepted; on the acceptor, from on_hello on).
  bool is_operator() const { return (peer_.flags & kHelloOperator) != 0; }
  // The names in the peer's certificate (after TLS).
  const std::vector<std::string>& peer_cert_names() const { return cert_names_; }
  // "host:port" of the other end of the TCP connection.
  const std::string& remote_address() const { return remote_; }
  const ConnectionStats& stats() const { return stats_; }
  // Bytes queued or being written.
  size_t buffered() const { return out_.size() + wbuf_.size(); }

 private:
  using Clock = std::chrono::steady_clock;

  void start_dial(std::string host, uint16_t port);
  void start_tls();
  void on_tls_done();
  void start_read();
  void on_read(size_t n);
  void handle(Frame&& f);
  void check_hello(const Hello& h);
  void go_up();
  void queue(const Frame& f);
  void keep_polling(Clock::time_point now);
  void poll_once();
  void schedule_flush();
  void flush();
  void arm_timer();
  void on_timer();
  // Declares the connection down; with `refuse`, a REFUSE carrying it is
  // flushed first (bounded by a short timer).
  void fail(const std::string& reason, std::optional<std::string> refuse = std::nullopt);
  void close_socket();
  void log(const std::string& line) const;
  std::string who() const;

  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  Role role_;
  State state_;
  ConnectionOptions options_;
  Callbacks callbacks_;

  Decoder decoder_;
  std::string out_;   // frames waiting for the next write
  std::string wbuf_;  // the write in flight
  bool writing_ = false;
  bool flush_posted_ = false;  // a flush() is posted to the io thread
  bool polling_ = false;       // a poll_once() is posted (see busy_poll)
  Clock::time_point poll_until_;
  bool reading_ = false;
  bool hold_reads_ = false;
  bool want_drain_ = false;
  bool silenced_ = false;
  bool discarded_ = false;
  bool closing_ = false;  // down, flushing a REFUSE before closing the socket
  bool detached_ = false;

  Hello peer_;
  std::vector<std::string> cert_names_;
  std::string remote_;
  Clock::time_point started_;
  Clock::time_point last_sent_;
  Clock::time_point last_received_;
  ConnectionStats stats_;
};

const char* to_string(Connection::State s);

}  // namespace rusm::cluster
