// Route kind ws (see routes.h): one sandboxed Wasm process per WebSocket
// connection. docs/abi.md "WebSocket handlers" is the guest's contract.
//
// The pieces, and the threads they run on:
//
//   - WsHandler (net::Handler): handle() runs on a connection's strand; it
//     accepts the upgrade and hands the connection to a fresh WsSession.
//   - WsSession (net::WebSocketHandler): on_open / on_message / on_close and
//     the exchange's cancel hook, all on the connection's strand. on_open
//     spawns the process with a WsResource under handle 1; each message
//     becomes a mailbox message with tag RUSM_TAG_WS_TEXT/BINARY, the close a
//     RUSM_TAG_WS_CLOSE message. The fields the process side reads too are
//     atomics or set before the spawn and never changed.
//   - WsResource (runtime::Resource + Suspension): the process's side, used
//     only by the worker running the process. ws_send returns at once while
//     the process is within the write-ahead bounds (routes.h), else suspends
//     on it until WebSocket::send completes (back-pressure from the
//     connection's bounded write buffer).
//
// Flow control. Every frame message carries a token (a host resource
// attached to the message) that is released when the message is freed: when
// the process receives its next message (the received one stays current
// until then), or when the message is dropped (the process died). The session
// counts frames and bytes delivered and not yet released; past kPauseFrames
// or kPauseBytes it pauses reading the socket (the peer's TCP window fills),
// and the release that brings both below half resumes it. So a process that
// never receives holds at most kPauseFrames frames (or kPauseBytes plus one
// message) and the node's memory stays bounded however fast the client
// sends.
//
// Lifetimes. The process ends -> the connection closes (1000 normal, 1001
// shutdown, 1011 otherwise; a crash is one error_log line). The connection
// ends -> the process gets the CLOSE message and has kCloseGrace to finish;
// then it is killed. The exchange is cancelled (server shutdown) -> the
// process is killed at once.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "rusm/otp/message.h"
#include "serve/routes.h"

namespace rusm::serve {

namespace {

using runtime::AbiError;
using runtime::Process;
using runtime::Resource;
using runtime::Suspension;
using runtime::Wait;

constexpr uint64_t kTagWsText = otp::kSystemTagBase + 0x20;
constexpr uint64_t kTagWsBinary = otp::kSystemTagBase + 0x21;
constexpr uint64_t kTagWsClose = otp::kSystemTagBase + 0x22;

// Flow control bounds (see the top of this file); resume below half.
constexpr uint32_t kPauseFrames = 64;
constexpr uint64_t kPauseBytes = uint64_t{1} << 20;
// How long a process may live on after its connection closed.
constexpr auto kCloseGrace = std::chrono::seconds(5);

// Shared by the session, the process's resource and the completions.
struct WsState {
  explicit WsState(std::shared_ptr<const RouteContext> c)
      : ctx(std::move(c)), node(&ctx->runtime->node()) {}
  std::shared_ptr<const RouteContext> ctx;  // the route's, shared by its connections
  otp::Node* node;
  std::shared_ptr<net::WebSocket> ws;  // set before the spawn, then constant

  void log(const std::string& line) const {
    if (ctx->error_log) {
      ctx->error_log("route \"" + ctx->route->name + "\": " + line);
    }
  }

  std::atomic<bool> closed{false};        // on_close ran, or the process called ws_close
  std::atomic<bool> process_gone{false};  // the process ended
  // Flow control.
  std::atomic<uint32_t> frames{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> paused{false};
  // The latest waited ws_send's completion: its sequence number, then its
  // result.
  std::atomic<uint64_t> send_done{0};
  std::atomic<uint8_t> send_errc{0};
  // Sends that did not wait (kWriteAheadOps): how many and how many bytes are
  // not taken by the connection yet, and the first error one of them got.
  std::atomic<int32_t> ahead_ops{0};
  std::atomic<int64_t> ahead_bytes{0};
  std::atomic<uint8_t> ahead_errc{0};

  // A frame message was freed (received past, or dropped). The counters
  // and `paused` are sequentially consistent: the session's pause and this
  // resume check each other's (a Dekker pattern).
  void released(uint64_t n) {
    uint32_t f = frames.fetch_sub(1) - 1;
    uint64_t b = bytes.fetch_sub(n) - n;
    if (f <= kPauseFrames / 2 && b <= kPauseBytes / 2 && paused.load() && paused.exchange(false)) {
      ws->resume();
    }
  }
};

// Attached to each frame message: released when the message is freed.
struct FrameToken {
  std::shared_ptr<WsState> state;
  uint64_t bytes;
  static void release(void* p) {
    auto* t = static_cast<FrameToken*>(p);
    t->state->released(t->bytes);
    delete t;
  }
};

int32_t abi_error(net::Errc e) {
  switch (e) {
    case net::Errc::kOk:
      return runtime::kOk;
    case net::Errc::kTooLarge:
      return runtime::kErrTooLarge;
    case net::Errc::kBusy:
      return runtime::kErrFull;
    case net::Errc::kBadState:
      return runtime::kErrBadState;
    default:
      return runtime::kErrClosed;
  }
}

// The connection as its process owns it (handle 1).
class WsResource final : public Resource, public Suspension {
 public:
  explicit WsResource(std::shared_ptr<WsState> s) : s_(std::move(s)) {}

  ~WsResource() override {
    // Normally on_process_exit ran first; this covers a resource destroyed
    // without it (a spawn that failed after taking it).
    if (!s_->process_gone.exchange(true)) {
      s_->ws->close(1011, "handler failed");
    }
  }

  void on_process_exit(const otp::ExitReason& reason) override {
    s_->process_gone.store(true);
    if (reason.is_normal()) {
      s_->ws->close(1000);
      return;
    }
    if (reason.kind() == otp::ExitKind::kShutdown) {
      s_->ws->close(1001, "server shutting down");
      return;
    }
    if (reason.kind() == otp::ExitKind::kError) {
      s_->log("WebSocket handler process " + reason.to_string() + " (connection closed with 1011)");
    }
    s_->ws->close(1011, "handler failed");
  }

  WsState& state() { return *s_; }

  // ws_send: sends; returns at once while within the write-ahead bounds
  // (routes.h), else suspends until the send completes.
  wasm::HostAction send(wasm::HostCall& c, Process& p, bool text, std::string data) {
    if (uint8_t e = s_->ahead_errc.load(std::memory_order_acquire); e != 0) {
      c.set_result_i32(0, static_cast<uint32_t>(abi_error(static_cast<net::Errc>(e))));
      return wasm::HostAction::kReturn;
    }
    const auto n = static_cast<int64_t>(data.size());
    if (s_->ahead_ops.load(std::memory_order_relaxed) < kWriteAheadOps &&
        s_->ahead_bytes.load(std::memory_order_relaxed) + n <= kWriteAheadBytes) {
      s_->ahead_ops.fetch_add(1, std::memory_order_relaxed);
      s_->ahead_bytes.fetch_add(n, std::memory_order_relaxed);
      s_->ws->send(text, std::move(data), [s = s_, n](net::Errc e) {
        if (e != net::Errc::kOk) {
          uint8_t none = 0;
          s->ahead_errc.compare_exchange_strong(none, static_cast<uint8_t>(e));
        }
        s->ahead_bytes.fetch_sub(n, std::memory_order_relaxed);
        s->ahead_ops.fetch_sub(1, std::memory_order_release);
      });
      c.set_result_i32(0, static_cast<uint32_t>(runtime::kOk));
      return wasm::HostAction::kReturn;
    }
    const uint64_t seq = ++send_seq_;
    otp::Pid pid = p.context().self();
    s_->ws->send(text, std::move(data), [s = s_, seq, pid](net::Errc e) {
      s->send_errc.store(static_cast<uint8_t>(e), std::memory_order_relaxed);
      s->send_done.store(seq, std::memory_order_release);
      s->node->wake(pid);
    });
    return p.suspend(this);
  }

  Wait wait(Process&) override { return Wait::event(); }

  Resumed resume(Process& p, otp::Context&) override {
    if (s_->send_done.load(std::memory_order_acquire) != send_seq_) {
      return Resumed::kWait;  // a stale wake
    }
    auto e = static_cast<net::Errc>(s_->send_errc.load(std::memory_order_relaxed));
    wasm::Value v = wasm::Value::i32(static_cast<uint32_t>(abi_error(e)));
    if (!p.execution().set_host_results({&v, 1})) {
      p.end(otp::ExitReason::error("ws_send: cannot set the call's result"));
      return Resumed::kEnd;
    }
    return Resumed::kContinue;
  }

 private:
  std::shared_ptr<WsState> s_;
  uint64_t send_seq_ = 0;
};

class WsSession final : public net::WebSocketHandler {
 public:
  explicit WsSession(std::shared_ptr<const RouteContext> ctx)
      : s_(std::make_shared<WsState>(std::move(ctx))) {}

  // The exchange's cancel hook (strand).
  void cancel() {
    cancelled_ = true;
    if (pid_) {
      s_->node->exit(pid_, otp::ExitReason::kill());
    }
  }

  void on_open(std::shared_ptr<net::WebSocket> ws) override {
    s_->ws = std::move(ws);
    if (cancelled_) {
      s_->ws->close(1001, "server shutting down");
      return;
    }
    const RouteContext& ctx = *s_->ctx;
    Result<otp::Spawned> p = ctx.runtime->spawn(ctx.spec, std::make_unique<WsResource>(s_));
    if (!p) {
      // The resource, destroyed with the failed spawn, closed with 1011.
      s_->log("cannot start the WebSocket handler: " + p.error().message());
      return;
    }
    pid_ = p->pid;
  }

  void on_message(bool text, std::string data, bool) override {
    if (!pid_ || s_->process_gone.load(std::memory_order_acquire)) {
      return;
    }
    const uint64_t n = data.size();
    otp::Message m = otp::Message::make(text ? kTagWsText : kTagWsBinary, data);
    uint32_t f = s_->frames.fetch_add(1) + 1;
    uint64_t b = s_->bytes.fetch_add(n) + n;
    m.attach(new FrameToken{s_, n}, &FrameToken::release);
    if (Status st = s_->node->send(pid_, std::move(m)); !st) {
      // Over the process's message budget or the node's: the frame is lost,
      // so the connection cannot go on.
      s_->log("WebSocket frame dropped: " + st.message());
      s_->ws->close(1011, "handler overloaded");
      return;
    }
    if ((f >= kPauseFrames || b >= kPauseBytes) && !s_->paused.load()) {
      s_->paused.store(true);
      s_->ws->pause();
      // The process may have drained everything between the counts above
      // and the flag: then no later release would resume.
      if (s_->frames.load() <= kPauseFrames / 2 && s_->bytes.load() <= kPauseBytes / 2 &&
          s_->paused.exchange(false)) {
        s_->ws->resume();
      }
    }
  }

  void on_close(uint16_t code, std::string reason) override {
    s_->closed.store(true, std::memory_order_release);
    if (!pid_ || s_->process_gone.load(std::memory_order_acquire)) {
      return;
    }
    std::string payload(2 + reason.size(), '\0');
    payload[0] = static_cast<char>(code & 0xff);
    payload[1] = static_cast<char>(code >> 8);
    std::memcpy(payload.data() + 2, reason.data(), reason.size());
    (void)s_->node->send(pid_, otp::Message::make(kTagWsClose, payload));
    // A process that outlives its connection by kCloseGrace is killed.
    auto timer = std::make_shared<boost::asio::steady_timer>(
        s_->ctx->runtime->event_loop().context(), kCloseGrace);
    // The timer holds the state weakly: it must not keep the connection
    // (and the server's shutdown) waiting for a process that already ended.
    timer->async_wait(
        [timer, pid = pid_, w = std::weak_ptr<WsState>(s_)](boost::system::error_code ec) {
          std::shared_ptr<WsState> s = w.lock();
          if (!ec && s && !s->process_gone.load()) {
            s->node->exit(pid, otp::ExitReason::kill());
          }
        });
  }

 private:
  std::shared_ptr<WsState> s_;
  otp::Pid pid_;
  bool cancelled_ = false;
};

class WsHandler final : public net::Handler {
 public:
  explicit WsHandler(const RouteContext& ctx) {
    auto c = std::make_shared<RouteContext>(ctx);
    c->spec.args = {static_cast<uint64_t>(runtime::ResourceTable::kFirstHandle)};
    ctx_ = std::move(c);
  }

  void handle(std::shared_ptr<net::Exchange> ex) override {
    if (!ex->request().websocket) {
      ex->respond(426, {{"Upgrade", "websocket"}, {"Content-Type", "text/plain"}},
                  "this route expects a WebSocket upgrade\n");
      return;
    }
    if (ex->request().has_body()) {
      // A client's error (RFC 6455 4.1: the handshake is a GET with no
      // body), not the handler's: 400, not a failure in the error log.
      ex->respond(400, {{"Content-Type", "text/plain"}},
                  "a WebSocket upgrade request has no body\n");
      return;
    }
    if (!origin_allowed(ex->request())) {
      // Cross-site WebSocket hijacking: a page elsewhere would act with the
      // user's cookies. Browsers always send Origin on a handshake.
      ex->respond(403, {{"Content-Type", "text/plain"}},
                  "this WebSocket does not accept pages from that origin "
                  "(the route's origins key lists those it does)\n");
      return;
    }
    auto session = std::make_shared<WsSession>(ctx_);
    ex->on_cancel([session](net::Errc) { session->cancel(); });
    ex->upgrade(session);
  }

 private:
  // No Origin (not a browser), the page's own origin (scheme and Host of
  // this request), or one the route lists.
  bool origin_allowed(const net::Request& r) const {
    const std::string* origin = r.header("Origin");
    if (origin == nullptr) {
      return true;
    }
    Result<std::string> o = net::normalize_origin(*origin);
    if (!o || *o == "*") {
      return false;  // "null" (sandboxed frames, files) and garbage
    }
    for (const std::string& allowed : ctx_->route->origins) {
      if (allowed == "*" || allowed == *o) {
        return true;
      }
    }
    const std::string* host = r.header("Host");
    if (host == nullptr) {
      return false;
    }
    Result<std::string> own = net::normalize_origin((r.tls.on ? "https://" : "http://") + *host);
    return own && *own == *o;
  }

  std::shared_ptr<const RouteContext> ctx_;
};

// ---- host functions (docs/abi.md "WebSocket handlers")

wasm::HostAction ret(wasm::HostCall& c, int32_t v) {
  c.set_result_i32(0, static_cast<uint32_t>(v));
  return wasm::HostAction::kReturn;
}

WsResource* resource(wasm::HostCall& c, Process& p) {
  return p.resources().get<WsResource>(static_cast<int32_t>(c.arg_i32(0)));
}

// ws_send(ws, text, ptr, len) -> i32
wasm::HostAction ws_send(wasm::HostCall& c) {
  Process& p = Process::of(c);
  WsResource* r = resource(c, p);
  if (r == nullptr) {
    return ret(c, runtime::kErrBadArg);
  }
  auto data = runtime::guest_bytes_charged(c, c.arg_i32(2), c.arg_i32(3));
  if (!data) {
    return ret(c, runtime::kErrBadArg);
  }
  if (r->state().closed.load(std::memory_order_acquire)) {
    return ret(c, runtime::kErrClosed);
  }
  return r->send(c, p, c.arg_i32(1) != 0, std::string(*data));
}

// ws_ping(ws, ptr, len) -> i32
wasm::HostAction ws_ping(wasm::HostCall& c) {
  Process& p = Process::of(c);
  WsResource* r = resource(c, p);
  if (r == nullptr) {
    return ret(c, runtime::kErrBadArg);
  }
  auto data = runtime::guest_bytes(c, c.arg_i32(1), c.arg_i32(2));
  if (!data || data->size() > 125) {
    return ret(c, runtime::kErrBadArg);
  }
  if (r->state().closed.load(std::memory_order_acquire)) {
    return ret(c, runtime::kErrClosed);
  }
  r->state().ws->ping(std::string(*data));
  return ret(c, runtime::kOk);
}

// A close code a guest may send (RFC 6455 7.4).
bool valid_close_code(uint32_t code) {
  if (code >= 3000 && code <= 4999) {
    return true;
  }
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

// ws_close(ws, code, reason_ptr, reason_len) -> i32
wasm::HostAction ws_close(wasm::HostCall& c) {
  Process& p = Process::of(c);
  WsResource* r = resource(c, p);
  if (r == nullptr) {
    return ret(c, runtime::kErrBadArg);
  }
  uint32_t code = c.arg_i32(1);
  auto reason = runtime::guest_bytes(c, c.arg_i32(2), c.arg_i32(3));
  if (!reason || reason->size() > 123 || !valid_close_code(code)) {
    return ret(c, runtime::kErrBadArg);
  }
  if (r->state().closed.exchange(true)) {
    return ret(c, runtime::kErrClosed);
  }
  r->state().ws->close(static_cast<uint16_t>(code), std::string(*reason));
  return ret(c, runtime::kOk);
}

// ws_path(ws, buf, cap) / ws_query(ws, buf, cap) -> i32 length
template <bool kQuery>
wasm::HostAction ws_target_part(wasm::HostCall& c) {
  Process& p = Process::of(c);
  WsResource* r = resource(c, p);
  if (r == nullptr) {
    return ret(c, runtime::kErrBadArg);
  }
  const net::Request& req = r->state().ws->request();
  return ret(c,
             runtime::guest_copy_out(c, c.arg_i32(1), c.arg_i32(2), kQuery ? req.query : req.path));
}

// ws_header(ws, name_ptr, name_len, buf, cap) / ws_param(...) -> i32 length
template <bool kParam>
wasm::HostAction ws_lookup(wasm::HostCall& c) {
  Process& p = Process::of(c);
  WsResource* r = resource(c, p);
  if (r == nullptr) {
    return ret(c, runtime::kErrBadArg);
  }
  auto name = runtime::guest_bytes(c, c.arg_i32(1), c.arg_i32(2));
  if (!name) {
    return ret(c, runtime::kErrBadArg);
  }
  const net::Request& req = r->state().ws->request();
  const std::string* v = kParam ? req.param(*name) : req.header(*name);
  if (v == nullptr) {
    return ret(c, runtime::kErrNotFound);
  }
  return ret(c, runtime::guest_copy_out(c, c.arg_i32(3), c.arg_i32(4), *v));
}

}  // namespace

Status add_ws_functions(runtime::Runtime& rt) {
  const HostFn fns[] = {
      {"ws_send", ws_send},
      {"ws_ping", ws_ping},
      {"ws_close", ws_close},
      {"ws_path", ws_target_part<false>},
      {"ws_query", ws_target_part<true>},
      {"ws_header", ws_lookup<false>},
      {"ws_param", ws_lookup<true>},
  };
  return add_rusm_functions(rt, fns);
}

Result<std::shared_ptr<net::Handler>> make_ws_handler(const RouteContext& ctx) {
  if (ctx.runtime == nullptr || ctx.route == nullptr) {
    return Error("route kind 'ws': no runtime or route");
  }
  return std::shared_ptr<net::Handler>(std::make_shared<WsHandler>(ctx));
}

}  // namespace rusm::serve
