// A log-linear latency histogram for the load driver, in the spirit of
// HdrHistogram: values below 128 ns are exact; above, each power of two is
// split into 64 linear sub-buckets, so a recorded value is known to within
// 1/64 (reported at the bucket's midpoint, i.e. within 0.8%). Values are
// nanoseconds, clamped to 2^44 ns (about 4.9 hours).
//
// Not thread-safe: each driver thread records into its own histogram and the
// run merges them at the end. record() is O(1) with no allocation (the
// counts are a fixed array of ~20 KiB).
#pragma once

#include <array>
#include <cstdint>

namespace rusm::loadtest {

class Histogram {
 public:
  static constexpr int kExactBelow = 128;
  static constexpr int kSubBuckets = 64;
  static constexpr int kMaxShift = 37;  // 2^44 ns: msb 43 -> shift 37
  static constexpr int kBuckets = kExactBelow + kMaxShift * kSubBuckets;

  void record(uint64_t ns) {
    ++counts_[index_of(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) {
      min_ = ns;
    }
    if (ns > max_) {
      max_ = ns;
    }
  }
  void merge(const Histogram& other);
  void reset() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t min_ns() const { return count_ == 0 ? 0 : min_; }
  uint64_t max_ns() const { return max_; }
  double mean_ns() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The value at percentile `p` (0..100): the midpoint of the bucket that
  // holds the ceil(p% * count)-th smallest value, clamped to [min, max].
  // 0 for an empty histogram.
  uint64_t percentile_ns(double p) const;

  static int index_of(uint64_t ns) {
    if (ns < kExactBelow) {
      return static_cast<int>(ns);
    }
    int msb = 63 - __builtin_clzll(ns);
    int shift = msb - 6;
    if (shift > kMaxShift) {
      return kBuckets - 1;
    }
    return kExactBelow + (shift - 1) * kSubBuckets + static_cast<int>((ns >> shift) - kSubBuckets);
  }
  // [lowest, lowest + width) is the range of values that land in `index`.
  static uint64_t bucket_lowest(int index);
  static uint64_t bucket_width(int index);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace rusm::loadtest
