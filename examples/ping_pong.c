// ping-pong: main spawns `pong` (an exported function of this module), sends
// it N pings and counts the replies.
// rusm run build/examples/ping_pong.wasm --profile trusted -- 1000
#include <stdio.h>
#include <stdlib.h>

#include "rusm.h"

enum { kPing = 1, kPong = 2, kStop = 3 };

RUSM_EXPORT(pong) void pong(void) {
  rusm_msg m;
  uint64_t n;
  for (;;) {
    rusm_receive(&m, &n, sizeof n);
    if (m.tag == kStop) {
      return;
    }
    rusm_send(m.from, kPong, &n, sizeof n);
  }
}

int main(int argc, char** argv) {
  uint64_t rounds = argc > 1 ? strtoull(argv[1], 0, 10) : 1000;
  rusm_pid p = rusm_spawn_link("pong", 0, 0);
  if (p == 0) {
    fprintf(stderr, "spawn failed (needs the spawn capability)\n");
    return 3;
  }
  uint64_t sum = 0;
  for (uint64_t i = 0; i < rounds; ++i) {
    rusm_send(p, kPing, &i, sizeof i);
    rusm_msg m;
    uint64_t v = 0;
    rusm_receive_tag(kPong, &m, &v, sizeof v, -1);
    sum += v;
  }
  rusm_send(p, kStop, 0, 0);
  printf("%llu round trips, checksum %llu\n", (unsigned long long)rounds,
         (unsigned long long)sum);
  return sum == rounds * (rounds - 1) / 2 ? 0 : 1;
}
