// What one `rusm loadtest` run does: the mode, the target and every knob of
// the command line, as plain values (parsed in cli.cc, used by driver.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/result.h"

namespace rusm::loadtest {

enum class Mode {
  kHttp,  // requests and responses (keep-alive, or a new connection each: --close)
  kWs,    // WebSocket echo: one binary message in flight per connection
  kSse,   // held Server-Sent Events streams, events counted
  kConn,  // WebSocket churn: connect, upgrade, close, repeatedly
};

std::string_view mode_name(Mode mode);
// "req", "echo", "event", "conn": what one counted operation is.
std::string_view op_name(Mode mode);

// Where to connect, from the URL.
struct Target {
  bool tls = false;
  std::string host;  // as written (brackets stripped from IPv6)
  uint16_t port = 0;
  std::string path = "/";   // path and query, never empty
  std::string host_header;  // host[:port] as the Host header carries it
};

// Parses http://, https://, ws:// or wss:// URLs (the scheme only decides
// TLS; ws and conn modes speak WebSocket whatever it says). Errors name the
// URL and what is wrong with it.
Result<Target> parse_url(std::string_view url);

// The service level that --sweep keeps raising the rate against.
struct Sla {
  double min_achieved = 0.98;  // achieved / offered rate at least this
  double max_errors = 0.02;    // errors / (ops + errors) at most this
  double max_p99_ms = 250.0;   // p99 latency at most this
};

struct Options {
  Mode mode = Mode::kHttp;
  std::string url;
  Target target;
  unsigned connections = 0;  // 0 = the mode's default (see default_connections)
  double duration_s = 10.0;
  double warmup_s = 1.0;
  double rate = 0.0;  // ops/s over all connections; 0 = closed loop
  unsigned threads = 1;
  double timeout_s = 5.0;  // per connect, handshake, request or echo
  bool json = false;
  bool close = false;  // http: a new connection per request
  bool sweep = false;
  Sla sla;
  double sweep_factor = 1.5;  // rate multiplier between sweep levels
  unsigned sweep_max_levels = 20;
  bool insecure = false;  // TLS: do not verify the server's certificate
  std::string cacert;     // TLS: trust this PEM file instead of the system's
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value", sent as given
  std::string body;
  size_t message_size = 4;        // ws: payload bytes per message
  double sse_open_wait_s = 60.0;  // sse: how long to wait for every stream to open
};

unsigned default_connections(Mode mode);

}  // namespace rusm::loadtest
