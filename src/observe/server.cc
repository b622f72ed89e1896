#include "observe/server.h"

#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace rusm::observe {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

class WsSession;

constexpr size_t kMaxQueuedSnapshots = 16;  // a slow client skips snapshots, never replies

const char* content_type(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".html")
    return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs")
    return "text/javascript; charset=utf-8";
  if (ext == ".css")
    return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map")
    return "application/json";
  if (ext == ".svg")
    return "image/svg+xml";
  if (ext == ".png")
    return "image/png";
  if (ext == ".ico")
    return "image/x-icon";
  if (ext == ".woff2")
    return "font/woff2";
  return "application/octet-stream";
}

}  // namespace

struct Server::Impl {
  Impl(otp::Node& n, Sampler& s, Controller* c, ServerOptions o)
      : node(n), sampler(s), controller(c), options(std::move(o)) {}

  otp::Node& node;
  Sampler& sampler;
  Controller* controller;
  ServerOptions options;
  net::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  uint64_t listener = 0;
  bool started = false;
  // I/O thread only.
  std::vector<std::weak_ptr<WsSession>> sessions;

  void do_accept();
  json hello();
  http::response<http::string_body> handle(const http::request<http::string_body>& req);
  void handle_command(WsSession& s, const std::string& text);
  void publish(std::shared_ptr<const Snapshot> snap, json bench);
  void send_all(std::shared_ptr<const std::string> text, bool droppable);
};

namespace {

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, Server::Impl* srv) : ws_(std::move(socket)), srv_(srv) {}

  void accept(http::request<http::string_body> req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(1 << 20);
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

  void send(const json& j) { send(std::make_shared<const std::string>(j.dump()), false); }

  void send(std::shared_ptr<const std::string> text, bool droppable) {
    if (closed_ || (droppable && queue_.size() >= kMaxQueuedSnapshots)) {
      return;
    }
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) {
      do_write();
    }
  }

  void set_table(bool on) {
    if (on != table_ && !closed_) {
      table_ = on;
      srv_->sampler.want_table(on);
    }
  }
  bool table() const { return table_; }

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
      return;
    }
    srv_->sessions.push_back(weak_from_this());
    send(srv_->hello());
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
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
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) {
      closed();
      return;
    }
    queue_.pop_front();
    if (!queue_.empty()) {
      do_write();
    }
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
  beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool table_ = false;
  bool closed_ = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, Server::Impl* srv) : stream_(std::move(socket)), srv_(srv) {}

  void run() { do_read(); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec) {
      // A malformed request: say why, then close.
      http::response<http::string_body> res{http::status::bad_request, 11};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "bad request: " + ec.message() + "\n";
      res.keep_alive(false);
      res.prepare_payload();
      write(std::move(res));
      return;
    }
    http::request<http::string_body> req = parser_->release();
    if (websocket::is_upgrade(req)) {
      std::string_view target(req.target().data(), req.target().size());
      if (target.substr(0, target.find('?')) != "/ws") {
        http::response<http::string_body> res{http::status::not_found, req.version()};
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "no WebSocket at " + std::string(target.substr(0, 200)) + " (use /ws)\n";
        res.keep_alive(false);
        res.prepare_payload();
        write(std::move(res));
        return;
      }
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), srv_)->accept(std::move(req));
      return;
    }
    write(srv_->handle(req));
  }

  void write(http::response<http::string_body> res) {
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
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
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void Server::Impl::do_accept() {
  acceptor->async_accept(
      net::make_strand(ioc), [self = this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !self->acceptor || !self->acceptor->is_open()) {
          return;
        }
        if (!ec) {
          std::make_shared<HttpSession>(std::move(socket), self)->run();
        }
        self->do_accept();
      });
}

json Server::Impl::hello() {
  json j;
  j["type"] = "hello";
  j["version"] = kProtocolVersion;
  j["node"] = {{"workers", node.workers()},
               {"cores", std::thread::hardware_concurrency()},
               {"pid", static_cast<int64_t>(::getpid())}};
  j["scenarios"] = controller != nullptr ? controller->scenarios() : json::array();
  j["bench"] = controller != nullptr ? controller->bench_state() : json(nullptr);
  return j;
}

http::response<http::string_body> Server::Impl::handle(
    const http::request<http::string_body>& req) {
  auto reply = [&](http::status status, std::string type, std::string body) {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, "rusm");
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = req.method() == http::verb::head ? std::string() : std::move(body);
    res.prepare_payload();
    return res;
  };
  auto text = [&](http::status status, std::string body) {
    return reply(status, "text/plain; charset=utf-8", std::move(body) + "\n");
  };
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text(http::status::method_not_allowed,
                    "method " + std::string(req.method_string()) + " not allowed (GET or HEAD)");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  std::string target(req.target());
  std::string path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path[0] != '/') {
    return text(http::status::bad_request, "bad request target '" + target.substr(0, 200) + "'");
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
                 format_prometheus(*s, hs));
  }
  if (path == "/api/hello") {
    return reply(http::status::ok, "application/json", hello().dump(2));
  }
  if (path == "/ws") {
    return text(http::status::bad_request, "/ws is a WebSocket endpoint: connect with Upgrade");
  }
  if (path.find("..") != std::string::npos || path.find('\\') != std::string::npos ||
      path.find('\0') != std::string::npos) {
    return text(http::status::bad_request, "bad path '" + path.substr(0, 200) + "'");
  }
  if (options.assets_dir.empty()) {
    return text(http::status::not_found,
                "no dashboard assets: build them (npm run build in dashboard/) and pass --assets");
  }
  namespace fs = std::filesystem;
  fs::path file = fs::path(options.assets_dir) / (path == "/" ? "index.html" : path.substr(1));
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    file /= "index.html";
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return text(http::status::not_found, "not found: " + path.substr(0, 200));
  }
  std::ostringstream body;
  body << in.rdbuf();
  auto res = reply(http::status::ok, content_type(file), body.str());
  // Vite fingerprints everything under assets/; the rest may change.
  if (path.rfind("/assets/", 0) == 0) {
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
      text = std::make_shared<const std::string>(j.dump());
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
  m.do_accept();
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
}

void Server::broadcast(std::string text) {
  auto msg = std::make_shared<const std::string>(std::move(text));
  net::post(impl_->ioc, [self = impl_.get(), msg] { self->send_all(msg, false); });
}

}  // namespace rusm::observe
