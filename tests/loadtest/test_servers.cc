#include "test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "framing.h"

namespace rusm::loadtest::testing {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

TestServer::TestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(listen_fd_, 1024);
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestServer::~TestServer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  std::unique_lock<std::mutex> lock(mu_);
  for (int fd : open_fds_) {
    shutdown(fd, SHUT_RDWR);
  }
  done_.wait(lock, [this] { return live_ == 0; });
}

void TestServer::accept_loop() {
  for (;;) {
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stopping_) {
        return;
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    open_fds_.insert(fd);
    ++live_;
    std::thread([this, fd] {
      handler_(fd, *this);
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.erase(fd);
      close(fd);
      --live_;
      done_.notify_all();
    }).detach();
  }
}

namespace {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) {
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_exact(int fd, std::string* rest, size_t n, std::string* out) {
  while (rest->size() < n) {
    char buf[4096];
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0) {
      return false;
    }
    rest->append(buf, static_cast<size_t>(r));
  }
  *out = rest->substr(0, n);
  rest->erase(0, n);
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// The value of header `name` (lower case) in `header`, or "".
std::string header_value(const std::string& header, const std::string& name) {
  std::string h = lower(header);
  size_t at = h.find("\r\n" + name + ":");
  if (at == std::string::npos) {
    return "";
  }
  size_t v = at + 3 + name.size();
  size_t e = header.find("\r\n", v);
  std::string value = header.substr(v, e - v);
  value.erase(0, value.find_first_not_of(" \t"));
  value.erase(value.find_last_not_of(" \t") + 1);
  return value;
}

}  // namespace

std::string read_header(int fd, std::string* rest) {
  for (;;) {
    size_t end = rest->find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string h = rest->substr(0, end + 4);
      rest->erase(0, end + 4);
      return h;
    }
    char buf[4096];
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0) {
      return "";
    }
    rest->append(buf, static_cast<size_t>(r));
  }
}

TestServer::Handler http_handler(HttpBehavior b) {
  return [b](int fd, TestServer& server) {
    if (b.idle_close_ms != 0) {
      timeval tv{static_cast<time_t>(b.idle_close_ms / 1000),
                 static_cast<suseconds_t>(b.idle_close_ms % 1000 * 1000)};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    std::string rest;
    for (;;) {
      std::string h = read_header(fd, &rest);
      if (h.empty()) {
        return;
      }
      std::string cl = header_value(h, "content-length");
      if (!cl.empty()) {
        std::string body;
        if (!read_exact(fd, &rest, std::stoul(cl), &body)) {
          return;
        }
      }
      uint64_t n = ++server.requests;
      if (b.stall_at != 0 && n == b.stall_at) {
        server.stall_until_ns = now_ns() + uint64_t{b.stall_ms} * 1000000;
      }
      if (b.delay_us != 0) {
        usleep(b.delay_us);
      }
      uint64_t until = server.stall_until_ns.load();
      uint64_t now = now_ns();
      if (until > now) {
        timespec ts{static_cast<time_t>((until - now) / 1000000000),
                    static_cast<long>((until - now) % 1000000000)};
        nanosleep(&ts, nullptr);
      }
      bool close_after = lower(header_value(h, "connection")).find("close") != std::string::npos;
      std::string resp =
          "HTTP/1.1 " + std::to_string(b.status) + " X\r\nContent-Type: text/plain\r\n";
      if (b.chunked) {
        resp += "Transfer-Encoding: chunked\r\n";
      } else {
        resp += "Content-Length: " + std::to_string(b.body.size()) + "\r\n";
      }
      if (close_after) {
        resp += "Connection: close\r\n";
      }
      resp += "\r\n";
      if (b.chunked) {
        // Two chunks with an extension, then a trailer: the whole grammar.
        size_t half = b.body.size() / 2;
        char size[32];
        std::snprintf(size, sizeof size, "%zx;x=y\r\n", half);
        resp += size + b.body.substr(0, half) + "\r\n";
        std::snprintf(size, sizeof size, "%zX\r\n", b.body.size() - half);
        resp += size + b.body.substr(half) + "\r\n0\r\nX-Trailer: 1\r\n\r\n";
      } else {
        resp += b.body;
      }
      if (!write_all(fd, resp.data(), resp.size()) || close_after) {
        return;
      }
    }
  };
}

TestServer::Handler ws_echo_handler() {
  return [](int fd, TestServer& server) {
    std::string rest;
    std::string h = read_header(fd, &rest);
    std::string key = header_value(h, "sec-websocket-key");
    if (h.empty() || key.empty() || lower(header_value(h, "upgrade")) != "websocket") {
      const char* bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      write_all(fd, bad, strlen(bad));
      return;
    }
    std::string resp =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        ws_accept_for(key) + "\r\n\r\n";
    if (!write_all(fd, resp.data(), resp.size())) {
      return;
    }
    for (;;) {
      std::string hdr;
      if (!read_exact(fd, &rest, 2, &hdr)) {
        return;
      }
      uint8_t op = hdr[0] & 0x0f;
      uint64_t len = hdr[1] & 0x7f;
      bool masked = (hdr[1] & 0x80) != 0;
      std::string ext;
      if (len == 126) {
        if (!read_exact(fd, &rest, 2, &ext)) {
          return;
        }
        len = (uint64_t{static_cast<uint8_t>(ext[0])} << 8) | static_cast<uint8_t>(ext[1]);
      } else if (len == 127) {
        return;  // not needed by the tests
      }
      std::string mask, payload;
      if (!masked || !read_exact(fd, &rest, 4, &mask) || !read_exact(fd, &rest, len, &payload)) {
        return;  // client frames must be masked
      }
      for (size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
      }
      if (op == 0x8) {
        std::string c = "\x88\x02";
        c += payload.substr(0, 2);
        write_all(fd, c.data(), c.size());
        ++server.events;
        return;
      }
      ++server.requests;
      std::string out;
      out.push_back(static_cast<char>(0x80 | op));
      if (len < 126) {
        out.push_back(static_cast<char>(len));
      } else {
        out.push_back(126);
        out.push_back(static_cast<char>(len >> 8));
        out.push_back(static_cast<char>(len & 0xff));
      }
      out += payload;
      if (!write_all(fd, out.data(), out.size())) {
        return;
      }
    }
  };
}

TestServer::Handler sse_handler(bool chunked, int batch, unsigned header_delay_ms) {
  return [chunked, batch, header_delay_ms](int fd, TestServer& server) {
    std::string rest;
    if (read_header(fd, &rest).empty()) {
      return;
    }
    usleep(header_delay_ms * 1000);
    ++server.requests;
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";
    head += chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!write_all(fd, head.data(), head.size())) {
      return;
    }
    uint64_t n = 0;
    while (!server.stopping()) {
      std::string events;
      for (int i = 0; i < batch; ++i) {
        // Alternate LF and CRLF line ends; both end an event.
        events += (n % 2 == 0) ? "data: " + std::to_string(n) + "\n\n"
                               : "id: " + std::to_string(n) + "\r\ndata: x\r\n\r\n";
        ++n;
      }
      std::string out;
      if (chunked) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", events.size());
        out = size + events + "\r\n";
      } else {
        out = events;
      }
      // Counted before the write: a reader may count them before this
      // thread gets to run again.
      server.events += static_cast<uint64_t>(batch);
      if (!write_all(fd, out.data(), out.size())) {
        return;
      }
    }
  };
}

}  // namespace rusm::loadtest::testing
