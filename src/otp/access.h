// Private access to public types' internals, for the otp implementation only.
#pragma once

#include <utility>

#include "rusm/otp/message.h"

namespace rusm::otp::detail {

struct Access {
  static MessageNode* release(Message& m) { return std::exchange(m.node_, nullptr); }
  static Message wrap(MessageNode* n) { return Message(n); }
  static MessageNode* node(const Message& m) { return m.node_; }
};

// Lets a predicate see a queued node as a Message without taking it.
class MessageView {
 public:
  explicit MessageView(MessageNode* n) : m_(Access::wrap(n)) {}
  ~MessageView() { Access::release(m_); }
  const Message& get() const { return m_; }

 private:
  Message m_;
};

}  // namespace rusm::otp::detail
