// Route kind cgi (see routes.h): any WASI preview 1 command answers HTTP
// requests in the CGI convention (RFC 3875, as WAGI does). Per request, a
// fresh sandboxed process gets the request's meta-variables as its
// environment, the request body on stdin, and writes the response to stdout:
// a CGI header block (Status, Content-Type, Location, other fields), a blank
// line, then the body, which is streamed to the client as it is written.
// stderr goes to the error log, line by line, never to the client.
//
// The process's stdio are wasi::Streams (StdioMode::kStream) backed by one
// CgiRequest: a read of stdin that finds no body bytes, or a write of stdout
// while the connection's write buffer is full, suspends the process (never
// the worker) until the Exchange's completion wakes it (otp::Node::wake).
//
// Ends are tied both ways: the exchange's cancel hook (deadline -> 504, the
// client gone, shutdown) kills the process; the process's end (the
// request's Resource hears it) finishes the response, or answers 500/502
// when the program failed before its header block, or aborts the
// connection when it failed after.
//
// Thread-safety: CgiRequest is shared by the process (its streams and its
// Resource, called on the worker running the process, the only place guest
// memory is touched) and the Exchange's completions (on the connection's
// strand); its state is under a mutex, and no Exchange method is called
// while holding it (a call may complete or cancel inline).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "serve/routes.h"

namespace rusm::serve {

namespace {

// Bounds on what a program makes the node hold.
constexpr size_t kMaxHeaderBlockBytes = 16 * 1024;  // CGI header block -> 502 past it
constexpr size_t kMaxStderrLineBytes = 1024;        // longer lines are cut
constexpr int kMaxStderrLines = 100;                // per request; the rest is counted

std::string upper_env_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char ch : name) {
    out += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hexval(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

// RFC 3875 wants SCRIPT_NAME and PATH_INFO decoded; a bad escape stays as is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "host:port" / "[v6]:port" -> host, port.
void split_host_port(std::string_view hp, std::string* host, std::string* port) {
  if (hp.empty()) {
    host->clear();
    port->clear();
    return;
  }
  size_t colon = hp.rfind(':');
  if (colon != std::string_view::npos && hp.find(']', colon) == std::string_view::npos &&
      (hp.front() == '[' || hp.find(':') == colon)) {
    *host = std::string(hp.substr(0, colon));
    *port = std::string(hp.substr(colon + 1));
  } else {
    *host = std::string(hp);
    port->clear();
  }
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
}

// The request's meta-variables (RFC 3875 section 4.1), and nothing of the
// host's environment.
std::vector<std::string> cgi_env(const net::Request& rq, const net::RouteConfig& route,
                                 uint64_t body_length) {
  std::vector<std::string> env;
  env.reserve(16 + rq.headers.size() + rq.params.size());
  auto set = [&](std::string_view name, std::string_view value) {
    std::string e;
    e.reserve(name.size() + 1 + value.size());
    e.append(name).append("=").append(value);
    env.push_back(std::move(e));
  };
  set("GATEWAY_INTERFACE", "CGI/1.1");
  set("SERVER_SOFTWARE", "rusm");
  set("SERVER_PROTOCOL", rq.version == 10 ? "HTTP/1.0" : "HTTP/1.1");
  set("REQUEST_METHOD", rq.method);
  set("REQUEST_URI", rq.target);
  set("QUERY_STRING", rq.query);
  std::string script, path_info;
  if (route.prefix) {
    script = route.path;
    while (!script.empty() && script.back() == '/') {
      script.pop_back();
    }
    const std::string* rest = rq.param("*");
    path_info = route.path.substr(script.size()) + (rest != nullptr ? *rest : std::string());
  } else {
    script = percent_decode(rq.path);
  }
  set("SCRIPT_NAME", script);
  set("PATH_INFO", path_info);
  if (rq.has_body()) {
    set("CONTENT_LENGTH", std::to_string(body_length));
  }
  if (const std::string* ct = rq.header("Content-Type")) {
    set("CONTENT_TYPE", *ct);
  }
  std::string host, port;
  if (const std::string* h = rq.header("Host"); h != nullptr && !h->empty()) {
    split_host_port(*h, &host, &port);
  }
  // RFC 3875 4.1.15: SERVER_PORT is the port the request came in on (the
  // socket's, not what the client wrote in Host, which a proxy may rewrite).
  std::string laddr, lport;
  split_host_port(rq.local, &laddr, &lport);
  set("SERVER_NAME", !host.empty() ? host : !laddr.empty() ? laddr : "localhost");
  set("SERVER_PORT", !lport.empty() ? lport : !port.empty() ? port : (rq.tls.on ? "443" : "80"));
  if (!laddr.empty()) {
    set("SERVER_ADDR", laddr);
  }
  std::string raddr, rport;
  split_host_port(rq.peer, &raddr, &rport);
  set("REMOTE_ADDR", raddr);
  set("REMOTE_PORT", rport);
  if (rq.tls.on) {
    set("HTTPS", "on");
  }
  set("REQUEST_SCHEME", rq.tls.on ? "https" : "http");
  // HTTP_*: one variable per header name, repeated headers joined with ", ".
  std::vector<std::pair<std::string, std::string>> http;
  for (const net::Header& h : rq.headers) {
    // "Proxy" would become HTTP_PROXY, which many HTTP libraries take as
    // their proxy setting (httpoxy, CVE-2016-5385): never passed.
    if (iequals(h.first, "Content-Length") || iequals(h.first, "Content-Type") ||
        iequals(h.first, "Proxy")) {
      continue;
    }
    std::string name = "HTTP_" + upper_env_name(h.first);
    auto it =
        std::find_if(http.begin(), http.end(), [&](const auto& p) { return p.first == name; });
    if (it != http.end()) {
      it->second += ", ";
      it->second += h.second;
    } else {
      http.emplace_back(std::move(name), h.second);
    }
  }
  for (const auto& [name, value] : http) {
    set(name, value);
  }
  for (const auto& [name, value] : rq.params) {
    if (name != "*") {
      set("RUSM_PARAM_" + upper_env_name(name), value);
    }
  }
  return env;
}

// A parsed CGI header block.
struct CgiHead {
  int status = 200;
  net::Headers headers;
  std::optional<uint64_t> content_length;
};

bool is_token_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) ||
         std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
}

// Parses a header block: the lines up to the blank line ending it, each
// ended by LF or CRLF. Error: what was wrong, for the error log.
Result<CgiHead> parse_head(std::string_view block) {
  std::vector<std::string_view> lines;
  while (!block.empty()) {
    size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block.remove_prefix(nl == std::string_view::npos ? block.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      break;  // the blank line
    }
    lines.push_back(line);
  }
  CgiHead head;
  bool has_status = false, has_location = false;
  if (lines.empty()) {
    return Error("empty CGI header block");
  }
  for (std::string_view line : lines) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Error("bad CGI header line \"" + std::string(line.substr(0, 80)) + "\"");
    }
    std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) {
      return Error("bad CGI header name \"" + std::string(name.substr(0, 80)) + "\"");
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    if (value.find('\0') != std::string_view::npos) {
      return Error("NUL in CGI header \"" + std::string(name) + "\"");
    }
    if (iequals(name, "Status")) {
      // "404" or "404 Not Found": the core writes its own reason phrase.
      if (value.size() < 3 || !std::isdigit(static_cast<unsigned char>(value[0])) ||
          !std::isdigit(static_cast<unsigned char>(value[1])) ||
          !std::isdigit(static_cast<unsigned char>(value[2])) ||
          (value.size() > 3 && value[3] != ' ')) {
        return Error("bad CGI Status \"" + std::string(value.substr(0, 80)) + "\"");
      }
      head.status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
      if (head.status < 100 || head.status > 599) {
        return Error("bad CGI Status \"" + std::string(value.substr(0, 80)) + "\"");
      }
      has_status = true;
      continue;
    }
    if (iequals(name, "Content-Length")) {
      uint64_t n = 0;
      if (value.empty() || value.size() > 19 ||
          !std::all_of(value.begin(), value.end(),
                       [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
        return Error("bad CGI Content-Length \"" + std::string(value.substr(0, 80)) + "\"");
      }
      for (char ch : value) {
        n = n * 10 + static_cast<uint64_t>(ch - '0');
      }
      head.content_length = n;
      continue;
    }
    if (iequals(name, "Location")) {
      has_location = true;
    }
    head.headers.emplace_back(std::string(name), std::string(value));
  }
  if (has_location && !has_status) {
    // A client redirect (RFC 3875 6.2.3). A local redirect (a path, to be
    // served by the server itself) is not supported yet: it is sent to the
    // client as a redirect too.
    head.status = 302;
  }
  return head;
}

// One request's state, shared by its process and its Exchange (see top).
class CgiRequest : public std::enable_shared_from_this<CgiRequest> {
 public:
  CgiRequest(std::shared_ptr<net::Exchange> ex, const net::RouteConfig* route,
             std::function<void(const std::string&)> error_log, otp::Node* node,
             boost::asio::io_context* ioc)
      : ex_(std::move(ex)),
        route_(route),
        error_log_(std::move(error_log)),
        node_(node),
        ioc_(ioc) {}

  // ---- From the handler (on the strand).

  void set_pid(otp::Pid pid) {
    std::lock_guard<std::mutex> lock(mu_);
    pid_ = pid;
    has_pid_ = true;
  }

  // Body bytes read ahead of the process (a chunked body, read whole so that
  // CONTENT_LENGTH is exact).
  void preload_body(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    in_ = std::move(body);
    in_eof_ = true;
  }

  // Starts reading the body before the process asks (saves a round trip).
  void prefetch_body() { start_read(); }

  // The exchange's cancel hook: the deadline passed (the client got 504),
  // the client left, or the server stopped. Ends the process.
  void cancelled(net::Errc why) {
    bool kill = false;
    otp::Pid pid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (phase_ != Phase::kDone) {
        phase_ = Phase::kDone;
        ex_.reset();
      }
      kill = has_pid_ && !exited_;
      pid = pid_;
      in_waker_ = nullptr;  // the process is killed, not woken
      out_waker_ = nullptr;
    }
    if (kill) {
      node_->exit(pid, otp::ExitReason::kill());
      if (why == net::Errc::kCancelled) {
        log("CGI program killed: the exchange was cancelled (deadline or shutdown)");
      }
    }
  }

  // ---- stdin (on the process's worker).

  int64_t read(std::span<uint8_t> out) {
    bool fetch = false;
    int64_t r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (in_pos_ < in_.size()) {
        size_t k = std::min(out.size(), in_.size() - in_pos_);
        std::memcpy(out.data(), in_.data() + in_pos_, k);
        in_pos_ += k;
        if (in_pos_ == in_.size()) {
          in_.clear();
          in_pos_ = 0;
          fetch = !in_eof_ && !in_error_;
        }
        r = static_cast<int64_t>(k);
      } else if (in_error_) {
        r = wasi::Stream::kBroken;
      } else if (in_eof_) {
        r = 0;
      } else {
        fetch = true;
        r = wasi::Stream::kWouldBlock;
      }
    }
    if (fetch) {
      start_read();
    }
    return r;
  }

  wasi::Stream::Readiness in_readiness() {
    std::lock_guard<std::mutex> lock(mu_);
    wasi::Stream::Readiness r;
    r.nbytes = in_.size() - in_pos_;
    r.hangup = r.nbytes == 0 && (in_eof_ || in_error_);
    r.ready = r.nbytes > 0 || r.hangup;
    return r;
  }

  void in_notify(std::function<void()> wake) {
    bool ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready = in_pos_ < in_.size() || in_eof_ || in_error_;
      if (!ready) {
        in_waker_ = std::move(wake);
      }
    }
    if (ready) {
      wake();
      return;
    }
    start_read();
  }

  // ---- stdout (on the process's worker).

  int64_t write(std::span<const uint8_t> data) {
    Actions a;
    int64_t r =
        write_locked(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), &a);
    run(a);
    return r;
  }

  wasi::Stream::Readiness out_readiness() {
    std::lock_guard<std::mutex> lock(mu_);
    wasi::Stream::Readiness r;
    r.hangup = phase_ == Phase::kDone;
    r.ready = r.hangup || phase_ == Phase::kHeaders || out_.size() < buffer_bytes();
    return r;
  }

  void out_notify(std::function<void()> wake) {
    bool ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready = phase_ != Phase::kBody || out_.size() < buffer_bytes();
      if (!ready) {
        out_waker_ = std::move(wake);
      }
    }
    if (ready) {
      wake();
    }
  }

  // ---- stderr (on the process's worker; only the process touches it).

  void write_stderr(std::string_view data) {
    for (char ch : data) {
      if (ch == '\n') {
        flush_stderr_line();
      } else if (err_line_.size() < kMaxStderrLineBytes) {
        err_line_ += ch;
      } else {
        err_cut_ = true;
      }
    }
  }

  // ---- The process ended (its Resource hears it, on a worker).

  void process_ended(const otp::ExitReason& reason) {
    if (!err_line_.empty() || err_cut_) {
      flush_stderr_line();
    }
    if (err_lines_ > kMaxStderrLines) {
      log("stderr: " + std::to_string(err_lines_ - kMaxStderrLines) + " more lines dropped");
    }
    Actions a;
    std::string failure;
    {
      std::lock_guard<std::mutex> lock(mu_);
      exited_ = true;
      in_waker_ = nullptr;
      out_waker_ = nullptr;
      if (phase_ == Phase::kDone) {
        return;  // answered already, or cancelled
      }
      if (reason.is_normal()) {
        if (phase_ == Phase::kHeaders) {
          failure = "the CGI program ended without a complete header block";
          answer_locked(502, "502 Bad Gateway: the CGI program sent no header block\n", &a);
        } else if (!writing_) {
          a.finish = true;
          done_locked(&a);
        } else {
          finish_after_ = true;  // after the last write completes
        }
      } else {
        std::string why = reason.to_string();
        failure = "CGI program failed: " + why;
        if (phase_ == Phase::kHeaders) {
          bool exit_code = reason.detail().rfind("exit code", 0) == 0;
          if (exit_code) {
            answer_locked(502, "502 Bad Gateway: the CGI program failed\n", &a);
          } else {
            answer_locked(500, "500 Internal Server Error: the CGI program crashed\n", &a);
          }
        } else {
          a.fail = why;
          done_locked(&a);
        }
      }
    }
    if (!failure.empty()) {
      log(failure);
    }
    run(a);
  }

 private:
  enum class Phase : uint8_t {
    kHeaders,  // reading the CGI header block from stdout
    kBody,     // streaming the body
    kDone,     // the response is over for us (finished, failed or cancelled)
  };

  // Exchange calls decided under the lock, made after it.
  struct Actions {
    std::shared_ptr<net::Exchange> ex;
    std::optional<CgiHead> start;
    std::string write;
    bool do_write = false;
    bool finish = false;
    std::optional<std::string> fail;
    std::optional<CgiHead> respond;  // start + write(body) + finish, in one go
    std::string body;
    bool post_flush = false;
    bool kill = false;
    otp::Pid pid;
    std::function<void()> wake;
  };

  size_t buffer_bytes() const { return 64 * 1024; }

  void log(const std::string& what) {
    if (error_log_) {
      error_log_("route \"" + route_->name + "\": " + what);
    }
  }

  void flush_stderr_line() {
    ++err_lines_;
    if (err_lines_ <= kMaxStderrLines) {
      log("stderr: " + err_line_ + (err_cut_ ? " [cut]" : ""));
    }
    err_line_.clear();
    err_cut_ = false;
  }

  // The response is over for us: drop the exchange (so the connection can
  // reuse it), end the process if it still runs.
  void done_locked(Actions* a) {
    phase_ = Phase::kDone;
    a->ex = ex_;
    ex_.reset();
    a->wake = std::move(out_waker_);
    if (has_pid_ && !exited_) {
      a->kill = true;
      a->pid = pid_;
    }
  }

  void answer_locked(int status, std::string body, Actions* a) {
    CgiHead head;
    head.status = status;
    head.headers = {{"Content-Type", "text/plain"}};
    a->respond = std::move(head);
    a->body = std::move(body);
    done_locked(a);
  }

  int64_t write_locked(std::string_view data, Actions* a) {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::kDone) {
      return wasi::Stream::kBroken;
    }
    size_t taken = 0;
    if (phase_ == Phase::kHeaders) {
      size_t room = kMaxHeaderBlockBytes - head_.size();
      size_t k = std::min(room, data.size());
      head_.append(data.substr(0, k));
      std::optional<size_t> end = scan_head();
      if (!end) {
        if (head_.size() >= kMaxHeaderBlockBytes) {
          log("CGI header block over " + std::to_string(kMaxHeaderBlockBytes) + " bytes");
          answer_locked(502, "502 Bad Gateway: CGI header block too large\n", a);
          return wasi::Stream::kBroken;
        }
        return static_cast<int64_t>(k);
      }
      // The block ends inside this write: what follows it is body.
      size_t body_in_head = head_.size() - *end;
      taken = k - body_in_head;
      head_.resize(*end);
      Result<CgiHead> head = parse_head(head_);
      head_.clear();
      head_.shrink_to_fit();
      if (!head) {
        log(head.error().message());
        answer_locked(502, "502 Bad Gateway: bad CGI header block\n", a);
        return wasi::Stream::kBroken;
      }
      // The start is deferred to a task on the event loop (flush_start):
      // a program that writes its whole response at once and ends is
      // usually done by then, and gets one respond() with a Content-Length
      // (one send) instead of start, write and finish.
      pending_head_ = std::move(*head);
      phase_ = Phase::kBody;
      writing_ = true;
      a->post_flush = true;
      data = data.substr(taken);
      if (data.empty()) {
        return static_cast<int64_t>(taken);
      }
    }
    // kBody: into the buffer, up to its bound; one write in flight at a time.
    if (out_.size() >= buffer_bytes()) {
      return taken > 0 ? static_cast<int64_t>(taken) : wasi::Stream::kWouldBlock;
    }
    size_t k = std::min(data.size(), buffer_bytes() - out_.size());
    out_.append(data.substr(0, k));
    if (!writing_) {
      writing_ = true;
      a->ex = ex_;
      a->write = std::move(out_);
      a->do_write = true;
      out_.clear();
    }
    return static_cast<int64_t>(taken + k);
  }

  // The offset just after the blank line ending the header block in head_,
  // if it is there yet; scans each byte once across writes.
  std::optional<size_t> scan_head() {
    for (;;) {
      size_t nl = head_.find('\n', scan_pos_);
      if (nl == std::string::npos) {
        return std::nullopt;
      }
      size_t len = nl - scan_pos_;
      if (len > 0 && head_[nl - 1] == '\r') {
        --len;
      }
      scan_pos_ = nl + 1;
      if (len == 0) {
        return scan_pos_;
      }
    }
  }

  void start_read() {
    std::shared_ptr<net::Exchange> ex;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reading_ || in_eof_ || in_error_ || exited_ || !ex_ ||
          in_.size() - in_pos_ >= buffer_bytes()) {
        return;
      }
      reading_ = true;
      ex = ex_;
    }
    ex->read_body([self = shared_from_this()](net::Errc e, std::string chunk) {
      self->on_body(e, std::move(chunk));
    });
  }

  // A read_body completion (on the strand).
  void on_body(net::Errc e, std::string chunk) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      if (e != net::Errc::kOk) {
        in_error_ = true;
      } else if (chunk.empty()) {
        in_eof_ = true;
      } else if (in_pos_ == in_.size()) {
        in_ = std::move(chunk);
        in_pos_ = 0;
      } else {
        in_ += chunk;
      }
      wake = std::move(in_waker_);
    }
    if (wake) {
      wake();
    }
  }

  // The deferred start of the response (on the event loop): all at once if
  // the program has ended meanwhile, else the status and headers and what
  // the body has so far.
  void flush_start() {
    Actions a;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (phase_ == Phase::kDone || !pending_head_) {
        return;
      }
      CgiHead head = std::move(*pending_head_);
      pending_head_.reset();
      if (finish_after_ && (!head.content_length || *head.content_length == out_.size())) {
        a.respond = std::move(head);
        a.body = std::move(out_);
        out_.clear();
        done_locked(&a);
      } else {
        // The start, then what the body has so far, in order: the token
        // (writing_) stays taken until the last of them completes, so no
        // other thread issues a write ahead of the start.
        a.ex = ex_;
        a.start = std::move(head);
        writing_ = true;
        if (!out_.empty()) {
          a.write = std::move(out_);
          a.do_write = true;
          out_.clear();
        }
        a.wake = std::move(out_waker_);
      }
    }
    run(a);
  }

  // The completion of the last start or write issued (on the strand).
  void on_written(net::Errc e) {
    Actions a;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (phase_ == Phase::kDone) {
        return;
      }
      if (e != net::Errc::kOk) {
        out_.clear();
        done_locked(&a);  // the exchange is over; the process goes with it
      } else if (!out_.empty()) {
        writing_ = true;
        a.ex = ex_;
        a.write = std::move(out_);
        a.do_write = true;
        out_.clear();
        a.wake = std::move(out_waker_);
      } else if (finish_after_) {
        a.finish = true;
        done_locked(&a);
      } else {
        a.wake = std::move(out_waker_);
      }
    }
    run(a);
  }

  void run(Actions& a) {
    if (a.ex) {
      if (a.start) {
        net::Completion started;
        if (!a.do_write) {
          started = [self = shared_from_this()](net::Errc e) { self->on_written(e); };
        }
        a.ex->start(a.start->status, std::move(a.start->headers), a.start->content_length,
                    std::move(started));
      }
      if (a.do_write) {
        a.ex->write(std::move(a.write),
                    [self = shared_from_this()](net::Errc e) { self->on_written(e); });
      }
      if (a.respond) {
        a.ex->respond(a.respond->status, std::move(a.respond->headers), std::move(a.body));
      }
      if (a.fail) {
        a.ex->fail(*a.fail);
      }
      if (a.finish) {
        a.ex->finish();
      }
    }
    if (a.post_flush) {
      boost::asio::post(*ioc_, [self = shared_from_this()] { self->flush_start(); });
    }
    if (a.kill) {
      node_->exit(a.pid, otp::ExitReason::kill());
    }
    if (a.wake) {
      a.wake();
    }
  }

  std::mutex mu_;
  std::shared_ptr<net::Exchange> ex_;  // null once the response is over for us
  const net::RouteConfig* route_;
  std::function<void(const std::string&)> error_log_;
  otp::Node* node_;
  boost::asio::io_context* ioc_;  // the node's event loop
  otp::Pid pid_;
  bool has_pid_ = false;
  bool exited_ = false;
  Phase phase_ = Phase::kHeaders;

  // stdin
  std::string in_;
  size_t in_pos_ = 0;
  bool in_eof_ = false;
  bool in_error_ = false;
  bool reading_ = false;  // a read_body is in flight
  std::function<void()> in_waker_;

  // stdout
  std::string head_;  // the header block so far
  size_t scan_pos_ = 0;
  std::optional<CgiHead> pending_head_;  // parsed, not yet started (flush_start)
  std::string out_;                      // body bytes not yet handed to the exchange
  bool writing_ = false;                 // an Exchange::write (or the deferred start) is in flight
  bool finish_after_ = false;
  std::function<void()> out_waker_;

  // stderr (process thread only)
  std::string err_line_;
  bool err_cut_ = false;
  int err_lines_ = 0;
};

class StdinStream final : public wasi::Stream {
 public:
  explicit StdinStream(std::shared_ptr<CgiRequest> r) : r_(std::move(r)) {}
  int64_t read(std::span<uint8_t> out) override { return r_->read(out); }
  Readiness readiness(bool writing) override {
    return writing ? Readiness{false, 0, true} : r_->in_readiness();
  }
  void notify(bool writing, std::function<void()> wake) override {
    if (writing) {
      wake();
    } else {
      r_->in_notify(std::move(wake));
    }
  }

 private:
  std::shared_ptr<CgiRequest> r_;
};

class StdoutStream final : public wasi::Stream {
 public:
  explicit StdoutStream(std::shared_ptr<CgiRequest> r) : r_(std::move(r)) {}
  int64_t write(std::span<const uint8_t> data) override { return r_->write(data); }
  Readiness readiness(bool writing) override {
    return writing ? r_->out_readiness() : Readiness{true, 0, true};
  }
  void notify(bool writing, std::function<void()> wake) override {
    if (writing) {
      r_->out_notify(std::move(wake));
    } else {
      wake();
    }
  }

 private:
  std::shared_ptr<CgiRequest> r_;
};

class StderrStream final : public wasi::Stream {
 public:
  explicit StderrStream(std::shared_ptr<CgiRequest> r) : r_(std::move(r)) {}
  int64_t write(std::span<const uint8_t> data) override {
    r_->write_stderr(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    return static_cast<int64_t>(data.size());
  }
  Readiness readiness(bool) override { return Readiness{true, 0, false}; }
  void notify(bool, std::function<void()> wake) override { wake(); }

 private:
  std::shared_ptr<CgiRequest> r_;
};

// The request as the process's resource: hears how the process ended.
class CgiResource final : public runtime::Resource {
 public:
  explicit CgiResource(std::shared_ptr<CgiRequest> r) : r_(std::move(r)) {}
  void on_process_exit(const otp::ExitReason& reason) override { r_->process_ended(reason); }

 private:
  std::shared_ptr<CgiRequest> r_;
};

class CgiHandler final : public net::Handler {
 public:
  explicit CgiHandler(const RouteContext& ctx)
      : ctx_(ctx), ioc_(&ctx.runtime->event_loop().context()) {
    // The CGI convention needs stdio and an environment: the route implies
    // both, for the request's own data only (streams to the exchange, the
    // request's meta-variables), never the node's stdio or environment.
    ctx_.spec.caps.bits |= runtime::kCapStdio | runtime::kCapEnv;
    ctx_.spec.wasi.stdin_mode = wasi::StdioMode::kStream;
    ctx_.spec.wasi.stdout_mode = wasi::StdioMode::kStream;
    ctx_.spec.wasi.stderr_mode = wasi::StdioMode::kStream;
    ctx_.spec.wasi.allow_clock = true;   // still subject to the clock capability
    ctx_.spec.wasi.allow_random = true;  // and the random one
    std::string argv0 = ctx.route->module;
    if (size_t slash = argv0.rfind('/'); slash != std::string::npos) {
      argv0 = argv0.substr(slash + 1);
    }
    ctx_.spec.wasi.args = {argv0};
  }

  void handle(std::shared_ptr<net::Exchange> ex) override {
    auto req =
        std::make_shared<CgiRequest>(ex, ctx_.route, ctx_.error_log, &ctx_.runtime->node(), ioc_);
    ex->on_cancel([w = std::weak_ptr<CgiRequest>(req)](net::Errc why) {
      if (auto r = w.lock()) {
        r->cancelled(why);
      }
    });
    const net::Request& rq = ex->request();
    if (rq.chunked) {
      // CONTENT_LENGTH must be exact (RFC 3875 4.1.2): a chunked body is
      // read whole first, bounded by limits.body_bytes.
      read_whole(std::move(ex), std::move(req), std::make_shared<std::string>());
      return;
    }
    uint64_t length = rq.content_length.value_or(0);
    if (length > 0) {
      req->prefetch_body();
    } else {
      req->preload_body({});  // stdin is at its end from the start
    }
    spawn(*ex, std::move(req), length);
  }

 private:
  void read_whole(std::shared_ptr<net::Exchange> ex, std::shared_ptr<CgiRequest> req,
                  std::shared_ptr<std::string> body) {
    net::Exchange* raw = ex.get();
    raw->read_body([this, ex = std::move(ex), req = std::move(req), body](
                       net::Errc e, std::string chunk) mutable {
      if (e != net::Errc::kOk) {
        if (!ex->ended()) {
          if (e == net::Errc::kTooLarge) {
            ex->respond(413, {{"Content-Type", "text/plain"}}, "413 Payload Too Large\n");
          } else if (e == net::Errc::kBadRequest) {
            ex->respond(400, {{"Content-Type", "text/plain"}}, "400 Bad Request\n");
          } else {
            ex->fail(std::string("request body: ") + net::errc_name(e));
          }
        }
        return;
      }
      if (chunk.empty()) {
        uint64_t length = body->size();
        req->preload_body(std::move(*body));
        spawn(*ex, std::move(req), length);
        return;
      }
      *body += chunk;
      read_whole(std::move(ex), std::move(req), std::move(body));
    });
  }

  void spawn(net::Exchange& ex, std::shared_ptr<CgiRequest> req, uint64_t length) {
    if (ex.ended()) {
      return;
    }
    runtime::ProcessSpec spec = ctx_.spec;
    spec.wasi.env = cgi_env(ex.request(), *ctx_.route, length);
    spec.wasi.stdin_stream = std::make_shared<StdinStream>(req);
    spec.wasi.stdout_stream = std::make_shared<StdoutStream>(req);
    spec.wasi.stderr_stream = std::make_shared<StderrStream>(req);
    Result<otp::Spawned> s = ctx_.runtime->spawn(spec, std::make_unique<CgiResource>(req));
    if (!s) {
      if (ctx_.error_log) {
        ctx_.error_log("route \"" + ctx_.route->name + "\": spawn: " + s.error().message());
      }
      ex.respond(503, {{"Content-Type", "text/plain"}, {"Retry-After", "1"}},
                 "503 Service Unavailable\n");
      return;
    }
    req->set_pid(s->pid);
  }

  RouteContext ctx_;
  boost::asio::io_context* ioc_;
};

}  // namespace

Result<std::shared_ptr<net::Handler>> make_cgi_handler(const RouteContext& ctx) {
  if (ctx.route->entry != "_start") {
    return Error("a cgi route runs a WASI command's _start, not \"" + ctx.route->entry + "\"");
  }
  return std::shared_ptr<net::Handler>(std::make_shared<CgiHandler>(ctx));
}

}  // namespace rusm::serve
