// The observer's sampler: periodic snapshots of a node.
//
// A Sampler owns one thread that wakes `hz` times a second (10-60), reads the
// node's relaxed counters (Node::stats(), a few hundred nanoseconds), derives
// rates and per-worker load from the previous snapshot, reads the OS process's
// memory and CPU time, and publishes an immutable Snapshot. The per-process
// table (Node::processes(), O(processes)) is taken only while at least one
// client has asked for it (want_table), and at most table_hz times a second.
// With no Sampler running, observing costs the node nothing beyond the
// counters it always keeps.
//
// Thread-safety: every method may be called from any thread. Listeners run on
// the sampler thread and must return quickly (hand the snapshot off).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "rusm/observe/histogram.h"
#include "rusm/otp/info.h"
#include "rusm/otp/node.h"

namespace rusm::observe {

struct StatusCounts {
  uint64_t runnable = 0, running = 0, waiting = 0, exiting = 0;
};

struct Snapshot {
  uint64_t seq = 0;      // 1, 2, 3, ... per sampler
  double t_s = 0;        // seconds since the sampler started
  double dt_s = 0;       // seconds since the previous snapshot (0 for the first)
  otp::NodeStats stats;  // totals since the node started

  // Per second over the last interval (0 in the first snapshot).
  double spawns_per_s = 0;
  double exits_per_s = 0;
  double sent_per_s = 0;
  double received_per_s = 0;
  double reductions_per_s = 0;
  double restarts_per_s = 0;
  std::vector<double> worker_load;  // busy fraction in [0, 1] per worker

  // The OS process (all nodes in it): resident memory, CPU time rate.
  uint64_t rss_bytes = 0;
  double cpu_cores = 0;    // CPU seconds used per wall second (2.0 = two cores busy)
  double cpu_seconds = 0;  // CPU time used so far
  unsigned os_threads = 0;

  // Only when has_table: the per-process table and what is derived from it.
  bool has_table = false;
  std::vector<otp::ProcessInfo> table;
  StatusCounts status;
  uint64_t process_memory_bytes = 0;  // sum of ProcessInfo::memory_bytes

  // What taking snapshots costs (nanoseconds per snapshot, whole sampler life).
  Percentiles sample_cost_ns;
};

struct SamplerOptions {
  double hz = 10;       // snapshots per second, clamped to [1, 60]
  double table_hz = 4;  // at most this many process tables per second
};

class Sampler {
 public:
  using Listener = std::function<void(std::shared_ptr<const Snapshot>)>;

  Sampler(otp::Node& node, SamplerOptions options = {});
  ~Sampler();  // stops the thread
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void start();  // idempotent
  void stop();   // idempotent; joins the thread
  bool running() const;

  // Called with every new snapshot, on the sampler thread. Returns an id for
  // remove_listener.
  uint64_t add_listener(Listener listener);
  void remove_listener(uint64_t id);

  // Reference-counted: the table is taken while the count is above zero.
  void want_table(bool on);

  // The newest snapshot (null before the first).
  std::shared_ptr<const Snapshot> latest() const;
  // Takes one snapshot now, on the calling thread, without publishing it
  // (for /metrics when no sampler runs, and for tests). Rates are relative to
  // the last published snapshot, if any.
  std::shared_ptr<const Snapshot> sample_now(bool with_table);

 private:
  void loop();
  std::shared_ptr<Snapshot> take(bool with_table, const Snapshot* prev);

  otp::Node& node_;
  const SamplerOptions options_;
  std::chrono::steady_clock::time_point start_;
  Histogram cost_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  std::shared_ptr<const Snapshot> latest_;
  std::vector<std::pair<uint64_t, Listener>> listeners_;
  uint64_t next_listener_ = 1;
  int table_wanted_ = 0;
  uint64_t seq_ = 0;
};

// Resident set size and thread count of this OS process (from /proc); zeros
// where /proc is unavailable.
uint64_t process_rss_bytes();
unsigned process_threads();
double process_cpu_seconds();

}  // namespace rusm::observe
