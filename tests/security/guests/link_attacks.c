// Attacks on processes the attacker may not kill (tests/security/link_test.cc):
// a process without the `proc` capability tries to take a sibling down with
// it through a link, or through the sibling's supervisor.
#include <stdint.h>

#include "rusm.h"

// Answers every message with the same tag and payload.
RUSM_EXPORT(echo) void echo(void) {
  static char buf[256];
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, buf, sizeof buf);
    rusm_send(m.from, m.tag, buf, n < 0 ? 0 : (uint32_t)(n > 256 ? 256 : n));
  }
}

RUSM_EXPORT(sleeper) void sleeper(void) {
  rusm_sleep_ns(-1);
}

// Starts a one_for_one supervisor with one sleeper child; reports {sup,
// child} (tag 1), then waits.
RUSM_EXPORT(tree) void tree(rusm_pid reporter) {
  rusm_child_spec c = rusm_child("worker", "sleeper", 0, 0, RUSM_PERMANENT);
  int64_t sup = rusm_supervisor_start(RUSM_ONE_FOR_ONE, 3, 1000, &c, 1);
  rusm_pid out[2] = {(rusm_pid)sup, 0};
  if (sup > 0) {
    rusm_supervisor_which_children((rusm_pid)sup, &out[1], 1, 5000);
  }
  rusm_send(reporter, 1, out, sizeof out);
  rusm_sleep_ns(-1);
}

// Starts a supervisor with one sleeper child and terminates that child
// through it; reports the result (tag 3).
RUSM_EXPORT(own_tree_terminate) void own_tree_terminate(rusm_pid reporter) {
  rusm_child_spec c = rusm_child("worker", "sleeper", 0, 0, RUSM_PERMANENT);
  int64_t sup = rusm_supervisor_start(RUSM_ONE_FOR_ONE, 3, 1000, &c, 1);
  rusm_pid child = 0;
  int64_t r = sup;
  if (sup > 0 && rusm_supervisor_which_children((rusm_pid)sup, &child, 1, 5000) == 1) {
    r = rusm_supervisor_terminate_child((rusm_pid)sup, child, 5000);
  }
  rusm_send(reporter, 3, &r, sizeof r);
  rusm_sleep_ns(-1);
}

// Links to victim, asks sup to terminate child, monitors victim; reports the
// three results {link, terminate_child, monitor} (tag 2) and crashes.
RUSM_EXPORT(link_and_crash)
void link_and_crash(rusm_pid victim, rusm_pid sup, rusm_pid child, rusm_pid reporter) {
  int64_t out[3];
  out[0] = rusm_link(victim);
  out[1] = sup != 0 ? rusm_supervisor_terminate_child(sup, child, 5000) : 0;
  out[2] = rusm_monitor(victim);
  rusm_send(reporter, 2, out, sizeof out);
  rusm_exit_error("crash, taking linked processes with me");
}

int main(void) {
  return 0;
}
