// Static files from a directory, served natively. The root is held as a
// directory descriptor and every path is opened beneath it with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): "..", absolute symlinks
// and symlinks that climb out fail in the kernel, not in a string check. The
// decoded path is also refused outright if a segment is "." or "..", so an
// attempt is a 404 whichever way it is spelled ("%2e%2e", "..%2f").
// Only regular files are served (a directory serves its index.html).
//
// Blocking file system calls (openat2, fstat) run on the connection's strand;
// they hit the page cache for a site's assets. The body is sent with
// sendfile(2) on plain TCP, in bounded chunks on TLS.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "rusm/net/server.h"

namespace rusm::net {
namespace {

int open_beneath(int dirfd, const std::string& rel) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return int(syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how));
}

int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = char(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// The request path to a relative path under the root, or false if it is
// malformed or tries to leave (".", "..", NUL, an encoded '/').
bool to_relative(std::string_view path, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    std::string_view raw = path.substr(i, slash == path.npos ? path.npos : slash - i);
    std::string seg;
    for (size_t k = 0; k < raw.size(); ++k) {
      char c = raw[k];
      if (c == '%') {
        if (k + 2 >= raw.size() || hexval(raw[k + 1]) < 0 || hexval(raw[k + 2]) < 0) {
          return false;
        }
        c = char(hexval(raw[k + 1]) * 16 + hexval(raw[k + 2]));
        k += 2;
        if (c == '/' || c == '\\') {
          return false;
        }
      }
      if (c == '\0') {
        return false;
      }
      seg += c;
    }
    if (seg == "." || seg == "..") {
      return false;
    }
    if (!seg.empty()) {
      if (!out->empty()) {
        *out += '/';
      }
      *out += seg;
    }
    if (slash == path.npos) {
      break;
    }
    i = slash + 1;
  }
  if (out->empty()) {
    *out = ".";
  }
  return true;
}

const char* content_type(std::string_view name) {
  size_t dot = name.rfind('.');
  std::string ext = dot == name.npos ? "" : std::string(name.substr(dot + 1));
  for (char& c : ext) {
    c = char(tolower(c));
  }
  static const std::pair<const char*, const char*> kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"},
      {"wav", "audio/wav"},
  };
  for (const auto& t : kTypes) {
    if (ext == t.first) {
      return t.second;
    }
  }
  return "application/octet-stream";
}

// Parses a single "bytes=a-b" range against `size`. Returns 1 and sets
// [*from, *to] for a satisfiable range, 0 to ignore the header (malformed or
// several ranges: serve the whole file, as RFC 9110 allows), -1 if
// unsatisfiable (416).
int parse_range(std::string_view v, uint64_t size, uint64_t* from, uint64_t* to) {
  if (v.substr(0, 6) != "bytes=") {
    return 0;
  }
  v.remove_prefix(6);
  if (v.find(',') != v.npos) {
    return 0;
  }
  size_t dash = v.find('-');
  if (dash == v.npos) {
    return 0;
  }
  auto num = [](std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != s.npos) {
      return false;
    }
    *out = std::stoull(std::string(s));
    return true;
  };
  std::string_view a = v.substr(0, dash), b = v.substr(dash + 1);
  uint64_t x = 0, y = 0;
  if (a.empty()) {  // suffix: the last y bytes
    if (!num(b, &y)) {
      return 0;
    }
    if (y == 0 || size == 0) {
      return -1;
    }
    *from = y >= size ? 0 : size - y;
    *to = size - 1;
    return 1;
  }
  if (!num(a, &x)) {
    return 0;
  }
  if (b.empty()) {
    y = size ? size - 1 : 0;
  } else if (!num(b, &y) || y < x) {
    return 0;
  }
  if (x >= size) {
    return -1;
  }
  *from = x;
  *to = std::min(y, size - 1);
  return 1;
}

class StaticHandler final : public Handler {
 public:
  explicit StaticHandler(int root) : root_(root) {}
  ~StaticHandler() override { close(root_); }

  void handle(std::shared_ptr<Exchange> ex) override {
    const Request& rq = ex->request();
    if (rq.method != "GET" && rq.method != "HEAD") {
      ex->respond(405, {{"Allow", "GET, HEAD"}}, "method not allowed\n");
      return;
    }
    // A prefix route serves what follows the prefix; otherwise the path.
    std::string_view path = rq.path;
    const std::string* rest = rq.param("*");
    std::string rel;
    bool ok = rest ? to_relative(encode_slashes(*rest), &rel) : to_relative(path, &rel);
    if (!ok) {
      ex->respond(404, {}, "not found\n");
      return;
    }
    int fd = open_beneath(root_, rel);
    struct stat st {};
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      int idx = open_beneath(fd, "index.html");
      close(fd);
      fd = idx;
      rel += "/index.html";
      if (fd >= 0 && fstat(fd, &st) != 0) {
        close(fd);
        fd = -1;
      }
    }
    if (fd < 0 || !S_ISREG(st.st_mode)) {
      int err = errno;
      if (fd >= 0) {
        close(fd);
      }
      if (fd < 0 && err == EACCES) {
        ex->respond(403, {}, "forbidden\n");
      } else {
        ex->respond(404, {}, "not found\n");
      }
      return;
    }
    uint64_t size = uint64_t(st.st_size);
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)size,
             (unsigned long long)(st.st_mtim.tv_sec * 1'000'000'000ull + st.st_mtim.tv_nsec));
    Headers h = {{"Content-Type", content_type(rel)}, {"ETag", etag}, {"Accept-Ranges", "bytes"}};
    if (const std::string* inm = rq.header("If-None-Match")) {
      if (etag_matches(*inm, etag)) {
        close(fd);
        ex->start(304, {{"ETag", etag}}, std::nullopt);
        ex->finish();
        return;
      }
    }
    uint64_t from = 0, to = size ? size - 1 : 0;
    int status = 200;
    if (const std::string* range = rq.header("Range")) {
      int r = parse_range(*range, size, &from, &to);
      if (r < 0) {
        close(fd);
        ex->respond(416, {{"Content-Range", "bytes */" + std::to_string(size)}},
                    "range not satisfiable\n");
        return;
      }
      if (r > 0) {
        status = 206;
        h.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" + std::to_string(to) +
                                            "/" + std::to_string(size));
      }
    }
    uint64_t len = size == 0 ? 0 : to - from + 1;
    ex->start(status, std::move(h), len);
    ex->send_file(fd, from, len, [ex, fd](Errc e) {
      close(fd);
      if (e == Errc::kOk) {
        ex->finish();
      }
    });
  }

 private:
  // The prefix route's rest is already decoded; re-encode so '%' and '/'
  // inside it are not decoded twice.
  static std::string encode_slashes(const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == '%') {
        o += "%25";
      } else {
        o += c;
      }
    }
    return o;
  }

  static bool etag_matches(std::string_view header, std::string_view etag) {
    size_t i = 0;
    while (i < header.size()) {
      size_t comma = header.find(',', i);
      std::string_view t = header.substr(i, comma == header.npos ? header.npos : comma - i);
      while (!t.empty() && t.front() == ' ') {
        t.remove_prefix(1);
      }
      while (!t.empty() && t.back() == ' ') {
        t.remove_suffix(1);
      }
      if (t.substr(0, 2) == "W/") {
        t.remove_prefix(2);
      }
      if (t == "*" || t == etag) {
        return true;
      }
      if (comma == header.npos) {
        break;
      }
      i = comma + 1;
    }
    return false;
  }

  int root_;
};

}  // namespace

Result<std::shared_ptr<Handler>> make_static_handler(const std::string& root) {
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error("static root " + root + ": " + std::strerror(errno));
  }
  return std::shared_ptr<Handler>(std::make_shared<StaticHandler>(fd));
}

}  // namespace rusm::net
