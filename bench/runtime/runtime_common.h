// What the runtime scenarios share (runtime_bench.cc, js_bench.cc): a
// runtime with their C guests loaded, the spec of a guest process, the
// process's resident size, and a JavaScript main process driven from the
// scenario. Used from the thread that runs a scenario.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/scenario.h"
#include "rusm/otp/node.h"
#include "rusm/result.h"
#include "rusm/runtime/runtime.h"

namespace rusm::bench::runtime_bench {

using Clock = std::chrono::steady_clock;

double secs_since(Clock::time_point t0);

// This OS process's resident set, in bytes.
size_t rss();

// A runtime on options.threads workers with the C guests loaded as modules
// "bench" (guests.c) and "timed" (timed.c); nullptr, with a note in the
// report, if one cannot be loaded. `tier`: which tier runs them (kCompiled
// compiles through the on-disk cache; a module it cannot take is a note).
std::unique_ptr<rusm::runtime::Runtime> make_runtime(
    const Options& options, Report& report, rusm::wasm::Tier tier = rusm::wasm::Tier::kInterpreter);
// Loads guests.c compiled to native code (the compiled tier, through its
// on-disk cache) as module `name`, beside the interpreted "bench"; with
// Tier::kAuto, as `rusm run` loads it once the cache has it (short
// straight-line calls interpreted).
Status load_compiled_guest(rusm::runtime::Runtime& rt, const std::string& name,
                           rusm::wasm::Tier tier = rusm::wasm::Tier::kCompiled);

// A process of `module` running `fn` with the trusted profile.
rusm::runtime::ProcessSpec spec(std::string fn, std::vector<uint64_t> args = {},
                                std::string module = "bench");

// Returns once no worker has a runnable process (every process blocked or
// gone), polling every 20 ms.
void wait_until_blocked(rusm::otp::Node& node);

// A JavaScript main process that a scenario drives: booted from a script as
// `rusm run app.js` boots one (the embedded runtime, loaded into the runtime
// as module "js", spawned at js_main with the trusted profile). The script's
// exported main(host) gets this driver's pid (a number); it sends the host
// one message with tag kReady once it runs, then answers each message with
// tag kCommand (JSON text) with one of tag kReply, and returns on a command
// it does not know. Use from one thread.
class JsMain {
 public:
  static constexpr uint64_t kReady = 1;
  static constexpr uint64_t kCommand = 2;
  static constexpr uint64_t kReply = 3;

  // Errors: rusm was built without JavaScript, the module does not load, or
  // the process ends (e.g. an error in the script: its line) or is not ready
  // within `timeout`.
  static Result<std::unique_ptr<JsMain>> start(rusm::runtime::Runtime& rt, std::string_view name,
                                               std::string_view script,
                                               rusm::otp::Duration timeout);
  // Ends the process: the command {"op":"exit"}, then a kill if it has not
  // ended within 10 s.
  ~JsMain();
  JsMain(const JsMain&) = delete;
  JsMain& operator=(const JsMain&) = delete;

  rusm::otp::Pid pid() const { return pid_; }
  // Sends a command and returns the reply's payload. Errors: the process
  // ended (its reason) or did not answer within `timeout`.
  Result<std::string> call(std::string_view command, rusm::otp::Duration timeout);

 private:
  explicit JsMain(rusm::runtime::Runtime& rt) : rt_(rt), probe_(rt.node()) {}
  Result<std::string> await_message(uint64_t tag, rusm::otp::Duration timeout);

  rusm::runtime::Runtime& rt_;
  rusm::otp::Probe probe_;
  rusm::otp::Pid pid_;
  bool ended_ = false;
};

}  // namespace rusm::bench::runtime_bench
