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

// js-spawn's C baseline: n children running `run`, each monitored, at most
// `window` alive at once (as the JS spawner does); then reports to `report`
// how many did not end normally.
RUSM_EXPORT(spawn_window) void spawn_window(int64_t report, int32_t n, int32_t window) {
  int32_t live = 0;
  uint64_t failed = 0;
  rusm_msg m;
  rusm_down_payload down;
  for (int32_t i = 0; i < n; ++i) {
    if (live == window) {
      rusm_receive_tag(RUSM_TAG_DOWN, &m, &down, sizeof down, -1);
      failed += down.kind != RUSM_NORMAL;
      --live;
    }
    if (rusm_spawn_monitor("run", 0, 0, 0) == 0) {
      failed += (uint64_t)(n - i);
      break;
    }
    ++live;
  }
  for (; live > 0; --live) {
    rusm_receive_tag(RUSM_TAG_DOWN, &m, &down, sizeof down, -1);
    failed += down.kind != RUSM_NORMAL;
  }
  rusm_send_u64((rusm_pid)report, 1, failed);
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

// kv-storm: get -> +1 -> put on the caller's own key of bucket "storm",
// each put a durable commit, until a message comes; then reports the count.
RUSM_EXPORT(kv_rmw) void kv_rmw(int64_t report, int32_t id) {
  int32_t b = rusm_kv_open("storm", 5);
  char key[16], value[24];
  int kl = 0;
  for (int32_t x = id;; x /= 10) {  // "k<id>"
    key[15 - kl++] = (char)('0' + x % 10);
    if (x < 10) {
      break;
    }
  }
  key[15 - kl++] = 'k';
  const char* k = key + 16 - kl;
  uint64_t n = 0;
  rusm_msg m;
  while (b > 0 && rusm_receive_timeout(&m, 0, 0, 0) == RUSM_ETIMEOUT) {
    int32_t len = rusm_kv_get(b, k, (uint32_t)kl, value, sizeof value);
    int64_t v = 0;
    for (int32_t i = 0; i < len && i < (int32_t)sizeof value; ++i) {
      v = v * 10 + (value[i] - '0');
    }
    ++v;
    int vl = 0;
    char digits[24];
    for (int64_t x = v; x > 0; x /= 10) {
      digits[vl++] = (char)('0' + x % 10);
    }
    for (int i = 0; i < vl; ++i) {
      value[i] = digits[vl - 1 - i];
    }
    if (rusm_kv_put(b, k, (uint32_t)kl, value, (uint32_t)vl) != RUSM_OK) {
      break;
    }
    ++n;
  }
  rusm_send_u64((rusm_pid)report, 1, n);
}
