// Checks for what a user hands the `rusm` command: module files, sizes,
// thread counts, preopened directories. Shared by every subcommand so that
// `rusm run`, `rusm wasm`, `rusm bench` and `rusm dashboard` refuse the same
// input the same way: one line naming the flag or file, exit status 2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "rusm/result.h"
#include "rusm/runtime/module_file.h"

namespace rusm::cli {

// Worker or scheduler threads a command may ask for. More is never useful
// (the largest machines have a few hundred cores) and each costs a thread.
inline constexpr unsigned kMaxThreads = 1024;
// Wasm pages in 4 GiB, the most a 32-bit memory can have.
inline constexpr uint64_t kMaxPages = 65536;

using runtime::kMaxModuleBytes;
using runtime::read_module_file;

// "64M", "1G", "512K", "65536" (bytes) or "16p" (pages) -> whole pages in
// [1, 65536]. The number is decimal digits with an optional fraction; nan,
// inf, exponents, a fraction of a page and sizes above 4 GiB are refused.
Result<uint64_t> parse_memory_pages(const std::string& text);

// The largest byte size a flag accepts (1 PiB): room for any machine's RAM,
// far from overflow.
inline constexpr uint64_t kMaxByteSize = 1ull << 50;
// "64M", "1G", "512K", "1048576" -> bytes in [1, 1 PiB], for budget flags
// (--max-mailbox, --max-node-memory). Same number rules as above; errors
// name `flag`.
Result<uint64_t> parse_byte_size(const std::string& flag, const std::string& text);

// --dir host[:guest][:ro|:rw]
struct DirSpec {
  std::string host;
  std::string guest;
  bool read_only = false;
};
Result<DirSpec> parse_dir(const std::string& text);

// A CLI11 check for a real number in [lo, hi]; refuses nan and inf (which
// CLI::Range lets through).
CLI::Validator finite_range(double lo, double hi);

}  // namespace rusm::cli
