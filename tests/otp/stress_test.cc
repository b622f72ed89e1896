// A bounded randomized stress test: spawns, links, monitors, kills and sends
// across worker threads, then checks the invariants: every monitor gets
// exactly one DOWN, no message between live processes is lost or duplicated,
// and the process table is empty at the end.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "rusm/otp/node.h"
#include "test_util.h"

namespace rusm::otp {
namespace {

using namespace test;

constexpr uint64_t kDie = 1;
constexpr uint64_t kLinkTo = 2;
constexpr uint64_t kWatch = 3;
constexpr uint64_t kReport = 4;
constexpr uint64_t kSeq = 5;
constexpr uint64_t kDone = 6;
constexpr uint64_t kNoise = 7;

struct SeqMsg {
  uint32_t sender;
  uint32_t seq;
};

struct Counts {
  uint64_t a = 0, b = 0, c = 0;
};

Task<> victim(Context& ctx) {
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kDie) {
      co_await ctx.exit(ExitReason::error("told to die"));
    } else if (m.tag() == kLinkTo) {
      ctx.link(m.as<Pid>());
    }
  }
}

// Monitors every pid it is told about; counts DOWNs per monitor.
Task<> observer(Context& ctx) {
  std::map<MonitorRef, int> downs;
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kWatch) {
      downs[ctx.monitor(m.as<Pid>())] = 0;
    } else if (m.is_down()) {
      downs[m.ref()] += 1;
    } else if (m.tag() == kReport) {
      Counts c;
      c.a = downs.size();
      for (auto& [ref, n] : downs) {
        c.b += n == 1;
        c.c += n > 1;
      }
      (void)ctx.send(m.from(), Message::of(kReport, c));
    }
  }
}

// Checks that each sender's sequence arrives complete and in order.
Task<> receiver(Context& ctx) {
  std::map<uint32_t, uint32_t> next;
  uint64_t received = 0, bad = 0;
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kSeq) {
      SeqMsg s = m.as<SeqMsg>();
      if (next[s.sender] != s.seq) {
        ++bad;
      }
      next[s.sender] = s.seq + 1;
      ++received;
    } else if (m.tag() == kReport) {
      (void)ctx.send(m.from(), Message::of(kReport, Counts{received, bad, 0}));
    }
  }
}

Task<> sender(Context& ctx, uint32_t id, std::vector<Pid> receivers, uint32_t n, Pid report) {
  for (uint32_t i = 0; i < n; ++i) {
    for (Pid r : receivers) {
      (void)ctx.send(r, Message::of(kSeq, SeqMsg{id, i}));
    }
    if (i % 16 == 0) {
      co_await ctx.yield();
    }
  }
  (void)ctx.send(report, Message::make(kDone));
}

Task<> chaos(Context& ctx, uint32_t seed, std::vector<Pid> observers, int rounds, Pid report) {
  ctx.trap_exit(true);
  std::mt19937 rng(seed);
  std::vector<Pid> mine;
  for (int i = 0; i < rounds; ++i) {
    int op = static_cast<int>(rng() % 10);
    if (op < 4 || mine.size() < 4) {
      SpawnOptions o;
      o.label = "victim";
      o.link = rng() % 4 == 0;  // sometimes linked to us: we trap
      Result<Spawned> s = ctx.spawn_opt(o, victim);
      if (s) {
        mine.push_back(s->pid);
        if (rng() % 2 == 0) {
          (void)ctx.send(observers[rng() % observers.size()], Message::of(kWatch, s->pid));
        }
      }
    } else if (op < 5) {
      Pid a = mine[rng() % mine.size()];
      Pid b = mine[rng() % mine.size()];
      (void)ctx.send(a, Message::of(kLinkTo, b));
    } else if (op < 6) {
      ctx.exit(mine[rng() % mine.size()], ExitReason::kill());
    } else if (op < 7) {
      (void)ctx.send(mine[rng() % mine.size()], Message::make(kDie));
    } else if (op < 8) {
      // Watch a pid that may already be dead: noproc DOWNs count too.
      (void)ctx.send(observers[rng() % observers.size()],
                     Message::of(kWatch, mine[rng() % mine.size()]));
    } else {
      (void)ctx.send(mine[rng() % mine.size()], Message::make(kNoise, "noise"));
    }
    if (i % 8 == 0) {
      co_await ctx.yield();
    }
    // Drain trapped exits now and then.
    while (auto m = co_await ctx.receive(Duration(0))) {
    }
  }
  (void)ctx.send(report, Message::make(kDone));
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.is_exit() && !m.from().valid()) {
      co_await ctx.exit(m.reason());  // node shutdown
    }
  }
}

Counts ask(Probe& probe, Pid who) {
  EXPECT_TRUE(probe.send(who, Message::make(kReport)));
  auto m = probe.receive_if([&](const Message& m) { return m.tag() == kReport && m.from() == who; },
                            kWait);
  EXPECT_TRUE(m) << "no report from " << who.to_string();
  return m ? m->as<Counts>() : Counts{};
}

TEST(StressTest, InvariantsHoldUnderRandomSpawnLinkMonitorKillSend) {
  auto node = std::make_unique<Node>(small_node(2));
  Probe probe(*node);
  std::vector<Pid> observers, receivers;
  for (int i = 0; i < 3; ++i) {
    observers.push_back(*node->spawn(observer));
    receivers.push_back(*node->spawn(receiver));
  }
  constexpr uint32_t kSenders = 4, kPerSender = 2000;
  for (uint32_t i = 0; i < kSenders; ++i) {
    ASSERT_TRUE(node->spawn(sender, i, receivers, kPerSender, probe.pid()));
  }
  constexpr int kChaos = 4;
  std::vector<Pid> chaoses;
  for (int i = 0; i < kChaos; ++i) {
    chaoses.push_back(*node->spawn(chaos, 1234u + i, observers, 1500, probe.pid()));
  }
  for (uint32_t i = 0; i < kSenders + kChaos; ++i) {
    auto done = probe.receive_if([](const Message& m) { return m.tag() == kDone; }, kWait);
    ASSERT_TRUE(done) << "a sender or chaos process did not finish";
  }
  // Kill every remaining victim and wait until they are all gone.
  for (const ProcessInfo& p : node->processes()) {
    if (p.label == "victim") {
      node->exit(p.pid, ExitReason::kill());
    }
  }
  uint64_t survivors = observers.size() + receivers.size() + chaoses.size() + 1;  // + probe
  ASSERT_TRUE(eventually([&] { return node->process_count() == survivors; }))
      << node->process_count() << " processes alive, expected " << survivors;

  uint64_t monitors = 0, exactly_once = 0, duplicated = 0;
  for (Pid o : observers) {
    Counts c = ask(probe, o);
    monitors += c.a;
    exactly_once += c.b;
    duplicated += c.c;
  }
  EXPECT_GT(monitors, 100u) << "the test should have created many monitors";
  EXPECT_EQ(exactly_once, monitors) << "every monitor must get exactly one DOWN";
  EXPECT_EQ(duplicated, 0u);
  for (Pid r : receivers) {
    Counts c = ask(probe, r);
    EXPECT_EQ(c.a, uint64_t{kSenders} * kPerSender) << "messages lost or duplicated";
    EXPECT_EQ(c.b, 0u) << "messages out of order, lost or duplicated";
  }
  NodeStats stats = node->stats();
  EXPECT_GT(stats.spawns, 1000u);
  EXPECT_GT(stats.exits_killed + stats.exits_error, 100u);
  ASSERT_TRUE(node->shutdown(kWait));
  EXPECT_EQ(node->process_count(), 0u) << "the process table must be empty at the end";
  EXPECT_TRUE(node->processes().empty());
}

}  // namespace
}  // namespace rusm::otp
