// The distribution seam (router.h): two nodes with different ids joined in
// process by a fake Router that hands every operation straight to the other
// node's inbound entry points, and one node without a router.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rusm/otp/node.h"
#include "rusm/otp/router.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

constexpr uint16_t kNodeA = 1;
constexpr uint16_t kNodeB = 2;

// Loops `self` to `peer` in memory, synchronously (the caller's thread runs
// the peer's entry point), so per-pair order holds as it must over a
// connection. disconnect() makes it refuse everything, as a Router must
// before the node hears node_down.
class LoopRouter final : public Router {
 public:
  explicit LoopRouter(Node& peer) : peer_(peer) {}

  void disconnect() { connected_.store(false); }
  void connect() { connected_.store(true); }

  Status send(Pid from, Pid to, Message m) override {
    if (!reaches(to.node())) {
      return Error("not connected to node " + std::to_string(to.node()));
    }
    return peer_.remote_send(from, to, std::move(m));
  }
  Status send_named(Pid from, uint16_t node, std::string name, Message m) override {
    if (!reaches(node)) {
      return Error("not connected to node " + std::to_string(node));
    }
    return peer_.remote_send_named(from, name, std::move(m));
  }
  void exit_signal(Pid from, Pid to, ExitReason r, bool linked) override {
    if (reaches(to.node())) {
      peer_.remote_exit(from, to, std::move(r), linked);
    }
  }
  Status link(Pid from, Pid to) override {
    if (!reaches(to.node())) {
      return Error("not connected to node " + std::to_string(to.node()));
    }
    peer_.remote_link(from, to);
    return Status::ok();
  }
  void unlink(Pid from, Pid to) override {
    if (reaches(to.node())) {
      peer_.remote_unlink(from, to);
    }
  }
  Status monitor(Pid from, Pid to, MonitorRef ref) override {
    if (!reaches(to.node())) {
      return Error("not connected to node " + std::to_string(to.node()));
    }
    peer_.remote_monitor(from, to, ref);
    return Status::ok();
  }
  void demonitor(Pid from, Pid to, MonitorRef ref) override {
    if (reaches(to.node())) {
      peer_.remote_demonitor(from, to, ref);
    }
  }
  void down(Pid from, Pid to, MonitorRef ref, ExitReason r) override {
    if (reaches(to.node())) {
      peer_.remote_down(from, to, ref, std::move(r));
    }
  }

 private:
  bool reaches(uint16_t node) const { return connected_.load() && node == peer_.id(); }

  Node& peer_;
  std::atomic<bool> connected_{true};
};

NodeOptions node_options(uint16_t id, std::string name) {
  NodeOptions o = small_node();
  o.node_id = id;
  o.name = std::move(name);
  return o;
}

// Two nodes joined by a LoopRouter each way. The routers are cleared before
// either node shuts down.
struct Pair {
  Node a{node_options(kNodeA, "a@test")};
  Node b{node_options(kNodeB, "b@test")};
  LoopRouter to_b{b};
  LoopRouter to_a{a};
  Pair() {
    a.set_router(&to_b);
    b.set_router(&to_a);
    a.node_up(kNodeB);
    b.node_up(kNodeA);
  }
  ~Pair() {
    a.set_router(nullptr);
    b.set_router(nullptr);
  }
  // The connection breaks: both routers refuse, then both nodes hear of it.
  void split() {
    to_b.disconnect();
    to_a.disconnect();
    a.node_down(kNodeB);
    b.node_down(kNodeA);
  }
};

constexpr uint64_t kSeq = 7;
constexpr uint64_t kDone = 8;

Task<> count_to(Context& ctx, Pid to, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    Status st = ctx.send(to, Message::of(kSeq, i));
    if (!st) {
      (void)ctx.send(to, Message::make(kDone, st.message()));
      co_return;
    }
    co_await ctx.reduce();
  }
  (void)ctx.send(to, Message::make(kDone, "ok"));
}

Task<> wait_forever(Context& ctx) {
  for (;;) {
    (void)co_await ctx.receive_tag(12345);
  }
}

Task<> die_on_message(Context& ctx, ExitReason reason) {
  (void)co_await ctx.receive();
  co_await ctx.exit(reason);
}

Task<> echo(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(m.from(), Message::make(m.tag(), m.text()));
  }
}

// Checks that `probe` gets n kSeq messages from `from`, in order, then kDone.
void expect_in_order(Probe& probe, Pid from, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m) << "message " << i << " of " << n << " never arrived";
    ASSERT_EQ(m->tag(), kSeq) << "at " << i << ": " << m->text();
    ASSERT_EQ(m->as<uint32_t>(), i) << "messages from one process arrived out of order";
    ASSERT_EQ(m->from(), from);
  }
  auto done = probe.receive(kWait);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->tag(), kDone);
  EXPECT_EQ(done->text(), "ok");
}

// Counts the messages it receives.
Task<> counter(Context& ctx, std::atomic<int>* seen) {
  for (;;) {
    (void)co_await ctx.receive();
    seen->fetch_add(1);
  }
}

// What a router's I/O thread relies on to deliver a burst with one wake-up:
// inside the scope no parked worker is woken, so nothing runs the receiver;
// when it ends, one wake-up runs every message of the burst.
TEST(RouterTest, DeferredWakeupsRunTheBurstWhenTheScopeEnds) {
  Node node(small_node(1));
  std::atomic<int> seen{0};
  Result<Pid> p = node.spawn(counter, &seen);
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.send(*p, Message::make(1)));
  ASSERT_TRUE(eventually([&] { return seen.load() == 1; }));
  std::this_thread::sleep_for(50ms);  // the worker parks: nothing left to run
  {
    DeferWakeups burst;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(node.send(*p, Message::make(2)));
    }
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(seen.load(), 1) << "a parked worker was woken inside DeferWakeups";
  }
  EXPECT_TRUE(eventually([&] { return seen.load() == 4; }))
      << "the burst did not run after DeferWakeups ended (" << seen.load() << " of 4 seen)";
}

TEST(RouterTest, NodeIdentityComesFromOptions) {
  NodeOptions o = node_options(7, "seven@host");
  o.creation = 42;
  Node n(o);
  EXPECT_EQ(n.id(), 7);
  EXPECT_EQ(n.name(), "seven@host");
  EXPECT_EQ(n.creation(), 42u);
  Result<Pid> p = n.spawn(wait_forever);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->node(), 7);

  Node d(small_node());
  EXPECT_EQ(d.name(), "nonode@nohost");
  EXPECT_NE(d.creation(), 0u) << "creation 0 must be replaced by a derived one";
}

TEST(RouterTest, ARestartedNodeMakesOtherPids) {
  // The same id, slot and history under two creations: the pids differ, so
  // a stale pid of the old incarnation reaches nothing in the new one.
  auto first_pid = [](uint32_t creation) {
    NodeOptions o = node_options(3, "n");
    o.creation = creation;
    Node n(o);
    Result<Pid> p = n.spawn(wait_forever);
    EXPECT_TRUE(p);
    return p ? *p : Pid();
  };
  Pid old_pid = first_pid(1);
  Pid new_pid = first_pid(2);
  EXPECT_EQ(old_pid.slot(), new_pid.slot());
  EXPECT_NE(old_pid, new_pid) << old_pid.to_string() << " reused across incarnations";
  EXPECT_EQ(first_pid(1), old_pid) << "the generation base must follow the creation only";
}

TEST(RouterTest, NoconnectionIsAnExitReason) {
  EXPECT_EQ(ExitReason::noconnection().to_string(), "noconnection");
  EXPECT_EQ(static_cast<int>(ExitKind::kNoconnection), 6);
  auto r = ExitReason::from_code(6);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, ExitReason::noconnection());
  EXPECT_EQ(*ExitReason::from_code(5, "boom"), ExitReason::error("boom"));
  EXPECT_FALSE(ExitReason::from_code(7)) << "an unknown kind from the wire must be refused";
  EXPECT_EQ(ExitReason::of(ExitKind::kShutdown, "x"), ExitReason::shutdown("x"));
}

TEST(RouterTest, RemoteSendBothWaysKeepsPerPairOrder) {
  Pair c;
  Probe on_a(c.a);
  Probe on_b(c.b);
  constexpr uint32_t kN = 10'000;
  Result<Pid> from_a = c.a.spawn(count_to, on_b.pid(), kN);
  Result<Pid> from_b = c.b.spawn(count_to, on_a.pid(), kN);
  ASSERT_TRUE(from_a && from_b);
  EXPECT_EQ(from_a->node(), kNodeA);
  expect_in_order(on_b, *from_a, kN);
  expect_in_order(on_a, *from_b, kN);
}

TEST(RouterTest, ReplyToARemoteSender) {
  Pair c;
  Probe on_a(c.a);
  Result<Pid> e = c.b.spawn(echo);
  ASSERT_TRUE(e);
  ASSERT_TRUE(on_a.send(*e, Message::make(3, "over there")));
  auto reply = on_a.receive(kWait);
  ASSERT_TRUE(reply) << "the echo on node B never answered the probe on node A";
  EXPECT_EQ(reply->text(), "over there");
  EXPECT_EQ(reply->from(), *e);
}

TEST(RouterTest, SendToANamedProcessOnTheOtherNode) {
  Pair c;
  Probe on_a(c.a);
  Result<Pid> e = c.b.spawn(echo);
  ASSERT_TRUE(e);
  ASSERT_TRUE(c.b.register_name("echo", *e));
  Status st = on_a.send_named(kNodeB, "echo", Message::make(4, "by name"));
  ASSERT_TRUE(st) << st.message();
  auto reply = on_a.receive(kWait);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->text(), "by name");
  EXPECT_EQ(reply->from(), *e);

  Status missing = c.a.send_named(kNodeB, "nobody", Message::make(4));
  EXPECT_FALSE(missing);
  // This node's own id means a local name.
  Result<Pid> local = c.a.spawn(echo);
  ASSERT_TRUE(local);
  ASSERT_TRUE(c.a.register_name("here", *local));
  ASSERT_TRUE(on_a.send_named(kNodeA, "here", Message::make(5, "local")));
  auto r2 = on_a.receive(kWait);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->from(), *local);
}

// Links itself to `partner` and tells `report` once linked.
Task<> link_then_wait(Context& ctx, Pid partner, Pid report) {
  ctx.link(partner);
  (void)ctx.send(report, Message::make(100));
  for (;;) {
    (void)co_await ctx.receive_tag(12345);
  }
}

TEST(RouterTest, LinkAcrossNodesPropagatesExitBothWays) {
  Pair c;
  Probe on_a(c.a);
  // A's process dies with B's.
  Result<Pid> y = c.b.spawn(die_on_message, ExitReason::error("crash"));
  ASSERT_TRUE(y);
  Result<Pid> x = c.a.spawn(link_then_wait, *y, on_a.pid());
  ASSERT_TRUE(x);
  ASSERT_TRUE(on_a.receive(kWait));
  MonitorRef mx = on_a.monitor(*x);
  ASSERT_TRUE(c.b.send(*y, Message::make(1)));
  auto down =
      on_a.receive_if([&](const Message& m) { return m.is_down() && m.ref() == mx; }, kWait);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason(), ExitReason::error("crash"))
      << "the linked process on A died of " << down->reason().to_string();

  // And B's with A's: an explicit exit signal across nodes first kills x2.
  Probe on_b(c.b);
  Result<Pid> y2 = c.b.spawn(wait_forever);
  ASSERT_TRUE(y2);
  MonitorRef my = on_b.monitor(*y2);
  Result<Pid> x2 = c.a.spawn(link_then_wait, *y2, on_a.pid());
  ASSERT_TRUE(x2);
  ASSERT_TRUE(on_a.receive(kWait));
  c.b.exit(*x2, ExitReason::error("boom"));  // B -> A, not linked
  auto down2 =
      on_b.receive_if([&](const Message& m) { return m.is_down() && m.ref() == my; }, kWait);
  ASSERT_TRUE(down2);
  EXPECT_EQ(down2->reason(), ExitReason::error("boom"));
  EXPECT_EQ(down2->from(), *y2);
}

TEST(RouterTest, TrapExitShowsTheRemoteExit) {
  Pair c;
  Probe on_a(c.a);  // traps exits
  Result<Pid> y = c.b.spawn(die_on_message, ExitReason::error("crash"));
  ASSERT_TRUE(y);
  on_a.link(*y);
  ASSERT_TRUE(eventually([&] {
    auto i = c.b.info(*y);
    return i && i->links.size() == 1 && i->links[0] == on_a.pid();
  })) << "node B never recorded the link from node A";
  ASSERT_TRUE(c.b.send(*y, Message::make(1)));
  auto m = on_a.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_exit());
  EXPECT_EQ(m->from(), *y);
  EXPECT_EQ(m->reason(), ExitReason::error("crash"));
}

TEST(RouterTest, LinkOrMonitorOfAGoneRemoteProcessGivesNoproc) {
  Pair c;
  Probe on_a(c.a);
  Result<Pid> y = c.b.spawn(die_on_message, ExitReason::normal());
  ASSERT_TRUE(y);
  Probe on_b(c.b);
  MonitorRef ry = on_b.monitor(*y);
  ASSERT_TRUE(c.b.send(*y, Message::make(1)));
  ASSERT_TRUE(on_b.receive_if([&](const Message& m) { return m.ref() == ry; }, kWait));

  on_a.link(*y);
  auto e = on_a.receive(kWait);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->is_exit());
  EXPECT_EQ(e->from(), *y);
  EXPECT_EQ(e->reason(), ExitReason::noproc());
  MonitorRef ref = on_a.monitor(*y);
  auto d = on_a.receive(kWait);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->is_down());
  EXPECT_EQ(d->ref(), ref);
  EXPECT_EQ(d->reason(), ExitReason::noproc());
}

TEST(RouterTest, MonitorAcrossNodesGivesDownWithTheReason) {
  Pair c;
  Probe on_a(c.a);
  Result<Pid> y = c.b.spawn(die_on_message, ExitReason::shutdown("bye"));
  ASSERT_TRUE(y);
  MonitorRef ref = on_a.monitor(*y);
  ASSERT_TRUE(eventually([&] {
    auto i = c.b.info(*y);
    return i && i->monitored_by.size() == 1 && i->monitored_by[0] == on_a.pid();
  }));
  ASSERT_TRUE(c.b.send(*y, Message::make(1)));
  auto d = on_a.receive(kWait);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->is_down());
  EXPECT_EQ(d->ref(), ref);
  EXPECT_EQ(d->from(), *y);
  EXPECT_EQ(d->reason(), ExitReason::shutdown("bye"));
}

constexpr uint64_t kPing = 30;
constexpr uint64_t kPong = 31;
constexpr uint64_t kDemonitor = 40;
constexpr uint64_t kDemonitored = 41;
constexpr uint64_t kSawDown = 42;
constexpr uint64_t kMonitoring = 43;

Task<> monitor_report_ref(Context& ctx, Pid target, Pid report) {
  MonitorRef ref = ctx.monitor(target);
  (void)ctx.send(report, Message::of(kMonitoring, ref));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kDemonitor) {
      (void)ctx.demonitor(ref);
      (void)ctx.send(report, Message::make(kDemonitored));
    } else if (m.is_down()) {
      (void)ctx.send(report, Message::make(kSawDown));
    } else if (m.tag() == kPing) {
      (void)ctx.send(report, Message::make(kPong));
    }
  }
}

TEST(RouterTest, DemonitorAcrossNodesStopsIt) {
  Pair c;
  Probe on_a(c.a);
  Result<Pid> y = c.b.spawn(die_on_message, ExitReason::error("late"));
  ASSERT_TRUE(y);
  Result<Pid> w = c.a.spawn(monitor_report_ref, *y, on_a.pid());
  ASSERT_TRUE(w);
  auto mon = on_a.receive(kWait);
  ASSERT_TRUE(mon && mon->tag() == kMonitoring);
  ASSERT_TRUE(eventually([&] {
    auto i = c.b.info(*y);
    return i && i->monitored_by.size() == 1;
  })) << "the monitor never reached node B";
  ASSERT_TRUE(c.a.send(*w, Message::make(kDemonitor)));
  auto dm = on_a.receive(kWait);
  ASSERT_TRUE(dm && dm->tag() == kDemonitored);
  ASSERT_TRUE(eventually([&] {
    auto i = c.b.info(*y);
    return i && i->monitored_by.empty();
  })) << "the demonitor never reached node B";
  // y's exit now sends no DOWN: the watcher, asked next, saw none.
  Probe on_b(c.b);
  MonitorRef ry = on_b.monitor(*y);
  ASSERT_TRUE(c.b.send(*y, Message::make(1)));
  ASSERT_TRUE(on_b.receive_if([&](const Message& m) { return m.ref() == ry; }, kWait));
  ASSERT_TRUE(on_a.send(*w, Message::make(kPing)));
  auto next = on_a.receive(kWait);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->tag(), kPong) << "a DOWN came after demonitor";
}

constexpr uint64_t kFwdExit = 20;
constexpr uint64_t kFwdDown = 21;

struct Fwd {
  uint64_t from;
  uint64_t ref;
  uint8_t kind;
};

// Traps exits, links and monitors target, reports the ref, then forwards
// every EXIT and DOWN it gets to report, and answers pings.
Task<> link_monitor_forward(Context& ctx, Pid target, Pid report) {
  ctx.trap_exit(true);
  ctx.link(target);
  MonitorRef ref = ctx.monitor(target);
  (void)ctx.send(report, Message::of(kMonitoring, ref));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.is_exit() || m.is_down()) {
      Fwd f{m.from().bits(), m.ref(), static_cast<uint8_t>(m.reason().kind())};
      (void)ctx.send(report, Message::of(m.is_exit() ? kFwdExit : kFwdDown, f));
    } else if (m.tag() == kPing) {
      (void)ctx.send(report, Message::make(kPong));
    }
  }
}

TEST(RouterTest, NodeDownFiresEveryLinkAndMonitorExactlyOnce) {
  Pair c;
  Probe on_a(c.a);
  Probe on_b(c.b);
  constexpr int kN = 16;
  std::vector<Pid> ys, ws;
  std::vector<MonitorRef> refs;
  for (int i = 0; i < kN; ++i) {
    Result<Pid> y = c.b.spawn(wait_forever);
    ASSERT_TRUE(y);
    ys.push_back(*y);
    Result<Pid> w = c.a.spawn(link_monitor_forward, *y, on_a.pid());
    ASSERT_TRUE(w);
    ws.push_back(*w);
    auto m = on_a.receive(kWait);
    ASSERT_TRUE(m && m->tag() == kMonitoring);
    refs.push_back(m->as<MonitorRef>());
  }
  // B's side: watch every y die.
  std::vector<MonitorRef> y_refs;
  for (Pid y : ys) {
    y_refs.push_back(on_b.monitor(y));
  }
  for (Pid y : ys) {
    ASSERT_TRUE(eventually([&] {
      auto i = c.b.info(y);
      return i && i->links.size() == 1 && i->monitored_by.size() == 2;
    })) << "node B never recorded the link and monitor of "
        << y.to_string();
  }
  // The probe's own link and monitor.
  on_a.link(ys[0]);
  MonitorRef probe_ref = on_a.monitor(ys[0]);

  c.split();
  c.a.node_down(kNodeB);  // again: nothing fires twice
  c.b.node_down(kNodeA);
  EXPECT_FALSE(c.a.node_is_up(kNodeB));

  std::set<std::pair<uint64_t, uint64_t>> exits, downs;  // (from, to)
  for (int i = 0; i < 2 * kN; ++i) {
    auto m = on_a.receive_if(
        [](const Message& m) { return m.tag() == kFwdExit || m.tag() == kFwdDown; }, kWait);
    ASSERT_TRUE(m) << "only " << i << " of " << 2 * kN << " links and monitors fired";
    Fwd f = m->as<Fwd>();
    EXPECT_EQ(f.kind, static_cast<uint8_t>(ExitKind::kNoconnection));
    auto key = std::make_pair(f.from, m->from().bits());
    EXPECT_TRUE((m->tag() == kFwdExit ? exits : downs).insert(key).second)
        << "fired twice: " << Pid::from_bits(f.from).to_string();
  }
  EXPECT_EQ(exits.size(), static_cast<size_t>(kN));
  EXPECT_EQ(downs.size(), static_cast<size_t>(kN));
  for (int k = 0; k < 2; ++k) {
    auto m = on_a.receive_if([](const Message& m) { return m.is_exit() || m.is_down(); }, kWait);
    ASSERT_TRUE(m) << "the probe's own link or monitor did not fire";
    EXPECT_EQ(m->from(), ys[0]);
    EXPECT_EQ(m->reason(), ExitReason::noconnection());
    if (m->is_down()) {
      EXPECT_EQ(m->ref(), probe_ref);
    }
  }
  // On B, the links recorded for A's processes fired too: every y (not
  // trapping exits) died of noconnection; B's own monitors saw it.
  for (size_t i = 0; i < ys.size(); ++i) {
    auto d = on_b.receive_if([&](const Message& m) { return m.is_down() && m.ref() == y_refs[i]; },
                             kWait);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reason(), ExitReason::noconnection()) << d->reason().to_string();
  }

  // What a late frame might still bring is ignored: those entries are gone.
  for (int i = 0; i < kN; ++i) {
    c.a.remote_exit(ys[i], ws[i], ExitReason::error("late"), true);
    c.a.remote_down(ys[i], ws[i], refs[i], ExitReason::error("late"));
  }
  c.a.remote_exit(ys[0], on_a.pid(), ExitReason::error("late"), true);
  c.a.remote_down(ys[0], on_a.pid(), probe_ref, ExitReason::error("late"));
  for (Pid w : ws) {
    ASSERT_TRUE(c.a.send(w, Message::make(kPing)));
  }
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(on_a.receive_if([](const Message& m) { return m.tag() == kPong; }, kWait));
  }
  // Each w sends its forwards before its pong: a second firing would be queued.
  EXPECT_FALSE(on_a.receive_if(
      [](const Message& m) {
        return m.tag() == kFwdExit || m.tag() == kFwdDown || m.is_exit() || m.is_down();
      },
      std::chrono::milliseconds(0)))
      << "a link or monitor fired a second time";
  for (Pid w : ws) {
    EXPECT_TRUE(c.a.is_alive(w)) << "a trapping process must survive noconnection";
  }
}

TEST(RouterTest, WithoutARouterRemotePidsFailClearly) {
  Node node(node_options(kNodeA, "alone"));
  Probe probe(node);
  const Pid remote = Pid::make(kNodeB, 5, 3);

  Status st = node.send(remote, Message::make(1));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("not connected to node 2"), std::string::npos) << st.message();
  Status st2 = probe.send(remote, Message::make(1));
  EXPECT_FALSE(st2);
  Status named = node.send_named(kNodeB, "x", Message::make(1));
  ASSERT_FALSE(named);
  EXPECT_NE(named.message().find("not connected to node 2"), std::string::npos) << named.message();
  node.exit(remote, ExitReason::kill());  // nowhere to go: dropped

  probe.link(remote);
  auto e = probe.receive(kWait);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->is_exit());
  EXPECT_EQ(e->from(), remote);
  EXPECT_EQ(e->reason(), ExitReason::noconnection());
  EXPECT_TRUE(probe.receive_if([](const Message&) { return true; }, std::chrono::milliseconds(0)) ==
              std::nullopt);

  MonitorRef ref = probe.monitor(remote);
  auto d = probe.receive(kWait);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->is_down());
  EXPECT_EQ(d->ref(), ref);
  EXPECT_EQ(d->from(), remote);
  EXPECT_EQ(d->reason(), ExitReason::noconnection());

  // A process that links to it, not trapping exits, dies of noconnection.
  MonitorRef mref = 0;
  Result<Pid> x = node.spawn(link_then_wait, remote, probe.pid());
  ASSERT_TRUE(x);
  mref = probe.monitor(*x);
  auto down =
      probe.receive_if([&](const Message& m) { return m.is_down() && m.ref() == mref; }, kWait);
  ASSERT_TRUE(down);
  EXPECT_TRUE(down->reason() == ExitReason::noconnection() ||
              down->reason() == ExitReason::noproc())
      << down->reason().to_string();
  EXPECT_FALSE(node.is_alive(*x));
}

TEST(RouterTest, ClearedRouterAndResourcesRefuseSends) {
  Pair c;
  Probe on_b(c.b);
  Message with_socket = Message::make(1);
  static int destroyed = 0;
  destroyed = 0;
  with_socket.attach(&destroyed, [](void* p) { ++*static_cast<int*>(p); });
  Status st = c.a.send(on_b.pid(), std::move(with_socket));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("host resources"), std::string::npos) << st.message();
  EXPECT_EQ(destroyed, 1) << "the refused message's resource must be released";

  ASSERT_TRUE(c.a.send(on_b.pid(), Message::make(2)));
  ASSERT_TRUE(on_b.receive(kWait));
  c.a.set_router(nullptr);
  Status cleared = c.a.send(on_b.pid(), Message::make(3));
  ASSERT_FALSE(cleared);
  EXPECT_NE(cleared.message().find("not connected to node 2"), std::string::npos);
}

TEST(RouterTest, MonitorNodeDeliversNodedownAndNodeup) {
  Node a(node_options(kNodeA, "a"));
  Probe probe(a);
  EXPECT_TRUE(a.node_is_up(kNodeA)) << "a node is always up to itself";
  EXPECT_FALSE(a.node_is_up(kNodeB));
  probe.monitor_node(kNodeB);
  auto first = probe.receive(kWait);
  ASSERT_TRUE(first) << "monitoring a node that is down must say so at once";
  EXPECT_EQ(first->tag(), kNodeDownTag);
  EXPECT_EQ(first->as<uint16_t>(), kNodeB);
  EXPECT_EQ(first->ref(), kNodeB);
  EXPECT_FALSE(first->from().valid());

  a.node_up(kNodeB);
  a.node_up(kNodeB);  // no change: no message
  EXPECT_TRUE(a.node_is_up(kNodeB));
  a.node_down(kNodeB);
  a.node_up(kNodeB);
  const uint64_t expect[] = {kNodeUpTag, kNodeDownTag, kNodeUpTag};
  for (uint64_t tag : expect) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->tag(), tag) << "nodeup/nodedown out of order or repeated";
    EXPECT_EQ(m->as<uint16_t>(), kNodeB);
  }
  probe.demonitor_node(kNodeB);
  a.node_down(kNodeB);
  probe.monitor_node(kNodeA);  // itself: nothing
  ASSERT_TRUE(a.send(probe.pid(), Message::make(kPing)));
  auto next = probe.receive(kWait);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->tag(), kPing) << "a demonitored node's status still arrives";
}

Task<> watch_and_exit(Context& ctx, uint16_t node) {
  ctx.monitor_node(node);
  co_return;
}

TEST(RouterTest, WatchersThatExitDoNotPileUpOnANodeThatNeverChanges) {
  Node a(node_options(kNodeA, "a"));
  constexpr uint16_t kNever = 77;  // never comes up: no delivery ever sweeps
  Probe probe(a);
  for (int i = 0; i < 3000; ++i) {
    Result<Pid> p = a.spawn(watch_and_exit, kNever);
    ASSERT_TRUE(p);
    probe.monitor(*p);
    ASSERT_TRUE(probe.receive_if([](const Message& m) { return m.is_down(); }, kWait));
  }
  EXPECT_LE(a.node_watchers(kNever), 128u)
      << "3000 processes subscribed and exited one after another; at most one is alive";
  EXPECT_GE(a.node_watchers(kNever), 1u);
}

constexpr uint64_t kNodeEvent = 50;

// A process version: subscribes and forwards the node messages it gets.
Task<> watch_node(Context& ctx, uint16_t node, Pid report) {
  ctx.monitor_node(node);
  (void)ctx.send(report, Message::make(kMonitoring));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kNodeUpTag || m.tag() == kNodeDownTag) {
      (void)ctx.send(report, Message::make(kNodeEvent, m.tag() == kNodeUpTag ? "up" : "down"));
    }
  }
}

TEST(RouterTest, AProcessMonitorsANode) {
  Pair c;  // node B is up for A
  Probe probe(c.a);
  Result<Pid> w = c.a.spawn(watch_node, kNodeB, probe.pid());
  ASSERT_TRUE(w);
  ASSERT_TRUE(probe.receive(kWait));
  c.split();
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(), "down");
  c.to_b.connect();
  c.a.node_up(kNodeB);
  auto up = probe.receive(kWait);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->text(), "up");
}

}  // namespace
}  // namespace rusm::otp
