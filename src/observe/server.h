// The node's observer: the dashboard's static files, the Prometheus endpoint
// and the dashboard protocol (docs/dashboard.md), as routes on a net::Server
// (include/rusm/net/server.h), which owns the HTTP and WebSocket plumbing:
// keep-alive, header and body limits, header and idle timeouts, the
// connection limit, the accept back-off when descriptors run out, and RFC
// 6455.
//
//   GET /            the dashboard: index.html and the files beside it, from a
//                    table read once at start (static_files.h)
//   GET /metrics     Prometheus text format (format_prometheus)
//   GET /api/hello   the hello message as JSON (for scripts and health checks)
//   GET /ws          WebSocket: snapshots out, commands in (protocol.h)
//
// Every listening socket is a trust boundary. Each request passes the access
// policy (access.h: Host, Origin, the per-run token) before any handler acts:
// every route is wrapped by it, and a prefix route on "/" catches every path
// the others do not, so no request reaches the server without the check.
// Commands that act (kill, run, stop) need the token, observation does not on
// loopback. Every peer is bounded (ServerLimits): connections are capped (the
// excess is closed at accept), a request must arrive within the idle timeout,
// a WebSocket client that takes nothing for that long is dropped
// (WebSocket::abort), and its outgoing queue is bounded (send_queue.h):
// snapshots are skipped for a slow reader, and one that lets replies or
// events pile up is disconnected. Reading a client's commands pauses while
// its replies wait, so a client that never reads cannot make the server hold
// more than a few replies for it.
//
// The server runs on the io_context given in ServerOptions::io (the node's
// event loop, as `rusm serve` does), or on one I/O thread of its own. Bad
// requests get a 4xx with a one-line reason, bad WebSocket messages an
// {"type":"error"} reply; neither affects other clients or the node.
//
// Thread-safety: start/stop from one thread; broadcast and stats from any.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "observe/access.h"
#include "observe/protocol.h"
#include "observe/send_queue.h"
#include "observe/shell.h"
#include "rusm/observe/sampler.h"
#include "rusm/otp/node.h"
#include "rusm/result.h"

namespace boost::asio {
class io_context;
}

namespace rusm::observe {

// What the server asks of its host for commands beyond the observed node
// (benchmark runs). Every method may be called from the I/O thread or the
// sampler thread, so implementations must be thread-safe and quick.
class Controller {
 public:
  virtual ~Controller() = default;
  virtual nlohmann::json scenarios() = 0;                // [{"name":..., "summary":...}, ...]
  virtual Status run(const Command& run) = 0;            // starts a run in the background
  virtual Status stop() = 0;                             // asks the current run to stop
  virtual nlohmann::json bench_state() = 0;              // goes into every snapshot as "bench"
  virtual std::vector<NamedHistogram> histograms() = 0;  // extra /metrics histograms
};

// Bounds on what one peer, and all of them together, can make the server hold.
struct ServerLimits {
  size_t max_connections = 64;  // HTTP and WebSocket together; the excess is closed at accept
  // A request (header and body) must arrive in this time, a keep-alive
  // connection may sit idle this long, and a WebSocket client must take each
  // message in this time and answer the ping sent after half of it.
  std::chrono::milliseconds idle_timeout{30'000};
  SendQueueLimits queue;         // per WebSocket client
  size_t pause_reading_at = 32;  // stop reading a client's commands while this many messages wait
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 4000;    // 0 picks a free port
  std::string assets_dir;  // empty: no static files (404 with a hint)
  AccessOptions access;    // an empty token: start() makes one (generate_token)
  ServerLimits limits;
  // Who this node is, for the shell's `nodes` ({"type":"shell"}; shell.h).
  ShellOptions shell;
  // Another node's snapshot, through this one ({"type":"observe_node"}):
  // asks peer `node` and calls done once, on any thread, with its JSON or
  // why not. Null: the node is in no cluster (the command says so).
  std::function<void(const std::string& node, std::function<void(Result<std::string>)> done)>
      observe_node;
  // The event loop to serve on (the node's; it must be running and outlive
  // the server); null: the server runs one I/O thread of its own.
  boost::asio::io_context* io = nullptr;
};

class Server {
 public:
  // node and sampler must outlive the server; controller may be null.
  Server(otp::Node& node, Sampler& sampler, Controller* controller, ServerOptions options);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Reads the static files, binds and starts the I/O thread. Returns the
  // bound port, or an error naming the address ("127.0.0.1:4000: Address
  // already in use") or the option that was wrong (a bad token or
  // --allow-host, an assets folder that is not a dashboard build).
  Result<uint16_t> start();
  // Closes every connection and joins the I/O thread. Idempotent.
  void stop();

  // Sends a JSON text message to every WebSocket client.
  void broadcast(std::string text);

  // After a successful start: the URL to open (with the token) and the policy.
  std::string url() const;
  const AccessPolicy& policy() const;
  // Connection and queue counters (also on /metrics as rusm_dashboard_*).
  ServerStats stats() const;

  struct Impl;

 private:
  // Declared before impl_: handlers still queued when the server is
  // destroyed may hold the last reference to Impl, and are destroyed with
  // the io_context, never the other way round.
  std::unique_ptr<boost::asio::io_context> own_io_;
  std::thread thread_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rusm::observe
