// The outcome of a load run: counts, rate, latency, errors by kind, client
// CPU, and its two renderings (a human table and JSON for the benchmark
// scenarios). Plain values; merged from per-thread parts by driver.cc.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.h"
#include "options.h"

namespace rusm::loadtest {

enum class ErrorKind : uint8_t {
  kConnectRefused,  // ECONNREFUSED
  kConnectTimeout,  // no connection within --timeout
  kConnect,         // any other connect failure (unreachable, ...)
  kTls,             // TLS handshake failed (certificate, protocol)
  kRead,            // reset, or closed before the response/echo was complete
  kWrite,           // the request or frame could not be sent
  kStatus4xx,
  kStatus5xx,
  kStatusOther,  // 1xx/3xx, or not 101 on an upgrade, not 200 for SSE
  kProtocol,     // malformed response, bad upgrade, bad frame
  kTimeout,      // no response/echo within --timeout after sending
  kCount,
};
inline constexpr size_t kErrorKinds = static_cast<size_t>(ErrorKind::kCount);
std::string_view error_name(ErrorKind kind);

struct Counters {
  uint64_t ops = 0;  // successful operations (2xx response, echo, event, establishment)
  std::array<uint64_t, kErrorKinds> errors{};
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t connects = 0;  // TCP connections established
  void add(const Counters& o);
  uint64_t error_total() const;
};

struct RunResult {
  Mode mode = Mode::kHttp;
  std::string url;
  unsigned connections = 0;
  unsigned threads = 0;
  bool close = false;
  double offered_rate = 0;  // 0 = closed loop
  double seconds = 0;       // the measured window
  Counters counters;
  Histogram latency;        // ns; what it measures is in latency_of()
  double rate = 0;          // ops per second
  double client_cpu_s = 0;  // CPU of the driver's threads in the window
  uint64_t backlog = 0;     // open loop: ops that were due but not started at the end
  // Over the whole run (warm-up and the moment after the window included),
  // for checking against a server's own count: ops completed, and requests
  // (http), messages (ws) or upgrades (conn) sent.
  uint64_t ops_all = 0;
  uint64_t sent_all = 0;
  // sse only
  unsigned streams_open = 0;
  double establish_ms = 0;  // until every stream had its header
  uint64_t per_stream_min = 0;
  uint64_t per_stream_max = 0;

  double error_ratio() const;
  double cpu_us_per_op() const;
  std::string_view latency_of() const;
};

struct SweepLevel {
  RunResult result;
  bool pass = false;
  std::string why;  // which SLA condition failed
};
struct SweepResult {
  std::vector<SweepLevel> levels;
  int last_pass = -1;  // index into levels, -1 if no level passed
};

// Whether `r` (an open-loop run) meets `sla`; if not, *why says which part.
bool meets_sla(const RunResult& r, const Sla& sla, std::string* why);

std::string format_table(const RunResult& r);
std::string format_json(const RunResult& r);
std::string format_sweep_table(const SweepResult& s, const Sla& sla);
std::string format_sweep_json(const SweepResult& s, const Sla& sla);

}  // namespace rusm::loadtest
