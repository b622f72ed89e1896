#include "observe/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "observe/static_files.h"

namespace rusm::observe {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

class WsSession;

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kMaxBodyBytes = 64 * 1024;
// A WebSocket message larger than this closes the connection (1009); up to
// it, parse_command explains what was too long.
constexpr size_t kMaxWsMessageBytes = 4 * kMaxCommandBytes;
constexpr auto kMinAcceptBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxAcceptBackoff = std::chrono::milliseconds(1000);

// What a connection over the limit reads before it is closed.
constexpr std::string_view kBusyResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "Content-Length: 46\r\n"
    "\r\n"
    "too many connections to this dashboard; retry\n";
static_assert(std::string_view("too many connections to this dashboard; retry\n").size() == 46);

// Writes what fits into the socket's buffer without waiting, then closes.
void close_with(int fd, std::string_view text) {
  (void)::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

bool out_of_descriptors(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
         ec == net::error::no_memory ||
         (ec.category() == boost::system::system_category() && ec.value() == ENFILE);
}

}  // namespace

struct Server::Impl {
  Impl(otp::Node& n, Sampler& s, Controller* c, ServerOptions o)
      : node(n), sampler(s), controller(c), options(std::move(o)) {}

  // Counters first: sessions still alive when the io_context is destroyed
  // update them from their destructors.
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> websockets{0};
  std::atomic<uint64_t> refused{0}, accept_errors{0}, forbidden{0}, denied_commands{0},
      slow_clients{0}, timeouts{0};
  SendQueueGauges queued;

  otp::Node& node;
  Sampler& sampler;
  Controller* controller;
  ServerOptions options;
  std::optional<AccessPolicy> policy;  // set by start(), then read-only
  StaticFiles files;
  std::string no_files_reason;  // why files is empty
  net::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_timer;
  std::optional<net::steady_timer> sweep_timer;
  std::chrono::milliseconds accept_backoff = kMinAcceptBackoff;
  int reserve_fd = -1;  // given up to accept (and refuse) one client when out of descriptors
  std::thread thread;
  uint64_t listener = 0;
  bool started = false;
  // I/O thread only.
  std::vector<std::weak_ptr<WsSession>> sessions;

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void shed_one_pending();
  void sweep();
  json hello(Access access);
  http::response<http::string_body> handle(const http::request<http::string_body>& req,
                                           const RequestHeaders& headers);
  void handle_command(WsSession& s, const std::string& text);
  void publish(std::shared_ptr<const Snapshot> snap, json bench);
  void send_all(std::shared_ptr<const std::string> text, bool droppable);
  ServerStats stats() const;
};

namespace {

// One counted connection; the count drops when the last owner lets go.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(Server::Impl* srv) : srv_(srv) {
    srv_->connections.fetch_add(1, std::memory_order_relaxed);
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept : srv_(std::exchange(o.srv_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (srv_ != nullptr) {
      srv_->connections.fetch_sub(1, std::memory_order_relaxed);
    }
  }

 private:
  Server::Impl* srv_;
};

RequestHeaders headers_of(const http::request<http::string_body>& req) {
  RequestHeaders h;
  h.target = std::string_view(req.target().data(), req.target().size());
  if (auto it = req.find(http::field::host); it != req.end()) {
    h.host = std::string_view(it->value().data(), it->value().size());
  }
  if (auto it = req.find(http::field::origin); it != req.end()) {
    h.origin = std::string_view(it->value().data(), it->value().size());
  }
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    h.authorization = std::string_view(it->value().data(), it->value().size());
  }
  return h;
}

void set_common_headers(http::response<http::string_body>& res) {
  res.set(http::field::server, "rusm");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Content-Security-Policy", "frame-ancestors 'none'");
  // The page's URL carries the token: never send it anywhere in a Referer.
  res.set("Referrer-Policy", "no-referrer");
}

http::response<http::string_body> text_response(http::status status, unsigned version,
                                                std::string body, bool keep_alive) {
  http::response<http::string_body> res{status, version};
  set_common_headers(res);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(keep_alive);
  res.body() = std::move(body) + "\n";
  res.prepare_payload();
  return res;
}

http::response<http::string_body> refusal(const Verdict& v, unsigned version) {
  auto res = text_response(static_cast<http::status>(v.status), version, v.reason, false);
  if (v.status == 401) {
    res.set(http::field::www_authenticate, "Bearer");
  }
  return res;
}

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, Server::Impl* srv, Access access, ConnectionSlot slot)
      : ws_(std::move(socket)),
        srv_(srv),
        access_(access),
        slot_(std::move(slot)),
        queue_(srv->options.limits.queue, &srv->queued) {}
  ~WsSession() {
    if (counted_) {
      srv_->websockets.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  void accept(http::request<http::string_body> req) {
    auto idle = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        srv_->options.limits.idle_timeout);
    websocket::stream_base::timeout t;
    t.handshake_timeout = idle;
    t.idle_timeout = idle;
    t.keep_alive_pings = true;  // a ping after half the idle time; no answer closes
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "rusm"); }));
    ws_.read_message_max(kMaxWsMessageBytes);
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

  Access access() const { return access_; }

  void send(const json& j) { send(std::make_shared<const std::string>(to_text(j)), false); }

  void send(std::shared_ptr<const std::string> text, bool droppable) {
    if (closed_) {
      return;
    }
    switch (queue_.push(std::move(text), droppable)) {
      case SendQueue::Push::kQueued:
        if (!writing_) {
          do_write();
        }
        return;
      case SendQueue::Push::kDropped:
        return;
      case SendQueue::Push::kOverflow:
        srv_->slow_clients.fetch_add(1, std::memory_order_relaxed);
        abort();
        return;
    }
  }

  void set_table(bool on) {
    if (on != table_ && !closed_) {
      table_ = on;
      srv_->sampler.want_table(on);
    }
  }
  bool table() const { return table_; }

  // Disconnects a client that has not taken a message for the idle timeout.
  void check_stalled(SteadyClock::time_point now) {
    if (!closed_ && writing_ && now - write_started_ > srv_->options.limits.idle_timeout) {
      srv_->slow_clients.fetch_add(1, std::memory_order_relaxed);
      abort();
    }
  }

  // Graceful close (server stopping).
  void close() {
    if (closed_) {
      return;
    }
    ws_.async_close(websocket::close_code::going_away,
                    [self = shared_from_this()](beast::error_code) { self->closed(); });
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        srv_->timeouts.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    counted_ = true;
    srv_->websockets.fetch_add(1, std::memory_order_relaxed);
    srv_->sessions.push_back(weak_from_this());
    send(srv_->hello(access_));
    do_read();
  }

  void do_read() {
    if (reading_ || closed_) {
      return;
    }
    // Replies wait: read no more commands until they drain, so the client's
    // own sends back up instead of the server's memory.
    if (queue_.size() >= srv_->options.limits.pause_reading_at) {
      paused_ = true;
      return;
    }
    reading_ = true;
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec) {
      if (ec == beast::error::timeout) {
        srv_->timeouts.fetch_add(1, std::memory_order_relaxed);
      }
      closed();
      return;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (!ws_.got_text()) {
      send(error_message(nullptr, "binary messages are not understood; send JSON text"));
    } else {
      srv_->handle_command(*this, text);
    }
    do_read();
  }

  void do_write() {
    writing_ = true;
    write_started_ = SteadyClock::now();
    // The buffer must outlive the write even if the queue is cleared first.
    in_flight_ = queue_.front();
    ws_.text(true);
    ws_.async_write(net::buffer(*in_flight_),
                    beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    writing_ = false;
    in_flight_.reset();
    if (ec == beast::error::timeout) {
      // The ping sent at half the idle time went unanswered (the client
      // does not read), and the stream closed itself.
      srv_->timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    if (ec || closed_) {
      closed();
      return;
    }
    queue_.pop();
    if (!queue_.empty()) {
      do_write();
    }
    if (paused_ && queue_.size() <= srv_->options.limits.pause_reading_at / 2) {
      paused_ = false;
      do_read();
    }
  }

  // Drops the connection at once: pending operations end with an error.
  void abort() {
    closed();
    beast::get_lowest_layer(ws_).close();
  }

  void closed() {
    if (closed_) {
      return;
    }
    set_table(false);
    closed_ = true;
    queue_.clear();
  }

  websocket::stream<beast::tcp_stream> ws_;
  Server::Impl* srv_;
  Access access_;
  ConnectionSlot slot_;
  beast::flat_buffer buffer_;
  SendQueue queue_;
  std::shared_ptr<const std::string> in_flight_;
  SteadyClock::time_point write_started_;
  bool table_ = false;
  bool closed_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool counted_ = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, Server::Impl* srv, ConnectionSlot slot)
      : stream_(std::move(socket)), srv_(srv), slot_(std::move(slot)) {}

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    // The whole request must arrive in this time (a trickle does not extend it).
    stream_.expires_after(srv_->options.limits.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == beast::error::timeout) {
      srv_->timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec) {
      // A malformed request: say why, then close.
      write(text_response(http::status::bad_request, 11, "bad request: " + ec.message(), false));
      return;
    }
    http::request<http::string_body> req = parser_->release();
    RequestHeaders headers = headers_of(req);
    if (websocket::is_upgrade(req)) {
      Verdict v = srv_->policy->check(headers);
      if (v.access == Access::kNone) {
        srv_->forbidden.fetch_add(1, std::memory_order_relaxed);
        write(refusal(v, req.version()));
        return;
      }
      std::string_view target = headers.target;
      if (target.substr(0, target.find('?')) != "/ws") {
        write(text_response(http::status::not_found, req.version(),
                            "no WebSocket at " + std::string(target.substr(0, 200)) + " (use /ws)",
                            false));
        return;
      }
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), srv_, v.access, std::move(slot_))
          ->accept(std::move(req));
      return;
    }
    write(srv_->handle(req, headers));
  }

  void write(http::response<http::string_body> res) {
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
    // A client that does not take the response in time is dropped.
    stream_.expires_after(srv_->options.limits.idle_timeout);
    http::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, size_t) {
      if (ec || sp->need_eof()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->do_read();
    });
  }

  beast::tcp_stream stream_;
  Server::Impl* srv_;
  ConnectionSlot slot_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void Server::Impl::do_accept() {
  acceptor->async_accept(net::make_strand(ioc),
                         [self = this](beast::error_code ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void Server::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor || !acceptor->is_open()) {
    return;
  }
  if (ec) {
    accept_errors.fetch_add(1, std::memory_order_relaxed);
    if (out_of_descriptors(ec)) {
      // Accepting again at once would fail again at once (the pending
      // client stays in the backlog): turn one pending client away with the
      // reserved descriptor, then wait, longer each time, before retrying.
      shed_one_pending();
      accept_timer->expires_after(accept_backoff);
      accept_backoff = std::min(accept_backoff * 2, kMaxAcceptBackoff);
      accept_timer->async_wait([self = this](beast::error_code e) {
        if (!e && self->acceptor && self->acceptor->is_open()) {
          self->do_accept();
        }
      });
      return;
    }
    do_accept();  // the client went away before we took it (ECONNABORTED, ...)
    return;
  }
  accept_backoff = kMinAcceptBackoff;
  if (connections.load(std::memory_order_relaxed) >=
      static_cast<int64_t>(options.limits.max_connections)) {
    refused.fetch_add(1, std::memory_order_relaxed);
    close_with(socket.release(), kBusyResponse);
  } else {
    std::make_shared<HttpSession>(std::move(socket), this, ConnectionSlot(this))->run();
  }
  do_accept();
}

void Server::Impl::shed_one_pending() {
  if (reserve_fd < 0) {
    return;
  }
  ::close(reserve_fd);
  int fd = ::accept4(acceptor->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    refused.fetch_add(1, std::memory_order_relaxed);
    close_with(fd, kBusyResponse);
  }
  reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Server::Impl::sweep() {
  auto now = SteadyClock::now();
  std::erase_if(sessions, [](const std::weak_ptr<WsSession>& w) { return w.expired(); });
  for (auto& w : sessions) {
    if (auto s = w.lock()) {
      s->check_stalled(now);
    }
  }
  auto interval = std::clamp<std::chrono::milliseconds>(options.limits.idle_timeout / 4,
                                                        std::chrono::milliseconds(50),
                                                        std::chrono::milliseconds(1000));
  sweep_timer->expires_after(interval);
  sweep_timer->async_wait([self = this](beast::error_code ec) {
    if (!ec) {
      self->sweep();
    }
  });
}

json Server::Impl::hello(Access access) {
  json j;
  j["type"] = "hello";
  j["version"] = kProtocolVersion;
  j["access"] = to_string(access);
  j["node"] = {{"workers", node.workers()},
               {"cores", std::thread::hardware_concurrency()},
               {"pid", static_cast<int64_t>(::getpid())}};
  j["scenarios"] = controller != nullptr ? controller->scenarios() : json::array();
  j["bench"] = controller != nullptr ? controller->bench_state() : json(nullptr);
  return j;
}

ServerStats Server::Impl::stats() const {
  ServerStats s;
  s.connections = connections.load(std::memory_order_relaxed);
  s.websockets = websockets.load(std::memory_order_relaxed);
  s.queued_bytes = queued.bytes.load(std::memory_order_relaxed);
  s.queued_messages = queued.messages.load(std::memory_order_relaxed);
  s.refused_total = refused.load(std::memory_order_relaxed);
  s.accept_errors_total = accept_errors.load(std::memory_order_relaxed);
  s.forbidden_total = forbidden.load(std::memory_order_relaxed);
  s.denied_commands_total = denied_commands.load(std::memory_order_relaxed);
  s.slow_clients_total = slow_clients.load(std::memory_order_relaxed);
  s.timeouts_total = timeouts.load(std::memory_order_relaxed);
  return s;
}

http::response<http::string_body> Server::Impl::handle(const http::request<http::string_body>& req,
                                                       const RequestHeaders& headers) {
  auto reply = [&](http::status status, std::string type, std::string body) {
    http::response<http::string_body> res{status, req.version()};
    set_common_headers(res);
    res.set(http::field::content_type, type);
    res.keep_alive(req.keep_alive());
    res.body() = req.method() == http::verb::head ? std::string() : std::move(body);
    res.prepare_payload();
    return res;
  };
  auto text = [&](http::status status, std::string body) {
    return text_response(status, req.version(), std::move(body), req.keep_alive());
  };
  Verdict site = policy->check_site(headers);
  if (site.access == Access::kNone) {
    forbidden.fetch_add(1, std::memory_order_relaxed);
    return refusal(site, req.version());
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text(http::status::method_not_allowed,
                    "method " + std::string(req.method_string()) + " not allowed (GET or HEAD)");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  std::string_view target = headers.target;
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path[0] != '/') {
    return text(http::status::bad_request,
                "bad request target '" + std::string(target.substr(0, 200)) + "'");
  }
  if (path == "/metrics" || path == "/api/hello" || path == "/ws") {
    Verdict v = policy->check(headers);
    if (v.access == Access::kNone) {
      forbidden.fetch_add(1, std::memory_order_relaxed);
      return refusal(v, req.version());
    }
    if (path == "/metrics") {
      std::shared_ptr<const Snapshot> s = sampler.latest();
      if (!s) {
        s = sampler.sample_now(false);
      }
      std::vector<NamedHistogram> hs;
      if (controller != nullptr) {
        hs = controller->histograms();
      }
      return reply(http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                   format_prometheus(*s, hs) + format_server_metrics(stats()));
    }
    if (path == "/api/hello") {
      return reply(http::status::ok, "application/json", to_text(hello(v.access)));
    }
    return text(http::status::bad_request, "/ws is a WebSocket endpoint: connect with Upgrade");
  }
  const StaticFile* file = files.find(path);
  if (file == nullptr) {
    if (files.size() == 0) {
      return text(http::status::not_found, no_files_reason);
    }
    return text(http::status::not_found, "not found: " + std::string(path.substr(0, 200)));
  }
  auto res = reply(http::status::ok, file->content_type, file->body);
  if (file->immutable) {
    res.set(http::field::cache_control, "public, max-age=31536000, immutable");
  }
  return res;
}

void Server::Impl::handle_command(WsSession& s, const std::string& text) {
  Result<Command> parsed = parse_command(text);
  if (!parsed) {
    s.send(error_message(nullptr, parsed.error().message()));
    return;
  }
  const Command& c = *parsed;
  auto ok = [&](const char* type) {
    json j;
    j["type"] = type;
    j["id"] = c.id;
    return j;
  };
  bool acts =
      c.kind == CommandKind::kRun || c.kind == CommandKind::kStop || c.kind == CommandKind::kKill;
  if (acts && s.access() != Access::kControl) {
    denied_commands.fetch_add(1, std::memory_order_relaxed);
    s.send(error_message(c.id,
                         "this connection may only observe: control (kill, run, stop) needs the "
                         "token; open the URL rusm dashboard printed (it ends in ?token=...)"));
    return;
  }
  switch (c.kind) {
    case CommandKind::kPing:
      s.send(ok("pong"));
      return;
    case CommandKind::kRun:
    case CommandKind::kStop: {
      if (controller == nullptr) {
        s.send(error_message(c.id, "this node runs no benchmarks"));
        return;
      }
      Status st = c.kind == CommandKind::kRun ? controller->run(c) : controller->stop();
      if (!st) {
        s.send(error_message(c.id, st.message()));
        return;
      }
      json j = ok(c.kind == CommandKind::kRun ? "run_accepted" : "stop_accepted");
      j["bench"] = controller->bench_state();
      s.send(j);
      return;
    }
    case CommandKind::kSubscribe:
    case CommandKind::kUnsubscribe: {
      s.set_table(c.kind == CommandKind::kSubscribe);
      json j = ok("subscribed");
      j["topic"] = c.topic;
      j["enabled"] = s.table();
      s.send(j);
      return;
    }
    case CommandKind::kProcessInfo: {
      std::optional<otp::ProcessInfo> info = node.info(c.pid);
      if (!info) {
        s.send(error_message(c.id, "no process " + c.pid.to_string() + " (it has exited)"));
        return;
      }
      json j = ok("process_info");
      j["info"] = process_info_json(*info);
      s.send(j);
      return;
    }
    case CommandKind::kKill: {
      if (!node.is_alive(c.pid)) {
        s.send(error_message(c.id, "no process " + c.pid.to_string() + " (it has exited)"));
        return;
      }
      node.exit(c.pid, otp::ExitReason::kill());
      json j = ok("killed");
      j["pid"] = c.pid.to_string();
      s.send(j);
      return;
    }
  }
}

void Server::Impl::send_all(std::shared_ptr<const std::string> text, bool droppable) {
  std::erase_if(sessions, [](const std::weak_ptr<WsSession>& w) { return w.expired(); });
  for (auto& w : sessions) {
    if (auto s = w.lock()) {
      s->send(text, droppable);
    }
  }
}

void Server::Impl::publish(std::shared_ptr<const Snapshot> snap, json bench) {
  std::erase_if(sessions, [](const std::weak_ptr<WsSession>& w) { return w.expired(); });
  std::shared_ptr<const std::string> plain, with_table;
  for (auto& w : sessions) {
    auto s = w.lock();
    if (!s) {
      continue;
    }
    bool table = s->table() && snap->has_table;
    std::shared_ptr<const std::string>& text = table ? with_table : plain;
    if (!text) {
      json j = snapshot_json(*snap, table);
      j["bench"] = bench;
      text = std::make_shared<const std::string>(to_text(j));
    }
    s->send(text, true);
  }
}

Server::Server(otp::Node& node, Sampler& sampler, Controller* controller, ServerOptions options)
    : impl_(std::make_shared<Impl>(node, sampler, controller, std::move(options))) {}

Server::~Server() {
  stop();
}

Result<uint16_t> Server::start() {
  Impl& m = *impl_;
  if (m.started) {
    return m.acceptor->local_endpoint().port();
  }
  std::string where = m.options.host + ":" + std::to_string(m.options.port);
  if (m.options.access.token.empty()) {
    Result<std::string> token = generate_token();
    if (!token) {
      return token.error();
    }
    m.options.access.token = *token;
  }
  if (Status s = check_token(m.options.access.token); !s) {
    return Error("--token: " + s.message());
  }
  if (m.options.assets_dir.empty()) {
    m.no_files_reason =
        "no dashboard assets: build them (npm run build in dashboard/) and pass --assets";
  } else if (Result<StaticFiles> files = StaticFiles::load(m.options.assets_dir); files) {
    m.files = std::move(*files);
    m.no_files_reason = "no dashboard files in " + m.options.assets_dir + " (npm run build)";
  } else if (files.error().code() == ENOENT) {
    m.no_files_reason = files.error().message() + " (build the dashboard: npm run build)";
  } else {
    return files.error();
  }
  beast::error_code ec;
  net::ip::address addr = net::ip::make_address(m.options.host, ec);
  if (ec) {
    return Error(where + ": not an IP address (" + ec.message() + ")");
  }
  tcp::endpoint ep(addr, m.options.port);
  m.acceptor.emplace(m.ioc);
  if (m.acceptor->open(ep.protocol(), ec);
      !ec && (m.acceptor->set_option(net::socket_base::reuse_address(true), ec), !ec) &&
      (m.acceptor->bind(ep, ec), !ec) &&
      (m.acceptor->listen(net::socket_base::max_listen_connections, ec), !ec)) {
  }
  if (ec) {
    m.acceptor.reset();
    return Error(where + ": " + ec.message());
  }
  uint16_t port = m.acceptor->local_endpoint().port();
  Result<AccessPolicy> policy = AccessPolicy::make(m.options.host, port, m.options.access);
  if (!policy) {
    m.acceptor.reset();
    return policy.error();
  }
  m.policy.emplace(std::move(*policy));
  m.reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  m.accept_timer.emplace(m.ioc);
  m.sweep_timer.emplace(m.ioc);
  m.do_accept();
  m.sweep();
  std::weak_ptr<Impl> weak = impl_;
  m.listener = m.sampler.add_listener([weak](std::shared_ptr<const Snapshot> snap) {
    auto self = weak.lock();
    if (!self) {
      return;
    }
    json bench = self->controller != nullptr ? self->controller->bench_state() : json(nullptr);
    net::post(self->ioc, [p = self.get(), snap, bench = std::move(bench)]() mutable {
      p->publish(snap, std::move(bench));
    });
  });
  m.thread = std::thread([self = impl_.get()] {
    for (;;) {
      try {
        self->ioc.run();
        return;
      } catch (const std::exception&) {
        // A handler threw (out of memory, a bug): keep serving the others.
      }
    }
  });
  m.started = true;
  return port;
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.started) {
    return;
  }
  m.started = false;
  m.sampler.remove_listener(m.listener);
  net::post(m.ioc, [self = impl_.get()] {
    beast::error_code ec;
    if (self->acceptor) {
      self->acceptor->close(ec);
    }
    self->accept_timer->cancel();
    self->sweep_timer->cancel();
    for (auto& w : self->sessions) {
      if (auto s = w.lock()) {
        s->close();
      }
    }
  });
  // Give clients a moment to receive the close frames, then stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  m.ioc.stop();
  if (m.thread.joinable()) {
    m.thread.join();
  }
  if (m.reserve_fd >= 0) {
    ::close(m.reserve_fd);
    m.reserve_fd = -1;
  }
}

void Server::broadcast(std::string text) {
  auto msg = std::make_shared<const std::string>(std::move(text));
  net::post(impl_->ioc, [self = impl_.get(), msg] { self->send_all(msg, false); });
}

std::string Server::url() const {
  return impl_->policy ? impl_->policy->url() : std::string();
}

const AccessPolicy& Server::policy() const {
  return *impl_->policy;
}

ServerStats Server::stats() const {
  return impl_->stats();
}

}  // namespace rusm::observe
