// Differential fuzzing of the interpreter against the compiled tier: the
// input bytes drive a generator of valid modules (tier_diff.h), each run
// under both tiers; any difference in results, traps, memory or globals
// aborts after printing both sides and the module (hex).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "tier_diff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The input's bytes are the generator's first choices; the rest come from
  // a seed hashed from them (FNV-1a), so that libFuzzer's short inputs
  // (it starts at a few bytes) already make modules of some size.
  uint64_t hash = 0xcbf29ce484222325;
  for (size_t i = 0; i < size; ++i) {
    hash = (hash ^ data[i]) * 0x100000001b3;
  }
  std::vector<uint8_t> choices(data, data + size);
  std::vector<uint8_t> more = rusm::tier_diff::seed_bytes(hash);
  choices.insert(choices.end(), more.begin(), more.end());
  std::vector<uint8_t> wasm = rusm::tier_diff::generate_module(choices);
  rusm::tier_diff::CheckResult r = rusm::tier_diff::check_module(wasm);
  if (r.kind == rusm::tier_diff::CheckResult::kMismatch ||
      r.kind == rusm::tier_diff::CheckResult::kBadModule) {
    std::fprintf(stderr, "tier_diff: %s\n%s\nmodule (%zu bytes):\n",
                 r.kind == rusm::tier_diff::CheckResult::kMismatch ? "MISMATCH" : "BAD MODULE",
                 r.report.c_str(), wasm.size());
    for (uint8_t b : wasm) {
      std::fprintf(stderr, "%02x", b);
    }
    std::fprintf(stderr, "\n");
    __builtin_trap();
  }
  return 0;
}
