#include "histogram.h"

#include <algorithm>
#include <cmath>

namespace rusm::loadtest {

uint64_t Histogram::bucket_lowest(int index) {
  if (index < kExactBelow) {
    return static_cast<uint64_t>(index);
  }
  int k = index - kExactBelow;
  int shift = k / kSubBuckets + 1;
  return static_cast<uint64_t>(k % kSubBuckets + kSubBuckets) << shift;
}

uint64_t Histogram::bucket_width(int index) {
  if (index < kExactBelow) {
    return 1;
  }
  return uint64_t{1} << ((index - kExactBelow) / kSubBuckets + 1);
}

void Histogram::merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) {
    counts_[i] += other.counts_[i];
  }
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::percentile_ns(double p) const {
  if (count_ == 0) {
    return 0;
  }
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      uint64_t mid = bucket_lowest(i) + bucket_width(i) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace rusm::loadtest
