// `rusm dashboard [--listen 127.0.0.1:4000] [--assets DIR] [--token T] ...`:
// starts a node with the observer's sampler, a demo to observe (a native
// supervision tree and a Wasm service, examples/demo_service.c), and the
// dashboard server (see docs/dashboard.md); runs benchmark scenarios on
// request, each on its own node, on a background thread. Prints the URL to
// open, with the per-run token that control needs. Stops on SIGINT or
// SIGTERM: the current run is told to stop, then the server, then the node.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "commands.h"
#include "common/scenario.h"
#include "demo_tree.h"
#include "input.h"
#include "observe/server.h"
#include "rusm/observe/sampler.h"
#include "rusm/runtime/runtime.h"

namespace rusm::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Runs one scenario at a time and keeps what the dashboard shows of it.
class BenchRunner final : public observe::Controller {
 public:
  ~BenchRunner() override { join(); }

  void set_server(observe::Server* server) { server_ = server; }

  json scenarios() override {
    json a = json::array();
    for (const bench::Scenario* s : bench::scenarios()) {
      a.push_back({{"name", s->name}, {"summary", s->summary}});
    }
    return a;
  }

  Status run(const observe::Command& c) override {
    const bench::Scenario* s = bench::find_scenario(c.scenario);
    if (s == nullptr) {
      std::string known;
      for (const bench::Scenario* k : bench::scenarios()) {
        known += (known.empty() ? "" : ", ") + k->name;
      }
      return Error("unknown scenario '" + c.scenario + "' (known: " + known + ")");
    }
    std::lock_guard lock(mu_);
    if (running_) {
      return Error("'" + scenario_ + "' is still running; stop it first");
    }
    if (thread_.joinable()) {
      thread_.join();  // the previous run has finished: its thread is done
    }
    running_ = true;
    stop_ = false;
    scenario_ = s->name;
    options_ = bench::Options{};
    options_.duration_s = c.duration_s;
    options_.threads = c.threads;
    options_.baselines = c.baselines;
    started_ = Clock::now();
    peak_processes_ = 0;
    last_.clear();
    latency_.clear();
    report_ = nullptr;
    error_.clear();
    thread_ = std::thread([this, s] { body(s); });
    return Status::ok();
  }

  Status stop() override {
    std::lock_guard lock(mu_);
    if (!running_) {
      return Error("no benchmark is running");
    }
    stop_ = true;
    return Status::ok();
  }

  json bench_state() override {
    std::lock_guard lock(mu_);
    return state_locked();
  }

  std::vector<observe::NamedHistogram> histograms() override {
    std::lock_guard lock(mu_);
    std::vector<observe::NamedHistogram> out;
    for (auto& [metric, h] : latency_) {
      out.push_back({"rusm_bench_latency_seconds", "Latencies sampled by the last benchmark run.",
                     "scenario=\"" + observe::prometheus_escape(scenario_) + "\",metric=\"" +
                         observe::prometheus_escape(metric) + "\"",
                     h->snapshot()});
    }
    return out;
  }

  void join() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  class RunProgress final : public bench::Progress {
   public:
    explicit RunProgress(BenchRunner* r) : r_(r) {}
    bool should_stop() const override { return r_->stop_.load(std::memory_order_relaxed); }
    void sample(std::string_view metric, double value) override { r_->on_sample(metric, value); }
    void latency(std::string_view metric, uint64_t ns) override {
      r_->histogram(metric).record(ns);
    }

   private:
    BenchRunner* r_;
  };

  json state_locked() {
    if (scenario_.empty()) {
      return nullptr;
    }
    json j;
    j["scenario"] = scenario_;
    j["running"] = running_;
    j["stopping"] = running_ && stop_.load();
    j["elapsed"] =
        std::chrono::duration<double>((running_ ? Clock::now() : finished_) - started_).count();
    j["duration"] = options_.duration_s;
    j["threads"] = options_.threads;
    j["cores"] = std::thread::hardware_concurrency();
    j["baselines"] = options_.baselines;
    j["peak_processes"] = peak_processes_;
    j["last"] = last_;
    json lat = json::object();
    for (auto& [metric, h] : latency_) {
      lat[metric] = observe::percentiles_json(h->snapshot().percentiles(), 1e-3);  // us
    }
    j["latency_us"] = std::move(lat);
    j["report"] = report_;
    if (!error_.empty()) {
      j["error"] = error_;
    }
    return j;
  }

  observe::Histogram& histogram(std::string_view metric) {
    std::lock_guard lock(mu_);
    auto it = latency_.find(metric);
    if (it == latency_.end()) {
      it = latency_.emplace(std::string(metric), std::make_unique<observe::Histogram>()).first;
    }
    return *it->second;  // stable: entries are only cleared between runs
  }

  void on_sample(std::string_view metric, double value) {
    double t;
    {
      std::lock_guard lock(mu_);
      if (metric == "processes") {
        peak_processes_ = std::max(peak_processes_, value);
      }
      last_[std::string(metric)] = value;
      t = std::chrono::duration<double>(Clock::now() - started_).count();
    }
    if (server_ != nullptr) {
      server_->broadcast(observe::to_text(json({{"type", "bench_sample"},
                                                {"scenario", scenario_},
                                                {"metric", metric},
                                                {"value", value},
                                                {"t", t}})));
    }
  }

  void body(const bench::Scenario* s) {
    if (server_ != nullptr) {
      server_->broadcast(
          observe::to_text(json({{"type", "bench_started"}, {"bench", bench_state()}})));
    }
    RunProgress progress(this);
    json report;
    std::string error;
    try {
      bench::Report r = s->run(options_, progress);
      report = json::parse(bench::format_json(r));
    } catch (const std::exception& e) {
      error = std::string("the scenario failed: ") + e.what();
    }
    json state;
    {
      std::lock_guard lock(mu_);
      running_ = false;
      finished_ = Clock::now();
      report_ = report;
      error_ = error;
      state = state_locked();
    }
    if (server_ != nullptr) {
      server_->broadcast(observe::to_text(json({{"type", "bench_finished"}, {"bench", state}})));
    }
  }

  observe::Server* server_ = nullptr;
  std::mutex mu_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool running_ = false;
  std::string scenario_;
  bench::Options options_;
  Clock::time_point started_, finished_;
  double peak_processes_ = 0;
  json last_ = json::object();
  std::map<std::string, std::unique_ptr<observe::Histogram>, std::less<>> latency_;
  json report_;
  std::string error_;
};

std::filesystem::path exe_dir() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : p.parent_path();
}

// The Wasm half of the demo: examples/demo_service.wasm (built next to the
// rusm binary) as a trusted process with its own supervisors and workers.
void start_wasm_demo(runtime::Runtime& rt) {
  std::string path = (exe_dir() / "examples" / "demo_service.wasm").string();
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "rusm dashboard: no Wasm demo (%s not built)\n", path.c_str());
    return;
  }
  if (Status s = rt.load_file("demo_service", path); !s) {
    std::fprintf(stderr, "rusm dashboard: Wasm demo: %s\n", s.message().c_str());
    return;
  }
  runtime::ProcessSpec spec;
  spec.module = "demo_service";
  spec.caps = *runtime::profile("trusted");
  spec.options.label = "demo service";
  if (auto p = rt.spawn(spec); !p) {
    std::fprintf(stderr, "rusm dashboard: Wasm demo: %s\n", p.message().c_str());
  }
}

struct DashboardArgs {
  std::string listen = "127.0.0.1:4000";
  std::string assets;
  double hz = 10;
  unsigned workers = 0;
  bool no_demo = false;
  std::string token;
  std::vector<std::string> allow_hosts;
  std::vector<std::string> allow_origins;
  size_t max_connections = 64;
  double idle_timeout_s = 30;
};

int run_dashboard(const DashboardArgs& args) {
  std::string host = args.listen;
  uint16_t port = 4000;
  size_t colon = args.listen.rfind(':');
  if (colon != std::string::npos) {
    host = args.listen.substr(0, colon);
    std::string p = args.listen.substr(colon + 1);
    char* end = nullptr;
    long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v < 0 || v > 65535) {
      std::fprintf(stderr, "rusm dashboard: --listen %s: bad port '%s'\n", args.listen.c_str(),
                   p.c_str());
      return 2;
    }
    port = static_cast<uint16_t>(v);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // Check the access options before anything starts: a bad one is a usage error.
  observe::AccessOptions access;
  access.token = args.token.empty() ? std::string(16, 'x') : args.token;
  access.allow_hosts = args.allow_hosts;
  access.allow_origins = args.allow_origins;
  if (auto p = observe::AccessPolicy::make(host, port, access); !p) {
    std::fprintf(stderr, "rusm dashboard: %s\n", p.error().message().c_str());
    return 2;
  }
  std::string assets = args.assets;
  if (assets.empty()) {
    assets = (exe_dir() / "dashboard").string();
  }
  if (!std::filesystem::exists(std::filesystem::path(assets) / "index.html")) {
    std::fprintf(stderr,
                 "rusm dashboard: warning: no index.html in %s (build the dashboard: "
                 "scripts/build.sh runs npm ci && npm run build when npm is installed)\n",
                 assets.c_str());
  }

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and this one alone receives them through sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  runtime::RuntimeOptions ro;
  ro.node.workers = args.workers;
  runtime::Runtime rt(ro);
  otp::Node& node = rt.node();
  if (!args.no_demo) {
    if (Result<otp::Pid> demo = start_demo_tree(node); !demo) {
      std::fprintf(stderr, "rusm dashboard: demo tree: %s\n", demo.error().message().c_str());
    }
    start_wasm_demo(rt);
  }
  observe::SamplerOptions so;
  so.hz = args.hz;
  observe::Sampler sampler(node, so);
  BenchRunner runner;
  observe::ServerOptions opts;
  opts.host = host;
  opts.port = port;
  opts.assets_dir = assets;
  opts.access.token = args.token;
  opts.access.allow_hosts = args.allow_hosts;
  opts.access.allow_origins = args.allow_origins;
  opts.limits.max_connections = args.max_connections;
  opts.limits.idle_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.idle_timeout_s * 1000));
  observe::Server server(node, sampler, &runner, opts);
  runner.set_server(&server);
  Result<uint16_t> bound = server.start();
  if (!bound) {
    std::fprintf(stderr, "rusm dashboard: %s\n", bound.error().message().c_str());
    return 1;
  }
  sampler.start();
  if (!server.policy().loopback()) {
    bool v6 = host.find(':') != std::string::npos;
    std::string bound_at =
        (v6 ? "[" + host + "]" : host) + ":" + std::to_string(static_cast<unsigned>(*bound));
    std::fprintf(stderr,
                 "rusm dashboard: WARNING: listening on %s, not a loopback address: anyone who "
                 "can reach it can load the page, and with the token control this node "
                 "(kill processes, run benchmarks on every core). The token travels in clear "
                 "text (plain HTTP): use this only on a network you trust, or behind a TLS "
                 "proxy (--allow-host/--allow-origin).\n",
                 bound_at.c_str());
  }
  std::printf("rusm dashboard: %s  (Ctrl-C to stop)\n", server.url().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("rusm dashboard: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  runner.join();
  server.stop();
  sampler.stop();
  Status st = node.shutdown(std::chrono::seconds(5));
  if (!st) {
    std::fprintf(stderr, "rusm dashboard: %s\n", st.message().c_str());
  }
  return 0;
}

void setup_dashboard(CLI::App& app) {
  auto args = std::make_shared<DashboardArgs>();
  CLI::App* cmd = app.add_subcommand(
      "dashboard", "Start a node with the live observer and the benchmark dashboard.");
  cmd->add_option("--listen", args->listen, "Address to serve on (host:port; port 0 = any)")
      ->capture_default_str();
  cmd->add_option("--assets", args->assets,
                  "Dashboard assets (default: the dashboard/ folder next to the rusm binary)");
  cmd->add_option("--hz", args->hz, "Snapshots per second")->check(finite_range(1.0, 60.0));
  cmd->add_option("--workers", args->workers, "Worker threads of the observed node (0 = all cores)")
      ->check(CLI::Range(0u, kMaxThreads));
  cmd->add_flag("--no-demo", args->no_demo, "Do not start the demo supervision tree");
  cmd->add_option("--token", args->token,
                  "The secret that control (kill, run, stop) needs; default: a fresh random one, "
                  "printed in the URL (16-256 URL-safe characters)")
      ->envname("RUSM_DASHBOARD_TOKEN");
  cmd->add_option("--allow-host", args->allow_hosts,
                  "Also accept this name in the Host header (a proxy's name); repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--allow-origin", args->allow_origins,
                  "Also accept WebSocket clients from this origin (https://dash.example.com); "
                  "repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--max-connections", args->max_connections,
                  "Open connections at most (HTTP and WebSocket); the excess gets 503")
      ->check(CLI::Range(size_t{1}, size_t{10000}))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout_s,
                  "Seconds a client may take to send a request or to take a message")
      ->check(finite_range(0.1, 3600.0))
      ->capture_default_str();
  cmd->callback([args] {
    int rc = run_dashboard(*args);
    if (rc != 0) {
      throw CLI::RuntimeError(rc);
    }
  });
}

CommandRegistrar registrar(setup_dashboard);

}  // namespace
}  // namespace rusm::cli
