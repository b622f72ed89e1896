// The node's HTTP + WebSocket server: the dashboard's static assets, the
// Prometheus endpoint and the dashboard protocol (docs/dashboard.md).
//
//   GET /            index.html from the assets directory (and any file under it)
//   GET /metrics     Prometheus text format (format_prometheus)
//   GET /api/hello   the hello message as JSON (for scripts and health checks)
//   GET /ws          WebSocket: snapshots out, commands in (protocol.h)
//
// One I/O thread runs Boost.Asio; nothing it does blocks on the node except
// Node::info/exit/processes, which are cheap. Bad requests get a 4xx with a
// one-line reason, bad WebSocket messages an {"type":"error"} reply; neither
// affects other clients or the node. Binds 127.0.0.1 unless told otherwise:
// the WebSocket can kill processes, so it is not for untrusted networks.
//
// Thread-safety: start/stop from one thread; broadcast from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "observe/protocol.h"
#include "rusm/observe/sampler.h"
#include "rusm/otp/node.h"
#include "rusm/result.h"

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

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 4000;    // 0 picks a free port
  std::string assets_dir;  // empty: no static files (404 with a hint)
};

class Server {
 public:
  // node and sampler must outlive the server; controller may be null.
  Server(otp::Node& node, Sampler& sampler, Controller* controller, ServerOptions options);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O thread. Returns the bound port, or an error
  // naming the address ("127.0.0.1:4000: Address already in use").
  Result<uint16_t> start();
  // Closes every connection and joins the I/O thread. Idempotent.
  void stop();

  // Sends a JSON text message to every WebSocket client.
  void broadcast(std::string text);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rusm::observe
