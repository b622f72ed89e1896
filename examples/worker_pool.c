// worker-pool: a one_for_one supervisor over three workers (this module's
// exported `worker`); every third job crashes its worker, which the
// supervisor restarts under the same registered name.
// rusm run build/examples/worker_pool.wasm --profile trusted
#include <stdio.h>

#include "rusm.h"

enum { kJob = 1, kDone = 2 };

RUSM_EXPORT(worker) void worker(int32_t id) {
  char name[16];
  snprintf(name, sizeof name, "worker%d", (int)id);
  // A crashed predecessor's name was freed before the supervisor heard of
  // its exit, so the name is free here.
  if (rusm_register(name) != RUSM_OK) {
    rusm_exit_error("worker: name taken");
  }
  for (;;) {
    rusm_msg m;
    uint64_t job = 0;
    rusm_receive(&m, &job, sizeof job);
    if (job % 3 == 2) {
      __builtin_trap();  // "let it crash": the supervisor restarts us
    }
    uint64_t answer = job * job;
    rusm_send(m.from, kDone, &answer, sizeof answer);
  }
}

int main(void) {
  static const uint64_t ids[3] = {0, 1, 2};
  rusm_child_spec kids[3];
  for (int i = 0; i < 3; ++i) {
    kids[i] = rusm_child(i == 0   ? "w0"
                         : i == 1 ? "w1"
                                  : "w2",
                         "worker", &ids[i], 1, RUSM_PERMANENT);
  }
  if (rusm_supervisor_start(RUSM_ONE_FOR_ONE, 100, 1000, kids, 3) < 0) {
    fprintf(stderr, "could not start the supervisor\n");
    return 1;
  }
  int answered = 0, crashed = 0;
  for (uint64_t job = 0; job < 30; ++job) {
    char name[16];
    snprintf(name, sizeof name, "worker%d", (int)(job % 3));
    int64_t pid = 0;
    while ((pid = rusm_whereis(name)) == 0) {
      rusm_sleep_ms(1);  // being restarted
    }
    rusm_ref ref = (rusm_ref)rusm_monitor((rusm_pid)pid);
    rusm_send((rusm_pid)pid, kJob, &job, sizeof job);
    rusm_msg m;
    uint64_t v;
    for (;;) {
      rusm_receive(&m, &v, sizeof v);
      if (m.tag == kDone) {
        ++answered;
        rusm_demonitor(ref, 1);
        break;
      }
      if (m.tag == RUSM_TAG_DOWN && m.ref == ref) {
        ++crashed;
        break;
      }
    }
  }
  printf("%d jobs answered, %d workers crashed and were restarted\n", answered, crashed);
  return answered == 20 && crashed == 10 ? 0 : 1;
}
