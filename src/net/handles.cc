// The public handles (Exchange, WebSocket): each call is posted onto the
// connection's strand (run inline if already on it) and forwarded to the
// connection, which checks that the handle is still current.
#include <strings.h>

#include "net/conn.h"

namespace rusm::net {

using detail::asio::dispatch;

const char* errc_name(Errc e) {
  switch (e) {
    case Errc::kOk:
      return "ok";
    case Errc::kClosed:
      return "connection closed";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kTooLarge:
      return "too large";
    case Errc::kBusy:
      return "too many queued operations";
    case Errc::kBadState:
      return "not allowed in this state";
    case Errc::kBadRequest:
      return "malformed request body";
  }
  return "?";
}

const char* route_kind_name(RouteKind k) {
  switch (k) {
    case RouteKind::kHttp:
      return "http";
    case RouteKind::kCgi:
      return "cgi";
    case RouteKind::kWs:
      return "ws";
    case RouteKind::kSse:
      return "sse";
    case RouteKind::kStatic:
      return "static";
    case RouteKind::kMetrics:
      return "metrics";
  }
  return "?";
}

const std::string* Request::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.first.size() == name.size() &&
        strncasecmp(h.first.data(), name.data(), name.size()) == 0) {
      return &h.second;
    }
  }
  return nullptr;
}

const std::string* Request::param(std::string_view name) const {
  for (const auto& p : params) {
    if (p.first == name) {
      return &p.second;
    }
  }
  return nullptr;
}

Exchange::Exchange(std::shared_ptr<detail::Conn> conn, uint64_t seq)
    : conn_(std::move(conn)), seq_(seq) {}

bool Exchange::ended() const {
  return conn_->ended_seq_.load(std::memory_order_acquire) >= seq_;
}

void Exchange::read_body(BodyCallback got) {
  dispatch(conn_->strand_, [c = conn_, s = seq_, got = std::move(got)]() mutable {
    c->x_read_body(s, std::move(got));
  });
}

void Exchange::start(int status, Headers headers, std::optional<uint64_t> content_length,
                     Completion done) {
  dispatch(conn_->strand_, [c = conn_, s = seq_, status, h = std::move(headers), content_length,
                            done = std::move(done)]() mutable {
    c->x_start(s, status, std::move(h), content_length, false, std::move(done));
  });
}

void Exchange::start_events(Headers extra, Completion done) {
  dispatch(conn_->strand_,
           [c = conn_, s = seq_, h = std::move(extra), done = std::move(done)]() mutable {
             c->x_start(s, 200, std::move(h), std::nullopt, true, std::move(done));
           });
}

void Exchange::write(std::string data, Completion done) {
  dispatch(conn_->strand_,
           [c = conn_, s = seq_, d = std::move(data), done = std::move(done)]() mutable {
             c->x_write(s, std::move(d), std::move(done));
           });
}

void Exchange::send_file(int fd, uint64_t offset, uint64_t length, Completion done) {
  dispatch(conn_->strand_,
           [c = conn_, s = seq_, fd, offset, length, done = std::move(done)]() mutable {
             c->x_send_file(s, fd, offset, length, std::move(done));
           });
}

void Exchange::finish(Completion done) {
  dispatch(conn_->strand_, [c = conn_, s = seq_, done = std::move(done)]() mutable {
    c->x_finish(s, std::move(done));
  });
}

void Exchange::respond(int status, Headers headers, std::string body) {
  dispatch(conn_->strand_,
           [c = conn_, s = seq_, status, h = std::move(headers), b = std::move(body)]() mutable {
             uint64_t n = b.size();
             c->x_start(s, status, std::move(h), n, false, {});
             c->x_write(s, std::move(b), {});
             c->x_finish(s, {});
           });
}

void Exchange::fail(std::string reason) {
  dispatch(conn_->strand_,
           [c = conn_, s = seq_, r = std::move(reason)]() mutable { c->x_fail(s, std::move(r)); });
}

void Exchange::upgrade(std::shared_ptr<WebSocketHandler> h, bool fragments) {
  dispatch(conn_->strand_, [c = conn_, s = seq_, h = std::move(h), fragments]() mutable {
    c->x_upgrade(s, std::move(h), fragments);
  });
}

void Exchange::on_cancel(std::function<void(Errc)> hook) {
  dispatch(conn_->strand_, [c = conn_, s = seq_, hook = std::move(hook)]() mutable {
    c->x_on_cancel(s, std::move(hook));
  });
}

WebSocket::WebSocket(std::shared_ptr<detail::WsConn> c) : conn_(std::move(c)) {}

const Request& WebSocket::request() const {
  return conn_->req_;
}

void WebSocket::send(bool text, std::string data, Completion done) {
  dispatch(conn_->strand_,
           [c = conn_, text, d = std::move(data), done = std::move(done)]() mutable {
             c->w_send(text ? detail::WsConn::kText : detail::WsConn::kBinary, std::move(d), 0,
                       std::move(done));
           });
}

void WebSocket::ping(std::string payload, Completion done) {
  dispatch(conn_->strand_, [c = conn_, d = std::move(payload), done = std::move(done)]() mutable {
    c->w_send(detail::WsConn::kPing, std::move(d), 0, std::move(done));
  });
}

void WebSocket::close(uint16_t code, std::string reason) {
  dispatch(conn_->strand_, [c = conn_, code, r = std::move(reason)]() mutable {
    c->w_send(detail::WsConn::kClose, std::move(r), code, {});
  });
}

void WebSocket::abort() {
  dispatch(conn_->strand_, [c = conn_] { c->abort_now(); });
}

void WebSocket::pause() {
  dispatch(conn_->strand_, [c = conn_] { c->w_pause(true); });
}

void WebSocket::resume() {
  dispatch(conn_->strand_, [c = conn_] { c->w_pause(false); });
}

}  // namespace rusm::net
