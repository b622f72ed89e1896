// The process body: what a process runs, behind an interface the scheduler
// drives. Native C++20 coroutine bodies (see context.h) are one implementation;
// the Wasm body (runtime/) is another. otp/ never names a Wasm type.
//
// The contract, seen from a body:
//
//   1. A worker thread calls run(ctx). The body does work and charges it to
//      ctx (ctx.charge(n), or implicitly through ctx.send/receive); when
//      ctx.budget() drops to zero or below it should return Step::yield() soon
//      (a Wasm body maps the budget to fuel). Bodies that ignore the budget
//      still work but can starve others on their worker.
//   2. run() returns what the body does next:
//        - Step::yield()              runnable again; goes to the back of the queue
//        - Step::wait_message(f, t)   sleep until a message matching f is in the
//                                     mailbox, or t elapses (kInfinity = never;
//                                     zero = just poll)
//        - Step::wait_event(t)        sleep until someone calls Node::wake(pid)
//                                     (I/O readiness, say) or t elapses
//        - Step::exit(reason)         the process ends with reason
//   3. The next run() says why it was called through ctx.wake_reason():
//      kStart (first run), kResume (after a yield), kMessage (the matching
//      message is waiting in ctx.take_delivered()), kTimeout (the wait's time
//      ran out; nothing delivered) or kEvent (woken by wake()).
//   4. Exit signals are handled by the scheduler between runs: a body is never
//      re-entered concurrently, and may be destroyed (its destructor runs on a
//      worker thread) while waiting or after yielding, when the process is
//      killed.
//
// run() must not throw; if it does anyway, the process exits with an error
// reason carrying the exception's message. A body may move between worker
// threads between runs, never during one.
#pragma once

#include <chrono>
#include <cstdint>

#include "rusm/otp/message.h"

namespace rusm::otp {

class Context;

using Duration = std::chrono::nanoseconds;
inline constexpr Duration kInfinity = Duration::max();

// Which messages a waiting process accepts. Unmatched messages stay in the
// mailbox, in arrival order, for later receives.
struct MessageFilter {
  enum class Kind : uint8_t {
    kAny,        // the oldest message
    kTag,        // the oldest message whose tag() == tag
    kPredicate,  // the oldest message for which predicate(message, arg) is true
    kNothing,    // no message matches (a plain sleep)
  };
  Kind kind = Kind::kAny;
  uint64_t tag = 0;
  bool (*predicate)(const Message&, void* arg) = nullptr;
  void* arg = nullptr;

  static MessageFilter any() { return {}; }
  static MessageFilter by_tag(uint64_t tag) { return {Kind::kTag, tag, nullptr, nullptr}; }
  static MessageFilter by_predicate(bool (*fn)(const Message&, void*), void* arg) {
    return {Kind::kPredicate, 0, fn, arg};
  }
  static MessageFilter nothing() { return {Kind::kNothing, 0, nullptr, nullptr}; }
};

enum class WakeReason : uint8_t { kStart, kResume, kMessage, kTimeout, kEvent };

// What a body does after a run. See the contract above.
struct Step {
  enum class Kind : uint8_t { kYield, kWaitMessage, kWaitEvent, kExit };
  Kind kind = Kind::kYield;
  MessageFilter filter;
  Duration timeout = kInfinity;
  ExitReason reason;

  static Step yield() { return {}; }
  static Step wait_message(MessageFilter filter, Duration timeout = kInfinity) {
    Step s;
    s.kind = Kind::kWaitMessage;
    s.filter = filter;
    s.timeout = timeout;
    return s;
  }
  static Step wait_event(Duration timeout = kInfinity) {
    Step s;
    s.kind = Kind::kWaitEvent;
    s.timeout = timeout;
    return s;
  }
  static Step exit(ExitReason reason) {
    Step s;
    s.kind = Kind::kExit;
    s.reason = std::move(reason);
    return s;
  }
};

// A process body. Owned by its process; destroyed on a worker thread when the
// process exits. Not thread-safe: the scheduler runs it on one thread at a time.
class Body {
 public:
  virtual ~Body() = default;
  virtual Step run(Context& ctx) = 0;
  // Called once, on a worker thread, as the process ends and before the body
  // is destroyed, with the process's exit reason: the one run() returned, or
  // the signal's reason when the process was killed between runs.
  virtual void on_exit(const ExitReason& reason) {}
  // Bytes this body holds (for process info); 0 if unknown. Asked once, when
  // the process is spawned; later changes come from Context::report_memory.
  virtual size_t memory_bytes() const { return 0; }
};

}  // namespace rusm::otp
