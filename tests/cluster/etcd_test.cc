// Global names in etcd (ClusterOptions::etcd) against a real etcd, started by
// this program (skipped, with the reason printed, where etcd is not
// installed: scripts/bootstrap.sh installs Debian's etcd-server): names seen
// on every node through the watch, one winner for concurrent registrations
// and no conflicts to resolve, a partition between nodes that cannot split a
// name, names that go with their node's lease (revoked at a clean stop,
// expired when the node is cut off, re-registered when it comes back, the
// process told if its name was taken meanwhile), a process of another node
// registered under that node's lease, and clear errors.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/certs.h"
#include "cluster/etcd.h"
#include "etcd_server.h"
#include "rusm/cluster/cluster.h"
#include "rusm/otp/context.h"
#include "rusm/otp/node.h"

namespace rusm::cluster {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using otp::Context;
using otp::Message;
using otp::Pid;
using otp::Probe;
using otp::Task;
using test::Etcd;
using test::free_port;

constexpr auto kWait = 8s;

// ---- no etcd needed -----------------------------------------------------------

TEST(EtcdClient, EndpointsAreParsedAndHttpsIsRefusedClearly) {
  auto a = parse_etcd_endpoint("http://127.0.0.1:2379");
  ASSERT_TRUE(a) << a.message();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2379);
  auto b = parse_etcd_endpoint("etcd.internal:12379/");
  ASSERT_TRUE(b) << b.message();
  EXPECT_EQ(b->host, "etcd.internal");
  EXPECT_EQ(b->port, 12379);
  auto c = parse_etcd_endpoint("http://[::1]:2379");
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->host, "::1");
  for (const char* bad : {"", "http://", "localhost", "http://h:0", "http://h:99999", "h:12x",
                          "http://user@h:1", ":2379"}) {
    auto r = parse_etcd_endpoint(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.message().find("expected http://HOST:PORT"), std::string::npos) << r.message();
    }
  }
  auto s = parse_etcd_endpoint("https://127.0.0.1:2379");
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("not supported yet: https"), std::string::npos) << s.message();
}

TEST(EtcdClient, Base64RoundTripsAndRejectsGarbage) {
  for (std::string in : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                         std::string("foob"), std::string("rusm/names/\xff\x00z", 14)}) {
    std::string enc = base64_encode(in);
    EXPECT_EQ(enc.size() % 4, 0u);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, in);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9v!mFy"));
  EXPECT_FALSE(base64_decode("Z=9v"));
}

// ---- a real etcd --------------------------------------------------------------

const std::string& certs() {
  static std::string dir = [] {
    std::string d =
        (fs::temp_directory_path() / ("rusm-etcd-certs-" + std::to_string(getpid()))).string();
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

// A prefix of the running test's own.
std::string test_prefix() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("rusm-test/") + info->name() + "/" + std::to_string(::getpid());
}

struct Member {
  std::unique_ptr<otp::Node> node;
  std::unique_ptr<Cluster> cluster;
  std::shared_ptr<std::vector<std::string>> logs = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<std::mutex> log_mu = std::make_shared<std::mutex>();
  bool logged(const std::string& part) const {
    std::lock_guard<std::mutex> lock(*log_mu);
    for (const std::string& l : *logs) {
      if (l.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
};

Member member(const std::string& name, std::vector<std::string> seeds,
              std::chrono::seconds ttl = 5s, GlobalConflict conflict = GlobalConflict::kExit) {
  Member m;
  otp::NodeOptions no;
  no.workers = 1;
  no.name = name;
  no.node_id = node_id_for(name);
  m.node = std::make_unique<otp::Node>(no);
  ClusterOptions co;
  use_certs_dir(co, certs(), name);
  co.seeds = std::move(seeds);
  co.tick = 200ms;
  co.global_conflict = conflict;
  co.etcd.endpoints = {Etcd::get().endpoint()};
  co.etcd.prefix = test_prefix();
  co.etcd.lease_ttl = ttl;
  co.log = [logs = m.logs, mu = m.log_mu](const std::string& l) {
    std::lock_guard<std::mutex> lock(*mu);
    logs->push_back(l);
  };
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

bool name_is(Member& m, const std::string& name, Pid want,
             std::chrono::milliseconds limit = kWait) {
  return eventually([&] { return m.node->whereis_global(name) == want; }, limit);
}

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

TEST(ClusterEtcd, ANameRegisteredOnOneNodeIsSeenAndRefusedOnTheOthers) {
  REQUIRE_ETCD();
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(a.cluster && b.cluster);
  ASSERT_TRUE(connected(a, b));
  Probe pb(*b.node);
  Result<Pid> e = a.node->spawn(forward_to, pb.pid());
  ASSERT_TRUE(e);
  ASSERT_TRUE(a.node->register_global("svc", *e).is_ok());
  EXPECT_EQ(a.node->whereis_global("svc"), *e) << "the registering node sees it at once";
  EXPECT_TRUE(name_is(b, "svc", *e)) << "b never learned of the name from etcd";

  Result<Pid> other = b.node->spawn(wait_forever);
  ASSERT_TRUE(other);
  Status st = b.node->register_global("svc", *other);
  ASSERT_FALSE(st) << "etcd let a second process take the name";
  EXPECT_NE(st.message().find("already registered to " + e->to_string()), std::string::npos)
      << st.message();

  ASSERT_TRUE(b.node->send_global("svc", Message::make(7, "hi")).is_ok());
  auto r = pb.receive(kWait);
  ASSERT_TRUE(r) << "the message to the global name never arrived";
  EXPECT_EQ(r->text(), "hi");

  // Unregistered from b (whose process it is not): gone on both.
  ASSERT_TRUE(b.node->unregister_global("svc").is_ok());
  EXPECT_TRUE(name_is(a, "svc", Pid()));
  EXPECT_TRUE(name_is(b, "svc", Pid()));
  Status again = b.node->unregister_global("svc");
  ASSERT_FALSE(again);
  EXPECT_NE(again.message().find("not registered"), std::string::npos) << again.message();
  // The process keeps its name after all that: a's bookkeeping did not
  // mistake the unregister for a lost lease.
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(a.logged("lease")) << "a took the unregister for a lost lease";

  // The exit of the holder drops its name everywhere.
  ASSERT_TRUE(b.node->register_global("svc2", *other).is_ok());
  ASSERT_TRUE(name_is(a, "svc2", *other));
  b.node->exit(*other, otp::ExitReason::kill());
  EXPECT_TRUE(name_is(a, "svc2", Pid())) << "the holder's exit left its name on a";
  EXPECT_TRUE(name_is(b, "svc2", Pid()));
  // Now free for another.
  Result<Pid> third = a.node->spawn(wait_forever);
  ASSERT_TRUE(third);
  EXPECT_TRUE(a.node->register_global("svc2", *third).is_ok());
}

TEST(ClusterEtcd, ConcurrentRegistrationsHaveOneWinnerAndNoConflictToResolve) {
  REQUIRE_ETCD();
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(a.cluster && b.cluster);
  const int n = 100;
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
  for (int i = 0; i < n; ++i) {
    std::string name = "race" + std::to_string(i);
    ASSERT_NE(oka[i], okb[i]) << name << ": exactly one registration must succeed";
    Pid want = oka[i] ? pa[i] : pb[i];
    EXPECT_TRUE(name_is(a, name, want)) << name;
    EXPECT_TRUE(name_is(b, name, want)) << name;
  }
  // Nobody lost a name after being told it had it.
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(a.node->is_alive(pa[i]) && b.node->is_alive(pb[i]));
  }
}

TEST(ClusterEtcd, APartitionBetweenNodesCannotSplitAName) {
  REQUIRE_ETCD();
  Member a = member("a", {});
  Member b = member("b", {seed(a)});
  ASSERT_TRUE(connected(a, b));
  a.cluster->silence("b");
  ASSERT_TRUE(eventually([&] {
    return !a.node->node_is_up(b.node->id()) && !b.node->node_is_up(a.node->id());
  })) << "the partition did not take";
  Result<Pid> on_a = a.node->spawn(wait_forever);
  Result<Pid> on_b = b.node->spawn(wait_forever);
  ASSERT_TRUE(on_a && on_b);
  ASSERT_TRUE(a.node->register_global("leader", *on_a).is_ok());
  Status st = b.node->register_global("leader", *on_b);
  EXPECT_FALSE(st) << "b took a name a holds, across the partition";
  // Each side still sees the other's names, through etcd.
  EXPECT_TRUE(name_is(b, "leader", *on_a));
  ASSERT_TRUE(b.node->register_global("b-only", *on_b).is_ok());
  EXPECT_TRUE(name_is(a, "b-only", *on_b));
  a.cluster->resume("b");
  ASSERT_TRUE(connected(a, b)) << "the partition did not heal";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(a.node->whereis_global("leader"), *on_a);
  EXPECT_EQ(b.node->whereis_global("leader"), *on_a);
  EXPECT_TRUE(a.node->is_alive(*on_a) && b.node->is_alive(*on_b))
      << "no conflict to resolve, so nobody is told to exit";
  EXPECT_EQ(a.node->global_names(), b.node->global_names());
}

TEST(ClusterEtcd, ANodeThatStopsTakesItsNamesAtOnce) {
  REQUIRE_ETCD();
  Member a = member("a", {}, 30s);
  Member b = member("b", {seed(a)}, 30s);
  ASSERT_TRUE(connected(a, b));
  Result<Pid> w = b.node->spawn(wait_forever);
  ASSERT_TRUE(w);
  ASSERT_TRUE(b.node->register_global("on-b", *w).is_ok());
  ASSERT_TRUE(name_is(a, "on-b", *w));
  // The names stay while b is merely disconnected (its lease lives)...
  auto start = std::chrono::steady_clock::now();
  b.cluster->stop();
  // ...but a stop revokes the lease, well before its 30 s.
  EXPECT_TRUE(name_is(a, "on-b", Pid(), 5s)) << "b's names outlived its clean stop";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ClusterEtcd, ANodeCutOffFromEtcdLosesItsNamesAndGetsThemBackUnlessTaken) {
  REQUIRE_ETCD();
  Member a = member("a", {}, 2s);
  Member b = member("b", {seed(a)}, 2s);
  ASSERT_TRUE(connected(a, b));
  Probe pb(*b.node);
  Result<Pid> kept = b.node->spawn(wait_forever);
  Result<Pid> taken = b.node->spawn(wait_forever);
  ASSERT_TRUE(kept && taken);
  ASSERT_TRUE(b.node->register_global("kept", *kept).is_ok());
  ASSERT_TRUE(b.node->register_global("taken", *taken).is_ok());
  ASSERT_TRUE(name_is(a, "kept", *kept) && name_is(a, "taken", *taken));
  otp::MonitorRef ref = pb.monitor(*taken);

  b.cluster->pause_etcd_lease(true);  // as if cut off from etcd
  EXPECT_TRUE(name_is(a, "kept", Pid(), 10s)) << "b's names outlived its lease";
  EXPECT_TRUE(name_is(a, "taken", Pid(), 1s));
  Result<Pid> thief = a.node->spawn(wait_forever);
  ASSERT_TRUE(thief);
  ASSERT_TRUE(a.node->register_global("taken", *thief).is_ok());

  b.cluster->pause_etcd_lease(false);
  EXPECT_TRUE(name_is(a, "kept", *kept, 10s)) << "b did not re-register its name";
  EXPECT_TRUE(name_is(b, "taken", *thief)) << "b's replica did not follow etcd";
  auto down = pb.receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; }, kWait);
  ASSERT_TRUE(down) << "the process whose name was taken was not told";
  EXPECT_EQ(down->reason().detail(), "global name conflict: taken");
  EXPECT_TRUE(b.node->is_alive(*kept));
  // (It logs after the re-registrations, which the checks above may beat.)
  EXPECT_TRUE(eventually([&] { return b.logged("had expired"); }))
      << "b did not log the lost lease";
}

TEST(ClusterEtcd, AProcessOfAnotherNodeIsRegisteredUnderThatNodesLease) {
  REQUIRE_ETCD();
  Member a = member("a", {}, 30s);
  Member b = member("b", {seed(a)}, 30s);
  ASSERT_TRUE(connected(a, b));
  Result<Pid> w = b.node->spawn(wait_forever);
  ASSERT_TRUE(w);
  ASSERT_TRUE(a.node->register_global("far", *w).is_ok());
  EXPECT_EQ(a.node->whereis_global("far"), *w);
  EXPECT_TRUE(name_is(b, "far", *w));
  // Its exit, seen on b, drops the name.
  b.node->exit(*w, otp::ExitReason::kill());
  EXPECT_TRUE(name_is(a, "far", Pid())) << "the exit on b did not drop the name a registered";
  // b's lease, not a's: when a stops, a name of b's process stays.
  Result<Pid> w2 = b.node->spawn(wait_forever);
  ASSERT_TRUE(w2);
  ASSERT_TRUE(a.node->register_global("far2", *w2).is_ok());
  ASSERT_TRUE(name_is(b, "far2", *w2));
  a.cluster->stop();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(b.node->whereis_global("far2"), *w2) << "the name went with the asker's lease";
}

TEST(ClusterEtcd, AnUnreachableEtcdIsAClearStartError) {
  otp::NodeOptions no;
  no.workers = 1;
  no.name = "a";
  no.node_id = node_id_for("a");
  otp::Node node(no);
  ClusterOptions co;
  use_certs_dir(co, certs(), "a");
  co.log = [](const std::string&) {};
  co.etcd.endpoints = {"http://127.0.0.1:" + std::to_string(free_port())};
  co.etcd.timeout = 500ms;
  auto c = Cluster::start(node, co);
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("etcd"), std::string::npos) << c.message();
  EXPECT_NE(c.message().find("cannot connect"), std::string::npos) << c.message();
  co.etcd.endpoints = {"https://127.0.0.1:2379"};
  auto d = Cluster::start(node, co);
  ASSERT_FALSE(d);
  EXPECT_NE(d.message().find("not supported yet: https"), std::string::npos) << d.message();
}

}  // namespace
}  // namespace rusm::cluster
