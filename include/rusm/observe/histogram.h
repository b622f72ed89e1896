// Cheap metrics for observers: a relaxed-atomic counter and a log-linear
// latency histogram (p50/p95/p99/p999/max).
//
// Both are written from any thread with relaxed atomics only (no locks, no
// allocation) and read by taking a snapshot, which is a plain value. A
// snapshot taken while writers run is approximate in the usual way: every
// bucket is exact, but the buckets are not read at one instant. Its count is
// the sum of its buckets, so a snapshot is always self-consistent.
//
// The histogram's buckets are log-linear, like HdrHistogram's: values below
// 32 have a bucket each, and every power of two above is split into 32 equal
// buckets, so a reported percentile is within 1/64 (1.6%) of the exact one.
// 1920 buckets cover the whole uint64_t range (15 KiB per histogram).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace rusm::observe {

// A monotonic counter. Thread-safe.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// The percentiles and extremes of a histogram snapshot, in its unit (the
// node's histograms record nanoseconds).
struct Percentiles {
  uint64_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, p999 = 0;
  uint64_t min = 0, max = 0;
  double mean = 0;
};

class HistogramSnapshot;

// Thread-safe; record() is wait-free apart from rare max/min updates.
class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr uint64_t kSub = 1u << kSubBits;                // buckets per power of two
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;  // 1920

  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void record(uint64_t value);
  HistogramSnapshot snapshot() const;
  // Not atomic with concurrent record() calls: a value recorded during the
  // reset may survive it.
  void reset();

  static size_t bucket_of(uint64_t value);
  static uint64_t bucket_low(size_t bucket);    // smallest value in bucket
  static uint64_t bucket_width(size_t bucket);  // number of values in bucket

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
  std::atomic<uint64_t> min_{UINT64_MAX};
};

// A copy of a histogram's state. A plain value; merge() adds another one.
class HistogramSnapshot {
 public:
  HistogramSnapshot() : buckets_(Histogram::kBuckets, 0) {}

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t max() const { return count_ == 0 ? 0 : max_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  // The value at quantile q in [0, 1] (nearest rank, reported as the middle
  // of its bucket, clamped to [min, max]); 0 for an empty snapshot.
  double quantile(double q) const;
  Percentiles percentiles() const;
  // Non-empty buckets as (upper bound inclusive, cumulative count), for the
  // Prometheus exposition.
  std::vector<std::pair<uint64_t, uint64_t>> cumulative() const;
  void merge(const HistogramSnapshot& other);

 private:
  friend class Histogram;
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace rusm::observe
