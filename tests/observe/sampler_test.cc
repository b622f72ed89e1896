#include "rusm/observe/sampler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "rusm/otp/node.h"

namespace rusm::observe {
namespace {

using namespace rusm::otp;
using namespace std::chrono_literals;

Task<> trivial(Context&) {
  co_return;
}

Task<> sleeper(Context& ctx) {
  (void)co_await ctx.receive();
}

TEST(Sampler, SnapshotsAreMonotonicWhileProcessesSpawnAndExit) {
  NodeOptions no;
  no.workers = 2;
  Node node(no);
  Sampler sampler(node, SamplerOptions{.hz = 60, .table_hz = 60});
  sampler.want_table(true);
  std::atomic<int> seen{0};
  std::atomic<bool> bad{false};
  std::shared_ptr<const Snapshot> prev;
  std::string why;
  sampler.add_listener([&](std::shared_ptr<const Snapshot> s) {
    // Listeners run on the sampler thread, one at a time.
    if (prev) {
      auto exits = [](const NodeStats& st) {
        return st.exits_normal + st.exits_shutdown + st.exits_killed + st.exits_error;
      };
      if (s->seq != prev->seq + 1 || s->stats.spawns < prev->stats.spawns ||
          exits(s->stats) < exits(prev->stats) || s->t_s <= prev->t_s || s->spawns_per_s < 0) {
        bad = true;
        why = "counters or time went backwards at seq " + std::to_string(s->seq);
      }
    }
    for (double load : s->worker_load) {
      if (load < 0 || load > 1) {
        bad = true;
        why = "worker load out of [0, 1]";
      }
    }
    if (s->worker_load.size() != 2 || s->stats.workers.size() != 2) {
      bad = true;
      why = "expected two workers";
    }
    prev = s;
    ++seen;
  });
  sampler.start();
  std::vector<std::thread> spawners;
  std::atomic<bool> stop{false};
  for (int t = 0; t < 2; ++t) {
    spawners.emplace_back([&] {
      while (!stop) {
        (void)node.spawn(trivial);
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  stop = true;
  for (auto& t : spawners) {
    t.join();
  }
  sampler.stop();
  EXPECT_FALSE(bad) << why;
  EXPECT_GE(seen.load(), 20);
  std::shared_ptr<const Snapshot> last = sampler.latest();
  ASSERT_TRUE(last);
  EXPECT_GT(last->stats.spawns, 0u);
  EXPECT_GT(last->rss_bytes, 0u);
}

TEST(Sampler, TableOnlyWhenWantedAndCountsStatuses) {
  Node node(NodeOptions{.workers = 1});
  std::vector<Pid> pids;
  for (int i = 0; i < 5; ++i) {
    SpawnOptions so;
    so.label = "sleeper";
    pids.push_back(node.spawn_opt(so, sleeper)->pid);
  }
  Sampler sampler(node);
  auto without = sampler.sample_now(false);
  EXPECT_FALSE(without->has_table);
  EXPECT_TRUE(without->table.empty());
  // Processes may take a moment to reach their receive.
  std::shared_ptr<const Snapshot> with;
  for (int i = 0; i < 200; ++i) {
    with = sampler.sample_now(true);
    if (with->status.waiting == 5) {
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(with->has_table);
  EXPECT_EQ(with->table.size(), 5u);
  EXPECT_EQ(with->status.waiting, 5u);
  EXPECT_GT(with->process_memory_bytes, 0u);
  EXPECT_EQ(with->table[0].label, "sleeper");
  for (Pid p : pids) {
    node.exit(p, ExitReason::kill());
  }
}

TEST(Sampler, ClusterPeersAndTheirTrafficRates) {
  Node node(NodeOptions{.workers = 1, .node_id = 5, .name = "n5"});
  Sampler sampler(node, SamplerOptions{.hz = 50});
  EXPECT_FALSE(sampler.sample_now(false)->has_cluster) << "no peers source: not in a cluster";
  std::atomic<uint64_t> calls{0};
  sampler.set_peers_source([&] {
    uint64_t n = ++calls;
    // 1000 bytes in and 10 out per reading, on a peer that stays up.
    return std::vector<PeerNode>{{.name = "n6",
                                  .id = 6,
                                  .address = "127.0.0.1:1",
                                  .up = true,
                                  .bytes_in = 1000 * n,
                                  .bytes_out = 10 * n},
                                 {.name = "n7", .id = 7, .address = "", .up = false}};
  });
  std::atomic<bool> seen{false};
  sampler.add_listener([&](std::shared_ptr<const Snapshot> s) {
    if (s->seq >= 2 && s->has_cluster && !s->peer_in_bytes_per_s.empty() &&
        s->peer_in_bytes_per_s[0] > 0) {
      EXPECT_EQ(s->node_name, "n5");
      EXPECT_EQ(s->node_id, 5);
      ASSERT_EQ(s->peers.size(), 2u);
      EXPECT_EQ(s->peers[1].name, "n7");
      EXPECT_GT(s->peer_out_bytes_per_s[0], 0);
      EXPECT_LT(s->peer_out_bytes_per_s[0], s->peer_in_bytes_per_s[0]);
      EXPECT_EQ(s->peer_in_bytes_per_s[1], 0) << "a peer without traffic";
      seen = true;
    }
  });
  sampler.start();
  for (int i = 0; i < 500 && !seen; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  sampler.stop();
  EXPECT_TRUE(seen) << "no snapshot with the peers' rates";
}

TEST(Sampler, StartStopAreIdempotent) {
  Node node(NodeOptions{.workers = 1});
  Sampler sampler(node, SamplerOptions{.hz = 50});
  sampler.start();
  sampler.start();
  EXPECT_TRUE(sampler.running());
  std::this_thread::sleep_for(100ms);
  sampler.stop();
  sampler.stop();
  EXPECT_FALSE(sampler.running());
  ASSERT_TRUE(sampler.latest());
  EXPECT_GE(sampler.latest()->seq, 1u);
}

}  // namespace
}  // namespace rusm::observe
