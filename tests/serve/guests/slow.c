/* Handlers of tests/serve/flood_test.cc: "slow" holds its in-flight slot
 * for a while, so that a flood overruns its route's max_in_flight. */
#include <stdlib.h>

#include "rusm.h"

/* Sleeps "?ms=N" milliseconds (default 100, at most 10 s), then answers
 * "slept\n". */
RUSM_EXPORT(slow) void slow(rusm_req req) {
  char q[32];
  int ms = 100;
  int32_t n = rusm_http_query(req, q, sizeof q - 1);
  if (n > 3 && n < (int32_t)sizeof q && q[0] == 'm' && q[1] == 's' && q[2] == '=') {
    q[n] = 0;
    ms = atoi(q + 3);
    if (ms < 0 || ms > 10000) {
      ms = 100;
    }
  }
  rusm_sleep_ms(ms);
  rusm_http_respond_str(req, 200, "Content-Type: text/plain\n", "slept\n");
}
