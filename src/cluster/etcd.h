// Global names kept in etcd (ClusterOptions::etcd; docs/cluster.md, "Global
// names in etcd"): the otp::GlobalAuthority the cluster's router offers when
// the cluster is configured with etcd endpoints.
//
// Layout under the prefix P (etcd v3, through its JSON gateway over HTTP/1.1):
//
//   P/nodes/ID    this node's lease id (decimal), held by that lease
//   P/names/NAME  the holder's pid bits (decimal), held by the lease of the
//                 pid's node
//
// Every node holds one lease (ClusterOptions::etcd.lease_ttl) and keeps it
// alive; a node that dies, or is cut off from etcd for longer than the TTL,
// loses its lease and so its processes' names. A registration is one etcd
// transaction (put if the key does not exist, else read its holder), so
// names are linearizable: two processes never hold one name, whatever the
// partitions between nodes. A process of another node is registered with
// that node's lease (read from P/nodes/ID), so its names live and die with
// it, not with the node that asked.
//
// Each node's replica (otp::Node::authority_put/_del) follows a watch of
// P/names/ from the revision of an initial read; the answer to this node's
// own registration is applied at once (so register-then-whereis on one node
// sees the name), and per-name revisions keep the two sources from applying
// anything twice or out of order. A watch that fails is reopened after a
// fresh read.
//
// Names this node's processes hold are remembered; when a name of theirs is
// deleted by nobody here, the lease is checked: if it expired (the node was
// cut off), a new lease is taken and the names re-registered, and a process
// whose name was taken meanwhile is told as a conflict loser (on_lost).
//
// Threads: a request thread runs registrations, deletes and keep-alives one
// at a time on a keep-alive connection; a watch thread reads the watch. Both
// block on sockets with timeouts; stop() wakes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rusm/otp/router.h"
#include "rusm/result.h"

namespace rusm::otp {
class Node;
}

namespace rusm::cluster {

struct EtcdOptions;

// "http://host:port" or "host:port" -> (host, port). https is refused ("not
// supported yet").
struct EtcdEndpoint {
  std::string host;
  uint16_t port = 0;
};
Result<EtcdEndpoint> parse_etcd_endpoint(std::string_view url);

std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

class EtcdRegistry final : public otp::GlobalAuthority {
 public:
  using Log = std::function<void(const std::string&)>;
  // A local process lost `name` (another node registered it while this
  // node's lease was gone).
  using Lost = std::function<void(otp::Pid, const std::string& name)>;

  // Connects, takes the lease, loads every name into the node's replica and
  // starts watching. Errors name the endpoint and what failed.
  static Result<std::unique_ptr<EtcdRegistry>> start(otp::Node& node, const EtcdOptions& options,
                                                     Log log, Lost lost);
  ~EtcdRegistry() override;  // stop()

  // Revokes the lease (this node's names go at once), fails what waits with
  // "the cluster stopped", joins the threads. Idempotent.
  void stop();

  void register_name(const otp::GlobalName& g, std::function<void(Status)> done) override;
  void unregister_name(std::string name, otp::Pid pid, std::function<void(Status)> done) override;

  int64_t lease() const;  // for tests
  // Test hook: stop (or resume) keep-alives, so the lease expires.
  void pause_keepalive(bool paused);

  struct Impl;

 private:
  explicit EtcdRegistry(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace rusm::cluster
