// The guest's key-value calls (docs/kv.md; abi/rusm.toml, v8), on the node's
// store (rusm/kv/store.h).
//
// kv_open checks the capability once: the process must hold kCapKv and a
// grant for the bucket (Capabilities::kv_access); the handle it gets
// remembers whether it may write. Every other call reads its arguments from
// guest memory, submits one request to the store and suspends the process
// (Wait::event, never the worker thread). The store's thread fills the
// call's slot and wakes the process, which then writes the answer into
// guest memory and continues. The slot is shared, so a process killed while
// it waits leaves the store's callback something valid to fill.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "runtime/internal.h"

namespace rusm::runtime {
namespace {

using wasm::HostAction;
using wasm::HostCall;
using Op = kv::Request::Op;

// A batch's encoded steps, at most this many bytes.
constexpr uint32_t kMaxBatchBytes = 16u << 20;

struct Slot {
  std::atomic<bool> done{false};
  kv::Reply reply;  // written before done, read after it
};

// The call a process waits in; one at a time per process, since it waits.
struct Call final : Suspension {
  Op op = Op::kGet;
  std::shared_ptr<Slot> slot;
  uint32_t out_ptr = 0, out_cap = 0;
  Wait wait(Process&) override { return Wait::event(); }
  Resumed resume(Process& p, otp::Context& ctx) override;
};

struct Bucket final : Resource {
  std::string name;
  bool writable = false;
  kv::Store* store = nullptr;
  Call call;
};

HostAction ret(HostCall& c, int32_t v) {
  c.set_result_i32(0, static_cast<uint32_t>(v));
  return HostAction::kReturn;
}

int32_t abi_code(kv::Code c) {
  switch (c) {
    case kv::Code::kOk:
      return kOk;
    case kv::Code::kNotFound:
      return kErrNotFound;
    case kv::Code::kConflict:
      return kErrConflict;
    case kv::Code::kNotInteger:
      return kErrBadState;
    case kv::Code::kOverflow:
      return kErrLimit;
    case kv::Code::kInvalid:
      return kErrBadArg;
    case kv::Code::kBusy:
      return kErrFull;
    case kv::Code::kIo:
      return kErrIo;
    case kv::Code::kClosed:
      return kErrClosed;
  }
  return kErrIo;
}

// kv_list's answer: as many entries as fit in [ptr, ptr+cap), each a
// rusm_kv_entry then the key then the value; how many, or ETOOLARGE if not
// even the first fits.
int32_t write_entries(wasm::Memory& mem, uint32_t ptr, uint32_t cap, const kv::Reply& r) {
  uint64_t at = 0;
  int32_t n = 0;
  for (const auto& [key, value] : r.entries) {
    AbiKvEntry e{static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())};
    uint64_t size = sizeof e + key.size() + value.size();
    if (at + size > cap) {
      break;
    }
    uint64_t base = static_cast<uint64_t>(ptr) + at;
    if (!mem.write(base, &e, sizeof e) || !mem.write(base + sizeof e, key.data(), key.size()) ||
        !mem.write(base + sizeof e + key.size(), value.data(), value.size())) {
      return kErrBadArg;
    }
    at += size;
    ++n;
  }
  return n == 0 && !r.entries.empty() ? kErrTooLarge : n;
}

Suspension::Resumed Call::resume(Process& p, otp::Context&) {
  if (!slot || !slot->done.load(std::memory_order_acquire)) {
    return Resumed::kWait;  // a stale wake: the store has not answered yet
  }
  kv::Reply r = std::move(slot->reply);
  slot.reset();
  int32_t result = abi_code(r.code);
  wasm::Memory* mem = p.memory();
  auto put_out = [&](const void* data, uint64_t len) {
    return out_ptr == 0 || (mem != nullptr && mem->write(out_ptr, data, len));
  };
  if (r.code == kv::Code::kOk) {
    switch (op) {
      case Op::kGet: {
        uint64_t n = std::min<uint64_t>(r.value.size(), out_cap);
        result = put_out(r.value.data(), n) ? static_cast<int32_t>(r.value.size()) : kErrBadArg;
        break;
      }
      case Op::kIncr:
        result = put_out(&r.number, sizeof r.number) ? kOk : kErrBadArg;
        break;
      case Op::kList:
        result = mem != nullptr ? write_entries(*mem, out_ptr, out_cap, r) : kErrBadArg;
        break;
      default:
        break;
    }
  } else if (op == Op::kBatch && r.code == kv::Code::kConflict) {
    int32_t index = static_cast<int32_t>(r.number);
    if (!put_out(&index, sizeof index)) {
      result = kErrBadArg;
    }
  }
  (void)p.execution().set_host_results(std::array{wasm::Value::i32(static_cast<uint32_t>(result))});
  return Resumed::kContinue;
}

// The bucket under argument 0, or the error to return.
struct Target {
  Bucket* bucket = nullptr;
  int32_t error = kOk;
};
Target bucket_arg(HostCall& c, bool write) {
  Process& p = Process::of(c);
  auto* b = p.resources().get<Bucket>(static_cast<int32_t>(c.arg_i32(0)));
  if (b == nullptr) {
    return {nullptr, kErrBadArg};
  }
  if (write && !b->writable) {
    p.denied(kCapKv);
    return {nullptr, kErrDenied};
  }
  return {b, kOk};
}

// A key, prefix or value argument: its bytes, or the error.
struct Arg {
  std::string bytes;
  int32_t error = kOk;
};
Arg bytes_arg(HostCall& c, uint32_t ptr, uint32_t len, size_t max) {
  if (len > max) {
    return {{}, kErrTooLarge};
  }
  auto b = guest_bytes_charged(c, ptr, len);
  if (!b) {
    return {{}, kErrBadArg};
  }
  return {std::string(*b), kOk};
}

// The bucket (argument 0) and key (arguments 1, 2) that most calls start
// with, or the error to return.
struct Keyed {
  Bucket* bucket = nullptr;
  std::string key;
  int32_t error = kOk;
};
Keyed keyed(HostCall& c, bool write) {
  Target t = bucket_arg(c, write);
  if (t.error != kOk) {
    return {nullptr, {}, t.error};
  }
  Arg key = bytes_arg(c, c.arg_i32(1), c.arg_i32(2), t.bucket->store->options().max_key);
  return {t.bucket, std::move(key.bytes), key.error};
}

// Submits r for the process and suspends it until the store answers.
HostAction start(HostCall& c, Bucket& b, kv::Request r, uint32_t out_ptr = 0,
                 uint32_t out_cap = 0) {
  Process& p = Process::of(c);
  auto slot = std::make_shared<Slot>();
  b.call.op = r.op;
  b.call.slot = slot;
  b.call.out_ptr = out_ptr;
  b.call.out_cap = out_cap;
  r.bucket = b.name;
  // The store outlives the node's processes but not the node: it is
  // destroyed, answering what is queued, before the node (runtime.cc).
  otp::Node* node = &p.context().node();
  otp::Pid pid = p.context().self();
  b.store->submit(std::move(r), [slot, node, pid](kv::Reply reply) {
    slot->reply = std::move(reply);
    slot->done.store(true, std::memory_order_release);
    node->wake(pid);
  });
  return p.suspend(&b.call);
}

// kv_open(bucket, len) -> i32 handle
HostAction kv_open(HostCall& c) {
  Process& p = Process::of(c);
  auto name = guest_bytes(c, c.arg_i32(0), c.arg_i32(1));
  if (!name || name->empty() || name->size() > 255) {
    return ret(c, kErrBadArg);
  }
  KvAccess access = p.capabilities().kv_access(*name);
  if (access == KvAccess::kNone) {
    p.denied(kCapKv);
    return ret(c, kErrDenied);
  }
  Result<kv::Store*> store = p.runtime().kv_store();
  if (!store) {
    return ret(c, store.error().code() < 0 ? store.error().code() : kErrIo);
  }
  auto b = std::make_unique<Bucket>();
  b->name = std::string(*name);
  b->writable = access == KvAccess::kReadWrite;
  b->store = *store;
  int32_t h = p.resources().add(std::move(b));
  return ret(c, h > 0 ? h : kErrLimit);
}

// kv_close(bucket) -> i32
HostAction kv_close(HostCall& c) {
  Process& p = Process::of(c);
  int32_t h = static_cast<int32_t>(c.arg_i32(0));
  if (p.resources().get<Bucket>(h) == nullptr) {
    return ret(c, kErrBadArg);
  }
  p.resources().close(h);
  return ret(c, kOk);
}

// kv_get(bucket, key, key_len, buf, cap) -> i32 value length
HostAction kv_get(HostCall& c) {
  Keyed k = keyed(c, false);
  if (k.error != kOk) {
    return ret(c, k.error);
  }
  uint32_t buf = c.arg_i32(3), cap = c.arg_i32(4);
  if (!guest_bytes(c, buf, cap)) {
    return ret(c, kErrBadArg);
  }
  return start(c, *k.bucket, kv::Request::get("", std::move(k.key)), buf, cap);
}

// kv_put(bucket, key, key_len, value, value_len) -> i32
HostAction kv_put(HostCall& c) {
  Keyed k = keyed(c, true);
  if (k.error != kOk) {
    return ret(c, k.error);
  }
  Arg value = bytes_arg(c, c.arg_i32(3), c.arg_i32(4), k.bucket->store->options().max_value);
  if (value.error != kOk) {
    return ret(c, value.error);
  }
  return start(c, *k.bucket, kv::Request::put("", std::move(k.key), std::move(value.bytes)));
}

// kv_delete(bucket, key, key_len) -> i32
HostAction kv_delete(HostCall& c) {
  Keyed k = keyed(c, true);
  if (k.error != kOk) {
    return ret(c, k.error);
  }
  return start(c, *k.bucket, kv::Request::del("", std::move(k.key)));
}

// kv_cas(bucket, key, key_len, expected, expected_len, value, value_len, flags) -> i32
HostAction kv_cas(HostCall& c) {
  int32_t flags = static_cast<int32_t>(c.arg_i32(7));
  Keyed k = keyed(c, true);
  if (k.error == kOk && (flags & ~(kAbiKvIfAbsent | kAbiKvDelete)) != 0) {
    k.error = kErrBadArg;
  }
  if (k.error != kOk) {
    return ret(c, k.error);
  }
  const size_t max_value = k.bucket->store->options().max_value;
  Arg expected = bytes_arg(c, c.arg_i32(3), c.arg_i32(4), max_value);
  Arg value = bytes_arg(c, c.arg_i32(5), c.arg_i32(6), max_value);
  if (expected.error != kOk || value.error != kOk) {
    return ret(c, expected.error != kOk ? expected.error : value.error);
  }
  kv::Request r = kv::Request::put("", std::move(k.key), std::move(value.bytes));
  r.op = Op::kCas;
  if ((flags & kAbiKvIfAbsent) == 0) {
    r.expected = std::move(expected.bytes);
  }
  r.cas_delete = (flags & kAbiKvDelete) != 0;
  return start(c, *k.bucket, std::move(r));
}

// kv_incr(bucket, key, key_len, delta: i64, out) -> i32
HostAction kv_incr(HostCall& c) {
  Keyed k = keyed(c, true);
  if (k.error != kOk) {
    return ret(c, k.error);
  }
  uint32_t out = c.arg_i32(4);
  if (out != 0 && !guest_bytes(c, out, sizeof(int64_t))) {
    return ret(c, kErrBadArg);
  }
  auto delta = static_cast<int64_t>(c.arg_i64(3));
  return start(c, *k.bucket, kv::Request::incr("", std::move(k.key), delta), out, sizeof(int64_t));
}

// kv_list(bucket, prefix, prefix_len, after, after_len, buf, cap, flags) -> i32 entries
HostAction kv_list(HostCall& c) {
  Target t = bucket_arg(c, false);
  if (t.error != kOk) {
    return ret(c, t.error);
  }
  const kv::StoreOptions& o = t.bucket->store->options();
  int32_t flags = static_cast<int32_t>(c.arg_i32(7));
  if ((flags & ~kAbiKvValues) != 0) {
    return ret(c, kErrBadArg);
  }
  Arg prefix = bytes_arg(c, c.arg_i32(1), c.arg_i32(2), o.max_key);
  Arg after = bytes_arg(c, c.arg_i32(3), c.arg_i32(4), o.max_key);
  if (prefix.error != kOk || after.error != kOk) {
    return ret(c, prefix.error != kOk ? prefix.error : after.error);
  }
  uint32_t buf = c.arg_i32(5), cap = c.arg_i32(6);
  if (!guest_bytes(c, buf, cap)) {
    return ret(c, kErrBadArg);
  }
  kv::Request r;
  r.op = Op::kList;
  r.key = std::move(prefix.bytes);
  r.after = std::move(after.bytes);
  // Each entry takes at least its header and one byte of key.
  r.limit = std::max<uint32_t>(1, cap / (sizeof(AbiKvEntry) + 1));
  r.with_values = (flags & kAbiKvValues) != 0;
  r.max_bytes = cap;  // what does not fit is not sent back: the guest pages on
  return start(c, *t.bucket, std::move(r), buf, cap);
}

// kv_batch(bucket, ops, len, failed) -> i32
HostAction kv_batch(HostCall& c) {
  Target t = bucket_arg(c, true);
  if (t.error != kOk) {
    return ret(c, t.error);
  }
  uint32_t len = c.arg_i32(2);
  if (len > kMaxBatchBytes) {
    return ret(c, kErrTooLarge);
  }
  auto ops = guest_bytes_charged(c, c.arg_i32(1), len);
  uint32_t failed = c.arg_i32(3);
  if (!ops || (failed != 0 && !guest_bytes(c, failed, sizeof(int32_t)))) {
    return ret(c, kErrBadArg);
  }
  kv::Request r;
  r.op = Op::kBatch;
  std::string_view rest = *ops;
  while (!rest.empty()) {
    AbiKvOp h{};
    if (rest.size() < sizeof h) {
      return ret(c, kErrBadArg);
    }
    std::memcpy(&h, rest.data(), sizeof h);
    rest.remove_prefix(sizeof h);
    if (h.kind < kAbiKvOpPut || h.kind > kAbiKvOpCheckAbsent) {
      return ret(c, kErrBadArg);
    }
    if (h.key_len > rest.size() || h.value_len > rest.size() - h.key_len ||
        r.batch.size() == t.bucket->store->options().max_batch) {
      return ret(c, h.key_len > rest.size() || h.value_len > rest.size() - h.key_len
                        ? kErrBadArg
                        : kErrTooLarge);
    }
    kv::BatchOp op;
    op.kind = static_cast<kv::BatchOp::Kind>(h.kind);
    op.key = std::string(rest.substr(0, h.key_len));
    op.value = std::string(rest.substr(h.key_len, h.value_len));
    rest.remove_prefix(h.key_len + h.value_len);
    r.batch.push_back(std::move(op));
  }
  return start(c, *t.bucket, std::move(r), failed, sizeof(int32_t));
}

const HostDef kKvDefs[] = {
    {"kv_open", kv_open}, {"kv_close", kv_close},   {"kv_get", kv_get},
    {"kv_put", kv_put},   {"kv_delete", kv_delete}, {"kv_cas", kv_cas},
    {"kv_incr", kv_incr}, {"kv_list", kv_list},     {"kv_batch", kv_batch},
};

}  // namespace

void add_kv_imports(Runtime::Impl& impl) {
  add_host_defs(impl, kKvDefs);
}

}  // namespace rusm::runtime
