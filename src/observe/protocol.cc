#include "observe/protocol.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace rusm::observe {

using nlohmann::json;

namespace {

Result<std::string> string_field(const json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) {
      return Error(std::string("missing field '") + name + "'");
    }
    return std::string();
  }
  if (!it->is_string()) {
    return Error(std::string("field '") + name + "' must be a string");
  }
  return it->get<std::string>();
}

Result<double> number_field(const json& j, const char* name, double fallback, double lo,
                            double hi) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_number()) {
    return Error(std::string("field '") + name + "' must be a number");
  }
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "field '%s' must be a number in [%g, %g]", name, lo, hi);
    return Error(buf);
  }
  return v;
}

}  // namespace

Result<otp::Pid> parse_pid(std::string_view text) {
  auto bad = [&] {
    return Error("bad pid '" + std::string(text.substr(0, 64)) +
                 "' (expected <node.slot.generation>, e.g. <0.12.1>)");
  };
  if (text.size() < 7 || text.front() != '<' || text.back() != '>') {
    return bad();
  }
  uint64_t parts[3] = {};
  const char* p = text.data() + 1;
  const char* end = text.data() + text.size() - 1;
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(p, end, parts[i]);
    if (ec != std::errc() || next == p) {
      return bad();
    }
    p = next;
    if (i < 2) {
      if (p == end || *p != '.') {
        return bad();
      }
      ++p;
    }
  }
  if (p != end || parts[0] > 0xffff || parts[1] > otp::Pid::kSlotMask ||
      parts[2] > otp::Pid::kGenerationMask) {
    return bad();
  }
  otp::Pid pid = otp::Pid::make(static_cast<uint16_t>(parts[0]), static_cast<uint32_t>(parts[2]),
                                static_cast<uint32_t>(parts[1]));
  if (!pid.valid()) {
    return bad();
  }
  return pid;
}

Result<Command> parse_command(std::string_view text) {
  if (text.size() > kMaxCommandBytes) {
    return Error("message too long (" + std::to_string(text.size()) + " bytes, at most " +
                 std::to_string(kMaxCommandBytes) + ")");
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Error("not JSON: " + std::string(text.substr(0, 80)));
  }
  if (!j.is_object()) {
    return Error("a command must be a JSON object, like {\"type\":\"ping\"}");
  }
  Command c;
  if (auto it = j.find("id"); it != j.end()) {
    if (!it->is_number_integer() && !it->is_string() && !it->is_null()) {
      return Error("field 'id' must be an integer or a string");
    }
    c.id = *it;
  }
  Result<std::string> type = string_field(j, "type", true);
  if (!type) {
    return type.error();
  }
  const std::string& t = *type;
  if (t == "ping") {
    c.kind = CommandKind::kPing;
  } else if (t == "run") {
    c.kind = CommandKind::kRun;
    Result<std::string> s = string_field(j, "scenario", true);
    if (!s) {
      return s.error();
    }
    if (s->empty()) {
      return Error("field 'scenario' must not be empty");
    }
    c.scenario = *s;
    Result<double> d = number_field(j, "duration", 3, 0.1, 600);
    if (!d) {
      return d.error();
    }
    c.duration_s = *d;
    Result<double> th = number_field(j, "threads", 0, 0, 1024);
    if (!th) {
      return th.error();
    }
    if (*th != std::floor(*th)) {
      return Error("field 'threads' must be a whole number");
    }
    c.threads = static_cast<unsigned>(*th);
    if (auto it = j.find("baselines"); it != j.end() && !it->is_null()) {
      if (!it->is_boolean()) {
        return Error("field 'baselines' must be true or false");
      }
      c.baselines = it->get<bool>();
    }
  } else if (t == "stop") {
    c.kind = CommandKind::kStop;
  } else if (t == "subscribe" || t == "unsubscribe") {
    c.kind = t == "subscribe" ? CommandKind::kSubscribe : CommandKind::kUnsubscribe;
    Result<std::string> topic = string_field(j, "topic", true);
    if (!topic) {
      return topic.error();
    }
    if (*topic != "processes") {
      return Error("unknown topic '" + topic->substr(0, 64) + "' (known: processes)");
    }
    c.topic = *topic;
  } else if (t == "process_info" || t == "kill") {
    c.kind = t == "kill" ? CommandKind::kKill : CommandKind::kProcessInfo;
    Result<std::string> pid = string_field(j, "pid", true);
    if (!pid) {
      return pid.error();
    }
    Result<otp::Pid> p = parse_pid(*pid);
    if (!p) {
      return p.error();
    }
    c.pid = *p;
  } else if (t == "shell") {
    c.kind = CommandKind::kShell;
    Result<std::string> line = string_field(j, "line", true);
    if (!line) {
      return line.error();
    }
    c.line = std::move(*line);
  } else if (t == "shell_cancel") {
    c.kind = CommandKind::kShellCancel;
  } else if (t == "observe_node") {
    c.kind = CommandKind::kObserveNode;
    Result<std::string> node = string_field(j, "node", true);
    if (!node) {
      return node.error();
    }
    if (node->empty() || node->size() > 255) {
      return Error("field 'node' must be a node's name (1 to 255 bytes)");
    }
    c.node = std::move(*node);
  } else {
    return Error("unknown command type '" + t.substr(0, 64) +
                 "' (expected ping, run, stop, subscribe, unsubscribe, process_info, kill, "
                 "shell, shell_cancel or observe_node)");
  }
  return c;
}

std::string to_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json error_message(const json& id, std::string_view message) {
  json j;
  j["type"] = "error";
  j["id"] = id;
  j["message"] = std::string(message);
  return j;
}

json process_info_json(const otp::ProcessInfo& info) {
  json j;
  j["pid"] = info.pid.to_string();
  j["status"] = otp::to_string(info.status);
  j["mailbox"] = info.mailbox_length;
  auto pids = [](const std::vector<otp::Pid>& v) {
    json a = json::array();
    for (otp::Pid p : v) {
      a.push_back(p.to_string());
    }
    return a;
  };
  j["links"] = pids(info.links);
  j["monitors"] = pids(info.monitors);
  j["monitored_by"] = pids(info.monitored_by);
  j["name"] = info.registered_name;
  j["label"] = info.label;
  j["reductions"] = info.reductions;
  j["memory"] = info.memory_bytes;
  j["wait"] = info.current_wait;
  j["trap_exit"] = info.trap_exit;
  j["parent"] = info.parent.valid() ? info.parent.to_string() : "";
  return j;
}

json percentiles_json(const Percentiles& p, double scale) {
  json j;
  j["count"] = p.count;
  j["p50"] = p.p50 * scale;
  j["p95"] = p.p95 * scale;
  j["p99"] = p.p99 * scale;
  j["p999"] = p.p999 * scale;
  j["min"] = p.min * scale;
  j["max"] = p.max * scale;
  j["mean"] = p.mean * scale;
  return j;
}

json serving_json(const Serving& v) {
  static const char* kClass[6] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
  auto ms = [](double x) { return x < 0 ? json(nullptr) : json(x); };
  json routes = json::array();
  for (const ServingRoute& r : v.routes) {
    json status = json::object(), status_rate = json::object();
    for (int c = 0; c < 6; ++c) {
      status[kClass[c]] = r.status[c];
      status_rate[kClass[c]] = r.status_per_s[c];
    }
    routes.push_back({{"name", r.name},
                      {"kind", r.kind},
                      {"requests", r.requests},
                      {"requests_per_s", r.requests_per_s},
                      {"status", std::move(status)},
                      {"status_per_s", std::move(status_rate)},
                      {"in_flight", r.in_flight},
                      {"rejected",
                       {{"in_flight", r.rejected_in_flight},
                        {"body_bytes", r.rejected_body},
                        {"deadline", r.deadline_exceeded}}},
                      {"failed", r.failed},
                      {"p50_ms", ms(r.p50_ms)},
                      {"p99_ms", ms(r.p99_ms)}});
  }
  return {{"window_s", v.window_s},
          {"routes", std::move(routes)},
          {"open_connections", v.open_connections},
          {"websockets", v.websockets},
          {"accepted", v.accepted},
          {"rejected",
           {{"max_connections", v.rejected_connections},
            {"header_bytes", v.rejected_header_bytes},
            {"bad_request", v.rejected_bad_request},
            {"max_in_flight", v.rejected_in_flight},
            {"header_timeout", v.header_timeouts},
            {"idle_timeout", v.idle_timeouts},
            {"tls_handshake", v.tls_handshake_failures},
            {"accept_errors", v.accept_errors}}}};
}

json snapshot_json(const Snapshot& s, bool with_table, size_t table_limit) {
  json j;
  j["type"] = "snapshot";
  j["seq"] = s.seq;
  j["t"] = s.t_s;
  const otp::NodeStats& st = s.stats;
  j["processes"] = st.processes;
  j["totals"] = {{"spawns", st.spawns},
                 {"exits",
                  {{"normal", st.exits_normal},
                   {"shutdown", st.exits_shutdown},
                   {"killed", st.exits_killed},
                   {"error", st.exits_error}}},
                 {"sent", st.messages_sent},
                 {"received", st.messages_received},
                 {"reductions", st.reductions},
                 {"restarts", st.restarts}};
  j["rates"] = {{"spawns", s.spawns_per_s},
                {"exits", s.exits_per_s},
                {"sent", s.sent_per_s},
                {"received", s.received_per_s},
                {"reductions", s.reductions_per_s},
                {"restarts", s.restarts_per_s}};
  json workers = json::array();
  for (size_t i = 0; i < st.workers.size(); ++i) {
    const otp::WorkerStats& w = st.workers[i];
    workers.push_back({{"load", i < s.worker_load.size() ? s.worker_load[i] : 0.0},
                       {"run_queue", w.run_queue_length},
                       {"runs", w.runs},
                       {"steals", w.steals},
                       {"parks", w.parks}});
  }
  j["workers"] = std::move(workers);
  j["memory"] = {{"rss", s.rss_bytes}};
  j["cpu_cores"] = s.cpu_cores;
  j["os_threads"] = s.os_threads;
  j["sample_cost_us"] = percentiles_json(s.sample_cost_ns, 1e-3);
  if (s.has_serving) {
    j["serving"] = serving_json(s.serving);
  }
  if (s.has_cluster) {
    json nodes = json::array();
    for (size_t i = 0; i < s.peers.size(); ++i) {
      const PeerNode& p = s.peers[i];
      nodes.push_back(
          {{"name", p.name},
           {"id", p.id},
           {"address", p.address},
           {"up", p.up},
           {"bytes_in", p.bytes_in},
           {"bytes_out", p.bytes_out},
           {"in_bytes_per_s", i < s.peer_in_bytes_per_s.size() ? s.peer_in_bytes_per_s[i] : 0.0},
           {"out_bytes_per_s",
            i < s.peer_out_bytes_per_s.size() ? s.peer_out_bytes_per_s[i] : 0.0}});
    }
    j["cluster"] = {{"self", {{"name", s.node_name}, {"id", s.node_id}}},
                    {"nodes", std::move(nodes)}};
  }
  if (s.has_table) {
    j["status"] = {{"runnable", s.status.runnable},
                   {"running", s.status.running},
                   {"waiting", s.status.waiting},
                   {"exiting", s.status.exiting}};
    j["memory"]["processes"] = s.process_memory_bytes;
    if (with_table) {
      std::vector<const otp::ProcessInfo*> rows;
      rows.reserve(s.table.size());
      for (const otp::ProcessInfo& p : s.table) {
        rows.push_back(&p);
      }
      if (rows.size() > table_limit) {
        std::partial_sort(rows.begin(), rows.begin() + table_limit, rows.end(),
                          [](auto* a, auto* b) { return a->reductions > b->reductions; });
        rows.resize(table_limit);
      }
      json table = json::array();
      for (const otp::ProcessInfo* p : rows) {
        // Compact rows: the table view needs counts; process_info gives lists.
        table.push_back({{"pid", p->pid.to_string()},
                         {"label", p->label},
                         {"name", p->registered_name},
                         {"status", otp::to_string(p->status)},
                         {"mailbox", p->mailbox_length},
                         {"reductions", p->reductions},
                         {"memory", p->memory_bytes},
                         {"links", p->links.size()},
                         {"monitors", p->monitors.size() + p->monitored_by.size()},
                         {"wait", p->current_wait}});
      }
      j["table"] = std::move(table);
      j["table_total"] = s.table.size();
    }
  }
  return j;
}

std::string prometheus_escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 9e15) {
    std::snprintf(buf, sizeof buf, " %.0f\n", value);
  } else {
    std::snprintf(buf, sizeof buf, " %.9g\n", value);
  }
  out += buf;
}

}  // namespace

std::string format_prometheus(const Snapshot& s, const std::vector<NamedHistogram>& histograms) {
  std::string out;
  const otp::NodeStats& st = s.stats;
  metric(out, "rusm_processes", "gauge", "Processes alive on the node.");
  sample(out, "rusm_processes", "", static_cast<double>(st.processes));
  metric(out, "rusm_spawns_total", "counter", "Processes spawned.");
  sample(out, "rusm_spawns_total", "", static_cast<double>(st.spawns));
  metric(out, "rusm_exits_total", "counter", "Process exits by reason.");
  sample(out, "rusm_exits_total", "reason=\"normal\"", static_cast<double>(st.exits_normal));
  sample(out, "rusm_exits_total", "reason=\"shutdown\"", static_cast<double>(st.exits_shutdown));
  sample(out, "rusm_exits_total", "reason=\"killed\"", static_cast<double>(st.exits_killed));
  sample(out, "rusm_exits_total", "reason=\"error\"", static_cast<double>(st.exits_error));
  metric(out, "rusm_messages_sent_total", "counter", "Messages sent.");
  sample(out, "rusm_messages_sent_total", "", static_cast<double>(st.messages_sent));
  metric(out, "rusm_messages_received_total", "counter", "Messages taken from mailboxes.");
  sample(out, "rusm_messages_received_total", "", static_cast<double>(st.messages_received));
  metric(out, "rusm_reductions_total", "counter", "Reductions (units of work) executed.");
  sample(out, "rusm_reductions_total", "", static_cast<double>(st.reductions));
  metric(out, "rusm_restarts_total", "counter", "Children restarted by supervisors.");
  sample(out, "rusm_restarts_total", "", static_cast<double>(st.restarts));

  auto per_worker = [&](const char* name, const char* type, const char* help, auto value) {
    metric(out, name, type, help);
    for (size_t i = 0; i < st.workers.size(); ++i) {
      sample(out, name, "worker=\"" + std::to_string(i) + "\"", value(i));
    }
  };
  per_worker("rusm_scheduler_busy_seconds_total", "counter", "Time each worker was not parked.",
             [&](size_t i) { return st.workers[i].busy_ns / 1e9; });
  per_worker("rusm_scheduler_utilization", "gauge",
             "Busy fraction of each worker over the last sampling interval.",
             [&](size_t i) { return i < s.worker_load.size() ? s.worker_load[i] : 0.0; });
  per_worker("rusm_scheduler_runs_total", "counter", "Process slices run by each worker.",
             [&](size_t i) { return static_cast<double>(st.workers[i].runs); });
  per_worker("rusm_scheduler_steals_total", "counter", "Processes stolen by each worker.",
             [&](size_t i) { return static_cast<double>(st.workers[i].steals); });
  per_worker("rusm_scheduler_parks_total", "counter", "Times each worker parked.",
             [&](size_t i) { return static_cast<double>(st.workers[i].parks); });
  per_worker("rusm_run_queue_length", "gauge", "Processes in each worker's run queue.",
             [&](size_t i) { return static_cast<double>(st.workers[i].run_queue_length); });

  metric(out, "rusm_memory_rss_bytes", "gauge", "Resident memory of the OS process.");
  sample(out, "rusm_memory_rss_bytes", "", static_cast<double>(s.rss_bytes));
  if (s.has_table) {
    metric(out, "rusm_process_memory_bytes", "gauge",
           "Memory of all processes (records, bodies, queued messages).");
    sample(out, "rusm_process_memory_bytes", "", static_cast<double>(s.process_memory_bytes));
    metric(out, "rusm_processes_by_status", "gauge", "Processes by scheduling status.");
    sample(out, "rusm_processes_by_status", "status=\"runnable\"",
           static_cast<double>(s.status.runnable));
    sample(out, "rusm_processes_by_status", "status=\"running\"",
           static_cast<double>(s.status.running));
    sample(out, "rusm_processes_by_status", "status=\"waiting\"",
           static_cast<double>(s.status.waiting));
    sample(out, "rusm_processes_by_status", "status=\"exiting\"",
           static_cast<double>(s.status.exiting));
  }
  metric(out, "rusm_cpu_seconds_total", "counter", "CPU time used by the OS process.");
  sample(out, "rusm_cpu_seconds_total", "", s.cpu_seconds);
  metric(out, "rusm_os_threads", "gauge", "Threads of the OS process.");
  sample(out, "rusm_os_threads", "", s.os_threads);

  std::string last_name;
  for (const NamedHistogram& h : histograms) {
    if (h.name != last_name) {
      metric(out, h.name.c_str(), "histogram", h.help.c_str());
      last_name = h.name;
    }
    std::string prefix = h.labels.empty() ? "" : h.labels + ",";
    for (auto [upper, cum] : h.snapshot.cumulative()) {
      char le[48];
      std::snprintf(le, sizeof le, "le=\"%.9g\"", upper / 1e9);
      sample(out, h.name + "_bucket", prefix + le, static_cast<double>(cum));
    }
    sample(out, h.name + "_bucket", prefix + "le=\"+Inf\"",
           static_cast<double>(h.snapshot.count()));
    sample(out, h.name + "_sum", h.labels, h.snapshot.sum() / 1e9);
    sample(out, h.name + "_count", h.labels, static_cast<double>(h.snapshot.count()));
  }
  return out;
}

std::string format_server_metrics(const ServerStats& st) {
  std::string out;
  auto one = [&](const char* name, const char* type, const char* help, double v) {
    metric(out, name, type, help);
    sample(out, name, "", v);
  };
  one("rusm_dashboard_connections", "gauge", "Open dashboard connections (HTTP and WebSocket).",
      static_cast<double>(st.connections));
  one("rusm_dashboard_websockets", "gauge", "Open dashboard WebSocket clients.",
      static_cast<double>(st.websockets));
  one("rusm_dashboard_queued_bytes", "gauge", "Bytes waiting in WebSocket send queues.",
      static_cast<double>(st.queued_bytes));
  one("rusm_dashboard_queued_messages", "gauge", "Messages waiting in WebSocket send queues.",
      static_cast<double>(st.queued_messages));
  one("rusm_dashboard_refused_total", "counter",
      "Connections closed at once (over the limit or out of descriptors).",
      static_cast<double>(st.refused_total));
  one("rusm_dashboard_accept_errors_total", "counter", "accept() failures (EMFILE, ...).",
      static_cast<double>(st.accept_errors_total));
  one("rusm_dashboard_forbidden_total", "counter",
      "Requests refused by the access policy (Host, Origin, token).",
      static_cast<double>(st.forbidden_total));
  one("rusm_dashboard_denied_commands_total", "counter",
      "Control commands refused for want of the token.",
      static_cast<double>(st.denied_commands_total));
  one("rusm_dashboard_slow_clients_total", "counter",
      "WebSocket clients disconnected for not taking their messages.",
      static_cast<double>(st.slow_clients_total));
  one("rusm_dashboard_timeouts_total", "counter", "Connections closed by the idle timeout.",
      static_cast<double>(st.timeouts_total));
  return out;
}

}  // namespace rusm::observe
