// A real etcd for the tests of global names in etcd: one per test program,
// started on free loopback ports in a temp dir on first use, stopped at exit.
// Where etcd is not installed (scripts/bootstrap.sh installs Debian's
// etcd-server) the tests skip with that reason printed (REQUIRE_ETCD).
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace rusm::cluster::test {

inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string find_etcd() {
  if (const char* e = std::getenv("RUSM_ETCD")) {
    return e;
  }
  for (const char* d : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
    if (::access(d, X_OK) == 0) {
      return d;
    }
  }
  return "";
}

inline bool port_open(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One etcd for the whole program, in a temp dir; each test uses a prefix of
// its own.
class Etcd {
 public:
  static Etcd& get() {
    static Etcd e;
    return e;
  }
  bool running() const { return pid_ > 0; }
  const std::string& why_not() const { return why_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_); }

 private:
  Etcd() {
    std::string bin = find_etcd();
    if (bin.empty()) {
      why_ = "etcd is not installed (scripts/bootstrap.sh installs Debian's etcd-server)";
      return;
    }
    namespace fs = std::filesystem;
    dir_ = (fs::temp_directory_path() / ("rusm-etcd-test-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    client_ = free_port();
    uint16_t peer = free_port();
    std::string c = "http://127.0.0.1:" + std::to_string(client_);
    std::string p = "http://127.0.0.1:" + std::to_string(peer);
    std::string log = dir_ + "/etcd.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      ::dup2(2, 1);
      std::string data = dir_ + "/data", initial = "default=" + p;
      ::execl(bin.c_str(), bin.c_str(), "--name", "default", "--data-dir", data.c_str(),
              "--listen-client-urls", c.c_str(), "--advertise-client-urls", c.c_str(),
              "--listen-peer-urls", p.c_str(), "--initial-advertise-peer-urls", p.c_str(),
              "--initial-cluster", initial.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end && !port_open(client_)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!port_open(client_)) {
      why_ = "etcd did not start (see " + log + ")";
      stop();
    }
  }
  ~Etcd() {
    stop();
    std::error_code ec;
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_, ec);
    }
  }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  std::string dir_, why_;
  pid_t pid_ = -1;
  uint16_t client_ = 0;
};

}  // namespace rusm::cluster::test

#define REQUIRE_ETCD()                                                             \
  do {                                                                             \
    if (!::rusm::cluster::test::Etcd::get().running()) {                           \
      GTEST_SKIP() << "skipped: " << ::rusm::cluster::test::Etcd::get().why_not(); \
    }                                                                              \
  } while (0)
