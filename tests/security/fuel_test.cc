// Attacks on fair scheduling through host calls (issue 9, item 6): a host
// call that moves megabytes must cost what it moves, and a kill must take
// effect at the next host call even in a slice that would never end. The
// assertions count slices, reductions and message order, never time.
#include <string>
#include <thread>

#include "wasm_fixture.h"

namespace rusm::security {
namespace {

using otp::Message;
using otp::Pid;

constexpr uint64_t kMiB = 1024 * 1024;

class FuelAttack : public WasmAttackTest {};

TEST_F(FuelAttack, AMessageReadLoopLetsASleeperOnTheSameWorkerWakeWithinBoundedSlices) {
  runtime::RuntimeOptions o;
  o.node.workers = 1;
  start({"fuel_attacks"}, o);
  constexpr uint64_t kReads = 64;
  // The sleeper naps 1 ms from when the reader starts reading.
  Pid sleeper = spawn(spec("fuel_attacks", "nap", {me().bits(), 1'000'000, 1}));
  Pid reader = spawn(spec("fuel_attacks", "read_loop", {me().bits(), kReads, sleeper.bits()}));
  ASSERT_TRUE(sleeper && reader);
  uint64_t runs_before = rt_->node().stats().workers[0].runs;
  ASSERT_TRUE(probe_->send(reader, Message::make(1, std::string(12 * kMiB, 'r'))));
  // Each 12 MiB read costs 12 MiB / 64 fuel, more than a slice: so the
  // reader yields after every read (the sleeper, woken by its go message,
  // runs then and starts its nap), and the worker checks its timers at
  // least every 32 slices. The sleeper wakes long before the 64th read.
  // (When reads cost one call, all 64 run in the reader's first slice.)
  auto first = probe_->receive(kWait);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text(), "woke") << "the reader's 64 reads all ran before the 1 ms sleeper woke";
  auto second = probe_->receive(kWait);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->text(), "done");
  auto info = rt_->node().info(reader);
  ASSERT_TRUE(info);
  const uint64_t fuel_per_read = 12 * kMiB / 64;
  EXPECT_GE(info->reductions, kReads * fuel_per_read / 20) << "reads charged by the bytes copied";
  EXPECT_GE(rt_->node().stats().workers[0].runs - runs_before, kReads)
      << "every read ended its slice";
}

TEST_F(FuelAttack, SendsAreChargedByTheBytesTheyCopy) {
  start({"fuel_attacks"});
  Pid dead = spawn(spec("fuel_attacks", "nap", {me().bits(), 0, 0}));
  ASSERT_TRUE(receive(1));
  ASSERT_TRUE(rt_->wait(dead, kWait));
  constexpr uint64_t kSends = 100;
  Pid sender = spawn(spec("fuel_attacks", "send_loop", {dead.bits(), kSends, me().bits()}));
  ASSERT_TRUE(receive(2));
  auto info = rt_->node().info(sender);
  ASSERT_TRUE(info);
  EXPECT_GE(info->reductions, kSends * (kMiB / 64) / 20) << "100 sends of 1 MiB";
}

TEST_F(FuelAttack, WasiWritesAreChargedByTheBytesTheyMove) {
  start({"fuel_attacks"});
  constexpr uint64_t kWrites = 16;
  Pid writer = spawn(spec("fuel_attacks", "write_loop", {me().bits(), kWrites}));
  ASSERT_TRUE(receive(2));
  auto info = rt_->node().info(writer);
  ASSERT_TRUE(info);
  EXPECT_GE(info->reductions, kWrites * (12 * kMiB / 64) / 20) << "16 fd_writes of 12 MiB";
}

class KillAttack : public WasmAttackTest {
 protected:
  void SetUp() override {
    runtime::RuntimeOptions o;
    o.node.slice_reductions = int64_t{1} << 40;  // a slice that never runs out
    start({"fuel_attacks"}, o);
  }
  // Spawns call_loop and waits until it runs (its "looping" message cannot
  // be read yet: the probe it woke waits behind it on its worker).
  Pid start_looper() {
    runtime::ProcessSpec s = spec("fuel_attacks", "call_loop", {me().bits()});
    s.record_outcome = true;  // wait() then names the reason even if it is gone already
    Pid looper = spawn(s);
    auto until = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < until) {
      auto info = rt_->node().info(looper);
      if (info && info->status == otp::ProcessStatus::kRunning) {
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    std::this_thread::sleep_for(10ms);  // well into its loop
    return looper;
  }
};

TEST_F(KillAttack, AKillTakesEffectAtTheNextHostCallOfAProcessThatNeverYields) {
  Pid looper = start_looper();
  rt_->node().exit(looper, otp::ExitReason::kill());
  auto out = rt_->wait(looper, kWait);
  ASSERT_TRUE(out) << "the kill waited for a slice that does not end";
  EXPECT_EQ(out->reason.kind(), otp::ExitKind::kKilled);
  EXPECT_TRUE(receive(1)) << "it did start its loop";
  EXPECT_FALSE(receive(2, 10ms)) << "it went on after the kill";
}

TEST_F(KillAttack, ShutdownStopsAProcessInTheMiddleOfItsSlice) {
  Pid looper = start_looper();
  probe_.reset();
  Status s = rt_->node().shutdown(std::chrono::seconds(10));
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_FALSE(rt_->node().is_alive(looper));
}

}  // namespace
}  // namespace rusm::security
