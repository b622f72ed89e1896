// spawn-storm: spawn + exit of trivial processes per second, one spawner per
// worker. Guards the spawn path (pool.cc, process.cc prepare/commit/exit).
#include <atomic>

#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/otp/node.h"

namespace rusm::bench::otp {
namespace {

using namespace rusm::otp;

Task<> trivial(Context&) {
  co_return;
}

// One spawn in 256 is timed from spawn() to the child's first instruction.
Task<> timed(Context&, std::chrono::steady_clock::time_point t0, Progress* progress) {
  progress->latency("spawn to running", std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - t0)
                                            .count());
  co_return;
}

Task<> spawner(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* total, Pid report,
               Progress* progress) {
  uint64_t n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    (void)ctx.spawn(timed, std::chrono::steady_clock::now(), progress);
    for (int i = 1; i < 256; ++i) {
      if (!ctx.spawn(trivial)) {
        break;
      }
    }
    n += 256;
    total->fetch_add(256, std::memory_order_relaxed);
    co_await ctx.reduce(0);  // spawn charged the budget; yield when spent
  }
  (void)ctx.send(report, Message::of(1, n));
}

Report run(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "spawn-storm";
  report.summary = "spawn + exit of trivial processes per second, one spawner per core";
  NodeOptions no;
  no.workers = options.threads;
  double rate = 0;
  unsigned spawners = 0;
  {
    Node node(no);
    spawners = node.workers();
    Probe probe(node);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> total{0};
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < spawners; ++i) {
      (void)node.spawn(spawner, &stop, &total, probe.pid(), &progress);
    }
    run_sampling(
        options.duration_s, progress, "spawns/s", [&] { return total.load(); }, &node);
    stop.store(true);
    uint64_t spawned = 0;
    for (unsigned i = 0; i < spawners; ++i) {
      if (auto m = probe.receive(std::chrono::seconds(30))) {
        spawned += m->as<uint64_t>();
      }
    }
    // Count until every spawned process has also exited.
    while (node.process_count() > 1) {
      std::this_thread::yield();
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rate = spawned / secs;
  }
  Row row;
  row.metric = "spawn+exit/s";
  row.value = rate;
  row.unit = "/s";
  row.note = std::to_string(spawners) + " spawners";
  BeamOutput beam = run_beam(
      options, "rusm_beam_anchor:spawn_storm(" + std::to_string(ms(options.duration_s)) + ")");
  if (beam.ran) {
    row.baseline = number_after(beam.text, "spawn-storm: ");
    row.baseline_name = "BEAM";
    if (!row.baseline) {
      report.notes.push_back("could not parse the BEAM output: " + beam.text);
    }
  } else {
    report.notes.push_back(beam.note);
  }
  report.rows.push_back(row);
  return report;
}

Registrar registrar({"spawn-storm", "spawn + exit of trivial processes per second", run});

}  // namespace
}  // namespace rusm::bench::otp
