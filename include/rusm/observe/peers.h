// One other node of this node's cluster, as the observer shows it (the
// shell's `nodes`, the dashboard's Cluster panel). The observer does not
// depend on the cluster layer: whoever starts both (rusm serve) hands the
// observer a function that lists the peers (cluster::Cluster::nodes()).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rusm::observe {

struct PeerNode {
  std::string name;
  uint16_t id = 0;
  std::string address;  // where it listens
  bool up = false;
  uint64_t bytes_in = 0, bytes_out = 0;  // on the connection to it, since it came up
};

// Must be thread-safe and quick (it is called at the sampler's rate).
using PeersSource = std::function<std::vector<PeerNode>()>;

}  // namespace rusm::observe
