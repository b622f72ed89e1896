// The compiled tier keeps the interpreter's guarantees (issue 14): a call
// suspends at a host call and resumes on another thread, fuel preempts an
// infinite loop within a slice, bulk operations charge by size, traps name
// the function, unbounded recursion is a trap, stores mark dirty chunks, and
// the cache of machine code is used and survives damage.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace rusm::wasm {
namespace {

std::vector<uint8_t> guest_bytes() {
  std::ifstream in(std::string(RUSM_TEST_GUEST_DIR) + "/tier_guest.wasm", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// host.wait: suspends when asked to (the test answers with arg * 10), else
// returns arg + 1000 at once.
struct HostState {
  bool suspend = true;
  int calls = 0;
};
HostAction wait_host(HostCall& call) {
  auto* h = static_cast<HostState*>(call.host_data());
  ++h->calls;
  if (h->suspend) {
    return HostAction::kSuspend;
  }
  call.set_result_i32(0, call.arg_i32(0) + 1000);
  return HostAction::kReturn;
}
HostAction trap_host(HostCall& call) {
  return call.trap("the host says no to this call, at some length so that it allocates");
}

class CompiledTest : public ::testing::Test {
 protected:
  void SetUp() override {
    enable_compiled_tier();
    CompileOptions o;
    o.tier = Tier::kCompiled;
    o.native_cache_dir = "off";
    auto m = Module::compile(guest_bytes(), o);
    ASSERT_TRUE(m) << m.message();
    module_ = *m;
    ASSERT_EQ(module_->tier(), Tier::kCompiled);
    wait_ = Function::host(FuncType{{ValType::I32}, {ValType::I32}}, wait_host, &host_, "wait");
    trap_ = Function::host(FuncType{{}, {}}, trap_host, nullptr, "trap");
    Imports imports;
    imports.add("host", "wait",
                Extern{.kind = ExternKind::Func, .func = wait_.get(), .owner = nullptr});
    imports.add("host", "trap",
                Extern{.kind = ExternKind::Func, .func = trap_.get(), .owner = nullptr});
    auto resolved = resolve_imports(*module_, imports);
    ASSERT_TRUE(resolved) << resolved.message();
    auto inst = Instance::instantiate(module_, *resolved);
    ASSERT_TRUE(inst) << inst.message();
    inst_ = *inst;
  }

  Function* fn(const char* name) { return inst_->exported_function(name); }

  HostState host_;
  std::shared_ptr<const Module> module_;
  std::unique_ptr<Function> wait_, trap_;
  std::shared_ptr<Instance> inst_;
};

TEST_F(CompiledTest, SuspendsInsideDeepCallsAndResumesOnAnotherThread) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("deep_wait"), std::vector<Value>{Value::i32(50)}));
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  EXPECT_EQ(e.suspended_at(), wait_.get());
  // Resume on another thread: the compiled frames (50 of them, through
  // call_indirect) are on the call's own stack, not this thread's.
  std::thread([&] {
    ASSERT_TRUE(e.set_host_results(std::vector<Value>{Value::i32(7 * 10)}));
    EXPECT_EQ(e.run(), RunStatus::kFinished);
  }).join();
  ASSERT_EQ(e.results().size(), 1u);
  EXPECT_EQ(e.results()[0].i32(), 50u * 51u / 2u + 70u);
}

// Waits until the call's parked stack is trimmed (100-200 ms idle).
size_t wait_for_trim(const Execution& e, size_t parked) {
  for (int i = 0; i < 200 && e.parked_stack_bytes() >= parked; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return e.parked_stack_bytes();
}

TEST_F(CompiledTest, AnIdleSuspendedStackIsTrimmedAndResumesWhole) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("deep_wait"), std::vector<Value>{Value::i32(30)}));
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  // Suspended: the live frames hold their stack pages.
  size_t parked = e.parked_stack_bytes();
  EXPECT_GE(parked, 4096u);
  // Idle: the frames are saved aside and the pages given back.
  size_t trimmed = wait_for_trim(e, parked);
  EXPECT_GT(trimmed, 0u);
  EXPECT_LT(trimmed, parked);
  // The results go into a compiled frame, and the call goes on on another
  // thread with all 30 frames where they were.
  std::thread([&] {
    ASSERT_TRUE(e.set_host_results(std::vector<Value>{Value::i32(70)}));
    EXPECT_EQ(e.run(), RunStatus::kFinished);
  }).join();
  ASSERT_EQ(e.results().size(), 1u);
  EXPECT_EQ(e.results()[0].i32(), 30u * 31u / 2u + 70u);
  EXPECT_EQ(e.parked_stack_bytes(), 0u);
  EXPECT_EQ(Execution().parked_stack_bytes(), 0u);
}

TEST_F(CompiledTest, TrimmedStacksSurviveManySuspensionsAndADiscard) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("wait_loop"), std::vector<Value>{Value::i32(3)}));
  uint32_t expect = 0;
  for (uint32_t times = 3; times > 0; --times) {
    ASSERT_EQ(e.run(), RunStatus::kSuspended);
    size_t parked = e.parked_stack_bytes();
    EXPECT_LT(wait_for_trim(e, parked), parked);
    ASSERT_TRUE(e.set_host_results(std::vector<Value>{Value::i32(times * 100)}));
    expect += times * 100;
  }
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), expect);
  // A trimmed call dropped by a new begin(): its saved frames are freed
  // (the ASan build checks for the leak) and its stack goes back.
  ASSERT_TRUE(e.begin(fn("deep_wait"), std::vector<Value>{Value::i32(5)}));
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  wait_for_trim(e, e.parked_stack_bytes());
  ASSERT_TRUE(e.begin(fn("count_to"), std::vector<Value>{Value::i32(10)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 10u);
}

TEST_F(CompiledTest, SuspendsManyTimesInALoop) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("wait_loop"), std::vector<Value>{Value::i32(5)}));
  uint32_t expected = 0;
  for (uint32_t times = 5; times > 0; --times) {
    ASSERT_EQ(e.run(), RunStatus::kSuspended) << times;
    ASSERT_TRUE(e.set_host_results(std::vector<Value>{Value::i32(times * 3)}));
    expected += times * 3;
  }
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), expected);
  EXPECT_EQ(host_.calls, 5);
}

TEST_F(CompiledTest, AnInfiniteLoopIsPreemptedWithinItsSlice) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("spin"), {}));
  int64_t before = 0;
  for (int slice = 0; slice < 5; ++slice) {
    ASSERT_EQ(e.run(10'000), RunStatus::kOutOfFuel);
    int64_t spent = e.fuel_consumed() - before;
    EXPECT_GE(spent, 10'000);
    EXPECT_LE(spent, 10'000 + kMaxFuelOvershoot);
    before = e.fuel_consumed();
  }
  // The loop really ran: each slice advanced the global.
  Execution g;
  ASSERT_TRUE(g.begin(fn("global"), {}));
  ASSERT_EQ(g.run(), RunStatus::kFinished);
  EXPECT_GT(g.results()[0].i32(), 5u * 1000u);
}

TEST_F(CompiledTest, FuelTracksTheWorkDone) {
  // A counting loop of n iterations costs about n times its body (3-4
  // instructions), whatever n is.
  for (uint32_t n : {1000u, 100000u}) {
    Execution e;
    ASSERT_TRUE(e.begin(fn("count_to"), std::vector<Value>{Value::i32(n)}));
    ASSERT_EQ(e.run(), RunStatus::kFinished);
    EXPECT_EQ(e.results()[0].i32(), n);
    EXPECT_GE(e.fuel_consumed(), int64_t{n} * 2);
    EXPECT_LE(e.fuel_consumed(), int64_t{n} * 8);
  }
}

TEST_F(CompiledTest, BulkOperationsChargeBySize) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("fill"), std::vector<Value>{Value::i32(65536)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_GE(e.fuel_consumed(), 65536 / int64_t{kBytesPerFuel});
  uint8_t b = 0;
  ASSERT_TRUE(inst_->memory()->read(65535, &b, 1));
  EXPECT_EQ(b, 1);
}

TEST_F(CompiledTest, TrapsNameTheFunction) {
  Execution e;
  ASSERT_TRUE(e.begin(fn("divide"), std::vector<Value>{Value::i32(1), Value::i32(0)}));
  ASSERT_EQ(e.run(), RunStatus::kTrapped);
  EXPECT_EQ(e.trap().code, TrapCode::kIntegerDivideByZero);
  EXPECT_EQ(e.trap().func_name, "divide");
  ASSERT_TRUE(e.begin(fn("oob"), std::vector<Value>{Value::i32(65533)}));
  ASSERT_EQ(e.run(), RunStatus::kTrapped);
  EXPECT_EQ(e.trap().code, TrapCode::kOutOfBoundsMemory);
  ASSERT_TRUE(e.begin(fn("call_null"), {}));
  ASSERT_EQ(e.run(), RunStatus::kTrapped);
  EXPECT_EQ(e.trap().code, TrapCode::kUninitializedElement);
  EXPECT_EQ(e.trap().message, "uninitialized element 3");
  ASSERT_TRUE(e.begin(fn("host_trap"), {}));
  ASSERT_EQ(e.run(), RunStatus::kTrapped);
  EXPECT_EQ(e.trap().code, TrapCode::kHost);
  EXPECT_NE(e.trap().message.find("the host says no"), std::string::npos);
}

TEST_F(CompiledTest, UnboundedRecursionIsATrapAndTheExecutionIsReusable) {
  Execution e;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(e.begin(fn("runaway"), std::vector<Value>{Value::i32(0)}));
    ASSERT_EQ(e.run(), RunStatus::kTrapped);
    EXPECT_EQ(e.trap().code, TrapCode::kCallStackExhausted);
    EXPECT_EQ(e.trap().func_name, "runaway");
  }
  ASSERT_TRUE(e.begin(fn("count_to"), std::vector<Value>{Value::i32(10)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 10u);
}

TEST_F(CompiledTest, StoresMarkDirtyChunksAndGrowKeepsThem) {
  Memory* m = inst_->memory();
  uint64_t before = m->written_bytes();
  Execution e;
  ASSERT_TRUE(
      e.begin(fn("store"), std::vector<Value>{Value::i32(40000), Value::i64(0x1122334455667788)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(m->written_bytes(), before + 256);
  ASSERT_TRUE(e.begin(fn("grow"), std::vector<Value>{Value::i32(3)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 1u);
  uint64_t v = 0;
  ASSERT_TRUE(m->read(40000, &v, 8));  // the memory may have moved; the bytes did not
  EXPECT_EQ(v, 0x1122334455667788u);
  auto snap = inst_->snapshot();
  ASSERT_TRUE(snap) << snap.message();
  EXPECT_GE((*snap)->memory_bytes(), 8u);
}

TEST_F(CompiledTest, AnInterruptStopsAtTheNextHostCall) {
  host_.suspend = false;
  std::atomic<bool> stop{true};
  Execution e;
  e.set_interrupt(&stop);
  ASSERT_TRUE(e.begin(fn("wait_loop"), std::vector<Value>{Value::i32(2)}));
  ASSERT_EQ(e.run(), RunStatus::kOutOfFuel);
  EXPECT_EQ(host_.calls, 0);
  stop = false;
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 2u + 1000u + 1u + 1000u);
}

TEST_F(CompiledTest, AnExecutionDroppedWhileSuspendedReleasesItsStack) {
  // Run under ASan with leak detection: nothing of the abandoned calls stays.
  for (int i = 0; i < 200; ++i) {
    Execution e;
    ASSERT_TRUE(e.begin(fn("deep_wait"), std::vector<Value>{Value::i32(20)}));
    ASSERT_EQ(e.run(), RunStatus::kSuspended);
  }
  Execution e;
  ASSERT_TRUE(e.begin(fn("deep_wait"), std::vector<Value>{Value::i32(3)}));
  ASSERT_EQ(e.run(), RunStatus::kSuspended);
  ASSERT_TRUE(e.set_host_results(std::vector<Value>{Value::i32(1)}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  EXPECT_EQ(e.results()[0].i32(), 7u);
}

TEST_F(CompiledTest, ResultsBeyondTheInitialStackFit) {
  // The trampoline writes the results where the arguments were: the
  // execution's stack must have room for them, not only for the arguments.
  Execution e(ExecutionLimits{.initial_stack_bytes = 1024});
  ASSERT_TRUE(e.begin(fn("many_results"), {}));
  ASSERT_EQ(e.run(), RunStatus::kFinished);
  std::vector<Value> r = e.results();
  ASSERT_EQ(r.size(), 130u);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].i64(), i);
  }
}

TEST(CompiledCache, CompilesOnceThenLoadsAndSurvivesADamagedEntry) {
  enable_compiled_tier();
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rusm-native-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  CompileOptions o;
  o.tier = Tier::kCompiled;
  o.native_cache_dir = dir.string();
  auto first = Module::compile(guest_bytes(), o);
  ASSERT_TRUE(first) << first.message();
  EXPECT_FALSE((*first)->from_cache());
  auto second = Module::compile(guest_bytes(), o);
  ASSERT_TRUE(second) << second.message();
  EXPECT_TRUE((*second)->from_cache());
  EXPECT_EQ((*second)->tier(), Tier::kCompiled);
  // Damage the entry: the next compile notices, compiles again, replaces it.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ofstream(entry.path(), std::ios::trunc) << "not an object file";
  }
  auto third = Module::compile(guest_bytes(), o);
  ASSERT_TRUE(third) << third.message();
  EXPECT_FALSE((*third)->from_cache());
  EXPECT_EQ((*third)->tier(), Tier::kCompiled);
  std::filesystem::remove_all(dir);
}

TEST(CompiledCache, AutoInterpretsAMissAndAsksForABackgroundCompile) {
  enable_compiled_tier();
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rusm-native-auto-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  CompileOptions o;
  o.tier = Tier::kAuto;
  o.native_cache_dir = dir.string();
  size_t asked = 0;
  o.on_native_cache_miss = [&](std::span<const uint8_t> bytes) { asked = bytes.size(); };
  auto m = Module::compile(guest_bytes(), o);
  ASSERT_TRUE(m) << m.message();
  EXPECT_EQ((*m)->tier(), Tier::kInterpreter);
  EXPECT_EQ(asked, guest_bytes().size());
  // What the background compile does; then auto finds it.
  CompileOptions fill = o;
  fill.tier = Tier::kCompiled;
  ASSERT_TRUE(Module::compile(guest_bytes(), fill));
  asked = 0;
  auto again = Module::compile(guest_bytes(), o);
  ASSERT_TRUE(again) << again.message();
  EXPECT_EQ((*again)->tier(), Tier::kCompiled);
  EXPECT_EQ(asked, 0u);
  std::filesystem::remove_all(dir);
}

// (module (func (export "run") (result i32) i32.const 42)): nothing to gain
// from compiling it.
TEST(CompiledCache, AutoInterpretsStraightLineCodeWithoutACompile) {
  enable_compiled_tier();
  const std::vector<uint8_t> bytes = {
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,        // header
      0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,              // type () -> i32
      0x03, 0x02, 0x01, 0x00,                                // one function
      0x07, 0x07, 0x01, 0x03, 'r',  'u',  'n',  0x00, 0x00,  // export "run"
      0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b};       // i32.const 42
  CompileOptions o;
  o.tier = Tier::kAuto;
  o.native_cache_dir = "off";
  bool asked = false;
  o.on_native_cache_miss = [&](std::span<const uint8_t>) { asked = true; };
  auto m = Module::compile(bytes, o);
  ASSERT_TRUE(m) << m.message();
  EXPECT_FALSE((*m)->worth_compiling());
  EXPECT_EQ((*m)->tier(), Tier::kInterpreter);
  EXPECT_FALSE(asked);
  o.tier = Tier::kCompiled;  // asked for, it is compiled all the same
  auto c = Module::compile(bytes, o);
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ((*c)->tier(), Tier::kCompiled);
  // A loop or a call between functions makes a module worth compiling.
  o.tier = Tier::kInterpreter;
  auto loops = Module::compile(guest_bytes(), o);
  ASSERT_TRUE(loops);
  EXPECT_TRUE((*loops)->worth_compiling());
}

}  // namespace
}  // namespace rusm::wasm
