// Internals of the net/ server core shared by its .cc files: the server's
// shared state (Server::Core), per-route state and metrics, the connection
// registry swept for deadlines, and the connection base classes.
//
// Deadlines are lazy: a connection stores an absolute deadline in an atomic
// (a plain store on the hot path, no timer re-arm per request), and one
// server-wide ticker sweeps the registry a few times per shortest timeout
// and posts an expiry onto the strand of each connection whose deadline has
// passed. The strand re-checks the stored value, so an expiry that raced with
// new activity is ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "rusm/net/server.h"

namespace rusm::net {
namespace detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline int64_t ms_to_ns(Millis m) {
  return int64_t(m.count()) * 1'000'000;
}

// Per-route counters (relaxed atomics, written from any strand).
struct RouteMetrics {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> status[6] = {};
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> rejected_in_flight{0};
  std::atomic<uint64_t> rejected_body{0};
  std::atomic<uint64_t> deadline_exceeded{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> latency[RouteStats::kBuckets] = {};
  std::atomic<uint64_t> latency_sum_us{0};

  void record(int status_code, int64_t micros);
};

// A configured route, compiled.
struct RouteEntry {
  Route route;
  std::vector<std::string> segments;  // pattern split on '/', "{x}" kept as is
  int64_t deadline_ns = 0;            // 0: none
  int64_t max_in_flight = 0;
  bool stream = false;  // ws or sse: long-lived, outside the node-wide max_in_flight
  RouteMetrics m;

  // Matches `path` (percent-encoded); fills params on success.
  bool match(std::string_view method, std::string_view path,
             std::vector<std::pair<std::string, std::string>>* params) const;
};

// Anything registered with the server: HTTP connections and WebSockets.
class Link : public std::enable_shared_from_this<Link> {
 public:
  enum Slot { kIo = 0, kHandler = 1 };
  explicit Link(Strand s) : strand_(std::move(s)) {}
  virtual ~Link() = default;

  // On the strand. `at` is the deadline value the sweep saw.
  virtual void expired(Slot slot, int64_t at) = 0;
  // On the strand: the server began a graceful shutdown.
  virtual void drain() = 0;
  // On the strand: close now.
  virtual void abort_now() = 0;

  void set_deadline(Slot s, int64_t at) { deadline_[s].store(at, std::memory_order_relaxed); }
  // True if the deadline is still the one the sweep posted (it marks it by
  // negating the value, so it is posted once).
  bool deadline_is(Slot s, int64_t at) const {
    return deadline_[s].load(std::memory_order_relaxed) == -at;
  }

  Strand strand_;
  std::atomic<int64_t> deadline_[2] = {};
  size_t reg_index_ = SIZE_MAX;  // position in Core::links (under reg_mu)
};

}  // namespace detail

struct Server::Core : std::enable_shared_from_this<Server::Core> {
  Core(boost::asio::io_context& io, ServerOptions o);
  ~Core();

  boost::asio::io_context& ioc;
  ServerOptions opt;
  std::vector<std::unique_ptr<detail::RouteEntry>> routes;
  detail::RouteEntry none;  // unmatched requests (404) and core-level errors
  std::unique_ptr<boost::asio::ssl::context> ssl;
  std::vector<std::unique_ptr<detail::tcp::acceptor>> acceptors;
  std::vector<bool> acceptor_tls;
  std::vector<uint16_t> bound_ports;
  detail::Strand strand;  // acceptors, ticker, shutdown
  boost::asio::steady_timer ticker;
  int64_t tick_ns = 0;
  std::unique_ptr<boost::asio::signal_set> signals;
  int reserve_fd = -1;  // Limits::shed_when_out_of_descriptors

  // Counters.
  std::atomic<int64_t> open_connections{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> accept_errors{0};
  std::atomic<uint64_t> rejected_header_bytes{0};
  std::atomic<uint64_t> rejected_bad_request{0};
  std::atomic<uint64_t> rejected_in_flight{0};
  std::atomic<uint64_t> header_timeouts{0};
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<int64_t> buffered_bytes{0};
  std::atomic<int64_t> buffered_peak{0};
  std::atomic<int64_t> websockets{0};
  std::atomic<int64_t> in_flight{0};

  // State.
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  int64_t shutdown_deadline = 0;                     // strand only
  bool shutdown_forced = false;                      // strand only
  std::vector<std::function<void()>> shutdown_done;  // strand only

  // Registry of live links, swept by the ticker.
  std::mutex reg_mu;
  std::vector<detail::Link*> links;
  void add_link(detail::Link* l);
  void remove_link(detail::Link* l);
  template <class F>
  void for_each_link(F&& f);

  // In-flight slots: false if over the server-wide or the route's limit
  // (and counts which).
  bool acquire(detail::RouteEntry& r);
  void release(detail::RouteEntry& r);

  void note_buffered(int64_t delta, int64_t conn_total);
  void log_error(const std::string& line) const;

  Status start();
  void do_accept(size_t i);
  void on_accept(size_t i, boost::system::error_code ec, detail::tcp::socket s);
  // Closes a connection turned away at accept (with a 503 if configured).
  void turn_away(int fd);
  // Out of descriptors: accepts one waiting client with the reserve and
  // turns it away.
  void shed_one(size_t i);
  void schedule_tick();
  void tick();
  void begin_shutdown(std::function<void()> done);
  void stop_now();
};

namespace detail {
// Starts serving an accepted socket (plain or TLS).
void serve_connection(std::shared_ptr<Server::Core> core, tcp::socket s, bool tls);
// "HTTP/1.1 200 OK": the reason phrase of a status.
const char* status_reason(int status);
// Appends `s` as a JSON string (quoted, escaped) to out.
void json_escape(std::string& out, std::string_view s);
}  // namespace detail

}  // namespace rusm::net
