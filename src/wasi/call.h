// What every WASI host function works with: its process's Context, the
// engine's view of the call, and checked access to guest memory. Internal to
// wasi/.
//
// Each WASI function is `int name(Call&)` and returns a WASI errno (>= 0),
// or kSuspended after calling Call::suspend(), or kTrapped after
// HostCall::trap(). The wrapper in host_functions.cc turns that into the
// engine's HostAction and records a suspended call for Context::resume().
#pragma once

#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "rusm/wasm.h"
#include "wasi/abi.h"
#include "wasi/context_impl.h"

namespace rusm::wasi {

static_assert(std::endian::native == std::endian::little,
              "guest memory is little-endian; wasi/ copies integers as they are");

inline constexpr int kSuspended = -1;
inline constexpr int kTrapped = -2;

// Bounds on guest-driven host work.
inline constexpr uint32_t kMaxIovecs = 1024;            // like IOV_MAX
inline constexpr uint32_t kMaxPathBytes = 4096;         // like PATH_MAX
inline constexpr uint32_t kMaxSubscriptions = 1024;     // poll_oneoff
inline constexpr size_t kMaxCapturedBytes = 64u << 20;  // per captured stream

struct Call {
  ContextImpl& ctx;
  wasm::HostCall& hc;
  wasm::Memory* mem;    // nullptr if the caller has no memory: every pointer is EFAULT
  Wait wait;            // set by suspend()
  uint8_t refused = 0;  // bit (1 << Refusal) per refusal(); reported after the call

  void refusal(Refusal r) { refused |= static_cast<uint8_t>(1u << static_cast<unsigned>(r)); }

  uint32_t u32(size_t i) const { return hc.arg_i32(i); }
  uint64_t u64(size_t i) const { return hc.arg_i64(i); }

  int suspend(Wait w) {
    wait = w;
    return kSuspended;
  }

  // Charges fuel for `bytes` moved or produced (a unit per 64 bytes, as
  // bulk memory operations): a call never costs less than what it copies.
  void charge(uint64_t bytes) { hc.charge_bytes(bytes); }

  // Checked guest-memory access; false when [ptr, ptr+len) is out of bounds.
  template <typename T>
  bool store(uint64_t ptr, T v) {
    return mem != nullptr && mem->write(ptr, &v, sizeof(T));
  }
  template <typename T>
  bool load(uint64_t ptr, T* v) const {
    return mem != nullptr && mem->read(ptr, v, sizeof(T));
  }
  uint8_t* span(uint64_t ptr, uint64_t len) {
    return mem != nullptr ? mem->span(ptr, len) : nullptr;
  }
  const uint8_t* read_span(uint64_t ptr, uint64_t len) const {
    return mem != nullptr ? mem->read_span(ptr, len) : nullptr;
  }
  // A guest path (not NUL-terminated in guest memory). Errors: kFault,
  // kNametoolong, kInval (an embedded NUL).
  uint16_t path(uint32_t ptr, uint32_t len, std::string* out) const {
    if (len > kMaxPathBytes) {
      return abi::kNametoolong;
    }
    const uint8_t* p = read_span(ptr, len);
    if (p == nullptr) {
      return abi::kFault;
    }
    hc.charge_bytes(len);
    out->assign(reinterpret_cast<const char*>(p), len);
    if (out->find('\0') != std::string::npos) {
      return abi::kInval;
    }
    return abi::kSuccess;
  }
};

// Nanoseconds since the epoch of a timespec, saturating.
inline uint64_t to_ns(const struct timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The functions, one per wasi_snapshot_preview1 import.
#define RUSM_WASI_FUNCTIONS(X)               \
  X(args_get, "ii", "i")                     \
  X(args_sizes_get, "ii", "i")               \
  X(environ_get, "ii", "i")                  \
  X(environ_sizes_get, "ii", "i")            \
  X(clock_res_get, "ii", "i")                \
  X(clock_time_get, "ili", "i")              \
  X(fd_advise, "illi", "i")                  \
  X(fd_allocate, "ill", "i")                 \
  X(fd_close, "i", "i")                      \
  X(fd_datasync, "i", "i")                   \
  X(fd_fdstat_get, "ii", "i")                \
  X(fd_fdstat_set_flags, "ii", "i")          \
  X(fd_fdstat_set_rights, "ill", "i")        \
  X(fd_filestat_get, "ii", "i")              \
  X(fd_filestat_set_size, "il", "i")         \
  X(fd_filestat_set_times, "illi", "i")      \
  X(fd_pread, "iiili", "i")                  \
  X(fd_prestat_get, "ii", "i")               \
  X(fd_prestat_dir_name, "iii", "i")         \
  X(fd_pwrite, "iiili", "i")                 \
  X(fd_read, "iiii", "i")                    \
  X(fd_readdir, "iiili", "i")                \
  X(fd_renumber, "ii", "i")                  \
  X(fd_seek, "ilii", "i")                    \
  X(fd_sync, "i", "i")                       \
  X(fd_tell, "ii", "i")                      \
  X(fd_write, "iiii", "i")                   \
  X(path_create_directory, "iii", "i")       \
  X(path_filestat_get, "iiiii", "i")         \
  X(path_filestat_set_times, "iiiilli", "i") \
  X(path_link, "iiiiiii", "i")               \
  X(path_open, "iiiiillii", "i")             \
  X(path_readlink, "iiiiii", "i")            \
  X(path_remove_directory, "iii", "i")       \
  X(path_rename, "iiiiii", "i")              \
  X(path_symlink, "iiiii", "i")              \
  X(path_unlink_file, "iii", "i")            \
  X(poll_oneoff, "iiii", "i")                \
  X(proc_exit, "i", "")                      \
  X(proc_raise, "i", "i")                    \
  X(sched_yield, "", "i")                    \
  X(random_get, "ii", "i")                   \
  X(sock_accept, "iii", "i")                 \
  X(sock_recv, "iiiiii", "i")                \
  X(sock_send, "iiiii", "i")                 \
  X(sock_shutdown, "ii", "i")

namespace calls {
#define RUSM_WASI_DECLARE(name, params, results) int name(Call& c);
RUSM_WASI_FUNCTIONS(RUSM_WASI_DECLARE)
#undef RUSM_WASI_DECLARE
}  // namespace calls

}  // namespace rusm::wasi
