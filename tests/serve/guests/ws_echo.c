/* WebSocket handlers for tests/serve/ws_test.cc (a reactor; each export is
 * a ws route's entry).
 *
 * handle: announces its pid to the name "ws_test" (if registered), then
 *   echoes text and binary frames; a message from another process (any
 *   ordinary tag) goes out as a text frame "msg:<payload>". Text commands:
 *   "exit" returns (close 1000), "trap" traps (close 1011), "close" calls
 *   ws_close(4000, "bye"), "req" answers path|query|X-Test header|param id,
 *   "badhandle" answers the results of calls with wrong handles, "ping"
 *   pings. On CLOSE it sends {i64 close code, i64 result of a ws_send
 *   after the close} to "ws_test" with tag 2 and returns.
 * ignore: announces its pid and then never looks at its frames (waits for
 *   tag 9 forever): the flood and the kill-after-close tests.
 * flood: announces its pid, waits for a tag 9 message, then receives frames
 *   until `expected` (tag 9's u64 payload) have arrived and answers
 *   "got <frames> <bytes>". */
#include <rusm.h>

static char buf[64 * 1024];

static void announce(void) {
  rusm_pid self = rusm_self();
  rusm_send_name("ws_test", 1, &self, sizeof self);
}

static uint32_t fmt_u(char* out, uint64_t v) {
  char tmp[24];
  uint32_t n = 0, i = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) {
    out[i++] = tmp[--n];
  }
  return i;
}

static uint32_t fmt_i(char* out, int64_t v) {
  if (v < 0) {
    out[0] = '-';
    return 1 + fmt_u(out + 1, (uint64_t)(-v));
  }
  return fmt_u(out, (uint64_t)v);
}

static int is(const char* s, int32_t n, const char* lit) {
  return n == (int32_t)strlen(lit) && memcmp(s, lit, (size_t)n) == 0;
}

__attribute__((export_name("handle"))) void handle(int32_t ws) {
  announce();
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, buf, sizeof buf);
    if (n < 0) {
      continue;
    }
    if (n > (int32_t)sizeof buf) {
      n = sizeof buf; /* tests stay below */
    }
    if (m.tag == RUSM_TAG_WS_CLOSE) {
      /* The close code, and what a send after the close returns. */
      int64_t report[2] = {(int64_t)rusm_ws_close_code(buf, n),
                           rusm_ws_send(ws, RUSM_WS_TEXT, "late", 4)};
      rusm_send_name("ws_test", 2, report, sizeof report);
      return;
    }
    if (m.tag == RUSM_TAG_WS_BINARY) {
      rusm_ws_send(ws, RUSM_WS_BINARY, buf, (uint32_t)n);
      continue;
    }
    if (m.tag != RUSM_TAG_WS_TEXT) {
      if (m.tag < RUSM_TAG_RESERVED) {
        static char out[sizeof buf + 8];
        memcpy(out, "msg:", 4);
        memcpy(out + 4, buf, (size_t)n);
        rusm_ws_send(ws, RUSM_WS_TEXT, out, (uint32_t)n + 4);
      }
      continue;
    }
    if (is(buf, n, "exit")) {
      return;
    }
    if (is(buf, n, "trap")) {
      __builtin_trap();
    }
    if (is(buf, n, "close")) {
      rusm_ws_close(ws, 4000, "bye", 3);
      continue;
    }
    if (is(buf, n, "ping")) {
      rusm_ws_ping(ws, "p", 1);
      rusm_ws_send_text(ws, "pinged");
      continue;
    }
    if (is(buf, n, "req")) {
      static char out[1024];
      uint32_t k = 0;
      int32_t r = rusm_ws_path(ws, out, 200);
      k += r > 0 ? (uint32_t)r : 0;
      out[k++] = '|';
      r = rusm_ws_query(ws, out + k, 200);
      k += r > 0 ? (uint32_t)r : 0;
      out[k++] = '|';
      r = rusm_ws_header(ws, "x-test", out + k, 200);
      k += r > 0 ? (uint32_t)r : 0;
      out[k++] = '|';
      r = rusm_ws_param(ws, "id", out + k, 200);
      k += r > 0 ? (uint32_t)r : 0;
      out[k++] = '|';
      r = rusm_ws_header(ws, "x-missing", out + k, 200);
      k += fmt_i(out + k, r);
      out[k++] = '|';
      /* A buffer too small: the full length comes back, the copy is cut. */
      char small[2];
      r = rusm_ws_path(ws, small, sizeof small);
      k += fmt_i(out + k, r);
      rusm_ws_send(ws, RUSM_WS_TEXT, out, k);
      continue;
    }
    if (is(buf, n, "badhandle")) {
      static char out[128];
      uint32_t k = 0;
      k += fmt_i(out + k, rusm_ws_send(ws + 7, RUSM_WS_TEXT, "x", 1));
      out[k++] = ' ';
      k += fmt_i(out + k, rusm_ws_send(0, RUSM_WS_TEXT, "x", 1));
      out[k++] = ' ';
      k += fmt_i(out + k, rusm_ws_close(-1, 1000, "", 0));
      out[k++] = ' ';
      k += fmt_i(out + k, rusm_ws_send(ws, RUSM_WS_TEXT, (const void*)0xFFFFFFF0u, 100));
      out[k++] = ' ';
      k += fmt_i(out + k, rusm_ws_close(ws, 1005, "", 0));
      rusm_ws_send(ws, RUSM_WS_TEXT, out, k);
      continue;
    }
    rusm_ws_send(ws, RUSM_WS_TEXT, buf, (uint32_t)n);
  }
}

__attribute__((export_name("ignore"))) void ignore(int32_t ws) {
  (void)ws;
  announce();
  rusm_msg m;
  rusm_receive_tag(9, &m, buf, sizeof buf, -1);
}

__attribute__((export_name("flood"))) void flood(int32_t ws) {
  announce();
  rusm_msg m;
  uint64_t expected = 0;
  rusm_receive_tag(9, &m, &expected, sizeof expected, -1);
  uint64_t frames = 0, bytes = 0;
  while (frames < expected) {
    int32_t n = rusm_receive(&m, buf, sizeof buf);
    if (m.tag == RUSM_TAG_WS_BINARY || m.tag == RUSM_TAG_WS_TEXT) {
      ++frames;
      bytes += (uint64_t)n;
    } else if (m.tag == RUSM_TAG_WS_CLOSE) {
      return;
    }
  }
  static char out[64];
  uint32_t k = 0;
  memcpy(out, "got ", 4);
  k = 4;
  k += fmt_u(out + k, frames);
  out[k++] = ' ';
  k += fmt_u(out + k, bytes);
  rusm_ws_send(ws, RUSM_WS_TEXT, out, k);
  /* Stay until the client closes. */
  for (;;) {
    rusm_receive(&m, buf, sizeof buf);
    if (m.tag == RUSM_TAG_WS_CLOSE) {
      return;
    }
  }
}
