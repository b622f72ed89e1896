// CGI over TLS: a cgi route (guests/cgi_env.c prints its environment) behind
// an app with an HTTPS listener beside a plain one, fetched with curl
// --cacert and with a raw OpenSSL client. The certificate is made with
// openssl at set-up, as tests/net/static_tls_test.cc does. Checks the
// meta-variables of RFC 3875 section 4.1 and those servers commonly add
// (HTTPS), as docs/cgi.md lists them.
//
// Thread-safety: the suite's app is started once and driven by the test
// thread only.
#include <openssl/ssl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "serve/serve_test_util.h"

namespace rusm::serve::test {
namespace {

namespace fs = std::filesystem;

// NAME=VALUE lines of a cgi_env body.
std::map<std::string, std::string> env_of(const std::string& body) {
  std::map<std::string, std::string> env;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) {
      env[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return env;
}

std::string dump(const std::map<std::string, std::string>& env) {
  std::string s;
  for (const auto& [k, v] : env) {
    s += "  " + k + "=" + v + "\n";
  }
  return s;
}

// A raw TLS client (OpenSSL) that verifies the server against `ca`.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& ca) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = connect_to(port);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "localhost");
    SSL_set_tlsext_host_name(ssl_, "localhost");
    ok_ = fd_ >= 0 && SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return ok_; }
  // Sends `raw` and reads one response (to the connection's end if it is
  // close-delimited).
  Response exchange(const std::string& raw, std::chrono::milliseconds timeout = 10s) {
    SSL_write(ssl_, raw.data(), int(raw.size()));
    std::string got;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      Response r = parse_response(got);
      if (r.complete &&
          (r.headers.count("content-length") || r.headers.count("transfer-encoding"))) {
        return r;
      }
      pollfd p{fd_, POLLIN, 0};
      if (SSL_pending(ssl_) == 0 && ::poll(&p, 1, 100) <= 0) {
        continue;
      }
      char buf[16384];
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      got.append(buf, size_t(n));
    }
    return parse_response(got);
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
};

class CgiTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("rusm_cgi_tls_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    std::string key = (dir_ / "key.pem").string();
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key + " -out " + cert_ + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a certificate";
    std::string env = guest("cgi_env");
    app_ = new ServeApp();
    Status s = app_->start(
        "listen = [\"127.0.0.1:0\"]\n"
        "[tls]\nlisten = [\"127.0.0.1:0\"]\n"
        "cert = \"" +
        cert_ + "\"\nkey = \"" + key +
        "\"\n"
        "[[route]]\npath = \"/env/{id}\"\nkind = \"cgi\"\nmodule = \"" +
        env +
        "\"\n"
        "[[route]]\nprefix = \"/cgi-bin/tool/\"\nkind = \"cgi\"\nmodule = \"" +
        env + "\"\n");
    ASSERT_TRUE(s.is_ok()) << s.message();
    auto ports = app_->app().ports();
    ASSERT_EQ(ports.size(), 2u);
    plain_ = ports[0];
    tls_ = ports[1];
  }
  static void TearDownTestSuite() {
    delete app_;
    app_ = nullptr;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // GET `url` with curl --cacert; the body, "" with a test failure if curl
  // failed or the status was not 2xx.
  static std::string curl(const std::string& url, const std::string& extra = "") {
    std::string out = (dir_ / "curl.out").string();
    std::string cmd = "curl -sS --fail --max-time 10 --cacert " + cert_ + " " + extra + " -o " +
                      out + " '" + url + "' 2>" + out + ".err";
    int rc = std::system(cmd.c_str());
    std::ifstream b(out), e(out + ".err");
    std::string body((std::istreambuf_iterator<char>(b)), {});
    std::string err((std::istreambuf_iterator<char>(e)), {});
    EXPECT_EQ(rc, 0) << cmd << ": " << err;
    return body;
  }

  static inline ServeApp* app_ = nullptr;
  static inline fs::path dir_;
  static inline std::string cert_;
  static inline uint16_t plain_ = 0, tls_ = 0;
};

TEST_F(CgiTls, CurlOverTlsSeesHttpsOnAndTheRequestsMetaVariables) {
  std::string port = std::to_string(tls_);
  auto env = env_of(curl("https://127.0.0.1:" + port + "/env/7?a=b%20c", "-A cgi-tls-test"));
  EXPECT_EQ(env["HTTPS"], "on") << dump(env);
  EXPECT_EQ(env["SERVER_PORT"], port) << dump(env);
  EXPECT_EQ(env["SERVER_NAME"], "127.0.0.1");
  EXPECT_EQ(env["HTTP_HOST"], "127.0.0.1:" + port);
  EXPECT_EQ(env["GATEWAY_INTERFACE"], "CGI/1.1");
  EXPECT_EQ(env["SERVER_PROTOCOL"], "HTTP/1.1");
  EXPECT_EQ(env["SERVER_SOFTWARE"], "rusm");
  EXPECT_EQ(env["REQUEST_METHOD"], "GET");
  EXPECT_EQ(env["REQUEST_URI"], "/env/7?a=b%20c");
  EXPECT_EQ(env["QUERY_STRING"], "a=b%20c");
  EXPECT_EQ(env["SCRIPT_NAME"], "/env/7");
  EXPECT_EQ(env["PATH_INFO"], "");
  EXPECT_EQ(env["RUSM_PARAM_ID"], "7");
  EXPECT_EQ(env["REMOTE_ADDR"], "127.0.0.1");
  EXPECT_GT(std::atoi(env["REMOTE_PORT"].c_str()), 0) << dump(env);
  EXPECT_EQ(env["HTTP_USER_AGENT"], "cgi-tls-test");
  EXPECT_EQ(env.count("CONTENT_LENGTH"), 0u) << "a GET without a body has no CONTENT_LENGTH";
}

TEST_F(CgiTls, PrefixRouteOverTlsSplitsScriptNameAndPathInfo) {
  auto env = env_of(curl("https://localhost:" + std::to_string(tls_) + "/cgi-bin/tool/a/b%20c"));
  EXPECT_EQ(env["HTTPS"], "on") << dump(env);
  EXPECT_EQ(env["SERVER_NAME"], "localhost");
  EXPECT_EQ(env["SCRIPT_NAME"], "/cgi-bin/tool");
  EXPECT_EQ(env["PATH_INFO"], "/a/b c") << dump(env);
}

TEST_F(CgiTls, PlainListenerBesideTlsHasNoHttps) {
  Response r = request(plain_, "GET /env/1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(plain_) +
                                   "\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(r.status, 200);
  auto env = env_of(r.body);
  EXPECT_EQ(env.count("HTTPS"), 0u) << "HTTPS set on a plain connection:\n" << dump(env);
  EXPECT_EQ(env["SERVER_PORT"], std::to_string(plain_));
}

TEST_F(CgiTls, RawTlsClientHttp10AndAHostWithoutPort) {
  TlsClient c(tls_, cert_);
  ASSERT_TRUE(c.ok()) << "TLS handshake failed";
  // Documented (docs/cgi.md): SERVER_PORT is the port the connection came
  // in on, whatever Host says (RFC 3875 4.1.15).
  Response r = c.exchange("GET /env/2 HTTP/1.0\r\nHost: localhost\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  auto env = env_of(r.body);
  EXPECT_EQ(env["HTTPS"], "on") << dump(env);
  EXPECT_EQ(env["SERVER_PROTOCOL"], "HTTP/1.0");
  EXPECT_EQ(env["SERVER_NAME"], "localhost");
  EXPECT_EQ(env["SERVER_PORT"], std::to_string(tls_)) << dump(env);
  EXPECT_EQ(env["SERVER_ADDR"], "127.0.0.1") << dump(env);
}

TEST_F(CgiTls, IPv6LiteralHostOverTls) {
  TlsClient c(tls_, cert_);
  ASSERT_TRUE(c.ok()) << "TLS handshake failed";
  Response r = c.exchange("GET /env/3 HTTP/1.1\r\nHost: [::1]:8443\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  auto env = env_of(r.body);
  EXPECT_EQ(env["SERVER_NAME"], "::1") << dump(env);
  EXPECT_EQ(env["SERVER_PORT"], std::to_string(tls_)) << "the socket's port, not Host's 8443\n"
                                                      << dump(env);
  EXPECT_EQ(env["HTTPS"], "on");
}

// REQUEST_SCHEME is not in RFC 3875 but Apache httpd (2.4) and nginx's
// fastcgi_params both set it, and frameworks read it to build absolute URLs
// (docs/cgi.md lists it).
TEST_F(CgiTls, RequestSchemeIsHttpsOverTlsAndHttpOtherwise) {
  auto env = env_of(curl("https://127.0.0.1:" + std::to_string(tls_) + "/env/4"));
  EXPECT_EQ(env["REQUEST_SCHEME"], "https") << dump(env);
  Response r = request(plain_, get("/env/4"));
  EXPECT_EQ(env_of(r.body)["REQUEST_SCHEME"], "http");
}

}  // namespace
}  // namespace rusm::serve::test
