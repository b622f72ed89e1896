#include "runtime/runtime_common.h"

#include <unistd.h>

#include <fstream>
#include <thread>

#include "cli/js_runtime.h"
#include "rusm/runtime/module_file.h"
#include "rusm/serve/js.h"

namespace rusm::bench::runtime_bench {

using rusm::runtime::ProcessSpec;
using rusm::runtime::Runtime;

double secs_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

size_t rss() {
  std::ifstream statm("/proc/self/statm");
  size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

std::unique_ptr<Runtime> make_runtime(const Options& options, Report& report,
                                      rusm::wasm::Tier tier) {
  rusm::runtime::RuntimeOptions ro;
  ro.node.workers = options.threads;
  ro.compile.tier = tier;
  auto rt = std::make_unique<Runtime>(ro);
  for (auto [name, path] : {std::pair{"bench", RUSM_RUNTIME_BENCH_GUEST},
                            std::pair{"timed", RUSM_RUNTIME_BENCH_TIMED_GUEST}}) {
    if (Status s = rt->load_file(name, path); !s) {
      report.notes.push_back("cannot load a guest: " + s.message());
      return nullptr;
    }
  }
  return rt;
}

Status load_compiled_guest(Runtime& rt, const std::string& name, rusm::wasm::Tier tier) {
  auto bytes = rusm::runtime::read_module_file(RUSM_RUNTIME_BENCH_GUEST);
  if (!bytes) {
    return Error(bytes.message());
  }
  rusm::wasm::CompileOptions o;
  o.tier = rusm::wasm::Tier::kCompiled;  // fills the cache
  auto m = rusm::wasm::Module::compile(*bytes, o);
  if (m && tier == rusm::wasm::Tier::kAuto) {
    o.tier = tier;
    m = rusm::wasm::Module::compile(*bytes, o);
    if (m && (*m)->tier() != rusm::wasm::Tier::kCompiled) {
      return Error("auto did not find the compiled tier's cache entry");
    }
  }
  if (!m) {
    return Error("the compiled tier: " + m.message());
  }
  return rt.add_module(name, *m);
}

ProcessSpec spec(std::string fn, std::vector<uint64_t> args, std::string module) {
  ProcessSpec s;
  s.module = std::move(module);
  s.function = std::move(fn);
  s.args = std::move(args);
  s.caps = *rusm::runtime::profile("trusted");
  return s;
}

void wait_until_blocked(rusm::otp::Node& node) {
  for (;;) {
    size_t runnable = 0;
    for (const auto& w : node.stats().workers) {
      runnable += w.run_queue_length;
    }
    if (runnable == 0) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<std::unique_ptr<JsMain>> JsMain::start(Runtime& rt, std::string_view name,
                                              std::string_view script,
                                              rusm::otp::Duration timeout) {
  std::span<const uint8_t> wasm = rusm::cli::js_runtime_wasm();
  if (wasm.empty()) {
    return Error(
        "this rusm was built without JavaScript (no QuickJS sources: run "
        "scripts/bootstrap.sh, then rebuild)");
  }
  if (!rt.has_module("js")) {
    if (Status s = rt.load("js", wasm); !s) {
      return Error("the embedded JavaScript runtime: " + s.message());
    }
  }
  std::unique_ptr<JsMain> js(new JsMain(rt));
  ProcessSpec s = spec("js_main", {}, "js");
  // main(host): the script's path, then its arguments, as `rusm run` gives them.
  s.wasi.args = {std::string(name), std::to_string(js->probe_.pid().bits())};
  auto p = rt.spawn(s);
  if (!p) {
    return Error(std::string(name) + ": " + p.message());
  }
  js->pid_ = p->pid;
  js->probe_.monitor(js->pid_);
  Status sent = rt.node().send(
      js->pid_, rusm::otp::Message::make(
                    rusm::serve::kJsBootTag,
                    rusm::serve::js_boot_message(
                        name, {reinterpret_cast<const uint8_t*>(script.data()), script.size()})));
  if (!sent) {
    return Error(std::string(name) + ": handing the script to its process: " + sent.message());
  }
  if (auto ready = js->await_message(kReady, timeout); !ready) {
    return ready.error();
  }
  return js;
}

JsMain::~JsMain() {
  if (ended_) {
    return;
  }
  (void)probe_.send(pid_, rusm::otp::Message::make(kCommand, R"({"op":"exit"})"));
  auto down = probe_.receive_if(
      [&](const rusm::otp::Message& m) { return m.is_down() && m.from() == pid_; },
      std::chrono::seconds(10));
  if (!down) {
    rt_.node().exit(pid_, rusm::otp::ExitReason::kill());
  }
}

Result<std::string> JsMain::call(std::string_view command, rusm::otp::Duration timeout) {
  if (ended_) {
    return Error("the JavaScript process has ended");
  }
  if (Status s = probe_.send(pid_, rusm::otp::Message::make(kCommand, command)); !s) {
    return Error("sending the JavaScript process a command: " + s.message());
  }
  return await_message(kReply, timeout);
}

Result<std::string> JsMain::await_message(uint64_t tag, rusm::otp::Duration timeout) {
  auto m = probe_.receive_if(
      [&](const rusm::otp::Message& m) {
        return (m.tag() == tag && m.from() == pid_) || (m.is_down() && m.from() == pid_);
      },
      timeout);
  if (!m) {
    return Error("the JavaScript process did not answer in time");
  }
  if (m->is_down()) {
    ended_ = true;
    return Error("the JavaScript process ended: " + m->reason().to_string());
  }
  return std::string(m->text());
}

}  // namespace rusm::bench::runtime_bench
