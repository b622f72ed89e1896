// Linear memories and the pool of regions they live in.
//
// Spawning must be cheap, so a memory never costs a system call: regions
// are carved from a few large slabs reserved once with mmap(MAP_NORESERVE)
// and recycled through per-thread caches. No guard pages: every access is
// bounds-checked, so a million memories fit in the address space.
//
// A recycled region must read as zeros. Zeroing a whole region on every
// spawn would cost more than the rest of instantiation, so memories track
// which 256-byte chunks may have been written (a byte per chunk, the "dirty
// map", kept just below the memory's base so that a store marks it with one
// byte write at a fixed negative offset from the base: base[-1 - (addr >> 8)]).
// Chunks are small because a short-lived process writes little (a data
// segment, a few stack frames) and release cost is proportional to what is
// marked; the map costs 1/256 of the capacity in address space.
// Releasing a region zeroes only its dirty chunks. Stores write at most 16
// bytes, so a store that starts in chunk i may spill into chunk i + 1; zeroing
// chunk i therefore also zeroes the first 15 bytes after it.
//
// Hot path: the dirty mark is on every store of the interpreter; the pool is
// on the spawn path (guarded by `rusm bench instantiate`).
#pragma once

#include <cstdint>
#include <optional>

#include "rusm/wasm.h"

namespace rusm::wasm::internal {

constexpr unsigned kChunkShift = 8;
constexpr uint64_t kChunkSize = uint64_t{1} << kChunkShift;
constexpr uint64_t kMaxStoreBytes = 16;

// A region: `capacity` bytes at `base`, all zero outside dirty chunks, and
// the dirty map in the bytes just below `base`.
struct Region {
  uint8_t* base = nullptr;
  uint64_t capacity = 0;  // bytes; 0 for the empty region
  uint8_t size_class = 0;
};

// Takes a zeroed region of at least `bytes` bytes (rounded up to a power of
// two of 64 KiB pages). Fails only when the address space is exhausted.
std::optional<Region> acquire_region(uint64_t bytes);
// Zeroes the dirty chunks below `used` bytes and returns the region to the pool.
void release_region(Region region, uint64_t used);

class MemoryImpl final : public Memory {
 public:
  // `limit_pages` caps growth below the type's maximum (the instance's
  // max_memory_pages). Errors: the initial size exceeds the limit.
  static Result<std::unique_ptr<MemoryImpl>> create(const MemoryType& type, uint64_t limit_pages);
  ~MemoryImpl() override;

  const MemoryType& type() const override { return type_; }
  std::optional<uint64_t> grow(uint64_t delta) override;
  // The most pages it may grow to (its type's maximum capped by the instance's).
  uint64_t limit_pages() const { return limit_pages_; }

  // Marks [offset, offset + len) written; the range must be in bounds.
  void mark(uint64_t offset, uint64_t len) { mark_written(offset, len); }
  // Bytes of host memory in use: dirty chunks plus bookkeeping.
  size_t footprint() const;

 private:
  MemoryImpl(const MemoryType& type, uint64_t limit_pages)
      : type_(type), limit_pages_(limit_pages) {}
  MemoryType type_;
  uint64_t limit_pages_;
  Region region_;
};

}  // namespace rusm::wasm::internal
