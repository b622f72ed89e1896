// Timers: a hierarchical timing wheel per worker, so that millions of pending
// timers cost O(1) to insert, cancel and fire.
//
// Six levels of 64 slots at 1 ms per tick cover 64^6 ms (thousands of years).
// A timer sits in the level of the highest 6-bit group in which its deadline
// differs from the wheel's clock; when the clock reaches the start of a
// higher-level slot, that slot's timers cascade down. An occupancy bitmap per
// level lets the wheel skip empty stretches.
//
// A wheel belongs to one worker thread (the timer's home). Timers are also
// referenced from other threads (TimerRef, a process's receive timeout), so
// Timer records are type-stable (pooled, never freed) and carry an atomic
// state word (id << 2 | state): cancelling from another thread is a CAS
// (pending -> cancelling) that loses cleanly against firing or reuse. While
// a timer is kCancelling its home worker does not recycle it, so the
// canceller may read it; it then stores kCancelled and asks the home worker
// to reclaim it (Worker::post_reclaim), which frees the payload at once
// rather than when the slot comes due.
#pragma once

#include <atomic>
#include <cstdint>

#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"

namespace rusm::otp::detail {

class Worker;
class TimerWheel;

struct Timer {
  enum State : uint64_t { kPending = 0, kFired = 1, kCancelled = 2, kCancelling = 3 };
  enum class Kind : uint8_t { kReceiveTimeout, kSendAfter };

  Timer* next = nullptr;
  Timer* prev = nullptr;
  std::atomic<uint64_t> state_id{0};  // id << 2 | State
  std::atomic<int64_t> deadline_ns{0};
  uint64_t tick = 0;
  Kind kind = Kind::kReceiveTimeout;
  int8_t level = -1;  // -1: not in a wheel
  Pid target;
  uint64_t seq = 0;            // kReceiveTimeout: the wait it ends
  MessageNode* msg = nullptr;  // kSendAfter: what to deliver
  Timer* next_incoming = nullptr;
  std::atomic<TimerWheel*> wheel{nullptr};  // the wheel holding it, if any
  // kSendAfter: the process whose message budget pays for it (invalid if
  // started from outside), what it costs (record + message), and the index
  // of the worker whose wheel holds it.
  Pid owner;
  uint64_t cost = 0;
  uint32_t home = 0;

  uint64_t id() const { return state_id.load(std::memory_order_relaxed) >> 2; }
};

Timer* alloc_timer();  // id and state set to a fresh pending id
// Frees the payload (if any) and returns the record to the pool.
void recycle_timer(Timer* t);

// A request to a timer's home worker to reclaim it now that it is cancelled.
struct Reclaim {
  Timer* timer;
  uint64_t id;
  Reclaim* next;
};

class TimerWheel {
 public:
  static constexpr int kLevels = 6;
  static constexpr int kSlotBits = 6;
  static constexpr uint64_t kSlots = 64;

  // The wheel's clock starts at tick 0; call advance() with the current tick.
  void insert(Timer* t);
  // Owner only: unlinks a timer this wheel holds.
  void remove(Timer* t);
  // Fires every timer with tick <= now by calling fire(t) after unlinking it
  // (fire owns t afterwards). Returns how many fired.
  template <typename Fire>
  uint64_t advance(uint64_t now, Fire&& fire);
  // The earliest tick at which advance() may have work, or UINT64_MAX.
  uint64_t next_deadline() const;
  uint64_t size() const { return count_; }
  uint64_t now() const { return next_; }
  // Removes and returns all timers (at shutdown), as a list through next.
  Timer* drain();

 private:
  void link(Timer* t);
  void cascade(int level, uint64_t slot);

  Timer* slots_[kLevels][kSlots] = {};
  uint64_t occupied_[kLevels] = {};
  uint64_t next_ = 0;  // the next tick to process
  uint64_t count_ = 0;
};

template <typename Fire>
uint64_t TimerWheel::advance(uint64_t now, Fire&& fire) {
  uint64_t fired = 0;
  while (next_ <= now) {
    uint64_t t = next_;
    if (count_ == 0) {
      next_ = now + 1;
      break;
    }
    // Cascade the higher levels whose slot starts at t, highest first.
    if ((t & (kSlots - 1)) == 0) {
      for (int l = kLevels - 1; l >= 1; --l) {
        uint64_t span_mask = (uint64_t{1} << (kSlotBits * l)) - 1;
        if ((t & span_mask) == 0) {
          cascade(l, (t >> (kSlotBits * l)) & (kSlots - 1));
        }
      }
    }
    uint64_t slot = t & (kSlots - 1);
    while (Timer* x = slots_[0][slot]) {
      remove(x);
      ++fired;
      fire(x);
    }
    next_ = t + 1;
    // Skip to the next occupied level-0 slot or the next cascade point.
    if (next_ <= now && (next_ & (kSlots - 1)) != 0) {
      uint64_t rest = occupied_[0] >> (next_ & (kSlots - 1));
      uint64_t boundary = (next_ | (kSlots - 1)) + 1;
      uint64_t target = rest != 0 ? next_ + __builtin_ctzll(rest) : boundary;
      next_ = target < now + 1 ? target : now + 1;
    }
  }
  return fired;
}

}  // namespace rusm::otp::detail
