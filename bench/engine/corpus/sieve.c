/* Sieve of Eratosthenes over a byte array: strided stores, a scan.
 * Check: the known prime counts pi(10^7) = 664,579 and pi(2*10^6) = 148,933,
 * and the sum of the primes below 2*10^6, 142,913,828,922 (Project Euler 10). */
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

static volatile uint32_t sieve_limit = 10000000;
static volatile uint32_t sieve_rounds = 5;

uint32_t run(void) {
  uint32_t n = sieve_limit;
  uint32_t rounds = sieve_rounds;
  uint8_t* composite = malloc(n);
  CORPUS_CHECK(composite != NULL);
  uint32_t checksum = 0;
  for (uint32_t round = 0; round < rounds; ++round) {
    memset(composite, 0, n);
    composite[0] = composite[1] = 1;
    for (uint32_t i = 2; (uint64_t)i * i < n; ++i) {
      if (!composite[i]) {
        for (uint32_t j = i * i; j < n; j += i) {
          composite[j] = 1;
        }
      }
    }
    uint32_t count = 0, count_2m = 0;
    uint64_t sum_2m = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (!composite[i]) {
        ++count;
        if (i < 2000000) {
          ++count_2m;
          sum_2m += i;
        }
      }
    }
    CORPUS_CHECK(n != 10000000 || count == 664579);
    CORPUS_CHECK(n < 2000000 || (count_2m == 148933 && sum_2m == 142913828922ULL));
    checksum = checksum * 31 + count + (uint32_t)sum_2m;
  }
  free(composite);
  return checksum;
}
