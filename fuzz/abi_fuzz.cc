// Fuzzes the guest ABI from inside a guest: the input is a program of `rusm`
// and WASI calls with arbitrary arguments, run by a trusted Wasm process on a
// live runtime (the driver is generated from abi/rusm.toml by scripts/abi.py
// fuzz-driver, so every function the runtime serves is in it), so that every
// import, its error paths and their interleavings (spawn, links, monitors,
// exit signals, registry, global names, node calls without a cluster, timers,
// supervisors, crypto and its key handles; args, environ, clocks, random,
// stdio, poll_oneoff, fd calls) meet what a hostile guest can pass. No directory is
// preopened: the file system calls see only stdio (a fuzzer that could write
// files would be a risk to the machine if an escape existed; tests/wasi
// covers escapes). The process may trap, exit, block or be killed; the node
// must stay sound: no crash, no sanitizer report, and every process gone
// after a kill.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <thread>

#include "rusm/runtime/runtime.h"

namespace {

using namespace rusm;

runtime::Runtime& rt() {
  static runtime::Runtime* r = [] {
    runtime::RuntimeOptions o;
    o.node.workers = 2;
    o.node.max_processes = 1u << 16;
    auto* r = new runtime::Runtime(o);  // lives for the whole fuzzing run
    if (Status s = r->load_file("driver", RUSM_ABI_DRIVER); !s) {
      std::fprintf(stderr, "abi_fuzz: %s\n", s.message().c_str());
      std::abort();
    }
    return r;
  }();
  return *r;
}

// Kills whatever the program left running and waits until it is gone.
void kill_everything(otp::Node& node) {
  for (int round = 0; round < 2000 && node.process_count() > 0; ++round) {
    for (const otp::ProcessInfo& p : node.processes()) {
      node.exit(p.pid, otp::ExitReason::kill());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (node.process_count() > 0) {
    std::fprintf(stderr, "abi_fuzz: %llu processes survived kill\n",
                 static_cast<unsigned long long>(node.process_count()));
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) {
    return 0;
  }
  runtime::Runtime& r = rt();
  runtime::ProcessSpec spec;
  spec.module = "driver";
  spec.function = "go";
  spec.caps = *runtime::profile("trusted");
  spec.caps.max_memory_pages = 16;
  spec.wasi.args = {"driver", "--flag", "value"};
  spec.wasi.env = {"HOME=/nowhere", "LANG=C"};
  spec.wasi.stdin_mode = wasi::StdioMode::kCapture;
  spec.wasi.stdin_data = "line one\nline two\n";
  spec.wasi.stdout_mode = wasi::StdioMode::kCapture;
  spec.wasi.stderr_mode = wasi::StdioMode::kCapture;
  spec.wasi.allow_clock = true;
  spec.wasi.allow_random = true;
  auto p = r.spawn(spec);
  if (!p) {
    std::fprintf(stderr, "abi_fuzz: spawn: %s\n", p.message().c_str());
    std::abort();
  }
  std::string_view program(reinterpret_cast<const char*>(data), size);
  (void)r.node().send(p->pid, otp::Message::make(1, program));
  // Most programs end (or block) within a few milliseconds; a blocked one
  // is killed with the rest.
  (void)r.node().wait_exit(p->pid, std::chrono::milliseconds(5));
  kill_everything(r.node());
  return 0;
}
