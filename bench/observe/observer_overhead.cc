// observer-overhead: ping-pong and spawn-storm throughput with the observer's
// sampler taking 60 snapshots a second (the most it allows) against the same
// node with no sampler, in the same run. The per-process table is left out:
// it is O(processes), opt-in, and taken only while a client views it. Phases alternate off, on, on,
// off so that drift (thermal, other load) cancels. Goal: under 2% difference.
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
  if (observed) {
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
  double d = std::max(0.25, options.duration_s / 4);
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
      // off, on, on, off: a linear drift affects both sides equally.
      for (bool observed : {false, true, true, false}) {
        if (progress.should_stop()) {
          break;
        }
        double r = w.scale * phase(node, observed, d, w.body, progress, w.metric);
        (observed ? on : off) += r / 2;
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
  report.notes.push_back("each side is the mean of two " + std::to_string(d).substr(0, 4) +
                         " s phases; on a shared or 2-core machine expect a few % of noise");
  return report;
}

Registrar registrar({"observer-overhead",
                     "what the observer's sampler costs ping-pong and spawn-storm", run});

}  // namespace
}  // namespace rusm::bench::observe
