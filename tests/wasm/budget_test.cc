// The embedder's controls over what an instance costs the host: the
// ResourceLimiter (asked before memories and tables are allocated or grown),
// fuel charged by host functions, and interrupts that stop a run at its next
// host call.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <vector>

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

// Records every question; refuses memories or tables past a byte budget.
class RecordingLimiter final : public ResourceLimiter {
 public:
  explicit RecordingLimiter(uint64_t budget) : budget_(budget) {}
  bool memory_growing(uint64_t current, uint64_t desired) override {
    asked.push_back({'m', current, desired});
    return take(desired - current);
  }
  bool table_growing(uint64_t current, uint64_t desired) override {
    asked.push_back({'t', current, desired});
    return take((desired - current) * kTableElementBytes);
  }
  void memory_grow_failed(uint64_t current, uint64_t desired) override {
    held -= desired - current;
  }

  struct Ask {
    char what;
    uint64_t current, desired;
    bool operator==(const Ask&) const = default;
  };
  std::vector<Ask> asked;
  uint64_t held = 0;

 private:
  bool take(uint64_t bytes) {
    if (held + bytes > budget_) {
      return false;
    }
    held += bytes;
    return true;
  }
  uint64_t budget_;
};

// env.work(units): charges `units` of fuel; counts calls; can raise an
// interrupt flag on a given call.
struct Worker {
  int calls = 0;
  int interrupt_on_call = -1;
  std::atomic<bool> interrupt{false};
  static HostAction work(HostCall& c) {
    auto* self = static_cast<Worker*>(c.host_data());
    ++self->calls;
    c.consume_fuel(c.arg_i32(0));
    if (self->calls == self->interrupt_on_call) {
      self->interrupt.store(true);
    }
    return HostAction::kReturn;
  }
};

class BudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = load("budget");
    ASSERT_TRUE(module_);
    work_ = Function::host(FuncType{{ValType::I32}, {}}, &Worker::work, &worker_, "env.work");
    Imports imports;
    Extern e;
    e.func = work_.get();
    imports.add("env", "work", e);
    auto r = resolve_imports(*module_, imports);
    ASSERT_TRUE(r.is_ok());
    resolved_ = *r;
  }
  Result<std::shared_ptr<Instance>> instantiate(ResourceLimiter* limiter) {
    InstanceOptions o;
    o.limiter = limiter;
    return Instance::instantiate(module_, resolved_, o);
  }
  uint32_t call_i32(Instance& inst, const char* name, uint32_t arg) {
    Value v = Value::i32(arg);
    auto r = call(inst.exported_function(name), {&v, 1});
    EXPECT_TRUE(r.is_ok());
    return r.is_ok() ? (*r)[0].i32() : 0;
  }

  std::shared_ptr<const Module> module_;
  Worker worker_;
  std::unique_ptr<Function> work_;
  ResolvedImports resolved_;
};

TEST_F(BudgetTest, LimiterIsAskedForTheInitialMemoryAndEveryTableAtInstantiation) {
  RecordingLimiter limiter(1 << 20);
  auto inst = instantiate(&limiter);
  ASSERT_TRUE(inst.is_ok()) << inst.message();
  using Ask = RecordingLimiter::Ask;
  EXPECT_EQ(limiter.asked, (std::vector<Ask>{{'m', 0, kPageSize}, {'t', 0, 10}, {'t', 0, 5}}));
  EXPECT_EQ(limiter.held, kPageSize + 15 * kTableElementBytes);
}

TEST_F(BudgetTest, ATableOverTheLimiterFailsInstantiationWithALimitError) {
  // Room for the memory and the first table, not the second.
  RecordingLimiter limiter(kPageSize + 10 * kTableElementBytes);
  auto inst = instantiate(&limiter);
  ASSERT_FALSE(inst.is_ok());
  EXPECT_EQ(inst.error().code(), static_cast<int>(ErrorCode::kLimit));
  EXPECT_EQ(inst.message(), "table 1 of 5 elements (40 bytes) refused by the resource limiter");
}

TEST_F(BudgetTest, AMemoryOverTheLimiterFailsInstantiationWithALimitError) {
  RecordingLimiter limiter(kPageSize - 1);
  auto inst = instantiate(&limiter);
  ASSERT_FALSE(inst.is_ok());
  EXPECT_EQ(inst.error().code(), static_cast<int>(ErrorCode::kLimit));
  EXPECT_EQ(inst.message(), "memory of 1 pages (65536 bytes) refused by the resource limiter");
}

TEST_F(BudgetTest, RefusedGrowthReturnsMinusOneAndChangesNothing) {
  RecordingLimiter limiter(4 * kPageSize + 100 * kTableElementBytes);
  auto inst = instantiate(&limiter);
  ASSERT_TRUE(inst.is_ok()) << inst.message();
  Instance& in = **inst;
  EXPECT_EQ(call_i32(in, "grow_memory", 3), 1u);  // 1 -> 4 pages: fits
  EXPECT_EQ(call_i32(in, "grow_memory", 1), 0xffffffffu);
  EXPECT_EQ(in.memory()->pages(), 4u);
  EXPECT_EQ(call_i32(in, "grow_table", 70), 10u);  // 10 -> 80 elements: fits (85 with $u)
  EXPECT_EQ(call_i32(in, "grow_table", 16), 0xffffffffu);
  EXPECT_EQ(in.table(0)->size(), 80u);
  using Ask = RecordingLimiter::Ask;
  std::vector<Ask> tail(limiter.asked.end() - 4, limiter.asked.end());
  EXPECT_EQ(tail, (std::vector<Ask>{{'m', kPageSize, 4 * kPageSize},
                                    {'m', 4 * kPageSize, 5 * kPageSize},
                                    {'t', 10, 80},
                                    {'t', 80, 96}}));
}

TEST_F(BudgetTest, TheEnginesOwnLimitsAreCheckedBeforeTheLimiterIsAsked) {
  RecordingLimiter limiter(uint64_t{1} << 40);
  auto inst = instantiate(&limiter);
  ASSERT_TRUE(inst.is_ok()) << inst.message();
  size_t asked = limiter.asked.size();
  EXPECT_EQ(call_i32(**inst, "grow_memory", 100), 0xffffffffu);  // past the type's max of 100
  EXPECT_EQ(call_i32(**inst, "grow_table", 991), 0xffffffffu);   // past the type's max of 1000
  EXPECT_EQ(limiter.asked.size(), asked);
}

TEST_F(BudgetTest, FuelChargedByAHostFunctionEndsTheRunWhenItReturns) {
  auto inst = instantiate(nullptr);
  ASSERT_TRUE(inst.is_ok());
  Execution exec;
  Value args[2] = {Value::i32(1000), Value::i32(1000)};  // 1000 calls charging 1000 each
  ASSERT_TRUE(exec.begin((*inst)->exported_function("work_loop"), args).is_ok());
  ASSERT_EQ(exec.run(10'000), RunStatus::kOutOfFuel);
  EXPECT_LE(worker_.calls, 10);  // the tenth call spent the slice
  int slices = 1;
  while (exec.run(10'000) == RunStatus::kOutOfFuel) {
    ++slices;
  }
  EXPECT_EQ(exec.status(), RunStatus::kFinished);
  EXPECT_EQ(worker_.calls, 1000);
  EXPECT_GE(exec.fuel_consumed(), 1000 * 1000);
  EXPECT_GE(slices, 100);
}

TEST_F(BudgetTest, FuelChargedBetweenRunsIsTakenFromTheNextRun) {
  auto inst = instantiate(nullptr);
  ASSERT_TRUE(inst.is_ok());
  Execution exec;
  Value args[2] = {Value::i32(10), Value::i32(0)};
  ASSERT_TRUE(exec.begin((*inst)->exported_function("work_loop"), args).is_ok());
  exec.consume_fuel(5000);
  EXPECT_EQ(exec.run(1000), RunStatus::kOutOfFuel);  // the charge alone spends it
  EXPECT_EQ(worker_.calls, 0);
  EXPECT_EQ(exec.fuel_consumed(), 5000);
  EXPECT_EQ(exec.run(), RunStatus::kFinished);
  EXPECT_EQ(worker_.calls, 10);
}

TEST_F(BudgetTest, AnInterruptStopsTheRunAtTheNextHostCallBeforeMakingIt) {
  auto inst = instantiate(nullptr);
  ASSERT_TRUE(inst.is_ok());
  Execution exec;
  exec.set_interrupt(&worker_.interrupt);
  worker_.interrupt_on_call = 5;
  Value args[2] = {Value::i32(100), Value::i32(0)};
  ASSERT_TRUE(exec.begin((*inst)->exported_function("work_loop"), args).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kOutOfFuel);  // unlimited fuel, yet it stops
  EXPECT_EQ(worker_.calls, 5);
  ASSERT_EQ(exec.run(), RunStatus::kOutOfFuel);  // still raised: stops again at once
  EXPECT_EQ(worker_.calls, 5);
  worker_.interrupt.store(false);
  ASSERT_EQ(exec.run(), RunStatus::kFinished);
  EXPECT_EQ(worker_.calls, 100);  // the interrupted call was made exactly once
}

}  // namespace
}  // namespace rusm::wasm
