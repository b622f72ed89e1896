#include "otp/timer_wheel.h"

#include <mutex>
#include <vector>

namespace rusm::otp::detail {
namespace {

// Timer records are type-stable: recycled through this list, never freed, so
// a stale TimerRef always points at a Timer whose state word tells the truth.
struct TimerPool {
  std::mutex mu;
  Timer* free = nullptr;
  std::atomic<uint64_t> next_id{1};
};

TimerPool& timer_pool() {
  static TimerPool* pool = new TimerPool;
  return *pool;
}

struct TimerCache {
  Timer* free = nullptr;
  uint32_t count = 0;
  ~TimerCache() {
    TimerPool& pool = timer_pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    while (free != nullptr) {
      Timer* t = free;
      free = t->next;
      t->next = pool.free;
      pool.free = t;
    }
  }
};

thread_local TimerCache tls_timers;

}  // namespace

Timer* alloc_timer() {
  TimerCache& cache = tls_timers;
  Timer* t = cache.free;
  if (t != nullptr) {
    cache.free = t->next;
    --cache.count;
  } else {
    TimerPool& pool = timer_pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    if (pool.free != nullptr) {
      t = pool.free;
      pool.free = t->next;
    } else {
      t = new Timer;  // never freed: see TimerPool
    }
  }
  uint64_t id = timer_pool().next_id.fetch_add(1, std::memory_order_relaxed);
  t->next = t->prev = nullptr;
  t->level = -1;
  t->msg = nullptr;
  t->next_incoming = nullptr;
  t->owner = Pid();
  t->cost = 0;
  t->wheel.store(nullptr, std::memory_order_relaxed);
  t->state_id.store(id << 2 | Timer::kPending, std::memory_order_release);
  return t;
}

void recycle_timer(Timer* t) {
  if (t->msg != nullptr) {
    free_node(t->msg);
    t->msg = nullptr;
  }
  // Make the id stale so that late cancels fail.
  t->state_id.store((t->id() << 2) | Timer::kFired, std::memory_order_release);
  TimerCache& cache = tls_timers;
  t->next = cache.free;
  cache.free = t;
  if (++cache.count > 4096) {
    TimerPool& pool = timer_pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    for (int i = 0; i < 2048; ++i) {
      Timer* x = cache.free;
      cache.free = x->next;
      x->next = pool.free;
      pool.free = x;
    }
    cache.count -= 2048;
  }
}

void TimerWheel::link(Timer* t) {
  if (t->tick < next_) {
    t->tick = next_;
  }
  uint64_t diff = (t->tick ^ next_) | (kSlots - 1);
  int significant = 63 - __builtin_clzll(diff);
  int level = significant / kSlotBits;
  if (level >= kLevels) {
    level = kLevels - 1;
    t->tick = next_ + ((uint64_t{1} << (kSlotBits * kLevels)) - 1);  // clamp far deadlines
    diff = (t->tick ^ next_) | (kSlots - 1);
    level = (63 - __builtin_clzll(diff)) / kSlotBits;
    if (level >= kLevels) {
      level = kLevels - 1;
    }
  }
  uint64_t slot = (t->tick >> (kSlotBits * level)) & (kSlots - 1);
  t->level = static_cast<int8_t>(level);
  t->prev = nullptr;
  t->next = slots_[level][slot];
  if (t->next != nullptr) {
    t->next->prev = t;
  }
  slots_[level][slot] = t;
  occupied_[level] |= uint64_t{1} << slot;
}

void TimerWheel::insert(Timer* t) {
  link(t);
  ++count_;
}

void TimerWheel::remove(Timer* t) {
  int level = t->level;
  uint64_t slot = (t->tick >> (kSlotBits * level)) & (kSlots - 1);
  if (t->prev != nullptr) {
    t->prev->next = t->next;
  } else {
    slots_[level][slot] = t->next;
  }
  if (t->next != nullptr) {
    t->next->prev = t->prev;
  }
  if (slots_[level][slot] == nullptr) {
    occupied_[level] &= ~(uint64_t{1} << slot);
  }
  t->next = t->prev = nullptr;
  t->level = -1;
  --count_;
}

void TimerWheel::cascade(int level, uint64_t slot) {
  Timer* list = slots_[level][slot];
  slots_[level][slot] = nullptr;
  occupied_[level] &= ~(uint64_t{1} << slot);
  while (list != nullptr) {
    Timer* t = list;
    list = t->next;
    link(t);
  }
}

uint64_t TimerWheel::next_deadline() const {
  if (count_ == 0) {
    return UINT64_MAX;
  }
  for (int l = 0; l < kLevels; ++l) {
    if (occupied_[l] == 0) {
      continue;
    }
    // The earliest slot of this level at or after the clock's position.
    uint64_t shift = kSlotBits * l;
    uint64_t pos = (next_ >> shift) & (kSlots - 1);
    uint64_t rotated = (occupied_[l] >> pos) | (pos ? occupied_[l] << (kSlots - pos) : 0);
    uint64_t k = __builtin_ctzll(rotated);
    uint64_t base = (next_ >> shift) << shift;
    uint64_t start = base + (k << shift);
    if (l > 0) {
      // A higher-level slot cascades at its start; wake then.
      return start;
    }
    return start < next_ ? next_ : start;
  }
  return next_;
}

Timer* TimerWheel::drain() {
  Timer* out = nullptr;
  for (int l = 0; l < kLevels; ++l) {
    for (uint64_t s = 0; s < kSlots; ++s) {
      while (Timer* t = slots_[l][s]) {
        remove(t);
        t->next = out;
        out = t;
      }
    }
  }
  return out;
}

}  // namespace rusm::otp::detail
