/* A typical clang-19 wasm32-wasi command module for `rusm bench instantiate`:
 * libc start-up, malloc and printf, as an ordinary C program has them (its
 * WASI imports get stub host functions in the benchmark). The benchmark calls
 * its `_start`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  size_t n = 64;
  long* squares = malloc(n * sizeof *squares);
  char* label = malloc(64);
  if (squares == NULL || label == NULL) {
    return 1;
  }
  long sum = 0;
  for (size_t i = 0; i < n; ++i) {
    squares[i] = (long)(i * i);
    sum += squares[i];
  }
  snprintf(label, 64, "%s-%zu", "squares", n);
  printf("typical: %s sum to %ld (%.1f on average)\n", label, sum, (double)sum / (double)n);
  int status = strlen(label) < 64 ? 0 : 1;
  free(squares);
  free(label);
  return status;
}
