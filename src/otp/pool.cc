// HOT PATH: see pool.h (bench spawn-storm, ping-pong).
#include "otp/pool.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define RUSM_OTP_NO_POOL 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUSM_OTP_NO_POOL 1
#endif
#endif

namespace rusm::otp::detail {
namespace {

constexpr size_t kGranule = 16;
constexpr size_t kMaxPooled = 2048;
constexpr size_t kClasses = kMaxPooled / kGranule;
constexpr uint32_t kBatch = 64;

struct FreeBlock {
  FreeBlock* next;
};

struct Depot {
  std::mutex mu;
  std::vector<FreeBlock*> batches;  // each a list of kBatch blocks
};

Depot& depot(size_t cls) {
  static Depot* depots = new Depot[kClasses];  // never destroyed: threads may exit late
  return depots[cls];
}

struct Cache {
  FreeBlock* head[kClasses] = {};
  uint32_t count[kClasses] = {};

  ~Cache() {
    for (size_t c = 0; c < kClasses; ++c) {
      while (count[c] >= kBatch) {
        give_batch(c);
      }
      if (head[c] != nullptr) {
        Depot& d = depot(c);
        std::lock_guard<std::mutex> lock(d.mu);
        d.batches.push_back(head[c]);  // a short batch is fine
        head[c] = nullptr;
        count[c] = 0;
      }
    }
  }

  void give_batch(size_t c) {
    FreeBlock* first = head[c];
    FreeBlock* last = first;
    for (uint32_t i = 1; i < kBatch; ++i) {
      last = last->next;
    }
    head[c] = last->next;
    last->next = nullptr;
    count[c] -= kBatch;
    Depot& d = depot(c);
    std::lock_guard<std::mutex> lock(d.mu);
    d.batches.push_back(first);
  }

  void refill(size_t c) {
    Depot& d = depot(c);
    {
      std::lock_guard<std::mutex> lock(d.mu);
      if (!d.batches.empty()) {
        FreeBlock* b = d.batches.back();
        d.batches.pop_back();
        uint32_t n = 0;
        for (FreeBlock* p = b; p != nullptr; p = p->next) {
          ++n;
        }
        head[c] = b;
        count[c] = n;
        return;
      }
    }
    size_t size = (c + 1) * kGranule;
    char* slab = static_cast<char*>(::operator new(size* kBatch));
    for (uint32_t i = 0; i < kBatch; ++i) {
      auto* b = reinterpret_cast<FreeBlock*>(slab + i * size);
      b->next = head[c];
      head[c] = b;
    }
    count[c] += kBatch;
  }
};

thread_local Cache tls_cache;

}  // namespace

#if RUSM_OTP_NO_POOL

void* pool_alloc(size_t size) {
  return ::operator new(size);
}
void pool_free(void* p, size_t size) {
  ::operator delete(p);
}

#else

void* pool_alloc(size_t size) {
  if (size > kMaxPooled) {
    return ::operator new(size);
  }
  size_t c = (size + kGranule - 1) / kGranule - 1;
  Cache& cache = tls_cache;
  if (cache.head[c] == nullptr) {
    cache.refill(c);
  }
  FreeBlock* b = cache.head[c];
  cache.head[c] = b->next;
  --cache.count[c];
  return b;
}

void pool_free(void* p, size_t size) {
  if (size > kMaxPooled) {
    ::operator delete(p);
    return;
  }
  size_t c = (size + kGranule - 1) / kGranule - 1;
  Cache& cache = tls_cache;
  auto* b = static_cast<FreeBlock*>(p);
  b->next = cache.head[c];
  cache.head[c] = b;
  if (++cache.count[c] >= 4 * kBatch) {
    cache.give_batch(c);
  }
}

#endif

}  // namespace rusm::otp::detail
