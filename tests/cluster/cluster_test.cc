// Nodes joined by Cluster over loopback mutual TLS, in one OS process: remote
// send (ordered), send to a name on another node, links, monitors and exit
// signals across nodes, node down firing every link and monitor with
// noconnection exactly once, monitor_node, and the bounded send buffer; and
// global names (ClusterGlobal.*): replicated on every node, dropped when
// their process exits or their node goes down, conflicts after a partition
// resolved to the older registration, forged names refused.
#include "rusm/cluster/cluster.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/certs.h"
#include "cluster/mesh.h"
#include "cluster_test_util.h"
#include "observe/shell.h"
#include "rusm/otp/context.h"
#include "rusm/otp/node.h"

namespace rusm::cluster {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using otp::Context;
using otp::ExitKind;
using otp::Message;
using otp::Pid;
using otp::Probe;
using otp::Task;

constexpr auto kWait = 5s;

// A certificate directory for the whole test program.
const std::string& certs() {
  static std::string dir = [] {
    std::string d =
        (fs::temp_directory_path() / ("rusm-cluster-test-" + std::to_string(getpid()))).string();
    fs::remove_all(d);
    fs::create_directories(d);
    EXPECT_TRUE(make_ca(d).is_ok());
    for (const char* n : {"a", "b", "c"}) {
      EXPECT_TRUE(make_node_cert(d, n).is_ok()) << n;
    }
    return d;
  }();
  return dir;
}

struct Member {
  std::unique_ptr<otp::Node> node;
  std::unique_ptr<Cluster> cluster;
};

Member member(const std::string& name, std::vector<std::string> seeds,
              std::chrono::milliseconds tick = 200ms, size_t send_buffer = size_t{4} << 20,
              GlobalConflict conflict = GlobalConflict::kExit,
              std::function<void(const std::string&)> log = nullptr) {
  Member m;
  otp::NodeOptions no;
  no.workers = 1;
  no.name = name;
  no.node_id = node_id_for(name);
  m.node = std::make_unique<otp::Node>(no);
  ClusterOptions co;
  use_certs_dir(co, certs(), name);
  co.seeds = std::move(seeds);
  co.tick = tick;
  co.send_buffer_bytes = send_buffer;
  co.global_conflict = conflict;
  co.log = log ? std::move(log) : [](const std::string&) {};
  auto c = Cluster::start(*m.node, co);
  EXPECT_TRUE(c.is_ok()) << c.message();
  if (c) {
    m.cluster = std::move(*c);
  }
  return m;
}

std::string seed(const Member& m) {
  return "127.0.0.1:" + std::to_string(m.cluster->port());
}

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = kWait) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) {
      return true;
    }
    std::this_thread::sleep_for(2ms);
  }
  return p();
}

bool connected(Member& x, Member& y) {
  return eventually(
      [&] { return x.node->node_is_up(y.node->id()) && y.node->node_is_up(x.node->id()); });
}

// Answers every message to its sender with the same tag and payload.
Task<> echo(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(m.from(), Message::make(m.tag(), m.text()));
  }
}

// Collects n messages and sends their tags, in arrival order, to `to`.
Task<> collect(Context& ctx, Pid to, int n) {
  std::string tags;
  for (int i = 0; i < n; ++i) {
    Message m = co_await ctx.receive();
    tags += std::to_string(m.tag()) + ",";
  }
  (void)ctx.send(to, Message::make(1, tags));
}

Task<> wait_forever(Context& ctx) {
  for (;;) {
    (void)co_await ctx.receive();
  }
}

// Passes every message on to `to`, as it came (tag and payload).
Task<> forward_to_probe(Context& ctx, Pid to) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(to, Message::make(m.tag(), m.text()));
  }
}

TEST(Cluster, TwoNodesJoinAndSeeEachOther) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b)) << "b did not join a through its seed";
  auto nodes = a.cluster->nodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "b");
  EXPECT_EQ(nodes[0].id, b.node->id());
  EXPECT_TRUE(nodes[0].up);
  EXPECT_EQ(a.cluster->node_id("b"), b.node->id());
}

TEST(Cluster, RemoteSendKeepsPerPairOrderAndRepliesComeBack) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  Probe pa(*a.node);
  const int n = 10000;
  Result<Pid> c = b.node->spawn(collect, pa.pid(), n);
  ASSERT_TRUE(c.is_ok());
  for (int i = 1; i <= n; ++i) {
    Status s = pa.send(*c, Message::make(static_cast<uint64_t>(i), "x"));
    ASSERT_TRUE(s.is_ok()) << "send " << i << ": " << s.message();
  }
  auto got = pa.receive(10s);
  ASSERT_TRUE(got) << "the collector on b did not answer over the cluster";
  std::string want;
  for (int i = 1; i <= n; ++i) {
    want += std::to_string(i) + ",";
  }
  EXPECT_TRUE(got->text() == want) << "messages from one sender arrived out of order";
  EXPECT_EQ(got->from(), *c);
}

TEST(Cluster, SendToANameOnAnotherNode) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  Result<Pid> e = b.node->spawn(echo);
  ASSERT_TRUE(e.is_ok());
  ASSERT_TRUE(b.node->register_name("echo", *e).is_ok());
  Probe pa(*a.node);
  Message m = Message::make(42, "hi");
  m.set_ref(77);
  ASSERT_TRUE(pa.send_named(b.node->id(), "echo", std::move(m)).is_ok());
  auto r = pa.receive(kWait);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag(), 42u);
  EXPECT_EQ(r->text(), "hi");
  EXPECT_EQ(r->from(), *e) << "the reply's sender is the remote pid";
}

TEST(Cluster, LinksAndMonitorsAcrossNodes) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  Result<Pid> w1 = b.node->spawn(wait_forever);
  Result<Pid> w2 = b.node->spawn(wait_forever);
  ASSERT_TRUE(w1.is_ok() && w2.is_ok());
  Probe pa(*a.node);  // a probe traps exits: they arrive as messages
  pa.link(*w1);
  otp::MonitorRef ref = pa.monitor(*w2);
  // The link and the monitor reach b asynchronously; exiting w1 before they
  // land would (rightly) give noproc instead.
  ASSERT_TRUE(eventually([&] {
    auto i1 = b.node->info(*w1);
    auto i2 = b.node->info(*w2);
    return i1 && !i1->links.empty() && i2 && !i2->monitored_by.empty();
  })) << "the link and the monitor never reached node b";
  b.node->exit(*w1, otp::ExitReason::error("boom"));
  auto ex = pa.receive_if([](const Message& m) { return m.is_exit(); }, kWait);
  ASSERT_TRUE(ex) << "the remote linked process's exit did not arrive";
  EXPECT_EQ(ex->from(), *w1);
  EXPECT_EQ(ex->reason().kind(), ExitKind::kError);
  EXPECT_EQ(ex->reason().detail(), "boom");
  b.node->exit(*w2, otp::ExitReason::kill());
  auto down = pa.receive_if([](const Message& m) { return m.is_down(); }, kWait);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->ref(), ref);
  EXPECT_EQ(down->reason().kind(), ExitKind::kKilled);
  // A remote pid that is gone: DOWN noproc from the other node.
  otp::MonitorRef late = pa.monitor(*w2);
  auto noproc =
      pa.receive_if([&](const Message& m) { return m.is_down() && m.ref() == late; }, kWait);
  ASSERT_TRUE(noproc);
  EXPECT_EQ(noproc->reason().kind(), ExitKind::kNoproc);
}

TEST(Cluster, ANodeGoingDownFiresEveryLinkAndMonitorOnceWithNoconnection) {
  Member a = member("a", {}, 100ms);
  Member b = member("b", {seed(a)}, 100ms);
  ASSERT_TRUE(connected(a, b));
  Probe pa(*a.node);
  pa.monitor_node(b.node->id());
  const int n = 20;
  std::vector<Pid> linked, monitored;
  for (int i = 0; i < n; ++i) {
    linked.push_back(*b.node->spawn(wait_forever));
    monitored.push_back(*b.node->spawn(wait_forever));
    pa.link(linked.back());
    pa.monitor(monitored.back());
  }
  auto t0 = std::chrono::steady_clock::now();
  b.cluster->stop();  // b leaves: a sees its connection end
  int exits = 0, downs = 0, nodedowns = 0;
  while (auto m = pa.receive(1s)) {
    if (m->is_exit()) {
      EXPECT_EQ(m->reason().kind(), ExitKind::kNoconnection);
      ++exits;
    } else if (m->is_down()) {
      EXPECT_EQ(m->reason().kind(), ExitKind::kNoconnection);
      ++downs;
    } else if (m->tag() == otp::kNodeDownTag) {
      ++nodedowns;
    }
  }
  EXPECT_EQ(exits, n) << "each link fires exactly once";
  EXPECT_EQ(downs, n) << "each monitor fires exactly once";
  EXPECT_EQ(nodedowns, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_FALSE(a.node->node_is_up(b.node->id()));
  Status s = pa.send(linked[0], Message::make(1));
  EXPECT_FALSE(s.is_ok()) << "a send to a node that is down must fail";
}

TEST(Cluster, ASilentPeerIsDeclaredDownWithinTwoTicks) {
  Member a = member("a", {}, 100ms);
  Member b = member("b", {seed(a)}, 100ms);
  ASSERT_TRUE(connected(a, b));
  Probe pa(*a.node);
  Pid w = *b.node->spawn(wait_forever);
  otp::MonitorRef ref = pa.monitor(w);
  auto t0 = std::chrono::steady_clock::now();
  a.cluster->silence("b");
  auto down = pa.receive_if([](const Message& m) { return m.is_down(); }, kWait);
  ASSERT_TRUE(down) << "a silent peer was never declared down";
  EXPECT_EQ(down->ref(), ref);
  EXPECT_EQ(down->reason().kind(), ExitKind::kNoconnection);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 400ms) << "down after "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms; the bound is 2 ticks (200 ms) plus scheduling";
  a.cluster->resume("b");
  EXPECT_TRUE(connected(a, b)) << "the partition healed but the nodes did not reconnect";
}

TEST(Cluster, SendsToAPeerThatDoesNotReadFailOnceItsBufferIsFull) {
  Member a = member("a", {}, 5000ms, 256 * 1024);
  Member b = member("b", {seed(a)}, 5000ms);
  ASSERT_TRUE(connected(a, b));
  Pid w = *b.node->spawn(wait_forever);
  a.cluster->silence("b");  // a stops writing to b: its frames pile up
  Probe pa(*a.node);
  std::string payload(1024, 'x');
  Status last = Status::ok();
  int sent = 0;
  for (; sent < 100000; ++sent) {
    last = pa.send(w, Message::make(1, payload));
    if (!last.is_ok()) {
      break;
    }
  }
  ASSERT_FALSE(last.is_ok()) << "100 MB were accepted for a peer that reads nothing";
  EXPECT_NE(last.message().find("full"), std::string::npos) << last.message();
  EXPECT_LT(sent, 20000) << "far more than the connection's and the cluster's buffers were queued";
}

TEST(Cluster, ThreeNodesFormAFullMeshFromOneSeed) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  Member c = member("c", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  ASSERT_TRUE(connected(a, c));
  EXPECT_TRUE(connected(b, c)) << "b and c did not learn of each other through a";
  Result<Pid> e = c.node->spawn(echo);
  Probe pb(*b.node);
  ASSERT_TRUE(pb.send(*e, Message::make(5, "via the mesh")).is_ok());
  auto r = pb.receive(kWait);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "via the mesh");
}

TEST(Cluster, StartRefusesMissingCertificatesAndNodeIdZero) {
  otp::NodeOptions no;
  no.workers = 1;
  no.name = "a";
  no.node_id = 0;
  otp::Node zero(no);
  ClusterOptions co;
  use_certs_dir(co, certs(), "a");
  auto r = Cluster::start(zero, co);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.message().find("id is 0"), std::string::npos) << r.message();
  no.node_id = node_id_for("a");
  otp::Node n(no);
  use_certs_dir(co, certs(), "nobody");
  r = Cluster::start(n, co);
  ASSERT_FALSE(r.is_ok()) << "a node without its certificate files started";
  EXPECT_NE(r.message().find("nobody"), std::string::npos) << r.message();
}

// ---- Global names ------------------------------------------------------------

bool name_is(Member& m, const std::string& name, Pid want) {
  return eventually([&] { return m.node->whereis_global(name) == want; });
}

TEST(ClusterGlobal, ANameRegisteredOnOneNodeResolvesOnEveryNode) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  Member c = member("c", {seed(a)});
  ASSERT_TRUE(connected(a, b) && connected(a, c) && connected(b, c));
  Probe pc(*c.node);
  Result<Pid> e = a.node->spawn(forward_to_probe, pc.pid());
  ASSERT_TRUE(e);
  ASSERT_TRUE(a.node->register_global("svc", *e).is_ok());
  EXPECT_EQ(a.node->whereis_global("svc"), *e) << "the registering node sees it at once";
  EXPECT_TRUE(name_is(b, "svc", *e)) << "b never learned of the name";
  EXPECT_TRUE(name_is(c, "svc", *e)) << "c never learned of the name";
  // The name is taken everywhere now.
  Result<Pid> other = c.node->spawn(wait_forever);
  ASSERT_TRUE(other);
  Status st = c.node->register_global("svc", *other);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find(e->to_string()), std::string::npos) << st.message();

  // send_global from c reaches the process on a (which passes it on to c's
  // probe, so it crossed twice).
  ASSERT_TRUE(c.node->send_global("svc", Message::make(10, "ping")).is_ok());
  auto r = pc.receive(kWait);
  ASSERT_TRUE(r) << "the message to the global name never reached the process on a";
  EXPECT_EQ(r->tag(), 10u);
  EXPECT_EQ(r->text(), "ping");
  EXPECT_EQ(r->from(), *e);
  auto names = b.node->global_names();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].first, "svc");

  // Unregistered on b: gone everywhere.
  ASSERT_TRUE(b.node->unregister_global("svc").is_ok());
  EXPECT_TRUE(name_is(a, "svc", Pid()));
  EXPECT_TRUE(name_is(c, "svc", Pid()));
}

TEST(ClusterGlobal, AProcessOfAnotherNodeCanBeRegistered) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  Result<Pid> w = b.node->spawn(wait_forever);
  ASSERT_TRUE(w);
  ASSERT_TRUE(a.node->register_global("far", *w).is_ok());
  EXPECT_EQ(a.node->whereis_global("far"), *w);
  EXPECT_TRUE(name_is(b, "far", *w)) << "b did not confirm the name of its process";
  b.node->exit(*w, otp::ExitReason::kill());
  EXPECT_TRUE(name_is(a, "far", Pid())) << "its exit did not drop the name on a";
}

TEST(ClusterGlobal, ExitOfTheProcessOrItsNodeDropsTheNameEverywhere) {
  Member a = member("a", {}, 100ms);
  Member b = member("b", {seed(a)}, 100ms);
  Member c = member("c", {seed(a)}, 100ms);
  ASSERT_TRUE(connected(a, b) && connected(a, c) && connected(b, c));
  Result<Pid> w = a.node->spawn(wait_forever);
  ASSERT_TRUE(w);
  ASSERT_TRUE(a.node->register_global("worker", *w).is_ok());
  ASSERT_TRUE(name_is(b, "worker", *w) && name_is(c, "worker", *w));
  a.node->exit(*w, otp::ExitReason::error("crash"));
  EXPECT_TRUE(name_is(a, "worker", Pid()));
  EXPECT_TRUE(name_is(b, "worker", Pid())) << "the exit did not unregister it on b";
  EXPECT_TRUE(name_is(c, "worker", Pid())) << "the exit did not unregister it on c";

  // c's names go when c does.
  Result<Pid> x = c.node->spawn(wait_forever);
  ASSERT_TRUE(x);
  ASSERT_TRUE(c.node->register_global("on-c", *x).is_ok());
  ASSERT_TRUE(name_is(a, "on-c", *x) && name_is(b, "on-c", *x));
  c.cluster->stop();
  EXPECT_TRUE(name_is(a, "on-c", Pid())) << "a kept the name of a node that went down";
  EXPECT_TRUE(name_is(b, "on-c", Pid())) << "b kept the name of a node that went down";
  EXPECT_TRUE(c.node->is_alive(*x));
}

TEST(ClusterGlobal, TwoNodesRegisteringTheSameNamesAtOnceAgree) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  const int n = 200;
  std::vector<Pid> pa, pb;
  for (int i = 0; i < n; ++i) {
    pa.push_back(*a.node->spawn(wait_forever));
    pb.push_back(*b.node->spawn(wait_forever));
  }
  std::vector<char> oka(n), okb(n);
  std::thread ta([&] {
    for (int i = 0; i < n; ++i) {
      oka[i] = a.node->register_global("race" + std::to_string(i), pa[i]).is_ok();
    }
  });
  std::thread tb([&] {
    for (int i = 0; i < n; ++i) {
      okb[i] = b.node->register_global("race" + std::to_string(i), pb[i]).is_ok();
    }
  });
  ta.join();
  tb.join();
  int both = 0;
  for (int i = 0; i < n; ++i) {
    std::string name = "race" + std::to_string(i);
    ASSERT_TRUE(oka[i] || okb[i]) << name << ": neither registration succeeded";
    Pid holder;
    ASSERT_TRUE(eventually([&] {
      holder = a.node->whereis_global(name);
      return holder && b.node->whereis_global(name) == holder;
    })) << name
        << ": the nodes never agreed";
    bool on_a = holder == pa[i];
    ASSERT_TRUE(on_a || holder == pb[i]) << name;
    EXPECT_TRUE(on_a ? a.node->is_alive(pa[i]) : b.node->is_alive(pb[i]))
        << name << ": the winner is dead";
    if (oka[i] && okb[i]) {
      ++both;  // a conflict: the loser gets the exit signal
      Pid loser = on_a ? pb[i] : pa[i];
      otp::Node& home = on_a ? *b.node : *a.node;
      EXPECT_TRUE(eventually([&] { return !home.is_alive(loser); }))
          << name << ": the loser of a conflict is still alive";
    } else {
      EXPECT_EQ(on_a, static_cast<bool>(oka[i])) << name << ": the only registration lost";
    }
  }
  RecordProperty("conflicts", both);
}

// A partition where both sides register the same name; when it heals, the
// older registration wins on both and the younger's process is told.
void partition_then_heal(GlobalConflict conflict) {
  Member a = member("a", {}, 100ms, size_t{4} << 20, conflict);
  Member b = member("b", {seed(a)}, 100ms, size_t{4} << 20, conflict);
  ASSERT_TRUE(connected(a, b));
  a.cluster->silence("b");
  ASSERT_TRUE(eventually([&] {
    return !a.node->node_is_up(b.node->id()) && !b.node->node_is_up(a.node->id());
  })) << "the partition did not take";
  Probe pb(*b.node);
  Result<Pid> older = a.node->spawn(wait_forever);
  Result<Pid> younger = b.node->spawn(forward_to_probe, pb.pid());
  ASSERT_TRUE(older && younger);
  ASSERT_TRUE(a.node->register_global("leader", *older).is_ok());
  std::this_thread::sleep_for(5ms);  // stamps are microseconds: make the order certain
  ASSERT_TRUE(b.node->register_global("leader", *younger).is_ok())
      << "b cannot see a: the name is free on its side";
  otp::MonitorRef ref = pb.monitor(*younger);
  a.cluster->resume("b");
  ASSERT_TRUE(connected(a, b)) << "the partition did not heal";
  EXPECT_TRUE(name_is(a, "leader", *older)) << "a did not keep the older registration";
  EXPECT_TRUE(name_is(b, "leader", *older)) << "b did not give the name to the older one";
  if (conflict == GlobalConflict::kExit) {
    auto down =
        pb.receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; }, kWait);
    ASSERT_TRUE(down) << "the loser got no exit signal";
    EXPECT_EQ(down->reason().kind(), ExitKind::kError);
    EXPECT_EQ(down->reason().detail(), "global name conflict: leader");
  } else {
    auto m =
        pb.receive_if([](const Message& m) { return m.tag() == otp::kGlobalConflictTag; }, kWait);
    ASSERT_TRUE(m) << "the loser got no conflict message";
    EXPECT_EQ(m->text(), "leader");
    EXPECT_TRUE(b.node->is_alive(*younger)) << "with the message policy the loser lives on";
  }
  EXPECT_TRUE(a.node->is_alive(*older)) << "the winner was touched";
  // Exactly one of the two resolved names: no second signal or message.
  auto extra = pb.receive_if(
      [&](const Message& m) {
        return (m.is_down() && m.ref() == ref) || m.tag() == otp::kGlobalConflictTag;
      },
      300ms);
  EXPECT_FALSE(extra) << "the loser was told twice";
}

TEST(ClusterGlobal, AfterAPartitionTheOlderRegistrationWinsAndTheLoserExits) {
  partition_then_heal(GlobalConflict::kExit);
}

TEST(ClusterGlobal, AfterAPartitionTheLoserCanGetAMessageInstead) {
  partition_then_heal(GlobalConflict::kMessage);
}

TEST(ClusterGlobal, NamesFromAPeerForPidsOfOtherNodesAreDropped) {
  test::Events events;
  Member a = member("a", {}, 200ms, size_t{4} << 20, GlobalConflict::kExit, events.logger("a "));
  Result<Pid> w = a.node->spawn(wait_forever);
  ASSERT_TRUE(w);
  ASSERT_TRUE(a.node->register_global("real", *w).is_ok());
  // A bare mesh as node c (its certificate is the cluster's) that forges
  // frames: names for a pid of a node that is not c, and an ask for a pid
  // that is not a's.
  test::IoThread loop;
  MeshOptions mo;
  mo.name = "c";
  mo.node_id = node_id_for("c");
  mo.creation = 1;
  ClusterOptions co;
  use_certs_dir(co, certs(), "c");
  mo.tls = TlsFiles{co.ca_file, co.cert_file, co.key_file};
  mo.seeds = {seed(a)};
  mo.tick = 200ms;
  mo.log = [](const std::string&) {};
  Mesh::Callbacks cb;
  auto made = loop.run([&] { return Mesh::create(loop.io(), mo, cb); });
  ASSERT_TRUE(made) << made.message();
  std::shared_ptr<Mesh> mesh = *made;
  ASSERT_TRUE(eventually([&] { return loop.run([&] { return mesh->is_up("a"); }); }));
  ASSERT_TRUE(eventually([&] { return a.node->node_is_up(node_id_for("c")); }));
  uint64_t forged = (uint64_t{4242} << 48) | (uint64_t{1} << 24) | 1;
  uint64_t own = (uint64_t{node_id_for("c")} << 48) | (uint64_t{1} << 24) | 1;
  loop.run([&] {
    mesh->send_control("a", GlobalAdd{"forged", forged, 1});
    mesh->send_control("a", GlobalAdd{"evil\nname", forged, 1});
    mesh->send_control(
        "a", GlobalSync{{{"forged2", forged, 1}, {"synced", own, 2}, {"forged\n3", forged, 1}}});
    mesh->send_control("a", GlobalAsk{"ask", forged, 1});
    mesh->send_control("a", GlobalAdd{"honest", own, 1});
    return 0;
  });
  EXPECT_TRUE(name_is(a, "honest", Pid::from_bits(own))) << "a valid name from c was not taken";
  EXPECT_FALSE(a.node->whereis_global("forged"));
  EXPECT_FALSE(a.node->whereis_global("forged2"));
  EXPECT_FALSE(a.node->whereis_global("forged\n3"));
  EXPECT_EQ(a.node->whereis_global("synced"), Pid::from_bits(own))
      << "the valid entry of a SYNC with forged ones was not taken";
  EXPECT_FALSE(a.node->whereis_global("ask"));
  EXPECT_NE(events.wait_for("dropped global name 'forged' from c"), "") << events.all();
  EXPECT_NE(events.wait_for("dropped global name 'forged2' and 1 more from c (GLOBAL_SYNC)"), "")
      << events.all();
  EXPECT_NE(events.wait_for("dropped global name 'evil?name'"), "") << events.all();
  EXPECT_EQ(events.count("evil\n"), 0u) << "a name from a peer reached the log unescaped";
  EXPECT_NE(events.wait_for("dropped a GLOBAL_ASK frame from c for name 'ask'"), "")
      << events.all();
  EXPECT_EQ(a.node->whereis_global("real"), *w);
  // c going down drops its name on a.
  loop.run([&] {
    mesh->stop();
    return 0;
  });
  EXPECT_TRUE(name_is(a, "honest", Pid()));
}

TEST(ClusterIds, NodeIdsComeFromNamesAndAreNeverZero) {
  EXPECT_EQ(node_id_for("n1"), node_id_for("n1"));
  EXPECT_NE(node_id_for("n1"), node_id_for("n2"));
  for (int i = 0; i < 10000; ++i) {
    EXPECT_NE(node_id_for("node" + std::to_string(i)), 0);
  }
}

}  // namespace
}  // namespace rusm::cluster

namespace rusm::cluster {
namespace {

// A shell on one node acts on another node's processes: send, exit and kill
// go through the cluster; info and trace, which read this node's tables, say
// where to look instead; a global name resolves to the other node's pid.
TEST(ClusterShell, SendExitAndKillReachAnotherNodesProcesses) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  observe::Shell shell(*a.node);
  auto run = [&](const std::string& line) {
    return shell.execute(line, observe::Access::kControl);
  };

  Probe pb(*b.node);
  Result<Pid> fwd = b.node->spawn(forward_to_probe, pb.pid());
  Result<Pid> victim = b.node->spawn(wait_forever);
  Result<Pid> trapper = b.node->spawn(wait_forever);
  ASSERT_TRUE(fwd && victim && trapper);
  otp::MonitorRef victim_ref = pb.monitor(*victim);
  otp::MonitorRef trapper_ref = pb.monitor(*trapper);

  auto sent = run("send " + fwd->to_string() + " 9 'over there'");
  ASSERT_TRUE(sent.ok) << sent.output;
  auto m = pb.receive_if([](const Message& x) { return x.tag() == 9; }, kWait);
  ASSERT_TRUE(m) << "the shell's send did not reach the process on b";
  EXPECT_EQ(m->text(), "over there");

  auto killed = run("kill " + victim->to_string());
  ASSERT_TRUE(killed.ok) << killed.output;
  auto down =
      pb.receive_if([&](const Message& x) { return x.is_down() && x.ref() == victim_ref; }, kWait);
  ASSERT_TRUE(down) << "the shell's kill did not reach the process on b";
  EXPECT_EQ(down->reason().kind(), ExitKind::kKilled);

  // A global name of b's process, from a's shell.
  ASSERT_TRUE(b.node->register_global("far-away", *trapper).is_ok());
  ASSERT_TRUE(eventually([&] { return a.node->whereis_global("far-away") == *trapper; }));
  auto exited = run("exit far-away boom");
  ASSERT_TRUE(exited.ok) << exited.output;
  down =
      pb.receive_if([&](const Message& x) { return x.is_down() && x.ref() == trapper_ref; }, kWait);
  ASSERT_TRUE(down) << "exit through a global name did not reach b";
  EXPECT_EQ(down->reason().detail(), "boom");

  auto info = run("info " + fwd->to_string());
  EXPECT_FALSE(info.ok);
  EXPECT_NE(info.output.find("attach to that node"), std::string::npos) << info.output;
  auto nowhere = run("kill <4242.1.1>");
  EXPECT_FALSE(nowhere.ok);
  EXPECT_NE(nowhere.output.find("not connected"), std::string::npos) << nowhere.output;
}

}  // namespace
}  // namespace rusm::cluster

namespace rusm::cluster {
namespace {

// Topics across nodes: one copy per node with subscribers, fanned out there;
// a node's last subscriber leaving (or the node going) stops the copies; a
// node that joins learns the topics already subscribed.
TEST(ClusterTopics, APublishReachesEverySubscriberOnEveryNodeOnce) {
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  Member c = member("c", {seed(a)});
  ASSERT_TRUE(connected(a, b) && connected(a, c) && connected(b, c));
  Probe pb(*b.node), pc(*c.node);
  Result<Pid> b1 = b.node->spawn(forward_to_probe, pb.pid());
  Result<Pid> b2 = b.node->spawn(forward_to_probe, pb.pid());
  Result<Pid> c1 = c.node->spawn(forward_to_probe, pc.pid());
  ASSERT_TRUE(b1 && b2 && c1);
  ASSERT_TRUE(b.node->subscribe("news", *b1).is_ok());
  ASSERT_TRUE(b.node->subscribe("news", *b2).is_ok());
  ASSERT_TRUE(c.node->subscribe("news", *c1).is_ok());
  auto nodes_of = [](Member& m, const char* topic) {
    auto v = m.node->topic_nodes(topic);
    std::sort(v.begin(), v.end());
    return v;
  };
  std::vector<uint16_t> bc = {b.node->id(), c.node->id()};
  std::sort(bc.begin(), bc.end());
  ASSERT_TRUE(eventually([&] { return nodes_of(a, "news") == bc; }))
      << "a never learned which nodes subscribe";
  Result<size_t> n = a.node->publish("news", Message::make(3, "extra"));
  ASSERT_TRUE(n) << n.message();
  EXPECT_EQ(*n, 2u) << "one copy per node";
  for (int i = 0; i < 2; ++i) {
    auto m = pb.receive_if([](const Message& x) { return x.tag() == 3; }, kWait);
    ASSERT_TRUE(m) << "a subscriber on b got nothing";
    EXPECT_EQ(m->text(), "extra");
  }
  auto m = pc.receive_if([](const Message& x) { return x.tag() == 3; }, kWait);
  ASSERT_TRUE(m) << "the subscriber on c got nothing";
  EXPECT_FALSE(pb.receive_if([](const Message& x) { return x.tag() == 3; }, 100ms))
      << "a subscriber got two copies";

  // c's only subscriber exits: a and b stop sending there.
  c.node->exit(*c1, otp::ExitReason::kill());
  EXPECT_TRUE(
      eventually([&] { return nodes_of(a, "news") == std::vector<uint16_t>{b.node->id()}; }));
  EXPECT_TRUE(eventually([&] { return b.node->topic_nodes("news").empty(); }))
      << "b still counts c, whose subscriber is gone";
  // b goes down: nobody left for a.
  b.cluster->stop();
  EXPECT_TRUE(eventually([&] { return a.node->topic_nodes("news").empty(); }));
  EXPECT_EQ(*a.node->publish("news", Message::make(4, "late")), 0u);
}

TEST(ClusterTopics, ANodeThatJoinsLearnsTheTopicsAlreadySubscribed) {
  Member a = member("a", {});
  Probe pa(*a.node);
  Result<Pid> s = a.node->spawn(forward_to_probe, pa.pid());
  ASSERT_TRUE(s);
  ASSERT_TRUE(a.node->subscribe("t", *s).is_ok());
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  ASSERT_TRUE(eventually([&] {
    return b.node->topic_nodes("t") == std::vector<uint16_t>{a.node->id()};
  })) << "b did not learn a's topic when it connected";
  Result<Pid> pub = b.node->spawn(wait_forever);
  ASSERT_TRUE(pub);
  ASSERT_TRUE(b.node->publish("t", Message::make(8, "hi"), *pub).is_ok());
  auto m = pa.receive_if([](const Message& x) { return x.tag() == 8; }, kWait);
  ASSERT_TRUE(m) << "the publish from b did not reach a's subscriber";
  EXPECT_EQ(m->text(), "hi");
}

}  // namespace
}  // namespace rusm::cluster
