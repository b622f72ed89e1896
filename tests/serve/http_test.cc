// Route kinds http and sse (src/serve/http.cc): a process per request behind
// a live server, driven over raw sockets; guests/http_app.c has one export
// per behaviour.
#include <gtest/gtest.h>

#include <string>

#include "serve/serve_test_util.h"

namespace rusm::serve::test {
namespace {

std::string app_toml() {
  std::string m = guest("http_app");
  auto route = [&](const std::string& path, const std::string& entry, const std::string& extra) {
    std::string kind = extra.find("kind") == std::string::npos ? "kind = \"http\"\n" : "";
    return "[[route]]\n" + path + "\nmodule = \"" + m + "\"\nentry = \"" + entry + "\"\n" + kind +
           extra + "\n";
  };
  return "[limits]\nbody_bytes = \"256K\"\nshutdown_timeout = \"300ms\"\n\n" +
         route("path = \"/hello\"", "hello", "name = \"hello\"") +
         route("path = \"/info/{id}\"", "info", "") + route("prefix = \"/files/\"", "info", "") +
         route("path = \"/echo\"", "echo", "method = \"POST\"") +
         route("path = \"/count\"", "count", "") + route("path = \"/fixed\"", "fixed", "") +
         route("path = \"/chunked\"", "chunked", "") +
         route("path = \"/crash\"", "crash", "name = \"crasher\"") +
         route("path = \"/hang\"", "hang", "deadline = \"300ms\"") +
         route("path = \"/forever\"", "hang", "deadline = \"0s\"") +
         route("path = \"/silent\"", "silent", "") +
         route("path = \"/events\"", "events", "kind = \"sse\"") +
         route("path = \"/big\"", "big", "") + route("path = \"/errors\"", "errors", "");
}

class Http : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = app_.start(app_toml());
    ASSERT_TRUE(s.is_ok()) << s.message();
    base_ = app_.processes();
  }
  Response req(const std::string& raw) { return request(app_.port(), raw); }
  std::string line_of(const std::string& body, const std::string& key) {
    size_t at = body.find(key + "=");
    if (at == std::string::npos) {
      return "(missing " + key + ")";
    }
    size_t end = body.find('\n', at);
    return body.substr(at + key.size() + 1, end - at - key.size() - 1);
  }
  ServeApp app_;
  uint64_t base_ = 0;
};

TEST_F(Http, GetHelloIsAnsweredByAFreshProcess) {
  Response r = req(get("/hello"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from wasm\n");
  EXPECT_EQ(r.headers["content-type"], "text/plain");
  EXPECT_EQ(r.headers["content-length"], "16");
  // Keep-alive and pipelining: three requests, three processes, in order.
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, get("/hello") + get("/fixed") + get("/hello")));
  auto rs = read_responses(fd, 3);
  close(fd);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].body, "hello from wasm\n");
  EXPECT_EQ(rs[1].body, "aaaaabbbbbccccc");
  EXPECT_EQ(rs[2].body, "hello from wasm\n");
  EXPECT_TRUE(app_.processes_at_most(base_)) << "every handler process ended";
}

TEST_F(Http, TheGuestReadsMethodTargetQueryHeadersParamsAndPeer) {
  Response r = req("GET /info/42?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nX-Test: yes it is\r\n\r\n");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-handler"], "info");
  EXPECT_EQ(line_of(r.body, "method"), "GET");
  EXPECT_EQ(line_of(r.body, "target"), "/info/42?x=1&y=%20");
  EXPECT_EQ(line_of(r.body, "path"), "/info/42");
  EXPECT_EQ(line_of(r.body, "query"), "x=1&y=%20");
  EXPECT_EQ(line_of(r.body, "x-test"), "yes it is") << "header names are case-insensitive";
  EXPECT_EQ(line_of(r.body, "id"), "42");
  EXPECT_EQ(line_of(r.body, "rest"), "ERR") << "no '*' parameter on a pattern route";
  EXPECT_EQ(line_of(r.body, "peer").rfind("127.0.0.1:", 0), 0u) << r.body;
  EXPECT_EQ(line_of(r.body, "pathlen"), "8") << "a short buffer still gets the full length";
  EXPECT_EQ(line_of(r.body, "missing"), "-5") << "ENOTFOUND";
  EXPECT_NE(r.body.find("headers:\nHost: t\nX-Test: yes it is\n"), std::string::npos) << r.body;

  Response p = req(get("/files/a/b%20c.txt"));
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(line_of(p.body, "rest"), "a/b c.txt") << "a prefix route's rest, decoded";
  EXPECT_EQ(line_of(p.body, "id"), "ERR");
  EXPECT_EQ(line_of(p.body, "query"), "");
}

TEST_F(Http, PostBodiesAreEchoedWhateverTheirFraming) {
  Response r = req("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(lower(r.headers["transfer-encoding"]), "chunked");

  Response c =
      req("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.body, "abcdefg");

  // Larger than one chunk of the connection (64K) and than the guest's
  // 1000-byte reads: leftovers are handed over in order.
  std::string big;
  for (int i = 0; i < 200'000; ++i) {
    big += char('a' + (i * 7 + i / 13) % 26);
  }
  Response b =
      req("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(big.size()) +
          "\r\n\r\n" + big);
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body.size(), big.size());
  EXPECT_TRUE(b.body == big) << "the echoed body differs";

  Response n = req(get("/echo"));
  EXPECT_EQ(n.status, 404) << "POST only";
}

TEST_F(Http, ABodyOverTheLimitIs413) {
  // Chunked, so only the read sees it: the guest gets ETOOLARGE and gives up.
  std::string chunk(100'000, 'x');
  std::string raw = "POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    raw += "186a0\r\n" + chunk + "\r\n";
  }
  raw += "0\r\n\r\n";
  Response r = req(raw);
  EXPECT_EQ(r.status, 413) << r.body;
  Response ok = req("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + chunk);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "100000");
}

TEST_F(Http, ContentLengthAndChunkedResponses) {
  Response f = req(get("/fixed"));
  EXPECT_EQ(f.status, 201);
  EXPECT_EQ(f.headers["content-length"], "15");
  EXPECT_EQ(f.headers["x-kind"], "fixed");
  EXPECT_EQ(f.body, "aaaaabbbbbccccc");
  Response c = req(get("/chunked"));
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(lower(c.headers["transfer-encoding"]), "chunked");
  EXPECT_EQ(c.body, "one,two,three") << "the process's exit ends a chunked response";
}

TEST_F(Http, HeadSendsTheHeadOnlyAndTheConnectionGoesOn) {
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, "HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = read_responses(fd, 1, 5s, /*head=*/true);
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head[0].status, 201);
  EXPECT_EQ(head[0].headers["content-length"], "15");
  ASSERT_TRUE(send_all(fd, get("/hello")));
  auto next = read_responses(fd, 1);
  close(fd);
  ASSERT_EQ(next.size(), 1u) << "no body bytes were left on the connection";
  EXPECT_EQ(next[0].body, "hello from wasm\n");
}

TEST_F(Http, ATrapIs500WithOneLogLineAndTheServerGoesOn) {
  Response r = req(get("/crash"));
  EXPECT_EQ(r.status, 500);
  EXPECT_FALSE(r.body.empty());
  EXPECT_LT(r.body.size(), 100u);
  std::vector<std::string> lines = app_.error_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("crasher"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("unreachable"), std::string::npos) << lines[0];
  EXPECT_EQ(req(get("/hello")).status, 200);
  EXPECT_TRUE(app_.processes_at_most(base_));
}

TEST_F(Http, AHandlerPastItsDeadlineIs504AndKilled) {
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, get("/hang")));
  auto t0 = std::chrono::steady_clock::now();
  auto rs = read_responses(fd, 1, 5s);
  close(fd);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 504);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_TRUE(app_.processes_at_most(base_)) << "the process is killed at the deadline";
}

TEST_F(Http, AClientThatLeavesTakesItsProcessAlong) {
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, get("/forever")));
  auto end = std::chrono::steady_clock::now() + 5s;
  while (app_.processes() <= base_ && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(app_.processes(), base_ + 1) << "the handler runs";
  // A reset, not a FIN: the core keeps a half-closed connection's response
  // going (the client may still read), so only a reset or a failed write
  // tells it the client is gone.
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  EXPECT_TRUE(app_.processes_at_most(base_)) << "the process is killed when the client goes";
}

TEST_F(Http, AHandlerThatEndsWithoutAnsweringIs500) {
  Response r = req(get("/silent"));
  EXPECT_EQ(r.status, 500);
  std::vector<std::string> lines = app_.error_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("without a response"), std::string::npos) << lines[0];
}

TEST_F(Http, AnSseStreamDeliversEveryEventInOrder) {
  Response r = req(get("/events?n=5"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  EXPECT_EQ(r.headers["x-stream"], "ticks");
  EXPECT_EQ(r.body,
            "event: tick\ndata: 0\ndata: second\n\n"
            "event: tick\ndata: 1\n\n"
            "event: tick\ndata: 2\ndata: second\n\n"
            "event: tick\ndata: 3\n\n"
            "data: 4\ndata: second\n\n");
  Response many = req(get("/events?n=200"));
  size_t count = 0;
  for (size_t at = 0; (at = many.body.find("data: ", at)) != std::string::npos; ++at) {
    ++count;
  }
  EXPECT_EQ(count, 300u);
  EXPECT_NE(many.body.find("data: 199\n\n"), std::string::npos);
  EXPECT_LT(many.body.find("data: 198\n"), many.body.find("data: 199\n"));
}

TEST_F(Http, AnSseClientThatLeavesEndsItsStreamAndProcess) {
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, get("/events?n=100000000")));
  std::string first = recv_until(
      fd, [](const std::string& got) { return got.find("data: 10\n") != std::string::npos; }, 5s);
  ASSERT_NE(first.find("data: 10\n"), std::string::npos) << "the stream flows";
  EXPECT_EQ(app_.processes(), base_ + 1);
  close(fd);  // a plain close: the next writes fail, and the process goes
  EXPECT_TRUE(app_.processes_at_most(base_, 10s));
}

TEST_F(Http, ShutdownEndsHandlersStillRunning) {
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, get("/forever")));
  auto end = std::chrono::steady_clock::now() + 5s;
  while (app_.processes() <= base_ && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(app_.processes(), base_ + 1);
  app_.app().shutdown();  // waits limits.shutdown_timeout (300ms), then cancels
  EXPECT_TRUE(app_.processes_at_most(base_)) << "the cancelled handler's process is killed";
  EXPECT_TRUE(closed_within(fd, 2s));
  close(fd);
}

TEST_F(Http, ASlowReaderHoldsTheWriterBackNotTheNodesMemory) {
  int fd = connect_to(app_.port());
  int small = 16 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(send_all(fd, get("/big")));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(app_.processes(), base_ + 1) << "the writer waits, suspended";
  net::ServerStats st = app_.app().server().stats();
  EXPECT_LE(st.buffered_peak, 256 * 1024) << "8 MiB must not pile up in the server";
  bool eof = false;
  std::string all = recv_until(
      fd, [](const std::string& got) { return got.find("\r\n0\r\n\r\n") != std::string::npos; },
      20s, &eof);
  close(fd);
  Response r = parse_response(all);
  ASSERT_TRUE(r.complete) << all.size() << " bytes";
  EXPECT_EQ(r.body.size(), 128u * 65536u);
  EXPECT_TRUE(app_.processes_at_most(base_));
}

TEST_F(Http, TheGuestSeesErrorsNotCrashes) {
  Response r = req(get("/errors"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(line_of(r.body, "wrong_handle"), "-3") << "EBADARG";
  EXPECT_EQ(line_of(r.body, "handle0"), "-3");
  EXPECT_EQ(line_of(r.body, "write_before_start"), "-13") << "EBADSTATE";
  EXPECT_EQ(line_of(r.body, "finish_before_start"), "-13");
  EXPECT_EQ(line_of(r.body, "bad_header"), "-3");
  EXPECT_EQ(line_of(r.body, "bad_status"), "-3");
  EXPECT_EQ(line_of(r.body, "bad_pointer"), "-3");
  EXPECT_EQ(line_of(r.body, "event_before_start"), "-13");
  EXPECT_TRUE(app_.processes_at_most(base_));
  EXPECT_TRUE(app_.error_lines().empty()) << app_.error_lines()[0];
}

}  // namespace
}  // namespace rusm::serve::test
