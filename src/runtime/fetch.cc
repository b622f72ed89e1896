// The guest's outbound HTTP(S) calls (docs/fetch.md; abi/rusm.toml, v9):
// fetch, fetch_head, fetch_read, fetch_close.
//
// Policy, checked before anything leaves the node: the URL's host and port
// must be granted (Capabilities::net_grant), and the addresses the name
// resolves to must not be loopback, link-local, unspecified, multicast or
// broadcast unless the grant names such a destination itself (an address
// literal or "localhost"), so that a granted name that resolves to
// 127.0.0.1 or 169.254.169.254 reaches nothing. Certificates are verified
// against the system's trust store (plus FetchOptions::ca_file) and the
// URL's host. Redirects are not followed: the guest sees the 3xx.
//
// Mechanics: one Exchange per fetch runs on the node's event loop (Asio,
// Beast's HTTP client over tcp_stream or ssl_stream), on a strand of its
// own, since the workers that drive the loop run handlers concurrently.
// The guest's host call posts a step (start, or read some body) to the
// strand and suspends the process (Wait::event); the step's completion
// fills the call's shared Slot and wakes the process, which copies the
// answer into guest memory when it resumes. Only the strand touches the
// Exchange's sockets and parser; only the process touches its Fetch
// resource; the Slot is the hand-off. A process killed while it waits
// destroys its Fetch, which closes the Exchange on its strand; the
// Exchange lives until its last handler has run.
//
// Bounds: a request's bytes (FetchOptions::max_request), a response's head
// (64 KiB) and body (max_response, or less if the request asks), the time
// to the head and between body reads (timeout), the exchanges open in a
// process (max_per_process) and in the node (max_open).
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "runtime/fetch.h"
#include "runtime/internal.h"

namespace rusm::runtime {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// ---- URLs

Result<Url> parse_url(std::string_view text) {
  auto bad = [&](const char* why) { return Error(std::string("bad url: ") + why, kErrBadArg); };
  Url u;
  std::string_view rest;
  if (text.size() > 7 && (text.substr(0, 7) == "http://" || text.substr(0, 7) == "HTTP://")) {
    u.tls = false;
    u.port = 80;
    rest = text.substr(7);
  } else if (text.size() > 8 &&
             (text.substr(0, 8) == "https://" || text.substr(0, 8) == "HTTPS://")) {
    u.tls = true;
    u.port = 443;
    rest = text.substr(8);
  } else {
    return bad("only http:// and https:// URLs");
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad("spaces and control characters must be percent-encoded");
    }
  }
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("user information in URLs is not supported");
  }
  std::string_view host, port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("unclosed [ in the host");
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad("junk after the IPv6 address");
      }
      port = after.substr(1);
    }
    boost::system::error_code ec;
    auto a = asio::ip::make_address_v6(std::string(host), ec);
    if (ec) {
      return bad("not an IPv6 address in brackets");
    }
    u.host = a.to_string();
    u.literal = true;
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_';
      if (!ok) {
        return bad("the host has a character no host name has");
      }
      u.host += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (u.host.empty() || u.host.size() > 253) {
      return bad("no host");
    }
    boost::system::error_code ec;
    auto a = asio::ip::make_address_v4(u.host, ec);
    u.literal = !ec;
    if (u.literal) {
      u.host = a.to_string();
    }
  }
  if (!port.empty() || authority.ends_with(":")) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || v == 0 ||
        v > 65535) {
      return bad("the port is 1-65535");
    }
    u.port = static_cast<uint16_t>(v);
  }
  size_t hash = path.find('#');
  u.target = std::string(path.substr(0, hash));
  if (u.target.empty() || u.target[0] == '?') {
    u.target.insert(0, "/");
  }
  return u;
}

bool local_address(const asio::ip::address& a) {
  if (a.is_v6()) {
    asio::ip::address_v6 v6 = a.to_v6();
    if (v6.is_v4_mapped()) {
      return local_address(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
    }
    auto b = v6.to_bytes();
    bool v4_compatible = std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; });
    return v6.is_loopback() || v6.is_link_local() || v6.is_unspecified() || v6.is_multicast() ||
           v6.is_site_local() || (v4_compatible && !v6.is_unspecified());
  }
  uint32_t x = a.to_v4().to_uint();
  return (x >> 24) == 127 || (x >> 16) == 0xA9FE ||  // loopback, link-local
         (x >> 24) == 0 ||                           // "this network"
         (x >> 28) == 0xE || x == 0xFFFFFFFFu;       // multicast, broadcast
}

// ---- the node's side: one per Runtime

struct FetchShared {
  FetchOptions options;
  std::atomic<uint32_t> open{0};
  std::once_flag tls_once;
  std::unique_ptr<ssl::context> tls;
  std::string tls_error;

  ssl::context* tls_context() {
    std::call_once(tls_once, [this] {
      auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
      boost::system::error_code ec;
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ctx->set_default_verify_paths(ec);
      if (!ec && !options.ca_file.empty()) {
        ctx->load_verify_file(options.ca_file, ec);
        if (ec) {
          tls_error = "fetch: cannot load " + options.ca_file + ": " + ec.message();
          return;
        }
      }
      ctx->set_verify_mode(ssl::verify_peer);
      tls = std::move(ctx);
    });
    return tls.get();
  }
};

std::shared_ptr<FetchShared> make_fetch_shared(const FetchOptions& options) {
  auto s = std::make_shared<FetchShared>();
  s->options = options;
  return s;
}

namespace {

using wasm::HostAction;
using wasm::HostCall;

constexpr uint32_t kMaxHead = 64 * 1024;
constexpr uint32_t kMaxRead = 256 * 1024;  // body bytes handed over per fetch_read

// What a step of an exchange answers.
struct Slot {
  std::atomic<bool> done{false};
  int32_t code = kOk;  // kOk, or the error
  std::string bytes;   // the head (AbiFetchResponse + headers) or body bytes
  bool end = false;    // the body is over
};

// One request and its response, on the event loop.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  using Done = std::function<void()>;

  Exchange(asio::io_context& io, std::shared_ptr<FetchShared> shared, Url url, bool may_be_local,
           std::chrono::milliseconds timeout, uint64_t max_body)
      : shared_(std::move(shared)),
        strand_(asio::make_strand(io)),
        resolver_(strand_),
        timer_(strand_),
        url_(std::move(url)),
        may_be_local_(may_be_local),
        timeout_(timeout),
        max_body_(max_body) {
    parser_.header_limit(kMaxHead);
    parser_.body_limit(max_body_);
  }

  // Resolves, connects, sends req and reads the response's head.
  void start(http::request<http::string_body> req, std::shared_ptr<Slot> slot, Done done) {
    asio::post(strand_, [self = shared_from_this(), req = std::move(req), slot = std::move(slot),
                         done = std::move(done)]() mutable {
      self->req_ = std::move(req);
      self->slot_ = std::move(slot);
      self->done_ = std::move(done);
      self->resolve();
    });
  }

  // Reads up to n body bytes (at least one, or the end).
  void read(size_t n, std::shared_ptr<Slot> slot, Done done) {
    asio::post(strand_, [self = shared_from_this(), n, slot = std::move(slot),
                         done = std::move(done)]() mutable {
      self->slot_ = std::move(slot);
      self->done_ = std::move(done);
      self->chunk_.resize(n);
      // One deadline for the whole read: framing that trickles in without
      // body bytes does not extend it.
      self->arm();
      self->read_some();
    });
  }

  void close() {
    asio::post(strand_, [self = shared_from_this()] { self->shutdown(); });
  }

 private:
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  template <typename F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  // A deadline for the step in flight; a stale timer (a later step's) is
  // told apart by its generation.
  void arm() {
    uint64_t gen = ++timer_gen_;
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
      if (!ec && gen == self->timer_gen_) {
        self->timed_out_ = true;
        self->shutdown();
      }
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  void shutdown() {
    closed_ = true;
    resolver_.cancel();
    if (plain_ || tls_) {
      boost::system::error_code ec;
      lowest().socket().close(ec);
    }
  }

  void finish(int32_t code, std::string bytes = {}, bool end = false) {
    disarm();
    std::string().swap(chunk_);  // a read's buffer is held only while it waits
    if (code != kOk) {
      shutdown();
    }
    if (!slot_) {
      return;
    }
    slot_->code = code;
    slot_->bytes = std::move(bytes);
    slot_->end = end;
    slot_->done.store(true, std::memory_order_release);
    slot_.reset();
    Done done = std::move(done_);
    done_ = nullptr;
    if (done) {
      done();
    }
  }

  // An error of a step: a timeout, or what `otherwise` says.
  int32_t error_code(int32_t otherwise) const { return timed_out_ ? kErrTimeout : otherwise; }

  void resolve() {
    if (closed_) {
      return finish(kErrClosed);
    }
    arm();
    resolver_.async_resolve(
        url_.host, std::to_string(url_.port), tcp::resolver::numeric_service,
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    const tcp::resolver::results_type& results) {
          self->resolved(ec, results);
        });
  }

  void resolved(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
    if (ec) {
      return finish(error_code(kErrNoConn));
    }
    std::vector<tcp::endpoint> allowed;
    bool refused = false;
    for (const auto& r : results) {
      if (!may_be_local_ && local_address(r.endpoint().address())) {
        refused = true;
        continue;
      }
      allowed.push_back(r.endpoint());
    }
    if (allowed.empty()) {
      return finish(refused ? kErrDenied : kErrNoConn);
    }
    if (url_.tls) {
      ssl::context* ctx = shared_->tls_context();
      if (ctx == nullptr) {
        return finish(kErrIo);
      }
      tls_.emplace(strand_, *ctx);
    } else {
      plain_.emplace(strand_);
    }
    lowest().async_connect(
        allowed, [self = shared_from_this()](const boost::system::error_code& ec,
                                             const tcp::endpoint&) { self->connected(ec); });
  }

  void connected(const boost::system::error_code& ec) {
    if (ec) {
      return finish(error_code(kErrNoConn));
    }
    if (!tls_) {
      return send();
    }
    SSL* ssl = tls_->native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    bool set = url_.literal ? X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str()) == 1
                            : SSL_set_tlsext_host_name(ssl, url_.host.c_str()) == 1 &&
                                  X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), 0) == 1;
    if (!set) {
      return finish(kErrIo);
    }
    tls_->async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->handshaken(ec); });
  }

  void handshaken(const boost::system::error_code& ec) {
    if (ec) {
      long verify = SSL_get_verify_result(tls_->native_handle());
      return finish(error_code(verify != X509_V_OK ? kErrAuth : kErrIo));
    }
    send();
  }

  void send() {
    with_stream([this](auto& stream) {
      http::async_write(stream, req_,
                        [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                          self->sent(ec);
                        });
    });
  }

  void sent(const boost::system::error_code& ec) {
    if (ec) {
      return finish(error_code(kErrNoConn));
    }
    req_ = {};  // its body may be large
    with_stream([this](auto& stream) {
      http::async_read_header(stream, buffer_, parser_,
                              [self = shared_from_this()](const boost::system::error_code& ec,
                                                          size_t) { self->got_head(ec); });
    });
  }

  void got_head(const boost::system::error_code& ec) {
    if (ec) {
      // A Content-Length over the cap is refused with the head.
      bool too_large = ec == http::error::header_limit || ec == http::error::body_limit ||
                       ec == http::error::buffer_overflow;
      return finish(error_code(too_large ? kErrTooLarge : kErrIo));
    }
    const auto& res = parser_.get();
    std::string headers;
    for (const auto& field : res) {
      headers.append(field.name_string().data(), field.name_string().size());
      headers += ": ";
      headers.append(field.value().data(), field.value().size());
      headers += "\r\n";
    }
    AbiFetchResponse head{};
    head.status = res.result_int();
    head.headers_len = static_cast<uint32_t>(headers.size());
    auto length = parser_.content_length();
    head.content_length = length ? *length : UINT64_MAX;
    if (length && *length > max_body_) {
      return finish(kErrTooLarge);
    }
    std::string bytes(sizeof head, '\0');
    std::memcpy(bytes.data(), &head, sizeof head);
    bytes += headers;
    finish(kOk, std::move(bytes), parser_.is_done());
  }

  void read_some() {
    if (closed_) {
      return finish(kErrClosed);
    }
    if (parser_.is_done()) {
      return finish(kOk, {}, true);
    }
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    parser_.get().body().more = true;
    with_stream([this](auto& stream) {
      http::async_read_some(stream, buffer_, parser_,
                            [self = shared_from_this()](boost::system::error_code ec, size_t) {
                              self->got_some(ec);
                            });
    });
  }

  void got_some(boost::system::error_code ec) {
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      return finish(error_code(ec == http::error::body_limit ? kErrTooLarge : kErrIo));
    }
    size_t got = chunk_.size() - parser_.get().body().size;
    if (got == 0 && !parser_.is_done()) {
      return read_some();  // a chunk's framing, no body bytes yet
    }
    chunk_.resize(got);
    finish(kOk, std::move(chunk_), parser_.is_done());
  }

  std::shared_ptr<FetchShared> shared_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  // What the parser has not consumed: at most a head and one read's worth.
  beast::flat_buffer buffer_{kMaxHead + 64 * 1024};
  http::request<http::string_body> req_;
  http::response_parser<http::buffer_body> parser_;
  std::string chunk_;
  Url url_;
  bool may_be_local_;
  std::chrono::milliseconds timeout_;
  uint64_t max_body_;
  uint64_t timer_gen_ = 0;
  bool timed_out_ = false;
  bool closed_ = false;
  std::shared_ptr<Slot> slot_;
  Done done_;
};

// The step a process waits in (one at a time: it waits).
struct Call final : Suspension {
  enum class Step : uint8_t { kHead, kRead } step = Step::kHead;
  std::shared_ptr<Slot> slot;
  int32_t handle = 0;
  uint32_t out_ptr = 0, out_cap = 0;
  Wait wait(Process&) override { return Wait::event(); }
  Resumed resume(Process& p, otp::Context& ctx) override;
};

// A process's side of an exchange.
struct Fetch final : Resource {
  std::shared_ptr<FetchShared> shared;
  std::shared_ptr<Exchange> exchange;
  uint32_t* process_count = nullptr;  // the process's open fetches
  std::string head;                   // AbiFetchResponse + headers, once it came
  bool body_done = false;
  bool failed = false;
  Call call;

  ~Fetch() override {
    if (exchange) {
      exchange->close();
    }
    shared->open.fetch_sub(1, std::memory_order_relaxed);
    --*process_count;
  }
};

HostAction ret(HostCall& c, int32_t v) {
  c.set_result_i32(0, static_cast<uint32_t>(v));
  return HostAction::kReturn;
}

void set_result(Process& p, int32_t v) {
  (void)p.execution().set_host_results(std::array{wasm::Value::i32(static_cast<uint32_t>(v))});
}

Suspension::Resumed Call::resume(Process& p, otp::Context&) {
  if (!slot || !slot->done.load(std::memory_order_acquire)) {
    return Resumed::kWait;  // a stale wake
  }
  std::shared_ptr<Slot> s = std::move(slot);
  auto* f = p.resources().get<Fetch>(handle);
  if (f == nullptr) {  // cannot happen: the handle is not closed while it waits
    set_result(p, kErrBadState);
    return Resumed::kContinue;
  }
  if (s->code != kOk) {
    f->failed = true;
    if (step == Step::kHead) {
      p.resources().close(handle);  // the guest never saw the handle
    }
    set_result(p, s->code);
    return Resumed::kContinue;
  }
  if (step == Step::kHead) {
    f->head = std::move(s->bytes);
    f->body_done = s->end;
    set_result(p, handle);
    return Resumed::kContinue;
  }
  f->body_done = s->end;
  wasm::Memory* mem = p.memory();
  uint64_t n = std::min<uint64_t>(s->bytes.size(), out_cap);
  if (n > 0 && (mem == nullptr || !mem->write(out_ptr, s->bytes.data(), n))) {
    set_result(p, kErrBadArg);
    return Resumed::kContinue;
  }
  p.execution().consume_fuel(static_cast<int64_t>(n / wasm::kBytesPerFuel));
  set_result(p, static_cast<int32_t>(n));
  return Resumed::kContinue;
}

// Header names the host sets itself, or that would change the framing or
// the destination.
bool reserved_header(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "host", "content-length", "transfer-encoding", "connection",      "upgrade",
      "te",   "trailer",        "keep-alive",        "proxy-connection"};
  return std::any_of(std::begin(kReserved), std::end(kReserved),
                     [&](std::string_view r) { return beast::iequals(r, name); });
}

bool token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

// "Name: value\r\n"... into req; false if malformed or reserved.
bool add_headers(http::request<http::string_body>& req, std::string_view text) {
  while (!text.empty()) {
    size_t eol = text.find("\r\n");
    if (eol == std::string_view::npos) {
      return false;
    }
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return false;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    bool value_ok = std::none_of(value.begin(), value.end(),
                                 [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
    if (!token(name) || !value_ok || reserved_header(name)) {
      return false;
    }
    req.insert(name, value);
  }
  return true;
}

FetchShared& shared_of(Process& p) {
  return *p.runtime().impl()->fetch;
}

// fetch(request, len) -> i32 handle
HostAction fetch(HostCall& c) {
  Process& p = Process::of(c);
  FetchShared& shared = shared_of(p);
  const FetchOptions& o = shared.options;
  if (!p.capabilities().has(kCapNet)) {
    p.denied(kCapNet);
    return ret(c, kErrDenied);
  }
  uint32_t len = c.arg_i32(1);
  if (len > o.max_request) {
    return ret(c, kErrTooLarge);
  }
  auto bytes = guest_bytes_charged(c, c.arg_i32(0), len);
  AbiFetchRequest r{};
  if (!bytes || bytes->size() < sizeof r) {
    return ret(c, kErrBadArg);
  }
  std::memcpy(&r, bytes->data(), sizeof r);
  std::string_view rest = bytes->substr(sizeof r);
  uint64_t need = uint64_t{r.method_len} + r.url_len + r.headers_len + r.body_len;
  if (need != rest.size()) {
    return ret(c, kErrBadArg);
  }
  std::string_view method = rest.substr(0, r.method_len);
  std::string_view url_text = rest.substr(r.method_len, r.url_len);
  std::string_view headers = rest.substr(r.method_len + r.url_len, r.headers_len);
  std::string_view body = rest.substr(r.method_len + r.url_len + r.headers_len);
  if (method.empty()) {
    method = "GET";
  }
  Result<Url> url = parse_url(url_text);
  if (!url || !token(method)) {
    return ret(c, kErrBadArg);
  }
  const NetGrant* grant = p.capabilities().net_grant(url->host, url->port);
  if (grant == nullptr) {
    p.denied(kCapNet);
    return ret(c, kErrDenied);
  }
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(url->target);
  req.version(11);
  if (!add_headers(req, headers)) {
    return ret(c, kErrBadArg);
  }
  std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
  if (url->port != (url->tls ? 443 : 80)) {
    host += ":" + std::to_string(url->port);
  }
  req.set(http::field::host, host);
  req.set(http::field::connection, "close");
  if (req.find(http::field::user_agent) == req.end()) {
    req.set(http::field::user_agent, "rusm");
  }
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.content_length(body.size());
  }

  ResourceTable& table = p.resources();
  uint32_t& count = table.count(ResourceTable::Counter::kFetch);
  if (count >= o.max_per_process) {
    return ret(c, kErrLimit);
  }
  if (shared.open.fetch_add(1, std::memory_order_relaxed) >= o.max_open) {
    shared.open.fetch_sub(1, std::memory_order_relaxed);
    return ret(c, kErrFull);
  }
  ++count;
  auto f = std::make_unique<Fetch>();
  f->shared = p.runtime().impl()->fetch;
  f->process_count = &count;
  auto timeout = o.timeout;
  if (r.timeout_ms != 0) {
    timeout = std::min(timeout, std::chrono::milliseconds(r.timeout_ms));
  }
  uint64_t max_body =
      r.max_response != 0 ? std::min<uint64_t>(r.max_response, o.max_response) : o.max_response;
  asio::io_context& io = p.runtime().event_loop().context();
  f->exchange = std::make_shared<Exchange>(io, f->shared, std::move(*url), grant->names_local(),
                                           timeout, max_body);
  Fetch* raw = f.get();
  int32_t h = table.add(std::move(f));
  if (h <= 0) {
    return ret(c, kErrLimit);  // the Fetch is gone, its counts given back
  }
  auto slot = std::make_shared<Slot>();
  raw->call.step = Call::Step::kHead;
  raw->call.slot = slot;
  raw->call.handle = h;
  // The loop stops after the node's processes are gone and before the node
  // is destroyed (runtime.cc), so the wake always has a node.
  otp::Node* node = &p.context().node();
  otp::Pid pid = p.context().self();
  raw->exchange->start(std::move(req), slot, [node, pid] { node->wake(pid); });
  return p.suspend(&raw->call);
}

Fetch* fetch_arg(HostCall& c) {
  return Process::of(c).resources().get<Fetch>(static_cast<int32_t>(c.arg_i32(0)));
}

// fetch_head(fetch, buf, cap) -> i32 length
HostAction fetch_head(HostCall& c) {
  Fetch* f = fetch_arg(c);
  if (f == nullptr) {
    return ret(c, kErrBadArg);
  }
  return ret(c, guest_copy_out(c, c.arg_i32(1), c.arg_i32(2), f->head));
}

// fetch_read(fetch, buf, cap) -> i32 bytes
HostAction fetch_read(HostCall& c) {
  Process& p = Process::of(c);
  int32_t h = static_cast<int32_t>(c.arg_i32(0));
  Fetch* f = p.resources().get<Fetch>(h);
  uint32_t buf = c.arg_i32(1), cap = c.arg_i32(2);
  if (f == nullptr || cap == 0 || !guest_bytes(c, buf, cap)) {
    return ret(c, kErrBadArg);
  }
  if (f->failed) {
    return ret(c, kErrBadState);
  }
  if (f->body_done) {
    return ret(c, 0);
  }
  auto slot = std::make_shared<Slot>();
  f->call.step = Call::Step::kRead;
  f->call.slot = slot;
  f->call.handle = h;
  f->call.out_ptr = buf;
  f->call.out_cap = std::min(cap, kMaxRead);
  otp::Node* node = &p.context().node();
  otp::Pid pid = p.context().self();
  f->exchange->read(f->call.out_cap, slot, [node, pid] { node->wake(pid); });
  return p.suspend(&f->call);
}

// fetch_close(fetch) -> i32
HostAction fetch_close(HostCall& c) {
  Process& p = Process::of(c);
  int32_t h = static_cast<int32_t>(c.arg_i32(0));
  if (p.resources().get<Fetch>(h) == nullptr) {
    return ret(c, kErrBadArg);
  }
  p.resources().close(h);
  return ret(c, kOk);
}

const HostDef kFetchDefs[] = {
    {"fetch", fetch},
    {"fetch_head", fetch_head},
    {"fetch_read", fetch_read},
    {"fetch_close", fetch_close},
};

}  // namespace

void add_fetch_imports(Runtime::Impl& impl) {
  impl.fetch = make_fetch_shared(impl.options.fetch);
  add_host_defs(impl, kFetchDefs);
}

}  // namespace rusm::runtime
