// Links, monitors, exit signals: one test per Erlang rule.
#include <gtest/gtest.h>

#include "rusm/otp/node.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

Task<> wait_forever(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive_tag(12345);
  }
}

Task<> die_on_message(Context& ctx, ExitReason reason) {
  co_await ctx.receive();
  co_await ctx.exit(reason);
}

// Links itself to `partner` (spawned by the test) and reports every message.
Task<> linked_reporter(Context& ctx, Pid partner, Pid report, bool trap) {
  ctx.trap_exit(trap);
  ctx.link(partner);
  (void)ctx.send(report, Message::make(100));  // linked
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(report, Message::make(m.tag(), m.reason().to_string()));
  }
}

struct Pair {
  Pid partner;
  Pid reporter;
};

Pair link_pair(Node& node, Probe& probe, ExitReason partner_reason, bool trap) {
  Result<Pid> partner = node.spawn(die_on_message, partner_reason);
  EXPECT_TRUE(partner);
  Result<Pid> rep = node.spawn(linked_reporter, *partner, probe.pid(), trap);
  EXPECT_TRUE(rep);
  auto linked = probe.receive(kWait);
  EXPECT_TRUE(linked && linked->tag() == 100u);
  return {*partner, *rep};
}

TEST(LinkTest, LinkedProcessDiesWithPartner) {
  Node node(small_node());
  Probe probe(node);
  Pair p = link_pair(node, probe, ExitReason::error("crash"), false);
  ASSERT_TRUE(node.send(p.partner, Message::make(1)));
  auto reason = node.wait_exit(p.reporter, kWait);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason == ExitReason::error("crash") || *reason == ExitReason::noproc())
      << reason->to_string();
  EXPECT_FALSE(node.is_alive(p.reporter));
}

TEST(LinkTest, NormalExitDoesNotKillLinkedProcess) {
  Node node(small_node());
  Probe probe(node);
  Pair p = link_pair(node, probe, ExitReason::normal(), false);
  ASSERT_TRUE(node.send(p.partner, Message::make(1)));
  ASSERT_TRUE(eventually([&] { return !node.is_alive(p.partner); }));
  ASSERT_TRUE(eventually([&] {
    auto i = node.info(p.reporter);
    return i && i->links.empty();
  })) << "the link must be removed when the partner exits";
  EXPECT_TRUE(node.is_alive(p.reporter)) << "a normal exit must not kill a linked process";
  node.exit(p.reporter, ExitReason::kill());
}

TEST(LinkTest, TrappedExitArrivesAsMessage) {
  Node node(small_node());
  Probe probe(node);
  Pair p = link_pair(node, probe, ExitReason::error("crash"), true);
  ASSERT_TRUE(node.send(p.partner, Message::make(1)));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), kExitTag);
  EXPECT_EQ(m->text(), "error: crash");
  EXPECT_TRUE(node.is_alive(p.reporter));
  node.exit(p.reporter, ExitReason::kill());
}

TEST(LinkTest, TrappedNormalExitAlsoArrives) {
  Node node(small_node());
  Probe probe(node);
  Pair p = link_pair(node, probe, ExitReason::normal(), true);
  ASSERT_TRUE(node.send(p.partner, Message::make(1)));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), kExitTag);
  EXPECT_EQ(m->text(), "normal");
  node.exit(p.reporter, ExitReason::kill());
}

TEST(LinkTest, KillIsUntrappableAndBecomesKilled) {
  Node node(small_node());
  Probe probe(node);
  SpawnOptions o;
  o.trap_exit = true;
  Result<Spawned> s = node.spawn_opt(o, wait_forever);
  ASSERT_TRUE(s);
  node.exit(s->pid, ExitReason::kill());
  auto reason = node.wait_exit(s->pid, kWait);
  ASSERT_TRUE(reason);
  EXPECT_TRUE(*reason == ExitReason::killed() || *reason == ExitReason::noproc())
      << reason->to_string();
}

TEST(LinkTest, KilledPropagatesOverLinksAsKilledAndIsTrappable) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> victim = node.spawn(wait_forever);
  ASSERT_TRUE(victim);
  Result<Pid> rep = node.spawn(linked_reporter, *victim, probe.pid(), true);
  ASSERT_TRUE(rep);
  ASSERT_TRUE(probe.receive(kWait));
  node.exit(*victim, ExitReason::kill());
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), kExitTag);
  EXPECT_EQ(m->text(), "killed");
  EXPECT_TRUE(node.is_alive(*rep));
  node.exit(*rep, ExitReason::kill());
}

TEST(LinkTest, ExitSignalWithNormalReasonIsIgnoredByNonTrappingProcess) {
  Node node(small_node());
  Result<Pid> p = node.spawn(wait_forever);
  ASSERT_TRUE(p);
  node.exit(*p, ExitReason::normal());
  node.exit(*p, ExitReason::normal());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(node.is_alive(*p));
  node.exit(*p, ExitReason::shutdown());
  auto r = node.wait_exit(*p, kWait);
  ASSERT_TRUE(r);
}

TEST(LinkTest, LinksAreBidirectional) {
  Node node(small_node());
  Probe probe(node);
  // The reporter links to the partner; killing the reporter (with a trappable
  // reason) must take the partner down too.
  Result<Pid> partner = node.spawn(wait_forever);
  ASSERT_TRUE(partner);
  Result<Pid> rep = node.spawn(linked_reporter, *partner, probe.pid(), false);
  ASSERT_TRUE(rep);
  ASSERT_TRUE(probe.receive(kWait));
  auto info = node.info(*partner);
  ASSERT_TRUE(eventually([&] {
    auto i = node.info(*partner);
    return i && i->links.size() == 1 && i->links[0] == *rep;
  })) << "the partner must see the link too";
  node.exit(*rep, ExitReason::error("boom"));
  auto r = node.wait_exit(*partner, kWait);
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r == ExitReason::error("boom") || *r == ExitReason::noproc()) << r->to_string();
}

Task<> link_then_unlink(Context& ctx, Pid partner, Pid report) {
  ctx.link(partner);
  ctx.unlink(partner);
  (void)ctx.send(report, Message::make(1));
  (void)ctx.send(partner, Message::make(1));  // partner now dies with an error
  auto m = co_await ctx.receive(kWait);
}

TEST(LinkTest, UnlinkStopsPropagation) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> partner = node.spawn(die_on_message, ExitReason::error("x"));
  ASSERT_TRUE(partner);
  Result<Pid> p = node.spawn(link_then_unlink, *partner, probe.pid());
  ASSERT_TRUE(p);
  ASSERT_TRUE(probe.receive(kWait));
  ASSERT_TRUE(eventually([&] { return !node.is_alive(*partner); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(node.is_alive(*p)) << "an unlinked process must not die with its former partner";
  node.exit(*p, ExitReason::kill());
}

Task<> link_to(Context& ctx, Pid dead, Pid report, bool trap) {
  ctx.trap_exit(trap);
  ctx.link(dead);
  Message m = co_await ctx.receive();
  (void)ctx.send(report, Message::make(m.tag(), m.reason().to_string()));
}

TEST(LinkTest, LinkToDeadProcessGivesNoproc) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> dead = node.spawn([](Context&) -> Task<> { co_return; });
  ASSERT_TRUE(dead);
  ASSERT_TRUE(eventually([&] { return !node.is_alive(*dead); }));
  Result<Pid> trapping = node.spawn(link_to, *dead, probe.pid(), true);
  ASSERT_TRUE(trapping);
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), kExitTag);
  EXPECT_EQ(m->text(), "noproc");
  Result<Pid> plain = node.spawn(link_to, *dead, probe.pid(), false);
  ASSERT_TRUE(plain);
  auto r = node.wait_exit(*plain, kWait);
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r == ExitReason::noproc()) << r->to_string();
}

Task<> monitor_and_report(Context& ctx, Pid target, Pid report) {
  MonitorRef ref = ctx.monitor(target);
  (void)ctx.send(report, Message::make(50));
  Message m = co_await ctx.receive();
  (void)ctx.send(
      report, Message::make(m.tag() == kDownTag && m.ref() == ref ? 1 : 2, m.reason().to_string()));
  auto again = co_await ctx.receive(std::chrono::milliseconds(30));
  (void)ctx.send(report, Message::make(again ? 3 : 4));
}

TEST(MonitorTest, DownArrivesExactlyOnceWithReason) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> target = node.spawn(die_on_message, ExitReason::shutdown("done"));
  ASSERT_TRUE(target);
  ASSERT_TRUE(node.spawn(monitor_and_report, *target, probe.pid()));
  ASSERT_TRUE(probe.receive(kWait));
  ASSERT_TRUE(node.send(*target, Message::make(1)));
  auto down = probe.receive(kWait);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->tag(), 1u);
  EXPECT_EQ(down->text(), "shutdown: done");
  auto none = probe.receive(kWait);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->tag(), 4u) << "a second DOWN arrived";
}

TEST(MonitorTest, MonitoringADeadPidGivesImmediateNoproc) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> dead = node.spawn([](Context&) -> Task<> { co_return; });
  ASSERT_TRUE(dead);
  ASSERT_TRUE(eventually([&] { return !node.is_alive(*dead); }));
  ASSERT_TRUE(node.spawn(monitor_and_report, *dead, probe.pid()));
  ASSERT_TRUE(probe.receive(kWait));
  auto down = probe.receive(kWait);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->tag(), 1u);
  EXPECT_EQ(down->text(), "noproc");
}

Task<> demonitor_flush(Context& ctx, Pid report) {
  Result<Pid> t = ctx.spawn([](Context&) -> Task<> { co_return; });
  MonitorRef ref = ctx.monitor(*t);
  co_await ctx.sleep(std::chrono::milliseconds(30));  // the DOWN is queued by now
  bool was_active = ctx.demonitor(ref, true);
  auto m = co_await ctx.receive(std::chrono::milliseconds(20));
  (void)ctx.send(report, Message::make(m ? 1 : 2, was_active ? "active" : "inactive"));
  // Demonitor without flush before the target dies: no DOWN ever.
  Result<Pid> t2 = ctx.spawn(wait_forever);
  MonitorRef ref2 = ctx.monitor(*t2);
  EXPECT_TRUE(ctx.demonitor(ref2));
  ctx.exit(*t2, ExitReason::kill());
  auto m2 = co_await ctx.receive(std::chrono::milliseconds(30));
  (void)ctx.send(report, Message::make(m2 ? 3 : 4));
}

TEST(MonitorTest, DemonitorWithFlushRemovesQueuedDown) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(demonitor_flush, probe.pid()));
  auto a = probe.receive(kWait);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->tag(), 2u) << "flush must remove the queued DOWN";
  auto b = probe.receive(kWait);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->tag(), 4u) << "no DOWN may arrive after demonitor";
}

Task<> spawn_monitor_child(Context& ctx, Pid report) {
  Result<Spawned> s =
      ctx.spawn_monitor([](Context& c) -> Task<> { co_await c.exit(ExitReason::error("child")); });
  Message m = co_await ctx.receive();
  (void)ctx.send(report, Message::make(m.is_down() && m.ref() == s->monitor && m.from() == s->pid,
                                       m.reason().to_string()));
}

TEST(MonitorTest, SpawnMonitorWatchesTheChildFromTheStart) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(spawn_monitor_child, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), 1u);
  EXPECT_EQ(m->text(), "error: child");
}

Task<> spawn_link_parent(Context& ctx, Pid report) {
  ctx.trap_exit(true);
  Result<Pid> c =
      ctx.spawn_link([](Context& c) -> Task<> { co_await c.exit(ExitReason::error("oops")); });
  Message m = co_await ctx.receive();
  (void)ctx.send(report, Message::make(m.is_exit() && m.from() == *c, m.reason().to_string()));
}

TEST(LinkTest, SpawnLinkLinksAtomically) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(spawn_link_parent, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), 1u);
  EXPECT_EQ(m->text(), "error: oops");
}

TEST(RegistryTest, RegisterWhereisSendAndFreeOnExit) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> p = node.spawn(die_on_message, ExitReason::normal());
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.register_name("svc", *p));
  EXPECT_EQ(node.whereis("svc"), *p);
  Status taken = node.register_name("svc", probe.pid());
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.message().find("already registered"), std::string::npos) << taken.message();
  Status second = node.register_name("svc2", *p);
  EXPECT_FALSE(second) << "a process has at most one name";
  ASSERT_TRUE(node.send("svc", Message::make(1)));
  ASSERT_TRUE(eventually([&] { return !node.whereis("svc").valid(); }))
      << "the name must be freed when the process exits";
  EXPECT_FALSE(node.send("svc", Message::make(1))) << "sending to an unknown name is an error";
  ASSERT_TRUE(node.register_name("svc", probe.pid())) << "a freed name can be taken again";
  ASSERT_TRUE(node.unregister_name("svc"));
  EXPECT_FALSE(node.whereis("svc").valid());
  EXPECT_FALSE(node.register_name("x", *p)) << "a dead process cannot be registered";
}

// A registered partner linked first to the watcher, then to many idle
// processes, crashes. Its exit signals go out one by one, the watcher's
// first; when the watcher sees its EXIT the name must already be free, so it
// takes it at once (what a supervisor restarting a registered child does).
// Reports how many of n takes failed.
Task<> idle_forever(Context& ctx) {
  (void)co_await ctx.receive();
}
Task<> name_taker(Context& ctx, int n, int links, Pid report) {
  ctx.trap_exit(true);
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    Result<Pid> c = ctx.spawn_link(
        [](Context& c, int links) -> Task<> {
          for (int k = 0; k < links; ++k) {
            (void)c.spawn_link(idle_forever);
          }
          if (!c.register_name("partner")) {
            co_await c.exit(ExitReason::error("register"));
          }
          co_await c.exit(ExitReason::error("crash"));
        },
        links);
    if (!c) {
      ++failed;
      continue;
    }
    // Poll rather than block, so that this process is runnable (and often
    // running on the other worker) while the partner sends its signals.
    std::optional<Message> m;
    while (!m) {
      m = co_await ctx.receive_if([](const Message& m) { return m.is_exit(); }, Duration::zero());
      if (!m) {
        co_await ctx.yield();
      }
    }
    if (m->reason().detail() != "crash" || !ctx.register_name("partner")) {
      ++failed;
    } else {
      (void)ctx.unregister_name("partner");
    }
  }
  (void)ctx.send(report, Message::of(1, uint64_t(failed)));
}

TEST(RegistryTest, NameIsFreeBeforeLinkedProcessesSeeTheExit) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(name_taker, 20, 5000, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<uint64_t>(), 0u) << "an EXIT arrived while the dead partner still held its name";
}

Task<> timer_user(Context& ctx, Pid report) {
  TimerRef t1 = ctx.send_after(std::chrono::milliseconds(10), ctx.self(), Message::make(1));
  TimerRef t2 = ctx.send_after(std::chrono::seconds(60), ctx.self(), Message::make(2));
  Message m = co_await ctx.receive();
  auto left = ctx.cancel_timer(t2);
  auto fired = ctx.cancel_timer(t1);
  (void)ctx.send(report, Message::make(m.tag()));
  (void)ctx.send(report, Message::make(left && *left > std::chrono::seconds(50) ? 1 : 0));
  (void)ctx.send(report, Message::make(fired ? 0 : 1));
  auto late = co_await ctx.receive(std::chrono::milliseconds(30));
  (void)ctx.send(report, Message::make(late ? 0 : 1));
}

TEST(TimerTest, SendAfterAndCancelTimer) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(timer_user, probe.pid()));
  auto first = probe.receive(kWait);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->tag(), 1u) << "the 10 ms timer must fire first";
  auto left = probe.receive(kWait);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->tag(), 1u) << "cancel_timer must return the remaining time";
  auto fired = probe.receive(kWait);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired->tag(), 1u) << "cancelling a fired timer must say so";
  auto late = probe.receive(kWait);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->tag(), 1u) << "a cancelled timer must not deliver";
}

// Timeouts and delays near the 64-bit limit (a guest can pass any value):
// no overflow, they simply never come.
Task<> huge_timeouts(Context& ctx, Pid report) {
  const Duration huge = Duration::max() - Duration(2);
  TimerRef t = ctx.send_after(huge, ctx.self(), Message::make(7));
  auto nothing = co_await ctx.receive(std::chrono::milliseconds(5));
  auto left = ctx.cancel_timer(t);
  (void)ctx.send(report, Message::make(1));
  auto m = co_await ctx.receive(huge);  // the report's answer ends this wait
  bool ok = !nothing && left && *left > std::chrono::hours(24) && m && m->tag() == 2;
  (void)ctx.send(report, Message::make(ok ? 1 : 0));
}

TEST(TimerTest, HugeTimeoutsAndDelaysDoNotOverflow) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> p = node.spawn(huge_timeouts, probe.pid());
  ASSERT_TRUE(p);
  auto ready = probe.receive(kWait);
  ASSERT_TRUE(ready);
  ASSERT_TRUE(node.send(*p, Message::make(2)));
  auto verdict = probe.receive(kWait);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->tag(), 1u);
  // The same from outside the node.
  ASSERT_TRUE(node.send(probe.pid(), Message::make(9)));
  EXPECT_TRUE(probe.receive(Duration::max() - Duration(2)));
}

TEST(TimerTest, ManyPendingTimersFireInDeadlineOrderFromOutside) {
  Node node(small_node());
  Probe probe(node);
  constexpr int kN = 100000;
  std::vector<TimerRef> refs;
  refs.reserve(kN);
  for (int i = 0; i < kN; ++i) {
    // All but a few are far away and get cancelled.
    refs.push_back(
        node.send_after(std::chrono::seconds(100 + i % 1000), probe.pid(), Message::make(1)));
  }
  node.send_after(std::chrono::milliseconds(40), probe.pid(), Message::make(3));
  node.send_after(std::chrono::milliseconds(5), probe.pid(), Message::make(2));
  int cancelled = 0;
  for (TimerRef r : refs) {
    cancelled += node.cancel_timer(r).has_value();
  }
  EXPECT_EQ(cancelled, kN);
  auto a = probe.receive(kWait);
  auto b = probe.receive(kWait);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->tag(), 2u);
  EXPECT_EQ(b->tag(), 3u);
}

}  // namespace
}  // namespace rusm::otp
