// The BEAM anchors for the actor scenarios: runs functions of
// ../shared/anchors/beam/bench.escript (compiled as a module, so one scenario
// runs only its own part, with our duration) and parses what they print.
#pragma once

#include <optional>
#include <string>

#include "common/scenario.h"

namespace rusm::bench::otp {

struct BeamOutput {
  bool ran = false;
  std::string text;  // what the BEAM printed
  std::string note;  // why it did not run, if it did not
};

// Runs `calls` (Erlang expressions separated by commas, e.g.
// "rusm_beam_anchor:spawn_storm(2000)") in a fresh `erl` with the anchors
// loaded. Returns ran = false with a note when erl or the anchors are missing
// or baselines are off.
// extra_module / extra_source: one more module (its name and source) to
// compile beside them, for a scenario's own Erlang code.
BeamOutput run_beam(const Options& options, const std::string& calls,
                    const std::string& extra_module = "", const std::string& extra_source = "");

// The first number after `prefix` in text (e.g. prefix "spawn-storm: ").
std::optional<double> number_after(const std::string& text, const std::string& prefix);

inline Row make_row(std::string metric, double value, std::string unit) {
  Row r;
  r.metric = std::move(metric);
  r.value = value;
  r.unit = std::move(unit);
  return r;
}

// Seconds as milliseconds for the anchors' Ms arguments.
inline int ms(double seconds) {
  return static_cast<int>(seconds * 1000);
}

}  // namespace rusm::bench::otp

#include <atomic>
#include <chrono>
#include <thread>

#include "rusm/otp/node.h"

namespace rusm::bench::otp {

// Waits `seconds` (or until progress.should_stop()), sampling the rate of
// count() as `metric` about four times a second, and, given a node, its live
// process count as "processes". Returns the seconds waited.
template <typename F>
double run_sampling(double seconds, Progress& progress, const char* metric, F count,
                    const rusm::otp::Node* node = nullptr) {
  auto t0 = std::chrono::steady_clock::now();
  auto last_t = t0;
  double last = static_cast<double>(count());
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last_t).count();
    if (dt >= 0.25) {
      double c = static_cast<double>(count());
      progress.sample(metric, (c - last) / dt);
      if (node != nullptr) {
        progress.sample("processes", static_cast<double>(node->process_count()));
      }
      last = c;
      last_t = now;
    }
    double elapsed = std::chrono::duration<double>(now - t0).count();
    if (elapsed >= seconds || progress.should_stop()) {
      return elapsed;
    }
  }
}

}  // namespace rusm::bench::otp
