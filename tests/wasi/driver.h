// A minimal instance driver for WASI tests: what runtime/ does for a real
// process, without the scheduler. It runs a guest's _start with a Context
// as the Execution's user_data and, whenever the guest suspends in a WASI
// call, waits as pending() says (sleeps to the deadline, polls the
// descriptor, or just yields), then resume()s and runs on.
#pragma once

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rusm/wasi.h"
#include "rusm/wasm.h"

namespace rusm::wasi::testing {

inline std::string guest_path(const std::string& name) {
  return std::string(RUSM_WASI_GUEST_DIR) + "/" + name + ".wasm";
}

struct RunResult {
  std::string error;                                     // set up failed (the test should fail)
  bool finished = false;                                 // _start returned
  std::string trap;                                      // the trap message, if it trapped
  std::optional<uint32_t> exit_code;                     // proc_exit's code
  std::string out, err;                                  // captured stdout / stderr
  std::vector<Wait::Kind> waits;                         // every suspension, in order
  std::vector<std::chrono::nanoseconds> deadline_waits;  // deadline - time of suspension
};

// `on_suspend` (optional) sees each Wait before the driver waits on it. The
// first `early_resumes` deadline waits are cut short (resume() at once), as a
// driver woken spuriously would do.
inline RunResult run_guest(const std::string& name, Config config,
                           std::function<void(const Wait&)> on_suspend = nullptr,
                           int early_resumes = 0) {
  RunResult r;
  std::ifstream in(guest_path(name), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    r.error = "cannot read " + guest_path(name);
    return r;
  }
  auto module = wasm::Module::compile(bytes);
  if (!module) {
    r.error = module.error().message();
    return r;
  }
  HostFunctions host;
  wasm::Imports imports;
  host.add_to(imports);
  auto resolved = wasm::resolve_imports(**module, imports);
  if (!resolved) {
    r.error = resolved.error().message();
    return r;
  }
  auto instance = wasm::Instance::instantiate(*module, *resolved);
  if (!instance) {
    r.error = instance.error().message();
    return r;
  }
  auto ctx = Context::create(std::move(config));
  if (!ctx) {
    r.error = ctx.error().message();
    return r;
  }
  wasm::Execution exec;
  exec.set_user_data(ctx->get());
  Status s = exec.begin((*instance)->exported_function("_start"), {});
  if (!s) {
    r.error = s.message();
    return r;
  }
  for (;;) {
    wasm::RunStatus st = exec.run(100'000);  // small slices, like a scheduler
    if (st == wasm::RunStatus::kOutOfFuel) {
      continue;
    }
    if (st == wasm::RunStatus::kFinished) {
      r.finished = true;
      break;
    }
    if (st == wasm::RunStatus::kTrapped) {
      r.trap = exec.trap().message;
      break;
    }
    // Suspended in a WASI call: wait as told, then redo the call.
    if (!host.owns(exec.suspended_at())) {
      r.error = "suspended outside WASI";
      break;
    }
    wasm::HostAction action;
    do {
      const Wait w = (*ctx)->pending();
      r.waits.push_back(w.kind);
      if (on_suspend) {
        on_suspend(w);
      }
      auto now = std::chrono::steady_clock::now();
      if (w.kind == Wait::Kind::kDeadline) {
        r.deadline_waits.push_back(w.deadline - now);
        if (early_resumes > 0) {
          --early_resumes;
        } else {
          std::this_thread::sleep_until(w.deadline);
        }
      } else if (w.kind == Wait::Kind::kFdRead || w.kind == Wait::Kind::kFdWrite) {
        struct pollfd p = {w.host_fd,
                           static_cast<short>(w.kind == Wait::Kind::kFdRead ? POLLIN : POLLOUT), 0};
        int timeout = -1;
        if (w.deadline != std::chrono::steady_clock::time_point::max()) {
          timeout = static_cast<int>(std::max<int64_t>(
              0,
              std::chrono::duration_cast<std::chrono::milliseconds>(w.deadline - now).count() + 1));
        }
        ::poll(&p, 1, timeout);
      }
      std::string msg;
      action = (*ctx)->resume(exec, &msg);
      if (action == wasm::HostAction::kTrap) {
        r.trap = msg;
      }
    } while (action == wasm::HostAction::kSuspend);
    if (action == wasm::HostAction::kTrap) {
      break;
    }
  }
  r.exit_code = (*ctx)->exit_code();
  r.out = (*ctx)->take_stdout();
  r.err = (*ctx)->take_stderr();
  return r;
}

// A Config with captured stdio and the given argv (program name "guest").
inline Config captured(std::vector<std::string> args) {
  Config c;
  c.args = {"guest"};
  c.args.insert(c.args.end(), args.begin(), args.end());
  c.stdout_mode = StdioMode::kCapture;
  c.stderr_mode = StdioMode::kCapture;
  return c;
}

}  // namespace rusm::wasi::testing
