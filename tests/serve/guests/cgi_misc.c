// One CGI program, many behaviours, chosen by the query string: the tests of
// the response side (status, redirect, failures, limits, stderr, deadline).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void) {
  const char* q = getenv("QUERY_STRING");
  if (q == NULL) {
    q = "";
  }
  if (strcmp(q, "404") == 0) {
    printf("Status: 404 Not Found\nContent-Type: text/plain\n\nno such thing\n");
  } else if (strcmp(q, "redirect") == 0) {
    printf("Location: http://example.com/elsewhere\n\n");
  } else if (strcmp(q, "length") == 0) {
    printf("Content-Type: text/plain\nContent-Length: 6\nX-Extra: yes\n\nsized\n");
  } else if (strcmp(q, "noheader") == 0) {
    printf("just a body, no header block\n");
  } else if (strcmp(q, "trap") == 0) {
    __builtin_trap();
  } else if (strcmp(q, "exit3") == 0) {
    return 3;
  } else if (strcmp(q, "trap_late") == 0) {
    printf("Content-Type: text/plain\n\npartial");
    fflush(stdout);
    __builtin_trap();
  } else if (strcmp(q, "bighead") == 0) {
    for (int i = 0; i < 2000; ++i) {
      printf("X-Filler-%d: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", i);
    }
    printf("\nbody\n");
  } else if (strcmp(q, "stderr") == 0) {
    fprintf(stderr, "first complaint\nsecond complaint\n");
    printf("Content-Type: text/plain\n\nlogged\n");
  } else if (strcmp(q, "spin") == 0) {
    volatile unsigned long n = 0;
    for (;;) {
      ++n;
    }
  } else if (strcmp(q, "big") == 0) {
    // 1 MiB, more than the connection's write buffer: stdout must wait for it.
    printf("Content-Type: application/octet-stream\n\n");
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 256; ++i) {
      fwrite(chunk, 1, sizeof chunk, stdout);
    }
  } else {
    printf("Content-Type: text/plain\n\nquery=%s\n", q);
  }
  return 0;
}
