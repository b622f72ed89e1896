#include "rusm/runtime/capabilities.h"

#include <algorithm>

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
    {kCapKv, "kv"},
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

Status allow(Capabilities& caps, std::string_view what) {
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
                 ", kv:BUCKET[:ro])");
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
