// Messages and exit reasons.
//
// A Message is what one process sends another: a 64-bit tag, a byte payload,
// and (for later) host resources such as sockets, each with the destructor that
// releases it. A Message owns all of it; sending moves it to the receiver, so
// no two processes ever share a payload. Receivers can select on the tag
// without looking at the bytes (what a Wasm guest needs).
//
// Trapped exit signals and monitor DOWN notifications arrive as messages with
// the reserved tags kExitTag and kDownTag; from() names the process concerned
// and reason() why it exited. Tags at or above kSystemTagBase are reserved.
//
// Thread-safety: a Message is a move-only value owned by one thread at a time.
// ExitReason is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "rusm/otp/pid.h"

namespace rusm::otp {

inline constexpr uint64_t kSystemTagBase = 0xFFFF'FFFF'FFFF'FF00ull;
inline constexpr uint64_t kExitTag = kSystemTagBase + 1;  // {'EXIT', from, reason}
inline constexpr uint64_t kDownTag = kSystemTagBase + 2;  // {'DOWN', ref, from, reason}
// Node status for processes that called monitor_node(N): payload and ref()
// are the node id N (payload: 2 bytes, a uint16_t; from() is invalid).
inline constexpr uint64_t kNodeUpTag = kSystemTagBase + 3;    // {nodeup, N}
inline constexpr uint64_t kNodeDownTag = kSystemTagBase + 4;  // {nodedown, N}
// A process lost its global name to an older registration (Node::
// register_global) and the cluster's conflict policy is a message
// (ClusterOptions::global_conflict): payload the name, from() invalid.
inline constexpr uint64_t kGlobalConflictTag = kSystemTagBase + 8;

enum class ExitKind : uint8_t {
  kNormal,    // the body returned, or exit(normal)
  kShutdown,  // asked to stop (by a supervisor, or node shutdown); detail may say more
  kKilled,    // ended by an untrappable kill signal
  kKill,      // only as a signal sent with exit(pid, kill): untrappable, becomes kKilled
  kNoproc,    // the process did not exist (link or monitor of a dead pid)
  kError,     // crashed; detail says why (e.g. the exception's message)
  // The process was on a node that is not (or no longer) connected: a link
  // or monitor to it fires with this when its node goes down.
  kNoconnection,
};
// Kinds are numbered in declaration order (kNormal = 0 ... kNoconnection =
// 6); the numbers appear in the guest ABI and on the wire, so new kinds go
// at the end.
inline constexpr uint8_t kExitKindCount = 7;

// Why a process exited, or the reason carried by an exit signal.
class ExitReason {
 public:
  ExitReason() = default;
  static ExitReason normal() { return ExitReason(ExitKind::kNormal); }
  static ExitReason shutdown(std::string detail = {}) {
    return ExitReason(ExitKind::kShutdown, std::move(detail));
  }
  static ExitReason killed() { return ExitReason(ExitKind::kKilled); }
  static ExitReason kill() { return ExitReason(ExitKind::kKill); }
  static ExitReason noproc() { return ExitReason(ExitKind::kNoproc); }
  static ExitReason error(std::string detail) {
    return ExitReason(ExitKind::kError, std::move(detail));
  }
  static ExitReason noconnection() { return ExitReason(ExitKind::kNoconnection); }
  // Any kind with a detail (what a decoder rebuilds from kind() + detail()).
  static ExitReason of(ExitKind kind, std::string detail = {}) {
    return ExitReason(kind, std::move(detail));
  }
  // The reason whose kind has number `code`, or nullopt if no kind has it
  // (for untrusted input: bytes from the network).
  static std::optional<ExitReason> from_code(uint8_t code, std::string detail = {}) {
    if (code >= kExitKindCount) {
      return std::nullopt;
    }
    return ExitReason(static_cast<ExitKind>(code), std::move(detail));
  }

  ExitKind kind() const { return kind_; }
  const std::string& detail() const { return detail_; }
  bool is_normal() const { return kind_ == ExitKind::kNormal; }
  // "normal", "shutdown", "shutdown: why", "killed", "kill", "noproc",
  // "error: why", "noconnection".
  std::string to_string() const;

  friend bool operator==(const ExitReason&, const ExitReason&) = default;

 private:
  explicit ExitReason(ExitKind kind, std::string detail = {})
      : kind_(kind), detail_(std::move(detail)) {}
  ExitKind kind_ = ExitKind::kNormal;
  std::string detail_;
};

namespace detail {

// What an inbox node carries. kMessage nodes become Messages; the others are
// signals that the receiving process acts on in arrival order.
enum class NodeKind : uint8_t {
  kMessage,
  kExit,       // exit signal: from, reason, linked
  kLink,       // from wants a link
  kUnlink,     // from dropped its link
  kMonitor,    // from monitors us with ref
  kDemonitor,  // from dropped monitor ref
  kDown,       // a process we monitor (ref) exited with reason
  kTimeout,    // a receive timeout fired; ref = the wait's sequence number
  kWake,       // an external event (wake(pid))
  kNodeDown,   // node `ref` went down: fire links and monitors to its processes
  kWatch,      // we monitor `from` with ref (a remote spawn's monitor, set up there)
};

struct HostResource {
  void* handle;
  void (*destroy)(void*);
};

// One inbox node; also the storage behind a Message. Pooled (see pool.h).
struct MessageNode {
  static constexpr uint32_t kInlineBytes = 40;

  MessageNode* next = nullptr;
  uint64_t tag = 0;
  Pid from;
  uint64_t ref = 0;
  NodeKind kind = NodeKind::kMessage;
  bool linked = false;   // kExit: sent because of a link
  bool counted = false;  // counts against a bounded mailbox
  bool charged = false;  // counts against the receiver's message budget and the node's
  uint16_t resource_count = 0;
  uint32_t size = 0;
  char* data = inline_;
  HostResource* resources = nullptr;  // heap array of resource_count, or null
  ExitReason reason;
  char inline_[kInlineBytes];
};

MessageNode* new_node();
// Releases payload, resources and the node.
void free_node(MessageNode* node);
// Makes room for `size` payload bytes and returns where to write them.
char* reserve_payload(MessageNode* node, size_t size);

struct Access;

}  // namespace detail

// A message: tag + bytes (+ host resources), owned. Move-only.
class Message {
 public:
  Message() = default;
  Message(Message&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
  Message& operator=(Message&& o) noexcept {
    if (this != &o) {
      reset();
      node_ = std::exchange(o.node_, nullptr);
    }
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { reset(); }

  // A message with `tag` and a copy of `bytes`.
  static Message make(uint64_t tag, std::string_view bytes = {}) {
    Message m(detail::new_node());
    m.node_->tag = tag;
    if (!bytes.empty()) {
      std::memcpy(detail::reserve_payload(m.node_, bytes.size()), bytes.data(), bytes.size());
    }
    return m;
  }
  static Message make(uint64_t tag, std::span<const std::byte> bytes) {
    return make(tag, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  // A message whose payload is the bytes of a trivially copyable value.
  template <typename T>
  requires std::is_trivially_copyable_v<T>
  static Message of(uint64_t tag, const T& value) {
    return make(tag, std::string_view(reinterpret_cast<const char*>(&value), sizeof(T)));
  }

  bool empty() const { return node_ == nullptr; }
  explicit operator bool() const { return node_ != nullptr; }

  // Accessors below require !empty().
  uint64_t tag() const { return node_->tag; }
  // The sending process (invalid if sent from outside any process).
  Pid from() const { return node_->from; }
  std::string_view text() const { return std::string_view(node_->data, node_->size); }
  std::span<const std::byte> bytes() const {
    return {reinterpret_cast<const std::byte*>(node_->data), node_->size};
  }
  // The payload read back as T; requires size() == sizeof(T).
  template <typename T>
  requires std::is_trivially_copyable_v<T> T as()
  const {
    T v;
    std::memcpy(&v, node_->data, sizeof(T) <= node_->size ? sizeof(T) : node_->size);
    return v;
  }
  size_t size() const { return node_->size; }

  bool is_exit() const { return node_->tag == kExitTag; }
  bool is_down() const { return node_->tag == kDownTag; }
  // For exit and down messages: why the process from() exited.
  const ExitReason& reason() const { return node_->reason; }
  // For down messages: the monitor's reference. For other messages, a
  // correlation value the sender set with set_ref() (0 if none). A Router
  // carries tag(), ref() and bytes() to the other node.
  uint64_t ref() const { return node_->ref; }
  void set_ref(uint64_t ref) { node_->ref = ref; }

  // Host resources (sockets, files, ...) travel with the message. Each is
  // destroyed with `destroy(handle)` if the message is dropped while still
  // owning it; take_resource() hands one back to the caller.
  void attach(void* handle, void (*destroy)(void*));
  size_t resource_count() const { return node_->resource_count; }
  // Removes and returns the i-th resource's handle; the caller now owns it.
  void* take_resource(size_t i);

 private:
  friend struct detail::Access;
  explicit Message(detail::MessageNode* node) : node_(node) {}
  void reset() {
    if (node_ != nullptr) {
      detail::free_node(node_);
      node_ = nullptr;
    }
  }
  detail::MessageNode* node_ = nullptr;
};

}  // namespace rusm::otp
