// Conformance guest for the key-value calls (abi/rusm.toml v8, docs/kv.md).
// `all` exercises every call on bucket "app" (granted read-write) and
// "shared" (granted read-only) and reports "ok" or the first failure;
// `denied` checks that an ungranted bucket is EDENIED; `count` adds 1 to
// "hits" n times (run several at once: no increment may be lost); `storm`
// is the writer of the SIGKILL durability test: it puts `n` values of
// 1000 bytes, each made from (id, i), acking each to the reporter only after
// its put returned OK.
#include <stdio.h>
#include <string.h>

#include "rusm.h"

static rusm_pid g_reporter;

static void report(const char* s) {
  rusm_send(g_reporter, 1, s, (uint32_t)strlen(s));
}
static void fail(int line, const char* what) {
  char buf[200];
  snprintf(buf, sizeof buf, "FAIL line %d: %s", line, what);
  report(buf);
  rusm_exit_error("check failed");
}
#define CHECK(c)          \
  do {                    \
    if (!(c)) {           \
      fail(__LINE__, #c); \
    }                     \
  } while (0)

static int32_t put(int32_t b, const char* k, const char* v) {
  return rusm_kv_put(b, k, (uint32_t)strlen(k), v, (uint32_t)strlen(v));
}
static int same(int32_t b, const char* k, const char* want) {
  char buf[64];
  int32_t n = rusm_kv_get(b, k, (uint32_t)strlen(k), buf, sizeof buf);
  return n == (int32_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

RUSM_EXPORT(all) void all(rusm_pid reporter) {
  g_reporter = reporter;
  int32_t b = rusm_kv_open("app", 3);
  CHECK(b > 0);

  // put / get / delete; a value longer than the buffer gives its length.
  CHECK(put(b, "greeting", "hello, world") == RUSM_OK);
  CHECK(same(b, "greeting", "hello, world"));
  char small[5];
  CHECK(rusm_kv_get(b, "greeting", 8, small, sizeof small) == 12);
  CHECK(memcmp(small, "hello", 5) == 0);
  CHECK(rusm_kv_get(b, "nothing", 7, small, sizeof small) == RUSM_ENOTFOUND);
  CHECK(rusm_kv_delete(b, "greeting", 8) == RUSM_OK);
  CHECK(rusm_kv_delete(b, "greeting", 8) == RUSM_ENOTFOUND);
  CHECK(rusm_kv_get(b, "greeting", 8, small, sizeof small) == RUSM_ENOTFOUND);

  // compare-and-swap
  CHECK(rusm_kv_cas(b, "lock", 4, 0, 0, "me", 2, RUSM_KV_IF_ABSENT) == RUSM_OK);
  CHECK(rusm_kv_cas(b, "lock", 4, 0, 0, "you", 3, RUSM_KV_IF_ABSENT) == RUSM_ECONFLICT);
  CHECK(rusm_kv_cas(b, "lock", 4, "you", 3, "x", 1, 0) == RUSM_ECONFLICT);
  CHECK(rusm_kv_cas(b, "lock", 4, "me", 2, "me2", 3, 0) == RUSM_OK);
  CHECK(same(b, "lock", "me2"));
  CHECK(rusm_kv_cas(b, "lock", 4, "me2", 3, 0, 0, RUSM_KV_DELETE) == RUSM_OK);
  CHECK(rusm_kv_get(b, "lock", 4, small, sizeof small) == RUSM_ENOTFOUND);
  CHECK(rusm_kv_cas(b, "lock", 4, 0, 0, 0, 0, 64) == RUSM_EBADARG);

  // increment
  int64_t v = 0;
  CHECK(rusm_kv_incr(b, "n", 1, 40, &v) == RUSM_OK && v == 40);
  CHECK(rusm_kv_incr(b, "n", 1, 2, &v) == RUSM_OK && v == 42);
  CHECK(same(b, "n", "42"));
  CHECK(put(b, "word", "forty") == RUSM_OK);
  CHECK(rusm_kv_incr(b, "word", 4, 1, &v) == RUSM_EBADSTATE);
  CHECK(put(b, "big", "9223372036854775807") == RUSM_OK);
  CHECK(rusm_kv_incr(b, "big", 3, 1, &v) == RUSM_ELIMIT);

  // list by prefix, page by page through a buffer that holds two entries.
  const char* keys[] = {"user/c", "user/a", "user/b", "usr", "user/d", "user/e"};
  for (int i = 0; i < 6; ++i) {
    CHECK(put(b, keys[i], "v") == RUSM_OK);
  }
  char page[2 * (sizeof(rusm_kv_entry) + 7)];
  char seen[64] = "";
  char after[16] = "";
  uint32_t after_len = 0;
  int pages = 0;
  for (;;) {
    int32_t n = rusm_kv_list(b, "user/", 5, after, after_len, page, sizeof page, RUSM_KV_VALUES);
    CHECK(n >= 0);
    if (n == 0) {
      break;
    }
    ++pages;
    uint32_t at = 0;
    for (int32_t i = 0; i < n; ++i) {
      const uint8_t *k, *val;
      uint32_t kl, vl;
      rusm_kv_next(page, &at, &k, &kl, &val, &vl);
      CHECK(kl == 6 && vl == 1 && val[0] == 'v');
      strncat(seen, (const char*)k + 5, 1);
      memcpy(after, k, kl);
      after_len = kl;
    }
  }
  CHECK(strcmp(seen, "abcde") == 0);
  CHECK(pages == 3);
  char tiny[8];  // holds no entry
  CHECK(rusm_kv_list(b, "user/", 5, 0, 0, tiny, sizeof tiny, RUSM_KV_VALUES) == RUSM_ETOOLARGE);

  // an atomic batch: a failing check applies nothing and names itself.
  char ops[256];
  uint32_t len = 0;
  CHECK(rusm_kv_batch_add(ops, sizeof ops, &len, RUSM_KV_OP_PUT, "x", 1, "1", 1) == RUSM_OK);
  CHECK(rusm_kv_batch_add(ops, sizeof ops, &len, RUSM_KV_OP_CHECK, "n", 1, "42", 2) == RUSM_OK);
  CHECK(rusm_kv_batch_add(ops, sizeof ops, &len, RUSM_KV_OP_CHECK_ABSENT, "usr", 3, 0, 0) ==
        RUSM_OK);
  int32_t failed = -1;
  CHECK(rusm_kv_batch(b, ops, len, &failed) == RUSM_ECONFLICT && failed == 2);
  CHECK(rusm_kv_get(b, "x", 1, small, sizeof small) == RUSM_ENOTFOUND);
  len = 0;
  CHECK(rusm_kv_batch_add(ops, sizeof ops, &len, RUSM_KV_OP_PUT, "x", 1, "1", 1) == RUSM_OK);
  CHECK(rusm_kv_batch_add(ops, sizeof ops, &len, RUSM_KV_OP_CHECK, "n", 1, "42", 2) == RUSM_OK);
  CHECK(rusm_kv_batch_add(ops, sizeof ops, &len, RUSM_KV_OP_DELETE, "usr", 3, 0, 0) == RUSM_OK);
  CHECK(rusm_kv_batch(b, ops, len, &failed) == RUSM_OK);
  CHECK(same(b, "x", "1"));
  CHECK(rusm_kv_get(b, "usr", 3, small, sizeof small) == RUSM_ENOTFOUND);
  CHECK(rusm_kv_batch(b, ops, len - 1, 0) == RUSM_EBADARG);  // truncated step
  ops[0] = 9;                                                // no such kind
  CHECK(rusm_kv_batch(b, ops, len, 0) == RUSM_EBADARG);

  // bounds, handles, grants
  static char huge[(1 << 20) + 1];
  CHECK(rusm_kv_put(b, "h", 1, huge, sizeof huge) == RUSM_ETOOLARGE);
  CHECK(rusm_kv_put(b, "", 0, "v", 1) == RUSM_EBADARG);
  CHECK(rusm_kv_get(b, "n", 1, (void*)0xfffffff0u, 64) == RUSM_EBADARG);
  int32_t ro = rusm_kv_open("shared", 6);
  CHECK(ro > 0);
  CHECK(put(ro, "k", "v") == RUSM_EDENIED);
  CHECK(rusm_kv_get(ro, "k", 1, small, sizeof small) == RUSM_ENOTFOUND);
  CHECK(rusm_kv_open("secret", 6) == RUSM_EDENIED);
  CHECK(rusm_kv_close(ro) == RUSM_OK);
  CHECK(rusm_kv_get(ro, "k", 1, small, sizeof small) == RUSM_EBADARG);
  CHECK(rusm_kv_close(b) == RUSM_OK);
  report("ok");
}

RUSM_EXPORT(denied) void denied(rusm_pid reporter) {
  g_reporter = reporter;
  report(rusm_kv_open("app", 3) == RUSM_EDENIED ? "denied" : "granted");
}

RUSM_EXPORT(count) void count(rusm_pid reporter, int32_t n) {
  g_reporter = reporter;
  int32_t b = rusm_kv_open("app", 3);
  CHECK(b > 0);
  for (int32_t i = 0; i < n; ++i) {
    CHECK(rusm_kv_incr(b, "hits", 4, 1, 0) == RUSM_OK);
  }
  report("counted");
}

// The value of write i of writer id: 1000 bytes no other write has.
static void pattern(uint32_t id, uint32_t i, char* out) {
  uint32_t x = id * 2654435761u ^ (i + 1) * 40503u;
  for (int j = 0; j < 1000; ++j) {
    x = x * 1103515245u + 12345u;
    out[j] = (char)('a' + (x >> 16) % 26);
  }
}

RUSM_EXPORT(storm) void storm(rusm_pid reporter, int32_t id, int32_t n) {
  g_reporter = reporter;
  int32_t b = rusm_kv_open("storm", 5);
  CHECK(b > 0);
  char key[32], value[1000];
  for (int32_t i = 0; i < n; ++i) {
    int kl = snprintf(key, sizeof key, "w%d/%d", (int)id, (int)i);
    pattern((uint32_t)id, (uint32_t)i, value);
    CHECK(rusm_kv_put(b, key, (uint32_t)kl, value, sizeof value) == RUSM_OK);
    rusm_send(reporter, 2, key, (uint32_t)kl);  // acknowledged: it is on disk
  }
}

// `rusm run --entry storm_main t_kv.wasm --allow spawn --allow kv:storm`:
// eight storm writers, each acknowledged write printed as "ack KEY" once
// its put has returned, until killed (tests/runtime/kv_durability_test.cc).
RUSM_EXPORT(storm_main) void storm_main(void) {
  for (uint64_t id = 0; id < 8; ++id) {
    uint64_t args[3] = {rusm_self(), id, 1000000};
    if (rusm_spawn("storm", args, 3) == 0) {
      printf("spawn failed\n");
      return;
    }
  }
  char key[64];
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, key, sizeof key - 1);
    if (n < 0) {
      return;
    }
    if (m.tag == 2) {
      key[n] = 0;
      printf("ack %s\n", key);
      fflush(stdout);
    } else if (m.tag == 1) {
      key[n] = 0;
      printf("%s\n", key);  // a writer's failure
      fflush(stdout);
    }
  }
}
