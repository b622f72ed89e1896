// The process record: one per slot of the process table, reused across
// generations (type-stable: never freed while the node lives, so other
// threads may read a stale pointer safely and learn from refs_ whether it is
// still the process they meant).
//
// HOT PATH (guarded by bench spawn-storm and ping-pong): fields touched by
// senders (refs_, inbox_) sit first; the rest belongs to the thread running
// the process.
//
// Ownership and threads:
//   refs_    atomic; generation (bits 63..40) | live bit (39) | count (38..0).
//            The running process holds one reference while alive; a sender
//            takes one (try_ref) for the duration of a push. When the count
//            reaches 0 with the live bit clear, the slot is recycled.
//   inbox_   any thread pushes; the owner takes.
//   msg_charged_ / msg_released_: the message budget (see NodeOptions).
//            Senders add a message's cost to msg_charged_ before pushing it
//            (and take it back if the push fails); the owner adds what it
//            takes out of the mailbox to msg_released_ with a plain store, so
//            receiving costs no locked instruction. In use = charged - released.
//   ext_     links, monitors, name, label: written only by the owner, under
//            ext_->lock so that observers (info) can read a consistent copy.
//   the rest belongs to whichever worker runs the process.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "otp/inbox.h"
#include "rusm/otp/body.h"
#include "rusm/otp/context.h"
#include "rusm/otp/info.h"

namespace rusm::otp::detail {

class NodeImpl;
struct Timer;

// A tiny spinlock for the rarely contended observer/owner exchange.
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) {
      }
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

struct MonitorEntry {
  MonitorRef ref;
  Pid pid;
};

// What a message costs its receiver's message budget and the node's: the
// node, its payload when not inline, its resources' bookkeeping.
inline uint64_t message_cost(const MessageNode* n) {
  return sizeof(MessageNode) + (n->size > MessageNode::kInlineBytes ? n->size : 0) +
         n->resource_count * sizeof(HostResource);
}

// State most processes never need; allocated on first use, kept across reuse.
struct ProcessExt {
  SpinLock lock;
  std::vector<Pid> links;
  std::vector<MonitorEntry> monitors_out;  // we watch pid
  std::vector<MonitorEntry> monitors_in;   // pid watches us
  std::string name;
  std::string label;
  // The process's send_after timers that may still be pending (owner only;
  // fired and cancelled ones are pruned when the list doubles), cancelled
  // when it exits.
  std::vector<TimerRef> timers;
  size_t timers_prune_at = 16;

  void clear() {
    links.clear();
    monitors_out.clear();
    monitors_in.clear();
    name.clear();
    label.clear();
    timers.clear();
    timers_prune_at = 16;
  }
};

// The body of a native coroutine process, embedded in the record.
class CoroutineBody final : public Body {
 public:
  Step run(Context& ctx) override;
  size_t memory_bytes() const override { return 0; }
  std::coroutine_handle<> top;
};

class Process {
 public:
  static constexpr uint64_t kLiveBit = uint64_t{1} << 39;
  static constexpr uint64_t kCountMask = kLiveBit - 1;
  static constexpr int kGenShift = 40;

  Process() { ctx_.proc_ = this; }

  // Any thread: a reference if this record still holds pid (alive).
  bool try_ref(Pid pid) {
    uint64_t r = refs_.load(std::memory_order_acquire);
    for (;;) {
      if ((r >> kGenShift) != pid.generation() || (r & kLiveBit) == 0) {
        return false;
      }
      if (refs_.compare_exchange_weak(r, r + 1, std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        return true;
      }
    }
  }
  // Drops a reference; true if this was the last one of a dead process (the
  // caller must recycle the slot).
  bool unref() {
    uint64_t r = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    return (r & (kLiveBit | kCountMask)) == 0;
  }
  // The owner's exit: clears live and drops the owner's reference.
  bool release_live() {
    uint64_t r = refs_.fetch_sub(kLiveBit + 1, std::memory_order_acq_rel) - (kLiveBit + 1);
    return (r & (kLiveBit | kCountMask)) == 0;
  }

  ~Process() { delete ext_.load(std::memory_order_relaxed); }

  // Any thread (registering a name comes from outside too).
  ProcessExt& ext() {
    ProcessExt* e = ext_.load(std::memory_order_acquire);
    if (e == nullptr) {
      auto* fresh = new ProcessExt;
      if (ext_.compare_exchange_strong(e, fresh, std::memory_order_acq_rel)) {
        return *fresh;
      }
      delete fresh;
    }
    return *e;
  }
  ProcessExt* ext_if_any() const { return ext_.load(std::memory_order_acquire); }
  Context& ctx() { return ctx_; }

  // ---- shared with senders
  std::atomic<uint64_t> refs_{0};
  Inbox inbox_;
  std::atomic<int32_t> bounded_count_{0};  // queued user messages, when bounded
  uint32_t mailbox_bound_ = 0;
  Pid pid_;
  NodeImpl* node_ = nullptr;
  std::atomic<uint64_t> msg_charged_{0};
  std::atomic<uint64_t> msg_released_{0};  // written by the owner only
  uint64_t mailbox_limit_ = 0;             // bytes; UINT64_MAX for none
  // An exit signal was pushed: the running body should yield soon
  // (Context::interrupt_flag). Cleared when a slice starts.
  std::atomic<bool> signalled_{false};

  // ---- observed (relaxed atomics)
  std::atomic<uint8_t> status_{0};
  std::atomic<bool> exiting_{false};
  std::atomic<bool> has_name_{false};
  // May hold global names (NodeImpl::register_global): its exit drops them.
  std::atomic<bool> has_global_{false};
  // May be subscribed to topics (NodeImpl::subscribe): its exit drops them.
  std::atomic<bool> has_topics_{false};
  // Traced (NodeImpl::trace): its events go to the node's trace table.
  std::atomic<bool> traced_{false};
  std::atomic<uint32_t> queue_len_{0};
  std::atomic<uint64_t> reductions_{0};

  // ---- owner
  Context ctx_;
  CoroutineBody coro_;
  Body* body_ = nullptr;  // &coro_ or owned_body_
  std::unique_ptr<Body> owned_body_;
  Pid parent_;
  Process* run_next_ = nullptr;  // intrusive link for the global run queue

  // The mailbox proper: messages taken from the inbox, oldest first.
  MessageNode* q_head_ = nullptr;
  MessageNode* q_tail_ = nullptr;
  MessageNode* scan_prev_ = nullptr;  // last node scanned by the current wait
  bool scan_from_start_ = true;
  bool scan_primed_ = false;  // the receive fast path already scanned

  // Wait state.
  Step::Kind wait_kind_ = Step::Kind::kYield;  // kYield = not waiting
  MessageFilter wait_filter_;
  int64_t wait_deadline_ns_ = -1;  // -1 none; 0 poll
  uint64_t wait_seq_ = 0;
  Timer* wait_timer_ = nullptr;
  uint64_t wait_timer_id_ = 0;
  bool timed_out_ = false;
  bool event_pending_ = false;
  std::atomic<bool> trap_exit_{false};
  bool exit_pending_ = false;
  ExitReason pending_reason_;

  size_t frame_bytes_ = 0;
  // What an owned body holds, as it last reported (Context::report_memory).
  std::atomic<size_t> body_bytes_{0};

  // Observed by info(): what the process waits for.
  std::atomic<uint8_t> wait_desc_{0};  // WaitDesc
  std::atomic<uint64_t> wait_tag_{0};

  std::atomic<ProcessExt*> ext_{nullptr};
};

enum WaitDesc : uint8_t { kWaitNone, kWaitAny, kWaitTag, kWaitPredicate, kWaitSleep, kWaitEvent };

}  // namespace rusm::otp::detail
