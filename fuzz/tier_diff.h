// Differential testing of the engine's two tiers: a small generator turns
// bytes into a random *valid* module (functions over i32/i64/f32/f64 with
// arithmetic, conversions, comparisons, structured control flow with bounded
// loops, direct and indirect calls, globals and a memory accessed at random,
// sometimes out-of-bounds, addresses), and check_module() runs every export
// under the interpreter and under the compiled tier and compares what each
// call returned or how it trapped, then the memory and the globals.
//
// Used by tier_diff_fuzz (libFuzzer's bytes) and tier_diff_check (bytes
// from a seed, for ctest). What is compared is only what the spec makes
// deterministic: the generator canonicalizes NaNs before a float's bits can
// be seen (stores, reinterpretations, copysign's sign operand), results
// compare any NaN equal to any NaN, and a call that runs out of fuel on
// either side makes the rest of the module inconclusive (the tiers count
// fuel differently).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rusm::tier_diff {

// A module generated from `bytes` (any bytes give a valid module; once they
// run out, the generator takes the simplest choices).
std::vector<uint8_t> generate_module(std::span<const uint8_t> bytes);

// `n` pseudo-random bytes from `seed` (splitmix64), for seeded runs.
std::vector<uint8_t> seed_bytes(uint64_t seed, size_t n = 4096);

struct CheckResult {
  enum Kind { kSame, kInconclusive, kMismatch, kBadModule } kind = kSame;
  std::string report;                   // for kMismatch and kBadModule: both sides, or the error
  int calls = 0;                        // calls compared
  int traps = 0;                        // of which trapped (on both sides, with the same code)
  std::vector<std::string> trap_kinds;  // to_string(code) of each of those traps
  bool switched_midway = false;         // the third instance adopted compiled code inside a call
};

// Compiles `wasm` under both tiers (the compiled one with the cache off),
// instantiates each, calls every exported function in export order with
// fixed arguments and compares; a third instance, interpreted, adopts the
// compiled code midway through its calls (Module::adopt_native_code) and
// must agree too. kBadModule: either tier refused the module
// (the generator's bug, or the compiled tier's).
CheckResult check_module(std::span<const uint8_t> wasm);

}  // namespace rusm::tier_diff
