/* Handlers of tests/serve/http_test.cc: one export per behaviour, each an
 * http/sse route's entry taking the request handle. */
#include <stdio.h>
#include <stdlib.h>

#include "rusm.h"

static char buf[65536];

static int append(char* out, int at, const char* s, int n) {
  memcpy(out + at, s, (size_t)n);
  return at + n;
}

RUSM_EXPORT(hello) void hello(rusm_req req) {
  rusm_http_respond_str(req, 200, "Content-Type: text/plain\n", "hello from wasm\n");
}

/* Everything the request head says, one "key=value" line each. */
RUSM_EXPORT(info) void info(rusm_req req) {
  static char out[8192];
  int at = 0;
  int32_t n;
#define FIELD(key, call)                                   \
  at = append(out, at, key "=", (int)strlen(key "="));     \
  n = call;                                                \
  at = append(out, at, n >= 0 ? buf : "ERR", n >= 0 ? n : 3); \
  out[at++] = '\n';
  FIELD("method", rusm_http_method(req, buf, sizeof buf))
  FIELD("target", rusm_http_target(req, buf, sizeof buf))
  FIELD("path", rusm_http_path(req, buf, sizeof buf))
  FIELD("query", rusm_http_query(req, buf, sizeof buf))
  FIELD("x-test", rusm_http_header(req, "x-TEST", buf, sizeof buf))
  FIELD("id", rusm_http_param(req, "id", buf, sizeof buf))
  FIELD("rest", rusm_http_param(req, "*", buf, sizeof buf))
  FIELD("peer", rusm_http_peer(req, buf, sizeof buf))
#undef FIELD
  /* a short buffer still reports the full length */
  char small[2];
  int32_t full = rusm_http_path(req, small, sizeof small);
  at += snprintf(out + at, sizeof out - at, "pathlen=%d\n", full);
  at += snprintf(out + at, sizeof out - at, "missing=%d\n",
                 rusm_http_header(req, "x-missing", buf, sizeof buf));
  n = rusm_http_headers(req, buf, sizeof buf);
  at = append(out, at, "headers:\n", 9);
  at = append(out, at, buf, n);
  rusm_http_respond(req, 200, "X-Handler: info\n", out, (uint32_t)at);
}

/* Echoes the body as a chunked response, read in small pieces (so a chunk
 * from the connection is handed over in several reads). */
RUSM_EXPORT(echo) void echo(rusm_req req) {
  int32_t r = rusm_http_start(req, 200, "Content-Type: application/octet-stream\n",
                              RUSM_HTTP_UNKNOWN_LENGTH);
  if (r < 0)
    rusm_exit_error("start");
  for (;;) {
    int32_t n = rusm_http_read(req, buf, 1000);
    if (n == RUSM_ETOOLARGE)
      rusm_exit_error("too large after start");
    if (n < 0)
      rusm_exit_error("read failed");
    if (n == 0)
      break;
    if (rusm_http_write(req, buf, (uint32_t)n) < 0)
      return;
  }
  rusm_http_finish(req);
}

/* Counts the body; 413 comes from the host if the guest gives up on ETOOLARGE. */
RUSM_EXPORT(count) void count(rusm_req req) {
  int64_t total = 0;
  for (;;) {
    int32_t n = rusm_http_read(req, buf, sizeof buf);
    if (n < 0)
      return; /* no response: the host answers (413 for ETOOLARGE) */
    if (n == 0)
      break;
    total += n;
  }
  char out[32];
  int len = snprintf(out, sizeof out, "%lld", (long long)total);
  rusm_http_respond(req, 200, 0, out, (uint32_t)len);
}

/* A Content-Length response written in three pieces. */
RUSM_EXPORT(fixed) void fixed(rusm_req req) {
  rusm_http_start(req, 201, "X-Kind: fixed\n", 15);
  rusm_http_write_str(req, "aaaaa");
  rusm_http_write_str(req, "bbbbb");
  rusm_http_write_str(req, "ccccc");
  rusm_http_finish(req);
}

/* Chunked, ended by the process's exit (no http_finish). */
RUSM_EXPORT(chunked) void chunked(rusm_req req) {
  rusm_http_start(req, 200, 0, RUSM_HTTP_UNKNOWN_LENGTH);
  rusm_http_write_str(req, "one,");
  rusm_http_write_str(req, "two,");
  rusm_http_write_str(req, "three");
}

RUSM_EXPORT(crash) void crash(rusm_req req) {
  (void)req;
  __builtin_trap();
}

RUSM_EXPORT(hang) void hang(rusm_req req) {
  (void)req;
  rusm_sleep_ns(-1);
}

RUSM_EXPORT(silent) void silent(rusm_req req) {
  (void)req;
}

/* SSE: n events ("?n=5"), event "tick", data "i" plus a second line for even i. */
RUSM_EXPORT(events) void events(rusm_req req) {
  int32_t q = rusm_http_query(req, buf, sizeof buf - 1);
  int n = 3;
  if (q > 2 && buf[0] == 'n' && buf[1] == '=') {
    buf[q] = 0;
    n = atoi(buf + 2);
  }
  if (rusm_http_start_events(req, "X-Stream: ticks\n") < 0)
    rusm_exit_error("start_events");
  for (int i = 0; i < n; ++i) {
    char data[64];
    int len = i % 2 == 0 ? snprintf(data, sizeof data, "%d\nsecond", i)
                         : snprintf(data, sizeof data, "%d", i);
    if (rusm_http_send_event(req, i == n - 1 ? "" : "tick", data, (uint32_t)len) < 0)
      return;
  }
}

/* Streams 8 MiB in 64 KiB writes (chunked): with a client that does not
 * read, each write waits for room in the connection's buffer. */
RUSM_EXPORT(big) void big(rusm_req req) {
  memset(buf, 'z', sizeof buf);
  rusm_http_start(req, 200, 0, RUSM_HTTP_UNKNOWN_LENGTH);
  for (int i = 0; i < 128; ++i) {
    if (rusm_http_write(req, buf, sizeof buf) < 0)
      return;
  }
  rusm_http_finish(req);
}

/* The errors a guest sees: a wrong handle, writes before start and after
 * finish, a bad header block, a bad pointer. */
RUSM_EXPORT(errors) void errors(rusm_req req) {
  char out[512];
  int at = 0;
  at += snprintf(out + at, sizeof out - at, "wrong_handle=%d\n",
                 rusm_http_respond_str(req + 1000, 200, 0, "x"));
  at += snprintf(out + at, sizeof out - at, "handle0=%d\n", rusm_http_method(0, buf, 8));
  at += snprintf(out + at, sizeof out - at, "write_before_start=%d\n",
                 rusm_http_write_str(req, "x"));
  at += snprintf(out + at, sizeof out - at, "finish_before_start=%d\n", rusm_http_finish(req));
  at += snprintf(out + at, sizeof out - at, "bad_header=%d\n",
                 rusm_http_start(req, 200, "no colon here\n", 1));
  at += snprintf(out + at, sizeof out - at, "bad_status=%d\n", rusm_http_start(req, 99, 0, 1));
  at += snprintf(out + at, sizeof out - at, "bad_pointer=%d\n",
                 rusm_http_path(req, (char*)0x7ffffff0, 100));
  at += snprintf(out + at, sizeof out - at, "event_before_start=%d\n",
                 rusm_http_send_event_str(req, "e", "d"));
  rusm_http_start(req, 200, "Content-Type: text/plain\n", RUSM_HTTP_UNKNOWN_LENGTH);
  rusm_http_write(req, out, (uint32_t)at);
  rusm_http_finish(req);
  /* after finish: reported in the log the test cannot see, so exit with it */
  int32_t late = rusm_http_write_str(req, "late");
  if (late != RUSM_EBADSTATE)
    rusm_exit_error("write after finish was not EBADSTATE");
}
