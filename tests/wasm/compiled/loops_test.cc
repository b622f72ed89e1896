// Guarded loops (src/wasm/llvm/loop_guards.h): the compiled tier runs a loop
// without its per-iteration bounds checks, fuel checks and dirty marks when
// one check before the loop proves them. Each loop here runs under the
// interpreter, under the compiled tier, and under the compiled tier built
// without that pass (RUSM_LLVM_NO_VERSIONING=1); the three must agree on
// results, traps, every byte of memory and the bytes counted as written, and
// the two compiled builds on the fuel charged, slice by slice.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace rusm::wasm {
namespace {

std::vector<uint8_t> loops_bytes() {
  std::ifstream in(std::string(RUSM_TEST_GUEST_DIR) + "/loops_guest.wasm", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

enum class Build { kInterpreter, kGuarded, kUnguarded };

std::shared_ptr<const Module> compile(Build build, const std::string& dump = "") {
  enable_compiled_tier();
  CompileOptions o;
  o.tier = build == Build::kInterpreter ? Tier::kInterpreter : Tier::kCompiled;
  o.native_cache_dir = "off";
  if (build == Build::kUnguarded) {
    setenv("RUSM_LLVM_NO_VERSIONING", "1", 1);
  }
  if (!dump.empty()) {
    setenv("RUSM_LLVM_DUMP", dump.c_str(), 1);
  }
  auto m = Module::compile(loops_bytes(), o);
  unsetenv("RUSM_LLVM_NO_VERSIONING");
  unsetenv("RUSM_LLVM_DUMP");
  EXPECT_TRUE(m) << m.message();
  return m ? *m : nullptr;
}

struct Outcome {
  RunStatus status = RunStatus::kFinished;
  TrapCode trap = TrapCode::kHost;
  std::vector<Value> results;
  std::vector<int64_t> slices;  // fuel spent by each slice
  std::vector<uint8_t> memory;
  uint64_t written = 0;
};

// Runs name(args) on a fresh instance whose memory holds `init` at offset 0,
// in slices of `slice` fuel.
Outcome run(const std::shared_ptr<const Module>& m, const char* name, std::vector<Value> args,
            int64_t slice = 1'000'000'000) {
  Outcome out;
  auto inst = Instance::instantiate(m, {});
  EXPECT_TRUE(inst) << inst.message();
  if (!inst) {
    return out;
  }
  Memory* mem = (*inst)->memory();
  std::vector<uint8_t> init(8192);
  for (size_t i = 0; i < init.size(); ++i) {
    init[i] = static_cast<uint8_t>(i * 7 + 3);
  }
  EXPECT_TRUE(mem->write(0, init.data(), init.size()));
  Execution e;
  EXPECT_TRUE(e.begin((*inst)->exported_function(name), args));
  int64_t before = 0;
  for (int guard = 0; guard < 100'000; ++guard) {
    out.status = e.run(slice);
    out.slices.push_back(e.fuel_consumed() - before);
    before = e.fuel_consumed();
    if (out.status != RunStatus::kOutOfFuel) {
      break;
    }
  }
  if (out.status == RunStatus::kTrapped) {
    out.trap = e.trap().code;
  } else if (out.status == RunStatus::kFinished) {
    auto results = e.results();
    out.results.assign(results.begin(), results.end());
  }
  out.memory.resize(mem->size_bytes());
  EXPECT_TRUE(mem->read(0, out.memory.data(), out.memory.size()));
  out.written = mem->written_bytes();
  return out;
}

class GuardedLoops : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    interp_ = compile(Build::kInterpreter);
    unguarded_ = compile(Build::kUnguarded);
    std::filesystem::path dump =
        std::filesystem::temp_directory_path() / ("rusm-loops-" + std::to_string(getpid()) + ".ll");
    std::filesystem::remove(dump);
    guarded_ = compile(Build::kGuarded, dump.string());
    std::ifstream in(dump);
    ir_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::filesystem::remove(dump);
  }
  static void TearDownTestSuite() {
    interp_.reset();
    unguarded_.reset();
    guarded_.reset();
  }

  // All three agree; returns the guarded build's outcome.
  static Outcome agree(const char* name, std::vector<Value> args, int64_t slice = 1'000'000'000) {
    Outcome a = run(interp_, name, args, slice);
    Outcome b = run(unguarded_, name, args, slice);
    Outcome c = run(guarded_, name, args, slice);
    EXPECT_EQ(a.status, c.status) << name;
    EXPECT_EQ(b.status, c.status) << name;
    EXPECT_EQ(a.trap, c.trap) << name;
    EXPECT_EQ(a.results.size(), c.results.size()) << name;
    for (size_t i = 0; i < std::min(a.results.size(), c.results.size()); ++i) {
      EXPECT_EQ(a.results[i].f64_bits(), c.results[i].f64_bits()) << name << " result " << i;
    }
    EXPECT_TRUE(a.memory == c.memory) << name << ": memory differs from the interpreter's";
    EXPECT_TRUE(b.memory == c.memory) << name << ": memory differs from the unguarded build's";
    EXPECT_EQ(a.written, c.written) << name;
    EXPECT_EQ(b.slices, c.slices) << name << ": fuel charged differs";
    return c;
  }

  static std::shared_ptr<const Module> interp_, unguarded_, guarded_;
  static std::string ir_;
};
std::shared_ptr<const Module> GuardedLoops::interp_;
std::shared_ptr<const Module> GuardedLoops::unguarded_;
std::shared_ptr<const Module> GuardedLoops::guarded_;
std::string GuardedLoops::ir_;

TEST_F(GuardedLoops, ThePassGuardsTheLoopsItCanProve) {
  ASSERT_NE(guarded_, nullptr);
  ASSERT_EQ(guarded_->tier(), Tier::kCompiled);
  // axpy, copy_down, wrap_store and fill_bytes store: each guarded copy marks
  // its stores' range once, before the loop.
  size_t marks = 0;
  for (size_t at = ir_.find("call void @rusm_rt_mark_range"); at != std::string::npos;
       at = ir_.find("call void @rusm_rt_mark_range", at + 1)) {
    ++marks;
  }
  EXPECT_GE(marks, 4u) << "loops left with their guards";
}

TEST_F(GuardedLoops, InBoundsLoopsMatchTheInterpreter) {
  Outcome o = agree("axpy", {Value::i32(4096), Value::i32(0), Value::i32(500), Value::f64(3.0)});
  EXPECT_EQ(o.status, RunStatus::kFinished);
  agree("copy_down", {Value::i32(20000), Value::i32(10), Value::i32(3000)});
  Outcome s = agree("sum", {Value::i32(64), Value::i32(2000)});
  ASSERT_EQ(s.results.size(), 1u);
  agree("fill_bytes", {Value::i32(1000), Value::i32(3000)});
  agree("axpy", {Value::i32(0), Value::i32(0), Value::i32(0), Value::f64(1.0)});
}

TEST_F(GuardedLoops, ALoopThatRunsOffTheEndTrapsAtTheSameStore) {
  // The 500th store is the first past the end of 2 pages: 499 happen first.
  uint32_t dst = 2 * 65536 - 8 * 499;
  Outcome o = agree("axpy", {Value::i32(dst), Value::i32(0), Value::i32(1000), Value::f64(2.0)});
  EXPECT_EQ(o.status, RunStatus::kTrapped);
  EXPECT_EQ(o.trap, TrapCode::kOutOfBoundsMemory);
  // The reads run off the end instead of the writes.
  agree("axpy", {Value::i32(0), Value::i32(2 * 65536 - 800), Value::i32(200), Value::f64(2.0)});
  agree("sum", {Value::i32(2 * 65536 - 400), Value::i32(101)});
  agree("fill_bytes", {Value::i32(2 * 65536 - 10), Value::i32(11)});
  // The store's offset pushes the last byte out.
  agree("copy_down", {Value::i32(2 * 65536 - 1000), Value::i32(0), Value::i32(998)});
}

TEST_F(GuardedLoops, AddressesThatWrapAroundAreNotProvenInBounds) {
  // Addresses 2^32 - 256 + 8 i: the first 32 are out of bounds, then they
  // wrap to 0, 8, ... 248. Skipping the first 32 stores, every store is in
  // bounds; a proof that missed the wrap would see huge addresses (and fail
  // safe) or, worse, wrong ones.
  Outcome o = agree("wrap_store", {Value::i32(0xFFFFFF00u), Value::i32(64), Value::i32(32)});
  EXPECT_EQ(o.status, RunStatus::kFinished);
  uint64_t v = 0;
  std::memcpy(&v, o.memory.data() + 8 * 5, 8);
  EXPECT_EQ(v, 37u);
  Outcome t = agree("wrap_store", {Value::i32(0xFFFFFF00u), Value::i32(64), Value::i32(0)});
  EXPECT_EQ(t.status, RunStatus::kTrapped);
  agree("wrap_store", {Value::i32(512), Value::i32(1000), Value::i32(10)});
}

TEST_F(GuardedLoops, LongLoopsAreStillPreemptedAndChargedTheSame) {
  // 100,000 iterations in 10,000-fuel slices: the guarded copy cannot prove
  // its fuel for the whole loop, so it runs checked, and yields as before.
  Outcome o = agree("fill_bytes", {Value::i32(0), Value::i32(100'000)}, 10'000);
  EXPECT_EQ(o.status, RunStatus::kFinished);
  ASSERT_GT(o.slices.size(), 10u);
  for (size_t i = 0; i + 1 < o.slices.size(); ++i) {
    EXPECT_LE(o.slices[i], 10'000 + kMaxFuelOvershoot);
  }
  // Loops around the slice's size: those that fit run guarded, the others
  // checked; either way the fuel charged per slice is the same.
  for (uint32_t n : {100u, 500u, 1000u, 1500u, 2000u, 2500u, 3000u, 5000u}) {
    agree("fill_bytes", {Value::i32(0), Value::i32(n)}, 10'000);
  }
  agree("axpy", {Value::i32(4096), Value::i32(0), Value::i32(300), Value::f64(0.5)}, 5'000);
}

}  // namespace
}  // namespace rusm::wasm
