// Tracing one process: what it sends and receives, whom it spawns, links and
// monitors, and how it exits, as events to a Tracer (Erlang's erlang:trace/3
// with send, 'receive' and procs). The shell's `trace PID` is built on it.
//
//   node.trace(pid, std::make_shared<MyTracer>());  // events until pid exits
//   node.untrace(pid, tracer.get());                // or until this
//
// Cost: a process that is not traced pays one relaxed load of a flag per
// send, delivery, spawn, link and monitor. A traced one takes a node-wide
// mutex per event; a Tracer that cannot keep up must drop (the shell's caps
// its rate), never block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"

namespace rusm::otp {

enum class TraceKind : uint8_t {
  kSend,       // pid sent a message (tag, size) to other
  kReceive,    // a message (tag, size) from other (invalid: from outside) reached pid's mailbox
  kSpawn,      // pid spawned other
  kLink,       // pid linked to other
  kUnlink,     // pid dropped its link to other
  kMonitor,    // pid monitors other
  kDemonitor,  // pid dropped a monitor of other
  kExit,       // pid exited with reason (the last event)
};

struct TraceEvent {
  TraceKind kind = TraceKind::kSend;
  Pid pid;    // the traced process
  Pid other;  // see TraceKind
  uint64_t tag = 0;
  size_t size = 0;    // payload bytes
  ExitReason reason;  // kExit
};

// Gets a traced process's events: on the thread that caused each (the
// worker running the process; for kReceive, the sender's thread), possibly
// on several threads at once. It must be quick and must not block or call
// into the node's trace()/untrace().
class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void event(const TraceEvent& e) = 0;
};

const char* trace_kind_name(TraceKind kind);  // "send", "receive", ...

}  // namespace rusm::otp
