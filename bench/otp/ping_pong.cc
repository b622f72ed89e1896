// ping-pong: messages per second and round-trip latency for one pair, and the
// aggregate of one pair per worker. Guards the send/receive path (inbox.h,
// context.cc send, scheduler.cc receive fast path and LIFO slot).
#include <algorithm>
#include <atomic>
#include <vector>

#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/otp/node.h"

namespace rusm::bench::otp {
namespace {

using namespace rusm::otp;

Task<> pong(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == 0) {
      co_return;
    }
    Pid from = m.from();
    (void)ctx.send(from, std::move(m));
  }
}

Task<> ping(Context& ctx, std::atomic<bool>* stop, std::atomic<uint64_t>* trips, Pid report) {
  Result<Pid> p = ctx.spawn(pong);
  uint64_t n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < 64; ++i) {
      (void)ctx.send(*p, Message::make(1));
      Message r = co_await ctx.receive();
    }
    n += 64;
    trips->fetch_add(64, std::memory_order_relaxed);
  }
  (void)ctx.send(*p, Message::make(0));
  (void)ctx.send(report, Message::of(1, n));
}

Task<> latency(Context& ctx, int samples, std::vector<int64_t>* out, Pid report,
               Progress* progress) {
  Result<Pid> p = ctx.spawn(pong);
  out->reserve(samples);
  for (int i = 0; i < samples; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    (void)ctx.send(*p, Message::make(1));
    Message r = co_await ctx.receive();
    int64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    out->push_back(ns);
    progress->latency("round trip", static_cast<uint64_t>(ns));
    if ((i & 1023) == 0 && progress->should_stop()) {
      break;
    }
  }
  (void)ctx.send(*p, Message::make(0));
  (void)ctx.send(report, Message::make(2));
}

// Runs `pairs` ping processes for the duration; returns messages per second.
double throughput(Node& node, unsigned pairs, double seconds, Progress& progress) {
  Probe probe(node);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> trips{0};
  auto t0 = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < pairs; ++i) {
    (void)node.spawn(ping, &stop, &trips, probe.pid());
  }
  run_sampling(
      seconds, progress, "msgs/s", [&] { return 2 * trips.load(); }, &node);
  stop.store(true);
  uint64_t total = 0;
  for (unsigned i = 0; i < pairs; ++i) {
    if (auto m = probe.receive(std::chrono::seconds(30))) {
      total += m->as<uint64_t>();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * total / secs;
}

Report run(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "ping-pong";
  report.summary = "message round trips: one pair, and one pair per core";
  NodeOptions no;
  no.workers = options.threads;
  double one = 0, many = 0, p50 = 0, p99 = 0;
  unsigned pairs = 0;
  {
    Node node(no);
    pairs = node.workers();
    one = throughput(node, 1, options.duration_s / 2, progress);
    {
      Probe probe(node);
      std::vector<int64_t> samples;
      (void)node.spawn(latency, 100000, &samples, probe.pid(), &progress);
      (void)probe.receive(std::chrono::seconds(60));
      std::sort(samples.begin(), samples.end());
      if (!samples.empty()) {
        p50 = samples[samples.size() / 2] / 1000.0;
        p99 = samples[samples.size() * 99 / 100] / 1000.0;
      }
    }
    many = throughput(node, pairs, options.duration_s / 2, progress);
  }
  Row r1 = make_row("msgs/s (1 pair)", one, "/s");
  Row r2 = make_row("round trip p50", p50, "us");
  r2.higher_is_better = false;
  Row r3 = make_row("round trip p99", p99, "us");
  r3.higher_is_better = false;
  Row r4 = make_row("msgs/s (" + std::to_string(pairs) + " pairs)", many, "/s");
  BeamOutput beam = run_beam(options,
                             "rusm_beam_anchor:ping_pong(1000000), "
                             "rusm_beam_anchor:ping_pong_pairs(erlang:system_info("
                             "schedulers_online), 1000000)");
  if (beam.ran) {
    r1.baseline = number_after(beam.text, "ping-pong (1 pair): ");
    r2.baseline = number_after(beam.text, "round trip: p50 ");
    r3.baseline = number_after(beam.text, "us, p99 ");
    r4.baseline = number_after(beam.text, "pairs): ");
    for (Row* r : {&r1, &r2, &r3, &r4}) {
      r->baseline_name = "BEAM";
    }
  } else {
    report.notes.push_back(beam.note);
  }
  report.rows = {r1, r2, r3, r4};
  return report;
}

Registrar registrar({"ping-pong", "message round trips between process pairs", run});

}  // namespace
}  // namespace rusm::bench::otp
