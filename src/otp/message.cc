// Messages, exit reasons, pids: the value types.
// HOT PATH (guarded by bench ping-pong): new_node/free_node.
#include <cstdlib>
#include <cstring>
#include <new>

#include "otp/pool.h"
#include "rusm/otp/info.h"
#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"

namespace rusm::otp {

std::string Pid::to_string() const {
  return "<" + std::to_string(node()) + "." + std::to_string(slot()) + "." +
         std::to_string(generation()) + ">";
}

std::string ExitReason::to_string() const {
  const char* base = "normal";
  switch (kind_) {
    case ExitKind::kNormal:
      base = "normal";
      break;
    case ExitKind::kShutdown:
      base = "shutdown";
      break;
    case ExitKind::kKilled:
      base = "killed";
      break;
    case ExitKind::kKill:
      base = "kill";
      break;
    case ExitKind::kNoproc:
      base = "noproc";
      break;
    case ExitKind::kError:
      base = "error";
      break;
    case ExitKind::kNoconnection:
      base = "noconnection";
      break;
  }
  return detail_.empty() ? std::string(base) : std::string(base) + ": " + detail_;
}

const char* to_string(ProcessStatus s) {
  switch (s) {
    case ProcessStatus::kRunnable:
      return "runnable";
    case ProcessStatus::kRunning:
      return "running";
    case ProcessStatus::kWaiting:
      return "waiting";
    case ProcessStatus::kExiting:
      return "exiting";
  }
  return "?";
}

void Message::attach(void* handle, void (*destroy)(void*)) {
  detail::MessageNode* n = node_;
  auto* grown = static_cast<detail::HostResource*>(
      std::realloc(n->resources, sizeof(detail::HostResource) * (n->resource_count + 1)));
  if (grown == nullptr) {
    throw std::bad_alloc();
  }
  n->resources = grown;
  n->resources[n->resource_count++] = {handle, destroy};
}

void* Message::take_resource(size_t i) {
  detail::MessageNode* n = node_;
  if (i >= n->resource_count) {
    return nullptr;
  }
  void* h = n->resources[i].handle;
  n->resources[i] = n->resources[n->resource_count - 1];
  --n->resource_count;
  return h;
}

namespace detail {

MessageNode* new_node() {
  return new (pool_alloc(sizeof(MessageNode))) MessageNode();
}

void free_node(MessageNode* n) {
  if (n->data != n->inline_) {
    std::free(n->data);
  }
  if (n->resources != nullptr) {
    for (uint16_t i = 0; i < n->resource_count; ++i) {
      n->resources[i].destroy(n->resources[i].handle);
    }
    std::free(n->resources);
  }
  n->~MessageNode();
  pool_free(n, sizeof(MessageNode));
}

char* reserve_payload(MessageNode* n, size_t size) {
  if (n->data != n->inline_) {
    std::free(n->data);
    n->data = n->inline_;
  }
  if (size > MessageNode::kInlineBytes) {
    n->data = static_cast<char*>(std::malloc(size));
    if (n->data == nullptr) {
      n->data = n->inline_;
      throw std::bad_alloc();
    }
  }
  n->size = static_cast<uint32_t>(size);
  return n->data;
}

}  // namespace detail
}  // namespace rusm::otp
