// Process identifiers, monitor references and timer references.
//
// A Pid names one process on one node for the node's whole life: it packs a
// slot index into the node's process table, the generation of that slot (bumped
// each time the slot is reused, so a stale Pid never reaches a later process),
// and a node id reserved for distribution:
//
//   bits 63..48  node id     (16 bits; 0 = the local node for now)
//   bits 47..24  generation  (24 bits; never 0 for a real process)
//   bits 23..0   slot        (24 bits; up to 16M live processes per node)
//
// The all-zero Pid is "no process". Pids are plain values: copy, compare and
// hash them freely from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace rusm::otp {

class Pid {
 public:
  static constexpr int kSlotBits = 24;
  static constexpr int kGenerationBits = 24;
  static constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
  static constexpr uint32_t kGenerationMask = (1u << kGenerationBits) - 1;

  constexpr Pid() = default;
  static constexpr Pid from_bits(uint64_t bits) { return Pid(bits); }
  static constexpr Pid make(uint16_t node, uint32_t generation, uint32_t slot) {
    return Pid((uint64_t{node} << 48) | (uint64_t{generation & kGenerationMask} << kSlotBits) |
               (slot & kSlotMask));
  }

  constexpr uint64_t bits() const { return bits_; }
  constexpr uint16_t node() const { return static_cast<uint16_t>(bits_ >> 48); }
  constexpr uint32_t generation() const {
    return static_cast<uint32_t>(bits_ >> kSlotBits) & kGenerationMask;
  }
  constexpr uint32_t slot() const { return static_cast<uint32_t>(bits_) & kSlotMask; }
  constexpr bool valid() const { return bits_ != 0; }
  constexpr explicit operator bool() const { return valid(); }

  friend constexpr bool operator==(Pid a, Pid b) = default;
  friend constexpr auto operator<=>(Pid a, Pid b) = default;

  // "<node.slot.generation>", in the spirit of Erlang's "<0.42.0>".
  std::string to_string() const;

 private:
  constexpr explicit Pid(uint64_t bits) : bits_(bits) {}
  uint64_t bits_ = 0;
};

// Names one monitor; unique per node. 0 is "no monitor".
using MonitorRef = uint64_t;

// Names one pending timer (send_after). Opaque; the default value names none.
struct TimerRef {
  uintptr_t handle = 0;
  uint64_t id = 0;
  bool valid() const { return handle != 0; }
};

}  // namespace rusm::otp

template <>
struct std::hash<rusm::otp::Pid> {
  size_t operator()(rusm::otp::Pid p) const noexcept {
    uint64_t x = p.bits() * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(x ^ (x >> 29));
  }
};
