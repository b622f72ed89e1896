// Path resolution confined to a directory: the only way wasi/ turns a guest
// path into a host file. Internal to wasi/.
//
// Every function resolves `path` relative to the directory `dirfd` and never
// reaches outside it: ".." above `dirfd`, absolute paths and symlinks whose
// target lies outside (absolute, or climbing out with "..") fail with
// abi::kNotcapable. Symlinks that stay inside are followed. Linux's openat2()
// with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS does the work when the kernel
// has it; otherwise a component-by-component walk with O_NOFOLLOW does the
// same. Results are WASI errno values (0 = success). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rusm::wasi {

// An owned host file descriptor (closed on destruction).
class HostFd {
 public:
  HostFd() = default;
  explicit HostFd(int fd) : fd_(fd) {}
  ~HostFd() { reset(); }
  HostFd(HostFd&& o) noexcept : fd_(o.release()) {}
  HostFd& operator=(HostFd&& o) noexcept {
    if (this != &o) {
      reset(o.release());
    }
    return *this;
  }
  HostFd(const HostFd&) = delete;
  HostFd& operator=(const HostFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Host errno -> WASI errno.
uint16_t errno_from_host(int host_errno);

// Opens `path` beneath `dirfd` with open(2) `flags` (O_CLOEXEC is added) and
// `mode`. With `follow` false a final symlink is not followed (O_NOFOLLOW
// semantics: ELOOP, or the link itself with O_PATH).
uint16_t open_beneath(int dirfd, std::string_view path, int flags, unsigned mode, bool follow,
                      HostFd* out);

// Splits `path` into its parent directory, opened beneath `dirfd` (O_PATH),
// and its last component in *name. A last component of "." or ".." is
// refused with kInval once the whole path is known to stay inside (escapes
// still give kNotcapable); trailing slashes are dropped, and *trailing_slash
// says whether there were any.
uint16_t open_parent_beneath(int dirfd, std::string_view path, HostFd* parent, std::string* name,
                             bool* trailing_slash = nullptr);

// Tests only: force the component-wise fallback even if openat2() exists.
void set_force_fallback_for_testing(bool force);

}  // namespace rusm::wasi
