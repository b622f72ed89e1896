// forever: one process loops forever; another keeps answering requests.
// Fuel-based preemption keeps the answers coming, even on one worker.
// rusm run build/examples/forever.wasm --profile trusted --workers 1
#include <stdio.h>

#include "rusm.h"

RUSM_EXPORT(spinner) void spinner(void) {
  volatile uint64_t n = 0;
  for (;;) {
    ++n;
  }
}

RUSM_EXPORT(answerer) void answerer(void) {
  for (;;) {
    rusm_msg m;
    uint64_t v;
    rusm_receive(&m, &v, sizeof v);
    v += 1;
    rusm_send(m.from, 2, &v, sizeof v);
  }
}

int main(void) {
  rusm_pid spin = rusm_spawn("spinner", 0, 0);
  rusm_pid ans = rusm_spawn("answerer", 0, 0);
  uint64_t v = 0;
  for (int i = 0; i < 100; ++i) {
    rusm_send(ans, 1, &v, sizeof v);
    rusm_msg m;
    rusm_receive_tag(2, &m, &v, sizeof v, -1);
  }
  printf("100 answers next to a process that never stops looping (value %llu)\n",
         (unsigned long long)v);
  rusm_kill(spin);
  rusm_kill(ans);
  return v == 100 ? 0 : 1;
}
