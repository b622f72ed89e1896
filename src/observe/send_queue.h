// One WebSocket client's outgoing messages, bounded in count and bytes.
//
// Two kinds of message: droppable ones (snapshots: the next one supersedes
// it, so a slow client just skips some) and the rest (replies, benchmark
// events), which must arrive in order or not at all. When the rest would
// exceed the bounds, push() says kOverflow and the owner disconnects the
// client: a client that does not read cannot make the server hold more than
// max_bytes for it. The first message into an empty queue is always taken,
// whatever its size, so a client that reads always makes progress.
//
// Bytes are counted per queue even when several queues share one message
// (a broadcast), so the count is what the server would hold if it did not
// share. An optional pair of global gauges (bytes, messages) is kept up to
// date for /metrics.
//
// Not thread-safe: one session's I/O thread owns it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace rusm::observe {

struct SendQueueLimits {
  size_t max_bytes = 8 << 20;  // every queued message together
  size_t max_messages = 1024;  // every queued message
  size_t max_droppable = 4;    // snapshots waiting; more are dropped
};

struct SendQueueGauges {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> messages{0};
};

class SendQueue {
 public:
  enum class Push { kQueued, kDropped, kOverflow };

  explicit SendQueue(SendQueueLimits limits, SendQueueGauges* gauges = nullptr)
      : limits_(limits), gauges_(gauges) {}
  ~SendQueue() { clear(); }
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // kQueued: appended. kDropped: a droppable message over its bound, not
  // queued. kOverflow: a message that must not be dropped would break a
  // bound; nothing was queued and the client should be disconnected.
  Push push(std::shared_ptr<const std::string> message, bool droppable);

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  size_t bytes() const { return bytes_; }
  const std::shared_ptr<const std::string>& front() const { return items_.front().message; }
  void pop();
  void clear();

 private:
  struct Item {
    std::shared_ptr<const std::string> message;
    bool droppable;
  };
  void account(int64_t bytes, int64_t messages);

  SendQueueLimits limits_;
  SendQueueGauges* gauges_;
  std::deque<Item> items_;
  size_t bytes_ = 0;
  size_t droppable_ = 0;
};

}  // namespace rusm::observe
