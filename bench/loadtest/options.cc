#include "options.h"

#include <charconv>

namespace rusm::loadtest {

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::kHttp:
      return "http";
    case Mode::kWs:
      return "ws";
    case Mode::kSse:
      return "sse";
    case Mode::kConn:
      return "conn";
  }
  return "?";
}

std::string_view op_name(Mode mode) {
  switch (mode) {
    case Mode::kHttp:
      return "req";
    case Mode::kWs:
      return "echo";
    case Mode::kSse:
      return "event";
    case Mode::kConn:
      return "conn";
  }
  return "op";
}

unsigned default_connections(Mode mode) {
  // The anchors' shapes: wrk -c64 for HTTP, loadgen 256 for ws-echo and
  // sse, 64 slots for ws-churn.
  return mode == Mode::kWs || mode == Mode::kSse ? 256 : 64;
}

Result<Target> parse_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Error("URL '" + std::string(url) + "': " + std::string(why));
  };
  Target t;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return bad("no scheme (expected http://, https://, ws:// or wss://)");
  }
  std::string_view scheme = url.substr(0, sep);
  uint16_t default_port = 0;
  if (scheme == "http" || scheme == "ws") {
    default_port = 80;
  } else if (scheme == "https" || scheme == "wss") {
    t.tls = true;
    default_port = 443;
  } else {
    return bad("unknown scheme '" + std::string(scheme) + "'");
  }
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    path = path.substr(0, path.find('#'));
    t.path = path.empty() || path[0] != '/' ? "/" + std::string(path) : std::string(path);
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info is not supported");
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated '[' in the host");
    }
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad("junk after ']'");
      }
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (t.host.empty()) {
    return bad("no host");
  }
  t.port = default_port;
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p == 0 || p > 65535) {
      return bad("bad port '" + std::string(port_text) + "'");
    }
    t.port = static_cast<uint16_t>(p);
  }
  t.host_header = std::string(authority);
  return t;
}

}  // namespace rusm::loadtest
