#include "report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace rusm::loadtest {

std::string_view error_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnectRefused:
      return "connect_refused";
    case ErrorKind::kConnectTimeout:
      return "connect_timeout";
    case ErrorKind::kConnect:
      return "connect_other";
    case ErrorKind::kTls:
      return "tls";
    case ErrorKind::kRead:
      return "read";
    case ErrorKind::kWrite:
      return "write";
    case ErrorKind::kStatus4xx:
      return "status_4xx";
    case ErrorKind::kStatus5xx:
      return "status_5xx";
    case ErrorKind::kStatusOther:
      return "status_other";
    case ErrorKind::kProtocol:
      return "protocol";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kCount:
      break;
  }
  return "?";
}

void Counters::add(const Counters& o) {
  ops += o.ops;
  for (size_t i = 0; i < kErrorKinds; ++i) {
    errors[i] += o.errors[i];
  }
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  connects += o.connects;
}

uint64_t Counters::error_total() const {
  uint64_t t = 0;
  for (uint64_t e : errors) {
    t += e;
  }
  return t;
}

double RunResult::error_ratio() const {
  uint64_t e = counters.error_total();
  uint64_t all = counters.ops + e;
  return all == 0 ? 0.0 : static_cast<double>(e) / static_cast<double>(all);
}

double RunResult::cpu_us_per_op() const {
  return counters.ops == 0 ? 0.0 : client_cpu_s * 1e6 / static_cast<double>(counters.ops);
}

std::string_view RunResult::latency_of() const {
  switch (mode) {
    case Mode::kHttp:
      if (offered_rate > 0) {
        return close ? "intended send time -> response complete (new connection each)"
                     : "intended send time -> response complete";
      }
      return close ? "connect -> response complete (new connection each)"
                   : "request sent -> response complete";
    case Mode::kWs:
      return offered_rate > 0 ? "intended send time -> echo received"
                              : "message sent -> echo received";
    case Mode::kSse:
      return "connect -> response header (stream open)";
    case Mode::kConn:
      return offered_rate > 0 ? "intended start -> server closed (connect, upgrade, close)"
                              : "connect -> server closed (connect, upgrade, close)";
  }
  return "";
}

bool meets_sla(const RunResult& r, const Sla& sla, std::string* why) {
  char buf[160];
  double achieved = r.offered_rate > 0 ? r.rate / r.offered_rate : 1.0;
  double p99_ms = static_cast<double>(r.latency.percentile_ns(99)) / 1e6;
  if (achieved < sla.min_achieved) {
    std::snprintf(buf, sizeof buf, "achieved %.1f%% of the offered rate (< %.1f%%)", achieved * 100,
                  sla.min_achieved * 100);
  } else if (r.error_ratio() > sla.max_errors) {
    std::snprintf(buf, sizeof buf, "errors %.2f%% (> %.2f%%)", r.error_ratio() * 100,
                  sla.max_errors * 100);
  } else if (p99_ms > sla.max_p99_ms) {
    std::snprintf(buf, sizeof buf, "p99 %.1f ms (> %.1f ms)", p99_ms, sla.max_p99_ms);
  } else {
    if (why != nullptr) {
      why->clear();
    }
    return true;
  }
  if (why != nullptr) {
    *why = buf;
  }
  return false;
}

namespace {

// 1234567.8 -> "1,234,568"
std::string grouped(double v) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%.0f", std::fabs(v));
  std::string s = digits;
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) {
    s.insert(static_cast<size_t>(i), ",");
  }
  return v < 0 ? "-" + s : s;
}

std::string ms(uint64_t ns) {
  char buf[32];
  double v = static_cast<double>(ns) / 1e6;
  std::snprintf(buf, sizeof buf, v < 1 ? "%.3f" : v < 100 ? "%.2f" : "%.1f", v);
  return buf;
}

double us(uint64_t ns) {
  return std::round(static_cast<double>(ns) / 100.0) / 10.0;
}

std::string errors_line(const Counters& c) {
  std::string s;
  for (size_t i = 0; i < kErrorKinds; ++i) {
    if (c.errors[i] != 0) {
      s += (s.empty() ? "" : ", ") + std::string(error_name(static_cast<ErrorKind>(i))) + " " +
           grouped(static_cast<double>(c.errors[i]));
    }
  }
  return s.empty() ? "none" : s;
}

nlohmann::json to_json(const RunResult& r) {
  nlohmann::json j;
  j["mode"] = std::string(mode_name(r.mode));
  j["url"] = r.url;
  j["connections"] = r.connections;
  j["threads"] = r.threads;
  j["close"] = r.close;
  j["offered_rate"] = r.offered_rate;
  j["seconds"] = r.seconds;
  j["op"] = std::string(op_name(r.mode));
  j["ops"] = r.counters.ops;
  j["ops_all"] = r.ops_all;
  j["sent_all"] = r.sent_all;
  j["rate"] = r.rate;
  const Histogram& h = r.latency;
  j["latency_us"] = {{"count", h.count()},
                     {"min", us(h.min_ns())},
                     {"mean", std::round(h.mean_ns() / 100.0) / 10.0},
                     {"p50", us(h.percentile_ns(50))},
                     {"p90", us(h.percentile_ns(90))},
                     {"p99", us(h.percentile_ns(99))},
                     {"p999", us(h.percentile_ns(99.9))},
                     {"max", us(h.max_ns())}};
  j["latency_of"] = std::string(r.latency_of());
  nlohmann::json errors = nlohmann::json::object();
  for (size_t i = 0; i < kErrorKinds; ++i) {
    errors[std::string(error_name(static_cast<ErrorKind>(i)))] = r.counters.errors[i];
  }
  j["errors"] = errors;
  j["errors_total"] = r.counters.error_total();
  j["error_ratio"] = r.error_ratio();
  j["bytes_in"] = r.counters.bytes_in;
  j["bytes_out"] = r.counters.bytes_out;
  j["connects"] = r.counters.connects;
  j["client_cpu_s"] = r.client_cpu_s;
  j["client_cores"] = r.seconds > 0 ? r.client_cpu_s / r.seconds : 0.0;
  j["client_cpu_us_per_op"] = r.cpu_us_per_op();
  if (r.offered_rate > 0) {
    j["backlog"] = r.backlog;
  }
  if (r.mode == Mode::kSse) {
    j["streams_open"] = r.streams_open;
    j["establish_ms"] = r.establish_ms;
    j["per_stream_min"] = r.per_stream_min;
    j["per_stream_max"] = r.per_stream_max;
  }
  return j;
}

}  // namespace

std::string format_table(const RunResult& r) {
  std::string op(op_name(r.mode));
  std::string out = "rusm loadtest " + std::string(mode_name(r.mode)) + " " + r.url + "\n";
  char buf[512];
  std::snprintf(buf, sizeof buf, "  %u %s, %u thread%s, %s, %.2f s measured\n", r.connections,
                r.mode == Mode::kSse    ? "streams"
                : r.mode == Mode::kConn ? "slots"
                                        : "connections",
                r.threads, r.threads == 1 ? "" : "s",
                r.offered_rate > 0
                    ? ("open loop at " + grouped(r.offered_rate) + " " + op + "/s").c_str()
                    : "closed loop",
                r.seconds);
  out += buf;
  std::snprintf(buf, sizeof buf, "  rate        %s %s/s (%s in total)\n", grouped(r.rate).c_str(),
                op.c_str(), grouped(static_cast<double>(r.counters.ops)).c_str());
  out += buf;
  const Histogram& h = r.latency;
  std::snprintf(
      buf, sizeof buf, "  latency ms  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%s, %s samples)\n",
      ms(h.percentile_ns(50)).c_str(), ms(h.percentile_ns(90)).c_str(),
      ms(h.percentile_ns(99)).c_str(), ms(h.percentile_ns(99.9)).c_str(), ms(h.max_ns()).c_str(),
      std::string(r.latency_of()).c_str(), grouped(static_cast<double>(h.count())).c_str());
  out += buf;
  out += "  errors      " + errors_line(r.counters) + "\n";
  double secs = r.seconds > 0 ? r.seconds : 1;
  std::snprintf(buf, sizeof buf, "  transfer    in %.1f MB/s, out %.1f MB/s, %s connects\n",
                static_cast<double>(r.counters.bytes_in) / secs / 1e6,
                static_cast<double>(r.counters.bytes_out) / secs / 1e6,
                grouped(static_cast<double>(r.counters.connects)).c_str());
  out += buf;
  if (r.offered_rate > 0) {
    std::snprintf(buf, sizeof buf, "  offered     achieved %.1f%% of %s/s, backlog at end %s\n",
                  r.rate / r.offered_rate * 100, grouped(r.offered_rate).c_str(),
                  grouped(static_cast<double>(r.backlog)).c_str());
    out += buf;
  }
  if (r.mode == Mode::kSse) {
    std::snprintf(buf, sizeof buf,
                  "  streams     %u open, all open after %.0f ms, per stream %s..%s events\n",
                  r.streams_open, r.establish_ms,
                  grouped(static_cast<double>(r.per_stream_min)).c_str(),
                  grouped(static_cast<double>(r.per_stream_max)).c_str());
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "  client CPU  %.2f cores, %.2f us/%s\n", r.client_cpu_s / secs,
                r.cpu_us_per_op(), op.c_str());
  out += buf;
  return out;
}

std::string format_json(const RunResult& r) {
  return to_json(r).dump();
}

std::string format_sweep_table(const SweepResult& s, const Sla& sla) {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "rusm loadtest sweep: SLA achieved >= %.1f%%, errors <= %.2f%%, p99 <= %.1f ms\n",
                sla.min_achieved * 100, sla.max_errors * 100, sla.max_p99_ms);
  out += buf;
  out += "  offered/s    achieved/s     p50 ms    p99 ms  p99.9 ms  errors   result\n";
  for (const SweepLevel& l : s.levels) {
    const RunResult& r = l.result;
    std::snprintf(buf, sizeof buf, "  %10s  %12s  %9s %9s %9s  %6.2f%%  %s\n",
                  grouped(r.offered_rate).c_str(), grouped(r.rate).c_str(),
                  ms(r.latency.percentile_ns(50)).c_str(), ms(r.latency.percentile_ns(99)).c_str(),
                  ms(r.latency.percentile_ns(99.9)).c_str(), r.error_ratio() * 100,
                  l.pass ? "pass" : ("FAIL: " + l.why).c_str());
    out += buf;
  }
  if (s.last_pass >= 0) {
    out += "last passing level:\n" + format_table(s.levels[s.last_pass].result);
  } else {
    out += "no level passed the SLA\n";
  }
  return out;
}

std::string format_sweep_json(const SweepResult& s, const Sla& sla) {
  nlohmann::json j;
  j["sla"] = {{"min_achieved", sla.min_achieved},
              {"max_errors", sla.max_errors},
              {"max_p99_ms", sla.max_p99_ms}};
  nlohmann::json levels = nlohmann::json::array();
  for (const SweepLevel& l : s.levels) {
    nlohmann::json lj = to_json(l.result);
    lj["pass"] = l.pass;
    if (!l.pass) {
      lj["fail_reason"] = l.why;
    }
    levels.push_back(lj);
  }
  j["levels"] = levels;
  j["last_pass"] = s.last_pass >= 0 ? to_json(s.levels[s.last_pass].result) : nlohmann::json();
  return j.dump();
}

}  // namespace rusm::loadtest
