// Budgets: each process's message budget (mailbox + own pending timers), the
// node's memory budget and process count, timers that die with their owner,
// and the interrupt flag that makes a kill take effect while a body runs.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "rusm/otp/node.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using test::eventually;
using test::kWait;
using test::small_node;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

Task<> sleeper(Context& ctx) {
  co_await ctx.sleep(std::chrono::hours(1));
}

// Receives and drops `n` messages, then tells `report`.
Task<> drain(Context& ctx, int n, Pid report) {
  for (int i = 0; i < n; ++i) {
    (void)co_await ctx.receive();
  }
  (void)ctx.send(report, Message::make(1));
  co_await ctx.sleep(std::chrono::hours(1));
}

TEST(BudgetTest, ASendPastTheReceiversMessageBudgetFailsAndReceivingFreesIt) {
  NodeOptions o = small_node();
  o.max_mailbox_bytes = 1 * kMiB;
  Node node(o);
  Probe probe(node);
  Result<Pid> holder = node.spawn(sleeper);
  ASSERT_TRUE(holder);
  const std::string chunk(64 * kKiB, 'x');
  int accepted = 0;
  Status last;
  for (int i = 0; i < 100; ++i) {
    last = probe.send(*holder, Message::make(1, chunk));
    if (!last) {
      break;
    }
    ++accepted;
  }
  EXPECT_EQ(accepted, 15);  // 16 x (64 KiB + a node) > 1 MiB
  ASSERT_FALSE(last);
  EXPECT_NE(last.message().find("is full"), std::string::npos) << last.message();
  auto info = node.info(*holder);
  ASSERT_TRUE(info);
  EXPECT_LE(info->mailbox_bytes, 1 * kMiB);
  EXPECT_GE(info->mailbox_bytes, 15 * 64 * kKiB);
  EXPECT_EQ(info->mailbox_limit, 1 * kMiB);

  // A receiver that takes its messages gets its budget back.
  Result<Pid> taker = node.spawn(drain, 15, probe.pid());
  ASSERT_TRUE(taker);
  for (int i = 0; i < 15; ++i) {
    ASSERT_TRUE(probe.send(*taker, Message::make(1, chunk)));
  }
  ASSERT_TRUE(probe.receive(kWait));
  EXPECT_TRUE(eventually([&] { return node.info(*taker)->mailbox_bytes == 0; }));
  EXPECT_TRUE(probe.send(*taker, Message::make(1, chunk)));
}

// Sends itself 8 MiB messages without receiving them until a send fails;
// reports how many were accepted.
Task<> self_flood(Context& ctx, Pid report) {
  const std::string big(8 * kMiB, 'y');
  uint64_t sent = 0;
  while (sent < 1000 && ctx.send(ctx.self(), Message::make(1, big))) {
    ++sent;
  }
  (void)ctx.send(report, Message::of(2, sent));
  co_await ctx.sleep(std::chrono::hours(1));
}

TEST(BudgetTest, ASelfSendLoopStopsAtTheDefaultBudgetAndExitFreesIt) {
  Node node(small_node());
  Probe probe(node);
  int64_t before = node.stats().memory_held;
  Result<Pid> p = node.spawn(self_flood, probe.pid());
  ASSERT_TRUE(p);
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<uint64_t>(), 7u);  // 64 MiB / (8 MiB + a node)
  NodeStats s = node.stats();
  EXPECT_GE(s.memory_held - before, int64_t(7 * 8 * kMiB));
  EXPECT_LE(s.memory_held - before, int64_t(64 * kMiB + 4 * kMiB));
  node.exit(*p, ExitReason::kill());
  ASSERT_TRUE(node.wait_exit(*p, kWait));
  EXPECT_TRUE(eventually([&] { return node.stats().memory_held - before < int64_t(4 * kMiB); }));
}

// Traps exits, links to and monitors `partner`, then never receives.
Task<> trapper(Context& ctx, Pid partner, Pid report) {
  ctx.trap_exit(true);
  ctx.link(partner);
  (void)ctx.monitor(partner);
  (void)ctx.send(report, Message::make(1));
  co_await ctx.sleep(std::chrono::hours(1));
}

TEST(BudgetTest, ExitAndDownSignalsReachAProcessWhoseBudgetIsFull) {
  NodeOptions o = small_node();
  o.max_mailbox_bytes = 256 * kKiB;
  Node node(o);
  Probe probe(node);
  Result<Pid> partner = node.spawn(sleeper);
  ASSERT_TRUE(partner);
  Result<Pid> t = node.spawn(trapper, *partner, probe.pid());
  ASSERT_TRUE(t);
  ASSERT_TRUE(probe.receive(kWait));
  const std::string chunk(64 * kKiB, 'z');
  size_t queued = 0;
  while (probe.send(*t, Message::make(3, chunk))) {
    ++queued;
  }
  EXPECT_EQ(queued, 3u);
  node.exit(*partner, ExitReason::error("boom"));
  EXPECT_TRUE(eventually([&] { return node.info(*t)->mailbox_length == queued + 2; }))
      << "the EXIT and DOWN must be queued even though the budget is full";
}

// Starts `n` timers of `size` bytes to `to` far in the future, reports how
// many were accepted, then waits (or exits at once if `exit_after`).
Task<> timer_owner(Context& ctx, int n, uint64_t size, Pid to, Pid report, bool exit_after) {
  const std::string payload(size, 't');
  uint64_t started = 0;
  for (int i = 0; i < n; ++i) {
    if (!ctx.send_after(std::chrono::hours(24), to, Message::make(5, payload)).valid()) {
      break;
    }
    ++started;
  }
  (void)ctx.send(report, Message::of(1, started));
  if (!exit_after) {
    (void)co_await ctx.receive_tag(9);
  }
}

TEST(BudgetTest, PendingTimersCountAgainstTheOwnerAndDieWithIt) {
  Node node(small_node());
  Probe probe(node);
  Result<Pid> gone = node.spawn(sleeper);
  ASSERT_TRUE(gone);
  node.exit(*gone, ExitReason::kill());
  ASSERT_TRUE(node.wait_exit(*gone, kWait));
  Result<Pid> owner = node.spawn(timer_owner, 100, 256 * kKiB, *gone, probe.pid(), false);
  ASSERT_TRUE(owner);
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<uint64_t>(), 100u);
  EXPECT_GE(node.stats().timer_bytes, int64_t(100 * 256 * kKiB));
  EXPECT_GE(node.info(*owner)->mailbox_bytes, 100 * 256 * kKiB);
  ASSERT_TRUE(node.send(*owner, Message::make(9)));
  ASSERT_TRUE(node.wait_exit(*owner, kWait));
  // Cancelled with their owner: the payloads are freed, not kept for 24 hours.
  EXPECT_TRUE(eventually([&] { return node.stats().timer_bytes == 0; }))
      << node.stats().timer_bytes << " bytes of timers still pending";
}

TEST(BudgetTest, ATimerPastTheOwnersBudgetIsRefused) {
  NodeOptions o = small_node();
  o.max_mailbox_bytes = 1 * kMiB;
  Node node(o);
  Probe probe(node);
  Result<Pid> owner = node.spawn(timer_owner, 100, 64 * kKiB, probe.pid(), probe.pid(), true);
  ASSERT_TRUE(owner);
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<uint64_t>(), 15u);
  ASSERT_TRUE(node.wait_exit(*owner, kWait));
  EXPECT_TRUE(eventually([&] { return node.stats().timer_bytes == 0; }));
}

TEST(BudgetTest, CancellingFromAnotherThreadFreesThePayloadAtOnce) {
  Node node(small_node());
  Probe probe(node);
  std::vector<TimerRef> refs;
  for (int i = 0; i < 64; ++i) {
    refs.push_back(node.send_after(std::chrono::hours(24), probe.pid(),
                                   Message::make(1, std::string(64 * kKiB, 'c'))));
    ASSERT_TRUE(refs.back().valid());
  }
  EXPECT_GE(node.stats().timer_bytes, int64_t(64 * 64 * kKiB));
  for (TimerRef r : refs) {
    EXPECT_TRUE(node.cancel_timer(r));
  }
  EXPECT_TRUE(eventually([&] { return node.stats().timer_bytes == 0; }))
      << node.stats().timer_bytes << " bytes of cancelled timers still held";
}

TEST(BudgetTest, SpawnsPastTheNodesMemoryBudgetFailWithAClearError) {
  NodeOptions o = small_node();
  o.max_memory_bytes = 64 * kMiB;
  Node node(o);
  EXPECT_EQ(node.stats().memory_limit, 64 * kMiB);
  ASSERT_TRUE(node.reserve_memory(60 * kMiB));
  EXPECT_FALSE(node.reserve_memory(8 * kMiB));  // would pass the budget
  ASSERT_TRUE(node.spawn(sleeper));             // 60 of 64 MiB: still room
  ASSERT_TRUE(node.reserve_memory(4 * kMiB));
  Result<Pid> p = node.spawn(sleeper);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("spawn refused: the node's memory budget is spent"), std::string::npos)
      << p.message();
  node.release_memory(8 * kMiB);
  EXPECT_TRUE(node.spawn(sleeper));
}

TEST(BudgetTest, SpawnsPastTheProcessCountFailWithAClearError) {
  NodeOptions o = small_node();
  o.max_processes = 100;
  Node node(o);
  int spawned = 0;
  Result<Pid> p = node.spawn(sleeper);
  while (p) {
    ++spawned;
    p = node.spawn(sleeper);
  }
  EXPECT_EQ(spawned, 100);
  EXPECT_NE(p.message().find("process table is full (100 processes)"), std::string::npos)
      << p.message();
  EXPECT_EQ(node.stats().max_processes, 100u);
}

// A body that never returns on its own while it has budget: like a Wasm
// guest in a long slice, it only looks at the interrupt flag.
class Spinner final : public Body {
 public:
  explicit Spinner(std::atomic<uint64_t>* spins) : spins_(spins) {}
  Step run(Context& ctx) override {
    while (!ctx.interrupt_flag().load(std::memory_order_relaxed)) {
      spins_->fetch_add(1, std::memory_order_relaxed);
    }
    return Step::yield();
  }

 private:
  std::atomic<uint64_t>* spins_;
};

TEST(BudgetTest, AKillRaisesTheInterruptFlagOfARunningBody) {
  Node node(small_node(1));
  std::atomic<uint64_t> spins{0};
  Result<Spawned> s = node.spawn_body(std::make_unique<Spinner>(&spins));
  ASSERT_TRUE(s);
  ASSERT_TRUE(eventually([&] { return spins.load() > 1000; }));  // it is running
  node.exit(s->pid, ExitReason::kill());
  EXPECT_TRUE(eventually([&] { return !node.is_alive(s->pid); })) << "the kill never took effect";
  EXPECT_EQ(node.stats().exits_killed, 1u);
}

}  // namespace
}  // namespace rusm::otp
