// Operators on a node's cluster listener (`rusm attach`): admission, the
// SHELL_LINE/SHELL_RESULT exchange, the limits, and that an operator is never
// a peer. The operator is a Connection dialled with kHelloOperator, as the
// `rusm attach` client dials.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cluster/certs.h"
#include "cluster/mesh.h"
#include "cluster_test_util.h"
#include "rusm/cluster/cluster.h"
#include "rusm/otp/node.h"

namespace rusm::cluster {
namespace {

using namespace test;
using SendResult = Connection::SendResult;

// The shell the tests attach to: "echo X" answers X, "fail" fails, "sleep N"
// sleeps N ms; each call records its thread and line.
struct FakeShell {
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<std::thread::id> threads;
  std::atomic<int> made{0};

  std::function<AttachShell()> factory() {
    return [this] {
      ++made;
      return [this](std::string_view line, const AttachStream& stream) {
        {
          std::lock_guard<std::mutex> lock(mu);
          lines.emplace_back(line);
          threads.push_back(std::this_thread::get_id());
        }
        std::string l(line);
        if (l.rfind("sleep ", 0) == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(l.substr(6))));
          return AttachAnswer{true, "slept\n"};
        }
        if (l == "fail") {
          return AttachAnswer{false, "it failed\n"};
        }
        if (l.rfind("echo ", 0) == 0) {
          return AttachAnswer{true, l.substr(5) + "\n"};
        }
        if (l == "stream") {  // a chunk every 5 ms until told to stop
          int n = 0;
          while (n < 2000 && stream("chunk " + std::to_string(n) + "\n")) {
            ++n;
            std::this_thread::sleep_for(5ms);
          }
          return AttachAnswer{true, "streamed " + std::to_string(n) + "\n"};
        }
        return AttachAnswer{true, "?\n"};
      };
    };
  }
  size_t calls() {
    std::lock_guard<std::mutex> lock(mu);
    return lines.size();
  }
};

// A node: a Mesh that takes operators (when given a factory).
class AttachNode {
 public:
  AttachNode(TestPki& pki, const std::string& name, uint16_t id, Events& ev,
             std::function<AttachShell()> shell, size_t max_operators = 8,
             std::vector<std::string> seeds = {},
             std::chrono::milliseconds tick = std::chrono::milliseconds(100)) {
    MeshOptions o;
    o.name = name;
    o.node_id = id;
    o.creation = 1;
    o.tls = pki.node(name);
    o.seeds = std::move(seeds);
    o.tick = tick;
    o.handshake_timeout = 2s;
    o.log = ev.logger(name + " ");
    o.attach_shell = std::move(shell);
    o.max_operators = max_operators;
    Mesh::Callbacks cb;
    cb.on_node_up = [&ev, name](const PeerInfo& p) { ev.add(name + " up " + p.name); };
    cb.on_node_down = [&ev, name](const std::string& peer, const std::string& reason) {
      ev.add(name + " down " + peer + ": " + reason);
    };
    auto m = Mesh::create(loop.io(), std::move(o), std::move(cb));
    EXPECT_TRUE(m) << m.message();
    if (m) {
      mesh = *m;
    }
  }
  ~AttachNode() { stop(); }
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
  size_t operators() {
    return loop.run([this] { return mesh->operators(); });
  }
  size_t peers() {
    return loop.run([this] { return mesh->peers().size(); });
  }

  IoThread loop;
  std::shared_ptr<Mesh> mesh;
};

// An operator's client: events "op up NODE id=N", "op down: reason",
// "op result ID ok|fail OUTPUT", "op got TYPE".
class Operator {
 public:
  Operator(const TlsFiles& files, uint16_t port, Events& ev, const std::string& who = "op",
           bool echo_ticks = true, uint32_t flags = kHelloOperator, uint16_t node_id = 0,
           std::string name = "") {
    auto tls = make_tls_context(files);
    EXPECT_TRUE(tls) << tls.message();
    ConnectionOptions o;
    o.node_name = name.empty() ? cert_name(files) : name;
    o.node_id = node_id;
    o.flags = flags;
    o.tick = 2s;
    o.handshake_timeout = 2s;
    o.echo_ticks = echo_ticks;
    o.log = ev.logger(who + " ");
    Connection::Callbacks cb;
    cb.on_up = [&ev, who](Connection&, const Hello& h) {
      ev.add(who + " up " + h.name + " id=" + std::to_string(h.node_id));
    };
    cb.on_down = [&ev, who](Connection&, const std::string& reason) {
      ev.add(who + " down: " + reason);
    };
    cb.on_frame = [&ev, who](Connection&, Frame&& f) {
      if (auto* r = std::get_if<ShellResult>(&f)) {
        ev.add(who + " result " + std::to_string(r->id) + (r->ok ? " ok " : " fail ") + r->output);
      } else if (auto* o = std::get_if<ShellOutput>(&f)) {
        ev.add(who + " output " + std::to_string(o->id) + " " + o->output);
      } else {
        ev.add(who + " got " + frame_type_name(static_cast<uint8_t>(type_of(f))));
      }
    };
    conn = loop.run([&] { return Connection::dial(loop.io(), *tls, "127.0.0.1", port, o, cb); });
  }
  ~Operator() {
    loop.run([this] {
      conn->close("test over");
      return 0;
    });
    loop.stop();
  }
  SendResult send(const Frame& f) {
    return loop.run([&] { return conn->send(f); });
  }
  bool up() {
    return loop.run([this] { return conn->up(); });
  }
  // The name in files' certificate: TestPki names the files NAME-N.crt,
  // `rusm cluster cert` NAME.pem.
  static std::string cert_name(const TlsFiles& f) {
    std::string stem = std::filesystem::path(f.cert_file).stem().string();
    return stem.substr(0, stem.rfind('-'));
  }

  IoThread loop;
  std::shared_ptr<Connection> conn;
};

TEST(AttachTest, AStreamingLineSendsOutputUntilTheOperatorCancelsIt) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a id=1"), "") << ev.all();
  EXPECT_EQ(op.send(ShellLine{3, "stream"}), SendResult::kOk);
  ASSERT_NE(ev.wait_for("op output 3 chunk 2"), "") << ev.all();
  EXPECT_EQ(op.send(ShellCancel{99}), SendResult::kOk) << "another line's cancel: ignored";
  EXPECT_EQ(op.send(ShellCancel{3}), SendResult::kOk);
  std::string done = ev.wait_for("op result 3 ok streamed ");
  ASSERT_NE(done, "") << ev.all();
  int n = std::stoi(done.substr(done.rfind(' ') + 1));
  EXPECT_GE(n, 2);  // chunk 2 was sent (its call may have returned the cancel)
  EXPECT_LT(n, 2000) << "the cancel stopped the stream";
  // Every chunk came before the answer, in order.
  std::string all = ev.all();
  size_t answer = all.find("op result 3");
  EXPECT_LT(all.find("op output 3 chunk 0"), answer);
  EXPECT_LT(all.find("op output 3 chunk " + std::to_string(n - 1)), answer);
  // The session goes on with the next line.
  EXPECT_EQ(op.send(ShellLine{4, "echo after"}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("op result 4 ok after"), "") << ev.all();
}

TEST(AttachTest, OperatorGetsAnswersInOrderOffTheIoThreadAndIsNoPeer) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a id=1"), "") << ev.all();
  EXPECT_NE(ev.wait_for("a log: operator 'operator' attached"), "") << ev.all();
  for (uint32_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(op.send(ShellLine{i, "echo line" + std::to_string(i)}), SendResult::kOk);
  }
  EXPECT_EQ(op.send(ShellLine{6, "fail"}), SendResult::kOk);
  ASSERT_NE(ev.wait_for("op result 6 fail it failed"), "") << ev.all();
  // In order: each answer after the one before.
  std::string all = ev.all();
  size_t at = 0;
  for (int i = 1; i <= 5; ++i) {
    size_t next = all.find("op result " + std::to_string(i) + " ok line" + std::to_string(i));
    ASSERT_NE(next, std::string::npos) << all;
    EXPECT_GT(next, at) << all;
    at = next;
  }
  EXPECT_EQ(shell.made.load(), 1);
  std::thread::id io_thread = a.loop.run([] { return std::this_thread::get_id(); });
  {
    std::lock_guard<std::mutex> lock(shell.mu);
    for (auto t : shell.threads) {
      EXPECT_NE(t, io_thread) << "a line was answered on the cluster's io thread";
    }
  }
  // Never a member: no node-up, not in peers(), no PEERS gossip to it.
  EXPECT_EQ(a.peers(), 0u);
  EXPECT_EQ(a.operators(), 1u);
  EXPECT_EQ(ev.count("a up "), 0u) << ev.all();
  EXPECT_EQ(ev.count("op got PEERS"), 0u) << ev.all();
}

TEST(AttachTest, NodeWithoutAttachRefusesOperators) {
  TestPki pki("ca");
  Events ev;
  AttachNode a(pki, "a", 1, ev, nullptr);
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  EXPECT_NE(ev.wait_for("op down: refused by peer: this node does not accept attach"), "")
      << ev.all();
  EXPECT_EQ(a.operators(), 0u);
}

TEST(AttachTest, OperatorSendingAPeerFrameIsDisconnectedAndTheNodeCarriesOn) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  {
    Operator op(pki.node("operator"), a.mesh->port(), ev);
    ASSERT_NE(ev.wait_for("op up a"), "") << ev.all();
    EXPECT_EQ(op.send(Send{0, uint64_t{1} << 48 | 1, 5, 0, "hi"}), SendResult::kOk);
    EXPECT_NE(ev.wait_for("op down: refused by peer: protocol error: an operator's connection "
                          "carries SHELL_LINE and SHELL_CANCEL frames only, not SEND"),
              "")
        << ev.all();
  }
  EXPECT_TRUE(eventually(a.loop, [&] { return a.mesh->operators() == 0; })) << ev.all();
  EXPECT_EQ(a.peers(), 0u);
  // A new operator, and a peer node, are still welcome.
  Operator again(pki.node("operator"), a.mesh->port(), ev, "again");
  ASSERT_NE(ev.wait_for("again up a"), "") << ev.all();
  EXPECT_EQ(again.send(ShellLine{1, "echo still here"}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("again result 1 ok still here"), "") << ev.all();
  AttachNode b(pki, "b", 2, ev, nullptr, 8, {a.address()});
  EXPECT_NE(ev.wait_for("a up b"), "") << ev.all();
}

TEST(AttachTest, PeerSendingShellFramesIsLoggedAndStaysUp) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  // A node "b" (no operator flag) that sends a SHELL_LINE: dropped, logged.
  Operator b(pki.node("b"), a.mesh->port(), ev, "b", /*echo_ticks=*/true, 0, 2);
  ASSERT_NE(ev.wait_for("a up b"), "") << ev.all();
  ASSERT_NE(ev.wait_for("b up a"), "") << ev.all();
  EXPECT_EQ(b.send(ShellLine{1, "ps"}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("dropped a SHELL_LINE frame from peer 'b'"), "") << ev.all();
  EXPECT_EQ(shell.calls(), 0u);
  EXPECT_TRUE(b.up());
  EXPECT_EQ(a.operators(), 0u);
}

TEST(AttachTest, HelloRulesForOperatorsAreStrict) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  auto files = pki.node("operator");
  {
    // Node id 0 without the operator flag.
    Operator op(files, a.mesh->port(), ev, "noflag", true, 0, 0);
    EXPECT_NE(ev.wait_for("noflag down: refused by peer: node id 0 is not a node's id"), "")
        << ev.all();
  }
  {
    // The operator flag with a node's id.
    Operator op(files, a.mesh->port(), ev, "withid", true, kHelloOperator, 9);
    EXPECT_NE(ev.wait_for("withid down: refused by peer: an operator's HELLO must carry node id "
                          "0, not 9"),
              "")
        << ev.all();
  }
  {
    // An operator's name must be its certificate's, as a node's.
    Operator op(pki.node("eve"), a.mesh->port(), ev, "liar", true, kHelloOperator, 0, "root");
    EXPECT_NE(ev.wait_for("liar down: refused by peer: node name 'root' does not match its "
                          "certificate"),
              "")
        << ev.all();
  }
  EXPECT_EQ(shell.made.load(), 0) << "a refused operator got a shell";
  EXPECT_EQ(a.peers(), 0u);
}

TEST(AttachTest, OperatorOfAnotherCaFailsInTls) {
  TestPki pki("ca");
  TestPki other("other-ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  Operator op(other.node("operator"), a.mesh->port(), ev);
  EXPECT_NE(ev.wait_for("op down:"), "") << ev.all();
  EXPECT_EQ(ev.count("op up"), 0u) << ev.all();
  EXPECT_EQ(shell.made.load(), 0);
}

TEST(AttachTest, LongLinesAreAnsweredWithAnErrorAndHugeFramesClose) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a"), "") << ev.all();
  EXPECT_EQ(op.send(ShellLine{1, "echo " + std::string(kMaxAttachLine - 5, 'x')}), SendResult::kOk);
  EXPECT_EQ(op.send(ShellLine{2, std::string(kMaxAttachLine + 1, 'y')}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("op result 1 ok xxx"), "") << ev.all();
  EXPECT_NE(ev.wait_for("op result 2 fail line too long (" + std::to_string(kMaxAttachLine + 1) +
                        " bytes, at most " + std::to_string(kMaxAttachLine) + ")"),
            "")
      << ev.all();
  EXPECT_EQ(shell.calls(), 1u) << "the long line reached the shell";
  // Far above the line limit: the connection goes, unbuffered.
  EXPECT_EQ(op.send(ShellLine{3, std::string(8 * kMaxAttachLine, 'z')}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("op down: refused by peer: bad frame"), "") << ev.all();
  EXPECT_TRUE(eventually(a.loop, [&] { return a.mesh->operators() == 0; }));
}

TEST(AttachTest, OperatorsBeyondTheCapAreRefusedUntilOneLeaves) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory(), /*max_operators=*/2);
  auto files = pki.node("operator");
  auto one = std::make_unique<Operator>(files, a.mesh->port(), ev, "one");
  ASSERT_NE(ev.wait_for("one up a"), "") << ev.all();
  Operator two(files, a.mesh->port(), ev, "two");
  ASSERT_NE(ev.wait_for("two up a"), "") << ev.all();
  {
    Operator three(files, a.mesh->port(), ev, "three");
    EXPECT_NE(ev.wait_for("three down: refused by peer: too many operators attached (2"), "")
        << ev.all();
  }
  one.reset();
  EXPECT_TRUE(eventually(a.loop, [&] { return a.mesh->operators() == 1; })) << ev.all();
  Operator four(files, a.mesh->port(), ev, "four");
  EXPECT_NE(ev.wait_for("four up a"), "") << ev.all();
  EXPECT_EQ(four.send(ShellLine{1, "echo four"}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("four result 1 ok four"), "") << ev.all();
}

TEST(AttachTest, TooManyLinesWaitingDisconnectsTheOperator) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a"), "") << ev.all();
  // One line running, kMaxAttachQueue waiting, one too many.
  for (uint32_t i = 0; i < kMaxAttachQueue + 2; ++i) {
    op.send(ShellLine{i, "sleep 300"});
  }
  EXPECT_NE(ev.wait_for("op down: refused by peer: more than " + std::to_string(kMaxAttachQueue) +
                        " lines waiting"),
            "")
      << ev.all();
}

TEST(AttachTest, IdleOperatorIsKeptAliveAndASilentOneIsDropped) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  // Tick 250 ms: a 100 ms tick (down after 150 ms of silence) flaked on a
  // loaded 2-core machine, where a thread can wait that long for a core.
  AttachNode a(pki, "a", 1, ev, shell.factory(), 8, {}, 250ms);
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a"), "") << ev.all();
  std::this_thread::sleep_for(2s);  // 8 ticks of silence but the heartbeats
  EXPECT_TRUE(op.up()) << ev.all();
  EXPECT_EQ(op.send(ShellLine{1, "echo awake"}), SendResult::kOk);
  EXPECT_NE(ev.wait_for("op result 1 ok awake"), "") << ev.all();
  // A client that does not answer the node's heartbeats (its own tick is
  // 2 s) is dropped within 2 of the node's ticks.
  Operator mute(pki.node("operator"), a.mesh->port(), ev, "mute", /*echo_ticks=*/false);
  ASSERT_NE(ev.wait_for("mute up a"), "") << ev.all();
  EXPECT_NE(ev.wait_for("a log: operator 'operator' (", 3s).find("heartbeat timeout"),
            std::string::npos)
      << ev.all();
  EXPECT_TRUE(op.up());
}

TEST(AttachTest, SlowCommandDoesNotStallThePeersHeartbeats) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  AttachNode a(pki, "a", 1, ev, shell.factory());  // tick 100 ms
  AttachNode b(pki, "b", 2, ev, nullptr, 8, {a.address()});
  ASSERT_NE(ev.wait_for("a up b"), "") << ev.all();
  Operator op(pki.node("operator"), a.mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a"), "") << ev.all();
  EXPECT_EQ(op.send(ShellLine{1, "sleep 700"}), SendResult::kOk);
  ASSERT_NE(ev.wait_for("op result 1 ok slept"), "") << ev.all();
  EXPECT_EQ(ev.count("down b"), 0u) << ev.all();
  EXPECT_EQ(ev.count("down a"), 0u) << ev.all();
}

TEST(AttachTest, StopWaitsForALineBeingAnswered) {
  TestPki pki("ca");
  Events ev;
  FakeShell shell;
  auto a = std::make_unique<AttachNode>(pki, "a", 1, ev, shell.factory());
  Operator op(pki.node("operator"), a->mesh->port(), ev);
  ASSERT_NE(ev.wait_for("op up a"), "") << ev.all();
  EXPECT_EQ(op.send(ShellLine{1, "sleep 300"}), SendResult::kOk);
  EXPECT_TRUE(eventually(a->loop, [&] { return shell.calls() == 1; }));
  auto t0 = std::chrono::steady_clock::now();
  a->stop();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms) << "stop did not wait for the shell";
  EXPECT_NE(ev.wait_for("op down"), "") << ev.all();
}

// Through Cluster: a shell that calls Cluster::nodes() (as rusm serve's does)
// while the cluster stops must not deadlock.
TEST(AttachTest, ClusterStopWithAShellInsideNodes) {
  namespace fs = std::filesystem;
  std::string dir =
      (fs::temp_directory_path() / ("rusm-attach-test-" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  ASSERT_TRUE(make_ca(dir).is_ok());
  ASSERT_TRUE(make_node_cert(dir, "n1").is_ok());
  ASSERT_TRUE(make_node_cert(dir, "operator").is_ok());
  otp::NodeOptions no;
  no.workers = 1;
  no.name = "n1";
  no.node_id = node_id_for("n1");
  otp::Node node(no);
  ClusterOptions co;
  use_certs_dir(co, dir, "n1");
  co.tick = 100ms;
  co.log = [](const std::string&) {};
  Cluster* self = nullptr;
  std::atomic<int> in_nodes{0};
  co.attach_shell = [&self, &in_nodes] {
    return [&self, &in_nodes](std::string_view, const AttachStream&) {
      ++in_nodes;
      size_t n = 0;
      for (int i = 0; i < 200; ++i) {
        n += self->nodes().size();
        std::this_thread::sleep_for(2ms);
      }
      return AttachAnswer{true, std::to_string(n) + "\n"};
    };
  };
  auto c = Cluster::start(node, co);
  ASSERT_TRUE(c) << c.message();
  self = c->get();
  Events ev;
  TlsFiles files{dir + "/ca.pem", dir + "/operator.pem", dir + "/operator.key"};
  Operator op(files, (*c)->port(), ev);
  ASSERT_NE(ev.wait_for("op up n1"), "") << ev.all();
  EXPECT_EQ(op.send(ShellLine{1, "nodes"}), SendResult::kOk);
  auto end = std::chrono::steady_clock::now() + 5s;
  while (in_nodes.load() == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(in_nodes.load(), 1);
  (*c)->stop();  // a deadlock hangs here (the test's timeout reports it)
  EXPECT_NE(ev.wait_for("op down"), "") << ev.all();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rusm::cluster
