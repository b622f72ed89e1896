// WASI preview 1 (`wasi_snapshot_preview1`) for rusm processes.
//
// The contract between wasi/ and the layer that drives instances (runtime/,
// or a test):
//
//   - HostFunctions holds the host functions, created once and shared by every
//     instance on every thread. They are stateless: each call finds its
//     process's Context through the `lookup` the embedder supplies (typically
//     from Execution::user_data()).
//   - A Context is one process's WASI state: its configuration and
//     capabilities, its file-descriptor table, captured output, exit code. It
//     is used by one thread at a time (the thread running its process).
//   - Every call is checked against the Context's capabilities. A denied call
//     returns ENOTCAPABLE (76) to the guest, it never traps. A call rusm does
//     not support returns ENOSYS (52) or ENOTSUP (58).
//   - A call that would block (sleeping in poll_oneoff, reading an empty pipe
//     or stdin, sched_yield) records what it waits for in pending() and
//     returns HostAction::kSuspend: the Execution stops with status
//     kSuspended, the process waits (never the worker thread), and when the
//     wait is over the driver calls resume(), which redoes the call and
//     writes its results (or suspends again and updates pending()).
//   - proc_exit records the code in exit_code() and traps with the message
//     "proc_exit(N)"; the driver turns that into the process's exit.
//   - Bad guest pointers or lengths give EFAULT (21) or EINVAL (28), never a
//     host crash.
//   - Stdio may be a host-provided Stream (StdioMode::kStream): a read on
//     stdin or a write on stdout that the stream cannot take now suspends
//     the process (Wait::kStream) until the stream calls the waker it was
//     given (Stream::notify), e.g. when request-body bytes arrive or the
//     connection's write buffer drains.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rusm/result.h"
#include "rusm/wasm.h"

namespace rusm::wasi {

inline constexpr const char* kModuleName = "wasi_snapshot_preview1";

// WASI errno values used by the contract above.
inline constexpr uint16_t kErrnoFault = 21;
inline constexpr uint16_t kErrnoInval = 28;
inline constexpr uint16_t kErrnoNoSys = 52;
inline constexpr uint16_t kErrnoNotSup = 58;
inline constexpr uint16_t kErrnoNotCapable = 76;

enum class StdioMode : uint8_t {
  kNull,     // reads see end of file, writes are discarded
  kInherit,  // the node's own stdin/stdout/stderr
  kCapture,  // stdin from Config::stdin_data; output kept in the Context
  kStream,   // a host-provided Stream (Config::stdin_stream, ...); kNull if none is set
};

// A host-provided stdio stream (StdioMode::kStream): how an embedder feeds a
// process's stdin and takes its stdout/stderr without a host descriptor (the
// serving layer's CGI routes: request body in, response out).
//
// read() and write() never block: they take or give what they can now, or
// say kWouldBlock; the WASI call then suspends the process and asks
// notify() for a wake-up. They run on the thread running the process (they
// may copy to and from guest memory, `out` and `data` point into it) and
// must not keep the spans. notify() is called from that thread too; the
// stream calls `wake` later, once, from any thread (or inline, if it is
// ready already). A wake that turns out early is harmless: the call is
// redone and may suspend again. Implementations are thread-safe.
class Stream {
 public:
  static constexpr int64_t kWouldBlock = -1;  // nothing now; notify() to hear when
  static constexpr int64_t kBroken = -2;      // gone for good (the guest sees EPIPE)

  virtual ~Stream() = default;
  // Bytes copied into `out` (> 0), 0 at end of stream, kWouldBlock or
  // kBroken. The default: end of stream.
  virtual int64_t read(std::span<uint8_t> out) {
    (void)out;
    return 0;
  }
  // Bytes taken from `data` (> 0; may be fewer than offered), kWouldBlock or
  // kBroken. Never called with empty data. The default: kBroken.
  virtual int64_t write(std::span<const uint8_t> data) {
    (void)data;
    return kBroken;
  }
  // For poll_oneoff: whether read() (writing = false) or write() would not
  // give kWouldBlock now; `nbytes` is what a read would get (0 if unknown),
  // `hangup` that the stream has ended or broken.
  struct Readiness {
    bool ready = true;
    uint64_t nbytes = 0;
    bool hangup = false;
  };
  virtual Readiness readiness(bool writing) = 0;
  // Calls `wake` once when a read (writing = false) or a write may no longer
  // give kWouldBlock. A newer notify() replaces an older, uncalled one.
  virtual void notify(bool writing, std::function<void()> wake) = 0;
};

// A host directory held open: the file-system capability itself. It is
// opened once, by whoever grants it (`rusm run`, an embedder), and every
// process given it works through this descriptor; nothing ever resolves its
// host path again. Renaming the directory, or planting a symlink at its old
// path, changes nothing for the processes that hold it: a child or a
// supervisor's restarted child gets the same directory as its parent.
// Immutable and thread-safe; shared by reference (shared_ptr) between a
// process, its children and the child specs that restart them, and closed
// when the last holder lets go.
class Dir {
 public:
  // Opens `host_path` (O_RDONLY | O_DIRECTORY | O_CLOEXEC). The error names
  // the path and the reason.
  static Result<std::shared_ptr<const Dir>> open(const std::string& host_path);
  ~Dir();
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;

  int fd() const { return fd_; }
  // The path it was opened from: for messages only, never opened again.
  const std::string& host_path() const { return host_path_; }

 private:
  Dir(int fd, std::string host_path) : fd_(fd), host_path_(std::move(host_path)) {}
  int fd_;
  std::string host_path_;
};

// A held directory the guest sees at `guest_path`. The guest can never reach
// outside it (no escape through "..", absolute paths or symlinks), and
// cannot create symlinks with absolute targets in it.
struct Preopen {
  std::shared_ptr<const Dir> dir;  // required: Context::create refuses a preopen without one
  std::string guest_path;
  bool read_only = false;  // no write under it, in this process or any child

  // Opens `host_path` once (Dir::open) and names it `guest_path`.
  static Result<Preopen> open(const std::string& host_path, std::string guest_path,
                              bool read_only = false);
};

// A process's WASI configuration; everything not granted is denied.
struct Config {
  std::vector<std::string> args;  // argv, args[0] = program name
  std::vector<std::string> env;   // "NAME=VALUE" entries the guest sees (already filtered)
  StdioMode stdin_mode = StdioMode::kNull;
  StdioMode stdout_mode = StdioMode::kNull;
  StdioMode stderr_mode = StdioMode::kNull;
  std::string stdin_data;  // what a kCapture stdin reads
  // kStream stdio: the streams (shared with the embedder; a process keeps
  // them alive while it runs).
  std::shared_ptr<Stream> stdin_stream;
  std::shared_ptr<Stream> stdout_stream;
  std::shared_ptr<Stream> stderr_stream;
  std::vector<Preopen> preopens;
  bool allow_clock = false;   // clock_time_get / clock_res_get / clock subscriptions
  bool allow_random = false;  // random_get
};

// What a suspended call waits for.
struct Wait {
  enum class Kind : uint8_t {
    kNone,      // not suspended in a WASI call
    kYield,     // sched_yield: run again after others had their turn
    kDeadline,  // sleep until `deadline`
    kFdRead,    // until host_fd is readable, or `deadline`
    kFdWrite,   // until host_fd is writable, or `deadline`
    kStream,    // until `stream` wakes (Stream::notify for `writing`), or `deadline`
  };
  Kind kind = Kind::kNone;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  int host_fd = -1;
  Stream* stream = nullptr;  // kStream: owned by the Config, alive while the process is
  bool writing = false;      // kStream: waiting to write (else to read)
};

class Context {
 public:
  // Sets up the descriptor table: stdio, then config.preopens as fds 3, 4, ...
  // sharing each preopen's held Dir (no system call per preopen). Error: a
  // preopen without a Dir, or more preopens than the table holds.
  static Result<std::unique_ptr<Context>> create(Config config);
  virtual ~Context() = default;

  virtual const Config& config() const = 0;
  // What the last suspended call waits for (kind kNone if none).
  virtual const Wait& pending() const = 0;
  // After the wait in pending() is over (or its deadline passed): redo the
  // suspended call on `exec` (which must be kSuspended in a WASI function)
  // and set its results. Returns kReturn (resume the Execution with run()),
  // kSuspend (still blocked; pending() says on what) or kTrap (with the
  // message in *trap_message).
  virtual wasm::HostAction resume(wasm::Execution& exec, std::string* trap_message) = 0;

  virtual std::optional<uint32_t> exit_code() const = 0;
  // Output written to kCapture stdout / stderr so far; take_* clears it.
  virtual std::string take_stdout() = 0;
  virtual std::string take_stderr() = 0;
};

using ContextLookup = Context* (*)(wasm::HostCall& call);

// What a call asked for that its Config does not give: a clock or
// randomness not allowed (the call got ENOTCAPABLE), the environment while
// Config::env is empty, a preopened directory while Config::preopens is
// empty (fd_prestat_get, which is how a guest looks for one). Reported to
// the embedder's RefusalHook, on the thread running the call, after it; the
// guest sees the same result either way.
enum class Refusal : uint8_t { kClock, kRandom, kEnv, kFs };
using RefusalHook = void (*)(wasm::HostCall& call, Refusal what);

// The wasi_snapshot_preview1 host functions. Thread-safe and immutable once
// built; must outlive every instance that imports them.
class HostFunctions {
 public:
  // `lookup` = nullptr means "Execution::user_data() is the Context*".
  // `on_refused` (optional) hears every Refusal.
  explicit HostFunctions(ContextLookup lookup = nullptr, RefusalHook on_refused = nullptr);
  ~HostFunctions();
  HostFunctions(const HostFunctions&) = delete;
  HostFunctions& operator=(const HostFunctions&) = delete;

  // Adds every function under kModuleName.
  void add_to(wasm::Imports& imports) const;
  // True if `f` is one of these functions (the driver asks when an Execution
  // suspends, to know it should consult the Context's pending()).
  bool owns(const wasm::Function* f) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rusm::wasi
