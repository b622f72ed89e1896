// Topics on one node (Node::subscribe / publish without a cluster), the
// Router hooks they call, and what peers report (remote_topic_join / leave /
// remote_publish). tests/cluster/cluster_test.cc (ClusterTopics.*) runs
// them across nodes.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "rusm/otp/node.h"
#include "rusm/otp/router.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

Task<> forward_to(Context& ctx, Pid to) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(to, Message::make(m.tag(), std::string(m.text()) + "@" + m.from().to_string()));
  }
}

// Records the topic hooks and publishes (other remote operations refused).
class TopicRouter final : public Router {
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

  void topic_join(std::string_view topic) override { record("join " + std::string(topic)); }
  void topic_leave(std::string_view topic) override { record("leave " + std::string(topic)); }
  void topic_sync(uint16_t node, std::vector<std::string> topics) override {
    std::string line = "sync " + std::to_string(node);
    for (const std::string& t : topics) {
      line += " " + t;
    }
    record(line);
  }
  Status publish(Pid, uint16_t node, std::string_view topic, const Message& m) override {
    record("publish " + std::to_string(node) + " " + std::string(topic) + " " +
           std::string(m.text()));
    return Status::ok();
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

TEST(Topics, SubscribersGetEveryPublishedMessageFromThePublisher) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> a = node.spawn(forward_to, probe.pid());
  Result<Pid> b = node.spawn(forward_to, probe.pid());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(node.subscribe("news", *a).is_ok());
  ASSERT_TRUE(node.subscribe("news", *b).is_ok());
  ASSERT_TRUE(node.subscribe("news", *a).is_ok()) << "subscribing twice is subscribing once";
  EXPECT_EQ(node.subscribers("news"), (std::vector<Pid>{*a, *b}));
  Result<size_t> n = node.publish("news", Message::make(5, "hello"));
  ASSERT_TRUE(n) << n.message();
  EXPECT_EQ(*n, 2u);
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m) << "a subscriber got nothing";
    EXPECT_EQ(m->tag(), 5u);
    got.push_back(std::string(m->text()));
  }
  // From outside any process: the subscribers see an invalid sender.
  EXPECT_EQ(got[0], "hello@" + Pid().to_string());
  // Nobody subscribed: nothing sent, no error.
  EXPECT_EQ(*node.publish("sports", Message::make(1, "x")), 0u);
  ASSERT_TRUE(node.unsubscribe("news", *a).is_ok());
  EXPECT_FALSE(node.unsubscribe("news", *a).is_ok()) << "not subscribed any more";
  EXPECT_EQ(*node.publish("news", Message::make(6, "again")), 1u);
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), 6u);
  EXPECT_FALSE(probe.receive(std::chrono::milliseconds(50))) << "the unsubscribed one got it";
  node.exit(*a, ExitReason::kill());
  node.exit(*b, ExitReason::kill());
}

TEST(Topics, ADeadSubscriberIsDroppedAndTheLastOneLeavingTellsTheRouter) {
  NodeOptions o = small_node();
  o.node_id = 1;
  Node node(o);
  TopicRouter router;
  node.set_router(&router);
  Result<Pid> a = node.spawn(forward_to, Pid());
  Result<Pid> b = node.spawn(forward_to, Pid());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(node.subscribe("t", *a).is_ok());
  ASSERT_TRUE(node.subscribe("t", *b).is_ok());
  node.exit(*a, ExitReason::kill());
  ASSERT_TRUE(eventually([&] { return node.subscribers("t") == std::vector<Pid>{*b}; }))
      << "the dead subscriber stayed";
  node.exit(*b, ExitReason::error("crash"));
  ASSERT_TRUE(eventually([&] { return node.subscribers("t").empty(); }));
  auto lines = router.lines();
  EXPECT_EQ(lines, (std::vector<std::string>{"join t", "leave t"}))
      << "one join for the first subscriber, one leave when the last one went";
  node.set_router(nullptr);
}

TEST(Topics, PeersTopicsGetOneCopyPerNodeAndGoWithTheNode) {
  NodeOptions o = small_node();
  o.node_id = 1;
  Node node(o);
  TopicRouter router;
  node.set_router(&router);
  node.node_up(2);
  node.node_up(3);
  node.remote_topic_join(2, "t");
  node.remote_topic_join(3, "t");
  node.remote_topic_join(3, "t");  // twice is once
  node.remote_topic_join(4, "t");  // not up: ignored
  EXPECT_EQ(node.topic_nodes("t"), (std::vector<uint16_t>{2, 3}));
  Result<size_t> n = node.publish("t", Message::make(1, "m"));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  node.remote_topic_leave(2, "t");
  EXPECT_EQ(node.topic_nodes("t"), (std::vector<uint16_t>{3}));
  node.node_down(3);
  EXPECT_TRUE(node.topic_nodes("t").empty()) << "a node that went down keeps no topics";
  auto lines = router.lines();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "publish 2 t m") +
                std::count(lines.begin(), lines.end(), "publish 3 t m"),
            2);
  // A peer's publish reaches this node's subscribers, from the peer's process.
  Probe probe(node);
  Result<Pid> s = node.spawn(forward_to, probe.pid());
  ASSERT_TRUE(s);
  ASSERT_TRUE(node.subscribe("t", *s).is_ok());
  Pid far = Pid::from_bits(uint64_t{2} << 48 | uint64_t{1} << 24 | 7);
  EXPECT_EQ(node.remote_publish(far, "t", Message::make(9, "x")), 1u);
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(), "x@" + far.to_string());
  // A node that comes up hears of this node's topics.
  node.node_up(5);
  lines = router.lines();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "sync 5 t"), lines.end());
  node.exit(*s, ExitReason::kill());
  node.set_router(nullptr);
}

TEST(Topics, ErrorsAndBounds) {
  NodeOptions o = small_node();
  o.max_topics = 2;
  o.max_subscriptions = 3;
  Node node(o);
  Result<Pid> a = node.spawn(forward_to, Pid());
  Result<Pid> b = node.spawn(forward_to, Pid());
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(node.subscribe("", *a));
  EXPECT_FALSE(node.subscribe(std::string(256, 't'), *a));
  EXPECT_FALSE(node.subscribe("t", Pid::from_bits(uint64_t{9} << 48 | 1)))
      << "a process of another node";
  ASSERT_TRUE(node.subscribe("x", *a).is_ok());
  ASSERT_TRUE(node.subscribe("y", *a).is_ok());
  Status topics = node.subscribe("z", *a);
  ASSERT_FALSE(topics);
  EXPECT_NE(topics.message().find("max_topics"), std::string::npos) << topics.message();
  ASSERT_TRUE(node.subscribe("x", *b).is_ok());
  Status subs = node.subscribe("y", *b);
  ASSERT_FALSE(subs);
  EXPECT_NE(subs.message().find("max_subscriptions"), std::string::npos) << subs.message();
  // Peers cannot grow the node's table of their topics past the bound either.
  node.node_up(2);
  for (const char* t : {"p", "q", "r"}) {
    node.remote_topic_join(2, t);
  }
  EXPECT_TRUE(node.topic_nodes("r").empty());
  node.exit(*a, ExitReason::kill());
  ASSERT_TRUE(eventually([&] { return node.subscribers("y").empty(); }));
  EXPECT_TRUE(node.subscribe("y", *b).is_ok()) << "room again once the subscriber went";
  node.exit(*b, ExitReason::kill());
}

}  // namespace
}  // namespace rusm::otp
