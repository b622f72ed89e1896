// A long-running Wasm service: what `rusm dashboard` runs next to its native
// demo tree, so that the observer shows Wasm processes at work. It also runs
// on its own (until Ctrl-C):
//
//   build/rusm run build/examples/demo_service.wasm --profile trusted
//
// The main process starts two Wasm supervisors: one_for_one over three
// registered "squarer" workers, which crash on one job in 16 and come back,
// and a simple_one_for_one pool of short-lived "session" processes that it
// grows with start_child and trims with terminate_child. Every 100 ms it
// sends each squarer a job and collects the answers.
#include <stdio.h>

#include "rusm.h"

enum { kJob = 1, kDone = 2 };
enum { kSquarers = 3, kMaxSessions = 6 };

RUSM_EXPORT(squarer) void squarer(int32_t id) {
  char name[16];
  snprintf(name, sizeof name, "squarer%d", (int)id);
  if (rusm_register(name) != RUSM_OK) {
    rusm_exit_error("squarer: name taken");
  }
  for (;;) {
    rusm_msg m;
    uint64_t job = 0;
    rusm_receive(&m, &job, sizeof job);
    if (job % 16 == 15) {
      __builtin_trap();  // let it crash: the supervisor starts a fresh one
    }
    uint64_t answer = job * job;
    rusm_send(m.from, kDone, &answer, sizeof answer);
  }
}

// A session lives `ticks` x 100 ms, then ends normally.
RUSM_EXPORT(session) void session(int32_t ticks) {
  for (int32_t i = 0; i < ticks; ++i) {
    rusm_sleep_ms(100);
  }
}

int main(void) {
  static const uint64_t ids[kSquarers] = {0, 1, 2};
  static const char* const names[kSquarers] = {"squarer 0", "squarer 1", "squarer 2"};
  rusm_child_spec kids[kSquarers];
  for (int i = 0; i < kSquarers; ++i) {
    kids[i] = rusm_child(names[i], "squarer", &ids[i], 1, RUSM_PERMANENT);
  }
  if (rusm_supervisor_start(RUSM_ONE_FOR_ONE, 1000, 1000, kids, kSquarers) < 0) {
    fprintf(stderr, "demo_service: could not start the squarers' supervisor\n");
    return 1;
  }
  rusm_child_spec tmpl = rusm_child("session", "session", 0, 0, RUSM_TEMPORARY);
  int64_t sessions = rusm_supervisor_start(RUSM_SIMPLE_ONE_FOR_ONE, 100, 1000, &tmpl, 1);
  if (sessions < 0) {
    fprintf(stderr, "demo_service: could not start the session pool\n");
    return 1;
  }
  for (uint64_t tick = 0;; ++tick) {
    for (int i = 0; i < kSquarers; ++i) {
      char name[16];
      snprintf(name, sizeof name, "squarer%d", i);
      int64_t pid = rusm_whereis(name);
      if (pid > 0) {
        uint64_t job = tick * kSquarers + (uint64_t)i;
        rusm_send((rusm_pid)pid, kJob, &job, sizeof job);
      }
    }
    if (tick % 3 == 0) {
      uint64_t ticks = 10 + tick % 40;
      (void)rusm_supervisor_start_child((rusm_pid)sessions, &ticks, 1, 1000);
    }
    rusm_pid live[16];
    int32_t n = rusm_supervisor_which_children((rusm_pid)sessions, live, 16, 1000);
    if (n > kMaxSessions) {
      (void)rusm_supervisor_terminate_child((rusm_pid)sessions, live[0], 1000);
    }
    // Answers (and a crashed squarer's lost job) need no bookkeeping here:
    // drain the mailbox.
    rusm_msg m;
    uint64_t answer;
    while (rusm_receive_timeout(&m, &answer, sizeof answer, 0) >= 0) {
    }
    rusm_sleep_ms(100);
  }
}
