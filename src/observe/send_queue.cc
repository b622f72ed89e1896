#include "observe/send_queue.h"

namespace rusm::observe {

SendQueue::Push SendQueue::push(std::shared_ptr<const std::string> message, bool droppable) {
  size_t n = message->size();
  bool fits =
      items_.empty() || (items_.size() < limits_.max_messages && bytes_ + n <= limits_.max_bytes);
  if (droppable) {
    // The one being written (the front) has left the waiting line.
    size_t waiting = droppable_ - (!items_.empty() && items_.front().droppable ? 1 : 0);
    if (!fits || waiting >= limits_.max_droppable) {
      return Push::kDropped;
    }
  } else if (!fits) {
    return Push::kOverflow;
  }
  items_.push_back({std::move(message), droppable});
  bytes_ += n;
  droppable_ += droppable ? 1 : 0;
  account(static_cast<int64_t>(n), 1);
  return Push::kQueued;
}

void SendQueue::pop() {
  const Item& front = items_.front();
  size_t n = front.message->size();
  bytes_ -= n;
  droppable_ -= front.droppable ? 1 : 0;
  items_.pop_front();
  account(-static_cast<int64_t>(n), -1);
}

void SendQueue::clear() {
  account(-static_cast<int64_t>(bytes_), -static_cast<int64_t>(items_.size()));
  items_.clear();
  // A deque keeps a block after clear(); swapping with an empty one frees it.
  std::deque<Item>().swap(items_);
  bytes_ = 0;
  droppable_ = 0;
}

void SendQueue::account(int64_t bytes, int64_t messages) {
  if (gauges_ != nullptr) {
    gauges_->bytes.fetch_add(bytes, std::memory_order_relaxed);
    gauges_->messages.fetch_add(messages, std::memory_order_relaxed);
  }
}

}  // namespace rusm::observe
