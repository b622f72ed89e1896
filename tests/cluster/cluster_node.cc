// A cluster member as its own OS process, for the multi-process tests:
//
//   cluster_node NAME CERTS_DIR [SEED_HOST:PORT...]
//
// starts a node named NAME (id node_id_for(NAME)) on an ephemeral port with
// the certificates in CERTS_DIR, joins the seeds, registers a process "echo"
// that answers every message to its sender with the same tag and payload,
// and also as the global name "echo-NAME" (Node::register_global), prints "PORT n" on standard
// output, and runs until standard input closes or it is killed.
#include <cstdio>
#include <iostream>
#include <string>

#include "cluster/node_process.h"
#include "rusm/cluster/cluster.h"
#include "rusm/otp/context.h"
#include "rusm/otp/node.h"
#include "rusm/runtime/runtime.h"

using namespace rusm;

namespace {

otp::Task<> echo(otp::Context& ctx) {
  for (;;) {
    otp::Message m = co_await ctx.receive();
    otp::Message r = otp::Message::make(m.tag(), m.text());
    r.set_ref(m.ref());
    (void)ctx.send(m.from(), std::move(r));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: cluster_node NAME CERTS_DIR [SEED_HOST:PORT...]\n");
    return 2;
  }
  std::string name = argv[1];
  runtime::RuntimeOptions ro;
  ro.node.workers = 1;
  ro.node.name = name;
  ro.node.node_id = cluster::node_id_for(name);
  runtime::Runtime rt(ro);
  otp::Node& node = rt.node();
  cluster::ClusterOptions co;
  co.runtime = &rt;  // peers may spawn here, sandboxed
  co.remote_spawn = *runtime::profile("sandboxed");
  cluster::use_certs_dir(co, argv[2], name);
  co.tick = std::chrono::milliseconds(200);
  for (int i = 3; i < argc; ++i) {
    co.seeds.emplace_back(argv[i]);
  }
  auto c = cluster::Cluster::start(node, co);
  if (!c) {
    std::fprintf(stderr, "cluster_node %s: %s\n", name.c_str(), c.message().c_str());
    return 1;
  }
  auto e = node.spawn(echo);
  if (!e || !node.register_name("echo", *e).is_ok() ||
      !node.register_global("echo-" + name, *e).is_ok()) {
    std::fprintf(stderr, "cluster_node %s: cannot start the echo process\n", name.c_str());
    return 1;
  }
  cluster::run_node_until_stdin_closes(**c);
  return 0;
}
