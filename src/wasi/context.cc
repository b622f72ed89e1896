#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wasi/abi.h"
#include "wasi/context_impl.h"

namespace rusm::wasi {

int FileDesc::host_fd() const {
  if (kind == Kind::kStdio) {
    return stdio_mode == StdioMode::kInherit ? stdio_index : -1;
  }
  return held ? held->fd() : host.get();
}

Result<std::shared_ptr<const Dir>> Dir::open(const std::string& host_path) {
  int fd = ::open(host_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error("cannot open directory '" + host_path + "': " + std::strerror(errno));
  }
  return std::shared_ptr<const Dir>(new Dir(fd, host_path));
}

Dir::~Dir() {
  ::close(fd_);
}

Result<Preopen> Preopen::open(const std::string& host_path, std::string guest_path,
                              bool read_only) {
  auto dir = Dir::open(host_path);
  if (!dir) {
    return Error("preopen '" + guest_path + "': " + dir.message());
  }
  Preopen p;
  p.dir = std::move(*dir);
  p.guest_path = std::move(guest_path);
  p.read_only = read_only;
  return p;
}

uint8_t filetype_of_mode(mode_t m) {
  if (S_ISREG(m)) {
    return abi::kFiletypeRegularFile;
  }
  if (S_ISDIR(m)) {
    return abi::kFiletypeDirectory;
  }
  if (S_ISCHR(m)) {
    return abi::kFiletypeCharacterDevice;
  }
  if (S_ISBLK(m)) {
    return abi::kFiletypeBlockDevice;
  }
  if (S_ISSOCK(m)) {
    return abi::kFiletypeSocketStream;
  }
  if (S_ISLNK(m)) {
    return abi::kFiletypeSymbolicLink;
  }
  return abi::kFiletypeUnknown;
}

Status ContextImpl::init() {
  const StdioMode modes[3] = {config_.stdin_mode, config_.stdout_mode, config_.stderr_mode};
  Stream* const streams[3] = {config_.stdin_stream.get(), config_.stdout_stream.get(),
                              config_.stderr_stream.get()};
  for (int i = 0; i < 3; ++i) {
    auto d = std::make_unique<FileDesc>();
    d->kind = FileDesc::Kind::kStdio;
    d->stdio_mode = modes[i];
    d->stdio_index = i;
    d->filetype = abi::kFiletypeCharacterDevice;
    if (modes[i] == StdioMode::kStream) {
      d->stream = streams[i];
      if (d->stream == nullptr) {
        d->stdio_mode = StdioMode::kNull;
      } else {
        // Like a pipe: not a terminal, so the guest's libc buffers stdout
        // fully instead of writing line by line.
        d->filetype = abi::kFiletypeUnknown;
      }
    }
    if (modes[i] == StdioMode::kInherit) {
      struct stat st;
      if (fstat(i, &st) == 0) {
        d->filetype = filetype_of_mode(st.st_mode);
        d->needs_poll = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
      }
    }
    d->rights_base = (i == 0 ? abi::kRightFdRead : abi::kRightFdWrite) |
                     abi::kRightFdFdstatSetFlags | abi::kRightFdFilestatGet |
                     abi::kRightPollFdReadwrite;
    fds_.push_back(std::move(d));
  }
  for (const Preopen& p : config_.preopens) {
    if (!p.dir) {
      return Error("wasi: preopen '" + p.guest_path +
                   "' holds no directory (open it with Preopen::open)");
    }
    auto d = std::make_unique<FileDesc>();
    d->kind = FileDesc::Kind::kDir;
    d->held = p.dir;  // shared, never reopened: see Dir in rusm/wasi.h
    d->filetype = abi::kFiletypeDirectory;
    d->read_only = p.read_only;
    // A directory's own rights; everything for what is opened beneath it.
    uint64_t no_write = p.read_only ? ~abi::kRightsWrite : ~uint64_t{0};
    d->rights_base = abi::kRightsDirectory & no_write;
    d->rights_inheriting = abi::kRightsAll & no_write;
    d->is_preopen = true;
    d->preopen_name = p.guest_path;
    uint32_t n;
    if (!add_fd(std::move(d), &n)) {
      return Error("wasi: too many preopened directories");
    }
  }
  return Status::ok();
}

bool ContextImpl::add_fd(std::unique_ptr<FileDesc> d, uint32_t* n) {
  for (size_t i = 0; i < fds_.size(); ++i) {
    if (!fds_[i]) {
      fds_[i] = std::move(d);
      *n = static_cast<uint32_t>(i);
      return true;
    }
  }
  if (fds_.size() >= kMaxFds) {
    return false;
  }
  *n = static_cast<uint32_t>(fds_.size());
  fds_.push_back(std::move(d));
  return true;
}

void ContextImpl::suspend(const wasm::HostCall& call, wasm::HostCallback callback, Wait wait) {
  saved_.callback = callback;
  saved_.type = &call.type();
  saved_.host_data = call.host_data();
  saved_.caller = call.caller();
  size_t n = std::min<size_t>(call.type().params.size(), std::size(saved_.slots));
  for (size_t i = 0; i < n; ++i) {
    saved_.slots[i] = call.arg_i64(i);  // every WASI parameter is one i32 or i64 slot
  }
  pending_ = wait;
}

wasm::HostAction ContextImpl::resume(wasm::Execution& exec, std::string* trap_message) {
  if (exec.status() != wasm::RunStatus::kSuspended || saved_.callback == nullptr) {
    if (trap_message != nullptr) {
      *trap_message = "wasi: resume() without a suspended WASI call";
    }
    return wasm::HostAction::kTrap;
  }
  uint64_t slots[16];
  std::memcpy(slots, saved_.slots, sizeof(slots));
  wasm::HostCall call(&exec, saved_.caller, saved_.type, saved_.host_data, slots);
  wasm::HostCallback callback = saved_.callback;
  pending_ = Wait();
  resuming_ = true;
  wasm::HostAction action = callback(call);
  resuming_ = false;
  switch (action) {
    case wasm::HostAction::kSuspend:
      return action;
    case wasm::HostAction::kTrap:
      if (trap_message != nullptr) {
        *trap_message = std::move(call.trap_message());
      }
      saved_ = SavedCall();
      return action;
    case wasm::HostAction::kReturn:
      break;
  }
  std::vector<wasm::Value> results;
  for (wasm::ValType t : saved_.type->results) {
    results.push_back(t == wasm::ValType::I64
                          ? wasm::Value::i64(slots[results.size()])
                          : wasm::Value::i32(static_cast<uint32_t>(slots[results.size()])));
  }
  saved_ = SavedCall();
  Status s = exec.set_host_results(results);
  if (!s) {
    if (trap_message != nullptr) {
      *trap_message = "wasi: " + s.message();
    }
    return wasm::HostAction::kTrap;
  }
  return wasm::HostAction::kReturn;
}

Result<std::unique_ptr<Context>> Context::create(Config config) {
  auto ctx = std::make_unique<ContextImpl>(std::move(config));
  Status s = ctx->init();
  if (!s) {
    return s.error();
  }
  return std::unique_ptr<Context>(std::move(ctx));
}

}  // namespace rusm::wasi
