/* The C baseline of guest/js/bench/platform.sh: the same kv, crypto and
 * publish calls as platform.js, timed in a C process (no supervisor: a C
 * child needs no boot server). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rusm.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

RUSM_EXPORT(child) void child(uint64_t owner) {
  rusm_send(owner, 1, "", 0);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  uint64_t me = rusm_self();
  rusm_msg m;
  char buf[64];
  double t = now_us();
  for (int i = 0; i < n; i++) {
    rusm_spawn("child", &me, 1);
    rusm_receive_tag(1, &m, buf, sizeof buf, -1);
  }
  double spawn = (now_us() - t) / n / 1000;
  int32_t b = rusm_kv_open("bench", 5);
  int64_t out;
  t = now_us();
  for (int i = 0; i < n; i++) {
    rusm_kv_incr(b, "n", 1, 1, &out);
  }
  double incr = (now_us() - t) / n;
  t = now_us();
  for (int i = 0; i < n; i++) {
    rusm_kv_get(b, "n", 1, buf, sizeof buf);
  }
  double get = (now_us() - t) / n;
  uint8_t data[256] = {0}, key[32] = {0}, mac[64];
  t = now_us();
  for (int i = 0; i < n; i++) {
    rusm_crypto_hmac(RUSM_HASH_SHA256, key, 32, data, 256, mac, sizeof mac);
  }
  double hmac = (now_us() - t) / n;
  t = now_us();
  for (int i = 0; i < n; i++) {
    rusm_crypto_digest(RUSM_HASH_SHA256, data, 256, mac, sizeof mac);
  }
  double digest = (now_us() - t) / n;
  rusm_subscribe("t");
  t = now_us();
  for (int i = 0; i < n; i++) {
    rusm_publish("t", 2, "x", 1);
    rusm_receive_tag(2, &m, buf, sizeof buf, -1);
  }
  double publish = (now_us() - t) / n;
  printf(
      "{\"kind\": \"c\", \"spawn_ms\": %.3f, \"kv_incr_us\": %.1f, \"kv_get_us\": %.1f, "
      "\"hmac_us\": %.2f, \"digest_us\": %.2f, \"publish_us\": %.2f}\n",
      spawn, incr, get, hmac, digest, publish);
  return 0;
}
