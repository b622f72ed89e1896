// A module loaded with Tier::kAuto runs interpreted while its machine code
// is compiled in the background; when the compiled tier's cache has it, the
// loaded module adopts it (Runtime::load): processes spawned from then on run
// native code, and running ones switch at their next function entry. Its own
// binary: it links the compiled tier (LLVM).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "rusm/otp/node.h"
#include "rusm/runtime/runtime.h"
#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace rusm::runtime {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class TierUp : public ::testing::Test {
 protected:
  void SetUp() override {
    wasm::enable_compiled_tier();
    dir_ = std::filesystem::temp_directory_path() /
           ("rusm-tier-up-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    bytes_ = read(std::string(RUSM_RT_GUESTS) + "/t_abi.wasm");
    ASSERT_FALSE(bytes_.empty());
  }
  void TearDown() override {
    rt_.reset();
    if (compiler_.joinable()) {
      compiler_.join();
    }
    std::filesystem::remove_all(dir_);
  }

  // A runtime whose cache misses start a compile on a thread of the test
  // (the rusm command starts a detached `rusm compile` instead).
  void start() {
    RuntimeOptions o;
    o.node.workers = 2;
    o.compile.tier = wasm::Tier::kAuto;
    o.compile.native_cache_dir = dir_.string();
    o.compile.on_native_cache_miss = [this](std::span<const uint8_t> bytes) {
      ++misses_;
      std::vector<uint8_t> copy(bytes.begin(), bytes.end());
      std::string dir = dir_.string();
      compiler_ = std::thread([copy = std::move(copy), dir] {
        wasm::CompileOptions c;
        c.tier = wasm::Tier::kCompiled;
        c.native_cache_dir = dir;
        auto m = wasm::Module::compile(copy, c);
        EXPECT_TRUE(m) << m.message();
      });
    };
    rt_ = std::make_unique<Runtime>(o);
  }

  bool runs_add() {
    ProcessSpec s;
    s.module = "t_abi";
    s.function = "add";
    s.args = {40, 2};
    s.caps = *profile("trusted");
    s.record_outcome = true;
    auto p = rt_->spawn(s);
    if (!p) {
      ADD_FAILURE() << p.message();
      return false;
    }
    auto o = rt_->wait(p->pid, 10s);
    return o && o->reason.is_normal();
  }

  void wait_compiled() {
    // The runtime polls the cache each second; LLVM takes a few seconds here.
    for (int i = 0; i < 1200 && rt_->module_tier("t_abi") != wasm::Tier::kCompiled; ++i) {
      std::this_thread::sleep_for(100ms);
    }
  }

  std::filesystem::path dir_;
  std::vector<uint8_t> bytes_;
  std::unique_ptr<Runtime> rt_;
  std::thread compiler_;
  int misses_ = 0;
};

TEST_F(TierUp, NewProcessesRunCompiledCodeOnceTheBackgroundCompileIsDone) {
  start();
  ASSERT_TRUE(rt_->load("t_abi", bytes_));
  EXPECT_EQ(misses_, 1);
  EXPECT_EQ(rt_->module_tier("t_abi"), wasm::Tier::kInterpreter);
  EXPECT_TRUE(runs_add());  // interpreted meanwhile
  wait_compiled();
  ASSERT_EQ(rt_->module_tier("t_abi"), wasm::Tier::kCompiled);
  EXPECT_TRUE(runs_add());
  EXPECT_FALSE(rt_->module_tier("nothing"));
}

// A process that was running before the switch goes on, and its next round
// (a function call) runs compiled: it then waits in receive inside compiled
// code, on a fiber stack, which its memory figure shows.
TEST_F(TierUp, ARunningProcessSwitchesAtItsNextCall) {
  start();
  ASSERT_TRUE(rt_->load("t_abi", bytes_));
  otp::Probe probe(rt_->node());
  ProcessSpec s;
  s.module = "t_abi";
  s.function = "rounds";
  s.caps = *profile("trusted");
  s.record_outcome = true;
  auto p = rt_->spawn(s);
  ASSERT_TRUE(p) << p.message();
  uint64_t tag = 1000;
  auto round = [&] {
    ++tag;
    (void)probe.send(p->pid, otp::Message::make(tag, ""));
    auto m = probe.receive_if([&](const otp::Message& m) { return m.tag() == tag + 1; }, 10s);
    return m.has_value();
  };
  ASSERT_TRUE(round());
  auto before = rt_->node().info(p->pid);
  ASSERT_TRUE(before);
  wait_compiled();
  ASSERT_EQ(rt_->module_tier("t_abi"), wasm::Tier::kCompiled);
  ASSERT_TRUE(round());  // the round that was waiting ends interpreted
  ASSERT_TRUE(round());  // this one ran compiled, and the next waits there
  // Reported when the run that answered ends.
  size_t after = 0;
  for (int i = 0; i < 200 && after < before->memory_bytes + 4096; ++i) {
    std::this_thread::sleep_for(20ms);
    auto info = rt_->node().info(p->pid);
    ASSERT_TRUE(info);
    after = info->memory_bytes;
  }
  EXPECT_GE(after, before->memory_bytes + 4096);
  (void)probe.send(p->pid, otp::Message::make(99, ""));
  auto o = rt_->wait(p->pid, 10s);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->reason.is_normal()) << o->reason.to_string();
}

TEST_F(TierUp, AModuleReplacedMeanwhileIsNotSwappedBack) {
  start();
  ASSERT_TRUE(rt_->load("t_abi", bytes_));
  // The name now names another module (interpreted: a plain add_module).
  auto other = wasm::Module::compile(bytes_, wasm::CompileOptions{});
  ASSERT_TRUE(other);
  ASSERT_TRUE(rt_->add_module("t_abi", *other));
  compiler_.join();                     // the machine code is in the cache now
  std::this_thread::sleep_for(2500ms);  // two polls and more
  EXPECT_EQ(rt_->module_tier("t_abi"), wasm::Tier::kInterpreter);
  EXPECT_TRUE(runs_add());
}

}  // namespace
}  // namespace rusm::runtime
