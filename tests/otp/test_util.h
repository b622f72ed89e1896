// Helpers shared by the actor-core tests.
#pragma once

#include <chrono>

#include "rusm/otp/node.h"

namespace rusm::otp::test {

using namespace std::chrono_literals;

// Generous: sanitizer builds on a loaded 2-core machine are slow.
inline constexpr Duration kWait = std::chrono::seconds(20);

inline NodeOptions small_node(unsigned workers = 2) {
  NodeOptions o;
  o.workers = workers;
  o.max_processes = 1u << 16;
  return o;
}

// Polls cond until true or kWait passes.
template <typename F>
bool eventually(F cond) {
  auto until = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

}  // namespace rusm::otp::test
