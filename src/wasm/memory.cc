#include "wasm/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace rusm::wasm {
namespace internal {
namespace {

// Size classes: capacity = 64 KiB << class, up to 4 GiB.
constexpr int kClasses = 17;
constexpr uint64_t kSlabBytes = uint64_t{1} << 30;  // address space per slab (not memory)
constexpr size_t kCacheMax = 64;                    // regions per thread per class
constexpr size_t kCacheBatch = 16;                  // moved between a thread and the pool

uint64_t class_capacity(int c) {
  return kPageSize << c;
}
uint64_t map_bytes(uint64_t capacity) {
  uint64_t chunks = capacity >> kChunkShift;
  return (chunks + 63) & ~uint64_t{63};
}
// Bytes from a region's start to its base: the map, placed so that the base
// sits kMapTail bytes into an OS page. The map of the first 64 KiB page then
// shares that OS page with the memory's first bytes, so a small memory's
// dirty marks cost no page of their own.
constexpr uint64_t kOsPage = 4096;
constexpr uint64_t kMapTail = kPageSize >> kChunkShift;
static_assert(kMapTail % 64 == 0 && kMapTail < kOsPage);
uint64_t class_head(int c) {
  uint64_t map = map_bytes(class_capacity(c));
  return (map - kMapTail + kOsPage - 1) / kOsPage * kOsPage + kMapTail;
}
uint64_t class_stride(int c) {
  return (class_head(c) + class_capacity(c) + kOsPage - 1) / kOsPage * kOsPage;
}

int class_for(uint64_t bytes) {
  uint64_t pages = std::max<uint64_t>(1, (bytes + kPageSize - 1) / kPageSize);
  return std::bit_width(std::bit_ceil(pages)) - 1;
}

struct ClassPool {
  std::mutex mu;
  std::vector<uint8_t*> free;  // region bases
  uint8_t* slab_next = nullptr;
  uint8_t* slab_end = nullptr;
};

ClassPool& pool(int c) {
  static ClassPool pools[kClasses];
  return pools[c];
}

// Carves up to `n` fresh regions of class `c`; returns how many.
size_t carve(ClassPool& p, int c, std::vector<uint8_t*>& out, size_t n) {
  const uint64_t stride = class_stride(c);
  size_t got = 0;
  while (got < n) {
    if (p.slab_next == nullptr || p.slab_next + stride > p.slab_end) {
      uint64_t slab = std::max(kSlabBytes / stride, uint64_t{1}) * stride;
      void* m = mmap(nullptr, slab, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (m == MAP_FAILED) {
        break;
      }
      p.slab_next = static_cast<uint8_t*>(m);
      p.slab_end = p.slab_next + slab;
    }
    out.push_back(p.slab_next + class_head(c));
    p.slab_next += stride;
    ++got;
  }
  return got;
}

struct ThreadCache {
  std::vector<uint8_t*> free[kClasses];
  ~ThreadCache() {
    for (int c = 0; c < kClasses; ++c) {
      if (!free[c].empty()) {
        ClassPool& p = pool(c);
        std::lock_guard<std::mutex> lock(p.mu);
        p.free.insert(p.free.end(), free[c].begin(), free[c].end());
      }
    }
  }
};

ThreadCache& cache() {
  thread_local ThreadCache c;
  return c;
}

// Calls fn(first, end) for each run [first, end) of consecutive marked chunks
// among chunks [0, chunks). Chunk i's mark is base[-1 - i], so the map is the
// `chunks` bytes below base, read 8 at a time (most of it is clean).
template <typename Fn>
void for_each_marked_run(const uint8_t* base, uint64_t chunks, Fn&& fn) {
  auto marked = [&](uint64_t i) { return base[-1 - static_cast<int64_t>(i)] != 0; };
  uint64_t i = 0;
  while (i < chunks) {
    if (i + 8 <= chunks) {
      uint64_t word;
      std::memcpy(&word, base - i - 8, 8);
      if (word == 0) {
        i += 8;
        continue;
      }
    }
    if (!marked(i)) {
      ++i;
      continue;
    }
    uint64_t first = i;
    while (i < chunks && marked(i)) {
      ++i;
    }
    fn(first, i);
  }
}

// The bytes that the marks of chunks [first, end) answer for, below `limit`:
// the chunks, and the spill of a store that starts in the last one.
std::pair<uint64_t, uint64_t> marked_bytes(uint64_t first, uint64_t end, uint64_t limit) {
  uint64_t begin = std::min(first << kChunkShift, limit);
  return {begin, std::min((end << kChunkShift) + kMaxStoreBytes - 1, limit)};
}

uint64_t chunks_below(uint64_t bytes) {
  return (bytes + kChunkSize - 1) >> kChunkShift;
}

// Zeroes what the marks below `used` answer for, and the marks.
void zero_dirty(uint8_t* base, uint64_t capacity, uint64_t used) {
  used = std::min(used, capacity);
  for_each_marked_run(base, chunks_below(used), [&](uint64_t first, uint64_t end) {
    auto [begin, stop] = marked_bytes(first, end, used);
    std::memset(base + begin, 0, stop - begin);
    std::memset(base - end, 0, end - first);
  });
}

alignas(64) uint8_t empty_region_bytes[64];

}  // namespace

std::optional<Region> acquire_region(uint64_t bytes) {
  int c = class_for(bytes);
  if (c >= kClasses) {
    return std::nullopt;
  }
  std::vector<uint8_t*>& local = cache().free[c];
  if (local.empty()) {
    ClassPool& p = pool(c);
    std::lock_guard<std::mutex> lock(p.mu);
    size_t take = std::min(p.free.size(), kCacheBatch);
    local.insert(local.end(), p.free.end() - take, p.free.end());
    p.free.resize(p.free.size() - take);
    if (local.empty() && carve(p, c, local, c < 8 ? kCacheBatch : 1) == 0) {
      return std::nullopt;
    }
  }
  Region r;
  r.base = local.back();
  local.pop_back();
  r.capacity = class_capacity(c);
  r.size_class = static_cast<uint8_t>(c);
  return r;
}

void release_region(Region region, uint64_t used) {
  if (region.capacity == 0) {
    return;
  }
  zero_dirty(region.base, region.capacity, used);
  std::vector<uint8_t*>& local = cache().free[region.size_class];
  local.push_back(region.base);
  if (local.size() > kCacheMax) {
    ClassPool& p = pool(region.size_class);
    std::lock_guard<std::mutex> lock(p.mu);
    p.free.insert(p.free.end(), local.end() - kCacheBatch, local.end());
    local.resize(local.size() - kCacheBatch);
  }
}

Result<std::unique_ptr<MemoryImpl>> MemoryImpl::create(const MemoryType& type,
                                                       uint64_t limit_pages) {
  uint64_t limit = std::min<uint64_t>(type.limits.max.value_or(kMaxPages), limit_pages);
  limit = std::min(limit, kMaxPages);
  uint64_t min = type.limits.min;
  if (min > limit) {
    return Error("memory of " + std::to_string(min) + " pages exceeds the limit of " +
                     std::to_string(limit) + " pages",
                 static_cast<int>(ErrorCode::kLimit));
  }
  std::unique_ptr<MemoryImpl> m(new MemoryImpl(type, limit));
  if (min == 0) {
    m->region_.base = empty_region_bytes + sizeof empty_region_bytes;
    m->region_.capacity = 0;
  } else {
    // Unbounded memories start with room to grow a little without moving;
    // address space is cheap, and untouched pages cost nothing.
    uint64_t want = std::bit_ceil(std::max(min, std::min<uint64_t>(limit, 16)));
    auto region = acquire_region(want * kPageSize);
    if (!region) {
      return Error("out of address space for a memory of " + std::to_string(min) + " pages",
                   static_cast<int>(ErrorCode::kLimit));
    }
    m->region_ = *region;
  }
  m->base_ = m->region_.base;
  m->size_ = min * kPageSize;
  return m;
}

MemoryImpl::~MemoryImpl() {
  release_region(region_, size_);
}

std::optional<uint64_t> MemoryImpl::grow(uint64_t delta) {
  uint64_t old_pages = size_ / kPageSize;
  if (delta > limit_pages_ - old_pages) {
    return std::nullopt;
  }
  uint64_t new_size = (old_pages + delta) * kPageSize;
  if (new_size > region_.capacity) {
    uint64_t want = std::max(new_size, region_.capacity * 2);
    auto bigger = acquire_region(want);
    if (!bigger) {
      return std::nullopt;
    }
    // Move what was written with its marks. A mark answers for the spill of
    // a store into the next chunk too (memory.h), so the spill moves with it.
    for_each_marked_run(region_.base, chunks_below(size_), [&](uint64_t first, uint64_t end) {
      auto [begin, stop] = marked_bytes(first, end, size_);
      std::memcpy(bigger->base + begin, region_.base + begin, stop - begin);
      std::memset(bigger->base - end, 1, end - first);
    });
    release_region(region_, size_);
    region_ = *bigger;
    base_ = region_.base;
  }
  size_ = new_size;
  return old_pages;
}

size_t MemoryImpl::footprint() const {
  return sizeof(*this) + dirty_chunks_ * kChunkSize + chunks_below(size_);
}

void MemoryImpl::for_each_written(const std::function<void(uint64_t, uint64_t)>& fn) const {
  if (size_ == 0) {
    return;
  }
  for_each_marked_run(region_.base, chunks_below(size_), [&](uint64_t first, uint64_t end) {
    auto [begin, stop] = marked_bytes(first, end, size_);
    fn(begin, stop - begin);
  });
}

}  // namespace internal

void Memory::mark_written(uint64_t offset, uint64_t len) {
  if (len == 0) {
    return;
  }
  uint64_t first = offset >> internal::kChunkShift;
  uint64_t last = (offset + len - 1) >> internal::kChunkShift;
  // Chunk i's mark is base_[-1 - i], so [first, last] is one run of bytes.
  // Count the clear ones (footprint) before setting them.
  uint8_t* map = base_ - 1 - last;
  uint64_t n = last - first + 1;
  uint64_t clear = 0;
  for (uint64_t i = 0; i < n; ++i) {
    clear += map[i] == 0;
  }
  if (clear != 0) {
    dirty_chunks_ += clear;
    std::memset(map, 1, n);
  }
}

bool Memory::read(uint64_t offset, void* out, uint64_t len) const {
  if (offset > size_ || len > size_ - offset) {
    return false;
  }
  if (len != 0) {
    std::memcpy(out, base_ + offset, len);
  }
  return true;
}

bool Memory::write(uint64_t offset, const void* in, uint64_t len) {
  if (offset > size_ || len > size_ - offset) {
    return false;
  }
  if (len != 0) {
    std::memcpy(base_ + offset, in, len);
    mark_written(offset, len);
  }
  return true;
}

uint8_t* Memory::span(uint64_t offset, uint64_t len) {
  if (offset > size_ || len > size_ - offset) {
    return nullptr;
  }
  mark_written(offset, len);
  return base_ + offset;
}

const uint8_t* Memory::read_span(uint64_t offset, uint64_t len) const {
  if (offset > size_ || len > size_ - offset) {
    return nullptr;
  }
  return base_ + offset;
}

Result<std::shared_ptr<Memory>> Memory::create(const MemoryType& type) {
  auto m = internal::MemoryImpl::create(type, kMaxPages);
  if (!m) {
    return m.error();
  }
  return std::shared_ptr<Memory>(std::move(*m));
}

namespace internal {

// Memory is polymorphic, so offsetof is only conditionally supported; the
// Itanium ABI (every platform rusm builds on) lays it out predictably.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
void MemoryImpl::field_offsets(uint32_t* base, uint32_t* size, uint32_t* dirty) {
  *base = offsetof(MemoryImpl, base_);
  *size = offsetof(MemoryImpl, size_);
  *dirty = offsetof(MemoryImpl, dirty_chunks_);
}
#pragma GCC diagnostic pop

}  // namespace internal
}  // namespace rusm::wasm
