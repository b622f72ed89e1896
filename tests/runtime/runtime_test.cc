// Wasm processes through the C++ API: the body, the rusm ABI (guest-side
// checks in guests/t_abi.c), capabilities, supervisors, preemption.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "rusm/otp/supervisor.h"
#include "rusm/runtime/runtime.h"

namespace rusm::runtime {
namespace {

using namespace std::chrono_literals;
using otp::Message;
using otp::Pid;
using otp::Probe;

std::string guest(const char* name) {
  return std::string(RUSM_RT_GUESTS) + "/" + name;
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { start(RuntimeOptions{}); }
  void start(RuntimeOptions o) {
    probe_.reset();
    rt_.reset();
    o.node.workers = o.node.workers ? o.node.workers : 2;
    rt_ = std::make_unique<Runtime>(o);
    ASSERT_TRUE(rt_->load_file("t_abi", guest("t_abi.wasm")).is_ok());
    ASSERT_TRUE(rt_->load_file("wasi_yield", guest("wasi_yield.wasm")).is_ok());
    probe_ = std::make_unique<Probe>(rt_->node());
  }
  void TearDown() override {
    probe_.reset();
    rt_.reset();
  }

  ProcessSpec spec(std::string fn, std::vector<uint64_t> args = {}, const char* prof = "trusted") {
    ProcessSpec s;
    s.module = "t_abi";
    s.function = std::move(fn);
    s.args = std::move(args);
    s.caps = *profile(prof);
    s.record_outcome = true;
    return s;
  }
  Pid spawn(std::string fn, std::vector<uint64_t> args = {}, const char* prof = "trusted") {
    auto p = rt_->spawn(spec(std::move(fn), std::move(args), prof));
    EXPECT_TRUE(p.is_ok()) << (p ? "" : p.message());
    return p ? p->pid : Pid();
  }
  std::string receive_text(uint64_t tag = 1) {
    auto m = probe_->receive_if([&](const Message& m) { return m.tag() == tag; }, 10s);
    return m ? std::string(m->text()) : "(nothing within 10 s)";
  }
  // Sends to an echo process and waits for the answer.
  // A probe's monitor takes effect asynchronously: returns once `pid` lists
  // a monitor (a fixed sleep lost this race on a loaded machine, and the
  // DOWN then said noproc instead of the reason under test).
  void wait_monitored(Pid pid) {
    for (int i = 0; i < 2000; ++i) {
      auto info = rt_->node().info(pid);
      ASSERT_TRUE(info) << "process " << pid.bits() << " is gone before its monitor took effect";
      if (!info->monitored_by.empty()) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL() << "the monitor of " << pid.bits() << " never took effect";
  }

  bool echoes(Pid echo, std::string_view text) {
    (void)probe_->send(echo, Message::make(42, text));
    auto m = probe_->receive_if([](const Message& m) { return m.tag() == 42; }, 10s);
    return m && m->text() == text;
  }

  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Probe> probe_;
};

TEST_F(RuntimeTest, EntryFunctionRunsWithArgumentsAndExitsNormally) {
  Pid p = spawn("add", {40, 2});
  auto o = rt_->wait(p, 10s);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->reason.is_normal()) << o->reason.to_string();
}

TEST_F(RuntimeTest, TrapEndsProcessWithReasonNamingTrapAndFunction) {
  auto o = rt_->wait(spawn("crash"), 10s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason.kind(), otp::ExitKind::kError);
  EXPECT_NE(o->reason.detail().find("trap: unreachable"), std::string::npos) << o->reason.detail();
  EXPECT_NE(o->reason.detail().find("(crash)"), std::string::npos) << o->reason.detail();
  o = rt_->wait(spawn("divide", {0}), 10s);
  ASSERT_TRUE(o);
  EXPECT_NE(o->reason.detail().find("integer divide by zero"), std::string::npos);
}

TEST_F(RuntimeTest, GuestExitReasonsMapToOtpReasons) {
  auto o = rt_->wait(spawn("exit_kind", {0}), 10s);
  EXPECT_TRUE(o && o->reason.is_normal());
  o = rt_->wait(spawn("exit_kind", {1}), 10s);
  EXPECT_TRUE(o && o->reason == otp::ExitReason::shutdown("bye"));
  o = rt_->wait(spawn("exit_kind", {2}), 10s);
  EXPECT_TRUE(o && o->reason == otp::ExitReason::error("bye"));
}

TEST_F(RuntimeTest, TrapInOneProcessDoesNotDisturbSiblings) {
  Pid echo = spawn("echo");
  std::vector<Pid> crashers;
  for (int i = 0; i < 50; ++i) {
    crashers.push_back(spawn(i % 2 ? "crash" : "divide",
                             i % 2 ? std::vector<uint64_t>{} : std::vector<uint64_t>{0}));
  }
  for (Pid p : crashers) {
    auto o = rt_->wait(p, 10s);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->reason.kind(), otp::ExitKind::kError);
  }
  EXPECT_TRUE(echoes(echo, "still here"));
  // A message larger than the guest's first receive buffer.
  EXPECT_TRUE(echoes(echo, std::string(5000, 'x')));
}

TEST_F(RuntimeTest, LinkedProcessDiesWithPartnerUnlessTrappingExits) {
  Pid partner = spawn("sleeper");
  Pid linked = spawn("link_and_wait", {partner.bits(), probe_->pid().bits()});
  Pid trapping = spawn("trap_and_link", {partner.bits(), probe_->pid().bits()});
  EXPECT_EQ(receive_text(), "linked");
  EXPECT_EQ(receive_text(), "linked");
  otp::MonitorRef ref = probe_->monitor(linked);
  wait_monitored(linked);
  rt_->node().exit(partner, otp::ExitReason::error("boom"));
  auto down =
      probe_->receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; }, 10s);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason(), otp::ExitReason::error("boom"));
  // The trapping one got an EXIT message: {from, kind, len, detail}.
  std::string payload = receive_text(2);
  ASSERT_EQ(payload.size(), 16u + 4);
  uint64_t from;
  uint32_t kind, len;
  std::memcpy(&from, payload.data(), 8);
  std::memcpy(&kind, payload.data() + 8, 4);
  std::memcpy(&len, payload.data() + 12, 4);
  EXPECT_EQ(from, partner.bits());
  EXPECT_EQ(kind, static_cast<uint32_t>(otp::ExitKind::kError));
  EXPECT_EQ(payload.substr(16), "boom");
  auto o = rt_->wait(trapping, 10s);
  EXPECT_TRUE(o && o->reason.is_normal());
}

TEST_F(RuntimeTest, EveryRusmImportIncludingErrorsFromTheGuest) {
  Pid p = spawn("api", {probe_->pid().bits()});
  EXPECT_EQ(receive_text(), "ok");
  auto o = rt_->wait(p, 10s);
  EXPECT_TRUE(o && o->reason.is_normal()) << (o ? o->reason.to_string() : "timeout");
}

TEST_F(RuntimeTest, SandboxedProcessIsDeniedEverythingButCpuMemoryAndMessages) {
  Pid p = spawn("denied", {probe_->pid().bits()}, "sandboxed");
  EXPECT_EQ(receive_text(), "ok");
  auto o = rt_->wait(p, 10s);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->reason.is_normal()) << o->reason.to_string();
  EXPECT_FALSE(o->denied.empty());
}

TEST_F(RuntimeTest, ChildNeverGetsMoreCapabilitiesThanItsParent) {
  ProcessSpec s = spec("caps_parent", {probe_->pid().bits()}, "sandboxed");
  s.caps.bits = kCapSpawn;
  ASSERT_TRUE(rt_->spawn(s));
  EXPECT_EQ(receive_text(), "ok");
}

TEST_F(RuntimeTest, ProcessInfoShowsProfileAndLabel) {
  ProcessSpec s = spec("sleeper", {}, "sandboxed");
  s.options.label = "napper";
  auto p = rt_->spawn(s);
  ASSERT_TRUE(p);
  auto d = rt_->details(p->pid);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->profile, "sandboxed");
  EXPECT_EQ(d->info.label, "napper [sandboxed]");
  EXPECT_GT(d->info.memory_bytes, 0u);
}

TEST_F(RuntimeTest, ProcessInfoMemoryFollowsTheLinearMemory) {
  Pid small = spawn("sleeper");
  Pid big = spawn("grow_and_sleep", {probe_->pid().bits()});
  EXPECT_EQ(receive_text(), "grown");
  // The body reports as it goes to sleep, just after the message above.
  size_t big_bytes = 0;
  for (int i = 0; i < 2000 && big_bytes <= (1u << 20); ++i) {
    auto b = rt_->node().info(big);
    ASSERT_TRUE(b);
    big_bytes = b->memory_bytes;
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GT(big_bytes, 1u << 20) << "the 1.5 MiB it wrote must show (give or take a slice)";
  auto s = rt_->node().info(small);
  ASSERT_TRUE(s);
  EXPECT_LT(s->memory_bytes, 64u * 1024) << "an idle process: only what it touched";
}

TEST_F(RuntimeTest, MemoryLimitRefusesLargerModules) {
  ProcessSpec s = spec("add", {1, 2});
  s.caps.max_memory_pages = 1;
  auto p = rt_->spawn(s);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("instantiating 't_abi'"), std::string::npos) << p.message();
}

TEST_F(RuntimeTest, SpawnErrorsNameWhatIsWrong) {
  ProcessSpec s = spec("nope");
  auto p = rt_->spawn(s);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("exports no function 'nope'"), std::string::npos);
  s = spec("add", {1});
  p = rt_->spawn(s);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("takes 2 arguments, got 1"), std::string::npos);
  s.module = "missing";
  EXPECT_FALSE(rt_->spawn(s));
  std::vector<uint8_t> junk = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1};
  Status st = rt_->load("junk", junk);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("bad module: type section, offset"), std::string::npos)
      << st.message();
  st = rt_->load_file("bad_import", guest("bad_import.wasm"));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("rusm.no_such_function"), std::string::npos) << st.message();
  // A directory or a device is refused up front (it used to be read as a
  // stream: a directory aborted, /dev/zero read until memory ran out).
  st = rt_->load_file("dir", "/tmp");
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("/tmp: is a directory"), std::string::npos) << st.message();
  st = rt_->load_file("zero", "/dev/zero");
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("character device"), std::string::npos) << st.message();
}

TEST_F(RuntimeTest, SupervisorStartedByGuestRestartsCrashingWasmWorker) {
  Pid main = spawn("sup_main", {probe_->pid().bits()});
  auto m = probe_->receive_if([](const Message& m) { return m.tag() == 3; }, 10s);
  ASSERT_TRUE(m);
  Pid sup = Pid::from_bits(m->as<uint64_t>());
  ASSERT_TRUE(sup.valid());
  Pid w0;
  for (int i = 0; i < 1000 && !w0.valid(); ++i) {
    w0 = rt_->node().whereis("sw0");
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(w0.valid());
  (void)probe_->send(w0, Message::make(1, "crash"));
  Pid again;
  for (int i = 0; i < 2000; ++i) {
    again = rt_->node().whereis("sw0");
    if (again.valid() && again != w0) {
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(again.valid() && again != w0) << "sw0 was not restarted";
  (void)probe_->send(again, Message::make(2, "ping"));
  EXPECT_EQ(receive_text(2), "pong");
  EXPECT_GE(rt_->node().stats().restarts, 1u);
  rt_->node().exit(main, otp::ExitReason::kill());
}

TEST_F(RuntimeTest, GuestSimpleOneForOneSupervisorStartsAndRestartsDynamicChildren) {
  Pid main = spawn("sofo_main", {probe_->pid().bits()});
  std::set<std::string> up = {receive_text(4), receive_text(4)};  // they run concurrently
  EXPECT_EQ(up, (std::set<std::string>{"up 1", "up 2"}));
  EXPECT_EQ(receive_text(1), "ok");
  auto m = probe_->receive_if([](const Message& m) { return m.tag() == 5; }, 10s);
  ASSERT_TRUE(m);
  Pid c1 = Pid::from_bits(m->as<uint64_t>());
  ASSERT_TRUE(rt_->node().is_alive(c1));
  // A transient dynamic child that crashes comes back with its arguments.
  (void)probe_->send(c1, Message::make(1, "crash"));
  EXPECT_EQ(receive_text(4), "up 1");
  EXPECT_GE(rt_->node().stats().restarts, 1u);
  rt_->node().exit(main, otp::ExitReason::kill());
}

TEST_F(RuntimeTest, WaitReportsTheReasonOfAProcessKilledBeforeTheWait) {
  Pid p = spawn("sleeper");
  ASSERT_TRUE(p.valid());
  rt_->node().exit(p, otp::ExitReason::error("stopped by the test"));
  for (int i = 0; i < 5000 && rt_->node().is_alive(p); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_FALSE(rt_->node().is_alive(p));
  auto o = rt_->wait(p, 10s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason.to_string(), "error: stopped by the test");
}

TEST_F(RuntimeTest, HostSupervisorOfWasmWorkersRestartsThem) {
  otp::SupervisorSpec spec;
  spec.max_restarts = 5;
  spec.children.push_back(rt_->child_spec("w", this->spec("sworker", {1})));
  auto sup = otp::start_supervisor(rt_->node(), std::move(spec));
  ASSERT_TRUE(sup);
  Pid w;
  for (int i = 0; i < 1000 && !w.valid(); ++i) {
    w = rt_->node().whereis("sw1");
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(w.valid());
  (void)probe_->send(w, Message::make(1, "crash"));
  Pid again;
  for (int i = 0; i < 2000; ++i) {
    again = rt_->node().whereis("sw1");
    if (again.valid() && again != w) {
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(again.valid() && again != w);
}

TEST_F(RuntimeTest, ForeverLoopingGuestIsPreemptedWhileAnotherAnswers) {
  RuntimeOptions o;
  o.node.workers = 1;
  start(o);
  Pid spinner = spawn("spin");
  Pid echo = spawn("echo");
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(echoes(echo, "tick " + std::to_string(i)));
  }
  auto info = rt_->node().info(spinner);
  ASSERT_TRUE(info);
  EXPECT_GT(info->reductions, 0u);
  probe_->monitor(spinner);
  wait_monitored(spinner);
  rt_->node().exit(spinner, otp::ExitReason::kill());
  auto down = probe_->receive_if([](const Message& m) { return m.is_down(); }, 10s);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason().kind(), otp::ExitKind::kKilled);
}

TEST_F(RuntimeTest, WasiSuspensionYieldsAndResumes) {
  ProcessSpec s;
  s.module = "wasi_yield";
  s.function = "run";
  s.record_outcome = true;
  auto p = rt_->spawn(s);
  ASSERT_TRUE(p);
  auto o = rt_->wait(p->pid, 10s);
  EXPECT_TRUE(o && o->reason.is_normal());
}

TEST_F(RuntimeTest, ProcExitCodeBecomesExitReason) {
  ProcessSpec s;
  s.module = "wasi_yield";
  s.function = "quit";
  s.record_outcome = true;
  s.args = {0};
  auto o = rt_->wait(rt_->spawn(s)->pid, 10s);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->reason.is_normal());
  EXPECT_EQ(o->exit_code, 0u);
  s.args = {9};
  o = rt_->wait(rt_->spawn(s)->pid, 10s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason, otp::ExitReason::error("exit code 9"));
  EXPECT_EQ(o->exit_code, 9u);
}

TEST(EventLoopTest, WakesProcessWhenFdBecomesReadable) {
  otp::Node node(otp::NodeOptions{.workers = 1});
  EventLoop loop(node);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Probe probe(node);
  Pid report = probe.pid();
  auto p = node.spawn([report](otp::Context& ctx) -> otp::Task<> {
    bool woke = co_await ctx.wait_event(std::chrono::seconds(10));
    (void)ctx.send(report, Message::make(1, woke ? "woke" : "timeout"));
  });
  ASSERT_TRUE(p);
  ASSERT_TRUE(loop.watch_fd(fds[0], false, *p));
  std::this_thread::sleep_for(5ms);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  auto m = probe.receive(10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(), "woke");
  close(fds[0]);
  close(fds[1]);
  (void)node.shutdown();
}

// With idle_spin, a worker that ran a handler polls the loop for a moment
// before it blocks; then it blocks: an idle node burns no CPU. (The spin's
// effect on latency is measured by `rusm bench distributed-ping-pong`.)
TEST(EventLoopTest, AnIdleWorkerSpinsBrieflyThenBlocks) {
  otp::Node node(otp::NodeOptions{.workers = 1});
  EventLoop loop(node, 0, std::chrono::microseconds(500));
  Probe probe(node);
  Pid report = probe.pid();
  // Activity on the loop: handlers that wake a process, for a while.
  for (int i = 0; i < 50; ++i) {
    boost::asio::post(loop.context(),
                      [&node, report] { (void)node.send(report, Message::make(1, "tick")); });
    ASSERT_TRUE(probe.receive(10s));
  }
  auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  auto before = cpu();
  std::this_thread::sleep_for(300ms);
  auto used = std::chrono::duration_cast<std::chrono::milliseconds>(cpu() - before);
  EXPECT_LT(used.count(), 100) << "the idle worker kept spinning: " << used.count()
                               << " ms of CPU in 300 ms of idleness";
  // And it still answers the next event.
  boost::asio::post(loop.context(),
                    [&node, report] { (void)node.send(report, Message::make(2, "late")); });
  auto m = probe.receive(10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->tag(), 2u);
  loop.stop();
  (void)node.shutdown();
}

// The crypto calls against known answers (RFC 4231, 5869, 8032, NIST GCM),
// round trips, tampering and key handles (guests/t_crypto.c); without cap
// crypto every call is EDENIED.
TEST_F(RuntimeTest, CryptoCallsGiveKnownAnswersAndNeedTheCapability) {
  ASSERT_TRUE(rt_->load_file("t_crypto", guest("t_crypto.wasm")).is_ok());
  ProcessSpec s = spec("all", {probe_->pid().bits()});
  s.module = "t_crypto";
  ASSERT_TRUE(rt_->spawn(s).is_ok());
  EXPECT_EQ(receive_text(), "ok");
  ProcessSpec d = spec("denied", {probe_->pid().bits()}, "trusted");
  d.module = "t_crypto";
  d.caps.bits &= ~kCapCrypto;
  ASSERT_TRUE(rt_->spawn(d).is_ok());
  EXPECT_EQ(receive_text(), "denied");
  EXPECT_EQ(parse_cap("crypto"), kCapCrypto);
  EXPECT_TRUE(profile("trusted")->has(kCapCrypto));
  EXPECT_FALSE(profile("sandboxed")->has(kCapCrypto));
}

// Topics from guests (ABI v7): a subscriber gets what a publisher publishes,
// and without cap pubsub both calls are refused.
TEST_F(RuntimeTest, GuestsSubscribeAndPublishOnTopics) {
  Pid sub = spawn("topic_subscriber", {probe_->pid().bits()});
  ASSERT_TRUE(sub);
  EXPECT_EQ(receive_text(2), "subscribed");
  EXPECT_EQ(rt_->node().subscribers("news"), std::vector<Pid>{sub});
  spawn("topic_publisher", {probe_->pid().bits()});
  EXPECT_EQ(receive_text(), "published 1");
  EXPECT_EQ(receive_text(), "got 42 flash");
  EXPECT_EQ(receive_text(), "done");
  ProcessSpec d = spec("topic_denied", {probe_->pid().bits()});
  d.caps.bits &= ~kCapPubSub;
  ASSERT_TRUE(rt_->spawn(d).is_ok());
  EXPECT_EQ(receive_text(), "denied");
}

// Templates (ABI v10): a template process's state is where processes
// spawned from it start, each with its own copy and without the module's
// initialization running again (guests/t_template.c checks the state and
// the errors); a trapping template leaves nothing; a process outside the
// family cannot use a template; a family holds at most 16.
TEST_F(RuntimeTest, ProcessesStartFromATemplatesState) {
  ASSERT_TRUE(rt_->load_file("t_template", guest("t_template.wasm")).is_ok());
  ProcessSpec s = spec("all", {probe_->pid().bits()});
  s.module = "t_template";
  ASSERT_TRUE(rt_->spawn(s).is_ok());
  EXPECT_EQ(receive_text(), "ok");
  std::set<std::string> children;
  for (int i = 0; i < 4; ++i) {
    children.insert(receive_text(2));
  }
  // child 4: a supervisor's child started from the template.
  EXPECT_EQ(children, (std::set<std::string>{"child 1", "child 2", "child 3", "child 4"}));

  ProcessSpec k = spec("keeper", {probe_->pid().bits()});
  k.module = "t_template";
  auto keeper = rt_->spawn(k);
  ASSERT_TRUE(keeper.is_ok());
  auto m = probe_->receive_if([](const Message& m) { return m.tag() == 3; }, 10s);
  ASSERT_TRUE(m);
  uint64_t tmpl = 0;
  ASSERT_EQ(m->text().size(), sizeof tmpl);
  std::memcpy(&tmpl, m->text().data(), sizeof tmpl);
  ProcessSpec st = spec("stranger", {probe_->pid().bits(), tmpl});
  st.module = "t_template";
  ASSERT_TRUE(rt_->spawn(st).is_ok());
  EXPECT_EQ(receive_text(), "stranger ok");
  (void)probe_->send(keeper->pid, Message::make(99, ""));

  ProcessSpec many = spec("many", {probe_->pid().bits()});
  many.module = "t_template";
  ASSERT_TRUE(rt_->spawn(many).is_ok());
  EXPECT_EQ(receive_text(), "many ok");
}

TEST(CapabilitiesTest, ProfilesAndRestriction) {
  auto t = profile("trusted");
  auto s = profile("sandboxed");
  ASSERT_TRUE(t && s);
  EXPECT_TRUE(t->has(kCapSpawn | kCapStdio | kCapFs));
  EXPECT_EQ(s->bits, 0u);
  Capabilities want = *t;
  Capabilities got = want.restricted_to(*s);
  EXPECT_EQ(got.bits, 0u);
  EXPECT_EQ(got.max_memory_pages, s->max_memory_pages);
  EXPECT_EQ(got.profile, "custom");
  EXPECT_FALSE(profile("root"));
  EXPECT_EQ(parse_cap("registry"), kCapRegistry);
  EXPECT_FALSE(parse_cap("nuke"));
}

}  // namespace
}  // namespace rusm::runtime
