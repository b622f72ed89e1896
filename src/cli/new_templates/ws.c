/* A ws route (rusm.toml: path = "/ws"): each WebSocket connection is its own
 * process. Frames arrive in its mailbox as messages, so the same receive
 * loop could also take messages from other processes; this one echoes every
 * message back, text as text and binary as binary.
 *   websocat ws://127.0.0.1:8080/ws  (or the page at http://127.0.0.1:8080/) */
#include <stdlib.h>

#include "rusm.h"

static char buf[4096];

RUSM_EXPORT(handle) void handle(int32_t ws) {
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, buf, sizeof buf);
    if (n < 0) {
      continue;
    }
    if (m.tag == RUSM_TAG_WS_CLOSE) {
      return; /* the connection ended; nothing follows */
    }
    if (m.tag != RUSM_TAG_WS_TEXT && m.tag != RUSM_TAG_WS_BINARY) {
      continue;
    }
    /* receive copied at most sizeof buf bytes and returned the full size;
     * a longer message (up to limits.ws_message_bytes) is read in full. */
    char* data = buf;
    if (n > (int32_t)sizeof buf) {
      data = malloc((size_t)n);
      if (data == NULL) {
        rusm_ws_close(ws, 1009, "too big for me", 14);
        continue;
      }
      memcpy(data, buf, sizeof buf);
      if (rusm_message_read(sizeof buf, data + sizeof buf, (uint32_t)n - sizeof buf) < 0) {
        free(data);
        continue;
      }
    }
    int32_t text = m.tag == RUSM_TAG_WS_TEXT ? RUSM_WS_TEXT : RUSM_WS_BINARY;
    int32_t sent = rusm_ws_send(ws, text, data, (uint32_t)n);
    if (data != buf) {
      free(data);
    }
    if (sent == RUSM_ECLOSED) {
      return;
    }
  }
}
