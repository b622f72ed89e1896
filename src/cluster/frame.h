// The wire format between rusm nodes: versioned, length-prefixed binary frames.
//
// Every frame is
//
//   u32 length (big-endian; counts the type byte and the body, never 0)
//   u8  type
//   body (type-specific, fields in the order listed below)
//
// Integers are big-endian. `str16` is a u16 byte count then the bytes, `str32`
// a u32 byte count then the bytes. A body must be consumed exactly: a field
// that runs past the frame, or bytes left after the last field, are errors.
//
//   1  HELLO       u16 version, str16 name, u16 node id, u32 creation, u32 flags
//                  (the version comes first in every protocol version, so a
//                  node can always tell which version a peer speaks)
//   2  REFUSE      str16 reason
//   3  TICK        (empty)
//   4  SEND        u64 from, u64 to, u64 tag, u64 ref, str32 payload
//   5  SEND_NAMED  u64 from, str16 name (node-local), u64 tag, u64 ref, str32 payload
//   6  EXIT        u64 from, u64 to, u8 reason kind, str32 detail, u8 linked (0/1)
//   7  LINK        u64 from, u64 to
//   8  UNLINK      u64 from, u64 to
//   9  MONITOR     u64 from, u64 to, u64 ref
//   10 DEMONITOR   u64 from, u64 to, u64 ref
//   11 DOWN        u64 from, u64 to, u64 ref, u8 reason kind, str32 detail
//   12 PEERS       u16 count, then count x (str16 name, str16 address "host:port")
//   13 SPAWN       u64 ref, u64 from, hash module, str16 module name, str16
//                  function, u16 count then count x u64 args, u64 capability
//                  bits, u32 max memory pages, u8 flags (1 link, 2 monitor,
//                  4 trap_exit), u64 monitor ref, u32 mailbox bound, str16
//                  label: `from` asks the receiver to
//                  spawn function of the module with that content hash
//                  (docs/cluster.md, "Remote spawn")
//   14 SPAWN_REPLY u64 ref, u64 to, u8 status (SpawnStatus: 0 spawned, 1
//                  module needed, 2 denied, 3 not found, 4 bad argument, 5
//                  limit), u64 pid, str16 message: the answer to the SPAWN
//                  `ref` of process `to`
//   15 MODULE      hash module, str32 bytes: a module's bytes, sent before a
//                  SPAWN that was answered "module needed"
//   16 OBSERVE     u32 id: asks the receiver for its observer snapshot
//   17 OBSERVED    u32 id, u8 ok (0/1), str32 body: the answer (the snapshot's
//                  JSON, docs/dashboard.md; or why not)
//   18-19          reserved                      (decode as "unsupported")
//   20 GLOBAL_ADD  gname name, u64 pid, u64 stamp (the sender's process pid
//                  holds the global name since stamp, microseconds since the
//                  Unix epoch)
//   21 GLOBAL_DEL  gname name, u64 pid (pid no longer holds name)
//   22 GLOBAL_SYNC u32 count, then count x (gname name, u64 pid, u64 stamp):
//                  the names the sender's processes hold, sent on node up
//   23 GLOBAL_ASK  gname name, u64 pid, u64 stamp (the sender registered the
//                  receiver's process pid as name: the receiver checks it and
//                  answers every peer with GLOBAL_ADD or GLOBAL_DEL)
//   24 TOPIC_JOIN  gname topic (the sender has subscribers of topic now)
//   25 TOPIC_LEAVE gname topic (it has none left)
//   26 TOPIC_SYNC  u32 count, then count x gname topic: the topics the
//                  sender has subscribers of, sent on node up
//   27 PUBLISH     u64 from, gname topic, u64 tag, u64 ref, str32 payload:
//                  deliver to the receiver's subscribers of topic
//   28-29          reserved (decode as "unsupported")
//   30 SHELL_LINE   u32 id, str32 line                 (operator -> node: `rusm attach`)
//   31 SHELL_RESULT u32 id, u8 ok (0/1), str32 output  (node -> operator: the line's answer)
//   32 SHELL_OUTPUT u32 id, str32 output  (node -> operator: part of the line's
//                   output, streamed before its SHELL_RESULT: `trace`)
//   33 SHELL_CANCEL u32 id                 (operator -> node: stop that line's
//                   command; ignored once it has ended)
//
// `gname` is a str16 of 1 to kMaxGlobalNameBytes (255) bytes: an empty or
// longer name is a decode error (kBadValue). `hash` is a str16 of exactly
// kModuleHashBytes (32) bytes, a module's SHA-256; SPAWN carries at most
// kMaxSpawnArgs arguments.
//
// An operator (`rusm attach`, not a node) announces itself in its HELLO with
// node id 0 and kHelloOperator in the flags; the node answers with its own
// HELLO carrying kHelloOperator too (accepted as an operator) or REFUSE. On
// such a connection the operator sends only SHELL_LINE and the node only
// SHELL_RESULT (and both TICK); it never joins membership or gossip.
//
// Pids are the 64-bit values of otp::Pid (the node id sits in the top 16
// bits); this layer moves them without interpreting them. A reason kind is the
// actor core's exit-reason kind, mapped by the router; the transport does not
// interpret it either.
//
// Decoding is for untrusted bytes: every malformed input yields an Error (with
// a FrameError code and a message naming the frame and field), never a crash,
// and a length above the configured maximum is rejected as soon as the 4-byte
// header is seen, before the body is buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rusm/result.h"

namespace rusm::cluster {

// The protocol version this build speaks (HELLO.version).
inline constexpr uint16_t kProtocolVersion = 1;
// Bytes before the body: the u32 length and the u8 type.
inline constexpr size_t kFrameHeaderSize = 5;
// Default upper bound on a frame's length field (type + body).
inline constexpr uint32_t kDefaultMaxFrame = 64u << 20;

enum class FrameType : uint8_t {
  kHello = 1,
  kRefuse = 2,
  kTick = 3,
  kSend = 4,
  kSendNamed = 5,
  kExit = 6,
  kLink = 7,
  kUnlink = 8,
  kMonitor = 9,
  kDemonitor = 10,
  kDown = 11,
  kPeers = 12,
  kSpawn = 13,
  kSpawnReply = 14,
  kModule = 15,
  kObserve = 16,
  kObserved = 17,
  // 18..19: reserved, not yet decoded.
  kGlobalAdd = 20,
  kGlobalDel = 21,
  kGlobalSync = 22,
  kGlobalAsk = 23,
  kTopicJoin = 24,
  kTopicLeave = 25,
  kTopicSync = 26,
  kPublish = 27,
  // 28..29: reserved, not yet decoded.
  kShellLine = 30,
  kShellResult = 31,
  kShellOutput = 32,
  kShellCancel = 33,
};
inline constexpr uint8_t kFirstReservedType = 18;
inline constexpr size_t kModuleHashBytes = 32;
inline constexpr size_t kMaxSpawnArgs = 64;
inline constexpr uint8_t kLastReservedType = 29;
// Whether `type` is a reserved number this build does not decode yet.
bool is_reserved_type(uint8_t type);
// The longest global name a GLOBAL_* frame carries (otp::kMaxGlobalName).
inline constexpr size_t kMaxGlobalNameBytes = 255;
// Whether `type` names a frame this build decodes or reserves (any other
// number is unknown, and fails as soon as the header is seen).
bool known_frame_type(uint8_t type);

// HELLO.flags bits.
// An operator's attach (see above). A node never sets it in a HELLO of its
// own except to answer an operator it accepted.
inline constexpr uint32_t kHelloOperator = 1u << 0;

// Error codes carried by decode errors (Error::code()).
enum class FrameError : int {
  kEmpty = 1,        // length field 0: no type byte
  kOversized,        // length field above the limit
  kUnknownType,      // a type number nobody defined
  kUnsupportedType,  // a reserved type number this build does not handle yet
  kTruncated,        // a fixed-size field runs past the end of the frame
  kBadLength,        // a str16/str32 length runs past the end of the frame
  kTrailingBytes,    // bytes left after the last field
  kBadValue,         // a field with an impossible value (a flag other than 0/1)
};

struct Hello {
  static constexpr FrameType kType = FrameType::kHello;
  uint16_t version = kProtocolVersion;
  std::string name;
  uint16_t node_id = 0;
  uint32_t creation = 0;
  uint32_t flags = 0;
  friend bool operator==(const Hello&, const Hello&) = default;
};
struct Refuse {
  static constexpr FrameType kType = FrameType::kRefuse;
  std::string reason;
  friend bool operator==(const Refuse&, const Refuse&) = default;
};
struct Tick {
  static constexpr FrameType kType = FrameType::kTick;
  friend bool operator==(const Tick&, const Tick&) = default;
};
struct Send {
  static constexpr FrameType kType = FrameType::kSend;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t tag = 0;
  uint64_t ref = 0;  // the message's correlation value (Message::ref)
  std::string payload;
  friend bool operator==(const Send&, const Send&) = default;
};
struct SendNamed {
  static constexpr FrameType kType = FrameType::kSendNamed;
  uint64_t from = 0;
  std::string name;
  uint64_t tag = 0;
  uint64_t ref = 0;
  std::string payload;
  friend bool operator==(const SendNamed&, const SendNamed&) = default;
};
struct Exit {
  static constexpr FrameType kType = FrameType::kExit;
  uint64_t from = 0;
  uint64_t to = 0;
  uint8_t reason_kind = 0;
  std::string detail;
  bool linked = false;
  friend bool operator==(const Exit&, const Exit&) = default;
};
struct Link {
  static constexpr FrameType kType = FrameType::kLink;
  uint64_t from = 0;
  uint64_t to = 0;
  friend bool operator==(const Link&, const Link&) = default;
};
struct Unlink {
  static constexpr FrameType kType = FrameType::kUnlink;
  uint64_t from = 0;
  uint64_t to = 0;
  friend bool operator==(const Unlink&, const Unlink&) = default;
};
struct Monitor {
  static constexpr FrameType kType = FrameType::kMonitor;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t ref = 0;
  friend bool operator==(const Monitor&, const Monitor&) = default;
};
struct Demonitor {
  static constexpr FrameType kType = FrameType::kDemonitor;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t ref = 0;
  friend bool operator==(const Demonitor&, const Demonitor&) = default;
};
struct Down {
  static constexpr FrameType kType = FrameType::kDown;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t ref = 0;
  uint8_t reason_kind = 0;
  std::string detail;
  friend bool operator==(const Down&, const Down&) = default;
};
struct PeerEntry {
  std::string name;
  std::string address;  // "host:port" where that node listens
  friend bool operator==(const PeerEntry&, const PeerEntry&) = default;
};
struct Peers {
  static constexpr FrameType kType = FrameType::kPeers;
  std::vector<PeerEntry> peers;
  friend bool operator==(const Peers&, const Peers&) = default;
};

struct ShellLine {
  static constexpr FrameType kType = FrameType::kShellLine;
  uint32_t id = 0;  // echoed by the answer
  std::string line;
  friend bool operator==(const ShellLine&, const ShellLine&) = default;
};
struct ShellResult {
  static constexpr FrameType kType = FrameType::kShellResult;
  uint32_t id = 0;  // the SHELL_LINE's
  bool ok = true;   // false: the command failed or was refused; output says why
  std::string output;
  friend bool operator==(const ShellResult&, const ShellResult&) = default;
};

struct GlobalAdd {
  static constexpr FrameType kType = FrameType::kGlobalAdd;
  std::string name;
  uint64_t pid = 0;
  uint64_t stamp = 0;
  friend bool operator==(const GlobalAdd&, const GlobalAdd&) = default;
};
struct GlobalDel {
  static constexpr FrameType kType = FrameType::kGlobalDel;
  std::string name;
  uint64_t pid = 0;
  friend bool operator==(const GlobalDel&, const GlobalDel&) = default;
};
struct GlobalEntry {
  std::string name;
  uint64_t pid = 0;
  uint64_t stamp = 0;
  friend bool operator==(const GlobalEntry&, const GlobalEntry&) = default;
};
struct GlobalSync {
  static constexpr FrameType kType = FrameType::kGlobalSync;
  std::vector<GlobalEntry> names;
  friend bool operator==(const GlobalSync&, const GlobalSync&) = default;
};
struct GlobalAsk {
  static constexpr FrameType kType = FrameType::kGlobalAsk;
  std::string name;
  uint64_t pid = 0;
  uint64_t stamp = 0;
  friend bool operator==(const GlobalAsk&, const GlobalAsk&) = default;
};

// SPAWN flags.
inline constexpr uint8_t kSpawnLinkFlag = 1, kSpawnMonitorFlag = 2, kSpawnTrapExitFlag = 4;
struct Spawn {
  static constexpr FrameType kType = FrameType::kSpawn;
  uint64_t ref = 0;      // the requester's; echoed by SPAWN_REPLY
  uint64_t from = 0;     // the requesting process (0: from outside any process)
  std::string hash;      // the module's SHA-256 (kModuleHashBytes)
  std::string module;    // its name on the requester (labels and messages)
  std::string function;  // an exported function
  std::vector<uint64_t> args;
  uint64_t caps = 0;  // capability bits asked for (the receiver's policy caps them)
  uint32_t max_memory_pages = 0;
  uint8_t flags = 0;
  uint64_t monitor_ref = 0;    // with kSpawnMonitorFlag: the monitor's ref
  uint32_t mailbox_bound = 0;  // queued messages; 0: unbounded
  std::string label;           // shown in process info ("": the function's name)
  friend bool operator==(const Spawn&, const Spawn&) = default;
};
enum class SpawnStatus : uint8_t {
  kSpawned = 0,
  kModuleNeeded = 1,  // send MODULE, then the SPAWN again
  kDenied = 2,        // this node takes no spawns from peers
  kNotFound = 3,      // no such function
  kBadArg = 4,        // wrong arguments, or a module that does not load
  kLimit = 5,         // could not start it (memory budget, shutting down, ...)
};
struct SpawnReply {
  static constexpr FrameType kType = FrameType::kSpawnReply;
  uint64_t ref = 0;
  uint64_t to = 0;
  SpawnStatus status = SpawnStatus::kSpawned;
  uint64_t pid = 0;     // kSpawned: the child
  std::string message;  // not kSpawned: why
  friend bool operator==(const SpawnReply&, const SpawnReply&) = default;
};
struct ModuleBytes {
  static constexpr FrameType kType = FrameType::kModule;
  std::string hash;
  std::string bytes;
  friend bool operator==(const ModuleBytes&, const ModuleBytes&) = default;
};

struct Observe {
  static constexpr FrameType kType = FrameType::kObserve;
  uint32_t id = 0;
  friend bool operator==(const Observe&, const Observe&) = default;
};
struct Observed {
  static constexpr FrameType kType = FrameType::kObserved;
  uint32_t id = 0;
  bool ok = true;
  std::string body;
  friend bool operator==(const Observed&, const Observed&) = default;
};

struct TopicJoin {
  static constexpr FrameType kType = FrameType::kTopicJoin;
  std::string topic;
  friend bool operator==(const TopicJoin&, const TopicJoin&) = default;
};
struct TopicLeave {
  static constexpr FrameType kType = FrameType::kTopicLeave;
  std::string topic;
  friend bool operator==(const TopicLeave&, const TopicLeave&) = default;
};
struct TopicSync {
  static constexpr FrameType kType = FrameType::kTopicSync;
  std::vector<std::string> topics;
  friend bool operator==(const TopicSync&, const TopicSync&) = default;
};
struct Publish {
  static constexpr FrameType kType = FrameType::kPublish;
  uint64_t from = 0;
  std::string topic;
  uint64_t tag = 0;
  uint64_t ref = 0;
  std::string payload;
  friend bool operator==(const Publish&, const Publish&) = default;
};

struct ShellOutput {
  static constexpr FrameType kType = FrameType::kShellOutput;
  uint32_t id = 0;
  std::string output;
  friend bool operator==(const ShellOutput&, const ShellOutput&) = default;
};
struct ShellCancel {
  static constexpr FrameType kType = FrameType::kShellCancel;
  uint32_t id = 0;
  friend bool operator==(const ShellCancel&, const ShellCancel&) = default;
};

using Frame =
    std::variant<Hello, Refuse, Tick, Send, SendNamed, Exit, Link, Unlink, Monitor, Demonitor, Down,
                 Peers, Spawn, SpawnReply, ModuleBytes, Observe, Observed, GlobalAdd, GlobalDel,
                 GlobalSync, GlobalAsk, TopicJoin, TopicLeave, TopicSync, Publish, ShellLine,
                 ShellResult, ShellOutput, ShellCancel>;

FrameType type_of(const Frame& frame);
// "HELLO", "SEND", ...; "type N" for numbers that name no frame.
std::string frame_type_name(uint8_t type);

// The encoded size of `frame` (header included). Strings longer than their
// length field allows (str16: 65535 bytes) are truncated by encode(), and
// encoded_size() counts the truncated length.
size_t encoded_size(const Frame& frame);
// Appends the encoding of `frame` to `out` (no other allocation than out's
// growth).
void encode(const Frame& frame, std::string& out);

// Decodes one frame body (the bytes after the type byte).
Result<Frame> decode_body(uint8_t type, std::string_view body);

// A streaming decoder: feed it byte chunks as they arrive, take complete
// frames out. After an error it stays failed (the stream has lost its
// framing). Not thread-safe; owned by one connection.
class Decoder {
 public:
  explicit Decoder(uint32_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  // Appends bytes to the stream.
  void feed(std::string_view bytes);
  // Zero-copy feeding: prepare(n) returns room for n bytes at the end of the
  // buffer; commit(k) (k <= n) appends the first k of them.
  char* prepare(size_t n);
  void commit(size_t k);

  // The next complete frame; std::nullopt when more bytes are needed; an
  // Error when the stream is malformed (then, and forever after).
  Result<std::optional<Frame>> next();

  // Bytes fed but not yet returned as frames.
  size_t buffered() const { return end_ - begin_; }
  bool failed() const { return failed_.has_value(); }
  uint32_t max_frame() const { return max_frame_; }
  // Changes the bound for the frames not yet returned (a connection lowers
  // it once it knows its peer is an operator).
  void set_max_frame(uint32_t max_frame) { max_frame_ = max_frame; }

 private:
  Error fail(Error e);

  uint32_t max_frame_;
  std::string buf_;  // buf_.size() is the capacity in use; [begin_, end_) holds data
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t offset_ = 0;  // stream offset of buf_[begin_], for error messages
  std::optional<Error> failed_;
};

}  // namespace rusm::cluster
