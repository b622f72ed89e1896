// One process's WASI state: the file-descriptor table, stdio, the suspended
// call waiting to be redone. Internal to wasi/; embedders see rusm::wasi::Context.
// Used by one thread at a time, like the process it belongs to.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rusm/wasi.h"
#include "wasi/path.h"

namespace rusm::wasi {

// The WASI filetype of a host st_mode.
uint8_t filetype_of_mode(mode_t m);

// An entry in the guest's file-descriptor table.
struct FileDesc {
  enum class Kind : uint8_t { kStdio, kFile, kDir };
  Kind kind = Kind::kFile;
  StdioMode stdio_mode = StdioMode::kNull;  // kStdio only
  int stdio_index = 0;                      // kStdio only: 0, 1 or 2
  Stream* stream = nullptr;                 // kStdio in kStream mode: held by the Config
  HostFd host;                              // kFile / kDir opened by path_open (see host_fd())
  // A preopen: the directory held by the Config, shared with every process
  // given it (never closed or repositioned through this table).
  std::shared_ptr<const Dir> held;
  uint8_t filetype = 0;  // abi::kFiletype*
  uint16_t fdflags = 0;  // abi::kFdflag*
  uint64_t rights_base = 0;
  uint64_t rights_inheriting = 0;
  bool read_only = false;  // opened under a read-only preopen
  // Pipes, character devices, sockets: readiness is polled before each
  // read/write so that the worker thread never blocks.
  bool needs_poll = false;
  std::string preopen_name;  // guest path of a preopened directory ("" otherwise)
  bool is_preopen = false;
  // fd_readdir: a snapshot of the directory, taken when cookie 0 is asked.
  struct DirEntry {
    std::string name;
    uint64_t ino = 0;
    uint8_t type = 0;
  };
  std::vector<DirEntry> dir_entries;
  bool dir_listed = false;

  // The host descriptor to do I/O on: the held Dir, the owned one, the node's
  // own 0/1/2 for inherited stdio, -1 for null/capture stdio.
  int host_fd() const;
};

class ContextImpl final : public Context {
 public:
  // Guest descriptors are bounded so that a guest cannot exhaust the node's.
  static constexpr size_t kMaxFds = 1024;

  explicit ContextImpl(Config config) : config_(std::move(config)) {}
  Status init();

  const Config& config() const override { return config_; }
  const Wait& pending() const override { return pending_; }
  wasm::HostAction resume(wasm::Execution& exec, std::string* trap_message) override;
  std::optional<uint32_t> exit_code() const override { return exit_code_; }
  std::string take_stdout() override { return std::exchange(stdout_, {}); }
  std::string take_stderr() override { return std::exchange(stderr_, {}); }

  // The descriptor table.
  FileDesc* fd(uint32_t n) { return n < fds_.size() ? fds_[n].get() : nullptr; }
  // Installs `d` at the lowest free number; false if the table is full.
  bool add_fd(std::unique_ptr<FileDesc> d, uint32_t* n);
  void close_fd(uint32_t n) { fds_[n].reset(); }
  void renumber(uint32_t from, uint32_t to) { fds_[to] = std::move(fds_[from]); }

  // Captured stdio.
  std::string& captured_out(int index) { return index == 1 ? stdout_ : stderr_; }
  size_t& stdin_pos() { return stdin_pos_; }

  void set_exit_code(uint32_t code) { exit_code_ = code; }

  // Suspension: a host function that returns kSuspend records itself here so
  // that resume() can redo it with the same arguments.
  struct SavedCall {
    wasm::HostCallback callback = nullptr;
    const wasm::FuncType* type = nullptr;
    void* host_data = nullptr;
    wasm::Instance* caller = nullptr;
    uint64_t slots[16] = {};
  };
  void suspend(const wasm::HostCall& call, wasm::HostCallback callback, Wait wait);
  void clear_pending() { pending_ = Wait(); }
  // True while resume() redoes a call (a relative sleep keeps its deadline).
  bool resuming() const { return resuming_; }
  // When the current call was first made (relative timeouts count from here,
  // however many times the call is redone).
  std::chrono::steady_clock::time_point call_start() const { return call_start_; }
  void set_call_start(std::chrono::steady_clock::time_point t) { call_start_ = t; }

 private:
  Config config_;
  std::vector<std::unique_ptr<FileDesc>> fds_;
  std::string stdout_, stderr_;
  size_t stdin_pos_ = 0;
  std::optional<uint32_t> exit_code_;
  Wait pending_;
  SavedCall saved_;
  bool resuming_ = false;
  std::chrono::steady_clock::time_point call_start_;
};

}  // namespace rusm::wasi
