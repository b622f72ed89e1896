// Cluster scenarios (issue 12): two rusm nodes as two OS processes on
// loopback over mutual TLS 1.3, against two distributed Erlang nodes measured
// in the same run with the cluster anchors' dist_bench.erl
// (../shared/anchors/cluster, README.md there for the method).
//
//   distributed-ping-pong  round trips/s with 1 pair and 32 pairs (one message
//                          in flight per pair), RTT p50/p99 for a lone pair
//   remote-spawn           a process on node A spawns a Wasm process on node
//                          B that sends it one message; spawns+replies/s,
//                          1 at a time and 32 spawners at once
//   node-down              kill -9 of node B's OS process -> DOWN
//                          (noconnection) of a monitor on node A; SIGSTOP of
//                          B -> DOWN (bound by the heartbeat tick)
//
// Layout, as the anchors: node A (this process's node, 1 worker) on core 0,
// node B (`rusm bench-helper cluster-node`, 1 worker) on core 1, when the
// machine has two cores. Guards the remote send path (src/cluster/
// cluster.cc, connection.cc) and failure detection (mesh.cc heartbeats).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/certs.h"
#include "cluster/node_process.h"
#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/cluster/cluster.h"
#include "rusm/otp/context.h"
#include "rusm/otp/node.h"
#include "rusm/runtime/runtime.h"

namespace rusm::bench::cluster_bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
namespace rotp = ::rusm::otp;
using rotp::Context;
using rotp::Message;
using rotp::Pid;
using rotp::Task;
using rusm::bench::otp::make_row;

constexpr uint64_t kPing = 1;
constexpr uint64_t kNewEcho = 2;   // to B's "factory": spawn an echo for me
constexpr uint64_t kEchoHere = 3;  // from the new echo: its pid is from()
constexpr uint64_t kStop = 4;      // to an echo: exit
constexpr uint64_t kDone = 5;      // pinger -> probe: round trips done

// ---- node B: `rusm bench-helper cluster-node NAME CERTS_DIR TICK_MS` ------

Task<> echo(Context& ctx, Pid owner) {
  (void)ctx.send(owner, Message::make(kEchoHere));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kStop) {
      co_return;
    }
    Message r = Message::make(m.tag(), m.text());
    r.set_ref(m.ref());
    (void)ctx.send(m.from(), std::move(r));
  }
}

// Spawns one echo process per request (node A asks for its echoes by name,
// as dist_bench spawns one per pair; a native echo, where remote spawn
// starts Wasm processes).
Task<> factory(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kNewEcho) {
      (void)ctx.spawn(echo, m.from());
    }
  }
}

// The loop the nodes' connections run on: the node's event loop, driven by
// its worker (as `rusm serve` does), or with RUSM_BENCH_CLUSTER_IO=thread a
// thread of the cluster's own (as before 2026-12-06), for comparison.
boost::asio::io_context* cluster_loop(runtime::Runtime& rt) {
  const char* e = std::getenv("RUSM_BENCH_CLUSTER_IO");
  if (e != nullptr && std::string_view(e) == "thread") {
    return nullptr;
  }
  return &rt.event_loop().context();
}

int node_b_main(const std::vector<std::string>& args) {
  if (args.size() != 3) {
    std::fprintf(stderr, "usage: rusm bench-helper cluster-node NAME CERTS_DIR TICK_MS\n");
    return 2;
  }
  const std::string& name = args[0];
  runtime::RuntimeOptions ro;
  ro.node.workers = 1;
  ro.node.name = name;
  ro.node.node_id = cluster::node_id_for(name);
  runtime::Runtime rt(ro);
  rotp::Node& node = rt.node();
  cluster::ClusterOptions co;
  co.runtime = &rt;  // remote-spawn: node A's spawns, sandboxed
  co.remote_spawn = *runtime::profile("sandboxed");
  cluster::use_certs_dir(co, args[1], name);
  co.tick = std::chrono::milliseconds(std::stoi(args[2]));
  co.log = [](const std::string&) {};
  co.io = cluster_loop(rt);
  if (co.io != nullptr) {
    co.busy_poll = std::chrono::microseconds(0);  // the worker runs the loop
  }
  auto c = cluster::Cluster::start(node, co);
  if (!c) {
    std::fprintf(stderr, "cluster-node %s: %s\n", name.c_str(), c.message().c_str());
    return 1;
  }
  auto f = node.spawn(factory);
  if (!f || !node.register_name("factory", *f).is_ok()) {
    std::fprintf(stderr, "cluster-node %s: cannot start the factory process\n", name.c_str());
    return 1;
  }
  cluster::run_node_until_stdin_closes(**c);
  return 0;
}

HelperRegistrar node_b_registrar("cluster-node", node_b_main);

// ---- node A: this process ----------------------------------------------

bool two_cores() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set) &&
         std::thread::hardware_concurrency() >= 2;
}

// Pins the calling thread (and the threads it starts, which inherit the mask)
// to one core; restores the old mask when dropped.
class PinScope {
 public:
  explicit PinScope(int core) {
    ok_ = sched_getaffinity(0, sizeof old_, &old_) == 0;
    if (ok_) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(core, &set);
      ok_ = sched_setaffinity(0, sizeof set, &set) == 0;
    }
  }
  ~PinScope() {
    if (ok_) {
      sched_setaffinity(0, sizeof old_, &old_);
    }
  }
  PinScope(const PinScope&) = delete;
  PinScope& operator=(const PinScope&) = delete;

 private:
  cpu_set_t old_;
  bool ok_ = false;
};

// Node B as a child process; SIGKILLed (and SIGCONTed) and reaped when dropped.
using NodeB = cluster::NodeProcess;

std::unique_ptr<NodeB> start_node_b(const std::string& name, const std::string& certs, int tick_ms,
                                    bool pin, std::string* error) {
  auto b = cluster::start_node_process(
      {"/proc/self/exe", "bench-helper", "cluster-node", name, certs, std::to_string(tick_ms)},
      pin ? 1 : -1);
  if (!b) {
    *error = "node B did not start: " + b.error().message();
    return nullptr;
  }
  return std::move(*b);
}

// A temporary directory with a CA and certificates for "a", "b" and "c".
struct Certs {
  fs::path dir;
  std::string error;
  Certs() {
    char tmpl[] = "/tmp/rusm-cluster-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error = "cannot create a temporary directory";
      return;
    }
    dir = tmpl;
    fs::path certs = dir / "certs";
    if (auto ca = cluster::make_ca(certs.string()); !ca) {
      error = ca.message();
      return;
    }
    for (const char* n : {"a", "b", "c"}) {
      if (auto c = cluster::make_node_cert(certs.string(), n); !c) {
        error = c.message();
        return;
      }
    }
  }
  ~Certs() {
    if (!dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
  std::string certs() const { return (dir / "certs").string(); }
};

// Node A joined to a fresh node B: both up, or error set.
// With several names (distributed-fanout), A is a hub joined to each.
struct Pair {
  std::vector<std::unique_ptr<NodeB>> bs;
  NodeB* b = nullptr;  // the first
  std::unique_ptr<runtime::Runtime> rt;
  rotp::Node* node = nullptr;  // rt's
  std::unique_ptr<cluster::Cluster> cluster;
  std::vector<uint16_t> b_ids;
  uint16_t b_id = 0;  // the first
  std::string error;

  Pair(const Certs& certs, int tick_ms, bool pin, const std::vector<std::string>& names = {"b"}) {
    for (const std::string& name : names) {
      bs.push_back(start_node_b(name, certs.certs(), tick_ms, pin, &error));
      if (!bs.back()) {
        return;
      }
      b_ids.push_back(cluster::node_id_for(name));
    }
    b = bs[0].get();
    b_id = b_ids[0];
    runtime::RuntimeOptions ro;
    ro.node.workers = 1;
    ro.node.name = "a";
    ro.node.node_id = cluster::node_id_for("a");
    rt = std::make_unique<runtime::Runtime>(ro);
    node = &rt->node();
    cluster::ClusterOptions co;
    co.runtime = rt.get();
    cluster::use_certs_dir(co, certs.certs(), "a");
    for (auto& n : bs) {
      co.seeds.push_back("127.0.0.1:" + std::to_string(n->port));
    }
    co.tick = std::chrono::milliseconds(tick_ms);
    co.log = [](const std::string&) {};
    co.io = cluster_loop(*rt);
    if (co.io != nullptr) {
      co.busy_poll = std::chrono::microseconds(0);  // the worker runs the loop
    }
    auto c = cluster::Cluster::start(*node, co);
    if (!c) {
      error = "node A: " + c.message();
      return;
    }
    cluster = std::move(*c);
    auto all_up = [&] {
      return std::all_of(b_ids.begin(), b_ids.end(),
                         [&](uint16_t id) { return node->node_is_up(id); });
    };
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!all_up() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    if (!all_up()) {
      error = "node A did not connect to every other node within 10 s";
    }
  }
  ~Pair() {
    if (cluster) {
      cluster->stop();
    }
    cluster.reset();
    node = nullptr;
    rt.reset();
    bs.clear();
  }
};

// An echo process on node B, asked for through its factory; nullopt if none
// came within 5 s.
std::optional<Pid> new_echo(rotp::Probe& probe, uint16_t b_id) {
  if (!probe.send_named(b_id, "factory", Message::make(kNewEcho)).is_ok()) {
    return std::nullopt;
  }
  auto m = probe.receive_if([](const Message& x) { return x.tag() == kEchoHere; }, 5s);
  if (!m) {
    return std::nullopt;
  }
  return m->from();
}

// One pair's loop on node A: asks for an echo on B, waits for the common
// start, then one message in flight until stop; reports its count.
Task<> pinger(Context& ctx, uint16_t b_id, std::atomic<bool>* go, std::atomic<bool>* stop,
              std::atomic<uint64_t>* trips, Pid report) {
  (void)ctx.send_named(b_id, "factory", Message::make(kNewEcho));
  auto hello = co_await ctx.receive_if([](const Message& m) { return m.tag() == kEchoHere; }, 5s);
  if (!hello) {
    (void)ctx.send(report, Message::of(kDone, uint64_t{0}));
    co_return;
  }
  Pid e = hello->from();
  while (!go->load(std::memory_order_acquire)) {
    co_await ctx.sleep(1ms);
  }
  uint64_t n = 0;
  bool lost = false;  // a reply that never came (node B gone)
  while (!lost && !stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < 16 && !lost; ++i) {
      (void)ctx.send(e, Message::make(kPing));
      auto r = co_await ctx.receive(5s);
      lost = !r;
      if (r) {
        ++n;
        trips->fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  (void)ctx.send(e, Message::make(kStop));
  (void)ctx.send(report, Message::of(kDone, n));
}

// Runs `workers` processes, made by start(i, go, stop, count, report), for
// `seconds` once they are set (after `settle`), and returns the counts they
// report (a kDone message each) per second.
template <typename Start>
double timed_phase(Pair& p, unsigned workers, double seconds, Progress& progress,
                   const char* metric, std::chrono::milliseconds settle, Start start) {
  rotp::Probe probe(*p.node);
  std::atomic<bool> go{false}, stop{false};
  std::atomic<uint64_t> count{0};
  for (unsigned i = 0; i < workers; ++i) {
    start(i, &go, &stop, &count, probe.pid());
  }
  std::this_thread::sleep_for(settle);
  auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  rusm::bench::otp::run_sampling(seconds, progress, metric, [&] { return count.load(); });
  stop.store(true);
  uint64_t total = 0;
  for (unsigned i = 0; i < workers; ++i) {
    if (auto m = probe.receive_if([](const Message& x) { return x.tag() == kDone; }, 10s)) {
      total += m->template as<uint64_t>();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return total / secs;
}

// Round trips/s of `pairs` pingers over `seconds`, their echoes spread
// round-robin over the other nodes (each has its echo after the 200 ms
// settle: connection set-up excluded).
double round_trips(Pair& p, unsigned pairs, double seconds, Progress& progress) {
  return timed_phase(p, pairs, seconds, progress, "round trips/s", 200ms,
                     [&](unsigned i, auto* go, auto* stop, auto* count, Pid report) {
                       (void)p.node->spawn(pinger, p.b_ids[i % p.b_ids.size()], go, stop, count,
                                           report);
                     });
}

// The timed side of rtt(): a process on node A (as dist_bench's `lat` times
// in a process on its node A), `warm` untimed round trips with an echo on
// B, then `samples` timed ones into *ns; reports kDone to `report`.
Task<> timed_pinger(Context& ctx, uint16_t b_id, int warm, int samples,
                    std::shared_ptr<std::vector<int64_t>> ns, Pid report) {
  (void)ctx.send_named(b_id, "factory", Message::make(kNewEcho));
  auto hello = co_await ctx.receive_if([](const Message& m) { return m.tag() == kEchoHere; }, 5s);
  if (hello) {
    Pid e = hello->from();
    for (int i = 0; i < warm + samples; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      (void)ctx.send(e, Message::make(kPing));
      if (!co_await ctx.receive(5s)) {
        break;
      }
      if (i >= warm) {
        ns->push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
      }
    }
    (void)ctx.send(e, Message::make(kStop));
  }
  (void)ctx.send(report, Message::make(kDone));
}

// RTT percentiles (µs) of a lone pair: `warm` untimed round trips, then
// `samples` timed ones (the shape of dist_bench's lat), timed by a process
// on node A as Erlang's are (a Probe's thread would add a hand-off from the
// node's worker to that thread to each round trip).
std::pair<double, double> rtt(Pair& p, int warm, int samples, Progress& progress) {
  rotp::Probe probe(*p.node);
  auto samples_ns = std::make_shared<std::vector<int64_t>>();
  samples_ns->reserve(samples);
  if (!p.node->spawn(timed_pinger, p.b_id, warm, samples, samples_ns, probe.pid())) {
    return {0, 0};
  }
  auto timeout = std::chrono::seconds(30 + samples / 1000);
  if (!probe.receive_if([](const Message& x) { return x.tag() == kDone; }, timeout)) {
    return {0, 0};  // still running (B gone?): no figure
  }
  std::vector<int64_t>& ns = *samples_ns;
  for (int64_t d : ns) {
    progress.latency("round trip", static_cast<uint64_t>(d));
  }
  if (ns.empty()) {
    return {0, 0};
  }
  std::sort(ns.begin(), ns.end());
  return {ns[ns.size() / 2] / 1000.0, ns[ns.size() * 99 / 100] / 1000.0};
}

// ---- the Erlang baseline -------------------------------------------------

bool on_path(const char* tool) {
  std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
  }
  pclose(f);
  return out;
}

std::string short_host() {
  char h[256] = {};
  gethostname(h, sizeof h - 1);
  std::string s = h;
  return s.substr(0, s.find('.'));
}

// distributed-fanout's Erlang side (dist_bench has no fanout test): K
// senders on the hub, each with one round trip in flight to its own
// dist_bench:echo on one of the two worker nodes (alternating), for Secs.
constexpr const char* kFanoutErl = R"(-module(rusm_fanout).
-export([main/1]).
now_us() -> erlang:monotonic_time(microsecond).
main([B1, B2, Secs0, K0]) ->
    Bs = [list_to_atom(B1), list_to_atom(B2)],
    Secs = list_to_integer(Secs0), K = list_to_integer(K0),
    [pong = net_adm:ping(B) || B <- Bs],
    [{module, dist_bench} = erpc:call(B, code, ensure_loaded, [dist_bench]) || B <- Bs],
    Parent = self(),
    Start = now_us() + 200000,
    End = Start + Secs * 1000000,
    Pids = [spawn_link(fun() ->
                E = spawn(lists:nth(1 + I rem 2, Bs), dist_bench, echo, []),
                timer:sleep(max(0, (Start - now_us()) div 1000)),
                N = loop(E, End, 1),
                E ! stop,
                Parent ! {done, self(), N}
            end) || I <- lists:seq(1, K)],
    Total = lists:sum([receive {done, P, N} -> N end || P <- Pids]),
    El = (now_us() - Start) / 1.0e6,
    io:format("RESULT test=fanout rate=~p~n", [round(Total / El)]),
    halt(0).
loop(E, End, N) ->
    E ! {self(), N},
    receive N -> ok end,
    case N band 255 of
        0 -> case now_us() >= End of true -> N; false -> loop(E, End, N + 1) end;
        _ -> loop(E, End, N + 1)
    end.
)";

// Two erl nodes as the anchors run them: dist_bench compiled into a temp
// dir, TLS distribution with a self-signed certificate when erlang-ssl is
// there (TCP otherwise, said in note).
class Erlang {
 public:
  explicit Erlang(const Options& options) {
    if (!options.baselines) {
      note = "baselines off: no Erlang figures";
      return;
    }
    if (!on_path("erl") || !on_path("erlc")) {
      note = "erl not installed: no distributed Erlang baseline";
      return;
    }
    fs::path src = fs::path(RUSM_CLUSTER_ANCHORS) / "dist_bench.erl";
    if (!fs::exists(src)) {
      note = "cluster anchors not found at " + src.string();
      return;
    }
    char tmpl[] = "/tmp/rusm-dist-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      note = "cannot create a temporary directory for the Erlang nodes";
      return;
    }
    dir_ = tmpl;
    std::ofstream(dir_ / "rusm_fanout.erl") << kFanoutErl;
    std::string out = capture("erlc -o " + dir_.string() + " " + src.string() + " " +
                              (dir_ / "rusm_fanout.erl").string() + " 2>&1");
    if (!fs::exists(dir_ / "dist_bench.beam") || !fs::exists(dir_ / "rusm_fanout.beam")) {
      note = "compiling dist_bench.erl failed: " + out;
      return;
    }
    taskset_ = on_path("taskset") && two_cores();
    tls_ = setup_tls();
    ok = true;
  }
  ~Erlang() {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  bool ok = false;
  std::string note;
  bool tls() const { return tls_; }

  // Runs dist_bench:main([Test, B, Secs]) on a fresh A against a fresh B;
  // returns its RESULT line ("" if none).
  std::string run(const std::string& test, int secs) {
    std::string b = "rusm_b" + std::to_string(getpid()) + "_" + std::to_string(++seq_);
    pid_t bpid = start_b(b, "");
    if (bpid <= 0) {
      return "";
    }
    std::string eval = "dist_bench:main([\"" + test + "\", \"" + b + "@" + short_host() + "\", \"" +
                       std::to_string(secs) + "\"])";
    std::string out = capture(node_cmd("rusm_a" + std::to_string(getpid()), "0", "") + " -eval '" +
                              eval + "' 2>&1");
    stop_b(bpid);
    return result_line(out);
  }

  // rusm_fanout:main: `senders` on a hub against two fresh worker nodes.
  std::string fanout(unsigned senders, int secs) {
    std::string tag = std::to_string(getpid()) + "_" + std::to_string(++seq_);
    std::string b1 = "rusm_w1_" + tag, b2 = "rusm_w2_" + tag;
    pid_t p1 = start_b(b1, ""), p2 = p1 > 0 ? start_b(b2, "") : -1;
    std::string out;
    if (p2 > 0) {
      std::string eval = "rusm_fanout:main([\"" + b1 + "@" + short_host() + "\", \"" + b2 + "@" +
                         short_host() + "\", \"" + std::to_string(secs) + "\", \"" +
                         std::to_string(senders) + "\"])";
      out = capture(node_cmd("rusm_h" + std::to_string(getpid()), "0", "") + " -eval '" + eval +
                    "' 2>&1");
    }
    for (pid_t p : {p1, p2}) {
      if (p > 0) {
        stop_b(p);
      }
    }
    return result_line(out);
  }

  // dist_bench:detect(B, Signal, Timeout) with net_ticktime `tick` on both.
  std::string detect(const std::string& signal, int tick) {
    std::string extra = " -kernel net_ticktime " + std::to_string(tick);
    std::string b = "rusm_k" + std::to_string(getpid()) + "_" + std::to_string(++seq_);
    pid_t bpid = start_b(b, extra);
    if (bpid <= 0) {
      return "";
    }
    std::string eval = "dist_bench:detect('" + b + "@" + short_host() + "', \"" + signal + "\", " +
                       std::to_string(tick * 2 + 10) + ")";
    std::string out = capture(node_cmd("rusm_a" + std::to_string(getpid()), "0", extra) +
                              " -eval '" + eval + "' 2>&1");
    stop_b(bpid);
    return result_line(out);
  }

 private:
  bool setup_tls() {
    if (capture("erl -noshell -eval 'io:format(\"~p\", [code:which(ssl)]), halt().' 2>&1")
                .find("non_existing") != std::string::npos ||
        !on_path("openssl")) {
      note =
          "Erlang over TCP: erlang-ssl (or openssl) is not installed, so TLS distribution "
          "could not be set up (rusm runs over mutual TLS 1.3)";
      return false;
    }
    std::string d = dir_.string();
    capture("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
            d + "/key.pem -out " + d + "/cert.pem -days 2 -subj /CN=localhost 2>&1");
    std::ofstream conf(dir_ / "ssl_dist.conf");
    conf << "[{server, [{certfile, \"" << d << "/cert.pem\"}, {keyfile, \"" << d
         << "/key.pem\"}, {verify, verify_none}]},\n {client, [{verify, verify_none}]}].\n";
    conf.close();
    if (!fs::exists(dir_ / "cert.pem")) {
      note = "Erlang over TCP: the self-signed certificate for TLS distribution failed";
      return false;
    }
    note =
        "Erlang over TLS distribution (inet_tls, self-signed P-256, verify_none); rusm over "
        "mutual TLS 1.3";
    return true;
  }

  std::string node_cmd(const std::string& name, const char* core, const std::string& extra) {
    std::string cmd = taskset_ ? std::string("taskset -c ") + core + " " : "";
    cmd += "erl -noshell -sname " + name + " -setcookie rusmbench -pa " + dir_.string() + " +S 1";
    if (tls_) {
      cmd += " -proto_dist inet_tls -ssl_dist_optfile " + (dir_ / "ssl_dist.conf").string();
    }
    return cmd + extra;
  }

  pid_t start_b(const std::string& name, const std::string& extra) {
    std::string cmd = "exec " + node_cmd(name, "1", extra) + " </dev/null >/dev/null 2>&1";
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end) {
      if (capture("epmd -names 2>/dev/null").find("name " + name + " ") != std::string::npos) {
        return pid;
      }
      std::this_thread::sleep_for(100ms);
    }
    stop_b(pid);
    return -1;
  }

  static void stop_b(pid_t pid) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  static std::string result_line(const std::string& out) {
    size_t at = out.find("RESULT ");
    if (at == std::string::npos) {
      return "";
    }
    return out.substr(at, out.find('\n', at) - at);
  }

  fs::path dir_;
  bool taskset_ = false;
  bool tls_ = false;
  int seq_ = 0;
};

std::optional<double> field(const std::string& line, const std::string& key) {
  return rusm::bench::otp::number_after(line, " " + key + "=");
}

// ---- distributed-ping-pong -------------------------------------------------

Report run_ping_pong(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "distributed-ping-pong";
  report.summary = "round trips between two nodes (OS processes) on loopback over TLS";
  Certs certs;
  if (!certs.error.empty()) {
    report.notes.push_back("certificates: " + certs.error);
    return report;
  }
  bool pin = two_cores();
  double one = 0, many = 0, p50 = 0, p99 = 0;
  {
    std::optional<PinScope> scope;
    if (pin) {
      scope.emplace(0);
    }
    Pair p(certs, 1000, pin);
    if (!p.error.empty()) {
      report.notes.push_back(p.error);
      return report;
    }
    double phase = options.duration_s / 2;
    one = round_trips(p, 1, phase, progress);
    many = round_trips(p, 32, phase, progress);
    int samples = static_cast<int>(std::clamp(options.duration_s * 10000, 1000.0, 20000.0));
    std::tie(p50, p99) = rtt(p, samples / 10, samples, progress);
  }
  Row r1 = make_row("round trips/s (1 pair)", one, "/s");
  Row r2 = make_row("round trips/s (32 pairs)", many, "/s");
  Row r3 = make_row("RTT p50 (1 pair)", p50, "us");
  Row r4 = make_row("RTT p99 (1 pair)", p99, "us");
  r3.higher_is_better = r4.higher_is_better = false;
  report.notes.push_back(pin ? "node A on core 0, node B on core 1, 1 worker each"
                             : "fewer than 2 cores: nodes not pinned");
  Erlang erl(options);
  if (erl.ok) {
    int secs = std::max(1, static_cast<int>(options.duration_s / 2 + 0.5));
    std::string name = erl.tls() ? "Erlang TLS" : "Erlang TCP";
    std::string pp1 = erl.run("pp1", secs), pp32 = erl.run("pp32", secs),
                lat = erl.run("lat", secs);
    r1.baseline = field(pp1, "rate");
    r2.baseline = field(pp32, "rate");
    r3.baseline = field(lat, "p50_us");
    r4.baseline = field(lat, "p99_us");
    for (Row* r : {&r1, &r2, &r3, &r4}) {
      r->baseline_name = name;
    }
    if (pp1.empty() || pp32.empty() || lat.empty()) {
      report.notes.push_back("some Erlang runs printed no RESULT line");
    }
  }
  report.notes.push_back(erl.note);
  report.rows = {r1, r2, r3, r4};
  return report;
}

// ---- remote-spawn ------------------------------------------------------------

// A Wasm module of one function, `reply(to: i64)`: rusm.send(to, 7, 0, 0),
// what dist_bench's `fun() -> Parent ! Ref end` does.
const std::vector<uint8_t> kReplyModule = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // magic, version
    // types: (i64 i64 i32 i32) -> i32, (i64) -> ()
    0x01, 0x0d, 0x02, 0x60, 0x04, 0x7e, 0x7e, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7e, 0x00,
    // import rusm.send: type 0
    0x02, 0x0d, 0x01, 0x04, 'r', 'u', 's', 'm', 0x04, 's', 'e', 'n', 'd', 0x00, 0x00, 0x03, 0x02,
    0x01, 0x01,                                                   // one function of type 1
    0x05, 0x03, 0x01, 0x00, 0x01,                                 // one page of memory
    0x07, 0x09, 0x01, 0x05, 'r', 'e', 'p', 'l', 'y', 0x00, 0x01,  // export "reply"
    // reply: send(local 0, 7, 0, 0); drop
    0x0a, 0x0f, 0x01, 0x0d, 0x00, 0x20, 0x00, 0x42, 0x07, 0x41, 0x00, 0x41, 0x00, 0x10, 0x00, 0x1a,
    0x0b};
constexpr uint64_t kReplyTag = 7;

// One spawner on node A: spawns `reply` on node B with its own pid as the
// argument and waits for the child's message, until stop.
Task<> spawner(Context& ctx, runtime::Runtime* rt, uint16_t b_id, std::atomic<bool>* go,
               std::atomic<bool>* stop, std::atomic<uint64_t>* done, Pid report) {
  while (!go->load(std::memory_order_acquire)) {
    co_await ctx.sleep(1ms);
  }
  runtime::ProcessSpec spec;
  spec.module = "reply";
  spec.function = "reply";
  spec.args = {ctx.self().bits()};
  rotp::Node* node = &rt->node();
  Pid self = ctx.self();
  uint64_t n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    rt->spawn_on(b_id, spec, Pid(), nullptr, [node, self](Result<rotp::Spawned> r) {
      if (!r) {
        (void)node->send(self, Message::make(kStop));  // failed: end this spawner
      }
    });
    auto m = co_await ctx.receive(5s);
    if (!m || m->tag() != kReplyTag) {
      break;
    }
    ++n;
    done->fetch_add(1, std::memory_order_relaxed);
  }
  (void)ctx.send(report, Message::of(kDone, n));
}

// Spawns and replies per second with `concurrent` spawners.
double spawns(Pair& p, unsigned concurrent, double seconds, Progress& progress) {
  return timed_phase(p, concurrent, seconds, progress, "spawns/s", 0ms,
                     [&](unsigned, auto* go, auto* stop, auto* count, Pid report) {
                       (void)p.node->spawn(spawner, p.rt.get(), p.b_id, go, stop, count, report);
                     });
}

Report run_remote_spawn(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "remote-spawn";
  report.summary = "spawn a process on the other node and get its reply (OS processes, TLS)";
  Certs certs;
  if (!certs.error.empty()) {
    report.notes.push_back("certificates: " + certs.error);
    return report;
  }
  bool pin = two_cores();
  double one = 0, many = 0;
  {
    std::optional<PinScope> scope;
    if (pin) {
      scope.emplace(0);
    }
    Pair p(certs, 1000, pin);
    if (!p.error.empty()) {
      report.notes.push_back(p.error);
      return report;
    }
    if (Status st = p.rt->load("reply", kReplyModule); !st) {
      report.notes.push_back("the reply module: " + st.message());
      return report;
    }
    // The module's first trip to B (shipped, compiled there) is not timed.
    runtime::ProcessSpec warm;
    warm.module = "reply";
    warm.function = "reply";
    warm.args = {0};
    if (auto w = p.rt->spawn_on(p.b_id, warm, 5s); !w) {
      report.notes.push_back("remote spawn failed: " + w.message());
      return report;
    }
    double phase = options.duration_s / 2;
    one = spawns(p, 1, phase, progress);
    many = spawns(p, 32, phase, progress);
  }
  Row r1 = make_row("spawn + reply/s (1 at a time)", one, "/s");
  Row r2 = make_row("spawn + reply/s (32 spawners)", many, "/s");
  report.notes.push_back(pin ? "node A on core 0, node B on core 1, 1 worker each"
                             : "fewer than 2 cores: nodes not pinned");
  report.notes.push_back(
      "rusm spawns a Wasm process (a new instance) of a module shipped to B once; Erlang "
      "spawns a fun (dist_bench spawn1/spawn32)");
  Erlang erl(options);
  if (erl.ok) {
    int secs = std::max(1, static_cast<int>(options.duration_s / 2 + 0.5));
    std::string s1 = erl.run("spawn1", secs), s32 = erl.run("spawn32", secs);
    r1.baseline = field(s1, "rate");
    r2.baseline = field(s32, "rate");
    r1.baseline_name = r2.baseline_name = erl.tls() ? "Erlang TLS" : "Erlang TCP";
    if (s1.empty() || s32.empty()) {
      report.notes.push_back("some Erlang runs printed no RESULT line");
    }
  }
  report.notes.push_back(erl.note);
  report.rows = {r1, r2};
  return report;
}

// ---- node-down ---------------------------------------------------------------

// ms from `signal` to node B's OS process to the DOWN of A's monitor of a
// process on B; reason set to the DOWN's reason kind name.
std::optional<double> detect(const Certs& certs, int signal, int tick_ms, bool pin,
                             std::string* error, bool* noconnection) {
  std::optional<PinScope> scope;
  if (pin) {
    scope.emplace(0);
  }
  Pair p(certs, tick_ms, pin);
  if (!p.error.empty()) {
    *error = p.error;
    return std::nullopt;
  }
  rotp::Probe probe(*p.node);
  auto e = new_echo(probe, p.b_id);
  if (!e) {
    *error = "no echo process on node B";
    return std::nullopt;
  }
  rotp::MonitorRef ref = probe.monitor(*e);
  std::this_thread::sleep_for(200ms);
  auto t0 = std::chrono::steady_clock::now();
  kill(p.b->pid, signal);
  auto down = probe.receive_if([ref](const Message& m) { return m.is_down() && m.ref() == ref; },
                               std::chrono::milliseconds(tick_ms * 4 + 5000));
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!down) {
    *error = "no DOWN within " + std::to_string(tick_ms * 4 + 5000) + " ms";
    return std::nullopt;
  }
  *noconnection = down->reason().kind() == rotp::ExitKind::kNoconnection;
  return ms;
}

Report run_node_down(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "node-down";
  report.summary = "failure detection: kill -9 / SIGSTOP of node B -> DOWN on node A";
  constexpr int kTickMs = 1000;
  Certs certs;
  if (!certs.error.empty()) {
    report.notes.push_back("certificates: " + certs.error);
    return report;
  }
  bool pin = two_cores();
  std::string error;
  bool noconn_kill = false, noconn_stop = false;
  auto killed = detect(certs, SIGKILL, kTickMs, pin, &error, &noconn_kill);
  if (!killed) {
    report.notes.push_back("kill -9: " + error);
  }
  progress.sample("kill -9 -> DOWN ms", killed.value_or(0));
  auto stopped = detect(certs, SIGSTOP, kTickMs, pin, &error, &noconn_stop);
  if (!stopped) {
    report.notes.push_back("SIGSTOP: " + error);
  }
  Row r1 = make_row("kill -9 -> DOWN", killed.value_or(0), "ms");
  r1.note = noconn_kill ? "reason noconnection" : "reason NOT noconnection";
  Row r2 = make_row("SIGSTOP -> DOWN", stopped.value_or(0), "ms");
  r2.note = std::string("tick 1 s (expect <= 2 s), ") +
            (noconn_stop ? "reason noconnection" : "reason NOT noconnection");
  r1.higher_is_better = r2.higher_is_better = false;
  Erlang erl(options);
  if (erl.ok) {
    // The same tick for Erlang (net_ticktime 1 s: down after 1-1.25 s of
    // silence), so that the SIGSTOP ratio compares like with like.
    std::string k = erl.detect("KILL", 1), s = erl.detect("STOP", 1);
    r1.baseline = field(k, "down_ms");
    r2.baseline = field(s, "down_ms");
    r1.baseline_name = r2.baseline_name = erl.tls() ? "Erlang TLS" : "Erlang TCP";
    r2.note += ", Erlang net_ticktime 1";
    if (k.empty() || s.empty()) {
      report.notes.push_back("some Erlang detect runs printed no RESULT line");
    }
  }
  report.notes.push_back(erl.note);
  report.notes.push_back(
      "--duration does not apply: each row is one detection (the anchors' detect)");
  report.rows = {r1, r2};
  return report;
}

// ---- distributed-fanout ------------------------------------------------------

Report run_fanout(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "distributed-fanout";
  report.summary = "a hub node's senders, one round trip in flight each, to two worker nodes";
  Certs certs;
  if (!certs.error.empty()) {
    report.notes.push_back("certificates: " + certs.error);
    return report;
  }
  bool pin = two_cores();
  const std::vector<unsigned> senders = {2, 32};
  std::vector<double> rates;
  {
    std::optional<PinScope> scope;
    if (pin) {
      scope.emplace(0);
    }
    Pair p(certs, 1000, pin, {"b", "c"});
    if (!p.error.empty()) {
      report.notes.push_back(p.error);
      return report;
    }
    for (unsigned k : senders) {
      rates.push_back(round_trips(p, k, options.duration_s / senders.size(), progress));
    }
  }
  Erlang erl(options);
  int secs = std::max(1, static_cast<int>(options.duration_s / senders.size() + 0.5));
  for (size_t i = 0; i < senders.size(); ++i) {
    Row r = make_row("round trips/s (" + std::to_string(senders[i]) + " senders)", rates[i], "/s");
    if (erl.ok) {
      r.baseline = field(erl.fanout(senders[i], secs), "rate");
      r.baseline_name = erl.tls() ? "Erlang TLS" : "Erlang TCP";
      if (!r.baseline) {
        report.notes.push_back("the Erlang fanout run printed no RESULT line");
      }
    }
    report.rows.push_back(r);
  }
  report.notes.push_back(pin ? "hub on core 0, both worker nodes on core 1, 1 worker each"
                             : "fewer than 2 cores: nodes not pinned");
  report.notes.push_back(erl.note);
  return report;
}

Registrar ping_pong_registrar({"distributed-ping-pong",
                               "round trips between two nodes over TLS, against distributed Erlang",
                               run_ping_pong});
Registrar fanout_registrar({"distributed-fanout",
                            "a hub node's senders to two worker nodes over TLS, against Erlang",
                            run_fanout});
Registrar remote_spawn_registrar(
    {"remote-spawn", "spawn on another node and get a reply, against distributed Erlang",
     run_remote_spawn});
Registrar node_down_registrar({"node-down",
                               "kill -9 / SIGSTOP of a node to the DOWN on another, against Erlang",
                               run_node_down});

}  // namespace
}  // namespace rusm::bench::cluster_bench
