// Waits for the request body with poll() (a WASI poll_oneoff subscription on
// stdin), then reads it: the process must sleep until the client sends it.
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  struct pollfd p = {0, POLLIN, 0};
  int n = poll(&p, 1, -1);
  char buf[64];
  ssize_t k = read(0, buf, sizeof buf);
  printf("Content-Type: text/plain\n\npoll=%d readable=%d read=%.*s\n", n,
         (p.revents & POLLIN) != 0, k > 0 ? (int)k : 0, buf);
  return 0;
}
