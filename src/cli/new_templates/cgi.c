/* A cgi route (rusm.toml: path = "/cgi"): any WASI command answers requests
 * in the CGI convention, no SDK needed. The request is in the environment
 * (REQUEST_METHOD, QUERY_STRING, HTTP_*, ...) and its body on stdin; the
 * response is a header block, a blank line and the body, on stdout.
 *   curl 'http://127.0.0.1:8080/cgi?name=ada' */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The "name" query parameter, kept to [A-Za-z0-9_-] (not decoded), or "world". */
static void name_from_query(const char* q, char* out, size_t cap) {
  size_t k = 0;
  while (q != NULL && *q != '\0') {
    if (strncmp(q, "name=", 5) == 0) {
      for (q += 5; *q != '\0' && *q != '&' && k + 1 < cap; ++q) {
        char c = *q;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-') {
          out[k++] = c;
        }
      }
      break;
    }
    q = strchr(q, '&');
    if (q != NULL) {
      ++q;
    }
  }
  if (k == 0) {
    strncpy(out, "world", cap - 1);
    k = strlen(out);
  }
  out[k] = '\0';
}

int main(void) {
  const char* method = getenv("REQUEST_METHOD");
  char name[32];
  name_from_query(getenv("QUERY_STRING"), name, sizeof name);

  /* The body, if any: count its bytes. */
  long body_bytes = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
    body_bytes += (long)n;
  }

  printf("Content-Type: text/plain; charset=utf-8\r\n\r\n");
  printf("hello, %s, from a CGI process (%s, %ld body bytes)\n", name,
         method != NULL ? method : "?", body_bytes);
  return 0;
}
