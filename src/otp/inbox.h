// A process's inbox: the lock-free multi-producer, single-consumer entry point
// for messages and signals, which also records whether its owner sleeps.
//
// HOT PATH (guarded by bench ping-pong): one CAS per send. Producers push onto
// a LIFO stack; the owner takes the whole stack with one exchange and reverses
// it, which restores arrival order (so per-sender order holds). Two sentinel
// values give the owner's state in the same word:
//   kBlocked  the owner waits; the producer that replaces it must schedule it
//   kClosed   the owner exited; pushes fail and the producer keeps the node
// Only the producer whose push replaced kBlocked wakes the process, so a
// process is scheduled exactly once per sleep.
#pragma once

#include <atomic>

#include "rusm/otp/message.h"

namespace rusm::otp::detail {

class Inbox {
 public:
  enum class Push { kOk, kWoke, kClosed };

  static MessageNode* blocked() { return reinterpret_cast<MessageNode*>(uintptr_t{1}); }
  static MessageNode* closed() { return reinterpret_cast<MessageNode*>(uintptr_t{2}); }

  // Any thread.
  Push push(MessageNode* n) {
    MessageNode* head = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (head == closed()) {
        return Push::kClosed;
      }
      n->next = head == blocked() ? nullptr : head;
      if (head_.compare_exchange_weak(head, n, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return head == blocked() ? Push::kWoke : Push::kOk;
      }
    }
  }

  // Owner: whether anything is waiting (cheap check before take_all).
  bool has_pending() const {
    MessageNode* h = head_.load(std::memory_order_relaxed);
    return h != nullptr && h != blocked() && h != closed();
  }

  // Owner, while running (never blocked or closed): everything pushed so far,
  // oldest first.
  MessageNode* take_all() {
    MessageNode* h = head_.exchange(nullptr, std::memory_order_acquire);
    return reverse(h);
  }

  // Owner: go to sleep if nothing arrived. True if now blocked (the owner must
  // not touch the process afterwards); false if something is waiting.
  bool try_block() {
    MessageNode* expected = nullptr;
    return head_.compare_exchange_strong(expected, blocked(), std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }

  // Owner, at exit: refuses further pushes; returns what was pending, oldest first.
  MessageNode* close() {
    MessageNode* h = head_.exchange(closed(), std::memory_order_acq_rel);
    if (h == blocked()) {
      h = nullptr;
    }
    return reverse(h);
  }

  // Owner, when a slot is reused: open and running (not blocked).
  void reset() { head_.store(nullptr, std::memory_order_relaxed); }

  bool is_closed() const { return head_.load(std::memory_order_acquire) == closed(); }

 private:
  static MessageNode* reverse(MessageNode* h) {
    MessageNode* out = nullptr;
    while (h != nullptr) {
      MessageNode* next = h->next;
      h->next = out;
      out = h;
      h = next;
    }
    return out;
  }

  std::atomic<MessageNode*> head_{nullptr};
};

}  // namespace rusm::otp::detail
