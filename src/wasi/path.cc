#include "wasi/path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <vector>

#include "wasi/abi.h"

namespace rusm::wasi {
namespace {

std::atomic<bool> g_force_fallback{false};
std::atomic<bool> g_no_openat2{false};  // set once the kernel says ENOSYS

constexpr int kMaxSymlinks = 40;  // like the kernel's MAXSYMLINKS

// Pushes the components of `path` onto `stack` so that the first component
// ends up on top. Empty components (from "//") are dropped.
void push_components(std::string_view path, std::vector<std::string>* stack) {
  size_t end = path.size();
  while (end > 0) {
    size_t start = path.rfind('/', end - 1);
    size_t begin = start == std::string_view::npos ? 0 : start + 1;
    if (end > begin) {
      stack->emplace_back(path.substr(begin, end - begin));
    }
    if (start == std::string_view::npos) {
      break;
    }
    end = start;
  }
}

// The walk used when openat2() is missing: one component at a time, each
// opened with O_NOFOLLOW from the directory before it, symlinks expanded by
// hand, ".." popping the stack of directories walked so far (never past
// `dirfd`).
uint16_t walk_beneath(int dirfd, std::string_view path, int flags, unsigned mode, bool follow,
                      HostFd* out) {
  if (path.empty()) {
    return abi::kNoent;
  }
  if (path[0] == '/') {
    return abi::kNotcapable;
  }
  bool trailing_slash = path.back() == '/';
  std::vector<std::string> pending;
  push_components(path, &pending);
  std::vector<HostFd> dirs;
  int links = 0;
  while (!pending.empty()) {
    std::string comp = std::move(pending.back());
    pending.pop_back();
    int cur = dirs.empty() ? dirfd : dirs.back().get();
    if (comp == ".") {
      continue;
    }
    if (comp == "..") {
      if (dirs.empty()) {
        return abi::kNotcapable;
      }
      dirs.pop_back();
      continue;
    }
    bool last = pending.empty();
    if (!last || follow || trailing_slash) {
      struct stat st;
      if (fstatat(cur, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        if (++links > kMaxSymlinks) {
          return abi::kLoop;
        }
        char target[PATH_MAX];
        ssize_t n = readlinkat(cur, comp.c_str(), target, sizeof(target));
        if (n < 0) {
          return errno_from_host(errno);
        }
        if (n == 0) {
          return abi::kNoent;
        }
        if (static_cast<size_t>(n) >= sizeof(target)) {
          return abi::kNametoolong;
        }
        if (target[0] == '/') {
          return abi::kNotcapable;
        }
        push_components(std::string_view(target, static_cast<size_t>(n)), &pending);
        continue;
      }
    }
    if (!last) {
      int fd = openat(cur, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        return errno_from_host(errno);
      }
      dirs.emplace_back(fd);
      continue;
    }
    int extra = O_NOFOLLOW | O_CLOEXEC | (trailing_slash ? O_DIRECTORY : 0);
    int fd = openat(cur, comp.c_str(), flags | extra, mode);
    if (fd < 0) {
      return errno_from_host(errno);
    }
    out->reset(fd);
    return abi::kSuccess;
  }
  // The path named a directory already walked ("." or "a/..").
  int cur = dirs.empty() ? dirfd : dirs.back().get();
  int fd = openat(cur, ".", flags | O_CLOEXEC, mode);
  if (fd < 0) {
    return errno_from_host(errno);
  }
  out->reset(fd);
  return abi::kSuccess;
}

}  // namespace

void HostFd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

uint16_t errno_from_host(int e) {
  switch (e) {
    case 0:
      return abi::kSuccess;
    case E2BIG:
      return abi::k2Big;
    case EACCES:
      return abi::kAcces;
    case EAGAIN:
      return abi::kAgain;
    case EBADF:
      return abi::kBadf;
    case EBUSY:
      return abi::kBusy;
    case EEXIST:
      return abi::kExist;
    case EFAULT:
      return abi::kFault;
    case EFBIG:
      return abi::kFbig;
    case EINTR:
      return abi::kIntr;
    case EINVAL:
      return abi::kInval;
    case EIO:
      return abi::kIo;
    case EISDIR:
      return abi::kIsdir;
    case ELOOP:
      return abi::kLoop;
    case EMFILE:
      return abi::kMfile;
    case EMLINK:
      return abi::kMlink;
    case ENAMETOOLONG:
      return abi::kNametoolong;
    case ENFILE:
      return abi::kNfile;
    case ENODEV:
      return abi::kNodev;
    case ENOENT:
      return abi::kNoent;
    case ENOMEM:
      return abi::kNomem;
    case ENOSPC:
      return abi::kNospc;
    case ENOSYS:
      return abi::kNosys;
    case ENOTDIR:
      return abi::kNotdir;
    case ENOTEMPTY:
      return abi::kNotempty;
    case EOPNOTSUPP:
      return abi::kNotsup;
    case ENOTTY:
      return abi::kNotty;
    case ENXIO:
      return abi::kNxio;
    case EOVERFLOW:
      return abi::kOverflow;
    case EPERM:
      return abi::kPerm;
    case EPIPE:
      return abi::kPipe;
    case ERANGE:
      return abi::kRange;
    case EROFS:
      return abi::kRofs;
    case ESPIPE:
      return abi::kSpipe;
    case ETXTBSY:
      return abi::kTxtbsy;
    case EXDEV:
      return abi::kXdev;
    default:
      return abi::kIo;
  }
}

uint16_t open_beneath(int dirfd, std::string_view path, int flags, unsigned mode, bool follow,
                      HostFd* out) {
  if (path.find('\0') != std::string_view::npos) {
    return abi::kInval;
  }
  if (path.size() >= PATH_MAX) {
    return abi::kNametoolong;
  }
  if (!g_force_fallback.load(std::memory_order_relaxed) &&
      !g_no_openat2.load(std::memory_order_relaxed)) {
    std::string p(path);
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    how.mode = (flags & O_CREAT) != 0 ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dirfd, p.c_str(), &how, sizeof(how));
    if (fd >= 0) {
      out->reset(static_cast<int>(fd));
      return abi::kSuccess;
    }
    int e = errno;
    if (e != ENOSYS) {
      // EXDEV: the path or a symlink on it leads outside `dirfd`.
      return e == EXDEV ? abi::kNotcapable : errno_from_host(e);
    }
    g_no_openat2.store(true, std::memory_order_relaxed);
  }
  return walk_beneath(dirfd, path, flags, mode, follow, out);
}

uint16_t open_parent_beneath(int dirfd, std::string_view path, HostFd* parent, std::string* name,
                             bool* trailing_slash) {
  if (path.empty()) {
    return abi::kNoent;
  }
  if (path.find('\0') != std::string_view::npos) {
    return abi::kInval;
  }
  if (path[0] == '/') {
    return abi::kNotcapable;
  }
  std::string_view p = path;
  bool trailing = false;
  while (p.size() > 1 && p.back() == '/') {
    p.remove_suffix(1);
    trailing = true;
  }
  if (trailing_slash != nullptr) {
    *trailing_slash = trailing;
  }
  size_t pos = p.rfind('/');
  std::string_view dir = pos == std::string_view::npos ? std::string_view(".") : p.substr(0, pos);
  std::string_view last = pos == std::string_view::npos ? p : p.substr(pos + 1);
  if (last == "." || last == "..") {
    HostFd whole;
    uint16_t e = open_beneath(dirfd, p, O_PATH, 0, true, &whole);
    return e != abi::kSuccess ? e : abi::kInval;
  }
  if (dir.empty()) {
    dir = ".";
  }
  uint16_t e = open_beneath(dirfd, dir, O_PATH | O_DIRECTORY, 0, true, parent);
  if (e != abi::kSuccess) {
    return e;
  }
  *name = std::string(last);
  return abi::kSuccess;
}

void set_force_fallback_for_testing(bool force) {
  g_force_fallback.store(force, std::memory_order_relaxed);
}

}  // namespace rusm::wasi
