/* An sse route (rusm.toml: path = "/events"): a process per subscriber sends
 * a "tick" event every second, for as long as the client listens ("?n=5":
 * five ticks, then the stream ends with the process).
 *   curl -N http://127.0.0.1:8080/events?n=5 */
#include <stdio.h>
#include <stdlib.h>

#include "rusm.h"

/* The value of `key` in a query string ("n=5&x=1"), or -1. */
static long query_number(const char* q, int32_t len, const char* key) {
  size_t key_len = strlen(key);
  for (int32_t i = 0; i < len; ++i) {
    if ((i == 0 || q[i - 1] == '&') && i + (int32_t)key_len < len &&
        memcmp(q + i, key, key_len) == 0 && q[i + key_len] == '=') {
      return strtol(q + i + key_len + 1, NULL, 10);
    }
  }
  return -1;
}

RUSM_EXPORT(handle) void handle(rusm_req req) {
  char q[128];
  int32_t q_len = rusm_http_query(req, q, sizeof q - 1);
  if (q_len < 0 || q_len >= (int32_t)sizeof q) {
    q_len = 0; /* none, or too long to be ours */
  }
  q[q_len] = 0;
  long n = query_number(q, q_len, "n"); /* < 0: forever */

  rusm_http_start_events(req, NULL);
  for (long i = 0; n < 0 || i < n; ++i) {
    char data[64];
    int len = snprintf(data, sizeof data, "{\"tick\":%ld}", i);
    /* Suspends while the client's socket is full; fails once it left. */
    if (rusm_http_send_event(req, "tick", data, (uint32_t)len) < 0) {
      return;
    }
    if (n < 0 || i + 1 < n) {
      rusm_sleep_ms(1000);
    }
  }
}
