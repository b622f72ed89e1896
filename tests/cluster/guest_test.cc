// Wasm guests on two nodes of a cluster (guests/t_node.c through the rusm
// ABI v4): node_self / nodes / node_name, send to a name on another node and
// to a global name, ENOTCONN for a node that is not connected, a monitor of
// a remote pid and monitor_node firing when the other node leaves; remote
// spawn (rusm_spawn_on and Runtime::spawn_on): the module shipped once and
// cached, the receiving node's policy capping capabilities, link and monitor
// atomic with the spawn, refusals, the cache's bound, and a node going down
// while a spawn waits.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cluster/certs.h"
#include "cluster/connection.h"
#include "cluster/frame.h"
#include "cluster_test_util.h"
#include "etcd_server.h"
#include "rusm/cluster/cluster.h"
#include "rusm/runtime/module_file.h"
#include "rusm/runtime/runtime.h"

namespace rusm::cluster {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using otp::Message;
using otp::Pid;
using otp::Probe;

struct GuestNode {
  std::unique_ptr<runtime::Runtime> rt;
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<Probe> probe;

  GuestNode(const std::string& name, const std::string& certs, std::vector<std::string> seeds,
            std::optional<runtime::Capabilities> remote_spawn = std::nullopt,
            size_t max_peer_modules = 64, std::function<Result<std::string>()> observer = nullptr,
            size_t max_peer_module_total = size_t{256} << 20,
            const std::function<void(ClusterOptions&)>& tweak = nullptr) {
    runtime::RuntimeOptions o;
    o.node.workers = 1;
    o.node.name = name;
    o.node.node_id = node_id_for(name);
    rt = std::make_unique<runtime::Runtime>(o);
    EXPECT_TRUE(rt->load_file("t_node", std::string(RUSM_CLUSTER_GUESTS) + "/t_node.wasm").is_ok());
    ClusterOptions co;
    use_certs_dir(co, certs, name);
    co.seeds = std::move(seeds);
    co.tick = 200ms;
    co.log = [](const std::string&) {};
    co.runtime = rt.get();
    co.remote_spawn = std::move(remote_spawn);
    co.max_peer_modules = max_peer_modules;
    co.observer = std::move(observer);
    co.max_peer_module_total = max_peer_module_total;
    // On the node's event loop, as `rusm serve` runs it (cluster_test.cc's
    // nodes run the cluster's own thread).
    co.io = &rt->event_loop().context();
    co.busy_poll = std::chrono::microseconds(0);
    if (tweak) {
      tweak(co);
    }
    auto c = Cluster::start(rt->node(), co);
    EXPECT_TRUE(c.is_ok()) << c.message();
    if (c) {
      cluster = std::move(*c);
    }
    probe = std::make_unique<Probe>(rt->node());
  }
  ~GuestNode() {
    probe.reset();
    cluster.reset();
    rt.reset();
  }
  uint16_t id() const { return rt->node().id(); }
  Pid spawn(std::string fn, std::vector<uint64_t> args) {
    runtime::ProcessSpec s;
    s.module = "t_node";
    s.function = std::move(fn);
    s.args = std::move(args);
    s.caps = *runtime::profile("trusted");
    auto p = rt->spawn(s);
    EXPECT_TRUE(p.is_ok()) << (p ? "" : p.message());
    return p ? p->pid : Pid();
  }
  std::string report() {
    auto m = probe->receive_if([](const Message& m) { return m.tag() == 1; }, 15s);
    return m ? std::string(m->text()) : "(no report)";
  }
};

std::string make_certs() {
  std::string d =
      (fs::temp_directory_path() / ("rusm-guest-test-" + std::to_string(getpid()))).string();
  fs::remove_all(d);
  fs::create_directories(d);
  EXPECT_TRUE(make_ca(d).is_ok());
  for (const char* n : {"ga", "gb", "gc"}) {
    EXPECT_TRUE(make_node_cert(d, n).is_ok()) << n;
  }
  return d;
}

bool eventually(auto pred) {
  for (int i = 0; i < 2500 && !pred(); ++i) {
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

// The same guest calls with the global names in etcd: register_global and
// unregister_global wait (suspended) for etcd's answer, and its refusals
// reach the guest as the same codes (EEXISTS, ENOTFOUND).
TEST(GuestsAcrossNodes, GlobalNamesInEtcdGiveGuestsTheSameAnswers) {
  REQUIRE_ETCD();
  std::string certs = make_certs();
  auto etcd = [](ClusterOptions& co) {
    co.etcd.endpoints = {test::Etcd::get().endpoint()};
    co.etcd.prefix = "rusm-guest-test/" + std::to_string(getpid());
  };
  GuestNode a("ga", certs, {}, std::nullopt, 64, nullptr, size_t{256} << 20, etcd);
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())}, std::nullopt, 64,
              nullptr, size_t{256} << 20, etcd);
  ASSERT_TRUE(eventually([&] { return a.rt->node().node_is_up(b.id()); }));
  Pid server = b.spawn("echo_server", {});
  ASSERT_TRUE(eventually([&] { return b.rt->node().whereis("echo") == server; }));
  EXPECT_TRUE(eventually([&] { return a.rt->node().whereis_global("gecho") == server; }))
      << "the guest's global name did not reach a through etcd";
  a.spawn("client", {b.id(), a.probe->pid().bits()});
  EXPECT_EQ(a.report(), "answer=ping from_node=" + std::to_string(b.id()));
  EXPECT_EQ(a.report(), "global=gping same=1");
}

TEST(GuestsAcrossNodes, NodeCallsNamesMonitorsAndNodedown) {
  std::string certs = make_certs();
  GuestNode a("ga", certs, {});
  auto b = std::make_unique<GuestNode>(
      "gb", certs, std::vector<std::string>{"127.0.0.1:" + std::to_string(a.cluster->port())});
  ASSERT_TRUE(eventually([&] { return a.rt->node().node_is_up(b->id()); }));

  // Identity and membership as a guest sees them.
  a.spawn("who", {a.probe->pid().bits()});
  EXPECT_EQ(a.report(), "self=" + std::to_string(a.id()) +
                            " name=ga nodes=" + std::to_string(b->id()) + ":gb,");

  // "echo" on b, asked from a by name.
  Pid server = b->spawn("echo_server", {});
  ASSERT_TRUE(eventually([&] { return b->rt->node().whereis("echo") == server; }));
  a.spawn("client", {b->id(), a.probe->pid().bits()});
  EXPECT_EQ(a.report(), "answer=ping from_node=" + std::to_string(b->id()));
  EXPECT_EQ(a.report(), "global=gping same=1");
  EXPECT_EQ(a.report(), "watching");
  // The client's monitor of the server is on b before b leaves.
  ASSERT_TRUE(eventually([&] {
    auto i = b->rt->node().info(server);
    return i && !i->monitored_by.empty();
  }));

  b.reset();  // b leaves the cluster and stops
  std::string first = a.report(), second = a.report();
  if (first.rfind("nodedown", 0) == 0) {
    std::swap(first, second);
  }
  EXPECT_EQ(first, "down kind=6") << "a remote monitor fires with noconnection";
  EXPECT_EQ(second.rfind("nodedown ", 0), 0u) << second;
  fs::remove_all(certs);
}

// A module of a few bytes with an empty exported `_start`; `variant` goes in
// a custom section, so that each variant has its own hash.
std::vector<uint8_t> tiny_module(char variant) {
  return {0x00, 0x61, 0x73, 0x6d,
          0x01, 0x00, 0x00, 0x00,                           // magic, version
          0x00, 0x02, 0x01, static_cast<uint8_t>(variant),  // custom section "<variant>"
          0x01, 0x04, 0x01, 0x60,
          0x00, 0x00,              // type () -> ()
          0x03, 0x02, 0x01, 0x00,  // one function of that type
          0x07, 0x0a, 0x01, 0x06,
          '_',  's',  't',  'a',
          'r',  't',  0x00, 0x00,  // export
          0x0a, 0x04, 0x01, 0x02,
          0x00, 0x0b};  // its body: end
}

// tiny_module with a custom section of `pad` bytes: a module as big as asked.
std::vector<uint8_t> big_module(char variant, size_t pad) {
  std::vector<uint8_t> m = tiny_module(variant);
  std::vector<uint8_t> section = {0x00};  // custom
  size_t size = 2 + pad;                  // name "p" (length byte + 1), then the padding
  for (size_t v = size;; v >>= 7) {       // LEB128
    section.push_back(static_cast<uint8_t>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
    if (v < 0x80) {
      break;
    }
  }
  section.push_back(1);
  section.push_back('p');
  section.resize(section.size() + pad, 0xee);
  m.insert(m.begin() + 8, section.begin(), section.end());
  return m;
}

runtime::Capabilities sandboxed() {
  return *runtime::profile("sandboxed");
}

TEST(RemoteSpawn, GuestsSpawnLinkAndMonitorOnAnotherNode) {
  std::string certs = make_certs();
  GuestNode a("ga", certs, {}, sandboxed());
  // b takes spawns from peers with at most the sandboxed profile's rights.
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())}, sandboxed());
  ASSERT_TRUE(eventually([&] { return a.rt->node().node_is_up(b.id()); }));
  size_t modules_before = b.rt->module_count();

  a.spawn("spawner", {b.id(), a.probe->pid().bits()});
  std::string first = a.report(), second = a.report();
  if (first.rfind("child", 0) == 0) {
    std::swap(first, second);
  }
  EXPECT_EQ(first, "spawn=0 child_node=" + std::to_string(b.id()));
  // It runs on b, and b's policy (sandboxed) refused the registry although
  // the spawner (trusted) holds it: a peer never grants more than b allows.
  EXPECT_EQ(second, "child on=" + std::to_string(b.id()) + " register=-4");
  EXPECT_EQ(a.report(), "down ref_ok=1 kind=5") << "the DOWN (error) of a monitored remote child";
  EXPECT_EQ(a.report(), "exit from_ok=1") << "the EXIT of a linked remote child";
  EXPECT_EQ(a.report(), "nofn=-5 nomod=-5 noconn=-14");
  // The module went to b once and stays there, under its hash.
  EXPECT_EQ(b.rt->module_count(), modules_before + 1);
  EXPECT_TRUE(b.rt->has_module("sha256:" + runtime::hex(a.rt->module_sha256("t_node"))));
  fs::remove_all(certs);
}

TEST(RemoteSpawn, FromOutsideAPolicyLessNodeRefusesAndTheCacheIsBounded) {
  std::string certs = make_certs();
  GuestNode a("ga", certs, {});  // no policy: takes no spawns from peers
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())}, sandboxed(),
              /*max_peer_modules=*/1);
  ASSERT_TRUE(eventually(
      [&] { return a.rt->node().node_is_up(b.id()) && b.rt->node().node_is_up(a.id()); }));
  runtime::ProcessSpec spec;
  spec.module = "t_node";
  spec.function = "remote_crasher";
  auto refused = b.rt->spawn_on(a.id(), spec, 5s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), runtime::kErrDenied) << refused.message();
  EXPECT_NE(refused.message().find("takes no spawns from peers"), std::string::npos)
      << refused.message();

  // Two modules through a cache of one: the second pushes the first out.
  auto one = tiny_module('1'), two = tiny_module('2');
  ASSERT_TRUE(a.rt->load("one", one));
  ASSERT_TRUE(a.rt->load("two", two));
  spec.module = "one";
  spec.function = "_start";
  auto s1 = a.rt->spawn_on(b.id(), spec, 5s);
  ASSERT_TRUE(s1) << s1.message();
  EXPECT_EQ(s1->pid.node(), b.id());
  std::string h1 = "sha256:" + runtime::hex(runtime::module_sha256(one));
  std::string h2 = "sha256:" + runtime::hex(runtime::module_sha256(two));
  EXPECT_TRUE(b.rt->has_module(h1));
  spec.module = "two";
  auto s2 = a.rt->spawn_on(b.id(), spec, 5s);
  ASSERT_TRUE(s2) << s2.message();
  EXPECT_TRUE(b.rt->has_module(h2));
  EXPECT_FALSE(b.rt->has_module(h1)) << "the least recently used module is forgotten";
  // And comes back when asked for again.
  spec.module = "one";
  ASSERT_TRUE(a.rt->spawn_on(b.id(), spec, 5s));
  EXPECT_TRUE(b.rt->has_module(h1));

  // The label and mailbox bound asked for apply there.
  runtime::ProcessSpec idle;
  idle.module = "t_node";
  idle.function = "idle";
  idle.options.label = "named from afar";
  idle.options.mailbox_bound = 1;
  auto s3 = a.rt->spawn_on(b.id(), idle, 5s);
  ASSERT_TRUE(s3) << s3.message();
  auto info = b.rt->node().info(s3->pid);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->label.rfind("named from afar", 0), 0u) << info->label;
  ASSERT_TRUE(b.rt->node().send(s3->pid, otp::Message::make(1, "x")).is_ok());
  EXPECT_FALSE(b.rt->node().send(s3->pid, otp::Message::make(1, "x")).is_ok())
      << "a mailbox bound of 1 refuses the second message";
  b.rt->node().exit(s3->pid, otp::ExitReason::kill());

  // Errors found before asking: an unknown function, wrong arguments, a
  // module with no bytes.
  spec.function = "nope";
  EXPECT_EQ(a.rt->spawn_on(b.id(), spec, 5s).error().code(), runtime::kErrNotFound);
  spec.function = "_start";
  spec.args = {1};
  EXPECT_EQ(a.rt->spawn_on(b.id(), spec, 5s).error().code(), runtime::kErrBadArg);
  fs::remove_all(certs);
}

TEST(RemoteSpawn, TheCacheIsBoundedInBytesToo) {
  std::string certs = make_certs();
  GuestNode a("ga", certs, {});
  // Room for one tiny module's bytes, not two.
  const size_t one = tiny_module('1').size();
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())}, sandboxed(), 64,
              nullptr, one + one / 2);
  ASSERT_TRUE(eventually(
      [&] { return a.rt->node().node_is_up(b.id()) && b.rt->node().node_is_up(a.id()); }));
  ASSERT_TRUE(a.rt->load("one", tiny_module('1')));
  ASSERT_TRUE(a.rt->load("two", tiny_module('2')));
  runtime::ProcessSpec spec;
  spec.function = "_start";
  spec.module = "one";
  ASSERT_TRUE(a.rt->spawn_on(b.id(), spec, 5s));
  spec.module = "two";
  ASSERT_TRUE(a.rt->spawn_on(b.id(), spec, 5s));
  EXPECT_FALSE(b.rt->has_module("sha256:" + runtime::hex(runtime::module_sha256(tiny_module('1')))))
      << "past the byte bound the least recently used module goes";
  EXPECT_TRUE(b.rt->has_module("sha256:" + runtime::hex(runtime::module_sha256(tiny_module('2')))));
  fs::remove_all(certs);
}

// A peer speaking raw frames (a node of the cluster's CA that lies): a
// module whose bytes do not have the hash it was sent under is refused and
// its spawn answered with the reason; a SPAWN naming another node's pid as
// the asker is dropped; the node carries on.
TEST(RemoteSpawn, ALyingPeersModuleAndSpawnsAreRefused) {
  std::string certs = make_certs();
  std::vector<std::string> logged;
  std::mutex log_mu;
  GuestNode b("gb", certs, {}, sandboxed());
  b.cluster.reset();  // again, with a log we can read
  ClusterOptions co;
  use_certs_dir(co, certs, "gb");
  co.tick = 200ms;
  co.runtime = b.rt.get();
  co.remote_spawn = sandboxed();
  co.log = [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(log_mu);
    logged.push_back(l);
  };
  auto started = Cluster::start(b.rt->node(), co);
  ASSERT_TRUE(started) << started.message();
  b.cluster = std::move(*started);

  test::IoThread loop;
  auto tls = make_tls_context({certs + "/ca.pem", certs + "/gc.pem", certs + "/gc.key"});
  ASSERT_TRUE(tls) << tls.message();
  ConnectionOptions o;
  o.node_name = "gc";
  o.node_id = node_id_for("gc");
  o.tick = 200ms;
  o.echo_ticks = true;
  o.log = [](const std::string&) {};
  std::mutex mu;
  std::vector<SpawnReply> replies;
  bool up = false;
  Connection::Callbacks cb;
  cb.on_up = [&](Connection&, const Hello&) {
    std::lock_guard<std::mutex> lock(mu);
    up = true;
  };
  cb.on_frame = [&](Connection&, Frame&& f) {
    if (auto* r = std::get_if<SpawnReply>(&f)) {
      std::lock_guard<std::mutex> lock(mu);
      replies.push_back(*r);
    }
  };
  auto conn = loop.run(
      [&] { return Connection::dial(loop.io(), *tls, "127.0.0.1", b.cluster->port(), o, cb); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return up;
  }));
  uint64_t asker = (uint64_t{node_id_for("gc")} << 48) | 5;  // a pid of gc
  std::vector<uint8_t> real = tiny_module('7');
  std::string hash = runtime::module_sha256(real);
  std::string other(real.begin(), real.end());
  other.back() = 0x0c;  // not the bytes of `hash`
  loop.run([&] {
    conn->send(ModuleBytes{hash, other});
    conn->send(Spawn{1, asker, hash, "liar", "_start", {}, 0, 16, 0, 0});
    // A SPAWN for a pid of a node other than gc: dropped, never answered.
    conn->send(Spawn{2, (uint64_t{7} << 48) | 5, hash, "liar", "_start", {}, 0, 16, 0, 0});
    return 0;
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !replies.empty();
  }));
  std::this_thread::sleep_for(200ms);  // the dropped SPAWN had its chance to answer
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].ref, 1u);
    EXPECT_EQ(replies[0].status, SpawnStatus::kBadArg);
    EXPECT_NE(replies[0].message.find("do not have the SHA-256"), std::string::npos)
        << replies[0].message;
  }
  EXPECT_FALSE(b.rt->has_module("sha256:" + runtime::hex(hash)));
  {
    std::lock_guard<std::mutex> lock(log_mu);
    bool dropped = false;
    for (const std::string& l : logged) {
      dropped |= l.find("dropped a SPAWN frame from gc") != std::string::npos;
    }
    EXPECT_TRUE(dropped) << "the SPAWN for another node's pid was not logged";
  }
  // The real bytes are taken and the spawn runs.
  loop.run([&] {
    conn->send(ModuleBytes{hash, std::string(real.begin(), real.end())});
    conn->send(Spawn{3, asker, hash, "honest", "_start", {}, 0, 16, 0, 0});
    return 0;
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return replies.size() == 2;
  }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(replies[1].status, SpawnStatus::kSpawned) << replies[1].message;
    EXPECT_EQ(Pid::from_bits(replies[1].pid).node(), b.id());
  }
  loop.run([&] {
    conn->close("test over");
    return 0;
  });
  loop.stop();
  fs::remove_all(certs);
}

TEST(RemoteSpawn, AModuleBiggerThanTheSendBufferGoesOnceForManySpawns) {
  std::string certs = make_certs();
  GuestNode a("ga", certs, {});
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())}, sandboxed());
  ASSERT_TRUE(eventually(
      [&] { return a.rt->node().node_is_up(b.id()) && b.rt->node().node_is_up(a.id()); }));
  constexpr size_t kPad = size_t{6} << 20;  // over the 4 MiB send buffer
  ASSERT_TRUE(a.rt->load("big", big_module('b', kPad)));
  auto bytes_to_b = [&] {
    for (const NodeStatus& n : a.cluster->nodes()) {
      if (n.name == "gb") {
        return n.bytes_out;
      }
    }
    return uint64_t{0};
  };
  uint64_t before = bytes_to_b();
  // 16 spawns at once: each hears "module needed", the bytes go once.
  runtime::ProcessSpec spec;
  spec.module = "big";
  spec.function = "_start";
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, spawned = 0;
  std::string why;
  for (int i = 0; i < 16; ++i) {
    a.rt->spawn_on(b.id(), spec, Pid(), nullptr, [&](Result<otp::Spawned> r) {
      std::lock_guard<std::mutex> lock(mu);
      ++answered;
      spawned += r.is_ok();
      if (!r && why.empty()) {
        why = r.message();
      }
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return answered == 16; }));
    EXPECT_EQ(spawned, 16) << why;
  }
  uint64_t sent = bytes_to_b() - before;
  EXPECT_GT(sent, kPad);
  EXPECT_LT(sent, 2 * kPad) << "the module was shipped more than once";
  fs::remove_all(certs);
}

TEST(RemoteSpawn, ASpawnWaitingWhenItsNodeGoesDownFailsWithNoconnection) {
  std::string certs = make_certs();
  GuestNode a("ga", certs, {});
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())}, sandboxed());
  ASSERT_TRUE(eventually([&] { return a.rt->node().node_is_up(b.id()); }));
  a.cluster->silence("gb");  // nothing gets through; b is down after the heartbeat timeout
  runtime::ProcessSpec spec;
  spec.module = "t_node";
  spec.function = "remote_crasher";
  auto start = std::chrono::steady_clock::now();
  auto r = a.rt->spawn_on(b.id(), spec, 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), runtime::kErrNoConn) << r.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "failed at node-down, not timeout";
  fs::remove_all(certs);
}

// The observer of another node, through the cluster (Cluster::observe).
Result<std::string> observe_sync(Cluster& c, const std::string& node) {
  auto p = std::make_shared<std::promise<Result<std::string>>>();
  c.observe(node, [p](Result<std::string> r) { p->set_value(std::move(r)); });
  auto f = p->get_future();
  if (f.wait_for(10s) != std::future_status::ready) {
    return Error("no answer within 10 s");
  }
  return f.get();
}

TEST(ObserveNode, APeersSnapshotComesOverTheCluster) {
  std::string certs = make_certs();
  std::atomic<int> asked{0};
  GuestNode a("ga", certs, {}, std::nullopt, 64, [&asked]() -> Result<std::string> {
    ++asked;
    return std::string(R"({"type":"snapshot","processes":3})");
  });
  GuestNode b("gb", certs, {"127.0.0.1:" + std::to_string(a.cluster->port())});
  ASSERT_TRUE(eventually(
      [&] { return a.rt->node().node_is_up(b.id()) && b.rt->node().node_is_up(a.id()); }));
  Result<std::string> r = observe_sync(*b.cluster, "ga");
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(*r, R"({"type":"snapshot","processes":3})");
  EXPECT_EQ(asked.load(), 1);
  // b has no observer: a hears why.
  r = observe_sync(*a.cluster, "gb");
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("no observer on node gb"), std::string::npos) << r.message();
  r = observe_sync(*a.cluster, "nobody");
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("not connected"), std::string::npos) << r.message();
  // A request waiting when its node leaves fails at once.
  a.cluster->silence("gb");
  auto start = std::chrono::steady_clock::now();
  r = observe_sync(*a.cluster, "gb");
  ASSERT_FALSE(r);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << r.message();
  fs::remove_all(certs);
}

}  // namespace
}  // namespace rusm::cluster
