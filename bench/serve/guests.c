/* The handlers of the serving scenarios (bench/serve/serve_bench.cc), one
 * reactor module: hello answers every request with the 16 bytes of the
 * anchors (../shared/anchors/serving), echo sends every WebSocket message
 * back, events streams SSE events until the client goes. */
#include <stdint.h>

#include "rusm.h"

static const char kHello[] = "hello from rusm\n";
static const char kHelloHeaders[] = "Content-Type: text/plain\n";

RUSM_EXPORT(hello) void hello(int32_t req) {
  rusm_http_respond(req, 200, kHelloHeaders, kHello, sizeof kHello - 1);
}

static char frame[65536];

RUSM_EXPORT(echo) void echo(int32_t ws) {
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, frame, sizeof frame);
    if (n < 0 || m.tag == RUSM_TAG_WS_CLOSE) {
      return;
    }
    if (m.tag == RUSM_TAG_WS_TEXT || m.tag == RUSM_TAG_WS_BINARY) {
      uint32_t len = (uint32_t)n < sizeof frame ? (uint32_t)n : sizeof frame;
      if (rusm_ws_send(ws, m.tag == RUSM_TAG_WS_TEXT, frame, len) < 0) {
        return;
      }
    }
  }
}

RUSM_EXPORT(events) void events(int32_t req) {
  if (rusm_http_start_events(req, "") < 0) {
    return;
  }
  char data[24];
  for (uint64_t i = 0;; ++i) {
    int len = 0;
    uint64_t v = i;
    char digits[20];
    int d = 0;
    do {
      digits[d++] = (char)('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (d > 0) {
      data[len++] = digits[--d];
    }
    if (rusm_http_send_event(req, "", data, (uint32_t)len) < 0) {
      return;
    }
  }
}
