// Workers driving an event loop while idle (Node::set_idle_driver): handlers
// run on the workers, no wake-up is lost while a worker blocks in the driver,
// busy workers keep polling it, timers still fire, and removing the driver
// waits until no worker is inside it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "rusm/otp/node.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

// A stand-in event loop with the semantics of Asio's: a wake-up is a no-op
// handler posted to the queue, and wait() returns once it has run a handler,
// whichever it is. So a wake-up that another thread's poll() ran would leave
// the waiter blocked: the node must never let that happen (only one worker
// inside at a time, which `inside` checks).
class FakeLoop final : public IdleDriver {
 public:
  void post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(f));
    }
    cv_.notify_all();
  }

  void poll() override {
    Inside in(this);
    polls.fetch_add(1);
    run_ready();
  }
  void wait(int64_t timeout_ns) override {
    Inside in(this);
    waits.fetch_add(1);
    {
      std::unique_lock<std::mutex> lock(mu_);
      waiting.fetch_add(1);
      auto ready = [&] { return !queue_.empty(); };
      if (timeout_ns < 0) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), ready);
      }
      waiting.fetch_sub(1);
    }
    run_ready();
  }
  void wake() override {
    wakes.fetch_add(1);
    post([] {});
  }

  std::atomic<int> polls{0}, waits{0}, wakes{0}, waiting{0}, inside{0}, max_inside{0};

 private:
  struct Inside {
    explicit Inside(FakeLoop* l) : l(l) {
      int n = l->inside.fetch_add(1) + 1;
      int m = l->max_inside.load();
      while (n > m && !l->max_inside.compare_exchange_weak(m, n)) {
      }
    }
    ~Inside() { l->inside.fetch_sub(1); }
    FakeLoop* l;
  };
  void run_ready() {
    std::deque<std::function<void()>> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready.swap(queue_);
    }
    for (auto& f : ready) {
      f();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

Task<> tell(Context& ctx, Pid to, int tag) {
  (void)ctx.send(to, Message::make(static_cast<uint64_t>(tag)));
  co_return;
}

Task<> echo_forever(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    (void)ctx.send(m.from(), Message::make(m.tag()));
  }
}

Task<> spin(Context& ctx, std::atomic<bool>* stop) {
  while (!stop->load()) {
    co_await ctx.yield();
  }
}

Task<> sleep_then_tell(Context& ctx, Pid to) {
  auto m = co_await ctx.receive(std::chrono::milliseconds(30));
  (void)ctx.send(to, Message::make(m ? 1 : 2));
}

// n round trips from outside to an echo process: the index of the first one
// that got no (or a wrong) answer, or -1.
int lost_round_trip(Node& node, int n) {
  Probe probe(node);
  Result<Pid> echo = node.spawn(echo_forever);
  if (!echo) {
    return 0;
  }
  for (int i = 0; i < n; ++i) {
    auto tag = static_cast<uint64_t>(i + 1);
    if (!probe.send(*echo, Message::make(tag))) {
      return i;
    }
    auto m = probe.receive(kWait);
    if (!m || m->tag() != tag) {
      return i;
    }
  }
  node.exit(*echo, ExitReason::kill());
  return -1;
}

TEST(IdleDriverTest, AnIdleWorkerWaitsInTheDriverAndRunsItsHandlers) {
  Node node(small_node(1));
  FakeLoop loop;
  node.set_idle_driver(&loop);
  ASSERT_TRUE(eventually([&] { return loop.waiting.load() == 1; }))
      << "the idle worker never blocked in the driver";
  Probe probe(node);
  std::atomic<std::thread::id> ran_on{};
  loop.post([&] {
    ran_on = std::this_thread::get_id();
    ASSERT_TRUE(node.spawn(tell, probe.pid(), 7));  // from the handler, on the worker
  });
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m) << "the process spawned by a handler did not run";
  EXPECT_EQ(m->tag(), 7u);
  EXPECT_NE(ran_on.load(), std::this_thread::get_id());
  EXPECT_NE(ran_on.load(), std::thread::id{});
  node.set_idle_driver(nullptr);
}

TEST(IdleDriverTest, NoWakeUpIsLostWhileAWorkerWaitsInTheDriver) {
  for (unsigned workers : {1u, 2u}) {
    Node node(small_node(workers));
    FakeLoop loop;
    node.set_idle_driver(&loop);
    // Each round trip starts from outside while the workers are idle, so the
    // send must wake the worker blocked in the driver.
    EXPECT_EQ(lost_round_trip(node, 2000), -1) << workers << " workers";
    EXPECT_GT(loop.wakes.load(), 0) << "the waiting worker was never woken through the driver";
    EXPECT_EQ(loop.max_inside.load(), 1) << "two workers were inside the driver at once";
    node.set_idle_driver(nullptr);
  }
}

TEST(IdleDriverTest, AWakeUpReachesTheWaiterWhileAnotherWorkerIsBusy) {
  // One worker spins (and polls the driver every few slices), the other
  // waits in it; round trips from outside must wake the waiter every time.
  // Declared before the node: the spinners read it until the node joins them.
  std::atomic<bool> stop{false};
  Node node(small_node(2));
  FakeLoop loop;
  node.set_idle_driver(&loop);
  ASSERT_TRUE(node.spawn(spin, &stop));
  EXPECT_EQ(lost_round_trip(node, 3000), -1);
  EXPECT_EQ(loop.max_inside.load(), 1) << "two workers were inside the driver at once";
  stop = true;
  node.set_idle_driver(nullptr);
}

TEST(IdleDriverTest, BusyWorkersKeepPollingTheDriver) {
  // Declared before the node: the spinners read it until the node joins them.
  std::atomic<bool> stop{false};
  Node node(small_node(1));
  FakeLoop loop;
  node.set_idle_driver(&loop);
  ASSERT_TRUE(node.spawn(spin, &stop));
  ASSERT_TRUE(node.spawn(spin, &stop));
  std::atomic<bool> ran{false};
  loop.post([&] { ran = true; });
  EXPECT_TRUE(eventually([&] { return ran.load(); }))
      << "a worker that always has work never ran the driver's handlers";
  stop = true;
  node.set_idle_driver(nullptr);
}

TEST(IdleDriverTest, TimersFireWhileTheWorkerWaitsInTheDriver) {
  Node node(small_node(1));
  FakeLoop loop;
  node.set_idle_driver(&loop);
  Probe probe(node);
  ASSERT_TRUE(node.spawn(sleep_then_tell, probe.pid()));
  auto m = probe.receive(kWait);
  ASSERT_TRUE(m) << "a receive timeout did not fire while the worker waited in the driver";
  EXPECT_EQ(m->tag(), 2u);
  node.set_idle_driver(nullptr);
}

TEST(IdleDriverTest, RemovingTheDriverWaitsUntilNoWorkerIsInsideIt) {
  Node node(small_node(2));
  auto loop = std::make_unique<FakeLoop>();
  node.set_idle_driver(loop.get());
  ASSERT_TRUE(eventually([&] { return loop->waiting.load() == 1; }));
  node.set_idle_driver(nullptr);
  EXPECT_EQ(loop->inside.load(), 0);
  int calls = loop->polls.load() + loop->waits.load() + loop->wakes.load();
  loop.reset();  // a worker touching it now would be a use after free (ASan)
  // The node goes on without it: wakes go through the futex again.
  Probe probe(node);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(node.spawn(tell, probe.pid(), i + 1));
    auto m = probe.receive(kWait);
    ASSERT_TRUE(m) << "spawn " << i << " after the driver was removed did not run";
  }
  EXPECT_GT(calls, 0);
}

}  // namespace
}  // namespace rusm::otp
