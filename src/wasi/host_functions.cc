// The wasi_snapshot_preview1 host functions that are not about files:
// args, environ, clocks, random, poll_oneoff, proc_*, sched_yield, sock_*;
// and HostFunctions, which registers them all.
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "rusm/wasi.h"
#include "wasi/call.h"

namespace rusm::wasi {
namespace calls {
namespace {

// argv/environ-style: pointers to NUL-terminated strings packed in one buffer.
int string_list_sizes(Call& c, const std::vector<std::string>& list) {
  uint64_t bytes = 0;
  for (const std::string& s : list) {
    bytes += s.size() + 1;
  }
  if (!c.store<uint32_t>(c.u32(0), static_cast<uint32_t>(list.size())) ||
      !c.store<uint32_t>(c.u32(1), static_cast<uint32_t>(bytes))) {
    return abi::kFault;
  }
  return abi::kSuccess;
}

int string_list_get(Call& c, const std::vector<std::string>& list) {
  uint64_t ptrs = c.u32(0);
  uint64_t buf = c.u32(1);
  uint64_t bytes = 0;
  for (const std::string& s : list) {
    bytes += s.size() + 1;
  }
  if (c.span(ptrs, uint64_t{4} * list.size()) == nullptr || c.span(buf, bytes) == nullptr) {
    return abi::kFault;
  }
  c.charge(bytes + uint64_t{4} * list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    c.store<uint32_t>(ptrs + 4 * i, static_cast<uint32_t>(buf));
    uint8_t* p = c.span(buf, list[i].size() + 1);
    std::memcpy(p, list[i].c_str(), list[i].size() + 1);
    buf += list[i].size() + 1;
  }
  return abi::kSuccess;
}

bool host_clock(uint32_t id, clockid_t* out) {
  switch (id) {
    case abi::kClockRealtime:
      *out = CLOCK_REALTIME;
      return true;
    case abi::kClockMonotonic:
      *out = CLOCK_MONOTONIC;
      return true;
    case abi::kClockProcessCputime:
      *out = CLOCK_PROCESS_CPUTIME_ID;
      return true;
    case abi::kClockThreadCputime:
      *out = CLOCK_THREAD_CPUTIME_ID;
      return true;
    default:
      return false;
  }
}

uint64_t now_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return to_ns(ts);
}

struct Event {
  uint64_t userdata = 0;
  uint16_t error = 0;
  uint8_t type = 0;
  uint64_t nbytes = 0;
  uint16_t flags = 0;
};

void write_event(Call& c, uint64_t at, const Event& e) {
  uint8_t* p = c.span(at, abi::kEventSize);  // checked by the caller
  std::memset(p, 0, abi::kEventSize);
  std::memcpy(p + 0, &e.userdata, 8);
  std::memcpy(p + 8, &e.error, 2);
  p[10] = e.type;
  std::memcpy(p + 16, &e.nbytes, 8);
  std::memcpy(p + 24, &e.flags, 2);
}

}  // namespace

int args_sizes_get(Call& c) {
  return string_list_sizes(c, c.ctx.config().args);
}
int args_get(Call& c) {
  return string_list_get(c, c.ctx.config().args);
}
int environ_sizes_get(Call& c) {
  if (c.ctx.config().env.empty()) {
    c.refusal(Refusal::kEnv);
  }
  return string_list_sizes(c, c.ctx.config().env);
}
int environ_get(Call& c) {
  if (c.ctx.config().env.empty()) {
    c.refusal(Refusal::kEnv);
  }
  return string_list_get(c, c.ctx.config().env);
}

int clock_res_get(Call& c) {
  if (!c.ctx.config().allow_clock) {
    c.refusal(Refusal::kClock);
    return abi::kNotcapable;
  }
  clockid_t id;
  if (!host_clock(c.u32(0), &id)) {
    return abi::kInval;
  }
  struct timespec ts;
  if (clock_getres(id, &ts) != 0) {
    return abi::kInval;
  }
  return c.store<uint64_t>(c.u32(1), to_ns(ts)) ? abi::kSuccess : abi::kFault;
}

int clock_time_get(Call& c) {
  if (!c.ctx.config().allow_clock) {
    c.refusal(Refusal::kClock);
    return abi::kNotcapable;
  }
  clockid_t id;
  if (!host_clock(c.u32(0), &id)) {
    return abi::kInval;
  }
  return c.store<uint64_t>(c.u32(2), now_ns(id)) ? abi::kSuccess : abi::kFault;
}

int random_get(Call& c) {
  if (!c.ctx.config().allow_random) {
    c.refusal(Refusal::kRandom);
    return abi::kNotcapable;
  }
  uint32_t len = c.u32(1);
  uint8_t* p = c.span(c.u32(0), len);
  if (p == nullptr) {
    return abi::kFault;
  }
  c.charge(len);
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(p + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return abi::kIo;
    }
    done += static_cast<size_t>(n);
  }
  return abi::kSuccess;
}

// Subscriptions are answered at once when something is ready; otherwise the
// process suspends until the earliest clock deadline (Wait::kDeadline), or
// until its one polled descriptor is ready (kFdRead / kFdWrite). With
// several descriptors to watch, it re-polls every few milliseconds instead,
// since a Wait names one descriptor. A kStream stdio descriptor asks its
// Stream (Wait::kStream when it is the only one).
int poll_oneoff(Call& c) {
  using Clock = std::chrono::steady_clock;
  uint64_t in = c.u32(0);
  uint64_t out = c.u32(1);
  uint32_t nsubs = c.u32(2);
  uint64_t nevents_ptr = c.u32(3);
  if (nsubs == 0 || nsubs > kMaxSubscriptions) {
    return abi::kInval;
  }
  const uint8_t* subs = c.read_span(in, uint64_t{abi::kSubscriptionSize} * nsubs);
  if (subs == nullptr || c.span(out, uint64_t{abi::kEventSize} * nsubs) == nullptr ||
      c.span(nevents_ptr, 4) == nullptr) {
    return abi::kFault;
  }
  c.charge(uint64_t{abi::kSubscriptionSize + abi::kEventSize} * nsubs);
  const Clock::time_point start = c.ctx.call_start();
  const Clock::time_point now = Clock::now();
  Clock::time_point earliest = Clock::time_point::max();
  std::vector<Event> events;
  std::vector<struct pollfd> pollfds;
  std::vector<Event> poll_events;  // the event each pollfd would produce
  struct StreamSub {
    Stream* stream;
    bool writing;
  };
  std::vector<StreamSub> streams;  // kStream descriptors not ready yet
  for (uint32_t i = 0; i < nsubs; ++i) {
    const uint8_t* s = subs + uint64_t{abi::kSubscriptionSize} * i;
    Event e;
    std::memcpy(&e.userdata, s, 8);
    e.type = s[8];
    if (e.type == abi::kEventClock) {
      uint32_t id;
      uint64_t timeout;
      uint16_t flags;
      std::memcpy(&id, s + 16, 4);
      std::memcpy(&timeout, s + 24, 8);
      std::memcpy(&flags, s + 40, 2);
      if (!c.ctx.config().allow_clock) {
        c.refusal(Refusal::kClock);
        e.error = abi::kNotcapable;
        events.push_back(e);
        continue;
      }
      Clock::time_point deadline;
      // Durations are capped at ~292 years so the arithmetic cannot overflow.
      auto ns = [](uint64_t v) {
        return std::chrono::nanoseconds(std::min<uint64_t>(v, uint64_t{1} << 62));
      };
      if ((flags & abi::kSubclockAbstime) == 0) {
        deadline = start + ns(timeout);
      } else if (id == abi::kClockMonotonic) {
        deadline = Clock::time_point(ns(timeout));
      } else if (id == abi::kClockRealtime) {
        uint64_t real = now_ns(CLOCK_REALTIME);
        deadline = timeout <= real ? now : now + ns(timeout - real);
      } else {
        e.error = abi::kNotsup;
        events.push_back(e);
        continue;
      }
      if (id != abi::kClockMonotonic && id != abi::kClockRealtime) {
        e.error = abi::kNotsup;  // sleeping on a CPU-time clock
        events.push_back(e);
        continue;
      }
      if (deadline <= now) {
        events.push_back(e);
      } else {
        earliest = std::min(earliest, deadline);
      }
      continue;
    }
    if (e.type != abi::kEventFdRead && e.type != abi::kEventFdWrite) {
      e.error = abi::kInval;
      events.push_back(e);
      continue;
    }
    uint32_t fdn;
    std::memcpy(&fdn, s + 16, 4);
    FileDesc* d = c.ctx.fd(fdn);
    bool reading = e.type == abi::kEventFdRead;
    if (d == nullptr) {
      e.error = abi::kBadf;
      events.push_back(e);
      continue;
    }
    if ((d->rights_base & (reading ? abi::kRightFdRead : abi::kRightFdWrite)) == 0) {
      e.error = d->kind == FileDesc::Kind::kStdio ? abi::kBadf : abi::kNotcapable;
      events.push_back(e);
      continue;
    }
    if (d->stream != nullptr) {
      Stream::Readiness r = d->stream->readiness(!reading);
      if (r.ready || r.hangup) {
        e.nbytes = r.nbytes;
        e.flags = r.hangup ? abi::kEventRwHangup : 0;
        events.push_back(e);
      } else {
        streams.push_back({d->stream, !reading});
      }
      continue;
    }
    if (d->kind == FileDesc::Kind::kStdio && d->stdio_mode != StdioMode::kInherit) {
      if (reading) {
        size_t left = d->stdio_mode == StdioMode::kCapture
                          ? c.ctx.config().stdin_data.size() - c.ctx.stdin_pos()
                          : 0;
        e.nbytes = left;
        e.flags = left == 0 ? abi::kEventRwHangup : 0;
      }
      events.push_back(e);
      continue;
    }
    if (!d->needs_poll) {
      if (reading && d->filetype == abi::kFiletypeRegularFile) {
        struct stat st;
        off_t pos = lseek(d->host_fd(), 0, SEEK_CUR);
        if (fstat(d->host_fd(), &st) == 0 && pos >= 0 && st.st_size > pos) {
          e.nbytes = static_cast<uint64_t>(st.st_size - pos);
        }
      }
      events.push_back(e);
      continue;
    }
    pollfds.push_back({d->host_fd(), static_cast<short>(reading ? POLLIN : POLLOUT), 0});
    poll_events.push_back(e);
  }
  if (!pollfds.empty() && ::poll(pollfds.data(), pollfds.size(), 0) > 0) {
    for (size_t i = 0; i < pollfds.size(); ++i) {
      if (pollfds[i].revents == 0) {
        continue;
      }
      Event e = poll_events[i];
      if ((pollfds[i].revents & POLLHUP) != 0) {
        e.flags = abi::kEventRwHangup;
      }
      int avail = 0;
      if (e.type == abi::kEventFdRead && ioctl(pollfds[i].fd, FIONREAD, &avail) == 0 && avail > 0) {
        e.nbytes = static_cast<uint64_t>(avail);
      }
      events.push_back(e);
    }
  }
  if (events.empty()) {
    Wait w;
    w.deadline = earliest;
    if (pollfds.empty() && streams.size() == 1) {
      w.kind = Wait::Kind::kStream;
      w.stream = streams[0].stream;
      w.writing = streams[0].writing;
    } else if (!streams.empty()) {
      w.kind = Wait::Kind::kDeadline;
      w.deadline = std::min(earliest, now + std::chrono::milliseconds(5));
    } else if (pollfds.empty()) {
      w.kind = Wait::Kind::kDeadline;
    } else if (pollfds.size() == 1) {
      w.kind = pollfds[0].events == POLLIN ? Wait::Kind::kFdRead : Wait::Kind::kFdWrite;
      w.host_fd = pollfds[0].fd;
    } else {
      w.kind = Wait::Kind::kDeadline;
      w.deadline = std::min(earliest, now + std::chrono::milliseconds(5));
    }
    return c.suspend(w);
  }
  for (size_t i = 0; i < events.size(); ++i) {
    write_event(c, out + uint64_t{abi::kEventSize} * i, events[i]);
  }
  c.store<uint32_t>(nevents_ptr, static_cast<uint32_t>(events.size()));
  return abi::kSuccess;
}

int proc_exit(Call& c) {
  uint32_t code = c.u32(0);
  c.ctx.set_exit_code(code);
  c.hc.trap("proc_exit(" + std::to_string(code) + ")");
  return kTrapped;
}

int proc_raise(Call&) {
  return abi::kNosys;
}

int sched_yield(Call& c) {
  if (c.ctx.resuming()) {
    return abi::kSuccess;
  }
  Wait w;
  w.kind = Wait::Kind::kYield;
  return c.suspend(w);
}

// rusm grants no socket descriptors yet (preview 1 has no sock_open, and no
// preopened sockets are configured), so the sock_* calls only tell a bad
// descriptor (EBADF) from one that is not a socket (ENOTSOCK). The one way to
// hold a socket is inherited stdio connected to one: not supported yet
// (ENOTSUP), since shutting it down would act on the node's own descriptor.
namespace {
int not_a_socket(Call& c) {
  const FileDesc* d = c.ctx.fd(c.u32(0));
  if (d == nullptr) {
    return abi::kBadf;
  }
  if (d->filetype == abi::kFiletypeSocketStream || d->filetype == abi::kFiletypeSocketDgram) {
    return abi::kNotsup;
  }
  return abi::kNotsock;
}
}  // namespace

int sock_accept(Call& c) {
  return not_a_socket(c);
}
int sock_recv(Call& c) {
  return not_a_socket(c);
}
int sock_send(Call& c) {
  return not_a_socket(c);
}
int sock_shutdown(Call& c) {
  return not_a_socket(c);
}

}  // namespace calls

// ---------------------------------------------------------------------------
// Registration

namespace {
// What each host function gets as its host_data.
struct Shared {
  ContextLookup lookup = nullptr;
  RefusalHook on_refused = nullptr;
};
}  // namespace

struct HostFunctions::Impl {
  Shared shared;
  struct Entry {
    const char* name;
    std::unique_ptr<wasm::Function> func;
  };
  std::vector<Entry> functions;
};

namespace {

template <int (*Fn)(Call&)>
wasm::HostAction entry(wasm::HostCall& hc) {
  auto* shared = static_cast<const Shared*>(hc.host_data());
  Context* base = shared->lookup != nullptr ? shared->lookup(hc)
                                            : static_cast<Context*>(hc.execution().user_data());
  if (base == nullptr) {
    return hc.trap("wasi: the process has no WASI context");
  }
  auto& ctx = static_cast<ContextImpl&>(*base);
  if (!ctx.resuming()) {
    ctx.set_call_start(std::chrono::steady_clock::now());
  }
  Call c{ctx, hc, hc.memory(), Wait()};
  int r = Fn(c);
  if (c.refused != 0 && shared->on_refused != nullptr) {
    for (Refusal what : {Refusal::kClock, Refusal::kRandom, Refusal::kEnv, Refusal::kFs}) {
      if (c.refused & (1u << static_cast<unsigned>(what))) {
        shared->on_refused(hc, what);
      }
    }
  }
  if (r == kSuspended) {
    ctx.suspend(hc, &entry<Fn>, c.wait);
    return wasm::HostAction::kSuspend;
  }
  if (r == kTrapped) {
    return wasm::HostAction::kTrap;
  }
  if (!hc.type().results.empty()) {
    hc.set_result_i32(0, static_cast<uint32_t>(r));
  }
  return wasm::HostAction::kReturn;
}

std::vector<wasm::ValType> types_of(const char* s) {
  std::vector<wasm::ValType> out;
  for (; *s != '\0'; ++s) {
    out.push_back(*s == 'l' ? wasm::ValType::I64 : wasm::ValType::I32);
  }
  return out;
}

}  // namespace

HostFunctions::HostFunctions(ContextLookup lookup, RefusalHook on_refused)
    : impl_(std::make_unique<Impl>()) {
  impl_->shared.lookup = lookup;
  impl_->shared.on_refused = on_refused;
#define RUSM_WASI_REGISTER(name, params, results)                                       \
  impl_->functions.push_back(                                                           \
      {#name, wasm::Function::host(wasm::FuncType{types_of(params), types_of(results)}, \
                                   &entry<&calls::name>, &impl_->shared, "wasi." #name)});
  RUSM_WASI_FUNCTIONS(RUSM_WASI_REGISTER)
#undef RUSM_WASI_REGISTER
}

HostFunctions::~HostFunctions() = default;

void HostFunctions::add_to(wasm::Imports& imports) const {
  for (const Impl::Entry& e : impl_->functions) {
    wasm::Extern ext;
    ext.kind = wasm::ExternKind::Func;
    ext.func = e.func.get();
    imports.add(kModuleName, e.name, ext);
  }
}

bool HostFunctions::owns(const wasm::Function* f) const {
  for (const Impl::Entry& e : impl_->functions) {
    if (e.func.get() == f) {
      return true;
    }
  }
  return false;
}

}  // namespace rusm::wasi
