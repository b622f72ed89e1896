/* An http route (rusm.toml: path = "/hello/{name}"). Every request is a
 * fresh sandboxed process that starts at handle() with its request, answers
 * and ends; nothing is shared between requests.
 *   curl http://127.0.0.1:8080/hello/ada
 *   curl -d 'some bytes' http://127.0.0.1:8080/hello/ada */
#include <stdio.h>

#include "rusm.h"

RUSM_EXPORT(handle) void handle(rusm_req req) {
  /* The copy calls return the full length, which may exceed the buffer. */
  char method[16];
  int32_t method_len = rusm_http_method(req, method, sizeof method);
  if (method_len < 0 || method_len > (int32_t)sizeof method) {
    method_len = 0;
  }
  /* The {name} of the route's path, percent-decoded. */
  char who[64];
  int32_t who_len = rusm_http_param(req, "name", who, sizeof who);
  if (who_len <= 0) {
    rusm_http_respond_str(req, 400, "Content-Type: text/plain\n", "no name\n");
    return;
  }
  if (who_len > (int32_t)sizeof who) {
    who_len = sizeof who; /* shown cut short */
  }
  /* The body streams in: each read suspends this process (not a thread)
   * until bytes arrive, and returns 0 at its end. */
  char chunk[4096];
  long body_bytes = 0;
  int32_t n;
  while ((n = rusm_http_read(req, chunk, sizeof chunk)) > 0) {
    body_bytes += n;
  }
  if (n < 0) {
    /* RUSM_ETOOLARGE: over limits.body_bytes, rusm answers 413 when we end;
     * RUSM_ECLOSED: the client is gone. */
    return;
  }
  char out[256];
  int len = snprintf(out, sizeof out, "hello, %.*s! (%.*s, %ld body bytes)\n", (int)who_len, who,
                     (int)method_len, method, body_bytes);
  if (len >= (int)sizeof out) {
    len = sizeof out - 1;
  }
  rusm_http_respond(req, 200, "Content-Type: text/plain; charset=utf-8\n", out, (uint32_t)len);
}
