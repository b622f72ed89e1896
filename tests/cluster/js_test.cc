// JavaScript processes (rusm-js.wasm, docs/js.md "Cluster") on two nodes of
// a cluster, running guests/js_cluster.js: rusm.spawnOn starts a C guest
// (guests/t_node.c) on the other node and gets its reply, with monitor and
// link atomic with the spawn, and refusals thrown with the ABI's error
// names; a global name taken by a JS process on one node is found and sent
// to from the other, as is a name registered on the other node
// (send({name, node})); rusm.monitorNode delivers NODE_DOWN when the other
// node stops.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cluster/certs.h"
#include "cluster_test_util.h"
#include "rusm/cluster/cluster.h"
#include "rusm/runtime/runtime.h"
#include "rusm/serve/js.h"

namespace rusm::cluster {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using otp::Message;
using otp::Pid;
using otp::Probe;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A node with the JavaScript runtime loaded as "js" and t_node as "t_node",
// taking spawns from peers with the sandboxed profile's rights, and a probe
// registered as "reporter" that the scripts report to.
struct JsNode {
  std::unique_ptr<runtime::Runtime> rt;
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<Probe> probe;

  // Small ids keep every pid below 2^53, exact as a JS Number.
  JsNode(const std::string& name, uint16_t id, const std::string& certs,
         std::vector<std::string> seeds) {
    runtime::RuntimeOptions o;
    o.node.workers = 1;
    o.node.name = name;
    o.node.node_id = id;
    rt = std::make_unique<runtime::Runtime>(o);
    Status js = rt->load_file("js", RUSM_JS_WASM);
    EXPECT_TRUE(js.is_ok()) << js.message();
    Status t = rt->load_file("t_node", std::string(RUSM_CLUSTER_GUESTS) + "/t_node.wasm");
    EXPECT_TRUE(t.is_ok()) << t.message();
    ClusterOptions co;
    use_certs_dir(co, certs, name);
    co.seeds = std::move(seeds);
    co.tick = 200ms;
    co.log = [](const std::string&) {};
    co.runtime = rt.get();
    co.remote_spawn = *runtime::profile("sandboxed");
    co.io = &rt->event_loop().context();
    co.busy_poll = std::chrono::microseconds(0);
    auto c = Cluster::start(rt->node(), co);
    EXPECT_TRUE(c.is_ok()) << c.message();
    if (c) {
      cluster = std::move(*c);
    }
    probe = std::make_unique<Probe>(rt->node());
    EXPECT_TRUE(rt->node().register_name("reporter", probe->pid()).is_ok());
  }
  ~JsNode() {
    probe.reset();
    cluster.reset();
    rt.reset();
  }
  uint16_t id() const { return rt->node().id(); }

  // Starts guests/js_cluster.js as a main process under `script_name`
  // (which tells it its part).
  Pid run_script(const std::string& script_name) {
    std::string source =
        read_text(std::string(RUSM_SOURCE_DIR) + "/tests/cluster/guests/js_cluster.js");
    EXPECT_FALSE(source.empty()) << "guests/js_cluster.js not found";
    runtime::ProcessSpec s;
    s.module = "js";
    s.function = "js_main";
    s.caps = *runtime::profile("trusted");
    s.record_outcome = true;
    auto p = rt->spawn(s);
    EXPECT_TRUE(p.is_ok()) << (p ? "" : p.message());
    if (!p) {
      return Pid();
    }
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(source.data()), source.size());
    Status sent = rt->node().send(
        p->pid, Message::make(serve::kJsBootTag, serve::js_boot_message(script_name, bytes)));
    EXPECT_TRUE(sent.is_ok()) << sent.message();
    return p->pid;
  }

  // The next report, or what became of `script` if none comes.
  std::string report(Pid script) {
    auto m = probe->receive_if([](const Message& m) { return m.tag() == 1; }, 15s);
    if (m) {
      return std::string(m->text());
    }
    auto o = rt->wait(script, 10ms);
    return o ? "(no report; the script ended: " + o->reason.to_string() + ")" : "(no report)";
  }
};

std::string make_certs() {
  std::string d =
      (fs::temp_directory_path() / ("rusm-js-cluster-test-" + std::to_string(getpid()))).string();
  fs::remove_all(d);
  fs::create_directories(d);
  EXPECT_TRUE(make_ca(d).is_ok());
  for (const char* n : {"ja", "jb"}) {
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

TEST(JsAcrossNodes, SpawnOnGlobalNamesAndNodedownFromJavaScript) {
  std::string certs = make_certs();
  JsNode a("ja", 1, certs, {});
  auto b = std::make_unique<JsNode>(
      "jb", 2, certs, std::vector<std::string>{"127.0.0.1:" + std::to_string(a.cluster->port())});
  ASSERT_TRUE(eventually([&] { return a.rt->node().node_is_up(b->id()); }));

  Pid on_b = b->run_script("b.js");
  ASSERT_EQ(b->report(on_b), "registered on=2");
  Pid on_a = a.run_script("a.js");
  EXPECT_EQ(a.report(on_a), "a=1 nodes=2 name=jb");
  // The child runs on b, and b's policy (sandboxed) refuses it the registry.
  EXPECT_EQ(a.report(on_a), "spawnOn child_node=2 reply=child on=2 register=-4 from_child=true");
  EXPECT_EQ(a.report(on_a), "monitored down=true/error/crashed on purpose exit=true/error");
  EXPECT_EQ(a.report(on_a),
            "errors nofn=ENOTFOUND nomod=ENOTFOUND noconn=ENOTCONN "
            "inexact=RangeError: rusm.spawnOn: not supported yet: the pids of node 40 exceed "
            "2^53, where JavaScript numbers stop being exact (give the nodes ids 1 to 31) "
            "badnode=EBADARG args=TypeError: rusm.spawnOn: argument 0 is not an integer "
            "nameless=TypeError: rusm.spawnOn: a module's name and the name of its exported "
            "function expected");
  EXPECT_EQ(a.report(on_a), "global server_node=2 pong=hi from 2 same=true");
  EXPECT_EQ(a.report(on_a),
            "named pong=named from 2 same=true missing=ENOTFOUND noconn=ENOTCONN "
            "bad=TypeError: rusm.send: to is a pid, a name, or {name, node}");
  EXPECT_EQ(a.report(on_a),
            "names taken=EEXISTS missing=null send_missing=ENOTFOUND unregister=true/false "
            "gone=null");
  ASSERT_EQ(a.report(on_a), "watching");

  b.reset();  // b leaves the cluster and stops
  EXPECT_EQ(a.report(on_a), "nodedown tag=NODE_DOWN node=2 from=null");
  auto o = a.rt->wait(on_a, 10s);
  ASSERT_TRUE(o.has_value()) << "a.js did not end after the NODE_DOWN";
  EXPECT_TRUE(o->reason.is_normal()) << o->reason.to_string();
  fs::remove_all(certs);
}

}  // namespace
}  // namespace rusm::cluster
