// The dashboard's wire formats: commands a WebSocket client sends (parsed and
// validated here, so the server only acts on well-formed ones), the JSON
// encodings of snapshots and process info, and the Prometheus text
// exposition. docs/dashboard.md is the reference for both directions.
//
// Everything here is pure (no I/O, no node access) and never throws: bad
// input comes back as an Error whose message says which field was wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rusm/observe/histogram.h"
#include "rusm/observe/sampler.h"
#include "rusm/otp/info.h"
#include "rusm/otp/pid.h"
#include "rusm/result.h"

namespace rusm::observe {

inline constexpr int kProtocolVersion = 1;
// Rows of the process table sent per snapshot; the rest are counted only.
inline constexpr size_t kTableLimit = 5000;
// Longest command accepted on the WebSocket.
inline constexpr size_t kMaxCommandBytes = 16 * 1024;

enum class CommandKind {
  kPing,
  kRun,
  kStop,
  kSubscribe,
  kUnsubscribe,
  kProcessInfo,
  kKill,
  kShell,
  kShellCancel,
  kObserveNode
};

struct Command {
  CommandKind kind = CommandKind::kPing;
  nlohmann::json id;  // echoed in the reply; null if the client sent none
  // run
  std::string scenario;
  double duration_s = 3;
  unsigned threads = 0;
  bool baselines = false;  // also run the scenario's baselines (BEAM, ...)
  // subscribe / unsubscribe
  std::string topic;  // "processes"
  // process_info / kill
  otp::Pid pid;
  // shell: one command line for the attach shell's core (shell.h)
  std::string line;
  // observe_node: another node of the cluster, by name
  std::string node;
};

// Parses one client message. Errors name the problem: "not JSON (...)",
// "missing field 'type'", "field 'duration' must be a number in [0.1, 600]".
Result<Command> parse_command(std::string_view text);

// "<node.slot.generation>" as Pid::to_string prints it.
Result<otp::Pid> parse_pid(std::string_view text);

// j.dump(), with invalid UTF-8 (a guest's label, a client's bad bytes)
// replaced instead of thrown.
std::string to_text(const nlohmann::json& j);

// {"type":"error","id":...,"message":...}
nlohmann::json error_message(const nlohmann::json& id, std::string_view message);

nlohmann::json process_info_json(const otp::ProcessInfo& info);
nlohmann::json percentiles_json(const Percentiles& p, double scale = 1.0);
// A serving node's per-route figures: {"window_s", "routes": [{"name",
// "kind", "requests", "requests_per_s", "status": {"2xx": n, ...},
// "status_per_s", "in_flight", "rejected": {...}, "failed", "p50_ms",
// "p99_ms"}], "open_connections", "websockets", "accepted", "rejected"};
// a percentile is null when no request finished in the window.
nlohmann::json serving_json(const Serving& v);
// {"type":"snapshot", ...}, with "serving" when the node serves, "cluster"
// ({"self": {"name", "id"}, "nodes": [{"name", "id", "address", "up",
// "bytes_in", "bytes_out", "in_bytes_per_s", "out_bytes_per_s"}]}) when it is
// in a cluster; the table (if the snapshot has one
// and with_table) is capped at table_limit rows, busiest (by reductions) first.
nlohmann::json snapshot_json(const Snapshot& s, bool with_table, size_t table_limit = kTableLimit);

// A histogram to expose on /metrics, recorded in nanoseconds and exposed in
// seconds. `labels` is the inside of {...}, already escaped, or empty.
struct NamedHistogram {
  std::string name;  // "rusm_bench_latency_seconds"
  std::string help;
  std::string labels;
  HistogramSnapshot snapshot;
};

// The dashboard server's own counters (Server::stats).
struct ServerStats {
  int64_t connections = 0;      // open HTTP and WebSocket connections
  int64_t websockets = 0;       // of which WebSocket clients
  int64_t queued_bytes = 0;     // bytes waiting in WebSocket send queues
  int64_t queued_messages = 0;  // messages waiting in WebSocket send queues
  uint64_t refused_total = 0;   // connections closed at once: over the limit or out of descriptors
  uint64_t accept_errors_total = 0;    // accept() failures (EMFILE, ...)
  uint64_t forbidden_total = 0;        // requests refused by the access policy (400/401/403)
  uint64_t denied_commands_total = 0;  // control commands without the token
  uint64_t slow_clients_total = 0;     // WebSocket clients disconnected for not reading
  uint64_t timeouts_total = 0;         // connections closed by the idle timeout
};

// Prometheus text format 0.0.4 for a snapshot plus extra histograms.
std::string format_prometheus(const Snapshot& s, const std::vector<NamedHistogram>& histograms);
// rusm_dashboard_* lines for the server's counters.
std::string format_server_metrics(const ServerStats& s);
// Escapes a label value (backslash, quote, newline).
std::string prometheus_escape(std::string_view value);

}  // namespace rusm::observe
