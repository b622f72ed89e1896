#include "observe/static_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace rusm::observe {

namespace {

bool safe_name(std::string_view name) {
  if (name.empty() || name.front() == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct Loader {
  const std::string& root;
  StaticLimits limits;
  std::map<std::string, StaticFile, std::less<>>* files;
  size_t* total;
  size_t entries = 0;

  Status error(const std::string& rel, const std::string& what) const {
    return Error(root + (rel.empty() ? "" : "/" + rel) + ": " + what);
  }

  Status read_file(int dirfd, const std::string& name, const std::string& rel) {
    Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) {
      return error(rel, std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::ok();  // replaced by something else since the listing: skip it
    }
    size_t size = static_cast<size_t>(st.st_size);
    if (size > limits.max_file_bytes) {
      return error(rel, "too large for a dashboard file (" + std::to_string(size) +
                            " bytes, at most " + std::to_string(limits.max_file_bytes) + ")");
    }
    if (*total + size > limits.max_total_bytes) {
      return error(rel, "the dashboard's files exceed " + std::to_string(limits.max_total_bytes) +
                            " bytes: not a dashboard build");
    }
    StaticFile f;
    f.body.resize(size);
    size_t got = 0;
    while (got < size) {
      ssize_t n = ::read(fd.get(), f.body.data() + got, size - got);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return error(rel, std::string("cannot read: ") + std::strerror(errno));
      }
      if (n == 0) {
        break;  // shrank while reading: keep what is there
      }
      got += static_cast<size_t>(n);
    }
    f.body.resize(got);
    f.content_type = content_type_for(name);
    f.immutable = rel.starts_with("assets/");
    *total += got;
    (*files)[rel] = std::move(f);
    return Status::ok();
  }

  Status walk(int dirfd, const std::string& prefix, int depth) {
    DIR* dir = ::fdopendir(dirfd);
    if (dir == nullptr) {
      ::close(dirfd);
      return error(prefix, std::string("cannot list: ") + std::strerror(errno));
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      if (++entries > limits.max_files) {
        ::closedir(dir);
        return error("", "more than " + std::to_string(limits.max_files) +
                             " entries: not a dashboard build");
      }
      names.push_back(std::move(name));
    }
    Status result = Status::ok();
    for (const std::string& name : names) {
      if (!safe_name(name)) {
        continue;
      }
      struct stat st;
      if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;
      }
      std::string rel = prefix.empty() ? name : prefix + "/" + name;
      if (S_ISREG(st.st_mode)) {
        result = read_file(::dirfd(dir), name, rel);
      } else if (S_ISDIR(st.st_mode) && depth < StaticFiles::kMaxDepth) {
        int sub =
            ::openat(::dirfd(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
          result = walk(sub, rel, depth + 1);
        }
      }
      if (!result) {
        break;
      }
    }
    ::closedir(dir);
    return result;
  }
};

}  // namespace

const char* content_type_for(std::string_view name) {
  size_t dot = name.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot);
  if (ext == ".html") {
    return "text/html; charset=utf-8";
  }
  if (ext == ".js" || ext == ".mjs") {
    return "text/javascript; charset=utf-8";
  }
  if (ext == ".css") {
    return "text/css; charset=utf-8";
  }
  if (ext == ".json" || ext == ".map") {
    return "application/json";
  }
  if (ext == ".svg") {
    return "image/svg+xml";
  }
  if (ext == ".png") {
    return "image/png";
  }
  if (ext == ".ico") {
    return "image/x-icon";
  }
  if (ext == ".woff2") {
    return "font/woff2";
  }
  if (ext == ".txt") {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

Result<StaticFiles> StaticFiles::load(const std::string& dir, StaticLimits limits) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Error(dir + ": cannot open the dashboard's folder: " + std::strerror(err), err);
  }
  StaticFiles t;
  Loader loader{dir, limits, &t.files_, &t.bytes_};
  if (Status s = loader.walk(fd, "", 0); !s) {
    return s.error();
  }
  return t;
}

const StaticFile* StaticFiles::find(std::string_view path) const {
  if (path.empty() || path.front() != '/') {
    return nullptr;
  }
  std::string key(path.substr(1));
  if (key.empty() || key.back() == '/') {
    key += "index.html";
  }
  auto it = files_.find(key);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace rusm::observe
