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
//
// What a mark answers for. A store writes at most 16 bytes and marks only
// the chunk of its first byte, so a store that starts in chunk i may spill
// up to 15 bytes into chunk i + 1 that chunk i + 1's mark does not cover.
// The rule, the one both readers of the map follow (for_each_marked_run and
// marked_bytes in memory.cc): the mark of chunk i answers for bytes
// [256 i, 256 i + 256 + 15). Releasing a region zeroes those bytes; growing a
// memory into a bigger region copies those bytes, so a straddling store
// survives a move. Marking the last byte's chunk too would cost every store a
// second mark (callgrind, store-heavy corpus programs: +2-3% instructions);
// honouring the spill costs 15 bytes per marked run on a grow or a release,
// which are rare.
// Bulk operations and host writes (Memory::write, Memory::span) mark every
// chunk of their range.
//
// Footprint. Process accounting looks after every slice, so the footprint is
// O(1): dirty_chunks_ counts marked chunks, each counted when its mark goes
// from 0 to 1 (Memory::written_bytes() exposes it). A store tests its chunk's
// mark and writes it only when it is clear: the common case (a chunk written
// before) is a compare with memory and a predicted branch instead of the
// byte store it replaces (one more instruction: +0.4-1.3% instructions on
// store-heavy corpus programs); the first store to a chunk takes the cold
// path that sets the mark and bumps the count. Bulk operations and host
// writes count the clear marks of their range as they set them (O(range /
// 256), less than the write itself). A grow copies the marks and keeps the
// count; release forgets both. The spill of a straddling store is not counted
// (at most 15 bytes per run; accounting needs an estimate, not the last byte).
// The alternatives: a scan of the map when asked cost 58-86% of the CPU of
// large-memory guests (issue 10); accounting whole pages on grow would count
// untouched pages of a big malloc arena as used.
//
// Hot path: the dirty mark is on every store of the interpreter (guarded by
// `rusm bench cpu`); the pool is on the spawn path (guarded by `rusm bench
// instantiate`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "rusm/wasm.h"

namespace rusm::wasm::internal {

constexpr unsigned kChunkShift = 8;
constexpr uint64_t kChunkSize = uint64_t{1} << kChunkShift;
constexpr uint64_t kMaxStoreBytes = 16;
static_assert(kChunkShift == 8, "Memory::written_bytes() in rusm/wasm.h");

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
  // A store set a clear mark (the interpreter's cold path; see the top).
  void count_marked_chunk() { ++dirty_chunks_; }
  // Bytes of host memory in use: dirty chunks plus bookkeeping. O(1).
  size_t footprint() const;
  // Where compiled code finds base_, size_ and dirty_chunks_ (native.h).
  static void field_offsets(uint32_t* base, uint32_t* size, uint32_t* dirty);
  // Calls fn(offset, length) for each run of bytes that may have been
  // written (the marks' rule above), in increasing order.
  void for_each_written(const std::function<void(uint64_t, uint64_t)>& fn) const;

 private:
  MemoryImpl(const MemoryType& type, uint64_t limit_pages)
      : type_(type), limit_pages_(limit_pages) {}
  MemoryType type_;
  uint64_t limit_pages_;
  Region region_;
};

}  // namespace rusm::wasm::internal
