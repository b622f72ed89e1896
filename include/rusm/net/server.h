// The HTTP/1.1 + WebSocket + SSE + TLS server core (Boost.Beast's parser,
// asio::ssl on OpenSSL 3), serving routes with Handlers (handler.h).
//
// The server never creates threads: it runs on the asio::io_context its owner
// passes in and runs (one event loop per node; any number of threads may run
// it, each connection has a strand). Production rules it enforces, each with
// a configurable limit (Limits):
//   - keep-alive, pipelining answered in order, chunked request bodies,
//     Expect: 100-continue, HEAD, Connection: close;
//   - request smuggling shapes (Content-Length with Transfer-Encoding,
//     duplicate or bad Content-Length, a Transfer-Encoding other than
//     "chunked") -> 400 and close;
//   - header bytes (431), body size (413, checked before reading it), header
//     read timeout and idle timeout (the socket is dropped), maximum
//     connections (excess ones are closed at accept and counted), maximum
//     in-flight handlers per route and per server (503 + Retry-After), per
//     request deadline (504, and the handler's cancel hook is called);
//   - a handler that fails or throws -> 500; the server keeps serving.
//   - accept failing for want of descriptors (EMFILE) backs off instead of
//     spinning, and is counted; optionally a reserve descriptor turns
//     waiting clients away and the turned-away get a short 503
//     (Limits::shed_when_out_of_descriptors, refuse_with_503).
// Every rejection is counted per route and per limit (stats(), /metrics).
//
// Thread-safety: start/shutdown/stop from one thread (the owner); stats(),
// prometheus() and ports() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rusm/net/handler.h"
#include "rusm/result.h"

namespace boost::asio {
class io_context;
}

namespace rusm::net {

using Millis = std::chrono::milliseconds;

// Every limit has a safe default.
struct Limits {
  uint32_t header_bytes = 16 * 1024;        // request line + headers -> 431
  uint64_t body_bytes = 1024 * 1024;        // request body -> 413
  uint32_t body_chunk_bytes = 64 * 1024;    // largest chunk read_body delivers
  uint32_t write_buffer_bytes = 64 * 1024;  // per-connection write buffer high-water
  Millis header_timeout{10'000};            // first byte of a request to end of its head
  Millis idle_timeout{60'000};              // keep-alive wait; also a stalled read or write
  uint32_t max_connections = 10'000;        // open connections (HTTP and WebSocket)
  uint32_t max_in_flight = 1'024;           // handler invocations, whole server
  uint32_t route_max_in_flight = 256;       // default per route
  Millis deadline{30'000};                  // default per request (0: none)
  uint32_t retry_after_s = 1;               // Retry-After on 503
  uint64_t ws_message_bytes = 1024 * 1024;  // WebSocket message -> close 1009
  Millis shutdown_timeout{10'000};          // graceful shutdown: wait for in-flight
  // A connection turned away (over max_connections, or shed below) first
  // gets a short "503 Service Unavailable" written without waiting, then is
  // closed; off: it is just closed.
  bool refuse_with_503 = false;
  // Keep one descriptor in reserve. When accept fails for want of
  // descriptors (EMFILE, ENFILE), the accept loop backs off either way; with
  // this it also spends the reserve to accept one waiting client and turn it
  // away (counted in rejected_connections), so clients hear "busy" instead
  // of waiting in the backlog until they time out.
  bool shed_when_out_of_descriptors = false;
};

// What a route runs. The core only needs the handler; kind is for metrics,
// logs and the config (the Wasm glue creates handlers per kind).
enum class RouteKind : uint8_t { kHttp, kCgi, kWs, kSse, kStatic, kMetrics };
const char* route_kind_name(RouteKind k);

struct Route {
  std::string name;     // for metrics and logs; defaults to the pattern
  std::string method;   // "GET", ...; empty: any method
  std::string pattern;  // "/user/{id}/posts" (segment parameters), or a prefix
  bool prefix = false;  // pattern is a path prefix ("/static/")
  RouteKind kind = RouteKind::kHttp;
  std::shared_ptr<Handler> handler;
  Millis deadline{-1};         // -1: Limits::deadline; 0: none (streams, WebSockets)
  int32_t max_in_flight = -1;  // -1: Limits::route_max_in_flight
};

struct Listen {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see Server::ports)
  bool tls = false;
};

struct TlsFiles {
  std::string cert_file;  // PEM chain
  std::string key_file;   // PEM private key
  std::string client_ca;  // optional: require client certificates signed by this CA
};

struct ServerOptions {
  std::vector<Listen> listen;
  TlsFiles tls;  // needed if any Listen has tls
  Limits limits;
  std::vector<Route> routes;              // first match wins, in order
  std::string metrics_path = "/metrics";  // built-in Prometheus endpoint; empty: off
  // One JSON line per request, written from the connection's strand; empty:
  // off. Called concurrently from different strands: must be thread-safe.
  std::function<void(const std::string& line)> access_log;
  // Errors worth a log line (a handler failed, a trap) go here; default stderr.
  std::function<void(const std::string& line)> error_log;
};

// Counters of one route (or of the whole server), read with relaxed atomics.
struct RouteStats {
  std::string name;
  std::string kind;
  uint64_t requests = 0;
  uint64_t status[6] = {};  // [1] 1xx ... [5] 5xx; [0] aborted without a status
  int64_t in_flight = 0;
  uint64_t rejected_in_flight = 0;  // 503
  uint64_t rejected_body = 0;       // 413
  uint64_t deadline_exceeded = 0;   // 504 (or abort after the head was sent)
  uint64_t failed = 0;              // handler failed/threw (500 or abort)
  // Latency (head received -> response finished), cumulative buckets.
  static constexpr int kBuckets = 16;
  static const uint64_t kBucketMicros[kBuckets];  // upper bounds; the last is +Inf
  uint64_t latency[kBuckets] = {};
  uint64_t latency_sum_us = 0;
};

struct ServerStats {
  std::vector<RouteStats> routes;  // configured routes, then "(none)" for 404s
  int64_t open_connections = 0;
  uint64_t accepted = 0;
  uint64_t rejected_connections = 0;   // over max_connections
  uint64_t accept_errors = 0;          // accept() failed (EMFILE, ENFILE, ...): backed off
  uint64_t rejected_header_bytes = 0;  // 431
  uint64_t rejected_bad_request = 0;   // 400 (smuggling, malformed)
  uint64_t rejected_in_flight = 0;     // 503 over the server-wide limit
  uint64_t header_timeouts = 0;        // dropped: head not complete in time
  uint64_t idle_timeouts = 0;          // dropped: idle or stalled
  uint64_t tls_handshake_failures = 0;
  int64_t buffered_bytes = 0;  // bytes held in write buffers right now
  int64_t buffered_peak = 0;   // high-water mark of one connection's write buffer
  int64_t websockets = 0;      // open WebSocket connections
};

class Server {
 public:
  Server(boost::asio::io_context& ioc, ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads TLS files and binds every listener. A missing or bad certificate or
  // key is an error here ("tls.cert: /x.pem: No such file"), never at the
  // first request. Does not run the io_context.
  Status start();
  // Bound ports, in the order of options.listen.
  std::vector<uint16_t> ports() const;

  // Graceful: stop accepting, close idle connections, let in-flight exchanges
  // finish within Limits::shutdown_timeout (then cancel them), close
  // WebSockets with 1001. `done` runs (on the io_context) once every
  // connection is closed.
  void shutdown(std::function<void()> done = {});
  // Immediate: close everything now (cancel hooks run). Idempotent. The
  // connections close on their strands, so the owner keeps running the
  // io_context until stats().open_connections is 0; destroying the
  // io_context earlier leaks the exchanges still in progress.
  void stop();
  // SIGTERM/SIGINT -> shutdown(done). Installs an asio::signal_set on the
  // io_context (the owner must not handle these signals otherwise).
  void shutdown_on_signals(std::function<void()> done = {});

  ServerStats stats() const;
  // Prometheus text exposition of stats() (what metrics_path serves).
  std::string prometheus() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

// Serves regular files under `root` (never outside it: the path is resolved
// beneath a directory descriptor with openat2(RESOLVE_BENEATH), so "..",
// encoded "%2e%2e" and symlinks that lead out are refused), with ETag /
// If-None-Match (304), single byte ranges (206 / 416), Content-Type by
// extension, and sendfile on plain TCP. A directory serves its index.html.
Result<std::shared_ptr<Handler>> make_static_handler(const std::string& root);

}  // namespace rusm::net
