// The wasi_snapshot_preview1 fd_* and path_* functions. Files are reached
// only through preopened directories (see path.h); read-only preopens and
// the rights of each descriptor are checked before the host is asked.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "wasi/call.h"
#include "wasi/path.h"

namespace rusm::wasi {
namespace calls {
namespace {

using Kind = FileDesc::Kind;

uint8_t filetype_of_dirent(unsigned char t) {
  switch (t) {
    case DT_REG:
      return abi::kFiletypeRegularFile;
    case DT_DIR:
      return abi::kFiletypeDirectory;
    case DT_LNK:
      return abi::kFiletypeSymbolicLink;
    case DT_CHR:
      return abi::kFiletypeCharacterDevice;
    case DT_BLK:
      return abi::kFiletypeBlockDevice;
    case DT_SOCK:
      return abi::kFiletypeSocketStream;
    default:
      return abi::kFiletypeUnknown;
  }
}

uint16_t host_error() {
  return errno_from_host(errno);
}

// Looks up descriptor `n` and checks that it has every right in `rights`.
uint16_t get_fd(Call& c, uint32_t n, uint64_t rights, FileDesc** out) {
  FileDesc* d = c.ctx.fd(n);
  if (d == nullptr) {
    return abi::kBadf;
  }
  if ((d->rights_base & rights) != rights) {
    // Writing to stdin or reading stdout is EBADF, as on POSIX; everything
    // else missing a right (a read-only preopen, a reduced fd) is ENOTCAPABLE.
    return d->kind == Kind::kStdio ? abi::kBadf : abi::kNotcapable;
  }
  *out = d;
  return abi::kSuccess;
}

// A directory descriptor for path_* calls; `write` marks calls that modify
// the tree, refused under a read-only preopen.
uint16_t get_dir(Call& c, uint32_t n, uint64_t rights, bool write, FileDesc** out) {
  FileDesc* d = c.ctx.fd(n);
  if (d == nullptr) {
    return abi::kBadf;
  }
  if (d->kind != Kind::kDir) {
    return abi::kNotdir;
  }
  if ((write && d->read_only) || (d->rights_base & rights) != rights) {
    return abi::kNotcapable;
  }
  *out = d;
  return abi::kSuccess;
}

// Reads the guest's iovec array into host iovecs pointing into guest memory.
// Nothing is allocated beyond kMaxIovecs entries.
uint16_t load_iovs(Call& c, uint32_t iovs, uint32_t count, std::vector<struct iovec>* out,
                   uint64_t* total) {
  if (count > kMaxIovecs) {
    return abi::kInval;
  }
  if (c.read_span(iovs, uint64_t{abi::kIovecSize} * count) == nullptr) {
    return abi::kFault;
  }
  out->reserve(count);
  *total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t buf, len;
    c.load(uint64_t{iovs} + 8 * i, &buf);
    c.load(uint64_t{iovs} + 8 * i + 4, &len);
    uint8_t* p = c.span(buf, len);
    if (p == nullptr) {
      return abi::kFault;
    }
    if (len != 0) {
      out->push_back({p, len});
    }
    *total += len;
  }
  if (*total > SSIZE_MAX) {
    return abi::kInval;
  }
  return abi::kSuccess;
}

bool ready(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return ::poll(&p, 1, 0) > 0 && p.revents != 0;
}

// For descriptors whose I/O could block: EAGAIN for a non-blocking guest
// descriptor, or suspend until the host descriptor is ready.
int wait_ready(Call& c, FileDesc* d, bool reading) {
  if ((d->fdflags & abi::kFdflagNonblock) != 0) {
    return abi::kAgain;
  }
  Wait w;
  w.kind = reading ? Wait::Kind::kFdRead : Wait::Kind::kFdWrite;
  w.host_fd = d->host_fd();
  return c.suspend(w);
}

// fd_read / fd_write on a kStream stdio descriptor: as much as the stream
// takes or gives now; suspends (Wait::kStream) only when nothing moved, so
// that redoing the call after the wake never repeats a transfer.
int stream_io(Call& c, FileDesc* d, const std::vector<struct iovec>& iovs, bool writing,
              uint32_t result_ptr) {
  uint64_t n = 0;
  for (const struct iovec& v : iovs) {
    if (v.iov_len == 0) {
      continue;
    }
    auto* p = static_cast<uint8_t*>(v.iov_base);
    int64_t r = writing ? d->stream->write(std::span<const uint8_t>(p, v.iov_len))
                        : d->stream->read(std::span<uint8_t>(p, v.iov_len));
    if (r < 0) {
      if (n > 0) {
        break;
      }
      if (r != Stream::kWouldBlock) {
        return writing ? abi::kPipe : abi::kIo;
      }
      if ((d->fdflags & abi::kFdflagNonblock) != 0) {
        return abi::kAgain;
      }
      Wait w;
      w.kind = Wait::Kind::kStream;
      w.stream = d->stream;
      w.writing = writing;
      return c.suspend(w);
    }
    n += static_cast<uint64_t>(std::min<int64_t>(r, static_cast<int64_t>(v.iov_len)));
    if (static_cast<uint64_t>(r) < v.iov_len) {
      break;  // end of stream, or the stream took what it could
    }
  }
  c.charge(n);
  return c.store<uint32_t>(result_ptr, static_cast<uint32_t>(n)) ? abi::kSuccess : abi::kFault;
}

int finish_io(Call& c, ssize_t n, uint32_t result_ptr) {
  if (n < 0) {
    return host_error();
  }
  c.charge(static_cast<uint64_t>(n));
  return c.store<uint32_t>(result_ptr, static_cast<uint32_t>(n)) ? abi::kSuccess : abi::kFault;
}

void fill_filestat(uint8_t* p, const struct stat& st) {
  std::memset(p, 0, abi::kFilestatSize);
  uint64_t v[8] = {static_cast<uint64_t>(st.st_dev),
                   static_cast<uint64_t>(st.st_ino),
                   0,
                   static_cast<uint64_t>(st.st_nlink),
                   static_cast<uint64_t>(st.st_size),
                   to_ns(st.st_atim),
                   to_ns(st.st_mtim),
                   to_ns(st.st_ctim)};
  std::memcpy(p, v, sizeof(v));
  p[16] = filetype_of_mode(st.st_mode);
  std::memset(p + 17, 0, 7);
}

uint16_t make_times(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2]) {
  if ((fst & ~uint32_t{0xF}) != 0 ||
      ((fst & abi::kFstAtim) != 0 && (fst & abi::kFstAtimNow) != 0) ||
      ((fst & abi::kFstMtim) != 0 && (fst & abi::kFstMtimNow) != 0)) {
    return abi::kInval;
  }
  auto one = [](uint64_t t, bool set, bool now, struct timespec* out) {
    if (now) {
      *out = {0, UTIME_NOW};
    } else if (set) {
      *out = {static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)};
    } else {
      *out = {0, UTIME_OMIT};
    }
  };
  one(atim, fst & abi::kFstAtim, fst & abi::kFstAtimNow, &ts[0]);
  one(mtim, fst & abi::kFstMtim, fst & abi::kFstMtimNow, &ts[1]);
  return abi::kSuccess;
}

std::string proc_fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

// ---------------------------------------------------------------------------
// Descriptors

int fd_read(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdRead, &d)) {
    return e;
  }
  if (c.span(c.u32(3), 4) == nullptr) {
    return abi::kFault;
  }
  std::vector<struct iovec> iovs;
  uint64_t total;
  if (uint16_t e = load_iovs(c, c.u32(1), c.u32(2), &iovs, &total)) {
    return e;
  }
  if (d->stream != nullptr) {
    return stream_io(c, d, iovs, false, c.u32(3));
  }
  if (d->kind == Kind::kStdio && d->stdio_mode != StdioMode::kInherit) {
    size_t n = 0;
    if (d->stdio_mode == StdioMode::kCapture) {
      const std::string& data = c.ctx.config().stdin_data;
      size_t& pos = c.ctx.stdin_pos();
      for (const struct iovec& v : iovs) {
        size_t k = std::min(v.iov_len, data.size() - pos);
        std::memcpy(v.iov_base, data.data() + pos, k);
        pos += k;
        n += k;
      }
    }
    return finish_io(c, static_cast<ssize_t>(n), c.u32(3));
  }
  if (d->needs_poll && total != 0 && !ready(d->host_fd(), POLLIN)) {
    return wait_ready(c, d, true);
  }
  ssize_t n = readv(d->host_fd(), iovs.data(), static_cast<int>(iovs.size()));
  if (n < 0 && errno == EAGAIN && (d->fdflags & abi::kFdflagNonblock) == 0) {
    return wait_ready(c, d, true);
  }
  return finish_io(c, n, c.u32(3));
}

int fd_write(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdWrite, &d)) {
    return e;
  }
  if (c.span(c.u32(3), 4) == nullptr) {
    return abi::kFault;
  }
  std::vector<struct iovec> iovs;
  uint64_t total;
  if (uint16_t e = load_iovs(c, c.u32(1), c.u32(2), &iovs, &total)) {
    return e;
  }
  if (d->stream != nullptr) {
    return stream_io(c, d, iovs, true, c.u32(3));
  }
  if (d->kind == Kind::kStdio && d->stdio_mode != StdioMode::kInherit) {
    if (d->stdio_mode == StdioMode::kCapture) {
      std::string& out = c.ctx.captured_out(d->stdio_index);
      if (out.size() + total > kMaxCapturedBytes) {
        return abi::kNospc;
      }
      for (const struct iovec& v : iovs) {
        out.append(static_cast<const char*>(v.iov_base), v.iov_len);
      }
    }
    return finish_io(c, static_cast<ssize_t>(total), c.u32(3));
  }
  if (d->needs_poll && total != 0 && !ready(d->host_fd(), POLLOUT)) {
    return wait_ready(c, d, false);
  }
  ssize_t n = writev(d->host_fd(), iovs.data(), static_cast<int>(iovs.size()));
  if (n < 0 && errno == EAGAIN && (d->fdflags & abi::kFdflagNonblock) == 0) {
    return wait_ready(c, d, false);
  }
  return finish_io(c, n, c.u32(3));
}

int fd_pread(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdRead | abi::kRightFdSeek, &d)) {
    return e;
  }
  if (d->kind == Kind::kStdio) {
    return abi::kSpipe;
  }
  if (c.span(c.u32(4), 4) == nullptr) {
    return abi::kFault;
  }
  std::vector<struct iovec> iovs;
  uint64_t total;
  if (uint16_t e = load_iovs(c, c.u32(1), c.u32(2), &iovs, &total)) {
    return e;
  }
  if (c.u64(3) > INT64_MAX) {
    return abi::kInval;
  }
  ssize_t n = preadv(d->host_fd(), iovs.data(), static_cast<int>(iovs.size()),
                     static_cast<off_t>(c.u64(3)));
  return finish_io(c, n, c.u32(4));
}

int fd_pwrite(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdWrite | abi::kRightFdSeek, &d)) {
    return e;
  }
  if (d->kind == Kind::kStdio) {
    return abi::kSpipe;
  }
  if (c.span(c.u32(4), 4) == nullptr) {
    return abi::kFault;
  }
  std::vector<struct iovec> iovs;
  uint64_t total;
  if (uint16_t e = load_iovs(c, c.u32(1), c.u32(2), &iovs, &total)) {
    return e;
  }
  if (c.u64(3) > INT64_MAX) {
    return abi::kInval;
  }
  ssize_t n = pwritev(d->host_fd(), iovs.data(), static_cast<int>(iovs.size()),
                      static_cast<off_t>(c.u64(3)));
  return finish_io(c, n, c.u32(4));
}

int fd_seek(Call& c) {
  int64_t offset = static_cast<int64_t>(c.u64(1));
  uint32_t whence = c.u32(2);
  uint64_t right =
      (offset == 0 && whence == abi::kWhenceCur) ? abi::kRightFdTell : abi::kRightFdSeek;
  FileDesc* d = c.ctx.fd(c.u32(0));
  if (d != nullptr && d->kind == Kind::kStdio) {
    return abi::kSpipe;
  }
  if (uint16_t e = get_fd(c, c.u32(0), right, &d)) {
    return e;
  }
  if (d->kind == Kind::kStdio || d->needs_poll) {
    return abi::kSpipe;
  }
  int w = whence == abi::kWhenceSet   ? SEEK_SET
          : whence == abi::kWhenceCur ? SEEK_CUR
          : whence == abi::kWhenceEnd ? SEEK_END
                                      : -1;
  if (w < 0) {
    return abi::kInval;
  }
  if (c.span(c.u32(3), 8) == nullptr) {
    return abi::kFault;
  }
  off_t pos = lseek(d->host_fd(), offset, w);
  if (pos < 0) {
    return host_error();
  }
  c.store<uint64_t>(c.u32(3), static_cast<uint64_t>(pos));
  return abi::kSuccess;
}

int fd_tell(Call& c) {
  FileDesc* d = c.ctx.fd(c.u32(0));
  if (d != nullptr && d->kind == Kind::kStdio) {
    return abi::kSpipe;
  }
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdTell, &d)) {
    return e;
  }
  if (d->kind == Kind::kStdio || d->needs_poll) {
    return abi::kSpipe;
  }
  off_t pos = lseek(d->host_fd(), 0, SEEK_CUR);
  if (pos < 0) {
    return host_error();
  }
  return c.store<uint64_t>(c.u32(1), static_cast<uint64_t>(pos)) ? abi::kSuccess : abi::kFault;
}

int fd_close(Call& c) {
  if (c.ctx.fd(c.u32(0)) == nullptr) {
    return abi::kBadf;
  }
  c.ctx.close_fd(c.u32(0));
  return abi::kSuccess;
}

int fd_renumber(Call& c) {
  uint32_t from = c.u32(0), to = c.u32(1);
  if (c.ctx.fd(from) == nullptr || c.ctx.fd(to) == nullptr) {
    return abi::kBadf;
  }
  if (from != to) {
    c.ctx.renumber(from, to);
  }
  return abi::kSuccess;
}

int fd_fdstat_get(Call& c) {
  FileDesc* d = c.ctx.fd(c.u32(0));
  if (d == nullptr) {
    return abi::kBadf;
  }
  uint8_t* p = c.span(c.u32(1), abi::kFdstatSize);
  if (p == nullptr) {
    return abi::kFault;
  }
  std::memset(p, 0, abi::kFdstatSize);
  p[0] = d->filetype;
  std::memcpy(p + 2, &d->fdflags, 2);
  std::memcpy(p + 8, &d->rights_base, 8);
  std::memcpy(p + 16, &d->rights_inheriting, 8);
  return abi::kSuccess;
}

int fd_fdstat_set_flags(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdFdstatSetFlags, &d)) {
    return e;
  }
  uint32_t flags = c.u32(1);
  if ((flags & ~uint32_t{abi::kFdflagAppend | abi::kFdflagNonblock}) != 0) {
    return abi::kNotsup;  // the sync flags can only be given to path_open
  }
  if ((flags & abi::kFdflagAppend) != 0 && d->read_only) {
    return abi::kNotcapable;
  }
  // O_APPEND lives in the host's open file description; stdio's is the
  // node's own, so it is left alone there. NONBLOCK is the guest's view only:
  // the host descriptors are polled and never block.
  if (d->kind == Kind::kFile) {
    int fl = fcntl(d->host_fd(), F_GETFL);
    if (fl < 0) {
      return host_error();
    }
    fl = (flags & abi::kFdflagAppend) != 0 ? (fl | O_APPEND) : (fl & ~O_APPEND);
    if (fcntl(d->host_fd(), F_SETFL, fl) != 0) {
      return host_error();
    }
  }
  d->fdflags =
      static_cast<uint16_t>((d->fdflags & ~(abi::kFdflagAppend | abi::kFdflagNonblock)) | flags);
  return abi::kSuccess;
}

int fd_fdstat_set_rights(Call& c) {
  FileDesc* d = c.ctx.fd(c.u32(0));
  if (d == nullptr) {
    return abi::kBadf;
  }
  uint64_t base = c.u64(1), inheriting = c.u64(2);
  if ((base & ~d->rights_base) != 0 || (inheriting & ~d->rights_inheriting) != 0) {
    return abi::kNotcapable;
  }
  d->rights_base = base;
  d->rights_inheriting = inheriting;
  return abi::kSuccess;
}

int fd_filestat_get(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdFilestatGet, &d)) {
    return e;
  }
  uint8_t* p = c.span(c.u32(1), abi::kFilestatSize);
  if (p == nullptr) {
    return abi::kFault;
  }
  if (d->host_fd() < 0) {
    std::memset(p, 0, abi::kFilestatSize);
    p[16] = d->filetype;
    return abi::kSuccess;
  }
  struct stat st;
  if (fstat(d->host_fd(), &st) != 0) {
    return host_error();
  }
  fill_filestat(p, st);
  return abi::kSuccess;
}

int fd_filestat_set_size(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdFilestatSetSize, &d)) {
    return e;
  }
  if (d->kind != Kind::kFile) {
    return abi::kInval;
  }
  if (c.u64(1) > INT64_MAX) {
    return abi::kInval;
  }
  return ftruncate(d->host_fd(), static_cast<off_t>(c.u64(1))) == 0 ? abi::kSuccess : host_error();
}

int fd_filestat_set_times(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdFilestatSetTimes, &d)) {
    return e;
  }
  struct timespec ts[2];
  if (uint16_t e = make_times(c.u64(1), c.u64(2), c.u32(3), ts)) {
    return e;
  }
  if (d->kind == Kind::kStdio) {
    return abi::kNotsup;
  }
  return futimens(d->host_fd(), ts) == 0 ? abi::kSuccess : host_error();
}

int fd_sync(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdSync, &d)) {
    return e;
  }
  if (d->host_fd() < 0) {
    return abi::kSuccess;
  }
  return fsync(d->host_fd()) == 0 || errno == EINVAL ? abi::kSuccess : host_error();
}

int fd_datasync(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdDatasync, &d)) {
    return e;
  }
  if (d->host_fd() < 0) {
    return abi::kSuccess;
  }
  return fdatasync(d->host_fd()) == 0 || errno == EINVAL ? abi::kSuccess : host_error();
}

int fd_advise(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdAdvise, &d)) {
    return e;
  }
  if (c.u32(3) > abi::kAdviceNoreuse || c.u64(1) > INT64_MAX || c.u64(2) > INT64_MAX) {
    return abi::kInval;
  }
  if (d->kind != Kind::kFile) {
    return d->kind == Kind::kDir ? abi::kBadf : abi::kSpipe;
  }
  static constexpr int kAdvice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                    POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
  int r = posix_fadvise(d->host_fd(), static_cast<off_t>(c.u64(1)), static_cast<off_t>(c.u64(2)),
                        kAdvice[c.u32(3)]);
  return errno_from_host(r);
}

int fd_allocate(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdAllocate, &d)) {
    return e;
  }
  if (d->kind != Kind::kFile) {
    return d->kind == Kind::kDir ? abi::kBadf : abi::kSpipe;
  }
  if (c.u64(1) > INT64_MAX || c.u64(2) > INT64_MAX || c.u64(2) == 0) {
    return abi::kInval;
  }
  int r = posix_fallocate(d->host_fd(), static_cast<off_t>(c.u64(1)), static_cast<off_t>(c.u64(2)));
  return errno_from_host(r);
}

int fd_prestat_get(Call& c) {
  if (c.ctx.config().preopens.empty()) {
    c.refusal(Refusal::kFs);
  }
  FileDesc* d = c.ctx.fd(c.u32(0));
  if (d == nullptr || !d->is_preopen) {
    return abi::kBadf;
  }
  uint8_t* p = c.span(c.u32(1), abi::kPrestatSize);
  if (p == nullptr) {
    return abi::kFault;
  }
  std::memset(p, 0, abi::kPrestatSize);
  p[0] = abi::kPreopenDir;
  uint32_t len = static_cast<uint32_t>(d->preopen_name.size());
  std::memcpy(p + 4, &len, 4);
  return abi::kSuccess;
}

int fd_prestat_dir_name(Call& c) {
  FileDesc* d = c.ctx.fd(c.u32(0));
  if (d == nullptr || !d->is_preopen) {
    return abi::kBadf;
  }
  if (c.u32(2) < d->preopen_name.size()) {
    return abi::kNametoolong;
  }
  uint8_t* p = c.span(c.u32(1), d->preopen_name.size());
  if (p == nullptr) {
    return abi::kFault;
  }
  std::memcpy(p, d->preopen_name.data(), d->preopen_name.size());
  return abi::kSuccess;
}

// The directory is read whole when the guest starts over (cookie 0); a
// cookie is an index into that snapshot.
int fd_readdir(Call& c) {
  FileDesc* d;
  if (uint16_t e = get_fd(c, c.u32(0), abi::kRightFdReaddir, &d)) {
    return e;
  }
  if (d->kind != Kind::kDir) {
    return abi::kNotdir;
  }
  uint64_t buf = c.u32(1);
  uint32_t buf_len = c.u32(2);
  uint64_t cookie = c.u64(3);
  if (c.span(buf, buf_len) == nullptr || c.span(c.u32(4), 4) == nullptr) {
    return abi::kFault;
  }
  if (cookie == 0 || !d->dir_listed) {
    int dfd = openat(d->host_fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      return host_error();
    }
    DIR* dir = fdopendir(dfd);
    if (dir == nullptr) {
      uint16_t e = host_error();
      ::close(dfd);
      return e;
    }
    d->dir_entries.clear();
    while (struct dirent* ent = readdir(dir)) {
      FileDesc::DirEntry e;
      e.name = ent->d_name;
      e.ino = ent->d_ino;
      e.type = filetype_of_dirent(ent->d_type);
      if (ent->d_type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          e.type = filetype_of_mode(st.st_mode);
        }
      }
      d->dir_entries.push_back(std::move(e));
    }
    closedir(dir);
    d->dir_listed = true;
    c.charge(d->dir_entries.size() * abi::kDirentSize);  // listing is work per entry
  }
  uint64_t used = 0;
  for (uint64_t i = cookie; i < d->dir_entries.size() && used < buf_len; ++i) {
    const FileDesc::DirEntry& e = d->dir_entries[i];
    uint8_t header[abi::kDirentSize] = {};
    uint64_t next = i + 1;
    uint32_t namlen = static_cast<uint32_t>(e.name.size());
    std::memcpy(header, &next, 8);
    std::memcpy(header + 8, &e.ino, 8);
    std::memcpy(header + 16, &namlen, 4);
    header[20] = e.type;
    // A truncated last entry tells the guest to call again with a bigger buffer.
    uint64_t k = std::min<uint64_t>(abi::kDirentSize, buf_len - used);
    c.mem->write(buf + used, header, k);
    used += k;
    k = std::min<uint64_t>(namlen, buf_len - used);
    c.mem->write(buf + used, e.name.data(), k);
    used += k;
  }
  c.charge(used);
  c.store<uint32_t>(c.u32(4), static_cast<uint32_t>(used));
  return abi::kSuccess;
}

// ---------------------------------------------------------------------------
// Paths

int path_open(Call& c) {
  FileDesc* dir;
  if (uint16_t e = get_dir(c, c.u32(0), abi::kRightPathOpen, false, &dir)) {
    return e;
  }
  bool follow = (c.u32(1) & abi::kLookupSymlinkFollow) != 0;
  std::string path;
  if (uint16_t e = c.path(c.u32(2), c.u32(3), &path)) {
    return e;
  }
  uint32_t oflags = c.u32(4);
  uint64_t base = c.u64(5);
  uint64_t inheriting = c.u64(6);
  uint32_t fdflags = c.u32(7);
  if (c.span(c.u32(8), 4) == nullptr) {
    return abi::kFault;
  }
  // The host access mode follows the rights that need a writable open file
  // description (fdatasync and fsync work on a read-only one).
  bool want_write =
      (base & (abi::kRightFdWrite | abi::kRightFdAllocate | abi::kRightFdFilestatSetSize)) != 0;
  bool want_read = (base & (abi::kRightFdRead | abi::kRightFdReaddir)) != 0;
  bool modifies =
      (oflags & (abi::kOflagCreat | abi::kOflagTrunc)) != 0 || (fdflags & abi::kFdflagAppend) != 0;
  if (dir->read_only && (want_write || modifies)) {
    return abi::kNotcapable;
  }
  // Creating a file and truncating one each need their right on the
  // directory. (The sync fdflags are not checked against fd_sync /
  // fd_datasync: directories are not required to hold those, and other
  // runtimes and the WASI test suite's path_filestat open with SYNC without.)
  uint64_t needed = 0;
  if ((oflags & abi::kOflagCreat) != 0) {
    needed |= abi::kRightPathCreateFile;
  }
  if ((oflags & abi::kOflagTrunc) != 0) {
    needed |= abi::kRightPathFilestatSetSize;
  }
  if ((dir->rights_base & needed) != needed) {
    return abi::kNotcapable;
  }
  // O_NONBLOCK: opening a FIFO must not wait for its other end. The access
  // mode is the same for a directory: opened for writing it is EISDIR, with
  // or without OFLAGS_DIRECTORY, as on POSIX.
  int flags = O_NOCTTY | O_NONBLOCK;
  if ((oflags & abi::kOflagDirectory) != 0) {
    flags |= O_DIRECTORY;
  }
  if (want_write || (oflags & abi::kOflagTrunc) != 0) {
    flags |= want_read ? O_RDWR : O_WRONLY;
  } else {
    flags |= O_RDONLY;
  }
  if ((oflags & abi::kOflagCreat) != 0) {
    flags |= O_CREAT;
  }
  if ((oflags & abi::kOflagExcl) != 0) {
    flags |= O_EXCL;
  }
  if ((oflags & abi::kOflagTrunc) != 0) {
    flags |= O_TRUNC;
  }
  if ((fdflags & abi::kFdflagAppend) != 0) {
    flags |= O_APPEND;
  }
  if ((fdflags & abi::kFdflagDsync) != 0) {
    flags |= O_DSYNC;
  }
  if ((fdflags & abi::kFdflagSync) != 0) {
    flags |= O_SYNC;
  }
  if ((fdflags & abi::kFdflagRsync) != 0) {
    flags |= O_RSYNC;
  }
  HostFd host;
  if (uint16_t e = open_beneath(dir->host_fd(), path, flags, 0666, follow, &host)) {
    return e;
  }
  struct stat st;
  if (fstat(host.get(), &st) != 0) {
    return host_error();
  }
  auto d = std::make_unique<FileDesc>();
  d->kind = S_ISDIR(st.st_mode) ? Kind::kDir : Kind::kFile;
  d->filetype = filetype_of_mode(st.st_mode);
  d->needs_poll = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
  d->fdflags = static_cast<uint16_t>(fdflags);
  d->read_only = dir->read_only;
  // What the directory can pass on, of what the guest asked for, that means
  // something on what was opened (a directory keeps no fd_seek, a file no
  // fd_readdir, whatever was asked).
  d->rights_base = base & dir->rights_inheriting &
                   (d->kind == Kind::kDir ? abi::kRightsDirectory : abi::kRightsFile);
  d->rights_inheriting = inheriting & dir->rights_inheriting;
  if (d->read_only) {
    d->rights_base &= ~abi::kRightsWrite;
    d->rights_inheriting &= ~abi::kRightsWrite;
  }
  d->host = std::move(host);
  uint32_t n;
  if (!c.ctx.add_fd(std::move(d), &n)) {
    return abi::kMfile;
  }
  c.store<uint32_t>(c.u32(8), n);
  return abi::kSuccess;
}

namespace {

// Resolves a (dir fd, guest path) pair to a parent directory and a name.
uint16_t parent_of(Call& c, uint32_t dirfd, uint64_t rights, bool write, uint32_t ptr, uint32_t len,
                   HostFd* parent, std::string* name, bool* trailing_slash = nullptr) {
  FileDesc* dir;
  if (uint16_t e = get_dir(c, dirfd, rights, write, &dir)) {
    return e;
  }
  std::string path;
  if (uint16_t e = c.path(ptr, len, &path)) {
    return e;
  }
  return open_parent_beneath(dir->host_fd(), path, parent, name, trailing_slash);
}

// A destination named with a trailing slash ("link/") names a directory,
// which path_link and path_symlink never create: ENOENT when nothing is
// there, EEXIST when a directory is, ENOTDIR when something else is (the
// WASI test suite's Unix errno mode; Linux itself says EEXIST). The entry
// is looked at, never followed.
uint16_t trailing_slash_destination(const HostFd& parent, const std::string& name) {
  struct stat st;
  if (fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return host_error();
  }
  return S_ISDIR(st.st_mode) ? abi::kExist : abi::kNotdir;
}

}  // namespace

int path_create_directory(Call& c) {
  HostFd parent;
  std::string name;
  if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathCreateDirectory, true, c.u32(1), c.u32(2),
                             &parent, &name)) {
    return e;
  }
  return mkdirat(parent.get(), name.c_str(), 0777) == 0 ? abi::kSuccess : host_error();
}

int path_remove_directory(Call& c) {
  HostFd parent;
  std::string name;
  if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathRemoveDirectory, true, c.u32(1), c.u32(2),
                             &parent, &name)) {
    return e;
  }
  return unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR) == 0 ? abi::kSuccess : host_error();
}

int path_unlink_file(Call& c) {
  HostFd parent;
  std::string name;
  bool trailing_slash = false;
  if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathUnlinkFile, true, c.u32(1), c.u32(2),
                             &parent, &name, &trailing_slash)) {
    return e;
  }
  if (trailing_slash) {
    struct stat st;
    if (fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return host_error();
    }
    return S_ISDIR(st.st_mode) ? abi::kIsdir : abi::kNotdir;
  }
  return unlinkat(parent.get(), name.c_str(), 0) == 0 ? abi::kSuccess : host_error();
}

int path_rename(Call& c) {
  HostFd old_parent, new_parent;
  std::string old_name, new_name;
  if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathRenameSource, true, c.u32(1), c.u32(2),
                             &old_parent, &old_name)) {
    return e;
  }
  if (uint16_t e = parent_of(c, c.u32(3), abi::kRightPathRenameTarget, true, c.u32(4), c.u32(5),
                             &new_parent, &new_name)) {
    return e;
  }
  return renameat(old_parent.get(), old_name.c_str(), new_parent.get(), new_name.c_str()) == 0
             ? abi::kSuccess
             : host_error();
}

int path_filestat_get(Call& c) {
  FileDesc* dir;
  if (uint16_t e = get_dir(c, c.u32(0), abi::kRightPathFilestatGet, false, &dir)) {
    return e;
  }
  bool follow = (c.u32(1) & abi::kLookupSymlinkFollow) != 0;
  std::string path;
  if (uint16_t e = c.path(c.u32(2), c.u32(3), &path)) {
    return e;
  }
  uint8_t* p = c.span(c.u32(4), abi::kFilestatSize);
  if (p == nullptr) {
    return abi::kFault;
  }
  HostFd target;
  if (uint16_t e = open_beneath(dir->host_fd(), path, O_PATH, 0, follow, &target)) {
    return e;
  }
  struct stat st;
  if (fstat(target.get(), &st) != 0) {
    return host_error();
  }
  fill_filestat(p, st);
  return abi::kSuccess;
}

int path_filestat_set_times(Call& c) {
  struct timespec ts[2];
  if (uint16_t e = make_times(c.u64(4), c.u64(5), c.u32(6), ts)) {
    return e;
  }
  if ((c.u32(1) & abi::kLookupSymlinkFollow) == 0) {
    HostFd parent;
    std::string name;
    if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathFilestatSetTimes, true, c.u32(2),
                               c.u32(3), &parent, &name)) {
      return e;
    }
    return utimensat(parent.get(), name.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0 ? abi::kSuccess
                                                                               : host_error();
  }
  FileDesc* dir;
  if (uint16_t e = get_dir(c, c.u32(0), abi::kRightPathFilestatSetTimes, true, &dir)) {
    return e;
  }
  std::string path;
  if (uint16_t e = c.path(c.u32(2), c.u32(3), &path)) {
    return e;
  }
  HostFd target;
  if (uint16_t e = open_beneath(dir->host_fd(), path, O_PATH, 0, true, &target)) {
    return e;
  }
  // The target was resolved beneath the directory; set its times through
  // the descriptor, never by path again.
  if (utimensat(target.get(), "", ts, AT_EMPTY_PATH) == 0) {
    return abi::kSuccess;
  }
  return utimensat(AT_FDCWD, proc_fd_path(target.get()).c_str(), ts, 0) == 0 ? abi::kSuccess
                                                                             : host_error();
}

int path_readlink(Call& c) {
  HostFd parent;
  std::string name;
  if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathReadlink, false, c.u32(1), c.u32(2),
                             &parent, &name)) {
    return e;
  }
  uint32_t buf_len = c.u32(4);
  uint8_t* buf = c.span(c.u32(3), buf_len);
  if (buf == nullptr || c.span(c.u32(5), 4) == nullptr) {
    return abi::kFault;
  }
  char tmp[PATH_MAX];
  ssize_t n = readlinkat(parent.get(), name.c_str(), tmp, sizeof(tmp));
  if (n < 0) {
    return host_error();
  }
  size_t k = std::min<size_t>(static_cast<size_t>(n), buf_len);
  c.charge(k);
  std::memcpy(buf, tmp, k);
  c.store<uint32_t>(c.u32(5), static_cast<uint32_t>(k));
  return abi::kSuccess;
}

// A relative link's text is stored as given: resolving it later stays
// beneath the preopen whatever it says (see path.h). An absolute target is
// refused: it could never resolve inside a preopen, and a host tool or a
// process that re-resolved a host path would follow it out (issue 9).
int path_symlink(Call& c) {
  std::string target;
  if (uint16_t e = c.path(c.u32(0), c.u32(1), &target)) {
    return e;
  }
  if (!target.empty() && target[0] == '/') {
    return abi::kNotcapable;
  }
  HostFd parent;
  std::string name;
  bool trailing_slash = false;
  if (uint16_t e = parent_of(c, c.u32(2), abi::kRightPathSymlink, true, c.u32(3), c.u32(4), &parent,
                             &name, &trailing_slash)) {
    return e;
  }
  if (trailing_slash) {
    return trailing_slash_destination(parent, name);
  }
  return symlinkat(target.c_str(), parent.get(), name.c_str()) == 0 ? abi::kSuccess : host_error();
}

int path_link(Call& c) {
  bool follow = (c.u32(1) & abi::kLookupSymlinkFollow) != 0;
  HostFd new_parent;
  std::string new_name;
  bool trailing_slash = false;
  if (uint16_t e = parent_of(c, c.u32(4), abi::kRightPathLinkTarget, true, c.u32(5), c.u32(6),
                             &new_parent, &new_name, &trailing_slash)) {
    return e;
  }
  if (trailing_slash) {
    return trailing_slash_destination(new_parent, new_name);
  }
  if (!follow) {
    HostFd old_parent;
    std::string old_name;
    if (uint16_t e = parent_of(c, c.u32(0), abi::kRightPathLinkSource, true, c.u32(2), c.u32(3),
                               &old_parent, &old_name)) {
      return e;
    }
    return linkat(old_parent.get(), old_name.c_str(), new_parent.get(), new_name.c_str(), 0) == 0
               ? abi::kSuccess
               : host_error();
  }
  FileDesc* dir;
  if (uint16_t e = get_dir(c, c.u32(0), abi::kRightPathLinkSource, true, &dir)) {
    return e;
  }
  std::string path;
  if (uint16_t e = c.path(c.u32(2), c.u32(3), &path)) {
    return e;
  }
  HostFd target;
  if (uint16_t e = open_beneath(dir->host_fd(), path, O_PATH, 0, true, &target)) {
    return e;
  }
  return linkat(AT_FDCWD, proc_fd_path(target.get()).c_str(), new_parent.get(), new_name.c_str(),
                AT_SYMLINK_FOLLOW) == 0
             ? abi::kSuccess
             : host_error();
}

}  // namespace calls
}  // namespace rusm::wasi
