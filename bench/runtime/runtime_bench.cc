// Runtime scenarios: Wasm processes measured next to native otp processes in
// the same run. Guards the spawn path (runtime.cc make_process, process.cc
// init), the slice loop (process.cc run/drive) and send/receive (abi.cc).
//
//   module-storm       spawn + run + exit of a small Wasm process per second,
//                      one Wasm spawner per worker; baseline: native spawn-storm
//   wasm-ping-pong     round trips/s between two Wasm processes; baseline: native
//   wasm-fairness      a Wasm echo's round trips next to one spinning Wasm
//                      process per worker; baseline: the same echo without them
//   wasm-idle-memory   bytes per idle Wasm process blocked in receive
//   crypto-ops         SHA-256 of 256 bytes per call from a C Wasm process
//                      (rusm.crypto_digest) and from a JavaScript process
//                      (crypto.subtle.digest, awaited); baseline: the same
//                      OpenSSL call natively, on one thread
//   (js-spawn, the JavaScript process's spawn and idle size: js_bench.cc)
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>

#include "common/scenario.h"
#include "otp/beam.h"
#include "runtime/runtime_common.h"
#include "rusm/runtime/runtime.h"

namespace rusm::bench::runtime_bench {
namespace {

using namespace rusm::otp;
using rusm::runtime::ProcessSpec;
using rusm::runtime::Runtime;

// ---- module-storm

Task<> trivial(Context&) {
  co_return;
}
Task<> native_spawner(Context& ctx, int n, Pid report) {
  for (int i = 0; i < n; ++i) {
    (void)ctx.spawn(trivial);
    if (i % 256 == 255) {
      co_await ctx.reduce(0);
    }
  }
  (void)ctx.send(report, Message::of(1, uint64_t(n)));
}

// Spawns `spawners` spawners of n each; returns spawn+exit per second.
template <typename SpawnOne>
double storm(Node& node, unsigned spawners, int n, SpawnOne spawn_one) {
  Probe probe(node);
  auto t0 = Clock::now();
  for (unsigned i = 0; i < spawners; ++i) {
    spawn_one(probe.pid());
  }
  uint64_t total = 0;
  for (unsigned i = 0; i < spawners; ++i) {
    if (auto m = probe.receive(std::chrono::seconds(120))) {
      total += m->as<uint64_t>();
    }
  }
  while (node.process_count() > 1) {
    std::this_thread::yield();
  }
  return total / secs_since(t0);
}

Report module_storm(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "module-storm";
  report.summary = "spawn + run + exit of a one-page Wasm process per second, one spawner per core";
  auto rt = make_runtime(options, report);
  if (!rt) {
    return report;
  }
  unsigned spawners = rt->node().workers();
  int n = static_cast<int>(150'000 * options.duration_s / 3.0) + 1000;
  // Warm-up (memory pools, caches).
  storm(rt->node(), spawners, 2000, [&](Pid report_to) {
    (void)rt->spawn(spec("spawner", {report_to.bits(), 2000}));
  });
  double wasm = storm(rt->node(), spawners, n, [&](Pid report_to) {
    (void)rt->spawn(spec("spawner", {report_to.bits(), uint64_t(n)}));
  });
  progress.sample("spawns/s", wasm);
  std::optional<double> native;
  if (options.baselines) {
    native = storm(rt->node(), spawners, n * 4, [&](Pid report_to) {
      (void)rt->node().spawn(native_spawner, n * 4, report_to);
    });
  }
  Row row{"Wasm spawn+run+exit/s",
          wasm,
          "/s",
          native,
          "native otp spawn-storm",
          true,
          std::to_string(spawners) + " spawners"};
  report.rows.push_back(row);
  // The same storm with the module compiled to native code (issue 14: a
  // compiled module's spawn must cost no more than the interpreter's), and
  // as `rusm run` has it once the cache has the module (--tier auto: the
  // children's entry, `run`, is a short straight-line call, which auto
  // interprets); the baseline is the interpreted storm above.
  for (auto [name, tier, label, goal] :
       {std::tuple{"bench_compiled", rusm::wasm::Tier::kCompiled, "compiled", ""},
        std::tuple{"bench_auto", rusm::wasm::Tier::kAuto, "auto", "; goal: no worse"}}) {
    if (Status s = load_compiled_guest(*rt, name, tier); !s) {
      report.notes.push_back(std::string("no ") + label + "-tier row: " + s.message());
      continue;
    }
    storm(rt->node(), spawners, 2000, [&](Pid report_to) {
      (void)rt->spawn(spec("spawner", {report_to.bits(), 2000}, name));
    });
    double rate = storm(rt->node(), spawners, n, [&](Pid report_to) {
      (void)rt->spawn(spec("spawner", {report_to.bits(), uint64_t(n)}, name));
    });
    report.rows.push_back({std::string(label) + " tier: Wasm spawn+run+exit/s", rate, "/s", wasm,
                           "interpreter", true, std::to_string(spawners) + " spawners" + goal});
  }
  report.notes.push_back("goal: 1,000,000/s on 2 cores; RUSM reports ~475k/s on 10 cores");
  return report;
}

// ---- wasm-ping-pong

Task<> native_pong(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(m.from(), std::move(m));
  }
}
Task<> native_ping(Context& ctx, Pid peer, Pid report, int n) {
  for (int i = 0; i < n; ++i) {
    (void)ctx.send(peer, Message::of(1, uint64_t(i)));
    (void)co_await ctx.receive();
  }
  (void)ctx.send(report, Message::of(1, uint64_t(n)));
}

Task<> native_ping_timed(Context& ctx, Pid peer, Pid report, int n) {
  std::string samples(n * sizeof(uint32_t), '\0');
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    (void)ctx.send(peer, Message::of(1, uint64_t(i)));
    (void)co_await ctx.receive();
    auto dt = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    uint32_t ns = static_cast<uint32_t>(std::min<int64_t>(dt, UINT32_MAX));
    std::memcpy(samples.data() + i * sizeof ns, &ns, sizeof ns);
  }
  (void)ctx.send(report, Message::make(1, samples));
}

// p50 and p99 (microseconds) of the u32-nanosecond samples in a message.
std::pair<double, double> percentiles(const Message& m) {
  std::vector<uint32_t> v(m.text().size() / sizeof(uint32_t));
  std::memcpy(v.data(), m.text().data(), v.size() * sizeof(uint32_t));
  if (v.empty()) {
    return {0, 0};
  }
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2] / 1000.0, v[v.size() * 99 / 100] / 1000.0};
}

Report wasm_ping_pong(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "wasm-ping-pong";
  report.summary = "round trips per second between two Wasm processes (one pair)";
  auto rt = make_runtime(options, report);
  if (!rt) {
    return report;
  }
  int n = static_cast<int>(1'000'000 * options.duration_s / 6.0) + 1000;
  Probe probe(rt->node());
  // Throughput: Wasm and native rounds alternate (twice each), so that a
  // shared machine's slow moments fall on both sides.
  auto wasm_round = [&] {
    Pid pong = rt->spawn(spec("pong"))->pid;
    auto t0 = Clock::now();
    (void)rt->spawn(spec("ping", {pong.bits(), probe.pid().bits(), uint64_t(n)}));
    (void)probe.receive(std::chrono::seconds(120));
    double secs = secs_since(t0);
    rt->node().exit(pong, ExitReason::kill());
    return secs;
  };
  auto native_round = [&] {
    Pid pong = *rt->node().spawn(native_pong);
    auto t0 = Clock::now();
    (void)rt->node().spawn(native_ping, pong, probe.pid(), n);
    (void)probe.receive(std::chrono::seconds(120));
    double secs = secs_since(t0);
    rt->node().exit(pong, ExitReason::kill());
    return secs;
  };
  double wasm_secs = 0, native_secs = 0;
  for (int round = 0; round < 2; ++round) {
    wasm_secs += wasm_round();
    if (options.baselines) {
      native_secs += native_round();
    }
  }
  double wasm = 2.0 * n / wasm_secs;
  progress.sample("round trips/s", wasm);
  // Latency: every round trip timed, by the WASI clock in the guest and by
  // steady_clock natively (the guest's clock is a host call: it is inside
  // the Wasm figures).
  const int timed = std::min(2 * n, 100'000);
  Pid tpong = rt->spawn(spec("pong"))->pid;
  ProcessSpec ping =
      spec("ping_timed", {tpong.bits(), probe.pid().bits(), uint64_t(timed)}, "timed");
  ping.wasi.allow_clock = true;
  (void)rt->spawn(ping);
  auto wasm_lat = probe.receive(std::chrono::seconds(120));
  rt->node().exit(tpong, ExitReason::kill());
  auto [w50, w99] = wasm_lat ? percentiles(*wasm_lat) : std::pair{0.0, 0.0};
  Row rate{"round trips/s", wasm, "/s", std::nullopt, "native", true, ""};
  Row p50{"round trip p50",
          w50,
          "us",
          std::nullopt,
          "native",
          false,
          std::to_string(timed) + " timed round trips"};
  Row p99{"round trip p99", w99, "us", std::nullopt, "native", false, ""};
  if (options.baselines) {
    Pid npong = *rt->node().spawn(native_pong);
    (void)rt->node().spawn(native_ping_timed, npong, probe.pid(), timed);
    auto native_lat = probe.receive(std::chrono::seconds(120));
    rt->node().exit(npong, ExitReason::kill());
    auto [n50, n99] = native_lat ? percentiles(*native_lat) : std::pair{0.0, 0.0};
    rate.baseline = 2.0 * n / native_secs;
    p50.baseline = n50;
    p99.baseline = n99;
  }
  report.rows = {rate, p50, p99};
  report.notes.push_back("goal: at least half the native rate");
  return report;
}

// ---- wasm-fairness

// Round trips/s to a Wasm echo from outside the node during `seconds`.
double echo_rate(Runtime& rt, Pid echo, double seconds) {
  Probe probe(rt.node());
  auto t0 = Clock::now();
  uint64_t n = 0;
  while (secs_since(t0) < seconds) {
    (void)probe.send(echo, Message::of(1, n));
    if (!probe.receive(std::chrono::seconds(10))) {
      break;
    }
    ++n;
  }
  return n / secs_since(t0);
}

Report wasm_fairness(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "wasm-fairness";
  report.summary =
      "a Wasm bystander's round trips next to one forever-looping Wasm process per core";
  auto rt = make_runtime(options, report);
  if (!rt) {
    return report;
  }
  Pid echo = rt->spawn(spec("pong"))->pid;
  double alone = echo_rate(*rt, echo, options.duration_s / 2);
  std::vector<Pid> spinners;
  for (unsigned i = 0; i < rt->node().workers(); ++i) {
    spinners.push_back(rt->spawn(spec("spin"))->pid);
  }
  double busy = echo_rate(*rt, echo, options.duration_s / 2);
  progress.sample("bystander round trips/s", busy);
  uint64_t spin_reductions = 0;
  for (Pid p : spinners) {
    if (auto i = rt->node().info(p)) {
      spin_reductions += i->reductions;
    }
    rt->node().exit(p, ExitReason::kill());
  }
  report.rows.push_back({"bystander round trips/s", busy, "/s", alone, "bystander alone", true,
                         std::to_string(spinners.size()) + " spinners"});
  report.notes.push_back("spinners ran " + std::to_string(spin_reductions) +
                         " reductions meanwhile (they were never starved either)");
  return report;
}

// ---- wasm-idle-memory

// RSS per idle process of n one-page Wasm processes of `module` blocked in
// receive, and the runtime's own count for one of them (the processes stay
// alive, so a second call measures fresh memory too).
struct IdleMemory {
  double rss_per_process = 0;
  size_t footprint = 0;
  size_t processes = 0;
};
IdleMemory measure_idle(Runtime& rt, Report& report, const std::string& module, int n) {
  size_t before = rss();
  std::vector<Pid> pids;
  pids.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto p = rt.spawn(spec("idle", {}, module));
    if (!p) {
      report.notes.push_back("spawn failed after " + std::to_string(i) + ": " + p.message());
      break;
    }
    pids.push_back(p->pid);
  }
  wait_until_blocked(rt.node());
  // Idle means a while: a compiled call's stack is trimmed after 100-200 ms
  // blocked (docs/engine.md).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  size_t after = rss();
  IdleMemory m;
  m.processes = pids.size();
  m.rss_per_process = pids.empty() ? 0 : (double(after) - double(before)) / pids.size();
  if (!pids.empty()) {
    if (auto i = rt.node().info(pids[0])) {
      m.footprint = i->memory_bytes;
    }
  }
  return m;
}

Report wasm_idle_memory(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "wasm-idle-memory";
  report.summary = "resident bytes per idle one-page Wasm process blocked in receive";
  auto rt = make_runtime(options, report);
  if (!rt) {
    return report;
  }
  IdleMemory interp = measure_idle(*rt, report, "bench", 100'000);
  progress.sample("bytes per process", interp.rss_per_process);
  report.rows.push_back({"RSS per idle Wasm process", interp.rss_per_process, "B", 16384, "goal",
                         false, std::to_string(interp.processes) + " processes"});
  report.rows.push_back(
      {"process info memory_bytes", double(interp.footprint), "B", {}, "", false, ""});
  // Compiled code blocked in receive keeps its fiber stack (the pages its
  // frames and the host call touched): the compiled tier's idle cost.
  if (Status s = load_compiled_guest(*rt, "bench_compiled"); !s) {
    report.notes.push_back("no compiled-tier row: " + s.message());
  } else {
    IdleMemory compiled = measure_idle(*rt, report, "bench_compiled", 20'000);
    report.rows.push_back({"compiled tier: RSS per idle Wasm process", compiled.rss_per_process,
                           "B", interp.rss_per_process, "interpreter", false,
                           std::to_string(compiled.processes) + " processes"});
  }
  return report;
}

// ---- crypto-ops

// crypto-ops' JavaScript process: on {"op":"digest","n":N} it awaits N
// digests of a 256-byte block whose first byte is the call's index (as the
// C guest's hash) and replies with the last one, which the host checks.
constexpr std::string_view kDigestScript = R"JS(
export async function main(host) {
  host = Number(host);
  const block = new Uint8Array(256);
  rusm.send(host, 1, "");
  for (;;) {
    const cmd = rusm.receive({ tag: 2 }).json();
    if (cmd.op !== "digest") return;
    let last;
    for (let i = 0; i < cmd.n; i++) {
      block[0] = i;
      last = await crypto.subtle.digest("SHA-256", block);
    }
    rusm.send(host, 3, last);
  }
}
)JS";

// Digests per second from a JS process over about `seconds` (its rate from a
// short warm-up sets the count); nullopt, with a note, if it cannot run or
// its last digest is not SHA-256's.
std::optional<double> js_digest_rate(Runtime& rt, double seconds, Report& report) {
  auto js = JsMain::start(rt, "crypto-ops.js", kDigestScript, std::chrono::seconds(60));
  if (!js) {
    report.notes.push_back("no JavaScript row: " + js.message());
    return std::nullopt;
  }
  auto rate = [&](int n) -> std::optional<double> {
    auto t0 = Clock::now();
    auto reply =
        (*js)->call(R"({"op":"digest","n":)" + std::to_string(n) + "}", std::chrono::seconds(300));
    double s = secs_since(t0);
    if (!reply) {
      report.notes.push_back("no JavaScript row: " + reply.message());
      return std::nullopt;
    }
    unsigned char block[256] = {}, want[32];
    unsigned int len = 0;
    block[0] = static_cast<unsigned char>(n - 1);
    EVP_Digest(block, sizeof block, want, &len, EVP_sha256(), nullptr);
    if (reply->size() != sizeof want || std::memcmp(reply->data(), want, sizeof want) != 0) {
      report.notes.push_back("no JavaScript row: crypto.subtle.digest gave " +
                             std::to_string(reply->size()) + " bytes, not OpenSSL's SHA-256");
      return std::nullopt;
    }
    return n / s;
  };
  auto warm = rate(200);
  if (!warm) {
    return std::nullopt;
  }
  return rate(std::max(200, static_cast<int>(*warm * seconds)));
}

Report crypto_ops(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "crypto-ops";
  report.summary =
      "SHA-256 of 256 bytes per call: from a C and a JavaScript Wasm process vs native OpenSSL";
  auto rt = make_runtime(options, report);
  if (!rt) {
    return report;
  }
  // Calls per second from one Wasm process (one worker busy), timed from
  // outside over n calls (its spawn is in the figure, under 0.1% of it).
  auto wasm_rate = [&](int n) {
    Probe probe(rt->node());
    auto t0 = Clock::now();
    (void)rt->spawn(spec("hash", {probe.pid().bits(), uint64_t(n)}));
    auto m = probe.receive(std::chrono::seconds(120));
    return m ? n / secs_since(t0) : 0.0;
  };
  (void)wasm_rate(20'000);  // warm-up
  int n = static_cast<int>(1'000'000 * options.duration_s / 3.0) + 10'000;
  double wasm = wasm_rate(n);
  progress.sample("calls/s", wasm);
  std::optional<double> native;
  if (options.baselines) {
    unsigned char block[256] = {}, out[32];
    unsigned int len = 0;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      block[0] = static_cast<unsigned char>(i);
      EVP_Digest(block, sizeof block, out, &len, EVP_sha256(), nullptr);
    }
    native = n / secs_since(t0);
  }
  auto per_call = [&](double rate) { return 1e9 / rate; };
  std::optional<double> native_ns;
  if (native) {
    native_ns = per_call(*native);
  }
  report.rows.push_back({"SHA-256(256 B) calls/s, C Wasm process", wasm, "/s", native, "native",
                         true, "one process; goal: within 1.5x of native per call"});
  report.rows.push_back({"time per call, C", per_call(wasm), "ns", native_ns, "native", false, ""});
  // The JavaScript process (crypto.subtle.digest, each call awaited) for
  // about a third of the duration: its calls are ~200x slower.
  if (auto js = js_digest_rate(*rt, options.duration_s / 3.0, report)) {
    progress.sample("JS calls/s", *js);
    report.rows.push_back({"SHA-256(256 B) calls/s, JS process", *js, "/s", native, "native", true,
                           "crypto.subtle.digest, awaited; one process"});
    report.rows.push_back(
        {"time per call, JS", per_call(*js), "ns", native_ns, "native", false, ""});
  }
  return report;
}

Registrar r1({"module-storm", "spawn + run + exit of small Wasm processes per second",
              module_storm});
Registrar r2({"wasm-ping-pong", "round trips/s between two Wasm processes vs native",
              wasm_ping_pong});
Registrar r3({"wasm-fairness", "a Wasm bystander next to forever-looping Wasm processes",
              wasm_fairness});
Registrar r4({"wasm-idle-memory", "bytes per idle Wasm process blocked in receive",
              wasm_idle_memory});
Registrar r5({"crypto-ops",
              "SHA-256 of 256 bytes per call from a C and a JS Wasm process vs native OpenSSL",
              crypto_ops});

}  // namespace
}  // namespace rusm::bench::runtime_bench
