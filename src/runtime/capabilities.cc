#include "rusm/runtime/capabilities.h"

#include <algorithm>

namespace rusm::runtime {
namespace {

struct Named {
  uint32_t bit;
  const char* name;
};
constexpr Named kNames[] = {
    {kCapStdio, "stdio"},     {kCapEnv, "env"},           {kCapFs, "fs"},
    {kCapClock, "clock"},     {kCapRandom, "random"},     {kCapSpawn, "spawn"},
    {kCapProcessCtl, "proc"}, {kCapRegistry, "registry"}, {kCapCrypto, "crypto"}, {kCapPubSub, "pubsub"},
};

}  // namespace

Capabilities Capabilities::restricted_to(const Capabilities& parent) const {
  Capabilities c = *this;
  c.bits &= parent.bits;
  c.max_memory_pages = std::min(max_memory_pages, parent.max_memory_pages);
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

std::string cap_names() {
  std::string out;
  for (const Named& n : kNames) {
    out += (out.empty() ? "" : ", ") + std::string(n.name);
  }
  return out;
}

}  // namespace rusm::runtime
