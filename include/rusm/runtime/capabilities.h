// Capabilities of a Wasm process: what it may touch beyond its own CPU time
// and bounded memory. Default deny: a process holds exactly the bits set in
// its Capabilities, a child never holds a bit its parent lacks (nor, unless
// its spawn asks for it, one in the parent's not_inherited), and its memory
// limit never exceeds its parent's.
//
// kCapProcessCtl also guards links: linking to another process lets a crash
// kill it, so link needs the same capability as exit_pid (docs/abi.md).
//
// Plain values; thread-safe to copy and share.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/result.h"

namespace rusm::runtime {

// One bit per capability. The numbers are part of the guest ABI (docs/abi.md).
enum Cap : uint32_t {
  kCapStdio = 1u << 0,       // WASI stdin/stdout/stderr as configured
  kCapEnv = 1u << 1,         // WASI args beyond argv[0] and environ
  kCapFs = 1u << 2,          // WASI preopened directories (as granted with --dir)
  kCapClock = 1u << 3,       // WASI clocks and clock subscriptions
  kCapRandom = 1u << 4,      // WASI random_get
  kCapSpawn = 1u << 5,       // spawn processes and start supervisors
  kCapProcessCtl = 1u << 6,  // exit/kill/link other processes, info on others, listing
  kCapRegistry = 1u << 7,    // register/unregister names
  kCapCrypto = 1u << 8,      // the crypto_* calls (docs/crypto.md)
  kCapPubSub = 1u << 9,      // subscribe to and publish on topics
  kCapKv = 1u << 10,         // the kv_* calls, on the buckets of Capabilities::kv (docs/kv.md)
  kCapNet = 1u << 11,        // fetch, to the hosts of Capabilities::net (docs/fetch.md)
  kCapAll = (1u << 12) - 1,
};

// A bucket of the node's key-value store granted to a process
// (`--allow kv:BUCKET[:ro]`); bucket "*" is every bucket.
struct KvGrant {
  std::string bucket;
  bool read_only = false;
};
enum class KvAccess : uint8_t { kNone, kRead, kReadWrite };

// A host a process may fetch from (`--allow-net HOST:PORT`): a name
// ("api.example.com", lower case), a wildcard over its subdomains
// ("*.example.com", not example.com itself), or an address ("10.0.0.7",
// "::1", without brackets); port 0 is any port.
struct NetGrant {
  std::string host;
  uint16_t port = 0;
  // The grant names a loopback or link-local destination itself (an address
  // literal, or "localhost"): only then may the host's addresses be such.
  bool names_local() const;
  bool operator==(const NetGrant&) const = default;
};

struct Capabilities {
  uint32_t bits = 0;
  // Upper bound, in 64 KiB pages, on the host memory the process's instance
  // allocates: its linear memory and its tables together (a table element
  // takes 8 bytes), reserved from the node's memory budget as it grows.
  uint64_t max_memory_pages = 256;  // 16 MiB
  // Bits of `bits` a child does not inherit: a spawn without RUSM_SPAWN_CAPS
  // leaves them out, one with it gets them only if it names them. Passed on
  // to children. `rusm run` puts the stdio it gives its main process by
  // default here, so that children stay default-deny.
  uint32_t not_inherited = 0;
  // The profile these came from ("sandboxed", "trusted", or "custom" after
  // overrides); shown in process info.
  std::string profile = "sandboxed";
  // With kCapKv: the buckets it may use. Shared by a process and the
  // children that inherit them (a spawn copies the pointer); narrowed
  // copies are made only when a child asks for less.
  std::shared_ptr<const std::vector<KvGrant>> kv;
  // With kCapNet: the hosts it may fetch from; shared as kv is. No profile
  // grants any: the network is reachable only where a grant names it.
  std::shared_ptr<const std::vector<NetGrant>> net;

  bool has(uint32_t cap) const { return (bits & cap) == cap; }
  // What the process may do with `bucket`: nothing without kCapKv.
  KvAccess kv_access(std::string_view bucket) const;
  // The grant that lets the process fetch from host:port (host in lower
  // case, an address without brackets), or nullptr: none without kCapNet.
  const NetGrant* net_grant(std::string_view host, uint16_t port) const;
  // The intersection with `parent` (what a child may get).
  Capabilities restricted_to(const Capabilities& parent) const;
  std::string to_string() const;  // "trusted: stdio,env,fs,clock,random,spawn,proc,registry"
};

// "sandboxed": CPU and bounded memory only. "trusted": everything (the file
// system only as far as directories are granted).
Result<Capabilities> profile(std::string_view name);
// Name of one capability bit ("stdio", "spawn", ...), or "?".
const char* cap_name(uint32_t cap);
// Parses "spawn" / "stdio" ...; nullopt if unknown.
std::optional<uint32_t> parse_cap(std::string_view name);
// Every capability's name, for messages: "stdio, env, ..., crypto".
std::string cap_names();
// Grants what one `--allow` (or a config's allow list) names: a capability
// ("spawn"), a bucket of the KV store ("kv:NAME", "kv:NAME:ro", "kv:*",
// which also grant kCapKv), or a host to fetch from ("net:HOST:PORT",
// "net:HOST:*", "net:*.DOMAIN:PORT", "net:[::1]:PORT", which grant kCapNet;
// `--allow-net HOST:PORT` is the same). Errors name the bad entry and the
// choices.
Status allow(Capabilities& caps, std::string_view what);

}  // namespace rusm::runtime
