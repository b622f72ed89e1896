// Read-only views of a node for observers (process info, counters).
//
// Everything here is a snapshot copied out of the node: cheap to take, safe to
// keep, never updated in place. Counters are summed from relaxed per-worker
// atomics, so a snapshot taken while the node runs is approximate (each
// counter is exact, but they are not read at one instant).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rusm/otp/pid.h"

namespace rusm::otp {

enum class ProcessStatus : uint8_t { kRunnable, kRunning, kWaiting, kExiting };
const char* to_string(ProcessStatus s);

struct ProcessInfo {
  Pid pid;
  ProcessStatus status = ProcessStatus::kRunnable;
  size_t mailbox_length = 0;  // messages received but not yet taken
  std::vector<Pid> links;
  std::vector<Pid> monitors;      // processes this one monitors
  std::vector<Pid> monitored_by;  // processes monitoring this one
  std::string registered_name;    // empty if none
  std::string label;              // from SpawnOptions::label
  uint64_t reductions = 0;
  size_t memory_bytes = 0;  // process record + body + queued messages
  // Its message budget in use: messages waiting in its mailbox (including
  // ones not yet taken into it) plus its pending timers, in bytes.
  uint64_t mailbox_bytes = 0;
  uint64_t mailbox_limit = 0;  // that budget (UINT64_MAX: unlimited)
  std::string current_wait;    // "receive any", "receive tag 7", "event", "" if not waiting
  bool trap_exit = false;
  Pid parent;  // who spawned it; invalid for processes spawned from outside
};

struct WorkerStats {
  uint64_t busy_ns = 0;  // time not parked
  uint64_t runs = 0;     // process slices run
  uint64_t steals = 0;   // processes stolen from other workers
  uint64_t parks = 0;
  size_t run_queue_length = 0;
};

struct NodeStats {
  uint64_t spawns = 0;
  uint64_t exits_normal = 0;
  uint64_t exits_shutdown = 0;
  uint64_t exits_killed = 0;
  uint64_t exits_error = 0;  // error and noproc reasons
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t reductions = 0;
  uint64_t restarts = 0;   // by supervisors
  uint64_t processes = 0;  // alive now
  uint64_t max_processes = 0;
  // The node's memory budget: bytes held for processes (messages, timers,
  // reserved body memory) and the limit.
  int64_t memory_held = 0;
  uint64_t memory_limit = 0;
  int64_t timer_bytes = 0;  // of which pending timers (payloads and records)
  std::vector<WorkerStats> workers;
};

}  // namespace rusm::otp
