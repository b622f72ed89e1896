// Test guest for the fairness of fuel (tests/runtime/fuel_fairness_test.cc):
// two forever loops doing the same work per iteration, one dispatching over a
// 2048-case switch (an interpreter's shape), the other over 4 cases. Each
// sends the reporter an empty message (tag 7) every kTick iterations.
#include <stdint.h>

#include "rusm.h"

enum { kTick = 20000 };

static uint32_t rotl(uint32_t x, uint32_t r) {
  return (x << r) | (x >> (32 - r));
}

// Case n: one of four shapes of arithmetic on the state s (so that the
// compiler cannot merge the cases into a table), then the next case from s.
#define STEP(n)                                        \
  case (n):                                            \
    switch ((n) % 4) {                                 \
      case 0:                                          \
        s = s * (2u * (n) + 0x9E3779B1u) + (n);        \
        break;                                         \
      case 1:                                          \
        s = (s ^ (0x85EBCA6Bu + (n))) + (s >> 5);      \
        break;                                         \
      case 2:                                          \
        s = rotl(s, 1 + (n) % 29) + 0xC2B2AE35u * (n); \
        break;                                         \
      default:                                         \
        s = (s - (s << 3)) ^ (0x27D4EB2Fu + (n));      \
        break;                                         \
    }                                                  \
    break;
#define STEP4(n) STEP((n)*4) STEP((n)*4 + 1) STEP((n)*4 + 2) STEP((n)*4 + 3)
#define STEP16(n) STEP4((n)*4) STEP4((n)*4 + 1) STEP4((n)*4 + 2) STEP4((n)*4 + 3)
#define STEP64(n) STEP16((n)*4) STEP16((n)*4 + 1) STEP16((n)*4 + 2) STEP16((n)*4 + 3)
#define STEP256(n) STEP64((n)*4) STEP64((n)*4 + 1) STEP64((n)*4 + 2) STEP64((n)*4 + 3)
#define STEP1024(n) STEP256((n)*4) STEP256((n)*4 + 1) STEP256((n)*4 + 2) STEP256((n)*4 + 3)

static void tick(rusm_pid reporter, uint32_t* it) {
  if (++*it == kTick) {
    *it = 0;
    rusm_send(reporter, 7, 0, 0);
  }
}

RUSM_EXPORT(big_switch) void big_switch(rusm_pid reporter) {
  uint32_t s = 1, k = 0, it = 0;
  for (;;) {
    switch (k) {
      STEP1024(0)
      STEP1024(1)
    }
    k = (s >> 7) & 2047;
    tick(reporter, &it);
  }
}

RUSM_EXPORT(small_switch) void small_switch(rusm_pid reporter) {
  uint32_t s = 1, k = 0, it = 0;
  for (;;) {
    switch (k) {
      STEP(0)
      STEP(1)
      STEP(2)
      STEP(3)
    }
    k = (s >> 7) & 3;
    tick(reporter, &it);
  }
}
