// A runtime with the security guests loaded and a probe to hear from them,
// for the attack tests that run Wasm processes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rusm/otp/node.h"
#include "rusm/runtime/runtime.h"

namespace rusm::security {

using namespace std::chrono_literals;

// Generous: sanitizer builds on a loaded 2-core machine are slow.
inline constexpr otp::Duration kWait = std::chrono::seconds(20);

inline std::string guest_path(const std::string& name) {
  return std::string(RUSM_SECURITY_GUEST_DIR) + "/" + name + ".wasm";
}

class WasmAttackTest : public ::testing::Test {
 protected:
  // Starts a runtime (2 workers unless `options` says) with `modules` loaded
  // under their file names.
  void start(const std::vector<std::string>& modules, runtime::RuntimeOptions options = {}) {
    if (options.node.workers == 0) {
      options.node.workers = 2;
    }
    rt_ = std::make_unique<runtime::Runtime>(options);
    for (const std::string& m : modules) {
      Status s = rt_->load_file(m, guest_path(m));
      ASSERT_TRUE(s.is_ok()) << s.message();
    }
    probe_ = std::make_unique<otp::Probe>(rt_->node());
  }
  void TearDown() override {
    probe_.reset();
    rt_.reset();
  }

  runtime::ProcessSpec spec(const std::string& module, const std::string& fn,
                            std::vector<uint64_t> args, const char* profile = "sandboxed") {
    runtime::ProcessSpec s;
    s.module = module;
    s.function = fn;
    s.args = std::move(args);
    s.caps = *runtime::profile(profile);
    return s;
  }
  otp::Pid spawn(const runtime::ProcessSpec& s) {
    auto p = rt_->spawn(s);
    EXPECT_TRUE(p.is_ok()) << (p ? "" : p.message());
    return p ? p->pid : otp::Pid();
  }
  // The next message with `tag` from a guest (others stay queued).
  std::optional<otp::Message> receive(uint64_t tag, otp::Duration timeout = kWait) {
    return probe_->receive_if([tag](const otp::Message& m) { return m.tag() == tag; }, timeout);
  }
  otp::Pid me() const { return probe_->pid(); }

  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<otp::Probe> probe_;
};

}  // namespace rusm::security
