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
// A node that serves (rusm serve) registers its server's counters with
// set_serving_source; every snapshot then carries per-route serving figures
// (Serving): request and status rates and latency percentiles over the last
// second or so, from the server's histogram buckets, beside its gauges and
// rejection counters. The sampler knows the server only through that
// function, never the app that owns it.
//
// Thread-safety: every method may be called from any thread. Listeners run on
// the sampler thread and must return quickly (hand the snapshot off).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rusm/net/server.h"
#include "rusm/observe/histogram.h"
#include "rusm/observe/peers.h"
#include "rusm/otp/info.h"
#include "rusm/otp/node.h"

namespace rusm::observe {

struct StatusCounts {
  uint64_t runnable = 0, running = 0, waiting = 0, exiting = 0;
};

// One route of a serving node, derived from net::RouteStats.
struct ServingRoute {
  std::string name;           // "GET /api/{id}", "(none)" for requests no route matched
  std::string kind;           // "http", "cgi", "ws", "sse", "static", "metrics"
  uint64_t requests = 0;      // answered since the server started
  double requests_per_s = 0;  // over the window
  uint64_t status[6] = {};    // totals by class: [0] aborted, [1] 1xx ... [5] 5xx
  double status_per_s[6] = {};
  int64_t in_flight = 0;
  uint64_t rejected_in_flight = 0;  // 503 over the route's or the server's limit
  uint64_t rejected_body = 0;       // 413
  uint64_t deadline_exceeded = 0;   // 504
  uint64_t failed = 0;              // handler failed (500 or abort)
  // Latency of the requests that finished in the window (head received to
  // response finished), interpolated within the histogram's buckets; -1 when
  // none finished in it.
  double p50_ms = -1;
  double p99_ms = -1;
};

// What a serving node's server is doing (see Sampler::set_serving_source).
struct Serving {
  double window_s = 0;  // the rates and percentiles cover this much time (0: first sample)
  std::vector<ServingRoute> routes;
  int64_t open_connections = 0;
  int64_t websockets = 0;
  uint64_t accepted = 0;
  uint64_t rejected_connections = 0;  // over max_connections
  uint64_t rejected_header_bytes = 0;
  uint64_t rejected_bad_request = 0;
  uint64_t rejected_in_flight = 0;  // over the server-wide limit
  uint64_t header_timeouts = 0;
  uint64_t idle_timeouts = 0;
  uint64_t tls_handshake_failures = 0;
  uint64_t accept_errors = 0;
};

// The q-quantile (0..1) of a window's latency histogram (net::RouteStats
// buckets, counts per bucket) in milliseconds; -1 if the window is empty.
double bucket_quantile_ms(const uint64_t (&counts)[net::RouteStats::kBuckets], double q);
// Serving figures from two readings of a server's counters `window_s` apart
// (before: the earlier one, or null for the first reading).
Serving derive_serving(const net::ServerStats& now, const net::ServerStats* before,
                       double window_s);

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

  // Only when the node serves (a serving source is set).
  bool has_serving = false;
  Serving serving;

  // Only when the node is in a cluster (a peers source is set): the other
  // nodes, and per peer the bytes/s in and out since the previous snapshot
  // (0 for the first, or a peer that came up again meanwhile).
  bool has_cluster = false;
  std::string node_name;  // this node (NodeOptions)
  uint16_t node_id = 0;
  std::vector<PeerNode> peers;
  std::vector<double> peer_in_bytes_per_s, peer_out_bytes_per_s;

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

  // Where per-route serving figures come from (a net::Server's stats(); the
  // function must be thread-safe and quick); empty: the node does not serve.
  using ServingSource = std::function<net::ServerStats()>;
  void set_serving_source(ServingSource source);

  // Where the cluster's other nodes come from; empty: not in a cluster.
  void set_peers_source(PeersSource source);

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

  // Serving: the source and the readings of the last second or so (the
  // front is the base of the window). Own lock: take() runs on the sampler
  // thread and in sample_now's caller.
  std::mutex serving_mu_;
  ServingSource serving_source_;
  std::deque<std::pair<double, net::ServerStats>> serving_history_;
  PeersSource peers_source_;  // under serving_mu_
};

// Resident set size and thread count of this OS process (from /proc); zeros
// where /proc is unavailable.
uint64_t process_rss_bytes();
unsigned process_threads();
double process_cpu_seconds();

}  // namespace rusm::observe
