// Attacks on the node's memory: guests that try to make it hold more than
// their budget (tests/security/budget_test.cc). Exported functions are spawned
// by the tests; main() runs one from the command line (`rusm run`):
//   flood   sends itself 8 MiB messages until a send fails; exit code = how
//           many were accepted.
#include <stdint.h>
#include <string.h>

#include "rusm.h"

static char g_big[8 << 20];

// Sends itself 8 MiB messages, never receiving, until a send fails (or 20
// succeed: 160 MiB is proof enough); returns how many were accepted and the
// last result.
static uint64_t flood(int32_t* last) {
  uint64_t sent = 0;
  int32_t r = RUSM_OK;
  while (sent < 20) {
    r = rusm_send(rusm_self(), 1, g_big, sizeof g_big);
    if (r != RUSM_OK) {
      break;
    }
    ++sent;
  }
  *last = r;
  return sent;
}

// Reports {accepted, last result} to reporter, then waits to be killed.
RUSM_EXPORT(self_flood) void self_flood(rusm_pid reporter) {
  int32_t last;
  uint64_t out[2];
  out[0] = flood(&last);
  out[1] = (uint64_t)(int64_t)last;
  rusm_send(reporter, 1, out, sizeof out);
  rusm_sleep_ns(-1);
}

// Starts n timers of `size` bytes an hour away to `to` (a dead pid), reports
// {started, last result}, then exits when told (a message with tag 9).
RUSM_EXPORT(far_timers) void far_timers(rusm_pid to, int32_t n, int32_t size, rusm_pid reporter) {
  uint64_t out[2] = {0, 0};
  for (int32_t i = 0; i < n; ++i) {
    int64_t t = rusm_send_after(3600ll * 1000000000ll, to, 5, g_big, (uint32_t)size);
    if (t < 0) {
      out[1] = (uint64_t)t;
      break;
    }
    ++out[0];
  }
  rusm_send(reporter, 1, out, sizeof out);
  rusm_msg m;
  rusm_receive_tag(9, &m, 0, 0, -1);
}

RUSM_EXPORT(sleeper) void sleeper(void) {
  rusm_sleep_ns(-1);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "flood") == 0) {
    int32_t last;
    uint64_t sent = flood(&last);
    return last == RUSM_EFULL ? (int)sent : 100;
  }
  return 0;
}
