/* Dense matrix multiply, C = A * B over doubles (i-k-j loop order, the
 * cache-friendly textbook form).
 * Check: A[i][k] = i + k and B[k][j] = k - j have a closed-form product,
 *   C[i][j] = i*S1 - n*i*j + S2 - j*S1,  S1 = sum k = n(n-1)/2,
 *   S2 = sum k^2 = (n-1)n(2n-1)/6,
 * and every partial sum is an integer below 2^53, so each element of C must
 * equal it exactly; all n^2 elements are compared, in 64-bit integers. */
#include <stdlib.h>

#include "corpus.h"

static volatile uint32_t matmul_n = 384;
static volatile uint32_t matmul_rounds = 8;

uint32_t run(void) {
  uint32_t n = matmul_n;
  uint32_t rounds = matmul_rounds;
  double* a = malloc(sizeof(double) * n * n);
  double* b = malloc(sizeof(double) * n * n);
  double* c = malloc(sizeof(double) * n * n);
  CORPUS_CHECK(a != NULL && b != NULL && c != NULL);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      a[i * n + j] = (double)i + (double)j;
      b[i * n + j] = (double)i - (double)j;
    }
  }
  int64_t s1 = (int64_t)n * (n - 1) / 2;
  int64_t s2 = (int64_t)(n - 1) * n * (2 * n - 1) / 6;
  uint32_t checksum = 0;
  for (uint32_t r = 0; r < rounds; ++r) {
    for (uint32_t i = 0; i < n * n; ++i) {
      c[i] = 0;
    }
    for (uint32_t i = 0; i < n; ++i) {
      double* ci = c + i * n;
      for (uint32_t k = 0; k < n; ++k) {
        double aik = a[i * n + k];
        const double* bk = b + k * n;
        for (uint32_t j = 0; j < n; ++j) {
          ci[j] += aik * bk[j];
        }
      }
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        int64_t expect = i * s1 - (int64_t)n * i * j + s2 - j * s1;
        int64_t got = (int64_t)c[i * n + j];
        CORPUS_CHECK(got == expect && (double)got == c[i * n + j]);
        sum += got;
      }
    }
    checksum = checksum * 31 + (uint32_t)sum + (uint32_t)((uint64_t)sum >> 32);
  }
  free(a);
  free(b);
  free(c);
  return checksum;
}
