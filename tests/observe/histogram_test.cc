#include "rusm/observe/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace rusm::observe {
namespace {

// Nearest-rank percentile of sorted data, the definition the histogram uses.
double exact(const std::vector<uint64_t>& sorted, double q) {
  size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * sorted.size())));
  return static_cast<double>(sorted[rank - 1]);
}

TEST(Histogram, BucketsCoverEveryValueWithoutGaps) {
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::bucket_low(b) + Histogram::bucket_width(b), Histogram::bucket_low(b + 1))
        << "gap or overlap after bucket " << b;
  }
  for (uint64_t v : {0ull, 1ull, 31ull, 32ull, 33ull, 1000ull, 123456789ull, ~0ull}) {
    size_t b = Histogram::bucket_of(v);
    ASSERT_LT(b, Histogram::kBuckets);
    EXPECT_LE(Histogram::bucket_low(b), v);
    EXPECT_LE(v - Histogram::bucket_low(b), Histogram::bucket_width(b) - 1) << v;
  }
}

TEST(Histogram, PercentilesWithinBucketErrorOfExactOnRandomData) {
  std::mt19937_64 rng(42);
  // Latency-like data: log-normal around 20 us, with a tail.
  std::lognormal_distribution<double> dist(std::log(20000.0), 1.0);
  for (int round = 0; round < 5; ++round) {
    Histogram h;
    std::vector<uint64_t> values;
    size_t n = 1000 + round * 20000;
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = static_cast<uint64_t>(dist(rng));
      values.push_back(v);
      h.record(v);
    }
    std::sort(values.begin(), values.end());
    HistogramSnapshot s = h.snapshot();
    ASSERT_EQ(s.count(), n);
    EXPECT_EQ(s.max(), values.back());
    EXPECT_EQ(s.min(), values.front());
    for (double q : {0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
      double want = exact(values, q);
      double got = s.quantile(q);
      EXPECT_LE(std::fabs(got - want), want / 64 + 0.5)
          << "q=" << q << " n=" << n << ": histogram says " << got << ", exact is " << want;
    }
    Percentiles p = s.percentiles();
    EXPECT_EQ(p.max, values.back());
    EXPECT_NEAR(p.p99, exact(values, 0.99), exact(values, 0.99) / 64 + 0.5);
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 32; ++v) {
    h.record(v);
  }
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.quantile(0.5), 15);
  EXPECT_EQ(s.quantile(1.0), 31);
  EXPECT_EQ(s.quantile(0.0), 0);
}

TEST(Histogram, EmptySnapshotIsZero) {
  Histogram h;
  Percentiles p = h.snapshot().percentiles();
  EXPECT_EQ(p.count, 0u);
  EXPECT_EQ(p.p50, 0);
  EXPECT_EQ(p.max, 0u);
}

TEST(Histogram, SnapshotsStayConsistentUnderConcurrentRecording) {
  Histogram h;
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 200000;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      while (!go.load()) {
      }
      std::mt19937_64 rng(t);
      for (uint64_t i = 0; i < kPerThread; ++i) {
        h.record(rng() % 1'000'000);
      }
    });
  }
  go = true;
  uint64_t last = 0;
  int snapshots = 0;
  while (last < kThreads * kPerThread) {
    HistogramSnapshot s = h.snapshot();
    ASSERT_GE(s.count(), last) << "count went backwards";
    last = s.count();
    if (s.count() > 0) {
      // Percentiles are ordered and inside [min, max] even mid-update.
      Percentiles p = s.percentiles();
      ASSERT_LE(p.p50, p.p99);
      ASSERT_LE(p.p99, p.p999);
      ASSERT_LE(p.p999, static_cast<double>(p.max));
      ASSERT_LT(p.max, 1'000'000u);
    }
    ++snapshots;
  }
  for (auto& w : writers) {
    w.join();
  }
  EXPECT_EQ(h.snapshot().count(), kThreads * kPerThread);
  EXPECT_GT(snapshots, 1);
}

TEST(Histogram, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 0; i < 100; ++i) {
    a.record(100);
    b.record(10000);
  }
  HistogramSnapshot s = a.snapshot();
  s.merge(b.snapshot());
  EXPECT_EQ(s.count(), 200u);
  EXPECT_EQ(s.min(), 100u);
  EXPECT_EQ(s.max(), 10000u);
  EXPECT_NEAR(s.quantile(0.25), 100, 2);
  EXPECT_NEAR(s.quantile(0.75), 10000, 10000 / 64.0);
}

TEST(Counter, SumsConcurrentAdds) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.add();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(c.value(), 400000u);
}

}  // namespace
}  // namespace rusm::observe
