// parallel-map: squares-and-sums N slices of a range in N spawned processes
// (this module's exported `mapper`, one instance each) and gathers the results.
// rusm run build/examples/parallel_map.wasm --profile trusted -- 8
#include <stdio.h>
#include <stdlib.h>

#include "rusm.h"

RUSM_EXPORT(mapper) void mapper(int64_t parent, int32_t index, int64_t from, int64_t to) {
  uint64_t sum = 0;
  for (int64_t x = from; x < to; ++x) {
    sum += (uint64_t)(x * x);
  }
  rusm_send((rusm_pid)parent, 100 + (uint64_t)index, &sum, sizeof sum);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 8;
  const int64_t total = 1000000;
  for (int i = 0; i < n; ++i) {
    uint64_t args[4] = {rusm_self(), (uint64_t)i, total * i / n, total * (i + 1) / n};
    if (rusm_spawn("mapper", args, 4) == 0) {
      fprintf(stderr, "spawn failed\n");
      return 1;
    }
  }
  uint64_t sum = 0;
  for (int i = 0; i < n; ++i) {  // gather in order, whatever order they finish in
    rusm_msg m;
    uint64_t part = 0;
    rusm_receive_tag(100 + (uint64_t)i, &m, &part, sizeof part, -1);
    sum += part;
  }
  uint64_t expect = 0;
  for (int64_t x = 0; x < total; ++x) {
    expect += (uint64_t)(x * x);
  }
  printf("%d workers: sum of squares below %lld = %llu (%s)\n", n, (long long)total,
         (unsigned long long)sum, sum == expect ? "ok" : "WRONG");
  return sum == expect ? 0 : 1;
}
