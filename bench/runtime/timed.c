// The wasm-ping-pong latency guest: ping with a clock. Its own module, so
// that the WASI import (the clock) does not make every module-storm process
// carry a WASI context.
#include <wasi/api.h>

#include "rusm.h"

enum { kMaxSamples = 100000 };
static uint32_t g_samples[kMaxSamples];

static uint64_t now_ns(void) {
  __wasi_timestamp_t t = 0;
  (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t);
  return t;
}

// n timed round trips with `peer` (the bench module's pong; n <= kMaxSamples);
// sends the round-trip times (u32 nanoseconds each) to `report` as one message.
RUSM_EXPORT(ping_timed) void ping_timed(int64_t peer, int64_t report, int32_t n) {
  if (n > kMaxSamples) {
    n = kMaxSamples;
  }
  for (int32_t i = 0; i < n; ++i) {
    uint64_t v = (uint64_t)i;
    uint64_t t0 = now_ns();
    rusm_send((rusm_pid)peer, 1, &v, sizeof v);
    rusm_msg m;
    rusm_receive(&m, &v, sizeof v);
    uint64_t dt = now_ns() - t0;
    g_samples[i] = dt > 0xffffffffu ? 0xffffffffu : (uint32_t)dt;
  }
  rusm_send((rusm_pid)report, 1, g_samples, (uint32_t)n * sizeof(uint32_t));
}
