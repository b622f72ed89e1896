// HTTP/1.1 behaviour of the server core over raw sockets: keep-alive,
// pipelining, chunked bodies, 100-continue, HEAD, Connection: close, and the
// request-smuggling shapes that must be refused.
#include "test_util.h"

namespace rusm::net::test {
namespace {

class Http : public ::testing::Test {
 protected:
  void SetUp() override {
    echo = std::make_shared<EchoHandler>();
    ServerOptions o;
    o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
    o.routes.push_back(route("/slow", std::make_shared<SlowHandler>(ts.ioc, 100ms)));
    o.routes.push_back(route("/echo/{id}", echo));
    o.routes.push_back(route("/echo", echo, "POST"));
    o.routes.push_back(route("/files/", echo, "", true));
    o.limits.body_bytes = 100'000;
    ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  }
  std::shared_ptr<EchoHandler> echo;
  TestServer ts;
};

TEST_F(Http, HelloAndKeepAlive) {
  int fd = connect_to(ts.port);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(send_all(fd, get("/hello")));
    auto rs = read_responses(fd, 1);
    ASSERT_EQ(rs.size(), 1u) << "request " << i << " on one connection got no response";
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].body, "hello from rusm\n");
    EXPECT_EQ(rs[0].headers.count("connection"), 0u) << "keep-alive must be the default in 1.1";
  }
  close(fd);
}

TEST_F(Http, PipelinedRequestsAnsweredInOrder) {
  int fd = connect_to(ts.port);
  std::string all;
  for (int i = 0; i < 20; ++i) {
    all += "POST /echo/" + std::to_string(i) +
           " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(std::to_string(i).size()) +
           "\r\n\r\n" + std::to_string(i);
  }
  all += get("/hello");
  ASSERT_TRUE(send_all(fd, all));
  auto rs = read_responses(fd, 21);
  ASSERT_EQ(rs.size(), 21u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(rs[i].status, 200);
    EXPECT_EQ(rs[i].body, std::to_string(i)) << "response " << i << " out of order";
    EXPECT_EQ(rs[i].headers["x-id"], std::to_string(i));
  }
  EXPECT_EQ(rs[20].body, "hello from rusm\n");
  close(fd);
}

TEST_F(Http, ChunkedRequestBody) {
  int fd = connect_to(ts.port);
  std::string req =
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n";
  ASSERT_TRUE(send_all(fd, req));
  auto rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "hello world");
  // The connection still serves the next request.
  ASSERT_TRUE(send_all(fd, get("/hello")));
  rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  close(fd);
}

// The same request arriving one byte at a time: every parser state must
// cope with a partial buffer.
TEST_F(Http, ChunkedRequestBodyByteByByte) {
  int fd = connect_to(ts.port);
  std::string req =
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n" +
      get("/hello");
  for (char c : req) {
    ASSERT_TRUE(send_all(fd, std::string(1, c)));
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  auto rs = read_responses(fd, 2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "hello world");
  EXPECT_EQ(rs[1].body, "hello from rusm\n");
  close(fd);
}

// Bytes that arrive while a handler runs are read in the background. The
// next head, buffered whole that way, is consumed while the following read
// is in flight: what that read brings must land intact.
TEST_F(Http, AHeadBufferedWhileAHandlerRunsLeavesTheNextReadIntact) {
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd, get("/slow")));
  std::this_thread::sleep_for(
      20ms);  // the handler is running: a background read takes the next head
  ASSERT_TRUE(send_all(fd, get("/echo/a")));
  auto rs = read_responses(fd, 2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].body, "slow\n");
  EXPECT_EQ(rs[1].headers["x-id"], "a");
  ASSERT_TRUE(send_all(fd, get("/echo/b")));
  rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u) << "the request read while the previous head was consumed was lost";
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].headers["x-id"], "b");
  close(fd);
}

TEST_F(Http, ChunkedBodyOverLimitIs413) {
  int fd = connect_to(ts.port);
  std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk(50'000, 'a');
  for (int i = 0; i < 3; ++i) {
    req += "c350\r\n" + chunk + "\r\n";
  }
  req += "0\r\n\r\n";
  send_all(fd, req);
  auto rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 413);
  EXPECT_EQ(echo->last_error.load(), Errc::kTooLarge);
  close(fd);
}

TEST_F(Http, ExpectContinueSends100OnlyWhenTheBodyIsRead) {
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd,
                       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                       "Expect: 100-continue\r\n\r\n"));
  std::string got = recv_until(
      fd, [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }, 5s);
  EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << got;
  ASSERT_TRUE(send_all(fd, "abcde"));
  auto rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "abcde");
  close(fd);
}

TEST_F(Http, ExpectContinueNotSentWhenRejectedEarly) {
  // Over the body limit: 413 at once, without "100 Continue", and close.
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd,
                       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n"
                       "Expect: 100-continue\r\n\r\n"));
  bool eof = false;
  std::string got = recv_all(fd, 5s, &eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
  EXPECT_TRUE(eof);
  close(fd);
}

TEST_F(Http, HeadHasHeadersButNoBody) {
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n" + get("/hello")));
  std::string got = recv_until(
      fd, [](const std::string& s) { return s.find("hello from rusm") != std::string::npos; }, 5s);
  Response head = parse_response(got, true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "16");
  // The next response starts right after the HEAD response's head.
  Response next = parse_response(got.substr(head.consumed));
  EXPECT_EQ(next.status, 200) << got;
  EXPECT_EQ(next.body, "hello from rusm\n");
  close(fd);
}

TEST_F(Http, ConnectionCloseIsHonoured) {
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  bool eof = false;
  std::string got = recv_all(fd, 5s, &eof);
  Response r = parse_response(got);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(eof) << "server must close after Connection: close";
  close(fd);
}

TEST_F(Http, Http10ClosesByDefault) {
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(fd, "GET /hello HTTP/1.0\r\n\r\n"));
  bool eof = false;
  std::string got = recv_all(fd, 5s, &eof);
  EXPECT_EQ(parse_response(got).status, 200);
  EXPECT_TRUE(eof);
  close(fd);
}

TEST_F(Http, UnknownPathIs404AndRouteParamsAreDecoded) {
  EXPECT_EQ(request(ts.port, get("/nope")).status, 404);
  Response r = request(ts.port, get("/echo/a%20b"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-id"], "a b");
  EXPECT_EQ(request(ts.port, get("/echo/a/b")).status, 404) << "a parameter is one segment";
  EXPECT_EQ(request(ts.port, get("/files/x/y.txt")).status, 200) << "prefix route";
}

// A server must accept the absolute form (RFC 9112 3.2.2): it routes by the
// path, and the target's authority replaces Host.
TEST_F(Http, AbsoluteFormTargetIsRoutedByItsPathAndReplacesHost) {
  Response r =
      request(ts.port, "GET http://example.com:8080/echo/7?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-path"], "/echo/7");
  EXPECT_EQ(r.headers["x-id"], "7");
  EXPECT_EQ(r.headers["x-host"], "example.com:8080") << "the target's authority must win over Host";
  r = request(ts.port, "GET HTTP://h/hello HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.status, 200) << "the scheme is case-insensitive";
  r = request(ts.port, "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.status, 404) << "an empty path is '/', which has no route here";
  EXPECT_EQ(request(ts.port, "GET ftp://h/hello HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(request(ts.port, "GET http://u@h/hello HTTP/1.1\r\nHost: h\r\n\r\n").status, 400)
      << "userinfo in the target is refused";
  EXPECT_EQ(request(ts.port, "GET http:///hello HTTP/1.1\r\nHost: h\r\n\r\n").status, 400)
      << "no host";
}

// Empty lines before a request line are ignored (RFC 9112 2.2), also between
// pipelined requests and when they arrive a byte at a time.
TEST_F(Http, EmptyLinesBeforeARequestLineAreIgnored) {
  Response r = request(ts.port, "\r\n\r\n" + get("/hello"));
  EXPECT_EQ(r.status, 200);
  int fd = connect_to(ts.port);
  ASSERT_TRUE(send_all(
      fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab\r\n" + get("/hello")));
  auto rs = read_responses(fd, 2);
  ASSERT_EQ(rs.size(), 2u) << "the CRLF after a POST body broke the next request";
  EXPECT_EQ(rs[0].body, "ab");
  EXPECT_EQ(rs[1].body, "hello from rusm\n");
  for (char c : "\r\n\n" + get("/hello")) {
    ASSERT_TRUE(send_all(fd, std::string(1, c)));
  }
  rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  close(fd);
}

// Each shape must get 400 and a closed connection, never a second request.
TEST_F(Http, SmugglingShapesAreRejected) {
  using namespace std::string_literals;
  const std::vector<std::string> shapes = {
      // CL + TE
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
      // TE + CL
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
      "0\r\n\r\n",
      // two different Content-Length
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
      // two equal Content-Length
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
      // a Content-Length list
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4, 4\r\n\r\nabcd",
      // signed / non-numeric Content-Length
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +4\r\n\r\nabcd",
      // TE other than chunked
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabcd",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      // two TE headers
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n",
      // TE with a space before the colon
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
      // obsolete line folding
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
      // TE in HTTP/1.0
      "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      // bad chunk size
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      // no Host / two Hosts
      "GET /hello HTTP/1.1\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      // bare LF line endings, a NUL in a header, absolute garbage
      "GET /hello HTTP/1.1\nHost: t\n\n",
      "GET /hello HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n"s,
      "GET hello HTTP/1.1\r\nHost: t\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
  };
  int i = 0;
  for (const std::string& raw : shapes) {
    int fd = connect_to(ts.port);
    send_all(fd, raw);
    bool eof = false;
    std::string got = recv_all(fd, 3s, &eof);
    Response r = parse_response(got);
    // The chunked body with a bad size may reach the handler first (it
    // answers with a 500 for a malformed body): 4xx/5xx, never 200.
    if (i == 13) {
      EXPECT_TRUE(r.status == 400 || r.status == 500) << "shape " << i << ": " << got;
    } else {
      EXPECT_EQ(r.status, 400) << "shape " << i << ": " << raw << "\n-> " << got;
    }
    EXPECT_EQ(got.find("hello from rusm"), std::string::npos) << "shape " << i << " smuggled";
    EXPECT_TRUE(eof) << "shape " << i << ": connection left open";
    close(fd);
    ++i;
  }
  EXPECT_GE(ts.server->stats().rejected_bad_request, 15u);
}

}  // namespace
}  // namespace rusm::net::test
