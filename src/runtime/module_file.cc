// Reading a module file that a user names (see module_file.h).
#include "rusm/runtime/module_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <openssl/sha.h>

namespace rusm::runtime {

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

}  // namespace

Result<std::vector<uint8_t>> read_module_file(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO with no writer must not hang; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return Error(path + ": cannot open: " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Error(path + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(path + ": is " + file_kind(st.st_mode) + ", not a module file");
  }
  auto too_large = [&](uint64_t size) {
    return Error(path + ": too large for a module (" + std::to_string(size) + " bytes, at most " +
                 std::to_string(max_bytes) + ")");
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return too_large(static_cast<uint64_t>(st.st_size));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  for (;;) {
    if (got == bytes.size()) {
      // The file may have grown since fstat: take what is there, within the cap.
      if (bytes.size() >= max_bytes) {
        uint8_t probe;
        ssize_t n = ::read(fd, &probe, 1);
        if (n > 0) {
          return too_large(bytes.size() + 1);
        }
        break;
      }
      bytes.resize(std::min<uint64_t>(max_bytes, bytes.size() + 65536));
    }
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error(path + ": cannot read: " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

std::string module_sha256(std::span<const uint8_t> bytes) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

}  // namespace rusm::runtime
