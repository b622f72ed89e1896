// Serving scenarios for `rusm bench` and the dashboard: a rusm.toml app in
// this process (a fresh Wasm process per request or connection), driven by
// `rusm loadtest` in its own process, next to a peer measured in the same run
// where one is installed (nginx `return 200`, Node's SSE server from the
// serving anchors).
//
// Layout, as the anchors' "pin" layout (../shared/anchors/serving/README.md):
// the server (rusm's node: one scheduler worker and the event loop; or the
// peer with one worker) on core 0, the load driver on core 1. With fewer than
// two cores, or without taskset, nothing is pinned (the report says so).
//
// Scenarios: http-throughput, http-throughput-cgi, ws-echo, sse-fanout,
// connection-storm, connection-scale.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/js_runtime.h"
#include "common/scenario.h"
#include "engine/engine_inputs.h"
#include "rusm/net/config.h"
#include "rusm/serve/app.h"

extern char** environ;

namespace rusm::bench::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("rusm");
}

std::optional<std::string> which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin:/usr/sbin:/sbin";
  p += ":/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) {
      return dir + "/" + name;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return std::nullopt;
}

bool pinning() {
  static const bool on = std::thread::hardware_concurrency() >= 2 && which("taskset").has_value();
  return on;
}

// Threads created while it lives are pinned to `cpu` (they inherit the
// creating thread's affinity); the creating thread gets its own back after.
class PinNewThreads {
 public:
  explicit PinNewThreads(int cpu) {
    if (!pinning() || sched_getaffinity(0, sizeof saved_, &saved_) != 0) {
      return;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    active_ = sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~PinNewThreads() {
    if (active_) {
      sched_setaffinity(0, sizeof saved_, &saved_);
    }
  }

 private:
  cpu_set_t saved_{};
  bool active_ = false;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rusm-bench-serve-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) {
      fs::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool port_open(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// user + system CPU seconds of a process and its live threads.
double pid_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) {
    return 0;
  }
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && (fields >> f); ++i) {
    if (i == 14 || i == 15) {
      ticks += std::stod(f);
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU seconds of a process and its direct children (nginx's master and worker).
double tree_cpu_seconds(pid_t pid) {
  double total = pid_cpu_seconds(pid);
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  for (pid_t child; in >> child;) {
    total += pid_cpu_seconds(child);
  }
  return total;
}

size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// A child process (a peer server), stopped and reaped by the destructor.
class ChildProcess {
 public:
  static std::unique_ptr<ChildProcess> start(std::vector<std::string> argv) {
    if (pinning()) {
      argv.insert(argv.begin(), {"taskset", "-c", "0"});
    }
    std::vector<char*> args;
    for (std::string& a : argv) {
      args.push_back(a.data());
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return nullptr;
    }
    auto c = std::make_unique<ChildProcess>();
    c->pid_ = pid;
    return c;
  }
  ~ChildProcess() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
};

bool wait_for_port(uint16_t port) {
  for (int i = 0; i < 200; ++i) {
    if (port_open(port)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

// `rusm loadtest` in its own process (on core 1 when pinning).
Result<json> load(const std::string& mode, const std::string& url, unsigned connections,
                  double seconds, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv;
  if (pinning()) {
    argv = {"taskset", "-c", "1"};
  }
  argv.insert(argv.end(),
              {self_exe(), "loadtest", mode, url, "--connections", std::to_string(connections),
               "--duration", std::to_string(seconds), "--warmup", "1", "--json"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return engine::run_json_command(argv);
}

// The app under test: a rusm.toml written to a temporary directory, served
// by this process with one scheduler worker and one event-loop thread.
class ServedApp {
 public:
  // `files`: name -> contents, written next to rusm.toml (a route's script).
  static Result<std::unique_ptr<ServedApp>> start(
      const std::string& routes,
      const std::vector<std::pair<std::string, std::string>>& files = {}) {
    auto s = std::unique_ptr<ServedApp>(new ServedApp());
    if (s->dir_.path().empty()) {
      return Error("cannot make a temporary directory");
    }
    for (const auto& [name, text] : files) {
      std::ofstream(s->dir_.path() + "/" + name) << text;
    }
    std::string file = s->dir_.path() + "/rusm.toml";
    std::ofstream(file) << "listen = [\"127.0.0.1:0\"]\n"
                        << "[limits]\nroute_max_in_flight = 4096\nmax_in_flight = 4096\n"
                        << "max_connections = 200000\n"
                        << routes;
    auto config = net::load_config(file);
    if (!config) {
      return config.error();
    }
    serve::AppOptions options;
    options.js_runtime = cli::js_runtime_wasm();
    options.workers = 1;
    options.io_threads = 0;  // the worker runs the event loop (the default)
    PinNewThreads pin(0);
    auto app = serve::App::create(*config, options);
    if (!app) {
      return app.error();
    }
    s->app_ = std::move(*app);
    if (Status st = s->app_->start(); !st) {
      return st.error();
    }
    return s;
  }
  uint16_t port() const { return app_->ports().at(0); }
  std::string url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(port()) + path;
  }
  serve::App& app() { return *app_; }

 private:
  ServedApp() = default;
  TempDir dir_;
  std::unique_ptr<serve::App> app_;
};

std::string guests() {
  return RUSM_SERVE_BENCH_DIR "/guests.wasm";
}

std::string route(const std::string& path, const std::string& kind, const std::string& module,
                  const std::string& entry) {
  return "[[route]]\npath = \"" + path + "\"\nkind = \"" + kind + "\"\nmodule = \"" + module +
         "\"\nentry = \"" + entry + "\"\n";
}

// nginx with one worker answering `return 200` with the anchors' body.
class Nginx {
 public:
  static std::unique_ptr<Nginx> start() {
    auto bin = which("nginx");
    if (!bin) {
      return nullptr;
    }
    auto n = std::unique_ptr<Nginx>(new Nginx());
    n->port_ = free_port();
    const std::string& d = n->dir_.path();
    std::ofstream(d + "/nginx.conf")
        << "worker_processes 1;\ndaemon off;\npid " << d << "/nginx.pid;\nerror_log " << d
        << "/error.log;\nevents { worker_connections 65536; }\nhttp {\n access_log off;\n"
        << " keepalive_requests 1000000;\n client_body_temp_path " << d << "/b;\n proxy_temp_path "
        << d << "/p;\n fastcgi_temp_path " << d << "/f;\n uwsgi_temp_path " << d
        << "/u;\n scgi_temp_path " << d << "/s;\n server {\n  listen 127.0.0.1:" << n->port_
        << " backlog=4096;\n  location / { default_type text/plain; return 200 \"hello from "
           "rusm\\n\"; }\n }\n}\n";
    n->child_ = ChildProcess::start({*bin, "-p", d, "-c", d + "/nginx.conf"});
    if (!n->child_ || !wait_for_port(n->port_)) {
      return nullptr;
    }
    return n;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  double cpu_seconds() const { return tree_cpu_seconds(child_->pid()); }

 private:
  Nginx() = default;
  TempDir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> child_;
};

// Node running the anchors' sse.js (one process).
class NodeSse {
 public:
  static std::unique_ptr<NodeSse> start() {
    auto node = engine::node_path();
    std::string script = RUSM_SERVING_ANCHORS "/sse.js";
    if (!node || !engine::file_exists(script)) {
      return nullptr;
    }
    auto n = std::unique_ptr<NodeSse>(new NodeSse());
    n->port_ = free_port();
    n->child_ = ChildProcess::start({*node, script, std::to_string(n->port_)});
    if (!n->child_ || !wait_for_port(n->port_)) {
      return nullptr;
    }
    return n;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/sse"; }

 private:
  NodeSse() = default;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> child_;
};

double ms(const json& j, const char* p) {
  return j["latency_us"][p].get<double>() / 1000.0;
}

void add_errors_note(Report& r, const std::string& who, const json& j) {
  uint64_t errors = j.value("errors_total", uint64_t{0});
  if (errors != 0) {
    r.notes.push_back(who + ": " + std::to_string(errors) + " errors " + j["errors"].dump());
  }
}

void add_layout_note(Report& r) {
  r.notes.push_back(
      pinning() ? "layout: server (1 worker driving the event loop) on core 0, rusm loadtest "
                  "on core 1"
                : "layout: unpinned (fewer than 2 cores or no taskset)");
}

Report failed(Report r, const Error& e) {
  r.notes.push_back("failed: " + e.message());
  return r;
}

// ---- http-throughput, http-throughput-cgi

// The JavaScript twin's handler: the same 16 bytes as guests.c's hello.
constexpr const char* kHelloJs = "export function hello() { return \"hello from rusm\\n\"; }\n";

enum class Handler { kWasm, kCgi, kJs };

Report http_throughput(const Options& o, Progress& progress, Handler kind) {
  const bool cgi = kind == Handler::kCgi;
  Report r;
  r.scenario = kind == Handler::kCgi  ? "http-throughput-cgi"
               : kind == Handler::kJs ? "http-throughput-js"
                                      : "http-throughput";
  r.summary = cgi ? "HTTP keep-alive req/s, a fresh WASI command per request (CGI), vs nginx"
              : kind == Handler::kJs
                  ? "HTTP keep-alive req/s, a fresh JavaScript process per request, vs nginx"
                  : "HTTP keep-alive req/s, a fresh Wasm process per request, vs nginx return 200";
  std::string routes = cgi ? route("/", "cgi", RUSM_SERVE_BENCH_DIR "/hello_cgi.wasm", "_start")
                       : kind == Handler::kJs ? route("/", "http", "hello.js", "hello")
                                              : route("/", "http", guests(), "hello");
  if (kind == Handler::kJs && cli::js_runtime_wasm().empty()) {
    return failed(r, Error("this rusm was built without JavaScript (scripts/bootstrap.sh)"));
  }
  auto app = kind == Handler::kJs ? ServedApp::start(routes, {{"hello.js", kHelloJs}})
                                  : ServedApp::start(routes);
  if (!app) {
    return failed(r, app.error());
  }
  double cpu0 = process_cpu_seconds();
  auto ours = load("http", (*app)->url("http", "/"), 64, o.duration_s);
  double cpu = process_cpu_seconds() - cpu0;
  if (!ours) {
    return failed(r, ours.error());
  }
  double rate = (*ours)["rate"].get<double>();
  progress.sample("req/s", rate);
  std::optional<double> nginx_rate, nginx_us;
  if (o.baselines) {
    if (auto nginx = Nginx::start()) {
      double ncpu0 = nginx->cpu_seconds();
      auto theirs = load("http", nginx->url(), 64, o.duration_s);
      double ncpu = nginx->cpu_seconds() - ncpu0;
      if (theirs) {
        nginx_rate = (*theirs)["rate"].get<double>();
        double s = (*theirs)["seconds"].get<double>();
        double n = (*theirs)["ops"].get<double>();
        if (n > 0) {
          nginx_us = ncpu * (s / (s + 1.0)) * 1e6 / n;
        }
      } else {
        r.notes.push_back("nginx run failed: " + theirs.error().message());
      }
    } else {
      r.notes.push_back("nginx not installed (scripts/bootstrap.sh installs it): no baseline");
    }
  }
  Row req{"req/s, 64 connections", rate, "/s", nginx_rate, "nginx return 200", true, ""};
  r.rows.push_back(req);
  double secs = (*ours)["seconds"].get<double>();
  double ops = (*ours)["ops"].get<double>();
  r.rows.push_back({"p50 latency", ms(*ours, "p50"), "ms", {}, "", false, ""});
  r.rows.push_back({"p99 latency", ms(*ours, "p99"), "ms", {}, "", false, ""});
  if (ops > 0) {
    // Warm-up included in cpu: scale by the measured share of the run.
    double measured_share = secs / (secs + 1.0);
    r.rows.push_back({"server CPU per request", cpu * measured_share * 1e6 / ops, "us", nginx_us,
                      "nginx", false, "rusm: this whole process"});
  }
  add_errors_note(r, "rusm", *ours);
  // Latency at half the peak rate, open loop (no coordinated omission).
  if (rate > 2) {
    auto half = load("http", (*app)->url("http", "/"), 64, o.duration_s,
                     {"--rate", std::to_string(rate / 2)});
    if (half) {
      r.rows.push_back({"p99 at half the peak rate", ms(*half, "p99"), "ms", 5.0, "goal", false,
                        "open loop at " + std::to_string(static_cast<long>(rate / 2)) + "/s"});
    }
  }
  r.notes.push_back(
      "goal: at least half of nginx's rate in the same run, and 46k req/s "
      "(RUSM on 10 cores); anchors (pin layout): nginx 110,646/s, Erlang process "
      "per request 31,135/s");
  add_layout_note(r);
  return r;
}

// ---- ws-echo, connection-storm, connection-scale

// The JavaScript twin's handler: guests.c's echo.
constexpr const char* kEchoJs =
    "export function echo(ws) {\n"
    "  for (;;) {\n"
    "    const m = rusm.receive();\n"
    "    if (m.tag === 'WS_CLOSE') return;\n"
    "    ws.send(m.tag === 'WS_TEXT' ? m.text() : m.data);\n"
    "  }\n"
    "}\n";

Report ws_echo(const Options& o, Progress& progress, bool js) {
  Report r;
  r.scenario = js ? "ws-echo-js" : "ws-echo";
  r.summary = js ? "WebSocket echo round trips/s, 256 connections each with its own JavaScript "
                   "process"
                 : "WebSocket echo round trips/s, 256 connections each with its own Wasm process";
  if (js && cli::js_runtime_wasm().empty()) {
    return failed(r, Error("this rusm was built without JavaScript (scripts/bootstrap.sh)"));
  }
  auto app = js ? ServedApp::start(route("/ws", "ws", "echo.js", "echo"), {{"echo.js", kEchoJs}})
                : ServedApp::start(route("/ws", "ws", guests(), "echo"));
  if (!app) {
    return failed(r, app.error());
  }
  auto ours = load("ws", (*app)->url("ws", "/ws"), 256, o.duration_s, {"--size", "4"});
  if (!ours) {
    return failed(r, ours.error());
  }
  double rate = (*ours)["rate"].get<double>();
  progress.sample("echoes/s", rate);
  r.rows.push_back({"echoes/s, 256 connections", rate, "/s", 146000.0, "RUSM (10 cores)", true,
                    "1 message of 4 bytes in flight each"});
  r.rows.push_back({"round trip p50", ms(*ours, "p50"), "ms", {}, "", false, ""});
  r.rows.push_back({"round trip p99", ms(*ours, "p99"), "ms", {}, "", false, ""});
  add_errors_note(r, "rusm", *ours);
  r.notes.push_back(
      "anchors (pin layout, same kind of machine): Node ws 69,339/s, Erlang "
      "process per connection 54,303/s");
  add_layout_note(r);
  return r;
}

Report connection_storm(const Options& o, Progress& progress) {
  Report r;
  r.scenario = "connection-storm";
  r.summary = "WebSocket establishments/s (connect, upgrade, close), a Wasm process per connection";
  auto app = ServedApp::start(route("/ws", "ws", guests(), "echo"));
  if (!app) {
    return failed(r, app.error());
  }
  auto ours = load("conn", (*app)->url("ws", "/ws"), 64, o.duration_s);
  if (!ours) {
    return failed(r, ours.error());
  }
  double rate = (*ours)["rate"].get<double>();
  progress.sample("establishments/s", rate);
  r.rows.push_back(
      {"establishments/s, 64 slots", rate, "/s", 34000.0, "RUSM (10 cores)", true, ""});
  r.rows.push_back({"cycle p99", ms(*ours, "p99"), "ms", {}, "", false, ""});
  add_errors_note(r, "rusm", *ours);
  r.notes.push_back("anchors (pin layout): Node ws 5,321/s, Erlang 6,855/s");
  add_layout_note(r);
  return r;
}

Report connection_scale(const Options& o, Progress& progress) {
  Report r;
  r.scenario = "connection-scale";
  r.summary = "WebSocket connections held at once, each with its own Wasm process, and bytes each";
  unsigned target = 10000;
  if (const char* n = std::getenv("RUSM_BENCH_CONNECTIONS")) {
    target = static_cast<unsigned>(std::strtoul(n, nullptr, 10));
  }
  auto app = ServedApp::start(route("/ws", "ws", guests(), "echo"));
  if (!app) {
    return failed(r, app.error());
  }
  size_t rss0 = rss_bytes();
  // Sampled while the driver holds the connections (it closes them as it
  // exits): the peak of open WebSockets and of this process's RSS.
  std::atomic<bool> done{false};
  int64_t peak_ws = 0;
  size_t peak_rss = rss0;
  std::thread sampler([&] {
    while (!done.load()) {
      peak_ws = std::max(peak_ws, (*app)->app().server().stats().websockets);
      peak_rss = std::max(peak_rss, rss_bytes());
      progress.sample("connections", static_cast<double>(peak_ws));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // Open loop at a trickle: every connection stays open, nearly idle.
  auto ours = load("ws", (*app)->url("ws", "/ws"), target, std::max(o.duration_s, 3.0),
                   {"--rate", "100", "--timeout", "30"});
  done.store(true);
  sampler.join();
  if (!ours) {
    return failed(r, ours.error());
  }
  r.rows.push_back({"connections held", static_cast<double>(peak_ws), "", 100000.0, "goal", true,
                    "RUSM_BENCH_CONNECTIONS asked " + std::to_string(target)});
  if (peak_ws > 0 && peak_rss > rss0) {
    r.rows.push_back({"RSS per connection (process included)",
                      static_cast<double>(peak_rss - rss0) / static_cast<double>(peak_ws), "B",
                      24.0 * 1024, "goal", false, "peak RSS growth / peak connections"});
  }
  add_errors_note(r, "rusm", *ours);
  add_layout_note(r);
  return r;
}

// ---- sse-fanout

// The JavaScript twin's handler: the same stream as guests.c's events.
constexpr const char* kEventsJs =
    "export function events(req, events) {\n"
    "  for (let i = 0; events.send(String(i)); i++) {}\n"
    "}\n";

Report sse_fanout(const Options& o, Progress& progress, bool js) {
  Report r;
  r.scenario = js ? "sse-fanout-js" : "sse-fanout";
  r.summary = js ? "SSE events/s over 256 streams, a JavaScript process per stream, vs Node's http"
                 : "SSE events/s over 256 streams, a Wasm process per stream, vs Node's http";
  if (js && cli::js_runtime_wasm().empty()) {
    return failed(r, Error("this rusm was built without JavaScript (scripts/bootstrap.sh)"));
  }
  auto app =
      js ? ServedApp::start(route("/sse", "sse", "events.js", "events"), {{"events.js", kEventsJs}})
         : ServedApp::start(route("/sse", "sse", guests(), "events"));
  if (!app) {
    return failed(r, app.error());
  }
  auto ours = load("sse", (*app)->url("http", "/sse"), 256, o.duration_s);
  if (!ours) {
    return failed(r, ours.error());
  }
  double rate = (*ours)["rate"].get<double>();
  progress.sample("events/s", rate);
  std::optional<double> node_rate;
  if (o.baselines) {
    if (auto node = NodeSse::start()) {
      auto theirs = load("sse", node->url(), 256, o.duration_s);
      if (theirs) {
        node_rate = (*theirs)["rate"].get<double>();
      }
    } else {
      r.notes.push_back("node or the anchors' sse.js not found: no baseline");
    }
  }
  r.rows.push_back({"events/s, 256 streams", rate, "/s", node_rate, "Node http", true, ""});
  add_errors_note(r, "rusm", *ours);
  r.notes.push_back(
      "goal: 609k events/s (RUSM, 10 cores); anchors (pin): Node 519,439/s, "
      "Erlang 157,514/s");
  add_layout_note(r);
  return r;
}

Registrar http_reg(
    {"http-throughput", "HTTP keep-alive req/s, a fresh Wasm process per request, vs nginx",
     [](const Options& o, Progress& p) { return http_throughput(o, p, Handler::kWasm); }});
Registrar cgi_reg({"http-throughput-cgi",
                   "HTTP keep-alive req/s, a fresh WASI command per request (CGI), vs nginx",
                   [](const Options& o, Progress& p) {
                     return http_throughput(o, p, Handler::kCgi);
                   }});
Registrar js_reg({"http-throughput-js",
                  "HTTP keep-alive req/s, a fresh JavaScript process per request, vs nginx",
                  [](const Options& o, Progress& p) {
                    return http_throughput(o, p, Handler::kJs);
                  }});
Registrar ws_reg({"ws-echo", "WebSocket echo round trips/s, a Wasm process per connection",
                  [](const Options& o, Progress& p) { return ws_echo(o, p, false); }});
Registrar ws_js_reg({"ws-echo-js",
                     "WebSocket echo round trips/s, a JavaScript process per connection",
                     [](const Options& o, Progress& p) { return ws_echo(o, p, true); }});
Registrar storm_reg({"connection-storm",
                     "WebSocket establishments/s, a Wasm process per connection",
                     connection_storm});
Registrar scale_reg({"connection-scale",
                     "WebSocket connections held at once, a Wasm process each, and bytes each",
                     connection_scale});
Registrar sse_reg({"sse-fanout", "SSE events/s over 256 streams, a Wasm process per stream",
                   [](const Options& o, Progress& p) { return sse_fanout(o, p, false); }});
Registrar sse_js_reg({"sse-fanout-js",
                      "SSE events/s over 256 streams, a JavaScript process per stream",
                      [](const Options& o, Progress& p) { return sse_fanout(o, p, true); }});

}  // namespace
}  // namespace rusm::bench::serving
