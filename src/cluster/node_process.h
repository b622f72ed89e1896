// A cluster node as a child OS process, for the multi-process tests and the
// cluster benchmarks: the child prints "PORT n" once its Cluster listens and
// runs until its standard input closes; the parent starts it, reads the port,
// and kills it (SIGKILL) when done.
//
//   auto b = start_node_process({"/path/cluster_node", "n2", certs}, /*cpu=*/1);
//   if (!b) ...;           // b.error(): it did not say its port in time
//   seed = "127.0.0.1:" + std::to_string((*b)->port);
//
// Child side: run_node_until_stdin_closes(cluster) after setting it up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rusm/result.h"

namespace rusm::cluster {

class Cluster;

struct NodeProcess {
  pid_t pid = -1;
  int in = -1;  // its standard input: closing it ends the node
  uint16_t port = 0;

  NodeProcess() = default;
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;
  // Closes its input, then SIGKILL (and SIGCONT, for one that was stopped)
  // and reaps it.
  ~NodeProcess();
};

// Runs argv (argv[0] is the program's path), pinned to core `cpu` unless it
// is negative, and waits up to `wait` for its "PORT n" line.
Result<std::unique_ptr<NodeProcess>> start_node_process(
    std::vector<std::string> argv, int cpu = -1,
    std::chrono::milliseconds wait = std::chrono::seconds(10));

// The child's side: prints "PORT n" for the parent, serves until standard
// input closes, then stops the cluster.
void run_node_until_stdin_closes(Cluster& cluster);

}  // namespace rusm::cluster
