// Route kind cgi: unchanged WASI commands (tests/serve/guests/cgi_*.c)
// behind a live `rusm serve` app, driven over raw sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "rusm/net/config.h"
#include "rusm/serve/app.h"

namespace rusm::serve {
namespace {

using namespace std::chrono_literals;

// ---- Raw-socket client (kept here: small and only what these tests need).

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "send failed";
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads what arrives within `timeout`; "" on EOF or timeout.
std::string recv_some(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    return {};
  }
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool complete = false;  // the framing said the body ended (not a drop)

  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        return &v;
      }
    }
    return nullptr;
  }
};

// Reads one response from `fd` (Content-Length, chunked, or to EOF); `buf`
// keeps bytes read past it.
Response read_response(int fd, std::string& buf, std::chrono::milliseconds timeout = 10s) {
  Response r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fill = [&]() {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    std::string more = recv_some(fd, left);
    buf += more;
    return !more.empty();
  };
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) {
      return r;
    }
  }
  std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  r.status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) {
      e = head.size();
    }
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      r.headers.emplace_back(line.substr(0, colon), v);
    }
    pos = e + 2;
  }
  if (const std::string* cl = r.header("Content-Length")) {
    size_t n = std::stoul(*cl);
    while (buf.size() < n) {
      if (!fill()) {
        r.body = buf;
        return r;
      }
    }
    r.body = buf.substr(0, n);
    buf.erase(0, n);
    r.complete = true;
    return r;
  }
  if (const std::string* te = r.header("Transfer-Encoding"); te != nullptr && *te == "chunked") {
    for (;;) {
      size_t e;
      while ((e = buf.find("\r\n")) == std::string::npos) {
        if (!fill()) {
          return r;
        }
      }
      size_t n = std::stoul(buf.substr(0, e), nullptr, 16);
      while (buf.size() < e + 2 + n + 2) {
        if (!fill()) {
          return r;
        }
      }
      r.body += buf.substr(e + 2, n);
      buf.erase(0, e + 2 + n + 2);
      if (n == 0) {
        r.complete = true;
        return r;
      }
    }
  }
  while (fill()) {
  }
  r.body = buf;
  buf.clear();
  return r;
}

// ---- The app under test.

std::string guest(const char* name) {
  return std::string(RUSM_SERVE_GUESTS) + "/" + name + ".wasm";
}

class CgiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Something the programs must never see: the node's own environment.
    ::setenv("RUSM_CGI_TEST_SECRET", "leaked", 1);
    dir_ = std::filesystem::temp_directory_path() / ("rusm_cgi_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string toml =
        "listen = [\"127.0.0.1:0\"]\n"
        "[limits]\nbody_bytes = \"4M\"\n";
    auto route = [&](std::string where, const char* module, std::string extra = {}) {
      toml += "[[route]]\n" + where + "\nkind = \"cgi\"\nmodule = \"" + guest(module) + "\"\n" +
              extra + "\n";
    };
    route("path = \"/hello\"", "cgi_hello");
    route("path = \"/env/{id}\"", "cgi_env");
    route("prefix = \"/cgi-bin/tool/\"", "cgi_env");
    route("path = \"/echo\"\nmethod = \"POST\"", "cgi_echo");
    route("path = \"/misc\"", "cgi_misc");
    route("path = \"/spin\"", "cgi_misc", "deadline = \"300ms\"");
    route("path = \"/stream\"", "cgi_stream", "allow = [\"clock\"]");
    route("path = \"/stream-noclock\"", "cgi_stream");
    route("path = \"/poll\"", "cgi_poll");
    std::string file = (dir_ / "rusm.toml").string();
    auto config = net::parse_config(toml, file);
    ASSERT_TRUE(config) << config.error().message();
    AppOptions o;
    o.workers = 2;
    auto app = App::create(std::move(*config), o);
    ASSERT_TRUE(app) << app.error().message();
    app_ = std::move(*app).release();
    ASSERT_TRUE(app_->start());
    port_ = app_->ports().at(0);
  }
  static void TearDownTestSuite() {
    delete app_;
    app_ = nullptr;
    std::filesystem::remove_all(dir_);
  }

  // One request on a fresh connection.
  static Response get(const std::string& raw) {
    int fd = connect_to(port_);
    EXPECT_GE(fd, 0);
    send_all(fd, raw);
    std::string buf;
    Response r = read_response(fd, buf);
    ::close(fd);
    return r;
  }
  static std::string simple(const std::string& target, const std::string& method = "GET") {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
           "\r\nConnection: close\r\n\r\n";
  }

  static inline App* app_ = nullptr;
  static inline uint16_t port_ = 0;
  static inline std::filesystem::path dir_;
};

bool has_line(const std::string& body, const std::string& line) {
  return ("\n" + body).find("\n" + line + "\n") != std::string::npos;
}

TEST_F(CgiTest, HelloAnswers) {
  Response r = get(simple("/hello"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from cgi\n");
  EXPECT_TRUE(r.complete);
  ASSERT_NE(r.header("Content-Type"), nullptr);
  EXPECT_EQ(*r.header("Content-Type"), "text/plain");
}

TEST_F(CgiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  std::string buf;
  for (int i = 0; i < 3; ++i) {
    send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    Response r = read_response(fd, buf);
    EXPECT_EQ(r.status, 200) << "request " << i;
    EXPECT_EQ(r.body, "hello from cgi\n") << "request " << i;
  }
  ::close(fd);
}

TEST_F(CgiTest, ProgramSeesTheRequestAsMetaVariables) {
  Response r = get("GET /env/42?a=b&c=d HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                   "\r\nX-Thing: one\r\nX-Thing: two\r\nUser-Agent: cgi-test\r\n"
                   "Proxy: http://evil.example\r\n"
                   "Connection: close\r\n\r\n");
  ASSERT_EQ(r.status, 200);
  const std::string& b = r.body;
  EXPECT_TRUE(has_line(b, "GATEWAY_INTERFACE=CGI/1.1")) << b;
  EXPECT_TRUE(has_line(b, "REQUEST_METHOD=GET")) << b;
  EXPECT_TRUE(has_line(b, "QUERY_STRING=a=b&c=d")) << b;
  EXPECT_TRUE(has_line(b, "SCRIPT_NAME=/env/42")) << b;
  EXPECT_TRUE(has_line(b, "PATH_INFO=")) << b;
  EXPECT_TRUE(has_line(b, "SERVER_PROTOCOL=HTTP/1.1")) << b;
  EXPECT_TRUE(has_line(b, "SERVER_NAME=127.0.0.1")) << b;
  EXPECT_TRUE(has_line(b, "SERVER_PORT=" + std::to_string(port_))) << b;
  EXPECT_TRUE(has_line(b, "REMOTE_ADDR=127.0.0.1")) << b;
  EXPECT_TRUE(has_line(b, "HTTP_X_THING=one, two")) << b;
  EXPECT_TRUE(has_line(b, "HTTP_USER_AGENT=cgi-test")) << b;
  EXPECT_TRUE(has_line(b, "RUSM_PARAM_ID=42")) << b;
  EXPECT_EQ(b.find("CONTENT_LENGTH="), std::string::npos) << "no body, no CONTENT_LENGTH: " << b;
  EXPECT_EQ(b.find("HTTPS="), std::string::npos) << b;
  EXPECT_EQ(b.find("HTTP_PROXY="), std::string::npos) << "httpoxy: " << b;
  EXPECT_EQ(b.find("RUSM_CGI_TEST_SECRET"), std::string::npos)
      << "the node's environment reached the program: " << b;
}

TEST_F(CgiTest, PrefixRouteSplitsScriptNameAndPathInfo) {
  Response r = get(simple("/cgi-bin/tool/a/b%20c"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(has_line(r.body, "SCRIPT_NAME=/cgi-bin/tool")) << r.body;
  EXPECT_TRUE(has_line(r.body, "PATH_INFO=/a/b c")) << r.body;
}

TEST_F(CgiTest, PostBodyArrivesOnStdin) {
  Response r =
      get("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
          "Content-Length: 11\r\nConnection: close\r\n\r\nhello world");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "CONTENT_LENGTH=11 read=11\nhello world");
}

TEST_F(CgiTest, ChunkedBodyArrivesWholeWithItsLength) {
  Response r =
      get("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "CONTENT_LENGTH=11 read=11\nhello world");
}

// The body comes after the program started: its reads (fd_read, then
// poll_oneoff on stdin) suspend until the bytes arrive.
TEST_F(CgiTest, StdinReadWaitsForABodySentLater) {
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n");
  std::this_thread::sleep_for(100ms);
  send_all(fd, "first");
  std::this_thread::sleep_for(100ms);
  send_all(fd, "-last");
  std::string buf;
  Response r = read_response(fd, buf);
  ::close(fd);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "CONTENT_LENGTH=10 read=10\nfirst-last");
}

TEST_F(CgiTest, PollOnStdinWaitsForTheBody) {
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /poll HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
  std::this_thread::sleep_for(150ms);
  send_all(fd, "abcde");
  std::string buf;
  Response r = read_response(fd, buf);
  ::close(fd);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "poll=1 readable=1 read=abcde\n");
}

TEST_F(CgiTest, LargeBodyStreamsThroughStdinAndStdout) {
  // Larger than a read_body chunk and than the write buffer: stdin waits for
  // body bytes, stdout for the client.
  std::string body(600 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>('a' + i % 26);
  }
  Response r =
      get("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_EQ(r.status, 200);
  std::string expect = "CONTENT_LENGTH=" + std::to_string(body.size()) +
                       " read=" + std::to_string(body.size()) + "\n" + body;
  EXPECT_EQ(r.body.size(), expect.size());
  EXPECT_TRUE(r.body == expect) << "the echoed body differs";
}

TEST_F(CgiTest, LargeResponseIsComplete) {
  Response r = get(simple("/misc?big"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.body, std::string(256 * 4096, 'x'));
}

TEST_F(CgiTest, StatusHeaderSetsTheStatus) {
  Response r = get(simple("/misc?404"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no such thing\n");
  EXPECT_EQ(r.header("Status"), nullptr) << "Status is not an HTTP header";
}

TEST_F(CgiTest, LocationWithoutStatusRedirects) {
  Response r = get(simple("/misc?redirect"));
  EXPECT_EQ(r.status, 302);
  ASSERT_NE(r.header("Location"), nullptr);
  EXPECT_EQ(*r.header("Location"), "http://example.com/elsewhere");
}

TEST_F(CgiTest, ProgramContentLengthAndHeadersPassThrough) {
  Response r = get(simple("/misc?length"));
  EXPECT_EQ(r.status, 200);
  ASSERT_NE(r.header("Content-Length"), nullptr) << "the program's length, not chunked";
  EXPECT_EQ(*r.header("Content-Length"), "6");
  EXPECT_EQ(r.header("Transfer-Encoding"), nullptr);
  ASSERT_NE(r.header("X-Extra"), nullptr);
  EXPECT_EQ(*r.header("X-Extra"), "yes");
  EXPECT_EQ(r.body, "sized\n");
}

TEST_F(CgiTest, HeadRequestGetsHeadersOnly) {
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "HEAD /misc?length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string all;
  for (std::string s; !(s = recv_some(fd, 5000ms)).empty();) {
    all += s;
  }
  ::close(fd);
  EXPECT_EQ(all.rfind("HTTP/1.1 200", 0), 0u) << all;
  EXPECT_EQ(all.substr(all.find("\r\n\r\n") + 4), "") << "HEAD got a body";
}

TEST_F(CgiTest, ResponseStreamsBeforeTheProgramEnds) {
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, simple("/stream"));
  // The program writes "first", sleeps, writes "second": what arrives first
  // must hold the first part and not the second.
  std::string got;
  while (got.find("first\n") == std::string::npos) {
    std::string s = recv_some(fd, 10000ms);
    ASSERT_FALSE(s.empty()) << "nothing streamed; got so far: " << got;
    got += s;
  }
  EXPECT_EQ(got.find("second"), std::string::npos)
      << "the first part was held until the program ended";
  for (std::string s; !(s = recv_some(fd, 10000ms)).empty();) {
    got += s;
  }
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_NE(got.find("second\n"), std::string::npos) << got;
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos) << "the chunked body did not end: " << got;
}

TEST_F(CgiTest, SleepingWithoutTheClockCapabilityDoesNotSleep) {
  // nanosleep is refused (ENOTCAPABLE): the program goes on at once.
  Response r = get(simple("/stream-noclock"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first\nsecond\n");
}

TEST_F(CgiTest, TrapBeforeHeadersIs500AndTheServerKeepsServing) {
  Response r = get(simple("/misc?trap"));
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(r.complete);
  Response after = get(simple("/hello"));
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "hello from cgi\n");
}

TEST_F(CgiTest, NonZeroExitBeforeHeadersIs502) {
  Response r = get(simple("/misc?exit3"));
  EXPECT_EQ(r.status, 502);
}

TEST_F(CgiTest, TrapAfterHeadersAbortsTheConnection) {
  // Its header block is parsed; whether the start reached the socket before
  // the trap is a race: either a 500, or a 200 cut short.
  Response r = get(simple("/misc?trap_late"));
  EXPECT_TRUE(r.status == 500 || (r.status == 200 && !r.complete))
      << "a failed program's response must not look complete: " << r.status << " " << r.body;
}

TEST_F(CgiTest, MissingHeaderBlockIs502) {
  Response r = get(simple("/misc?noheader"));
  EXPECT_EQ(r.status, 502);
}

TEST_F(CgiTest, OversizedHeaderBlockIs502) {
  Response r = get(simple("/misc?bighead"));
  EXPECT_EQ(r.status, 502);
}

TEST_F(CgiTest, StderrGoesToTheLogNotTheClient) {
  testing::internal::CaptureStderr();
  Response r = get(simple("/misc?stderr"));
  std::this_thread::sleep_for(50ms);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "logged\n");
  EXPECT_NE(log.find("route \"/misc\": stderr: first complaint"), std::string::npos) << log;
  EXPECT_NE(log.find("route \"/misc\": stderr: second complaint"), std::string::npos) << log;
}

TEST_F(CgiTest, DeadlineIs504AndTheProcessIsKilled) {
  otp::Node& node = app_->runtime().node();
  uint64_t before = node.process_count();
  Response r = get(simple("/spin?spin"));
  EXPECT_EQ(r.status, 504);
  // The spinning process is gone soon after (it would spin forever).
  auto until = std::chrono::steady_clock::now() + 10s;
  while (node.process_count() > before && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LE(node.process_count(), before) << "the CGI process outlived its deadline";
  EXPECT_EQ(get(simple("/hello")).status, 200);
}

TEST_F(CgiTest, ManyConcurrentRequests) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        Response r = get(simple("/hello"));
        if (r.status == 200 && r.body == "hello from cgi\n") {
          ++ok;
        }
      }
    });
  }
  for (auto& t : ts) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 160);
}

}  // namespace
}  // namespace rusm::serve
