// js-spawn: what a JavaScript process costs (docs/js.md, "Measurements"),
// with a C Wasm process measured the same way in the same run as the
// baseline. Guards the JS spawn path: rusm.spawn in guest/js/rusm_js.c and
// the child's start (from the app's template: spawn_from, its boot message
// with the call) with the runtime's spawn path under them.
//
//   spawn   one spawner process spawns children that run an empty exported
//           function and exit, each with a monitor, at most kWindow alive at
//           once, for about half the duration; spawn + run + exit per second
//           (timed from the host: the command to the spawner's answer after
//           the last DOWN). JS: a JS main process spawning JS children with
//           rusm.spawnMonitor; C: guests.c's spawn_window spawning `run`.
//   idle    N processes blocked in receive: the growth of this OS process's
//           resident set per process, and the memory the host counts for
//           one (process info memory_bytes, averaged). The JS ones are
//           spawned by the JS main process, the C ones (10 N) by the host.
//
// The idle phases run first, C before JS: an ended process's linear memory
// goes back to the engine's pool resident (zeroed), and the next processes
// of its size would reuse it without growing the resident set. (So a second
// run in the same OS process, from the dashboard, reports less.)
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/js_runtime.h"
#include "common/scenario.h"
#include "runtime/runtime_common.h"

namespace rusm::bench::runtime_bench {
namespace {

using rusm::otp::Pid;
using rusm::otp::Probe;

// The JS app: main(host) is driven by the host (JsMain): "storm" and
// "idle"/"stop" are the two phases; any other command ends it.
constexpr std::string_view kSpawnScript = R"JS(
export function nop() {}

export function idle() {
  rusm.send(rusm.parent(), "up");
  rusm.receive({ tag: "stop" });
}

// n children running nop, each monitored, at most `window` alive at once;
// returns how many did not end normally.
function storm(n, window) {
  let live = 0, failed = 0;
  const down = () => {
    if (rusm.receive({ tag: "DOWN" }).reason !== "normal") failed++;
    live--;
  };
  for (let i = 0; i < n; i++) {
    if (live === window) down();
    rusm.spawnMonitor("nop", [], { stdio: false });
    live++;
  }
  while (live > 0) down();
  return failed;
}

export function main(host) {
  host = Number(host);
  let idlers = [];
  rusm.send(host, 1, "");
  for (;;) {
    const cmd = rusm.receive({ tag: 2 }).json();
    if (cmd.op === "storm") {
      rusm.send(host, 3, { failed: storm(cmd.n, cmd.window) });
    } else if (cmd.op === "idle") {
      for (let i = 0; i < cmd.n; i++) idlers.push(rusm.spawnMonitor("idle", [], { stdio: false }).pid);
      for (let i = 0; i < cmd.n; i++) rusm.receive({ tag: "up" });
      rusm.send(host, 3, idlers);
    } else if (cmd.op === "stop") {
      for (const p of idlers) rusm.send(p, "stop");
      for (let i = 0; i < idlers.length; i++) rusm.receive({ tag: "DOWN" });
      idlers = [];
      rusm.send(host, 3, "");
    } else {
      return;
    }
  }
}
)JS";

// Children alive at once during a spawn phase, for both languages.
constexpr int kWindow = 16;
// The issue's goals for a JS process.
constexpr double kSpawnGoalUs = 50;
constexpr double kIdleGoalBytes = 256 * 1024;

struct Rate {
  double per_s = 0;
  int spawned = 0;
  uint64_t failed = 0;  // children that did not end normally
};

struct Idle {
  double rss_per = 0;     // resident-set growth per process, bytes
  double info_bytes = 0;  // mean process info memory_bytes
  size_t count = 0;
};

// One measured spawn phase of about `seconds`: a warm-up of `warm` spawns
// sets the count. run(n) spawns n and returns the failures, or nullopt.
template <typename Run>
std::optional<Rate> spawn_phase(int warm, double seconds, Run run) {
  auto timed = [&](int n) -> std::optional<Rate> {
    auto t0 = Clock::now();
    std::optional<uint64_t> failed = run(n);
    if (!failed) {
      return std::nullopt;
    }
    return Rate{n / secs_since(t0), n, *failed};
  };
  auto w = timed(warm);
  if (!w) {
    return std::nullopt;
  }
  return timed(std::max(warm, static_cast<int>(w->per_s * seconds)));
}

std::optional<Rate> c_spawns(rusm::runtime::Runtime& rt, double seconds, Report& report) {
  return spawn_phase(2000, seconds, [&](int n) -> std::optional<uint64_t> {
    Probe probe(rt.node());
    auto p = rt.spawn(spec("spawn_window", {probe.pid().bits(), uint64_t(n), uint64_t(kWindow)}));
    auto m = p ? probe.receive(std::chrono::seconds(300)) : std::nullopt;
    if (!m) {
      report.notes.push_back("the C spawner failed: " +
                             (p ? std::string("no answer in 300 s") : p.message()));
      return std::nullopt;
    }
    return m->as<uint64_t>();
  });
}

std::optional<Rate> js_spawns(JsMain& js, double seconds, Report& report) {
  return spawn_phase(2 * kWindow, seconds, [&](int n) -> std::optional<uint64_t> {
    auto reply = js.call(R"({"op":"storm","n":)" + std::to_string(n) + R"(,"window":)" +
                             std::to_string(kWindow) + "}",
                         std::chrono::seconds(300));
    auto j = reply ? nlohmann::json::parse(*reply, nullptr, false) : nlohmann::json();
    if (!reply || !j.is_object() || !j["failed"].is_number_unsigned()) {
      report.notes.push_back("the JS spawner failed: " +
                             (reply ? "it answered " + *reply : reply.message()));
      return std::nullopt;
    }
    return j["failed"].get<uint64_t>();
  });
}

// Resident-set growth per process and mean memory_bytes of `pids`, once all
// are blocked (and 500 ms more: for the last page faults to show, and for
// the compiled tier to trim idle stacks, after 100-200 ms; docs/engine.md).
Idle measure_idle(rusm::otp::Node& node, size_t rss_before, const std::vector<Pid>& pids) {
  wait_until_blocked(node);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Idle idle;
  idle.count = pids.size();
  if (pids.empty()) {
    return idle;
  }
  idle.rss_per = (double(rss()) - double(rss_before)) / pids.size();
  double bytes = 0;
  size_t seen = 0;
  for (Pid p : pids) {
    if (auto i = node.info(p)) {
      bytes += double(i->memory_bytes);
      ++seen;
    }
  }
  idle.info_bytes = seen ? bytes / seen : 0;
  return idle;
}

std::optional<Idle> c_idle(rusm::runtime::Runtime& rt, int n, Report& report) {
  const size_t live_before = rt.node().process_count();
  const size_t before = rss();
  std::vector<Pid> pids;
  for (int i = 0; i < n; ++i) {
    auto p = rt.spawn(spec("idle"));
    if (!p) {
      report.notes.push_back("C idle processes: spawn failed after " + std::to_string(i) + ": " +
                             p.message());
      break;
    }
    pids.push_back(p->pid);
  }
  Idle idle = measure_idle(rt.node(), before, pids);
  for (Pid p : pids) {
    (void)rt.node().send(p, rusm::otp::Message::make(1));  // guests.c's idle returns on any message
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (rt.node().process_count() > live_before && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (rt.node().process_count() > live_before) {
    report.notes.push_back("C idle processes: not all ended within 60 s of their message");
  }
  if (pids.size() != static_cast<size_t>(n)) {
    return std::nullopt;
  }
  return idle;
}

// `stop`: end the idle processes once measured (else the caller sends
// {"op":"stop"} later, keeping their memory taken meanwhile).
std::optional<Idle> js_idle(JsMain& js, rusm::otp::Node& node, int n, Report& report,
                            bool stop = true) {
  const size_t before = rss();
  auto reply = js.call(R"({"op":"idle","n":)" + std::to_string(n) + "}", std::chrono::seconds(300));
  auto j = reply ? nlohmann::json::parse(*reply, nullptr, false) : nlohmann::json();
  if (!reply || !j.is_array() || j.size() != static_cast<size_t>(n)) {
    report.notes.push_back("JS idle processes failed: " +
                           (reply ? "it answered " + reply->substr(0, 200) : reply.message()));
    return std::nullopt;
  }
  std::vector<Pid> pids;
  for (const auto& p : j) {
    pids.push_back(Pid::from_bits(p.is_number_unsigned() ? p.get<uint64_t>() : 0));
  }
  Idle idle = measure_idle(node, before, pids);
  if (!stop) {
    return idle;
  }
  if (auto stopped = js.call(R"({"op":"stop"})", std::chrono::seconds(300)); !stopped) {
    report.notes.push_back("stopping the JS idle processes: " + stopped.message());
    return std::nullopt;
  }
  return idle;
}

std::string goal_note(bool met, std::string_view goal) {
  return std::string(goal) + (met ? ": met" : ": NOT met");
}

Report js_spawn(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "js-spawn";
  report.summary =
      "spawn + run + exit per second and bytes per idle process: JavaScript vs a C Wasm process";
  auto rt = make_runtime(options, report);
  if (!rt) {
    return report;
  }
  auto js = JsMain::start(*rt, "js-spawn.js", kSpawnScript, std::chrono::seconds(60));
  if (!js) {
    report.notes.push_back("no JavaScript process: " + js.message());
    return report;
  }
  // QuickJS compiled to native code (issue 14), when the compiled tier's
  // cache has it (`rusm compile`, or an earlier run's background compile:
  // LLVM takes about a minute for QuickJS, too long to wait for here). Its
  // idle processes are measured first and kept until the interpreted ones
  // are measured, so that neither measurement reuses memory the other freed.
  std::unique_ptr<rusm::runtime::Runtime> crt;
  std::unique_ptr<JsMain> cjs;
  std::optional<Idle> idle_compiled;
  {
    wasm::CompileOptions probe;
    probe.tier = wasm::Tier::kAuto;
    auto cached = wasm::Module::compile(rusm::cli::js_runtime_wasm(), probe);
    if (!cached || (*cached)->tier() != wasm::Tier::kCompiled) {
      report.notes.push_back(
          "no compiled-tier rows: QuickJS is not in the compiled tier's cache (fill it with a "
          "`rusm compile --js`, or let a `rusm run app.js` compile it in the background, then run "
          "this again)");
    } else if ((crt = make_runtime(options, report, wasm::Tier::kAuto))) {
      auto started = JsMain::start(*crt, "js-spawn.js", kSpawnScript, std::chrono::seconds(60));
      if (started &&
          (*started)->call(R"({"op":"storm","n":1,"window":1})", std::chrono::seconds(60))) {
        cjs = std::move(*started);
        const int n = std::clamp(static_cast<int>(options.duration_s * 100), 20, 200);
        idle_compiled = js_idle(*cjs, crt->node(), n, report, /*stop=*/false);
      }
    }
  }
  // A JS process's first spawn makes the app's template (docs/js.md, "How
  // spawning works"), once: outside the measured phases.
  if (auto first = (*js)->call(R"({"op":"storm","n":1,"window":1})", std::chrono::seconds(60));
      !first) {
    report.notes.push_back("the first JS spawn failed: " + first.message());
    return report;
  }
  // About 100 idle JS processes a second of --duration (200 at the default),
  // ten times as many of the 30x smaller C ones, and at least 5,000 of those:
  // fewer (300 in a short run, 2.7 MB) grew the resident set less than the
  // allocator's purges of freed pages shrank it, and came out negative.
  const int idle_js_n = std::clamp(static_cast<int>(options.duration_s * 100), 20, 200);
  std::optional<Idle> idle_c, idle_js;
  if (options.baselines) {
    idle_c = c_idle(*rt, std::max(5000, 10 * idle_js_n), report);
  }
  if (!progress.should_stop()) {
    idle_js = js_idle(**js, rt->node(), idle_js_n, report);
  }
  std::optional<Rate> spawn_c, spawn_js;
  if (!progress.should_stop() && options.baselines) {
    spawn_c = c_spawns(*rt, options.duration_s / 2, report);
  }
  if (!progress.should_stop()) {
    spawn_js = js_spawns(**js, options.duration_s / 2, report);
  }

  std::optional<double> c_rate;
  if (spawn_c) {
    c_rate = spawn_c->per_s;
  }
  if (spawn_js) {
    progress.sample("spawns/s", spawn_js->per_s);
    const double us = 1e6 / spawn_js->per_s;
    report.rows.push_back({"JS spawn+run+exit/s", spawn_js->per_s, "/s", c_rate, "C Wasm process",
                           true,
                           "1 spawner, <= " + std::to_string(kWindow) + " alive, " +
                               std::to_string(spawn_js->spawned) + " spawns"});
    report.rows.push_back({"time per JS spawn", us, "us", kSpawnGoalUs, "goal", false,
                           goal_note(us < kSpawnGoalUs, "goal < 50 us")});
  }
  if (idle_js) {
    progress.sample("bytes per process", idle_js->rss_per);
    std::optional<double> c_rss, c_info;
    if (idle_c) {
      c_rss = idle_c->rss_per;
      c_info = idle_c->info_bytes;
    }
    std::string counts = std::to_string(idle_js->count) + " JS processes";
    if (idle_c) {
      counts += ", " + std::to_string(idle_c->count) + " C";
    }
    report.rows.push_back(
        {"RSS per idle JS process", idle_js->rss_per, "B", c_rss, "C Wasm process", false, counts});
    report.rows.push_back({"JS process info memory_bytes", idle_js->info_bytes, "B", c_info,
                           "C Wasm process", false, "mean"});
    report.rows.push_back({"RSS per idle JS process", idle_js->rss_per, "B", kIdleGoalBytes, "goal",
                           false, goal_note(idle_js->rss_per < kIdleGoalBytes, "goal < 256 KiB")});
  }
  if (cjs && idle_compiled) {
    (void)cjs->call(R"({"op":"stop"})", std::chrono::seconds(300));
    report.rows.push_back({"compiled tier: RSS per idle JS process", idle_compiled->rss_per, "B",
                           kIdleGoalBytes, "goal", false,
                           goal_note(idle_compiled->rss_per < kIdleGoalBytes,
                                     "goal < 256 KiB, its fiber stack included")});
  }
  // The same spawns compiled; the baseline is the interpreted rate above.
  if (cjs && spawn_js && !progress.should_stop()) {
    if (auto spawn_compiled = js_spawns(*cjs, options.duration_s / 2, report)) {
      const double us = 1e6 / spawn_compiled->per_s;
      report.rows.push_back({"compiled tier: JS spawn+run+exit/s", spawn_compiled->per_s, "/s",
                             spawn_js->per_s, "interpreted QuickJS", true,
                             std::to_string(spawn_compiled->spawned) + " spawns"});
      report.rows.push_back({"compiled tier: time per JS spawn", us, "us", kSpawnGoalUs, "goal",
                             false, goal_note(us < kSpawnGoalUs, "goal < 50 us")});
    }
  }
  for (const auto& [who, rate] : {std::pair{"JS", spawn_js}, std::pair{"C", spawn_c}}) {
    if (rate && rate->failed > 0) {
      report.notes.push_back(std::string(who) + ": " + std::to_string(rate->failed) + " of " +
                             std::to_string(rate->spawned) +
                             " children did not end normally, so the rate is not theirs");
    }
  }
  report.notes.push_back(
      "spawn: JS children spawned by a JS process (rusm.spawnMonitor), C ones by a C process "
      "(rusm_spawn_monitor); each child runs an empty exported function and returns");
  return report;
}

Registrar r({"js-spawn",
             "spawn + run + exit/s and bytes per idle JavaScript process vs a C Wasm process",
             js_spawn});

}  // namespace
}  // namespace rusm::bench::runtime_bench
