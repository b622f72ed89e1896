// The observer as routes on net::Server (see server.h): the access policy
// around every route, the static-file table, /metrics, /api/hello, and the
// dashboard's WebSocket sessions with their bounded send queues.
//
// Threads. Route handlers and WebSocket callbacks run on their connection's
// strand (any thread running the io_context); publish() runs on the
// io_context too, broadcast() and stats() on any thread. A Session's state is
// guarded by its own mutex, never held while calling into net/ in a way that
// could call back (WebSocket::abort runs on_close inline when called on the
// strand).
#include "observe/server.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include <boost/asio.hpp>

#include "observe/static_files.h"
#include "rusm/net/server.h"

namespace rusm::observe {

namespace asio = boost::asio;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr uint64_t kMaxBodyBytes = 64 * 1024;
// A WebSocket message larger than this closes the connection (1009); up to
// it, parse_command explains what was too long.
constexpr uint64_t kMaxWsMessageBytes = 4 * kMaxCommandBytes;

enum class Endpoint { kFiles, kWs, kMetrics, kHello };

// Headers on every answer of the observer's own: nothing is cached, nothing
// is framed by another site, and the page's URL (which carries the token) is
// never sent anywhere in a Referer.
net::Headers headers_for(std::string content_type, std::string cache = "no-store") {
  return {{"Content-Type", std::move(content_type)},
          {"Cache-Control", std::move(cache)},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Content-Security-Policy", "frame-ancestors 'none'"},
          {"Referrer-Policy", "no-referrer"}};
}

void respond_text(net::Exchange& ex, int status, std::string body, net::Headers extra = {}) {
  net::Headers h = headers_for("text/plain; charset=utf-8");
  h.insert(h.end(), extra.begin(), extra.end());
  ex.respond(status, std::move(h), std::move(body) + "\n");
}

void refuse(net::Exchange& ex, const Verdict& v) {
  net::Headers extra;
  if (v.status == 401) {
    extra.emplace_back("WWW-Authenticate", "Bearer");
  }
  respond_text(ex, v.status, v.reason, std::move(extra));
}

RequestHeaders headers_of(const net::Request& r) {
  RequestHeaders h;
  h.target = r.target;
  if (const std::string* v = r.header("host")) {
    h.host = *v;
  }
  if (const std::string* v = r.header("origin")) {
    h.origin = *v;
  }
  if (const std::string* v = r.header("authorization")) {
    h.authorization = *v;
  }
  return h;
}

}  // namespace

class Session;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(otp::Node& n, Sampler& s, Controller* c, ServerOptions o)
      : node(n), sampler(s), controller(c), options(std::move(o)) {}

  std::atomic<int64_t> websockets{0};
  // Traces running on threads of their own ({"type":"shell"} with trace):
  // stop() waits for them, as they use the node.
  std::mutex traces_mu;
  std::condition_variable traces_cv;
  int traces = 0;
  std::atomic<uint64_t> forbidden{0}, denied_commands{0}, slow_clients{0};
  SendQueueGauges queued;

  otp::Node& node;
  Sampler& sampler;
  Controller* controller;
  ServerOptions options;
  asio::io_context* io = nullptr;
  std::optional<AccessPolicy> policy;  // set by start(), then read-only
  std::atomic<bool> ready{false};      // policy is set: requests may be served
  StaticFiles files;
  std::string no_files_reason;  // why files is empty
  std::unique_ptr<net::Server> http;
  std::unique_ptr<asio::steady_timer> sweep_timer;
  uint64_t listener = 0;
  bool started = false;

  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> sessions;

  void handle(Endpoint ep, const std::shared_ptr<net::Exchange>& ex);
  json hello(Access access);
  void handle_command(Session& s, const std::string& text);
  void add_session(std::weak_ptr<Session> s);
  std::vector<std::shared_ptr<Session>> live_sessions();
  void publish(const std::shared_ptr<const Snapshot>& snap, const json& bench);
  void send_all(const std::shared_ptr<const std::string>& text, bool droppable);
  void schedule_sweep();
  void sweep();
  ServerStats stats() const;
};

namespace {

// One route of the observer: holds the server weakly (the net core may
// outlive it) and hands each request to Impl::handle.
class RouteHandler final : public net::Handler {
 public:
  RouteHandler(std::weak_ptr<Server::Impl> srv, Endpoint ep) : srv_(std::move(srv)), ep_(ep) {}
  void handle(std::shared_ptr<net::Exchange> ex) override {
    std::shared_ptr<Server::Impl> srv = srv_.lock();
    if (!srv || !srv->ready.load(std::memory_order_acquire)) {
      respond_text(*ex, 503, "the dashboard is not serving now; retry", {{"Retry-After", "1"}});
      return;
    }
    srv->handle(ep_, ex);
  }

 private:
  std::weak_ptr<Server::Impl> srv_;
  Endpoint ep_;
};

}  // namespace

// One dashboard client on /ws. Messages go out one at a time from a bounded
// SendQueue; the net layer's own write buffer holds at most one more.
class Session final : public net::WebSocketHandler, public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Server::Impl> srv, Access access)
      : srv_(std::move(srv)),
        access_(access),
        queue_(srv_->options.limits.queue, &srv_->queued),
        shell_(srv_->node, srv_->options.shell) {}

  Access access() const { return access_; }
  // Only from on_message (one at a time per connection): the shell keeps
  // this client's last `top` readings.
  Shell& shell() { return shell_; }

  // A `trace` line: streamed from a thread of its own (a trace runs until
  // its process exits or the client cancels), one per session at a time,
  // with a Shell of its own (the session's serves the other lines meanwhile).
  // Its output comes as shell_output messages, then its shell_result.
  void start_trace(const nlohmann::json& id, std::string line) {
    if (tracing_.exchange(true)) {
      send(error_message(id,
                         "a trace is running on this connection; cancel it first "
                         "({\"type\":\"shell_cancel\"})"));
      return;
    }
    trace_cancel_.store(false);
    trace_id_ = id;
    {
      std::lock_guard<std::mutex> lock(srv_->traces_mu);
      ++srv_->traces;
    }
    std::thread([self = shared_from_this(), id, line = std::move(line)] {
      Shell shell(self->srv_->node, self->srv_->options.shell);
      ShellStream stream = [&](std::string_view chunk) {
        if (self->trace_cancel_.load() || self->is_closed()) {
          return false;
        }
        if (!chunk.empty()) {
          json j;
          j["type"] = "shell_output";
          j["id"] = id;
          j["output"] = std::string(chunk);
          self->send(j);
        }
        return !self->trace_cancel_.load() && !self->is_closed();
      };
      ShellResult r = shell.execute(line, self->access(), stream);
      json j;
      j["type"] = "shell_result";
      j["id"] = id;
      j["ok"] = r.ok;
      j["output"] = std::move(r.output);
      self->send(j);
      self->tracing_.store(false);
      Server::Impl& srv = *self->srv_;
      std::lock_guard<std::mutex> lock(srv.traces_mu);
      --srv.traces;
      srv.traces_cv.notify_all();
    }).detach();
  }
  // {"type":"shell_cancel","id":...}: stops this session's trace (its id, or any).
  bool cancel_trace() {
    if (!tracing_.load()) {
      return false;
    }
    trace_cancel_.store(true);
    return true;
  }
  bool is_closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }

  void on_open(std::shared_ptr<net::WebSocket> ws) override {
    {
      std::lock_guard lock(mu_);
      ws_ = std::move(ws);
    }
    counted_.store(true);
    srv_->websockets.fetch_add(1, std::memory_order_relaxed);
    srv_->add_session(weak_from_this());
    send(srv_->hello(access_));
  }

  void on_message(bool text, std::string data, bool) override {
    // Dropping a slow client from here runs on_close inline, after which the
    // connection no longer holds this session.
    std::shared_ptr<Session> self = shared_from_this();
    if (!text) {
      send(error_message(nullptr, "binary messages are not understood; send JSON text"));
    } else {
      srv_->handle_command(*this, data);
    }
    // Replies wait: read no more commands until they drain, so the client's
    // own sends back up instead of the server's memory.
    std::shared_ptr<net::WebSocket> ws;
    {
      std::lock_guard lock(mu_);
      if (!closed_ && !paused_ && queue_.size() >= srv_->options.limits.pause_reading_at) {
        paused_ = true;
        ws = ws_;
      }
    }
    if (ws) {
      ws->pause();
    }
  }

  void on_close(uint16_t, std::string) override {
    {
      std::lock_guard lock(mu_);
      close_locked();
    }
    if (counted_.exchange(false)) {
      srv_->websockets.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  void send(const json& j) { send(std::make_shared<const std::string>(to_text(j)), false); }

  void send(std::shared_ptr<const std::string> text, bool droppable) {
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return;
      }
      switch (queue_.push(std::move(text), droppable)) {
        case SendQueue::Push::kQueued:
          if (!writing_) {
            write_locked();
          }
          return;
        case SendQueue::Push::kDropped:
          return;
        case SendQueue::Push::kOverflow:
          break;
      }
    }
    drop_slow();
  }

  void set_table(bool on) {
    std::lock_guard lock(mu_);
    if (on != table_ && !closed_) {
      table_ = on;
      srv_->sampler.want_table(on);
    }
  }
  bool table() const {
    std::lock_guard lock(mu_);
    return table_;
  }

  // Disconnects a client that has not taken a message for the idle timeout.
  void check_stalled(SteadyClock::time_point now) {
    bool stalled;
    {
      std::lock_guard lock(mu_);
      stalled = !closed_ && writing_ && now - write_started_ > srv_->options.limits.idle_timeout;
    }
    if (stalled) {
      drop_slow();
    }
  }

  // Graceful close (server stopping).
  void close_going_away() {
    std::shared_ptr<net::WebSocket> ws;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return;
      }
      ws = ws_;
    }
    if (ws) {
      ws->close(1001, "dashboard stopping");
    }
  }

 private:
  void write_locked() {
    writing_ = true;
    write_started_ = SteadyClock::now();
    ws_->send_text(std::string(*queue_.front()),
                   [self = shared_from_this()](net::Errc e) { self->on_written(e); });
  }

  void on_written(net::Errc e) {
    std::shared_ptr<net::WebSocket> resume;
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (closed_) {
        return;
      }
      if (e != net::Errc::kOk) {
        // The connection is gone (on_close follows) or refused the write.
        close_locked();
        return;
      }
      queue_.pop();
      if (!queue_.empty()) {
        write_locked();
      }
      if (paused_ && queue_.size() <= srv_->options.limits.pause_reading_at / 2) {
        paused_ = false;
        resume = ws_;
      }
    }
    if (resume) {
      resume->resume();
    }
  }

  // A client that does not take what it is sent: dropped at once (a close
  // handshake would wait on the same client), counted once.
  void drop_slow() {
    std::shared_ptr<net::WebSocket> ws;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return;
      }
      ws = ws_;
      close_locked();
    }
    srv_->slow_clients.fetch_add(1, std::memory_order_relaxed);
    if (ws) {
      ws->abort();
    }
  }

  void close_locked() {
    if (closed_) {
      return;
    }
    closed_ = true;
    queue_.clear();
    if (table_) {
      table_ = false;
      srv_->sampler.want_table(false);
    }
    ws_.reset();  // the handle holds the connection, which holds this session
  }

  std::shared_ptr<Server::Impl> srv_;
  const Access access_;
  std::atomic<bool> counted_{false};
  mutable std::mutex mu_;
  std::shared_ptr<net::WebSocket> ws_;
  SendQueue queue_;
  Shell shell_;
  SteadyClock::time_point write_started_;
  bool table_ = false;
  bool closed_ = false;
  bool writing_ = false;
  bool paused_ = false;
  std::atomic<bool> tracing_{false};
  std::atomic<bool> trace_cancel_{false};
  nlohmann::json trace_id_;
};

void Server::Impl::handle(Endpoint ep, const std::shared_ptr<net::Exchange>& ex) {
  const net::Request& req = ex->request();
  RequestHeaders headers = headers_of(req);
  if (req.websocket) {
    Verdict v = policy->check(headers);
    if (v.access == Access::kNone) {
      forbidden.fetch_add(1, std::memory_order_relaxed);
      refuse(*ex, v);
      return;
    }
    if (ep != Endpoint::kWs) {
      respond_text(*ex, 404, "no WebSocket at " + req.target.substr(0, 200) + " (use /ws)");
      return;
    }
    ex->upgrade(std::make_shared<Session>(shared_from_this(), v.access));
    return;
  }
  Verdict site = policy->check_site(headers);
  if (site.access == Access::kNone) {
    forbidden.fetch_add(1, std::memory_order_relaxed);
    refuse(*ex, site);
    return;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    respond_text(*ex, 405, "method " + req.method.substr(0, 40) + " not allowed (GET or HEAD)",
                 {{"Allow", "GET, HEAD"}});
    return;
  }
  const std::string& path = req.path;
  if (path.empty() || path[0] != '/') {
    respond_text(*ex, 400, "bad request target '" + req.target.substr(0, 200) + "'");
    return;
  }
  if (ep != Endpoint::kFiles) {
    Verdict v = policy->check(headers);
    if (v.access == Access::kNone) {
      forbidden.fetch_add(1, std::memory_order_relaxed);
      refuse(*ex, v);
      return;
    }
    switch (ep) {
      case Endpoint::kMetrics: {
        std::shared_ptr<const Snapshot> s = sampler.latest();
        if (!s) {
          s = sampler.sample_now(false);
        }
        std::vector<NamedHistogram> hs;
        if (controller != nullptr) {
          hs = controller->histograms();
        }
        ex->respond(200, headers_for("text/plain; version=0.0.4; charset=utf-8"),
                    format_prometheus(*s, hs) + format_server_metrics(stats()));
        return;
      }
      case Endpoint::kHello:
        ex->respond(200, headers_for("application/json"), to_text(hello(v.access)));
        return;
      default:
        respond_text(*ex, 400, "/ws is a WebSocket endpoint: connect with Upgrade");
        return;
    }
  }
  const StaticFile* file = files.find(path);
  if (file == nullptr) {
    if (files.size() == 0) {
      respond_text(*ex, 404, no_files_reason);
    } else {
      respond_text(*ex, 404, "not found: " + path.substr(0, 200));
    }
    return;
  }
  ex->respond(200,
              headers_for(file->content_type,
                          file->immutable ? "public, max-age=31536000, immutable" : "no-store"),
              file->body);
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
  if (http) {
    net::ServerStats n = http->stats();
    s.connections = n.open_connections;
    s.refused_total = n.rejected_connections;
    s.accept_errors_total = n.accept_errors;
    s.timeouts_total = n.header_timeouts + n.idle_timeouts;
  }
  s.websockets = websockets.load(std::memory_order_relaxed);
  s.queued_bytes = queued.bytes.load(std::memory_order_relaxed);
  s.queued_messages = queued.messages.load(std::memory_order_relaxed);
  s.forbidden_total = forbidden.load(std::memory_order_relaxed);
  s.denied_commands_total = denied_commands.load(std::memory_order_relaxed);
  s.slow_clients_total = slow_clients.load(std::memory_order_relaxed);
  return s;
}

void Server::Impl::handle_command(Session& s, const std::string& text) {
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
    case CommandKind::kShellCancel: {
      json j = ok("shell_cancelled");
      j["cancelled"] = s.cancel_trace();
      s.send(j);
      return;
    }
    case CommandKind::kShell: {
      // A trace streams: it runs on a thread of its own.
      if (Result<std::vector<std::string>> w = split_shell_words(c.line);
          w && !w->empty() && (*w)[0] == "trace") {
        s.start_trace(c.id, c.line);
        return;
      }
      // The shell checks access itself: observation commands are open to
      // observers, send/exit/kill need control.
      ShellResult r = s.shell().execute(c.line, s.access());
      if (r.denied) {
        denied_commands.fetch_add(1, std::memory_order_relaxed);
      }
      json j = ok("shell_result");
      j["ok"] = r.ok;
      j["output"] = std::move(r.output);
      s.send(j);
      return;
    }
    case CommandKind::kObserveNode: {
      if (!options.observe_node) {
        s.send(
            error_message(c.id, "this node is in no cluster: there is no other node to observe"));
        return;
      }
      // The answer comes from another node, on another thread; the client
      // may be gone by then.
      options.observe_node(
          c.node, [w = s.weak_from_this(), id = c.id, name = c.node](Result<std::string> r) {
            std::shared_ptr<Session> session = w.lock();
            if (!session) {
              return;
            }
            if (!r) {
              session->send(error_message(id, r.error().message()));
              return;
            }
            json snapshot = json::parse(*r, nullptr, /*allow_exceptions=*/false);
            if (snapshot.is_discarded() || !snapshot.is_object()) {
              session->send(error_message(id, "node " + name +
                                                  " answered with something that is not "
                                                  "a snapshot"));
              return;
            }
            json j;
            j["type"] = "node_snapshot";
            j["id"] = id;
            j["node"] = name;
            j["snapshot"] = std::move(snapshot);
            session->send(j);
          });
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

void Server::Impl::add_session(std::weak_ptr<Session> s) {
  std::lock_guard lock(sessions_mu);
  std::erase_if(sessions, [](const std::weak_ptr<Session>& w) { return w.expired(); });
  sessions.push_back(std::move(s));
}

std::vector<std::shared_ptr<Session>> Server::Impl::live_sessions() {
  std::vector<std::shared_ptr<Session>> live;
  std::lock_guard lock(sessions_mu);
  std::erase_if(sessions, [](const std::weak_ptr<Session>& w) { return w.expired(); });
  for (auto& w : sessions) {
    if (auto s = w.lock()) {
      live.push_back(std::move(s));
    }
  }
  return live;
}

void Server::Impl::send_all(const std::shared_ptr<const std::string>& text, bool droppable) {
  for (auto& s : live_sessions()) {
    s->send(text, droppable);
  }
}

void Server::Impl::publish(const std::shared_ptr<const Snapshot>& snap, const json& bench) {
  std::shared_ptr<const std::string> plain, with_table;
  for (auto& s : live_sessions()) {
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

void Server::Impl::schedule_sweep() {
  auto interval = std::clamp<std::chrono::milliseconds>(options.limits.idle_timeout / 4,
                                                        std::chrono::milliseconds(50),
                                                        std::chrono::milliseconds(1000));
  sweep_timer->expires_after(interval);
  sweep_timer->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) {
      self->sweep();
    }
  });
}

void Server::Impl::sweep() {
  if (!ready.load(std::memory_order_acquire)) {
    return;  // stopping
  }
  auto now = SteadyClock::now();
  for (auto& s : live_sessions()) {
    s->check_stalled(now);
  }
  schedule_sweep();
}

Server::Server(otp::Node& node, Sampler& sampler, Controller* controller, ServerOptions options)
    : impl_(std::make_shared<Impl>(node, sampler, controller, std::move(options))) {}

Server::~Server() {
  stop();
}

Result<uint16_t> Server::start() {
  Impl& m = *impl_;
  if (m.started) {
    return m.http->ports().at(0);
  }
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

  m.io = m.options.io;
  if (m.io == nullptr) {
    own_io_ = std::make_unique<asio::io_context>(1);
    m.io = own_io_.get();
  }
  const ServerLimits& lim = m.options.limits;
  net::ServerOptions so;
  so.listen.push_back(net::Listen{m.options.host, m.options.port, false});
  so.limits.header_bytes = kMaxHeaderBytes;
  so.limits.body_bytes = kMaxBodyBytes;
  so.limits.header_timeout = lim.idle_timeout;
  so.limits.idle_timeout = lim.idle_timeout;
  so.limits.max_connections =
      static_cast<uint32_t>(std::min<size_t>(lim.max_connections, 1u << 30));
  so.limits.ws_message_bytes = kMaxWsMessageBytes;
  so.limits.deadline = std::chrono::milliseconds(0);  // every answer is immediate
  so.limits.shutdown_timeout = std::chrono::milliseconds(500);
  so.limits.refuse_with_503 = true;
  so.limits.shed_when_out_of_descriptors = true;
  so.metrics_path.clear();  // /metrics is ours, behind the access policy
  std::weak_ptr<Impl> weak = impl_;
  auto add = [&](std::string name, std::string pattern, bool prefix, net::RouteKind kind,
                 Endpoint ep) {
    net::Route r;
    r.name = std::move(name);
    r.pattern = std::move(pattern);
    r.prefix = prefix;
    r.kind = kind;
    r.handler = std::make_shared<RouteHandler>(weak, ep);
    r.deadline = std::chrono::milliseconds(0);
    r.max_in_flight = static_cast<int32_t>(std::min<size_t>(lim.max_connections, 1u << 30));
    so.routes.push_back(std::move(r));
  };
  add("dashboard /ws", "/ws", false, net::RouteKind::kWs, Endpoint::kWs);
  add("dashboard /metrics", "/metrics", false, net::RouteKind::kMetrics, Endpoint::kMetrics);
  add("dashboard /api/hello", "/api/hello", false, net::RouteKind::kHttp, Endpoint::kHello);
  add("dashboard files", "/", true, net::RouteKind::kStatic, Endpoint::kFiles);
  so.limits.max_in_flight = static_cast<uint32_t>(std::min<size_t>(lim.max_connections, 1u << 30));
  so.error_log = [](const std::string& line) {
    std::fprintf(stderr, "rusm observer: %s\n", line.c_str());
  };

  m.http = std::make_unique<net::Server>(*m.io, std::move(so));
  if (Status s = m.http->start(); !s) {
    std::string msg = s.message();
    if (msg.starts_with("listen ")) {
      msg = msg.substr(7);
    }
    m.http->stop();
    m.http.reset();
    own_io_.reset();
    return Error(msg);
  }
  uint16_t port = m.http->ports().at(0);
  Result<AccessPolicy> policy = AccessPolicy::make(m.options.host, port, m.options.access);
  if (!policy) {
    m.http->stop();
    if (own_io_) {
      own_io_->run_for(std::chrono::milliseconds(50));
    }
    m.http.reset();
    own_io_.reset();
    return policy.error();
  }
  m.policy.emplace(std::move(*policy));
  m.ready.store(true, std::memory_order_release);
  // On a strand of its own: the loop may have several threads.
  m.sweep_timer = std::make_unique<asio::steady_timer>(asio::make_strand(*m.io));
  asio::post(m.sweep_timer->get_executor(), [weak] {
    if (auto self = weak.lock()) {
      self->schedule_sweep();
    }
  });
  m.listener = m.sampler.add_listener([weak](std::shared_ptr<const Snapshot> snap) {
    auto self = weak.lock();
    if (!self) {
      return;
    }
    json bench = self->controller != nullptr ? self->controller->bench_state() : json(nullptr);
    // Encoding a snapshot (with its table) is not quick: not on the sampler.
    asio::post(*self->io, [weak, snap, bench = std::move(bench)] {
      if (auto s = weak.lock()) {
        s->publish(snap, bench);
      }
    });
  });
  if (own_io_) {
    thread_ = std::thread([io = own_io_.get()] {
      auto work = asio::make_work_guard(*io);
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception&) {
          // A handler threw (out of memory, a bug): keep serving the others.
        }
      }
    });
  }
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
  // Close frames first (1001), a moment for clients to take them, then drop
  // whatever is left; the net core closes connections on their strands, so
  // the loop keeps running until they are gone.
  for (auto& s : m.live_sessions()) {
    s->close_going_away();
  }
  auto settled = [&m] {
    net::ServerStats st = m.http->stats();
    return st.open_connections <= 0 && m.websockets.load() <= 0;
  };
  auto wait_until = [&](std::chrono::milliseconds limit, auto done) {
    auto end = SteadyClock::now() + limit;
    while (!done() && SteadyClock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  wait_until(std::chrono::milliseconds(150), settled);
  m.http->stop();
  wait_until(std::chrono::milliseconds(2000), settled);
  {
    // The sessions are closed: their traces see it within a take (200 ms).
    std::unique_lock<std::mutex> lock(m.traces_mu);
    m.traces_cv.wait(lock, [&m] { return m.traces == 0; });
  }
  m.ready.store(false, std::memory_order_release);
  asio::post(m.sweep_timer->get_executor(), [weak = std::weak_ptr<Impl>(impl_)] {
    if (auto self = weak.lock()) {
      self->sweep_timer->cancel();
    }
  });
  if (own_io_) {
    // Run what the cancellation queued, then stop the loop.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    own_io_->stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
}

void Server::broadcast(std::string text) {
  auto msg = std::make_shared<const std::string>(std::move(text));
  impl_->send_all(msg, false);
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
