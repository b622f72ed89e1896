// A WebSocket connection after the upgrade: Beast's websocket::stream (which
// checks masking, UTF-8 and message size and answers pings and the close
// handshake) driven by a read loop the handler can pause, and a bounded send
// queue. Private to src/net; instantiated by http_conn.cc.
#pragma once

#include <deque>
#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "net/conn.h"
#include "net/internal.h"

namespace rusm::net::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

// Close code for the error that ended a read.
inline uint16_t ws_close_code(const beast::error_code& ec) {
  using E = websocket::error;
  if (ec == E::message_too_big || ec == E::buffer_overflow) {
    return 1009;
  }
  if (ec == E::bad_frame_payload) {
    return 1007;
  }
  if (ec == websocket::condition::protocol_violation) {
    return 1002;
  }
  return 1006;
}

template <class Stream>
class WsConnImpl final : public WsConn {
 public:
  WsConnImpl(std::shared_ptr<Server::Core> core, Stream&& s, RouteEntry* route,
             std::shared_ptr<WebSocketHandler> h, bool fragments)
      : WsConn(Strand(*s.get_executor().template target<Strand>())),
        core_(std::move(core)),
        ws_(std::move(s)),
        route_(route),
        h_(std::move(h)),
        fragments_(fragments),
        limits_(core_->opt.limits) {}

  ~WsConnImpl() override {
    core_->remove_link(this);
    note(-int64_t(q_bytes_));
  }

  void start(beast::http::request<beast::http::empty_body> req) {
    core_->add_link(this);
    core_->websockets.fetch_add(1, std::memory_order_relaxed);
    req_up_ = std::move(req);
    websocket::stream_base::timeout t;
    t.handshake_timeout = limits_.header_timeout;
    t.idle_timeout = limits_.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& r) { r.set(beast::http::field::server, "rusm"); }));
    ws_.read_message_max(limits_.ws_message_bytes);
    ws_.auto_fragment(false);
    auto self = std::static_pointer_cast<WsConnImpl>(shared_from_this());
    ws_.async_accept(req_up_, [self](beast::error_code ec) { self->on_accept(ec); });
  }

  void expired(Slot, int64_t) override {}
  void drain() override { w_send(kClose, "server shutting down", 1001, {}); }
  void abort_now() override {
    if (finished_) {
      return;
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).close(ec);
    finish(1006, "aborted");
  }

  void w_send(Kind kind, std::string data, uint16_t code, Completion done) override {
    if (finished_ || close_queued_ || !open_) {
      post_done(std::move(done), finished_ || close_queued_ ? Errc::kClosed : Errc::kBadState);
      return;
    }
    size_t deferred = 0;
    for (const Op& op : q_) {
      deferred += op.done ? 1 : 0;
    }
    if (deferred >= size_t(kMaxQueuedOps)) {
      post_done(std::move(done), Errc::kBusy);
      return;
    }
    if (kind == kClose) {
      close_queued_ = true;
      if (data.size() > 123) {
        data.resize(123);  // a close frame's reason fits in 123 bytes
      }
    }
    if (kind == kPing && data.size() > 125) {
      post_done(std::move(done), Errc::kTooLarge);
      return;
    }
    Op op{kind, std::move(data), code, std::move(done)};
    bool accept = q_bytes_ < limits_.write_buffer_bytes && q_.size() < 256;
    q_bytes_ += op.data.size();
    note(int64_t(op.data.size()));
    if (accept) {
      post_done(std::move(op.done), Errc::kOk);
      op.done = nullptr;
    }
    q_.push_back(std::move(op));
    write_next();
  }

  void w_pause(bool paused) override {
    paused_ = paused;
    if (!paused_) {
      read_next();
    }
  }

 private:
  struct Op {
    Kind kind;
    std::string data;
    uint16_t code;
    Completion done;
  };

  std::shared_ptr<WsConnImpl> self() {
    return std::static_pointer_cast<WsConnImpl>(shared_from_this());
  }

  void post_done(Completion done, Errc e) {
    if (!done) {
      return;
    }
    asio::post(strand_, [done = std::move(done), e] {
      try {
        done(e);
      } catch (...) {
      }
    });
  }

  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      core_->log_error(std::string("net: WebSocket handler threw: ") + e.what());
      w_send(kClose, "internal error", 1011, {});
    } catch (...) {
      core_->log_error("net: WebSocket handler threw");
      w_send(kClose, "internal error", 1011, {});
    }
  }

  void note(int64_t delta) {
    if (delta != 0) {
      core_->note_buffered(delta, int64_t(q_bytes_));
    }
  }

  void on_accept(beast::error_code ec) {
    if (ec) {
      finish(1006, "handshake failed: " + ec.message());
      return;
    }
    open_ = true;
    auto ws = std::make_shared<WebSocket>(std::static_pointer_cast<WsConn>(shared_from_this()));
    guarded([&] { h_->on_open(ws); });
    if (core_->draining.load(std::memory_order_relaxed)) {
      drain();
    }
    read_next();
  }

  void read_next() {
    if (reading_ || paused_ || finished_ || !open_) {
      return;
    }
    reading_ = true;
    auto cb = [self = self()](beast::error_code ec, size_t) { self->on_read(ec); };
    if (fragments_) {
      ws_.async_read_some(rbuf_, limits_.body_chunk_bytes, std::move(cb));
    } else {
      ws_.async_read(rbuf_, std::move(cb));
    }
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (finished_) {
      return;
    }
    if (ec) {
      count_timeout(ec);
      if (ec == websocket::error::closed) {
        auto r = ws_.reason();
        finish(r.code == websocket::close_code::none ? 1005 : uint16_t(r.code),
               std::string(r.reason.data(), r.reason.size()));
      } else if (our_close_) {
        // Our close is under way: the read ends with the handshake (Beast
        // aborts it rather than report the peer's echo); the process hears
        // its own code (docs/abi.md, WS_CLOSE).
        finish(*our_close_, our_close_reason_);
      } else {
        finish(ws_close_code(ec), ec.message());
      }
      return;
    }
    bool text = ws_.got_text();
    bool last = ws_.is_message_done();
    std::string data = beast::buffers_to_string(rbuf_.data());
    rbuf_.consume(rbuf_.size());
    guarded([&] { h_->on_message(text, std::move(data), last); });
    read_next();
  }

  void write_next() {
    if (writing_ || q_.empty() || finished_) {
      return;
    }
    writing_ = true;
    Op& op = q_.front();
    auto cb = [self = self()](beast::error_code ec, size_t = 0) { self->on_write(ec); };
    switch (op.kind) {
      case kText:
      case kBinary:
        ws_.text(op.kind == kText);
        ws_.async_write(asio::buffer(op.data), cb);
        break;
      case kPing:
        ws_.async_ping(websocket::ping_data(op.data.data(), op.data.size()),
                       [cb](beast::error_code ec) { cb(ec); });
        break;
      case kClose:
        our_close_ = op.code;
        our_close_reason_ = op.data;
        ws_.async_close(websocket::close_reason(websocket::close_code(op.code), op.data),
                        [cb](beast::error_code ec) { cb(ec); });
        break;
    }
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (!q_.empty()) {
      Op& op = q_.front();
      bool was_close = op.kind == kClose;
      uint16_t code = op.code;
      std::string reason = was_close ? op.data : std::string();
      q_bytes_ -= op.data.size();
      note(-int64_t(op.data.size()));
      post_done(std::move(op.done), ec ? Errc::kClosed : Errc::kOk);
      q_.pop_front();
      if (was_close && !finished_ && !reading_) {
        // Our close completed the handshake (Beast read the peer's close).
        finish(code, reason);
        return;
      }
    }
    if (ec) {
      count_timeout(ec);
      if (!reading_) {
        finish(1006, ec.message());
      }
      return;
    }
    // Completions deferred by the high-water mark, now that bytes drained.
    size_t ahead = 0, i = 0;
    for (Op& op : q_) {
      if (ahead >= limits_.write_buffer_bytes || i >= 256) {
        break;
      }
      if (op.done) {
        post_done(std::move(op.done), Errc::kOk);
        op.done = nullptr;
      }
      ahead += op.data.size();
      ++i;
    }
    write_next();
  }

  // The stream's idle timeout (no data and no answer to its ping for
  // Limits::idle_timeout) ended the connection: counted once, as for HTTP.
  void count_timeout(const beast::error_code& ec) {
    if (ec == beast::error::timeout && !timeout_counted_) {
      timeout_counted_ = true;
      core_->idle_timeouts.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void finish(uint16_t code, std::string reason) {
    if (finished_) {
      return;
    }
    finished_ = true;
    for (Op& op : q_) {
      post_done(std::move(op.done), Errc::kClosed);
    }
    if (route_) {
      core_->release(*route_);
      route_ = nullptr;
    }
    core_->websockets.fetch_sub(1, std::memory_order_relaxed);
    core_->open_connections.fetch_sub(1, std::memory_order_relaxed);
    auto h = std::move(h_);
    if (h) {
      try {
        h->on_close(code, std::move(reason));
      } catch (...) {
        core_->log_error("net: WebSocket handler threw in on_close");
      }
    }
    beast::error_code ignored;
    if (!writing_ && !reading_) {
      beast::get_lowest_layer(ws_).close(ignored);
    }
  }

  std::shared_ptr<Server::Core> core_;
  websocket::stream<Stream> ws_;
  RouteEntry* route_;
  std::shared_ptr<WebSocketHandler> h_;
  bool fragments_;
  const Limits& limits_;
  beast::http::request<beast::http::empty_body> req_up_;
  beast::flat_buffer rbuf_;
  bool open_ = false, reading_ = false, writing_ = false, paused_ = false;
  bool finished_ = false, close_queued_ = false, timeout_counted_ = false;
  std::optional<uint16_t> our_close_;  // the code of the close we sent, once sent
  std::string our_close_reason_;
  std::deque<Op> q_;
  size_t q_bytes_ = 0;
};

template <class Stream>
void start_websocket(std::shared_ptr<Server::Core> core, Stream&& s, RouteEntry* route,
                     Request request, beast::http::request<beast::http::empty_body> up,
                     std::shared_ptr<WebSocketHandler> h, bool fragments) {
  auto c = std::make_shared<WsConnImpl<Stream>>(std::move(core), std::move(s), route, std::move(h),
                                                fragments);
  c->req_ = std::move(request);
  c->start(std::move(up));
}

}  // namespace rusm::net::detail
