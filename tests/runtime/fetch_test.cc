// Outbound HTTP(S) from Wasm processes (guests/t_fetch.c; docs/fetch.md):
// against a server this test runs (plain and TLS, with a CA it makes), the
// allow-list, the address policy, certificate checks, streaming, the
// response cap, timeouts, bad requests, limits, a process killed while it
// waits, and `rusm run --allow-net`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/certs.h"
#include "runtime/fetch.h"
#include "rusm/runtime/runtime.h"

namespace rusm::runtime {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using otp::Message;
using otp::Probe;

std::string guest(const char* name) {
  return std::string(RUSM_RT_GUESTS) + "/" + name;
}

// A test server on 127.0.0.1: a thread per connection, synchronous Beast.
//   /hello          200 "hello", X-Test: yes
//   /echo           200: "<method> <x-echo header> <body>"
//   /big?N          N bytes of 'a'..'z' with a Content-Length
//   /chunked?N      the same, chunked in pieces of 1000
//   /slow           reads the request, answers nothing for 5 s
//   /redirect       302 to /hello
// and, as a hostile server would:
//   /garbage        not HTTP at all
//   /hugehead       a head of 70 KB
//   /truncated      promises 1000 bytes, sends 10, closes
//   /drip           a chunked head, then a chunk-size line one byte per 100 ms
class TestServer {
 public:
  explicit TestServer(ssl::context* tls = nullptr) : tls_(tls) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() {
    stopping_ = true;
    {
      // Wakes the accept (closing the acceptor from here would not).
      asio::io_context io;
      tcp::socket s(io);
      boost::system::error_code ec;
      s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    }
    thread_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) {
      t.join();
    }
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  int closed() const { return closed_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) {
        return;
      }
      ++connections_;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, s = std::move(s)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(tcp::socket s) {
    boost::system::error_code ec;
    if (tls_ != nullptr) {
      ssl::stream<tcp::socket> stream(std::move(s), *tls_);
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) {
        answer(stream);
      }
    } else {
      answer(s);
    }
    ++closed_;
  }

  template <typename Stream>
  void answer(Stream& stream) {
    boost::system::error_code ec;
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(stream, buf, req, ec);
    if (ec) {
      return;
    }
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    size_t n =
        target.find('?') == std::string::npos ? 0 : std::stoul(target.substr(target.find('?') + 1));
    std::string body;
    for (size_t i = 0; i < n; ++i) {
      body += static_cast<char>('a' + i % 26);
    }
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::connection, "close");
    if (path == "/hello") {
      res.set("X-Test", "yes");
      res.body() = "hello";
    } else if (path == "/echo") {
      res.body() =
          std::string(req.method_string()) + " " + std::string(req["x-echo"]) + " " + req.body();
    } else if (path == "/big") {
      res.body() = body;
    } else if (path == "/chunked") {
      http::response<http::empty_body> head{http::status::ok, 11};
      head.chunked(true);
      http::response_serializer<http::empty_body> sr{head};
      http::write_header(stream, sr, ec);
      for (size_t at = 0; at < body.size() && !ec; at += 1000) {
        std::string piece = body.substr(at, 1000);
        asio::write(stream, http::make_chunk(asio::buffer(piece)), ec);
      }
      asio::write(stream, http::make_chunk_last(), ec);
      return;
    } else if (path == "/slow") {
      for (int i = 0; i < 50 && !stopping_; ++i) {
        std::this_thread::sleep_for(100ms);
      }
      return;
    } else if (path == "/garbage") {
      asio::write(stream, asio::buffer(std::string("HELLO THERE\r\n\r\n")), ec);
      return;
    } else if (path == "/hugehead") {
      std::string head = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70'000, 'a') + "\r\n\r\n";
      asio::write(stream, asio::buffer(head), ec);
      return;
    } else if (path == "/truncated") {
      std::string part = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
      asio::write(stream, asio::buffer(part), ec);
      return;
    } else if (path == "/drip") {
      std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      asio::write(stream, asio::buffer(head), ec);
      for (int i = 0; i < 50 && !stopping_ && !ec; ++i) {
        asio::write(stream, asio::buffer(std::string("0")), ec);  // "000...": never a size
        std::this_thread::sleep_for(100ms);
      }
      return;
    } else if (path == "/redirect") {
      res.result(http::status::found);
      res.set(http::field::location, "/hello");
    } else {
      res.result(http::status::not_found);
    }
    res.prepare_payload();
    http::write(stream, res, ec);
  }

  ssl::context* tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0}, closed_{0};
};

// A request as rusm_fetch takes it.
std::string request(std::string_view url, std::string_view method = "",
                    std::string_view headers = "", std::string_view body = "",
                    uint32_t timeout_ms = 0, uint32_t max_response = 0) {
  AbiFetchRequest r{};
  r.method_len = static_cast<uint32_t>(method.size());
  r.url_len = static_cast<uint32_t>(url.size());
  r.headers_len = static_cast<uint32_t>(headers.size());
  r.body_len = static_cast<uint32_t>(body.size());
  r.timeout_ms = timeout_ms;
  r.max_response = max_response;
  std::string out(sizeof r, '\0');
  std::memcpy(out.data(), &r, sizeof r);
  out.append(method).append(url).append(headers).append(body);
  return out;
}

fs::path scratch() {
  fs::path p = fs::temp_directory_path() / ("rusm-fetch-" + std::to_string(::getpid()));
  return p;
}

class FetchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(scratch());
    ASSERT_TRUE(cluster::make_ca(scratch().string()));
    ASSERT_TRUE(cluster::make_node_cert(scratch().string(), "localhost"));
    ASSERT_TRUE(cluster::make_node_cert(scratch().string(), "other.test"));
  }
  static void TearDownTestSuite() { fs::remove_all(scratch()); }

  void start(FetchOptions fo = {}) {
    probe_.reset();  // before the node it lives on
    rt_.reset();
    RuntimeOptions o;
    o.node.workers = 2;
    o.fetch = fo;
    rt_ = std::make_unique<Runtime>(o);
    ASSERT_TRUE(rt_->load_file("t_fetch", guest("t_fetch.wasm")).is_ok());
    probe_ = std::make_unique<Probe>(rt_->node());
  }
  void SetUp() override { start(); }
  void TearDown() override {
    probe_.reset();
    rt_.reset();
  }

  static std::unique_ptr<ssl::context> server_tls(const char* name) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    std::string dir = scratch().string();
    ctx->use_certificate_chain_file(cluster::node_cert_path(dir, name));
    ctx->use_private_key_file(cluster::node_key_path(dir, name), ssl::context::pem);
    return ctx;
  }
  static FetchOptions trusting_test_ca() {
    FetchOptions fo;
    fo.ca_file = cluster::ca_cert_path(scratch().string());
    return fo;
  }

  otp::Pid spawn(const char* fn, std::vector<uint64_t> args,
                 std::initializer_list<std::string> allow) {
    ProcessSpec s;
    s.module = "t_fetch";
    s.function = fn;
    args.insert(args.begin(), probe_->pid().bits());
    s.args = std::move(args);
    s.caps = *profile("sandboxed");
    for (const std::string& a : allow) {
      EXPECT_TRUE(runtime::allow(s.caps, a)) << a;
    }
    auto p = rt_->spawn(s);
    EXPECT_TRUE(p) << p.message();
    return p ? p->pid : otp::Pid();
  }
  // Runs `proxy` on one request; its report.
  std::string fetch(const std::string& req, std::initializer_list<std::string> allow,
                    uint32_t chunk = 1 << 16) {
    otp::Pid pid = spawn("proxy", {chunk}, allow);
    EXPECT_TRUE(rt_->node().send(pid, Message::make(1, req)));
    return report();
  }
  std::string report(std::chrono::seconds within = 20s) {
    auto m = probe_->receive_if([](const Message& m) { return m.tag() == 1; }, within);
    return m ? std::string(m->text()) : "(nothing)";
  }
  static std::string grant(uint16_t port, const char* host = "127.0.0.1") {
    return std::string("net:") + host + ":" + std::to_string(port);
  }
  static std::string url(uint16_t port, const char* path, const char* scheme = "http",
                         const char* host = "127.0.0.1") {
    return std::string(scheme) + "://" + host + ":" + std::to_string(port) + path;
  }

  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Probe> probe_;
};

std::string code(int32_t c) {
  return "ERR " + std::to_string(c);
}

TEST_F(FetchTest, AGrantedGetReturnsStatusHeadersAndBody) {
  TestServer server;
  std::string got = fetch(request(url(server.port(), "/hello")), {grant(server.port())});
  EXPECT_EQ(got.substr(0, 4), "200\n") << got;
  EXPECT_NE(got.find("X-Test: yes\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.substr(got.size() - 6), "\nhello") << got;
  // A 3xx is the guest's to follow.
  got = fetch(request(url(server.port(), "/redirect")), {grant(server.port())});
  EXPECT_EQ(got.substr(0, 4), "302\n") << got;
  EXPECT_NE(got.find("Location: /hello\r\n"), std::string::npos) << got;
}

TEST_F(FetchTest, MethodHeadersAndBodyReachTheServer) {
  TestServer server;
  std::string got =
      fetch(request(url(server.port(), "/echo"), "PUT", "X-Echo: it works\r\n", "data!"),
            {grant(server.port())});
  EXPECT_EQ(got.substr(got.rfind('\n') + 1), "PUT it works data!") << got;
}

TEST_F(FetchTest, NothingIsReachableWithoutAGrantForItsHostAndPort) {
  TestServer server;
  const std::string req = request(url(server.port(), "/hello"));
  EXPECT_EQ(fetch(req, {}), code(kErrDenied)) << "no net capability";
  EXPECT_EQ(fetch(req, {grant(server.port() + 1)}), code(kErrDenied)) << "another port";
  EXPECT_EQ(fetch(req, {grant(server.port(), "127.0.0.2")}), code(kErrDenied)) << "another host";
  EXPECT_EQ(fetch(req, {"net:*.example.com:*"}), code(kErrDenied));
  EXPECT_EQ(server.connections(), 0) << "a refused fetch opens no connection";
  EXPECT_EQ(fetch(req, {"net:127.0.0.1:*"}).substr(0, 4), "200\n") << "any port of the host";
  // "localhost" names a loopback destination, so its addresses may be loopback.
  std::string got = fetch(request(url(server.port(), "/hello", "http", "localhost")),
                          {grant(server.port(), "localhost")});
  EXPECT_EQ(got.substr(0, 4), "200\n") << got;
}

TEST(FetchPolicy, LocalAddressesAreRecognized) {
  auto local = [](const char* a) { return local_address(asio::ip::make_address(a)); };
  for (const char* a : {"127.0.0.1", "127.8.9.10", "::1", "169.254.169.254", "fe80::1", "0.0.0.0",
                        "0.1.2.3", "::", "224.0.0.1", "255.255.255.255", "ff02::1",
                        "::ffff:127.0.0.1", "::ffff:169.254.1.1", "::127.0.0.1", "fec0::1"}) {
    EXPECT_TRUE(local(a)) << a;
  }
  for (const char* a : {"10.0.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8",
                        "fd00::1", "1.0.0.0"}) {
    EXPECT_FALSE(local(a)) << a;
  }
}

TEST(FetchPolicy, GrantsParseMatchAndNarrow) {
  Capabilities c = *profile("sandboxed");
  ASSERT_TRUE(allow(c, "net:API.Example.com:443"));
  ASSERT_TRUE(allow(c, "net:*.svc.local:*"));
  ASSERT_TRUE(allow(c, "net:[::1]:8080"));
  EXPECT_TRUE(c.has(kCapNet));
  EXPECT_NE(c.net_grant("api.example.com", 443), nullptr) << "names are case-insensitive";
  EXPECT_EQ(c.net_grant("api.example.com", 80), nullptr);
  EXPECT_EQ(c.net_grant("example.com", 443), nullptr);
  EXPECT_NE(c.net_grant("a.svc.local", 1234), nullptr);
  EXPECT_NE(c.net_grant("a.b.svc.local", 1), nullptr);
  EXPECT_EQ(c.net_grant("svc.local", 1), nullptr) << "a wildcard covers subdomains only";
  EXPECT_NE(c.net_grant("::1", 8080), nullptr);
  EXPECT_TRUE(c.net_grant("::1", 8080)->names_local());
  EXPECT_FALSE(c.net_grant("api.example.com", 443)->names_local());
  for (const char* bad : {"net:host", "net:host:0", "net:host:70000", "net:host:x", "net::80",
                          "net:::1:80", "net:[zz]:80", "net:a*b:80", "net:ho st:80"}) {
    EXPECT_FALSE(allow(c, bad)) << bad;
  }
  // A child asks for more than its parent holds: it gets the intersection.
  Capabilities child = *profile("sandboxed");
  ASSERT_TRUE(allow(child, "net:api.example.com:443"));
  ASSERT_TRUE(allow(child, "net:x.svc.local:99"));
  ASSERT_TRUE(allow(child, "net:evil.com:443"));
  ASSERT_TRUE(allow(child, "net:api.example.com:*"));
  Capabilities got = child.restricted_to(c);
  EXPECT_NE(got.net_grant("api.example.com", 443), nullptr);
  EXPECT_NE(got.net_grant("x.svc.local", 99), nullptr);
  EXPECT_EQ(got.net_grant("evil.com", 443), nullptr) << "never a host the parent lacks";
  EXPECT_EQ(got.net_grant("api.example.com", 80), nullptr) << "never a port the parent lacks";
  EXPECT_EQ(child.restricted_to(*profile("sandboxed")).net_grant("api.example.com", 443), nullptr);
  EXPECT_FALSE(profile("trusted")->net) << "no profile grants the network";
}

TEST(FetchPolicy, UrlsParseOrSayWhatIsWrong) {
  auto u = parse_url("https://Example.COM:8443/a/b?q=1#frag");
  ASSERT_TRUE(u) << u.message();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?q=1");
  u = parse_url("http://[::1]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_TRUE(u->literal);
  EXPECT_EQ(u->port, 80);
  u = parse_url("http://10.1.2.3?x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?x");
  for (const char* bad :
       {"ftp://x/", "http://", "http://a b/", "http://u@h/", "http://h:0/", "http://h:99999/",
        "http://h:/", "http://[::1/", "http://h/\r\n", "http://h%41/", "//h/"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

TEST_F(FetchTest, HttpsVerifiesTheCertificateAndTheName) {
  auto tls = server_tls("localhost");
  TestServer server(tls.get());
  const std::string req = request(url(server.port(), "/hello", "https", "localhost"));
  const std::string g = grant(server.port(), "localhost");
  EXPECT_EQ(fetch(req, {g}), code(kErrAuth)) << "the test CA is not trusted by default";
  start(trusting_test_ca());
  std::string got = fetch(req, {g});
  EXPECT_EQ(got.substr(0, 4), "200\n") << got;
  EXPECT_EQ(got.substr(got.size() - 6), "\nhello") << got;
  // The address is not the certificate's name.
  EXPECT_EQ(fetch(request(url(server.port(), "/hello", "https")), {grant(server.port())}),
            code(kErrAuth));

  auto other = server_tls("other.test");
  TestServer wrong(other.get());
  EXPECT_EQ(fetch(request(url(wrong.port(), "/hello", "https", "localhost")),
                  {grant(wrong.port(), "localhost")}),
            code(kErrAuth))
      << "a certificate for another name";
}

TEST_F(FetchTest, BodiesStreamInPiecesAndTheCapHolds) {
  TestServer server;
  const std::string g = grant(server.port());
  for (const char* path : {"/big?1000000", "/chunked?1000000"}) {
    std::string got = fetch(request(url(server.port(), path)), {g}, 7000);
    std::string body = got.substr(got.find("\r\n\n") + 3);
    ASSERT_EQ(body.size(), 1000000u) << path << ": " << got.substr(0, 200);
    EXPECT_EQ(body.substr(0, 3), "abc");
    EXPECT_EQ(body[999999], static_cast<char>('a' + 999999 % 26));
  }
  // A known length over the cap fails at once; a chunked body when it passes it.
  EXPECT_EQ(fetch(request(url(server.port(), "/big?5000"), "", "", "", 0, 4000), {g}),
            code(kErrTooLarge));
  std::string got = fetch(request(url(server.port(), "/chunked?5000"), "", "", "", 0, 4000), {g});
  EXPECT_EQ(got.substr(got.size() - 7), "ERR " + std::to_string(kErrTooLarge)) << got;
  EXPECT_LE(got.size(), 4000u + 200u);
}

TEST_F(FetchTest, ASlowServerTimesOutAndAClosedPortIsNotConnected) {
  TestServer server;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch(request(url(server.port(), "/slow"), "", "", "", 300), {grant(server.port())}),
            code(kErrTimeout));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // A port nobody listens on: the server's, once it is gone.
  uint16_t port = 0;
  {
    TestServer gone;
    port = gone.port();
  }
  EXPECT_EQ(fetch(request(url(port, "/hello")), {grant(port)}), code(kErrNoConn));
}

// What a hostile or broken server can send: each ends the fetch with an
// error, bounded in time and memory, and the node goes on.
TEST_F(FetchTest, HostileServersGetErrorsNotHangsOrGrowth) {
  TestServer server;
  const std::string g = grant(server.port());
  EXPECT_EQ(fetch(request(url(server.port(), "/garbage")), {g}), code(kErrIo));
  EXPECT_EQ(fetch(request(url(server.port(), "/hugehead")), {g}), code(kErrTooLarge));
  std::string got = fetch(request(url(server.port(), "/truncated")), {g});
  EXPECT_TRUE(got.ends_with("\n0123456789\nERR " + std::to_string(kErrIo))) << got;
  // Framing that trickles in without body bytes does not extend a read's
  // deadline (the server would drip for 5 s).
  auto t0 = std::chrono::steady_clock::now();
  got = fetch(request(url(server.port(), "/drip"), "", "", "", 300), {g});
  EXPECT_TRUE(got.ends_with("\nERR " + std::to_string(kErrTimeout))) << got;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(fetch(request(url(server.port(), "/hello")), {g}).substr(0, 4), "200\n");
}

TEST_F(FetchTest, BadRequestsAreRefusedBeforeAnythingIsSent) {
  otp::Pid pid = spawn("misuse", {}, {"net:127.0.0.1:*"});
  (void)pid;
  EXPECT_EQ(report(), "ok");
}

TEST_F(FetchTest, ExchangesAreBoundedAndAKilledProcessClosesItsOwn) {
  FetchOptions fo;
  fo.max_per_process = 3;
  start(fo);
  TestServer server;
  const std::string u = url(server.port(), "/hello");
  otp::Pid pid = spawn("hold", {5}, {grant(server.port())});
  ASSERT_TRUE(rt_->node().send(pid, Message::make(1, u)));
  EXPECT_EQ(report(), "ERR " + std::to_string(kErrLimit) + " after 3");
  rt_->node().exit(pid, otp::ExitReason::kill());
  // The process is gone: its three exchanges were closed, so another process
  // may open as many again.
  otp::Pid again = spawn("hold", {3}, {grant(server.port())});
  ASSERT_TRUE(rt_->node().send(again, Message::make(1, u)));
  EXPECT_EQ(report(), "opened 3");
  // Killed while it waits in fetch: the node stays up, the connection closes.
  otp::Pid waiting = spawn("proxy", {1024}, {grant(server.port())});
  ASSERT_TRUE(rt_->node().send(waiting, Message::make(1, request(url(server.port(), "/slow")))));
  std::this_thread::sleep_for(200ms);
  int closed_before = server.closed();
  rt_->node().exit(waiting, otp::ExitReason::kill());
  rt_->node().exit(again, otp::ExitReason::kill());
  auto t0 = std::chrono::steady_clock::now();
  while (server.closed() < closed_before + 1 && std::chrono::steady_clock::now() - t0 < 10s) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(server.closed(), closed_before + 1);
}

// Runs the rusm binary with args; (exit code, stdout and stderr).
std::pair<int, std::string> run_rusm(const std::vector<std::string>& args) {
  std::string cmd = RUSM_BINARY;
  for (const std::string& a : args) {
    cmd += " '" + a + "'";
  }
  cmd += " 2>&1";
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
  }
  int status = ::pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// `rusm run` with --allow-net, and the hint when it is missing.
TEST_F(FetchTest, RusmRunFetchesWithAllowNet) {
  TestServer server;
  const std::string wasm = std::string(RUSM_EXAMPLES) + "/fetch.wasm";
  auto [code, out] =
      run_rusm({"run", wasm, "--allow-net", "127.0.0.1:" + std::to_string(server.port()), "--",
                url(server.port(), "/hello")});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "hello");
  std::tie(code, out) = run_rusm({"run", wasm, "--", url(server.port(), "/hello")});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("refused capability 'net' (grant it with --allow-net HOST:PORT)"),
            std::string::npos)
      << out;
}

// The same from a JavaScript process (guest/js, tests/js/fetch.js): the
// synchronous rusm.fetch and the promise-shaped global fetch.
TEST_F(FetchTest, JavaScriptFetchesWithAllowNet) {
  TestServer server;
  auto [code, out] =
      run_rusm({"run", std::string(RUSM_SOURCE_DIR) + "/tests/js/fetch.js", "--allow-net",
                "127.0.0.1:" + std::to_string(server.port()), "--", url(server.port(), "/hello")});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "200 yes hello\n200 yes hello\n");
}

// A body larger than one host read (256 KiB) streamed into JavaScript
// (tests/js/fetch_stream.js): through response.body's reader, `for await`
// and `for ... of`, each with the byte count and an Adler-32 of the bytes;
// text() after a reader is a TypeError; text() reads it whole.
TEST_F(FetchTest, JavaScriptReadsABodyChunkByChunk) {
  TestServer server;
  const size_t n = 400000;
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; ++i) {
    a = (a + static_cast<uint32_t>('a' + i % 26)) % 65521;
    b = (b + a) % 65521;
  }
  char sum[16];
  std::snprintf(sum, sizeof sum, "%x", (b << 16) | a);
  const std::string count = std::to_string(n) + " bytes, adler32 " + sum;
  auto [code, out] = run_rusm({"run", std::string(RUSM_SOURCE_DIR) + "/tests/js/fetch_stream.js",
                               "--allow-net", "127.0.0.1:" + std::to_string(server.port()), "--",
                               url(server.port(), ""), std::to_string(n)});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "reader: " + count + ", several reads true, Uint8Array true\n" +
                     "bodyUsed true, locked true\n" +
                     "text() after the reader: TypeError: Response.text: the body is locked to a "
                     "reader\n" +
                     "for await: " + count + ", several reads true\n" +
                     "json() after for await: TypeError\n" + "for of: " + count + "\n" +
                     "after break: done true\n" + "text(): " + std::to_string(n) +
                     " chars, again " + std::to_string(n) + ", reader then: TypeError\n");
}

}  // namespace
}  // namespace rusm::runtime
