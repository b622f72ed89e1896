// Global names on one node (Node::register_global without a cluster), the
// Router hooks they call, and how the replica resolves what peers send
// (remote_global_add / del / ask). The cluster's own tests
// (tests/cluster/cluster_test.cc, GlobalNames.*) run them across nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "rusm/otp/node.h"
#include "rusm/otp/router.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

Task<> wait_forever(Context& ctx) {
  for (;;) {
    (void)co_await ctx.receive();
  }
}

Task<> forward_to(Context& ctx, Pid to) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(to, Message::make(m.tag(), m.text()));
  }
}

NodeOptions node_with_id(uint16_t id) {
  NodeOptions o = small_node();
  o.node_id = id;
  return o;
}

// A pid of another node (slot 1, generation 1).
Pid remote_pid(uint16_t node, uint64_t slot = 1) {
  return Pid::from_bits(uint64_t{node} << 48 | uint64_t{1} << 24 | slot);
}

// Records the global-name hooks (remote operations are refused).
class RecordingRouter final : public Router {
 public:
  Status send(Pid, Pid to, Message) override {
    return Error("not connected to node " + std::to_string(to.node()));
  }
  Status send_named(Pid, uint16_t node, std::string, Message) override {
    return Error("not connected to node " + std::to_string(node));
  }
  void exit_signal(Pid, Pid, ExitReason, bool) override {}
  Status link(Pid, Pid) override { return Error("no"); }
  void unlink(Pid, Pid) override {}
  Status monitor(Pid, Pid, MonitorRef) override { return Error("no"); }
  void demonitor(Pid, Pid, MonitorRef) override {}
  void down(Pid, Pid, MonitorRef, ExitReason) override {}

  void global_add(const GlobalName& g) override {
    record("add " + g.name + " " + g.pid.to_string());
  }
  void global_del(std::string_view name, Pid pid) override {
    record("del " + std::string(name) + " " + pid.to_string());
  }
  void global_sync(uint16_t node, std::vector<GlobalName> names) override {
    std::string line = "sync " + std::to_string(node);
    for (const GlobalName& g : names) {
      line += " " + g.name;
    }
    record(line);
  }

  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  void record(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
  }
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(GlobalNames, RegisterWhereisSendAndUnregisterOnANodeAlone) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> p = node.spawn(forward_to, probe.pid());
  ASSERT_TRUE(p) << p.message();
  ASSERT_TRUE(node.register_global("svc", *p).is_ok());
  EXPECT_EQ(node.whereis_global("svc"), *p);
  EXPECT_FALSE(node.whereis("svc")) << "a global name is not a local one";
  ASSERT_TRUE(node.send_global("svc", Message::make(7, "hi")).is_ok());
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), 7u);
  EXPECT_EQ(m->text(), "hi");
  auto names = node.global_names();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].first, "svc");
  EXPECT_EQ(names[0].second, *p);
  ASSERT_TRUE(node.unregister_global("svc").is_ok());
  EXPECT_FALSE(node.whereis_global("svc"));
  EXPECT_TRUE(node.is_alive(*p)) << "unregistering does not touch the process";
  node.exit(*p, ExitReason::kill());
}

TEST(GlobalNames, TheReplicaIsBoundedForLocalAndPeersNames) {
  NodeOptions o = node_with_id(1);
  o.max_global_names = 3;
  Node node(o);
  node.node_up(2);
  Result<Pid> p = node.spawn(forward_to, Pid());
  ASSERT_TRUE(p) << p.message();
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(node.register_global(name, *p).is_ok()) << name;
  }
  Status full = node.register_global("d", *p);
  ASSERT_FALSE(full.is_ok());
  EXPECT_NE(full.message().find("the global registry is full (3 names"), std::string::npos)
      << full.message();
  // A peer cannot grow it either; a name it already holds still resolves.
  EXPECT_FALSE(node.remote_global_add(GlobalName{"e", remote_pid(2), 1}));
  EXPECT_FALSE(node.whereis_global("e"));
  EXPECT_EQ(node.global_names().size(), 3u);
  // Room again once a name goes.
  ASSERT_TRUE(node.unregister_global("a").is_ok());
  EXPECT_TRUE(node.register_global("d", *p).is_ok());
  node.exit(*p, ExitReason::kill());
}

TEST(GlobalNames, NameErrorsSayWhatIsWrong) {
  Node node(small_node());
  Result<Pid> a = node.spawn(wait_forever);
  Result<Pid> b = node.spawn(wait_forever);
  ASSERT_TRUE(a && b);

  Status st = node.register_global("", *a);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("empty"), std::string::npos) << st.message();

  st = node.register_global(std::string(256, 'n'), *a);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("256 bytes"), std::string::npos) << st.message();
  EXPECT_TRUE(node.register_global(std::string(255, 'n'), *a).is_ok()) << "255 bytes is allowed";

  ASSERT_TRUE(node.register_global("taken", *a).is_ok());
  st = node.register_global("taken", *b);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("already registered to " + a->to_string()), std::string::npos)
      << st.message();
  EXPECT_EQ(node.whereis_global("taken"), *a);

  EXPECT_TRUE(node.register_global("second", *a).is_ok()) << "a process may hold several names";

  st = node.unregister_global("nobody");
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("not registered"), std::string::npos) << st.message();

  st = node.send_global("nobody", Message::make(1, ""));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("no process registered"), std::string::npos) << st.message();

  node.exit(*b, ExitReason::kill());
  ASSERT_TRUE(node.wait_exit(*b, kWait));
  st = node.register_global("late", *b);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("not alive"), std::string::npos) << st.message();

  st = node.register_global("far", remote_pid(9));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("not connected"), std::string::npos) << st.message();
  EXPECT_FALSE(node.whereis_global("far"));
  node.exit(*a, ExitReason::kill());
}

TEST(GlobalNames, AProcessThatExitsLosesItsNames) {
  Node node(small_node());
  Result<Pid> p = node.spawn(wait_forever);
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.register_global("one", *p).is_ok());
  ASSERT_TRUE(node.register_global("two", *p).is_ok());
  node.exit(*p, ExitReason::error("boom"));
  ASSERT_TRUE(node.wait_exit(*p, kWait));
  EXPECT_TRUE(eventually([&] { return node.global_names().empty(); }));
  // The name is free again.
  Result<Pid> q = node.spawn(wait_forever);
  ASSERT_TRUE(q);
  EXPECT_TRUE(node.register_global("one", *q).is_ok());
  node.exit(*q, ExitReason::kill());
}

TEST(GlobalNames, TheRouterHearsOfRegistrationsExitsAndNodesComingUp) {
  Node node(node_with_id(1));
  RecordingRouter router;
  node.set_router(&router);
  Result<Pid> p = node.spawn(wait_forever);
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.register_global("svc", *p).is_ok());
  ASSERT_TRUE(node.register_global("gone", *p).is_ok());
  ASSERT_TRUE(node.unregister_global("gone").is_ok());
  node.node_up(2);
  node.exit(*p, ExitReason::kill());
  ASSERT_TRUE(node.wait_exit(*p, kWait));
  std::string pid = p->to_string();
  std::vector<std::string> want = {"add svc " + pid, "add gone " + pid, "del gone " + pid,
                                   "sync 2 svc", "del svc " + pid};
  EXPECT_TRUE(eventually([&] { return router.lines().size() >= want.size(); }));
  EXPECT_EQ(router.lines(), want);
  node.set_router(nullptr);
}

TEST(GlobalNames, PeersNamesAreResolvedOlderFirstAndDroppedWhenTheirNodeGoesDown) {
  Node node(node_with_id(1));
  RecordingRouter router;
  node.set_router(&router);
  node.node_up(2);
  node.node_up(3);
  Pid r2 = remote_pid(2), r3 = remote_pid(3);

  // A name only a peer holds.
  EXPECT_FALSE(node.remote_global_add(GlobalName{"peer", r2, 100}));
  EXPECT_EQ(node.whereis_global("peer"), r2);
  // An older registration of it from another peer wins (no local loser).
  EXPECT_FALSE(node.remote_global_add(GlobalName{"peer", r3, 50}));
  EXPECT_EQ(node.whereis_global("peer"), r3);
  // A younger one does not.
  EXPECT_FALSE(node.remote_global_add(GlobalName{"peer", r2, 60}));
  EXPECT_EQ(node.whereis_global("peer"), r3);
  // Equal stamps: the lower node id wins.
  EXPECT_FALSE(node.remote_global_add(GlobalName{"tie", r3, 10}));
  EXPECT_FALSE(node.remote_global_add(GlobalName{"tie", r2, 10}));
  EXPECT_EQ(node.whereis_global("tie"), r2);

  // A local holder that is younger loses, and is returned for the policy.
  Result<Pid> p = node.spawn(wait_forever);
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.register_global("mine", *p).is_ok());
  EXPECT_FALSE(node.remote_global_add(GlobalName{"mine", r2, INT64_MAX}))
      << "a younger peer registration loses";
  EXPECT_EQ(node.whereis_global("mine"), *p);
  EXPECT_EQ(node.remote_global_add(GlobalName{"mine", r2, 1}), *p);
  EXPECT_EQ(node.whereis_global("mine"), r2);

  // Ignored: names of local pids, names of nodes that are down, bad names.
  EXPECT_FALSE(node.remote_global_add(GlobalName{"fake", *p, 1}));
  EXPECT_FALSE(node.remote_global_add(GlobalName{"down", remote_pid(4), 1}));
  EXPECT_FALSE(node.remote_global_add(GlobalName{"", r2, 1}));
  EXPECT_FALSE(node.remote_global_add(GlobalName{std::string(256, 'x'), r2, 1}));
  EXPECT_FALSE(node.whereis_global("fake"));
  EXPECT_FALSE(node.whereis_global("down"));
  EXPECT_FALSE(node.whereis_global(""));

  // A delete only drops the name if it names its holder.
  node.remote_global_del("peer", r2);
  EXPECT_EQ(node.whereis_global("peer"), r3);
  node.remote_global_del("peer", r3);
  EXPECT_FALSE(node.whereis_global("peer"));

  // Node 2 going down takes its names with it.
  node.node_down(2);
  EXPECT_FALSE(node.whereis_global("tie"));
  EXPECT_FALSE(node.whereis_global("mine"));
  node.exit(*p, ExitReason::kill());
  node.set_router(nullptr);
}

TEST(GlobalNames, APeerAskingToRegisterALocalProcessIsCheckedHere) {
  Node node(node_with_id(1));
  RecordingRouter router;
  node.set_router(&router);
  node.node_up(2);
  Result<Pid> p = node.spawn(wait_forever);
  Result<Pid> q = node.spawn(wait_forever);
  ASSERT_TRUE(p && q);
  std::string ps = p->to_string(), qs = q->to_string();

  // Free: registered and told to every peer.
  EXPECT_FALSE(node.remote_global_ask(GlobalName{"asked", *p, 100}));
  EXPECT_EQ(node.whereis_global("asked"), *p);
  // Taken here by an older registration: the asked-for process loses.
  ASSERT_TRUE(node.register_global("held", *q).is_ok());
  EXPECT_EQ(node.remote_global_ask(GlobalName{"held", *p, INT64_MAX}), *p);
  EXPECT_EQ(node.whereis_global("held"), *q);
  // A dead process: the name is dropped everywhere.
  node.exit(*q, ExitReason::kill());
  ASSERT_TRUE(node.wait_exit(*q, kWait));
  EXPECT_FALSE(node.remote_global_ask(GlobalName{"dead", *q, 1}));
  EXPECT_FALSE(node.whereis_global("dead"));

  auto lines = router.lines();
  auto has = [&](const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  };
  EXPECT_TRUE(has("add asked " + ps));
  EXPECT_TRUE(has("del held " + ps));
  EXPECT_TRUE(has("del dead " + qs));
  node.exit(*p, ExitReason::kill());
  node.set_router(nullptr);
}

}  // namespace
}  // namespace rusm::otp
