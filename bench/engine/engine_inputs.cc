#include "engine/engine_inputs.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

// Set by bench/engine/CMakeLists.txt.
#ifndef RUSM_BENCH_ENGINE_DIR
#define RUSM_BENCH_ENGINE_DIR ""
#endif
#ifndef RUSM_BENCH_ENGINE_REL
#define RUSM_BENCH_ENGINE_REL "bench/engine"
#endif
#ifndef RUSM_BENCH_CORPUS
#define RUSM_BENCH_CORPUS ""
#endif
#ifndef RUSM_BENCH_NODE
#define RUSM_BENCH_NODE ""
#endif

extern char** environ;

namespace rusm::bench::engine {

bool file_exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

Result<std::string> input_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("RUSM_BENCH_ENGINE_DIR"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string path(exe, static_cast<size_t>(n));
    candidates.push_back(path.substr(0, path.rfind('/')) + "/" + RUSM_BENCH_ENGINE_REL);
  }
  if (std::strlen(RUSM_BENCH_ENGINE_DIR) > 0) {
    candidates.push_back(RUSM_BENCH_ENGINE_DIR);
  }
  std::string searched;
  for (const std::string& dir : candidates) {
    if (file_exists(dir + "/node_runner.mjs")) {
      return dir;
    }
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  return Error("benchmark inputs not found (no node_runner.mjs in " +
               (searched.empty() ? std::string("any directory") : searched) +
               "); build them with `cmake --build build --target bench_engine_inputs` or set "
               "RUSM_BENCH_ENGINE_DIR");
}

std::vector<std::string> corpus_programs() {
  std::vector<std::string> names;
  std::stringstream list(RUSM_BENCH_CORPUS);
  for (std::string name; std::getline(list, name, ',');) {
    if (!name.empty()) {
      names.push_back(name);
    }
  }
  return names;
}

std::optional<std::string> node_path() {
  std::string configured = RUSM_BENCH_NODE;
  if (!configured.empty() && configured.find("NOTFOUND") == std::string::npos &&
      ::access(configured.c_str(), X_OK) == 0) {
    return configured;
  }
  if (std::system("node --version >/dev/null 2>&1") == 0) {
    return std::string("node");
  }
  return std::nullopt;
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error("cannot open " + path);
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  return bytes;
}

Result<nlohmann::json> run_json_command(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) {
    return Error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got > 0) {
      output.append(buf, static_cast<size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  std::optional<nlohmann::json> last;
  std::stringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] == '{') {
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) {
        last = std::move(j);
      }
    }
  }
  std::string tail = output.size() > 400 ? "..." + output.substr(output.size() - 400) : output;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) {
    tail.pop_back();
  }
  std::string who = argv[0].substr(argv[0].rfind('/') + 1);
  if (last && last->contains("error")) {
    return Error(who + ": " + (*last)["error"].get<std::string>());
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string why =
        sig == SIGILL || sig == SIGTRAP ? " (a trap: the program's self-check failed)" : "";
    return Error(who + " died of signal " + std::to_string(sig) + why +
                 (tail.empty() ? "" : ": " + tail));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(who + " exited with status " + std::to_string(WEXITSTATUS(status)) +
                 (tail.empty() ? "" : ": " + tail));
  }
  if (!last) {
    return Error(who + " printed no JSON result" + (tail.empty() ? "" : ": " + tail));
  }
  return *std::move(last);
}

namespace {

using wasm::HostAction;
using wasm::HostCall;

constexpr uint32_t kErrnoSuccess = 0;
constexpr uint32_t kErrnoBadf = 8;

HostAction stub_zero(HostCall& call) {
  const auto& results = call.type().results;
  for (size_t i = 0; i < results.size(); ++i) {
    call.set_result(i, wasm::Value::zero(results[i]));
  }
  return HostAction::kReturn;
}

// fd_write(fd, iovs, iovs_len, nwritten) -> errno: discards the bytes.
HostAction wasi_fd_write(HostCall& call) {
  wasm::Memory* mem = call.memory();
  if (mem == nullptr) {
    return call.trap("fd_write: the caller has no memory");
  }
  uint32_t iovs = call.arg_i32(1), count = call.arg_i32(2), out = call.arg_i32(3);
  uint32_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    if (!mem->read(uint64_t{iovs} + 8ull * i + 4, &len, sizeof len)) {
      return call.trap("fd_write: iovec out of bounds");
    }
    total += len;
  }
  if (!mem->write(out, &total, sizeof total)) {
    return call.trap("fd_write: nwritten out of bounds");
  }
  call.set_result_i32(0, kErrnoSuccess);
  return HostAction::kReturn;
}

// fd_fdstat_get(fd, stat) -> errno: stdin/stdout/stderr are regular files.
HostAction wasi_fd_fdstat_get(HostCall& call) {
  if (call.arg_i32(0) > 2) {
    call.set_result_i32(0, kErrnoBadf);
    return HostAction::kReturn;
  }
  wasm::Memory* mem = call.memory();
  uint8_t stat[24] = {};
  stat[0] = 4;  // filetype: regular file
  uint64_t rights = 0xffffffff;
  std::memcpy(stat + 8, &rights, 8);
  std::memcpy(stat + 16, &rights, 8);
  if (mem == nullptr || !mem->write(call.arg_i32(1), stat, sizeof stat)) {
    return call.trap("fd_fdstat_get: stat out of bounds");
  }
  call.set_result_i32(0, kErrnoSuccess);
  return HostAction::kReturn;
}

// fd_seek(fd, offset, whence, newoffset) -> errno: always at 0.
HostAction wasi_fd_seek(HostCall& call) {
  wasm::Memory* mem = call.memory();
  uint64_t zero = 0;
  if (mem == nullptr || !mem->write(call.arg_i32(3), &zero, sizeof zero)) {
    return call.trap("fd_seek: newoffset out of bounds");
  }
  call.set_result_i32(0, kErrnoSuccess);
  return HostAction::kReturn;
}

HostAction wasi_proc_exit(HostCall& call) {
  return call.trap("proc_exit(" + std::to_string(call.arg_i32(0)) + ")");
}

wasm::HostCallback wasi_callback(std::string_view name) {
  if (name == "fd_write") {
    return wasi_fd_write;
  }
  if (name == "fd_fdstat_get") {
    return wasi_fd_fdstat_get;
  }
  if (name == "fd_seek") {
    return wasi_fd_seek;
  }
  if (name == "proc_exit") {
    return wasi_proc_exit;
  }
  return stub_zero;  // fd_close and the rest: success / zero
}

}  // namespace

Result<wasm::ResolvedImports> ImportStubs::resolve(const wasm::Module& module) {
  wasm::Imports imports;
  for (const wasm::ImportInfo& imp : module.imports()) {
    std::string name = imp.module + "." + imp.name;
    if (imp.kind != wasm::ExternKind::Func) {
      return Error("import " + name + " is a " + wasm::to_string(imp.kind) +
                   "; the benchmark stubs only functions");
    }
    wasm::HostCallback cb =
        imp.module == "wasi_snapshot_preview1" ? wasi_callback(imp.name) : stub_zero;
    functions_.push_back(wasm::Function::host(imp.func, cb, nullptr, name));
    wasm::Extern ext;
    ext.kind = wasm::ExternKind::Func;
    ext.func = functions_.back().get();
    imports.add(imp.module, imp.name, ext);
    stubbed_.push_back(name);
  }
  return wasm::resolve_imports(module, imports);
}

bool is_clean_exit(const wasm::Trap& trap) {
  return trap.code == wasm::TrapCode::kHost && trap.message == "proc_exit(0)";
}

Result<std::vector<wasm::Value>> call_to_end(wasm::Execution& exec, wasm::Function* f,
                                             int64_t fuel_slice,
                                             const std::function<bool()>& stop) {
  if (Status s = exec.begin(f, {}); !s) {
    return s.error();
  }
  for (;;) {
    switch (exec.run(fuel_slice)) {
      case wasm::RunStatus::kFinished:
        return exec.results();
      case wasm::RunStatus::kTrapped:
        return Error("trapped: " + exec.trap().to_string());
      case wasm::RunStatus::kSuspended:
        return Error("suspended at a host call, which no benchmark stub asks for");
      case wasm::RunStatus::kOutOfFuel:
        if (stop && stop()) {
          return Error("stopped");
        }
        break;
    }
  }
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

double geometric_mean(const std::vector<double>& values) {
  if (values.empty()) {
    return 0;
  }
  double log_sum = 0;
  for (double v : values) {
    log_sum += std::log(v);
  }
  return std::exp(log_sum / static_cast<double>(values.size()));
}

std::string format_seconds(double s) {
  char buf[32];
  if (s >= 1) {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  } else if (s >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  } else if (s >= 1e-6) {
    std::snprintf(buf, sizeof buf, "%.2f us", s * 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f ns", s * 1e9);
  }
  return buf;
}

}  // namespace rusm::bench::engine
