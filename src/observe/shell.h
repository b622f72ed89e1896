// The attach shell's command core: one command line in, text out, acting on
// one node. `rusm attach` (over mutual TLS, issue 12) and the observer's
// WebSocket protocol ({"type":"shell"}, docs/dashboard.md) both run their
// lines through it, so the dashboard and the shell stay in step.
//
//   help                                       the commands
//   ps [--filter S] [--sort reductions|memory|mailbox] [--limit N]
//   info PROC                                  one process in full
//   send PROC TAG DATA          (control)      a message (TAG: integer or 0x hex)
//   exit PROC REASON            (control)      an exit signal (normal, shutdown,
//                                              kill, or any text: error(text))
//   kill PROC                   (control)      the untrappable kill signal
//   whereis NAME                               the pid registered as NAME
//   stats                                      the node's counters and budgets
//   top [N]                                    busiest processes since the last
//                                              top of this shell (since start first)
//   nodes                                      this node and its cluster's others
//   spawn MODULE [FUNCTION] [ARG...] [--node NAME] [--allow CAP,...]
//                               (control)      a process of a module of this
//                                              node (ShellOptions::spawn)
//   trace PROC [--rate N] [--count N]           a live stream of PROC's sends,
//                                              receives, spawns, links,
//                                              monitors and exit, at most N
//                                              events/s (default 100; the
//                                              rest are counted as dropped),
//                                              until it exits, N events, or
//                                              the client stops it (streaming
//                                              clients only: rusm attach, the
//                                              observer's WebSocket)
//
// PROC is a pid as Pid::to_string prints it ("<0.12.1>") or a registered
// name. Words split at blanks; '...' and "..." quote (the latter with \\ \"
// \n \t \xHH escapes). Lines longer than kMaxCommandBytes are refused.
//
// Commands that change the node (send, exit, kill, spawn) need Access::kControl,
// the access the observer grants with its token (access.h); others need
// only observation. A refusal comes back with denied set, so that callers
// can count it.
//
// Cost: ps and top read the whole process table (Node::processes(), O(live
// processes)), as one snapshot with a table does; the rest is O(1) or one
// process.
//
// Thread-safety: a Shell is used by one thread at a time (it keeps the last
// top's readings); give each client its own. Each call is safe to make
// while the node runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "observe/access.h"
#include "rusm/observe/peers.h"
#include "rusm/otp/node.h"
#include "rusm/otp/pid.h"
#include "rusm/result.h"

namespace rusm::observe {

// One other node of the cluster, as `nodes` lists it.
using ShellPeer = PeerNode;

// What `spawn` asks for.
struct ShellSpawn {
  std::string module;               // a module of the node, or a .wasm file on its disk
  std::string function = "_start";  // an export of it
  std::vector<uint64_t> args;       // one per parameter (i32/i64)
  std::string node;                 // "": this node; else a peer's name (remote spawn)
  std::vector<std::string> allow;   // capability names (default: none, sandboxed)
};

struct ShellOptions {
  // The other nodes of this node's cluster (cluster::Cluster::nodes(), which
  // this layer does not depend on); empty: a node on its own. Called from
  // the shell's thread.
  PeersSource peers;
  // Starts what `spawn` asks for and returns the new pid (as text), or why
  // not. Null: `spawn` is refused (this layer knows no modules; the node's
  // owner, e.g. `rusm serve`, provides it). Called from the shell's thread.
  std::function<Result<std::string>(const ShellSpawn&)> spawn;
};

struct ShellResult {
  bool ok = true;       // false: the command failed or was refused; output says why
  bool denied = false;  // refused for want of control access
  std::string output;   // lines ending in '\n' (empty for an empty line)
};

// The words of a command line (see above); an error for an unterminated
// quote or a bad escape.
Result<std::vector<std::string>> split_shell_words(std::string_view line);

// Where a command that streams (trace) writes as it goes, before its
// result: called with each chunk of lines; false stops the command (the
// client cancelled it, or left).
using ShellStream = std::function<bool(std::string_view chunk)>;

// trace's bounds.
inline constexpr uint64_t kDefaultTraceRate = 100;  // events/s
inline constexpr uint64_t kMaxTraceRate = 10'000;   // events/s
inline constexpr size_t kMaxTraceBacklog = 1'000;   // lines waiting to be streamed

class Shell {
 public:
  // node must outlive the shell.
  explicit Shell(otp::Node& node, ShellOptions options = {});

  // stream: null for a client that takes one answer per line (trace then
  // says it needs a streaming client).
  ShellResult execute(std::string_view line, Access access, const ShellStream& stream = nullptr);

 private:
  using Words = std::vector<std::string>;
  ShellResult help() const;
  ShellResult ps(const Words& w) const;
  ShellResult info(const Words& w) const;
  ShellResult send(const Words& w) const;
  ShellResult exit(const Words& w) const;
  ShellResult kill(const Words& w) const;
  ShellResult whereis(const Words& w) const;
  ShellResult stats(const Words& w) const;
  ShellResult top(const Words& w);
  ShellResult nodes(const Words& w) const;
  ShellResult spawn(const Words& w) const;
  ShellResult trace(const Words& w, const ShellStream& stream) const;
  // A pid (<node.slot.generation>) or a name (local, else global) to a
  // process. any_node: a process of another connected node will do (send,
  // exit and kill go there through the cluster); else only this node's
  // (info and trace read this node's tables).
  Result<otp::Pid> resolve(const std::string& word, bool any_node = false) const;

  otp::Node& node_;
  const ShellOptions options_;
  // What the previous `top` read: reductions per pid, and when.
  std::unordered_map<otp::Pid, uint64_t> top_reductions_;
  std::chrono::steady_clock::time_point top_time_;
  bool top_taken_ = false;
};

}  // namespace rusm::observe
