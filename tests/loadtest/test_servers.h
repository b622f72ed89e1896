// Tiny servers the load driver's tests run against, in the test process:
// one thread per connection, blocking sockets, and their own counts of what
// they served, so a test can check the driver's counts against the server's.
// Each listens on 127.0.0.1 on an ephemeral port; the destructor stops
// accepting, shuts every connection down and joins its threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace rusm::loadtest::testing {

class TestServer {
 public:
  // Runs on its own thread for each accepted connection; returns when done
  // (the server closes the socket then).
  using Handler = std::function<void(int fd, TestServer& server)>;

  explicit TestServer(Handler handler);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return port_; }
  bool stopping() const { return stopping_.load(); }

  std::atomic<uint64_t> requests{0};     // http requests, ws messages, sse GETs
  std::atomic<uint64_t> connections{0};  // accepted
  std::atomic<uint64_t> events{0};       // sse events written, ws close handshakes done
  std::atomic<uint64_t> stall_until_ns{0};

 private:
  void accept_loop();

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable done_;
  std::set<int> open_fds_;  // connections whose handler still runs
  int live_ = 0;
};

struct HttpBehavior {
  int status = 200;
  std::string body = "hello from rusm\n";
  // When request number `stall_at` (1-based, over all connections) arrives,
  // the whole server stops answering for `stall_ms` (every connection waits
  // until then before it responds): a GC pause, say. 0 = never.
  uint64_t stall_at = 0;
  unsigned stall_ms = 0;
  bool chunked = false;        // send the body chunked instead of with Content-Length
  unsigned delay_us = 0;       // time each request takes (a sleep), on its connection's thread
  unsigned idle_close_ms = 0;  // close a keep-alive connection idle this long (0 = never)
};

// HTTP/1.1: keep-alive, or close after the response when the request says
// Connection: close. Counts every request in `requests`.
TestServer::Handler http_handler(HttpBehavior behavior);

// WebSocket (RFC 6455): checks the upgrade, answers 101 with the right
// Sec-WebSocket-Accept, echoes every data message (`requests` counts them),
// answers a close frame with a close frame and closes (`events` counts those).
TestServer::Handler ws_echo_handler();

// SSE: answers GET with a stream of `data: <n>\n\n` events (chunked or
// not), in writes of `batch` events, until the client goes away or the
// server stops; `events` counts the events written (or being written). The header waits
// `header_delay_ms` (a server slow to admit streams).
TestServer::Handler sse_handler(bool chunked, int batch, unsigned header_delay_ms = 0);

// Reads until "\r\n\r\n"; returns the header (empty on EOF/error). Bytes
// after the header stay in *rest.
std::string read_header(int fd, std::string* rest);

uint64_t now_ns();

}  // namespace rusm::loadtest::testing
