// Helpers for the net tests: a server on its own io_context (run by two
// threads), raw-socket clients, a small HTTP response reader, and native
// handlers (hello, echo, slow, throwing, SSE ticker, WebSocket echo).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include "rusm/net/server.h"

namespace rusm::net::test {

using namespace std::chrono_literals;

struct TestServer {
  boost::asio::io_context ioc;
  std::unique_ptr<Server> server;
  std::vector<std::thread> threads;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<uint16_t> ports;
  uint16_t port = 0;

  Status start(ServerOptions o, int nthreads = 2) {
    if (o.listen.empty()) {
      o.listen.push_back(Listen{"127.0.0.1", 0, false});
    }
    if (!o.error_log) {
      o.error_log = [this](const std::string& l) {
        std::lock_guard<std::mutex> lock(log_mu);
        errors.push_back(l);
      };
    }
    server = std::make_unique<Server>(ioc, std::move(o));
    Status s = server->start();
    if (!s) {
      return s;
    }
    ports = server->ports();
    port = ports.empty() ? 0 : ports[0];
    work.emplace(ioc.get_executor());
    for (int i = 0; i < nthreads; ++i) {
      threads.emplace_back([this] { ioc.run(); });
    }
    return Status::ok();
  }
  ~TestServer() { stop(); }
  void stop() {
    if (server) {
      // stop() closes connections on their strands: keep the loop running
      // until they are gone (a handle cycle, Exchange <-> connection, is
      // broken only there).
      server->stop();
      if (!threads.empty()) {
        auto end = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < end &&
               (server->stats().open_connections > 0 || server->stats().websockets > 0)) {
          std::this_thread::sleep_for(1ms);
        }
      }
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) {
      t.join();
    }
    threads.clear();
  }
  std::vector<std::string> error_lines() {
    std::lock_guard<std::mutex> lock(log_mu);
    return errors;
  }
  std::mutex log_mu;
  std::vector<std::string> errors;
};

inline int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    s.remove_prefix(size_t(n));
  }
  return true;
}

// Reads what arrives within `timeout` (stops early at EOF or when `stop`
// says the data so far is enough). *eof tells whether the peer closed.
template <class Stop>
std::string recv_until(int fd, Stop stop, std::chrono::milliseconds timeout, bool* eof = nullptr) {
  std::string got;
  auto end = std::chrono::steady_clock::now() + timeout;
  if (eof) {
    *eof = false;
  }
  while (!stop(got)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left.count())) <= 0) {
      break;
    }
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (eof) {
        *eof = true;
      }
      break;
    }
    got.append(buf, size_t(n));
  }
  return got;
}

inline std::string recv_all(int fd, std::chrono::milliseconds timeout = 5s, bool* eof = nullptr) {
  return recv_until(
      fd, [](const std::string&) { return false; }, timeout, eof);
}

// True if the peer closed (EOF or reset) within `timeout`.
inline bool closed_within(int fd, std::chrono::milliseconds timeout) {
  bool eof = false;
  recv_all(fd, timeout, &eof);
  return eof;
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  bool complete = false;
  size_t consumed = 0;  // bytes of the input this response used
};

inline std::string lower(std::string s) {
  for (char& c : s) {
    c = char(tolower(c));
  }
  return s;
}

// Parses one response from the start of `in` (tests only). HEAD responses:
// pass head=true so a Content-Length is not waited for.
inline Response parse_response(const std::string& in, bool head = false) {
  Response r;
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) {
    return r;
  }
  size_t line_end = in.find("\r\n");
  std::string status_line = in.substr(0, line_end);
  if (status_line.size() < 12) {
    return r;
  }
  r.status = std::stoi(status_line.substr(9, 3));
  size_t pos = line_end + 2;
  while (pos < end) {
    size_t e = in.find("\r\n", pos);
    std::string line = in.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v[0] == ' ') {
        v.erase(0, 1);
      }
      r.headers[lower(line.substr(0, colon))] = v;
    }
    pos = e + 2;
  }
  size_t body = end + 4;
  if (head || r.status == 304 || r.status == 204 || r.status / 100 == 1) {
    r.complete = true;
    r.consumed = body;
    return r;
  }
  if (r.headers.count("content-length")) {
    size_t n = std::stoul(r.headers["content-length"]);
    if (in.size() - body >= n) {
      r.body = in.substr(body, n);
      r.complete = true;
      r.consumed = body + n;
    }
    return r;
  }
  if (lower(r.headers["transfer-encoding"]) == "chunked") {
    size_t p = body;
    while (true) {
      size_t e = in.find("\r\n", p);
      if (e == std::string::npos) {
        return r;
      }
      size_t n = std::stoul(in.substr(p, e - p), nullptr, 16);
      if (n == 0) {
        if (in.size() < e + 4) {
          return r;
        }
        r.complete = true;
        r.consumed = e + 4;
        return r;
      }
      if (in.size() < e + 2 + n + 2) {
        return r;
      }
      r.body += in.substr(e + 2, n);
      p = e + 2 + n + 2;
    }
  }
  r.body = in.substr(body);  // close-delimited
  return r;
}

// Reads responses until `n` are complete (or timeout).
inline std::vector<Response> read_responses(int fd, size_t n,
                                            std::chrono::milliseconds timeout = 5s,
                                            bool head = false) {
  std::vector<Response> out;
  std::string buf;
  recv_until(
      fd,
      [&](const std::string& got) {
        out.clear();
        size_t off = 0;
        while (out.size() < n) {
          Response r = parse_response(got.substr(off), head);
          if (!r.complete) {
            break;
          }
          off += r.consumed;
          out.push_back(std::move(r));
        }
        return out.size() >= n;
      },
      timeout);
  return out;
}

inline Response request(uint16_t port, const std::string& raw,
                        std::chrono::milliseconds timeout = 5s) {
  int fd = connect_to(port);
  send_all(fd, raw);
  auto rs = read_responses(fd, 1, timeout, raw.rfind("HEAD ", 0) == 0);
  close(fd);
  return rs.empty() ? Response{} : rs[0];
}

inline std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

// --- native handlers --------------------------------------------------------------

class HelloHandler : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    ex->respond(200, {{"Content-Type", "text/plain"}}, "hello from rusm\n");
  }
};

// Echoes the request body (read chunk by chunk), and the path in a header.
class EchoHandler : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    auto body = std::make_shared<std::string>();
    read(ex, body);
  }
  std::atomic<int> chunks{0};

 private:
  void read(std::shared_ptr<Exchange> ex, std::shared_ptr<std::string> body) {
    ex->read_body([this, ex, body](Errc e, std::string chunk) {
      if (e != Errc::kOk) {
        last_error = e;
        if (e == Errc::kTooLarge) {
          ex->respond(413, {}, "too large\n");
        } else {
          ex->fail(std::string("read_body: ") + errc_name(e));
        }
        return;
      }
      if (chunk.empty()) {
        const std::string* p = ex->request().param("id");
        const std::string* host = ex->request().header("host");
        ex->respond(
            200,
            {{"X-Path", ex->request().path}, {"X-Id", p ? *p : ""}, {"X-Host", host ? *host : ""}},
            *body);
        return;
      }
      ++chunks;
      *body += chunk;
      read(ex, body);
    });
  }

 public:
  std::atomic<Errc> last_error{Errc::kOk};
};

// Answers after `delay` (on a timer), unless cancelled first.
class SlowHandler : public Handler {
 public:
  SlowHandler(boost::asio::io_context& io, std::chrono::milliseconds delay)
      : io_(io), delay_(delay) {}
  void handle(std::shared_ptr<Exchange> ex) override {
    ++started;
    auto t = std::make_shared<boost::asio::steady_timer>(io_, delay_);
    ex->on_cancel([this, t](Errc e) {
      ++cancelled;
      last_cancel = e;
      t->cancel();
    });
    t->async_wait([this, ex, t](boost::system::error_code ec) {
      if (ec) {
        return;
      }
      ++finished;
      ex->respond(200, {}, "slow\n");
    });
  }
  std::atomic<int> started{0}, finished{0}, cancelled{0};
  std::atomic<Errc> last_cancel{Errc::kOk};

 private:
  boost::asio::io_context& io_;
  std::chrono::milliseconds delay_;
};

class ThrowingHandler : public Handler {
 public:
  void handle(std::shared_ptr<Exchange>) override { throw std::runtime_error("trap: unreachable"); }
};

// Streams `data: N\n\n` events of `size` bytes, each after the previous
// write completed, until the connection goes.
class SseTicker : public Handler {
 public:
  explicit SseTicker(size_t size = 16, int limit = -1) : size_(size), limit_(limit) {}
  void handle(std::shared_ptr<Exchange> ex) override {
    ex->start_events({}, [this, ex](Errc e) {
      if (e == Errc::kOk) {
        next(ex, 0);
      }
    });
  }
  std::atomic<int64_t> written{0};
  std::atomic<int> ended{0};
  std::atomic<Errc> last{Errc::kOk};

 private:
  void next(std::shared_ptr<Exchange> ex, int n) {
    if (limit_ >= 0 && n >= limit_) {
      ex->finish();
      return;
    }
    std::string ev = "data: " + std::to_string(n);
    if (ev.size() + 2 < size_) {
      ev += std::string(size_ - ev.size() - 2, 'x');
    }
    ev += "\n\n";
    ex->write(std::move(ev), [this, ex, n](Errc e) {
      if (e != Errc::kOk) {
        last = e;
        ++ended;
        return;
      }
      ++written;
      next(ex, n + 1);
    });
  }
  size_t size_;
  int limit_;
};

// Echoes every WebSocket message; "close" closes with 1000.
class WsEcho : public Handler {
 public:
  struct Conn : WebSocketHandler {
    WsEcho* owner;
    std::shared_ptr<WebSocket> ws;
    void on_open(std::shared_ptr<WebSocket> w) override {
      ws = std::move(w);
      ++owner->opened;
    }
    void on_message(bool text, std::string data, bool last) override {
      if (data == "close") {
        ws->close(1000, "bye");
        return;
      }
      ws->send(text, std::move(data));
    }
    void on_close(uint16_t code, std::string reason) override {
      owner->last_code = code;
      ++owner->closed;
      ws.reset();
    }
  };
  void handle(std::shared_ptr<Exchange> ex) override {
    if (!ex->request().websocket) {
      ex->respond(426, {{"Upgrade", "websocket"}}, "websocket only\n");
      return;
    }
    auto c = std::make_shared<Conn>();
    c->owner = this;
    ex->upgrade(c);
  }
  std::atomic<int> opened{0}, closed{0};
  std::atomic<int> last_code{0};
};

template <class F>
bool eventually(F f, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

inline Route route(std::string pattern, std::shared_ptr<Handler> h, std::string method = "",
                   bool prefix = false) {
  Route r;
  r.pattern = std::move(pattern);
  r.handler = std::move(h);
  r.method = std::move(method);
  r.prefix = prefix;
  return r;
}

}  // namespace rusm::net::test
