// rusm.toml: the configuration of `rusm serve` (listeners, TLS, routes,
// limits, observer, access log), parsed with toml++ into a typed AppConfig.
//
// Every error is one line that names the file, the line and the key:
//   site/rusm.toml:14: route[2].kind: unknown kind "htp" (http, cgi, ws, sse, static)
//   site/rusm.toml:3: limits.body_byte: unknown key (did you mean "body_bytes"?)
// Unknown keys are errors. Paths (modules, static directories, TLS files,
// the access log) are resolved relative to the file's directory.
//
// The key reference (config_keys) is data next to the parser: the parser
// checks keys against it, and `rusm serve --help` and docs/serve.md are
// generated from it, so they cannot drift apart.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/net/server.h"
#include "rusm/result.h"

namespace rusm::net {

struct RouteConfig {
  std::string name;    // defaults to "METHOD path"
  std::string method;  // empty: any
  std::string path;    // a pattern ("/user/{id}") or, if prefix, a prefix
  bool prefix = false;
  RouteKind kind = RouteKind::kHttp;
  std::string module;              // absolute path of the .wasm (http, cgi, ws, sse)
  std::string entry;               // export to run ("handle"; cgi: "_start")
  std::vector<std::string> allow;  // capability grants, by name
  uint64_t memory_bytes = 0;       // 0: the runtime's default
  std::optional<Millis> deadline;  // unset: limits.deadline (ws/sse: none)
  std::optional<int32_t> max_in_flight;
  std::string dir;  // static: absolute path of the directory
  // ws: origins whose pages may open this WebSocket ("scheme://host[:port]",
  // lower-case, or "*"). Empty: same origin only. A request without an Origin
  // header (not from a browser) is always allowed.
  std::vector<std::string> origins;
  int line = 0;  // where the route is defined (for later errors)
};

struct ObserverConfig {
  bool enabled = false;  // off by default
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

// [kv]: the node's durable key-value store (docs/kv.md), which routes reach
// through `allow = ["kv:BUCKET"]`.
struct KvConfig {
  std::string path;  // absolute; "" (no [kv] path): .rusm/kv.db beside rusm.toml
  uint64_t max_value = 1u << 20;
  uint64_t max_size = 0;  // bytes the store's file may grow to; 0: no bound
};

// [fetch]: guests' outbound HTTP(S) (docs/fetch.md), which routes reach
// through `allow = ["net:HOST:PORT"]`.
struct FetchConfig {
  std::string ca_file;  // absolute; "": the system's trust store only
  Millis timeout = Millis(30'000);
  uint64_t max_response = 64ull << 20;
};

struct AccessLogConfig {
  bool enabled = false;  // off by default
  std::string path;      // "-": standard output; otherwise an absolute path
};

// [cluster]: this node's membership in a cluster (docs/cluster.md). Absent:
// the node runs alone.
struct ClusterConfig {
  bool enabled = false;
  std::string name;                // this node's name; must match its certificate
  uint16_t node_id = 0;            // the id in its pids; 0: derived from the name
  std::string host = "127.0.0.1";  // where peers reach this node
  uint16_t port = 0;
  std::vector<Listen> seeds;              // nodes to join through
  std::string certs;                      // absolute: ca.pem, NAME.pem and NAME.key
  Millis tick = Millis(1000);             // heartbeat; a silent peer is down within 2 ticks
  uint64_t send_buffer_bytes = 4 << 20;   // per peer; past it sends to that node fail
  bool attach = true;                     // operators may attach (`rusm attach`)
  uint32_t busy_poll_us = 200;            // ClusterOptions::busy_poll
  bool remote_spawn = true;               // peers may spawn here
  std::vector<std::string> remote_allow;  // the most a peer's process gets (capability names)
  std::vector<std::string> etcd;          // endpoints keeping global names; empty: every node
  std::string etcd_prefix = "rusm";
  Millis etcd_lease = Millis(5000);  // a dead node's names outlive it at most this
};

struct AppConfig {
  std::string file;            // the file it came from
  std::vector<Listen> listen;  // plain and TLS listeners
  TlsFiles tls;                // absolute paths
  Limits limits;
  std::string metrics_path = "/metrics";
  std::vector<RouteConfig> routes;
  ObserverConfig observer;
  AccessLogConfig access_log;
  ClusterConfig cluster;
  KvConfig kv;
  FetchConfig fetch;
};

// Reads and validates `path`. Module files and static directories must exist.
Result<AppConfig> load_config(const std::string& path);
// Parses `text` as if read from `path` (for messages and relative paths).
Result<AppConfig> parse_config(std::string_view text, const std::string& path);

// One key of rusm.toml.
struct ConfigKey {
  const char* table;  // "" (top level), "tls", "limits", "observer", "access_log", "cluster",
                      // "kv", "fetch", "route"
  const char* key;
  const char* type;           // "string", "size", "duration", "integer", "[string]", "address", ...
  const char* default_value;  // as written in the file; "" if none
  const char* doc;            // one sentence
};
std::span<const ConfigKey> config_keys();
// The reference as Markdown (docs/serve.md) and as plain text (--help).
std::string config_reference_markdown();
std::string config_reference_text();

// "16K", "1M", "2G" or a plain number of bytes; "500ms", "10s", "2m", "1h".
std::optional<uint64_t> parse_size(std::string_view s);
std::optional<Millis> parse_duration(std::string_view s);

// A web origin in the form browsers send ("https://app.example.com:8443"),
// lower-cased, without a default port (http 80, https 443); "*" stays "*".
// Anything else (a path, userinfo, another scheme, "null") is an error.
Result<std::string> normalize_origin(std::string_view origin);

}  // namespace rusm::net
