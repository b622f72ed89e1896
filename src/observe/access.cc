#include "observe/access.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rusm::observe {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// A header value as it may appear in a one-line reason: at most 100
// printable ASCII characters.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return s.size() > 100 ? out + "..." : out;
}

// The canonical text of an IP literal (inet_ntop of inet_pton), or "".
std::string canonical_ip(std::string_view text) {
  std::string s(text);
  unsigned char buf[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return inet_ntop(AF_INET, buf, out, sizeof out) ? out : "";
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, out, sizeof out) ? out : "";
  }
  return "";
}

bool valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// "name", "[v6]" or a bare IP literal, lower case and canonical; "" if bad.
std::string normalize_name(std::string_view name) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    std::string ip = canonical_ip(name.substr(1, name.size() - 2));
    return ip.find(':') != std::string::npos ? ip : "";
  }
  if (std::string ip = canonical_ip(name); !ip.empty()) {
    return ip;
  }
  return valid_host_name(name) ? lower(name) : "";
}

// Splits "host[:port]" / "[v6][:port]" into a normalized name and a port.
bool split_host_port(std::string_view hp, uint16_t default_port, std::string* name,
                     uint16_t* port) {
  std::string_view host, rest;
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    host = hp.substr(0, close + 1);
    rest = hp.substr(close + 1);
  } else {
    size_t colon = hp.find(':');
    host = hp.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : hp.substr(colon);
  }
  *port = default_port;
  if (!rest.empty()) {
    if (rest.front() != ':') {
      return false;
    }
    rest.remove_prefix(1);
    if (!rest.empty()) {
      if (rest.size() > 5) {
        return false;
      }
      unsigned v = 0;
      for (char c : rest) {
        if (c < '0' || c > '9') {
          return false;
        }
        v = v * 10 + static_cast<unsigned>(c - '0');
      }
      if (v == 0 || v > 65535) {
        return false;
      }
      *port = static_cast<uint16_t>(v);
    }
  }
  *name = normalize_name(host);
  return !name->empty();
}

bool is_wildcard_ip(std::string_view canonical) {
  return canonical == "0.0.0.0" || canonical == "::";
}

std::string_view bearer(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.size() > kPrefix.size() &&
      lower(authorization.substr(0, kPrefix.size())) == "bearer ") {
    return authorization.substr(kPrefix.size());
  }
  return {};
}

}  // namespace

const char* to_string(Access a) {
  switch (a) {
    case Access::kNone:
      return "none";
    case Access::kObserve:
      return "observe";
    case Access::kControl:
      return "control";
  }
  return "none";
}

bool is_loopback_ip(std::string_view ip) {
  std::string s(ip);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return buf[0] == 127;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    static const unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(buf, kLoop, 16) == 0 ||
           (std::memcmp(buf, kMapped, 12) == 0 && buf[12] == 127);
  }
  return false;
}

Result<std::string> generate_token() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error(std::string("cannot make a dashboard token: getrandom: ") +
                   std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

Status check_token(std::string_view token) {
  if (token.size() < 16 || token.size() > 256) {
    return Error("a token must have 16 to 256 characters (it has " + std::to_string(token.size()) +
                 ")");
  }
  for (char c : token) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) {
      return Error("a token may contain only A-Z a-z 0-9 . _ ~ - (URL-safe characters)");
    }
  }
  return Status::ok();
}

std::string_view token_from_target(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    return {};
  }
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.starts_with("token=")) {
      return param.substr(6);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return {};
}

Result<AccessPolicy> AccessPolicy::make(std::string_view listen_ip, uint16_t port,
                                        AccessOptions options) {
  if (Status s = check_token(options.token); !s) {
    return Error("--token: " + s.message());
  }
  std::string ip = canonical_ip(listen_ip);
  if (ip.empty()) {
    return Error("'" + printable(listen_ip) + "' is not an IP address");
  }
  AccessPolicy p;
  p.port_ = port;
  p.loopback_ = is_loopback_ip(ip);
  p.wildcard_ = is_wildcard_ip(ip);
  bool v6 = ip.find(':') != std::string::npos;
  for (std::string& h : options.allow_hosts) {
    std::string n = normalize_name(h);
    if (n.empty()) {
      return Error("--allow-host '" + printable(h) +
                   "': expected a host name or an IP address, without a port");
    }
    h = n;
  }
  for (std::string& o : options.allow_origins) {
    std::string n = lower(o);
    if (!n.empty() && n.back() == '/') {
      n.pop_back();
    }
    std::string name;
    uint16_t unused;
    size_t scheme_end = n.find("://");
    bool ok = (n.starts_with("http://") || n.starts_with("https://")) &&
              n.find_first_of("/?#@", scheme_end + 3) == std::string::npos &&
              split_host_port(std::string_view(n).substr(scheme_end + 3), 80, &name, &unused);
    if (!ok) {
      return Error("--allow-origin '" + printable(o) +
                   "': expected scheme://host[:port], like https://dash.example.com");
    }
    o = n;
  }
  p.options_ = std::move(options);

  auto add = [&](std::string name) {
    if (!name.empty() && std::find(p.names_.begin(), p.names_.end(), name) == p.names_.end()) {
      p.names_.push_back(std::move(name));
    }
  };
  if (p.loopback_ || p.wildcard_) {
    add("localhost");
    add("127.0.0.1");
    add("::1");
  }
  if (p.wildcard_) {
    // Any of this machine's addresses may be in the Host header, and its name.
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) == 0) {
      for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr) {
          continue;
        }
        char out[INET6_ADDRSTRLEN];
        if (i->ifa_addr->sa_family == AF_INET) {
          auto* a = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
          if (inet_ntop(AF_INET, &a->sin_addr, out, sizeof out)) {
            add(out);
          }
        } else if (i->ifa_addr->sa_family == AF_INET6) {
          auto* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
          if (inet_ntop(AF_INET6, &a->sin6_addr, out, sizeof out)) {
            add(out);
          }
        }
      }
      freeifaddrs(list);
    }
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0 && valid_host_name(host)) {
      add(lower(host));
    }
    p.url_host_ = v6 ? "[::1]" : "127.0.0.1";
  } else {
    add(ip);
    p.url_host_ = v6 ? "[" + ip + "]" : ip;
  }
  return p;
}

bool AccessPolicy::host_port_allowed(std::string_view host_port, uint16_t default_port) const {
  std::string name;
  uint16_t port = 0;
  if (!split_host_port(host_port, default_port, &name, &port)) {
    return false;
  }
  const std::vector<std::string>& extra = options_.allow_hosts;
  if (std::find(extra.begin(), extra.end(), name) != extra.end()) {
    return true;
  }
  return port == port_ && std::find(names_.begin(), names_.end(), name) != names_.end();
}

bool AccessPolicy::host_allowed(std::string_view host_header) const {
  return host_port_allowed(host_header, 80);
}

bool AccessPolicy::origin_allowed(std::string_view origin) const {
  std::string o = lower(origin);
  const std::vector<std::string>& extra = options_.allow_origins;
  if (std::find(extra.begin(), extra.end(), o) != extra.end()) {
    return true;
  }
  // Our own origin: plain http (this server has no TLS) and a Host we accept.
  constexpr std::string_view kHttp = "http://";
  if (!o.starts_with(kHttp)) {
    return false;
  }
  std::string_view rest = std::string_view(o).substr(kHttp.size());
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return false;
  }
  return host_port_allowed(rest, 80);
}

bool AccessPolicy::token_matches(std::string_view presented) const {
  const std::string& t = options_.token;
  if (t.empty()) {
    return false;
  }
  // Every byte of the token is looked at whatever the input, so the time
  // taken says nothing about how long a prefix matched.
  volatile unsigned char diff = presented.size() == t.size() ? 0 : 1;
  for (size_t i = 0; i < t.size(); ++i) {
    unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff = diff | static_cast<unsigned char>(p ^ static_cast<unsigned char>(t[i]));
  }
  return diff == 0;
}

Verdict AccessPolicy::check_site(const RequestHeaders& r) const {
  if (!r.host) {
    return {Access::kNone, 400, "missing Host header"};
  }
  if (!host_allowed(*r.host)) {
    return {Access::kNone, 403,
            "Host '" + printable(*r.host) + "' is not this server (" + url_host_ + ":" +
                std::to_string(port_) + "; other names need --allow-host)"};
  }
  if (r.origin && !origin_allowed(*r.origin)) {
    return {Access::kNone, 403,
            "Origin '" + printable(*r.origin) +
                "' may not use this server (same origin only; others need --allow-origin)"};
  }
  return {Access::kObserve, 0, ""};
}

Verdict AccessPolicy::check(const RequestHeaders& r) const {
  Verdict v = check_site(r);
  if (v.access == Access::kNone) {
    return v;
  }
  std::string_view presented = token_from_target(r.target);
  if (presented.empty()) {
    presented = bearer(r.authorization);
  }
  if (!presented.empty()) {
    if (token_matches(presented)) {
      return {Access::kControl, 0, ""};
    }
    return {Access::kNone, 401, "wrong token (use the URL rusm dashboard printed at start)"};
  }
  if (loopback_) {
    return {Access::kObserve, 0, ""};
  }
  return {Access::kNone, 401,
          "this server listens on a non-loopback address: every request needs the token "
          "(?token=... from the URL rusm dashboard printed, or Authorization: Bearer ...)"};
}

std::string AccessPolicy::url() const {
  return "http://" + url_host_ + ":" + std::to_string(port_) + "/?token=" + options_.token;
}

}  // namespace rusm::observe
