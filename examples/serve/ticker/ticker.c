/* Server-Sent Events: a process per subscriber sends a "tick" event every
 * 500 ms ("?n=10": ten ticks, then the stream ends with the process).
 *   curl -N http://127.0.0.1:8082/ticks?n=5 */
#include <stdio.h>
#include <stdlib.h>

#include "rusm.h"

RUSM_EXPORT(ticks) void ticks(rusm_req req) {
  char q[32];
  int n = -1; /* forever: the stream lasts until the client leaves */
  int32_t len = rusm_http_query(req, q, sizeof q - 1);
  if (len > 2 && len < (int32_t)sizeof q && q[0] == 'n' && q[1] == '=') {
    q[len] = 0;
    n = atoi(q + 2);
  }
  rusm_http_start_events(req, 0);
  for (int i = 0; n < 0 || i < n; ++i) {
    char data[64];
    int m = snprintf(data, sizeof data, "{\"tick\":%d}", i);
    if (rusm_http_send_event(req, "tick", data, (uint32_t)m) < 0) {
      return; /* the client left */
    }
    rusm_sleep_ms(500);
  }
}

/* The page that subscribes. */
RUSM_EXPORT(page) void page(rusm_req req) {
  rusm_http_respond_str(req, 200, "Content-Type: text/html; charset=utf-8\n",
                        "<!doctype html><title>ticker</title><pre id=out></pre><script>\n"
                        "const es = new EventSource('/ticks');\n"
                        "es.addEventListener('tick', e => out.textContent += e.data + '\\n');\n"
                        "</script>\n");
}
