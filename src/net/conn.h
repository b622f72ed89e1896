// The connection classes behind Exchange and WebSocket: the operations the
// public handles post onto a connection's strand. Private to src/net.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "net/internal.h"
#include "rusm/net/handler.h"

namespace rusm::net::detail {

// An HTTP connection, seen from its Exchange handles. Every x_* method runs
// on the strand; `seq` names the exchange the handle belongs to, so a stale
// handle (an exchange that ended) gets kBadState/kClosed, never another
// request's response.
class Conn : public Link {
 public:
  using Link::Link;
  virtual void x_read_body(uint64_t seq, Exchange::BodyCallback cb) = 0;
  virtual void x_start(uint64_t seq, int status, Headers h, std::optional<uint64_t> len,
                       bool events, Completion done) = 0;
  virtual void x_write(uint64_t seq, std::string data, Completion done) = 0;
  virtual void x_send_file(uint64_t seq, int fd, uint64_t off, uint64_t len, Completion done) = 0;
  virtual void x_finish(uint64_t seq, Completion done) = 0;
  virtual void x_fail(uint64_t seq, std::string reason) = 0;
  virtual void x_upgrade(uint64_t seq, std::shared_ptr<WebSocketHandler> h, bool fragments) = 0;
  virtual void x_on_cancel(uint64_t seq, std::function<void(Errc)> hook) = 0;

  std::atomic<uint64_t> ended_seq_{0};
};

// A WebSocket connection, seen from its WebSocket handle.
class WsConn : public Link {
 public:
  using Link::Link;
  enum Kind { kText, kBinary, kPing, kClose };
  virtual void w_send(Kind kind, std::string data, uint16_t code, Completion done) = 0;
  virtual void w_pause(bool paused) = 0;

  Request req_;  // immutable once the WebSocket is open
};

}  // namespace rusm::net::detail
