// tier_diff_check: the differential check of tier_diff_fuzz, without
// libFuzzer, on modules generated from seeds (a ctest smoke test).
//
//   tier_diff_check [--seeds N] [--first S] [--verbose] [--keep-going]
//   tier_diff_check --dump SEED FILE.wasm
//   tier_diff_check --file FILE.wasm
//
// Runs seeds S..S+N-1 (default 0..299) and prints a summary; exits 1 at the
// first mismatch (or module either tier refused), after printing both sides.
// --dump writes the module of one seed (to look at it with wasm2wat);
// --verbose counts the traps by kind; --keep-going reports every mismatch
// (and exits 1 at the end if there was one). --file runs the comparison on a given
// module (a minimized one; its exports are called with the same fixed
// arguments, and the globals it compares are its first four).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "tier_diff.h"

using rusm::tier_diff::CheckResult;

int main(int argc, char** argv) {
  uint64_t seeds = 300, first = 0;
  bool verbose = false, keep_going = false;
  uint64_t mismatches = 0;
  std::map<std::string, int> trap_kinds;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seeds" && i + 1 < argc) {
      seeds = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--first" && i + 1 < argc) {
      first = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--file" && i + 1 < argc) {
      std::ifstream in(argv[++i], std::ios::binary);
      std::vector<uint8_t> wasm((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
      CheckResult r = rusm::tier_diff::check_module(wasm);
      const char* kinds[] = {"same", "inconclusive (out of fuel)", "MISMATCH", "bad module"};
      std::printf("%s: %s (%d calls compared)\n%s", argv[i], kinds[r.kind], r.calls,
                  r.report.c_str());
      return r.kind == CheckResult::kSame ? 0 : 1;
    } else if (a == "--keep-going") {
      keep_going = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--dump" && i + 2 < argc) {
      uint64_t seed = std::strtoull(argv[++i], nullptr, 10);
      auto wasm = rusm::tier_diff::generate_module(rusm::tier_diff::seed_bytes(seed));
      std::ofstream out(argv[++i], std::ios::binary);
      out.write(reinterpret_cast<const char*>(wasm.data()),
                static_cast<std::streamsize>(wasm.size()));
      return out ? 0 : 1;
    } else {
      std::fprintf(
          stderr,
          "usage: tier_diff_check [--seeds N] [--first S] [--verbose] [--keep-going] | --dump "
          "SEED FILE | --file FILE\n");
      return 2;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t same = 0, inconclusive = 0, calls = 0, traps = 0, bytes = 0, midway = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    auto wasm = rusm::tier_diff::generate_module(rusm::tier_diff::seed_bytes(seed));
    bytes += wasm.size();
    CheckResult r = rusm::tier_diff::check_module(wasm);
    switch (r.kind) {
      case CheckResult::kSame:
        ++same;
        break;
      case CheckResult::kInconclusive:
        ++inconclusive;
        break;
      case CheckResult::kMismatch:
      case CheckResult::kBadModule:
        std::printf("seed %llu: %s\n%s", static_cast<unsigned long long>(seed),
                    r.kind == CheckResult::kMismatch ? "MISMATCH between the tiers"
                                                     : "a tier refused the module",
                    r.report.c_str());
        std::printf("(tier_diff_check --dump %llu seed.wasm; wasm2wat seed.wasm)\n",
                    static_cast<unsigned long long>(seed));
        std::fflush(stdout);
        ++mismatches;
        if (!keep_going) {
          return 1;
        }
        break;
    }
    calls += r.calls;
    traps += r.traps;
    midway += r.switched_midway ? 1 : 0;
    for (const std::string& k : r.trap_kinds) {
      ++trap_kinds[k];
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "tier_diff_check: %llu seeds in %.1f s: %llu agree (%llu calls compared, %llu of them "
      "trapped), %llu inconclusive (out of fuel); %.0f bytes of Wasm per module; %llu switched "
      "to compiled code inside a call\n",
      static_cast<unsigned long long>(seeds), s, static_cast<unsigned long long>(same),
      static_cast<unsigned long long>(calls), static_cast<unsigned long long>(traps),
      static_cast<unsigned long long>(inconclusive),
      seeds ? static_cast<double>(bytes) / static_cast<double>(seeds) : 0.0,
      static_cast<unsigned long long>(midway));
  if (verbose) {
    for (const auto& [kind, n] : trap_kinds) {
      std::printf("  %5d %s\n", n, kind.c_str());
    }
  }
  // Something that can fail besides a mismatch: the generator must produce
  // modules whose calls mostly finish and are compared.
  if (mismatches > 0) {
    std::printf("FAIL: %llu mismatches\n", static_cast<unsigned long long>(mismatches));
    return 1;
  }
  if (calls == 0 || same * 2 < seeds) {
    std::printf("FAIL: too few modules compared\n");
    return 1;
  }
  return 0;
}
