// fairness: one busy process per worker plus a bystander counting its own
// progress; the bystander must keep running. Guards the run queues and the
// reduction budget (scheduler.cc).
#include <atomic>

#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/otp/node.h"

namespace rusm::bench::otp {
namespace {

using namespace rusm::otp;

Task<> spin(Context& ctx) {
  for (;;) {
    co_await ctx.reduce();
  }
}

Task<> bystander(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* ops) {
  uint64_t n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    co_await ctx.reduce();
    if ((++n & 4095) == 0) {
      ops->store(n, std::memory_order_relaxed);
    }
  }
  ops->store(n, std::memory_order_relaxed);
}

Report run(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "fairness";
  report.summary = "a bystander's progress with one busy-looping process per core";
  NodeOptions no;
  no.workers = options.threads;
  double rate = 0, share = 0;
  unsigned spinners = 0;
  {
    Node node(no);
    spinners = node.workers();
    std::vector<Pid> spins;
    for (unsigned i = 0; i < spinners; ++i) {
      spins.push_back(*node.spawn(spin));
    }
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> ops{0};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint64_t red0 = node.stats().reductions;
    Pid b = *node.spawn(bystander, &stop, &ops);
    double secs = run_sampling(
        options.duration_s, progress, "bystander ops/s", [&] { return ops.load(); }, &node);
    uint64_t total_red = node.stats().reductions - red0;
    stop.store(true);
    (void)node.wait_exit(b, std::chrono::seconds(30));
    rate = ops.load() / secs;
    share = total_red > 0 ? 100.0 * ops.load() / total_red : 0;
    for (Pid p : spins) {
      node.exit(p, ExitReason::kill());
    }
  }
  Row r;
  r.metric = "bystander ops/s";
  r.value = rate;
  r.unit = "/s";
  r.note = std::to_string(spinners) + " spinners busy";
  Row s;
  s.metric = "bystander share of reductions";
  s.value = share;
  s.unit = "%";
  s.note = "fair = " + std::to_string(100 / (spinners + 1)) + "%";
  BeamOutput beam = run_beam(
      options, "rusm_beam_anchor:fairness(" + std::to_string(ms(options.duration_s)) + ")");
  if (beam.ran) {
    r.baseline = number_after(beam.text, "fairness: bystander did ");
    r.baseline_name = "BEAM";
    report.notes.push_back(
        "a BEAM op is one tail call of a counting loop; ours is one "
        "co_await ctx.reduce(): compare shares, not raw ops");
  } else {
    report.notes.push_back(beam.note);
  }
  report.rows.push_back(r);
  report.rows.push_back(s);
  return report;
}

Registrar registrar({"fairness", "a bystander's progress next to busy loops", run});

}  // namespace
}  // namespace rusm::bench::otp
