#include "rusm/observe/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rusm::observe {

size_t Histogram::bucket_of(uint64_t value) {
  if (value < kSub) {
    return static_cast<size_t>(value);
  }
  int top = 63 - std::countl_zero(value);  // >= kSubBits
  int shift = top - kSubBits;
  return static_cast<size_t>(shift + 1) * kSub + static_cast<size_t>((value >> shift) - kSub);
}

uint64_t Histogram::bucket_low(size_t bucket) {
  if (bucket < kSub) {
    return bucket;
  }
  int shift = static_cast<int>(bucket / kSub) - 1;
  return (kSub + bucket % kSub) << shift;
}

uint64_t Histogram::bucket_width(size_t bucket) {
  return bucket < kSub ? 1 : uint64_t{1} << (bucket / kSub - 1);
}

void Histogram::record(uint64_t value) {
  buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  uint64_t m = max_.load(std::memory_order_relaxed);
  while (value > m && !max_.compare_exchange_weak(m, value, std::memory_order_relaxed)) {
  }
  m = min_.load(std::memory_order_relaxed);
  while (value < m && !min_.compare_exchange_weak(m, value, std::memory_order_relaxed)) {
  }
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  for (size_t i = 0; i < kBuckets; ++i) {
    s.buckets_[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count_ += s.buckets_[i];
  }
  s.sum_ = sum_.load(std::memory_order_relaxed);
  s.max_ = max_.load(std::memory_order_relaxed);
  s.min_ = min_.load(std::memory_order_relaxed);
  return s;
}

void Histogram::reset() {
  for (auto& b : buckets_) {
    b.store(0, std::memory_order_relaxed);
  }
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
  min_.store(UINT64_MAX, std::memory_order_relaxed);
}

double HistogramSnapshot::quantile(double q) const {
  if (count_ == 0) {
    return 0;
  }
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      double mid = Histogram::bucket_low(i) + (Histogram::bucket_width(i) - 1) / 2.0;
      // A concurrent snapshot may see a bucket before max/min catch up.
      double lo = static_cast<double>(min());
      double hi = static_cast<double>(std::max(max(), min()));
      return std::clamp(mid, lo, hi);
    }
  }
  return static_cast<double>(max());
}

Percentiles HistogramSnapshot::percentiles() const {
  Percentiles p;
  p.count = count_;
  p.p50 = quantile(0.50);
  p.p95 = quantile(0.95);
  p.p99 = quantile(0.99);
  p.p999 = quantile(0.999);
  p.min = min();
  p.max = max();
  p.mean = count_ == 0 ? 0 : static_cast<double>(sum_) / count_;
  return p;
}

std::vector<std::pair<uint64_t, uint64_t>> HistogramSnapshot::cumulative() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] != 0) {
      seen += buckets_[i];
      out.emplace_back(Histogram::bucket_low(i) + (Histogram::bucket_width(i) - 1), seen);
    }
  }
  return out;
}

void HistogramSnapshot::merge(const HistogramSnapshot& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) {
    buckets_[i] += other.buckets_[i];
  }
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

}  // namespace rusm::observe
