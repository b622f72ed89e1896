// libFuzzer target: raw bytes sent to a live server over loopback.
//
// One server (hello, body echo, SSE, WebSocket echo, static files and a
// handler that fails) runs for the whole fuzzing session on two I/O threads.
// Each input is written on a fresh connection (in two pieces, split at its
// first byte's value, to reach the parser's partial-buffer states), the
// write side is shut, and the reply is read until the server closes or a
// short timeout. The server must never crash (ASan/UBSan watch it), and must
// still answer a plain request after every input.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio.hpp>

#include "rusm/net/server.h"

namespace {

using namespace rusm::net;

class Hello : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override { ex->respond(200, {}, "hello\n"); }
};

class Echo : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override { read(ex, std::make_shared<std::string>()); }
  static void read(std::shared_ptr<Exchange> ex, std::shared_ptr<std::string> body) {
    ex->read_body([ex, body](Errc e, std::string chunk) {
      if (e != Errc::kOk) {
        ex->fail(errc_name(e));
      } else if (chunk.empty()) {
        ex->respond(200, {}, *body);
      } else {
        *body += chunk;
        read(ex, body);
      }
    });
  }
};

class Fail : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override { ex->fail("fuzz"); }
};

class Sse : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    ex->start_events();
    ex->write("data: 1\n\n");
    ex->write("data: 2\n\n");
    ex->finish();
  }
};

class WsEcho : public Handler {
  struct C : WebSocketHandler {
    std::shared_ptr<WebSocket> ws;
    void on_open(std::shared_ptr<WebSocket> w) override { ws = std::move(w); }
    void on_message(bool text, std::string d, bool) override { ws->send(text, std::move(d)); }
    void on_close(uint16_t, std::string) override { ws.reset(); }
  };

 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    if (ex->request().websocket) {
      ex->upgrade(std::make_shared<C>());
    } else {
      ex->respond(426, {}, "");
    }
  }
};

struct Live {
  boost::asio::io_context ioc;
  std::unique_ptr<Server> server;
  std::vector<std::thread> threads;
  uint16_t port = 0;

  Live() {
    auto dir =
        std::filesystem::temp_directory_path() / ("rusm-net-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "index.html") << "<h1>fuzz</h1>";
    ServerOptions o;
    o.listen.push_back({"127.0.0.1", 0, false});
    o.limits.header_bytes = 4096;
    o.limits.body_bytes = 65536;
    o.limits.header_timeout = std::chrono::milliseconds(500);
    o.limits.idle_timeout = std::chrono::milliseconds(500);
    o.limits.ws_message_bytes = 4096;
    o.error_log = [](const std::string&) {};
    auto add = [&](const char* p, std::shared_ptr<Handler> h, bool prefix = false) {
      Route r;
      r.pattern = p;
      r.handler = std::move(h);
      r.prefix = prefix;
      r.deadline = std::chrono::milliseconds(200);
      o.routes.push_back(r);
    };
    add("/hello", std::make_shared<Hello>());
    add("/echo/{id}", std::make_shared<Echo>());
    add("/echo", std::make_shared<Echo>());
    add("/fail", std::make_shared<Fail>());
    add("/sse", std::make_shared<Sse>());
    add("/ws", std::make_shared<WsEcho>());
    add("/s/", *make_static_handler(dir.string()), true);
    server = std::make_unique<Server>(ioc, o);
    if (!server->start()) {
      abort();
    }
    port = server->ports()[0];
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([this] {
        auto work = boost::asio::make_work_guard(ioc);
        ioc.run();
      });
    }
  }
};

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // A fresh source address from 127/8 for every connection: thousands of
  // inputs per second would otherwise run out of ports (TIME_WAIT) or, with
  // resets, reuse a four-tuple whose old connection the kernel still knows.
  static uint32_t next = 0;
  ++next;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl((127u << 24) | (1u + next % 250) << 16 |
                              ((next / 250) % 250 + 1) << 8 | ((next / 62500) % 250 + 1));
  bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno == EINTR) {  // libFuzzer's timers interrupt; the connect goes on
    pollfd p{fd, POLLOUT, 0};
    while (poll(&p, 1, 5000) < 0 && errno == EINTR) {
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = err == 0 ? 0 : -1;
    errno = err;
  }
  if (rc != 0) {
    fprintf(stderr, "net_fuzz: connect: %s\n", strerror(errno));
    abort();  // the server stopped accepting
  }
  return fd;
}

// Reads until EOF or the timeout; returns what arrived. libFuzzer's timer
// signals interrupt poll and recv: those are retried.
std::string drain(int fd, int timeout_ms) {
  std::string got;
  char buf[16384];
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(
                       end - std::chrono::steady_clock::now())
                       .count());
    if (left <= 0) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, left);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      break;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got.append(buf, size_t(n));
  }
  return got;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Live* live = new Live();  // lives for the whole session
  static uint64_t inputs = 0;
  ++inputs;
  int fd = connect_to(live->port);
  size_t cut = size ? std::min<size_t>(data[0], size) : 0;
  (void)!send(fd, data, cut, MSG_NOSIGNAL);
  (void)!send(fd, data + cut, size - cut, MSG_NOSIGNAL);
  shutdown(fd, SHUT_WR);
  drain(fd, 300);
  close(fd);
  // The server still serves.
  int ok = connect_to(live->port);
  const char req[] = "GET /hello HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n";
  (void)!send(ok, req, sizeof req - 1, MSG_NOSIGNAL);
  std::string got = drain(ok, 2000);
  close(ok);
  if (got.rfind("HTTP/1.1 200", 0) != 0) {
    auto st = live->server->stats();
    fprintf(stderr,
            "net_fuzz: the server stopped answering (%lld open connections, %llu accepted, %llu "
            "refused, %llu header timeouts, %llu idle timeouts, %lld websockets): %s\n",
            (long long)st.open_connections, (unsigned long long)st.accepted,
            (unsigned long long)st.rejected_connections, (unsigned long long)st.header_timeouts,
            (unsigned long long)st.idle_timeouts, (long long)st.websockets,
            got.substr(0, 80).c_str());
    fprintf(stderr, "net_fuzz: after %llu inputs\n", (unsigned long long)inputs);
    abort();
  }
  return 0;
}
