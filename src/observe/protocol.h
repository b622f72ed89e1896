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

enum class CommandKind { kPing, kRun, kStop, kSubscribe, kUnsubscribe, kProcessInfo, kKill };

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
};

// Parses one client message. Errors name the problem: "not JSON (...)",
// "missing field 'type'", "field 'duration' must be a number in [0.1, 600]".
Result<Command> parse_command(std::string_view text);

// "<node.slot.generation>" as Pid::to_string prints it.
Result<otp::Pid> parse_pid(std::string_view text);

// {"type":"error","id":...,"message":...}
nlohmann::json error_message(const nlohmann::json& id, std::string_view message);

nlohmann::json process_info_json(const otp::ProcessInfo& info);
nlohmann::json percentiles_json(const Percentiles& p, double scale = 1.0);
// {"type":"snapshot", ...}; the table (if the snapshot has one and
// with_table) is capped at table_limit rows, busiest (by reductions) first.
nlohmann::json snapshot_json(const Snapshot& s, bool with_table, size_t table_limit = kTableLimit);

// A histogram to expose on /metrics, recorded in nanoseconds and exposed in
// seconds. `labels` is the inside of {...}, already escaped, or empty.
struct NamedHistogram {
  std::string name;  // "rusm_bench_latency_seconds"
  std::string help;
  std::string labels;
  HistogramSnapshot snapshot;
};

// Prometheus text format 0.0.4 for a snapshot plus extra histograms.
std::string format_prometheus(const Snapshot& s, const std::vector<NamedHistogram>& histograms);
// Escapes a label value (backslash, quote, newline).
std::string prometheus_escape(std::string_view value);

}  // namespace rusm::observe
