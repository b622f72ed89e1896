/* Recursive Fibonacci: calls and returns, nothing else.
 * Check: the recursive result equals the iterative one, and for the fixed
 * n it equals the known value F(38) = 39,088,169. */
#include "corpus.h"

/* volatile: the compiler must not see n as a constant. */
static volatile uint32_t fib_n = 38;
static const uint32_t kFib38 = 39088169;

static uint32_t fib(uint32_t n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

uint32_t run(void) {
  uint32_t n = fib_n;
  uint32_t r = fib(n);
  uint32_t a = 0, b = 1;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t t = a + b;
    a = b;
    b = t;
  }
  CORPUS_CHECK(r == a);
  CORPUS_CHECK(n != 38 || r == kFib38);
  return r;
}
