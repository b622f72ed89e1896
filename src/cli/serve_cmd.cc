// `rusm serve [rusm.toml]`: runs a rusm.toml app (docs/serve.md) until
// SIGTERM/SIGINT, then shuts down gracefully. `rusm serve --help` lists every
// key of the file, from the same table the parser checks against.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "commands.h"
#include "input.h"
#include "js_runtime.h"
#include "observe/protocol.h"
#include "observe/server.h"
#include "observe/shell.h"
#include "rusm/cluster/cluster.h"
#include "rusm/net/config.h"
#include "rusm/observe/sampler.h"
#include "rusm/serve/app.h"
#include "tier.h"
#include "typescript.h"

namespace rusm::cli {
namespace {

struct ServeArgs {
  std::string config = "rusm.toml";
  std::string tier = default_tier();
  unsigned workers = 0;
  unsigned io_threads = 0;
  std::vector<std::string> seeds;  // --seed, added to [cluster].seeds
};

[[noreturn]] void fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "rusm serve: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

// The cluster's other nodes, as the shell's `nodes` lists them.
std::vector<observe::ShellPeer> shell_peers(const cluster::Cluster& c) {
  std::vector<observe::ShellPeer> out;
  for (const cluster::NodeStatus& n : c.nodes()) {
    out.push_back({.name = n.name,
                   .id = n.id,
                   .address = n.address,
                   .up = n.up,
                   .bytes_in = n.bytes_in,
                   .bytes_out = n.bytes_out});
  }
  return out;
}

// The shell's `spawn` on this node's runtime: MODULE is a module of the node
// or a .wasm file on its disk (loaded once, as "file:PATH"); with a node
// name, a remote spawn to that peer (its policy caps the capabilities).
// What the operator grants is --allow, on top of nothing (sandboxed).
// may_wait: false for the observer's shell, which runs on the node's event
// loop: then neither a file is compiled nor a peer waited for (attach's
// shell runs on a thread of its own and may).
Result<std::string> shell_spawn(runtime::Runtime& rt,
                                const std::atomic<const cluster::Cluster*>& membership,
                                const observe::ShellSpawn& s, bool may_wait) {
  if (!may_wait && (!s.node.empty() || !rt.has_module(s.module))) {
    return Error(
        "from the dashboard, spawn starts modules the node has loaded (a route's is route0, "
        "route1, ...) on this node; .wasm files and --node are for `rusm attach`");
  }
  runtime::ProcessSpec spec;
  spec.caps = *runtime::profile("sandboxed");
  for (const std::string& name : s.allow) {
    if (Status st = runtime::allow(spec.caps, name); !st) {
      return st.error();
    }
    spec.caps.profile = "custom";
  }
  spec.module = s.module;
  if (!rt.has_module(spec.module)) {
    if (!spec.module.ends_with(".wasm")) {
      return Error("no module named '" + s.module +
                   "' on this node (name a .wasm file on its disk to load it)");
    }
    spec.module = "file:" + s.module;
    if (!rt.has_module(spec.module)) {
      if (Status st = rt.load_file(spec.module, s.module); !st) {
        return st.error();
      }
    }
  }
  spec.function = s.function;
  spec.args = s.args;
  spec.options.label = "shell:" + s.function;
  if (s.node.empty() || s.node == rt.node().name()) {
    Result<otp::Spawned> r = rt.spawn(spec);
    if (!r) {
      return r.error();
    }
    return r->pid.to_string();
  }
  const cluster::Cluster* c = membership.load();
  std::optional<uint16_t> id = c ? c->node_id(s.node) : std::nullopt;
  if (!id) {
    return Error("no node named '" + s.node + "' in this node's cluster (see `nodes`)");
  }
  Result<otp::Spawned> r = rt.spawn_on(*id, spec, std::chrono::seconds(10));
  if (!r) {
    return r.error();
  }
  return r->pid.to_string();
}

// This node's observer snapshot for peers that ask (ClusterOptions::observer,
// the dashboard's "observe" of a node): sampled at most twice a second, with
// the 200 busiest processes. With [observer] on, from its sampler (cleared,
// under mu, before it is destroyed); without, from a sampler of its own at
// 2 Hz, started on the first request.
struct SnapshotSource {
  std::mutex mu;
  otp::Node* node = nullptr;
  observe::Sampler* sampler = nullptr;
  std::unique_ptr<observe::Sampler> own;
  std::chrono::steady_clock::time_point at;
  std::string cached;

  Result<std::string> take() {
    std::lock_guard<std::mutex> lock(mu);
    auto now = std::chrono::steady_clock::now();
    if (!cached.empty() && now - at < std::chrono::milliseconds(500)) {
      return cached;
    }
    std::shared_ptr<const observe::Snapshot> snap;
    if (sampler != nullptr) {
      snap = sampler->sample_now(true);
    } else if (node != nullptr) {
      if (!own) {
        own = std::make_unique<observe::Sampler>(*node, observe::SamplerOptions{.hz = 2});
        own->want_table(true);
        own->start();
      }
      snap = own->latest();
      if (!snap || !snap->has_table) {
        snap = own->sample_now(true);
      }
    } else {
      return Error("this node is stopping");
    }
    cached = observe::to_text(observe::snapshot_json(*snap, true, 200));
    at = now;
    return cached;
  }
  // Before the node goes: no more samples.
  void close() {
    std::unique_ptr<observe::Sampler> gone;
    {
      std::lock_guard<std::mutex> lock(mu);
      node = nullptr;
      sampler = nullptr;
      gone = std::move(own);
    }
  }
  // Clears the sampler when dropped (declared after it: dropped before it).
  struct Guard {
    std::shared_ptr<SnapshotSource> source;
    ~Guard() {
      std::lock_guard<std::mutex> lock(source->mu);
      source->sampler = nullptr;
    }
  };
};

static_assert(cluster::kMaxAttachLine == observe::kMaxCommandBytes,
              "an attached operator's lines are the shell's command lines");

std::string url_of(const net::Listen& l, uint16_t port) {
  std::string host = l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host;
  return std::string(l.tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

void serve(const ServeArgs& a) {
  auto config = net::load_config(a.config);
  if (!config) {
    fail(config.error().message());
  }
  const net::ClusterConfig& k = config->cluster;
  if (!a.seeds.empty() && !k.enabled) {
    fail("--seed joins a cluster, and " + config->file +
         " has no [cluster] table (name, listen; docs/cluster.md)");
  }
  serve::AppOptions options;
  options.js_runtime = js_runtime_wasm();
  options.compile_typescript = [](const std::string& path) -> Result<std::string> {
    Result<TsBundle> bundle = compile_typescript(path);
    if (!bundle) {
      return bundle.error();
    }
    return std::move(bundle->js);
  };
  options.workers = a.workers;
  options.io_threads = a.io_threads;
  apply_tier(a.tier, &options.compile);
  if (k.enabled) {
    options.node_name = k.name;
    options.node_id = k.node_id != 0 ? k.node_id : cluster::node_id_for(k.name);
  }
  auto app = serve::App::create(*config, options);
  if (!app) {
    fail(app.error().message());
  }
  if (Status s = (*app)->start(); !s) {
    fail(s.error().message());
  }
  std::vector<uint16_t> ports = (*app)->ports();
  const net::AppConfig& c = (*app)->config();
  for (size_t i = 0; i < ports.size() && i < c.listen.size(); ++i) {
    std::printf("rusm serve: listening on %s (%zu routes, from %s)\n",
                url_of(c.listen[i], ports[i]).c_str(), c.routes.size(), c.file.c_str());
  }
  // The cluster ([cluster], off by default): peers reach this node's
  // processes once it is up; it leaves before the app stops.
  std::unique_ptr<cluster::Cluster> membership;
  auto snapshots = std::make_shared<SnapshotSource>();
  snapshots->node = &(*app)->runtime().node();
  // The cluster once it is up, for shells made before (operators who attach
  // while it starts) and after (the observer's).
  auto self = std::make_shared<std::atomic<const cluster::Cluster*>>(nullptr);
  if (k.enabled) {
    cluster::ClusterOptions co;
    co.listen_host = k.host;
    co.listen_port = k.port;
    for (const net::Listen& seed : k.seeds) {
      std::string host =
          seed.host.find(':') != std::string::npos ? "[" + seed.host + "]" : seed.host;
      co.seeds.push_back(host + ":" + std::to_string(seed.port));
    }
    co.seeds.insert(co.seeds.end(), a.seeds.begin(), a.seeds.end());
    cluster::use_certs_dir(co, k.certs, k.name);
    co.tick = k.tick;
    co.send_buffer_bytes = k.send_buffer_bytes;
    // The node's one event loop (as the server's and the observer's): run by
    // the workers when idle, or by --io-threads threads, which alone may
    // busy-poll.
    co.io = &(*app)->runtime().event_loop().context();
    co.busy_poll = std::chrono::microseconds(a.io_threads > 0 ? k.busy_poll_us : 0);
    co.etcd.endpoints = k.etcd;
    co.etcd.prefix = k.etcd_prefix;
    co.etcd.lease_ttl = std::chrono::ceil<std::chrono::seconds>(k.etcd_lease);
    co.observer = [snapshots] { return snapshots->take(); };
    // `rusm attach`: each operator gets a shell of its own on this node. A
    // certificate of the cluster's CA is the operator's credential, so the
    // shell has control access (kill, exit, send), as the observer's token
    // gives. The cluster exists once start() returns; an operator who
    // attached before sees no peers in `nodes` until then.
    co.runtime = &(*app)->runtime();
    if (k.remote_spawn) {
      runtime::Capabilities policy = *runtime::profile("sandboxed");
      for (const std::string& name : k.remote_allow) {
        if (Status st = runtime::allow(policy, name); !st) {
          fail(config->file + ": cluster.remote_allow: " + st.message());
        }
        policy.profile = "custom";
      }
      co.remote_spawn = policy;
    }
    if (k.attach) {
      co.attach_shell = [rt = &(*app)->runtime(), self] {
        observe::ShellOptions so;
        so.peers = [self] {
          const cluster::Cluster* c = self->load();
          return c ? shell_peers(*c) : std::vector<observe::ShellPeer>{};
        };
        so.spawn = [rt, self](const observe::ShellSpawn& s) {
          return shell_spawn(*rt, *self, s, /*may_wait=*/true);
        };
        otp::Node* node = &rt->node();
        auto shell = std::make_shared<observe::Shell>(*node, std::move(so));
        return [shell](std::string_view line, const cluster::AttachStream& stream) {
          observe::ShellResult r = shell->execute(line, observe::Access::kControl, stream);
          return cluster::AttachAnswer{r.ok, std::move(r.output)};
        };
      };
    }
    auto started = cluster::Cluster::start((*app)->runtime().node(), co);
    if (!started) {
      fail(config->file + ": " + started.error().message());
    }
    membership = std::move(*started);
    self->store(membership.get());
    std::printf("rusm serve: cluster node %s (id %u) on %s:%u, %zu seeds, attach %s\n",
                k.name.c_str(), unsigned(options.node_id), k.host.c_str(),
                unsigned(membership->port()), co.seeds.size(), k.attach ? "on" : "off");
  }
  // The observer (off by default): the dashboard's observer view and
  // /metrics of this node, on its own address, served from the node's event
  // loop; its snapshots carry the app's per-route figures (the Routes panel)
  // and, in a cluster, the other nodes (the Cluster panel).
  std::unique_ptr<observe::Sampler> sampler;
  SnapshotSource::Guard snapshots_guard{snapshots};
  std::unique_ptr<observe::Server> observer;
  if (c.observer.enabled) {
    otp::Node& node = (*app)->runtime().node();
    sampler = std::make_unique<observe::Sampler>(node, observe::SamplerOptions{});
    sampler->set_serving_source([s = &(*app)->server()] { return s->stats(); });
    observe::ServerOptions o;
    o.host = c.observer.host;
    o.port = c.observer.port;
    o.io = &(*app)->runtime().event_loop().context();
    o.shell.spawn = [rt = &(*app)->runtime(), self](const observe::ShellSpawn& s) {
      return shell_spawn(*rt, *self, s, /*may_wait=*/false);
    };
    if (membership) {
      // The cluster's other nodes, for the shell's `nodes` and the
      // dashboard's Cluster panel.
      observe::PeersSource peers = [m = membership.get()] { return shell_peers(*m); };
      o.shell.peers = peers;
      sampler->set_peers_source(std::move(peers));
      // Other nodes' observers, through this one (the Cluster panel's rows).
      o.observe_node = [m = membership.get()](const std::string& node,
                                              std::function<void(Result<std::string>)> done) {
        m->observe(node, std::move(done));
      };
      std::lock_guard<std::mutex> lock(snapshots->mu);
      snapshots->sampler = sampler.get();
    }
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    o.assets_dir = ec ? std::string() : (exe.parent_path() / "dashboard").string();
    observer = std::make_unique<observe::Server>(node, *sampler, nullptr, o);
    if (Result<uint16_t> bound = observer->start(); !bound) {
      fail("observer: " + bound.error().message());
    }
    sampler->start();
    if (!observer->policy().loopback()) {
      std::fprintf(stderr,
                   "rusm serve: WARNING: the observer listens on %s, not a loopback address: "
                   "anyone who can reach it can load the dashboard, and with the token control "
                   "this node (kill processes). The token travels in clear text (plain HTTP): "
                   "use this only on a network you trust.\n",
                   c.observer.host.c_str());
    }
    std::printf("rusm serve: observer on %s\n", observer->url().c_str());
  }
  std::fflush(stdout);
  (*app)->wait_for_signal();
  if (observer) {
    observer->stop();
    {
      std::lock_guard<std::mutex> lock(snapshots->mu);
      snapshots->sampler = nullptr;
    }
    sampler->stop();
  }
  if (membership) {
    membership->stop();  // links and monitors to other nodes fire noconnection
  }
  snapshots->close();
  std::printf("rusm serve: stopped\n");
}

void setup(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a rusm.toml app: each route answered by static files or by a fresh sandboxed "
      "Wasm process per request or connection (http, sse, cgi, ws).\n"
      "SIGTERM/SIGINT: stop accepting, let requests in flight finish, close WebSockets "
      "with 1001, exit 0. Exit status 2: a bad config, module, certificate or address.");
  cmd->add_option("config", a->config, "The app's rusm.toml (default: ./rusm.toml)");
  add_tier_option(cmd, &a->tier);
  cmd->add_option("--workers", a->workers, "Scheduler threads (default: one per core)")
      ->check(CLI::Range(0u, kMaxThreads));
  cmd->add_option("--io-threads", a->io_threads,
                  "Threads of the node's event loop (sockets, timers) beside the workers; "
                  "0 (default): the workers run it between processes")
      ->check(CLI::Range(0u, 64u));
  cmd->add_option("--seed", a->seeds,
                  "HOST:PORT of a cluster node to join through, besides [cluster].seeds "
                  "(repeatable; needs a [cluster] table)")
      ->check([](const std::string& v) -> std::string {
        size_t colon = v.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v.size() ||
            v.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
            v.size() - colon - 1 > 5 || std::stoul(v.substr(colon + 1)) > 65535) {
          return "'" + v + "' is not HOST:PORT";
        }
        return "";
      });
  cmd->footer("rusm.toml keys (docs/serve.md):\n\n" + net::config_reference_text());
  cmd->callback([a] { serve(*a); });
}

CommandRegistrar registrar(setup);

}  // namespace
}  // namespace rusm::cli
