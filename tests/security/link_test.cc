// Attacks through links (issue 9, item 8): a process without the `proc`
// capability cannot exit_pid a sibling, so it must not be able to kill one
// by linking to it and crashing, nor by asking the sibling's supervisor to
// terminate it. Pids are predictable, so the check is the capability, not
// secrecy. Monitors stay allowed: a DOWN reaches only the watcher.
#include <cstring>
#include <thread>

#include "wasm_fixture.h"

namespace rusm::security {
namespace {

using otp::Message;
using otp::Pid;

constexpr int64_t kEDenied = -4;

struct Results {
  int64_t link, terminate, monitor;
};

class LinkAttack : public WasmAttackTest {
 protected:
  void SetUp() override { start({"link_attacks"}); }

  bool echoes(Pid echo) {
    (void)probe_->send(echo, Message::make(42, "still here?"));
    auto m = receive(42, std::chrono::seconds(2));
    return m && m->text() == "still here?";
  }
  // Runs link_and_crash with `caps` and waits for it to die.
  Results attack(uint32_t caps, Pid victim, Pid sup = Pid(), Pid child = Pid()) {
    runtime::ProcessSpec s = spec("link_attacks", "link_and_crash",
                                  {victim.bits(), sup.bits(), child.bits(), me().bits()});
    s.caps.bits = caps;
    s.record_outcome = true;
    Pid attacker = spawn(s);
    Results r{1, 1, 0};
    auto m = receive(2);
    EXPECT_TRUE(m);
    if (m) {
      std::memcpy(&r, m->text().data(), std::min(sizeof r, m->size()));
    }
    auto out = rt_->wait(attacker, kWait);
    EXPECT_TRUE(out && out->reason.kind() == otp::ExitKind::kError);
    return r;
  }
};

TEST_F(LinkAttack, WithoutProcALinkCannotTakeASiblingDown) {
  Pid victim = spawn(spec("link_attacks", "echo", {}));
  ASSERT_TRUE(echoes(victim));
  Results r = attack(0, victim);  // sandboxed: no capability at all
  EXPECT_EQ(r.link, kEDenied);
  EXPECT_GT(r.monitor, 0) << "monitoring needs no capability";
  EXPECT_TRUE(echoes(victim)) << "the attacker's crash killed its sibling through a link";
}

TEST_F(LinkAttack, WithoutProcASupervisorCannotBeAskedToKillAnothersChild) {
  Pid owner = spawn(spec("link_attacks", "tree", {me().bits()}, "trusted"));
  auto m = receive(1);
  ASSERT_TRUE(m && owner);
  Pid tree[2];
  std::memcpy(tree, m->text().data(), sizeof tree);
  ASSERT_TRUE(tree[0] && tree[1]);
  Pid victim = spawn(spec("link_attacks", "echo", {}));
  Results r = attack(runtime::kCapSpawn, victim, tree[0], tree[1]);
  EXPECT_EQ(r.terminate, kEDenied);
  EXPECT_TRUE(rt_->node().is_alive(tree[1])) << "a stranger terminated the supervisor's child";
  EXPECT_TRUE(echoes(victim));
}

TEST_F(LinkAttack, AParentWithoutProcMayStillTerminateItsOwnSupervisorsChild) {
  runtime::ProcessSpec s = spec("link_attacks", "own_tree_terminate", {me().bits()});
  s.caps.bits = runtime::kCapSpawn;
  ASSERT_TRUE(spawn(s));
  auto m = receive(3);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->as<int64_t>(), 0) << "terminate_child on its own supervisor";
}

TEST_F(LinkAttack, WithProcLinksStillPropagateExits) {
  Pid victim = spawn(spec("link_attacks", "echo", {}));
  otp::MonitorRef ref = probe_->monitor(victim);
  std::this_thread::sleep_for(20ms);  // a probe's monitor takes effect asynchronously
  Results r = attack(runtime::kCapProcessCtl, victim);
  EXPECT_EQ(r.link, 0);
  auto down =
      probe_->receive_if([&](const Message& m) { return m.is_down() && m.ref() == ref; }, kWait);
  ASSERT_TRUE(down) << "a linked crash must still kill when the capability allows it";
  EXPECT_EQ(down->reason().kind(), otp::ExitKind::kError);
}

}  // namespace
}  // namespace rusm::security
