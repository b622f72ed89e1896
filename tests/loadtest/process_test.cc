// `rusm loadtest` as its own process: the command line, its JSON, and runs
// against real servers it did not write: nginx (started here on an
// ephemeral port with a temporary config, next to wrk on the same server,
// and over TLS with a self-signed certificate) and the serving anchors'
// Node servers (ws-echo.js, sse.js).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_servers.h"

extern char** environ;

namespace rusm::loadtest {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
  double cpu_s = 0;  // user + system of the child
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("rusm-loadtest-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
            const std::vector<std::string>& env_extra = {}) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::vector<std::string> env_store(env_extra);
  for (char** e = environ; *e != nullptr; ++e) {
    env_store.emplace_back(*e);
  }
  std::vector<char*> env;
  for (std::string& e : env_store) {
    env.push_back(e.data());
  }
  env.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

Outcome run_process(const std::vector<std::string>& argv) {
  fs::path d = temp_dir("run");
  Outcome o;
  pid_t pid = spawn(argv, d / "out", d / "err");
  if (pid < 0) {
    o.err = "cannot start " + argv[0];
    return o;
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6;
  o.out = slurp(d / "out");
  o.err = slurp(d / "err");
  fs::remove_all(d);
  return o;
}

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// A server child process, stopped (SIGTERM, then SIGKILL) when it goes.
class Child {
 public:
  Child(const std::vector<std::string>& argv, uint16_t port, const fs::path& dir,
        const std::vector<std::string>& env = {}) {
    pid_ = spawn(argv, dir / "server.out", dir / "server.err", env);
    for (int i = 0; i < 500 && pid_ > 0 && !port_accepts(port); ++i) {
      usleep(10000);
    }
    ready_ = pid_ > 0 && port_accepts(port);
    if (!ready_) {
      log_ = slurp(dir / "server.err");
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 200; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
          return;
        }
        usleep(10000);
      }
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
  std::string log_;
};

nlohmann::json parse_json(const Outcome& o) {
  nlohmann::json j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << o.out << o.err;
  return j;
}

bool executable(const char* path) {
  return path[0] != '\0' && access(path, X_OK) == 0;
}

TEST(Command, BadFlagsExitTwoWithOneLine) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"http", "http://127.0.0.1:1/", "--bogus"},
        {"http", "http://127.0.0.1:1/", "-c", "many"},
        {"sse", "http://127.0.0.1:1/", "--rate", "5"},
        {"udp", "http://127.0.0.1:1/"},
        {}}) {
    args.insert(args.begin(), {RUSM_BINARY, "loadtest"});
    Outcome o = run_process(args);
    EXPECT_EQ(o.exit_code, 2) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_EQ(o.err.rfind("rusm loadtest: ", 0), 0u) << o.err;
    EXPECT_TRUE(o.out.empty()) << o.out;
  }
  Outcome help = run_process({RUSM_BINARY, "loadtest", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--sweep"), std::string::npos);
  Outcome top = run_process({RUSM_BINARY, "--help"});
  EXPECT_NE(top.out.find("loadtest"), std::string::npos) << "listed among the subcommands";
}

TEST(Command, JsonResultCarriesWhatScenariosConsume) {
  testing::TestServer server(testing::http_handler({}));
  std::string u = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  Outcome o = run_process(
      {RUSM_BINARY, "loadtest", "http", u, "-c", "4", "-d", "0.5", "--warmup", "0.2", "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json j = parse_json(o);
  for (const char* key : {"mode", "url", "connections", "threads", "rate", "ops", "seconds",
                          "latency_us", "errors", "errors_total", "bytes_in", "bytes_out",
                          "connects", "client_cpu_s", "client_cpu_us_per_op"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* p : {"p50", "p90", "p99", "p999", "max"}) {
    EXPECT_TRUE(j["latency_us"].contains(p)) << p;
  }
  EXPECT_GT(j["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["errors_total"].get<uint64_t>(), 0u);
  EXPECT_LE(j["latency_us"]["p50"].get<double>(), j["latency_us"]["p99"].get<double>());
  EXPECT_EQ(j["connections"].get<unsigned>(), 4u);

  // An unreachable server is a completed run with errors, not a failure.
  Outcome refused = run_process({RUSM_BINARY, "loadtest", "http", "http://127.0.0.1:1/", "-c", "1",
                                 "-d", "0.2", "--warmup", "0", "--json"});
  ASSERT_EQ(refused.exit_code, 0) << refused.err;
  EXPECT_GT(parse_json(refused)["errors"]["connect_refused"].get<uint64_t>(), 0u);
}

TEST(Command, SweepReportsTheLastPassingLevel) {
  // 8 connections to a server that takes 2 ms per request: it cannot serve
  // more than 4,000/s, so no level above 4,000/0.9 can pass, and 200/s must
  // (achieved >= 90%: a 0.4 s window quantizes a 200/s level to 80 ops).
  testing::HttpBehavior b;
  b.delay_us = 2000;
  testing::TestServer server(testing::http_handler(b));
  std::string u = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  Outcome o = run_process({RUSM_BINARY, "loadtest",
                           "http",      u,
                           "-c",        "8",
                           "-d",        "0.4",
                           "--warmup",  "0.1",
                           "--sweep",   "--rate",
                           "200",       "--sweep-factor",
                           "2",         "--sla-achieved",
                           "0.9",       "--sla-p99-ms",
                           "50",        "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json j = parse_json(o);
  ASSERT_TRUE(j["levels"].is_array());
  EXPECT_GE(j["levels"].size(), 2u);
  EXPECT_TRUE(j["levels"][0]["pass"].get<bool>());
  ASSERT_TRUE(j["last_pass"].is_object());
  double best = j["last_pass"]["offered_rate"].get<double>();
  EXPECT_GE(best, 200.0);
  EXPECT_LE(best, 4000 / 0.9);
  EXPECT_FALSE(j["levels"].back()["pass"].get<bool>() && j["levels"].size() == 20)
      << "the sweep never found the limit";
}

// nginx `return 200` on an ephemeral port, one process (no master), as the
// anchors run it: access log off, a million keep-alive requests.
class Nginx {
 public:
  // With `ws_upstream`, / is proxied there with the WebSocket upgrade
  // headers (TLS terminated by nginx: wss:// to a plain ws:// server).
  explicit Nginx(bool tls = false, uint16_t ws_upstream = 0)
      : dir_(temp_dir(tls ? "nginx-tls" : "nginx")), port_(free_port()) {
    std::string listen =
        "127.0.0.1:" + std::to_string(port_) + (tls ? " ssl" : "") + " backlog=4096";
    std::string ssl;
    if (tls) {
      // A self-signed ECDSA P-256 certificate for 127.0.0.1, as the anchors use.
      std::string cmd = std::string(RUSM_OPENSSL) +
                        " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                        " -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
                        " -keyout " +
                        (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() +
                        " >/dev/null 2>&1";
      cert_ok_ = std::system(cmd.c_str()) == 0;
      ssl = "    ssl_certificate " + (dir_ / "cert.pem").string() + ";\n    ssl_certificate_key " +
            (dir_ / "key.pem").string() +
            ";\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache off;\n"
            "    ssl_session_tickets off;\n";
    }
    std::string proxy;
    if (ws_upstream != 0) {
      proxy = "    location / {\n      proxy_pass http://127.0.0.1:" + std::to_string(ws_upstream) +
              ";\n      proxy_http_version 1.1;\n"
              "      proxy_set_header Upgrade $http_upgrade;\n"
              "      proxy_set_header Connection upgrade;\n    }\n";
    }
    std::string d = dir_.string();
    std::ofstream(dir_ / "nginx.conf")
        << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << d
        << "/nginx.pid;\nerror_log " << d << "/error.log;\n"
        << "events { worker_connections 4096; }\nhttp {\n  access_log off;\n"
        << "  keepalive_requests 1000000;\n"
        << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
        << "  fastcgi_temp_path " << d << "/fcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
        << "  scgi_temp_path " << d << "/scgi;\n"
        << "  server {\n    listen " << listen << ";\n"
        << ssl << "    location /ret { return 200 \"hello from rusm\\n\"; }\n"
        << "    location = /status { stub_status; }\n"
        << proxy << "  }\n}\n";
    std::vector<std::string> argv = {RUSM_NGINX, "-p", d, "-c", (dir_ / "nginx.conf").string()};
    if (executable("/usr/bin/taskset")) {
      argv.insert(argv.begin(), {"/usr/bin/taskset", "-c", "0"});  // the anchors' "pin" layout
    }
    child_ = std::make_unique<Child>(argv, port_, dir_);
  }
  ~Nginx() {
    child_.reset();
    fs::remove_all(dir_);
  }
  bool ready() const { return child_->ready(); }
  std::string log() const { return child_->log() + slurp(dir_ / "error.log"); }
  std::string url(const char* scheme) const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) + "/ret";
  }
  fs::path cert() const { return dir_ / "cert.pem"; }
  // nginx's own count of the requests it has read (stub_status), this
  // query's included; -1 if it cannot be had. Plain HTTP only.
  int64_t requests() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const char req[] = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      if (::write(fd, req, sizeof req - 1) == static_cast<ssize_t>(sizeof req - 1)) {
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
          reply.append(buf, static_cast<size_t>(n));
        }
      }
    }
    ::close(fd);
    // "server accepts handled requests\n A H R \n"
    std::smatch m;
    if (!std::regex_search(reply, m, std::regex(R"(requests\s*\n\s*\d+\s+\d+\s+(\d+))"))) {
      return -1;
    }
    return std::stoll(m[1]);
  }
  bool cert_ok() const { return cert_ok_; }

 private:
  fs::path dir_;
  uint16_t port_;
  bool cert_ok_ = true;
  std::unique_ptr<Child> child_;
};

// The client side of the anchors' "pin" layout: the load generator on core 1.
std::vector<std::string> pinned(std::vector<std::string> argv) {
  if (executable("/usr/bin/taskset")) {
    argv.insert(argv.begin(), {"/usr/bin/taskset", "-c", "1"});
  }
  return argv;
}

TEST(AgainstNginx, CountsWhatNginxServedAndKeepsUpWithWrk) {
  if (!executable(RUSM_NGINX) || !executable(RUSM_WRK)) {
    GTEST_SKIP() << "nginx or wrk not installed (scripts/bootstrap.sh installs both)";
  }
  Nginx nginx;
  ASSERT_TRUE(nginx.ready()) << nginx.log();
  std::string u = nginx.url("http");
  // Interleaved A/B runs on the same server; the best of each is compared,
  // which is what survives the noise of a shared machine.
  double best_rusm = 0, best_wrk = 0, rusm_cpu_us = 0, wrk_cpu_us = 0;
  std::vector<double> ratios;  // rusm / wrk per round
  for (int round = 0; round < 4; ++round) {
    // ABBA order: whichever runs first in a round does not always get the
    // quieter moment. No warm-up for either: wrk has none.
    Outcome r, w;
    int64_t served = -1;  // requests nginx read during rusm loadtest's run
    auto run_rusm = [&] {
      int64_t before = nginx.requests();
      r = run_process(pinned(
          {RUSM_BINARY, "loadtest", "http", u, "-c", "64", "-d", "2", "--warmup", "0", "--json"}));
      int64_t after = nginx.requests();
      served = before >= 0 && after >= 0 ? after - before - 1 : -1;
    };
    auto run_wrk = [&] { w = run_process(pinned({RUSM_WRK, "-t1", "-c64", "-d2s", u})); };
    if (round % 2 == 0) {
      run_rusm();
      run_wrk();
    } else {
      run_wrk();
      run_rusm();
    }
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = parse_json(r);
    EXPECT_EQ(j["errors_total"].get<uint64_t>(), 0u) << r.out;
    double rate = j["rate"].get<double>();
    // The count is the server's, not the driver's word: every request it
    // reports done was read by nginx, and nginx read none it did not send.
    ASSERT_GE(served, 0) << "nginx's stub_status could not be read";
    EXPECT_GE(served, j["ops_all"].get<int64_t>()) << r.out;
    EXPECT_LE(served, j["sent_all"].get<int64_t>()) << r.out;
    if (rate > best_rusm) {
      best_rusm = rate;
      rusm_cpu_us = j["client_cpu_us_per_op"].get<double>();
    }
    ASSERT_EQ(w.exit_code, 0) << w.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(w.out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) << w.out;
    double wrate = std::stod(m[1]);
    std::smatch total;
    if (wrate > best_wrk && std::regex_search(w.out, total, std::regex(R"((\d+) requests in)"))) {
      best_wrk = wrate;
      wrk_cpu_us = w.cpu_s * 1e6 / std::stod(total[1]);
    }
    ratios.push_back(wrate > 0 ? rate / wrate : 0);
    std::printf("round %d: rusm loadtest %.0f req/s, wrk %.0f req/s\n", round, rate, wrate);
    std::fflush(stdout);
  }
  std::printf(
      "best: rusm loadtest %.0f req/s (%.2f us CPU/req), wrk %.0f req/s (%.2f us CPU/req)\n",
      best_rusm, rusm_cpu_us, best_wrk, wrk_cpu_us);
  // Other jobs on this 2-core machine can starve either side of a round
  // (runs of 118 req/s were seen): the best against the best, or the median
  // of the per-round ratios, must be no more than 20% below wrk's. A driver
  // that is slower than wrk by more than that fails both; one that is faster
  // (it spends less CPU per request on the shared core: 9.6 against 12 us
  // was seen) passes, since nginx's own count above says its rate is real.
  std::sort(ratios.begin(), ratios.end());
  double median = (ratios[1] + ratios[2]) / 2;
  double best_ratio = best_wrk > 0 ? best_rusm / best_wrk : 0;
  std::printf("best/best %.2f, median of rounds %.2f\n", best_ratio, median);
  auto within = [](double x) { return x > 0.8; };
  EXPECT_TRUE(within(best_ratio) || within(median))
      << "rusm loadtest vs wrk on the same nginx: best/best " << best_ratio << ", median "
      << median;
}

TEST(AgainstNginx, HttpsWithACaCertInsecureAndUnverified) {
  if (!executable(RUSM_NGINX) || !executable(RUSM_OPENSSL)) {
    GTEST_SKIP() << "nginx or openssl not installed (scripts/bootstrap.sh installs nginx)";
  }
  Nginx nginx(/*tls=*/true);
  ASSERT_TRUE(nginx.cert_ok());
  ASSERT_TRUE(nginx.ready()) << nginx.log();
  std::string u = nginx.url("https");
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {RUSM_BINARY, "loadtest",  "http", u,          "-c",
                                     "4",         "-d",        "0.5",  "--warmup", "0.5",
                                     "--json",    "--timeout", "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Outcome o = run_process(argv);
    EXPECT_EQ(o.exit_code, 0) << o.err;
    return parse_json(o);
  };
  nlohmann::json verified = run({"--cacert", nginx.cert().string()});
  EXPECT_GT(verified["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(verified["errors_total"].get<uint64_t>(), 0u);

  nlohmann::json insecure_close = run({"--insecure", "--close"});
  EXPECT_GT(insecure_close["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(insecure_close["errors_total"].get<uint64_t>(), 0u);
  // A full handshake per request (a connection opened just before the
  // window may complete inside it).
  EXPECT_GE(insecure_close["connects"].get<uint64_t>() + 4, insecure_close["ops"].get<uint64_t>());
  EXPECT_GE(insecure_close["connects"].get<uint64_t>(), 10u);

  nlohmann::json untrusted = run({});  // the system's CAs do not know this certificate
  EXPECT_EQ(untrusted["ops"].get<uint64_t>(), 0u);
  EXPECT_GT(untrusted["errors"]["tls"].get<uint64_t>(), 0u);
}

TEST(AgainstNginx, WssEchoAndChurnThroughTlsTermination) {
  if (!executable(RUSM_NGINX) || !executable(RUSM_OPENSSL)) {
    GTEST_SKIP() << "nginx or openssl not installed (scripts/bootstrap.sh installs nginx)";
  }
  testing::TestServer ws(testing::ws_echo_handler());
  Nginx nginx(/*tls=*/true, ws.port());
  ASSERT_TRUE(nginx.cert_ok());
  ASSERT_TRUE(nginx.ready()) << nginx.log();
  std::string u = nginx.url("wss");
  u = u.substr(0, u.size() - 3);  // "/ret" -> "/"
  for (const char* mode : {"ws", "conn"}) {
    // Warm-up long enough for TLS and the proxied upgrade on a busy machine.
    Outcome o = run_process({RUSM_BINARY, "loadtest", mode, u, "-c", "4", "-d", "0.5", "--warmup",
                             "1", "--json", "--timeout", "2", "--cacert", nginx.cert().string()});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    nlohmann::json j = parse_json(o);
    EXPECT_GT(j["ops"].get<uint64_t>(), 0u) << mode << " " << o.out;
    EXPECT_EQ(j["errors_total"].get<uint64_t>(), 0u) << mode << " " << o.out;
  }
}

bool node_ws_available() {
  return executable(RUSM_NODE) && fs::exists(fs::path(RUSM_NODE_MODULES) / "ws") &&
         fs::exists(fs::path(RUSM_ANCHORS_DIR) / "ws-echo.js");
}

TEST(AgainstNodeAnchors, WsEchoAndChurnOnWsEchoJs) {
  if (!node_ws_available()) {
    GTEST_SKIP() << "node, npm ws (" << RUSM_NODE_MODULES << ") or the anchors ("
                 << RUSM_ANCHORS_DIR << ") missing";
  }
  fs::path d = temp_dir("node-ws");
  uint16_t port = free_port();
  Child node(
      {RUSM_NODE, (fs::path(RUSM_ANCHORS_DIR) / "ws-echo.js").string(), std::to_string(port)}, port,
      d, {std::string("NODE_PATH=") + RUSM_NODE_MODULES});
  ASSERT_TRUE(node.ready()) << node.log();
  std::string u = "ws://127.0.0.1:" + std::to_string(port) + "/";
  Outcome echo = run_process(
      {RUSM_BINARY, "loadtest", "ws", u, "-c", "64", "-d", "1", "--warmup", "0.3", "--json"});
  ASSERT_EQ(echo.exit_code, 0) << echo.err;
  nlohmann::json e = parse_json(echo);
  EXPECT_GT(e["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(e["errors_total"].get<uint64_t>(), 0u) << echo.out;
  Outcome churn = run_process(
      {RUSM_BINARY, "loadtest", "conn", u, "-c", "16", "-d", "1", "--warmup", "0.3", "--json"});
  ASSERT_EQ(churn.exit_code, 0) << churn.err;
  nlohmann::json c = parse_json(churn);
  EXPECT_GT(c["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(c["errors_total"].get<uint64_t>(), 0u) << churn.out;
  fs::remove_all(d);
}

TEST(AgainstNodeAnchors, SseOnSseJs) {
  if (!executable(RUSM_NODE) || !fs::exists(fs::path(RUSM_ANCHORS_DIR) / "sse.js")) {
    GTEST_SKIP() << "node or the anchors (" << RUSM_ANCHORS_DIR << ") missing";
  }
  fs::path d = temp_dir("node-sse");
  uint16_t port = free_port();
  Child node({RUSM_NODE, (fs::path(RUSM_ANCHORS_DIR) / "sse.js").string(), std::to_string(port)},
             port, d);
  ASSERT_TRUE(node.ready()) << node.log();
  Outcome o = run_process({RUSM_BINARY, "loadtest", "sse",
                           "http://127.0.0.1:" + std::to_string(port) + "/sse", "-c", "8", "-d",
                           "1", "--warmup", "0.2", "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["streams_open"].get<unsigned>(), 8u) << o.out;
  EXPECT_GT(j["ops"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["errors_total"].get<uint64_t>(), 0u);
  fs::remove_all(d);
}

}  // namespace
}  // namespace rusm::loadtest
