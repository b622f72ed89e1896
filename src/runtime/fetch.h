// Outbound HTTP(S) for guests (fetch.cc; docs/fetch.md): the pieces the
// runtime and the tests see.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "rusm/result.h"
#include "rusm/runtime/runtime.h"

namespace rusm::runtime {

// An http:// or https:// URL as fetch takes it.
struct Url {
  bool tls = false;
  std::string host;      // lower case; an address without brackets
  bool literal = false;  // host is an IPv4 or IPv6 address
  uint16_t port = 0;     // given, or the scheme's
  std::string target;    // path and query ("/" at least), no fragment
};
// Errors carry kErrBadArg and say what is wrong: other schemes, user
// information, a bad host or port, unencoded spaces or control characters.
Result<Url> parse_url(std::string_view text);

// Loopback, link-local, unspecified, "this network", multicast, broadcast,
// IPv6 site-local and IPv4-compatible (IPv4-mapped ones as their IPv4):
// addresses a fetch reaches only when its grant names such a destination.
bool local_address(const boost::asio::ip::address& a);

// The node's state for fetch: options, the open count, the TLS context.
struct FetchShared;
std::shared_ptr<FetchShared> make_fetch_shared(const FetchOptions& options);

}  // namespace rusm::runtime
