// Wasm guests on two nodes of a cluster (guests/t_node.c through the rusm
// ABI v4): node_self / nodes / node_name, send to a name on another node and
// to a global name, ENOTCONN for a node that is not connected, a monitor of
// a remote pid and monitor_node firing when the other node leaves.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cluster/certs.h"
#include "rusm/cluster/cluster.h"
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

  GuestNode(const std::string& name, const std::string& certs, std::vector<std::string> seeds) {
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
  for (const char* n : {"ga", "gb"}) {
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

}  // namespace
}  // namespace rusm::cluster
