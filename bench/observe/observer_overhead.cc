// observer-overhead: ping-pong and spawn-storm throughput with the observer's
// sampler taking 60 snapshots a second (the most it allows) against the same
// node with no sampler, in the same run. The per-process table is left out:
// it is O(processes), opt-in, and taken only while a client views it. After an
// unmeasured warm-up, phases come in pairs of alternating order so that drift
// (thermal, other load) cancels. RUSM_OBS_NULL=1 runs the
// same phases with no sampler on either side: the noise floor of the method. Goal: under 2%
// difference.
#include <atomic>
#include <chrono>
#include <thread>

#include "common/scenario.h"
#include "rusm/observe/sampler.h"
#include "rusm/otp/node.h"

namespace rusm::bench::observe {
namespace {

using namespace rusm::otp;
using rusm::observe::Sampler;
using rusm::observe::SamplerOptions;

Task<> pong(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == 0) {
      co_return;
    }
    (void)ctx.send(m.from(), std::move(m));
  }
}

Task<> ping(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* trips) {
  Result<Pid> p = ctx.spawn(pong);
  while (!stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < 64; ++i) {
      (void)ctx.send(*p, Message::make(1));
      (void)co_await ctx.receive();
    }
    trips->fetch_add(64, std::memory_order_relaxed);
  }
  (void)ctx.send(*p, Message::make(0));
}

Task<> trivial(Context&) {
  co_return;
}

Task<> spawner(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* total) {
  while (!stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < 256; ++i) {
      (void)ctx.spawn(trivial);
    }
    total->fetch_add(256, std::memory_order_relaxed);
    co_await ctx.reduce(0);
  }
}

// Runs the workload for `seconds` on node (with or without a sampler) and
// returns operations per second.
template <typename Body>
double phase(Node& node, bool observed, double seconds, Body body, Progress& progress,
             const char* metric) {
  std::unique_ptr<Sampler> sampler;
  if (observed && !getenv("RUSM_OBS_NULL")) {
    sampler = std::make_unique<Sampler>(node, SamplerOptions{.hz = 60, .table_hz = 4});
    sampler->start();
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> count{0};
  for (unsigned i = 0; i < node.workers(); ++i) {
    (void)node.spawn(body, &stop, &count);
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t c0 = count.load();
  auto last_t = t0;
  uint64_t last = c0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last_t).count();
    if (dt >= 0.25) {
      uint64_t c = count.load();
      progress.sample(metric, (c - last) / dt);
      progress.sample("processes", static_cast<double>(node.process_count()));
      last = c;
      last_t = now;
    }
    if (std::chrono::duration<double>(now - t0).count() >= seconds || progress.should_stop()) {
      break;
    }
  }
  uint64_t done = count.load() - c0;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop.store(true);
  while (node.process_count() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  sampler.reset();
  return done / secs;
}

Report run(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "observer-overhead";
  report.summary = "throughput with the observer sampling 60 times a second vs without, same run";
  NodeOptions no;
  no.workers = options.threads;
  constexpr int kPairs = 4;
  double d = std::max(0.2, options.duration_s / (2 * kPairs));
  struct Workload {
    const char* name;
    const char* metric;
    Task<> (*body)(Context&, std::atomic<bool>*, std::atomic<uint64_t>*);
    double scale;  // ping counts round trips: two messages each
  };
  const Workload workloads[] = {{"ping-pong msgs/s", "msgs/s", ping, 2},
                                {"spawn-storm spawns/s", "spawns/s", spawner, 1}};
  for (const Workload& w : workloads) {
    double off = 0, on = 0;
    {
      Node node(no);
      // One unmeasured warm-up phase (pools, caches), then pairs in
      // alternating order (off-on, on-off, ...): a first phase that runs on a
      // fresh node is not compared with anything, and drift cancels.
      (void)phase(node, false, d / 2, w.body, progress, w.metric);
      for (int pair = 0; pair < kPairs; ++pair) {
        for (int k = 0; k < 2; ++k) {
          if (progress.should_stop()) {
            break;
          }
          bool observed = (pair + k) % 2 == 1;
          double r = w.scale * phase(node, observed, d, w.body, progress, w.metric);
          (observed ? on : off) += r / kPairs;
        }
      }
    }
    Row row;
    row.metric = std::string(w.name) + ", observed";
    row.value = on;
    row.unit = "/s";
    row.baseline = off;
    row.baseline_name = "no sampler";
    report.rows.push_back(row);
    Row cost;
    cost.metric = std::string(w.name) + " overhead";
    cost.value = off > 0 ? 100.0 * (off - on) / off : 0;
    cost.unit = "%";
    cost.higher_is_better = false;
    cost.note = "goal < 2; negative = noise";
    report.rows.push_back(cost);
  }
  report.notes.push_back("each side is the mean of " + std::to_string(kPairs) + " phases of " +
                         std::to_string(d).substr(0, 4) +
                         " s; RUSM_OBS_NULL=1 measures the method's noise floor (no sampler on "
                         "either side)");
  return report;
}

Registrar registrar({"observer-overhead",
                     "what the observer's sampler costs ping-pong and spawn-storm", run});

}  // namespace
}  // namespace rusm::bench::observe
