// Attacks on the node's memory: a guest, with no capability at all, tries to
// make the node hold far more than its budget (issue 9, item 5). Each test
// asserts on the budget counters (NodeStats, ProcessInfo), not on RSS.
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "wasm_fixture.h"

namespace rusm::security {
namespace {

using otp::Message;
using otp::Pid;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr int64_t kEFull = -7, kELimit = -9;

struct Pair {
  uint64_t a;
  int64_t b;
};

Pair pair_of(const Message& m) {
  Pair p{};
  std::memcpy(&p, m.text().data(), std::min(sizeof p, m.size()));
  return p;
}

class BudgetAttack : public WasmAttackTest {
 protected:
  // The pid of a process that has exited.
  Pid dead_pid() {
    Pid dead = spawn(spec("budget_attacks", "sleeper", {}));
    rt_->node().exit(dead, otp::ExitReason::kill());
    EXPECT_TRUE(rt_->wait(dead, kWait));
    return dead;
  }
};

TEST_F(BudgetAttack, SelfSendingEightMiBMessagesIsRefusedAtTheMailboxBudget) {
  start({"budget_attacks"});
  int64_t before = rt_->node().stats().memory_held;
  Pid p = spawn(spec("budget_attacks", "self_flood", {me().bits()}));
  auto m = receive(1);
  ASSERT_TRUE(m);
  Pair r = pair_of(*m);
  // 64 MiB by default: seven 8 MiB messages (and their nodes) fit, the eighth does not.
  EXPECT_EQ(r.a, 7u) << "messages accepted before the budget refused one";
  EXPECT_EQ(r.b, kEFull);
  auto info = rt_->node().info(p);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->mailbox_limit, 64 * kMiB);
  EXPECT_GE(info->mailbox_bytes, 7 * 8 * kMiB);
  EXPECT_LE(info->mailbox_bytes, 64 * kMiB);
  // The node holds the messages plus the process's memory (8 MiB of .bss), no more.
  int64_t held = rt_->node().stats().memory_held - before;
  EXPECT_LE(held, int64_t{80 * kMiB}) << "bytes the node holds for the flooding process";
  rt_->node().exit(p, otp::ExitReason::kill());
  ASSERT_TRUE(rt_->wait(p, kWait));
  EXPECT_LE(rt_->node().stats().memory_held - before, int64_t{4 * kMiB})
      << "what the process held is released when it dies";
}

TEST_F(BudgetAttack, TwoHundredTablesOfTenMillionEntriesAreRefusedAtInstantiation) {
  start({"tables_200x10m"});
  runtime::ProcessSpec s = spec("tables_200x10m", "_start", {});
  auto p = rt_->spawn(s);
  ASSERT_FALSE(p) << "a 1 KB module must not get 16 GB of tables";
  EXPECT_NE(p.message().find("instantiating 'tables_200x10m': table 0 of 10000000 elements "
                             "(80000000 bytes) refused by the resource limiter: the table would "
                             "take the process's memory and tables to 80000000 bytes, past its "
                             "limit of 16777216 bytes"),
            std::string::npos)
      << p.message();
  // A trusted process gets tables up to its memory limit, no further.
  s.caps = *runtime::profile("trusted");
  s.caps.max_memory_pages = 4096;  // 256 MiB: three tables fit
  p = rt_->spawn(s);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("table 3 of 10000000 elements"), std::string::npos) << p.message();
  EXPECT_LE(rt_->node().stats().memory_held, int64_t{16 * kMiB})
      << "the refused tables are released";
}

TEST_F(BudgetAttack, FarFutureTimersToADeadPidAreFreedWhenTheirOwnerExits) {
  start({"budget_attacks"});
  Pid dead = dead_pid();
  constexpr uint64_t kSize = 256 * 1024;
  Pid owner = spawn(spec("budget_attacks", "far_timers", {dead.bits(), 100, kSize, me().bits()}));
  auto m = receive(1);
  ASSERT_TRUE(m);
  EXPECT_EQ(pair_of(*m).a, 100u);
  EXPECT_GE(rt_->node().stats().timer_bytes, int64_t{100 * kSize});
  EXPECT_GE(rt_->node().info(owner)->mailbox_bytes, 100 * kSize)
      << "timers count against the owner";
  ASSERT_TRUE(probe_->send(owner, Message::make(9)));
  ASSERT_TRUE(rt_->wait(owner, kWait));
  auto until = std::chrono::steady_clock::now() + kWait;
  while (rt_->node().stats().timer_bytes != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(rt_->node().stats().timer_bytes, 0)
      << "the payloads of a dead owner's timers are still held (they are due in an hour)";
}

TEST_F(BudgetAttack, TimersPastTheOwnersBudgetAreRefused) {
  start({"budget_attacks"});
  Pid dead = dead_pid();
  Pid owner = spawn(spec("budget_attacks", "far_timers", {dead.bits(), 20, 8 * kMiB, me().bits()}));
  auto m = receive(1);
  ASSERT_TRUE(m);
  Pair r = pair_of(*m);
  EXPECT_EQ(r.a, 7u) << "8 MiB timers accepted within the 64 MiB budget";
  EXPECT_EQ(r.b, kELimit);
  ASSERT_TRUE(probe_->send(owner, Message::make(9)));
  ASSERT_TRUE(rt_->wait(owner, kWait));
}

TEST_F(BudgetAttack, SpawnsPastTheNodesMemoryBudgetFailWithAClearError) {
  runtime::RuntimeOptions o;
  o.node.max_memory_bytes = 64 * kMiB;
  start({"budget_attacks"}, o);
  std::vector<Pid> alive;
  Result<otp::Spawned> p = rt_->spawn(spec("budget_attacks", "sleeper", {}));
  while (p && alive.size() < 100) {
    alive.push_back(p->pid);
    p = rt_->spawn(spec("budget_attacks", "sleeper", {}));
  }
  // Each holds its 8 MiB (and a bit) of memory: seven fit in 64 MiB.
  EXPECT_EQ(alive.size(), 7u);
  ASSERT_FALSE(p);
  EXPECT_NE(p.message().find("refused by the resource limiter: the node's memory budget is spent"),
            std::string::npos)
      << p.message();
  EXPECT_NE(p.message().find("of 67108864 bytes held for processes"), std::string::npos)
      << p.message();
  // Room again once one ends.
  rt_->node().exit(alive.back(), otp::ExitReason::kill());
  ASSERT_TRUE(rt_->wait(alive.back(), kWait));
  EXPECT_TRUE(rt_->spawn(spec("budget_attacks", "sleeper", {})));
}

// `rusm run` with the budgets as flags.
struct CliRun {
  int code;
  std::string output;
};

CliRun rusm_run(const std::string& args) {
  std::string cmd = std::string(RUSM_BINARY) + " run " + args + " 2>&1";
  CliRun r{-1, ""};
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    return r;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    r.output.append(buf, n);
  }
  int status = pclose(f);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(BudgetCli, MaxMailboxBoundsASelfSendingMainProcess) {
  CliRun r = rusm_run(guest_path("budget_attacks") + " -- flood");
  EXPECT_EQ(r.code, 7) << r.output;  // accepted before EFULL, with the default 64 MiB
  r = rusm_run(guest_path("budget_attacks") + " --max-mailbox 30M -- flood");
  EXPECT_EQ(r.code, 3) << r.output;
  r = rusm_run(guest_path("budget_attacks") + " --max-mailbox lots -- flood");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--max-mailbox 'lots': expected a size like 64M"), std::string::npos)
      << r.output;
}

TEST(BudgetCli, MaxMemoryCoversTablesAndNodeMemoryBoundsTheNode) {
  CliRun r = rusm_run(guest_path("tables_200x10m"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("table 0 of 10000000 elements (80000000 bytes) refused"),
            std::string::npos)
      << r.output;
  r = rusm_run(guest_path("budget_attacks") + " --max-node-memory 4M -- flood");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("the node's memory budget is spent"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rusm::security
