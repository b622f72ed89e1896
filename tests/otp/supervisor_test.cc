// Supervisors and node shutdown.
#include "rusm/otp/supervisor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

// Announces itself to `report` as (tag = id), then waits; crashes on tag 1,
// exits normally on tag 2.
Task<> announcing_worker(Context& ctx, Pid report, uint64_t id) {
  (void)ctx.send(report, Message::make(id));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == 1) {
      throw std::runtime_error("asked to crash");
    }
    if (m.tag() == 2) {
      co_return;
    }
  }
}

// Records its own shutdown order: traps exits and reports (id + 100) on shutdown.
Task<> ordered_worker(Context& ctx, Pid report, uint64_t id) {
  ctx.trap_exit(true);
  (void)ctx.send(report, Message::make(id));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.is_exit()) {
      (void)ctx.send(report, Message::make(id + 100));
      co_await ctx.exit(m.reason());
    }
    if (m.tag() == 1) {
      throw std::runtime_error("asked to crash");
    }
  }
}

Pid expect_start(Probe& probe, uint64_t id) {
  auto m = probe.receive(kWait);
  EXPECT_TRUE(m) << "child " << id << " did not start";
  if (!m) {
    return Pid();
  }
  EXPECT_EQ(m->tag(), id);
  return m->from();
}

// Children run on any worker, so their announcements may arrive in any
// order: collects `ids` and returns id -> pid.
std::map<uint64_t, Pid> expect_starts(Probe& probe, std::vector<uint64_t> ids) {
  std::map<uint64_t, Pid> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto m = probe.receive(kWait);
    EXPECT_TRUE(m) << "a child did not start";
    if (!m) {
      break;
    }
    EXPECT_NE(std::find(ids.begin(), ids.end(), m->tag()), ids.end())
        << "unexpected message " << m->tag();
    out[m->tag()] = m->from();
  }
  EXPECT_EQ(out.size(), ids.size());
  return out;
}

// The order in which a supervisor called its children's start functions.
struct StartLog {
  std::mutex mu;
  std::vector<uint64_t> ids;
  std::vector<uint64_t> take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(ids, {});
  }
};

SupervisorSpec three_children(Strategy strategy, Pid report, StartLog* log = nullptr) {
  SupervisorSpec spec;
  spec.strategy = strategy;
  spec.max_restarts = 100;
  spec.max_seconds = std::chrono::seconds(10);
  for (uint64_t id = 10; id < 13; ++id) {
    ChildSpec c = ChildSpec::worker("w" + std::to_string(id), ordered_worker, report, id);
    if (log != nullptr) {
      c.start = [log, report, id](Context& ctx, const Message&) -> Result<Pid> {
        {
          std::lock_guard<std::mutex> lock(log->mu);
          log->ids.push_back(id);
        }
        return ctx.spawn_link(ordered_worker, report, id);
      };
    }
    spec.children.push_back(c);
  }
  return spec;
}

TEST(SupervisorTest, StartsInOrderAndStopsInReverseOrder) {
  Node node(small_node());
  Probe probe(node);
  StartLog log;
  Result<Pid> sup = start_supervisor(node, three_children(Strategy::kOneForOne, probe.pid(), &log));
  ASSERT_TRUE(sup) << sup.message();
  expect_starts(probe, {10, 11, 12});
  EXPECT_EQ(log.take(), (std::vector<uint64_t>{10, 11, 12})) << "children must start in order";
  node.exit(*sup, ExitReason::shutdown());
  std::vector<uint64_t> order;
  for (int i = 0; i < 3; ++i) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m);
    order.push_back(m->tag());
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{112, 111, 110}));
  auto r = node.wait_exit(*sup, kWait);
  ASSERT_TRUE(r);
}

TEST(SupervisorTest, OneForOneRestartsOnlyTheCrashedChild) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> sup = start_supervisor(node, three_children(Strategy::kOneForOne, probe.pid()));
  ASSERT_TRUE(sup);
  Pid w11 = expect_starts(probe, {10, 11, 12})[11];
  ASSERT_TRUE(node.send(w11, Message::make(1)));
  Pid again = expect_start(probe, 11);
  EXPECT_NE(again, w11);
  auto extra = probe.receive(std::chrono::milliseconds(50));
  EXPECT_FALSE(extra) << "only the crashed child may restart, got tag " << extra->tag();
  EXPECT_GE(node.stats().restarts, 1u);
}

TEST(SupervisorTest, OneForAllRestartsEveryChild) {
  Node node(small_node());
  Probe probe(node);
  StartLog log;
  Result<Pid> sup = start_supervisor(node, three_children(Strategy::kOneForAll, probe.pid(), &log));
  ASSERT_TRUE(sup);
  Pid w11 = expect_starts(probe, {10, 11, 12})[11];
  log.take();
  ASSERT_TRUE(node.send(w11, Message::make(1)));
  std::vector<uint64_t> seen;
  for (int i = 0; i < 2; ++i) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m);
    seen.push_back(m->tag());
  }
  // The others stop newest first, then all start again in order.
  EXPECT_EQ(seen, (std::vector<uint64_t>{112, 110}));
  expect_starts(probe, {10, 11, 12});
  EXPECT_EQ(log.take(), (std::vector<uint64_t>{10, 11, 12}));
}

TEST(SupervisorTest, RestForOneRestartsLaterChildren) {
  Node node(small_node());
  Probe probe(node);
  StartLog log;
  Result<Pid> sup =
      start_supervisor(node, three_children(Strategy::kRestForOne, probe.pid(), &log));
  ASSERT_TRUE(sup);
  Pid w11 = expect_starts(probe, {10, 11, 12})[11];
  log.take();
  ASSERT_TRUE(node.send(w11, Message::make(1)));
  auto stopped = probe.receive(kWait);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->tag(), 112u) << "the child after the crashed one must stop";
  expect_starts(probe, {11, 12});
  EXPECT_EQ(log.take(), (std::vector<uint64_t>{11, 12}));
  EXPECT_FALSE(probe.receive(std::chrono::milliseconds(50))) << "child 10 must not restart";
}

TEST(SupervisorTest, RestartTypes) {
  Node node(small_node());
  Probe probe(node);
  SupervisorSpec spec;
  spec.max_restarts = 100;
  auto perm = ChildSpec::worker("perm", announcing_worker, probe.pid(), uint64_t{20});
  auto trans = ChildSpec::worker("trans", announcing_worker, probe.pid(), uint64_t{21});
  trans.restart = Restart::kTransient;
  auto temp = ChildSpec::worker("temp", announcing_worker, probe.pid(), uint64_t{22});
  temp.restart = Restart::kTemporary;
  spec.children = {perm, trans, temp};
  Result<Pid> sup = start_supervisor(node, spec);
  ASSERT_TRUE(sup);
  auto started = expect_starts(probe, {20, 21, 22});
  Pid p = started[20], t = started[21], tmp = started[22];
  ASSERT_TRUE(node.send(p, Message::make(2)));  // normal exit: permanent restarts anyway
  Pid p2 = expect_start(probe, 20);
  ASSERT_TRUE(node.send(t, Message::make(1)));  // crash: transient restarts
  Pid t2 = expect_start(probe, 21);
  ASSERT_TRUE(node.send(t2, Message::make(2)));   // normal: transient stays down
  ASSERT_TRUE(node.send(tmp, Message::make(1)));  // crash: temporary stays down
  EXPECT_FALSE(probe.receive(std::chrono::milliseconds(80))) << "no more restarts expected";
  auto kids = supervisor::which_children(node, *sup, kWait);
  ASSERT_TRUE(kids) << kids.message();
  EXPECT_EQ(*kids, std::vector<Pid>{p2});
}

TEST(SupervisorTest, ExceedingIntensityStopsSupervisorWithClearReason) {
  Node node(small_node());
  Probe probe(node);
  SupervisorSpec spec;
  spec.max_restarts = 2;
  spec.max_seconds = std::chrono::seconds(60);
  spec.children.push_back(ChildSpec::worker("w", announcing_worker, probe.pid(), uint64_t{30}));
  Result<Pid> sup = start_supervisor(node, spec);
  ASSERT_TRUE(sup);
  MonitorRef ref = probe.monitor(*sup);
  for (int i = 0; i < 3; ++i) {
    Pid w = expect_start(probe, 30);
    ASSERT_TRUE(node.send(w, Message::make(1)));
  }
  auto down =
      probe.receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; }, kWait);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason(), ExitReason::shutdown("reached max restart intensity"));
}

TEST(SupervisorTest, NestedSupervisorFailureIsSeenByParent) {
  Node node(small_node());
  Probe probe(node);
  SupervisorSpec inner;
  inner.max_restarts = 0;
  inner.children.push_back(ChildSpec::worker("w", announcing_worker, probe.pid(), uint64_t{40}));
  SupervisorSpec outer;
  outer.max_restarts = 10;
  outer.children.push_back(ChildSpec::supervisor("inner", inner));
  Result<Pid> sup = start_supervisor(node, outer);
  ASSERT_TRUE(sup);
  Pid w = expect_start(probe, 40);
  ASSERT_TRUE(node.send(w, Message::make(1)));  // inner gives up at once; outer restarts it
  Pid w2 = expect_start(probe, 40);
  EXPECT_NE(w, w2);
  auto kids = supervisor::which_children(node, *sup, kWait);
  ASSERT_TRUE(kids);
  ASSERT_EQ(kids->size(), 1u);
  auto info = node.info((*kids)[0]);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->label, "supervisor");
}

Task<> stubborn(Context& ctx, Pid report) {
  ctx.trap_exit(true);
  (void)ctx.send(report, Message::make(50));
  for (;;) {
    co_await ctx.receive();  // ignores shutdown requests
  }
}

TEST(SupervisorTest, ShutdownTimeoutEndsInBrutalKill) {
  Node node(small_node());
  Probe probe(node);
  SupervisorSpec spec;
  auto c = ChildSpec::worker("stubborn", stubborn, probe.pid());
  c.shutdown = std::chrono::milliseconds(30);
  spec.children.push_back(c);
  Result<Pid> sup = start_supervisor(node, spec);
  ASSERT_TRUE(sup);
  Pid w = expect_start(probe, 50);
  MonitorRef ref = probe.monitor(w);
  node.exit(*sup, ExitReason::shutdown());
  auto down =
      probe.receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; }, kWait);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason(), ExitReason::killed());
}

Task<> dyn_worker(Context& ctx, Message arg) {
  (void)ctx.send(arg.as<Pid>(), Message::make(60));
  co_await ctx.receive();
  throw std::runtime_error("dyn crash");
}

TEST(SupervisorTest, SimpleOneForOneStartsChildrenOnDemandAndRestartsThem) {
  Node node(small_node());
  Probe probe(node);
  SupervisorSpec spec;
  spec.strategy = Strategy::kSimpleOneForOne;
  spec.max_restarts = 100;
  spec.children.push_back(ChildSpec::dynamic_worker("dyn", dyn_worker));
  Result<Pid> sup = start_supervisor(node, spec);
  ASSERT_TRUE(sup);
  std::vector<Pid> kids;
  for (int i = 0; i < 5; ++i) {
    Result<Pid> c = supervisor::start_child(node, *sup, Message::of(0, probe.pid()), kWait);
    ASSERT_TRUE(c) << c.message();
    kids.push_back(*c);
    expect_start(probe, 60);
  }
  ASSERT_TRUE(node.send(kids[2], Message::make(1)));
  Pid restarted = expect_start(probe, 60);
  EXPECT_NE(restarted, kids[2]);
  auto live = supervisor::which_children(node, *sup, kWait);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->size(), 5u);
}

TEST(SupervisorTest, StartFailureStopsSupervisorNamingTheChild) {
  Node node(small_node());
  Probe probe(node);
  SupervisorSpec spec;
  spec.children.push_back(ChildSpec::worker("ok", announcing_worker, probe.pid(), uint64_t{70}));
  ChildSpec bad;
  bad.id = "broken";
  bad.start = [](Context&, const Message&) -> Result<Pid> { return Error("no database"); };
  spec.children.push_back(bad);
  Result<Pid> sup = start_supervisor(node, spec);
  ASSERT_TRUE(sup);
  auto r = node.wait_exit(*sup, kWait);
  ASSERT_TRUE(r);
  if (r->kind() != ExitKind::kNoproc) {
    EXPECT_EQ(*r, ExitReason::error("failed to start child 'broken': no database"));
  }
}

TEST(SupervisorTest, InvalidSpecIsRefused) {
  Node node(small_node());
  SupervisorSpec spec;
  spec.strategy = Strategy::kSimpleOneForOne;
  Result<Pid> sup = start_supervisor(node, spec);
  ASSERT_FALSE(sup);
  EXPECT_NE(sup.message().find("exactly one"), std::string::npos) << sup.message();
}

// Logs (id + 100) into log when asked to stop; a probe could itself be
// stopped by the shutdown before it forwards the last reports.
Task<> logging_worker(Context& ctx, StartLog* log, uint64_t id) {
  ctx.trap_exit(true);
  {
    std::lock_guard<std::mutex> lock(log->mu);
    log->ids.push_back(id);
  }
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.is_exit()) {
      {
        std::lock_guard<std::mutex> lock(log->mu);
        log->ids.push_back(id + 100);
      }
      co_await ctx.exit(m.reason());
    }
  }
}

TEST(ShutdownTest, StopsTreesInReverseOrderThenRefusesSpawns) {
  auto node = std::make_unique<Node>(small_node());
  StartLog log;
  SupervisorSpec first_spec;
  for (uint64_t id = 10; id < 13; ++id) {
    first_spec.children.push_back(ChildSpec::worker("w", logging_worker, &log, id));
  }
  ASSERT_TRUE(start_supervisor(*node, first_spec));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(log.mu);
    return log.ids.size() == 3;
  }));
  SupervisorSpec second_spec;
  second_spec.children.push_back(ChildSpec::worker("late", logging_worker, &log, uint64_t{20}));
  ASSERT_TRUE(start_supervisor(*node, second_spec));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(log.mu);
    return log.ids.size() == 4;
  }));
  log.take();
  EXPECT_TRUE(node->shutdown(kWait));
  EXPECT_EQ(log.take(), (std::vector<uint64_t>{120, 112, 111, 110}))
      << "the newest tree stops first; each tree stops its children newest first";
  EXPECT_EQ(node->process_count(), 0u);
  Result<Pid> refused = node->spawn(logging_worker, &log, uint64_t{1});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.message().find("shutting down"), std::string::npos);
}

TEST(ShutdownTest, KillsWhatDoesNotStopInTime) {
  Node node(small_node());
  Probe probe(node);
  ASSERT_TRUE(node.spawn(stubborn, probe.pid()));
  ASSERT_TRUE(probe.receive(kWait));
  Status s = node.shutdown(std::chrono::milliseconds(20));
  EXPECT_FALSE(s) << "a process ignoring shutdown must be reported as killed";
  EXPECT_EQ(node.process_count(), 0u);
}

}  // namespace
}  // namespace rusm::otp

namespace rusm::otp {
namespace {

using namespace test;

// The example of docs/otp.md, kept compiling and working.
Task<> upper_worker(Context& ctx, Message arg) {
  for (;;) {
    Message req = co_await ctx.receive();
    if (req.text() == "boom") {
      throw std::runtime_error("asked to crash");
    }
    std::string s(req.text());
    for (char& c : s) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    (void)ctx.send(req.from(), Message::make(req.tag(), s));
  }
}

TEST(DocExampleTest, SupervisedWorkerPool) {
  Node node(small_node());
  SupervisorSpec spec;
  spec.strategy = Strategy::kSimpleOneForOne;
  spec.max_restarts = 10;
  spec.max_seconds = std::chrono::seconds(1);
  spec.children.push_back(ChildSpec::dynamic_worker("worker", upper_worker));
  Pid pool = *start_supervisor(node, std::move(spec));
  std::vector<Pid> workers;
  for (int i = 0; i < 4; ++i) {
    Result<Pid> w = supervisor::start_child(node, pool, Message(), kWait);
    ASSERT_TRUE(w) << w.message();
    workers.push_back(*w);
  }
  Probe me(node);
  ASSERT_TRUE(me.send(workers[0], Message::make(1, "hello")));
  auto reply = me.receive(kWait);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->text(), "HELLO");
  ASSERT_TRUE(me.send(workers[1], Message::make(1, "boom")));
  ASSERT_TRUE(eventually([&] {
    auto kids = supervisor::which_children(node, pool, kWait);
    return kids && kids->size() == 4 &&
           std::find(kids->begin(), kids->end(), workers[1]) == kids->end();
  })) << "the crashed worker must be replaced";
  EXPECT_TRUE(node.shutdown(kWait));
}

}  // namespace
}  // namespace rusm::otp
