// A flood past a route's in-flight limit, against a `rusm serve` process
// (ctest serve.flood.*): the route's handler (guests/slow.c) sleeps, its
// max_in_flight is small, and many concurrent keep-alive clients send far
// more requests than it admits. Excess requests must get 503 with
// Retry-After at once (never an unbounded queue), the admitted ones 200, the
// node's resident memory (VmRSS of the rusm serve process) must not grow
// with the number of requests refused, and the node must answer normally
// afterwards and stop cleanly on SIGTERM.
//
// Thread-safety: each test drives its own child process; the flood's client
// threads share only atomic counters.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "serve/serve_test_util.h"

extern char** environ;

namespace rusm::serve::test {
namespace {

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RUSM_FLOOD_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RUSM_FLOOD_SANITIZED 1
#endif
#ifdef RUSM_FLOOD_SANITIZED
// A sanitizer's allocator keeps freed memory in quarantine by design, so the
// serve process's RSS says nothing about leaks there.
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// `rusm serve` as a child process, with its stdout and stderr in a log file.
class ServeProcess {
 public:
  ServeProcess() {
    static int seq = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("rusm_flood_test_" + std::to_string(getpid()) + "_" + std::to_string(seq++));
    std::filesystem::create_directories(dir_);
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Writes `toml` as rusm.toml, starts `rusm serve` on it and waits until it
  // says where it listens. Error: why it did not start, with its output.
  Status start(const std::string& toml) {
    std::string file = (dir_ / "rusm.toml").string();
    std::ofstream(file) << toml;
    std::string log = (dir_ / "serve.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> args = {RUSM_BINARY, "serve", "--workers", "2", file};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, RUSM_BINARY, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return Error(std::string("posix_spawn " RUSM_BINARY ": ") + std::strerror(rc));
    }
    static const std::regex kListening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end) {
      std::smatch m;
      std::string out = output();
      if (std::regex_search(out, m, kListening)) {
        port_ = uint16_t(std::stoi(m[1]));
        return {};
      }
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return Error("rusm serve exited at start: " + out);
      }
      std::this_thread::sleep_for(20ms);
    }
    return Error("rusm serve did not say where it listens: " + output());
  }

  // Resident set size of the serve process, in KiB; -1 if unreadable.
  long rss_kib() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        return std::strtol(line.c_str() + 6, nullptr, 10);
      }
    }
    return -1;
  }

  // SIGTERM, then waits (at most 15 s) for the exit; the exit code, or -1 if
  // it had to be killed or died of a signal.
  int stop() {
    if (pid_ <= 0) {
      return -1;
    }
    ::kill(pid_, SIGTERM);
    auto end = std::chrono::steady_clock::now() + 15s;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  uint16_t port() const { return port_; }
  std::string output() const { return read_file(dir_ / "serve.log"); }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// What a flood saw, by outcome.
struct FloodResult {
  std::atomic<uint64_t> ok{0};              // 200 with the handler's body
  std::atomic<uint64_t> busy{0};            // 503 with the configured Retry-After
  std::atomic<uint64_t> busy_malformed{0};  // 503 without it, or with another value
  std::atomic<uint64_t> other{0};           // any other status, or no complete response
  std::string first_other;                  // one of those, for the failure message
  std::mutex mu;
};

// One keep-alive client: `n` requests for `target`, one at a time, on a
// connection it replaces every `per_conn` requests or when the server closes it.
void client(uint16_t port, const std::string& target, int n, int per_conn,
            const std::string& retry_after, FloodResult& out) {
  const std::string raw = "GET " + target + " HTTP/1.1\r\nHost: flood\r\n\r\n";
  int fd = -1;
  int used = 0;
  std::string buf;
  auto note_other = [&](const std::string& what) {
    out.other.fetch_add(1);
    std::lock_guard<std::mutex> lock(out.mu);
    if (out.first_other.empty()) {
      out.first_other = what;
    }
  };
  for (int i = 0; i < n; ++i) {
    if (fd >= 0 && used >= per_conn) {
      ::close(fd);
      fd = -1;
    }
    if (fd < 0) {
      fd = connect_to(port);
      used = 0;
      buf.clear();
      if (fd < 0) {
        note_other("connect failed");
        continue;
      }
    }
    ++used;
    if (!send_all(fd, raw)) {
      note_other("send failed");
      ::close(fd);
      fd = -1;
      continue;
    }
    Response r;
    bool eof = false;
    buf += recv_until(
        fd,
        [&](const std::string& got) {
          r = parse_response(buf + got);
          return r.complete;
        },
        10s, &eof);
    if (!r.complete) {
      note_other(buf.empty() ? "no response" : "incomplete response: " + buf.substr(0, 200));
      ::close(fd);
      fd = -1;
      continue;
    }
    buf.erase(0, r.consumed);
    if (r.status == 200 && r.body == "slept\n") {
      out.ok.fetch_add(1);
    } else if (r.status == 503) {
      auto it = r.headers.find("retry-after");
      (it != r.headers.end() && it->second == retry_after ? out.busy : out.busy_malformed)
          .fetch_add(1);
    } else {
      note_other("status " + std::to_string(r.status) + ": " + r.body.substr(0, 200));
    }
    auto conn = r.headers.find("connection");
    if (eof || (conn != r.headers.end() && lower(conn->second) == "close")) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) {
    ::close(fd);
  }
}

// `total` requests from `clients` concurrent clients.
void flood(uint16_t port, const std::string& target, int total, int clients,
           const std::string& retry_after, FloodResult& out) {
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    int n = total / clients + (c < total % clients ? 1 : 0);
    threads.emplace_back([&, n] { client(port, target, n, /*per_conn=*/50, retry_after, out); });
  }
  for (auto& t : threads) {
    t.join();
  }
}

// The value of one Prometheus sample line `name{labels} value`; -1 if absent.
long long metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) {
    return -1;
  }
  return std::atoll(text.c_str() + at + 1 + series.size() + 1);
}

constexpr int kMaxInFlight = 4;

std::string flood_toml() {
  return "listen = \"127.0.0.1:0\"\n"
         "[limits]\n"
         "retry_after = \"7s\"\n"
         "deadline = \"10s\"\n"
         "shutdown_timeout = \"2s\"\n"
         "[[route]]\n"
         "name = \"slow\"\n"
         "path = \"/slow\"\n"
         "method = \"GET\"\n"
         "kind = \"http\"\n"
         "module = \"" +
         guest("slow") +
         "\"\n"
         "entry = \"slow\"\n"
         "max_in_flight = " +
         std::to_string(kMaxInFlight) + "\n";
}

// The flood itself: 503s with Retry-After past the limit, 200s within it,
// never more than the limit in flight, counted in /metrics; then a normal
// request is answered and SIGTERM stops the node with exit 0.
TEST(flood, ExcessRequestsGet503WithRetryAfterAndAdmittedOnesGet200) {
  ServeProcess serve;
  Status s = serve.start(flood_toml());
  ASSERT_TRUE(s.is_ok()) << s.message();

  // Watch the route's in-flight gauge while the flood runs.
  std::atomic<bool> flooding{true};
  std::atomic<long long> peak_in_flight{-1};
  std::atomic<int> samples{0};
  std::thread watcher([&] {
    while (flooding.load()) {
      Response m = request(serve.port(), get("/metrics"));
      long long v = metric("\n" + m.body, "rusm_http_in_flight{route=\"slow\",kind=\"http\"}");
      if (m.status == 200 && v >= 0) {
        samples.fetch_add(1);
        long long p = peak_in_flight.load();
        while (v > p && !peak_in_flight.compare_exchange_weak(p, v)) {
        }
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  constexpr int kTotal = 3000;
  FloodResult r;
  flood(serve.port(), "/slow?ms=50", kTotal, /*clients=*/48, "7", r);
  flooding = false;
  watcher.join();

  EXPECT_EQ(r.other.load(), 0u) << "requests neither 200 nor 503, e.g.: " << r.first_other;
  EXPECT_EQ(r.busy_malformed.load(), 0u) << "503s without \"Retry-After: 7\"";
  EXPECT_EQ(r.ok.load() + r.busy.load(), uint64_t(kTotal));
  EXPECT_GT(r.ok.load(), 0u) << "no request was admitted";
  EXPECT_GT(r.busy.load(), uint64_t(kTotal / 2))
      << "48 clients on a route that admits " << kMaxInFlight
      << " sleeping handlers: most requests must be refused, not queued";
  std::printf("flood of %d: %llu x 200, %llu x 503; in-flight gauge peak %lld in %d samples\n",
              kTotal, (unsigned long long)r.ok.load(), (unsigned long long)r.busy.load(),
              peak_in_flight.load(), samples.load());
  EXPECT_GT(samples.load(), 0) << "never read the in-flight gauge from /metrics";
  EXPECT_LE(peak_in_flight.load(), kMaxInFlight) << "more handlers ran at once than max_in_flight";

  Response m = request(serve.port(), get("/metrics"));
  EXPECT_EQ(metric("\n" + m.body,
                   "rusm_http_rejected_total{route=\"slow\",kind=\"http\",limit=\"in_flight\"}"),
            (long long)r.busy.load())
      << "every 503 is counted against the route's in_flight limit";

  // Afterwards the node answers normally.
  Response after = request(serve.port(), get("/slow?ms=1"));
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "slept\n");
  EXPECT_TRUE(serve.running());
  EXPECT_EQ(serve.stop(), 0) << serve.output();
}

// Refused requests cost nothing that stays: after a warm-up, the serve
// process's RSS after a flood of 20,000 requests is within a few MiB of its
// RSS after one of 2,000 (measured from /proc/PID/status).
TEST(flood, ResidentMemoryStaysBoundedAsTheFloodGrows) {
  ServeProcess serve;
  Status s = serve.start(flood_toml());
  ASSERT_TRUE(s.is_ok()) << s.message();

  auto settle = [&] {
    // The admitted handlers have answered (their clients got the response);
    // give their processes a moment to end, then read RSS.
    std::this_thread::sleep_for(300ms);
    return serve.rss_kib();
  };
  FloodResult warm;
  flood(serve.port(), "/slow?ms=20", 2000, 64, "7", warm);
  ASSERT_EQ(warm.other.load(), 0u) << warm.first_other;
  long rss_start = settle();

  FloodResult small;
  flood(serve.port(), "/slow?ms=20", 2000, 64, "7", small);
  long rss_small = settle();

  FloodResult big;
  flood(serve.port(), "/slow?ms=20", 20000, 64, "7", big);
  long rss_big = settle();

  ASSERT_GT(rss_start, 0) << "could not read VmRSS of the serve process";
  std::printf(
      "rusm serve VmRSS: %ld KiB after warm-up, %ld KiB after 2,000 more requests, "
      "%ld KiB after 20,000 more (503s: %llu, 200s: %llu in the 20,000)\n",
      rss_start, rss_small, rss_big, (unsigned long long)big.busy.load(),
      (unsigned long long)big.ok.load());
  EXPECT_EQ(small.other.load() + big.other.load(), 0u) << small.first_other << big.first_other;
  EXPECT_EQ(small.busy_malformed.load() + big.busy_malformed.load(), 0u);
  EXPECT_GT(big.busy.load(), 10000u) << "the flood must mostly be refused";
  EXPECT_GT(big.ok.load(), 0u);
  if (!kSanitized) {
    constexpr long kSlackKib = 4 * 1024;
    EXPECT_LT(rss_big - rss_small, kSlackKib)
        << "RSS grew by " << (rss_big - rss_small) << " KiB between a 2,000- and a 20,000-request "
        << "flood: refused or admitted requests leave memory behind";
  }

  Response after = request(serve.port(), get("/slow?ms=1"));
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "slept\n");
  EXPECT_EQ(serve.stop(), 0) << serve.output();
}

}  // namespace
}  // namespace rusm::serve::test
