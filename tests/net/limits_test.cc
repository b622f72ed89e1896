// Limits: 431, 413 before the body, slow-loris and idle timeouts, maximum
// connections, in-flight limits (503 + Retry-After), deadlines (504 + cancel
// hook), failing handlers (500, and the server keeps serving), metrics.
#include "test_util.h"

namespace rusm::net::test {
namespace {

TEST(Limits, OversizedHeadIs431) {
  TestServer ts;
  ServerOptions o;
  o.limits.header_bytes = 1024;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  Response r = request(ts.port, get("/hello", "X-Big: " + std::string(2000, 'a') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(request(ts.port, get("/hello")).status, 200);
  EXPECT_EQ(ts.server->stats().rejected_header_bytes, 1u);
}

TEST(Limits, BodyTooLargeIs413BeforeReadingIt) {
  TestServer ts;
  ServerOptions o;
  o.limits.body_bytes = 1000;
  auto echo = std::make_shared<EchoHandler>();
  o.routes.push_back(route("/echo", echo));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  // Only the head is sent: the answer must come without the body.
  ASSERT_TRUE(send_all(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
  auto rs = read_responses(fd, 1, 3s);
  ASSERT_EQ(rs.size(), 1u) << "no 413 before the body was sent";
  EXPECT_EQ(rs[0].status, 413);
  EXPECT_TRUE(closed_within(fd, 3s));
  close(fd);
  EXPECT_EQ(echo->chunks.load(), 0) << "the handler must not have read any of it";
  auto st = ts.server->stats();
  EXPECT_EQ(st.routes[1].name, "/echo");
  EXPECT_EQ(st.routes[1].rejected_body, 1u);
}

TEST(Limits, SlowLorisIsDroppedAfterTheHeaderTimeout) {
  TestServer ts;
  ServerOptions o;
  o.limits.header_timeout = 300ms;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  auto t0 = std::chrono::steady_clock::now();
  // One byte every 50 ms: each byte is progress, but the head never ends.
  bool dropped = false;
  std::string head = "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: " + std::string(200, 'a');
  for (char c : head) {
    if (!send_all(fd, std::string(1, c))) {
      dropped = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char b[64];
      if (recv(fd, b, sizeof b, 0) <= 0) {
        dropped = true;
        break;
      }
    }
    if (std::chrono::steady_clock::now() - t0 > 5s) {
      break;
    }
  }
  EXPECT_TRUE(dropped) << "a client trickling its head must be dropped";
  close(fd);
  EXPECT_GE(ts.server->stats().header_timeouts, 1u);
  EXPECT_TRUE(eventually([&] { return ts.server->stats().open_connections == 0; }));
}

TEST(Limits, IdleKeepAliveConnectionIsClosed) {
  TestServer ts;
  ServerOptions o;
  o.limits.idle_timeout = 300ms;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd, get("/hello")));
  ASSERT_EQ(read_responses(fd, 1).size(), 1u);
  EXPECT_TRUE(closed_within(fd, 5s));
  close(fd);
  EXPECT_GE(ts.server->stats().idle_timeouts, 1u);
  // A connection that never sends anything is idle too.
  int fd2 = connect_to(ts.port);
  EXPECT_TRUE(closed_within(fd2, 5s));
  close(fd2);
}

TEST(Limits, ExcessConnectionsAreClosedAndCounted) {
  TestServer ts;
  ServerOptions o;
  o.limits.max_connections = 3;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    fds.push_back(connect_to(ts.port));
  }
  ASSERT_TRUE(eventually([&] { return ts.server->stats().open_connections == 3; }));
  int extra = connect_to(ts.port);
  EXPECT_TRUE(closed_within(extra, 3s)) << "connection over the limit left open";
  close(extra);
  EXPECT_EQ(ts.server->stats().rejected_connections, 1u);
  // The admitted ones still work.
  send_all(fds[0], get("/hello"));
  EXPECT_EQ(read_responses(fds[0], 1).size(), 1u);
  for (int fd : fds) {
    close(fd);
  }
}

TEST(Limits, InFlightLimitGives503WithRetryAfter) {
  TestServer ts;
  ServerOptions o;
  o.limits.max_in_flight = 100;
  auto slow = std::make_shared<SlowHandler>(ts.ioc, 500ms);
  Route r = route("/slow", slow);
  r.max_in_flight = 2;
  o.routes.push_back(r);
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int a = connect_to(ts.port), b = connect_to(ts.port);
  send_all(a, get("/slow"));
  send_all(b, get("/slow"));
  ASSERT_TRUE(eventually([&] { return slow->started == 2; }));
  Response r3 = request(ts.port, get("/slow"));
  EXPECT_EQ(r3.status, 503);
  EXPECT_EQ(r3.headers["retry-after"], "1");
  EXPECT_EQ(read_responses(a, 1)[0].status, 200);
  EXPECT_EQ(read_responses(b, 1)[0].status, 200);
  EXPECT_EQ(request(ts.port, get("/slow")).status, 200) << "slots must be released";
  auto st = ts.server->stats();
  EXPECT_EQ(st.routes[1].rejected_in_flight, 1u);
  EXPECT_EQ(st.routes[1].in_flight, 0);
  close(a);
  close(b);
}

TEST(Limits, ServerWideInFlightLimit) {
  TestServer ts;
  ServerOptions o;
  o.limits.max_in_flight = 1;
  auto slow = std::make_shared<SlowHandler>(ts.ioc, 300ms);
  o.routes.push_back(route("/slow", slow));
  o.routes.push_back(route("/slow2", slow));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int a = connect_to(ts.port);
  send_all(a, get("/slow"));
  ASSERT_TRUE(eventually([&] { return slow->started == 1; }));
  EXPECT_EQ(request(ts.port, get("/slow2")).status, 503);
  EXPECT_EQ(ts.server->stats().rejected_in_flight, 1u);
  close(a);
}

TEST(Limits, StreamsCountAgainstTheirRouteNotTheServerWideInFlightLimit) {
  // A WebSocket or SSE route holds a slot per open stream: the node-wide
  // max_in_flight (request handlers) must not cap how many users a chat has.
  TestServer ts;
  ServerOptions o;
  o.limits.max_in_flight = 1;
  auto slow = std::make_shared<SlowHandler>(ts.ioc, 400ms);
  Route events = route("/events", slow);
  events.kind = RouteKind::kSse;
  events.max_in_flight = 3;
  o.routes.push_back(events);
  o.routes.push_back(route("/slow", slow));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fds[3];
  for (int& fd : fds) {
    fd = connect_to(ts.port);
    send_all(fd, get("/events"));
  }
  ASSERT_TRUE(eventually([&] { return slow->started == 3; }));
  EXPECT_EQ(request(ts.port, get("/events")).status, 503) << "the route's own limit holds";
  EXPECT_EQ(request(ts.port, get("/slow")).status, 200)
      << "open streams took the node-wide request slot";
  for (int fd : fds) {
    EXPECT_EQ(read_responses(fd, 1)[0].status, 200);
    close(fd);
  }
  EXPECT_EQ(ts.server->stats().rejected_in_flight, 0u);
}

TEST(Limits, DeadlineGives504AndCallsTheCancelHook) {
  TestServer ts;
  ServerOptions o;
  auto slow = std::make_shared<SlowHandler>(ts.ioc, 10s);
  Route r = route("/slow", slow);
  r.deadline = 200ms;
  o.routes.push_back(r);
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  send_all(fd, get("/slow"));
  auto rs = read_responses(fd, 1, 5s);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 504);
  EXPECT_TRUE(eventually([&] { return slow->cancelled == 1; }));
  EXPECT_EQ(slow->last_cancel.load(), Errc::kCancelled);
  EXPECT_EQ(slow->finished, 0);
  // The connection goes on.
  send_all(fd, get("/hello"));
  rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  close(fd);
  auto st = ts.server->stats();
  EXPECT_EQ(st.routes[1].deadline_exceeded, 1u);
  EXPECT_EQ(st.routes[1].in_flight, 0);
}

TEST(Limits, ThrowingHandlerGets500AndServerKeepsServing) {
  TestServer ts;
  ServerOptions o;
  o.routes.push_back(route("/boom", std::make_shared<ThrowingHandler>()));
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  for (int i = 0; i < 5; ++i) {
    Response r = request(ts.port, get("/boom"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, "internal server error\n");
  }
  EXPECT_EQ(request(ts.port, get("/hello")).status, 200);
  auto errors = ts.error_lines();
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("trap: unreachable"), std::string::npos) << errors[0];
  EXPECT_EQ(ts.server->stats().routes[1].failed, 5u);
}

class FailAfterStart : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    ex->start(200, {}, std::nullopt);
    ex->write("partial");
    ex->fail("gave up midway");
  }
};

TEST(Limits, FailAfterTheHeadAbortsTheConnection) {
  TestServer ts;
  ServerOptions o;
  o.routes.push_back(route("/half", std::make_shared<FailAfterStart>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  send_all(fd, get("/half"));
  bool eof = false;
  std::string got = recv_all(fd, 3s, &eof);
  EXPECT_TRUE(eof);
  Response r = parse_response(got);
  EXPECT_FALSE(r.complete) << "a failed stream must not look complete: " << got;
  close(fd);
}

class BadHeaderHandler : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    ex->respond(200, {{"X-Evil", "a\r\nSet-Cookie: pwned=1"}}, "x");
  }
};

TEST(Limits, HeaderInjectionByAHandlerIs500) {
  TestServer ts;
  ServerOptions o;
  o.routes.push_back(route("/evil", std::make_shared<BadHeaderHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  send_all(fd, get("/evil"));
  std::string got = recv_until(
      fd, [](const std::string& s) { return s.find("\r\n\r\n") != s.npos; }, 3s);
  EXPECT_EQ(parse_response(got).status, 500);
  EXPECT_EQ(got.find("pwned"), std::string::npos);
  close(fd);
}

TEST(Limits, MetricsEndpointReportsRoutes) {
  TestServer ts;
  ServerOptions o;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  request(ts.port, get("/hello"));
  request(ts.port, get("/missing"));
  Response m = request(ts.port, get("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(
      m.body.find("rusm_http_requests_total{route=\"/hello\",kind=\"http\",status=\"2xx\"} 1"),
      std::string::npos)
      << m.body;
  EXPECT_NE(
      m.body.find("rusm_http_requests_total{route=\"(none)\",kind=\"http\",status=\"4xx\"} 1"),
      std::string::npos);
  EXPECT_NE(m.body.find("rusm_http_request_duration_seconds_bucket{route=\"/hello\""),
            std::string::npos);
  EXPECT_NE(m.body.find("rusm_http_open_connections "), std::string::npos);
}

TEST(Limits, AccessLogWritesOneJsonLinePerRequest) {
  TestServer ts;
  ServerOptions o;
  std::mutex mu;
  std::vector<std::string> lines;
  o.access_log = [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(l);
  };
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  request(ts.port, get("/hello?q=\"x\""));
  request(ts.port, get("/nope"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return lines.size() == 2;
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_NE(lines[0].find("\"target\":\"/hello?q=\\\"x\\\"\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"status\":200"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"status\":404"), std::string::npos) << lines[1];
}

TEST(Limits, GracefulShutdownLetsInFlightFinish) {
  TestServer ts;
  ServerOptions o;
  auto slow = std::make_shared<SlowHandler>(ts.ioc, 300ms);
  o.routes.push_back(route("/slow", slow));
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int busy = connect_to(ts.port), idle = connect_to(ts.port);
  send_all(busy, get("/slow"));
  ASSERT_TRUE(eventually([&] { return slow->started == 1; }));
  std::atomic<bool> done{false};
  ts.server->shutdown([&] { done = true; });
  EXPECT_TRUE(closed_within(idle, 3s)) << "idle connections close at once";
  auto rs = read_responses(busy, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200) << "in-flight request must finish";
  EXPECT_EQ(rs[0].headers["connection"], "close");
  EXPECT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_EQ(connect_to(ts.port), -1) << "no longer accepting";
  close(busy);
  close(idle);
}

TEST(Limits, ShutdownCancelsWhatOutlivesTheTimeout) {
  TestServer ts;
  ServerOptions o;
  o.limits.shutdown_timeout = 200ms;
  auto slow = std::make_shared<SlowHandler>(ts.ioc, 30s);
  Route r = route("/slow", slow);
  r.deadline = Millis(0);
  o.routes.push_back(r);
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  send_all(fd, get("/slow"));
  ASSERT_TRUE(eventually([&] { return slow->started == 1; }));
  std::atomic<bool> done{false};
  ts.server->shutdown([&] { done = true; });
  EXPECT_TRUE(closed_within(fd, 5s));
  EXPECT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_EQ(slow->cancelled, 1);
  close(fd);
}

TEST(Limits, SigtermStartsAGracefulShutdown) {
  TestServer ts;
  ServerOptions o;
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  std::atomic<bool> done{false};
  ts.server->shutdown_on_signals([&] { done = true; });
  std::this_thread::sleep_for(50ms);
  kill(getpid(), SIGTERM);
  EXPECT_TRUE(eventually([&] { return done.load(); }));
}

}  // namespace
}  // namespace rusm::net::test
