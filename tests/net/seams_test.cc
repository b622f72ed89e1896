// The seams the observer (src/observe) needs from the server core:
// WebSocket::abort() for a peer that stopped reading (whose close frame would
// never be taken), and the accept-error counter with the back-off when the
// process runs out of descriptors.
#include <sys/resource.h>

#include <future>

#include "test_util.h"

namespace rusm::net::test {
namespace {

// Hands each opened WebSocket to the test and records how it closed.
class Holder : public Handler {
 public:
  struct Conn : WebSocketHandler {
    Holder* owner;
    void on_open(std::shared_ptr<WebSocket> w) override {
      std::lock_guard<std::mutex> lock(owner->mu);
      owner->opened.push_back(std::move(w));
    }
    void on_message(bool, std::string, bool) override {}
    void on_close(uint16_t code, std::string) override {
      owner->close_code = code;
      ++owner->closed;
    }
  };
  void handle(std::shared_ptr<Exchange> ex) override {
    auto c = std::make_shared<Conn>();
    c->owner = this;
    ex->upgrade(c);
  }
  std::shared_ptr<WebSocket> wait_open(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!opened.empty()) {
          return opened.back();
        }
      }
      std::this_thread::sleep_for(5ms);
    }
    return nullptr;
  }
  std::mutex mu;
  std::vector<std::shared_ptr<WebSocket>> opened;
  std::atomic<int> closed{0};
  std::atomic<int> close_code{0};
};

// Starts ts.server on options `o` without running its loop and connects n
// clients, which wait in the listen backlog. Fewer than n on failure.
std::vector<int> bound_with_waiting_clients(TestServer& ts, ServerOptions o, int n) {
  std::vector<int> clients;
  ts.server = std::make_unique<Server>(ts.ioc, std::move(o));
  if (!ts.server->start().is_ok()) {
    return clients;
  }
  for (int i = 0; i < n; ++i) {
    int fd = connect_to(ts.server->ports()[0]);
    if (fd < 0) {
      break;
    }
    clients.push_back(fd);
  }
  return clients;
}

int open_ws(uint16_t port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  send_all(fd,
           "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string head = recv_until(
      fd, [](const std::string& s) { return s.find("\r\n\r\n") != s.npos; }, 3s);
  EXPECT_EQ(parse_response(head).status, 101) << head;
  return fd;
}

TEST(Seams, WebSocketAbortDropsAPeerThatStoppedReading) {
  auto holder = std::make_shared<Holder>();
  ServerOptions o;
  Route r = route("/ws", holder);
  r.kind = RouteKind::kWs;
  r.deadline = Millis(0);
  o.routes.push_back(r);
  TestServer ts;
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = open_ws(ts.port, 4096);
  ASSERT_GE(fd, 0);
  std::shared_ptr<WebSocket> ws = holder->wait_open(3s);
  ASSERT_NE(ws, nullptr);

  // Fill the socket and the write buffer (more than the kernel's buffers
  // take, in as many sends as a handle accepts ahead of their completions):
  // the client reads nothing, so a close handshake could never complete.
  std::promise<Errc> stuck;
  for (int i = 0; i <= kMaxQueuedOps; ++i) {
    ws->send_binary(std::string(1 << 20, 'x'), [&, i](Errc e) {
      if (i == kMaxQueuedOps) {
        stuck.set_value(e);
      }
    });
  }
  auto last = stuck.get_future();
  EXPECT_EQ(last.wait_for(300ms), std::future_status::timeout)
      << "the last send completed although the client reads nothing";
  EXPECT_GT(ts.server->stats().buffered_bytes, 0);

  ws->abort();
  ASSERT_EQ(last.wait_for(3s), std::future_status::ready) << "abort left a send pending";
  EXPECT_EQ(last.get(), Errc::kClosed);
  auto end = std::chrono::steady_clock::now() + 3s;
  while (holder->closed.load() == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(holder->closed.load(), 1);
  EXPECT_EQ(holder->close_code.load(), 1006);
  EXPECT_TRUE(closed_within(fd, 5s)) << "the client still holds an open connection";
  ServerStats s = ts.server->stats();
  EXPECT_EQ(s.websockets, 0);
  EXPECT_EQ(s.open_connections, 0);

  // Idempotent, and a send afterwards fails instead of queueing.
  ws->abort();
  std::promise<Errc> after;
  ws->send_text("late", [&](Errc e) { after.set_value(e); });
  auto f = after.get_future();
  ASSERT_EQ(f.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(f.get(), Errc::kClosed);
  EXPECT_EQ(holder->closed.load(), 1) << "on_close ran twice";
  // What was queued is freed with the last handle.
  ws.reset();
  {
    std::lock_guard<std::mutex> lock(holder->mu);
    holder->opened.clear();
  }
  end = std::chrono::steady_clock::now() + 3s;
  while (ts.server->stats().buffered_bytes != 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(ts.server->stats().buffered_bytes, 0);
  close(fd);
}

// A WebSocket peer that sends nothing and never answers the stream's ping
// is dropped after the idle timeout, and counted with the HTTP idle drops.
TEST(Seams, SilentWebSocketPeerIsCountedAsAnIdleTimeout) {
  auto holder = std::make_shared<Holder>();
  ServerOptions o;
  o.limits.idle_timeout = Millis(300);
  Route r = route("/ws", holder);
  r.kind = RouteKind::kWs;
  r.deadline = Millis(0);
  o.routes.push_back(r);
  TestServer ts;
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = open_ws(ts.port, 65536);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(closed_within(fd, 5s)) << "a silent peer was kept past the idle timeout";
  auto end = std::chrono::steady_clock::now() + 3s;
  while (holder->closed.load() == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(holder->close_code.load(), 1006);
  EXPECT_EQ(ts.server->stats().idle_timeouts, 1u);
  EXPECT_EQ(ts.server->stats().websockets, 0);
  close(fd);
  // The handle holds the connection, which holds the routes, which hold
  // the holder: let go of it.
  std::lock_guard<std::mutex> lock(holder->mu);
  holder->opened.clear();
}

// Over max_connections with refuse_with_503: the excess hears why.
TEST(Seams, ConnectionOverTheLimitIsToldBusyWhenAsked) {
  ServerOptions o;
  o.limits.max_connections = 1;
  o.limits.refuse_with_503 = true;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  TestServer ts;
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int held = connect_to(ts.port);
  ASSERT_GE(held, 0);
  auto end = std::chrono::steady_clock::now() + 3s;
  while (ts.server->stats().open_connections < 1 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(2ms);
  }
  int extra = connect_to(ts.port);
  ASSERT_GE(extra, 0);
  bool eof = false;
  std::string got = recv_all(extra, 3s, &eof);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503 ")) << got;
  EXPECT_EQ(ts.server->stats().rejected_connections, 1u);
  // The held connection is served as usual.
  ASSERT_TRUE(send_all(held, get("/hello")));
  std::vector<Response> r = read_responses(held, 1, 3s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  close(extra);
  close(held);
}

// Under UBSan (RUSM_SANITIZE builds ASan and UBSan together) the vptr check
// probes memory through pipe(2); with no descriptor to spare that probe
// fails and reports a false "invalid vptr", which CI's halt_on_error=1 turns
// into a failure of the test process. There the descriptor tests are
// skipped; security.Dashboard.OutOfDescriptorsBacksOffAndRecovers covers the
// same path under the sanitizers, in a child process that may recover.
bool sanitized() {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#endif
#endif
  return false;
}

// Lowers the soft descriptor limit to the lowest free descriptor (no new
// one can be made) and restores it when destroyed.
class NoMoreDescriptors {
 public:
  NoMoreDescriptors() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int probe = dup(0);
    rlimit l = saved_;
    l.rlim_cur = rlim_t(probe);
    close(probe);
    ok_ = setrlimit(RLIMIT_NOFILE, &l) == 0;
  }
  ~NoMoreDescriptors() { setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

TEST(Seams, OutOfDescriptorsIsCountedBacksOffAndRecovers) {
  if (sanitized()) {
    GTEST_SKIP() << "UBSan's vptr probe needs descriptors (see sanitized())";
  }
  ServerOptions o;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  o.listen.push_back(Listen{"127.0.0.1", 0, false});
  TestServer ts;
  // Bound but not yet running: the clients wait in the backlog.
  std::vector<int> clients = bound_with_waiting_clients(ts, std::move(o), 4);
  ASSERT_EQ(clients.size(), 4u);
  {
    NoMoreDescriptors limit;
    ASSERT_TRUE(limit.ok());
    // One loop thread, for a bounded time: every accept fails with EMFILE.
    ts.ioc.run_for(600ms);
    ServerStats s = ts.server->stats();
    EXPECT_GE(s.accept_errors, 1u) << "accept never failed: the limit did not hold";
    // 50 ms between attempts: about a dozen in 600 ms, not a spin.
    EXPECT_LE(s.accept_errors, 40u) << "the accept loop retried without backing off";
    EXPECT_EQ(s.accepted, 0u);
  }
  ts.ioc.restart();
  ts.work.emplace(ts.ioc.get_executor());
  ts.threads.emplace_back([&ts] { ts.ioc.run(); });
  // Descriptors are back: the waiting clients are served.
  for (int fd : clients) {
    ASSERT_TRUE(send_all(fd, get("/hello")));
    std::vector<Response> r = read_responses(fd, 1, 5s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 200);
    close(fd);
  }
  EXPECT_NE(ts.server->prometheus().find("rusm_http_accept_errors_total "), std::string::npos);
}

// With shed_when_out_of_descriptors, the reserve descriptor turns waiting
// clients away (with a 503) while the process has no descriptor to spare.
TEST(Seams, OutOfDescriptorsShedsWaitingClientsWhenAsked) {
  if (sanitized()) {
    GTEST_SKIP() << "UBSan's vptr probe needs descriptors (see sanitized())";
  }
  ServerOptions o;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  o.listen.push_back(Listen{"127.0.0.1", 0, false});
  o.limits.shed_when_out_of_descriptors = true;
  o.limits.refuse_with_503 = true;
  TestServer ts;
  std::vector<int> clients = bound_with_waiting_clients(ts, std::move(o), 3);
  ASSERT_EQ(clients.size(), 3u);
  {
    NoMoreDescriptors limit;
    ASSERT_TRUE(limit.ok());
    ts.ioc.run_for(600ms);
  }
  ServerStats s = ts.server->stats();
  EXPECT_GE(s.accept_errors, 1u);
  EXPECT_EQ(s.rejected_connections, 3u) << "every waiting client should have been turned away";
  for (int fd : clients) {
    bool eof = false;
    std::string got = recv_all(fd, 2s, &eof);
    EXPECT_TRUE(eof);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 503 ")) << got;
    close(fd);
  }
  // Descriptors are back: a new client is served.
  ts.ioc.restart();
  ts.work.emplace(ts.ioc.get_executor());
  ts.threads.emplace_back([&ts] { ts.ioc.run(); });
  Response r = request(ts.server->ports()[0], get("/hello"));
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace rusm::net::test
