// The extension seam of rusm/runtime/host.h: resource tables.
#include "rusm/runtime/host.h"

namespace rusm::runtime {

std::optional<std::string_view> guest_bytes(wasm::HostCall& c, uint32_t ptr, uint32_t len) {
  if (len == 0) {
    return std::string_view();
  }
  wasm::Memory* m = c.memory();
  const uint8_t* p = m ? m->read_span(ptr, len) : nullptr;
  if (p == nullptr) {
    return std::nullopt;
  }
  return std::string_view(reinterpret_cast<const char*>(p), len);
}

std::optional<std::string_view> guest_bytes_charged(wasm::HostCall& c, uint32_t ptr, uint32_t len) {
  std::optional<std::string_view> b = guest_bytes(c, ptr, len);
  if (b) {
    c.charge_bytes(len);
  }
  return b;
}

bool guest_write_charged(wasm::HostCall& c, uint32_t ptr, std::string_view data) {
  if (data.empty()) {
    return true;
  }
  wasm::Memory* m = c.memory();
  if (m == nullptr || !m->write(ptr, data.data(), data.size())) {
    return false;
  }
  c.charge_bytes(data.size());
  return true;
}

int32_t guest_copy_out(wasm::HostCall& c, uint32_t ptr, uint32_t cap, std::string_view s) {
  if (s.size() > static_cast<size_t>(INT32_MAX)) {
    return kErrLimit;
  }
  if (!guest_write_charged(c, ptr, s.substr(0, cap))) {
    return kErrBadArg;
  }
  return static_cast<int32_t>(s.size());
}

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
  std::unique_ptr<Resource> gone =
      std::move(s.resource);  // destroyed after the table is consistent
  s.generation = (s.generation + 1) % kGenerations;
  free_.push_back(slot);
  --live_;
  return true;
}

void ResourceTable::process_exiting(const otp::ExitReason& reason) {
  for (Slot& s : slots_) {
    if (s.resource != nullptr) {
      s.resource->on_process_exit(reason);
    }
  }
}

}  // namespace rusm::runtime
