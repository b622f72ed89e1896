// bytes -> the parsers of fetch's policy (src/runtime/fetch.cc,
// capabilities.cc): a URL as fetch takes it from a guest, and a net grant as
// `--allow-net` or a config's allow list takes it. The first byte picks
// which; the rest is the input. What parses must hold the invariants fetch
// relies on (a lower-case host, a port, a target starting with '/', no
// fragment), and a grant must match its own host and narrow to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/fetch.h"
#include "rusm/runtime/capabilities.h"

using namespace rusm::runtime;

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void url(std::string_view in) {
  auto u = parse_url(in);
  if (!u) {
    return;
  }
  require(!u->host.empty() && u->port != 0);
  require(!u->target.empty() && u->target[0] == '/');
  require(u->target.find('#') == std::string::npos);
  for (char c : u->host) {
    require(!(c >= 'A' && c <= 'Z') && c != '/' && c != '@' && c != ' ');
  }
  for (char c : u->target) {
    require(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
  }
}

void grant(std::string_view in) {
  Capabilities c = *profile("sandboxed");
  if (!allow(c, "net:" + std::string(in))) {
    require(!c.net && !c.has(kCapNet));
    return;
  }
  require(c.has(kCapNet) && c.net && c.net->size() == 1);
  const NetGrant g = c.net->front();
  std::string host = g.host.starts_with("*.") ? "x" + g.host.substr(1) : g.host;
  uint16_t port = g.port == 0 ? 443 : g.port;
  require(c.net_grant(host, port) != nullptr);
  Capabilities child = c;
  Capabilities narrowed = child.restricted_to(c);
  require(narrowed.net_grant(host, port) != nullptr);
  (void)g.names_local();
  (void)c.to_string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    grant(in);
  } else {
    url(in);
  }
  return 0;
}
