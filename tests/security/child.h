// A child process for attack tests that drive the `rusm` binary: started
// with its stdout and stderr on pipes (optionally under a lower descriptor
// limit), read with timeouts, and SIGKILLed and reaped when the test ends,
// so a test that finds a hang never hangs itself.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace rusm::security {

struct ChildOptions {
  rlim_t max_files = 0;  // RLIMIT_NOFILE of the child; 0 leaves it alone
  std::vector<std::pair<std::string, std::string>> env;  // set in the child's environment
};

class Child {
 public:
  using ms = std::chrono::milliseconds;

  static std::unique_ptr<Child> spawn(const std::vector<std::string>& argv,
                                      ChildOptions options = {}) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      return nullptr;
    }
    pid_t pid = fork();
    if (pid < 0) {
      return nullptr;
    }
    if (pid == 0) {
      // Dies with the test, even when the test is killed (a ctest timeout).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(out[1], 1);
      dup2(err[1], 2);
      int devnull = open("/dev/null", O_RDONLY);
      dup2(devnull, 0);
      if (options.max_files != 0) {
        rlimit r{options.max_files, options.max_files};
        setrlimit(RLIMIT_NOFILE, &r);
      }
      for (const auto& [name, value] : options.env) {
        setenv(name.c_str(), value.c_str(), 1);
      }
      std::vector<char*> args;
      for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
      }
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    auto c = std::unique_ptr<Child>(new Child());
    c->pid_ = pid;
    c->out_fd_ = out[0];
    c->err_fd_ = err[0];
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    return c;
  }

  ~Child() {
    if (!exited_) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
    close(out_fd_);
    close(err_fd_);
  }

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  // Reads until a line of stdout matches `re` (returns the match) or the
  // timeout or the child's exit.
  std::optional<std::smatch> wait_for_stdout(const std::regex& re, ms timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::smatch m;
      if (std::regex_search(out_, m, re)) {
        // Keep the matched text alive: copy the buffer the match points into.
        matched_ = out_;
        std::regex_search(matched_, m, re);
        return m;
      }
      if (!pump(end)) {
        return std::nullopt;
      }
    }
  }

  // Waits for the exit (reading its output meanwhile). Returns the exit
  // code, or 128 + signal, or nullopt if it is still running at the timeout.
  std::optional<int> wait(ms timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!exited_) {
      int st;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      if (std::chrono::steady_clock::now() >= end) {
        return std::nullopt;
      }
      pump(std::min(end, std::chrono::steady_clock::now() + ms(20)));
    }
    while (pump(std::chrono::steady_clock::now())) {
    }
    return status_;
  }

  // Reads what the child has written so far, without waiting.
  void drain() {
    while (pump(std::chrono::steady_clock::now())) {
    }
  }

  // User + system CPU seconds the child has used so far.
  double cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) {
      return -1;
    }
    std::istringstream fields(stat.substr(close_paren + 2));
    std::string f;
    double utime = 0, stime = 0;
    // Fields after the name start at field 3 (state); utime is 14, stime 15.
    for (int i = 3; i <= 15 && (fields >> f); ++i) {
      if (i == 14) {
        utime = std::stod(f);
      } else if (i == 15) {
        stime = std::stod(f);
      }
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  Child() = default;

  // Reads what is there, waiting until `end` for something. False at the
  // deadline with nothing read, or when both pipes are closed.
  bool pump(std::chrono::steady_clock::time_point end) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    auto left = std::chrono::duration_cast<ms>(end - std::chrono::steady_clock::now()).count();
    int n = poll(fds, 2, static_cast<int>(std::max<int64_t>(0, left)));
    if (n <= 0) {
      return false;
    }
    bool any = false;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(r));
        any = true;
      }
    }
    return any;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::string out_, err_, matched_;
};

}  // namespace rusm::security
