#include "cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "driver.h"
#include "report.h"

namespace rusm::loadtest {
namespace {

constexpr const char* kFooter = R"(
Modes:
  http  requests over keep-alive connections (or a new connection per request
        with --close or -H 'Connection: close'); an op is a 2xx response.
  ws    N WebSocket connections, each with one masked binary message (--size
        bytes) in flight; an op is an echo of the same length.
  sse   N held GET streams; an op is an event (a blank line ending a
        non-empty one). The window starts once every stream has its header.
  conn  N slots, each looping connect, upgrade (checks 101 and
        Sec-WebSocket-Accept), masked close 1000, wait for the server's close;
        an op is one such cycle.
Load:
  Closed loop by default: each connection starts its next op when the last
  one completes. --rate R is open loop: ops are due at fixed times (R per
  second over all connections) and latency is measured from the due time, so
  a stalled server shows up in the percentiles (no coordinated omission).
  --sweep raises the rate by --sweep-factor until a level breaks the SLA,
  bisects twice, and reports the last passing level.
Output:
  rate, latency p50/p90/p99/p99.9/max, errors by kind (connect_refused,
  connect_timeout, connect_other, tls, read, write, status_4xx, status_5xx,
  status_other, protocol, timeout), bytes, connects, and the driver's own
  CPU (cores, and microseconds per op). --json prints one JSON object
  (latencies in microseconds).
Exit status: 0 run completed (errors are counted, not fatal), 1 the run could
not start (or --sweep found no passing level), 2 bad flags.)";

struct Raw {
  std::string mode;
  Options o;
  double sla_achieved = 0.98;
  double sla_errors = 0.02;
};

void build(CLI::App& app, Raw& raw) {
  Options& o = raw.o;
  app.add_option("mode", raw.mode, "http | ws | sse | conn")->required();
  app.add_option("url", o.url, "http://, https://, ws:// or wss:// URL")->required();
  app.add_option("-c,--connections", o.connections,
                 "Connections (streams for sse, slots for conn); default 64 for http and "
                 "conn, 256 for ws and sse")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("-d,--duration", o.duration_s, "Seconds measured (default 10)")
      ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--warmup", o.warmup_s, "Seconds of load before measuring (default 1)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("-R,--rate", o.rate,
                 "Open loop: ops per second over all connections (default: closed loop)")
      ->check(CLI::Range(0.001, 1e9));
  app.add_option("-t,--threads", o.threads,
                 "Driver threads, each with its own event loop "
                 "(default 1)")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--timeout", o.timeout_s,
                 "Seconds before a connect, handshake, response or echo counts as a timeout "
                 "(default 5)")
      ->check(CLI::Range(0.001, 3600.0));
  app.add_flag("--json", o.json, "Print one JSON object instead of the table");
  app.add_flag("--close", o.close, "http: a new connection per request (Connection: close)");
  app.add_option("-H,--header", o.headers, "Extra request header 'Name: value' (repeatable)");
  app.add_option("--method", o.method, "http: request method (default GET)");
  app.add_option("--body", o.body, "http: request body (sent with Content-Length)");
  app.add_option("--size", o.message_size, "ws: message payload bytes (default 4)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_flag("--insecure", o.insecure, "TLS: do not verify the server's certificate");
  app.add_option("--cacert", o.cacert, "TLS: verify the server against this PEM file")
      ->check(CLI::ExistingFile);
  app.add_flag("--sweep", o.sweep,
               "Raise the open-loop rate (from --rate, default 1000) until the SLA breaks");
  app.add_option("--sweep-factor", o.sweep_factor, "Rate multiplier per sweep level (default 1.5)")
      ->check(CLI::Range(1.01, 100.0));
  app.add_option("--sla-p99-ms", o.sla.max_p99_ms, "Sweep SLA: p99 at most this (default 250)")
      ->check(CLI::Range(0.001, 1e7));
  app.add_option("--sla-achieved", raw.sla_achieved,
                 "Sweep SLA: achieved/offered rate at least this (default 0.98)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--sla-errors", raw.sla_errors,
                 "Sweep SLA: errors/(ops+errors) at most this (default 0.02)")
      ->check(CLI::Range(0.0, 1.0));
  app.footer(kFooter);
}

}  // namespace

std::string help_text() {
  CLI::App app{"rusm loadtest: an out-of-process load driver for HTTP, WebSocket and SSE",
               "rusm loadtest"};
  Raw raw;
  build(app, raw);
  return app.help();
}

Result<Options> parse_args(const std::vector<std::string>& args) {
  CLI::App app{"rusm loadtest: an out-of-process load driver for HTTP, WebSocket and SSE",
               "rusm loadtest"};
  Raw raw;
  build(app, raw);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return Error(app.help(), kHelp);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    return Error(msg);
  }
  Options o = raw.o;
  o.sla.min_achieved = raw.sla_achieved;
  o.sla.max_errors = raw.sla_errors;
  if (raw.mode == "http") {
    o.mode = Mode::kHttp;
  } else if (raw.mode == "ws") {
    o.mode = Mode::kWs;
  } else if (raw.mode == "sse") {
    o.mode = Mode::kSse;
  } else if (raw.mode == "conn") {
    o.mode = Mode::kConn;
  } else {
    return Error("mode '" + raw.mode + "': expected http, ws, sse or conn");
  }
  Result<Target> t = parse_url(o.url);
  if (!t) {
    return t.error();
  }
  o.target = *t;
  if (o.connections == 0) {
    o.connections = default_connections(o.mode);
  }
  for (const std::string& h : o.headers) {
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string::npos || h.find_first_of("\r\n") != std::string::npos) {
      return Error("--header '" + h + "': expected 'Name: value' on one line");
    }
    std::string name = h.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = h.substr(colon + 1);
    std::transform(value.begin(), value.end(), value.begin(), ::tolower);
    if (name == "connection" && value.find("close") != std::string::npos) {
      o.close = true;  // as with wrk: -H 'Connection: close' is a new connection per request
    }
  }
  if (o.method.empty() ||
      o.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_") != std::string::npos) {
    return Error("--method '" + o.method + "': expected an upper-case token such as GET or POST");
  }
  if ((o.insecure || !o.cacert.empty()) && !o.target.tls) {
    return Error(std::string(o.insecure ? "--insecure" : "--cacert") +
                 ": the URL is not https:// or wss://");
  }
  if (o.insecure && !o.cacert.empty()) {
    return Error("--insecure and --cacert: choose one");
  }
  if (Status s = validate(o); !s) {
    return s.error();
  }
  return o;
}

int run_cli(const std::vector<std::string>& args) {
  Result<Options> parsed = parse_args(args);
  if (!parsed) {
    if (parsed.error().code() == kHelp) {
      std::fputs(parsed.error().message().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "rusm loadtest: %s\n", parsed.error().message().c_str());
    return 2;
  }
  const Options& o = *parsed;
  if (o.sweep) {
    Result<SweepResult> s = run_sweep(o, [](const SweepLevel& l) {
      std::fprintf(stderr, "sweep: offered %.0f/s achieved %.0f/s p99 %.2f ms errors %.2f%% %s\n",
                   l.result.offered_rate, l.result.rate,
                   static_cast<double>(l.result.latency.percentile_ns(99)) / 1e6,
                   l.result.error_ratio() * 100, l.pass ? "pass" : ("FAIL: " + l.why).c_str());
    });
    if (!s) {
      std::fprintf(stderr, "rusm loadtest: %s\n", s.error().message().c_str());
      return 1;
    }
    std::string out = o.json ? format_sweep_json(*s, o.sla) + "\n" : format_sweep_table(*s, o.sla);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return s->last_pass >= 0 ? 0 : 1;
  }
  Result<RunResult> r = run_load(o);
  if (!r) {
    std::fprintf(stderr, "rusm loadtest: %s\n", r.error().message().c_str());
    return 1;
  }
  std::string out = o.json ? format_json(*r) + "\n" : format_table(*r);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace rusm::loadtest
