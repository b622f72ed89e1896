// fault-recovery: restarts per second, crash -> restart -> new worker running,
// through a one_for_one supervisor and through a bare link + trap_exit loop.
// Guards supervisor.cc's restart path and process.cc's exit propagation.
#include <atomic>

#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/otp/node.h"
#include "rusm/otp/supervisor.h"

namespace rusm::bench::otp {
namespace {

using namespace rusm::otp;

Task<> worker(Context& ctx, Pid bench) {
  (void)ctx.send(bench, Message::make(1));  // started
  co_await ctx.receive();
  co_await ctx.exit(ExitReason::error("crashed"));
}

// Crashes each announced worker, counting restarts.
Task<> crasher(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* count, Pid report,
               Progress* progress) {
  uint64_t n = 0;
  std::chrono::steady_clock::time_point crashed{};
  while (!stop->load(std::memory_order_relaxed)) {
    Message started = co_await ctx.receive_tag(1);
    auto now = std::chrono::steady_clock::now();
    if (n > 0) {
      progress->latency(
          "crash to restarted",
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - crashed).count());
    }
    crashed = now;
    (void)ctx.send(started.from(), Message::make(2));
    if ((++n & 255) == 0) {
      count->store(n, std::memory_order_relaxed);
    }
  }
  count->store(n, std::memory_order_relaxed);
  (void)ctx.send(report, Message::make(3));
  for (;;) {
    co_await ctx.receive();
  }
}

Task<> bare_restarter(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* count) {
  ctx.trap_exit(true);
  uint64_t n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    Result<Pid> w = ctx.spawn_link([](Context& c) -> Task<> {
      co_await c.receive();
      co_await c.exit(ExitReason::error("crashed"));
    });
    (void)ctx.send(*w, Message::make(2));
    co_await ctx.receive_if([w = *w](const Message& m) { return m.is_exit() && m.from() == w; });
    if ((++n & 255) == 0) {
      count->store(n, std::memory_order_relaxed);
    }
  }
  count->store(n, std::memory_order_relaxed);
}

Report run(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "fault-recovery";
  report.summary = "restarts per second: crash -> restart -> new worker running";
  NodeOptions no;
  no.workers = options.threads;
  double sup_rate = 0, bare_rate = 0;
  {
    Node node(no);
    Probe probe(node);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> count{0};
    Result<Pid> bench = node.spawn(crasher, &stop, &count, probe.pid(), &progress);
    SupervisorSpec spec;
    spec.strategy = Strategy::kOneForOne;
    spec.max_restarts = 1000000000;
    spec.max_seconds = std::chrono::seconds(1);
    spec.children.push_back(ChildSpec::worker("w", worker, *bench));
    Result<Pid> sup = start_supervisor(node, spec);
    double secs = run_sampling(
        options.duration_s / 2, progress, "restarts/s", [&] { return count.load(); }, &node);
    stop.store(true);
    (void)probe.receive(std::chrono::seconds(30));
    sup_rate = count.load() / secs;
    node.exit(*sup, ExitReason::shutdown());
    (void)node.wait_exit(*sup, std::chrono::seconds(30));
    node.exit(*bench, ExitReason::kill());

    std::atomic<bool> stop2{false};
    std::atomic<uint64_t> count2{0};
    Result<Pid> bare = node.spawn(bare_restarter, &stop2, &count2);
    double secs2 = run_sampling(
        options.duration_s / 2, progress, "restarts/s", [&] { return count2.load(); }, &node);
    stop2.store(true);
    (void)node.wait_exit(*bare, std::chrono::seconds(30));
    bare_rate = count2.load() / secs2;
    if (node.stats().restarts == 0) {
      report.notes.push_back("the supervisor counted no restarts");
    }
  }
  Row r1 = make_row("restarts/s (one_for_one supervisor)", sup_rate, "/s");
  Row r2 = make_row("restarts/s (bare link + trap_exit)", bare_rate, "/s");
  std::string d = std::to_string(ms(options.duration_s / 2));
  BeamOutput beam = run_beam(options, "rusm_beam_anchor:fault_recovery(" + d +
                                          "), rusm_beam_anchor:raw_recovery(" + d + ")");
  if (beam.ran) {
    r1.baseline = number_after(beam.text, "fault-recovery: ");
    r2.baseline = number_after(beam.text, "raw-recovery: ");
    r1.baseline_name = r2.baseline_name = "BEAM";
  } else {
    report.notes.push_back(beam.note);
  }
  report.rows = {r1, r2};
  return report;
}

Registrar registrar({"fault-recovery", "supervisor restarts per second", run});

}  // namespace
}  // namespace rusm::bench::otp
