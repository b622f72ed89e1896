// One attached operator's shell (`rusm attach`, see rusm/cluster/cluster.h):
// the lines of one operator, answered in order on a thread of the session's
// own, so that a slow command (ps on a node of a million processes) never
// holds up the cluster's io thread and its heartbeats.
//
// The Mesh makes a session when an operator's connection comes up, submits
// its SHELL_LINEs, and stops it when the connection goes down. Each answer is
// handed to `deliver` on the session's thread (the Mesh posts it to the io
// thread, where the connection lives).
//
// Thread-safety: submit/stop/finished from any thread; join from any thread
// but the session's own (deliver must not block on the caller of join).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "cluster/frame.h"
#include "rusm/cluster/cluster.h"

namespace rusm::cluster {

class AttachSession {
 public:
  // Sends a SHELL_OUTPUT or SHELL_RESULT frame to the operator (from the
  // session's thread; the owner moves it to the connection's).
  using Deliver = std::function<void(Frame&& frame)>;

  // Starts the thread. A line longer than kMaxAttachLine is answered with an
  // error without reaching `shell`; an exception out of `shell` becomes a
  // failed answer.
  AttachSession(AttachShell shell, Deliver deliver);
  // stop(), then join().
  ~AttachSession();
  AttachSession(const AttachSession&) = delete;
  AttachSession& operator=(const AttachSession&) = delete;

  // Queues a line; false (nothing queued) when kMaxAttachQueue lines are
  // already waiting or the session is stopping.
  bool submit(ShellLine line);
  // The operator cancelled line `id` (SHELL_CANCEL): a command streaming its
  // output stops; nothing if that line is not running.
  void cancel(uint32_t id);
  // The operator's connection has more than kMaxAttachStreamBacklog bytes
  // unsent: the running line's stream stops.
  void congested() { congested_.store(true, std::memory_order_relaxed); }
  // No further line starts; a line being answered finishes (and is
  // delivered); its stream stops.
  void stop();
  // Waits for the thread to end (after stop()).
  void join();
  // The thread has ended (join() returns at once).
  bool finished() const { return finished_.load(std::memory_order_acquire); }

 private:
  void run();

  AttachShell shell_;
  Deliver deliver_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ShellLine> lines_;         // guarded by mu_
  bool stopping_ = false;               // guarded by mu_
  std::atomic<uint32_t> running_{0};    // the id of the line being answered (0: none)
  std::atomic<uint32_t> cancelled_{0};  // the last id the operator cancelled
  std::atomic<bool> halted_{false};     // stop() was called
  std::atomic<bool> congested_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace rusm::cluster
