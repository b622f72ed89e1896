// EtcdRegistry: global names in etcd (see etcd.h for the layout and the
// threads). The HTTP client here is the least that etcd's JSON gateway
// needs: HTTP/1.1 POSTs on a kept-alive connection, bodies by length or
// chunked, and one long chunked response for the watch, whose messages are
// one JSON object per line. Every read and write has a deadline, and sizes
// are bounded, so a wrong or hostile endpoint costs an error, not the node.
#include "cluster/etcd.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "rusm/cluster/cluster.h"
#include "rusm/otp/node.h"
#include "rusm/runtime/host.h"

namespace rusm::cluster {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using otp::Pid;

// ---- base64 (etcd's JSON carries keys and values as base64) -----------------

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (size_t rest = in.size() - i; rest != 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) {
      v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    }
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  if (in.size() % 4 != 0) {
    return Error("base64: the length is not a multiple of 4");
  }
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    size_t pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad != 0 || (v[k] = value(c)) < 0) {
        return Error("base64: bad character");
      }
    }
    uint32_t w =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += static_cast<char>(w >> 16);
    if (pad < 2) {
      out += static_cast<char>((w >> 8) & 0xff);
    }
    if (pad < 1) {
      out += static_cast<char>(w & 0xff);
    }
  }
  return out;
}

Result<EtcdEndpoint> parse_etcd_endpoint(std::string_view url) {
  auto bad = [&] {
    return Error("etcd endpoint '" + std::string(url) + "': expected http://HOST:PORT");
  };
  std::string_view s = url;
  if (s.starts_with("https://")) {
    return Error("etcd endpoint '" + std::string(url) +
                 "': not supported yet: https (reach etcd over http:// on a trusted network)");
  }
  if (s.starts_with("http://")) {
    s.remove_prefix(7);
  }
  while (s.ends_with('/')) {
    s.remove_suffix(1);
  }
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) {
    return bad();
  }
  std::string_view host = s.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  std::string_view digits = s.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535 ||
      host.empty() || host.find_first_of("/@ ") != std::string_view::npos) {
    return bad();
  }
  return EtcdEndpoint{std::string(host), static_cast<uint16_t>(port)};
}

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxBody = size_t{64} << 20;  // a range of every name fits many times over
constexpr size_t kMaxLine = size_t{16} << 20;  // one watch message

// One HTTP/1.1 connection, blocking with deadlines. shutdown() may be called
// from another thread to wake a blocked read; the rest belongs to one thread.
class Http {
 public:
  ~Http() { close(); }

  bool connected() const { return fd_ >= 0; }
  // Waits give up once *cancel is set (checked at least every 200 ms).
  void set_cancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }

  Status connect(const EtcdEndpoint& ep, Clock::time_point deadline) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    std::string port = std::to_string(ep.port);
    if (int e = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list); e != 0) {
      return Error(std::string("cannot resolve the host: ") + ::gai_strerror(e));
    }
    std::string why = "no address";
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        why = std::strerror(errno);
        continue;
      }
      int r = ::connect(fd, a->ai_addr, a->ai_addrlen);
      if (r != 0 && errno == EINPROGRESS) {
        r = wait(fd, POLLOUT, deadline) ? 0 : -1;
        int err = 0;
        socklen_t len = sizeof err;
        if (r == 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
          errno = err;
          r = -1;
        } else if (r != 0) {
          errno = ETIMEDOUT;
        }
      }
      if (r != 0) {
        why = std::strerror(errno);
        ::close(fd);
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(fd_mu_);
      fd_ = fd;
      break;
    }
    ::freeaddrinfo(list);
    if (fd_ < 0) {
      return Error("cannot connect: " + why);
    }
    host_ = ep.host + ":" + port;
    buf_.clear();
    pos_ = 0;
    stream_.clear();
    return Status::ok();
  }

  void close() {
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  // Any thread: makes a blocked read or write fail at once.
  void shutdown() {
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_RDWR);
    }
  }

  struct Response {
    int status = 0;
    std::string body;
  };

  // POST path with a JSON body; the response.
  Result<Response> post(std::string_view path, std::string_view body, Clock::time_point deadline) {
    if (Status s = send_request(path, body, deadline); !s) {
      return s.error();
    }
    auto head = read_head(deadline);
    if (!head) {
      return head.error();
    }
    Response r;
    r.status = head->status;
    if (head->chunked) {
      for (;;) {
        auto more = next_chunk(r.body, deadline, kMaxBody);
        if (!more) {
          return more.error();
        }
        if (!*more) {
          break;
        }
      }
    } else if (head->length) {
      if (*head->length > kMaxBody) {
        return Error("the response is " + std::to_string(*head->length) + " bytes, too large");
      }
      if (Status s = take(*head->length, r.body, deadline); !s) {
        return s.error();
      }
    } else {
      return Error("a response with neither a length nor chunks");
    }
    if (head->close) {
      close();
    }
    return r;
  }

  // Sends a request whose response streams: its status, then next_line().
  Result<int> open_stream(std::string_view path, std::string_view body,
                          Clock::time_point deadline) {
    if (Status s = send_request(path, body, deadline); !s) {
      return s.error();
    }
    auto head = read_head(deadline);
    if (!head) {
      return head.error();
    }
    if (!head->chunked) {
      return Error("the stream's response is not chunked");
    }
    stream_.clear();
    return head->status;
  }

  // The next non-empty line of the stream (without its newline).
  Result<std::string> next_line(Clock::time_point deadline) {
    for (;;) {
      size_t nl = stream_.find('\n');
      if (nl != std::string::npos) {
        std::string line = stream_.substr(0, nl);
        stream_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') {
          line.pop_back();
        }
        if (line.empty()) {
          continue;
        }
        return line;
      }
      auto more = next_chunk(stream_, deadline, kMaxLine);
      if (!more) {
        return more.error();
      }
      if (!*more) {
        return Error("the stream ended");
      }
    }
  }

 private:
  bool wait(int fd, short events, Clock::time_point deadline) const {
    for (;;) {
      if (cancel_ != nullptr && cancel_->load(std::memory_order_acquire)) {
        return false;
      }
      int ms = cancel_ != nullptr ? 200 : 60'000;
      if (deadline != Clock::time_point::max()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
          return false;
        }
        ms = static_cast<int>(std::min<int64_t>(left.count() + 1, ms));
      }
      pollfd p{fd, events, 0};
      int r = ::poll(&p, 1, ms);
      if (r > 0) {
        return true;
      }
      if (r < 0 && errno != EINTR) {
        return false;
      }
      if (r == 0 && deadline != Clock::time_point::max() && Clock::now() >= deadline) {
        return false;
      }
    }
  }

  Status send_request(std::string_view path, std::string_view body, Clock::time_point deadline) {
    if (fd_ < 0) {
      return Error("not connected");
    }
    std::string req;
    req.reserve(160 + body.size());
    req.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(host_);
    req.append("\r\nContent-Type: application/json\r\nContent-Length: ");
    req.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    size_t sent = 0;
    while (sent < req.size()) {
      ssize_t n = ::send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!wait(fd_, POLLOUT, deadline)) {
          return Error("timed out sending");
        }
        continue;
      }
      return Error(std::string("send: ") + std::strerror(errno));
    }
    return Status::ok();
  }

  // Reads more bytes into buf_.
  Status fill(Clock::time_point deadline) {
    if (pos_ != 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    char tmp[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return Status::ok();
      }
      if (n == 0) {
        return Error("the connection closed");
      }
      if (errno == EAGAIN || errno == EINTR) {
        if (!wait(fd_, POLLIN, deadline)) {
          return Error("timed out waiting for etcd");
        }
        continue;
      }
      return Error(std::string("recv: ") + std::strerror(errno));
    }
  }

  // A line ending in CRLF, without it.
  Result<std::string> line(Clock::time_point deadline, size_t max) {
    for (;;) {
      size_t end = buf_.find("\r\n", pos_);
      if (end != std::string::npos) {
        std::string out = buf_.substr(pos_, end - pos_);
        pos_ = end + 2;
        return out;
      }
      if (buf_.size() - pos_ > max) {
        return Error("a line longer than " + std::to_string(max) + " bytes");
      }
      if (Status s = fill(deadline); !s) {
        return s.error();
      }
    }
  }

  Status take(size_t n, std::string& out, Clock::time_point deadline) {
    while (buf_.size() - pos_ < n) {
      if (Status s = fill(deadline); !s) {
        return s;
      }
    }
    out.append(buf_, pos_, n);
    pos_ += n;
    return Status::ok();
  }

  struct Head {
    int status = 0;
    bool chunked = false;
    bool close = false;
    std::optional<size_t> length;
  };

  Result<Head> read_head(Clock::time_point deadline) {
    auto status = line(deadline, kMaxHead);
    if (!status) {
      return status.error();
    }
    Head h;
    if (!status->starts_with("HTTP/1.") || status->size() < 12) {
      return Error("not an HTTP response: '" + status->substr(0, 40) + "'");
    }
    auto [p, ec] = std::from_chars(status->data() + 9, status->data() + 12, h.status);
    if (ec != std::errc()) {
      return Error("not an HTTP status: '" + status->substr(0, 40) + "'");
    }
    size_t total = status->size();
    for (;;) {
      auto l = line(deadline, kMaxHead);
      if (!l) {
        return l.error();
      }
      if (l->empty()) {
        break;
      }
      if ((total += l->size()) > kMaxHead) {
        return Error("the response's header is too large");
      }
      size_t colon = l->find(':');
      if (colon == std::string::npos) {
        continue;
      }
      std::string name = l->substr(0, colon);
      for (char& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      std::string_view value(*l);
      value.remove_prefix(colon + 1);
      while (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
      }
      if (name == "content-length") {
        size_t n = 0;
        auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (e != std::errc()) {
          return Error("a bad Content-Length");
        }
        h.length = n;
      } else if (name == "transfer-encoding") {
        h.chunked = value.find("chunked") != std::string_view::npos;
      } else if (name == "connection") {
        h.close = value.find("close") != std::string_view::npos;
      }
    }
    return h;
  }

  // Appends the next chunk's data to out; false after the last chunk.
  Result<bool> next_chunk(std::string& out, Clock::time_point deadline, size_t max) {
    auto size_line = line(deadline, 1024);
    if (!size_line) {
      return size_line.error();
    }
    size_t n = 0;
    auto [p, ec] = std::from_chars(size_line->data(), size_line->data() + size_line->size(), n, 16);
    if (ec != std::errc()) {
      return Error("a bad chunk size");
    }
    if (n == 0) {
      for (;;) {  // trailers, up to the empty line
        auto t = line(deadline, kMaxHead);
        if (!t) {
          return t.error();
        }
        if (t->empty()) {
          return false;
        }
      }
    }
    if (n > max || out.size() + n > max) {
      return Error("more than " + std::to_string(max) + " bytes");
    }
    if (Status s = take(n, out, deadline); !s) {
      return s.error();
    }
    auto crlf = line(deadline, 0);
    if (!crlf || !crlf->empty()) {
      return Error("a chunk without its CRLF");
    }
    return true;
  }

  const std::atomic<bool>* cancel_ = nullptr;
  std::mutex fd_mu_;  // close() and shutdown() against each other
  int fd_ = -1;
  std::string host_;
  std::string buf_;
  size_t pos_ = 0;
  std::string stream_;  // a stream's data not yet returned as lines
};

// etcd's JSON gives 64-bit integers as strings and leaves out zeros.
int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return 0;
  }
  if (it->is_number_integer()) {
    return it->get<int64_t>();
  }
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  return 0;
}

std::string range_end_of(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::optional<Pid> pid_of(std::string_view text) {
  uint64_t bits = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), bits);
  if (ec != std::errc() || p != text.data() + text.size() || bits == 0) {
    return std::nullopt;
  }
  return Pid::from_bits(bits);
}

}  // namespace

// ---- the registry -----------------------------------------------------------

struct EtcdRegistry::Impl {
  otp::Node& node;
  std::vector<EtcdEndpoint> endpoints;
  std::string endpoint_text;  // for messages
  size_t current = 0;         // the endpoint that answered last (request thread)
  std::chrono::milliseconds timeout;
  int64_t ttl = 5;  // seconds, as granted
  Log log;
  Lost lost;
  std::string names;  // "P/names/"
  std::string nodes;  // "P/nodes/"
  std::string node_key;

  // The request thread's queue.
  struct Job {
    std::function<void()> run;
    std::function<void()> cancel;  // at stop, instead of run
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  bool stopping = false;
  bool keepalive_paused = false;
  std::thread requests, watcher;
  Http req;    // request thread (and start/stop while it does not run)
  Http watch;  // watch thread
  std::atomic<int64_t> lease_id{0};
  std::atomic<bool> halt{false};  // set by stop(): the watch's reads give up
  bool etcd_unreachable = false;  // request thread: logged once per outage

  // The replica's bookkeeping (see etcd.h), under apply_mu.
  std::mutex apply_mu;
  int64_t watch_rev = 0;                           // every event up to it applied
  std::unordered_map<std::string, int64_t> ahead;  // names applied before the watch saw them
  std::unordered_map<std::string, Pid> owned;      // names local processes hold
  std::unordered_map<std::string, int> deleting;   // names this node is deleting
  std::unordered_set<std::string> suspects;        // owned names someone else deleted
  bool lease_check_queued = false;

  Impl(otp::Node& n, const EtcdOptions& o, Log l, Lost lo)
      : node(n), timeout(o.timeout), log(std::move(l)), lost(std::move(lo)) {
    std::string prefix = o.prefix.empty() ? "rusm" : o.prefix;
    names = prefix + "/names/";
    nodes = prefix + "/nodes/";
    node_key = nodes + std::to_string(n.id());
    ttl = std::max<int64_t>(1, o.lease_ttl.count());
    watch.set_cancel(&halt);
  }

  // ---- requests

  Result<json> call(Http& conn, std::string_view path, const json& body) {
    Clock::time_point deadline = Clock::now() + timeout;
    std::string text = body.dump();
    std::string why;
    // A kept-alive connection etcd closed, or an endpoint that is down: the
    // next one (each at most once per call).
    for (size_t attempt = 0; attempt <= endpoints.size(); ++attempt) {
      if (!conn.connected()) {
        const EtcdEndpoint& ep = endpoints[current];
        if (Status s = conn.connect(ep, deadline); !s) {
          why = ep.host + ":" + std::to_string(ep.port) + ": " + s.error().message();
          current = (current + 1) % endpoints.size();
          continue;
        }
      }
      auto r = conn.post(path, text, deadline);
      if (!r) {
        why = r.error().message();
        conn.close();
        if (Clock::now() >= deadline) {
          break;
        }
        continue;
      }
      json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        return Error("etcd: " + std::string(path) + ": an answer that is not a JSON object");
      }
      if (r->status != 200) {
        std::string message =
            j.value("message", j.value("error", std::string("HTTP ") + std::to_string(r->status)));
        return Error("etcd: " + message);
      }
      return j;
    }
    return Error("etcd (" + endpoint_text + "): " + why);
  }

  Result<json> call(std::string_view path, const json& body) { return call(req, path, body); }

  Status grant_lease() {
    auto r = call("/v3/lease/grant", json{{"TTL", ttl}});
    if (!r) {
      return r.error();
    }
    int64_t id = num(*r, "ID");
    if (id == 0) {
      return Error("etcd: no lease granted: " + r->dump());
    }
    ttl = std::max<int64_t>(ttl, num(*r, "TTL"));
    lease_id.store(id);
    auto put = call("/v3/kv/put", json{{"key", base64_encode(node_key)},
                                       {"value", base64_encode(std::to_string(id))},
                                       {"lease", std::to_string(id)}});
    if (!put) {
      return put.error();
    }
    return Status::ok();
  }

  void enqueue(std::function<void()> run, std::function<void()> cancel) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!stopping) {
        jobs.push_back(Job{std::move(run), std::move(cancel)});
        cv.notify_one();
        return;
      }
    }
    if (cancel) {
      cancel();
    }
  }

  void run_requests() {
    auto interval = std::chrono::milliseconds(ttl * 1000 / 3);
    Clock::time_point next_keepalive = Clock::now() + interval;
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      if (!jobs.empty()) {
        Job job = std::move(jobs.front());
        jobs.pop_front();
        lock.unlock();
        job.run();
        lock.lock();
        continue;
      }
      if (Clock::now() >= next_keepalive) {
        bool paused = keepalive_paused;
        lock.unlock();
        if (!paused) {
          keepalive();
        }
        interval = std::chrono::milliseconds(ttl * 1000 / 3);
        next_keepalive = Clock::now() + interval;
        lock.lock();
        continue;
      }
      cv.wait_until(lock, next_keepalive);
    }
  }

  void keepalive() {
    auto r = call("/v3/lease/keepalive", json{{"ID", std::to_string(lease_id.load())}});
    if (!r) {
      if (!etcd_unreachable) {
        etcd_unreachable = true;
        log("etcd: keep-alive failed (" + r.error().message() +
            "); this node's global names go if it lasts past the lease's " + std::to_string(ttl) +
            " s");
      }
      return;
    }
    if (etcd_unreachable) {
      etcd_unreachable = false;
      log("etcd: reachable again");
    }
    const json& res = r->contains("result") ? (*r)["result"] : *r;
    if (num(res, "TTL") <= 0) {
      renew_lease();
    }
  }

  // The lease expired: a new one, then this node's names again.
  void renew_lease() {
    int64_t old = lease_id.load();
    if (Status s = grant_lease(); !s) {
      log("etcd: lease " + std::to_string(old) +
          " expired, and a new one failed: " + s.error().message());
      return;
    }
    std::vector<std::pair<std::string, Pid>> mine;
    {
      std::lock_guard<std::mutex> lock(apply_mu);
      mine.assign(owned.begin(), owned.end());
      suspects.clear();
    }
    size_t kept = 0, taken = 0;
    for (auto& [name, pid] : mine) {
      auto r = put_if_absent(name, pid, lease_id.load());
      if (r && *r) {
        ++kept;
        continue;
      }
      ++taken;
      bool drop = false;
      {
        std::lock_guard<std::mutex> lock(apply_mu);
        auto it = owned.find(name);
        if (it != owned.end() && it->second == pid) {
          owned.erase(it);
          drop = true;
        }
      }
      if (drop && r) {  // someone else holds it now
        lost(pid, name);
      }
    }
    log("etcd: lease " + std::to_string(old) + " had expired (this node was cut off from etcd); " +
        "took lease " + std::to_string(lease_id.load()) + ", re-registered " +
        std::to_string(kept) + " names, lost " + std::to_string(taken));
  }

  // A name this node held was deleted by nobody here: deliberate (another
  // node unregistered it) if the lease lives, else the lease expired.
  void check_lease() {
    {
      std::lock_guard<std::mutex> lock(apply_mu);
      lease_check_queued = false;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (keepalive_paused) {
        return;  // the test hook: cut off until resumed (keepalive() renews then)
      }
    }
    auto r = call("/v3/lease/timetolive", json{{"ID", std::to_string(lease_id.load())}});
    if (!r) {
      return;  // keepalive() finds out
    }
    if (num(*r, "TTL") > 0) {
      std::lock_guard<std::mutex> lock(apply_mu);
      for (const std::string& name : suspects) {
        owned.erase(name);
      }
      suspects.clear();
      return;
    }
    renew_lease();
  }

  // Registers name for pid under lease unless taken: true if pid holds it
  // now, false if another does (the replica learns the holder either way).
  Result<bool> put_if_absent(const std::string& name, Pid pid, int64_t lease) {
    std::string key = base64_encode(names + name);
    json txn = {
        {"compare", json::array({{{"key", key}, {"target", "CREATE"}, {"create_revision", "0"}}})},
        {"success", json::array({{{"request_put",
                                   {{"key", key},
                                    {"value", base64_encode(std::to_string(pid.bits()))},
                                    {"lease", std::to_string(lease)}}}}})},
        {"failure", json::array({{{"request_range", {{"key", key}}}}})}};
    auto r = call("/v3/kv/txn", txn);
    if (!r) {
      return r.error();
    }
    int64_t rev = num((*r)["header"], "revision");
    if (r->value("succeeded", false)) {
      apply_put(name, pid, rev, rev, false);
      return true;
    }
    Pid holder;
    int64_t created = 0, modified = 0;
    if (auto rs = r->find("responses"); rs != r->end() && rs->is_array() && !rs->empty()) {
      const json& range = (*rs)[0].value("response_range", json::object());
      if (auto kvs = range.find("kvs"); kvs != range.end() && kvs->is_array() && !kvs->empty()) {
        const json& kv = (*kvs)[0];
        auto v = base64_decode(kv.value("value", ""));
        if (v) {
          holder = pid_of(*v).value_or(Pid());
        }
        created = num(kv, "create_revision");
        modified = num(kv, "mod_revision");
      }
    }
    if (holder.valid()) {
      apply_put(name, holder, created, modified, false);
    }
    if (holder == pid) {
      return true;  // an earlier attempt of this same registration went through
    }
    return false;
  }

  void do_register(const otp::GlobalName& g, const std::function<void(Status)>& done) {
    int64_t lease = lease_id.load();
    if (g.pid.node() != node.id()) {
      // The pid's node's lease, so the name lives and dies with that node.
      auto r =
          call("/v3/kv/range", json{{"key", base64_encode(nodes + std::to_string(g.pid.node()))}});
      if (!r) {
        done(
            Error("register_global '" + g.name + "': " + r.error().message(), runtime::kErrNoConn));
        return;
      }
      lease = 0;
      if (auto kvs = r->find("kvs"); kvs != r->end() && kvs->is_array() && !kvs->empty()) {
        auto v = base64_decode((*kvs)[0].value("value", ""));
        if (v) {
          std::from_chars(v->data(), v->data() + v->size(), lease);
        }
      }
      if (lease == 0) {
        done(Error("register_global '" + g.name + "': node " + std::to_string(g.pid.node()) +
                       " holds no lease in etcd (it is down, or not on this etcd registry)",
                   runtime::kErrNoConn));
        return;
      }
    }
    auto r = put_if_absent(g.name, g.pid, lease);
    if (!r && g.pid.node() == node.id() &&
        r.error().message().find("lease not found") != std::string::npos) {
      renew_lease();  // ours expired before a keep-alive noticed
      r = put_if_absent(g.name, g.pid, lease_id.load());
    }
    if (!r) {
      done(Error("register_global '" + g.name + "': " + r.error().message(), runtime::kErrNoConn));
      return;
    }
    if (!*r) {
      Pid holder = node.whereis_global(g.name);
      done(Error("register_global '" + g.name + "': name already registered to " +
                     (holder.valid() ? holder.to_string() : std::string("another process")),
                 runtime::kErrExists));
      return;
    }
    if (g.pid.node() == node.id() && node.whereis_global(g.name) != g.pid) {
      // It exited before the store answered (apply_put dropped it again).
      done(Error("register_global '" + g.name + "': " + g.pid.to_string() + " is not alive",
                 runtime::kErrNoproc));
      return;
    }
    done(Status::ok());
  }

  // Deletes name (held by pid, or by anyone if pid is invalid).
  void do_unregister(const std::string& name, Pid pid, const std::function<void(Status)>& done) {
    std::string key = base64_encode(names + name);
    json txn;
    if (pid.valid()) {
      txn = {{"compare", json::array({{{"key", key},
                                       {"target", "VALUE"},
                                       {"value", base64_encode(std::to_string(pid.bits()))}}})},
             {"success", json::array({{{"request_delete_range", {{"key", key}}}}})}};
    } else {
      txn = {{"compare", json::array({{{"key", key},
                                       {"target", "CREATE"},
                                       {"result", "GREATER"},
                                       {"create_revision", "0"}}})},
             {"success", json::array({{{"request_delete_range", {{"key", key}}}}})}};
    }
    auto r = call("/v3/kv/txn", txn);
    bool deleted = r && r->value("succeeded", false);
    if (deleted) {
      apply_del(name, num((*r)["header"], "revision"), false);
    }
    {
      std::lock_guard<std::mutex> lock(apply_mu);
      if (auto it = deleting.find(name); it != deleting.end() && --it->second == 0) {
        deleting.erase(it);
      }
    }
    if (!r) {
      if (!done) {
        log("etcd: dropping global name '" + name + "' failed: " + r.error().message() +
            " (it goes with this node's lease)");
      }
    }
    if (done) {
      if (!r) {
        done(
            Error("unregister_global '" + name + "': " + r.error().message(), runtime::kErrNoConn));
      } else if (!deleted) {
        done(Error("unregister_global '" + name + "': name not registered", runtime::kErrNotFound));
      } else {
        done(Status::ok());
      }
    }
  }

  void queue_delete(const std::string& name, Pid pid, std::function<void(Status)> done) {
    {
      std::lock_guard<std::mutex> lock(apply_mu);
      ++deleting[name];
    }
    auto cancel = [this, name, done] {
      {
        std::lock_guard<std::mutex> lock(apply_mu);
        if (auto it = deleting.find(name); it != deleting.end() && --it->second == 0) {
          deleting.erase(it);
        }
      }
      if (done) {
        done(Error("unregister_global '" + name + "': the cluster stopped", runtime::kErrNoConn));
      }
    };
    enqueue([this, name, pid, done] { do_unregister(name, pid, done); }, cancel);
  }

  // ---- the replica

  // Whether a change of name at rev is news. From the watch (or a full
  // read): unless applied ahead of it. From a request's answer: unless the
  // watch got there first; then it is applied ahead.
  bool fresh(const std::string& name, int64_t rev, bool from_watch) {
    auto it = ahead.find(name);
    if (it != ahead.end() && rev <= it->second) {
      return false;
    }
    if (!from_watch) {
      if (rev <= watch_rev) {
        return false;
      }
      ahead[name] = rev;
    }
    return true;
  }

  void apply_put(const std::string& name, Pid pid, int64_t stamp, int64_t rev, bool from_watch) {
    otp::Node::AuthorityPut r;
    Pid owner_lost;  // a local process that held name here (perhaps before its lease expired)
    {
      std::lock_guard<std::mutex> lock(apply_mu);
      if (!fresh(name, rev, from_watch)) {
        return;
      }
      r = node.authority_put(otp::GlobalName{name, pid, stamp});
      suspects.erase(name);
      auto it = owned.find(name);
      if (it != owned.end() && it->second != pid) {
        owner_lost = it->second;
        owned.erase(it);
      }
      if (pid.node() == node.id() && !r.holder_dead) {
        owned[name] = pid;
      }
    }
    if (owner_lost.valid()) {
      lost(owner_lost, name);
    }
    if (r.lost.valid() && r.lost != owner_lost) {
      lost(r.lost, name);
    }
    if (r.holder_dead) {
      queue_delete(name, pid, nullptr);
    }
  }

  void apply_del(const std::string& name, int64_t rev, bool from_watch) {
    std::lock_guard<std::mutex> lock(apply_mu);
    if (!fresh(name, rev, from_watch)) {
      return;
    }
    (void)node.authority_del(name);
    if (owned.contains(name)) {
      if (deleting.contains(name)) {
        owned.erase(name);
      } else if (suspects.insert(name).second && !lease_check_queued) {
        lease_check_queued = true;
        enqueue([this] { check_lease(); }, nullptr);
      }
    }
  }

  void watched_up_to(int64_t rev) {
    std::lock_guard<std::mutex> lock(apply_mu);
    if (rev > watch_rev) {
      watch_rev = rev;
      std::erase_if(ahead, [rev](const auto& kv) { return kv.second <= rev; });
    }
  }

  // Reads every name (on conn) into the replica; the revision read at.
  Result<int64_t> load(Http& conn) {
    auto r = call(
        conn, "/v3/kv/range",
        json{{"key", base64_encode(names)}, {"range_end", base64_encode(range_end_of(names))}});
    if (!r) {
      return r.error();
    }
    int64_t rev = num((*r)["header"], "revision");
    std::unordered_set<std::string> seen;
    if (auto kvs = r->find("kvs"); kvs != r->end() && kvs->is_array()) {
      for (const json& kv : *kvs) {
        apply_event(kv, false, seen);
      }
    }
    for (auto& [name, pid] : node.global_names()) {
      if (!seen.contains(name)) {
        apply_del(name, rev, true);
      }
    }
    watched_up_to(rev);
    return rev;
  }

  // One key-value of P/names/ (put or deleted), applied as the watch's.
  void apply_event(const json& kv, bool deleted, std::unordered_set<std::string>& seen) {
    auto key = base64_decode(kv.value("key", ""));
    if (!key || !key->starts_with(names)) {
      return;
    }
    std::string name = key->substr(names.size());
    int64_t modified = num(kv, "mod_revision");
    if (deleted) {
      apply_del(name, modified, true);
      return;
    }
    auto value = base64_decode(kv.value("value", ""));
    std::optional<Pid> pid = value ? pid_of(*value) : std::nullopt;
    if (!pid) {
      log("etcd: ignoring global name '" + name + "': its value is not a pid");
      return;
    }
    seen.insert(name);
    apply_put(name, *pid, num(kv, "create_revision"), modified, true);
  }

  bool sleep_unless_stopping(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    return !cv.wait_for(lock, d, [this] { return stopping; });
  }

  bool is_stopping() {
    std::lock_guard<std::mutex> lock(mu);
    return stopping;
  }

  void run_watch(int64_t from) {
    std::chrono::milliseconds backoff{100};
    bool reload = false;
    size_t conn = 0;
    while (!is_stopping()) {
      if (reload) {
        auto rev = load(watch);
        if (!rev) {
          if (!sleep_unless_stopping(backoff)) {
            return;
          }
          backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
          continue;
        }
        from = *rev + 1;
        reload = false;
      }
      std::string why = stream(from, conn);
      if (is_stopping()) {
        return;
      }
      log("etcd: the watch of global names stopped (" + why + "); reopening");
      watch.close();
      reload = true;
      if (!sleep_unless_stopping(backoff)) {
        return;
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  // Watches from revision `from` until an error (returned).
  std::string stream(int64_t& from, size_t& conn) {
    json body = {{"create_request",
                  {{"key", base64_encode(names)},
                   {"range_end", base64_encode(range_end_of(names))},
                   {"start_revision", std::to_string(from)}}}};
    if (!watch.connected()) {
      const EtcdEndpoint& ep = endpoints[conn % endpoints.size()];
      if (Status s = watch.connect(ep, Clock::now() + timeout); !s) {
        ++conn;
        return ep.host + ":" + std::to_string(ep.port) + ": " + s.error().message();
      }
    }
    auto status = watch.open_stream("/v3/watch", body.dump(), Clock::now() + timeout);
    if (!status) {
      return status.error().message();
    }
    if (*status != 200) {
      return "HTTP " + std::to_string(*status);
    }
    std::unordered_set<std::string> seen;
    for (;;) {
      auto line = watch.next_line(Clock::time_point::max());
      if (!line) {
        return line.error().message();
      }
      json j = json::parse(*line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return "a watch message that is not JSON";
      }
      if (j.contains("error")) {
        return j["error"].dump();
      }
      const json& res = j.value("result", json::object());
      if (res.value("canceled", false) || num(res, "compact_revision") != 0) {
        return "the watch was cancelled (compacted to " +
               std::to_string(num(res, "compact_revision")) + ")";
      }
      int64_t last = 0;
      if (auto events = res.find("events"); events != res.end() && events->is_array()) {
        for (const json& ev : *events) {
          const json& kv = ev.value("kv", json::object());
          apply_event(kv, ev.value("type", std::string("PUT")) == "DELETE", seen);
          last = std::max(last, num(kv, "mod_revision"));
        }
      }
      if (last != 0) {
        watched_up_to(last);
        from = last + 1;
      }
    }
  }
};

Result<std::unique_ptr<EtcdRegistry>> EtcdRegistry::start(otp::Node& node,
                                                          const EtcdOptions& options, Log log,
                                                          Lost lost) {
  auto impl = std::make_shared<Impl>(node, options, std::move(log), std::move(lost));
  if (options.endpoints.empty()) {
    return Error("etcd: no endpoints");
  }
  for (const std::string& e : options.endpoints) {
    auto ep = parse_etcd_endpoint(e);
    if (!ep) {
      return ep.error();
    }
    impl->endpoints.push_back(*ep);
    impl->endpoint_text += (impl->endpoint_text.empty() ? "" : ", ") + e;
  }
  if (Status s = impl->grant_lease(); !s) {
    return Error("cluster: the etcd registry: " + s.error().message());
  }
  auto rev = impl->load(impl->req);
  if (!rev) {
    return Error("cluster: the etcd registry: " + rev.error().message());
  }
  Impl* i = impl.get();
  i->requests = std::thread([i] { i->run_requests(); });
  i->watcher = std::thread([i, from = *rev + 1] { i->run_watch(from); });
  return std::unique_ptr<EtcdRegistry>(new EtcdRegistry(std::move(impl)));
}

EtcdRegistry::EtcdRegistry(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

EtcdRegistry::~EtcdRegistry() {
  stop();
}

void EtcdRegistry::stop() {
  Impl& i = *impl_;
  {
    std::lock_guard<std::mutex> lock(i.mu);
    if (i.stopping) {
      return;
    }
    i.stopping = true;
  }
  i.halt.store(true, std::memory_order_release);
  i.cv.notify_all();
  i.watch.shutdown();
  i.requests.join();
  i.watcher.join();
  std::deque<Impl::Job> left;
  {
    std::lock_guard<std::mutex> lock(i.mu);
    left.swap(i.jobs);
  }
  for (Impl::Job& job : left) {
    if (job.cancel) {
      job.cancel();
    }
  }
  // This node's names go now rather than at the lease's expiry.
  auto r = i.call("/v3/lease/revoke", json{{"ID", std::to_string(i.lease_id.load())}});
  if (!r) {
    i.log("etcd: revoking lease " + std::to_string(i.lease_id.load()) +
          " failed: " + r.error().message() + " (it expires in " + std::to_string(i.ttl) + " s)");
  }
  i.req.close();
}

void EtcdRegistry::register_name(const otp::GlobalName& g, std::function<void(Status)> done) {
  Impl* i = impl_.get();
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  i->enqueue([i, g, shared] { i->do_register(g, *shared); },
             [g, shared] {
               (*shared)(Error("register_global '" + g.name + "': the cluster stopped",
                               runtime::kErrNoConn));
             });
}

void EtcdRegistry::unregister_name(std::string name, otp::Pid pid,
                                   std::function<void(Status)> done) {
  impl_->queue_delete(name, pid, std::move(done));
}

int64_t EtcdRegistry::lease() const {
  return impl_->lease_id.load();
}

void EtcdRegistry::pause_keepalive(bool paused) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->keepalive_paused = paused;
  impl_->cv.notify_all();
}

}  // namespace rusm::cluster
