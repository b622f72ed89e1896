/* The C baseline of guest/js/bench/spawn.js: the same two measurements for
 * a C process (this module's exports).
 *   rusm run spawn_c.wasm --allow spawn --allow clock -- N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rusm.h"

RUSM_EXPORT(nop) void nop(void) {}

RUSM_EXPORT(idle) void idle(void) {
  char info[2048];
  int32_t n = rusm_process_info(rusm_self(), info, sizeof info - 1);
  info[n < 0 ? 0 : (n < (int32_t)sizeof info - 1 ? n : (int32_t)sizeof info - 1)] = 0;
  const char* m = strstr(info, "memory=");
  uint64_t bytes = m ? strtoull(m + 7, NULL, 10) : 0;
  rusm_send_u64(rusm_parent(), 1, bytes);
  rusm_msg h;
  rusm_receive_tag(2, &h, NULL, 0, -1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  int count = argc > 1 ? atoi(argv[1]) : 200;
  double t0 = now();
  for (int i = 0; i < count; i++) {
    rusm_ref ref;
    if (rusm_spawn_monitor("nop", NULL, 0, &ref) == 0) {
      return 1;
    }
  }
  rusm_msg h;
  char buf[64];
  for (int i = 0; i < count; i++) {
    rusm_receive_tag(RUSM_TAG_DOWN, &h, buf, sizeof buf, -1);
  }
  double seconds = now() - t0;
  rusm_pid kids[20];
  uint64_t memory = 0;
  for (int i = 0; i < 20; i++) {
    kids[i] = rusm_spawn("idle", NULL, 0);
  }
  for (int i = 0; i < 20; i++) {
    uint64_t b = 0;
    rusm_receive_tag(1, &h, &b, 8, -1);
    memory += b;
  }
  for (int i = 0; i < 20; i++) {
    rusm_send(kids[i], 2, NULL, 0);
  }
  printf("{\"kind\":\"c\",\"spawned\":%d,\"spawns_per_s\":%.0f,\"idle_bytes\":%llu}\n", count,
         count / seconds, (unsigned long long)(memory / 20));
  return 0;
}
