// Route kinds http and sse (see routes.h): a fresh sandboxed process per
// request, started at the route's entry with the request's handle, and the
// `rusm` ABI v3 calls http_* that it uses (docs/abi.md, "HTTP and SSE
// handlers"; guest/c/rusm.h, rusm_http_*).
//
// Three objects per request:
//   - Pending (shared): what the process's I/O completions (on the
//     connection's strand) hand to the process (on a worker): the result of
//     the one operation in flight, and the pid to wake. Completions and the
//     exchange's cancel hook hold it, never the process's state, so a
//     process killed while a read or write is in flight is no hazard.
//   - HttpRequest (a runtime::Resource, handle 1 of the process, and the
//     Suspension of its blocking calls): the Exchange, the response state,
//     body bytes not yet given to the guest. Used by the worker running the
//     process only. Its destructor ends the exchange: finished if the
//     response is complete, failed (500 or abort) otherwise.
//   - HttpHandler (net::Handler): spawns the process per request and sets the
//     exchange's cancel hook (deadline, client gone, shutdown) to kill it.
//
// Guest memory is touched only by host functions and resume(), on the
// process's worker: a body chunk is kept in Pending until the process runs.
//
// HOT PATH (rusm loadtest against examples/serve/hello): handle() ->
// spawn -> http_respond -> exit: one Pending, one HttpRequest, the response's
// header vector and body string; no suspension.
#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "serve/routes.h"

namespace rusm::serve {
namespace {

using runtime::Process;
using runtime::Resource;
using runtime::Suspension;
using runtime::Wait;
using wasm::HostAction;
using wasm::HostCall;
using wasm::ValType;

int32_t abi_error(net::Errc e) {
  switch (e) {
    case net::Errc::kOk:
      return runtime::kOk;
    case net::Errc::kTooLarge:
      return runtime::kErrTooLarge;
    case net::Errc::kBadState:
      return runtime::kErrBadState;
    case net::Errc::kBusy:
      return runtime::kErrFull;
    case net::Errc::kClosed:
    case net::Errc::kCancelled:
    case net::Errc::kBadRequest:  // a malformed chunked body: the core answers 400 and closes
      return runtime::kErrClosed;
  }
  return runtime::kErrClosed;
}

// Shared by the process and its exchange's callbacks (see the top).
struct Pending {
  explicit Pending(otp::Node& n) : node(n) {}
  otp::Node& node;
  std::atomic<uint64_t> pid{0};
  // Set by handle() around Runtime::spawn: a request destroyed then, before
  // its process ever ran, belongs to a spawn that failed (handle() answers).
  std::atomic<bool> spawning{false};
  // The operation in flight (at most one: the process waits for each).
  // `errc` and `chunk` are written before `done` is set (release).
  std::atomic<bool> done{false};
  net::Errc errc = net::Errc::kOk;
  std::string chunk;
  // Writes that did not wait (kWriteAheadOps): how many and how many bytes
  // the connection has not taken yet, and the first error one of them got.
  std::atomic<int32_t> ahead_ops{0};
  std::atomic<int64_t> ahead_bytes{0};
  std::atomic<uint8_t> ahead_errc{0};

  void complete(net::Errc e, std::string c = {}) {
    errc = e;
    chunk = std::move(c);
    done.store(true, std::memory_order_release);
    uint64_t p = pid.load(std::memory_order_acquire);
    if (p != 0) {
      node.wake(otp::Pid::from_bits(p));
    }
  }
  // The exchange gave up: the process goes. A process not spawned yet cannot
  // be here (handle() and the hook both run on the connection's strand, and
  // handle() stores the pid before it returns); one already gone is a no-op.
  void cancel() {
    uint64_t p = pid.load(std::memory_order_acquire);
    if (p != 0) {
      node.exit(otp::Pid::from_bits(p), otp::ExitReason::kill());
    }
  }
};

// A header block from the guest: "Name: value" lines ended by "\n" (or
// "\r\n"); empty lines are skipped. False if a line has no ':', a name is
// not a token, or a value holds CR, LF or NUL.
bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9')
    return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
    return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool parse_headers(std::string_view text, net::Headers& out) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
      return false;
    }
    std::string_view name = line.substr(0, colon);
    for (char ch : name) {
      if (!is_tchar(static_cast<unsigned char>(ch))) {
        return false;
      }
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    for (char ch : value) {
      if (ch == '\r' || ch == '\n' || ch == '\0') {
        return false;
      }
    }
    out.emplace_back(std::string(name), std::string(value));
  }
  return true;
}

// One SSE event: an "event:" line unless `event` is empty, one "data:" line
// per line of `data` (split at CR, LF or CRLF), and the blank line.
std::string format_event(std::string_view event, std::string_view data) {
  std::string s;
  s.reserve(event.size() + data.size() + 16);
  if (!event.empty()) {
    s += "event: ";
    s += event;
    s += '\n';
  }
  size_t i = 0;
  for (;;) {
    size_t end = data.find_first_of("\r\n", i);
    s += "data: ";
    s += data.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    s += '\n';
    if (end == std::string_view::npos) {
      break;
    }
    i = end + 1;
    if (data[end] == '\r' && i < data.size() && data[i] == '\n') {
      ++i;
    }
    if (i == data.size()) {
      break;  // a trailing line break ends the last line; it adds no empty one
    }
  }
  s += '\n';
  return s;
}

class HttpRequest final : public Resource, public Suspension {
 public:
  enum class Resp : uint8_t {
    kNone,      // nothing sent
    kStarted,   // http_start: writes allowed
    kEvents,    // http_start_events: events (and raw writes) allowed
    kFinished,  // http_finish / http_respond: nothing more
    kGone,      // a write failed: the connection is gone
  };

  HttpRequest(std::shared_ptr<net::Exchange> ex, std::shared_ptr<Pending> pend)
      : ex_(std::move(ex)), pend_(std::move(pend)) {}

  ~HttpRequest() override {
    if (!exited_ && pend_->spawning.load(std::memory_order_acquire)) {
      return;  // the spawn failed: handle() answers
    }
    end_exchange();
  }

  void on_process_exit(const otp::ExitReason& reason) override {
    exited_ = true;
    if (!reason.is_normal()) {
      failure_ = reason.to_string();
    }
  }

  const net::Request& request() const { return ex_->request(); }
  net::Exchange& exchange() { return *ex_; }
  Resp resp() const { return resp_; }

  // The process's pid, for the completions' wakes (set once).
  void note_pid(Process& p) {
    if (!pid_noted_) {
      pend_->pid.store(p.context().self().bits(), std::memory_order_release);
      pid_noted_ = true;
    }
  }

  // ---- http_read
  // Copies what is left of the last chunk, or asks the exchange for the
  // next one and suspends (read_op_ says where to put it).
  HostAction read(HostCall& c, Process& p, uint32_t buf, uint32_t cap) {
    if (cap == 0 || !runtime::guest_bytes(c, buf, cap)) {
      return ret(c, runtime::kErrBadArg);
    }
    if (left_off_ < left_.size()) {
      std::string_view rest = std::string_view(left_).substr(left_off_, cap);
      (void)runtime::guest_write_charged(c, buf, rest);
      left_off_ += rest.size();
      return ret(c, static_cast<int32_t>(rest.size()));
    }
    if (body_error_ != 0) {
      return ret(c, body_error_);
    }
    if (body_done_ || !request().has_body()) {
      body_done_ = true;
      return ret(c, 0);
    }
    note_pid(p);
    op_ = Op::kRead;
    op_buf_ = buf;
    op_cap_ = cap;
    pend_->done.store(false, std::memory_order_relaxed);
    ex_->read_body(
        [pend = pend_](net::Errc e, std::string chunk) { pend->complete(e, std::move(chunk)); });
    return p.suspend(this);
  }

  // ---- responses
  int32_t start(int status, net::Headers headers, std::optional<uint64_t> length) {
    if (resp_ != Resp::kNone) {
      return runtime::kErrBadState;
    }
    resp_ = Resp::kStarted;
    declared_ = length;
    ex_->start(status, std::move(headers), length);
    return runtime::kOk;
  }
  int32_t start_events(net::Headers headers) {
    if (resp_ != Resp::kNone) {
      return runtime::kErrBadState;
    }
    resp_ = Resp::kEvents;
    ex_->start_events(std::move(headers));
    return runtime::kOk;
  }
  int32_t respond(int status, net::Headers headers, std::string body) {
    if (resp_ != Resp::kNone) {
      return runtime::kErrBadState;
    }
    resp_ = Resp::kFinished;
    ex_->respond(status, std::move(headers), std::move(body));
    return runtime::kOk;
  }
  int32_t finish() {
    if (pend_->ahead_errc.load(std::memory_order_acquire) != 0) {
      resp_ = Resp::kGone;  // a write that did not wait failed
    }
    if (resp_ == Resp::kGone) {
      return runtime::kErrClosed;
    }
    if (resp_ != Resp::kStarted && resp_ != Resp::kEvents) {
      return runtime::kErrBadState;
    }
    if (declared_ && written_ < *declared_) {
      return runtime::kErrBadState;  // the response stays open: write the rest
    }
    resp_ = Resp::kFinished;
    ex_->finish();
    return runtime::kOk;
  }
  // The error a write would get now, or kOk.
  int32_t can_write(uint64_t len, bool events) const {
    if (resp_ == Resp::kGone) {
      return runtime::kErrClosed;
    }
    if (events ? resp_ != Resp::kEvents : (resp_ != Resp::kStarted && resp_ != Resp::kEvents)) {
      return runtime::kErrBadState;
    }
    if (declared_ && written_ + len > *declared_) {
      return runtime::kErrBadState;  // more than the Content-Length given to start
    }
    return runtime::kOk;
  }
  // Sends `data`: returns at once within the write-ahead bounds (routes.h),
  // else suspends until the connection took it (back-pressure).
  HostAction write(HostCall& c, Process& p, std::string data) {
    if (uint8_t e = pend_->ahead_errc.load(std::memory_order_acquire); e != 0) {
      resp_ = Resp::kGone;
      return ret(c, abi_error(static_cast<net::Errc>(e)));
    }
    written_ += data.size();
    const auto n = static_cast<int64_t>(data.size());
    if (pend_->ahead_ops.load(std::memory_order_relaxed) < kWriteAheadOps &&
        pend_->ahead_bytes.load(std::memory_order_relaxed) + n <= kWriteAheadBytes) {
      pend_->ahead_ops.fetch_add(1, std::memory_order_relaxed);
      pend_->ahead_bytes.fetch_add(n, std::memory_order_relaxed);
      ex_->write(std::move(data), [pend = pend_, n](net::Errc e) {
        if (e != net::Errc::kOk) {
          uint8_t none = 0;
          pend->ahead_errc.compare_exchange_strong(none, static_cast<uint8_t>(e));
        }
        pend->ahead_bytes.fetch_sub(n, std::memory_order_relaxed);
        pend->ahead_ops.fetch_sub(1, std::memory_order_release);
      });
      return ret(c, runtime::kOk);
    }
    note_pid(p);
    op_ = Op::kWrite;
    pend_->done.store(false, std::memory_order_relaxed);
    ex_->write(std::move(data), [pend = pend_](net::Errc e) { pend->complete(e); });
    return p.suspend(this);
  }

  // ---- Suspension
  Wait wait(Process&) override { return Wait::event(); }

  Resumed resume(Process& p, otp::Context&) override {
    if (!pend_->done.load(std::memory_order_acquire)) {
      return Resumed::kWait;  // a stale wake
    }
    int32_t result = abi_error(pend_->errc);
    if (op_ == Op::kRead) {
      if (result != runtime::kOk) {
        body_error_ = result;
      } else if (pend_->chunk.empty()) {
        body_done_ = true;
      } else {
        left_ = std::move(pend_->chunk);
        pend_->chunk.clear();
        size_t n = std::min<size_t>(op_cap_, left_.size());
        wasm::Memory* m = p.memory();
        if (m == nullptr || !m->write(op_buf_, left_.data(), n)) {
          result = runtime::kErrBadArg;  // checked at the call; memory never shrinks
          n = 0;
        } else {
          result = static_cast<int32_t>(n);
        }
        left_off_ = n;
      }
    } else if (result != runtime::kOk) {
      resp_ = Resp::kGone;
    }
    op_ = Op::kNone;
    wasm::Value v = wasm::Value::i32(static_cast<uint32_t>(result));
    (void)p.execution().set_host_results({&v, 1});
    return Resumed::kContinue;
  }

 private:
  enum class Op : uint8_t { kNone, kRead, kWrite };

  static HostAction ret(HostCall& c, int32_t v) {
    c.set_result_i32(0, static_cast<uint32_t>(v));
    return HostAction::kReturn;
  }

  // The process is gone: finish what it completed, fail what it did not.
  void end_exchange() {
    if (resp_ == Resp::kFinished || ex_->ended()) {
      return;
    }
    if (!failure_.empty()) {
      // One error_log line (the core's) names the route, the request and this.
      ex_->fail("handler process ended: " + failure_);
      return;
    }
    if (resp_ == Resp::kNone) {
      if (body_error_ == runtime::kErrTooLarge) {
        ex_->respond(413, {{"Content-Type", "text/plain; charset=utf-8"}},
                     "request body too large\n");
        return;
      }
      ex_->fail("handler ended without a response");
      return;
    }
    if (resp_ == Resp::kGone) {
      return;
    }
    if (declared_ && written_ < *declared_) {
      ex_->fail("handler ended after " + std::to_string(written_) + " of " +
                std::to_string(*declared_) + " body bytes");
      return;
    }
    ex_->finish();  // a chunked response or an event stream ends with its process
  }

  std::shared_ptr<net::Exchange> ex_;
  std::shared_ptr<Pending> pend_;
  Resp resp_ = Resp::kNone;
  bool exited_ = false;
  bool pid_noted_ = false;
  bool body_done_ = false;
  int32_t body_error_ = 0;
  std::optional<uint64_t> declared_;
  uint64_t written_ = 0;
  std::string left_;  // the last body chunk; left_off_ bytes of it are consumed
  size_t left_off_ = 0;
  Op op_ = Op::kNone;
  uint32_t op_buf_ = 0;
  uint32_t op_cap_ = 0;
  std::string failure_;  // the exit reason, if not normal
};

// ---- host functions (module `rusm`) --------------------------------------

HostAction ret32(HostCall& c, int32_t v) {
  c.set_result_i32(0, static_cast<uint32_t>(v));
  return HostAction::kReturn;
}

HttpRequest* request_of(HostCall& c, Process& p) {
  return p.resources().get<HttpRequest>(static_cast<int32_t>(c.arg_i32(0)));
}

// (req, buf, cap) -> len: one field of the request head.
template <std::string_view (*Field)(const net::Request&)>
HostAction copy_field(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  return ret32(c, runtime::guest_copy_out(c, c.arg_i32(1), c.arg_i32(2), Field(r->request())));
}

std::string_view field_method(const net::Request& r) {
  return r.method;
}
std::string_view field_target(const net::Request& r) {
  return r.target;
}
std::string_view field_path(const net::Request& r) {
  return r.path;
}
std::string_view field_query(const net::Request& r) {
  return r.query;
}
std::string_view field_peer(const net::Request& r) {
  return r.peer;
}

HostAction http_headers(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  std::string all;
  for (const net::Header& h : r->request().headers) {
    all += h.first;
    all += ": ";
    all += h.second;
    all += '\n';
  }
  return ret32(c, runtime::guest_copy_out(c, c.arg_i32(1), c.arg_i32(2), all));
}

// (req, name_ptr, name_len, buf, cap) -> len | ENOTFOUND
template <bool kParam>
HostAction lookup(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  std::optional<std::string_view> name = runtime::guest_bytes(c, c.arg_i32(1), c.arg_i32(2));
  if (r == nullptr || !name) {
    return ret32(c, runtime::kErrBadArg);
  }
  const std::string* v = kParam ? r->request().param(*name) : r->request().header(*name);
  if (v == nullptr) {
    return ret32(c, runtime::kErrNotFound);
  }
  return ret32(c, runtime::guest_copy_out(c, c.arg_i32(3), c.arg_i32(4), *v));
}

HostAction http_read(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  return r->read(c, p, c.arg_i32(1), c.arg_i32(2));
}

// The headers at (ptr, len), or nullopt if out of bounds or malformed.
std::optional<net::Headers> headers_arg(HostCall& c, uint32_t ptr, uint32_t len) {
  std::optional<std::string_view> text = runtime::guest_bytes_charged(c, ptr, len);
  net::Headers h;
  if (!text || !parse_headers(*text, h)) {
    return std::nullopt;
  }
  return h;
}

bool valid_status(int32_t s) {
  return s >= 200 && s <= 999;
}

// (req, status, headers_ptr, headers_len, content_length: i64) -> i32
HostAction http_start(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  int32_t status = static_cast<int32_t>(c.arg_i32(1));
  int64_t length = static_cast<int64_t>(c.arg_i64(4));
  if (r == nullptr || !valid_status(status) || length < -1) {
    return ret32(c, runtime::kErrBadArg);
  }
  std::optional<net::Headers> h = headers_arg(c, c.arg_i32(2), c.arg_i32(3));
  if (!h) {
    return ret32(c, runtime::kErrBadArg);
  }
  std::optional<uint64_t> cl;
  if (length >= 0) {
    cl = static_cast<uint64_t>(length);
  }
  return ret32(c, r->start(status, std::move(*h), cl));
}

// (req, ptr, len) -> 0 | error; suspends until the bytes are taken.
HostAction http_write(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  uint32_t len = c.arg_i32(2);
  if (int32_t e = r->can_write(len, false); e != runtime::kOk) {
    return ret32(c, e);
  }
  std::optional<std::string_view> data = runtime::guest_bytes_charged(c, c.arg_i32(1), len);
  if (!data) {
    return ret32(c, runtime::kErrBadArg);
  }
  if (data->empty()) {
    return ret32(c, runtime::kOk);
  }
  return r->write(c, p, std::string(*data));
}

HostAction http_finish(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  return ret32(c, r->finish());
}

// (req, status, headers_ptr, headers_len, body_ptr, body_len) -> i32
HostAction http_respond(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  int32_t status = static_cast<int32_t>(c.arg_i32(1));
  if (r == nullptr || !valid_status(status)) {
    return ret32(c, runtime::kErrBadArg);
  }
  std::optional<net::Headers> h = headers_arg(c, c.arg_i32(2), c.arg_i32(3));
  std::optional<std::string_view> body =
      runtime::guest_bytes_charged(c, c.arg_i32(4), c.arg_i32(5));
  if (!h || !body) {
    return ret32(c, runtime::kErrBadArg);
  }
  return ret32(c, r->respond(status, std::move(*h), std::string(*body)));
}

// (req, headers_ptr, headers_len) -> i32
HostAction http_start_events(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  std::optional<net::Headers> h = headers_arg(c, c.arg_i32(1), c.arg_i32(2));
  if (!h) {
    return ret32(c, runtime::kErrBadArg);
  }
  return ret32(c, r->start_events(std::move(*h)));
}

// (req, event_ptr, event_len, data_ptr, data_len) -> 0 | error; suspends
// like http_write.
HostAction http_send_event(HostCall& c) {
  Process& p = Process::of(c);
  HttpRequest* r = request_of(c, p);
  if (r == nullptr) {
    return ret32(c, runtime::kErrBadArg);
  }
  std::optional<std::string_view> event = runtime::guest_bytes(c, c.arg_i32(1), c.arg_i32(2));
  std::optional<std::string_view> data =
      runtime::guest_bytes_charged(c, c.arg_i32(3), c.arg_i32(4));
  if (!event || !data ||
      event->find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return ret32(c, runtime::kErrBadArg);
  }
  if (int32_t e = r->can_write(0, true); e != runtime::kOk) {
    return ret32(c, e);
  }
  return r->write(c, p, format_event(*event, *data));
}

// ---- the route's handler --------------------------------------------------

class HttpHandler final : public net::Handler {
 public:
  explicit HttpHandler(const RouteContext& ctx)
      : rt_(*ctx.runtime), spec_(ctx.spec), route_(ctx.route->name), error_log_(ctx.error_log) {
    spec_.args = {static_cast<uint64_t>(runtime::ResourceTable::kFirstHandle)};
    spec_.record_outcome = false;
  }

  // On the connection's strand, as is the cancel hook: the hook cannot run
  // before the pid is stored below.
  void handle(std::shared_ptr<net::Exchange> ex) override {
    auto pend = std::make_shared<Pending>(rt_.node());
    ex->on_cancel([pend](net::Errc) { pend->cancel(); });
    pend->spawning.store(true, std::memory_order_relaxed);
    Result<otp::Spawned> s = rt_.spawn(spec_, std::make_unique<HttpRequest>(ex, pend));
    pend->spawning.store(false, std::memory_order_release);
    if (!s) {
      if (error_log_) {
        error_log_("route \"" + route_ + "\": cannot start a handler process: " + s.message());
      }
      ex->respond(503, {{"Retry-After", "1"}, {"Content-Type", "text/plain; charset=utf-8"}},
                  "service unavailable\n");
      return;
    }
    pend->pid.store(s->pid.bits(), std::memory_order_release);
  }

 private:
  runtime::Runtime& rt_;
  runtime::ProcessSpec spec_;
  std::string route_;
  std::function<void(const std::string&)> error_log_;
};

}  // namespace

Status add_http_functions(runtime::Runtime& rt) {
  const HostFn fns[] = {
      {"http_method", copy_field<field_method>},
      {"http_target", copy_field<field_target>},
      {"http_path", copy_field<field_path>},
      {"http_query", copy_field<field_query>},
      {"http_peer", copy_field<field_peer>},
      {"http_headers", http_headers},
      {"http_header", lookup<false>},
      {"http_param", lookup<true>},
      {"http_read", http_read},
      {"http_start", http_start},
      {"http_write", http_write},
      {"http_finish", http_finish},
      {"http_respond", http_respond},
      {"http_start_events", http_start_events},
      {"http_send_event", http_send_event},
  };
  return add_rusm_functions(rt, fns);
}

Result<std::shared_ptr<net::Handler>> make_http_handler(const RouteContext& ctx) {
  if (ctx.runtime == nullptr || ctx.route == nullptr) {
    return Error("http route without a runtime");
  }
  return std::shared_ptr<net::Handler>(std::make_shared<HttpHandler>(ctx));
}

}  // namespace rusm::serve
