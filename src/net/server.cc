// Server: listeners, TLS context, routes, the deadline sweep, in-flight
// slots, graceful shutdown, and the metrics (stats, Prometheus text).
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "net/internal.h"

namespace rusm::net {

using namespace detail;

const uint64_t RouteStats::kBucketMicros[RouteStats::kBuckets] = {
    100,    250,     500,     1'000,   2'500,     5'000,     10'000,     25'000,
    50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 10'000'000, UINT64_MAX};

namespace detail {

void RouteMetrics::record(int status_code, int64_t micros) {
  requests.fetch_add(1, std::memory_order_relaxed);
  int cls = status_code / 100;
  if (cls < 1 || cls > 5) {
    cls = 0;
  }
  status[cls].fetch_add(1, std::memory_order_relaxed);
  uint64_t us = micros < 0 ? 0 : uint64_t(micros);
  int b = 0;
  while (b < RouteStats::kBuckets - 1 && us > RouteStats::kBucketMicros[b]) {
    ++b;
  }
  latency[b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us.fetch_add(us, std::memory_order_relaxed);
}

namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Percent-decodes one path segment; false if malformed or if it decodes to
// a '/' or NUL (a parameter never spans segments).
bool decode_segment(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;
      }
      int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) {
        return false;
      }
      c = char(h * 16 + l);
      if (c == '/' || c == '\0') {
        return false;
      }
      i += 2;
    }
    out->push_back(c);
  }
  return true;
}

}  // namespace

bool RouteEntry::match(std::string_view method, std::string_view path,
                       std::vector<std::pair<std::string, std::string>>* params) const {
  const std::string& m = route.method;
  if (!m.empty() && m != method && !(m == "GET" && method == "HEAD")) {
    return false;
  }
  if (route.prefix) {
    if (path.substr(0, route.pattern.size()) != route.pattern) {
      return false;
    }
    std::string rest;
    if (!decode_segment(path.substr(route.pattern.size()), &rest)) {
      // A '/' in the rest is fine for a prefix: decode piecewise.
      rest.clear();
      std::string_view r = path.substr(route.pattern.size());
      std::string piece;
      size_t start = 0;
      while (start <= r.size()) {
        size_t slash = r.find('/', start);
        std::string_view seg =
            r.substr(start, slash == std::string_view::npos ? r.npos : slash - start);
        if (!decode_segment(seg, &piece)) {
          return false;
        }
        rest += piece;
        if (slash == std::string_view::npos) {
          break;
        }
        rest += '/';
        start = slash + 1;
      }
    }
    params->emplace_back("*", std::move(rest));
    return true;
  }
  if (path.empty() || path[0] != '/') {
    return false;
  }
  std::string_view p = path.substr(1);
  size_t i = 0;
  std::string decoded;
  for (const std::string& seg : segments) {
    if (i > p.size()) {
      return false;
    }
    size_t slash = p.find('/', i);
    std::string_view got = p.substr(i, slash == std::string_view::npos ? p.npos : slash - i);
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      if (got.empty() || !decode_segment(got, &decoded)) {
        return false;
      }
      params->emplace_back(seg.substr(1, seg.size() - 2), decoded);
    } else if (got != seg) {
      return false;
    }
    i = slash == std::string_view::npos ? p.size() + 1 : slash + 1;
  }
  return i == p.size() + 1;
}

const char* status_reason(int s) {
  switch (s) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

void json_escape(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

}  // namespace detail

namespace {

// /metrics, served natively.
class MetricsHandler final : public Handler {
 public:
  explicit MetricsHandler(Server::Core* core) : core_(core) {}
  void handle(std::shared_ptr<Exchange> ex) override {
    ex->respond(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
                prometheus_text(*core_));
  }
  static std::string prometheus_text(Server::Core& core);

 private:
  Server::Core* core_;
};

ServerStats collect(Server::Core& c) {
  ServerStats s;
  auto one = [](const RouteEntry& r) {
    RouteStats o;
    o.name = r.route.name;
    o.kind = route_kind_name(r.route.kind);
    o.requests = r.m.requests.load(std::memory_order_relaxed);
    for (int i = 0; i < 6; ++i) {
      o.status[i] = r.m.status[i].load(std::memory_order_relaxed);
    }
    o.in_flight = r.m.in_flight.load(std::memory_order_relaxed);
    o.rejected_in_flight = r.m.rejected_in_flight.load(std::memory_order_relaxed);
    o.rejected_body = r.m.rejected_body.load(std::memory_order_relaxed);
    o.deadline_exceeded = r.m.deadline_exceeded.load(std::memory_order_relaxed);
    o.failed = r.m.failed.load(std::memory_order_relaxed);
    for (int i = 0; i < RouteStats::kBuckets; ++i) {
      o.latency[i] = r.m.latency[i].load(std::memory_order_relaxed);
    }
    o.latency_sum_us = r.m.latency_sum_us.load(std::memory_order_relaxed);
    return o;
  };
  for (auto& r : c.routes) {
    s.routes.push_back(one(*r));
  }
  s.routes.push_back(one(c.none));
  s.open_connections = c.open_connections.load(std::memory_order_relaxed);
  s.accepted = c.accepted.load(std::memory_order_relaxed);
  s.rejected_connections = c.rejected_connections.load(std::memory_order_relaxed);
  s.accept_errors = c.accept_errors.load(std::memory_order_relaxed);
  s.rejected_header_bytes = c.rejected_header_bytes.load(std::memory_order_relaxed);
  s.rejected_bad_request = c.rejected_bad_request.load(std::memory_order_relaxed);
  s.rejected_in_flight = c.rejected_in_flight.load(std::memory_order_relaxed);
  s.header_timeouts = c.header_timeouts.load(std::memory_order_relaxed);
  s.idle_timeouts = c.idle_timeouts.load(std::memory_order_relaxed);
  s.tls_handshake_failures = c.tls_handshake_failures.load(std::memory_order_relaxed);
  s.buffered_bytes = c.buffered_bytes.load(std::memory_order_relaxed);
  s.buffered_peak = c.buffered_peak.load(std::memory_order_relaxed);
  s.websockets = c.websockets.load(std::memory_order_relaxed);
  return s;
}

std::string MetricsHandler::prometheus_text(Server::Core& core) {
  ServerStats s = collect(core);
  std::string o;
  o.reserve(4096);
  char line[512];
  auto lbl = [](const RouteStats& r) {
    std::string l = "route=";
    json_escape(l, r.name);
    l += ",kind=\"" + r.kind + "\"";
    return l;
  };
  o += "# HELP rusm_http_requests_total Requests answered, by route and status class.\n"
       "# TYPE rusm_http_requests_total counter\n";
  static const char* kClass[6] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (const RouteStats& r : s.routes) {
    for (int i = 0; i < 6; ++i) {
      snprintf(line, sizeof line, "rusm_http_requests_total{%s,status=\"%s\"} %llu\n",
               lbl(r).c_str(), kClass[i], (unsigned long long)r.status[i]);
      o += line;
    }
  }
  o += "# HELP rusm_http_in_flight Handler invocations running now.\n"
       "# TYPE rusm_http_in_flight gauge\n";
  for (const RouteStats& r : s.routes) {
    snprintf(line, sizeof line, "rusm_http_in_flight{%s} %lld\n", lbl(r).c_str(),
             (long long)r.in_flight);
    o += line;
  }
  o += "# HELP rusm_http_rejected_total Requests and connections refused, by the limit that "
       "refused them.\n# TYPE rusm_http_rejected_total counter\n";
  for (const RouteStats& r : s.routes) {
    snprintf(line, sizeof line,
             "rusm_http_rejected_total{%s,limit=\"in_flight\"} %llu\n"
             "rusm_http_rejected_total{%s,limit=\"body_bytes\"} %llu\n"
             "rusm_http_rejected_total{%s,limit=\"deadline\"} %llu\n",
             lbl(r).c_str(), (unsigned long long)r.rejected_in_flight, lbl(r).c_str(),
             (unsigned long long)r.rejected_body, lbl(r).c_str(),
             (unsigned long long)r.deadline_exceeded);
    o += line;
  }
  snprintf(line, sizeof line,
           "rusm_http_rejected_total{limit=\"max_connections\"} %llu\n"
           "rusm_http_rejected_total{limit=\"header_bytes\"} %llu\n"
           "rusm_http_rejected_total{limit=\"bad_request\"} %llu\n"
           "rusm_http_rejected_total{limit=\"max_in_flight\"} %llu\n"
           "rusm_http_rejected_total{limit=\"header_timeout\"} %llu\n"
           "rusm_http_rejected_total{limit=\"idle_timeout\"} %llu\n"
           "rusm_http_rejected_total{limit=\"tls_handshake\"} %llu\n",
           (unsigned long long)s.rejected_connections, (unsigned long long)s.rejected_header_bytes,
           (unsigned long long)s.rejected_bad_request, (unsigned long long)s.rejected_in_flight,
           (unsigned long long)s.header_timeouts, (unsigned long long)s.idle_timeouts,
           (unsigned long long)s.tls_handshake_failures);
  o += line;
  o += "# HELP rusm_http_handler_failures_total Handlers that failed or threw (500 or abort).\n"
       "# TYPE rusm_http_handler_failures_total counter\n";
  for (const RouteStats& r : s.routes) {
    snprintf(line, sizeof line, "rusm_http_handler_failures_total{%s} %llu\n", lbl(r).c_str(),
             (unsigned long long)r.failed);
    o += line;
  }
  o += "# HELP rusm_http_request_duration_seconds Head received to response finished.\n"
       "# TYPE rusm_http_request_duration_seconds histogram\n";
  for (const RouteStats& r : s.routes) {
    uint64_t cum = 0;
    for (int i = 0; i < RouteStats::kBuckets; ++i) {
      cum += r.latency[i];
      if (i == RouteStats::kBuckets - 1) {
        snprintf(line, sizeof line,
                 "rusm_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", lbl(r).c_str(),
                 (unsigned long long)cum);
      } else {
        snprintf(line, sizeof line,
                 "rusm_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", lbl(r).c_str(),
                 double(RouteStats::kBucketMicros[i]) / 1e6, (unsigned long long)cum);
      }
      o += line;
    }
    snprintf(line, sizeof line,
             "rusm_http_request_duration_seconds_sum{%s} %.6f\n"
             "rusm_http_request_duration_seconds_count{%s} %llu\n",
             lbl(r).c_str(), double(r.latency_sum_us) / 1e6, lbl(r).c_str(),
             (unsigned long long)cum);
    o += line;
  }
  snprintf(line, sizeof line,
           "# HELP rusm_http_open_connections Open connections (HTTP and WebSocket).\n"
           "# TYPE rusm_http_open_connections gauge\n"
           "rusm_http_open_connections %lld\n"
           "# HELP rusm_http_websockets Open WebSocket connections.\n"
           "# TYPE rusm_http_websockets gauge\n"
           "rusm_http_websockets %lld\n"
           "# HELP rusm_http_accepted_total Connections accepted.\n"
           "# TYPE rusm_http_accepted_total counter\n"
           "rusm_http_accepted_total %llu\n"
           "# HELP rusm_http_buffered_bytes Bytes held in write buffers.\n"
           "# TYPE rusm_http_buffered_bytes gauge\n"
           "rusm_http_buffered_bytes %lld\n",
           (long long)s.open_connections, (long long)s.websockets, (unsigned long long)s.accepted,
           (long long)s.buffered_bytes);
  o += line;
  snprintf(line, sizeof line,
           "# HELP rusm_http_accept_errors_total accept() failures (out of descriptors, ...).\n"
           "# TYPE rusm_http_accept_errors_total counter\n"
           "rusm_http_accept_errors_total %llu\n",
           (unsigned long long)s.accept_errors);
  o += line;
  return o;
}

std::string ssl_error_string() {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    return "unknown TLS error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  // We speak HTTP/1.1 only (WebSocket rides on it); pick it if offered.
  for (unsigned i = 0; i < inlen;) {
    unsigned len = in[i];
    if (i + 1 + len > inlen) {
      break;
    }
    if (len == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = (unsigned char)len;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Checks that a file can be read, for an error that names it.
Status readable(const char* key, const std::string& path) {
  if (path.empty()) {
    return Error(std::string(key) + ": no file given");
  }
  std::ifstream f(path);
  if (!f) {
    return Error(std::string(key) + ": " + path + ": " + std::strerror(errno));
  }
  return Status::ok();
}

}  // namespace

Server::Core::Core(asio::io_context& io, ServerOptions o)
    : ioc(io), opt(std::move(o)), strand(asio::make_strand(io)), ticker(strand) {
  none.route.name = "(none)";
  none.route.kind = RouteKind::kHttp;
}

Server::Core::~Core() {
  if (reserve_fd >= 0) {
    ::close(reserve_fd);
  }
}

void Server::Core::add_link(Link* l) {
  std::lock_guard<std::mutex> lock(reg_mu);
  l->reg_index_ = links.size();
  links.push_back(l);
}

void Server::Core::remove_link(Link* l) {
  std::lock_guard<std::mutex> lock(reg_mu);
  size_t i = l->reg_index_;
  if (i >= links.size() || links[i] != l) {
    return;
  }
  links[i] = links.back();
  links[i]->reg_index_ = i;
  links.pop_back();
  l->reg_index_ = SIZE_MAX;
}

template <class F>
void Server::Core::for_each_link(F&& f) {
  std::vector<std::shared_ptr<Link>> live;
  {
    std::lock_guard<std::mutex> lock(reg_mu);
    live.reserve(links.size());
    for (Link* l : links) {
      if (auto s = l->weak_from_this().lock()) {
        live.push_back(std::move(s));
      }
    }
  }
  for (auto& l : live) {
    f(l);
  }
}

// Streams (ws and sse routes) hold their slot for as long as they are open:
// they count against their route's limit (by default max_connections), not
// against the node-wide max_in_flight, which bounds request handlers.
bool Server::Core::acquire(RouteEntry& r) {
  if (!r.stream) {
    int64_t n = in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n > int64_t(opt.limits.max_in_flight)) {
      in_flight.fetch_sub(1, std::memory_order_relaxed);
      rejected_in_flight.fetch_add(1, std::memory_order_relaxed);
      r.m.rejected_in_flight.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  int64_t m = r.m.in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
  if (r.max_in_flight > 0 && m > r.max_in_flight) {
    r.m.in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (!r.stream) {
      in_flight.fetch_sub(1, std::memory_order_relaxed);
    }
    r.m.rejected_in_flight.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void Server::Core::release(RouteEntry& r) {
  r.m.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (!r.stream) {
    in_flight.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Server::Core::note_buffered(int64_t delta, int64_t conn_total) {
  buffered_bytes.fetch_add(delta, std::memory_order_relaxed);
  int64_t peak = buffered_peak.load(std::memory_order_relaxed);
  while (conn_total > peak &&
         !buffered_peak.compare_exchange_weak(peak, conn_total, std::memory_order_relaxed)) {
  }
}

void Server::Core::log_error(const std::string& line) const {
  if (opt.error_log) {
    opt.error_log(line);
  } else {
    fprintf(stderr, "%s\n", line.c_str());
  }
}

Status Server::Core::start() {
  // Routes.
  if (!opt.metrics_path.empty()) {
    Route m;
    m.name = opt.metrics_path;
    m.method = "GET";
    m.pattern = opt.metrics_path;
    m.kind = RouteKind::kMetrics;
    m.handler = std::make_shared<MetricsHandler>(this);
    m.deadline = Millis(0);
    opt.routes.insert(opt.routes.begin(), std::move(m));
  }
  for (Route& r : opt.routes) {
    if (!r.handler) {
      return Error("route " + r.pattern + ": no handler");
    }
    if (r.pattern.empty() || r.pattern[0] != '/') {
      return Error("route " + r.pattern + ": the path must start with '/'");
    }
    auto e = std::make_unique<RouteEntry>();
    if (r.name.empty()) {
      r.name =
          (r.method.empty() ? std::string() : r.method + " ") + r.pattern + (r.prefix ? "*" : "");
    }
    e->route = r;
    if (!r.prefix) {
      std::string_view p = std::string_view(r.pattern).substr(1);
      size_t i = 0;
      while (true) {
        size_t s = p.find('/', i);
        e->segments.emplace_back(p.substr(i, s == p.npos ? p.npos : s - i));
        if (s == p.npos) {
          break;
        }
        i = s + 1;
      }
    }
    Millis d = r.deadline.count() < 0 ? opt.limits.deadline : r.deadline;
    e->deadline_ns = ms_to_ns(d);
    e->stream = r.kind == RouteKind::kWs || r.kind == RouteKind::kSse;
    e->max_in_flight = r.max_in_flight >= 0 ? r.max_in_flight
                       : e->stream          ? int64_t(opt.limits.max_connections)
                                            : int64_t(opt.limits.route_max_in_flight);
    routes.push_back(std::move(e));
  }

  // TLS, loaded now so a bad file is an error at start.
  bool any_tls = std::any_of(opt.listen.begin(), opt.listen.end(), [](auto& l) { return l.tls; });
  if (any_tls) {
    if (Status s = readable("tls.cert", opt.tls.cert_file); !s) {
      return s;
    }
    if (Status s = readable("tls.key", opt.tls.key_file); !s) {
      return s;
    }
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* c = ctx->native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(c, opt.tls.cert_file.c_str()) != 1) {
      return Error("tls.cert: " + opt.tls.cert_file + ": not a usable PEM certificate chain (" +
                   ssl_error_string() + ")");
    }
    if (SSL_CTX_use_PrivateKey_file(c, opt.tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      std::string why = ssl_error_string();
      if (why.find("mismatch") != std::string::npos) {
        return Error("tls.key: " + opt.tls.key_file + ": does not match the certificate in " +
                     opt.tls.cert_file);
      }
      return Error("tls.key: " + opt.tls.key_file + ": not a usable PEM private key (" + why + ")");
    }
    if (SSL_CTX_check_private_key(c) != 1) {
      return Error("tls.key: " + opt.tls.key_file + ": does not match the certificate in " +
                   opt.tls.cert_file);
    }
    if (!opt.tls.client_ca.empty()) {
      if (Status s = readable("tls.client_ca", opt.tls.client_ca); !s) {
        return s;
      }
      if (SSL_CTX_load_verify_locations(c, opt.tls.client_ca.c_str(), nullptr) != 1) {
        return Error("tls.client_ca: " + opt.tls.client_ca + ": not a usable PEM CA (" +
                     ssl_error_string() + ")");
      }
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    SSL_CTX_set_alpn_select_cb(c, alpn_select, nullptr);
    ssl = std::move(ctx);
  }

  // Listeners.
  for (const Listen& l : opt.listen) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(l.host, ec);
    std::string where = l.host + ":" + std::to_string(l.port);
    if (ec) {
      return Error("listen " + where + ": not an IP address");
    }
    auto a = std::make_unique<tcp::acceptor>(strand);
    tcp::endpoint ep(addr, l.port);
    a->open(ep.protocol(), ec);
    if (!ec) {
      a->set_option(tcp::acceptor::reuse_address(true), ec);
      a->bind(ep, ec);
    }
    if (!ec) {
      a->listen(4096, ec);
    }
    if (ec) {
      return Error("listen " + where + ": " + ec.message());
    }
    bound_ports.push_back(a->local_endpoint().port());
    acceptors.push_back(std::move(a));
    acceptor_tls.push_back(l.tls);
  }

  if (opt.limits.shed_when_out_of_descriptors && reserve_fd < 0) {
    reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  // The sweep: a few times per shortest timeout.
  int64_t shortest =
      std::min({ms_to_ns(opt.limits.header_timeout), ms_to_ns(opt.limits.idle_timeout),
                ms_to_ns(opt.limits.shutdown_timeout)});
  for (auto& r : routes) {
    if (r->deadline_ns > 0) {
      shortest = std::min(shortest, r->deadline_ns);
    }
  }
  tick_ns = std::clamp<int64_t>(shortest / 8, 5'000'000, 250'000'000);
  auto self = shared_from_this();
  asio::dispatch(strand, [self] {
    for (size_t i = 0; i < self->acceptors.size(); ++i) {
      self->do_accept(i);
    }
    self->schedule_tick();
  });
  return Status::ok();
}

void Server::Core::do_accept(size_t i) {
  if (stopped.load() || draining.load()) {
    return;
  }
  auto self = shared_from_this();
  acceptors[i]->async_accept(asio::make_strand(ioc),
                             [self, i](boost::system::error_code ec, tcp::socket s) {
                               self->on_accept(i, ec, std::move(s));
                             });
}

void Server::Core::on_accept(size_t i, boost::system::error_code ec, tcp::socket s) {
  if (ec == asio::error::operation_aborted || stopped.load() || draining.load()) {
    return;
  }
  if (ec) {
    accept_errors.fetch_add(1, std::memory_order_relaxed);
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory ||
        (ec.category() == boost::system::system_category() && ec.value() == ENFILE)) {
      shed_one(i);
    }
    // Out of descriptors or similar: back off a little instead of spinning.
    auto t = std::make_shared<asio::steady_timer>(strand, std::chrono::milliseconds(50));
    t->async_wait(
        [self = shared_from_this(), t, i](boost::system::error_code) { self->do_accept(i); });
    return;
  }
  accepted.fetch_add(1, std::memory_order_relaxed);
  if (open_connections.load(std::memory_order_relaxed) >= int64_t(opt.limits.max_connections)) {
    rejected_connections.fetch_add(1, std::memory_order_relaxed);
    if (opt.limits.refuse_with_503) {
      boost::system::error_code ignored;
      int fd = s.release(ignored);
      turn_away(fd);
    } else {
      boost::system::error_code ignored;
      s.close(ignored);
    }
  } else {
    serve_connection(shared_from_this(), std::move(s), acceptor_tls[i]);
  }
  do_accept(i);
}

void Server::Core::turn_away(int fd) {
  if (fd < 0) {
    return;
  }
  if (opt.limits.refuse_with_503) {
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Connection: close\r\n"
        "Content-Length: 34\r\n"
        "\r\n"
        "too many connections; retry later\n";
    static_assert(std::string_view("too many connections; retry later\n").size() == 34);
    // What fits in the socket's buffer now; a client that is not reading
    // does not hold the accept loop.
    (void)::send(fd, kBusy.data(), kBusy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_RDWR);
  }
  ::close(fd);
}

void Server::Core::shed_one(size_t i) {
  if (reserve_fd < 0) {
    return;
  }
  // Never block the loop when no client is waiting after all.
  boost::system::error_code ec;
  acceptors[i]->native_non_blocking(true, ec);
  ::close(reserve_fd);
  int fd = ::accept4(acceptors[i]->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    rejected_connections.fetch_add(1, std::memory_order_relaxed);
    turn_away(fd);
  }
  reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Server::Core::schedule_tick() {
  ticker.expires_after(std::chrono::nanoseconds(tick_ns));
  ticker.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) {
      self->tick();
    }
  });
}

void Server::Core::tick() {
  int64_t now = now_ns();
  bool force = draining.load() && !shutdown_forced && now >= shutdown_deadline;
  if (force) {
    shutdown_forced = true;
  }
  for_each_link([&](const std::shared_ptr<Link>& l) {
    if (force) {
      asio::post(l->strand_, [l] { l->abort_now(); });
      return;
    }
    for (int s = 0; s < 2; ++s) {
      int64_t d = l->deadline_[s].load(std::memory_order_relaxed);
      if (d > 0 && d <= now &&
          l->deadline_[s].compare_exchange_strong(d, -d, std::memory_order_relaxed)) {
        asio::post(l->strand_, [l, s, d] { l->expired(Link::Slot(s), d); });
      }
    }
  });
  if (draining.load()) {
    bool empty;
    {
      std::lock_guard<std::mutex> lock(reg_mu);
      empty = links.empty();
    }
    if (empty && open_connections.load() <= 0) {
      auto done = std::move(shutdown_done);
      shutdown_done.clear();
      stopped.store(true);
      for (auto& f : done) {
        if (f) {
          f();
        }
      }
      return;
    }
  }
  if (!stopped.load()) {
    schedule_tick();
  }
}

void Server::Core::begin_shutdown(std::function<void()> done) {
  shutdown_done.push_back(std::move(done));
  if (draining.exchange(true)) {
    return;
  }
  shutdown_deadline = now_ns() + ms_to_ns(opt.limits.shutdown_timeout);
  for (auto& a : acceptors) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for_each_link(
      [](const std::shared_ptr<Link>& l) { asio::post(l->strand_, [l] { l->drain(); }); });
}

void Server::Core::stop_now() {
  draining.store(true);
  if (stopped.exchange(true)) {
    return;
  }
  asio::dispatch(strand, [self = shared_from_this()] {
    for (auto& a : self->acceptors) {
      boost::system::error_code ignored;
      a->close(ignored);
    }
    self->ticker.cancel();
    if (self->signals) {
      boost::system::error_code ignored;
      self->signals->cancel(ignored);
    }
  });
  for_each_link(
      [](const std::shared_ptr<Link>& l) { asio::post(l->strand_, [l] { l->abort_now(); }); });
}

Server::Server(asio::io_context& ioc, ServerOptions options)
    : core_(std::make_shared<Core>(ioc, std::move(options))) {}

Server::~Server() {
  stop();
}

Status Server::start() {
  return core_->start();
}

std::vector<uint16_t> Server::ports() const {
  return core_->bound_ports;
}

void Server::shutdown(std::function<void()> done) {
  asio::dispatch(core_->strand, [c = core_, done = std::move(done)]() mutable {
    c->begin_shutdown(std::move(done));
  });
}

void Server::stop() {
  core_->stop_now();
}

void Server::shutdown_on_signals(std::function<void()> done) {
  asio::dispatch(core_->strand, [c = core_, done = std::move(done)]() mutable {
    c->signals = std::make_unique<asio::signal_set>(c->strand, SIGTERM, SIGINT);
    c->signals->async_wait([c, done = std::move(done)](boost::system::error_code ec, int) mutable {
      if (!ec) {
        c->begin_shutdown(std::move(done));
      }
    });
  });
}

ServerStats Server::stats() const {
  return collect(*core_);
}

std::string Server::prometheus() const {
  return MetricsHandler::prometheus_text(*core_);
}

}  // namespace rusm::net
