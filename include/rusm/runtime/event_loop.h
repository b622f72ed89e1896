// The node's one event loop: a Boost.Asio io_context. Everything a node waits
// on outside its processes runs here: host descriptors a process blocks on in
// WASI, the serving layer's sockets, the observer. (DESIGN.md: one event loop
// per node, no second hand-written reactor.)
//
// Who runs it. With threads == 0 the scheduler's workers drive it
// (otp::IdleDriver): they poll it between slices and an idle worker blocks in
// it, so an I/O completion runs on the worker that then runs the process it
// woke, with no hand-off between threads. Handlers then must never block.
// With threads > 0, that many threads of its own run it beside the workers.
//
// Thread-safety: every method may be called from any thread. The loop's
// threads start with the EventLoop and are joined by stop() or the
// destructor (which also detach it from the workers); handlers still queued
// then are destroyed without running.
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "rusm/otp/node.h"
#include "rusm/result.h"

namespace boost::asio {
class io_context;
}

namespace rusm::runtime {

class EventLoop {
 public:
  // `node` must outlive the loop (wakes go to its processes). threads == 0:
  // driven by the node's workers (see above); then an idle worker that ran a
  // handler in the last millisecond polls the loop for up to `idle_spin`
  // before it blocks in it.
  EventLoop(otp::Node& node, unsigned threads = 1,
            std::chrono::microseconds idle_spin = std::chrono::microseconds(0));
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& context();

  // One-shot: calls node.wake(pid) once when fd becomes readable (or
  // writable). The descriptor is dup'd, so several processes may wait on the
  // same one and the caller may close its own. A regular file is always
  // ready: the wake comes at once.
  Status watch_fd(int fd, bool for_write, otp::Pid pid);

  // Stops the threads, or detaches the loop from the workers (idempotent).
  // Not from a handler or a worker.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rusm::runtime
