#include "cluster/frame.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace rusm::cluster {
namespace {

constexpr size_t kMax16 = 0xffff;

size_t str16_len(const std::string& s) {
  return std::min(s.size(), kMax16);
}

// Writes big-endian integers and length-prefixed strings into a buffer whose
// size was computed beforehand.
class Writer {
 public:
  explicit Writer(char* p) : p_(p) {}
  void u8(uint8_t v) { *p_++ = static_cast<char>(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void str16(const std::string& s) {
    size_t n = str16_len(s);
    u16(static_cast<uint16_t>(n));
    raw(s.data(), n);
  }
  void str32(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  void raw(const char* d, size_t n) {
    if (n > 0) {
      std::memcpy(p_, d, n);
      p_ += n;
    }
  }
  char* pos() const { return p_; }

 private:
  char* p_;
};

size_t body_size(const Hello& f) {
  return 2 + 2 + str16_len(f.name) + 2 + 4 + 4;
}
size_t body_size(const Refuse& f) {
  return 2 + str16_len(f.reason);
}
size_t body_size(const Tick&) {
  return 0;
}
size_t body_size(const Send& f) {
  return 32 + 4 + f.payload.size();
}
size_t body_size(const SendNamed& f) {
  return 8 + 2 + str16_len(f.name) + 16 + 4 + f.payload.size();
}
size_t body_size(const Exit& f) {
  return 16 + 1 + 4 + f.detail.size() + 1;
}
size_t body_size(const Link&) {
  return 16;
}
size_t body_size(const Unlink&) {
  return 16;
}
size_t body_size(const Monitor&) {
  return 24;
}
size_t body_size(const Demonitor&) {
  return 24;
}
size_t body_size(const Down& f) {
  return 24 + 1 + 4 + f.detail.size();
}
size_t body_size(const Peers& f) {
  size_t n = 2;
  size_t count = std::min(f.peers.size(), kMax16);
  for (size_t i = 0; i < count; ++i) {
    n += 2 + str16_len(f.peers[i].name) + 2 + str16_len(f.peers[i].address);
  }
  return n;
}
size_t body_size(const GlobalAdd& f) {
  return 2 + str16_len(f.name) + 16;
}
size_t body_size(const GlobalDel& f) {
  return 2 + str16_len(f.name) + 8;
}
size_t body_size(const GlobalSync& f) {
  size_t n = 4;
  for (const GlobalEntry& e : f.names) {
    n += 2 + str16_len(e.name) + 16;
  }
  return n;
}
size_t body_size(const TopicJoin& f) {
  return 2 + str16_len(f.topic);
}
size_t body_size(const TopicLeave& f) {
  return 2 + str16_len(f.topic);
}
size_t body_size(const TopicSync& f) {
  size_t n = 4;
  for (const std::string& t : f.topics) {
    n += 2 + str16_len(t);
  }
  return n;
}
size_t body_size(const Publish& f) {
  return 8 + 2 + str16_len(f.topic) + 16 + 4 + f.payload.size();
}
size_t body_size(const GlobalAsk& f) {
  return 2 + str16_len(f.name) + 16;
}

size_t body_size(const Spawn& f) {
  return 16 + 2 + str16_len(f.hash) + 2 + str16_len(f.module) + 2 + str16_len(f.function) + 2 +
         8 * std::min(f.args.size(), kMax16) + 8 + 4 + 1 + 8 + 4 + 2 + str16_len(f.label);
}
size_t body_size(const SpawnReply& f) {
  return 16 + 1 + 8 + 2 + str16_len(f.message);
}
size_t body_size(const ModuleBytes& f) {
  return 2 + str16_len(f.hash) + 4 + f.bytes.size();
}

size_t body_size(const ShellLine& f) {
  return 4 + 4 + f.line.size();
}
size_t body_size(const Observe&) {
  return 4;
}
size_t body_size(const Observed& f) {
  return 4 + 1 + 4 + f.body.size();
}
size_t body_size(const ShellOutput& f) {
  return 4 + 4 + f.output.size();
}
size_t body_size(const ShellCancel&) {
  return 4;
}
size_t body_size(const ShellResult& f) {
  return 4 + 1 + 4 + f.output.size();
}

void write_body(Writer& w, const Hello& f) {
  w.u16(f.version);
  w.str16(f.name);
  w.u16(f.node_id);
  w.u32(f.creation);
  w.u32(f.flags);
}
void write_body(Writer& w, const Refuse& f) {
  w.str16(f.reason);
}
void write_body(Writer&, const Tick&) {}
void write_body(Writer& w, const Send& f) {
  w.u64(f.from);
  w.u64(f.to);
  w.u64(f.tag);
  w.u64(f.ref);
  w.str32(f.payload);
}
void write_body(Writer& w, const SendNamed& f) {
  w.u64(f.from);
  w.str16(f.name);
  w.u64(f.tag);
  w.u64(f.ref);
  w.str32(f.payload);
}
void write_body(Writer& w, const Exit& f) {
  w.u64(f.from);
  w.u64(f.to);
  w.u8(f.reason_kind);
  w.str32(f.detail);
  w.u8(f.linked ? 1 : 0);
}
void write_body(Writer& w, const Link& f) {
  w.u64(f.from);
  w.u64(f.to);
}
void write_body(Writer& w, const Unlink& f) {
  w.u64(f.from);
  w.u64(f.to);
}
void write_body(Writer& w, const Monitor& f) {
  w.u64(f.from);
  w.u64(f.to);
  w.u64(f.ref);
}
void write_body(Writer& w, const Demonitor& f) {
  w.u64(f.from);
  w.u64(f.to);
  w.u64(f.ref);
}
void write_body(Writer& w, const Down& f) {
  w.u64(f.from);
  w.u64(f.to);
  w.u64(f.ref);
  w.u8(f.reason_kind);
  w.str32(f.detail);
}
void write_body(Writer& w, const Peers& f) {
  size_t count = std::min(f.peers.size(), kMax16);
  w.u16(static_cast<uint16_t>(count));
  for (size_t i = 0; i < count; ++i) {
    w.str16(f.peers[i].name);
    w.str16(f.peers[i].address);
  }
}
void write_body(Writer& w, const GlobalAdd& f) {
  w.str16(f.name);
  w.u64(f.pid);
  w.u64(f.stamp);
}
void write_body(Writer& w, const GlobalDel& f) {
  w.str16(f.name);
  w.u64(f.pid);
}
void write_body(Writer& w, const GlobalSync& f) {
  w.u32(static_cast<uint32_t>(f.names.size()));
  for (const GlobalEntry& e : f.names) {
    w.str16(e.name);
    w.u64(e.pid);
    w.u64(e.stamp);
  }
}
void write_body(Writer& w, const TopicJoin& f) {
  w.str16(f.topic);
}
void write_body(Writer& w, const TopicLeave& f) {
  w.str16(f.topic);
}
void write_body(Writer& w, const TopicSync& f) {
  w.u32(static_cast<uint32_t>(f.topics.size()));
  for (const std::string& t : f.topics) {
    w.str16(t);
  }
}
void write_body(Writer& w, const Publish& f) {
  w.u64(f.from);
  w.str16(f.topic);
  w.u64(f.tag);
  w.u64(f.ref);
  w.str32(f.payload);
}
void write_body(Writer& w, const GlobalAsk& f) {
  w.str16(f.name);
  w.u64(f.pid);
  w.u64(f.stamp);
}

void write_body(Writer& w, const Spawn& f) {
  w.u64(f.ref);
  w.u64(f.from);
  w.str16(f.hash);
  w.str16(f.module);
  w.str16(f.function);
  size_t n = std::min(f.args.size(), kMax16);
  w.u16(static_cast<uint16_t>(n));
  for (size_t i = 0; i < n; ++i) {
    w.u64(f.args[i]);
  }
  w.u64(f.caps);
  w.u32(f.max_memory_pages);
  w.u8(f.flags);
  w.u64(f.monitor_ref);
  w.u32(f.mailbox_bound);
  w.str16(f.label);
}
void write_body(Writer& w, const SpawnReply& f) {
  w.u64(f.ref);
  w.u64(f.to);
  w.u8(static_cast<uint8_t>(f.status));
  w.u64(f.pid);
  w.str16(f.message);
}
void write_body(Writer& w, const ModuleBytes& f) {
  w.str16(f.hash);
  w.str32(f.bytes);
}

void write_body(Writer& w, const ShellLine& f) {
  w.u32(f.id);
  w.str32(f.line);
}
void write_body(Writer& w, const Observe& f) {
  w.u32(f.id);
}
void write_body(Writer& w, const Observed& f) {
  w.u32(f.id);
  w.u8(f.ok ? 1 : 0);
  w.str32(f.body);
}
void write_body(Writer& w, const ShellOutput& f) {
  w.u32(f.id);
  w.str32(f.output);
}
void write_body(Writer& w, const ShellCancel& f) {
  w.u32(f.id);
}
void write_body(Writer& w, const ShellResult& f) {
  w.u32(f.id);
  w.u8(f.ok ? 1 : 0);
  w.str32(f.output);
}

// Reads a frame body; the first failure is kept and every later read fails.
class Reader {
 public:
  Reader(std::string_view body, const char* frame) : d_(body), frame_(frame) {}

  bool u8(uint8_t& v, const char* field) {
    if (!need(1, field)) {
      return false;
    }
    v = static_cast<uint8_t>(d_[pos_++]);
    return true;
  }
  bool u16(uint16_t& v, const char* field) { return uint_n(v, 2, field); }
  bool u32(uint32_t& v, const char* field) { return uint_n(v, 4, field); }
  bool u64(uint64_t& v, const char* field) { return uint_n(v, 8, field); }
  bool flag(bool& v, const char* field) {
    uint8_t b = 0;
    if (!u8(b, field)) {
      return false;
    }
    if (b > 1) {
      error_ =
          Error(std::string(frame_) + " frame: field '" + field + "' at body offset " +
                    std::to_string(pos_ - 1) + " is " + std::to_string(b) + ", expected 0 or 1",
                static_cast<int>(FrameError::kBadValue));
      return false;
    }
    v = b == 1;
    return true;
  }
  bool str16(std::string& s, const char* field) {
    uint16_t n = 0;
    return u16(n, field) && bytes(s, n, field);
  }
  bool str32(std::string& s, const char* field) {
    uint32_t n = 0;
    return u32(n, field) && bytes(s, n, field);
  }
  // A global name: a str16 of 1 to kMaxGlobalNameBytes bytes.
  bool gname(std::string& s, const char* field) {
    size_t at = pos_;
    if (!str16(s, field)) {
      return false;
    }
    if (s.empty() || s.size() > kMaxGlobalNameBytes) {
      error_ = Error(std::string(frame_) + " frame: field '" + field + "' at body offset " +
                         std::to_string(at) + " is " + std::to_string(s.size()) +
                         " bytes long, expected 1 to " + std::to_string(kMaxGlobalNameBytes),
                     static_cast<int>(FrameError::kBadValue));
      return false;
    }
    return true;
  }
  // A module hash: a str16 of exactly kModuleHashBytes bytes.
  bool hash(std::string& s, const char* field) {
    size_t at = pos_;
    if (!str16(s, field)) {
      return false;
    }
    if (s.size() != kModuleHashBytes) {
      error_ = Error(std::string(frame_) + " frame: field '" + field + "' at body offset " +
                         std::to_string(at) + " is " + std::to_string(s.size()) +
                         " bytes long, expected " + std::to_string(kModuleHashBytes),
                     static_cast<int>(FrameError::kBadValue));
      return false;
    }
    return true;
  }
  // Succeeds when every byte was consumed.
  bool finish() {
    if (error_) {
      return false;
    }
    if (pos_ != d_.size()) {
      error_ = Error(std::string(frame_) + " frame has " + std::to_string(d_.size() - pos_) +
                         " trailing bytes after its last field (body of " +
                         std::to_string(d_.size()) + " bytes)",
                     static_cast<int>(FrameError::kTrailingBytes));
      return false;
    }
    return true;
  }
  Error error() const { return error_ ? *error_ : Error("decode failed"); }

 private:
  template <typename T>
  bool uint_n(T& v, size_t n, const char* field) {
    if (!need(n, field)) {
      return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) {
      x = (x << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    }
    pos_ += n;
    v = static_cast<T>(x);
    return true;
  }
  bool need(size_t n, const char* field) {
    if (error_) {
      return false;
    }
    if (d_.size() - pos_ < n) {
      error_ =
          Error(std::string("truncated ") + frame_ + " frame: field '" + field +
                    "' at body offset " + std::to_string(pos_) + " needs " + std::to_string(n) +
                    " bytes, " + std::to_string(d_.size() - pos_) + " left",
                static_cast<int>(FrameError::kTruncated));
      return false;
    }
    return true;
  }
  bool bytes(std::string& s, size_t n, const char* field) {
    if (error_) {
      return false;
    }
    if (d_.size() - pos_ < n) {
      error_ = Error(std::string(frame_) + " frame: length " + std::to_string(n) + " of field '" +
                         field + "' at body offset " + std::to_string(pos_) + " exceeds the " +
                         std::to_string(d_.size() - pos_) + " bytes left in the frame",
                     static_cast<int>(FrameError::kBadLength));
      return false;
    }
    s.assign(d_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  std::string_view d_;
  const char* frame_;
  size_t pos_ = 0;
  std::optional<Error> error_;
};

Result<Frame> done(Reader& r, Frame f) {
  if (!r.finish()) {
    return r.error();
  }
  return f;
}

}  // namespace

bool is_reserved_type(uint8_t type) {
  return (type >= kFirstReservedType && type <= 19) || (type >= 28 && type <= kLastReservedType);
}

bool known_frame_type(uint8_t type) {
  return (type >= static_cast<uint8_t>(FrameType::kHello) && type <= kLastReservedType) ||
         type == static_cast<uint8_t>(FrameType::kShellLine) ||
         type == static_cast<uint8_t>(FrameType::kShellResult) ||
         type == static_cast<uint8_t>(FrameType::kShellOutput) ||
         type == static_cast<uint8_t>(FrameType::kShellCancel);
}

FrameType type_of(const Frame& frame) {
  return std::visit([](const auto& f) { return std::decay_t<decltype(f)>::kType; }, frame);
}

std::string frame_type_name(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kRefuse:
      return "REFUSE";
    case FrameType::kTick:
      return "TICK";
    case FrameType::kSend:
      return "SEND";
    case FrameType::kSendNamed:
      return "SEND_NAMED";
    case FrameType::kExit:
      return "EXIT";
    case FrameType::kLink:
      return "LINK";
    case FrameType::kUnlink:
      return "UNLINK";
    case FrameType::kMonitor:
      return "MONITOR";
    case FrameType::kDemonitor:
      return "DEMONITOR";
    case FrameType::kDown:
      return "DOWN";
    case FrameType::kPeers:
      return "PEERS";
    case FrameType::kObserve:
      return "OBSERVE";
    case FrameType::kObserved:
      return "OBSERVED";
    case FrameType::kSpawn:
      return "SPAWN";
    case FrameType::kSpawnReply:
      return "SPAWN_REPLY";
    case FrameType::kModule:
      return "MODULE";
    case FrameType::kGlobalAdd:
      return "GLOBAL_ADD";
    case FrameType::kGlobalDel:
      return "GLOBAL_DEL";
    case FrameType::kGlobalSync:
      return "GLOBAL_SYNC";
    case FrameType::kGlobalAsk:
      return "GLOBAL_ASK";
    case FrameType::kTopicJoin:
      return "TOPIC_JOIN";
    case FrameType::kTopicLeave:
      return "TOPIC_LEAVE";
    case FrameType::kTopicSync:
      return "TOPIC_SYNC";
    case FrameType::kPublish:
      return "PUBLISH";
    case FrameType::kShellLine:
      return "SHELL_LINE";
    case FrameType::kShellResult:
      return "SHELL_RESULT";
    case FrameType::kShellOutput:
      return "SHELL_OUTPUT";
    case FrameType::kShellCancel:
      return "SHELL_CANCEL";
  }
  return "type " + std::to_string(type);
}

size_t encoded_size(const Frame& frame) {
  return kFrameHeaderSize + std::visit([](const auto& f) { return body_size(f); }, frame);
}

void encode(const Frame& frame, std::string& out) {
  std::visit(
      [&out](const auto& f) {
        size_t body = body_size(f);
        size_t at = out.size();
        // resize() zero-fills the new bytes, which are overwritten at once;
        // with the capacity kept between writes it does not allocate.
        out.resize(at + kFrameHeaderSize + body);
        Writer w(out.data() + at);
        w.u32(static_cast<uint32_t>(body + 1));
        w.u8(static_cast<uint8_t>(std::decay_t<decltype(f)>::kType));
        write_body(w, f);
      },
      frame);
}

Result<Frame> decode_body(uint8_t type, std::string_view body) {
  if (is_reserved_type(type)) {
    return Error("unsupported frame type " + std::to_string(type) + " (reserved for " +
                     "later use" + ", not handled by this build)",
                 static_cast<int>(FrameError::kUnsupportedType));
  }
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello: {
      Reader r(body, "HELLO");
      Hello f;
      r.u16(f.version, "version") && r.str16(f.name, "name") && r.u16(f.node_id, "node id") &&
          r.u32(f.creation, "creation") && r.u32(f.flags, "flags");
      return done(r, std::move(f));
    }
    case FrameType::kRefuse: {
      Reader r(body, "REFUSE");
      Refuse f;
      r.str16(f.reason, "reason");
      return done(r, std::move(f));
    }
    case FrameType::kTick: {
      Reader r(body, "TICK");
      return done(r, Tick{});
    }
    case FrameType::kSend: {
      Reader r(body, "SEND");
      Send f;
      r.u64(f.from, "from") && r.u64(f.to, "to") && r.u64(f.tag, "tag") && r.u64(f.ref, "ref") &&
          r.str32(f.payload, "payload");
      return done(r, std::move(f));
    }
    case FrameType::kSendNamed: {
      Reader r(body, "SEND_NAMED");
      SendNamed f;
      r.u64(f.from, "from") && r.str16(f.name, "name") && r.u64(f.tag, "tag") &&
          r.u64(f.ref, "ref") && r.str32(f.payload, "payload");
      return done(r, std::move(f));
    }
    case FrameType::kExit: {
      Reader r(body, "EXIT");
      Exit f;
      r.u64(f.from, "from") && r.u64(f.to, "to") && r.u8(f.reason_kind, "reason kind") &&
          r.str32(f.detail, "detail") && r.flag(f.linked, "linked");
      return done(r, std::move(f));
    }
    case FrameType::kLink: {
      Reader r(body, "LINK");
      Link f;
      r.u64(f.from, "from") && r.u64(f.to, "to");
      return done(r, f);
    }
    case FrameType::kUnlink: {
      Reader r(body, "UNLINK");
      Unlink f;
      r.u64(f.from, "from") && r.u64(f.to, "to");
      return done(r, f);
    }
    case FrameType::kMonitor: {
      Reader r(body, "MONITOR");
      Monitor f;
      r.u64(f.from, "from") && r.u64(f.to, "to") && r.u64(f.ref, "ref");
      return done(r, f);
    }
    case FrameType::kDemonitor: {
      Reader r(body, "DEMONITOR");
      Demonitor f;
      r.u64(f.from, "from") && r.u64(f.to, "to") && r.u64(f.ref, "ref");
      return done(r, f);
    }
    case FrameType::kDown: {
      Reader r(body, "DOWN");
      Down f;
      r.u64(f.from, "from") && r.u64(f.to, "to") && r.u64(f.ref, "ref") &&
          r.u8(f.reason_kind, "reason kind") && r.str32(f.detail, "detail");
      return done(r, std::move(f));
    }
    case FrameType::kPeers: {
      Reader r(body, "PEERS");
      Peers f;
      uint16_t count = 0;
      if (r.u16(count, "count")) {
        // Each entry needs at least 4 bytes: never reserve more than the
        // body could hold.
        f.peers.reserve(std::min<size_t>(count, body.size() / 4));
        for (uint16_t i = 0; i < count; ++i) {
          PeerEntry e;
          if (!r.str16(e.name, "peer name") || !r.str16(e.address, "peer address")) {
            break;
          }
          f.peers.push_back(std::move(e));
        }
      }
      return done(r, std::move(f));
    }
    case FrameType::kSpawn: {
      Reader r(body, "SPAWN");
      Spawn f;
      uint16_t count = 0;
      if (r.u64(f.ref, "ref") && r.u64(f.from, "from") && r.hash(f.hash, "module hash") &&
          r.str16(f.module, "module name") && r.str16(f.function, "function") &&
          r.u16(count, "argument count")) {
        if (count > kMaxSpawnArgs) {
          return Error("SPAWN frame: " + std::to_string(count) + " arguments, at most " +
                           std::to_string(kMaxSpawnArgs),
                       static_cast<int>(FrameError::kBadValue));
        }
        f.args.resize(count);
        for (uint16_t i = 0; i < count && r.u64(f.args[i], "argument"); ++i) {
        }
        r.u64(f.caps, "capabilities") && r.u32(f.max_memory_pages, "max memory pages") &&
            r.u8(f.flags, "flags") && r.u64(f.monitor_ref, "monitor ref") &&
            r.u32(f.mailbox_bound, "mailbox bound") && r.str16(f.label, "label");
      }
      return done(r, std::move(f));
    }
    case FrameType::kSpawnReply: {
      Reader r(body, "SPAWN_REPLY");
      SpawnReply f;
      uint8_t status = 0;
      if (r.u64(f.ref, "ref") && r.u64(f.to, "to") && r.u8(status, "status") &&
          r.u64(f.pid, "pid") && r.str16(f.message, "message")) {
        if (status > static_cast<uint8_t>(SpawnStatus::kLimit)) {
          return Error("SPAWN_REPLY frame: status " + std::to_string(status) + " is not 0 to 5",
                       static_cast<int>(FrameError::kBadValue));
        }
        f.status = static_cast<SpawnStatus>(status);
      }
      return done(r, std::move(f));
    }
    case FrameType::kModule: {
      Reader r(body, "MODULE");
      ModuleBytes f;
      r.hash(f.hash, "module hash") && r.str32(f.bytes, "bytes");
      return done(r, std::move(f));
    }
    case FrameType::kGlobalAdd: {
      Reader r(body, "GLOBAL_ADD");
      GlobalAdd f;
      r.gname(f.name, "name") && r.u64(f.pid, "pid") && r.u64(f.stamp, "stamp");
      return done(r, std::move(f));
    }
    case FrameType::kGlobalDel: {
      Reader r(body, "GLOBAL_DEL");
      GlobalDel f;
      r.gname(f.name, "name") && r.u64(f.pid, "pid");
      return done(r, std::move(f));
    }
    case FrameType::kGlobalSync: {
      Reader r(body, "GLOBAL_SYNC");
      GlobalSync f;
      uint32_t count = 0;
      if (r.u32(count, "count")) {
        // Each entry needs at least 19 bytes: never reserve more than the
        // body could hold.
        f.names.reserve(std::min<size_t>(count, body.size() / 19));
        for (uint32_t i = 0; i < count; ++i) {
          GlobalEntry e;
          if (!r.gname(e.name, "name") || !r.u64(e.pid, "pid") || !r.u64(e.stamp, "stamp")) {
            break;
          }
          f.names.push_back(std::move(e));
        }
      }
      return done(r, std::move(f));
    }
    case FrameType::kTopicJoin: {
      Reader r(body, "TOPIC_JOIN");
      TopicJoin f;
      r.gname(f.topic, "topic");
      return done(r, std::move(f));
    }
    case FrameType::kTopicLeave: {
      Reader r(body, "TOPIC_LEAVE");
      TopicLeave f;
      r.gname(f.topic, "topic");
      return done(r, std::move(f));
    }
    case FrameType::kTopicSync: {
      Reader r(body, "TOPIC_SYNC");
      TopicSync f;
      uint32_t count = 0;
      if (r.u32(count, "count")) {
        // Each topic needs at least 3 bytes: never reserve more than the
        // body could hold.
        f.topics.reserve(std::min<size_t>(count, body.size() / 3));
        for (uint32_t i = 0; i < count; ++i) {
          std::string t;
          if (!r.gname(t, "topic")) {
            break;
          }
          f.topics.push_back(std::move(t));
        }
      }
      return done(r, std::move(f));
    }
    case FrameType::kPublish: {
      Reader r(body, "PUBLISH");
      Publish f;
      r.u64(f.from, "from") && r.gname(f.topic, "topic") && r.u64(f.tag, "tag") &&
          r.u64(f.ref, "ref") && r.str32(f.payload, "payload");
      return done(r, std::move(f));
    }
    case FrameType::kGlobalAsk: {
      Reader r(body, "GLOBAL_ASK");
      GlobalAsk f;
      r.gname(f.name, "name") && r.u64(f.pid, "pid") && r.u64(f.stamp, "stamp");
      return done(r, std::move(f));
    }
    case FrameType::kShellLine: {
      Reader r(body, "SHELL_LINE");
      ShellLine f;
      r.u32(f.id, "id") && r.str32(f.line, "line");
      return done(r, std::move(f));
    }
    case FrameType::kObserve: {
      Reader r(body, "OBSERVE");
      Observe f;
      r.u32(f.id, "id");
      return done(r, f);
    }
    case FrameType::kObserved: {
      Reader r(body, "OBSERVED");
      Observed f;
      r.u32(f.id, "id") && r.flag(f.ok, "ok") && r.str32(f.body, "body");
      return done(r, std::move(f));
    }
    case FrameType::kShellOutput: {
      Reader r(body, "SHELL_OUTPUT");
      ShellOutput f;
      r.u32(f.id, "id") && r.str32(f.output, "output");
      return done(r, std::move(f));
    }
    case FrameType::kShellCancel: {
      Reader r(body, "SHELL_CANCEL");
      ShellCancel f;
      r.u32(f.id, "id");
      return done(r, f);
    }
    case FrameType::kShellResult: {
      Reader r(body, "SHELL_RESULT");
      ShellResult f;
      r.u32(f.id, "id") && r.flag(f.ok, "ok") && r.str32(f.output, "output");
      return done(r, std::move(f));
    }
  }
  return Error("unknown frame type " + std::to_string(type),
               static_cast<int>(FrameError::kUnknownType));
}

void Decoder::feed(std::string_view bytes) {
  if (bytes.empty()) {
    return;
  }
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

char* Decoder::prepare(size_t n) {
  if (buf_.size() - end_ < n) {
    // Move the unread bytes to the front before growing.
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < n) {
      buf_.resize(end_ + n);
    }
  }
  return buf_.data() + end_;
}

void Decoder::commit(size_t k) {
  end_ = std::min(end_ + k, buf_.size());
}

Error Decoder::fail(Error e) {
  failed_ = e;
  return e;
}

Result<std::optional<Frame>> Decoder::next() {
  if (failed_) {
    return *failed_;
  }
  size_t avail = end_ - begin_;
  if (avail < 4) {
    return std::optional<Frame>();
  }
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + begin_);
  uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  if (len == 0) {
    return fail(
        Error("frame at stream offset " + std::to_string(offset_) + " has length 0 (no type byte)",
              static_cast<int>(FrameError::kEmpty)));
  }
  if (len > max_frame_) {
    return fail(Error("frame at stream offset " + std::to_string(offset_) + " announces " +
                          std::to_string(len) + " bytes, above the limit of " +
                          std::to_string(max_frame_),
                      static_cast<int>(FrameError::kOversized)));
  }
  if (avail < 4 + size_t{len}) {
    // Once both header fields are here, a type nobody defined fails at once
    // rather than after its body arrives.
    if (avail >= kFrameHeaderSize && !known_frame_type(p[4])) {
      return fail(Error("frame at stream offset " + std::to_string(offset_) +
                            ": unknown frame type " + std::to_string(p[4]),
                        static_cast<int>(FrameError::kUnknownType)));
    }
    return std::optional<Frame>();
  }
  uint8_t type = p[4];
  std::string_view body(buf_.data() + begin_ + kFrameHeaderSize, len - 1);
  Result<Frame> f = decode_body(type, body);
  if (!f) {
    return fail(Error("frame at stream offset " + std::to_string(offset_) + ": " + f.message(),
                      f.error().code()));
  }
  begin_ += 4 + size_t{len};
  offset_ += 4 + uint64_t{len};
  if (begin_ == end_) {
    begin_ = end_ = 0;
  }
  return std::optional<Frame>(std::move(f).value());
}

}  // namespace rusm::cluster
