// The attach shell's command core (observe/shell.h): every command against a
// live node, the errors bad input gets, the refusal of control commands to
// observers, and the same core over the observer's WebSocket
// ({"type":"shell"}).
#include "observe/shell.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

#include "observe/protocol.h"
#include "observe/server.h"
#include "rusm/otp/node.h"

namespace rusm::observe {
namespace {

using namespace rusm::otp;
using namespace std::chrono_literals;
using nlohmann::json;

// Waits for messages forever; takes them out of its mailbox.
Task<> waiter(Context& ctx) {
  for (;;) {
    (void)co_await ctx.receive();
  }
}

// Keeps every message but tag 999 in its mailbox; answers each 999 to `to`
// (by then the messages sent before it are in the mailbox).
Task<> hoarder(Context& ctx, Pid to) {
  for (;;) {
    (void)co_await ctx.receive_tag(999);
    (void)ctx.send(to, Message::make(2, "hoarded"));
  }
}

// Forwards every message (tag and bytes) to `to`.
Task<> forwarder(Context& ctx, Pid to) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(to, Message::make(m.tag(), m.text()));
  }
}

// Burns `n` reductions whenever it gets a message, then tells `to`.
Task<> burner(Context& ctx, Pid to, int64_t n) {
  for (;;) {
    (void)co_await ctx.receive();
    for (int64_t i = 0; i < n; i += 1000) {
      co_await ctx.reduce(1000);
    }
    (void)ctx.send(to, Message::make(1, "done"));
  }
}

// The reason in the DOWN of a monitor set up before the process was told to
// exit (Node::wait_exit would say noproc if it is already gone).
std::string down_reason(Probe& probe, Pid pid) {
  std::optional<Message> m =
      probe.receive_if([pid](const Message& m) { return m.is_down() && m.from() == pid; }, 5s);
  return m ? m->reason().to_string() : "(no DOWN)";
}

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

struct ShellTest : ::testing::Test {
  Node node{NodeOptions{.workers = 1, .node_id = 3, .name = "n3"}};
  Shell shell{node, ShellOptions{.peers = [] {
                return std::vector<ShellPeer>{
                    {.name = "n4", .id = 4, .address = "10.0.0.4:4370", .up = true},
                    {.name = "n5", .id = 5, .address = "10.0.0.5:4370", .up = false}};
              }}};

  Pid spawn_labelled(std::string label, auto body) {
    SpawnOptions o;
    o.label = std::move(label);
    Result<Spawned> s = node.spawn_opt(o, body);
    EXPECT_TRUE(s) << s.error().message();
    return s ? s->pid : Pid();
  }

  ShellResult run(std::string_view line, Access access = Access::kControl) {
    return shell.execute(line, access);
  }
  // Runs a line that must succeed and returns its output.
  std::string ok(std::string_view line) {
    ShellResult r = run(line);
    EXPECT_TRUE(r.ok) << line << " failed: " << r.output;
    return r.output;
  }
  // Runs a line that must fail and returns its message.
  std::string error(std::string_view line, Access access = Access::kControl) {
    ShellResult r = run(line, access);
    EXPECT_FALSE(r.ok) << line << " succeeded: " << r.output;
    return r.output;
  }

  ~ShellTest() override { (void)node.shutdown(5s); }
};

TEST(ShellWords, SplitAtBlanksAndHonourQuotes) {
  auto w = split_shell_words("  send <0.1.1>  7 \"hello world\"\t'a b'c ");
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(*w, (std::vector<std::string>{"send", "<0.1.1>", "7", "hello world", "a bc"}));
  w = split_shell_words(R"(x "q\"\\\n\t\x41" '')");
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(*w, (std::vector<std::string>{"x", "q\"\\\n\tA", ""}));
  EXPECT_TRUE(split_shell_words("")->empty());
  EXPECT_FALSE(split_shell_words("send 'open"));
  EXPECT_FALSE(split_shell_words("send \"open"));
  EXPECT_FALSE(split_shell_words("send \"bad \\q\""));
  EXPECT_FALSE(split_shell_words("send \"\\x4\""));
}

TEST_F(ShellTest, HelpListsEveryCommand) {
  std::string out = ok("help");
  for (const char* c : {"ps", "info", "send", "exit", "kill", "whereis", "stats", "top", "nodes",
                        "spawn", "trace"}) {
    EXPECT_TRUE(contains(out, c)) << "help does not mention " << c;
  }
  EXPECT_TRUE(ok("").empty()) << "an empty line does nothing";
}

TEST_F(ShellTest, PsListsFiltersSortsAndLimits) {
  Probe probe(node);
  Pid busy =
      spawn_labelled("busy-one", [&](Context& ctx) { return burner(ctx, probe.pid(), 200000); });
  Pid full =
      spawn_labelled("full-mailbox", [&](Context& ctx) { return hoarder(ctx, probe.pid()); });
  Pid idle = spawn_labelled("idle", waiter);
  ASSERT_TRUE(node.send(busy, Message::make(1)));
  ASSERT_TRUE(probe.receive(5s)) << "the burner did not finish";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(node.send(full, Message::make(9, std::string(1000, 'x'))));
  }
  ASSERT_TRUE(node.send(full, Message::make(999)));
  ASSERT_TRUE(probe.receive(5s)) << "the hoarder did not answer";

  std::string all = ok("ps");
  for (Pid p : {busy, full, idle}) {
    EXPECT_TRUE(contains(all, p.to_string())) << all;
  }
  EXPECT_TRUE(contains(all, "PID")) << "no header: " << all;
  EXPECT_TRUE(contains(all, "4 of 4 processes")) << all;  // with the probe
  // Default sort: reductions, busiest first.
  EXPECT_LT(all.find(busy.to_string()), all.find(idle.to_string())) << all;

  std::string filtered = ok("ps --filter full");
  EXPECT_TRUE(contains(filtered, full.to_string())) << filtered;
  EXPECT_FALSE(contains(filtered, busy.to_string())) << filtered;
  EXPECT_TRUE(contains(filtered, "1 match 'full'")) << filtered;

  std::string by_mailbox = ok("ps --sort mailbox --limit 1");
  EXPECT_TRUE(contains(by_mailbox, full.to_string())) << by_mailbox;
  EXPECT_FALSE(contains(by_mailbox, busy.to_string())) << by_mailbox;
  EXPECT_TRUE(contains(by_mailbox, "1 of 4 processes, by mailbox")) << by_mailbox;

  std::string by_memory = ok("ps --sort=memory --limit=1");
  EXPECT_TRUE(contains(by_memory, full.to_string())) << "5 KB of queued messages: " << by_memory;
}

TEST_F(ShellTest, InfoShowsOneProcessByPidOrName) {
  Probe probe(node);
  Pid p = spawn_labelled("worker", waiter);
  ASSERT_TRUE(node.register_name("db", p));
  probe.link(p);
  std::string out = ok("info " + p.to_string());
  EXPECT_TRUE(contains(out, "pid           " + p.to_string())) << out;
  EXPECT_TRUE(contains(out, "name          db")) << out;
  EXPECT_TRUE(contains(out, "label         worker")) << out;
  EXPECT_TRUE(contains(out, "links         " + probe.pid().to_string())) << out;
  EXPECT_TRUE(contains(out, "wait          receive any")) << out;
  EXPECT_EQ(ok("info db"), out);
}

TEST_F(ShellTest, SendDeliversTagAndData) {
  Probe probe(node);
  Result<Pid> fwd = node.spawn(forwarder, probe.pid());
  ASSERT_TRUE(fwd);
  std::string out = ok("send " + fwd->to_string() + " 42 \"hello world\"");
  EXPECT_TRUE(contains(out, "sent 11 bytes with tag 42 to " + fwd->to_string())) << out;
  std::optional<Message> m = probe.receive(5s);
  ASSERT_TRUE(m) << "the message never arrived";
  EXPECT_EQ(m->tag(), 42u);
  EXPECT_EQ(m->text(), "hello world");

  ASSERT_TRUE(node.register_name("fwd", *fwd));
  ok("send fwd 0x10 ''");
  m = probe.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), 16u);
  EXPECT_EQ(m->size(), 0u);
}

TEST_F(ShellTest, ExitAndKillEndProcessesWithTheirReasons) {
  Result<Pid> a = node.spawn(waiter);
  Result<Pid> b = node.spawn(waiter);
  Result<Pid> c = node.spawn(waiter);
  Result<Pid> d = node.spawn(waiter);
  ASSERT_TRUE(a && b && c && d);
  Probe probe(node);
  for (Pid p : {*a, *b, *c}) {
    probe.monitor(p);
  }
  ok("exit " + a->to_string() + " shutdown");
  EXPECT_EQ(down_reason(probe, *a), "shutdown");
  ok("exit " + b->to_string() + " 'disk full'");
  EXPECT_EQ(down_reason(probe, *b), "error: disk full");
  std::string out = ok("kill " + c->to_string());
  EXPECT_TRUE(contains(out, "sent kill to " + c->to_string())) << out;
  EXPECT_EQ(down_reason(probe, *c), "killed");
  out = ok("exit " + d->to_string() + " normal");
  EXPECT_TRUE(contains(out, "ignores 'normal'")) << out;
  EXPECT_TRUE(node.is_alive(*d)) << "a non-trapping process must ignore exit normal";
}

TEST_F(ShellTest, WhereisStatsAndNodes) {
  Result<Pid> p = node.spawn(waiter);
  ASSERT_TRUE(p);
  ASSERT_TRUE(node.register_name("logger", *p));
  EXPECT_EQ(ok("whereis logger"), p->to_string() + "\n");
  EXPECT_TRUE(contains(error("whereis nobody"), "no process registered as 'nobody'"));
  // A global name answers when no local one does (the local one first).
  ASSERT_TRUE(node.register_global("leader", *p));
  EXPECT_EQ(ok("whereis leader"), p->to_string() + " (global)\n");
  ASSERT_TRUE(node.register_global("logger", *p));
  EXPECT_EQ(ok("whereis logger"), p->to_string() + "\n");

  std::string stats = ok("stats");
  EXPECT_TRUE(contains(stats, "processes     1 of at most")) << stats;
  EXPECT_TRUE(contains(stats, "spawns        1")) << stats;
  EXPECT_TRUE(contains(stats, "worker 0")) << stats;

  std::string nodes = ok("nodes");
  EXPECT_TRUE(contains(nodes, "n3")) << nodes;
  EXPECT_TRUE(contains(nodes, "(this node)")) << nodes;
  EXPECT_TRUE(contains(nodes, "     3 ")) << "the node id: " << nodes;
  EXPECT_TRUE(contains(nodes, "n4")) << "a peer: " << nodes;
  EXPECT_TRUE(contains(nodes, "10.0.0.5:4370")) << "a peer's address: " << nodes;
  EXPECT_TRUE(contains(nodes, "down")) << "a peer that is down: " << nodes;
  EXPECT_TRUE(contains(nodes, "3 nodes, 2 up")) << nodes;
}

TEST_F(ShellTest, TopShowsTheBusiestSinceThePreviousTop) {
  Probe probe(node);
  Pid early =
      spawn_labelled("early", [&](Context& ctx) { return burner(ctx, probe.pid(), 300000); });
  Pid late = spawn_labelled("late", [&](Context& ctx) { return burner(ctx, probe.pid(), 50000); });
  ASSERT_TRUE(node.send(early, Message::make(1)));
  ASSERT_TRUE(probe.receive(5s));
  std::string first = ok("top 1");
  EXPECT_TRUE(contains(first, "since they started")) << first;
  EXPECT_TRUE(contains(first, early.to_string())) << first;
  // Now only `late` works: it is the busiest of the interval although
  // `early` has more reductions in all.
  ASSERT_TRUE(node.send(late, Message::make(1)));
  ASSERT_TRUE(probe.receive(5s));
  std::string second = ok("top 1");
  EXPECT_TRUE(contains(second, "over the last")) << second;
  EXPECT_TRUE(contains(second, late.to_string())) << second;
  EXPECT_FALSE(contains(second, early.to_string())) << second;
}

TEST_F(ShellTest, BadInputGetsAClearError) {
  Result<Pid> p = node.spawn(waiter);
  ASSERT_TRUE(p);
  std::string pid = p->to_string();
  EXPECT_TRUE(contains(error("frobnicate"), "unknown command 'frobnicate'"));
  EXPECT_TRUE(contains(error("info"), "usage: info"));
  EXPECT_TRUE(contains(error("info <0.1>"), "bad pid '<0.1>'"));
  EXPECT_TRUE(contains(error("info <3.99999.1>"), "no process <3.99999.1>"));
  EXPECT_TRUE(contains(error("info <4.1.1>"), "a process of node 4; this is node 3"));
  EXPECT_TRUE(contains(error("send " + pid + " 1"), "usage: send"));
  EXPECT_TRUE(contains(error("send " + pid + " seven x"), "bad tag 'seven'"));
  EXPECT_TRUE(contains(error("send " + pid + " 0xFFFFFFFFFFFFFF01 x"), "reserved"));
  EXPECT_TRUE(contains(error("send " + pid + " 1 'open"), "unterminated ' quote"));
  EXPECT_TRUE(contains(error("exit " + pid), "usage: exit"));
  EXPECT_TRUE(contains(error("kill nobody"), "no process registered as 'nobody'"));
  EXPECT_TRUE(contains(error("ps --sort name"), "--sort takes reductions, memory or mailbox"));
  EXPECT_TRUE(contains(error("ps --limit 0"), "--limit must be a whole number"));
  EXPECT_TRUE(contains(error("ps --limit"), "--limit needs a value"));
  EXPECT_TRUE(contains(error("ps --colour"), "unknown argument '--colour'"));
  EXPECT_TRUE(contains(error("top many"), "N must be a whole number"));
  EXPECT_TRUE(contains(error("stats now"), "usage: stats"));
  EXPECT_TRUE(contains(error("spawn hello.wasm"), "spawn is not available on this node"));
  EXPECT_TRUE(contains(error("trace " + pid), "one answer per command")) << "no stream: refused";
  EXPECT_TRUE(contains(error("trace " + pid + " --rate 0"), "--rate must be"));
  EXPECT_TRUE(contains(error(std::string(kMaxCommandBytes + 1, 'x')), "line too long"));
  EXPECT_TRUE(contains(error("info \x1b[2J"), "\\x1b[2J")) << "control bytes are escaped";
  EXPECT_TRUE(node.is_alive(*p)) << "bad input must not touch the process";
}

TEST_F(ShellTest, SpawnParsesItsWordsAndHandsThemToTheNodesOwner) {
  ShellSpawn seen;
  ShellOptions o;
  o.spawn = [&](const ShellSpawn& s) -> Result<std::string> {
    seen = s;
    if (s.module == "missing.wasm") {
      return Error("cannot open missing.wasm");
    }
    return std::string("<3.7.1>");
  };
  Shell shell(node, o);
  ShellResult r =
      shell.execute("spawn app.wasm work 7 0x10 --node n2 --allow stdio,clock", Access::kControl);
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "<3.7.1>\n");
  EXPECT_EQ(seen.module, "app.wasm");
  EXPECT_EQ(seen.function, "work");
  EXPECT_EQ(seen.args, (std::vector<uint64_t>{7, 16}));
  EXPECT_EQ(seen.node, "n2");
  EXPECT_EQ(seen.allow, (std::vector<std::string>{"stdio", "clock"}));
  r = shell.execute("spawn app.wasm", Access::kControl);
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(seen.function, "_start") << "the default function";
  EXPECT_TRUE(seen.node.empty() && seen.args.empty() && seen.allow.empty());
  r = shell.execute("spawn missing.wasm", Access::kControl);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.output, "spawn missing.wasm: cannot open missing.wasm")) << r.output;
  EXPECT_TRUE(contains(shell.execute("spawn", Access::kControl).output, "usage: spawn"));
  EXPECT_TRUE(
      contains(shell.execute("spawn a.wasm f x", Access::kControl).output, "bad argument 'x'"));
  EXPECT_TRUE(contains(shell.execute("spawn a.wasm --node", Access::kControl).output,
                       "--node needs a value"));
  EXPECT_TRUE(contains(shell.execute("spawn a.wasm --colour red", Access::kControl).output,
                       "unknown option '--colour'"));
  // Starting processes changes the node: observers may not.
  seen = ShellSpawn{};
  r = shell.execute("spawn app.wasm", Access::kObserve);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.denied);
  EXPECT_TRUE(seen.module.empty()) << "an observer's spawn must not reach the owner";
}

TEST_F(ShellTest, TraceStreamsAProcesssEventsUntilItExits) {
  Probe probe(node);
  Result<Pid> fwd = node.spawn(forwarder, probe.pid());
  ASSERT_TRUE(fwd);
  std::string pid = fwd->to_string();
  std::string streamed;
  std::atomic<int> chunks{0};
  // The stream starts the traffic once the trace is on, then kills the
  // forwarder after its first forward: the trace ends with its exit.
  ShellStream stream = [&](std::string_view chunk) {
    streamed += chunk;
    if (chunks++ == 0) {
      EXPECT_TRUE(probe.send(*fwd, Message::make(9, "abc")).is_ok());
    }
    if (streamed.find(" send to ") != std::string::npos && node.is_alive(*fwd)) {
      node.exit(*fwd, ExitReason::kill());
    }
    return true;
  };
  ShellResult r = shell.execute("trace " + pid, Access::kObserve, stream);
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_TRUE(contains(streamed, "tracing " + pid)) << streamed;
  EXPECT_TRUE(
      contains(streamed, pid + " receive from " + probe.pid().to_string() + " tag 9 (3 bytes)"))
      << streamed;
  EXPECT_TRUE(contains(streamed, pid + " send to " + probe.pid().to_string() + " tag 9 (3 bytes)"))
      << streamed;
  EXPECT_TRUE(contains(streamed, pid + " exit: killed")) << streamed;
  EXPECT_TRUE(contains(r.output, "ended (it exited): 3 events, 0 dropped")) << r.output;

  // --count ends it; a stream that says stop ends it too.
  Result<Pid> other = node.spawn(forwarder, probe.pid());
  ASSERT_TRUE(other);
  int sent = 0;
  ShellStream pump = [&](std::string_view) {
    if (sent < 3) {
      ++sent;
      EXPECT_TRUE(probe.send(*other, Message::make(1, "x")).is_ok());
    }
    return true;
  };
  r = shell.execute("trace " + other->to_string() + " --count 2", Access::kObserve, pump);
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_TRUE(contains(r.output, "ended (2 events): 2 events")) << r.output;
  r = shell.execute("trace " + other->to_string(), Access::kObserve,
                    [](std::string_view) { return false; });
  EXPECT_TRUE(r.ok) << r.output;
  // After each end the process is no longer traced: a new trace is taken.
  sent = 2;  // one more message, for the one event it waits for
  r = shell.execute("trace " + other->to_string() + " --count 1", Access::kObserve, pump);
  EXPECT_TRUE(r.ok) << r.output;
}

TEST_F(ShellTest, TraceCapsItsRate) {
  Probe probe(node);
  Result<Pid> fwd = node.spawn(forwarder, probe.pid());
  ASSERT_TRUE(fwd);
  std::string streamed;
  bool flooded = false;
  ShellStream stream = [&](std::string_view chunk) {
    streamed += chunk;
    if (!flooded) {
      flooded = true;
      for (int i = 0; i < 2000; ++i) {
        (void)probe.send(*fwd, Message::make(1, "x"));
      }
      node.exit(*fwd, ExitReason::kill());
    }
    return true;
  };
  ShellResult r =
      shell.execute("trace " + fwd->to_string() + " --rate 10", Access::kObserve, stream);
  ASSERT_TRUE(r.ok) << r.output;
  size_t lines = std::count(streamed.begin(), streamed.end(), '\n');
  // 10/s with a second's burst: about 10 events and the exit, never thousands.
  EXPECT_LE(lines, 30u) << streamed;
  EXPECT_TRUE(contains(r.output, "dropped over the rate cap")) << r.output;
  EXPECT_FALSE(contains(r.output, " 0 dropped")) << r.output;
}

TEST_F(ShellTest, ObserversCannotChangeTheNode) {
  Probe probe(node);
  Result<Pid> fwd = node.spawn(forwarder, probe.pid());
  ASSERT_TRUE(fwd);
  std::string pid = fwd->to_string();
  for (std::string line : {"send " + pid + " 1 x", "exit " + pid + " shutdown", "kill " + pid}) {
    ShellResult r = run(line, Access::kObserve);
    EXPECT_FALSE(r.ok) << line;
    EXPECT_TRUE(r.denied) << line;
    EXPECT_TRUE(contains(r.output, "needs control access")) << r.output;
  }
  EXPECT_TRUE(node.is_alive(*fwd)) << "a refused exit or kill acted";
  EXPECT_FALSE(probe.receive(50ms)) << "a refused send was delivered";
  // Observation stays open to them.
  EXPECT_TRUE(run("ps", Access::kObserve).ok);
  EXPECT_TRUE(run("info " + pid, Access::kObserve).ok);
  EXPECT_FALSE(run("kill " + pid, Access::kNone).ok);
}

TEST(ShellProtocol, ShellCommandsParse) {
  Result<Command> c = parse_command(R"({"type":"shell","id":7,"line":"ps --limit 3"})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->kind, CommandKind::kShell);
  EXPECT_EQ(c->line, "ps --limit 3");
  EXPECT_EQ(c->id, 7);
  Result<Command> missing = parse_command(R"({"type":"shell"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "missing field 'line'");
  Result<Command> number = parse_command(R"({"type":"shell","line":5})");
  ASSERT_FALSE(number);
  EXPECT_EQ(number.error().message(), "field 'line' must be a string");
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

const std::string kToken = "0123456789abcdef0123456789abcdef";

// A WebSocket client of the observer that skips snapshots.
class Client {
 public:
  Client(uint16_t port, const std::string& target) : ws_(ioc_) {
    ws_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1:" + std::to_string(port), target);
  }
  ~Client() {
    beast::error_code ignored;
    ws_.next_layer().close(ignored);
  }
  // Sends a command and returns the first reply that is not a snapshot or hello.
  json ask(const json& command) {
    ws_.write(asio::buffer(command.dump()));
    for (int i = 0; i < 1000; ++i) {
      beast::flat_buffer buf;
      ws_.read(buf);
      json j = json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
      std::string type = j.value("type", "");
      if (type != "snapshot" && type != "hello") {
        return j;
      }
    }
    return json();
  }

 private:
  asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
};

TEST(ShellOverWebSocket, ObserversRunQueriesAndControlNeedsTheToken) {
  Node node(NodeOptions{.workers = 1, .name = "ws-node"});
  Sampler sampler(node, SamplerOptions{.hz = 10});
  ServerOptions o;
  o.port = 0;
  o.access.token = kToken;
  Server server(node, sampler, nullptr, o);
  Result<uint16_t> port = server.start();
  ASSERT_TRUE(port) << port.error().message();
  Result<Pid> p = node.spawn(waiter);
  ASSERT_TRUE(p);
  {
    Client observer(*port, "/ws");
    json r = observer.ask({{"type", "shell"}, {"id", 1}, {"line", "nodes"}});
    EXPECT_EQ(r["type"], "shell_result") << r.dump();
    EXPECT_EQ(r["id"], 1);
    EXPECT_EQ(r["ok"], true);
    EXPECT_TRUE(contains(r["output"].get<std::string>(), "ws-node")) << r.dump();

    r = observer.ask({{"type", "shell"}, {"id", 2}, {"line", "kill " + p->to_string()}});
    EXPECT_EQ(r["type"], "shell_result") << r.dump();
    EXPECT_EQ(r["ok"], false);
    EXPECT_TRUE(contains(r["output"].get<std::string>(), "needs control access")) << r.dump();
    EXPECT_TRUE(node.is_alive(*p));
    EXPECT_EQ(server.stats().denied_commands_total, 1u);

    r = observer.ask({{"type", "shell"}, {"line", "info <0.1"}});
    EXPECT_EQ(r["ok"], false);
    EXPECT_TRUE(contains(r["output"].get<std::string>(), "bad pid")) << r.dump();
    r = observer.ask({{"type", "shell"}});
    EXPECT_EQ(r["type"], "error") << r.dump();
  }
  {
    Probe probe(node);
    probe.monitor(*p);
    Client controller(*port, "/ws?token=" + kToken);
    json r = controller.ask({{"type", "shell"}, {"line", "kill " + p->to_string()}});
    EXPECT_EQ(r["type"], "shell_result") << r.dump();
    EXPECT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(down_reason(probe, *p), "killed");
  }
  server.stop();
  sampler.stop();
  (void)node.shutdown(5s);
}

TEST(ShellOverWebSocket, TraceStreamsUntilCancelled) {
  Node node(NodeOptions{.workers = 1, .name = "ws-node"});
  Sampler sampler(node, SamplerOptions{.hz = 10});
  ServerOptions o;
  o.port = 0;
  o.access.token = kToken;
  Server server(node, sampler, nullptr, o);
  Result<uint16_t> port = server.start();
  ASSERT_TRUE(port) << port.error().message();
  Result<Pid> p = node.spawn(waiter);
  ASSERT_TRUE(p);
  {
    Client observer(*port, "/ws");
    json r = observer.ask({{"type", "shell"}, {"id", 9}, {"line", "trace " + p->to_string()}});
    EXPECT_EQ(r["type"], "shell_output") << r.dump();
    EXPECT_EQ(r["id"], 9);
    EXPECT_TRUE(contains(r["output"].get<std::string>(), "tracing " + p->to_string())) << r.dump();
    // A second trace on the same connection waits for the first.
    r = observer.ask({{"type", "shell"}, {"id", 10}, {"line", "trace " + p->to_string()}});
    EXPECT_EQ(r["type"], "error") << r.dump();
    // Other lines are answered meanwhile.
    r = observer.ask({{"type", "shell"}, {"id", 11}, {"line", "nodes"}});
    EXPECT_EQ(r["type"], "shell_result") << r.dump();
    EXPECT_EQ(r["id"], 11);
    r = observer.ask({{"type", "shell_cancel"}, {"id", 9}});
    EXPECT_EQ(r["type"], "shell_cancelled") << r.dump();
    EXPECT_EQ(r["cancelled"], true);
    // The trace's result comes within a take (200 ms): ping until it does.
    for (int i = 0; i < 100 && r["type"] != "shell_result"; ++i) {
      std::this_thread::sleep_for(20ms);
      r = observer.ask({{"type", "ping"}});
    }
    EXPECT_EQ(r["type"], "shell_result") << r.dump();
    EXPECT_EQ(r["id"], 9);
    EXPECT_TRUE(contains(r["output"].get<std::string>(), "ended (stopped)")) << r.dump();
  }
  // A client that leaves mid-trace: the server still stops cleanly.
  {
    Client observer(*port, "/ws");
    json r = observer.ask({{"type", "shell"}, {"line", "trace " + p->to_string()}});
    EXPECT_EQ(r["type"], "shell_output") << r.dump();
  }
  server.stop();
  sampler.stop();
  (void)node.shutdown(5s);
}

TEST(ObserveNodeOverWebSocket, AnotherNodesSnapshotComesThroughThisOne) {
  Node node(NodeOptions{.workers = 1, .name = "ws-node"});
  Sampler sampler(node, SamplerOptions{.hz = 10});
  ServerOptions o;
  o.port = 0;
  o.access.token = kToken;
  std::vector<std::string> asked;
  o.observe_node = [&asked](const std::string& name,
                            std::function<void(Result<std::string>)> done) {
    asked.push_back(name);
    if (name == "n2") {
      // Answered later, from another thread, as the cluster does.
      std::thread([done] { done(std::string(R"({"type":"snapshot","processes":7})")); }).detach();
    } else if (name == "liar") {
      done(std::string("<html>not json"));
    } else {
      done(Error("node '" + name + "' is not connected to this one"));
    }
  };
  Server server(node, sampler, nullptr, o);
  Result<uint16_t> port = server.start();
  ASSERT_TRUE(port) << port.error().message();
  {
    Client observer(*port, "/ws");  // observing needs no token
    json r = observer.ask({{"type", "observe_node"}, {"id", 3}, {"node", "n2"}});
    EXPECT_EQ(r["type"], "node_snapshot") << r.dump();
    EXPECT_EQ(r["id"], 3);
    EXPECT_EQ(r["node"], "n2");
    EXPECT_EQ(r["snapshot"]["processes"], 7) << r.dump();
    r = observer.ask({{"type", "observe_node"}, {"id", 4}, {"node", "n9"}});
    EXPECT_EQ(r["type"], "error") << r.dump();
    EXPECT_TRUE(contains(r["message"].get<std::string>(), "not connected")) << r.dump();
    r = observer.ask({{"type", "observe_node"}, {"id", 5}, {"node", "liar"}});
    EXPECT_EQ(r["type"], "error") << r.dump();
    EXPECT_TRUE(contains(r["message"].get<std::string>(), "not a snapshot")) << r.dump();
    r = observer.ask({{"type", "observe_node"}, {"node", ""}});
    EXPECT_EQ(r["type"], "error") << r.dump();
  }
  EXPECT_EQ(asked, (std::vector<std::string>{"n2", "n9", "liar"}));
  server.stop();
  sampler.stop();
  (void)node.shutdown(5s);
}

TEST(ObserveNodeOverWebSocket, ANodeInNoClusterSaysSo) {
  Node node(NodeOptions{.workers = 1, .name = "alone"});
  Sampler sampler(node, SamplerOptions{.hz = 10});
  ServerOptions o;
  o.port = 0;
  o.access.token = kToken;
  Server server(node, sampler, nullptr, o);
  Result<uint16_t> port = server.start();
  ASSERT_TRUE(port) << port.error().message();
  {
    Client observer(*port, "/ws");
    json r = observer.ask({{"type", "observe_node"}, {"node", "n2"}});
    EXPECT_EQ(r["type"], "error") << r.dump();
    EXPECT_TRUE(contains(r["message"].get<std::string>(), "in no cluster")) << r.dump();
  }
  server.stop();
  sampler.stop();
  (void)node.shutdown(5s);
}

}  // namespace
}  // namespace rusm::observe
