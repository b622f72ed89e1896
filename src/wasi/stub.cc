// STUB of the WASI layer, standing in for the real src/wasi/ (branch `wasi`)
// so that runtime/ links and runs C guests before that branch is merged.
// Delete this file when merging the real implementation.
//
// Implements: args, environ, clocks, fd_write to stdout/stderr (inherit or
// capture), fd_fdstat_get on stdio, fd_prestat_get (no preopens: EBADF),
// sched_yield (suspends with Wait::kYield), proc_exit. Everything else
// returns ENOSYS.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "rusm/wasi.h"

namespace rusm::wasi {
namespace {

using wasm::HostAction;
using wasm::HostCall;
using wasm::ValType;

class StubContext final : public Context {
 public:
  explicit StubContext(Config c) : config_(std::move(c)) {}
  const Config& config() const override { return config_; }
  const Wait& pending() const override { return wait_; }
  HostAction resume(wasm::Execution& exec, std::string*) override {
    wait_ = Wait{};  // only sched_yield suspends here
    wasm::Value r = wasm::Value::i32(0);
    (void)exec.set_host_results({&r, 1});
    return HostAction::kReturn;
  }
  std::optional<uint32_t> exit_code() const override { return exit_code_; }
  std::string take_stdout() override { return std::exchange(out_, {}); }
  std::string take_stderr() override { return std::exchange(err_, {}); }

  Config config_;
  Wait wait_;
  std::optional<uint32_t> exit_code_;
  std::string out_, err_;
};

struct Env {
  ContextLookup lookup;
};

StubContext* ctx_of(HostCall& c) {
  auto* env = static_cast<Env*>(c.host_data());
  Context* ctx = env->lookup ? env->lookup(c) : static_cast<Context*>(c.execution().user_data());
  return static_cast<StubContext*>(ctx);
}

HostAction ret(HostCall& c, uint16_t e) {
  c.set_result_i32(0, e);
  return HostAction::kReturn;
}

// Writes a list of strings as argv/environ do: pointers at ptrs, bytes at buf.
HostAction put_strings(HostCall& c, const std::vector<std::string>& v) {
  wasm::Memory* m = c.memory();
  uint32_t ptrs = c.arg_i32(0), buf = c.arg_i32(1);
  for (const std::string& s : v) {
    if (!m || !m->write(ptrs, &buf, 4) || !m->write(buf, s.c_str(), s.size() + 1)) {
      return ret(c, kErrnoFault);
    }
    ptrs += 4;
    buf += static_cast<uint32_t>(s.size() + 1);
  }
  return ret(c, 0);
}
HostAction put_sizes(HostCall& c, const std::vector<std::string>& v) {
  uint32_t n = static_cast<uint32_t>(v.size()), bytes = 0;
  for (const std::string& s : v) {
    bytes += static_cast<uint32_t>(s.size() + 1);
  }
  wasm::Memory* m = c.memory();
  if (!m || !m->write(c.arg_i32(0), &n, 4) || !m->write(c.arg_i32(1), &bytes, 4)) {
    return ret(c, kErrnoFault);
  }
  return ret(c, 0);
}

HostAction args_get(HostCall& c) {
  return put_strings(c, ctx_of(c)->config_.args);
}
HostAction args_sizes_get(HostCall& c) {
  return put_sizes(c, ctx_of(c)->config_.args);
}
HostAction environ_get(HostCall& c) {
  return put_strings(c, ctx_of(c)->config_.env);
}
HostAction environ_sizes_get(HostCall& c) {
  return put_sizes(c, ctx_of(c)->config_.env);
}

HostAction clock_time_get(HostCall& c) {
  if (!ctx_of(c)->config_.allow_clock) {
    return ret(c, kErrnoNotCapable);
  }
  uint64_t ns = c.arg_i32(0) == 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()
                                  : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count();
  wasm::Memory* m = c.memory();
  return ret(c, m && m->write(c.arg_i32(2), &ns, 8) ? 0 : kErrnoFault);
}
HostAction clock_res_get(HostCall& c) {
  uint64_t ns = 1;
  wasm::Memory* m = c.memory();
  return ret(c, m && m->write(c.arg_i32(1), &ns, 8) ? 0 : kErrnoFault);
}

HostAction fd_write(HostCall& c) {
  StubContext* ctx = ctx_of(c);
  uint32_t fd = c.arg_i32(0), iovs = c.arg_i32(1), n = c.arg_i32(2);
  if (fd != 1 && fd != 2) {
    return ret(c, 8);  // EBADF
  }
  StdioMode mode = fd == 1 ? ctx->config_.stdout_mode : ctx->config_.stderr_mode;
  wasm::Memory* m = c.memory();
  uint32_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t io[2];
    if (!m || !m->read(iovs + 8 * i, io, 8)) {
      return ret(c, kErrnoFault);
    }
    const uint8_t* p = m->read_span(io[0], io[1]);
    if (p == nullptr) {
      return ret(c, kErrnoFault);
    }
    if (mode == StdioMode::kInherit) {
      (void)!::write(static_cast<int>(fd), p, io[1]);
    } else if (mode == StdioMode::kCapture) {
      (fd == 1 ? ctx->out_ : ctx->err_).append(reinterpret_cast<const char*>(p), io[1]);
    }
    total += io[1];
  }
  return ret(c, m->write(c.arg_i32(3), &total, 4) ? 0 : kErrnoFault);
}

HostAction fd_fdstat_get(HostCall& c) {
  if (c.arg_i32(0) > 2) {
    return ret(c, 8);
  }
  uint8_t st[24] = {2};  // character device, no flags, all rights
  std::memset(st + 8, 0xff, 16);
  wasm::Memory* m = c.memory();
  return ret(c, m && m->write(c.arg_i32(1), st, 24) ? 0 : kErrnoFault);
}
HostAction fd_prestat_get(HostCall& c) {
  return ret(c, 8);
}  // EBADF: no preopens
HostAction sched_yield(HostCall& c) {
  ctx_of(c)->wait_.kind = Wait::Kind::kYield;
  return HostAction::kSuspend;
}
HostAction proc_exit(HostCall& c) {
  ctx_of(c)->exit_code_ = c.arg_i32(0);
  return c.trap("proc_exit(" + std::to_string(c.arg_i32(0)) + ")");
}
HostAction enosys(HostCall& c) {
  return ret(c, kErrnoNoSys);
}

struct Def {
  const char* name;
  const char* params;  // 'i' = i32, 'I' = i64
  wasm::HostCallback cb;
};
const Def kDefs[] = {
    {"args_get", "ii", args_get},
    {"args_sizes_get", "ii", args_sizes_get},
    {"environ_get", "ii", environ_get},
    {"environ_sizes_get", "ii", environ_sizes_get},
    {"clock_res_get", "ii", clock_res_get},
    {"clock_time_get", "iIi", clock_time_get},
    {"fd_advise", "iIIi", enosys},
    {"fd_allocate", "iII", enosys},
    {"fd_close", "i", enosys},
    {"fd_datasync", "i", enosys},
    {"fd_fdstat_get", "ii", fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii", enosys},
    {"fd_fdstat_set_rights", "iII", enosys},
    {"fd_filestat_get", "ii", enosys},
    {"fd_filestat_set_size", "iI", enosys},
    {"fd_filestat_set_times", "iIIi", enosys},
    {"fd_pread", "iiiIi", enosys},
    {"fd_prestat_get", "ii", fd_prestat_get},
    {"fd_prestat_dir_name", "iii", enosys},
    {"fd_pwrite", "iiiIi", enosys},
    {"fd_read", "iiii", enosys},
    {"fd_readdir", "iiiIi", enosys},
    {"fd_renumber", "ii", enosys},
    {"fd_seek", "iIii", enosys},
    {"fd_sync", "i", enosys},
    {"fd_tell", "ii", enosys},
    {"fd_write", "iiii", fd_write},
    {"path_create_directory", "iii", enosys},
    {"path_filestat_get", "iiiii", enosys},
    {"path_filestat_set_times", "iiiiIIi", enosys},
    {"path_link", "iiiiiii", enosys},
    {"path_open", "iiiiiIIii", enosys},
    {"path_readlink", "iiiiii", enosys},
    {"path_remove_directory", "iii", enosys},
    {"path_rename", "iiiiii", enosys},
    {"path_symlink", "iiiii", enosys},
    {"path_unlink_file", "iii", enosys},
    {"poll_oneoff", "iiii", enosys},
    {"proc_exit", "i", proc_exit},
    {"proc_raise", "i", enosys},
    {"random_get", "ii", enosys},
    {"sched_yield", "", sched_yield},
    {"sock_accept", "iii", enosys},
    {"sock_recv", "iiiiii", enosys},
    {"sock_send", "iiiii", enosys},
    {"sock_shutdown", "ii", enosys},
};

}  // namespace

Result<std::unique_ptr<Context>> Context::create(Config config) {
  return std::unique_ptr<Context>(new StubContext(std::move(config)));
}

struct HostFunctions::Impl {
  Env env;
  std::vector<std::unique_ptr<wasm::Function>> funcs;
  std::unordered_set<const wasm::Function*> set;
};

HostFunctions::HostFunctions(ContextLookup lookup) : impl_(std::make_unique<Impl>()) {
  impl_->env.lookup = lookup;
  for (const Def& d : kDefs) {
    wasm::FuncType t;
    for (const char* p = d.params; *p; ++p) {
      t.params.push_back(*p == 'I' ? ValType::I64 : ValType::I32);
    }
    if (std::strcmp(d.name, "proc_exit") != 0) {
      t.results.push_back(ValType::I32);
    }
    impl_->funcs.push_back(wasm::Function::host(std::move(t), d.cb, &impl_->env, d.name));
    impl_->set.insert(impl_->funcs.back().get());
  }
}
HostFunctions::~HostFunctions() = default;

void HostFunctions::add_to(wasm::Imports& imports) const {
  for (size_t i = 0; i < impl_->funcs.size(); ++i) {
    wasm::Extern e;
    e.func = impl_->funcs[i].get();
    imports.add(kModuleName, kDefs[i].name, e);
  }
}
bool HostFunctions::owns(const wasm::Function* f) const {
  return impl_->set.count(f) != 0;
}

}  // namespace rusm::wasi
