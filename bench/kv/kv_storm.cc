// kv-storm: Wasm processes each doing get -> +1 -> put on a key of their own
// in the node's key-value store, every put a durable commit (docs/kv.md).
// Baselines in the same run:
//   - SQLite used directly from C++, with the same settings (WAL,
//     synchronous=FULL) and, at best for it, as many read-modify-writes per
//     commit as there are processes (what group commit can give them);
//   - redis-server with appendonly yes + appendfsync always (each write
//     fsynced before its reply), one client connection per process, where
//     redis-server is installed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/scenario.h"
#include "rusm/runtime/runtime.h"

namespace rusm::bench::kv_bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kProcesses = 64;

double secs_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

fs::path scratch(const char* what) {
  fs::path p = fs::temp_directory_path() / ("rusm-kv-storm-" + std::to_string(::getpid()) + what);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Read-modify-writes per second from kProcesses Wasm processes; false (and
// a note) if anything failed. `consistent`: every key ends at its count.
std::optional<double> wasm_rate(const Options& options, Report& report, bool& consistent) {
  fs::path dir = scratch("-rusm");
  runtime::RuntimeOptions ro;
  ro.node.workers = options.threads;
  ro.kv.path = dir / "kv.db";
  std::optional<double> rate;
  {
    runtime::Runtime rt(ro);
    if (Status s = rt.load_file("bench", RUSM_RUNTIME_BENCH_GUEST); !s) {
      report.notes.push_back("cannot load the guest: " + s.message());
      return std::nullopt;
    }
    otp::Probe probe(rt.node());
    std::vector<otp::Pid> pids;
    for (int i = 0; i < kProcesses; ++i) {
      runtime::ProcessSpec spec;
      spec.module = "bench";
      spec.function = "kv_rmw";
      spec.args = {probe.pid().bits(), static_cast<uint64_t>(i)};
      spec.caps = *runtime::profile("sandboxed");
      (void)runtime::allow(spec.caps, "kv:storm");
      auto p = rt.spawn(spec);
      if (!p) {
        report.notes.push_back("spawn failed: " + p.message());
        return std::nullopt;
      }
      pids.push_back(p->pid);
    }
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(options.duration_s));
    for (otp::Pid p : pids) {
      (void)probe.send(p, otp::Message::of(9, uint64_t(0)));
    }
    uint64_t total = 0;
    consistent = true;
    auto store = rt.kv_store();
    for (int i = 0; i < kProcesses; ++i) {
      auto m = probe.receive(30s);
      if (!m) {
        report.notes.push_back("a process did not report");
        return std::nullopt;
      }
      total += m->as<uint64_t>();
    }
    double elapsed = secs_since(t0);
    uint64_t stored = 0;
    for (int i = 0; store && i < kProcesses; ++i) {
      kv::Reply r = (*store)->call(kv::Request::get("storm", "k" + std::to_string(i)));
      stored += r.code == kv::Code::kOk ? std::stoull(r.value) : 0;
    }
    consistent = store && stored == total;
    rate = total / elapsed;
    if (store) {
      kv::StoreStats st = (*store)->stats();
      report.notes.push_back("rusm: " + std::to_string(st.commits) + " commits for " +
                             std::to_string(total) + " puts (" +
                             std::to_string(st.commits ? total / st.commits : 0) + " per commit)");
    }
  }
  fs::remove_all(dir);
  return rate;
}

// SQLite directly: `per_commit` read-modify-writes per durable transaction.
std::optional<double> sqlite_rate(double seconds, int per_commit, Report& report) {
  fs::path dir = scratch("-sqlite");
  sqlite3* db = nullptr;
  std::optional<double> rate;
  if (sqlite3_open((dir / "kv.db").c_str(), &db) == SQLITE_OK) {
    sqlite3_exec(db,
                 "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE kv(bucket TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
                 "PRIMARY KEY(bucket, key)) WITHOUT ROWID",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt *get = nullptr, *put = nullptr;
    sqlite3_prepare_v2(db, "SELECT value FROM kv WHERE bucket = 'storm' AND key = ?1", -1, &get,
                       nullptr);
    sqlite3_prepare_v2(db,
                       "INSERT INTO kv VALUES('storm', ?1, ?2) ON CONFLICT(bucket, key) DO "
                       "UPDATE SET value = excluded.value",
                       -1, &put, nullptr);
    uint64_t n = 0;
    bool ok = get != nullptr && put != nullptr;
    auto t0 = Clock::now();
    while (ok && secs_since(t0) < seconds) {
      ok = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
      for (int k = 0; ok && k < per_commit; ++k) {
        std::string key = "k" + std::to_string(k);
        sqlite3_bind_blob(get, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        int64_t v = 0;
        if (sqlite3_step(get) == SQLITE_ROW) {
          v = std::stoll(std::string(static_cast<const char*>(sqlite3_column_blob(get, 0)),
                                     sqlite3_column_bytes(get, 0)));
        }
        sqlite3_reset(get);
        std::string value = std::to_string(v + 1);
        sqlite3_bind_blob(put, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        sqlite3_bind_blob(put, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
        ok = sqlite3_step(put) == SQLITE_DONE;
        sqlite3_reset(put);
        ++n;
      }
      ok = ok && sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    if (ok) {
      rate = n / secs_since(t0);
    } else {
      report.notes.push_back(std::string("direct SQLite failed: ") + sqlite3_errmsg(db));
    }
    sqlite3_finalize(get);
    sqlite3_finalize(put);
  }
  sqlite3_close(db);
  fs::remove_all(dir);
  return rate;
}

// Runs kProcesses client threads for `seconds`, each calling the step
// make_step(i) returns (one read-modify-write; false: it failed) over and
// over: read-modify-writes per second, or nullopt if a step failed.
template <typename MakeStep>
std::optional<double> run_clients(double seconds, MakeStep make_step) {
  std::atomic<bool> stop{false}, failed{false};
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kProcesses; ++i) {
    threads.emplace_back([&, i] {
      auto step = make_step(i);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!step()) {
          failed = true;
          break;
        }
        ++n;
      }
      total += n;
    });
  }
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) {
    t.join();
  }
  double elapsed = secs_since(t0);
  if (failed) {
    return std::nullopt;
  }
  return total / elapsed;
}

// The same store (rusm::kv::Store) used directly from C++: kProcesses
// threads doing get -> +1 -> put through Store::call, as the processes do
// through the guest ABI. The difference is what Wasm processes cost.
std::optional<double> store_rate(double seconds, Report& report) {
  fs::path dir = scratch("-store");
  kv::StoreOptions o;
  o.path = dir / "kv.db";
  auto store = kv::Store::open(o);
  if (!store) {
    report.notes.push_back("direct store: " + store.message());
    return std::nullopt;
  }
  kv::Store& st = **store;
  std::optional<double> rate = run_clients(seconds, [&st](int i) {
    return [&st, key = "k" + std::to_string(i)] {
      kv::Reply r = st.call(kv::Request::get("storm", key));
      int64_t v = r.code == kv::Code::kOk ? std::stoll(r.value) : 0;
      return st.call(kv::Request::put("storm", key, std::to_string(v + 1))).code == kv::Code::kOk;
    };
  });
  store->reset();
  fs::remove_all(dir);
  if (!rate) {
    report.notes.push_back("direct store: a put failed");
  }
  return rate;
}

// ---- redis-server with appendfsync always

class RespClient {
 public:
  bool connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RespClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  // Sends a command; the reply's bulk string ("" for nil or a status), or
  // nullopt on an error reply or a broken connection.
  std::optional<std::string> call(std::initializer_list<std::string_view> args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (std::string_view a : args) {
      out += "$" + std::to_string(a.size()) + "\r\n" + std::string(a) + "\r\n";
    }
    if (::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      return std::nullopt;
    }
    auto line = read_line();
    if (!line || line->empty() || (*line)[0] == '-') {
      return std::nullopt;
    }
    if ((*line)[0] != '$') {
      return std::string();
    }
    long n = std::stol(line->substr(1));
    if (n < 0) {
      return std::string();
    }
    while (buf_.size() < static_cast<size_t>(n) + 2) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    std::string v = buf_.substr(0, static_cast<size_t>(n));
    buf_.erase(0, static_cast<size_t>(n) + 2);
    return v;
  }

 private:
  bool fill() {
    char chunk[4096];
    ssize_t r = ::recv(fd_, chunk, sizeof chunk, 0);
    if (r <= 0) {
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(r));
    return true;
  }
  std::optional<std::string> read_line() {
    size_t at;
    while ((at = buf_.find("\r\n")) == std::string::npos) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    std::string line = buf_.substr(0, at);
    buf_.erase(0, at + 2);
    return line;
  }
  int fd_ = -1;
  std::string buf_;
};

std::optional<double> redis_rate(double seconds, Report& report) {
  const char* binary = "/usr/bin/redis-server";
  if (::access(binary, X_OK) != 0) {
    report.notes.push_back("redis-server not installed: no redis baseline");
    return std::nullopt;
  }
  fs::path dir = scratch("-redis");
  uint16_t port = free_port();
  std::string port_s = std::to_string(port), dir_s = dir.string();
  pid_t child = ::fork();
  if (child == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(binary, binary, "--port", port_s.c_str(), "--bind", "127.0.0.1", "--dir", dir_s.c_str(),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode",
            "no", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::optional<double> rate;
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    RespClient probe;
    up = probe.connect(port) && probe.call({"PING"}).has_value();
    if (!up) {
      std::this_thread::sleep_for(20ms);
    }
  }
  if (up) {
    rate = run_clients(seconds, [port](int i) {
      auto c = std::make_shared<RespClient>();
      bool connected = c->connect(port);
      return [c, connected, key = "k" + std::to_string(i)] {
        auto v = connected ? c->call({"GET", key}) : std::nullopt;
        return v && c->call({"SET", key, std::to_string((v->empty() ? 0 : std::stoll(*v)) + 1)});
      };
    });
    if (!rate) {
      report.notes.push_back("a redis client failed");
    }
  } else {
    report.notes.push_back("redis-server did not start");
  }
  ::kill(child, SIGTERM);
  ::waitpid(child, nullptr, 0);
  fs::remove_all(dir);
  return rate;
}

Report kv_storm(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "kv-storm";
  report.summary =
      std::to_string(kProcesses) + " processes doing get -> +1 -> put, each put a durable commit";
  bool consistent = false;
  std::optional<double> wasm = wasm_rate(options, report, consistent);
  if (!wasm) {
    return report;
  }
  progress.sample("rmw/s", *wasm);
  if (!consistent) {
    report.notes.push_back("ERROR: the stored counters disagree with the processes' counts");
  }
  std::optional<double> store, direct, direct_one, redis;
  if (options.baselines) {
    store = store_rate(options.duration_s, report);
    direct = sqlite_rate(options.duration_s, kProcesses, report);
    direct_one = sqlite_rate(std::min(options.duration_s, 2.0), 1, report);
    redis = redis_rate(options.duration_s, report);
  }
  report.rows.push_back({"read-modify-writes/s, Wasm processes", *wasm, "/s", store,
                         "the store from 64 C++ threads", true,
                         "goal: within 2x of the store used directly"});
  report.rows.push_back({"read-modify-writes/s, Wasm processes", *wasm, "/s", direct,
                         "SQLite by hand, 64 per commit", true,
                         "one thread batching by hand: the bound"});
  report.rows.push_back({"read-modify-writes/s, Wasm processes", *wasm, "/s", redis,
                         "redis appendfsync always", true, "64 client connections"});
  if (direct_one) {
    report.rows.push_back({"SQLite direct, 1 read-modify-write per commit",
                           *direct_one,
                           "/s",
                           {},
                           "",
                           true,
                           "one fsync per write: what group commit saves"});
  }
  return report;
}

Registrar r1({"kv-storm", "durable get -> +1 -> put from Wasm processes vs SQLite and redis",
              kv_storm});

}  // namespace
}  // namespace rusm::bench::kv_bench
