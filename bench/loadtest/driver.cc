// The connection state machines and the per-thread workers of `rusm
// loadtest` (see driver.h for the threading and open-loop model).
//
// A Slot is one connection (or, in --close and conn modes, one slot that
// opens a connection per operation). Its phases:
//
//   kConnecting -> [kTlsHandshake] -> kUpgrading (ws/conn upgrade, SSE GET)
//     -> kIdle <-> kAwaiting (one request / echo in flight)
//     -> kDraining (response done, waiting for the server's close)
//     -> kStreaming (SSE: counting events until the end)
//   any phase -> kClosing on an error or timeout: the socket is closed and
//     the slot waits for its pending handlers (pending_) before it reopens,
//     so no handler ever sees a stream it did not start on.
//
// Every handler first decrements pending_ and, if the slot is closing,
// only finishes the close: a closed socket's aborted operations are
// expected and never counted.
#include "driver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "framing.h"

namespace rusm::loadtest {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t thread_cpu_ns(pthread_t t) {
  clockid_t cid;
  if (pthread_getcpuclockid(t, &cid) != 0) {
    return 0;
  }
  timespec ts;
  clock_gettime(cid, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] + 32) : s[i];
    if (a != prefix[i]) {
      return false;
    }
  }
  return true;
}

bool has_header(const std::vector<std::string>& headers, std::string_view lower_name) {
  for (const std::string& h : headers) {
    if (iequals_prefix(h, lower_name) && h.size() > lower_name.size() &&
        h[lower_name.size()] == ':') {
      return true;
    }
  }
  return false;
}

// What every worker reads; written before the threads start, except the
// atomics.
struct Shared {
  explicit Shared(const Options& o) : opt(o) {}
  const Options& opt;
  tcp::endpoint endpoint;
  ssl::context* tls = nullptr;
  std::string request;      // http
  std::string upgrade;      // ws, conn
  std::string sse_request;  // sse
  std::string message;      // ws: one masked binary frame
  std::string close_frame;  // conn: masked close 1000
  bool head = false;
  uint64_t timeout_ns = 0;
  uint64_t open_wait_ns = 0;  // sse: how long a stream may wait for its header
  size_t buf_size = 16384;
  std::atomic<uint64_t> window_start{UINT64_MAX};
  std::atomic<uint64_t> window_end{UINT64_MAX};
  std::atomic<unsigned> streams_open{0};
  std::atomic<unsigned> streams_lost{0};  // sse: failed before their header
};

class Worker;

class SlotBase {
 public:
  virtual ~SlotBase() = default;
  virtual void start() = 0;
  virtual void start_op(uint64_t intended) = 0;
  virtual void check_timeout(uint64_t now) = 0;
  // Plain TCP only: epoll events for this slot's socket (see Poller).
  virtual void on_event(uint32_t events) = 0;
  // Plain TCP only: continue a read that yielded to other connections.
  virtual void resume_read() = 0;
  uint64_t events = 0;  // sse: events counted in the window on this stream
  bool streaming = false;
};

// Plain TCP sockets of one worker live in an epoll set of their own,
// registered once per connection (edge-triggered, in and out), and the
// io_context watches that set through one descriptor. Why not Asio's socket
// operations: Asio 1.81 tries every async_read_some at once (a recv that
// fails with EAGAIN right after each request is sent, ~1.1 us of system
// time here), or re-arms with epoll_ctl per async_wait; either is one system
// call per op more than wrk's or loadgen's loop. Here an op costs its send()
// and its recv(); the epoll_wait pair and the one re-arm are per batch of
// ready sockets. TLS streams stay on Asio.
class Poller {
 public:
  explicit Poller(asio::io_context& io) : sd_(io) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd >= 0) {
      error_code ec;
      sd_.assign(fd, ec);
    }
  }
  bool ok() const { return sd_.is_open(); }
  void start() { arm(); }
  // A slot that read its share while its socket still had data: resumed
  // after the other ready sockets and any due timers (a stream that never
  // runs dry must not starve the rest of the thread).
  void defer(SlotBase* slot) { deferred_.push_back(slot); }
  // Watches `fd` for `slot` until the fd is closed (which removes it).
  bool add(int fd, SlotBase* slot) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = slot;
    return epoll_ctl(sd_.native_handle(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }

 private:
  void arm() {
    sd_.async_wait(asio::posix::descriptor_base::wait_read, [this](error_code ec) {
      if (ec) {
        return;
      }
      run_batch();
    });
  }

  void run_batch() {
    epoll_event evs[256];
    int n = epoll_wait(sd_.native_handle(), evs, 256, 0);
    for (int i = 0; i < n; ++i) {
      static_cast<SlotBase*>(evs[i].data.ptr)->on_event(evs[i].events);
    }
    if (deferred_.empty()) {
      arm();
      return;
    }
    resuming_.swap(deferred_);
    for (SlotBase* slot : resuming_) {
      slot->resume_read();
    }
    resuming_.clear();
    // Timers and TLS completions get their turn before the next batch.
    asio::post(sd_.get_executor(), [this] { run_batch(); });
  }

  std::vector<SlotBase*> deferred_;
  std::vector<SlotBase*> resuming_;

  asio::posix::stream_descriptor sd_;
};

class Worker {
 public:
  Worker(Shared& shared, unsigned index, unsigned nthreads)
      : sh(shared),
        poller(io),
        index_(index),
        nthreads_(nthreads),
        sched_timer_(io),
        sweep_timer_(io) {}

  void run() {
    t0_ = sched_t0;
    poller.start();
    for (auto& s : slots) {
      s->start();
    }
    arm_sweep();
    io.run();
  }

  bool in_window(uint64_t now) const {
    return now >= sh.window_start.load(std::memory_order_relaxed) &&
           now < sh.window_end.load(std::memory_order_relaxed);
  }
  void error(ErrorKind kind) {
    if (in_window(now_ns())) {
      ++counters.errors[static_cast<size_t>(kind)];
    }
  }
  void op_done(uint64_t now, uint64_t intended) {
    ++ops_all;
    if (in_window(now)) {
      ++counters.ops;
      latency.record(now >= intended ? now - intended : 0);
    }
  }

  // The intended start time of the next op for an idle slot, or nullopt if
  // none is due yet (open loop): the slot is then parked and started by the
  // schedule timer.
  std::optional<uint64_t> take_op(SlotBase* slot) {
    uint64_t now = now_ns();
    if (sh.opt.rate <= 0) {
      return now;
    }
    if (issued_ < due(now)) {
      return intended(issued_++);
    }
    idle_.push(slot);
    arm_schedule();
    return std::nullopt;
  }

  // Ops due by `now` that were not started yet (open loop).
  uint64_t backlog(uint64_t now) const {
    uint64_t d = due(now);
    return d > issued_ ? d - issued_ : 0;
  }

  asio::io_context io{1};
  Shared& sh;
  Poller poller;
  Counters counters;
  Histogram latency;
  uint64_t ops_all = 0;   // ops completed over the whole run, window or not
  uint64_t sent_all = 0;  // requests, messages or upgrades sent over the whole run
  std::vector<std::unique_ptr<SlotBase>> slots;
  uint64_t sched_t0 = 0;
  std::thread thread;

 private:
  // Op k of this thread is due at t0 + (k * nthreads + index) / rate.
  uint64_t intended(uint64_t k) const {
    double s = (static_cast<double>(k) * nthreads_ + index_) / sh.opt.rate;
    return t0_ + static_cast<uint64_t>(s * 1e9);
  }
  uint64_t due(uint64_t now) const {
    if (now < t0_) {
      return 0;
    }
    double x = static_cast<double>(now - t0_) / 1e9 * sh.opt.rate - index_;
    if (x < 0) {
      return 0;
    }
    return static_cast<uint64_t>(std::floor(x / nthreads_)) + 1;
  }

  void arm_schedule() {
    uint64_t at = intended(issued_);
    if (timer_armed_ && timer_at_ <= at) {
      return;
    }
    timer_armed_ = true;
    timer_at_ = at;
    sched_timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at)));
    sched_timer_.async_wait([this](error_code ec) {
      timer_armed_ = false;
      if (ec) {
        return;
      }
      uint64_t now = now_ns();
      while (!idle_.empty() && issued_ < due(now)) {
        SlotBase* s = idle_.pop();
        s->start_op(intended(issued_++));
      }
      if (!idle_.empty()) {
        arm_schedule();
      }
    });
  }

  void arm_sweep() {
    sweep_timer_.expires_after(std::chrono::milliseconds(50));
    sweep_timer_.async_wait([this](error_code ec) {
      if (ec) {
        return;
      }
      uint64_t now = now_ns();
      for (auto& s : slots) {
        s->check_timeout(now);
      }
      arm_sweep();
    });
  }

  unsigned index_;
  unsigned nthreads_;
  uint64_t t0_ = 0;
  uint64_t issued_ = 0;
  // Idle slots in the order they became idle: due ops go round the
  // connections as wrk2's per-connection schedules do, rather than keep one
  // busy while the others idle (and get closed by the server's keep-alive
  // timeout). A ring as large as the slots: no allocation per op.
  class IdleRing {
   public:
    bool empty() const { return size_ == 0; }
    void push(SlotBase* s) {
      if (ring_.size() == size_) {
        grow();
      }
      ring_[(head_ + size_) % ring_.size()] = s;
      ++size_;
    }
    SlotBase* pop() {
      SlotBase* s = ring_[head_];
      head_ = (head_ + 1) % ring_.size();
      --size_;
      return s;
    }

   private:
    void grow() {
      std::vector<SlotBase*> bigger(ring_.empty() ? 64 : ring_.size() * 2);
      for (size_t i = 0; i < size_; ++i) {
        bigger[i] = ring_[(head_ + i) % ring_.size()];
      }
      ring_.swap(bigger);
      head_ = 0;
    }
    std::vector<SlotBase*> ring_;
    size_t head_ = 0;
    size_t size_ = 0;
  };
  IdleRing idle_;
  asio::steady_timer sched_timer_;
  bool timer_armed_ = false;
  uint64_t timer_at_ = 0;
  asio::steady_timer sweep_timer_;
};

using TlsStream = ssl::stream<tcp::socket>;
struct PlainTcp {};  // a plain socket: a raw fd in the worker's Poller

template <typename S>
class Slot final : public SlotBase {
  static constexpr bool kTls = std::is_same_v<S, TlsStream>;

 public:
  explicit Slot(Worker& w)
      : w_(w),
        sh_(w.sh),
        mode_(w.sh.opt.mode),
        per_op_connection_(mode_ == Mode::kConn || (mode_ == Mode::kHttp && w.sh.opt.close)),
        cap_(w.sh.buf_size),
        buf_(new char[w.sh.buf_size]),
        backoff_(w.io) {}

  void start() override {
    if (per_op_connection_) {
      became_idle();
    } else {
      open();
    }
  }

  void start_op(uint64_t intended) override {
    intended_ = intended;
    op_active_ = true;
    if constexpr (!kTls) {
      if (connected_ && rdhup_ && mode_ == Mode::kHttp) {
        // The server closed this idle keep-alive connection (Node does
        // after 5 s): reconnect for the op rather than fail it on EOF.
        close_socket();
      }
    }
    if (!connected_) {
      open();
      return;
    }
    send_op();
  }

  void on_event(uint32_t ev) override {
    if constexpr (!kTls) {
      if (fd_ < 0) {
        return;
      }
      if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
        readable_ = true;
      }
      if ((ev & EPOLLRDHUP) != 0) {
        rdhup_ = true;
      }
      if (phase_ == Phase::kConnecting) {
        if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
          on_connect(err != 0 ? error_code(err, boost::system::system_category()) : error_code());
        }
        return;
      }
      if (write_left_ != 0) {
        if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
          write_plain(write_p_, write_left_);
        }
        return;
      }
      if (want_read_ && readable_ && !in_read_loop_ && !deferred_) {
        read_loop();
      }
    }
  }

  void resume_read() override {
    if constexpr (!kTls) {
      deferred_ = false;
      if (fd_ >= 0 && want_read_ && readable_ && !in_read_loop_) {
        read_loop();
      }
    }
  }

  void check_timeout(uint64_t now) override {
    switch (phase_) {
      case Phase::kConnecting:
      case Phase::kTlsHandshake:
      case Phase::kUpgrading:
      case Phase::kAwaiting:
      case Phase::kDraining:
        if (now > deadline_) {
          fail(phase_ == Phase::kConnecting ? ErrorKind::kConnectTimeout : ErrorKind::kTimeout);
        }
        break;
      default:
        break;
    }
  }

 private:
  enum class Phase : uint8_t {
    kDown,
    kConnecting,
    kTlsHandshake,
    kUpgrading,
    kIdle,
    kAwaiting,
    kDraining,
    kStreaming,
    kClosing,
    kBackoff,
  };

  tcp::socket& sock() { return stream_->next_layer(); }  // TLS only

  void open() {
    phase_ = Phase::kConnecting;
    len_ = 0;
    parser_.reset(sh_.head);
    frames_.reset();
    uint64_t now = now_ns();
    connect_start_ = now;
    deadline_ = now + sh_.timeout_ns;
    if constexpr (!kTls) {
      open_plain();
    } else {
      stream_.emplace(w_.io, *sh_.tls);
      const std::string& host = sh_.opt.target.host;
      error_code not_an_ip;
      asio::ip::make_address(host, not_an_ip);
      if (not_an_ip) {
        SSL_set_tlsext_host_name(stream_->native_handle(), host.c_str());
      }
      if (!sh_.opt.insecure) {
        stream_->set_verify_callback(ssl::host_name_verification(host));
      }
      error_code ec;
      sock().open(sh_.endpoint.protocol(), ec);
      if (!ec) {
        sock().set_option(tcp::no_delay(true), ec);
      }
      if (ec) {
        fail(ErrorKind::kConnect);
        return;
      }
      ++pending_;
      sock().async_connect(sh_.endpoint, [this](error_code ec) {
        --pending_;
        if (phase_ == Phase::kClosing) {
          closed_maybe();
          return;
        }
        on_connect(ec);
      });
    }
  }

  // Plain TCP: a non-blocking connect on a socket registered with the
  // worker's Poller; completion comes as EPOLLOUT (see on_event).
  void open_plain() {
    ++gen_;
    readable_ = false;
    rdhup_ = false;
    want_read_ = false;
    in_read_loop_ = false;
    write_left_ = 0;
    const auto* addr = sh_.endpoint.data();
    fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      fail(ErrorKind::kConnect);
      return;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!w_.poller.add(fd_, this)) {
      fail(ErrorKind::kConnect);
      return;
    }
    if (::connect(fd_, addr, static_cast<socklen_t>(sh_.endpoint.size())) == 0) {
      on_connect(error_code());
    } else if (errno != EINPROGRESS) {
      on_connect(error_code(errno, boost::system::system_category()));
    }
  }

  void on_connect(error_code ec) {
    if (ec) {
      fail(ec == asio::error::connection_refused ? ErrorKind::kConnectRefused
           : ec == asio::error::timed_out        ? ErrorKind::kConnectTimeout
                                                 : ErrorKind::kConnect);
      return;
    }
    connected_ = true;
    if (w_.in_window(now_ns())) {
      ++w_.counters.connects;
    }
    if constexpr (kTls) {
      phase_ = Phase::kTlsHandshake;
      ++pending_;
      stream_->async_handshake(ssl::stream_base::client, [this](error_code ec) {
        --pending_;
        if (phase_ == Phase::kClosing) {
          closed_maybe();
          return;
        }
        if (ec) {
          fail(ErrorKind::kTls);
          return;
        }
        transport_up();
      });
    } else {
      transport_up();
    }
  }

  void transport_up() {
    switch (mode_) {
      case Mode::kHttp:
        if (op_active_) {
          send_op();
        } else {
          became_idle();
        }
        break;
      case Mode::kWs:
      case Mode::kConn:
        phase_ = Phase::kUpgrading;
        if (mode_ == Mode::kConn) {
          ++w_.sent_all;
        }
        parser_.reset();
        parser_.expect_ws_accept(kWsAccept);
        send(sh_.upgrade);
        break;
      case Mode::kSse:
        phase_ = Phase::kUpgrading;
        parser_.reset();
        send(sh_.sse_request);
        if (phase_ == Phase::kUpgrading) {
          // A server may admit streams slowly (Node: ~10/s once busy); the
          // header wait is the open wait, as the window waits for it too.
          deadline_ = connect_start_ + sh_.open_wait_ns;
        }
        break;
    }
  }

  void became_idle() {
    phase_ = Phase::kIdle;
    std::optional<uint64_t> t = w_.take_op(this);
    if (t) {
      start_op(*t);
    }
  }

  void send_op() {
    phase_ = Phase::kAwaiting;
    ++w_.sent_all;
    if (mode_ == Mode::kHttp) {
      parser_.reset(sh_.head);
      send(sh_.request);
    } else {
      send(sh_.message);
    }
  }

  // Sends `bytes` (which outlive the run), then reads.
  void send(const std::string& bytes) {
    uint64_t now = now_ns();
    deadline_ = now + sh_.timeout_ns;
    if (w_.in_window(now)) {
      w_.counters.bytes_out += bytes.size();
    }
    if constexpr (!kTls) {
      write_plain(bytes.data(), bytes.size());
    } else {
      ++pending_;
      asio::async_write(*stream_, asio::buffer(bytes), [this](error_code ec, size_t) {
        --pending_;
        if (phase_ == Phase::kClosing) {
          closed_maybe();
          return;
        }
        if (ec) {
          fail(ErrorKind::kWrite);
          return;
        }
        read();
      });
    }
  }

  // Plain TCP: writes what the socket takes; the rest waits for EPOLLOUT.
  void write_plain(const char* p, size_t n) {
    ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        write_left_ = 0;
        fail(ErrorKind::kWrite);
        return;
      }
      w = 0;
    }
    if (static_cast<size_t>(w) == n) {
      write_left_ = 0;
      read();
      return;
    }
    write_p_ = p + w;
    write_left_ = n - static_cast<size_t>(w);
  }

  void read() {
    if constexpr (!kTls) {
      want_read_ = true;
      if (readable_ && !in_read_loop_ && !deferred_) {
        read_loop();
      }
    } else {
      ++pending_;
      stream_->async_read_some(asio::buffer(buf_.get() + len_, cap_ - len_),
                               [this](error_code ec, size_t n) {
                                 --pending_;
                                 if (phase_ == Phase::kClosing) {
                                   closed_maybe();
                                   return;
                                 }
                                 on_read(ec, n);
                               });
    }
  }

  // Plain TCP: reads while a read is wanted and the socket may hold data.
  // Edge-triggered, so a read that fills less than the buffer has drained
  // the socket (unless the peer's FIN is pending: EPOLLRDHUP, read once more
  // to see the end). A loop rather than recursion: on_read may ask for the
  // next read (want_read_) or reopen the socket (gen_ changes).
  void read_loop() {
    in_read_loop_ = true;
    uint64_t gen = gen_;
    int reads = 0;
    while (gen == gen_ && want_read_ && readable_) {
      if (++reads > 8) {
        // Fair share taken: let the other sockets and timers run.
        if (!deferred_) {
          deferred_ = true;
          w_.poller.defer(this);
        }
        break;
      }
      want_read_ = false;
      size_t room = cap_ - len_;
      if (room == 0) {
        fail(ErrorKind::kProtocol);
        break;
      }
      ssize_t n = ::recv(fd_, buf_.get() + len_, room, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          readable_ = false;
          want_read_ = true;
          break;
        }
        if (errno == EINTR) {
          want_read_ = true;
          continue;
        }
        on_read(error_code(errno, boost::system::system_category()), 0);
        continue;
      }
      if (n > 0 && static_cast<size_t>(n) < room && !rdhup_) {
        readable_ = false;
      }
      on_read(n == 0 ? error_code(asio::error::eof) : error_code(), static_cast<size_t>(n));
    }
    if (gen == gen_) {
      in_read_loop_ = false;
    }
  }

  void on_read(error_code ec, size_t n) {
    uint64_t now = now_ns();
    if (ec) {
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        on_eof(now);
      } else if (phase_ == Phase::kDraining &&
                 (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)) {
        on_eof(now);  // a server may reset rather than close after its close frame
      } else {
        fail(phase_ == Phase::kTlsHandshake ? ErrorKind::kTls : ErrorKind::kRead);
      }
      return;
    }
    if (w_.in_window(now)) {
      w_.counters.bytes_in += n;
    }
    len_ += n;
    switch (phase_) {
      case Phase::kUpgrading:
        on_header(now);
        break;
      case Phase::kAwaiting:
        if (mode_ == Mode::kHttp) {
          on_response(now);
        } else {
          on_echo(now);
        }
        break;
      case Phase::kDraining:
        len_ = 0;  // the server's close frame, or anything it sends before closing
        read();
        break;
      case Phase::kStreaming:
        on_stream(now);
        break;
      default:
        break;
    }
  }

  void consume(size_t used) {
    if (used >= len_) {
      len_ = 0;
    } else if (used != 0) {
      std::memmove(buf_.get(), buf_.get() + used, len_ - used);
      len_ -= used;
    }
  }

  void count_events(uint64_t now, uint64_t k) {
    w_.ops_all += k;
    if (k != 0 && w_.in_window(now)) {
      w_.counters.ops += k;
      events += k;
    }
  }

  ErrorKind status_error(int status) {
    return status >= 400 && status < 500   ? ErrorKind::kStatus4xx
           : status >= 500 && status < 600 ? ErrorKind::kStatus5xx
                                           : ErrorKind::kStatusOther;
  }

  // kUpgrading: the response to the upgrade (ws, conn) or to GET (sse).
  void on_header(uint64_t now) {
    size_t used = 0;
    HttpResponseParser::Step st;
    if (mode_ == Mode::kSse) {
      st = parser_.feed(buf_.get(), len_, &used, cap_,
                        [&](const char* p, size_t n) { count_events(now, sse_.feed(p, n)); });
    } else {
      st = parser_.feed(buf_.get(), len_, &used, cap_);
    }
    if (st == HttpResponseParser::Step::kError) {
      fail(ErrorKind::kProtocol);
      return;
    }
    if (!parser_.header_done()) {
      consume(used);
      read();
      return;
    }
    consume(used);
    if (mode_ == Mode::kSse) {
      if (parser_.status() != 200) {
        fail(status_error(parser_.status()));
        return;
      }
      if (st == HttpResponseParser::Step::kDone) {
        fail(ErrorKind::kRead);  // a stream that ended at once
        return;
      }
      phase_ = Phase::kStreaming;
      streaming = true;
      w_.latency.record(now - connect_start_);
      sh_.streams_open.fetch_add(1, std::memory_order_relaxed);
      read();
      return;
    }
    if (parser_.status() != 101) {
      fail(status_error(parser_.status()));
      return;
    }
    if (!parser_.ws_accept_ok()) {
      fail(ErrorKind::kProtocol);
      return;
    }
    len_ = 0;  // nothing may follow a 101 before we send
    if (mode_ == Mode::kWs) {
      became_idle();
      return;
    }
    // conn: the upgrade is done; close it as a client does (masked close
    // 1000), then wait for the server's close frame and its FIN.
    phase_ = Phase::kDraining;
    send(sh_.close_frame);
  }

  void on_response(uint64_t now) {
    size_t used = 0;
    HttpResponseParser::Step st = parser_.feed(buf_.get(), len_, &used, cap_);
    if (st == HttpResponseParser::Step::kError) {
      fail(ErrorKind::kProtocol);
      return;
    }
    consume(used);
    if (st == HttpResponseParser::Step::kNeedMore) {
      read();
      return;
    }
    response_done(now);
  }

  void response_done(uint64_t now) {
    len_ = 0;  // no pipelining: anything after the response is dropped
    int status = parser_.status();
    if (status >= 200 && status < 300) {
      w_.op_done(now, intended_);
    } else {
      w_.error(status_error(status));
    }
    op_active_ = false;
    if (parser_.keep_alive() && !per_op_connection_) {
      became_idle();
      return;
    }
    if constexpr (kTls) {
      // As wrk does: close now rather than wait for close_notify + FIN.
      close_socket();
      after_closed();
    } else {
      phase_ = Phase::kDraining;
      deadline_ = now + sh_.timeout_ns;
      read();
    }
  }

  void on_echo(uint64_t now) {
    size_t off = 0;
    while (off < len_) {
      size_t used = 0;
      WsFrameReader::Frame f;
      WsFrameReader::Step st = frames_.feed(buf_.get() + off, len_ - off, &used, &f);
      off += used;
      if (st == WsFrameReader::Step::kError) {
        fail(ErrorKind::kProtocol);
        return;
      }
      if (st == WsFrameReader::Step::kNeedMore) {
        break;
      }
      if (f.opcode == 0x9 || f.opcode == 0xA) {
        continue;  // ping/pong: not answered (not supported yet)
      }
      if (f.opcode == 0x8) {
        fail(ErrorKind::kRead);  // the server closed the WebSocket
        return;
      }
      if (f.opcode != 0x2 || !f.fin || f.length != sh_.opt.message_size) {
        fail(ErrorKind::kProtocol);
        return;
      }
      len_ = 0;
      w_.op_done(now, intended_);
      op_active_ = false;
      became_idle();
      return;
    }
    len_ = 0;
    read();
  }

  void on_stream(uint64_t now) {
    size_t used = 0;
    HttpResponseParser::Step st =
        parser_.feed(buf_.get(), len_, &used, cap_,
                     [&](const char* p, size_t n) { count_events(now, sse_.feed(p, n)); });
    if (st == HttpResponseParser::Step::kError) {
      fail(ErrorKind::kProtocol);
      return;
    }
    consume(used);
    if (st == HttpResponseParser::Step::kDone) {
      fail(ErrorKind::kRead);  // the stream ended
      return;
    }
    read();
  }

  void on_eof(uint64_t now) {
    if (phase_ == Phase::kDraining) {
      if (mode_ == Mode::kConn) {
        w_.op_done(now, intended_);
        op_active_ = false;
      }
      close_socket();
      after_closed();
      return;
    }
    if (phase_ == Phase::kAwaiting && mode_ == Mode::kHttp &&
        parser_.on_eof() == HttpResponseParser::Step::kDone) {
      response_done(now);
      return;
    }
    fail(ErrorKind::kRead);
  }

  void close_socket() {
    if constexpr (kTls) {
      error_code ignored;
      sock().close(ignored);
    } else {
      if (fd_ >= 0) {
        ::close(fd_);  // also leaves the Poller's set
        fd_ = -1;
      }
      ++gen_;
      write_left_ = 0;
      want_read_ = false;
      in_read_loop_ = false;
    }
    connected_ = false;
  }

  void fail(ErrorKind kind) {
    if (phase_ == Phase::kClosing || phase_ == Phase::kBackoff || phase_ == Phase::kDown) {
      return;
    }
    w_.error(kind);
    op_active_ = false;
    if (mode_ == Mode::kSse && !streaming) {
      sh_.streams_lost.fetch_add(1, std::memory_order_relaxed);
    }
    streaming = false;
    backoff_needed_ = kind == ErrorKind::kConnectRefused || kind == ErrorKind::kConnect ||
                      kind == ErrorKind::kConnectTimeout;
    close_socket();
    phase_ = Phase::kClosing;
    closed_maybe();
  }

  // Called when closing and a handler has returned: once none is pending,
  // the slot is free to reopen.
  void closed_maybe() {
    if (pending_ != 0) {
      return;
    }
    if (mode_ == Mode::kSse) {
      phase_ = Phase::kDown;  // a lost stream is not reopened (as the anchors' loadgen)
      return;
    }
    if (backoff_needed_) {
      // Do not spin on a refused port: a failed connect waits 10 ms.
      phase_ = Phase::kBackoff;
      backoff_.expires_after(std::chrono::milliseconds(10));
      backoff_.async_wait([this](error_code ec) {
        if (!ec) {
          after_closed();
        }
      });
      return;
    }
    after_closed();
  }

  void after_closed() {
    phase_ = Phase::kDown;
    if (per_op_connection_) {
      became_idle();
    } else {
      open();
    }
  }

  Worker& w_;
  Shared& sh_;
  Mode mode_;
  bool per_op_connection_;
  size_t cap_;
  std::unique_ptr<char[]> buf_;
  size_t len_ = 0;
  std::optional<S> stream_;
  asio::steady_timer backoff_;
  Phase phase_ = Phase::kDown;
  bool connected_ = false;
  bool op_active_ = false;
  bool backoff_needed_ = false;
  int pending_ = 0;  // Asio operations in flight (TLS)
  // Plain TCP (PlainTcp): the socket and what epoll told about it.
  int fd_ = -1;
  uint64_t gen_ = 0;  // bumped whenever fd_ is closed or replaced
  bool readable_ = false;
  bool rdhup_ = false;
  bool want_read_ = false;
  bool in_read_loop_ = false;
  bool deferred_ = false;  // waiting in the Poller's deferred list
  const char* write_p_ = nullptr;
  size_t write_left_ = 0;
  uint64_t intended_ = 0;
  uint64_t deadline_ = 0;
  uint64_t connect_start_ = 0;
  HttpResponseParser parser_;
  WsFrameReader frames_;
  SseCounter sse_;
};

std::string build_http_request(const Options& o) {
  std::string r = o.method + " " + o.target.path + " HTTP/1.1\r\n";
  if (!has_header(o.headers, "host")) {
    r += "Host: " + o.target.host_header + "\r\n";
  }
  for (const std::string& h : o.headers) {
    r += h + "\r\n";
  }
  bool needs_length =
      !o.body.empty() || o.method == "POST" || o.method == "PUT" || o.method == "PATCH";
  if (needs_length && !has_header(o.headers, "content-length")) {
    r += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  }
  if (o.close && !has_header(o.headers, "connection")) {
    r += "Connection: close\r\n";
  }
  r += "\r\n";
  r += o.body;
  return r;
}

std::string build_get(const Options& o, std::string_view fixed_headers) {
  std::string r = "GET " + o.target.path + " HTTP/1.1\r\n";
  if (!has_header(o.headers, "host")) {
    r += "Host: " + o.target.host_header + "\r\n";
  }
  r += fixed_headers;
  for (const std::string& h : o.headers) {
    r += h + "\r\n";
  }
  r += "\r\n";
  return r;
}

}  // namespace

Status validate(const Options& o) {
  if (o.rate > 0 && o.mode == Mode::kSse) {
    return Error("--rate: not supported for sse (streams are read as fast as they come)");
  }
  if (o.sweep && o.mode == Mode::kSse) {
    return Error("--sweep: not supported for sse");
  }
  if (o.close && o.mode != Mode::kHttp) {
    return Error("--close: only for http (conn mode opens a connection per operation already)");
  }
  if (o.mode == Mode::kWs && o.message_size == 0) {
    return Error("--size: must be at least 1 byte");
  }
  if (o.connections == 0) {
    return Error("--connections: must be at least 1");
  }
  if (o.threads == 0) {
    return Error("--threads: must be at least 1");
  }
  if (!o.insecure && !o.cacert.empty() && !o.target.tls) {
    return Error("--cacert: the URL is not https:// or wss://");
  }
  return Status::ok();
}

Result<RunResult> run_load(const Options& opt) {
  if (Status s = validate(opt); !s) {
    return s.error();
  }
  try {
    Shared sh(opt);
    sh.timeout_ns = static_cast<uint64_t>(opt.timeout_s * 1e9);
    sh.open_wait_ns = static_cast<uint64_t>(opt.sse_open_wait_s * 1e9);
    sh.head = opt.method == "HEAD";
    // SSE streams come in bursts: a bigger buffer takes them in fewer reads.
    sh.buf_size = opt.mode == Mode::kSse ? 65536 : 16384;
    {
      asio::io_context io;
      tcp::resolver resolver(io);
      error_code ec;
      auto results = resolver.resolve(opt.target.host, std::to_string(opt.target.port), ec);
      if (ec || results.empty()) {
        return Error("cannot resolve '" + opt.target.host + "': " + ec.message());
      }
      sh.endpoint = results.begin()->endpoint();
    }
    std::optional<ssl::context> tls;
    if (opt.target.tls) {
      tls.emplace(ssl::context::tls_client);
      error_code ec;
      tls->set_options(
          ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3, ec);
      if (opt.insecure) {
        tls->set_verify_mode(ssl::verify_none, ec);
      } else {
        tls->set_verify_mode(ssl::verify_peer, ec);
        if (!opt.cacert.empty()) {
          tls->load_verify_file(opt.cacert, ec);
          if (ec) {
            return Error("--cacert '" + opt.cacert + "': " + ec.message());
          }
        } else {
          tls->set_default_verify_paths(ec);
        }
      }
      sh.tls = &*tls;
    }
    sh.request = build_http_request(opt);
    sh.upgrade = build_get(opt, std::string("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                            "Sec-WebSocket-Key: ") +
                                    std::string(kWsKey) + "\r\nSec-WebSocket-Version: 13\r\n");
    sh.sse_request = build_get(opt, "Accept: text/event-stream\r\n");
    std::string payload(opt.message_size, '\0');
    for (size_t i = 0; i < payload.size(); ++i) {
      payload[i] = "ping"[i % 4];
    }
    sh.message = ws_client_frame(0x2, payload);
    sh.close_frame = ws_client_frame(0x8, std::string("\x03\xe8", 2));

    unsigned nthreads = std::min(opt.threads, opt.connections);
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned t = 0; t < nthreads; ++t) {
      workers.push_back(std::make_unique<Worker>(sh, t, nthreads));
    }
    for (unsigned c = 0; c < opt.connections; ++c) {
      Worker& w = *workers[c % nthreads];
      if (opt.target.tls) {
        w.slots.push_back(std::make_unique<Slot<TlsStream>>(w));
      } else {
        w.slots.push_back(std::make_unique<Slot<PlainTcp>>(w));
      }
    }
    uint64_t t0 = now_ns();
    auto to_ns = [](double s) { return static_cast<uint64_t>(s * 1e9); };
    if (opt.mode != Mode::kSse) {
      sh.window_start.store(t0 + to_ns(opt.warmup_s));
      sh.window_end.store(t0 + to_ns(opt.warmup_s + opt.duration_s));
    }
    for (auto& w : workers) {
      w->sched_t0 = t0;
      Worker* wp = w.get();
      w->thread = std::thread([wp] { wp->run(); });
    }
    auto sleep_until_ns = [](uint64_t t) {
      for (uint64_t now = now_ns(); now < t; now = now_ns()) {
        std::this_thread::sleep_for(
            std::chrono::nanoseconds(std::min<uint64_t>(t - now, 50000000)));
      }
    };
    RunResult r;
    if (opt.mode == Mode::kSse) {
      // The window opens only once every stream has its header (a server
      // may stream to its first clients and accept the rest slowly).
      uint64_t give_up = t0 + to_ns(opt.sse_open_wait_s);
      while (sh.streams_open.load() + sh.streams_lost.load() < opt.connections &&
             now_ns() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      uint64_t all_open = now_ns();
      r.establish_ms = static_cast<double>(all_open - t0) / 1e6;
      sh.window_start.store(all_open + to_ns(opt.warmup_s));
      sh.window_end.store(all_open + to_ns(opt.warmup_s + opt.duration_s));
    }
    uint64_t start = sh.window_start.load();
    uint64_t end = sh.window_end.load();
    sleep_until_ns(start);
    uint64_t cpu0 = 0;
    for (auto& w : workers) {
      cpu0 += thread_cpu_ns(w->thread.native_handle());
    }
    sleep_until_ns(end);
    uint64_t cpu1 = 0;
    for (auto& w : workers) {
      cpu1 += thread_cpu_ns(w->thread.native_handle());
    }
    uint64_t stopped = now_ns();
    for (auto& w : workers) {
      w->io.stop();
    }
    for (auto& w : workers) {
      w->thread.join();
    }

    r.mode = opt.mode;
    r.url = opt.url;
    r.connections = opt.connections;
    r.threads = nthreads;
    r.close = opt.close;
    r.offered_rate = opt.rate;
    r.seconds = static_cast<double>(end - start) / 1e9;
    r.client_cpu_s = static_cast<double>(cpu1 - cpu0) / 1e9;
    uint64_t smin = UINT64_MAX, smax = 0;
    for (auto& w : workers) {
      r.counters.add(w->counters);
      r.latency.merge(w->latency);
      r.ops_all += w->ops_all;
      r.sent_all += w->sent_all;
      if (opt.rate > 0) {
        r.backlog += w->backlog(end);
      }
      for (auto& s : w->slots) {
        if (s->streaming) {
          ++r.streams_open;
          smin = std::min(smin, s->events);
          smax = std::max(smax, s->events);
        }
      }
    }
    (void)stopped;
    if (opt.mode == Mode::kSse) {
      r.per_stream_min = r.streams_open != 0 ? smin : 0;
      r.per_stream_max = smax;
    }
    r.rate = r.seconds > 0 ? static_cast<double>(r.counters.ops) / r.seconds : 0;
    // Slots and their sockets go before the io_contexts they belong to.
    for (auto& w : workers) {
      w->slots.clear();
    }
    return r;
  } catch (const std::exception& e) {
    return Error(std::string("load run failed: ") + e.what());
  }
}

Result<SweepResult> run_sweep(const Options& options,
                              const std::function<void(const SweepLevel&)>& progress) {
  SweepResult out;
  Options o = options;
  double rate = options.rate > 0 ? options.rate : 1000.0;
  auto level = [&](double r) -> Status {
    o.rate = r;
    Result<RunResult> res = run_load(o);
    if (!res) {
      return res.error();
    }
    SweepLevel l;
    l.result = std::move(*res);
    l.pass = meets_sla(l.result, options.sla, &l.why);
    out.levels.push_back(std::move(l));
    if (out.levels.back().pass &&
        (out.last_pass < 0 || out.levels[out.last_pass].result.offered_rate < r)) {
      out.last_pass = static_cast<int>(out.levels.size()) - 1;
    }
    if (progress) {
      progress(out.levels.back());
    }
    return Status::ok();
  };
  double fail_rate = 0;
  for (unsigned i = 0; i < options.sweep_max_levels; ++i) {
    if (Status s = level(rate); !s) {
      return s.error();
    }
    if (!out.levels.back().pass) {
      fail_rate = rate;
      break;
    }
    rate *= options.sweep_factor;
  }
  if (out.last_pass >= 0 && fail_rate > 0) {
    double lo = out.levels[out.last_pass].result.offered_rate;
    double hi = fail_rate;
    for (int i = 0; i < 2; ++i) {
      double mid = std::round((lo + hi) / 2);
      if (Status s = level(mid); !s) {
        return s.error();
      }
      (out.levels.back().pass ? lo : hi) = mid;
    }
  }
  return out;
}

}  // namespace rusm::loadtest
