// Reading a module file named by a user (a command-line argument, a config
// file): the checks that keep a bad path from hanging or exhausting the node.
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/result.h"

namespace rusm::runtime {

// Largest module file read: far above any real module, far below memory.
inline constexpr uint64_t kMaxModuleBytes = 256ull << 20;

// Reads a module file: a regular file (not a directory, device or FIFO) of
// at most max_bytes. Never blocks on a FIFO, never reads a device. Errors:
// "PATH: cannot open: No such file or directory", "PATH: is a directory, not
// a module file", "PATH: too large for a module (N bytes, at most M)".
Result<std::vector<uint8_t>> read_module_file(const std::string& path,
                                              uint64_t max_bytes = kMaxModuleBytes);

// The SHA-256 of bytes (32 raw bytes): a module's name between nodes.
std::string module_sha256(std::span<const uint8_t> bytes);
// Lowercase hex of bytes.
std::string hex(std::string_view bytes);

}  // namespace rusm::runtime
