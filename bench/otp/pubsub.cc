// pubsub-fanout: one publisher to 8 subscribers per core on one topic
// (Node::publish), against Erlang's pg doing the same in the same run:
// deliveries per second, and the one-way latency from a publish to a
// subscriber's receive.
//
// Both sides run the same protocol. The publisher publishes batches of 256
// messages; each subscriber acks every 256th message it gets, and the
// publisher waits for every subscriber's ack of batch b-3 before it goes on
// past batch b (so mailboxes stay bounded and the figure is deliveries the
// subscribers took, not messages queued). Latency: one publish at a time,
// carrying its send time; each subscriber answers with the time it took.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/otp/node.h"

namespace rusm::bench::otp {
namespace {

using namespace rusm::otp;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kData = 1, kLatency = 2, kAck = 3, kLatencyAck = 4, kStop = 5;
constexpr int kBatch = 256;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Task<> subscriber(Context& ctx, Pid publisher) {
  (void)ctx.node().subscribe("news", ctx.self());
  (void)ctx.send(publisher, Message::make(kStop, "ready"));
  uint64_t n = 0;
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kData) {
      if (++n % kBatch == 0) {
        (void)ctx.send(publisher, Message::of(kAck, n / kBatch - 1));
      }
    } else if (m.tag() == kLatency) {
      int64_t sent = m.as<int64_t>();
      (void)ctx.send(publisher, Message::of(kLatencyAck, now_ns() - sent));
    } else if (m.tag() == kStop) {
      co_return;
    }
  }
}

// Every subscriber's ack of `batch`.
Task<> wait_acks(Context& ctx, int subs, uint64_t batch) {
  for (int i = 0; i < subs; ++i) {
    (void)co_await ctx.receive_if(
        [batch](const Message& m) { return m.tag() == kAck && m.as<uint64_t>() == batch; });
  }
}

struct Result2 {
  double deliveries_per_s = 0;
  double latency_p50_ns = 0;
};

Task<> publisher(Context& ctx, int subs, double seconds, int samples, Result2* out, Pid done) {
  std::vector<Pid> pids;
  for (int i = 0; i < subs; ++i) {
    pids.push_back(*ctx.spawn(subscriber, ctx.self()));
  }
  for (int i = 0; i < subs; ++i) {
    (void)co_await ctx.receive_if([](const Message& m) { return m.tag() == kStop; });  // ready
  }
  Node& node = ctx.node();
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::duration<double>(seconds);
  uint64_t b = 0;
  for (;; ++b) {
    for (int i = 0; i < kBatch; ++i) {
      (void)node.publish("news", Message::make(kData), ctx.self());
    }
    if (b >= 3) {
      co_await wait_acks(ctx, subs, b - 3);
    }
    if (Clock::now() >= deadline) {
      break;
    }
  }
  for (uint64_t k = b >= 3 ? b - 2 : 0; k <= b; ++k) {
    co_await wait_acks(ctx, subs, k);
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  out->deliveries_per_s = double(b + 1) * kBatch * subs / secs;
  std::vector<int64_t> lat;
  for (int s = 0; s < samples; ++s) {
    (void)node.publish("news", Message::of(kLatency, now_ns()), ctx.self());
    for (int i = 0; i < subs; ++i) {
      Message m = co_await ctx.receive_if([](const Message& x) { return x.tag() == kLatencyAck; });
      lat.push_back(m.as<int64_t>());
    }
  }
  std::sort(lat.begin(), lat.end());
  out->latency_p50_ns = lat.empty() ? 0 : double(lat[lat.size() / 2]);
  for (Pid p : pids) {
    (void)ctx.send(p, Message::make(kStop));
  }
  (void)ctx.send(done, Message::make(1));
}

// The same protocol on Erlang's pg (OTP 23+).
constexpr const char* kPgErl = R"(-module(rusm_pg_bench).
-export([run/3]).
run(Subs, Ms, Samples) ->
    {ok, _} = pg:start_link(),
    Self = self(),
    Pids = [spawn_link(fun() -> sub(Self, 0) end) || _ <- lists:seq(1, Subs)],
    ok = pg:join(news, Pids),
    Deadline = erlang:monotonic_time(millisecond) + Ms,
    T0 = erlang:monotonic_time(microsecond),
    B = pub(Subs, 0, Deadline),
    [wait_acks(Subs, K) || K <- lists:seq(max(0, B - 2), B)],
    Secs = (erlang:monotonic_time(microsecond) - T0) / 1.0e6,
    io:format("pg-deliveries: ~.1f~n", [(B + 1) * 256 * Subs / Secs]),
    Lat = lists:sort(lat(Subs, Samples, [])),
    io:format("pg-latency-p50-ns: ~p~n", [lists:nth(max(1, length(Lat) div 2 + 1), Lat)]),
    ok.
publish(Msg) -> [P ! Msg || P <- pg:get_members(news)], ok.
pub(Subs, B, Deadline) ->
    [publish(m) || _ <- lists:seq(1, 256)],
    if B >= 3 -> wait_acks(Subs, B - 3); true -> ok end,
    case erlang:monotonic_time(millisecond) >= Deadline of
        true -> B;
        false -> pub(Subs, B + 1, Deadline)
    end.
wait_acks(0, _) -> ok;
wait_acks(N, K) -> receive {ack, K} -> wait_acks(N - 1, K) end.
sub(Parent, N) ->
    receive
        m -> N1 = N + 1,
             case N1 rem 256 of 0 -> Parent ! {ack, N1 div 256 - 1}; _ -> ok end,
             sub(Parent, N1);
        {lat, T} -> Parent ! {lat_ack, erlang:monotonic_time(nanosecond) - T}, sub(Parent, N)
    end.
lat(_, 0, Acc) -> Acc;
lat(Subs, K, Acc) ->
    publish({lat, erlang:monotonic_time(nanosecond)}),
    lat(Subs, K - 1, collect(Subs, Acc)).
collect(0, Acc) -> Acc;
collect(N, Acc) -> receive {lat_ack, D} -> collect(N - 1, [D | Acc]) end.
)";

Report pubsub_fanout(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "pubsub-fanout";
  report.summary = "one publisher to 8 subscribers per core on one topic: deliveries/s, latency";
  NodeOptions no;
  no.workers = options.threads;
  Node node(no);
  int cores = static_cast<int>(node.workers());
  int subs = 8 * cores;
  const int samples = 2000;
  Result2 r;
  {
    Probe probe(node);
    (void)node.spawn(publisher, subs, options.duration_s, samples, &r, probe.pid());
    if (!probe.receive(std::chrono::seconds(120))) {
      report.notes.push_back("the rusm run did not finish");
      return report;
    }
  }
  progress.sample("deliveries/s", r.deliveries_per_s);
  std::optional<double> pg_rate, pg_p50;
  BeamOutput beam =
      run_beam(options,
               "rusm_pg_bench:run(" + std::to_string(subs) + ", " +
                   std::to_string(ms(options.duration_s)) + ", " + std::to_string(samples) + ")",
               "rusm_pg_bench", kPgErl);
  if (beam.ran) {
    pg_rate = number_after(beam.text, "pg-deliveries: ");
    pg_p50 = number_after(beam.text, "pg-latency-p50-ns: ");
    if (!pg_rate) {
      report.notes.push_back("the Erlang run printed no figure: " + beam.text.substr(0, 300));
    }
  } else {
    report.notes.push_back(beam.note);
  }
  Row a = make_row("deliveries/s", r.deliveries_per_s, "/s");
  a.baseline = pg_rate;
  a.baseline_name = "Erlang pg";
  a.note = std::to_string(subs) + " subscribers; goal: 2x Erlang's pg";
  report.rows.push_back(a);
  Row l = make_row("publish -> receive p50", r.latency_p50_ns / 1000.0, "us");
  l.baseline = pg_p50 ? std::optional<double>(*pg_p50 / 1000.0) : std::nullopt;
  l.baseline_name = "Erlang pg";
  l.higher_is_better = false;
  l.note = "one publish at a time, each subscriber's receive";
  report.rows.push_back(l);
  report.notes.push_back(
      "native processes on both sides (a Wasm guest's publish adds one host call)");
  return report;
}

Registrar r({"pubsub-fanout", "one publisher to 8 subscribers per core on a topic, vs Erlang's pg",
             pubsub_fanout});

}  // namespace
}  // namespace rusm::bench::otp
