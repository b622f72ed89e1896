// Reads the request body from stdin to its end and sends it back, after a
// line with CONTENT_LENGTH and the byte count it read.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  static char buf[1 << 20];
  size_t n = 0, k;
  while (n < sizeof buf && (k = fread(buf + n, 1, sizeof buf - n, stdin)) > 0) {
    n += k;
  }
  const char* cl = getenv("CONTENT_LENGTH");
  printf("Content-Type: application/octet-stream\n\n");
  printf("CONTENT_LENGTH=%s read=%zu\n", cl ? cl : "(unset)", n);
  fwrite(buf, 1, n, stdout);
  return 0;
}
