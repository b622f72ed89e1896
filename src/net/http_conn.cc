// One HTTP/1.1 connection (plain TCP or TLS): Beast's request parser over a
// reused read buffer, the exchange state machine, the write buffer with
// back-pressure, and the hand-over to a WebSocket.
//
// Hot path (keep-alive requests to a native handler): one read, one parse,
// one handler call, the response serialized into a reused buffer and one
// write; guarded by the wrk comparison in docs/serve.md.
//
// State machine (strand only):
//   kHandshake -> kHead -> kExchange -> (kDrain ->) kHead ... -> kClosing -> kClosed
//                                    \-> kUpgraded (socket moved to a WebSocket)
// A connection never reads ahead of what the current state needs: the head
// (bounded by header_bytes), the body only when the handler asks, and, while
// a handler runs after its body, at most one read-buffer of the next request
// (to notice a peer that resets the connection).
#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <deque>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "net/conn.h"
#include "net/internal.h"
#include "net/ws_conn.h"

namespace rusm::net {
namespace detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using SslStream = asio::ssl::stream<tcp::socket>;

namespace {

// "Tue, 15 Nov 1994 08:12:31 GMT", cached per thread per second.
std::string_view http_date() {
  thread_local char buf[40];
  thread_local time_t last = 0;
  thread_local size_t len = 0;
  time_t t = time(nullptr);
  if (t != last) {
    struct tm tm;
    gmtime_r(&t, &tm);
    len = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = t;
  }
  return {buf, len};
}

// An absolute-form request-target ("http://host:8080/a?b", RFC 9112
// 3.2.2), which a server must accept: its authority and its origin form
// ("/a?b", or "/" when the path is empty). Nothing for any other form.
struct AbsoluteForm {
  std::string_view authority;
  std::string origin;
};
std::optional<AbsoluteForm> absolute_form(std::string_view t) {
  size_t scheme = t.find("://");
  if (scheme == std::string_view::npos || scheme == 0 || scheme > 5) {
    return std::nullopt;
  }
  std::string s(t.substr(0, scheme));
  for (char& c : s) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  if (s != "http" && s != "https") {
    return std::nullopt;
  }
  std::string_view rest = t.substr(scheme + 3);
  size_t end = rest.find_first_of("/?");
  AbsoluteForm a;
  a.authority = rest.substr(0, end);
  if (a.authority.empty() || a.authority.find('@') != std::string_view::npos) {
    return std::nullopt;  // no host, or userinfo (deprecated; refused)
  }
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  a.origin = tail.empty() || tail[0] != '/' ? "/" + std::string(tail) : std::string(tail);
  return a;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = char(x + 32);
    }
    if (y >= 'A' && y <= 'Z') {
      y = char(y + 32);
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

bool valid_header(const Header& h) {
  if (h.first.empty()) {
    return false;
  }
  for (char c : h.first) {
    if (!is_tchar(c)) {
      return false;
    }
  }
  for (char c : h.second) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return false;
    }
  }
  return true;
}

void append_num(std::string& o, uint64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  o.append(b, r.ptr);
}

void append_hex(std::string& o, uint64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v, 16);
  o.append(b, r.ptr);
}

template <class F>
void invoke_guarded(F&& f, const char* what, const std::shared_ptr<Server::Core>& core) {
  try {
    f();
  } catch (const std::exception& e) {
    core->log_error(std::string("net: handler callback threw (") + what + "): " + e.what());
  } catch (...) {
    core->log_error(std::string("net: handler callback threw (") + what + ")");
  }
}

}  // namespace

template <bool kTls>
class HttpConn final : public Conn {
  using Stream = std::conditional_t<kTls, SslStream, tcp::socket>;

 public:
  HttpConn(std::shared_ptr<Server::Core> core, tcp::socket s)
      : Conn(Strand(s.get_executor().template target<Strand>()
                        ? *s.get_executor().template target<Strand>()
                        : asio::make_strand(core->ioc))),
        core_(std::move(core)),
        stream_(make_stream(*core_, std::move(s))),
        limits_(core_->opt.limits) {
    core_->open_connections.fetch_add(1, std::memory_order_relaxed);
  }

  ~HttpConn() override {
    core_->remove_link(this);
    count_closed();
    sync_buffered(true);
  }

  void start() {
    core_->add_link(this);
    boost::system::error_code ec;
    sock().set_option(tcp::no_delay(true), ec);
    sock().native_non_blocking(true, ec);
    auto ep = sock().remote_endpoint(ec);
    if (!ec) {
      peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    auto local = sock().local_endpoint(ec);
    if (!ec) {
      local_ = local.address().to_string() + ":" + std::to_string(local.port());
    }
    last_progress_ = now_ns();
    if constexpr (kTls) {
      st_ = St::kHandshake;
      set_deadline(kIo, last_progress_ + ms_to_ns(limits_.header_timeout));
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = self()](boost::system::error_code ec) { self->on_handshake(ec); });
    } else {
      start_head();
      advance();
    }
  }

  // --- Link ---------------------------------------------------------------

  void expired(Slot slot, int64_t at) override {
    if (!deadline_is(slot, at) || st_ == St::kClosed || st_ == St::kUpgraded) {
      return;
    }
    set_deadline(slot, 0);
    if (slot == kHandler) {
      handler_deadline();
      return;
    }
    if (st_ == St::kHead || st_ == St::kHandshake) {
      if (head_started_ || st_ == St::kHandshake) {
        core_->header_timeouts.fetch_add(1, std::memory_order_relaxed);
      } else {
        core_->idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      }
    } else if (st_ != St::kClosing) {
      core_->idle_timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    abort(Errc::kClosed);
  }

  void drain() override {
    if (st_ == St::kClosed || st_ == St::kUpgraded) {
      return;
    }
    close_after_ = true;
    if ((st_ == St::kHead && !head_started_) || st_ == St::kHandshake) {
      abort(Errc::kCancelled);
      return;
    }
    advance();
  }

  void abort_now() override { abort(Errc::kCancelled); }

  // --- Exchange operations -------------------------------------------------

  void x_read_body(uint64_t seq, Exchange::BodyCallback cb) override {
    if (!current(seq) || body_cb_) {
      post_body(std::move(cb), current(seq) ? Errc::kBusy : stale_errc(seq), {});
      return;
    }
    if (resp_ == Resp::kFinishing) {
      post_body(std::move(cb), Errc::kBadState, {});
      return;
    }
    body_cb_ = std::move(cb);
    advance();
  }

  void x_start(uint64_t seq, int status, Headers h, std::optional<uint64_t> len, bool events,
               Completion done) override {
    if (!current(seq) || resp_ != Resp::kNone) {
      post_done(std::move(done), current(seq) ? Errc::kBadState : stale_errc(seq));
      return;
    }
    if (status < 200 || status > 999 || status == 101) {
      post_done(std::move(done), Errc::kBadState);
      fail_exchange("start: status " + std::to_string(status) + " is not a final status");
      return;
    }
    for (const Header& x : h) {
      if (!valid_header(x)) {
        post_done(std::move(done), Errc::kBadState);
        fail_exchange("start: invalid header name or value (CR, LF, NUL or not a token): " +
                      x.first.substr(0, 64));
        return;
      }
    }
    if (events) {
      h.emplace_back("Content-Type", "text/event-stream");
      h.emplace_back("Cache-Control", "no-cache");
      h.emplace_back("X-Accel-Buffering", "no");
      len.reset();
    }
    status_ = status;
    resp_ = Resp::kStarted;
    body_allowed_ = !(status == 204 || status == 304);
    if (!body_allowed_) {
      len.reset();
    }
    resp_len_ = len;
    chunked_ = body_allowed_ && !len && version_ >= 11;
    if (body_allowed_ && !len && version_ < 11) {
      close_after_ = true;  // HTTP/1.0: the body ends when the connection does
    }
    std::string head;
    serialize_head(head, status, h, len);
    enqueue(Op::kData, std::move(head), std::move(done));
  }

  void x_write(uint64_t seq, std::string data, Completion done) override {
    if (!current(seq) || resp_ != Resp::kStarted || file_pending_) {
      post_done(std::move(done), current(seq) ? Errc::kBadState : stale_errc(seq));
      return;
    }
    if (resp_len_ && resp_written_ + data.size() > *resp_len_) {
      post_done(std::move(done), Errc::kBadState);
      fail_exchange("write: more body bytes than the Content-Length given to start()");
      return;
    }
    resp_written_ += data.size();
    if (!body_allowed_ || head_only_ || data.empty()) {
      post_done(std::move(done), Errc::kOk);
      return;
    }
    if (chunked_) {
      std::string framed;
      framed.reserve(data.size() + 12);
      append_hex(framed, data.size());
      framed += "\r\n";
      framed += data;
      framed += "\r\n";
      enqueue(Op::kData, std::move(framed), std::move(done));
    } else {
      enqueue(Op::kData, std::move(data), std::move(done));
    }
  }

  void x_send_file(uint64_t seq, int fd, uint64_t off, uint64_t len, Completion done) override {
    if (!current(seq) || resp_ != Resp::kStarted || chunked_ || file_pending_) {
      post_done(std::move(done), current(seq) ? Errc::kBadState : stale_errc(seq));
      return;
    }
    if (resp_len_ && resp_written_ + len > *resp_len_) {
      post_done(std::move(done), Errc::kBadState);
      fail_exchange("send_file: more body bytes than the Content-Length given to start()");
      return;
    }
    resp_written_ += len;
    if (!body_allowed_ || head_only_ || len == 0) {
      post_done(std::move(done), Errc::kOk);
      return;
    }
    Op op;
    op.kind = Op::kFile;
    op.fd = fd;
    op.off = off;
    op.len = len;
    op.done = std::move(done);
    file_pending_ = true;
    if (!push_op(std::move(op))) {
      file_pending_ = false;
    }
  }

  void x_finish(uint64_t seq, Completion done) override {
    if (!current(seq) || resp_ != Resp::kStarted) {
      post_done(std::move(done), current(seq) ? Errc::kBadState : stale_errc(seq));
      return;
    }
    if (resp_len_ && resp_written_ < *resp_len_ && !head_only_) {
      post_done(std::move(done), Errc::kBadState);
      fail_exchange("finish: fewer body bytes than the Content-Length given to start()");
      return;
    }
    resp_ = Resp::kFinishing;
    enqueue(Op::kFinish, chunked_ && !head_only_ ? std::string("0\r\n\r\n") : std::string(),
            std::move(done));
  }

  void x_fail(uint64_t seq, std::string reason) override {
    if (!current(seq)) {
      return;
    }
    fail_exchange(std::move(reason));
  }

  void x_upgrade(uint64_t seq, std::shared_ptr<WebSocketHandler> h, bool fragments) override {
    if (!current(seq)) {
      return;
    }
    if (!ex_->request().websocket || resp_ != Resp::kNone || !ops_.empty() || !out_.empty() ||
        writing_ || !parser_->is_done()) {
      fail_exchange("upgrade: not a WebSocket upgrade request, or a response was started");
      return;
    }
    if (reading_) {
      // Cannot move the socket while a read is in flight; retry after it.
      pending_upgrade_ = [this, seq, h = std::move(h), fragments]() mutable {
        x_upgrade(seq, std::move(h), fragments);
      };
      return;
    }
    http::request<http::empty_body> req;
    req.base() = parser_->get().base();
    status_ = 101;
    RouteEntry* route = route_;
    Request request = ex_->request();
    // The in-flight slot moves to the WebSocket; this exchange ends here.
    slot_held_ = false;
    end_exchange_accounting();
    st_ = St::kUpgraded;
    set_deadline(kIo, 0);
    set_deadline(kHandler, 0);
    counted_closed_ = true;  // the open-connection count moves too
    spare_.reset();
    start_websocket<Stream>(core_, std::move(stream_), route, std::move(request), std::move(req),
                            std::move(h), fragments);
  }

  void x_on_cancel(uint64_t seq, std::function<void(Errc)> hook) override {
    if (!current(seq)) {
      if (hook) {
        Errc e = stale_errc(seq);
        asio::post(strand_, [hook = std::move(hook), e] { hook(e); });
      }
      return;
    }
    cancel_hook_ = std::move(hook);
  }

 private:
  enum class St { kHandshake, kHead, kExchange, kDrain, kClosing, kClosed, kUpgraded };
  enum class Resp { kNone, kStarted, kFinishing };
  struct Op {
    enum Kind { kData, kFinish, kFile } kind = kData;
    std::string data;
    Completion done;
    int fd = -1;
    uint64_t off = 0, len = 0;
  };

  static Stream make_stream(Server::Core& core, tcp::socket s) {
    if constexpr (kTls) {
      return SslStream(std::move(s), *core.ssl);
    } else {
      return s;
    }
  }

  std::shared_ptr<HttpConn> self() {
    return std::static_pointer_cast<HttpConn>(shared_from_this());
  }
  tcp::socket& sock() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  bool current(uint64_t seq) const { return ex_ && seq == seq_ && st_ == St::kExchange; }
  Errc stale_errc(uint64_t seq) const {
    if (st_ == St::kClosed) {
      return Errc::kClosed;
    }
    return cancelled_seq_ == seq ? Errc::kCancelled : Errc::kBadState;
  }

  void post_done(Completion done, Errc e) {
    if (!done) {
      return;
    }
    asio::post(strand_, [done = std::move(done), e, core = core_]() mutable {
      invoke_guarded([&] { done(e); }, "completion", core);
    });
  }
  void post_body(Exchange::BodyCallback cb, Errc e, std::string chunk) {
    if (!cb) {
      return;
    }
    asio::post(strand_, [cb = std::move(cb), e, chunk = std::move(chunk), core = core_]() mutable {
      invoke_guarded([&] { cb(e, std::move(chunk)); }, "read_body", core);
    });
  }

  // --- the driving loop ------------------------------------------------------

  void advance() {
    if (in_advance_) {
      again_ = true;
      return;
    }
    in_advance_ = true;
    do {
      again_ = false;
      step();
    } while (again_ && st_ != St::kClosed && st_ != St::kUpgraded);
    in_advance_ = false;
    if (st_ == St::kClosed || st_ == St::kUpgraded) {
      return;
    }
    flush();
    if (st_ == St::kClosing && !writing_ && out_.empty() && !lingering_) {
      linger();
    }
    sync_buffered(false);
    update_io_deadline();
  }

  void step() {
    switch (st_) {
      case St::kHead:
        parse_head();
        break;
      case St::kExchange:
        if (body_cb_) {
          pump_body();
        }
        pump_ops();
        if (st_ == St::kExchange) {
          maybe_background_read();
        }
        break;
      case St::kDrain:
        drain_body();
        break;
      default:
        break;
    }
  }

  void start_head() {
    parser_.emplace();
    parser_->header_limit(limits_.header_bytes);
    parser_->body_limit(boost::none);  // checked after the head, with the route known
    parser_->eager(false);
    st_ = St::kHead;
    head_started_ = buf_.size() > 0;
    if (head_started_) {
      head_deadline_ = now_ns() + ms_to_ns(limits_.header_timeout);
    }
  }

  void want_read() {
    if (reading_ || st_ == St::kClosed || st_ == St::kUpgraded) {
      return;
    }
    if (peer_eof_) {
      return;
    }
    reading_ = true;
    size_t n = st_ == St::kHead ? 8192 : 65536;
    if (buf_.capacity() - buf_.size() >= 4096) {
      n = std::max<size_t>(4096, buf_.capacity() - buf_.size());
    }
    // Not async_wait(wait_read) + read_some, although that would save the
    // failed recv (EAGAIN) Asio's speculative read costs per keep-alive
    // request: Asio's reactor is edge-triggered and a wait queued after the
    // data arrived is never woken (net_fuzz found the hang).
    auto dst = buf_.prepare(n);
    read_dst_ = static_cast<char*>(dst.data());
    stream_.async_read_some(
        dst, [self = self()](boost::system::error_code ec, size_t n) { self->on_read(ec, n); });
  }

  // Makes the n bytes a read just placed at read_dst_ part of buf_. Parsing
  // may consume all of buf_ while a read is in flight (a background read
  // during an exchange, then the pipelined head), and flat_buffer then
  // rewinds to its start, so the bytes may have to move to where buf_ now
  // expects them. Nothing reallocates buf_ while a read is in flight.
  void commit_read(size_t n) {
    auto dst = buf_.prepare(n);
    if (dst.data() != read_dst_) {
      std::memmove(dst.data(), read_dst_, n);
    }
    buf_.commit(n);
  }

  void on_read(boost::system::error_code ec, size_t n) {
    reading_ = false;
    if (st_ == St::kClosed) {
      return;
    }
    if (pending_upgrade_) {
      if (!ec) {
        commit_read(n);
      }
      auto f = std::move(pending_upgrade_);
      pending_upgrade_ = nullptr;
      f();
      return;
    }
    if (st_ == St::kUpgraded) {
      return;
    }
    if (ec) {
      if (st_ == St::kClosing) {
        close_socket();
        return;
      }
      if (ec != asio::error::eof && ec != asio::ssl::error::stream_truncated) {
        abort(Errc::kClosed);
        return;
      }
      // The client sent all it will send. Requests it pipelined before its
      // EOF are still answered (parse_head closes once buf_ runs out);
      // responses already queued are flushed before the close.
      peer_eof_ = true;
      if (st_ == St::kHead || st_ == St::kDrain) {
        // EOF between requests, inside an incomplete head, or inside a body
        // being drained: nothing more to answer.
        begin_close();
      }
      advance();
      return;
    }
    commit_read(n);
    last_progress_ = now_ns();
    if (st_ == St::kClosing) {
      buf_.consume(buf_.size());
      reading_ = true;
      auto dst = buf_.prepare(4096);
      read_dst_ = static_cast<char*>(dst.data());
      stream_.async_read_some(
          dst, [self = self()](boost::system::error_code ec, size_t n) { self->on_read(ec, n); });
      return;
    }
    advance();
  }

  // --- request head -----------------------------------------------------------

  void parse_head() {
    if (close_after_ && !head_started_) {
      begin_close();
      return;
    }
    if (buf_.size() == 0) {
      if (peer_eof_) {
        begin_close();  // after what is queued for earlier requests
      } else {
        want_read();
      }
      return;
    }
    if (!parser_->got_some() && skip_empty_lines()) {
      return;
    }
    if (!head_started_) {
      head_started_ = true;
      head_deadline_ = now_ns() + ms_to_ns(limits_.header_timeout);
    }
    beast::error_code ec;
    size_t used = parser_->put(buf_.data(), ec);
    if (!ec && has_obs_fold(static_cast<const char*>(buf_.data().data()), used)) {
      // Beast unfolds obsolete line folding; a proxy in front may not, so
      // the two could disagree on a header (RFC 9112 5.2: reject it).
      ec = http::error::bad_value;
    }
    buf_.consume(used);
    if (ec == http::error::need_more) {
      if (peer_eof_) {
        begin_close();  // an incomplete head at EOF; earlier responses go out first
      } else {
        want_read();
      }
      return;
    }
    if (ec) {
      if (ec == http::error::header_limit) {
        core_->rejected_header_bytes.fetch_add(1, std::memory_order_relaxed);
        core_response(core_->none, 431, "request header fields too large\n", true);
      } else {
        core_->rejected_bad_request.fetch_add(1, std::memory_order_relaxed);
        core_response(core_->none, 400, "bad request: " + ec.message() + "\n", true);
      }
      return;
    }
    if (parser_->is_header_done()) {
      on_head();
    }
  }

  // Empty lines before a request line are ignored (RFC 9112 2.2): some
  // clients send one after a POST body. They start the header timeout, so a
  // client that sends nothing else is still dropped. True if the buffer
  // holds nothing more yet (a read is wanted).
  bool skip_empty_lines() {
    std::string_view b(static_cast<const char*>(buf_.data().data()), buf_.size());
    size_t skip = 0;
    bool more = false;  // ends in a CR whose LF has not arrived
    while (skip < b.size()) {
      if (b[skip] == '\n') {
        skip += 1;
      } else if (b[skip] == '\r' && skip + 1 < b.size() && b[skip + 1] == '\n') {
        skip += 2;
      } else {
        more = b[skip] == '\r' && skip + 1 == b.size();
        break;
      }
    }
    if (skip == 0 && !more) {
      return false;
    }
    buf_.consume(skip);
    if (!head_started_) {
      head_started_ = true;
      head_deadline_ = now_ns() + ms_to_ns(limits_.header_timeout);
    }
    if (buf_.size() == 0 || more) {
      want_read();
      return true;
    }
    return false;
  }

  static bool has_obs_fold(const char* p, size_t n) {
    for (size_t i = 0; i + 1 < n; ++i) {
      if (p[i] == '\n' && (p[i + 1] == ' ' || p[i + 1] == '\t')) {
        return true;
      }
    }
    return false;
  }

  // Request-smuggling shapes Beast's parser lets through: an empty string if
  // the head is acceptable, else the reason for a 400.
  std::string check_framing(const http::request<http::buffer_body>& m) {
    int cl = 0, te = 0, host = 0;
    for (const auto& f : m) {
      switch (f.name()) {
        case http::field::content_length: {
          ++cl;
          std::string_view v = trim(f.value());
          if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos) {
            return "Content-Length is not a number";
          }
          break;
        }
        case http::field::transfer_encoding:
          ++te;
          if (!iequals(trim(f.value()), "chunked")) {
            return "unsupported Transfer-Encoding (only \"chunked\")";
          }
          break;
        case http::field::host:
          ++host;
          break;
        default:
          break;
      }
    }
    if (cl > 1) {
      return "more than one Content-Length";
    }
    if (te > 1) {
      return "more than one Transfer-Encoding";
    }
    if (te && cl) {
      return "both Content-Length and Transfer-Encoding";
    }
    if (te && m.version() < 11) {
      return "Transfer-Encoding in an HTTP/1.0 request";
    }
    if (m.version() >= 11 && host != 1) {
      return host ? "more than one Host" : "missing Host";
    }
    std::string_view t = m.target();
    if (t.empty() ||
        (t[0] != '/' && !(t == "*" && m.method() == http::verb::options) && !absolute_form(t))) {
      return "request target is not a path";
    }
    return {};
  }

  void on_head() {
    auto& m = parser_->get();
    std::string bad = check_framing(m);
    if (!bad.empty()) {
      core_->rejected_bad_request.fetch_add(1, std::memory_order_relaxed);
      core_response(core_->none, 400, "bad request: " + bad + "\n", /*force_close=*/true);
      return;
    }
    version_ = m.version();
    head_only_ = m.method() == http::verb::head;
    if (!parser_->keep_alive()) {
      close_after_ = true;
    }
    ka10_ = version_ < 11 && !close_after_;
    expect_continue_ = false;
    sent_continue_ = false;
    if (version_ >= 11) {
      auto it = m.find(http::field::expect);
      if (it != m.end()) {
        if (!iequals(trim(it->value()), "100-continue")) {
          core_response(core_->none, 417, "expectation failed\n", true);
          return;
        }
        expect_continue_ = true;
      }
    }

    // An absolute-form target is routed by its path, and its authority
    // replaces Host (RFC 9112 3.2.2); handlers see the origin form.
    std::optional<AbsoluteForm> absolute =
        absolute_form(std::string_view(m.target().data(), m.target().size()));
    std::string_view target = absolute ? std::string_view(absolute->origin)
                                       : std::string_view(m.target().data(), m.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view method = m.method_string();
    std::vector<std::pair<std::string, std::string>> params;
    RouteEntry* route = nullptr;
    for (auto& r : core_->routes) {
      params.clear();
      if (r->match(method, path, &params)) {
        route = r.get();
        break;
      }
    }
    if (!route) {
      core_response(core_->none, 404, "not found\n");
      return;
    }
    auto len = parser_->content_length();
    if (len && *len > limits_.body_bytes) {
      route->m.rejected_body.fetch_add(1, std::memory_order_relaxed);
      core_response(*route, 413, "request body too large\n", true);
      return;
    }
    if (parser_->chunked()) {
      parser_->body_limit(limits_.body_bytes);
    }
    if (!core_->acquire(*route)) {
      std::string ra = std::to_string(limits_.retry_after_s);
      core_response(*route, 503, "server busy, retry later\n", false, {{"Retry-After", ra}});
      return;
    }

    // Dispatch.
    ++seq_;
    if (spare_ && spare_.use_count() == 1) {
      ex_ = std::move(spare_);
      ex_->reset(seq_);
    } else {
      ex_ = std::make_shared<Exchange>(std::static_pointer_cast<Conn>(shared_from_this()), seq_);
    }
    Request& rq = ex_->mutable_request();
    rq.method.assign(method);
    rq.target.assign(target);
    rq.path.assign(path);
    rq.query.assign(path.size() < target.size() ? target.substr(path.size() + 1)
                                                : std::string_view());
    rq.version = version_;
    rq.headers.clear();
    for (const auto& f : m) {
      if (absolute && f.name() == http::field::host) {
        rq.headers.emplace_back(std::string(f.name_string()), std::string(absolute->authority));
      } else {
        rq.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      }
    }
    rq.params = std::move(params);
    rq.peer = peer_;
    rq.local = local_;
    rq.route = route->route.name;
    rq.tls = tls_info_;
    rq.content_length = len ? std::optional<uint64_t>(*len) : std::nullopt;
    rq.chunked = parser_->chunked();
    rq.websocket = websocket::is_upgrade(m);

    route_ = route;
    slot_held_ = true;
    st_ = St::kExchange;
    resp_ = Resp::kNone;
    status_ = 0;
    resp_len_.reset();
    resp_written_ = 0;
    resp_bytes_ = 0;
    chunked_ = false;
    body_allowed_ = true;
    file_pending_ = false;
    ex_start_ns_ = now_ns();
    if (route->deadline_ns > 0) {
      set_deadline(kHandler, ex_start_ns_ + route->deadline_ns);
    }
    std::shared_ptr<Exchange> ex = ex_;
    uint64_t seq = seq_;
    try {
      route->route.handler->handle(std::move(ex));
    } catch (const std::exception& e) {
      if (current(seq)) {
        fail_exchange(std::string("handler threw: ") + e.what());
      }
    } catch (...) {
      if (current(seq)) {
        fail_exchange("handler threw");
      }
    }
    again_ = true;
  }

  // --- request body -------------------------------------------------------------

  void pump_body() {
    if (parser_->is_done()) {
      post_body(std::move(body_cb_), Errc::kOk, {});
      body_cb_ = nullptr;
      return;
    }
    if (expect_continue_ && !sent_continue_) {
      sent_continue_ = true;
      if (resp_ == Resp::kNone) {
        out_ += "HTTP/1.1 100 Continue\r\n\r\n";
      }
    }
    uint64_t cap = limits_.body_chunk_bytes;
    if (auto rem = parser_->content_length_remaining()) {
      cap = std::min<uint64_t>(cap, *rem);
    }
    std::string chunk;
    chunk.resize(cap);
    size_t produced = 0;
    Errc err = Errc::kOk;
    while (produced < cap && buf_.size() > 0) {
      auto& body = parser_->get().body();
      body.data = chunk.data() + produced;
      body.size = cap - produced;
      body.more = true;
      beast::error_code ec;
      size_t used = parser_->put(buf_.data(), ec);
      buf_.consume(used);
      produced = cap - body.size;
      if (ec == http::error::need_buffer || ec == http::error::need_more) {
        if (ec == http::error::need_more && used == 0) {
          break;
        }
        continue;
      }
      if (ec == http::error::body_limit) {
        route_->m.rejected_body.fetch_add(1, std::memory_order_relaxed);
        err = Errc::kTooLarge;
        break;
      }
      if (ec) {
        err = Errc::kBadRequest;
        break;
      }
      if (parser_->is_done()) {
        break;
      }
    }
    if (err != Errc::kOk) {
      close_after_ = true;
      post_body(std::move(body_cb_), err, {});
      body_cb_ = nullptr;
      body_error_ = err;
      return;
    }
    if (produced > 0) {
      chunk.resize(produced);
      body_read_ += produced;
      post_body(std::move(body_cb_), Errc::kOk, std::move(chunk));
      body_cb_ = nullptr;
      return;
    }
    if (parser_->is_done()) {
      post_body(std::move(body_cb_), Errc::kOk, {});
      body_cb_ = nullptr;
      return;
    }
    if (peer_eof_) {
      post_body(std::move(body_cb_), Errc::kClosed, {});
      body_cb_ = nullptr;
      return;
    }
    want_read();
  }

  // Discards the rest of a body nobody read, so the next request can be parsed.
  void drain_body() {
    char scratch[16384];
    while (!parser_->is_done() && buf_.size() > 0) {
      auto& body = parser_->get().body();
      body.data = scratch;
      body.size = sizeof scratch;
      body.more = true;
      beast::error_code ec;
      size_t used = parser_->put(buf_.data(), ec);
      buf_.consume(used);
      if (ec == http::error::need_buffer) {
        continue;
      }
      if (ec == http::error::need_more) {
        if (used == 0) {
          break;
        }
        continue;
      }
      if (ec) {
        close_after_ = true;
        begin_close();
        return;
      }
    }
    if (parser_->is_done()) {
      after_exchange();
      return;
    }
    want_read();
  }

  // While a handler runs after its body was read, keep one read going so a
  // reset is noticed (cancel hook) and the next pipelined head is buffered.
  void maybe_background_read() {
    if (reading_ || peer_eof_ || !parser_->is_done() || body_cb_ || ex_->request().websocket ||
        buf_.size() >= limits_.header_bytes) {
      return;
    }
    want_read();
  }

  // --- response ----------------------------------------------------------------

  void serialize_head(std::string& o, int status, const Headers& h, std::optional<uint64_t> len) {
    o.reserve(128 + h.size() * 32);
    o += "HTTP/1.1 ";
    append_num(o, status);
    o += ' ';
    o += status_reason(status);
    o += "\r\nServer: rusm\r\nDate: ";
    o += http_date();
    o += "\r\n";
    for (const Header& x : h) {
      if (iequals(x.first, "content-length") || iequals(x.first, "transfer-encoding") ||
          iequals(x.first, "connection")) {
        continue;
      }
      o += x.first;
      o += ": ";
      o += x.second;
      o += "\r\n";
    }
    if (len) {
      o += "Content-Length: ";
      append_num(o, *len);
      o += "\r\n";
    } else if (chunked_) {
      o += "Transfer-Encoding: chunked\r\n";
    }
    if (close_after_ || core_->draining.load(std::memory_order_relaxed)) {
      close_after_ = true;
      o += "Connection: close\r\n";
    } else if (ka10_) {
      o += "Connection: keep-alive\r\n";
    }
    o += "\r\n";
  }

  // The write buffer (queued plus in flight) is under its high-water mark.
  bool room() const { return out_.size() + wbuf_.size() < limits_.write_buffer_bytes; }

  bool push_op(Op op) {
    if (int(ops_.size()) >= kMaxQueuedOps) {
      post_done(std::move(op.done), Errc::kBusy);
      return false;
    }
    ops_bytes_ += op.data.size();
    ops_.push_back(std::move(op));
    advance();
    return true;
  }

  void enqueue(Op::Kind kind, std::string data, Completion done) {
    // Fast path: nothing queued and room in the buffer: append now.
    if (ops_.empty() && !file_active_ && room()) {
      resp_bytes_ += data.size();
      out_ += data;
      post_done(std::move(done), Errc::kOk);
      if (kind == Op::kFinish) {
        end_exchange();
      }
      advance();
      return;
    }
    Op op;
    op.kind = kind;
    op.data = std::move(data);
    op.done = std::move(done);
    push_op(std::move(op));
  }

  void pump_ops() {
    if constexpr (kTls) {
      if (file_active_) {
        tls_file_step();
      }
    }
    while (!ops_.empty() && !file_active_ && st_ == St::kExchange) {
      Op& op = ops_.front();
      if (op.kind == Op::kFile) {
        if (writing_ || !out_.empty()) {
          return;  // flush first; on_write comes back here
        }
        file_op_ = std::move(op);
        ops_.pop_front();
        start_file();
        return;
      }
      if (!room()) {
        return;
      }
      ops_bytes_ -= op.data.size();
      resp_bytes_ += op.data.size();
      out_ += op.data;
      post_done(std::move(op.done), Errc::kOk);
      bool fin = op.kind == Op::kFinish;
      ops_.pop_front();
      if (fin) {
        end_exchange();
        return;
      }
    }
  }

  void start_file() {
    file_active_ = true;
    resp_bytes_ += file_op_.len;
    if constexpr (kTls) {
      tls_file_step();
    } else {
      writing_ = true;
      file_step();
    }
  }

  void file_done(Errc e) {
    file_active_ = false;
    file_pending_ = false;
    if constexpr (!kTls) {
      writing_ = false;
    }
    post_done(std::move(file_op_.done), e);
    file_op_ = Op();
    if (e != Errc::kOk) {
      abort(e);
      return;
    }
    last_progress_ = now_ns();
    advance();
  }

  // Plain TCP: sendfile until EAGAIN, then wait for the socket.
  void file_step() {
    int sfd = sock().native_handle();
    while (file_op_.len > 0) {
      off_t off = off_t(file_op_.off);
      size_t n = size_t(std::min<uint64_t>(file_op_.len, 1u << 20));
      ssize_t r = ::sendfile(sfd, file_op_.fd, &off, n);
      if (r > 0) {
        file_op_.off += uint64_t(r);
        file_op_.len -= uint64_t(r);
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (errno == EINTR) {
          continue;
        }
        last_progress_ = now_ns();
        update_io_deadline();
        sock().async_wait(tcp::socket::wait_write, [self = self()](boost::system::error_code ec) {
          if (self->st_ == St::kClosed) {
            return;
          }
          if (ec) {
            self->file_done(Errc::kClosed);
            return;
          }
          self->file_step();
        });
        return;
      }
      // r == 0: the file is shorter than promised; the framing is broken.
      core_->log_error("net: send_file: file ended early or failed: " +
                       std::string(r == 0 ? "short file" : std::strerror(errno)));
      file_done(Errc::kClosed);
      return;
    }
    file_done(Errc::kOk);
  }

  // TLS: pread chunks into the write buffer.
  void tls_file_step() {
    while (file_active_ && room()) {
      if (file_op_.len == 0) {
        file_active_ = false;
        file_pending_ = false;
        post_done(std::move(file_op_.done), Errc::kOk);
        file_op_ = Op();
        again_ = true;
        return;
      }
      size_t n = size_t(std::min<uint64_t>(file_op_.len, limits_.write_buffer_bytes));
      size_t old = out_.size();
      out_.resize(old + n);
      ssize_t r = ::pread(file_op_.fd, out_.data() + old, n, off_t(file_op_.off));
      if (r <= 0) {
        out_.resize(old);
        core_->log_error("net: send_file: file ended early or failed");
        file_active_ = false;
        post_done(std::move(file_op_.done), Errc::kClosed);
        file_op_ = Op();
        abort(Errc::kClosed);
        return;
      }
      out_.resize(old + size_t(r));
      file_op_.off += uint64_t(r);
      file_op_.len -= uint64_t(r);
    }
  }

  void flush() {
    if (writing_ || out_.empty() || st_ == St::kClosed || st_ == St::kUpgraded) {
      return;
    }
    if (!kTls && file_active_) {
      return;
    }
    std::swap(out_, wbuf_);
    writing_ = true;
    asio::async_write(
        stream_, asio::buffer(wbuf_),
        [self = self()](boost::system::error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    if (st_ == St::kClosed) {
      return;
    }
    if (ec) {
      abort(Errc::kClosed);
      return;
    }
    wbuf_.clear();
    if (wbuf_.capacity() > 4 * size_t(limits_.write_buffer_bytes)) {
      wbuf_.shrink_to_fit();
    }
    last_progress_ = now_ns();
    advance();
  }

  // --- end of an exchange --------------------------------------------------------

  // Metrics, access log, slot; the exchange's handle goes stale.
  void end_exchange_accounting() {
    int64_t us = (now_ns() - ex_start_ns_) / 1000;
    route_->m.record(status_, us);
    if (slot_held_) {
      core_->release(*route_);
      slot_held_ = false;
    }
    if (core_->opt.access_log) {
      access_log(*route_, ex_->request().method, ex_->request().target, status_, us);
    }
    ended_seq_.store(seq_, std::memory_order_release);
    cancel_hook_ = nullptr;
    set_deadline(kHandler, 0);
    if (body_cb_) {
      post_body(std::move(body_cb_), Errc::kBadState, {});
      body_cb_ = nullptr;
    }
    for (Op& op : ops_) {
      post_done(std::move(op.done), Errc::kCancelled);
    }
    ops_.clear();
    ops_bytes_ = 0;
    spare_ = std::move(ex_);
    ex_ = nullptr;
  }

  void end_exchange() {
    end_exchange_accounting();
    after_exchange();
  }

  // The response is complete: drain an unread body, then the next request.
  void after_exchange() {
    if (!parser_->is_done()) {
      bool can_drain = !close_after_ && body_error_ == Errc::kOk &&
                       !(expect_continue_ && !sent_continue_) && !peer_eof_;
      if (can_drain) {
        st_ = St::kDrain;
        again_ = true;
        return;
      }
      close_after_ = true;
    }
    body_error_ = Errc::kOk;
    if (close_after_ || core_->draining.load(std::memory_order_relaxed)) {
      begin_close();
      return;
    }
    start_head();
    again_ = true;
  }

  // A response the core writes itself (errors, 404, 503), for a request whose
  // head may or may not have parsed.
  void core_response(RouteEntry& route, int status, std::string_view body, bool force_close = false,
                     const Headers& extra = {}) {
    if (force_close) {
      close_after_ = true;
    }
    if (!parser_->is_header_done()) {
      close_after_ = true;
    }
    chunked_ = false;
    Headers h = extra;
    h.emplace_back("Content-Type", "text/plain; charset=utf-8");
    std::string o;
    serialize_head(o, status, h, body.size());
    if (!(parser_->is_header_done() && parser_->get().method() == http::verb::head)) {
      o += body;
    }
    out_ += o;
    route.m.record(status, 0);
    if (core_->opt.access_log) {
      std::string method, target;
      if (parser_->is_header_done()) {
        method = std::string(parser_->get().method_string());
        target = std::string(parser_->get().target());
      }
      access_log(route, method, target, status, 0);
    }
    if (!parser_->is_header_done()) {
      begin_close();
      return;
    }
    after_exchange();
  }

  void access_log(RouteEntry& route, std::string_view method, std::string_view target, int status,
                  int64_t us) {
    std::string line;
    line.reserve(160 + target.size());
    line += "{\"time\":";
    append_num(line, uint64_t(time(nullptr)));
    line += ",\"peer\":";
    json_escape(line, peer_);
    line += ",\"method\":";
    json_escape(line, method);
    line += ",\"target\":";
    json_escape(line, target);
    line += ",\"route\":";
    json_escape(line, route.route.name);
    line += ",\"status\":";
    append_num(line, uint64_t(status));
    line += ",\"bytes\":";
    append_num(line, resp_bytes_);
    line += ",\"us\":";
    append_num(line, uint64_t(us));
    if (kTls) {
      line += ",\"tls\":true";
    }
    line += "}";
    core_->opt.access_log(line);
  }

  // The handler gave up (fail(), threw, broke the framing).
  void fail_exchange(std::string reason) {
    route_->m.failed.fetch_add(1, std::memory_order_relaxed);
    core_->log_error("net: route " + route_->route.name + ": " + ex_->request().method + " " +
                     ex_->request().target + ": handler failed: " + reason);
    if (resp_ == Resp::kNone) {
      for (Op& op : ops_) {
        post_done(std::move(op.done), Errc::kCancelled);
      }
      ops_.clear();
      ops_bytes_ = 0;
      respond_in_place(500, "internal server error\n");
      return;
    }
    status_ = 0;
    abort(Errc::kCancelled);
  }

  // Answers the current exchange from the core (500 on failure, 504 on
  // deadline) and ends it.
  void respond_in_place(int status, std::string_view body) {
    status_ = status;
    resp_ = Resp::kFinishing;
    chunked_ = false;
    std::string o;
    serialize_head(o, status, {{"Content-Type", "text/plain; charset=utf-8"}}, body.size());
    if (!head_only_) {
      o += body;
    }
    resp_bytes_ += o.size();
    out_ += o;
    end_exchange();
    advance();
  }

  void handler_deadline() {
    if (st_ != St::kExchange || !ex_) {
      return;
    }
    route_->m.deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
    cancelled_seq_ = seq_;
    auto hook = std::move(cancel_hook_);
    cancel_hook_ = nullptr;
    if (hook) {
      invoke_guarded([&] { hook(Errc::kCancelled); }, "cancel hook", core_);
    }
    if (st_ != St::kExchange || !ex_) {
      return;
    }
    if (resp_ == Resp::kNone) {
      for (Op& op : ops_) {
        post_done(std::move(op.done), Errc::kCancelled);
      }
      ops_.clear();
      ops_bytes_ = 0;
      respond_in_place(504, "handler deadline exceeded\n");
    } else {
      status_ = 0;
      abort(Errc::kCancelled);
    }
  }

  // --- closing -------------------------------------------------------------------

  void begin_close() {
    if (st_ == St::kClosing || st_ == St::kClosed) {
      return;
    }
    st_ = St::kClosing;
    again_ = true;
  }

  // All output is flushed: half-close and discard input until the peer
  // closes, so unread request bytes do not turn our close into a reset that
  // destroys the response in flight.
  void linger() {
    lingering_ = true;
    if constexpr (kTls) {
      close_socket();
      return;
    } else {
      boost::system::error_code ec;
      sock().shutdown(tcp::socket::shutdown_send, ec);
      if (ec || peer_eof_) {
        close_socket();
        return;
      }
      buf_.consume(buf_.size());
      want_read();
    }
  }

  void abort(Errc why) {
    if (st_ == St::kClosed) {
      return;
    }
    if (ex_) {
      cancelled_seq_ = seq_;
      auto hook = std::move(cancel_hook_);
      cancel_hook_ = nullptr;
      if (hook) {
        invoke_guarded([&] { hook(why); }, "cancel hook", core_);
      }
      if (ex_) {
        end_exchange_accounting();
      }
    }
    if (file_active_) {
      file_active_ = false;
      post_done(std::move(file_op_.done), why);
    }
    close_socket();
  }

  void close_socket() {
    if (st_ == St::kClosed) {
      return;
    }
    st_ = St::kClosed;
    set_deadline(kIo, 0);
    set_deadline(kHandler, 0);
    boost::system::error_code ec;
    sock().close(ec);
    count_closed();
    spare_.reset();  // it points back at this connection
    out_.clear();
    out_.shrink_to_fit();
    sync_buffered(false);
  }

  void count_closed() {
    if (!counted_closed_) {
      counted_closed_ = true;
      core_->open_connections.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  void sync_buffered(bool final) {
    int64_t total = final ? 0 : int64_t(out_.size() + wbuf_.size() + ops_bytes_);
    if (total != buffered_) {
      core_->note_buffered(total - buffered_, total);
      buffered_ = total;
    }
  }

  void update_io_deadline() {
    int64_t d = 0;
    switch (st_) {
      case St::kHandshake:
        return;
      case St::kHead:
        d = head_started_ ? head_deadline_ : last_progress_ + ms_to_ns(limits_.idle_timeout);
        break;
      case St::kExchange:
        if (writing_ || file_active_ || (body_cb_ && reading_)) {
          d = last_progress_ + ms_to_ns(limits_.idle_timeout);
        }
        break;
      case St::kDrain:
      case St::kClosing:
        d = last_progress_ + std::min(ms_to_ns(limits_.idle_timeout), int64_t(2'000'000'000));
        break;
      default:
        return;
    }
    set_deadline(kIo, d);
  }

  void on_handshake(boost::system::error_code ec) {
    if (st_ == St::kClosed) {
      return;
    }
    if (ec) {
      core_->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      close_socket();
      return;
    }
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      tls_info_.on = true;
      tls_info_.version = SSL_get_version(ssl);
      tls_info_.cipher = SSL_get_cipher_name(ssl);
      const unsigned char* alpn = nullptr;
      unsigned alpn_len = 0;
      SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
      tls_info_.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
      if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
        tls_info_.sni = sni;
      }
      if (X509* cert = SSL_get0_peer_certificate(ssl)) {
        if (SSL_get_verify_result(ssl) == X509_V_OK) {
          char name[512];
          X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
          tls_info_.client_subject = name;
        }
      }
    }
    last_progress_ = now_ns();
    start_head();
    advance();
  }

  std::shared_ptr<Server::Core> core_;
  Stream stream_;
  const Limits& limits_;
  beast::flat_buffer buf_;
  char* read_dst_ = nullptr;  // where the read in flight writes (inside buf_)
  std::optional<http::request_parser<http::buffer_body>> parser_;
  St st_ = St::kHead;
  bool in_advance_ = false, again_ = false;
  bool reading_ = false, writing_ = false, lingering_ = false;
  bool head_started_ = false;
  int64_t head_deadline_ = 0, last_progress_ = 0;
  bool close_after_ = false, peer_eof_ = false, counted_closed_ = false;
  int version_ = 11;
  bool ka10_ = false, head_only_ = false;
  std::string peer_;
  std::string local_;  // the address the client connected to
  TlsInfo tls_info_;

  // The current exchange.
  uint64_t seq_ = 0, cancelled_seq_ = UINT64_MAX;
  std::shared_ptr<Exchange> ex_, spare_;
  RouteEntry* route_ = nullptr;
  bool slot_held_ = false;
  int64_t ex_start_ns_ = 0;
  Resp resp_ = Resp::kNone;
  int status_ = 0;
  bool chunked_ = false, body_allowed_ = true;
  std::optional<uint64_t> resp_len_;
  uint64_t resp_written_ = 0, resp_bytes_ = 0;
  bool expect_continue_ = false, sent_continue_ = false;
  Exchange::BodyCallback body_cb_;
  Errc body_error_ = Errc::kOk;
  uint64_t body_read_ = 0;
  std::function<void(Errc)> cancel_hook_;
  std::function<void()> pending_upgrade_;

  // Output.
  std::deque<Op> ops_;
  size_t ops_bytes_ = 0;
  std::string out_, wbuf_;
  int64_t buffered_ = 0;
  bool file_active_ = false, file_pending_ = false;
  Op file_op_;
};

// Called on the acceptor's strand: the connection starts on its own (once
// registered, the sweep and stop() post to that strand).
void serve_connection(std::shared_ptr<Server::Core> core, tcp::socket s, bool tls) {
  if (tls) {
    auto c = std::make_shared<HttpConn<true>>(std::move(core), std::move(s));
    asio::post(c->strand_, [c] { c->start(); });
  } else {
    auto c = std::make_shared<HttpConn<false>>(std::move(core), std::move(s));
    asio::post(c->strand_, [c] { c->start(); });
  }
}

}  // namespace detail
}  // namespace rusm::net
