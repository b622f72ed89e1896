// A running call switches to compiled code at its next function entry
// (Module::adopt_native_code): the frames already running go on interpreted,
// every call after the switch runs compiled on a fiber, and both tiers share
// the instance's memory, globals and tables. Suspension, fuel and traps keep
// their meaning across the boundary.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <unistd.h>

#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace rusm::wasm {
namespace {

std::vector<uint8_t> guest_bytes(const char* name) {
  std::ifstream in(std::string(RUSM_TEST_GUEST_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// host.wait: suspends (the test answers), or answers n * 10 at once.
HostAction wait_host(HostCall& call) {
  if (*static_cast<bool*>(call.host_data())) {
    return HostAction::kSuspend;
  }
  call.set_result_i32(0, call.arg_i32(0) * 10);
  return HostAction::kReturn;
}

std::shared_ptr<const Module> compile(const std::vector<uint8_t>& bytes, Tier tier) {
  CompileOptions o;
  o.tier = tier;
  o.native_cache_dir = "off";
  auto m = Module::compile(bytes, o);
  EXPECT_TRUE(m) << m.message();
  return m ? *m : nullptr;
}

class SwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    enable_compiled_tier();
    bytes_ = guest_bytes("switch_guest.wasm");
    ASSERT_FALSE(bytes_.empty());
    module_ = compile(bytes_, Tier::kInterpreter);
    compiled_ = compile(bytes_, Tier::kCompiled);
    ASSERT_TRUE(module_ && compiled_);
    ASSERT_EQ(module_->tier(), Tier::kInterpreter);
    wait_ = Function::host(FuncType{{ValType::I32}, {ValType::I32}}, wait_host, &suspend_, "wait");
    inst_ = instantiate();
  }

  std::shared_ptr<Instance> instantiate() {
    Imports imports;
    imports.add("host", "wait",
                Extern{.kind = ExternKind::Func, .func = wait_.get(), .owner = nullptr});
    auto resolved = resolve_imports(*module_, imports);
    EXPECT_TRUE(resolved) << resolved.message();
    auto inst = Instance::instantiate(module_, *resolved);
    EXPECT_TRUE(inst) << inst.message();
    return inst ? *inst : nullptr;
  }

  // Answers the suspended host.wait(n) with n * 10.
  static void answer(Execution& e, uint32_t n) {
    ASSERT_TRUE(e.set_host_results(std::vector<Value>{Value::i32(n * 10)}));
  }

  uint32_t stored(uint32_t n) {
    uint32_t v = 0;
    EXPECT_TRUE(inst_->memory()->read(n * 4, &v, 4));
    return v;
  }

  bool suspend_ = true;
  std::vector<uint8_t> bytes_;
  std::shared_ptr<const Module> module_, compiled_;
  std::unique_ptr<Function> wait_;
  std::shared_ptr<Instance> inst_;
};

TEST_F(SwitchTest, ARunningCallSwitchesAtItsNextFunctionEntry) {
  Execution e;
  ASSERT_TRUE(e.begin(inst_->exported_function("driver"), std::vector<Value>{Value::i32(6)}));
  // Rounds 0 and 1 run interpreted: a suspension holds no native stack.
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  EXPECT_EQ(e.parked_stack_bytes(), 0u);
  answer(e, 0);
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  EXPECT_EQ(e.parked_stack_bytes(), 0u);

  // The compiled code arrives while round 1 waits in an interpreted frame.
  ASSERT_TRUE(module_->adopt_native_code(*compiled_));
  EXPECT_EQ(module_->tier(), Tier::kCompiled);
  answer(e, 1);  // into the interpreted frame, which finishes interpreted
  // Round 2 (call) and round 3 (call_indirect) enter compiled code: they
  // suspend on a fiber, and resume on other threads.
  for (uint32_t n = 2; n < 6; ++n) {
    ASSERT_EQ(e.run(), RunStatus::kSuspended) << n;
    EXPECT_GT(e.parked_stack_bytes(), 0u) << n;
    std::thread([&] { answer(e, n); }).join();
  }
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  ASSERT_EQ(e.results().size(), 1u);
  EXPECT_EQ(e.results()[0].i32(), 11u * (0 + 1 + 2 + 3 + 4 + 5));
  EXPECT_EQ(e.parked_stack_bytes(), 0u);
  // Both tiers wrote the same memory and global.
  for (uint32_t n = 0; n < 6; ++n) {
    EXPECT_EQ(stored(n), n * 10) << n;
  }
  ASSERT_TRUE(e.begin(inst_->exported_function("global"), {}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 6u);
}

TEST_F(SwitchTest, InstancesFromBeforeAndAfterTheSwitchStartCompiled) {
  ASSERT_TRUE(module_->adopt_native_code(*compiled_));
  std::shared_ptr<Instance> later = instantiate();
  ASSERT_TRUE(later);
  for (const std::shared_ptr<Instance>& inst : {inst_, later}) {
    Execution e;
    ASSERT_TRUE(e.begin(inst->exported_function("step"), std::vector<Value>{Value::i32(4)}));
    ASSERT_EQ(e.run(), RunStatus::kSuspended);
    EXPECT_GT(e.parked_stack_bytes(), 0u);  // suspended inside compiled code
    answer(e, 4);
    ASSERT_EQ(e.run(), RunStatus::kFinished);
    EXPECT_EQ(e.results()[0].i32(), 44u);
  }
}

TEST_F(SwitchTest, ATrapInACompiledCalleeNamesItAndEndsTheCall) {
  Execution e;
  ASSERT_TRUE(e.begin(inst_->exported_function("countdown"), std::vector<Value>{Value::i32(3)}));
  ASSERT_TRUE(module_->adopt_native_code(*compiled_));
  EXPECT_EQ(e.run(), RunStatus::kTrapped);
  EXPECT_EQ(e.trap().code, TrapCode::kIntegerDivideByZero);
  EXPECT_EQ(e.trap().func_name, "divide");
  EXPECT_EQ(e.parked_stack_bytes(), 0u);
  // The Execution is reusable after the trap.
  suspend_ = false;
  ASSERT_TRUE(e.begin(inst_->exported_function("driver"), std::vector<Value>{Value::i32(4)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 11u * (0 + 1 + 2 + 3));
}

// An interpreted loop calling compiled functions: each run stops within a
// slice's budget, and the result is the interpreter's.
TEST_F(SwitchTest, FuelPreemptsAcrossTheBoundary) {
  constexpr uint32_t kN = 3000;
  uint32_t expect = 0;
  for (uint32_t i = 0; i < kN; ++i) {
    expect += i * (i + 1) / 2;
  }
  Execution e;
  ASSERT_TRUE(e.begin(inst_->exported_function("calls"), std::vector<Value>{Value::i32(kN)}));
  ASSERT_EQ(e.run(5000), RunStatus::kOutOfFuel);  // interpreted so far
  ASSERT_TRUE(module_->adopt_native_code(*compiled_));
  int slices = 0;
  RunStatus s;
  while ((s = e.run(5000)) == RunStatus::kOutOfFuel) {
    ++slices;
    ASSERT_LT(slices, 100000);
  }
  ASSERT_EQ(s, RunStatus::kFinished);
  EXPECT_GT(slices, 100);  // ~ kN^2 / 2 loop iterations, 5000 units a slice
  EXPECT_EQ(e.results()[0].i32(), expect);
}

// Calls run on another thread while the module adopts its compiled code.
TEST_F(SwitchTest, AdoptingWhileAnotherThreadRunsTheModule) {
  suspend_ = false;
  std::atomic<bool> adopted{false};
  std::atomic<int> after{0};
  std::thread runner([&] {
    Execution e;
    for (int i = 0; i < 200000 && after.load() < 200; ++i) {
      bool was = adopted.load();
      ASSERT_TRUE(e.begin(inst_->exported_function("driver"), std::vector<Value>{Value::i32(8)}));
      ASSERT_EQ(e.run(), RunStatus::kFinished);
      ASSERT_EQ(e.results()[0].i32(), 11u * 28u);
      if (was) {
        ++after;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(module_->adopt_native_code(*compiled_));
  adopted = true;
  runner.join();
  EXPECT_GE(after.load(), 200);
}

// Under Tier::kAuto a call that begins at a short straight-line function
// (step: no loop, calls only an import) is interpreted although the module
// has machine code; a call that begins at driver (a loop) runs compiled, and
// so do its calls of step.
TEST_F(SwitchTest, AutoInterpretsCallsThatBeginAtAShortStraightLineFunction) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rusm-switch-auto-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  CompileOptions o;
  o.tier = Tier::kCompiled;
  o.native_cache_dir = dir.string();
  ASSERT_TRUE(Module::compile(bytes_, o));  // fills the cache
  o.tier = Tier::kAuto;
  auto m = Module::compile(bytes_, o);
  ASSERT_TRUE(m) << m.message();
  ASSERT_EQ((*m)->tier(), Tier::kCompiled);
  module_ = *m;
  inst_ = instantiate();
  ASSERT_TRUE(inst_);

  Execution e;
  ASSERT_TRUE(e.begin(inst_->exported_function("step"), std::vector<Value>{Value::i32(3)}));
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  EXPECT_EQ(e.parked_stack_bytes(), 0u);  // interpreted: no fiber
  answer(e, 3);
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 33u);

  ASSERT_TRUE(e.begin(inst_->exported_function("driver"), std::vector<Value>{Value::i32(2)}));
  for (uint32_t n = 0; n < 2; ++n) {
    ASSERT_EQ(e.run(), RunStatus::kSuspended);
    EXPECT_GT(e.parked_stack_bytes(), 0u);  // step, called from compiled code
    answer(e, n);
  }
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 11u);
  std::filesystem::remove_all(dir);
}

TEST_F(SwitchTest, AdoptingNeedsCompiledCodeOfTheSameModule) {
  auto other = compile(guest_bytes("tier_guest.wasm"), Tier::kCompiled);
  ASSERT_TRUE(other);
  Status s = module_->adopt_native_code(*other);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("not this module"), std::string::npos) << s.message();
  // The same shape (functions, types, code sizes), one constant changed:
  // divide's 1000 becomes 1001 (LEB128 e8 07 -> e9 07).
  std::vector<uint8_t> edited = bytes_;
  const uint8_t i32_const_1000[] = {0x41, 0xe8, 0x07};
  auto at = std::search(edited.begin(), edited.end(), std::begin(i32_const_1000),
                        std::end(i32_const_1000));
  ASSERT_NE(at, edited.end());
  at[1] = 0xe9;
  auto lookalike = compile(edited, Tier::kCompiled);
  ASSERT_TRUE(lookalike);
  s = module_->adopt_native_code(*lookalike);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("not this module"), std::string::npos) << s.message();
  auto interpreted = compile(bytes_, Tier::kInterpreter);
  s = module_->adopt_native_code(*interpreted);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("no compiled code"), std::string::npos) << s.message();
  EXPECT_EQ(module_->tier(), Tier::kInterpreter);
  EXPECT_TRUE(module_->adopt_native_code(*compiled_));
  EXPECT_TRUE(module_->adopt_native_code(*compiled_));  // once is enough
  EXPECT_EQ(module_->tier(), Tier::kCompiled);
}

}  // namespace
}  // namespace rusm::wasm
