/* Native driver of a corpus program (see corpus/corpus.h): times calls of
 * run() and prints one JSON line, the same shape node_runner.mjs prints:
 *   {"engine":"native","program":"fib","runs":5,"seconds_per_run":0.12,
 *    "min_seconds":0.118,"checksum":2178309}
 * Usage: <program> [--seconds S] [--min-runs N] [--warmup N]
 * One untimed warm-up call first (page faults, caches), then timed calls
 * until S seconds have passed and at least N calls were made. A checksum
 * that changes between calls is an error (exit 1); a failed self-check traps
 * (SIGILL), which the caller sees as a non-zero exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef CORPUS_PROGRAM
#define CORPUS_PROGRAM "unknown"
#endif

uint32_t run(void);

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  double seconds = 1.0;
  long min_runs = 3;
  long warmup = 1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (strcmp(argv[i], "--min-runs") == 0 && i + 1 < argc) {
      min_runs = atol(argv[++i]);
    } else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) {
      warmup = atol(argv[++i]);
    } else {
      fprintf(stderr, "usage: %s [--seconds S] [--min-runs N] [--warmup N]\n", argv[0]);
      return 2;
    }
  }
  if (min_runs < 1) {
    min_runs = 1;
  }
  uint32_t checksum = 0;
  int have_checksum = 0;
  for (long i = 0; i < warmup; ++i) {
    uint32_t c = run();
    if (have_checksum && c != checksum) {
      printf(
          "{\"engine\":\"native\",\"program\":\"%s\",\"error\":\"checksum changed between "
          "runs\"}\n",
          CORPUS_PROGRAM);
      return 1;
    }
    checksum = c;
    have_checksum = 1;
  }
  long runs = 0;
  double total = 0, best = 0;
  while (runs < min_runs || total < seconds) {
    double t0 = now_seconds();
    uint32_t c = run();
    double dt = now_seconds() - t0;
    if (have_checksum && c != checksum) {
      printf(
          "{\"engine\":\"native\",\"program\":\"%s\",\"error\":\"checksum changed between "
          "runs\"}\n",
          CORPUS_PROGRAM);
      return 1;
    }
    checksum = c;
    have_checksum = 1;
    total += dt;
    best = runs == 0 || dt < best ? dt : best;
    ++runs;
  }
  printf(
      "{\"engine\":\"native\",\"program\":\"%s\",\"runs\":%ld,\"seconds_per_run\":%.9g,"
      "\"min_seconds\":%.9g,\"checksum\":%u}\n",
      CORPUS_PROGRAM, runs, total / (double)runs, best, checksum);
  return 0;
}
