// Executions: suspension at host calls and resumption on other threads, fuel
// and preemption, limits (call depth, value stack, memory pages), trap
// information, and memory recycling between instances.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "rusm/wasm.h"

namespace rusm::wasm {
namespace {

std::shared_ptr<const Module> load(const std::string& name) {
  std::ifstream in(std::string(RUSM_TEST_GUEST_DIR) + "/" + name + ".wasm", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_FALSE(bytes.empty()) << name;
  auto module = Module::compile(bytes);
  EXPECT_TRUE(module.is_ok()) << (module.is_ok() ? "" : module.error().message());
  return module.is_ok() ? *module : nullptr;
}

std::shared_ptr<Instance> instantiate(const std::shared_ptr<const Module>& module,
                                      const Imports& imports = {},
                                      const InstanceOptions& options = {}) {
  auto resolved = resolve_imports(*module, imports);
  EXPECT_TRUE(resolved.is_ok()) << (resolved.is_ok() ? "" : resolved.error().message());
  auto instance = Instance::instantiate(module, *resolved, options);
  EXPECT_TRUE(instance.is_ok()) << (instance.is_ok() ? "" : instance.error().message());
  return *instance;
}

Extern func_extern(Function* f) {
  Extern e;
  e.kind = ExternKind::Func;
  e.func = f;
  return e;
}

// A host function that always asks to suspend; the test supplies its result.
struct SuspendingHost {
  int calls = 0;
  int last_arg = -1;
  static HostAction next(HostCall& call) {
    auto* self = static_cast<SuspendingHost*>(call.host_data());
    self->calls++;
    self->last_arg = static_cast<int>(call.arg_i32(0));
    return HostAction::kSuspend;
  }
};

class SuspendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = load("suspend");
    ASSERT_TRUE(module_);
    next_ = Function::host(FuncType{{ValType::I32}, {ValType::I32}}, &SuspendingHost::next, &host_,
                           "env.next");
    Imports imports;
    imports.add("env", "next", func_extern(next_.get()));
    instance_ = instantiate(module_, imports);
    ASSERT_TRUE(instance_);
  }
  std::shared_ptr<const Module> module_;
  SuspendingHost host_;
  std::unique_ptr<Function> next_;
  std::shared_ptr<Instance> instance_;
};

TEST_F(SuspendTest, ThousandsOfSuspensionsResumedOnOtherThreadsGiveTheRightResult) {
  constexpr int kCalls = 5000;
  Execution exec;
  Value arg = Value::i32(kCalls);
  ASSERT_TRUE(exec.begin(instance_->exported_function("sum"), {&arg, 1}).is_ok());

  // Two threads take turns: each resumes the execution once, then hands it to
  // the other. The result of next(i) is 2i+1, so the sum is kCalls^2.
  std::mutex mu;
  std::condition_variable cv;
  int turn = 0;  // which thread runs next
  bool done = false;
  RunStatus last = RunStatus::kSuspended;
  std::vector<std::thread::id> resumers;
  auto worker = [&](int me) {
    for (;;) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done || turn == me; });
      if (done)
        return;
      if (exec.status() == RunStatus::kSuspended && host_.calls > 0) {
        Value r = Value::i32(static_cast<uint32_t>(2 * host_.last_arg + 1));
        ASSERT_TRUE(exec.set_host_results({&r, 1}).is_ok());
      }
      last = exec.run();
      resumers.push_back(std::this_thread::get_id());
      if (last != RunStatus::kSuspended)
        done = true;
      turn = 1 - me;
      cv.notify_all();
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();

  ASSERT_EQ(last, RunStatus::kFinished);
  EXPECT_EQ(host_.calls, kCalls);
  EXPECT_EQ(exec.results()[0].i32(), static_cast<uint32_t>(kCalls * kCalls));
  ASSERT_GE(resumers.size(), 2u);
  EXPECT_NE(resumers[0], resumers[1]);  // really moved between threads
}

TEST_F(SuspendTest, DeepRecursionSuspendsAtTheBottomAndUnwindsAfterResume) {
  constexpr uint32_t kDepth = 5000;  // far more than a native stack would like per frame
  Execution exec;
  Value arg = Value::i32(kDepth);
  ASSERT_TRUE(exec.begin(instance_->exported_function("deep"), {&arg, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kSuspended);
  EXPECT_EQ(exec.suspended_at(), next_.get());
  // Resume on another thread.
  std::thread([&] {
    Value r = Value::i32(100);
    ASSERT_TRUE(exec.set_host_results({&r, 1}).is_ok());
    ASSERT_EQ(exec.run(), RunStatus::kFinished);
  }).join();
  EXPECT_EQ(exec.results()[0].i32(), kDepth + 100);
}

TEST_F(SuspendTest, ResultsOfTheWrongTypeAreRefused) {
  Execution exec;
  Value arg = Value::i32(1);
  ASSERT_TRUE(exec.begin(instance_->exported_function("sum"), {&arg, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kSuspended);
  Value wrong = Value::i64(1);
  EXPECT_FALSE(exec.set_host_results({&wrong, 1}).is_ok());
  EXPECT_FALSE(exec.set_host_results({}).is_ok());
  Value right = Value::i32(41);
  ASSERT_TRUE(exec.set_host_results({&right, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kFinished);
  EXPECT_EQ(exec.results()[0].i32(), 41u);
}

TEST_F(SuspendTest, ASuspendedExecutionCanBeDropped) {
  auto exec = std::make_unique<Execution>();
  Value arg = Value::i32(10);
  ASSERT_TRUE(exec->begin(instance_->exported_function("sum"), {&arg, 1}).is_ok());
  ASSERT_EQ(exec->run(), RunStatus::kSuspended);
  exec.reset();  // no leak, no crash (ASan checks)
  // The instance is still usable by a fresh execution.
  Execution again;
  ASSERT_TRUE(again.begin(instance_->exported_function("sum"), {&arg, 1}).is_ok());
  EXPECT_EQ(again.run(), RunStatus::kSuspended);
}

TEST(HostTrapTest, AHostTrapCarriesItsMessage) {
  auto module = load("suspend");
  ASSERT_TRUE(module);
  auto trapping = Function::host(
      FuncType{{ValType::I32}, {ValType::I32}},
      [](HostCall& call) { return call.trap("denied by the host"); }, nullptr, "env.next");
  Imports imports;
  imports.add("env", "next", func_extern(trapping.get()));
  auto instance = instantiate(module, imports);
  Execution exec;
  Value arg = Value::i32(3);
  ASSERT_TRUE(exec.begin(instance->exported_function("sum"), {&arg, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kTrapped);
  EXPECT_EQ(exec.trap().code, TrapCode::kHost);
  EXPECT_EQ(exec.trap().message, "denied by the host");
}

class FuelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = load("fuel");
    ASSERT_TRUE(module_);
    instance_ = instantiate(module_);
    ASSERT_TRUE(instance_);
  }
  std::shared_ptr<const Module> module_;
  std::shared_ptr<Instance> instance_;
};

TEST_F(FuelTest, AnInfiniteLoopComesBackOutOfFuelAgainAndAgain) {
  Execution exec;
  ASSERT_TRUE(exec.begin(instance_->exported_function("spin"), {}).is_ok());
  int64_t before = 0;
  for (int slice = 0; slice < 100; ++slice) {
    ASSERT_EQ(exec.run(1000), RunStatus::kOutOfFuel);
    EXPECT_GT(exec.fuel_consumed(), before);  // it did work in every slice
    before = exec.fuel_consumed();
  }
  EXPECT_GE(before, 100 * 1000);
}

TEST_F(FuelTest, AnOutOfFuelExecutionCanBeDroppedOrReused) {
  auto exec = std::make_unique<Execution>();
  ASSERT_TRUE(exec->begin(instance_->exported_function("spin"), {}).is_ok());
  ASSERT_EQ(exec->run(500), RunStatus::kOutOfFuel);
  // Reuse: begin() discards the spinning call.
  Value n = Value::i64(10);
  ASSERT_TRUE(exec->begin(instance_->exported_function("count"), {&n, 1}).is_ok());
  ASSERT_EQ(exec->run(), RunStatus::kFinished);
  EXPECT_EQ(exec->results()[0].i64(), 10u);
  // Drop while out of fuel.
  ASSERT_TRUE(exec->begin(instance_->exported_function("spin"), {}).is_ok());
  ASSERT_EQ(exec->run(500), RunStatus::kOutOfFuel);
  exec.reset();
}

TEST_F(FuelTest, ALongLoopRunInSlicesGivesTheSameResult) {
  constexpr uint64_t kN = 200'000;
  Execution exec;
  Value n = Value::i64(kN);
  ASSERT_TRUE(exec.begin(instance_->exported_function("count"), {&n, 1}).is_ok());
  int slices = 0;
  RunStatus s;
  while ((s = exec.run(777)) == RunStatus::kOutOfFuel)
    ++slices;
  ASSERT_EQ(s, RunStatus::kFinished);
  EXPECT_EQ(exec.results()[0].i64(), kN);
  EXPECT_GT(slices, 100);  // it really was preempted many times
}

TEST_F(FuelTest, BulkMemoryOperationsChargeBySize) {
  // A 4-page fill with a small budget: the fill completes (it is one
  // instruction) but is charged in full, so the slice ends right after it.
  Execution exec;
  Value len = Value::i32(4 * kPageSize);
  ASSERT_TRUE(exec.begin(instance_->exported_function("fill"), {&len, 1}).is_ok());
  ASSERT_EQ(exec.run(100), RunStatus::kOutOfFuel);
  EXPECT_GE(exec.fuel_consumed(), int64_t{4 * kPageSize / 64});
  uint8_t last = 0;
  ASSERT_TRUE(instance_->memory()->read(4 * kPageSize - 1, &last, 1));
  EXPECT_EQ(last, 7);
  ASSERT_EQ(exec.run(), RunStatus::kFinished);
}

TEST_F(FuelTest, UnboundedRecursionIsAStackExhaustionTrap) {
  Execution exec;
  Value x = Value::i64(1);
  ASSERT_TRUE(exec.begin(instance_->exported_function("recurse"), {&x, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kTrapped);
  EXPECT_EQ(exec.trap().code, TrapCode::kCallStackExhausted);
}

TEST(LimitsTest, CallDepthLimitIsATrap) {
  auto module = load("fuel");
  auto instance = instantiate(module);
  ExecutionLimits limits;
  limits.max_call_depth = 64;
  Execution exec(limits);
  Value x = Value::i64(1);
  ASSERT_TRUE(exec.begin(instance->exported_function("recurse"), {&x, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kTrapped);
  EXPECT_EQ(exec.trap().code, TrapCode::kCallStackExhausted);
  // The same module with a bigger limit traps too, only deeper: the limit is ours.
}

TEST(LimitsTest, ValueStackLimitIsATrap) {
  auto module = load("limits");
  auto instance = instantiate(module);
  ExecutionLimits limits;
  limits.max_call_depth = 1'000'000;   // not the limit that stops it
  limits.max_stack_bytes = 64 * 1024;  // ~ 64 KiB of locals
  Execution exec(limits);
  Value x = Value::i64(1);
  ASSERT_TRUE(exec.begin(instance->exported_function("fat"), {&x, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kTrapped);
  EXPECT_EQ(exec.trap().code, TrapCode::kCallStackExhausted);
}

TEST(LimitsTest, MemoryPagesPerInstanceAreCapped) {
  auto module = load("limits");
  InstanceOptions options;
  options.max_memory_pages = 3;
  auto instance = instantiate(module, {}, options);
  Function* grow = instance->exported_function("grow");
  Value one = Value::i32(1);
  auto r = call(grow, {&one, 1});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].i32(), 1u);  // 1 -> 2 pages
  Value two = Value::i32(2);
  r = call(grow, {&two, 1});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].i32(), 0xffffffffu);  // 4 pages > cap: -1, memory unchanged
  EXPECT_EQ(instance->memory()->pages(), 2u);
  r = call(grow, {&one, 1});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].i32(), 2u);  // up to the cap is fine
}

TEST(TrapInfoTest, TrapNamesTheFunctionFromTheNameSection) {
  auto module = load("limits");
  auto instance = instantiate(module);
  Execution exec;
  ASSERT_TRUE(exec.begin(instance->exported_function("calls_boom"), {}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kTrapped);
  const Trap& trap = exec.trap();
  EXPECT_EQ(trap.code, TrapCode::kUnreachable);
  EXPECT_EQ(trap.func_name, "boom");
  EXPECT_EQ(trap.func_index, module->find_export("boom")->index);
  EXPECT_NE(trap.to_string().find("unreachable"), std::string::npos) << trap.to_string();
  EXPECT_NE(trap.to_string().find("boom"), std::string::npos) << trap.to_string();
}

TEST(TrapInfoTest, OutOfBoundsAccessIsATrapNotACrash) {
  auto module = load("limits");
  auto instance = instantiate(module);
  Value args[] = {Value::i32(kPageSize - 2), Value::i32(1)};
  auto r = call(instance->exported_function("poke"), args);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.error().message().find("out of bounds memory access"), std::string::npos)
      << r.error().message();
}

TEST(MemoryRecyclingTest, ARecycledMemoryIsCleanAndHasItsDataSegment) {
  auto module = load("limits");
  for (int round = 0; round < 50; ++round) {
    auto instance = instantiate(module);
    Memory* mem = instance->memory();
    ASSERT_EQ(mem->pages(), 1u);
    const size_t clean_footprint = instance->memory_footprint();
    char text[5] = {};
    ASSERT_TRUE(mem->read(16, text, 4));
    EXPECT_STREQ(text, "rusm");
    // What the previous round wrote must be gone.
    Value addr = Value::i32(1024);
    auto r = call(instance->exported_function("peek"), {&addr, 1});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ((*r)[0].i32(), 0u) << "round " << round;
    // Dirty it, and grow, for the next round.
    Value args[] = {Value::i32(1024), Value::i32(0xdeadbeef)};
    ASSERT_TRUE(call(instance->exported_function("poke"), args).is_ok());
    ASSERT_TRUE(mem->write(40000, "dirty", 5));
    Value one = Value::i32(1);
    ASSERT_TRUE(call(instance->exported_function("grow"), {&one, 1}).is_ok());
    // Footprint counts the chunks written, not the reservation.
    EXPECT_GT(instance->memory_footprint(), clean_footprint);
  }
}

// Dirty marks are per 256-byte chunk; a store that straddles a chunk boundary
// and host writes spanning many chunks must all be undone on release.
TEST(MemoryRecyclingTest, WritesAcrossChunkBoundariesAreZeroedOnRelease) {
  auto module = load("limits");
  const std::vector<uint32_t> straddling = {254, 510, 4094, 4095 + 256, 65532};
  for (int round = 0; round < 4; ++round) {
    auto instance = instantiate(module);
    Memory* mem = instance->memory();
    ASSERT_EQ(mem->pages(), 1u);
    std::vector<uint8_t> all(kPageSize);
    ASSERT_TRUE(mem->read(0, all.data(), all.size()));
    for (size_t i = 0; i < all.size(); ++i) {
      if (i < 16 || i >= 20) {
        ASSERT_EQ(all[i], 0) << "round " << round << ", byte " << i << " survived a recycle";
      }
    }
    for (uint32_t a : straddling) {
      Value args[] = {Value::i32(a), Value::i32(0xffffffff)};
      ASSERT_TRUE(call(instance->exported_function("poke"), args).is_ok()) << a;
    }
    std::vector<uint8_t> ones(3000, 0x5a);
    ASSERT_TRUE(mem->write(9000, ones.data(), ones.size()));
  }
}

TEST(MemoryAccessTest, HostAccessIsBoundsChecked) {
  auto module = load("limits");
  auto instance = instantiate(module);
  Memory* mem = instance->memory();
  char buf[8];
  EXPECT_FALSE(mem->read(kPageSize - 4, buf, 8));
  EXPECT_FALSE(mem->write(~uint64_t{0} - 2, buf, 8));  // offset + len overflows
  EXPECT_EQ(mem->span(kPageSize, 1), nullptr);
  EXPECT_NE(mem->span(kPageSize - 1, 1), nullptr);
  EXPECT_TRUE(mem->write(kPageSize - 8, "12345678", 8));
}

}  // namespace
}  // namespace rusm::wasm
