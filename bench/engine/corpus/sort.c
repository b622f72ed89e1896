/* Sorting 2^20 pseudo-random 32-bit keys twice: a quicksort (median of
 * three, insertion sort for short ranges, recursion on the smaller side) and
 * a bottom-up mergesort, each written here (no libc qsort).
 * Check: both outputs are in order, agree element by element, and hold the
 * same multiset as the input (an order-independent hash: the sum and the xor
 * of mix64(key) over all keys). */
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

static volatile uint32_t sort_n = 1u << 20;

static void insertion_sort(uint32_t* a, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    uint32_t x = a[i];
    size_t j = i;
    while (j > 0 && a[j - 1] > x) {
      a[j] = a[j - 1];
      --j;
    }
    a[j] = x;
  }
}

static void swap(uint32_t* a, uint32_t* b) {
  uint32_t t = *a;
  *a = *b;
  *b = t;
}

static void quicksort(uint32_t* a, size_t n) {
  while (n > 16) {
    size_t mid = n / 2;
    if (a[mid] < a[0]) {
      swap(&a[mid], &a[0]);
    }
    if (a[n - 1] < a[0]) {
      swap(&a[n - 1], &a[0]);
    }
    if (a[n - 1] < a[mid]) {
      swap(&a[n - 1], &a[mid]);
    }
    uint32_t pivot = a[mid];
    size_t i = 0, j = n - 1;
    for (;;) {
      while (a[i] < pivot) {
        ++i;
      }
      while (a[j] > pivot) {
        --j;
      }
      if (i >= j) {
        break;
      }
      swap(&a[i], &a[j]);
      ++i;
      --j;
    }
    /* a[0..j] <= pivot <= a[j+1..n). Recurse on the smaller side. */
    size_t left = j + 1;
    if (left < n - left) {
      quicksort(a, left);
      a += left;
      n -= left;
    } else {
      quicksort(a + left, n - left);
      n = left;
    }
  }
  insertion_sort(a, n);
}

static void mergesort(uint32_t* a, uint32_t* tmp, size_t n) {
  uint32_t* src = a;
  uint32_t* dst = tmp;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
      }
      while (i < mid) {
        dst[k++] = src[i++];
      }
      while (j < hi) {
        dst[k++] = src[j++];
      }
    }
    uint32_t* t = src;
    src = dst;
    dst = t;
  }
  if (src != a) {
    memcpy(a, src, n * sizeof *a);
  }
}

static void multiset_hash(const uint32_t* a, size_t n, uint64_t* sum, uint64_t* x) {
  *sum = 0;
  *x = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t h = corpus_mix64(a[i] + 0x12345ULL);
    *sum += h;
    *x ^= h;
  }
}

uint32_t run(void) {
  size_t n = sort_n;
  uint32_t* q = malloc(n * sizeof *q);
  uint32_t* m = malloc(n * sizeof *m);
  uint32_t* tmp = malloc(n * sizeof *tmp);
  CORPUS_CHECK(q != NULL && m != NULL && tmp != NULL);
  uint64_t rng = 2024;
  for (size_t i = 0; i < n; ++i) {
    /* Some duplicates on purpose: keys from a range smaller than n*4. */
    q[i] = (uint32_t)(corpus_next(&rng) % (n * 4));
  }
  memcpy(m, q, n * sizeof *q);
  uint64_t sum_in, xor_in;
  multiset_hash(q, n, &sum_in, &xor_in);

  quicksort(q, n);
  mergesort(m, tmp, n);

  uint32_t checksum = 0;
  for (size_t i = 0; i < n; ++i) {
    CORPUS_CHECK(q[i] == m[i]);
    CORPUS_CHECK(i == 0 || q[i - 1] <= q[i]);
    checksum = checksum * 31 + q[i];
  }
  uint64_t sum_out, xor_out;
  multiset_hash(q, n, &sum_out, &xor_out);
  CORPUS_CHECK(sum_in == sum_out && xor_in == xor_out);
  free(q);
  free(m);
  free(tmp);
  return checksum;
}
