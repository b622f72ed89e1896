#include "tier.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "rusm/wasm_compiled.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RUSM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RUSM_SANITIZED 1
#endif
#endif

namespace rusm::cli {
namespace {

// Writes the module where the compiler process can read it, then starts
// `rusm compile --quiet --remove-input FILE` detached (double fork: no
// zombie, not our child when we exit) at the lowest priority.
void compile_in_background(const std::string& cache_dir, std::span<const uint8_t> bytes) {
  static std::atomic<unsigned> n{0};
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  std::string path = cache_dir + "/pending-" + std::to_string(::getpid()) + "-" +
                     std::to_string(n.fetch_add(1)) + ".wasm";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return;
  }
  bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  written = std::fclose(f) == 0 && written;
  if (!written) {
    std::filesystem::remove(path, ec);
    return;
  }
  // One background compile at a time per cache: the compiler process holds
  // the lock (an inherited descriptor) until it exits; when it is taken, this
  // module is asked for again at its next start.
  int lock = ::open((cache_dir + "/background.lock").c_str(), O_RDWR | O_CREAT, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    if (lock >= 0) {
      ::close(lock);
    }
    std::filesystem::remove(path, ec);
    return;
  }
  char self[4096];
  ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    ::close(lock);
    std::filesystem::remove(path, ec);
    return;
  }
  self[len] = '\0';
  pid_t child = ::fork();
  if (child < 0) {
    ::close(lock);
    std::filesystem::remove(path, ec);
    return;
  }
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) {
      ::_exit(0);
    }
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    ::setpriority(PRIO_PROCESS, 0, 19);
    // A module is untrusted input to LLVM too: whatever it makes the
    // compiler do, the background compile gives up within 10 minutes of CPU
    // and 8 GiB of address space (the node it serves is another process).
    // (Not the address space under a sanitizer: its shadow memory alone
    // reserves terabytes.)
    struct rlimit cpu = {600, 600};
    ::setrlimit(RLIMIT_CPU, &cpu);
#ifndef RUSM_SANITIZED
    struct rlimit as = {rlim_t{8} << 30, rlim_t{8} << 30};
    ::setrlimit(RLIMIT_AS, &as);
#endif
    std::string dir_flag = "--cache-dir=" + cache_dir;
    ::execl(self, self, "compile", "--quiet", "--remove-input", dir_flag.c_str(), path.c_str(),
            static_cast<char*>(nullptr));
    ::unlink(path.c_str());  // no compiler to read it and remove it
    ::_exit(127);
  }
  ::close(lock);  // the compiler's copy keeps it locked
  int status = 0;
  ::waitpid(child, &status, 0);
}

}  // namespace

std::string default_tier() {
  const char* t = std::getenv("RUSM_TIER");
  if (t != nullptr &&
      (std::string(t) == "interp" || std::string(t) == "compiled" || std::string(t) == "auto")) {
    return t;
  }
  return "auto";
}

void add_tier_option(CLI::App* cmd, std::string* tier) {
  cmd->add_option("--tier", *tier,
                  "Execution tier: auto (the default, or $RUSM_TIER): native code when the "
                  "compiled tier's cache has the module, else the interpreter while a background "
                  "`rusm compile` fills the cache (running processes then switch at their next "
                  "function entry, and the next start is native); compiled: native code or an "
                  "error; interp: the interpreter")
      ->check(CLI::IsMember({"auto", "compiled", "interp"}));
}

void apply_tier(const std::string& tier, wasm::CompileOptions* options) {
  if (tier == "interp") {
    options->tier = wasm::Tier::kInterpreter;
  } else if (tier == "compiled") {
    options->tier = wasm::Tier::kCompiled;
  } else {
    options->tier = wasm::Tier::kAuto;
    std::string dir = wasm::native_cache_dir(*options);
    if (!dir.empty()) {
      options->on_native_cache_miss = [dir](std::span<const uint8_t> bytes) {
        compile_in_background(dir, bytes);
      };
    }
  }
}

}  // namespace rusm::cli
