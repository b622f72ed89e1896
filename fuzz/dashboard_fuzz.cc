// Fuzzes the dashboard's HTTP and WebSocket server through a real socket:
// a live observe::Server on an ephemeral loopback port (the code path
// `rusm dashboard` runs, Asio and Beast included) gets the input's bytes,
// and must then still answer a plain GET /api/hello. Every 256 inputs it must
// also have released every connection. The first byte picks the mode:
//   0 (or 'H')  the rest is one raw HTTP connection
//   1 (or 'W')  a WebSocket handshake with the token, then the rest raw
//               (frames, masks and lengths as the input says)
//   2 (or 'C')  the handshake with the token, then the rest split on '\n',
//               each piece sent as one masked text frame (commands)
//   3 (or 'O')  as 2 without the token (read-only)
// The node has no benchmark controller; kill may hit any pid of its (empty)
// process table. Seeds: fuzz/dashboard_seed/.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "observe/server.h"
#include "rusm/otp/node.h"

namespace {

using namespace rusm;
using Clock = std::chrono::steady_clock;

const std::string kToken = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";

struct Live {
  otp::Node node{otp::NodeOptions{.workers = 1}};
  observe::Sampler sampler{node, observe::SamplerOptions{.hz = 20}};
  observe::Server* server = nullptr;
  uint16_t port = 0;
  std::string host;

  Live() {
    // A small assets folder, so the static-file route has something to find.
    std::string dir = "/tmp/rusm-dashboard-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir + "/assets");
    std::ofstream(dir + "/index.html") << "<html>fuzz</html>";
    std::ofstream(dir + "/assets/app.js") << "1";
    observe::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.assets_dir = dir;
    o.access.token = kToken;
    o.limits.idle_timeout = std::chrono::milliseconds(2000);
    server = new observe::Server(node, sampler, nullptr, o);  // lives for the whole run
    Result<uint16_t> p = server->start();
    if (!p) {
      std::fprintf(stderr, "dashboard_fuzz: %s\n", p.error().message().c_str());
      std::abort();
    }
    port = *p;
    host = "127.0.0.1:" + std::to_string(port);
    sampler.start();
  }
};

Live& live() {
  static Live* l = new Live();
  return *l;
}

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno == EINTR) {
    // Interrupted by a signal, the connection goes on: wait for its outcome.
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, 10000) < 0 && errno == EINTR) {
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    errno = err;
    rc = err == 0 ? 0 : -1;
  }
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  // Close with a reset: thousands of runs a minute would otherwise leave as
  // many ports in TIME_WAIT and run out of them.
  linger no_linger{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until EOF or the deadline, keeping at most `keep` bytes.
std::string drain(int fd, std::chrono::milliseconds timeout, size_t keep = 4096) {
  std::string out;
  auto end = Clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) {
      return out;
    }
    // libFuzzer's SIGALRM (its -timeout watch) interrupts waits: retry.
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return out;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(std::min<size_t>(n, keep - std::min(keep, out.size()))));
  }
}

std::string masked_text_frame(std::string_view text) {
  std::string f;
  f += static_cast<char>(0x81);
  if (text.size() < 126) {
    f += static_cast<char>(0x80 | text.size());
  } else if (text.size() < 65536) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(text.size() >> 8);
    f += static_cast<char>(text.size() & 0xff);
  } else {
    return f;  // inputs are smaller than this
  }
  const char mask[4] = {0x5a, 0x0f, 0x33, 0x71};
  f.append(mask, 4);
  for (size_t i = 0; i < text.size(); ++i) {
    f += static_cast<char>(text[i] ^ mask[i % 4]);
  }
  return f;
}

void check_alive(const Live& l) {
  int fd = connect_to(l.port);
  if (fd < 0) {
    std::fprintf(stderr, "dashboard_fuzz: cannot connect after the input: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  send_all(fd, "GET /api/hello HTTP/1.1\r\nHost: " + l.host + "\r\nConnection: close\r\n\r\n");
  std::string reply = drain(fd, std::chrono::milliseconds(5000));
  ::close(fd);
  if (!reply.starts_with("HTTP/1.1 200")) {
    observe::ServerStats s = l.server->stats();
    std::fprintf(stderr,
                 "dashboard_fuzz: the server stopped answering: '%.80s' (%lld connections, "
                 "%lld websockets, %llu refused, %llu timeouts)\n",
                 reply.c_str(), static_cast<long long>(s.connections),
                 static_cast<long long>(s.websockets),
                 static_cast<unsigned long long>(s.refused_total),
                 static_cast<unsigned long long>(s.timeouts_total));
    std::abort();
  }
}

void check_released(const Live& l) {
  auto end = Clock::now() + std::chrono::seconds(5);
  while (l.server->stats().connections > 0 || l.server->stats().queued_bytes > 0) {
    if (Clock::now() > end) {
      observe::ServerStats s = l.server->stats();
      std::fprintf(stderr,
                   "dashboard_fuzz: connections not released: %lld open, %lld bytes queued\n",
                   static_cast<long long>(s.connections), static_cast<long long>(s.queued_bytes));
      std::abort();
    }
    ::usleep(1000);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 32768) {
    return 0;
  }
  Live& l = live();
  static uint64_t runs = 0;
  int mode = data[0] == 'H'   ? 0
             : data[0] == 'W' ? 1
             : data[0] == 'C' ? 2
             : data[0] == 'O' ? 3
                              : data[0] % 4;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  int fd = connect_to(l.port);
  if (fd < 0) {
    std::fprintf(stderr, "dashboard_fuzz: cannot connect: %s\n", std::strerror(errno));
    std::abort();
  }
  if (mode == 0) {
    send_all(fd, rest);
  } else {
    std::string target = mode == 3 ? "/ws" : "/ws?token=" + kToken;
    send_all(fd, "GET " + target + " HTTP/1.1\r\nHost: " + l.host +
                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n");
    if (mode == 1) {
      send_all(fd, rest);
    } else {
      while (!rest.empty()) {
        size_t nl = rest.find('\n');
        send_all(fd, masked_text_frame(rest.substr(0, nl)));
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      }
    }
  }
  ::shutdown(fd, SHUT_WR);
  (void)drain(fd, std::chrono::milliseconds(3000));
  ::close(fd);
  check_alive(l);
  if (++runs % 256 == 0) {
    check_released(l);
  }
  return 0;
}
