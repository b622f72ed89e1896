// Static files (ETag/304, Range/206/416, types, traversal refused) and TLS
// (curl --cacert, raw OpenSSL clients with ALPN, SSE and WebSocket over TLS,
// clear errors at start for bad certificate files).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace rusm::net::test {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("rusm-net-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write_file(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

class Static : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("static");
    root = dir / "www";
    fs::create_directories(root / "sub");
    write_file(root / "index.html", "<h1>home</h1>");
    write_file(root / "app.js", "console.log(1)");
    write_file(root / "style.css", "body{}");
    write_file(root / "sub" / "data.json", "{}");
    big.resize(3 << 20);
    for (size_t i = 0; i < big.size(); ++i) {
      big[i] = char('a' + i % 26);
    }
    write_file(root / "big.bin", big);
    write_file(dir / "secret.txt", "top secret");
    fs::create_symlink(dir / "secret.txt", root / "link-out");
    fs::create_symlink("app.js", root / "link-in.js");
    auto h = make_static_handler(root.string());
    ASSERT_TRUE(h.is_ok()) << h.message();
    ServerOptions o;
    o.routes.push_back(route("/", *h, "", true));
    ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  }
  void TearDown() override {
    ts.stop();
    fs::remove_all(dir);
  }
  fs::path dir, root;
  std::string big;
  TestServer ts;
};

TEST_F(Static, ServesFilesWithTypes) {
  Response r = request(ts.port, get("/app.js"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_EQ(r.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(request(ts.port, get("/style.css")).headers["content-type"], "text/css; charset=utf-8");
  EXPECT_EQ(request(ts.port, get("/sub/data.json")).headers["content-type"], "application/json");
  Response idx = request(ts.port, get("/"));
  EXPECT_EQ(idx.body, "<h1>home</h1>");
  EXPECT_EQ(idx.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(request(ts.port, get("/link-in.js")).status, 200)
      << "a symlink inside the root is fine";
  EXPECT_EQ(request(ts.port, get("/missing.txt")).status, 404);
}

TEST_F(Static, LargeFileStreamsWhole) {
  Response r = request(ts.port, get("/big.bin"), 20s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), big.size());
  EXPECT_TRUE(r.body == big) << "content differs";
}

TEST_F(Static, EtagAndIfNoneMatch) {
  Response r = request(ts.port, get("/app.js"));
  std::string etag = r.headers["etag"];
  ASSERT_FALSE(etag.empty());
  Response again = request(ts.port, get("/app.js", "If-None-Match: " + etag + "\r\n"));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(request(ts.port, get("/app.js", "If-None-Match: \"other\"\r\n")).status, 200);
  EXPECT_EQ(request(ts.port, get("/app.js", "If-None-Match: \"x\", W/" + etag + "\r\n")).status,
            304);
}

TEST_F(Static, Ranges) {
  Response r = request(ts.port, get("/big.bin", "Range: bytes=0-9\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big.substr(0, 10));
  EXPECT_EQ(r.headers["content-range"], "bytes 0-9/" + std::to_string(big.size()));
  r = request(ts.port, get("/big.bin", "Range: bytes=-5\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big.substr(big.size() - 5));
  r = request(ts.port, get("/big.bin", "Range: bytes=3145720-\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big.substr(3145720));
  r = request(ts.port, get("/app.js", "Range: bytes=100-200\r\n"));
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.headers["content-range"], "bytes */14");
  EXPECT_EQ(request(ts.port, get("/app.js", "Range: bytes=0-1,4-5\r\n")).status, 200)
      << "several ranges: the whole file";
  EXPECT_EQ(request(ts.port, get("/app.js", "Range: lines=1-2\r\n")).status, 200);
}

TEST_F(Static, HeadSendsNoBody) {
  int fd = connect_to(ts.port);
  send_all(fd, "HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n" + get("/app.js"));
  std::string got = recv_until(
      fd, [](const std::string& s) { return s.find("console.log(1)") != s.npos; }, 5s);
  Response h = parse_response(got, true);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.headers["content-length"], std::to_string(big.size()));
  EXPECT_EQ(parse_response(got.substr(h.consumed)).body, "console.log(1)");
  close(fd);
}

TEST_F(Static, TraversalIsRefused) {
  const char* attempts[] = {
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/sub/../../secret.txt",
      "/sub/%2e%2e/%2e%2e/secret.txt",
      "//etc/passwd",
      "/..%2fsecret.txt",
      "/link-out",
      "/%00app.js",
      "/sub/..%5c..%5csecret.txt",
      "/./app.js",
  };
  for (const char* a : attempts) {
    Response r = request(ts.port, get(a));
    EXPECT_TRUE(r.status == 404 || r.status == 400) << a << " -> " << r.status;
    EXPECT_EQ(r.body.find("top secret"), std::string::npos) << a;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << a;
  }
}

TEST(StaticRoot, MissingRootIsAnError) {
  auto h = make_static_handler("/nonexistent/rusm-root");
  ASSERT_FALSE(h.is_ok());
  EXPECT_NE(h.message().find("/nonexistent/rusm-root"), std::string::npos);
}

// --- TLS ------------------------------------------------------------------------------

struct Certs {
  fs::path dir, cert, key, other_key;
  Certs() {
    dir = temp_dir("tls");
    cert = dir / "cert.pem";
    key = dir / "key.pem";
    other_key = dir / "other.pem";
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key.string() + " -out " + cert.string() + " 2>/dev/null && " +
        "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out " +
        other_key.string() + " 2>/dev/null";
    ok = system(cmd.c_str()) == 0;
  }
  ~Certs() { fs::remove_all(dir); }
  bool ok = false;
};

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(certs.ok) << "openssl could not make a certificate";
    ServerOptions o;
    o.listen.push_back(Listen{"127.0.0.1", 0, true});
    o.listen.push_back(Listen{"127.0.0.1", 0, false});
    o.tls.cert_file = certs.cert.string();
    o.tls.key_file = certs.key.string();
    o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
    o.routes.push_back(route("/tls", std::make_shared<TlsInfoHandler>()));
    Route sse = route("/events", std::make_shared<SseTicker>(16, 3));
    o.routes.push_back(sse);
    ws = std::make_shared<WsEcho>();
    o.routes.push_back(route("/ws", ws));
    ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  }

  struct TlsInfoHandler : Handler {
    void handle(std::shared_ptr<Exchange> ex) override {
      const TlsInfo& t = ex->request().tls;
      ex->respond(200, {}, std::string(t.on ? "on " : "off ") + t.version + " " + t.alpn);
    }
  };

  // A raw TLS client (OpenSSL), verifying against our certificate.
  struct Client {
    SSL_CTX* ctx = nullptr;
    SSL* ssl = nullptr;
    int fd = -1;
    Client(uint16_t port, const std::string& ca, const char* alpn) {
      ctx = SSL_CTX_new(TLS_client_method());
      SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      fd = connect_to(port);
      ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      SSL_set1_host(ssl, "localhost");
      SSL_set_tlsext_host_name(ssl, "localhost");
      if (alpn) {
        SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn),
                            unsigned(strlen(alpn)));
      }
      handshake_ok = SSL_connect(ssl) == 1;
    }
    ~Client() {
      SSL_free(ssl);
      SSL_CTX_free(ctx);
      close(fd);
    }
    void send(const std::string& s) { SSL_write(ssl, s.data(), int(s.size())); }
    std::string read_until(const std::string& marker, std::chrono::milliseconds t = 5s) {
      std::string got;
      auto end = std::chrono::steady_clock::now() + t;
      while (got.find(marker) == std::string::npos && std::chrono::steady_clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (SSL_pending(ssl) == 0 && poll(&p, 1, 100) <= 0) {
          continue;
        }
        char buf[16384];
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        got.append(buf, size_t(n));
      }
      return got;
    }
    bool handshake_ok = false;
  };

  Certs certs;
  std::shared_ptr<WsEcho> ws;
  TestServer ts;
};

TEST_F(Tls, CurlWithCaCert) {
  std::string out = (certs.dir / "out.txt").string();
  std::string cmd =
      "curl -sS --max-time 10 --cacert " + certs.cert.string() + " -o " + out +
      " -w '%{http_code} %{http_version}' https://127.0.0.1:" + std::to_string(ts.ports[0]) +
      "/hello > " + out + ".code 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0);
  std::ifstream code(out + ".code"), body(out);
  std::string c((std::istreambuf_iterator<char>(code)), {}),
      b((std::istreambuf_iterator<char>(body)), {});
  EXPECT_EQ(c, "200 1.1");
  EXPECT_EQ(b, "hello from rusm\n");
}

TEST_F(Tls, RawClientSeesAlpnAndTlsInfo) {
  Client c(ts.ports[0], certs.cert.string(), "\x02h2\x08http/1.1");
  ASSERT_TRUE(c.handshake_ok);
  const unsigned char* p = nullptr;
  unsigned n = 0;
  SSL_get0_alpn_selected(c.ssl, &p, &n);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p), n), "http/1.1");
  c.send(get("/tls"));
  std::string got = c.read_until("http/1.1");
  EXPECT_NE(got.find("on TLSv1.3 http/1.1"), std::string::npos) << got;
  // Keep-alive over TLS.
  c.send(get("/hello"));
  EXPECT_NE(c.read_until("hello from rusm").find("hello from rusm"), std::string::npos);
}

TEST_F(Tls, Tls12IsAccepted) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  int fd = connect_to(ts.ports[0]);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  EXPECT_EQ(SSL_connect(ssl), 1);
  EXPECT_STREQ(SSL_get_version(ssl), "TLSv1.2");
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

TEST_F(Tls, SseOverTls) {
  Client c(ts.ports[0], certs.cert.string(), nullptr);
  ASSERT_TRUE(c.handshake_ok);
  c.send(get("/events"));
  std::string got = c.read_until("data: 2");
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("data: 2"), std::string::npos) << got;
}

TEST_F(Tls, WebSocketOverTls) {
  Client c(ts.ports[0], certs.cert.string(), nullptr);
  ASSERT_TRUE(c.handshake_ok);
  c.send(
      "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_NE(c.read_until("\r\n\r\n").find("101 Switching"), std::string::npos);
  // Masked text frame "hi" (mask 0).
  c.send(std::string("\x81\x82\x00\x00\x00\x00hi", 8));
  std::string f = c.read_until("hi");
  EXPECT_EQ(f, std::string("\x81\x02hi", 4));
}

TEST_F(Tls, PlainListenerBesideTls) {
  EXPECT_EQ(request(ts.ports[1], get("/tls")).body, "off  ");
}

TEST_F(Tls, GarbageHandshakeIsCountedNotFatal) {
  int fd = connect_to(ts.ports[0]);
  send_all(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(closed_within(fd, 3s));
  close(fd);
  EXPECT_TRUE(eventually([&] { return ts.server->stats().tls_handshake_failures == 1; }));
  Client c(ts.ports[0], certs.cert.string(), nullptr);
  EXPECT_TRUE(c.handshake_ok);
}

TEST(TlsStart, BadFilesAreClearErrorsAtStart) {
  Certs certs;
  ASSERT_TRUE(certs.ok);
  auto try_start = [](TlsFiles files) {
    boost::asio::io_context io;
    ServerOptions o;
    o.listen.push_back(Listen{"127.0.0.1", 0, true});
    o.tls = files;
    Server s(io, o);
    Status st = s.start();
    return st.is_ok() ? std::string() : st.message();
  };
  std::string e = try_start({"/nonexistent/cert.pem", certs.key.string(), ""});
  EXPECT_NE(e.find("tls.cert: /nonexistent/cert.pem: No such file"), std::string::npos) << e;
  e = try_start({certs.cert.string(), "/nonexistent/key.pem", ""});
  EXPECT_NE(e.find("tls.key: /nonexistent/key.pem"), std::string::npos) << e;
  e = try_start({certs.key.string(), certs.key.string(), ""});
  EXPECT_NE(e.find("tls.cert: " + certs.key.string() + ": not a usable PEM certificate"),
            std::string::npos)
      << e;
  e = try_start({certs.cert.string(), certs.other_key.string(), ""});
  EXPECT_NE(e.find("does not match the certificate"), std::string::npos) << e;
  e = try_start({certs.cert.string(), certs.key.string(), "/nonexistent/ca.pem"});
  EXPECT_NE(e.find("tls.client_ca: /nonexistent/ca.pem"), std::string::npos) << e;
  EXPECT_EQ(try_start({certs.cert.string(), certs.key.string(), ""}), "");
}

TEST(TlsStart, ClientCertificateRequiredWithClientCa) {
  Certs certs;
  ASSERT_TRUE(certs.ok);
  TestServer ts;
  ServerOptions o;
  o.listen.push_back(Listen{"127.0.0.1", 0, true});
  o.tls = {certs.cert.string(), certs.key.string(), certs.cert.string()};
  o.routes.push_back(route("/hello", std::make_shared<HelloHandler>()));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  // Without a client certificate: refused.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int fd = connect_to(ts.port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  bool ok = SSL_connect(ssl) == 1;
  if (ok) {  // TLS 1.3: the refusal arrives after the handshake
    SSL_write(ssl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 32);
    char b[64];
    ok = SSL_read(ssl, b, sizeof b) > 0;
  }
  EXPECT_FALSE(ok);
  SSL_free(ssl);
  // With one (the self-signed certificate is its own CA).
  SSL_CTX_use_certificate_file(ctx, certs.cert.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(ctx, certs.key.c_str(), SSL_FILETYPE_PEM);
  int fd2 = connect_to(ts.port);
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd2);
  EXPECT_EQ(SSL_connect(ssl), 1);
  SSL_write(ssl, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 32);
  char b[512];
  int n = SSL_read(ssl, b, sizeof b);
  EXPECT_GT(n, 0);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  close(fd2);
}

}  // namespace
}  // namespace rusm::net::test
