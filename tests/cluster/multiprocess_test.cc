// Three cluster members as separate OS processes (cluster_node) plus this
// test as a fourth node: remote sends by name to each, links and monitors to
// their processes, and kill -9 of one node mid-traffic: every link and
// monitor to it fires with noconnection, once, within the bound; nothing
// hangs; the other two keep answering. Each child registers its echo as the
// global name "echo-NAME": every name reaches the test node, and n2's goes
// when n2 is killed. The test node also spawns a Wasm process on n2 (remote
// spawn, linked and monitored), whose link and monitor fire the same way.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/certs.h"
#include "cluster/node_process.h"
#include "rusm/cluster/cluster.h"
#include "rusm/otp/node.h"
#include "rusm/runtime/runtime.h"

namespace rusm::cluster {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using otp::ExitKind;
using otp::Message;
using otp::Pid;
using otp::Probe;

using Child = NodeProcess;

std::unique_ptr<Child> start_node(const std::string& name, const std::string& certs,
                                  const std::vector<std::string>& seeds) {
  std::vector<std::string> args = {CLUSTER_NODE_BIN, name, certs};
  args.insert(args.end(), seeds.begin(), seeds.end());
  auto c = start_node_process(std::move(args));
  if (!c) {
    ADD_FAILURE() << "cluster_node " << name << ": " << c.message();
    return nullptr;
  }
  return std::move(*c);
}

// The pid of `name`'s echo process, by a round trip through its name.
std::optional<Pid> echo_of(Probe& probe, uint16_t node) {
  if (!probe.send_named(node, "echo", Message::make(9, "who")).is_ok()) {
    return std::nullopt;
  }
  auto r = probe.receive_if([](const Message& m) { return m.tag() == 9; }, 5s);
  if (!r) {
    return std::nullopt;
  }
  return r->from();
}

TEST(ClusterProcesses, KillMinus9FiresEveryLinkAndMonitorAndTheRestKeepWorking) {
  std::string certs =
      (fs::temp_directory_path() / ("rusm-mp-" + std::to_string(getpid()))).string();
  fs::remove_all(certs);
  ASSERT_TRUE(make_ca(certs).is_ok());
  for (const char* n : {"n1", "n2", "n3", "t"}) {
    ASSERT_TRUE(make_node_cert(certs, n).is_ok());
  }
  auto n1 = start_node("n1", certs, {});
  ASSERT_TRUE(n1);
  std::string s1 = "127.0.0.1:" + std::to_string(n1->port);
  auto n2 = start_node("n2", certs, {s1});
  auto n3 = start_node("n3", certs, {s1});
  ASSERT_TRUE(n2 && n3);

  runtime::RuntimeOptions ro;
  ro.node.workers = 1;
  ro.node.name = "t";
  ro.node.node_id = node_id_for("t");
  runtime::Runtime rt(ro);
  otp::Node& node = rt.node();
  ASSERT_TRUE(rt.load_file("t_node", std::string(RUSM_CLUSTER_GUESTS) + "/t_node.wasm"));
  ClusterOptions co;
  co.runtime = &rt;
  use_certs_dir(co, certs, "t");
  co.seeds = {s1};
  co.tick = 200ms;
  co.log = [](const std::string&) {};
  auto cluster = Cluster::start(node, co);
  ASSERT_TRUE(cluster.is_ok()) << cluster.message();
  uint16_t id1 = node_id_for("n1"), id2 = node_id_for("n2"), id3 = node_id_for("n3");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(node.node_is_up(id1) && node.node_is_up(id2) && node.node_is_up(id3)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(node.node_is_up(id1) && node.node_is_up(id2) && node.node_is_up(id3))
      << "the test node did not meet all three through one seed";

  Probe probe(node);
  auto e1 = echo_of(probe, id1), e2 = echo_of(probe, id2), e3 = echo_of(probe, id3);
  ASSERT_TRUE(e1 && e2 && e3) << "a remote echo did not answer by name";
  EXPECT_EQ(e2->node(), id2) << "the reply came from a pid of the node it lives on";

  // The children's global names, learned from each of them.
  auto global_is = [&](const std::string& name, Pid want) {
    auto end = std::chrono::steady_clock::now() + 5s;
    while (node.whereis_global(name) != want && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(5ms);
    }
    return node.whereis_global(name) == want;
  };
  EXPECT_TRUE(global_is("echo-n1", *e1));
  EXPECT_TRUE(global_is("echo-n2", *e2));
  EXPECT_TRUE(global_is("echo-n3", *e3));
  ASSERT_TRUE(probe.send(node.whereis_global("echo-n3"), Message::make(11, "global")).is_ok());
  auto g = probe.receive_if([](const Message& m) { return m.tag() == 11; }, 5s);
  ASSERT_TRUE(g) << "n3's echo did not answer through its global name";
  EXPECT_EQ(g->from(), *e3);

  // Links and monitors to n2's echo (the probe traps exits), and to n1's.
  probe.link(*e2);
  otp::MonitorRef m2 = probe.monitor(*e2);
  otp::MonitorRef m1 = probe.monitor(*e1);
  probe.monitor_node(id2);

  // A Wasm process spawned on n2, linked to and monitored by the probe.
  struct Answer {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<otp::Spawned>> r;
  };
  auto answer = std::make_shared<Answer>();
  runtime::ProcessSpec idle;
  idle.module = "t_node";
  idle.function = "idle";
  idle.options.link = idle.options.monitor = true;
  rt.spawn_on(id2, idle, probe.pid(), nullptr, [answer](Result<otp::Spawned> r) {
    std::lock_guard<std::mutex> lock(answer->mu);
    answer->r = std::move(r);
    answer->cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(answer->mu);
    ASSERT_TRUE(answer->cv.wait_for(lock, 10s, [&] { return answer->r.has_value(); }));
    ASSERT_TRUE(*answer->r) << answer->r->message();
  }
  const otp::Spawned spawned = **answer->r;
  EXPECT_EQ(spawned.pid.node(), id2) << "the spawned process lives on n2";
  EXPECT_NE(spawned.monitor, 0u);

  // Traffic in flight to n2 when it dies.
  for (int i = 0; i < 1000; ++i) {
    (void)probe.send(*e2, Message::make(100, "load"));
  }
  auto t0 = std::chrono::steady_clock::now();
  kill(n2->pid, SIGKILL);
  int exits = 0, downs = 0, nodedowns = 0;
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    auto m = probe.receive_if([](const Message& x) { return x.tag() != 100; }, 200ms);
    if (!m) {
      if (exits >= 2 && downs >= 2 && nodedowns) {
        break;
      }
      continue;
    }
    if (m->is_exit()) {
      EXPECT_TRUE(m->from() == *e2 || m->from() == spawned.pid) << m->from().to_string();
      EXPECT_EQ(m->reason().kind(), ExitKind::kNoconnection);
      ++exits;
    } else if (m->is_down()) {
      EXPECT_TRUE(m->ref() == m2 || m->ref() == spawned.monitor)
          << "only the monitors of n2's processes may fire";
      EXPECT_EQ(m->reason().kind(), ExitKind::kNoconnection);
      ++downs;
    } else if (m->tag() == otp::kNodeDownTag) {
      ++nodedowns;
    }
  }
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(exits, 2) << "each link to n2's two processes fires exactly once";
  EXPECT_EQ(downs, 2) << "each monitor of n2's two processes fires exactly once";
  EXPECT_EQ(nodedowns, 1);
  EXPECT_LT(took, 2s);
  (void)m1;
  EXPECT_TRUE(global_is("echo-n2", Pid())) << "n2's global name outlived n2";
  EXPECT_EQ(node.whereis_global("echo-n1"), *e1);
  EXPECT_EQ(node.whereis_global("echo-n3"), *e3);

  // n1 and n3 keep working.
  for (uint16_t id : {id1, id3}) {
    auto e = echo_of(probe, id);
    EXPECT_TRUE(e) << "node " << id << " stopped answering after n2 died";
  }
  (*cluster)->stop();
  fs::remove_all(certs);
}

}  // namespace
}  // namespace rusm::cluster
