// Who may talk to the dashboard server, and with what rights.
//
// Three checks, applied to every request before it reaches a handler:
//   Host    must name the listening address (or localhost/127.0.0.1/[::1] when
//           it is loopback, or an --allow-host name): defeats DNS rebinding,
//           where evil.example resolves to 127.0.0.1 and its page reads ours.
//   Origin  when present (browsers always send it on WebSocket handshakes),
//           must be this server's own origin or an --allow-origin one: a page
//           on another site cannot open our WebSocket from the user's browser.
//   token   a per-run secret (printed in the URL at start, like Jupyter's),
//           presented as `?token=` or `Authorization: Bearer`. It grants
//           control (kill, run, stop). Without it a client may only observe,
//           and only when the server listens on loopback; anywhere else every
//           request but the static files needs it.
//
// Pure policy: no sockets and no Asio, so it moves with the HTTP plumbing
// (see server.h) and is tested without a network. Immutable once made, so
// every method is safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/result.h"

namespace rusm::observe {

enum class Access { kNone, kObserve, kControl };
const char* to_string(Access a);  // "none", "observe", "control"

struct AccessOptions {
  std::string token;                       // the secret for control; must pass check_token
  std::vector<std::string> allow_hosts;    // extra Host names, any port ("dash.example.com")
  std::vector<std::string> allow_origins;  // extra exact origins ("https://dash.example.com")
};

// The request fields the policy reads; views into the request, valid for the
// call only.
struct RequestHeaders {
  std::string_view target;                 // "/ws?token=..."
  std::optional<std::string_view> host;    // nullopt: no Host header
  std::optional<std::string_view> origin;  // nullopt: no Origin header (not a browser)
  std::string_view authorization;          // "Bearer ..." or empty
};

// What a request may do. When access is kNone, status (400, 401 or 403) and
// reason (one line) say how to refuse it.
struct Verdict {
  Access access = Access::kNone;
  int status = 0;
  std::string reason;
};

class AccessPolicy {
 public:
  // listen_ip is the address the server is bound to ("127.0.0.1", "::",
  // "192.168.1.5"), port the bound port. Errors name the bad option.
  static Result<AccessPolicy> make(std::string_view listen_ip, uint16_t port,
                                   AccessOptions options);

  // Host and Origin only: for what is public once the site is right (the
  // dashboard's own files). access is kObserve when they pass.
  Verdict check_site(const RequestHeaders& r) const;
  // Host, Origin, then the token: kControl with the right token, kObserve
  // without one on loopback, refused otherwise (and always for a wrong one).
  Verdict check(const RequestHeaders& r) const;

  bool host_allowed(std::string_view host_header) const;
  bool origin_allowed(std::string_view origin) const;
  bool token_matches(std::string_view presented) const;  // constant time in the token's length

  // Observation without the token is allowed only on a loopback address.
  bool loopback() const { return loopback_; }
  // Listening on 0.0.0.0 or ::.
  bool wildcard() const { return wildcard_; }
  const std::string& token() const { return options_.token; }
  // The URL to open: http://<host>:<port>/?token=<token>, with a loopback
  // host when the server listens on a wildcard address.
  std::string url() const;

 private:
  AccessPolicy() = default;
  // host[:port] with the port defaulting to default_port.
  bool host_port_allowed(std::string_view host_port, uint16_t default_port) const;

  AccessOptions options_;
  uint16_t port_ = 0;
  bool loopback_ = false;
  bool wildcard_ = false;
  std::string url_host_;            // "127.0.0.1", "[::1]", "192.168.1.5"
  std::vector<std::string> names_;  // lower-case names and canonical IP literals for port_
};

// A fresh token: 32 bytes from the kernel's CSPRNG (getrandom), 64 hex digits.
Result<std::string> generate_token();
// A token given by the user (--token): 16 to 256 characters of A-Z a-z 0-9 . _ ~ -
// (safe in a URL without escaping).
Status check_token(std::string_view token);
// The value of the first `token=` parameter of a request target's query, or "".
std::string_view token_from_target(std::string_view target);
// Whether an IP literal is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x).
bool is_loopback_ip(std::string_view ip);

}  // namespace rusm::observe
