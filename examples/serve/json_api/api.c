/* A small JSON API; each request is its own sandboxed process.
 *   curl http://127.0.0.1:8081/users
 *   curl http://127.0.0.1:8081/users/2
 *   curl -d '{"hi":1}' http://127.0.0.1:8081/echo */
#include <stdio.h>
#include <stdlib.h>

#include "rusm.h"

#define JSON "Content-Type: application/json\n"

static const char* const kUsers[] = {"ada", "grace", "barbara", "edsger"};
enum { kNumUsers = sizeof kUsers / sizeof kUsers[0] };

static char out[70000];

static int32_t error(rusm_req req, int status, const char* message) {
  int n = snprintf(out, sizeof out, "{\"error\":\"%s\"}\n", message);
  return rusm_http_respond(req, status, JSON, out, (uint32_t)n);
}

/* GET /users */
RUSM_EXPORT(list_users) void list_users(rusm_req req) {
  int at = snprintf(out, sizeof out, "[");
  for (int i = 0; i < kNumUsers; ++i) {
    at += snprintf(out + at, sizeof out - at, "%s{\"id\":%d,\"name\":\"%s\"}", i ? "," : "", i + 1,
                   kUsers[i]);
  }
  at += snprintf(out + at, sizeof out - at, "]\n");
  rusm_http_respond(req, 200, JSON, out, (uint32_t)at);
}

/* GET /users/{id} */
RUSM_EXPORT(get_user) void get_user(rusm_req req) {
  char id[16];
  int32_t n = rusm_http_param(req, "id", id, sizeof id - 1);
  if (n <= 0 || n >= (int32_t)sizeof id) {
    error(req, 400, "bad id");
    return;
  }
  id[n] = 0;
  char* end = 0;
  long i = strtol(id, &end, 10);
  if (*end != 0 || i < 1 || i > kNumUsers) {
    error(req, 404, "no such user");
    return;
  }
  int len = snprintf(out, sizeof out, "{\"id\":%ld,\"name\":\"%s\"}\n", i, kUsers[i - 1]);
  rusm_http_respond(req, 200, JSON, out, (uint32_t)len);
}

/* POST /echo: the body back as a JSON string, with its length. */
RUSM_EXPORT(echo) void echo(rusm_req req) {
  static char body[16384];
  int32_t n = rusm_http_read_all(req, body, sizeof body);
  if (n < 0 || (n == (int32_t)sizeof body && rusm_http_read(req, out, 1) > 0)) {
    error(req, 413, "body over 16K");
    return;
  }
  int at = snprintf(out, sizeof out, "{\"length\":%d,\"body\":\"", n);
  for (int32_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)body[i];
    if (c == '"' || c == '\\') {
      out[at++] = '\\';
      out[at++] = (char)c;
    } else if (c < 0x20) {
      at += snprintf(out + at, sizeof out - at, "\\u%04x", c);
    } else {
      out[at++] = (char)c;
    }
  }
  at += snprintf(out + at, sizeof out - at, "\"}\n");
  rusm_http_respond(req, 200, JSON, out, (uint32_t)at);
}
