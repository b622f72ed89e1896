// Guest for the fetch calls (abi/rusm.toml v9, docs/fetch.md); the test
// (fetch_test.cc) sends it what to do and reads its report.
//
// `proxy(reporter, chunk)`: receives one message whose payload is a whole
//   fetch request (rusm_fetch_request and its bytes, made by the test), calls
//   rusm_fetch, and reports "ERR <code>" or "<status>\n<headers>\n<body>",
//   reading the body `chunk` bytes at a time; a read error ends the report
//   with "\nERR <code>".
// `get(reporter)`: receives a URL and fetches it with rusm_fetch_request_build
//   (GET, no headers); reports like proxy.
// `hold(reporter, n)`: starts n fetches of the URL it receives and reports
//   "opened <k>" or "ERR <code> after <k>", then waits for a message
//   (the test kills it while it holds them).
// `misuse(reporter)`: bad handles and bad requests; reports "ok" or a failure.
#include <stdio.h>
#include <string.h>

#include "rusm.h"

static rusm_pid g_reporter;
static char g_in[1 << 16];
static char g_out[4 << 20];

static void report(const char* s, uint32_t len) {
  rusm_send(g_reporter, 1, s, len);
}
static void report_str(const char* s) {
  report(s, (uint32_t)strlen(s));
}

// The next message's payload into g_in; its length.
static uint32_t receive_payload(void) {
  rusm_msg h;
  int32_t n = rusm_receive(&h, g_in, sizeof g_in - 1);
  return n < 0 ? 0 : h.size;
}

// Reports what a fetch gave: status, headers, the body read `chunk` at a time.
static void report_response(int32_t f, uint32_t chunk) {
  if (f < 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "ERR %d", f);
    report_str(buf);
    return;
  }
  static char head[1 << 16];
  int32_t hn = rusm_fetch_head(f, head, sizeof head);
  if (hn < (int32_t)sizeof(rusm_fetch_response)) {
    report_str("FAIL: fetch_head");
    return;
  }
  rusm_fetch_response r;
  memcpy(&r, head, sizeof r);
  int at = snprintf(g_out, sizeof g_out, "%u\n", r.status);
  memcpy(g_out + at, head + sizeof r, r.headers_len);
  at += (int)r.headers_len;
  g_out[at++] = '\n';
  for (;;) {
    uint32_t room = (uint32_t)(sizeof g_out - (size_t)at - 32);
    int32_t n = rusm_fetch_read(f, g_out + at, chunk < room ? chunk : room);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      at += snprintf(g_out + at, 32, "\nERR %d", n);
      break;
    }
    at += n;
  }
  if (rusm_fetch_close(f) != RUSM_OK) {
    report_str("FAIL: fetch_close");
    return;
  }
  report(g_out, (uint32_t)at);
}

RUSM_EXPORT(proxy) void proxy(rusm_pid reporter, uint32_t chunk) {
  g_reporter = reporter;
  uint32_t len = receive_payload();
  report_response(rusm_fetch(g_in, len), chunk);
}

RUSM_EXPORT(get) void get(rusm_pid reporter) {
  g_reporter = reporter;
  uint32_t len = receive_payload();
  g_in[len] = '\0';
  static char req[1 << 16];
  int32_t n = rusm_fetch_request_build(req, sizeof req, NULL, g_in, NULL, NULL, 0, 0);
  report_response(n < 0 ? n : rusm_fetch(req, (uint32_t)n), 1 << 16);
}

RUSM_EXPORT(hold) void hold(rusm_pid reporter, uint32_t count) {
  g_reporter = reporter;
  uint32_t len = receive_payload();
  g_in[len] = '\0';
  static char req[1 << 16];
  int32_t n = rusm_fetch_request_build(req, sizeof req, NULL, g_in, NULL, NULL, 0, 0);
  char buf[64];
  for (uint32_t i = 0; i < count; ++i) {
    int32_t f = rusm_fetch(req, (uint32_t)n);
    if (f < 0) {
      snprintf(buf, sizeof buf, "ERR %d after %u", f, i);
      report_str(buf);
      receive_payload();
      return;
    }
  }
  snprintf(buf, sizeof buf, "opened %u", count);
  report_str(buf);
  receive_payload();
}

#define CHECK(c)                                                 \
  do {                                                           \
    if (!(c)) {                                                  \
      char b_[160];                                              \
      snprintf(b_, sizeof b_, "FAIL line %d: %s", __LINE__, #c); \
      report_str(b_);                                            \
      return;                                                    \
    }                                                            \
  } while (0)

RUSM_EXPORT(misuse) void misuse(rusm_pid reporter) {
  g_reporter = reporter;
  char buf[64];
  CHECK(rusm_fetch_head(12345, buf, sizeof buf) == RUSM_EBADARG);
  CHECK(rusm_fetch_read(12345, buf, sizeof buf) == RUSM_EBADARG);
  CHECK(rusm_fetch_close(12345) == RUSM_EBADARG);
  CHECK(rusm_fetch(buf, 3) == RUSM_EBADARG);                        // shorter than the header
  CHECK(rusm_fetch((const void*)0xfffffff0u, 64) == RUSM_EBADARG);  // out of memory
  static char req[4096];
  int32_t n =
      rusm_fetch_request_build(req, sizeof req, NULL, "ftp://example.com/", NULL, NULL, 0, 0);
  CHECK(n > 0 && rusm_fetch(req, (uint32_t)n) == RUSM_EBADARG);
  n = rusm_fetch_request_build(req, sizeof req, "GET", "http://127.0.0.1:1/", "Host: evil\r\n",
                               NULL, 0, 0);
  CHECK(n > 0 && rusm_fetch(req, (uint32_t)n) == RUSM_EBADARG);  // a reserved header
  n = rusm_fetch_request_build(req, sizeof req, "GET", "http://127.0.0.1:1/",
                               "X-A: b\r\nX-Injected: c\nd\r\n", NULL, 0, 0);
  CHECK(n > 0 && rusm_fetch(req, (uint32_t)n) == RUSM_EBADARG);  // a bare LF in a value
  n = rusm_fetch_request_build(req, sizeof req, "GE T", "http://127.0.0.1:1/", NULL, NULL, 0, 0);
  CHECK(n > 0 && rusm_fetch(req, (uint32_t)n) == RUSM_EBADARG);  // not a method
  n = rusm_fetch_request_build(req, sizeof req, NULL, "http://user@127.0.0.1:1/", NULL, NULL, 0, 0);
  CHECK(n > 0 && rusm_fetch(req, (uint32_t)n) == RUSM_EBADARG);  // user information
  // Lengths that disagree with the request's size.
  n = rusm_fetch_request_build(req, sizeof req, NULL, "http://127.0.0.1:1/", NULL, NULL, 0, 0);
  CHECK(n > 0 && rusm_fetch(req, (uint32_t)n + 1) == RUSM_EBADARG);
  CHECK(rusm_fetch_request_build(req, 8, NULL, "http://x/", NULL, NULL, 0, 0) == RUSM_EFULL);
  report_str("ok");
}
