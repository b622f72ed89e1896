// The extension seam of rusm/runtime/host.h: resource tables.
#include "rusm/runtime/host.h"

namespace rusm::runtime {

// A handle is (generation << kSlotBits) | slot, with slot + 1 stored so that
// a handle is never 0. A slot is reused after its resource is closed, with
// its generation bumped, so the table stays as large as what was live at
// once while a stale handle fails (until a slot has been reused 2^19 times).
namespace {
constexpr int kSlotBits = 12;
static_assert((size_t{1} << kSlotBits) >= ResourceTable::kMaxResources);
constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
constexpr uint32_t kGenerations = 1u << (31 - kSlotBits);
}  // namespace

int32_t ResourceTable::add(std::unique_ptr<Resource> r) {
  if (r == nullptr || live_ >= kMaxResources) {
    return 0;
  }
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back({});
  }
  Slot& s = slots_[slot];
  s.resource = std::move(r);
  ++live_;
  return static_cast<int32_t>((s.generation << kSlotBits) | (slot + 1));
}

Resource* ResourceTable::find(int32_t handle) const {
  if (handle <= 0) {
    return nullptr;
  }
  uint32_t h = static_cast<uint32_t>(handle);
  uint32_t slot = (h & kSlotMask) - 1;
  if ((h & kSlotMask) == 0 || slot >= slots_.size()) {
    return nullptr;
  }
  const Slot& s = slots_[slot];
  return s.generation == (h >> kSlotBits) ? s.resource.get() : nullptr;
}

bool ResourceTable::close(int32_t handle) {
  if (find(handle) == nullptr) {
    return false;
  }
  uint32_t slot = (static_cast<uint32_t>(handle) & kSlotMask) - 1;
  Slot& s = slots_[slot];
  std::unique_ptr<Resource> gone = std::move(s.resource);  // destroyed after the table is consistent
  s.generation = (s.generation + 1) % kGenerations;
  free_.push_back(slot);
  --live_;
  return true;
}

}  // namespace rusm::runtime
