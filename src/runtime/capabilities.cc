#include "rusm/runtime/capabilities.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace rusm::runtime {
namespace {

struct Named {
  uint32_t bit;
  const char* name;
};
constexpr Named kNames[] = {
    {kCapStdio, "stdio"},     {kCapEnv, "env"},
    {kCapFs, "fs"},           {kCapClock, "clock"},
    {kCapRandom, "random"},   {kCapSpawn, "spawn"},
    {kCapProcessCtl, "proc"}, {kCapRegistry, "registry"},
    {kCapCrypto, "crypto"},   {kCapPubSub, "pubsub"},
    {kCapKv, "kv"},           {kCapNet, "net"},
};

// The grants of `child` that `parent` covers, each no stronger than the
// parent's access.
std::vector<KvGrant> narrow(const std::vector<KvGrant>& child, const Capabilities& parent) {
  std::vector<KvGrant> out;
  for (const KvGrant& g : child) {
    if (g.bucket == "*") {
      for (const KvGrant& pg : *parent.kv) {
        out.push_back({pg.bucket, pg.read_only || g.read_only});
      }
      continue;
    }
    KvAccess a = parent.kv_access(g.bucket);
    if (a != KvAccess::kNone) {
      out.push_back({g.bucket, g.read_only || a == KvAccess::kRead});
    }
  }
  return out;
}

bool host_matches(std::string_view pattern, std::string_view host) {
  if (pattern.starts_with("*.")) {
    std::string_view domain = pattern.substr(1);  // ".example.com"
    return host.size() > domain.size() && host.ends_with(domain);
  }
  return pattern == host;
}

// A child's net grants that the parent's cover (a pattern of the child's
// survives only where one of the parent's grants covers all it matches).
std::vector<NetGrant> narrow(const std::vector<NetGrant>& child, const Capabilities& parent) {
  std::vector<NetGrant> out;
  for (const NetGrant& g : child) {
    for (const NetGrant& pg : *parent.net) {
      // "*.a.com" covers "x.a.com" and "*.x.a.com"; a name covers itself.
      bool host_ok = host_matches(pg.host, g.host) || pg.host == g.host;
      bool port_ok = pg.port == 0 || pg.port == g.port;
      if (host_ok && port_ok) {
        out.push_back(g);
        break;
      }
    }
  }
  return out;
}

}  // namespace

Capabilities Capabilities::restricted_to(const Capabilities& parent) const {
  Capabilities c = *this;
  c.bits &= parent.bits;
  c.max_memory_pages = std::min(max_memory_pages, parent.max_memory_pages);
  if (!c.has(kCapKv) || !kv || !parent.kv) {
    c.kv.reset();
  } else if (kv != parent.kv) {
    c.kv = std::make_shared<const std::vector<KvGrant>>(narrow(*kv, parent));
  }
  if (!c.has(kCapNet) || !net || !parent.net) {
    c.net.reset();
  } else if (net != parent.net) {
    c.net = std::make_shared<const std::vector<NetGrant>>(narrow(*net, parent));
  }
  if (c.bits != bits && profile != "custom") {
    c.profile = "custom";
  }
  return c;
}

std::string Capabilities::to_string() const {
  std::string s = profile + ":";
  bool first = true;
  for (const Named& n : kNames) {
    if (has(n.bit)) {
      s += first ? " " : ",";
      s += n.name;
      first = false;
    }
  }
  if (first) {
    s += " (none)";
  }
  if (has(kCapKv) && kv) {
    s += "; kv";
    for (const KvGrant& g : *kv) {
      s += " " + g.bucket + (g.read_only ? ":ro" : "");
    }
  }
  if (has(kCapNet) && net) {
    s += "; net";
    for (const NetGrant& g : *net) {
      bool v6 = g.host.find(':') != std::string::npos;
      s += " " + (v6 ? "[" + g.host + "]" : g.host) + ":" +
           (g.port == 0 ? std::string("*") : std::to_string(g.port));
    }
  }
  s += "; max memory " + std::to_string(max_memory_pages) + " pages";
  return s;
}

Result<Capabilities> profile(std::string_view name) {
  Capabilities c;
  if (name == "sandboxed") {
    c.bits = 0;
    c.max_memory_pages = 256;  // 16 MiB
  } else if (name == "trusted") {
    c.bits = kCapAll;
    c.max_memory_pages = 65536;  // 4 GiB, the wasm32 limit
    c.kv = std::make_shared<const std::vector<KvGrant>>(std::vector<KvGrant>{{"*", false}});
  } else {
    return Error("unknown profile '" + std::string(name) + "' (sandboxed or trusted)");
  }
  c.profile = std::string(name);
  return c;
}

const char* cap_name(uint32_t cap) {
  for (const Named& n : kNames) {
    if (n.bit == cap) {
      return n.name;
    }
  }
  return "?";
}

std::optional<uint32_t> parse_cap(std::string_view name) {
  for (const Named& n : kNames) {
    if (name == n.name) {
      return n.bit;
    }
  }
  return std::nullopt;
}

KvAccess Capabilities::kv_access(std::string_view bucket) const {
  if (!has(kCapKv) || !kv) {
    return KvAccess::kNone;
  }
  KvAccess best = KvAccess::kNone;
  for (const KvGrant& g : *kv) {
    if (g.bucket == "*" || g.bucket == bucket) {
      best = std::max(best, g.read_only ? KvAccess::kRead : KvAccess::kReadWrite);
    }
  }
  return best;
}

bool NetGrant::names_local() const {
  if (host == "localhost") {
    return true;
  }
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

const NetGrant* Capabilities::net_grant(std::string_view host, uint16_t port) const {
  if (!has(kCapNet) || !net) {
    return nullptr;
  }
  for (const NetGrant& g : *net) {
    if ((g.port == 0 || g.port == port) && host_matches(g.host, host)) {
      return &g;
    }
  }
  return nullptr;
}

namespace {

// "HOST:PORT", "HOST:*", "[V6]:PORT" -> a grant.
Result<NetGrant> parse_net_grant(std::string_view what) {
  auto bad = [&](const std::string& why) {
    return Error("'" + std::string(what) + "': " + why +
                 " (net:HOST:PORT, net:HOST:*, net:*.DOMAIN:PORT or net:[IPV6]:PORT)");
  };
  std::string_view rest = what.substr(4);
  std::string_view host, port;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("an IPv6 address goes in brackets, then :PORT");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
    unsigned char addr[16];
    if (inet_pton(AF_INET6, std::string(host).c_str(), addr) != 1) {
      return bad("not an IPv6 address");
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("name a port, or * for any");
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address goes in brackets");
    }
  }
  std::string name;
  for (char ch : host) {
    name += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  std::string_view label = std::string_view(name).starts_with("*.")
                               ? std::string_view(name).substr(2)
                               : std::string_view(name);
  bool chars_ok = !label.empty() && label.size() <= 253;
  for (char ch : label) {
    chars_ok = chars_ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                            ch == '.' || ch == '_' || ch == ':');
  }
  if (!chars_ok || label.find('*') != std::string_view::npos) {
    return bad("not a host name");
  }
  NetGrant g;
  g.host = std::move(name);
  if (port != "*") {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("the port is 1-65535 or *");
    }
    g.port = static_cast<uint16_t>(value);
  }
  return g;
}

}  // namespace

Status allow(Capabilities& caps, std::string_view what) {
  if (what.starts_with("net:")) {
    Result<NetGrant> g = parse_net_grant(what);
    if (!g) {
      return g.error();
    }
    std::vector<NetGrant> grants = caps.net ? *caps.net : std::vector<NetGrant>{};
    grants.push_back(std::move(*g));
    caps.net = std::make_shared<const std::vector<NetGrant>>(std::move(grants));
    caps.bits |= kCapNet;
    return Status::ok();
  }
  if (what == "kv" || what.starts_with("kv:")) {
    std::string_view rest = what.size() > 3 ? what.substr(3) : std::string_view();
    bool read_only = false;
    if (rest.ends_with(":ro")) {
      read_only = true;
      rest.remove_suffix(3);
    } else if (rest.ends_with(":rw")) {
      rest.remove_suffix(3);
    }
    // Bucket names as the store takes them (rusm::kv::StoreOptions::max_bucket).
    bool name_ok = !rest.empty() && rest.size() <= 255 && rest.find(':') == std::string_view::npos;
    if (!name_ok) {
      return Error(
          "'" + std::string(what) +
          "': name a bucket of the KV store: kv:BUCKET, kv:BUCKET:ro or kv:* (every bucket)");
    }
    std::vector<KvGrant> grants = caps.kv ? *caps.kv : std::vector<KvGrant>{};
    grants.push_back({std::string(rest), read_only});
    caps.kv = std::make_shared<const std::vector<KvGrant>>(std::move(grants));
    caps.bits |= kCapKv;
    return Status::ok();
  }
  std::optional<uint32_t> bit = parse_cap(what);
  if (!bit) {
    return Error("unknown capability '" + std::string(what) + "' (" + cap_names() +
                 ", kv:BUCKET[:ro], net:HOST:PORT)");
  }
  caps.bits |= *bit;
  return Status::ok();
}

std::string cap_names() {
  std::string out;
  for (const Named& n : kNames) {
    out += (out.empty() ? "" : ", ") + std::string(n.name);
  }
  return out;
}

}  // namespace rusm::runtime
