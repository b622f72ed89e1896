// Remote spawn: starting a Wasm process on another node of the cluster.
//
// The runtime knows what to start (a module it loaded, named on the wire by
// the SHA-256 of its bytes) and who asks (a process, or code outside any);
// the cluster layer (rusm/cluster) carries the request, ships the module's
// bytes on first use, and applies the other node's policy. The seam between
// them is RemoteSpawner, which the cluster installs with
// Runtime::set_remote_spawner().
//
//   rt.spawn_on(node_id, spec, parent, &parent_caps,
//               [](Result<otp::Spawned> r) { ... });   // asynchronous
//   Result<otp::Spawned> s = rt.spawn_on(node_id, spec, std::chrono::seconds(5));
//
// A child spawned with spec.options.link / monitor is linked to / monitored
// by `parent` atomically with the spawn, exactly as a local child: if it
// crashes at once, the parent still gets the exit signal or the DOWN with
// the real reason, after the answer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"
#include "rusm/result.h"
#include "rusm/runtime/capabilities.h"

namespace rusm::otp {
struct Spawned;
}

namespace rusm::runtime {

// The tag of the message that answers a guest's spawn_on when it comes after
// the call timed out (docs/abi.md): payload u64 pid, u64 monitor ref, i32
// code (0 or an AbiError).
inline constexpr uint64_t kSpawnReplyTag = otp::kSystemTagBase + 0x18;

// What a node asks another to start.
struct RemoteSpawnRequest {
  uint16_t node = 0;                         // where
  otp::Pid parent;                           // who links/monitors (invalid: spawned from outside)
  std::string module;                        // its name on this node (labels, messages)
  std::string sha256;                        // of bytes: the module's name on the wire (32 bytes)
  std::shared_ptr<const std::string> bytes;  // shipped when the node lacks them
  std::string function;
  std::vector<uint64_t> args;
  Capabilities caps;  // asked for; the other node caps them by its policy
  bool link = false, monitor = false, trap_exit = false;
  otp::MonitorRef monitor_ref = 0;  // with monitor: made on this node
  uint32_t mailbox_bound = 0;       // otp::SpawnOptions::mailbox_bound
  std::string label;                // otp::SpawnOptions::label ("": the function)
};

// Called exactly once with the child, or with why not (the Error's code is
// an AbiError: kErrNoConn not connected or connection lost, kErrDenied the
// node refuses remote spawns, kErrNotFound unknown function, kErrBadArg bad
// arguments, kErrLimit the node could not start it).
using RemoteSpawnDone = std::function<void(Result<otp::Spawned>)>;

class RemoteSpawner {
 public:
  virtual ~RemoteSpawner() = default;
  // Sends the request. `done` runs once, on the spawner's thread (it must
  // not block), and before anything of the child (its exit signal, its DOWN,
  // its messages) reaches this node; with link or monitor, this node's side
  // of them is recorded before `done` runs (otp::Node::remote_spawned).
  virtual void spawn(RemoteSpawnRequest request, RemoteSpawnDone done) = 0;
};

}  // namespace rusm::runtime
