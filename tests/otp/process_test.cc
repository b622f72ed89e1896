// Processes, messages and receive.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "rusm/otp/node.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

Task<> echo(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == 0) {
      co_return;
    }
    (void)ctx.send(m.from(), Message::make(m.tag(), m.text()));
  }
}

TEST(ProcessTest, SpawnSendReceiveReply) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> pid = node.spawn(echo);
  ASSERT_TRUE(pid) << pid.message();
  ASSERT_TRUE(probe.send(*pid, Message::make(5, "hello")));
  auto reply = probe.receive(kWait);
  ASSERT_TRUE(reply) << "echo did not answer";
  EXPECT_EQ(reply->tag(), 5u);
  EXPECT_EQ(reply->text(), "hello");
  EXPECT_EQ(reply->from(), *pid);
  ASSERT_TRUE(probe.send(*pid, Message::make(0)));
  auto reason = node.wait_exit(*pid, kWait);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason == ExitReason::noproc() || *reason == ExitReason::normal())
      << reason->to_string();
}

Task<> forward_n(Context& ctx, Pid to, int n) {
  for (int i = 0; i < n; ++i) {
    (void)ctx.send(to, Message::of(1, i));
  }
  co_return;
}

TEST(ProcessTest, PerPairOrderingIsPreserved) {
  Node node(small_node());
  Probe probe(node);
  constexpr int kN = 5000;
  ASSERT_TRUE(node.spawn(forward_n, probe.pid(), kN));
  for (int i = 0; i < kN; ++i) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m) << "message " << i << " lost";
    ASSERT_EQ(m->as<int>(), i) << "messages from one sender arrived out of order";
  }
}

Task<> selective(Context& ctx, Pid report) {
  // Wait for tag 3 first although 1 and 2 arrive earlier; then take the rest in order.
  Message third = co_await ctx.receive_tag(3);
  (void)ctx.send(report, Message::make(third.tag()));
  Message a = co_await ctx.receive();
  (void)ctx.send(report, Message::make(a.tag()));
  Message b = co_await ctx.receive_if([](const Message& m) { return m.text() == "two"; });
  (void)ctx.send(report, Message::make(b.tag()));
}

TEST(ProcessTest, SelectiveReceiveKeepsOthersInArrivalOrder) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> pid = node.spawn(selective, probe.pid());
  ASSERT_TRUE(pid);
  ASSERT_TRUE(node.send(*pid, Message::make(1, "one")));
  ASSERT_TRUE(node.send(*pid, Message::make(2, "two")));
  ASSERT_TRUE(node.send(*pid, Message::make(3, "three")));
  std::vector<uint64_t> got;
  for (int i = 0; i < 3; ++i) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m);
    got.push_back(m->tag());
  }
  EXPECT_EQ(got, (std::vector<uint64_t>{3, 1, 2}));
}

Task<> timed(Context& ctx, Pid report) {
  auto none = co_await ctx.receive(std::chrono::milliseconds(20));
  (void)ctx.send(report, Message::make(none ? 1 : 0));
  auto some = co_await ctx.receive_tag(7, kWait);
  (void)ctx.send(report, Message::make(some ? some->tag() : 0));
  auto poll = co_await ctx.receive(Duration(0));
  (void)ctx.send(report, Message::make(poll ? 1 : 2));
}

TEST(ProcessTest, ReceiveTimesOutAndPolls) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> pid = node.spawn(timed, probe.pid());
  ASSERT_TRUE(pid);
  auto first = probe.receive(kWait);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->tag(), 0u) << "receive with timeout must return nullopt when nothing came";
  ASSERT_TRUE(node.send(*pid, Message::make(7)));
  auto second = probe.receive(kWait);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->tag(), 7u);
  auto third = probe.receive(kWait);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->tag(), 2u) << "a zero timeout polls";
}

Task<> sleeper(Context& ctx, Pid report) {
  auto t0 = std::chrono::steady_clock::now();
  co_await ctx.sleep(std::chrono::milliseconds(30));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  (void)ctx.send(report, Message::of(1, static_cast<int64_t>(ms.count())));
}

TEST(ProcessTest, SleepLastsAtLeastItsDuration) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(sleeper, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_GE(m->as<int64_t>(), 30);
}

Task<> thrower(Context& ctx) {
  co_await ctx.yield();
  throw std::runtime_error("bad things");
}

TEST(ProcessTest, ThrowingBodyExitsWithErrorCarryingTheMessage) {
  Node node(small_node());
  Probe probe(node);
  SpawnOptions o;
  Result<Pid> pid = node.spawn(thrower);
  ASSERT_TRUE(pid);
  auto reason = node.wait_exit(*pid, kWait);
  ASSERT_TRUE(reason);
  if (reason->kind() != ExitKind::kNoproc) {
    EXPECT_EQ(*reason, ExitReason::error("bad things"));
  }
}

Task<> exit_with(Context& ctx, Pid watcher_probe) {
  co_await ctx.receive();
  co_await ctx.exit(ExitReason::error("chose to"));
  ADD_FAILURE() << "exit() must not resume";
}

Task<> monitor_then_report(Context& ctx, Pid target, Pid report) {
  MonitorRef ref = ctx.monitor(target);
  (void)ctx.send(target, Message::make(1));
  Message down =
      co_await ctx.receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; });
  (void)ctx.send(report, Message::make(2, down.reason().to_string()));
}

TEST(ProcessTest, ExitWithReasonIsSeenByMonitor) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> target = node.spawn(exit_with, probe.pid());
  ASSERT_TRUE(target);
  ASSERT_TRUE(node.spawn(monitor_then_report, *target, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(), "error: chose to");
}

Task<> helper_add(Context& ctx, int a) {
  co_await ctx.yield();
  co_return;
}

Task<int> helper_value(Context& ctx, int a) {
  Message m = co_await ctx.receive();
  co_return a + m.as<int>();
}

Task<> uses_helpers(Context& ctx, Pid report) {
  co_await helper_add(ctx, 1);
  int v = co_await helper_value(ctx, 40);
  (void)ctx.send(report, Message::of(1, v));
}

TEST(ProcessTest, NestedTasksReceiveAndReturnValues) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> pid = node.spawn(uses_helpers, probe.pid());
  ASSERT_TRUE(pid);
  ASSERT_TRUE(node.send(*pid, Message::of(1, 2)));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<int>(), 42);
}

TEST(ProcessTest, LambdaWithCapturesIsKeptAlive) {
  Node node(small_node());
  Probe probe(node);
  std::string text = "captured text that is longer than any small buffer";
  Pid report = probe.pid();
  ASSERT_TRUE(node.spawn([text, report](Context& ctx) -> Task<> {
    co_await ctx.yield();
    (void)ctx.send(report, Message::make(1, text));
  }));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(), text);
}

struct PidPair {
  Pid first, reuse;
};

Task<> reuse_finder(Context& ctx, Pid report) {
  // On one worker a freed slot goes back to that worker's cache, so spawning
  // after an exit reuses it quickly.
  Result<Pid> first = ctx.spawn([](Context& c) -> Task<> { co_return; });
  if (!first) {
    co_return;
  }
  while (ctx.is_alive(*first)) {
    co_await ctx.yield();
  }
  for (int i = 0; i < 1000; ++i) {
    Result<Pid> p = ctx.spawn(echo);
    if (!p) {
      co_return;
    }
    if (p->slot() == first->slot()) {
      (void)ctx.send(report, Message::of(1, PidPair{*first, *p}));
      co_return;
    }
    ctx.exit(*p, ExitReason::kill());
  }
  (void)ctx.send(report, Message::make(2));
}

TEST(ProcessTest, StalePidNeverReachesALaterProcessInTheSameSlot) {
  Node node(small_node(1));
  Probe probe(node);
  ASSERT_TRUE(node.spawn(reuse_finder, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->tag(), 1u) << "slot never reused";
  auto [first, reuse] = m->as<PidPair>();
  EXPECT_NE(reuse, first);
  EXPECT_EQ(reuse.slot(), first.slot());
  EXPECT_FALSE(node.is_alive(first));
  EXPECT_TRUE(node.is_alive(reuse));
  // A message to the stale pid must not reach the new process.
  ASSERT_TRUE(node.send(first, Message::make(9)));
  ASSERT_TRUE(probe.send(reuse, Message::make(8)));
  auto r = probe.receive(kWait);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag(), 8u) << "the stale pid's message reached the new process";
  node.exit(reuse, ExitReason::kill());
}

TEST(ProcessTest, SendingToADeadProcessIsNotAnError) {
  Node node(small_node());
  Result<Pid> p = node.spawn([](Context& ctx) -> Task<> { co_return; });
  ASSERT_TRUE(p);
  ASSERT_TRUE(eventually([&] { return !node.is_alive(*p); }));
  EXPECT_TRUE(node.send(*p, Message::make(1)));
}

Task<> blocker(Context& ctx) {
  Message m = co_await ctx.receive_tag(99);
}

TEST(ProcessTest, BoundedMailboxRefusesUserMessagesButNotSignals) {
  Node node(small_node());
  SpawnOptions o;
  o.mailbox_bound = 3;
  Result<Spawned> s = node.spawn_opt(o, blocker);
  ASSERT_TRUE(s);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(node.send(s->pid, Message::make(1))) << "message " << i << " within the bound";
  }
  Status full = node.send(s->pid, Message::make(1));
  ASSERT_FALSE(full) << "the 4th message must be refused";
  EXPECT_NE(full.message().find("full"), std::string::npos) << full.message();
  node.exit(s->pid, ExitReason::shutdown());
  auto reason = node.wait_exit(s->pid, kWait);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason == ExitReason::shutdown() || *reason == ExitReason::noproc());
}

TEST(ProcessTest, InfoReportsStateOfAWaitingProcess) {
  Node node(small_node());
  SpawnOptions o;
  o.label = "worker-7";
  Result<Spawned> s = node.spawn_opt(o, blocker);
  ASSERT_TRUE(s);
  ASSERT_TRUE(node.register_name("the_blocker", s->pid));
  ASSERT_TRUE(node.send(s->pid, Message::make(1)));
  ASSERT_TRUE(eventually([&] {
    auto i = node.info(s->pid);
    return i && i->status == ProcessStatus::kWaiting && i->mailbox_length == 1;
  }));
  auto i = node.info(s->pid);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->label, "worker-7");
  EXPECT_EQ(i->registered_name, "the_blocker");
  EXPECT_EQ(i->current_wait, "receive tag 99");
  EXPECT_GT(i->memory_bytes, 0u);
  auto all = node.processes();
  bool found = false;
  for (auto& p : all) {
    found |= p.pid == s->pid;
  }
  EXPECT_TRUE(found) << "processes() must list the process";
}

class CountingBody final : public Body {
 public:
  explicit CountingBody(Pid report) : report_(report) {}
  Step run(Context& ctx) override {
    switch (ctx.wake_reason()) {
      case WakeReason::kStart:
        return Step::wait_event(kWait);
      case WakeReason::kEvent:
        (void)ctx.send(report_, Message::make(1, "event"));
        return Step::wait_message(MessageFilter::by_tag(4));
      case WakeReason::kMessage: {
        Message m = ctx.take_delivered();
        (void)ctx.send(report_, Message::make(2, "message"));
        return Step::exit(ExitReason::normal());
      }
      default:
        return Step::exit(ExitReason::error("unexpected wake"));
    }
  }

 private:
  Pid report_;
};

TEST(BodyTest, CustomBodyWaitsForEventsAndTaggedMessages) {
  Node node(small_node());
  Probe probe(node);
  Result<Spawned> s = node.spawn_body(std::make_unique<CountingBody>(probe.pid()));
  ASSERT_TRUE(s);
  ASSERT_TRUE(node.send(s->pid, Message::make(3)));  // not tag 4: stays queued
  node.wake(s->pid);
  auto a = probe.receive(kWait);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text(), "event");
  ASSERT_TRUE(node.send(s->pid, Message::make(4)));
  auto b = probe.receive(kWait);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->text(), "message");
}

Task<> spinner(Context& ctx) {
  for (;;) {
    co_await ctx.reduce();
  }
}

TEST(SchedulerTest, BusyProcessesDoNotStarveOthers) {
  Node node(small_node(1));
  Probe probe(node);
  std::vector<Pid> spinners;
  for (int i = 0; i < 3; ++i) {
    Result<Pid> p = node.spawn(spinner);
    ASSERT_TRUE(p);
    spinners.push_back(*p);
  }
  ASSERT_TRUE(node.spawn(forward_n, probe.pid(), 10));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(probe.receive(kWait)) << "a process starved behind busy loops";
  }
  for (Pid p : spinners) {
    node.exit(p, ExitReason::kill());
  }
  for (Pid p : spinners) {
    auto r = node.wait_exit(p, kWait);
    ASSERT_TRUE(r);
  }
}

TEST(SchedulerTest, ManyProcessesRunAcrossWorkers) {
  Node node(small_node(2));
  Probe probe(node);
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(node.spawn(forward_n, probe.pid(), 1));
  }
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(probe.receive(kWait)) << i;
  }
  ASSERT_TRUE(eventually([&] { return node.process_count() == 1; }))
      << node.process_count() << " processes left; only the probe should be";
  NodeStats s = node.stats();
  EXPECT_GE(s.spawns, uint64_t{kN});
  EXPECT_EQ(s.workers.size(), 2u);
}

}  // namespace
}  // namespace rusm::otp
