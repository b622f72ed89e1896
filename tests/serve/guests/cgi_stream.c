// Writes part of its body, sleeps (a WASI poll_oneoff clock subscription:
// needs the clock capability), writes the rest: the client sees the first
// part before the program ends.
#include <stdio.h>
#include <time.h>

int main(void) {
  printf("Content-Type: text/plain\n\nfirst\n");
  fflush(stdout);
  struct timespec ts = {0, 700 * 1000 * 1000};
  nanosleep(&ts, NULL);
  printf("second\n");
  return 0;
}
