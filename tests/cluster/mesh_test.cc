#include "cluster/mesh.h"

#include <gtest/gtest.h>

#include "cluster_test_util.h"

namespace rusm::cluster {
namespace {

using namespace test;

// One node: a Mesh on its own loop, recording its events into `ev` as
// "NAME up PEER", "NAME down PEER: reason", "NAME got PEER PAYLOAD".
class Node {
 public:
  Node(TestPki& pki, const std::string& name, uint16_t id, Events& ev,
       std::vector<std::string> seeds = {}, uint32_t creation = 1) {
    MeshOptions o;
    o.name = name;
    o.node_id = id;
    o.creation = creation;
    o.tls = pki.node(name);
    o.seeds = std::move(seeds);
    o.tick = 100ms;
    o.handshake_timeout = 2s;
    o.log = ev.logger(name + " ");
    Mesh::Callbacks cb;
    cb.on_node_up = [&ev, name](const PeerInfo& p) {
      ev.add(name + " up " + p.name + " creation=" + std::to_string(p.creation));
    };
    cb.on_node_down = [&ev, name](const std::string& peer, const std::string& reason) {
      ev.add(name + " down " + peer + ": " + reason);
    };
    cb.on_frame = [&ev, name](const std::string& peer, Frame&& f) {
      if (auto* s = std::get_if<Send>(&f)) {
        ev.add(name + " got " + peer + " " + s->payload);
      }
    };
    auto m = Mesh::create(loop.io(), std::move(o), std::move(cb));
    EXPECT_TRUE(m) << m.message();
    if (m) {
      mesh = *m;
    }
  }
  ~Node() { stop(); }
  void stop() {
    if (mesh) {
      loop.run([this] {
        mesh->stop();
        mesh.reset();
        return 0;
      });
    }
    loop.stop();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(mesh->port()); }
  std::vector<std::string> up_peers() {
    return loop.run([this] {
      std::vector<std::string> out;
      for (const auto& p : mesh->peers()) {
        if (p.up) {
          out.push_back(p.name);
        }
      }
      return out;
    });
  }

  IoThread loop;
  std::shared_ptr<Mesh> mesh;
};

using Names = std::vector<std::string>;

TEST(MeshTest, ReportsTheBoundEphemeralPort) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  ASSERT_TRUE(a.mesh);
  EXPECT_NE(a.mesh->port(), 0);
  EXPECT_EQ(a.mesh->advertised(), a.address());
}

TEST(MeshTest, BadTlsFilesAreAClearError) {
  boost::asio::io_context io;
  MeshOptions o;
  o.name = "a";
  o.tls = {"/nonexistent/ca.pem", "/nonexistent/a.crt", "/nonexistent/a.key"};
  auto m = Mesh::create(io, o, {});
  ASSERT_FALSE(m);
  EXPECT_NE(m.message().find("cluster CA: /nonexistent/ca.pem: cannot be read"), std::string::npos)
      << m.message();
}

TEST(MeshTest, TwoNodesConnectAndExchangeFrames) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  Node b(pki, "b", 2, ev, {a.address()});
  ASSERT_NE(ev.wait_for("a up b"), "") << ev.all();
  ASSERT_NE(ev.wait_for("b up a"), "") << ev.all();
  EXPECT_EQ(b.loop.run([&] {
    return b.mesh->send("a", Send{1, 2, 3, 0, "hello"});
  }),
            Mesh::SendResult::kOk);
  EXPECT_NE(ev.wait_for("a got b hello"), "") << ev.all();
  auto peers = a.loop.run([&] { return a.mesh->peers(); });
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].name, "b");
  EXPECT_EQ(peers[0].node_id, 2);
  EXPECT_EQ(peers[0].address, b.address());
  EXPECT_TRUE(peers[0].up);
  EXPECT_GE(peers[0].stats.frames_in, 1u);
  EXPECT_EQ(a.loop.run([&] { return a.mesh->send("nobody", Tick{}); }), Mesh::SendResult::kDown);
}

TEST(MeshTest, ThreeNodesFormAFullMeshFromOneSeedEach) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  Node b(pki, "b", 2, ev, {a.address()});
  Node c(pki, "c", 3, ev, {b.address()});
  // c knows only b; it learns a by gossip (and a learns c).
  EXPECT_NE(ev.wait_for("c up a"), "") << ev.all();
  EXPECT_NE(ev.wait_for("a up c"), "") << ev.all();
  EXPECT_TRUE(eventually(a.loop, [&] { return a.mesh->peers().size() == 2; }));
  EXPECT_EQ(a.up_peers(), (Names{"b", "c"}));
  EXPECT_EQ(b.up_peers(), (Names{"a", "c"}));
  EXPECT_EQ(c.up_peers(), (Names{"a", "b"}));
  c.loop.run([&] { return c.mesh->send("a", Send{0, 0, 0, 0, "direct"}); });
  EXPECT_NE(ev.wait_for("a got c direct"), "") << ev.all();
}

TEST(MeshTest, SimultaneousDialsKeepOneConnection) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  Node b(pki, "b", 2, ev);
  // Each dials the other at once.
  std::string aa = a.address(), ba = b.address();
  a.loop.run([&] { return a.mesh->connect(ba).is_ok(); });
  b.loop.run([&] { return b.mesh->connect(aa).is_ok(); });
  ASSERT_NE(ev.wait_for("a up b"), "") << ev.all();
  ASSERT_NE(ev.wait_for("b up a"), "") << ev.all();
  // Stable: traffic flows both ways after the duplicate is resolved.
  EXPECT_TRUE(eventually(a.loop, [&] { return a.mesh->is_up("b"); }));
  b.loop.run([&] { return b.mesh->send("a", Send{0, 0, 0, 0, "after"}); });
  EXPECT_NE(ev.wait_for("a got b after"), "") << ev.all();
  EXPECT_EQ(a.up_peers(), Names{"b"});
  EXPECT_EQ(b.up_peers(), Names{"a"});
}

TEST(MeshTest, RejectsASecondNodeWithTheSameNodeId) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  Node b(pki, "b", 2, ev, {a.address()});
  ASSERT_NE(ev.wait_for("a up b"), "") << ev.all();
  Node c(pki, "c", 2, ev, {a.address()});
  EXPECT_NE(ev.wait_for("node id 2 is already used by peer 'b'"), "") << ev.all();
  EXPECT_EQ(a.up_peers(), Names{"b"});
  EXPECT_EQ(ev.count("a up c"), 0u);
}

TEST(MeshTest, ARestartedPeerReconnects) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  auto b = std::make_unique<Node>(pki, "b", 2, ev, Names{a.address()}, 1);
  ASSERT_NE(ev.wait_for("a up b creation=1"), "") << ev.all();
  b.reset();
  EXPECT_NE(ev.wait_for("a down b"), "") << ev.all();
  Node b2(pki, "b", 2, ev, {a.address()}, 2);
  EXPECT_NE(ev.wait_for("a up b creation=2"), "") << ev.all();
  EXPECT_NE(ev.wait_for("b up a"), "") << ev.all();
  EXPECT_EQ(a.up_peers(), Names{"b"});
}

TEST(MeshTest, DialledPeerThatRestartsIsRedialled) {
  TestPki pki("ca");
  Events ev;
  auto a = std::make_unique<Node>(pki, "a", 1, ev);
  std::string address = a->address();
  uint16_t port = a->mesh->port();
  Node b(pki, "b", 2, ev, {address});
  ASSERT_NE(ev.wait_for("b up a"), "") << ev.all();
  a.reset();
  ASSERT_NE(ev.wait_for("b down a"), "") << ev.all();
  // a comes back on the same port; b's backoff finds it.
  MeshOptions o;
  Events ev2;
  IoThread loop;
  o.name = "a";
  o.node_id = 1;
  o.creation = 2;
  o.tls = pki.node("a");
  o.listen_port = port;
  o.tick = 100ms;
  o.log = ev2.logger("a2 ");
  auto m = Mesh::create(loop.io(), o, {});
  ASSERT_TRUE(m) << m.message();
  EXPECT_NE(ev.wait_for("b up a creation=2"), "") << ev.all();
  loop.run([&] {
    (*m)->stop();
    m = Error("stopped");
    return 0;
  });
}

TEST(MeshTest, SilenceLeadsToDownAndResumeReconnects) {
  TestPki pki("ca");
  Events ev;
  Node a(pki, "a", 1, ev);
  Node b(pki, "b", 2, ev, {a.address()});
  ASSERT_NE(ev.wait_for("a up b"), "") << ev.all();
  ASSERT_NE(ev.wait_for("b up a"), "") << ev.all();
  a.loop.run([&] {
    a.mesh->silence("b");
    return 0;
  });
  EXPECT_NE(ev.wait_for("a down b: heartbeat timeout"), "") << ev.all();
  EXPECT_NE(ev.wait_for("b down a: heartbeat timeout"), "") << ev.all();
  // While partitioned, b's reconnection attempts are refused.
  EXPECT_NE(ev.wait_for("partitioned from 'b'"), "") << ev.all();
  EXPECT_EQ(a.up_peers(), Names{});
  ev.clear();
  a.loop.run([&] {
    a.mesh->resume("b");
    return 0;
  });
  EXPECT_NE(ev.wait_for("a up b"), "") << ev.all();
  EXPECT_NE(ev.wait_for("b up a"), "") << ev.all();
  a.loop.run([&] { return a.mesh->send("b", Send{0, 0, 0, 0, "healed"}); });
  EXPECT_NE(ev.wait_for("b got a healed"), "") << ev.all();
}

}  // namespace
}  // namespace rusm::cluster
