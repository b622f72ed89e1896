// Extending what a Wasm process can call: host modules beyond the `rusm` ABI
// and WASI (serving, the cluster, storage, ...) plug in here without editing
// the process body.
//
// Three concepts:
//
//   - Process: a Wasm process as its host functions see it. A host function
//     finds it with Process::of(call); it is valid for the duration of the
//     call, and in the Suspension methods below.
//
//   - Suspension: a host call that blocks. The host function prepares an
//     object that knows what the call waits for and how to finish it, and
//     returns process.suspend(&object). The Execution stops (kSuspended), the
//     process waits as wait() says (never the worker thread), and when the
//     wait ends the process runs resume(), which sets the call's results
//     (process.execution().set_host_results(...)) and
//     lets the guest continue, asks to wait again, or ends the process. An
//     event source on another thread (an I/O completion, say) wakes the
//     process with otp::Node::wake(pid); a wake that comes before the process
//     waits is remembered, so completion and suspension may race safely, and a
//     resume() must check that what it waits for really happened (a stale wake
//     may end a later wait early).
//
//   - Resource: host state a process owns (a socket, a request, a file),
//     named by a small integer handle in the guest and destroyed when the
//     process ends, however it ends. Handles are checked by type: a guest that
//     passes a request's handle to a WebSocket call gets an error, never a
//     wrong cast.
//
// Thread-safety: a Process, its Suspension and its ResourceTable are used by
// one thread at a time (the worker running the process). Runtime's
// add_host_function must be called before the modules that import the
// function are loaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/otp/body.h"
#include "rusm/otp/context.h"
#include "rusm/runtime/abi_def.h"
#include "rusm/runtime/capabilities.h"
#include "rusm/wasm.h"

namespace rusm::runtime {

class Runtime;
class Process;

// AbiError, the guest-visible error codes of the `rusm` ABI, and each
// import's Wasm type come from the ABI's one definition, abi/rusm.toml
// (generated into rusm/runtime/abi_def.h by scripts/abi.py).

// The Wasm type of rusm.`name` as abi/rusm.toml defines it; nullopt if it
// defines no such function (a host table naming one is a bug: its tests fail).
std::optional<wasm::FuncType> abi_function_type(std::string_view name);

// Guest memory for host functions. Every pointer and length from a guest is
// checked here: out of bounds gives nullopt / false / kErrBadArg, never a
// host crash. The *_charged forms charge fuel for the bytes copied
// (HostCall::charge_bytes), so that no call escapes the slice's budget.
std::optional<std::string_view> guest_bytes(wasm::HostCall& c, uint32_t ptr, uint32_t len);
std::optional<std::string_view> guest_bytes_charged(wasm::HostCall& c, uint32_t ptr, uint32_t len);
bool guest_write_charged(wasm::HostCall& c, uint32_t ptr, std::string_view data);
// Copies the first min(cap, s.size()) bytes of s to ptr and returns
// s.size() (the guest sees it needs a bigger buffer), or kErrBadArg.
int32_t guest_copy_out(wasm::HostCall& c, uint32_t ptr, uint32_t cap, std::string_view s);

// What a suspended process waits for.
struct Wait {
  enum class Kind : uint8_t {
    kYield,    // run again after the others on its worker had their turn
    kMessage,  // a message matching `filter`, or `timeout`
    kEvent,    // otp::Node::wake(pid), or `timeout`
  };
  Kind kind = Kind::kYield;
  otp::MessageFilter filter;
  otp::Duration timeout = otp::kInfinity;

  static Wait yield() { return {}; }
  static Wait message(otp::MessageFilter f, otp::Duration timeout = otp::kInfinity) {
    return {Kind::kMessage, f, timeout};
  }
  static Wait event(otp::Duration timeout = otp::kInfinity) {
    return {Kind::kEvent, otp::MessageFilter::nothing(), timeout};
  }
};

// A blocked host call (see the top of this file). Not owned by the process:
// it must stay alive until resume() returns kContinue or kEnd, or the
// process ends (the object usually lives in the process's state or in one of
// its resources).
class Suspension {
 public:
  enum class Resumed : uint8_t {
    kContinue,  // the call's results are set: the guest continues
    kWait,      // not done yet: wait() is asked again
    kEnd,       // the process ends (Process::end was called with the reason)
  };
  virtual ~Suspension() = default;
  // What the process waits for; asked right after the call suspended and
  // after every resume() that returned kWait.
  virtual Wait wait(Process& p) = 0;
  // The wait ended: ctx.wake_reason() says why (kMessage: the message is in
  // ctx.take_delivered(); kTimeout; kEvent; kResume after a yield).
  virtual Resumed resume(Process& p, otp::Context& ctx) = 0;
};

// Host state owned by a process. Subclasses are the typed resources; their
// destructor releases what they hold (closes a socket, aborts a request).
class Resource {
 public:
  virtual ~Resource() = default;
  // The owning process is ending with `reason` (called once, on a worker
  // thread, just before the resources are destroyed): a request can answer
  // 500 and log the trap. Not called for a resource closed earlier.
  virtual void on_process_exit(const otp::ExitReason& reason) {}
};

// A process's resources by handle (a positive int32). At most kMaxResources
// live at once. A closed resource's slot is reused under a new generation,
// so a stale handle does not name the newer resource (the table stays as
// large as what was live at once).
class ResourceTable {
 public:
  static constexpr size_t kMaxResources = 4096;
  // What add() returns first in an empty table.
  static constexpr int32_t kFirstHandle = 1;

  ResourceTable() = default;
  ResourceTable(const ResourceTable&) = delete;
  ResourceTable& operator=(const ResourceTable&) = delete;

  // The new handle (> 0), or 0 when the table is full.
  int32_t add(std::unique_ptr<Resource> r);
  // The resource under `handle` if it is a T, else nullptr.
  template <typename T>
  T* get(int32_t handle) const {
    Resource* r = find(handle);
    return r != nullptr ? dynamic_cast<T*>(r) : nullptr;
  }
  // Destroys the resource; false if there is none under `handle`.
  bool close(int32_t handle);
  size_t size() const { return live_; }

  // Counts host modules keep of their own kinds of resource, to bound them
  // below kMaxResources (fetch: exchanges open). Declared before the slots,
  // so that a resource's destructor may still update its count.
  enum class Counter : uint8_t { kFetch, kCount };
  uint32_t& count(Counter which) { return counts_[static_cast<size_t>(which)]; }
  // Calls on_process_exit on every live resource.
  void process_exiting(const otp::ExitReason& reason);

 private:
  Resource* find(int32_t handle) const;
  struct Slot {
    std::unique_ptr<Resource> resource;
    uint32_t generation = 0;
  };
  uint32_t counts_[static_cast<size_t>(Counter::kCount)] = {};
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;  // closed slots, reused first
  size_t live_ = 0;
};

// A Wasm process seen from its host functions.
class Process {
 public:
  // The process running `call` (every host function of a Runtime runs in
  // one).
  static Process& of(wasm::HostCall& call) {
    return *static_cast<Process*>(call.execution().user_data());
  }

  virtual otp::Context& context() = 0;
  virtual wasm::Execution& execution() = 0;
  virtual wasm::Memory* memory() = 0;  // memory 0, or nullptr
  virtual const Capabilities& capabilities() const = 0;
  virtual Runtime& runtime() = 0;
  virtual ResourceTable& resources() = 0;

  // Records a refused capability (rusm run names it when the process dies).
  virtual void denied(uint32_t cap) = 0;
  // Suspends the current host call on `s`; return the result from the host
  // function.
  virtual wasm::HostAction suspend(Suspension* s) = 0;
  // Ends the process with `reason`: from a host function, return the result;
  // from Suspension::resume, call it and return kEnd.
  virtual wasm::HostAction end(otp::ExitReason reason) = 0;

 protected:
  ~Process() = default;
};

}  // namespace rusm::runtime
