// Helpers for the serving tests: a serve::App started from rusm.toml text
// (written to a fresh temp directory, listening on 127.0.0.1 port 0, error
// lines captured), plus the raw-socket HTTP client of tests/net/test_util.h
// (connect_to, send_all, read_responses, request, get, ...).
//
// Thread-safety: a ServeApp is driven by the test's thread; error_lines()
// may be called while the app serves.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/test_util.h"
#include "rusm/net/config.h"
#include "rusm/serve/app.h"

namespace rusm::serve::test {

using namespace rusm::net::test;  // raw-socket client
using namespace std::chrono_literals;

// A guest module built by tests/serve/CMakeLists.txt (guests/<name>.c).
inline std::string guest(const std::string& name) {
  return std::string(RUSM_SERVE_GUESTS) + "/" + name + ".wasm";
}

class ServeApp {
 public:
  ServeApp() {
    static int seq = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("rusm_serve_test_" + std::to_string(getpid()) + "_" + std::to_string(seq++));
    std::filesystem::create_directories(dir_);
  }
  ~ServeApp() {
    app_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ServeApp(const ServeApp&) = delete;
  ServeApp& operator=(const ServeApp&) = delete;

  // Writes `toml` as rusm.toml (with `listen = "127.0.0.1:0"` first unless it
  // sets listen itself), creates the App and starts it.
  Status start(const std::string& toml, AppOptions options = {}) {
    std::string text = toml;
    if (text.find("listen") == std::string::npos) {
      text = "listen = \"127.0.0.1:0\"\n" + text;
    }
    std::string file = (dir_ / "rusm.toml").string();
    std::ofstream(file) << text;
    auto config = net::load_config(file);
    if (!config) {
      return config.error();
    }
    if (options.workers == 0) {
      options.workers = 2;
    }
    if (!options.error_log) {
      options.error_log = [this](const std::string& line) {
        std::lock_guard<std::mutex> lock(mu_);
        errors_.push_back(line);
      };
    }
    auto app = App::create(std::move(*config), std::move(options));
    if (!app) {
      return app.error();
    }
    app_ = std::move(*app);
    if (Status s = app_->start(); !s) {
      return s;
    }
    port_ = app_->ports().at(0);
    return {};
  }

  App& app() { return *app_; }
  uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::vector<std::string> error_lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  // Live processes of the app's node.
  uint64_t processes() { return app_->runtime().node().process_count(); }
  // Waits until the node has at most `n` processes; false on timeout.
  bool processes_at_most(uint64_t n, std::chrono::milliseconds timeout = 5s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (processes() > n) {
      if (std::chrono::steady_clock::now() > end) {
        return false;
      }
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<App> app_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<std::string> errors_;
};

}  // namespace rusm::serve::test
