// fetch: prints the body of a URL, as `curl -s` does.
// rusm run build/examples/fetch.wasm --allow-net example.com:443 -- https://example.com/
// Options after the URL: -i (print the status line and headers first),
// -X METHOD, -d DATA (a request body), -H "Name: value" (repeatable).
// Exit status: 0 for a 2xx answer, 22 for another status (as curl -f), 1 if
// the fetch failed (the reason on stderr).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rusm.h"

static const char* reason(int32_t code) {
  switch (code) {
    case RUSM_EDENIED:
      return "not allowed (grant the host with --allow-net HOST:PORT)";
    case RUSM_ENOTCONN:
      return "could not resolve or reach the host";
    case RUSM_ETIMEOUT:
      return "timed out";
    case RUSM_EAUTH:
      return "the server's certificate does not verify";
    case RUSM_ETOOLARGE:
      return "the response is larger than allowed";
    case RUSM_EBADARG:
      return "bad request (the URL, the method or a header)";
    case RUSM_EIO:
      return "the server's answer is not valid HTTP";
    default:
      return "failed";
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: fetch URL [-i] [-X METHOD] [-d DATA] [-H 'Name: value']...\n");
    return 2;
  }
  const char* url = argv[1];
  const char* method = NULL;
  const char* data = NULL;
  int show_head = 0;
  static char headers[8192];
  size_t headers_len = 0;
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], "-i") == 0) {
      show_head = 1;
    } else if (strcmp(argv[i], "-X") == 0 && i + 1 < argc) {
      method = argv[++i];
    } else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
      data = argv[++i];
    } else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc) {
      int n = snprintf(headers + headers_len, sizeof headers - headers_len, "%s\r\n", argv[++i]);
      if (n < 0 || (size_t)n >= sizeof headers - headers_len) {
        fprintf(stderr, "fetch: too many headers\n");
        return 2;
      }
      headers_len += (size_t)n;
    } else {
      fprintf(stderr, "fetch: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (data != NULL && method == NULL) {
    method = "POST";
  }
  size_t cap =
      sizeof(rusm_fetch_request) + strlen(url) + headers_len + 16 + (data ? strlen(data) : 0);
  void* req = malloc(cap);
  int32_t len = rusm_fetch_request_build(req, (uint32_t)cap, method, url, headers, data,
                                         data ? (uint32_t)strlen(data) : 0, 0);
  int32_t f = len < 0 ? len : rusm_fetch(req, (uint32_t)len);
  free(req);
  if (f < 0) {
    fprintf(stderr, "fetch: %s: %s\n", url, reason(f));
    return 1;
  }
  static char head[65536];
  int32_t n = rusm_fetch_head(f, head, sizeof head);
  rusm_fetch_response r;
  memcpy(&r, head, sizeof r);
  if (show_head) {
    printf("HTTP/1.1 %u\r\n%.*s\r\n", r.status,
           (int)(n < (int32_t)sizeof head ? r.headers_len : sizeof head - sizeof r),
           head + sizeof r);
  }
  static char buf[65536];
  while ((n = rusm_fetch_read(f, buf, sizeof buf)) > 0) {
    fwrite(buf, 1, (size_t)n, stdout);
  }
  fflush(stdout);
  if (n < 0) {
    fprintf(stderr, "fetch: %s: reading the body: %s\n", url, reason(n));
    return 1;
  }
  rusm_fetch_close(f);
  return r.status >= 200 && r.status < 300 ? 0 : 22;
}
