// Per-worker run queue: a bounded ring the owning worker pushes to and pops
// from, and other workers steal half of when they run dry.
//
// HOT PATH (guarded by bench spawn-storm and fairness). Only the owner writes
// tail_; head_ moves by CAS (owner pops and thieves steal the same way), so a
// thief copies the entries it wants, then claims them with one CAS and retries
// if the owner or another thief got there first.
#pragma once

#include <atomic>
#include <cstdint>

namespace rusm::otp::detail {

class Process;

class RunQueue {
 public:
  static constexpr uint32_t kCapacity = 512;

  // Owner only. False if full.
  bool push(Process* p) {
    uint32_t t = tail_.load(std::memory_order_relaxed);
    uint32_t h = head_.load(std::memory_order_acquire);
    if (t - h >= kCapacity) {
      return false;
    }
    buf_[t & kMask].store(p, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // Owner only. Oldest first; null if empty.
  Process* pop() {
    uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      uint32_t t = tail_.load(std::memory_order_relaxed);
      if (h == t) {
        return nullptr;
      }
      Process* p = buf_[h & kMask].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return p;
      }
    }
  }

  // Any thread: takes up to half (at least one) of the entries into out[];
  // returns how many. out must hold kCapacity / 2 + 1 entries.
  uint32_t steal(Process** out, uint32_t max) {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_acquire);
      uint32_t n = t - h;
      if (n == 0 || n > kCapacity) {
        if (n == 0) {
          return 0;
        }
        continue;  // torn read of head/tail; retry
      }
      n -= n / 2;
      if (n > max) {
        n = max;
      }
      for (uint32_t i = 0; i < n; ++i) {
        out[i] = buf_[(h + i) & kMask].load(std::memory_order_relaxed);
      }
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
        return n;
      }
    }
  }

  uint32_t size() const {
    uint32_t t = tail_.load(std::memory_order_relaxed);
    uint32_t h = head_.load(std::memory_order_relaxed);
    return t - h > kCapacity ? 0 : t - h;
  }

 private:
  static constexpr uint32_t kMask = kCapacity - 1;
  std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  std::atomic<Process*> buf_[kCapacity];
};

}  // namespace rusm::otp::detail
