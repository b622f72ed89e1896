// Tracing one process (trace.h): its sends, receives, spawns, links,
// monitors and exit reach the tracer in order; a second tracer and a dead
// pid are refused; untrace stops the events; the exit drops the tracer.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "rusm/otp/node.h"
#include "rusm/otp/trace.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace std::chrono_literals;

class Collector final : public Tracer {
 public:
  void event(const TraceEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    cv_.notify_all();
  }
  // The events once there are n of them (or after 5 s, what there is).
  std::vector<TraceEvent> wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return events_.size() >= n; });
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TraceEvent> events_;
};

Task<> quiet(Context& ctx) {
  co_await ctx.receive();
}

// Waits for a go message, then does one of each traced thing, then crashes.
Task<> subject(Context& ctx, Pid peer) {
  co_await ctx.receive();
  (void)ctx.send(peer, Message::make(5, "hi"));
  auto child = ctx.spawn(quiet);
  ctx.link(peer);
  MonitorRef ref = ctx.monitor(peer);
  ctx.unlink(peer);
  ctx.demonitor(ref, true);
  if (child) {
    ctx.exit(*child, ExitReason::kill());
  }
  throw std::runtime_error("done");
}

TEST(Trace, EveryKindOfEventInOrder) {
  NodeOptions o;
  o.workers = 1;
  Node node(o);
  Probe probe(node);
  auto p = node.spawn(subject, probe.pid());
  ASSERT_TRUE(p);
  auto c = std::make_shared<Collector>();
  ASSERT_TRUE(node.trace(*p, c).is_ok());
  EXPECT_FALSE(node.trace(*p, std::make_shared<Collector>()).is_ok()) << "one tracer at a time";
  ASSERT_TRUE(probe.send(*p, Message::make(1, "go!")).is_ok());
  std::vector<TraceEvent> e = c->wait(8);
  std::string kinds;
  for (const TraceEvent& x : e) {
    kinds += std::string(trace_kind_name(x.kind)) + " ";
  }
  ASSERT_EQ(e.size(), 8u) << kinds;
  const TraceKind want[] = {TraceKind::kReceive,   TraceKind::kSend,    TraceKind::kSpawn,
                            TraceKind::kLink,      TraceKind::kMonitor, TraceKind::kUnlink,
                            TraceKind::kDemonitor, TraceKind::kExit};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(e[i].kind, want[i]) << i << ": " << trace_kind_name(e[i].kind);
    EXPECT_EQ(e[i].pid, *p);
  }
  EXPECT_EQ(e[0].other, probe.pid());
  EXPECT_EQ(e[0].tag, 1u);
  EXPECT_EQ(e[0].size, 3u);
  EXPECT_EQ(e[1].other, probe.pid());
  EXPECT_EQ(e[1].tag, 5u);
  EXPECT_EQ(e[1].size, 2u);
  EXPECT_TRUE(e[2].other.valid());
  EXPECT_EQ(e[3].other, probe.pid());
  EXPECT_EQ(e[7].reason.kind(), ExitKind::kError);
  EXPECT_EQ(e[7].reason.detail(), "done");
  // The exit drops the tracer: the collector is ours alone again once the
  // exiting worker is past the exit event it just delivered.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (c.use_count() != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(c.use_count(), 1);
}

TEST(Trace, RefusalsAndUntrace) {
  NodeOptions o;
  o.workers = 1;
  Node node(o);
  Probe probe(node);
  auto c = std::make_shared<Collector>();
  EXPECT_FALSE(node.trace(Pid(), c).is_ok());
  auto p = node.spawn(quiet);
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.trace(*p, c).is_ok());
  node.untrace(*p, c.get());
  EXPECT_EQ(c.use_count(), 1) << "untrace drops the tracer";
  ASSERT_TRUE(probe.send(*p, Message::make(1)).is_ok());  // quiet ends on it
  ASSERT_TRUE(node.wait_exit(*p, 5s));
  EXPECT_TRUE(c->wait(0).empty()) << "no events after untrace";
  Status dead = node.trace(*p, c);
  ASSERT_FALSE(dead.is_ok());
  EXPECT_NE(dead.message().find("not a live process"), std::string::npos) << dead.message();
}

}  // namespace
}  // namespace rusm::otp
