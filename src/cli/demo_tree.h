// A small supervision tree for `rusm dashboard` to show in its observer when
// no benchmark runs: a root supervisor ("demo") with a ticker that messages
// four registered workers every 200 ms, a store the workers report to, a
// watcher that monitors the workers, and a nested simple_one_for_one pool of
// sessions. Everything is labelled, so the process table reads like a story;
// killing any of it from the dashboard shows a supervisor restart.
#pragma once

#include "rusm/otp/node.h"
#include "rusm/result.h"

namespace rusm::cli {

// Starts the tree on node; returns the root supervisor. Node::shutdown stops it.
Result<otp::Pid> start_demo_tree(otp::Node& node);

}  // namespace rusm::cli
