/* platform.c: the platform calls of a JavaScript process (platform.h,
 * docs/js.md "Platform"): native functions on guest/c/rusm.h that
 * prelude.js, platform.js and crypto.js shape into rusm.kv,
 * rusm.subscribe/unsubscribe/publish, rusm.supervisor and crypto.subtle;
 * and loadPlatform, which compiles platform.js or crypto.js on a process's
 * first use. Arguments arrive already checked for their JS shape; this
 * file checks what the host cannot (lengths, ranges) and turns host errors
 * into thrown Errors with a `code`.
 *
 * Supervisors. The host's supervisor (docs/abi.md, "Supervisor spec")
 * spawns each child as an export of the caller's module with u64
 * arguments, and a JS child needs its script, which only a JS process can
 * send (the boot message, rusm_js.c). So starting a supervisor from JS also
 * spawns a boot server: js_boot_server, a plain C process of this module
 * (no QuickJS context, no capabilities), linked to the JS process that
 * starts the supervisor. It holds the boot message's prefix (the app's and
 * the prelude's bytecode) and each child's function and arguments, under a
 * u64 key. Every child spec names the export js_supervised(server, key)
 * (rusm_js.c), which asks the server for its boot message and boots from
 * it; a restarted child asks again. The server monitors the supervisor and
 * ends with it. simple_one_for_one's start_child first registers the
 * child's arguments with the server (a round trip) and passes the key.
 */
#include "platform.h"

#include <stdlib.h>
#include <string.h>

#include "rusm_crypto_js.h"   /* kCryptoJs_write, generated from crypto.js */
#include "rusm_platform_js.h" /* kPlatformJs_write, generated from platform.js */

#define GUARD(what)                               \
  do {                                            \
    JSValue g_ = check_not_initializing(c, what); \
    if (JS_IsException(g_)) {                     \
      return g_;                                  \
    }                                             \
  } while (0)

/* One byte-string argument (a key, a value, a topic): release with
 * bytes_done. */
typedef struct {
  const uint8_t* p;
  size_t n;
  const char* cstr;
  JSValue hold;
  bool set;
} Bytes;

static int bytes_of(JSContext* c, JSValueConst v, Bytes* b) {
  b->set = false;
  b->p = NULL;
  b->n = 0;
  if (to_bytes(c, v, &b->p, &b->n, &b->cstr, &b->hold) < 0) {
    return -1;
  }
  b->set = true;
  if (b->n > 0x7FFFFFFF) {
    free_bytes(c, b->cstr, b->hold);
    b->set = false;
    JS_ThrowRangeError(c, "rusm: an argument over 2 GiB");
    return -1;
  }
  return 0;
}

static void bytes_done(JSContext* c, Bytes* b) {
  if (b->set) {
    free_bytes(c, b->cstr, b->hold);
    b->set = false;
  }
}

static int to_handle(JSContext* c, JSValueConst v, int32_t* out) {
  return JS_ToInt32(c, out, v);
}

/* ---- the key-value store (docs/kv.md) */

/* kvOpen(bucket) -> handle */
static JSValue n_kv_open(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_kv_open(s, (uint32_t)n);
  JS_FreeCString(c, s);
  return r < 0 ? throw_code(c, "kv.open", r) : JS_NewInt32(c, r);
}

static JSValue n_kv_close(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  if (to_handle(c, argv[0], &h) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_kv_close(h);
  return r < 0 ? throw_code(c, "kv.close", r) : JS_UNDEFINED;
}

/* kvGet(h, key) -> ArrayBuffer, or null if there is no such key */
static JSValue n_kv_get(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  Bytes key;
  if (to_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &key) < 0) {
    return JS_EXCEPTION;
  }
  uint8_t small[1024];
  uint8_t* buf = small;
  uint32_t cap = sizeof small;
  JSValue result;
  for (;;) {
    int32_t r = rusm_kv_get(h, key.p, (uint32_t)key.n, buf, cap);
    if (r == RUSM_ENOTFOUND) {
      result = JS_NULL;
      break;
    }
    if (r < 0) {
      result = throw_code(c, "kv.get", r);
      break;
    }
    if ((uint32_t)r <= cap) {
      result = JS_NewArrayBufferCopy(c, buf, (size_t)r);
      break;
    }
    /* Larger than the buffer: again with one that fits (the value may
     * have grown meanwhile; then once more). */
    if (buf != small) {
      free(buf);
    }
    cap = (uint32_t)r;
    buf = malloc(cap);
    if (!buf) {
      buf = small;
      result = JS_ThrowOutOfMemory(c);
      break;
    }
  }
  if (buf != small) {
    free(buf);
  }
  bytes_done(c, &key);
  return result;
}

/* kvPut(h, key, value) */
static JSValue n_kv_put(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  Bytes key, value;
  if (to_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &key) < 0) {
    return JS_EXCEPTION;
  }
  if (bytes_of(c, argv[2], &value) < 0) {
    bytes_done(c, &key);
    return JS_EXCEPTION;
  }
  int32_t r = rusm_kv_put(h, key.p, (uint32_t)key.n, value.p, (uint32_t)value.n);
  bytes_done(c, &key);
  bytes_done(c, &value);
  return r < 0 ? throw_code(c, "kv.put", r) : JS_UNDEFINED;
}

/* kvDelete(h, key) -> whether there was such a key */
static JSValue n_kv_delete(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  Bytes key;
  if (to_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &key) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_kv_delete(h, key.p, (uint32_t)key.n);
  bytes_done(c, &key);
  if (r == RUSM_ENOTFOUND) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "kv.delete", r) : JS_TRUE;
}

/* kvCas(h, key, expected|null, value|null) -> true if written, false on a
 * conflict. expected null: only if absent; value null: delete. */
static JSValue n_kv_cas(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  Bytes key, expected = {0}, value = {0};
  int32_t flags = 0;
  if (to_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &key) < 0) {
    return JS_EXCEPTION;
  }
  JSValue result = JS_EXCEPTION;
  if (JS_IsNull(argv[2])) {
    flags |= RUSM_KV_IF_ABSENT;
  } else if (bytes_of(c, argv[2], &expected) < 0) {
    goto out;
  }
  if (JS_IsNull(argv[3])) {
    flags |= RUSM_KV_DELETE;
  } else if (bytes_of(c, argv[3], &value) < 0) {
    goto out;
  }
  int32_t r = rusm_kv_cas(h, key.p, (uint32_t)key.n, expected.p, (uint32_t)expected.n, value.p,
                          (uint32_t)value.n, flags);
  if (r == RUSM_ECONFLICT) {
    result = JS_FALSE;
  } else if (r < 0) {
    result = throw_code(c, "kv.cas", r);
  } else {
    result = JS_TRUE;
  }
out:
  bytes_done(c, &key);
  bytes_done(c, &expected);
  bytes_done(c, &value);
  return result;
}

/* kvIncr(h, key, delta) -> the new value (a Number: exact up to 2^53) */
static JSValue n_kv_incr(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  double d;
  if (to_handle(c, argv[0], &h) < 0 || JS_ToFloat64(c, &d, argv[2]) < 0) {
    return JS_EXCEPTION;
  }
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) || d != (double)(int64_t)d) {
    return JS_ThrowRangeError(c, "rusm.kv.incr: the delta must be an integer within 2^53");
  }
  Bytes key;
  if (bytes_of(c, argv[1], &key) < 0) {
    return JS_EXCEPTION;
  }
  int64_t out = 0;
  int32_t r = rusm_kv_incr(h, key.p, (uint32_t)key.n, (int64_t)d, &out);
  bytes_done(c, &key);
  return r < 0 ? throw_code(c, "kv.incr", r) : JS_NewFloat64(c, (double)out);
}

/* kvList(h, prefix, after, values) -> [[key: ArrayBuffer, value?], ...]:
 * one page (at most 1000 entries, as many as a buffer holds); [] at the
 * end. A first entry too large for the buffer grows it (a value is at
 * most 1 MiB, a key 1 KiB). */
static JSValue n_kv_list(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  Bytes prefix, after;
  if (to_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &prefix) < 0) {
    return JS_EXCEPTION;
  }
  if (bytes_of(c, argv[2], &after) < 0) {
    bytes_done(c, &prefix);
    return JS_EXCEPTION;
  }
  int32_t flags = JS_ToBool(c, argv[3]) ? RUSM_KV_VALUES : 0;
  uint32_t cap = 64 * 1024;
  uint8_t* buf = NULL;
  JSValue result = JS_EXCEPTION;
  int32_t count;
  for (;;) {
    uint8_t* more = realloc(buf, cap);
    if (!more) {
      result = JS_ThrowOutOfMemory(c);
      goto out;
    }
    buf = more;
    count =
        rusm_kv_list(h, prefix.p, (uint32_t)prefix.n, after.p, (uint32_t)after.n, buf, cap, flags);
    if (count == RUSM_ETOOLARGE && cap < 4 * 1024 * 1024) {
      cap *= 4;
      continue;
    }
    break;
  }
  if (count < 0) {
    result = throw_code(c, "kv.list", count);
    goto out;
  }
  result = JS_NewArray(c);
  uint32_t at = 0;
  for (int32_t i = 0; i < count; i++) {
    const uint8_t *k, *v;
    uint32_t kn, vn;
    rusm_kv_next(buf, &at, &k, &kn, &v, &vn);
    JSValue e = JS_NewArray(c);
    JS_SetPropertyUint32(c, e, 0, JS_NewArrayBufferCopy(c, k, kn));
    if (flags) {
      JS_SetPropertyUint32(c, e, 1, JS_NewArrayBufferCopy(c, v, vn));
    }
    JS_SetPropertyUint32(c, result, (uint32_t)i, e);
  }
out:
  free(buf);
  bytes_done(c, &prefix);
  bytes_done(c, &after);
  return result;
}

/* kvBatch(h, [[kind, key, value?], ...]) -> -1 if it was applied, else the
 * index of the check that failed (nothing written). */
static JSValue n_kv_batch(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  uint32_t n = 0;
  if (to_handle(c, argv[0], &h) < 0) {
    return JS_EXCEPTION;
  }
  JSValue length = JS_GetPropertyStr(c, argv[1], "length");
  int bad = JS_ToUint32(c, &n, length);
  JS_FreeValue(c, length);
  if (bad < 0) {
    return JS_EXCEPTION;
  }
  if (n > 1024) {
    return JS_ThrowRangeError(c, "rusm.kv.batch: at most 1024 steps");
  }
  uint8_t* buf = NULL;
  uint32_t len = 0, cap = 0;
  JSValue result = JS_EXCEPTION;
  for (uint32_t i = 0; i < n; i++) {
    JSValue step = JS_GetPropertyUint32(c, argv[1], i);
    JSValue kind_v = JS_GetPropertyUint32(c, step, 0);
    JSValue key_v = JS_GetPropertyUint32(c, step, 1);
    JSValue value_v = JS_GetPropertyUint32(c, step, 2);
    JS_FreeValue(c, step);
    int32_t kind = 0;
    Bytes key = {0}, value = {0};
    int ok = JS_ToInt32(c, &kind, kind_v) == 0 && bytes_of(c, key_v, &key) == 0 &&
             (JS_IsUndefined(value_v) || bytes_of(c, value_v, &value) == 0);
    JS_FreeValue(c, kind_v);
    JS_FreeValue(c, key_v);
    JS_FreeValue(c, value_v);
    if (ok) {
      uint64_t need = (uint64_t)len + sizeof(rusm_kv_op) + key.n + value.n;
      if (need > 16u * 1024 * 1024) {
        JS_ThrowRangeError(c, "rusm.kv.batch: over 16 MiB");
        ok = 0;
      } else if (need > cap) {
        uint32_t grow = cap ? cap : 4096;
        while (grow < need) {
          grow *= 2;
        }
        uint8_t* more = realloc(buf, grow);
        if (!more) {
          JS_ThrowOutOfMemory(c);
          ok = 0;
        } else {
          buf = more;
          cap = grow;
        }
      }
      if (ok) {
        rusm_kv_batch_add(buf, cap, &len, (uint32_t)kind, key.p, (uint32_t)key.n, value.p,
                          (uint32_t)value.n);
      }
    }
    bytes_done(c, &key);
    bytes_done(c, &value);
    if (!ok) {
      goto out;
    }
  }
  int32_t failed = -1;
  int32_t r = rusm_kv_batch(h, buf ? buf : (const uint8_t*)"", len, &failed);
  if (r == RUSM_ECONFLICT) {
    result = JS_NewInt32(c, failed);
  } else if (r < 0) {
    result = throw_code(c, "kv.batch", r);
  } else {
    result = JS_NewInt32(c, -1);
  }
out:
  free(buf);
  return result;
}

/* ---- topics (docs/abi.md, "Topics") */

static JSValue topic_call(JSContext* c, JSValueConst v, const char* what,
                          int32_t (*call)(const char*, uint32_t)) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, v);
  if (!s) {
    return JS_EXCEPTION;
  }
  int32_t r = call(s, (uint32_t)n);
  JS_FreeCString(c, s);
  if (r == RUSM_ENOTFOUND) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, what, r) : JS_TRUE;
}

static JSValue n_subscribe(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("subscribe");
  return topic_call(c, argv[0], "subscribe", __rusm_subscribe);
}

static JSValue n_unsubscribe(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return topic_call(c, argv[0], "unsubscribe", __rusm_unsubscribe);
}

/* publish(topic, tag, data) -> how many copies went out */
static JSValue n_publish(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("publish");
  size_t tn;
  const char* topic = JS_ToCStringLen(c, &tn, argv[0]);
  if (!topic) {
    return JS_EXCEPTION;
  }
  Outgoing o;
  if (outgoing(c, argv[1], argv[2], &o) < 0) {
    JS_FreeCString(c, topic);
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_publish(topic, (uint32_t)tn, o.tag, o.msg, (uint32_t)o.len);
  outgoing_done(c, &o);
  JS_FreeCString(c, topic);
  return r < 0 ? throw_code(c, "publish", r) : JS_NewInt32(c, r);
}

/* ---- supervisors (see the top of this file) */

/* The boot server's table: per key, the function and the arguments (JSON)
 * a child boots with. Keys 1..n are the supervisor's children in spec
 * order; start_child adds more. */
typedef struct {
  char* fn;
  uint32_t fn_len;
  char* args;
  uint32_t args_len;
} BootEntry;

#define BOOT_SERVER_MAX_ENTRIES 100000

static uint32_t get32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void put32(uint8_t* p, uint32_t v) {
  memcpy(p, &v, 4);
}

/* Receives the current message whole (malloc'd); NULL if out of memory. */
static uint8_t* whole_message(uint8_t* head, uint32_t head_cap, int32_t n) {
  uint8_t* p = malloc((size_t)n + 1);
  if (!p) {
    return NULL;
  }
  memcpy(p, head, (uint32_t)n < head_cap ? (uint32_t)n : head_cap);
  if ((uint32_t)n > head_cap &&
      rusm_message_read(head_cap, p + head_cap, (uint32_t)n - head_cap) != n - (int32_t)head_cap) {
    free(p);
    return NULL;
  }
  return p;
}

static __attribute__((noreturn)) void server_exit(const char* why) {
  __rusm_exit(why ? RUSM_EXIT_ERROR : RUSM_NORMAL, why ? why : "", why ? (uint32_t)strlen(why) : 0);
  __builtin_unreachable();
}

/* The boot server's entry (spawned by n_sup_start). First message, from
 * its parent: u32 prefix_len, the boot prefix, u32 n, then n entries of
 * u32 fn_len, fn, u32 args_len, args. */
RUSM_EXPORT(js_boot_server) void js_boot_server(void) {
  rusm_pid owner = rusm_parent();
  rusm_msg h;
  uint8_t head[256];
  uint8_t* config = NULL;
  int32_t n;
  for (;;) {
    n = __rusm_receive(BOOT_SERVER_CONFIG, 1, 60000000000ll, &h, head, sizeof head);
    if (n < 0) {
      server_exit("rusm-js boot server: no configuration arrived");
    }
    if (h.from == owner) {
      break;
    }
  }
  config = whole_message(head, sizeof head, n);
  if (!config || n < 8) {
    server_exit("rusm-js boot server: a malformed configuration");
  }
  uint32_t prefix_len = get32(config);
  if (prefix_len > (uint32_t)n - 8) {
    server_exit("rusm-js boot server: a malformed configuration");
  }
  const uint8_t* prefix = config + 4;
  const uint8_t* q = prefix + prefix_len;
  const uint8_t* end = config + n;
  uint32_t count = get32(q);
  q += 4;
  if (count > 1024) {
    server_exit("rusm-js boot server: a malformed configuration");
  }
  uint32_t cap = count + 16;
  BootEntry* table = calloc(cap, sizeof(BootEntry));
  if (!table) {
    server_exit("rusm-js boot server: out of memory");
  }
  for (uint32_t i = 0; i < count; i++) {
    BootEntry* e = &table[i];
    if (end - q < 4 || (e->fn_len = get32(q), (uint64_t)(end - q) < 8ull + e->fn_len)) {
      server_exit("rusm-js boot server: a malformed configuration");
    }
    e->fn = (char*)q + 4;
    q += 4 + e->fn_len;
    e->args_len = get32(q);
    if ((uint64_t)(end - q) < 4ull + e->args_len) {
      server_exit("rusm-js boot server: a malformed configuration");
    }
    e->args = (char*)q + 4;
    q += 4 + e->args_len;
  }
  for (;;) {
    n = __rusm_receive(0, 0, -1, &h, head, sizeof head);
    if (n < 0) {
      continue;
    }
    if (h.tag == BOOT_REQUEST && n == 8) {
      uint64_t key;
      memcpy(&key, head, 8);
      if (key == 0 || key > count) {
        rusm_send(h.from, BOOT_TAG, "", 0); /* the child ends: a malformed boot message */
        continue;
      }
      BootEntry* e = &table[key - 1];
      size_t len = prefix_len + 8 + (size_t)e->fn_len + e->args_len;
      uint8_t* boot = malloc(len);
      if (!boot) {
        rusm_send(h.from, BOOT_TAG, "", 0);
        continue;
      }
      memcpy(boot, prefix, prefix_len);
      put32(boot + prefix_len, e->fn_len);
      memcpy(boot + prefix_len + 4, e->fn, e->fn_len);
      put32(boot + prefix_len + 4 + e->fn_len, e->args_len);
      memcpy(boot + prefix_len + 8 + e->fn_len, e->args, e->args_len);
      rusm_send(h.from, BOOT_TAG, boot, (uint32_t)len);
      free(boot);
    } else if (h.tag == BOOT_REGISTER) {
      /* A simple_one_for_one child's arguments: entry 1's function (the
       * template) with these arguments; kept for its restarts. */
      uint64_t key = 0;
      char* args = (char*)whole_message(head, sizeof head, n);
      if (args && count > 0 && count < BOOT_SERVER_MAX_ENTRIES) {
        if (count == cap) {
          BootEntry* more = realloc(table, (size_t)cap * 2 * sizeof(BootEntry));
          if (more) {
            table = more;
            cap *= 2;
          }
        }
        if (count < cap) {
          table[count].fn = table[0].fn;
          table[count].fn_len = table[0].fn_len;
          table[count].args = args;
          table[count].args_len = (uint32_t)n;
          count++;
          key = count;
          args = NULL;
        }
      }
      free(args);
      rusm_send(h.from, BOOT_REGISTERED, &key, sizeof key);
    } else if (h.tag == BOOT_SUPERVISOR && h.from == owner && n == 8) {
      uint64_t sup;
      memcpy(&sup, head, 8);
      if (rusm_monitor(sup) < 0) {
        server_exit(NULL);
      }
    } else if ((h.tag == BOOT_STOP && h.from == owner) || h.tag == RUSM_TAG_DOWN) {
      server_exit(NULL); /* the supervisor is gone: nothing left to boot */
    }
  }
}

/* Appends bytes to a growing buffer; -1 when out of memory. */
typedef struct {
  uint8_t* p;
  size_t len, cap;
} Buf;

static int buf_put(Buf* b, const void* data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n) {
      cap *= 2;
    }
    uint8_t* more = realloc(b->p, cap);
    if (!more) {
      return -1;
    }
    b->p = more;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 0;
}

static int buf_u32(Buf* b, uint32_t v) {
  return buf_put(b, &v, 4);
}

static int buf_str(Buf* b, const char* s, size_t n) {
  return buf_u32(b, (uint32_t)n) < 0 ? -1 : buf_put(b, s, n);
}

/* supStart(strategy, intensity, periodMs, [[id, fn, argsJson, restart,
 * shutdownMs], ...]) -> {pid, server} */
static JSValue n_sup_start(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("supervisor.start");
  uint32_t strategy, intensity, period, n = 0;
  if (JS_ToUint32(c, &strategy, argv[0]) < 0 || JS_ToUint32(c, &intensity, argv[1]) < 0 ||
      JS_ToUint32(c, &period, argv[2]) < 0) {
    return JS_EXCEPTION;
  }
  JSValue length = JS_GetPropertyStr(c, argv[3], "length");
  int bad = JS_ToUint32(c, &n, length);
  JS_FreeValue(c, length);
  if (bad < 0) {
    return JS_EXCEPTION;
  }
  if (n > 1024) {
    return JS_ThrowRangeError(c, "rusm.supervisor.start: at most 1024 children");
  }
  /* Children start from the app's template (ABI v10: the child spec's
   * template flag), and the boot server hands each only its call (boot
   * version 3); without a template, the whole boot message. */
  rusm_pid tmpl = ensure_template(0xFFFFFFFFu);
  static const uint8_t kCallOnly[4] = {3, 0, 0, 0};
  const uint8_t* prefix = tmpl ? kCallOnly : boot_prefix;
  uint32_t prefix_len = tmpl ? sizeof kCallOnly : boot_prefix_len;
  if (!prefix) {
    return JS_ThrowInternalError(c, "rusm.supervisor.start: no script to hand children");
  }
  JSValue result = JS_EXCEPTION;
  Buf config = {0};
  const char** ids = calloc(n ? n : 1, sizeof(char*));
  size_t* id_lens = calloc(n ? n : 1, sizeof(size_t));
  rusm_child_spec* specs = calloc(n ? n : 1, sizeof(rusm_child_spec));
  uint64_t* args = calloc(3 * (size_t)(n ? n : 1), sizeof(uint64_t)); /* [tmpl,] server, key */
  uint8_t* spec = NULL;
  rusm_pid server = 0;
  if (!ids || !id_lens || !specs || !args) {
    result = JS_ThrowOutOfMemory(c);
    goto out;
  }
  if (buf_str(&config, (const char*)prefix, prefix_len) < 0 || buf_u32(&config, n) < 0) {
    result = JS_ThrowOutOfMemory(c);
    goto out;
  }
  for (uint32_t i = 0; i < n; i++) {
    JSValue child = JS_GetPropertyUint32(c, argv[3], i);
    JSValue id_v = JS_GetPropertyUint32(c, child, 0);
    JSValue fn_v = JS_GetPropertyUint32(c, child, 1);
    JSValue args_v = JS_GetPropertyUint32(c, child, 2);
    JSValue restart_v = JS_GetPropertyUint32(c, child, 3);
    JSValue shutdown_v = JS_GetPropertyUint32(c, child, 4);
    JS_FreeValue(c, child);
    size_t fn_len = 0, args_len = 0;
    uint32_t restart = 0, shutdown = 0;
    ids[i] = JS_ToCStringLen(c, &id_lens[i], id_v);
    const char* fn = JS_ToCStringLen(c, &fn_len, fn_v);
    const char* a = JS_ToCStringLen(c, &args_len, args_v);
    int ok = ids[i] && fn && a && JS_ToUint32(c, &restart, restart_v) == 0 &&
             JS_ToUint32(c, &shutdown, shutdown_v) == 0;
    JS_FreeValue(c, id_v);
    JS_FreeValue(c, fn_v);
    JS_FreeValue(c, args_v);
    JS_FreeValue(c, restart_v);
    JS_FreeValue(c, shutdown_v);
    if (ok && have_ns) {
      JSValue f = JS_GetPropertyStr(c, app_ns, fn);
      if (!JS_IsFunction(c, f)) {
        JS_ThrowTypeError(c, "rusm.supervisor.start: %s exports no function '%s'", script_name, fn);
        ok = 0;
      }
      JS_FreeValue(c, f);
    }
    if (ok && (buf_str(&config, fn, fn_len) < 0 || buf_str(&config, a, args_len) < 0)) {
      JS_ThrowOutOfMemory(c);
      ok = 0;
    }
    if (fn) {
      JS_FreeCString(c, fn);
    }
    if (a) {
      JS_FreeCString(c, a);
    }
    if (!ok) {
      goto out;
    }
    static const char kEntry[] = "js_supervised";
    static const char kEntryFromTemplate[] = "js_supervised_from_template";
    rusm_child_spec* s = &specs[i];
    uint64_t* call = &args[3 * i];
    s->id = ids[i];
    s->id_len = (uint32_t)id_lens[i];
    s->fn = tmpl ? kEntryFromTemplate : kEntry;
    s->fn_len = tmpl ? sizeof kEntryFromTemplate - 1 : sizeof kEntry - 1;
    s->args = tmpl ? call : call + 1;
    /* [the template,] the server's pid (set below), the key; for
     * simple_one_for_one, start_child adds the key. */
    s->nargs = (strategy == RUSM_SIMPLE_ONE_FOR_ONE ? 1 : 2) + (tmpl ? 1 : 0);
    s->restart = restart;
    s->shutdown_ms = shutdown;
    /* As rusm.spawn: every capability of this process, stdio included. */
    s->flags = RUSM_SPAWN_CAPS | (tmpl ? RUSM_SPAWN_TEMPLATE : 0);
    s->caps = 0xFFFFFFFFu;
    call[0] = tmpl;
    call[2] = i + 1;
  }
  /* The boot server: no capabilities, linked to this process. */
  static const char kServer[] = "js_boot_server";
  rusm_spawn_opts o = {0};
  o.flags = RUSM_SPAWN_LINK | RUSM_SPAWN_CAPS;
  o.caps = 0;
  o.label = "js boot server";
  o.label_len = (uint32_t)strlen(o.label);
  rusm_spawned sp = {0, 0};
  int32_t r = __rusm_spawn(kServer, sizeof kServer - 1, NULL, 0, &o, &sp);
  if (r < 0) {
    result = throw_code(c, "supervisor.start", r);
    goto out;
  }
  server = sp.pid;
  r = rusm_send(server, BOOT_SERVER_CONFIG, config.p, (uint32_t)config.len);
  if (r < 0) {
    result = throw_code(c, "supervisor.start", r);
    goto out;
  }
  for (uint32_t i = 0; i < n; i++) {
    args[3 * i + 1] = server;
  }
  size_t spec_len = sizeof(rusm_sup_header) + (size_t)n * sizeof(rusm_child_spec);
  spec = malloc(spec_len);
  if (!spec) {
    result = JS_ThrowOutOfMemory(c);
    goto out;
  }
  rusm_sup_header hdr = {strategy, intensity, period, n};
  memcpy(spec, &hdr, sizeof hdr);
  memcpy(spec + sizeof hdr, specs, (size_t)n * sizeof(rusm_child_spec));
  int64_t sup = __rusm_supervisor_start(spec, (uint32_t)spec_len);
  if (sup < 0) {
    result = throw_code(c, "supervisor.start", (int32_t)sup);
    goto out;
  }
  rusm_send(server, BOOT_SUPERVISOR, &sup, sizeof sup);
  result = JS_NewObject(c);
  JS_SetPropertyStr(c, result, "pid", pid_value(c, (uint64_t)sup));
  JS_SetPropertyStr(c, result, "server", pid_value(c, server));
  server = 0; /* it serves the supervisor now */
out:
  if (server) {
    rusm_send(server, BOOT_STOP, "", 0);
  }
  for (uint32_t i = 0; ids && i < n; i++) {
    if (ids[i]) {
      JS_FreeCString(c, ids[i]);
    }
  }
  free(ids);
  free(id_lens);
  free(specs);
  free(args);
  free(spec);
  free(config.p);
  return result;
}

static int64_t timeout_arg(JSContext* c, JSValueConst v, int* err) {
  *err = 0;
  if (JS_IsUndefined(v) || JS_IsNull(v)) {
    return 5000000000ll; /* 5 s, as OTP's default call timeout */
  }
  double ms;
  if (JS_ToFloat64(c, &ms, v) < 0) {
    *err = 1;
    return 0;
  }
  return ms_to_ns(ms);
}

/* supStartChild(sup, server, argsJson, timeoutMs) -> pid (simple_one_for_one) */
static JSValue n_sup_start_child(JSContext* c, JSValueConst this_val, int argc,
                                 JSValueConst* argv) {
  GUARD("supervisor.startChild");
  rusm_pid sup, server;
  int err;
  if (to_pid(c, argv[0], "supervisor.startChild", &sup) < 0 ||
      to_pid(c, argv[1], "supervisor.startChild", &server) < 0) {
    return JS_EXCEPTION;
  }
  int64_t timeout = timeout_arg(c, argv[3], &err);
  if (err) {
    return JS_EXCEPTION;
  }
  if (rusm_is_alive(server) != 1) {
    return throw_code(c, "supervisor.startChild", RUSM_ENOPROC); /* its supervisor is gone */
  }
  size_t n;
  const char* a = JS_ToCStringLen(c, &n, argv[2]);
  if (!a) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_send(server, BOOT_REGISTER, a, (uint32_t)n);
  JS_FreeCString(c, a);
  if (r < 0) {
    return throw_code(c, "supervisor.startChild", r);
  }
  rusm_msg h;
  uint64_t key = 0;
  for (;;) {
    int32_t got = __rusm_receive(BOOT_REGISTERED, 1, timeout, &h, &key, sizeof key);
    if (got < 0) {
      return throw_code(c, "supervisor.startChild", got == RUSM_ETIMEOUT ? RUSM_ENOPROC : got);
    }
    if (h.from == server && got == 8) {
      break;
    }
  }
  if (key == 0) {
    return throw_code(c, "supervisor.startChild", RUSM_ELIMIT);
  }
  int64_t pid = __rusm_supervisor_start_child((int64_t)sup, &key, 1, timeout);
  return pid < 0 ? throw_code(c, "supervisor.startChild", (int32_t)pid)
                 : pid_value(c, (uint64_t)pid);
}

/* supWhichChildren(sup, timeoutMs) -> [pid, ...] */
static JSValue n_sup_which_children(JSContext* c, JSValueConst this_val, int argc,
                                    JSValueConst* argv) {
  rusm_pid sup;
  int err;
  if (to_pid(c, argv[0], "supervisor.whichChildren", &sup) < 0) {
    return JS_EXCEPTION;
  }
  int64_t timeout = timeout_arg(c, argv[1], &err);
  if (err) {
    return JS_EXCEPTION;
  }
  uint32_t cap = 64;
  rusm_pid* pids = NULL;
  int32_t r;
  for (;;) {
    rusm_pid* more = realloc(pids, cap * sizeof(rusm_pid));
    if (!more) {
      free(pids);
      return JS_ThrowOutOfMemory(c);
    }
    pids = more;
    r = __rusm_supervisor_which_children((int64_t)sup, pids, cap, timeout);
    if (r > (int32_t)cap && cap < (1u << 20)) {
      cap = (uint32_t)r + 16;
      continue;
    }
    break;
  }
  if (r < 0) {
    free(pids);
    return throw_code(c, "supervisor.whichChildren", r);
  }
  JSValue list = JS_NewArray(c);
  for (int32_t i = 0; i < r && (uint32_t)i < cap; i++) {
    JS_SetPropertyUint32(c, list, (uint32_t)i, pid_value(c, pids[i]));
  }
  free(pids);
  return list;
}

/* supTerminateChild(sup, child, timeoutMs) -> false if not a live child */
static JSValue n_sup_terminate_child(JSContext* c, JSValueConst this_val, int argc,
                                     JSValueConst* argv) {
  rusm_pid sup, child;
  int err;
  if (to_pid(c, argv[0], "supervisor.terminateChild", &sup) < 0 ||
      to_pid(c, argv[1], "supervisor.terminateChild", &child) < 0) {
    return JS_EXCEPTION;
  }
  int64_t timeout = timeout_arg(c, argv[2], &err);
  if (err) {
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_supervisor_terminate_child((int64_t)sup, (int64_t)child, timeout);
  if (r == RUSM_ENOTFOUND) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "supervisor.terminateChild", r) : JS_TRUE;
}

/* ---- crypto beyond digest (docs/crypto.md) */

/* hmac(alg, key, data) -> ArrayBuffer */
static JSValue n_hmac(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t alg;
  Bytes key, data;
  if (JS_ToInt32(c, &alg, argv[0]) < 0 || bytes_of(c, argv[1], &key) < 0) {
    return JS_EXCEPTION;
  }
  if (bytes_of(c, argv[2], &data) < 0) {
    bytes_done(c, &key);
    return JS_EXCEPTION;
  }
  uint8_t out[64];
  int32_t r =
      rusm_crypto_hmac(alg, key.p, (uint32_t)key.n, data.p, (uint32_t)data.n, out, sizeof out);
  bytes_done(c, &key);
  bytes_done(c, &data);
  return r < 0 ? throw_code(c, "hmac", r) : JS_NewArrayBufferCopy(c, out, (size_t)r);
}

/* hkdf(alg, ikm, salt, info, bytes) -> ArrayBuffer of `bytes` bytes
 * (RFC 5869; the host bounds `bytes` by 255 hash lengths and `info` by
 * 1024 bytes: EBADARG beyond) */
static JSValue n_hkdf(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t alg, len;
  Bytes ikm = {0}, salt = {0}, info = {0};
  JSValue result = JS_EXCEPTION;
  uint8_t* out = NULL;
  if (JS_ToInt32(c, &alg, argv[0]) < 0 || JS_ToInt32(c, &len, argv[4]) < 0 ||
      bytes_of(c, argv[1], &ikm) < 0 || bytes_of(c, argv[2], &salt) < 0 ||
      bytes_of(c, argv[3], &info) < 0) {
    goto out;
  }
  if (len <= 0 || len > 255 * 64) {
    result = JS_ThrowRangeError(c, "rusm.hkdf: the length is 1 to 16320 bytes");
    goto out;
  }
  out = malloc((size_t)len);
  if (!out) {
    result = JS_ThrowOutOfMemory(c);
    goto out;
  }
  int32_t r = rusm_crypto_hkdf(alg, ikm.p, (uint32_t)ikm.n, salt.p, (uint32_t)salt.n, info.p,
                               (uint32_t)info.n, out, (uint32_t)len);
  result = r < 0 ? throw_code(c, "hkdf", r) : JS_NewArrayBufferCopy(c, out, (size_t)len);
out:
  free(out);
  bytes_done(c, &ikm);
  bytes_done(c, &salt);
  bytes_done(c, &info);
  return result;
}

/* equal(a, b) -> whether the bytes are equal (constant time in where they
 * differ; lengths are not secret) */
static JSValue n_equal(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  Bytes a, b;
  if (bytes_of(c, argv[0], &a) < 0) {
    return JS_EXCEPTION;
  }
  if (bytes_of(c, argv[1], &b) < 0) {
    bytes_done(c, &a);
    return JS_EXCEPTION;
  }
  int32_t r = a.n != b.n ? 0 : a.n == 0 ? 1 : rusm_crypto_equal(a.p, b.p, (uint32_t)a.n);
  bytes_done(c, &a);
  bytes_done(c, &b);
  return r < 0 ? throw_code(c, "equal", r) : JS_NewBool(c, r == 1);
}

/* Keys held by the host (AES-GCM, Ed25519, ECDSA P-256): a JS object of
 * class "RusmKey" whose finalizer drops the handle, so a key the app
 * forgets does not hold one of the process's 4096 handles. */
static JSClassID key_class;

static void key_finalizer(JSRuntime* rt, JSValue v) {
  int32_t h = (int32_t)(intptr_t)JS_GetOpaque(v, key_class);
  if (h > 0) {
    rusm_crypto_key_drop(h);
  }
}

static JSValue key_object(JSContext* c, int32_t handle) {
  JSRuntime* rt = JS_GetRuntime(c);
  if (key_class == 0) {
    JS_NewClassID(&key_class);
  }
  if (!JS_IsRegisteredClass(rt, key_class)) {
    JSClassDef def = {"RusmKey", key_finalizer, NULL, NULL, NULL};
    if (JS_NewClass(rt, key_class, &def) < 0) {
      rusm_crypto_key_drop(handle);
      return JS_EXCEPTION;
    }
  }
  JSValue obj = JS_NewObjectClass(c, (int)key_class);
  if (JS_IsException(obj)) {
    rusm_crypto_key_drop(handle);
    return obj;
  }
  JS_SetOpaque(obj, (void*)(intptr_t)handle);
  return obj;
}

static int key_handle(JSContext* c, JSValueConst v, int32_t* out) {
  *out = key_class ? (int32_t)(intptr_t)JS_GetOpaque(v, key_class) : 0;
  if (*out <= 0) {
    JS_ThrowTypeError(c, "crypto: not a key of this process");
    return -1;
  }
  return 0;
}

/* keyGenerate(kind, exportable) -> key */
static JSValue n_key_generate(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t kind;
  if (JS_ToInt32(c, &kind, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_crypto_key_generate(kind, JS_ToBool(c, argv[1]) ? RUSM_KEY_EXPORTABLE : 0);
  return r < 0 ? throw_code(c, "generateKey", r) : key_object(c, r);
}

/* keyImport(kind, exportable, bytes) -> key */
static JSValue n_key_import(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t kind;
  Bytes b;
  if (JS_ToInt32(c, &kind, argv[0]) < 0 || bytes_of(c, argv[2], &b) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_crypto_key_import(kind, JS_ToBool(c, argv[1]) ? RUSM_KEY_EXPORTABLE : 0, b.p,
                                     (uint32_t)b.n);
  bytes_done(c, &b);
  return r < 0 ? throw_code(c, "importKey", r) : key_object(c, r);
}

/* keyExport(key) / keyPublic(key) -> ArrayBuffer */
static JSValue key_bytes(JSContext* c, JSValueConst v, bool public_part) {
  int32_t h;
  if (key_handle(c, v, &h) < 0) {
    return JS_EXCEPTION;
  }
  uint8_t out[512];
  int32_t r = public_part ? rusm_crypto_key_public(h, out, sizeof out)
                          : rusm_crypto_key_export(h, out, sizeof out);
  return r < 0 ? throw_code(c, "exportKey", r) : JS_NewArrayBufferCopy(c, out, (size_t)r);
}

static JSValue n_key_export(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return key_bytes(c, argv[0], false);
}

static JSValue n_key_public(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return key_bytes(c, argv[0], true);
}

/* seal(key, nonce, aad, data) / open(key, nonce, aad, data) -> ArrayBuffer;
 * open of data that does not authenticate: null */
static JSValue aead(JSContext* c, JSValueConst* argv, bool sealing) {
  int32_t h;
  Bytes nonce = {0}, aad = {0}, data = {0};
  JSValue result = JS_EXCEPTION;
  uint8_t* out = NULL;
  if (key_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &nonce) < 0 ||
      bytes_of(c, argv[2], &aad) < 0 || bytes_of(c, argv[3], &data) < 0) {
    goto out;
  }
  size_t cap = data.n + 16;
  out = malloc(cap ? cap : 1);
  if (!out) {
    result = JS_ThrowOutOfMemory(c);
    goto out;
  }
  int32_t r = sealing ? rusm_crypto_seal(h, nonce.p, (uint32_t)nonce.n, aad.p, (uint32_t)aad.n,
                                         data.p, (uint32_t)data.n, out, (uint32_t)cap)
                      : rusm_crypto_open(h, nonce.p, (uint32_t)nonce.n, aad.p, (uint32_t)aad.n,
                                         data.p, (uint32_t)data.n, out, (uint32_t)cap);
  if (r == RUSM_EAUTH && !sealing) {
    result = JS_NULL;
  } else if (r < 0) {
    result = throw_code(c, sealing ? "encrypt" : "decrypt", r);
  } else {
    result = JS_NewArrayBufferCopy(c, out, (size_t)r);
  }
out:
  free(out);
  bytes_done(c, &nonce);
  bytes_done(c, &aad);
  bytes_done(c, &data);
  return result;
}

static JSValue n_seal(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return aead(c, argv, true);
}

static JSValue n_open(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return aead(c, argv, false);
}

/* sign(key, data) -> ArrayBuffer (64 bytes) */
static JSValue n_sign(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t h;
  Bytes data;
  if (key_handle(c, argv[0], &h) < 0 || bytes_of(c, argv[1], &data) < 0) {
    return JS_EXCEPTION;
  }
  uint8_t out[128];
  int32_t r = rusm_crypto_sign(h, data.p, (uint32_t)data.n, out, sizeof out);
  bytes_done(c, &data);
  return r < 0 ? throw_code(c, "sign", r) : JS_NewArrayBufferCopy(c, out, (size_t)r);
}

/* verify(kind, publicKey, data, signature) -> bool */
static JSValue n_verify(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t kind;
  Bytes pub = {0}, data = {0}, sig = {0};
  JSValue result = JS_EXCEPTION;
  if (JS_ToInt32(c, &kind, argv[0]) < 0 || bytes_of(c, argv[1], &pub) < 0 ||
      bytes_of(c, argv[2], &data) < 0 || bytes_of(c, argv[3], &sig) < 0) {
    goto out;
  }
  int32_t r = rusm_crypto_verify(kind, pub.p, (uint32_t)pub.n, data.p, (uint32_t)data.n, sig.p,
                                 (uint32_t)sig.n);
  if (r == RUSM_EAUTH) {
    result = JS_FALSE;
  } else if (r < 0) {
    result = throw_code(c, "verify", r);
  } else {
    result = JS_TRUE;
  }
out:
  bytes_done(c, &pub);
  bytes_done(c, &data);
  bytes_done(c, &sig);
  return result;
}

/* loadPlatform(part) -> the factory function of platform.js (0) or
 * crypto.js (1): compiled and evaluated here, on a process's first use of
 * what it defines (prelude.js's part()), not at every spawn. The source is
 * written out of code (embed_prelude.cmake, CODE) into a buffer that lives
 * only while it is compiled. */
static JSValue n_load_platform(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t part;
  if (JS_ToInt32(c, &part, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  size_t size = part == 0 ? kPlatformJs_size : kCryptoJs_size;
  char* src = aligned_alloc(8, size + 8);
  if (!src) {
    return JS_ThrowOutOfMemory(c);
  }
  if (part == 0) {
    kPlatformJs_write(src);
  } else {
    kCryptoJs_write(src);
  }
  src[size] = 0;
  JSValue f = JS_Eval(c, src, size, part == 0 ? "<rusm platform>" : "<rusm crypto>",
                      JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
  free(src);
  return f;
}

const JSCFunctionListEntry kPlatformNative[] = {
    JS_CFUNC_DEF("loadPlatform", 1, n_load_platform),
    JS_CFUNC_DEF("kvOpen", 1, n_kv_open),
    JS_CFUNC_DEF("kvClose", 1, n_kv_close),
    JS_CFUNC_DEF("kvGet", 2, n_kv_get),
    JS_CFUNC_DEF("kvPut", 3, n_kv_put),
    JS_CFUNC_DEF("kvDelete", 2, n_kv_delete),
    JS_CFUNC_DEF("kvCas", 4, n_kv_cas),
    JS_CFUNC_DEF("kvIncr", 3, n_kv_incr),
    JS_CFUNC_DEF("kvList", 4, n_kv_list),
    JS_CFUNC_DEF("kvBatch", 2, n_kv_batch),
    JS_CFUNC_DEF("subscribe", 1, n_subscribe),
    JS_CFUNC_DEF("unsubscribe", 1, n_unsubscribe),
    JS_CFUNC_DEF("publish", 3, n_publish),
    JS_CFUNC_DEF("supStart", 4, n_sup_start),
    JS_CFUNC_DEF("supStartChild", 4, n_sup_start_child),
    JS_CFUNC_DEF("supWhichChildren", 2, n_sup_which_children),
    JS_CFUNC_DEF("supTerminateChild", 3, n_sup_terminate_child),
    JS_CFUNC_DEF("hmac", 3, n_hmac),
    JS_CFUNC_DEF("hkdf", 5, n_hkdf),
    JS_CFUNC_DEF("equal", 2, n_equal),
    JS_CFUNC_DEF("keyGenerate", 2, n_key_generate),
    JS_CFUNC_DEF("keyImport", 3, n_key_import),
    JS_CFUNC_DEF("keyExport", 1, n_key_export),
    JS_CFUNC_DEF("keyPublic", 1, n_key_public),
    JS_CFUNC_DEF("seal", 4, n_seal),
    JS_CFUNC_DEF("open", 4, n_open),
    JS_CFUNC_DEF("sign", 2, n_sign),
    JS_CFUNC_DEF("verify", 4, n_verify),
};
const int kPlatformNativeCount = sizeof kPlatformNative / sizeof kPlatformNative[0];
