// The seam between the HTTP/WebSocket core and whatever answers requests:
// native C++ handlers (tests, static files, /metrics) and, later, sandboxed
// Wasm processes (one per request or per WebSocket connection).
//
// Threads. The server runs on an asio::io_context that its owner runs on one
// or more threads. Every connection has a strand; everything the core does
// for a connection, and every callback it makes into a handler, runs on that
// strand, one at a time. The handles below (Exchange, WebSocket) are shared
// (std::shared_ptr) and every method on them is thread-safe: called from
// another thread (a scheduler worker running a Wasm process), the call is
// posted onto the connection's strand; called on the strand, it runs inline.
// Completion callbacks are always invoked on the strand, never inline from
// the call that started the operation, so a handler may start the next
// operation from a completion without growing the stack. A completion is
// invoked exactly once, with Errc::kOk or the reason the operation could not
// complete (the peer closed, the deadline passed, the server shut down).
//
// Back-pressure. Nothing is read from a socket beyond a bounded buffer until
// the handler asks for it, and a write completes only once its bytes fit in
// the connection's bounded write buffer (Limits::write_buffer_bytes): a slow
// client delays the completion instead of making the node buffer without
// bound. A handle accepts a few operations ahead of their completions
// (kMaxQueuedOps); past that an operation completes with Errc::kBusy.
//
// Exceptions. A handler must not throw; if it does anyway (from handle() or a
// callback), the core catches it and treats it as fail().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rusm::net {

namespace detail {
class Conn;
class WsConn;
}  // namespace detail

// Why an operation did not complete.
enum class Errc : uint8_t {
  kOk = 0,
  kClosed,      // the connection is gone (peer closed or reset, write failed)
  kCancelled,   // the exchange was cancelled: deadline passed or server stopped
  kTooLarge,    // the request body or WebSocket message exceeds its limit
  kBusy,        // too many operations queued ahead of their completions
  kBadState,    // the call makes no sense now (write after finish, ...)
  kBadRequest,  // the request body is malformed (bad chunk encoding)
};
const char* errc_name(Errc e);

using Completion = std::function<void(Errc)>;
using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

// How many operations a handle accepts ahead of their completions.
inline constexpr int kMaxQueuedOps = 64;

// TLS facts about the connection a request arrived on.
struct TlsInfo {
  bool on = false;
  std::string version;         // "TLSv1.3"
  std::string cipher;          // "TLS_AES_256_GCM_SHA384"
  std::string alpn;            // "http/1.1", or empty if the client sent no ALPN
  std::string sni;             // server name the client asked for, or empty
  std::string client_subject;  // verified client certificate's subject, or empty
};

// A request's head. Immutable once the handler sees it, so it may be read
// from any thread while the Exchange is alive.
struct Request {
  std::string method;  // as received ("GET")
  std::string target;  // request-target as received ("/a/b?x=1")
  std::string path;    // target up to '?', still percent-encoded
  std::string query;   // after '?', without it; empty if none
  int version = 11;    // 10 or 11
  Headers headers;     // as received, in order; names keep their case
  // Route parameters ("/user/{id}" matched "/user/42" -> {"id", "42"}),
  // percent-decoded; a prefix route puts the rest of the path in "*".
  std::vector<std::pair<std::string, std::string>> params;
  std::string peer;   // "127.0.0.1:41234"
  std::string local;  // the address the client connected to: "127.0.0.1:8080"
  std::string route;  // name of the route that matched
  TlsInfo tls;
  std::optional<uint64_t> content_length;  // set if the body has a Content-Length
  bool chunked = false;                    // body is chunked (length unknown)
  bool websocket = false;                  // a valid WebSocket upgrade request

  // First header with this name (case-insensitive), or null.
  const std::string* header(std::string_view name) const;
  // Route parameter by name, or null.
  const std::string* param(std::string_view name) const;
  bool has_body() const { return chunked || (content_length && *content_length > 0); }
};

class WebSocket;

// Receives a WebSocket connection's events, on the connection's strand.
// After on_close no further callback is made.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // The handshake completed; `ws` is the handle to send with.
  virtual void on_open(std::shared_ptr<WebSocket> ws) = 0;
  // A whole message, or with Exchange::upgrade(h, /*fragments=*/true) the
  // next piece of one as it arrives (`last` marks the final piece); either
  // way a message never exceeds Limits::ws_message_bytes (the core closes
  // with 1009). Text is valid UTF-8 (the core closes
  // with 1007 otherwise).
  virtual void on_message(bool text, std::string data, bool last) = 0;
  // The connection ended: `code` is the close code the peer sent (1000, ...)
  // or the one the core sent (1001 on shutdown, 1002/1007/1009 on protocol
  // errors), 1006 if the connection dropped without a close frame.
  virtual void on_close(uint16_t code, std::string reason) = 0;
};

// A WebSocket connection after the upgrade. Thread-safe (see top).
class WebSocket {
 public:
  // Sends a message. Completes once it fits in the write buffer.
  void send(bool text, std::string data, Completion done = {});
  void send_text(std::string data, Completion done = {}) {
    send(true, std::move(data), std::move(done));
  }
  void send_binary(std::string data, Completion done = {}) {
    send(false, std::move(data), std::move(done));
  }
  void ping(std::string payload, Completion done = {});
  // Starts the close handshake (after messages already queued); on_close
  // follows when it completes or times out.
  void close(uint16_t code = 1000, std::string reason = {});
  // Drops the connection now, without a close handshake (for a peer that
  // stopped reading, whose close frame would never be taken): queued
  // messages are not sent (their completions get kClosed; their bytes are
  // freed with the last handle), and on_close(1006) follows. Idempotent.
  void abort();
  // Flow control: while paused, nothing more is read from the socket (the
  // peer's TCP window fills up). At most one message already being read may
  // still arrive after pause(). Pings are answered only while reading.
  void pause();
  void resume();
  const Request& request() const;

  explicit WebSocket(std::shared_ptr<detail::WsConn> c);

 private:
  std::shared_ptr<detail::WsConn> conn_;
};

// One request and its response. Created by the core, handed to
// Handler::handle. Thread-safe (see top). The exchange ends when the response
// is finished, fail() is called, the deadline passes, or the connection
// drops; the route's in-flight slot is held until then (for a WebSocket
// upgrade: until the WebSocket closes).
class Exchange {
 public:
  const Request& request() const { return req_; }

  // Request body, incrementally: calls `got` once with the next chunk (at
  // most Limits::body_chunk_bytes), or an empty chunk at the end of the body,
  // or an error (kTooLarge past Limits::body_bytes, kBadRequest for a
  // malformed chunked body, kClosed, kCancelled). Sends "100 Continue" first
  // if the client asked for it. One read at a time.
  using BodyCallback = std::function<void(Errc, std::string chunk)>;
  void read_body(BodyCallback got);

  // Response. start() sends the status line and headers: with Content-Length
  // if `content_length` is set, chunked otherwise (HTTP/1.0: close-delimited).
  // The core owns framing: Content-Length, Transfer-Encoding and Connection
  // headers given here are dropped, and a name or value with CR, LF or NUL
  // fails the exchange. For HEAD the core sends the headers and drops the body.
  void start(int status, Headers headers, std::optional<uint64_t> content_length,
             Completion done = {});
  // Appends body bytes; writes arriving while the socket is busy are sent
  // together in one write. Writing more than the declared length fails.
  void write(std::string data, Completion done = {});
  // Sends `length` bytes of the open file `fd` from `offset` (sendfile(2) on
  // plain TCP). The file stays owned by the caller until `done` runs.
  void send_file(int fd, uint64_t offset, uint64_t length, Completion done);
  // Ends the response (the chunked terminator if any). The connection then
  // serves its next request.
  void finish(Completion done = {});
  // start + write + finish, the common case.
  void respond(int status, Headers headers, std::string body);
  // Server-Sent Events: start(200) with text/event-stream and no caching;
  // then every write() is sent as soon as the socket takes it.
  void start_events(Headers extra = {}, Completion done = {});
  // The handler cannot answer: 500 with a short body if nothing was sent yet,
  // otherwise the connection is aborted. `reason` goes to the log, not the
  // client.
  void fail(std::string reason);
  // Accepts a WebSocket upgrade (only if request().websocket): completes the
  // handshake and hands the connection to `h` (on_open, or on_close(1006) if
  // the handshake fails). permessage-deflate is not supported (not offered).
  void upgrade(std::shared_ptr<WebSocketHandler> h, bool fragments = false);

  // The hook the core calls (once, on the strand) when it gives up on the
  // handler: the deadline passed (the client got 504 if nothing was sent),
  // the connection dropped, or the server stopped. For Wasm handlers it
  // kills the process. Set it from handle() before anything asynchronous.
  void on_cancel(std::function<void(Errc)> hook);
  bool ended() const;

  // Internal: created by the core.
  Exchange(std::shared_ptr<detail::Conn> conn, uint64_t seq);
  Request& mutable_request() { return req_; }
  uint64_t seq() const { return seq_; }
  // Internal: reuses this object for the connection's next request (only
  // when no one else holds it).
  void reset(uint64_t seq) { seq_ = seq; }

 private:
  friend class detail::Conn;
  std::shared_ptr<detail::Conn> conn_;
  uint64_t seq_;
  Request req_;
};

// Answers the requests of one route. Shared by all connections: handle() is
// called concurrently from different strands, so an implementation must be
// thread-safe. handle() must not block: start asynchronous work and return.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(std::shared_ptr<Exchange> ex) = 0;
};

}  // namespace rusm::net
