// Guests of the runtime benchmarks (one small module, no WASI imports).
#include "rusm.h"

RUSM_EXPORT(run) void run(void) {}

// Spawns `n` processes running `run`, then reports n to `report`.
RUSM_EXPORT(spawner) void spawner(int64_t report, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (__rusm_spawn("run", 3, 0, 0, 0, 0) != 0) {
      break;
    }
  }
  rusm_send_u64((rusm_pid)report, 1, (uint64_t)n);
}

RUSM_EXPORT(pong) void pong(void) {
  for (;;) {
    rusm_msg m;
    uint64_t v;
    rusm_receive(&m, &v, sizeof v);
    rusm_send(m.from, 2, &v, sizeof v);
  }
}

// n round trips with `peer`, then reports to `report`.
RUSM_EXPORT(ping) void ping(int64_t peer, int64_t report, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    uint64_t v = (uint64_t)i;
    rusm_send((rusm_pid)peer, 1, &v, sizeof v);
    rusm_msg m;
    rusm_receive(&m, &v, sizeof v);
  }
  rusm_send_u64((rusm_pid)report, 1, (uint64_t)n);
}

RUSM_EXPORT(spin) void spin(void) {
  volatile uint64_t n = 0;
  for (;;) {
    ++n;
  }
}

RUSM_EXPORT(idle) void idle(void) {
  rusm_msg m;
  rusm_receive(&m, 0, 0);
}

// crypto-ops: n SHA-256 digests of a 256-byte buffer, then reports n.
static uint8_t g_block[256];
RUSM_EXPORT(hash) void hash(int64_t report, int32_t n) {
  uint8_t out[32];
  for (int32_t i = 0; i < n; ++i) {
    g_block[0] = (uint8_t)i;
    rusm_crypto_digest(RUSM_HASH_SHA256, g_block, sizeof g_block, out, sizeof out);
  }
  rusm_send_u64((rusm_pid)report, 1, (uint64_t)n + out[0] * 0);
}
