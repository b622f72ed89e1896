// Fuel between Wasm processes: whatever the shape of a process's loop, a slice
// buys the same amount of work, so CPU-bound processes progress at the same
// rate. Measured without clocks: the guests (guests/t_fuel.c) do the same
// work per iteration and report every 20,000 iterations; the test compares
// how many reports each sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "rusm/runtime/runtime.h"

namespace rusm::runtime {
namespace {

using namespace std::chrono_literals;
using otp::Message;
using otp::Pid;
using otp::Probe;

std::string guest(const char* name) {
  return std::string(RUSM_RT_GUESTS) + "/" + name;
}

// Three processes loop over a 2048-case switch (an interpreter's dispatch
// loop) next to a bystander looping over 4 cases, on one worker. Charged for
// the cases they do not take, the spinners used to get a sliver of a slice's
// work each turn (they yielded after a few iterations); charged for more
// work than the slice, they would crowd the bystander out. Either way the
// report counts would drift apart.
TEST(FuelFairnessTest, InterpreterShapedSpinnersAndABystanderProgressAlike) {
  RuntimeOptions o;
  o.node.workers = 1;
  Runtime rt(o);
  ASSERT_TRUE(rt.load_file("t_fuel", guest("t_fuel.wasm")).is_ok());
  Probe probe(rt.node());
  auto spawn = [&](const char* fn) {
    ProcessSpec s;
    s.module = "t_fuel";
    s.function = fn;
    s.args = {probe.pid().bits()};
    auto p = rt.spawn(s);
    EXPECT_TRUE(p.is_ok()) << (p ? "" : p.message());
    return p ? p->pid : Pid();
  };
  std::vector<Pid> spinners = {spawn("big_switch"), spawn("big_switch"), spawn("big_switch")};
  Pid bystander = spawn("small_switch");

  // Counts reports until `done`; the timeout is a liveness bound only: the
  // assertions are on the counts, not the time.
  std::map<Pid, int> reports;
  auto count_until = [&](auto done) {
    while (!done()) {
      auto m = probe.receive_if([](const Message& m) { return m.tag() == 7; }, 60s);
      ASSERT_TRUE(m) << "no report within 60 s; bystander sent " << reports[bystander];
      ++reports[m->from()];
    }
  };
  // Until each has reported once (the first spinner started alone), then
  // from zero until the bystander has sent kReports.
  count_until([&] {
    return reports.size() == 4 &&
           std::all_of(reports.begin(), reports.end(), [](auto& r) { return r.second > 0; });
  });
  constexpr int kReports = 30;
  reports.clear();
  count_until([&] { return reports[bystander] >= kReports; });
  for (Pid p : spinners) {
    rt.node().exit(p, otp::ExitReason::kill());
  }
  rt.node().exit(bystander, otp::ExitReason::kill());

  for (Pid p : spinners) {
    EXPECT_GE(reports[p], kReports / 2) << "a 2048-case spinner progressed at under half the "
                                           "bystander's rate";
    EXPECT_LE(reports[p], kReports * 2) << "a 2048-case spinner progressed at over twice the "
                                           "bystander's rate";
  }
}

}  // namespace
}  // namespace rusm::runtime
