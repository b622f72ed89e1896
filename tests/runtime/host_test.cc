// The extension seam of rusm/runtime/host.h: resource tables, a host module
// added from outside the runtime, a Suspension woken by Node::wake, a first
// resource handed to a spawned process and told how the process ended.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "rusm/runtime/runtime.h"

namespace rusm::runtime {
namespace {

using namespace std::chrono_literals;

struct Counted : Resource {
  explicit Counted(std::atomic<int>* live) : live_(live) { live_->fetch_add(1); }
  ~Counted() override { live_->fetch_sub(1); }
  std::atomic<int>* live_;
};
struct Other : Resource {};

TEST(ResourceTable, HandlesArePositiveTypedAndStaleAfterClose) {
  std::atomic<int> live{0};
  ResourceTable t;
  int32_t a = t.add(std::make_unique<Counted>(&live));
  EXPECT_EQ(a, ResourceTable::kFirstHandle);
  int32_t b = t.add(std::make_unique<Other>());
  EXPECT_GT(b, 0);
  EXPECT_NE(a, b);
  EXPECT_NE(t.get<Counted>(a), nullptr);
  EXPECT_EQ(t.get<Other>(a), nullptr) << "a handle of another type";
  EXPECT_EQ(t.get<Counted>(0), nullptr);
  EXPECT_EQ(t.get<Counted>(-5), nullptr);
  EXPECT_EQ(t.get<Counted>(a + 4096), nullptr) << "a handle never given out";
  EXPECT_EQ(t.size(), 2u);

  EXPECT_TRUE(t.close(a));
  EXPECT_EQ(live.load(), 0) << "closing destroys the resource";
  EXPECT_FALSE(t.close(a));
  int32_t c = t.add(std::make_unique<Counted>(&live));
  EXPECT_NE(c, a) << "the slot is reused under a new generation";
  EXPECT_EQ(t.get<Counted>(a), nullptr) << "the stale handle does not name the new resource";
  EXPECT_NE(t.get<Counted>(c), nullptr);
}

TEST(ResourceTable, RefusesPastTheLimitAndNull) {
  ResourceTable t;
  EXPECT_EQ(t.add(nullptr), 0);
  for (size_t i = 0; i < ResourceTable::kMaxResources; ++i) {
    ASSERT_GT(t.add(std::make_unique<Other>()), 0) << i;
  }
  EXPECT_EQ(t.add(std::make_unique<Other>()), 0);
  EXPECT_EQ(t.size(), ResourceTable::kMaxResources);
}

// test.block(handle) -> i32: suspends until the Gate under `handle` opens
// (set from another thread, then Node::wake), then returns 42; EBADARG for
// a handle that is not a Gate.
struct Gate final : Resource, Suspension {
  std::atomic<bool> open{false};
  std::atomic<bool>* destroyed;
  std::shared_ptr<std::string>* exit_reason;
  int resumes = 0;
  Gate(std::atomic<bool>* d, std::shared_ptr<std::string>* r) : destroyed(d), exit_reason(r) {}
  ~Gate() override { destroyed->store(true); }
  void on_process_exit(const otp::ExitReason& reason) override {
    std::atomic_store(exit_reason, std::make_shared<std::string>(reason.to_string()));
  }
  Wait wait(Process&) override { return Wait::event(); }
  Resumed resume(Process& p, otp::Context&) override {
    ++resumes;
    if (!open.load()) {
      return Resumed::kWait;  // a stale wake: wait again
    }
    wasm::Value v = wasm::Value::i32(42);
    EXPECT_TRUE(p.execution().set_host_results({&v, 1}).is_ok());
    return Resumed::kContinue;
  }
};

wasm::HostAction block(wasm::HostCall& c) {
  Process& p = Process::of(c);
  Gate* g = p.resources().get<Gate>(static_cast<int32_t>(c.arg_i32(0)));
  if (g == nullptr) {
    c.set_result_i32(0, static_cast<uint32_t>(kErrBadArg));
    return wasm::HostAction::kReturn;
  }
  return p.suspend(g);
}

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RuntimeOptions o;
    o.node.workers = 2;
    rt_ = std::make_unique<Runtime>(o);
    wasm::FuncType t{{wasm::ValType::I32}, {wasm::ValType::I32}};
    ASSERT_TRUE(rt_->add_host_function("test", "block", t, block).is_ok());
    ASSERT_TRUE(rt_->load_file("host_ext", std::string(RUSM_RT_GUESTS) + "/host_ext.wasm").is_ok());
  }
  Result<otp::Spawned> spawn(const char* entry, std::unique_ptr<Resource> r) {
    ProcessSpec spec;
    spec.module = "host_ext";
    spec.function = entry;
    spec.args = {static_cast<uint64_t>(ResourceTable::kFirstHandle)};
    spec.record_outcome = true;
    return rt_->spawn(spec, std::move(r));
  }
  std::unique_ptr<Runtime> rt_;
};

TEST_F(HostTest, TheNameOfAHostFunctionIsTakenOnce) {
  wasm::FuncType t{{wasm::ValType::I32}, {wasm::ValType::I32}};
  Status s = rt_->add_host_function("test", "block", t, block);
  EXPECT_FALSE(s.is_ok());
}

TEST_F(HostTest, SuspensionWaitsForWakeIgnoresStaleWakesAndResumes) {
  std::atomic<bool> destroyed{false};
  std::shared_ptr<std::string> reason;
  auto gate = std::make_unique<Gate>(&destroyed, &reason);
  Gate* g = gate.get();
  auto p = spawn("handle", std::move(gate));
  ASSERT_TRUE(p.is_ok()) << p.message();
  std::this_thread::sleep_for(50ms);
  rt_->node().wake(p->pid);  // stale: the gate is still shut
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(rt_->node().is_alive(p->pid)) << "a stale wake must not end the wait";
  EXPECT_FALSE(destroyed.load());
  g->open.store(true);
  rt_->node().wake(p->pid);
  std::optional<Outcome> o = rt_->wait(p->pid, 5s);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->reason.is_normal()) << o->reason.to_string();
  EXPECT_TRUE(destroyed.load()) << "the process's resources die with it";
  auto r = std::atomic_load(&reason);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "normal");
}

TEST_F(HostTest, AResourceLearnsThatItsProcessTrapped) {
  std::atomic<bool> destroyed{false};
  std::shared_ptr<std::string> reason;
  auto p = spawn("crash", std::make_unique<Gate>(&destroyed, &reason));
  ASSERT_TRUE(p.is_ok()) << p.message();
  std::optional<Outcome> o = rt_->wait(p->pid, 5s);
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->reason.is_normal());
  EXPECT_TRUE(destroyed.load());
  auto r = std::atomic_load(&reason);
  ASSERT_TRUE(r);
  EXPECT_NE(r->find("unreachable"), std::string::npos) << *r;
}

TEST_F(HostTest, AWrongHandleIsAnErrorNotACrash) {
  std::atomic<bool> destroyed{false};
  std::shared_ptr<std::string> reason;
  auto p = spawn("wrong_handle", std::make_unique<Gate>(&destroyed, &reason));
  ASSERT_TRUE(p.is_ok()) << p.message();
  std::optional<Outcome> o = rt_->wait(p->pid, 5s);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->reason.is_normal()) << "the guest saw EBADARG: " << o->reason.to_string();
}

TEST_F(HostTest, AKilledProcessReleasesItsResources) {
  std::atomic<bool> destroyed{false};
  std::shared_ptr<std::string> reason;
  auto p = spawn("handle", std::make_unique<Gate>(&destroyed, &reason));
  ASSERT_TRUE(p.is_ok()) << p.message();
  std::this_thread::sleep_for(20ms);
  rt_->node().exit(p->pid, otp::ExitReason::kill());
  std::optional<Outcome> o = rt_->wait(p->pid, 5s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reason.to_string(), "killed");
  EXPECT_TRUE(destroyed.load());
  auto r = std::atomic_load(&reason);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "killed");
}

}  // namespace
}  // namespace rusm::runtime
