/* rusm_js.c: a JavaScript process = one QuickJS runtime and context inside
 * one Wasm process (docs/js.md). Built with QuickJS into rusm-js.wasm
 * (cmake/RusmQuickJS.cmake), a reactor exporting two entries:
 *
 *   js_main     the main process of `rusm run app.js`: evaluates the app,
 *               then calls its exported main(...argv) if there is one.
 *   js_spawned  a process started by rusm.spawn(fn, args): evaluates the
 *               same app, then calls its exported function fn(...args).
 *   js_supervised  a supervisor's child (rusm.supervisor.start): as
 *               js_spawned, but its boot message comes from the boot server
 *               it names (platform.c, "Supervisors"), not from its parent.
 *
 * Boot. Both entries first wait for a boot message (tag kBootTag) from their
 * parent (from the host, pid 0, for the main process), ignoring one from
 * anyone else: it carries the script's name and source, and for a child the
 * function's name and its arguments as JSON. The parent sends it right after
 * spawning; a child whose parent dies first gives up. Keeping the script in
 * the message keeps the host unaware of JavaScript: a JS child is a plain
 * `spawn` of this module's js_spawned, and the rusm binary only sends the
 * main process its script.
 *
 * Layout of the boot message (little-endian u32s):
 *   u32 version; u32 name_len; u32 code_len; name; code;
 *   u32 fn_len; fn; u32 args_len; args (JSON array text)
 * Version 1: code is the source (what `rusm run` sends the main process);
 * version 2: code is the module's QuickJS bytecode, followed by u32
 * prelude_len and prelude.js's bytecode, which a process that compiled them
 * hands its children so that they skip the parser (most of a spawn's work).
 *
 * Messages. A JS tag is a string or an integer in [0, 2^53). An integer is
 * the rusm tag itself and the payload the data's bytes, so JS processes and
 * C processes talk directly. A string tag is hashed into the range
 * kStringTagBase..+2^56 (FNV-1a, 56 bits), so that selective receive by a
 * string tag is the host's selective receive; its payload is an envelope:
 * u16 tag length, the tag's UTF-8, then the data. Reserved names "EXIT" and
 * "DOWN" select the host's EXIT and DOWN messages, and those in kNamedTags
 * (node events, a ws route's frames, a late spawnOn answer) theirs; EXIT,
 * DOWN, NODE_UP and NODE_DOWN are decoded into objects.
 *
 * Blocking calls (receive, sleep) block the Wasm process in the host: the
 * interpreter keeps QuickJS's C stack in linear memory, so a JS function can
 * simply wait, and an endless loop is preempted by fuel like any guest.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <wasi/api.h>

#include "platform.h"
#include "quickjs.h"
#include "rusm.h"
#include "rusm_prelude.h" /* kPrelude, generated from prelude.js */

#define STRING_TAG_BASE 0x7F00000000000000ull
#define STRING_TAG_MASK 0x00FFFFFFFFFFFFFFull
#define MAX_SAFE 9007199254740991.0 /* 2^53 - 1 */
/* QuickJS's own recursion bound, within the 512 KiB C stack the module is
 * linked with and the host's limits on Wasm frames. */
#define JS_STACK_BYTES (192 * 1024)

static JSRuntime* rt;
static JSContext* ctx;
JSValue app_ns; /* the app's module namespace, once evaluated */
bool have_ns;
static bool is_main;
static bool initializing; /* a child evaluating the app's top level */
char* script_name;
static const char* script_source;
static uint32_t script_len;
static bool script_is_bytecode; /* boot version 2 */
/* prelude.js compiled: written by a process that parsed it, read by its
 * children (boot version 2) instead of parsing it again. */
static const uint8_t* prelude_code;
static uint32_t prelude_len;
/* The start of a child's boot message: version, name_len, code_len, name,
 * code; the app's bytecode once it is compiled (else its source). */
uint8_t* boot_prefix;
uint32_t boot_prefix_len;
/* Who sends this process its boot message: its parent, or for a
 * supervisor's child the boot server that js_supervised asked. */
static rusm_pid boot_sender;
static JSValue native_object; /* the native calls, kept for prelude.js's runTimer */
static JSValue unhandled_rejection;
static bool have_unhandled;

/* QuickJS seeds Math.random from gettimeofday when a context is created;
 * the default sandbox has no clock, and asking would name the capability
 * as refused on every start. So the seed comes from the pid instead, and
 * only Date and friends read the clock (which needs --allow clock). This
 * definition replaces wasi-libc's. */
static bool seeding;

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  if (seeding) {
    uint64_t x = rusm_self() * 0x9E3779B97F4A7C15ull;
    tv->tv_sec = (time_t)((x >> 24) & 0xFFFFFFFFFFull);
    tv->tv_usec = (suseconds_t)(x % 1000000);
    return 0;
  }
  __wasi_timestamp_t ns = 0;
  if (__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1000, &ns) != 0) {
    tv->tv_sec = 0;
    tv->tv_usec = 0;
    return -1;
  }
  tv->tv_sec = (time_t)(ns / 1000000000u);
  tv->tv_usec = (suseconds_t)((ns % 1000000000u) / 1000);
  return 0;
}

/* ---- small helpers */

static uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void put_u32(uint8_t* p, uint32_t v) {
  memcpy(p, &v, 4);
}

static void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) {
      return; /* no stdio: the text goes nowhere */
    }
    s += w;
    n -= (size_t)w;
  }
}

__attribute__((noreturn)) static void die(const char* detail) {
  __rusm_exit(RUSM_EXIT_ERROR, detail, (uint32_t)strlen(detail));
  __builtin_unreachable();
}

static const char* error_name(int32_t code) {
  switch (code) {
    case RUSM_ETIMEOUT:
      return "ETIMEOUT";
    case RUSM_ENOPROC:
      return "ENOPROC";
    case RUSM_EBADARG:
      return "EBADARG";
    case RUSM_EDENIED:
      return "EDENIED";
    case RUSM_ENOTFOUND:
      return "ENOTFOUND";
    case RUSM_EEXISTS:
      return "EEXISTS";
    case RUSM_EFULL:
      return "EFULL";
    case RUSM_ENOMSG:
      return "ENOMSG";
    case RUSM_ELIMIT:
      return "ELIMIT";
    case RUSM_ENOTSUP:
      return "ENOTSUP";
    case RUSM_ECLOSED:
      return "ECLOSED";
    case RUSM_ETOOLARGE:
      return "ETOOLARGE";
    case RUSM_EBADSTATE:
      return "EBADSTATE";
    case RUSM_ENOTCONN:
      return "ENOTCONN";
    case RUSM_EAUTH:
      return "EAUTH";
    case RUSM_ECONFLICT:
      return "ECONFLICT";
    case RUSM_EIO:
      return "EIO";
    default:
      return "error";
  }
}

/* Throws an Error for a failed host call; its `code` is the rusm error name. */
JSValue throw_code(JSContext* c, const char* what, int32_t code) {
  const char* hint =
      code == RUSM_EDENIED ? " (the process lacks the capability: see docs/js.md)" : "";
  JSValue err = JS_NewError(c);
  char msg[256];
  snprintf(msg, sizeof msg, "rusm.%s: %s%s", what, error_name(code), hint);
  JS_SetPropertyStr(c, err, "message", JS_NewString(c, msg));
  JS_SetPropertyStr(c, err, "code", JS_NewString(c, error_name(code)));
  return JS_Throw(c, err);
}

JSValue pid_value(JSContext* c, uint64_t pid) {
  return JS_NewFloat64(c, (double)pid);
}

/* A pid argument: a number (an integer > 0). */
int to_pid(JSContext* c, JSValueConst v, const char* what, rusm_pid* out) {
  double d;
  if (!JS_IsNumber(v) || JS_ToFloat64(c, &d, v) < 0 || !(d >= 1 && d <= MAX_SAFE) ||
      d != (double)(uint64_t)d) {
    JS_ThrowTypeError(c, "rusm.%s: a pid (a positive integer) expected", what);
    return -1;
  }
  *out = (uint64_t)d;
  return 0;
}

/* A node id argument: an integer in [0, 2^32); the host refuses ids over
 * 65535 (EBADARG), as it does for a C guest. */
static int to_node(JSContext* c, JSValueConst v, const char* what, uint32_t* out) {
  double d;
  if (!JS_IsNumber(v) || JS_ToFloat64(c, &d, v) < 0 || !(d >= 0 && d <= 4294967295.0) ||
      d != (double)(uint32_t)d) {
    JS_ThrowTypeError(c, "rusm.%s: a node id (an integer) expected", what);
    return -1;
  }
  *out = (uint32_t)d;
  return 0;
}

int64_t ms_to_ns(double ms) {
  if (!(ms >= 0)) {
    return -1;
  }
  if (ms > 9.2e12) {
    return -1; /* longer than the host can count: never */
  }
  return (int64_t)(ms * 1e6);
}

static uint64_t fnv56(const char* s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t)s[i];
    h *= 0x100000001b3ull;
  }
  return STRING_TAG_BASE | (h & STRING_TAG_MASK);
}

/* A tag argument: an integer in [0, 2^53) or a string; *str set for a string
 * (free with JS_FreeCString). `receiving` allows "EXIT" and "DOWN". */
/* The host's messages a JS process knows by name (besides EXIT and DOWN,
 * which are decoded): receive selects them by that name and shows it as
 * the tag; send refuses it. */
static const struct {
  const char* name;
  uint64_t tag;
} kNamedTags[] = {{"NODE_UP", RUSM_TAG_NODE_UP},   {"NODE_DOWN", RUSM_TAG_NODE_DOWN},
                  {"WS_TEXT", RUSM_TAG_WS_TEXT},   {"WS_BINARY", RUSM_TAG_WS_BINARY},
                  {"WS_CLOSE", RUSM_TAG_WS_CLOSE}, {"SPAWN_REPLY", RUSM_TAG_SPAWN_REPLY}};

static int to_tag(JSContext* c, JSValueConst v, bool receiving, uint64_t* tag, const char** str,
                  size_t* str_len) {
  *str = NULL;
  if (JS_IsString(v)) {
    size_t n;
    const char* s = JS_ToCStringLen(c, &n, v);
    if (!s) {
      return -1;
    }
    for (size_t i = 0; i < sizeof kNamedTags / sizeof kNamedTags[0]; i++) {
      if (strcmp(s, kNamedTags[i].name) == 0) {
        JS_FreeCString(c, s);
        if (!receiving) {
          JS_ThrowTypeError(c, "rusm.send: the tag '%s' is reserved", kNamedTags[i].name);
          return -1;
        }
        *tag = kNamedTags[i].tag;
        return 0;
      }
    }
    if (strcmp(s, "EXIT") == 0 || strcmp(s, "DOWN") == 0) {
      bool exit = s[0] == 'E';
      JS_FreeCString(c, s);
      if (!receiving) {
        JS_ThrowTypeError(c, "rusm.send: the tag '%s' is reserved", exit ? "EXIT" : "DOWN");
        return -1;
      }
      *tag = exit ? RUSM_TAG_EXIT : RUSM_TAG_DOWN;
      return 0;
    }
    if (n > 0xFFFF) {
      JS_FreeCString(c, s);
      JS_ThrowRangeError(c, "rusm: a string tag is at most 65535 bytes");
      return -1;
    }
    *tag = fnv56(s, n);
    *str = s;
    *str_len = n;
    return 0;
  }
  double d;
  if (JS_IsNumber(v) && JS_ToFloat64(c, &d, v) == 0 && d >= 0 && d <= MAX_SAFE &&
      d == (double)(uint64_t)d) {
    *tag = (uint64_t)d;
    return 0;
  }
  JS_ThrowTypeError(c, "rusm: a tag is a string or an integer in [0, 2^53)");
  return -1;
}

/* The bytes of a string, ArrayBuffer or typed array (a string's are copied
 * and must be freed with JS_FreeCString: *cstr says so). */
int to_bytes(JSContext* c, JSValueConst v, const uint8_t** p, size_t* n, const char** cstr,
             JSValue* hold) {
  *cstr = NULL;
  *hold = JS_UNDEFINED;
  if (JS_IsString(v)) {
    const char* s = JS_ToCStringLen(c, n, v);
    if (!s) {
      return -1;
    }
    *cstr = s;
    *p = (const uint8_t*)s;
    return 0;
  }
  size_t size;
  uint8_t* b = JS_GetArrayBuffer(c, &size, v);
  if (b) {
    *p = b;
    *n = size;
    return 0;
  }
  JS_FreeValue(c, JS_GetException(c)); /* not an ArrayBuffer: try a view */
  size_t off, len, bpe;
  JSValue buf = JS_GetTypedArrayBuffer(c, v, &off, &len, &bpe);
  if (JS_IsException(buf)) {
    JS_FreeValue(c, JS_GetException(c));
    JS_ThrowTypeError(c, "rusm: data must be a string, an ArrayBuffer or a typed array");
    return -1;
  }
  b = JS_GetArrayBuffer(c, &size, buf);
  if (!b || off + len > size) {
    JS_FreeValue(c, buf);
    JS_ThrowTypeError(c, "rusm: detached buffer");
    return -1;
  }
  *p = b + off;
  *n = len;
  *hold = buf;
  return 0;
}

void free_bytes(JSContext* c, const char* cstr, JSValue hold) {
  if (cstr) {
    JS_FreeCString(c, cstr);
  }
  JS_FreeValue(c, hold);
}

/* The message for a tag and data: the envelope for a string tag. Returns a
 * malloc'd buffer (or NULL for none needed: then *out points at data). */
static uint8_t* frame(const char* tag_str, size_t tag_len, const uint8_t* data, size_t n,
                      const uint8_t** out, size_t* out_len) {
  if (!tag_str) {
    *out = data;
    *out_len = n;
    return NULL;
  }
  uint8_t* m = malloc(2 + tag_len + n);
  if (!m) {
    return NULL;
  }
  m[0] = (uint8_t)(tag_len & 0xFF);
  m[1] = (uint8_t)(tag_len >> 8);
  memcpy(m + 2, tag_str, tag_len);
  memcpy(m + 2 + tag_len, data, n);
  *out = m;
  *out_len = 2 + tag_len + n;
  return m;
}

JSValue check_not_initializing(JSContext* c, const char* what) {
  if (initializing) {
    return JS_ThrowInternalError(
        c,
        "rusm.%s during the module's top level in a spawned process: every process "
        "evaluates the whole script, so put the main program in `export function main()` or "
        "guard it with `if (rusm.isMain)`",
        what);
  }
  return JS_UNDEFINED;
}

#define GUARD(what)                               \
  do {                                            \
    JSValue g_ = check_not_initializing(c, what); \
    if (JS_IsException(g_)) {                     \
      return g_;                                  \
    }                                             \
  } while (0)

/* ---- the native calls (prelude.js shapes them into `rusm`) */

static JSValue n_self(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return pid_value(c, rusm_self());
}

static JSValue n_parent(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  rusm_pid p = rusm_parent();
  return p ? pid_value(c, p) : JS_NULL;
}

void outgoing_done(JSContext* c, Outgoing* o) {
  free(o->owned);
  if (o->tag_str) {
    JS_FreeCString(c, o->tag_str);
  }
  free_bytes(c, o->cstr, o->hold);
}

/* 0, or -1 with an exception pending (nothing to free then). */
int outgoing(JSContext* c, JSValueConst tag_v, JSValueConst data_v, Outgoing* o) {
  size_t tag_len = 0;
  o->owned = NULL;
  if (to_tag(c, tag_v, false, &o->tag, &o->tag_str, &tag_len) < 0) {
    return -1;
  }
  const uint8_t* data;
  size_t n;
  if (to_bytes(c, data_v, &data, &n, &o->cstr, &o->hold) < 0) {
    if (o->tag_str) {
      JS_FreeCString(c, o->tag_str);
    }
    return -1;
  }
  o->owned = frame(o->tag_str, tag_len, data, n, &o->msg, &o->len);
  if (o->tag_str && !o->owned) {
    outgoing_done(c, o);
    JS_ThrowOutOfMemory(c);
    return -1;
  }
  return 0;
}

/* send(to: pid|name|{name, node}, tag, data: string|ArrayBuffer|view) -> true, or false
 * if the receiver's mailbox was full (the message was dropped). */
static JSValue n_send(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("send");
  Outgoing o;
  if (outgoing(c, argv[1], argv[2], &o) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r;
  const char* name = NULL;
  if (JS_IsString(argv[0])) {
    size_t name_len;
    name = JS_ToCStringLen(c, &name_len, argv[0]);
    r = name ? __rusm_send_name(name, (uint32_t)name_len, o.tag, o.msg, (uint32_t)o.len)
             : RUSM_EBADARG;
  } else if (JS_IsObject(argv[0])) {
    /* {name, node}: the process registered as name on that node
     * (send_named; Erlang's {Name, Node} ! Msg). */
    JSValue name_v = JS_GetPropertyStr(c, argv[0], "name");
    JSValue node_v = JS_GetPropertyStr(c, argv[0], "node");
    uint32_t node;
    size_t name_len;
    if (!JS_IsString(name_v)) {
      JS_ThrowTypeError(c, "rusm.send: to is a pid, a name, or {name, node}");
      r = 1;
    } else if (to_node(c, node_v, "send", &node) < 0) {
      r = 1;
    } else {
      name = JS_ToCStringLen(c, &name_len, name_v);
      r = name ? __rusm_send_named(node, name, (uint32_t)name_len, o.tag, o.msg, (uint32_t)o.len)
               : 1;
    }
    JS_FreeValue(c, name_v);
    JS_FreeValue(c, node_v);
  } else {
    rusm_pid to;
    r = to_pid(c, argv[0], "send", &to) < 0 ? 1 : rusm_send(to, o.tag, o.msg, (uint32_t)o.len);
  }
  if (name)
    JS_FreeCString(c, name);
  outgoing_done(c, &o);
  if (r == 1) {
    return JS_EXCEPTION;
  }
  if (r == RUSM_EFULL) {
    return JS_FALSE;
  }
  if (r < 0) {
    return throw_code(c, "send", r);
  }
  return JS_TRUE;
}

static const char* reason_name(uint32_t kind) {
  switch (kind) {
    case RUSM_NORMAL:
      return "normal";
    case RUSM_SHUTDOWN:
      return "shutdown";
    case RUSM_KILLED:
      return "killed";
    case RUSM_NOPROC:
      return "noproc";
    case RUSM_ERROR:
      return "error";
    case RUSM_NOCONNECTION:
      return "noconnection";
    default:
      return "unknown";
  }
}

/* An EXIT or DOWN payload as {tag, from, [ref,] reason, detail}. */
static JSValue signal_message(JSContext* c, const char* tag, const uint8_t* p, int32_t n,
                              uint64_t header_from, uint64_t header_ref) {
  JSValue m = JS_NewObject(c);
  JS_SetPropertyStr(c, m, "tag", JS_NewString(c, tag));
  bool down = tag[0] == 'D';
  uint32_t fixed = down ? 24 : 16;
  uint64_t from = header_from, ref = header_ref;
  uint32_t kind = RUSM_ERROR, dlen = 0;
  if ((uint32_t)n >= fixed) {
    if (down) {
      memcpy(&ref, p, 8);
      memcpy(&from, p + 8, 8);
    } else {
      memcpy(&from, p, 8);
    }
    kind = get_u32(p + fixed - 8);
    dlen = get_u32(p + fixed - 4);
    if (dlen > (uint32_t)n - fixed) {
      dlen = (uint32_t)n - fixed;
    }
  }
  JS_SetPropertyStr(c, m, "from", pid_value(c, from));
  if (down) {
    JS_SetPropertyStr(c, m, "ref", JS_NewFloat64(c, (double)ref));
  }
  JS_SetPropertyStr(c, m, "reason", JS_NewString(c, reason_name(kind)));
  JS_SetPropertyStr(c, m, "detail",
                    JS_NewStringLen(c, (const char*)p + ((uint32_t)n >= fixed ? fixed : 0), dlen));
  return m;
}

/* A NODE_UP or NODE_DOWN payload (u16 node, little-endian; the header's ref
 * is the node too) as {tag, from: null, node}, shaped like EXIT and DOWN. */
static JSValue node_message(JSContext* c, const char* tag, const uint8_t* p, int32_t n,
                            uint64_t header_ref) {
  uint32_t node = n >= 2 ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) : (uint32_t)header_ref;
  JSValue m = JS_NewObject(c);
  JS_SetPropertyStr(c, m, "tag", JS_NewString(c, tag));
  JS_SetPropertyStr(c, m, "from", JS_NULL);
  JS_SetPropertyStr(c, m, "node", JS_NewInt32(c, (int32_t)node));
  return m;
}

/* receive(tag?, timeout_ms?) -> {tag, from, data: ArrayBuffer} | EXIT/DOWN |
 * NODE_UP/NODE_DOWN | null */
static JSValue n_receive(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("receive");
  uint64_t tag = 0;
  int32_t use_tag = 0;
  if (!JS_IsUndefined(argv[0]) && !JS_IsNull(argv[0])) {
    const char* s;
    size_t sl;
    if (to_tag(c, argv[0], true, &tag, &s, &sl) < 0) {
      return JS_EXCEPTION;
    }
    if (s)
      JS_FreeCString(c, s);
    use_tag = 1;
  }
  int64_t timeout_ns = -1;
  if (!JS_IsUndefined(argv[1]) && !JS_IsNull(argv[1])) {
    double ms;
    if (JS_ToFloat64(c, &ms, argv[1]) < 0) {
      return JS_EXCEPTION;
    }
    timeout_ns = ms_to_ns(ms);
  }
  static uint8_t small[512];
  rusm_msg h;
  int32_t n = __rusm_receive(tag, use_tag, timeout_ns, &h, small, sizeof small);
  if (n == RUSM_ETIMEOUT) {
    return JS_NULL;
  }
  if (n < 0) {
    return throw_code(c, "receive", n);
  }
  uint8_t* p = small;
  uint8_t* big = NULL;
  if ((uint32_t)n > sizeof small) {
    big = malloc((size_t)n);
    if (!big) {
      return JS_ThrowOutOfMemory(c);
    }
    memcpy(big, small, sizeof small);
    int32_t r = rusm_message_read(sizeof small, big + sizeof small, (uint32_t)n - sizeof small);
    if (r < 0) {
      free(big);
      return throw_code(c, "receive", r);
    }
    p = big;
  }
  JSValue m;
  if (h.tag == RUSM_TAG_EXIT) {
    m = signal_message(c, "EXIT", p, n, h.from, h.ref);
  } else if (h.tag == RUSM_TAG_DOWN) {
    m = signal_message(c, "DOWN", p, n, h.from, h.ref);
  } else if (h.tag == RUSM_TAG_NODE_DOWN || h.tag == RUSM_TAG_NODE_UP) {
    m = node_message(c, h.tag == RUSM_TAG_NODE_DOWN ? "NODE_DOWN" : "NODE_UP", p, n, h.ref);
  } else {
    m = JS_NewObject(c);
    uint32_t skip = 0;
    JSValue tag_value = JS_UNDEFINED;
    if ((h.tag & ~STRING_TAG_MASK) == STRING_TAG_BASE && n >= 2) {
      uint32_t tl = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
      if (2 + tl <= (uint32_t)n && fnv56((const char*)p + 2, tl) == h.tag) {
        tag_value = JS_NewStringLen(c, (const char*)p + 2, tl);
        skip = 2 + tl;
      }
    }
    for (size_t i = 0; JS_IsUndefined(tag_value) && i < sizeof kNamedTags / sizeof kNamedTags[0];
         i++) {
      if (h.tag == kNamedTags[i].tag) {
        tag_value = JS_NewString(c, kNamedTags[i].name);
      }
    }
    if (JS_IsUndefined(tag_value)) {
      tag_value = JS_NewFloat64(c, (double)h.tag);
    }
    JS_SetPropertyStr(c, m, "tag", tag_value);
    JS_SetPropertyStr(c, m, "from", h.from ? pid_value(c, h.from) : JS_NULL);
    JS_SetPropertyStr(c, m, "data", JS_NewArrayBufferCopy(c, p + skip, (size_t)n - skip));
  }
  free(big);
  return m;
}

/* spawn(fn, args_json, flags, stdio, label) -> {pid, ref} */
static JSValue n_spawn(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("spawn");
  size_t fn_len, args_len, label_len;
  const char* fn = JS_ToCStringLen(c, &fn_len, argv[0]);
  if (!fn) {
    return JS_EXCEPTION;
  }
  if (have_ns) {
    JSValue f = JS_GetPropertyStr(c, app_ns, fn);
    bool ok = JS_IsFunction(c, f);
    JS_FreeValue(c, f);
    if (!ok) {
      JSValue e = JS_ThrowTypeError(c, "rusm.spawn: %s exports no function '%s'", script_name, fn);
      JS_FreeCString(c, fn);
      return e;
    }
  }
  const char* args = JS_ToCStringLen(c, &args_len, argv[1]);
  const char* label = JS_ToCStringLen(c, &label_len, argv[4]);
  int32_t flags = 0;
  JS_ToInt32(c, &flags, argv[2]);
  bool stdio = JS_ToBool(c, argv[3]);
  JSValue result = JS_EXCEPTION;
  uint8_t* boot = NULL;
  if (!args || !label) {
    goto out;
  }
  rusm_spawn_opts o = {0};
  o.flags = (uint32_t)flags & (RUSM_SPAWN_LINK | RUSM_SPAWN_MONITOR | RUSM_SPAWN_TRAP_EXIT);
  /* Every capability this process holds, stdio included (a JS child's
   * console works like its parent's) unless asked otherwise. */
  o.flags |= RUSM_SPAWN_CAPS;
  o.caps = stdio ? 0xFFFFFFFFu : ~(uint32_t)RUSM_CAP_STDIO;
  o.label = label;
  o.label_len = (uint32_t)label_len;
  /* From the app's template (the call only), or booted from the script. */
  rusm_pid tmpl = ensure_template(o.caps);
  if (tmpl == 0 && boot_prefix == NULL) {
    result = JS_ThrowInternalError(c, "rusm.spawn: no template and no script to hand the child");
    goto out;
  }
  uint32_t prefix_len = tmpl != 0 ? 4 : boot_prefix_len;
  size_t len = prefix_len + 4 + fn_len + 4 + args_len;
  boot = malloc(len);
  if (!boot) {
    result = JS_ThrowOutOfMemory(c);
    goto out;
  }
  if (tmpl != 0) {
    put_u32(boot, 3);
  } else {
    memcpy(boot, boot_prefix, boot_prefix_len);
  }
  uint8_t* q = boot + prefix_len;
  put_u32(q, (uint32_t)fn_len);
  memcpy(q + 4, fn, fn_len);
  q += 4 + fn_len;
  put_u32(q, (uint32_t)args_len);
  memcpy(q + 4, args, args_len);
  rusm_spawned s = {0, 0};
  int32_t r;
  if (tmpl != 0) {
    static const char kEntry[] = "js_from_template";
    r = __rusm_spawn_from(tmpl, kEntry, sizeof kEntry - 1, NULL, 0, &o, &s);
  } else {
    static const char kEntry[] = "js_spawned";
    r = __rusm_spawn(kEntry, sizeof kEntry - 1, NULL, 0, &o, &s);
  }
  if (r < 0) {
    result = throw_code(c, "spawn", r);
    goto out;
  }
  r = rusm_send(s.pid, BOOT_TAG, boot, (uint32_t)len);
  if (r < 0) {
    /* The child waits for its script in vain and gives up (see boot()). */
    result = throw_code(c, "spawn (sending the script)", r);
    goto out;
  }
  result = JS_NewObject(c);
  JS_SetPropertyStr(c, result, "pid", pid_value(c, s.pid));
  JS_SetPropertyStr(c, result, "ref", JS_NewFloat64(c, (double)s.monitor));
out:
  free(boot);
  JS_FreeCString(c, fn);
  if (args)
    JS_FreeCString(c, args);
  if (label)
    JS_FreeCString(c, label);
  return result;
}

static JSValue pid_call(JSContext* c, JSValueConst v, const char* what, int32_t (*call)(rusm_pid)) {
  rusm_pid p;
  if (to_pid(c, v, what, &p) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r = call(p);
  return r < 0 ? throw_code(c, what, r) : JS_UNDEFINED;
}

static JSValue n_link(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("link");
  return pid_call(c, argv[0], "link", rusm_link);
}

static JSValue n_unlink(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return pid_call(c, argv[0], "unlink", rusm_unlink);
}

static JSValue n_monitor(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("monitor");
  rusm_pid p;
  if (to_pid(c, argv[0], "monitor", &p) < 0) {
    return JS_EXCEPTION;
  }
  int64_t ref = rusm_monitor(p);
  return ref < 0 ? throw_code(c, "monitor", (int32_t)ref) : JS_NewFloat64(c, (double)ref);
}

static JSValue n_demonitor(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  double ref;
  if (JS_ToFloat64(c, &ref, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  return JS_NewBool(c, rusm_demonitor((uint64_t)ref, JS_ToBool(c, argv[1])) == 1);
}

static JSValue n_trap_exit(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return JS_NewBool(c, rusm_trap_exit(JS_ToBool(c, argv[0])) != 0);
}

/* A reason name and detail -> the ABI's exit kind (0 normal, 1 shutdown,
 * 2 error, 3 kill). */
static int32_t exit_kind(const char* reason) {
  if (strcmp(reason, "normal") == 0)
    return 0;
  if (strcmp(reason, "shutdown") == 0)
    return 1;
  if (strcmp(reason, "kill") == 0)
    return 3;
  return 2;
}

/* exit(reason, detail): "normal", "shutdown" (detail), anything else is an
 * error whose detail is the reason (and the detail, if any). */
static JSValue n_exit(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  const char* reason = JS_ToCString(c, argv[0]);
  const char* detail = JS_ToCString(c, argv[1]);
  if (!reason || !detail) {
    return JS_EXCEPTION;
  }
  int32_t kind = exit_kind(reason);
  char buf[1024];
  const char* d = detail;
  if (kind == 2 || kind == 3) {
    kind = 2;
    snprintf(buf, sizeof buf, "%s%s%s", reason, *detail ? ": " : "", detail);
    d = buf;
  }
  __rusm_exit(kind, d, (uint32_t)strlen(d));
  return JS_UNDEFINED;
}

static JSValue n_exit_pid(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("exitPid");
  rusm_pid p;
  if (to_pid(c, argv[0], "exitPid", &p) < 0) {
    return JS_EXCEPTION;
  }
  const char* reason = JS_ToCString(c, argv[1]);
  const char* detail = JS_ToCString(c, argv[2]);
  if (!reason || !detail) {
    return JS_EXCEPTION;
  }
  int32_t kind = exit_kind(reason);
  char buf[1024];
  const char* d = detail;
  if (kind == 2) {
    snprintf(buf, sizeof buf, "%s%s%s", reason, *detail ? ": " : "", detail);
    d = buf;
  }
  int32_t r = __rusm_exit_pid(p, kind, d, (uint32_t)strlen(d));
  JS_FreeCString(c, reason);
  JS_FreeCString(c, detail);
  return r < 0 ? throw_code(c, "exitPid", r) : JS_UNDEFINED;
}

static JSValue n_is_alive(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  rusm_pid p;
  if (to_pid(c, argv[0], "isAlive", &p) < 0) {
    return JS_EXCEPTION;
  }
  return JS_NewBool(c, rusm_is_alive(p) == 1);
}

static JSValue n_register(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("register");
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_register(s, (uint32_t)n);
  JS_FreeCString(c, s);
  return r < 0 ? throw_code(c, "register", r) : JS_UNDEFINED;
}

static JSValue n_unregister(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_unregister(s, (uint32_t)n);
  JS_FreeCString(c, s);
  if (r == RUSM_ENOTFOUND) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "unregister", r) : JS_TRUE;
}

static JSValue n_whereis(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int64_t r = __rusm_whereis(s, (uint32_t)n);
  JS_FreeCString(c, s);
  if (r < 0) {
    return throw_code(c, "whereis", (int32_t)r);
  }
  return r == 0 ? JS_NULL : pid_value(c, (uint64_t)r);
}

/* ---- the cluster (docs/js.md, "Cluster"; docs/cluster.md): spawn on
 * another node, global names, node monitoring. On a node that is in no
 * cluster these answer as the ABI does there (node 0, global names that
 * are this node's, spawnOn refused with EBADARG). */

/* A JS Number holds a pid exactly below 2^53: pids of nodes 0..31. Until
 * pids have another representation in JS (no BigInt here), a call that
 * would hand JS a pid of a node above 31 refuses instead of rounding it. */
#define MAX_EXACT_NODE 31
static JSValue throw_inexact_node(JSContext* c, const char* what, uint32_t node) {
  return JS_ThrowRangeError(c,
                            "rusm.%s: not supported yet: the pids of node %u exceed 2^53, where "
                            "JavaScript numbers stop being exact (give the nodes ids 1 to 31)",
                            what, node);
}

/* The arguments of a Wasm function: integers in [-2^53, 2^53] (a negative
 * one in two's complement, as an i32 or i64 parameter reads it). At most
 * MAX_SPAWN_ARGS, the ABI's bound. */
#define MAX_SPAWN_ARGS 64
static int to_wasm_args(JSContext* c, JSValueConst v, const char* what, uint64_t* args,
                        uint32_t* nargs) {
  *nargs = 0;
  if (JS_IsUndefined(v) || JS_IsNull(v)) {
    return 0;
  }
  if (!JS_IsArray(c, v)) {
    JS_ThrowTypeError(c, "rusm.%s: args must be an array of integers", what);
    return -1;
  }
  JSValue len_v = JS_GetPropertyStr(c, v, "length");
  uint32_t len = 0;
  int bad = JS_ToUint32(c, &len, len_v);
  JS_FreeValue(c, len_v);
  if (bad < 0) {
    return -1;
  }
  if (len > MAX_SPAWN_ARGS) {
    throw_code(c, what, RUSM_EBADARG);
    return -1;
  }
  for (uint32_t i = 0; i < len; i++) {
    JSValue e = JS_GetPropertyUint32(c, v, i);
    double d = 0;
    bool ok = JS_IsNumber(e) && JS_ToFloat64(c, &d, e) == 0 && d >= -MAX_SAFE - 1 &&
              d <= MAX_SAFE + 1 && d == (double)(int64_t)d;
    JS_FreeValue(c, e);
    if (!ok) {
      JS_ThrowTypeError(c, "rusm.%s: argument %u is not an integer", what, i);
      return -1;
    }
    args[i] = (uint64_t)(int64_t)d;
  }
  *nargs = len;
  return 0;
}

/* A property of spawnOn's options object (undefined if there is none). */
static JSValue option(JSContext* c, JSValueConst opts, const char* name) {
  return JS_IsObject(opts) ? JS_GetPropertyStr(c, opts, name) : JS_UNDEFINED;
}

static bool option_bool(JSContext* c, JSValueConst opts, const char* name, bool otherwise) {
  JSValue v = option(c, opts, name);
  bool b = JS_IsUndefined(v) ? otherwise : JS_ToBool(c, v);
  JS_FreeValue(c, v);
  return b;
}

/* spawnOn(node, module, fn, args?, {link, monitor, trapExit, stdio, label,
 * timeout}?) -> pid, or {pid, ref} with monitor: spawn_on, this process
 * waiting for the other node's answer (no timeout: until the answer or the
 * node going down). Shaped here rather than in prelude.js, whose text and
 * bytecode every JS process holds. */
static JSValue n_spawn_on(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("spawnOn");
  uint32_t node;
  uint64_t args[MAX_SPAWN_ARGS];
  uint32_t nargs;
  if (to_node(c, argv[0], "spawnOn", &node) < 0) {
    return JS_EXCEPTION;
  }
  if (!JS_IsString(argv[1]) || !JS_IsString(argv[2])) {
    return JS_ThrowTypeError(
        c, "rusm.spawnOn: a module's name and the name of its exported function expected");
  }
  if (to_wasm_args(c, argv[3], "spawnOn", args, &nargs) < 0) {
    return JS_EXCEPTION;
  }
  if (node > MAX_EXACT_NODE && node <= 0xFFFF) {
    return throw_inexact_node(c, "spawnOn", node);
  }
  JSValueConst opts = argv[4];
  bool monitor = option_bool(c, opts, "monitor", false);
  uint32_t flags = (option_bool(c, opts, "link", false) ? RUSM_SPAWN_LINK : 0) |
                   (monitor ? RUSM_SPAWN_MONITOR : 0) |
                   (option_bool(c, opts, "trapExit", false) ? RUSM_SPAWN_TRAP_EXIT : 0);
  bool stdio = option_bool(c, opts, "stdio", true);
  int64_t timeout_ns = -1;
  JSValue timeout_v = option(c, opts, "timeout");
  JSValue label_v = option(c, opts, "label");
  double ms = -1;
  bool bad =
      !JS_IsUndefined(timeout_v) && !JS_IsNull(timeout_v) && JS_ToFloat64(c, &ms, timeout_v) < 0;
  JS_FreeValue(c, timeout_v);
  if (bad) {
    JS_FreeValue(c, label_v);
    return JS_EXCEPTION;
  }
  if (ms >= 0) {
    timeout_ns = ms_to_ns(ms);
  }
  size_t mod_len, fn_len, label_len;
  const char* mod = JS_ToCStringLen(c, &mod_len, argv[1]);
  const char* fn = mod ? JS_ToCStringLen(c, &fn_len, argv[2]) : NULL;
  const char* label = !fn                       ? NULL
                      : JS_IsUndefined(label_v) ? JS_ToCStringLen(c, &label_len, argv[2])
                                                : JS_ToCStringLen(c, &label_len, label_v);
  JS_FreeValue(c, label_v);
  JSValue result = JS_EXCEPTION;
  if (label && (mod_len == 0 || fn_len == 0)) {
    result = JS_ThrowTypeError(
        c, "rusm.spawnOn: a module's name and the name of its exported function expected");
  } else if (label) {
    /* As rusm.spawn: every capability this process holds, stdio unless
     * asked otherwise; the other node intersects them with what it grants
     * its peers. */
    rusm_spawn_opts o = {0};
    o.flags = flags | RUSM_SPAWN_CAPS;
    o.caps = stdio ? 0xFFFFFFFFu : ~(uint32_t)RUSM_CAP_STDIO;
    o.label = label;
    o.label_len = (uint32_t)label_len;
    rusm_spawned s = {0, 0};
    int32_t r = __rusm_spawn_on(node, mod, (uint32_t)mod_len, fn, (uint32_t)fn_len,
                                nargs ? args : NULL, nargs, &o, &s, timeout_ns);
    if (r < 0) {
      result = throw_code(c, "spawnOn", r);
    } else if (!monitor) {
      result = pid_value(c, s.pid);
    } else {
      result = JS_NewObject(c);
      JS_SetPropertyStr(c, result, "pid", pid_value(c, s.pid));
      JS_SetPropertyStr(c, result, "ref", JS_NewFloat64(c, (double)s.monitor));
    }
  }
  if (label)
    JS_FreeCString(c, label);
  if (fn)
    JS_FreeCString(c, fn);
  if (mod)
    JS_FreeCString(c, mod);
  return result;
}

static JSValue n_node_self(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  return JS_NewInt32(c, rusm_node_self());
}

/* nodes() -> the ids of the other nodes that are up */
static JSValue n_nodes(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  uint32_t small[64];
  uint32_t* ids = small;
  uint32_t cap = 64;
  int32_t n = rusm_nodes(small, cap);
  if (n > 64) {
    cap = (uint32_t)n + 16; /* nodes may join meanwhile */
    ids = malloc(cap * sizeof *ids);
    if (!ids) {
      return JS_ThrowOutOfMemory(c);
    }
    n = rusm_nodes(ids, cap);
  }
  JSValue out = JS_NewArray(c);
  for (int32_t i = 0; i < n && (uint32_t)i < cap; i++) {
    JS_SetPropertyUint32(c, out, (uint32_t)i, JS_NewInt32(c, (int32_t)ids[i]));
  }
  if (ids != small) {
    free(ids);
  }
  return out;
}

/* nodeName(node) -> the node's name, or null if it was never seen */
static JSValue n_node_name(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  uint32_t node;
  if (to_node(c, argv[0], "nodeName", &node) < 0) {
    return JS_EXCEPTION;
  }
  char buf[256];
  int32_t n = rusm_node_name(node, buf, sizeof buf);
  if (n == RUSM_ENOTFOUND) {
    return JS_NULL;
  }
  if (n < 0) {
    return throw_code(c, "nodeName", n);
  }
  return JS_NewStringLen(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf);
}

/* monitorNode(node, on = true): NODE_DOWN / NODE_UP messages for that node */
static JSValue n_monitor_node(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("monitorNode");
  uint32_t node;
  if (to_node(c, argv[0], "monitorNode", &node) < 0) {
    return JS_EXCEPTION;
  }
  bool on = JS_IsUndefined(argv[1]) || JS_ToBool(c, argv[1]);
  int32_t r = rusm_monitor_node(node, on);
  return r < 0 ? throw_code(c, "monitorNode", r) : JS_UNDEFINED;
}

static JSValue n_register_global(JSContext* c, JSValueConst this_val, int argc,
                                 JSValueConst* argv) {
  GUARD("registerGlobal");
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_register_global(s, (uint32_t)n);
  JS_FreeCString(c, s);
  return r < 0 ? throw_code(c, "registerGlobal", r) : JS_UNDEFINED;
}

static JSValue n_unregister_global(JSContext* c, JSValueConst this_val, int argc,
                                   JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_unregister_global(s, (uint32_t)n);
  JS_FreeCString(c, s);
  if (r == RUSM_ENOTFOUND) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "unregisterGlobal", r) : JS_TRUE;
}

static JSValue n_whereis_global(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  int64_t r = __rusm_whereis_global(s, (uint32_t)n);
  JS_FreeCString(c, s);
  if (r < 0) {
    return throw_code(c, "whereisGlobal", (int32_t)r);
  }
  if ((uint64_t)r > (uint64_t)MAX_SAFE) {
    return throw_inexact_node(c, "whereisGlobal", (uint32_t)((uint64_t)r >> 48));
  }
  return r == 0 ? JS_NULL : pid_value(c, (uint64_t)r);
}

/* sendGlobal(name, tag, data) -> true, or false if the message was dropped
 * (a full mailbox or send buffer), as send. */
static JSValue n_send_global(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("sendGlobal");
  size_t name_len;
  const char* name = JS_ToCStringLen(c, &name_len, argv[0]);
  if (!name) {
    return JS_EXCEPTION;
  }
  Outgoing o;
  if (outgoing(c, argv[1], argv[2], &o) < 0) {
    JS_FreeCString(c, name);
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_send_global(name, (uint32_t)name_len, o.tag, o.msg, (uint32_t)o.len);
  JS_FreeCString(c, name);
  outgoing_done(c, &o);
  if (r == RUSM_EFULL) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "sendGlobal", r) : JS_TRUE;
}

static JSValue n_sleep(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  double ms = 0;
  if (JS_ToFloat64(c, &ms, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  rusm_sleep_ns(ms_to_ns(ms));
  return JS_UNDEFINED;
}

static JSValue n_yield(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  rusm_yield();
  return JS_UNDEFINED;
}

/* sendAfter(ms, to, tag, data) -> timer id */
static JSValue n_send_after(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("sendAfter");
  double ms;
  rusm_pid to;
  if (JS_ToFloat64(c, &ms, argv[0]) < 0 || to_pid(c, argv[1], "sendAfter", &to) < 0) {
    return JS_EXCEPTION;
  }
  Outgoing o;
  if (outgoing(c, argv[2], argv[3], &o) < 0) {
    return JS_EXCEPTION;
  }
  int64_t r = rusm_send_after(ms_to_ns(ms < 0 ? 0 : ms), to, o.tag, o.msg, (uint32_t)o.len);
  outgoing_done(c, &o);
  return r < 0 ? throw_code(c, "sendAfter", (int32_t)r) : JS_NewFloat64(c, (double)r);
}

/* cancelTimer(id) -> milliseconds that were left, or null (fired or cancelled) */
static JSValue n_cancel_timer(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  double id;
  if (JS_ToFloat64(c, &id, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  int64_t left = rusm_cancel_timer((int64_t)id);
  return left < 0 ? JS_NULL : JS_NewFloat64(c, (double)left / 1e6);
}

static JSValue n_set_label(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  __rusm_set_label(s, (uint32_t)n);
  JS_FreeCString(c, s);
  return JS_UNDEFINED;
}

/* info(pid) -> the host's "key=value\n" lines (docs/abi.md process_info) */
static JSValue n_info(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  rusm_pid p = rusm_self();
  if (!JS_IsUndefined(argv[0]) && to_pid(c, argv[0], "info", &p) < 0) {
    return JS_EXCEPTION;
  }
  char buf[2048];
  int32_t n = rusm_process_info(p, buf, sizeof buf);
  if (n < 0) {
    return n == RUSM_ENOPROC ? JS_NULL : throw_code(c, "info", n);
  }
  return JS_NewStringLen(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf);
}

/* write(fd, string): console output, one write per call so that lines of
 * different processes do not interleave mid-line. */
static JSValue n_write(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t fd = 1;
  JS_ToInt32(c, &fd, argv[0]);
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[1]);
  if (!s) {
    return JS_EXCEPTION;
  }
  write_all(fd == 2 ? 2 : 1, s, n);
  JS_FreeCString(c, s);
  return JS_UNDEFINED;
}

static JSValue n_utf8_encode(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t n;
  const char* s = JS_ToCStringLen(c, &n, argv[0]);
  if (!s) {
    return JS_EXCEPTION;
  }
  JSValue b = JS_NewArrayBufferCopy(c, (const uint8_t*)s, n);
  JS_FreeCString(c, s);
  return b;
}

static JSValue n_utf8_decode(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  const uint8_t* p;
  size_t n;
  const char* cstr;
  JSValue hold;
  if (JS_IsString(argv[0])) {
    return JS_DupValue(c, argv[0]);
  }
  if (to_bytes(c, argv[0], &p, &n, &cstr, &hold) < 0) {
    return JS_EXCEPTION;
  }
  JSValue s = JS_NewStringLen(c, (const char*)p, n);
  free_bytes(c, cstr, hold);
  return s;
}

/* A fetch's exchange, held by a JS object of class "RusmFetch" (opaque:
 * the handle + 1, 0 once closed) whose finalizer closes it: a response the
 * app drops before reading its body to the end gives its exchange back when
 * QuickJS collects it, not when the process ends (a process may hold 64). */
static JSClassID fetch_class;

static void fetch_finalizer(JSRuntime* r, JSValue v) {
  intptr_t h = (intptr_t)JS_GetOpaque(v, fetch_class);
  if (h > 0) {
    rusm_fetch_close((int32_t)(h - 1));
  }
}

static JSValue fetch_object(JSContext* c, int32_t f) {
  JSRuntime* r = JS_GetRuntime(c);
  if (fetch_class == 0) {
    JS_NewClassID(&fetch_class);
  }
  if (!JS_IsRegisteredClass(r, fetch_class)) {
    JSClassDef def = {"RusmFetch", fetch_finalizer, NULL, NULL, NULL};
    if (JS_NewClass(r, fetch_class, &def) < 0) {
      rusm_fetch_close(f);
      return JS_EXCEPTION;
    }
  }
  JSValue obj = JS_NewObjectClass(c, (int)fetch_class);
  if (JS_IsException(obj)) {
    rusm_fetch_close(f);
    return obj;
  }
  JS_SetOpaque(obj, (void*)(intptr_t)(f + 1));
  return obj;
}

/* The exchange of a RusmFetch object; -1 once closed (or not one). */
static int32_t fetch_handle(JSValueConst v) {
  intptr_t h = fetch_class ? (intptr_t)JS_GetOpaque(v, fetch_class) : 0;
  return h > 0 ? (int32_t)(h - 1) : -1;
}

/* fetch(url, method, headers, body, timeoutMs, maxResponse) ->
 * {status, headers: "Name: value\r\n"..., body: RusmFetch}: the process
 * waits for the response's head (docs/fetch.md); fetchRead reads the body. */
static JSValue n_fetch(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("fetch");
  size_t url_len = 0, method_len = 0, headers_len = 0;
  const char* url = JS_ToCStringLen(c, &url_len, argv[0]);
  const char* method = url ? JS_ToCStringLen(c, &method_len, argv[1]) : NULL;
  const char* headers = method ? JS_ToCStringLen(c, &headers_len, argv[2]) : NULL;
  const uint8_t* body = NULL;
  size_t body_len = 0;
  const char* body_cstr = NULL;
  JSValue hold = JS_UNDEFINED;
  uint32_t timeout = 0, max = 0;
  JSValue result = JS_EXCEPTION;
  uint8_t* req = NULL;
  uint8_t* head = NULL;
  int32_t f = -1;
  if (!headers || to_bytes(c, argv[3], &body, &body_len, &body_cstr, &hold) < 0 ||
      JS_ToUint32(c, &timeout, argv[4]) < 0 || JS_ToUint32(c, &max, argv[5]) < 0) {
    goto out;
  }
  rusm_fetch_request r = {(uint32_t)method_len, (uint32_t)url_len, (uint32_t)headers_len,
                          (uint32_t)body_len,   timeout,           max};
  size_t len = sizeof r + method_len + url_len + headers_len + body_len;
  if (len > UINT32_MAX || !(req = malloc(len))) {
    result = JS_ThrowRangeError(c, "rusm.fetch: the request is too large");
    goto out;
  }
  memcpy(req, &r, sizeof r);
  memcpy(req + sizeof r, method, method_len);
  memcpy(req + sizeof r + method_len, url, url_len);
  memcpy(req + sizeof r + method_len + url_len, headers, headers_len);
  if (body_len) {
    memcpy(req + sizeof r + method_len + url_len + headers_len, body, body_len);
  }
  f = rusm_fetch(req, (uint32_t)len);
  if (f < 0) {
    result = throw_code(c, "fetch", f);
    goto out;
  }
  rusm_fetch_response resp;
  int32_t head_len = rusm_fetch_head(f, &resp, sizeof resp);
  if (head_len < (int32_t)sizeof resp || !(head = malloc((size_t)head_len))) {
    result = throw_code(c, "fetch", head_len < 0 ? head_len : RUSM_EIO);
    goto out;
  }
  rusm_fetch_head(f, head, (uint32_t)head_len);
  JSValue exchange = fetch_object(c, f);
  f = -1; /* the object owns it now, even when it could not be made */
  if (JS_IsException(exchange)) {
    goto out;
  }
  result = JS_NewObject(c);
  JS_SetPropertyStr(c, result, "status", JS_NewInt32(c, (int32_t)resp.status));
  JS_SetPropertyStr(c, result, "headers",
                    JS_NewStringLen(c, (const char*)head + sizeof resp, resp.headers_len));
  JS_SetPropertyStr(c, result, "body", exchange);
out:
  if (f >= 0) {
    rusm_fetch_close(f);
  }
  free(req);
  free(head);
  free_bytes(c, body_cstr, hold);
  if (headers)
    JS_FreeCString(c, headers);
  if (method)
    JS_FreeCString(c, method);
  if (url)
    JS_FreeCString(c, url);
  return result;
}

/* fetchRead(exchange, whole) -> ArrayBuffer, or null at the end: the body
 * bytes that arrived (one host read, at most 256 KiB), or with `whole` all
 * of the rest. The process waits for them, not the thread. A failed read
 * throws its code (the exchange is left to fetchClose). */
static JSValue n_fetch_read(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t f = fetch_handle(argv[0]);
  if (f < 0) {
    return JS_ThrowTypeError(c, "rusm.fetch: the body's exchange is closed");
  }
  bool whole = JS_ToBool(c, argv[1]);
  size_t have = 0, cap = whole ? 65536 : 262144;
  uint8_t* data = malloc(cap);
  if (!data) {
    return JS_ThrowOutOfMemory(c);
  }
  for (;;) {
    if (whole && cap - have < 16384) {
      uint8_t* more = realloc(data, cap * 2);
      if (!more) {
        free(data);
        return JS_ThrowOutOfMemory(c);
      }
      data = more;
      cap *= 2;
    }
    int32_t n = rusm_fetch_read(f, data + have, (uint32_t)(cap - have));
    if (n < 0) {
      free(data);
      return throw_code(c, "fetch", n);
    }
    have += (size_t)n;
    if (n == 0 || !whole) {
      break;
    }
  }
  JSValue result = have == 0 && !whole ? JS_NULL : JS_NewArrayBufferCopy(c, data, have);
  free(data);
  return result;
}

/* fetchClose(exchange): ends it now (the finalizer then has nothing to do). */
static JSValue n_fetch_close(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t f = fetch_handle(argv[0]);
  if (f >= 0) {
    JS_SetOpaque(argv[0], NULL);
    rusm_fetch_close(f);
  }
  return JS_UNDEFINED;
}

/* digest(alg, data) -> ArrayBuffer: rusm_crypto_digest (cap crypto). */
static JSValue n_digest(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("digest");
  int32_t alg;
  if (JS_ToInt32(c, &alg, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  const uint8_t* data;
  size_t n;
  const char* cstr;
  JSValue hold;
  if (to_bytes(c, argv[1], &data, &n, &cstr, &hold) < 0) {
    return JS_EXCEPTION;
  }
  uint8_t out[64];
  int32_t r =
      n > UINT32_MAX ? RUSM_ETOOLARGE : rusm_crypto_digest(alg, data, (uint32_t)n, out, sizeof out);
  free_bytes(c, cstr, hold);
  if (r < 0) {
    return throw_code(c, "digest", r);
  }
  return JS_NewArrayBufferCopy(c, out, (size_t)r);
}

/* randomFill(typedArray): rusm_crypto_random into its bytes (cap crypto). */
static JSValue n_random_fill(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  GUARD("getRandomValues");
  size_t off, len, bpe;
  JSValue buf = JS_GetTypedArrayBuffer(c, argv[0], &off, &len, &bpe);
  if (JS_IsException(buf)) {
    return JS_EXCEPTION;
  }
  size_t size;
  uint8_t* b = JS_GetArrayBuffer(c, &size, buf);
  JS_FreeValue(c, buf);
  if (!b || off + len > size) {
    return JS_ThrowTypeError(c, "crypto.getRandomValues: detached buffer");
  }
  if (len > 65536) {
    return JS_ThrowRangeError(c, "crypto.getRandomValues: at most 65536 bytes");
  }
  int32_t r = rusm_crypto_random(b + off, (uint32_t)len);
  if (r < 0) {
    return throw_code(c, "getRandomValues", r);
  }
  return JS_DupValue(c, argv[0]);
}

static const JSCFunctionListEntry kNative[] = {
    JS_CFUNC_DEF("digest", 2, n_digest),
    JS_CFUNC_DEF("randomFill", 1, n_random_fill),
    JS_CFUNC_DEF("fetch", 6, n_fetch),
    JS_CFUNC_DEF("fetchRead", 2, n_fetch_read),
    JS_CFUNC_DEF("fetchClose", 1, n_fetch_close),
    JS_CFUNC_DEF("self", 0, n_self),
    JS_CFUNC_DEF("parent", 0, n_parent),
    JS_CFUNC_DEF("send", 3, n_send),
    JS_CFUNC_DEF("receive", 2, n_receive),
    JS_CFUNC_DEF("spawn", 5, n_spawn),
    JS_CFUNC_DEF("link", 1, n_link),
    JS_CFUNC_DEF("unlink", 1, n_unlink),
    JS_CFUNC_DEF("monitor", 1, n_monitor),
    JS_CFUNC_DEF("demonitor", 2, n_demonitor),
    JS_CFUNC_DEF("trapExit", 1, n_trap_exit),
    JS_CFUNC_DEF("exit", 2, n_exit),
    JS_CFUNC_DEF("exitPid", 3, n_exit_pid),
    JS_CFUNC_DEF("isAlive", 1, n_is_alive),
    JS_CFUNC_DEF("register", 1, n_register),
    JS_CFUNC_DEF("unregister", 1, n_unregister),
    JS_CFUNC_DEF("whereis", 1, n_whereis),
    JS_CFUNC_DEF("spawnOn", 5, n_spawn_on),
    JS_CFUNC_DEF("node", 0, n_node_self),
    JS_CFUNC_DEF("nodes", 0, n_nodes),
    JS_CFUNC_DEF("nodeName", 1, n_node_name),
    JS_CFUNC_DEF("monitorNode", 2, n_monitor_node),
    JS_CFUNC_DEF("registerGlobal", 1, n_register_global),
    JS_CFUNC_DEF("unregisterGlobal", 1, n_unregister_global),
    JS_CFUNC_DEF("whereisGlobal", 1, n_whereis_global),
    JS_CFUNC_DEF("sendGlobal", 3, n_send_global),
    JS_CFUNC_DEF("sleep", 1, n_sleep),
    JS_CFUNC_DEF("yield", 0, n_yield),
    JS_CFUNC_DEF("sendAfter", 4, n_send_after),
    JS_CFUNC_DEF("cancelTimer", 1, n_cancel_timer),
    JS_CFUNC_DEF("setLabel", 1, n_set_label),
    JS_CFUNC_DEF("info", 1, n_info),
    JS_CFUNC_DEF("write", 2, n_write),
    JS_CFUNC_DEF("utf8Encode", 1, n_utf8_encode),
    JS_CFUNC_DEF("utf8Decode", 1, n_utf8_decode),
};

/* ---- errors */

/* "app.js:3" from a QuickJS stack ("    at f (app.js:3)\n" or, for a syntax
 * error, "    at app.js:3\n"): the innermost frame in the script, skipping
 * native functions and the prelude (the API's JS side). */
static void first_location(const char* stack, char* out, size_t cap) {
  out[0] = 0;
  const char* line = stack;
  while (line && *line) {
    const char* end = strchr(line, '\n');
    if (!end) {
      end = line + strlen(line);
    }
    const char* at = strstr(line, "at ");
    if (at && at < end) {
      at += 3;
      const char* open = memchr(at, '(', (size_t)(end - at));
      const char* stop = end;
      if (open) {
        at = open + 1;
        const char* close = memchr(at, ')', (size_t)(end - at));
        if (close) {
          stop = close;
        }
      }
      size_t n = (size_t)(stop - at);
      bool skip = (n == 6 && memcmp(at, "native", 6) == 0) || (n > 0 && at[0] == '<');
      if (!skip && n > 0) {
        if (n >= cap) {
          n = cap - 1;
        }
        memcpy(out, at, n);
        out[n] = 0;
        return;
      }
    }
    line = *end ? end + 1 : NULL;
  }
}

/* An allocation failed (the process's memory is exhausted, or QuickJS's
 * limit reached): when QuickJS then cannot allocate the "out of memory"
 * error either, what is thrown is null, and describe() says why. */
static bool alloc_failed;

/* One line for an uncaught exception: "app.js:3: TypeError: x is not a
 * function" (the location of the innermost frame in the script). */
static void describe(JSValueConst e, char* out, size_t cap) {
  char where[256];
  where[0] = 0;
  const char* text = NULL;
  if (JS_IsError(ctx, e)) {
    JSValue stack = JS_GetPropertyStr(ctx, e, "stack");
    const char* s = JS_IsString(stack) ? JS_ToCString(ctx, stack) : NULL;
    first_location(s, where, sizeof where);
    if (s)
      JS_FreeCString(ctx, s);
    JS_FreeValue(ctx, stack);
    text = JS_ToCString(ctx, e); /* "Name: message" */
  } else {
    JSValue j = JS_JSONStringify(ctx, e, JS_UNDEFINED, JS_UNDEFINED);
    text = JS_IsString(j) ? JS_ToCString(ctx, j) : JS_ToCString(ctx, e);
    JS_FreeValue(ctx, j);
    JS_FreeValue(ctx, JS_GetException(ctx));
  }
  if (!where[0]) {
    snprintf(where, sizeof where, "%s", script_name ? script_name : "script");
  }
  if (JS_IsNull(e) && alloc_failed) {
    snprintf(out, cap,
             "%s: InternalError: out of memory (not even the error could be allocated; "
             "--max-memory raises the process's limit)",
             where);
  } else {
    snprintf(out, cap, "%s: %s%s", where, JS_IsError(ctx, e) ? "" : "uncaught exception: ",
             text ? text : "(an exception that cannot be shown)");
  }
  for (char* p = out; *p; p++) {
    if (*p == '\n' || *p == '\r') {
      *p = ' ';
    }
  }
  if (text)
    JS_FreeCString(ctx, text);
}

/* Ends the process with the pending exception as its error reason. A
 * spawned process also says so on stderr (when it has stdio): nobody may
 * be linked to it; the main process's reason is printed by `rusm run`. */
__attribute__((noreturn)) static void die_with(JSValue e) {
  static char line[1024];
  describe(e, line, sizeof line);
  if (!is_main) {
    char head[64];
    snprintf(head, sizeof head, "rusm-js: process %llu: ", (unsigned long long)rusm_self());
    write_all(2, head, strlen(head));
    write_all(2, line, strlen(line));
    write_all(2, "\n", 1);
  }
  die(line);
}

__attribute__((noreturn)) static void die_with_exception(void) {
  die_with(JS_GetException(ctx));
}

static void track_rejection(JSContext* c, JSValueConst promise, JSValueConst reason,
                            JS_BOOL is_handled, void* opaque) {
  if (!is_handled && !have_unhandled) {
    unhandled_rejection = JS_DupValue(c, reason);
    have_unhandled = true;
  } else if (is_handled && have_unhandled) {
    /* A rejection handled later (in the same turn) is no longer an error. */
    JS_FreeValue(c, unhandled_rejection);
    have_unhandled = false;
  }
}

/* Runs queued promise jobs until none is left. */
static void run_jobs(void) {
  JSContext* c;
  for (;;) {
    int r = JS_ExecutePendingJob(rt, &c);
    if (r == 0) {
      break;
    }
    if (r < 0) {
      die_with_exception();
    }
  }
  if (have_unhandled) {
    die_with(unhandled_rejection);
  }
}

/* Runs the timers (prelude.js's runTimer fires the next one, or returns
 * false when none is left), draining the promise jobs after each. */
static void run_timers(void) {
  JSValue run = JS_GetPropertyStr(ctx, native_object, "runTimer");
  for (;;) {
    JSValue r = JS_Call(ctx, run, JS_UNDEFINED, 0, NULL);
    if (JS_IsException(r)) {
      die_with_exception();
    }
    bool fired = JS_ToBool(ctx, r);
    JS_FreeValue(ctx, r);
    if (!fired) {
      break;
    }
    run_jobs();
  }
  JS_FreeValue(ctx, run);
}

/* ---- modules: the app (one file) and "rusm" */

static JSValue rusm_object;

static int init_rusm_module(JSContext* c, JSModuleDef* m) {
  JSPropertyEnum* props;
  uint32_t count;
  if (JS_GetOwnPropertyNames(c, &props, &count, rusm_object, JS_GPN_STRING_MASK) < 0) {
    return -1;
  }
  for (uint32_t i = 0; i < count; i++) {
    const char* name = JS_AtomToCString(c, props[i].atom);
    JS_SetModuleExport(c, m, name, JS_GetProperty(c, rusm_object, props[i].atom));
    JS_FreeCString(c, name);
    JS_FreeAtom(c, props[i].atom);
  }
  js_free(c, props);
  return JS_SetModuleExport(c, m, "default", JS_DupValue(c, rusm_object));
}

/* After compiling the app from source: its bytecode becomes what children
 * get, so that they skip parsing (for a large script, most of a spawn).
 * The bytecode keeps file names and line numbers for error lines. If it
 * cannot be written, children get the source. */
static void keep_bytecode(JSContext* c, JSValueConst module) {
  size_t size = 0;
  uint8_t* code = JS_WriteObject(c, &size, module, JS_WRITE_OBJ_BYTECODE);
  if (!code) {
    JS_FreeValue(c, JS_GetException(c));
    return;
  }
  uint32_t name_len = (uint32_t)strlen(script_name);
  if (prelude_code == NULL) {
    js_free(c, code);
    return; /* children parse both, as this process did */
  }
  uint8_t* prefix = malloc(16 + (size_t)name_len + size + prelude_len);
  if (prefix) {
    put_u32(prefix, 2);
    put_u32(prefix + 4, name_len);
    put_u32(prefix + 8, (uint32_t)size);
    memcpy(prefix + 12, script_name, name_len);
    memcpy(prefix + 12 + name_len, code, size);
    put_u32(prefix + 12 + name_len + size, prelude_len);
    memcpy(prefix + 16 + name_len + size, prelude_code, prelude_len);
    boot_prefix = prefix; /* the old one is the boot message: kept */
    boot_prefix_len = 16 + name_len + (uint32_t)size + prelude_len;
  }
  js_free(c, code);
}

static JSModuleDef* load_module(JSContext* c, const char* name, void* opaque) {
  if (strcmp(name, "rusm:app") == 0) {
    JSValue f;
    if (script_is_bytecode) {
      f = JS_ReadObject(c, (const uint8_t*)script_source, script_len, JS_READ_OBJ_BYTECODE);
      if (!JS_IsException(f) && JS_VALUE_GET_TAG(f) != JS_TAG_MODULE) {
        JS_FreeValue(c, f);
        JS_ThrowTypeError(c, "rusm-js: the bytecode received is not a module");
        return NULL;
      }
    } else {
      f = JS_Eval(c, script_source, script_len, script_name,
                  JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
      if (!JS_IsException(f)) {
        keep_bytecode(c, f);
      }
    }
    if (JS_IsException(f)) {
      return NULL;
    }
    /* The runtime keeps the module (as QuickJS's own loader does, the
     * compiled value's reference is dropped). */
    JSModuleDef* m = JS_VALUE_GET_PTR(f);
    JS_FreeValue(c, f);
    return m;
  }
  if (strcmp(name, "rusm") == 0) {
    JSModuleDef* m = JS_NewCModule(c, "rusm", init_rusm_module);
    if (!m) {
      return NULL;
    }
    JSPropertyEnum* props;
    uint32_t count;
    if (JS_GetOwnPropertyNames(c, &props, &count, rusm_object, JS_GPN_STRING_MASK) < 0) {
      return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
      const char* n = JS_AtomToCString(c, props[i].atom);
      JS_AddModuleExport(c, m, n);
      JS_FreeCString(c, n);
      JS_FreeAtom(c, props[i].atom);
    }
    js_free(c, props);
    JS_AddModuleExport(c, m, "default");
    return m;
  }
  JS_ThrowReferenceError(c,
                         "not supported yet: importing '%s' (rusm runs one file: bundle the "
                         "app, e.g. with esbuild --bundle --format=esm)",
                         name);
  return NULL;
}

static JSValue n_set_namespace(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  app_ns = JS_DupValue(c, argv[0]);
  have_ns = true;
  return JS_UNDEFINED;
}

/* ---- boot */

/* Waits for the boot message from the parent (the host for the main
 * process); returns its payload (malloc'd) and length. */
static uint8_t* receive_boot(uint32_t* len) {
  rusm_pid parent = boot_sender ? boot_sender : rusm_parent();
  int waited_ms = 0;
  for (;;) {
    rusm_msg h;
    uint8_t head[4];
    int32_t n = __rusm_receive(BOOT_TAG, 1, 1000000000, &h, head, sizeof head);
    if (n == RUSM_ETIMEOUT) {
      waited_ms += 1000;
      if ((parent != 0 && !rusm_is_alive(parent)) || waited_ms >= 60000) {
        die("rusm-js: no script arrived (the spawning process ended first)");
      }
      continue;
    }
    if (n < 0) {
      die("rusm-js: receiving the script failed");
    }
    if (h.from != parent) {
      continue; /* only the parent boots a process */
    }
    uint8_t* p = malloc((size_t)n + 1);
    if (!p || rusm_message_read(0, p, (uint32_t)n) != n) {
      die("rusm-js: out of memory for the script");
    }
    *len = (uint32_t)n;
    return p;
  }
}

/* QuickJS's allocator, as its default one counts (a block's usable size
 * plus 8 bytes), with one addition: while `zero_on_free` is set (a template
 * setting up, below), a freed block is zeroed first. Memory is captured in
 * 256-byte chunks that are not zero, so what setting up allocated and freed
 * (the parser's and the bytecode reader's buffers) is then left out of the
 * template: every process started from it copies and holds less. */
static bool zero_on_free;
enum { kBlockOverhead = 8 };

/* memset through a volatile pointer: zeroing a block just before freeing
 * it is a dead store to the compiler, which would drop a plain memset. */
static void* (*volatile wipe_fn)(void*, int, size_t) = memset;
static void wipe(void* p, size_t n) {
  wipe_fn(p, 0, n);
}

static void* js_block_malloc(JSMallocState* s, size_t size) {
  if (s->malloc_size + size > s->malloc_limit) {
    alloc_failed = true;
    return NULL;
  }
  void* p = malloc(size);
  if (p) {
    s->malloc_count++;
    s->malloc_size += malloc_usable_size(p) + kBlockOverhead;
  } else {
    alloc_failed = true;
  }
  return p;
}

static void js_block_free(JSMallocState* s, void* p) {
  if (!p) {
    return;
  }
  size_t n = malloc_usable_size(p);
  s->malloc_count--;
  s->malloc_size -= n + kBlockOverhead;
  if (zero_on_free) {
    wipe(p, n);
  }
  free(p);
}

static void* js_block_realloc(JSMallocState* s, void* p, size_t size) {
  if (!p) {
    return size == 0 ? NULL : js_block_malloc(s, size);
  }
  if (size == 0) {
    js_block_free(s, p);
    return NULL;
  }
  size_t old = malloc_usable_size(p);
  if (s->malloc_size + size - old > s->malloc_limit) {
    alloc_failed = true;
    return NULL;
  }
  void* q;
  if (zero_on_free) { /* moved by hand, so that the old block is zeroed */
    q = malloc(size);
    if (!q) {
      alloc_failed = true;
      return NULL;
    }
    memcpy(q, p, old < size ? old : size);
    wipe(p, old);
    free(p);
  } else {
    q = realloc(p, size);
    if (!q) {
      alloc_failed = true;
      return NULL;
    }
  }
  s->malloc_size += malloc_usable_size(q) - old;
  return q;
}

static size_t js_block_size(const void* p) {
  return p ? malloc_usable_size((void*)p) : 0;
}

static const JSMallocFunctions kBlocks = {js_block_malloc, js_block_free, js_block_realloc,
                                          js_block_size};

/* Creates the runtime and context and the `rusm` API; evaluates prelude.js. */
static void create_context(void) {
  rt = JS_NewRuntime2(&kBlocks, NULL);
  seeding = true;
  ctx = rt ? JS_NewContext(rt) : NULL;
  seeding = false;
  if (!ctx) {
    die("rusm-js: out of memory creating the JavaScript context");
  }
  JS_SetMaxStackSize(rt, JS_STACK_BYTES);
  JS_SetModuleLoaderFunc(rt, NULL, load_module, NULL);
  JS_SetHostPromiseRejectionTracker(rt, track_rejection, NULL);

  JSValue native = JS_NewObject(ctx);
  JS_SetPropertyFunctionList(ctx, native, kNative, sizeof kNative / sizeof kNative[0]);
  JS_SetPropertyFunctionList(ctx, native, kPlatformNative, kPlatformNativeCount);
  JS_SetPropertyStr(ctx, native, "isMain", JS_NewBool(ctx, is_main));
  JS_SetPropertyStr(ctx, native, "script", JS_NewString(ctx, script_name));
  JSValue argv = JS_NewArray(ctx);
  if (is_main) {
    /* WASI args: the script's path, then what follows `--`. */
    size_t argc = 0, size = 0;
    if (__wasi_args_sizes_get(&argc, &size) == 0 && argc > 1) {
      char** av = calloc(argc, sizeof(char*));
      char* buf = malloc(size);
      if (av && buf && __wasi_args_get((uint8_t**)av, (uint8_t*)buf) == 0) {
        for (size_t i = 1; i < argc; i++) {
          JS_SetPropertyUint32(ctx, argv, (uint32_t)(i - 1), JS_NewString(ctx, av[i]));
        }
      }
      free(av);
      free(buf);
    }
  }
  JS_SetPropertyStr(ctx, native, "argv", argv);

  JSValue compiled;
  if (prelude_code != NULL) {
    compiled = JS_ReadObject(ctx, prelude_code, prelude_len, JS_READ_OBJ_BYTECODE);
  } else {
    compiled = JS_Eval(ctx, kPrelude, sizeof kPrelude - 1, "<rusm prelude>",
                       JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT | JS_EVAL_FLAG_COMPILE_ONLY);
    if (!JS_IsException(compiled)) {
      size_t size = 0;
      uint8_t* code = JS_WriteObject(ctx, &size, compiled, JS_WRITE_OBJ_BYTECODE);
      if (code) {
        prelude_code = code; /* kept for the children's boot messages */
        prelude_len = (uint32_t)size;
      } else {
        JS_FreeValue(ctx, JS_GetException(ctx));
      }
    }
  }
  if (JS_IsException(compiled)) {
    die_with_exception();
  }
  JSValue prelude = JS_EvalFunction(ctx, compiled); /* the API's factory function */
  if (JS_IsException(prelude)) {
    die_with_exception();
  }
  rusm_object = JS_Call(ctx, prelude, JS_UNDEFINED, 1, &native);
  JS_FreeValue(ctx, prelude);
  native_object = native;
  if (JS_IsException(rusm_object)) {
    die_with_exception();
  }
  JSValue global = JS_GetGlobalObject(ctx);
  JS_SetPropertyStr(ctx, global, "__rusm_set_namespace",
                    JS_NewCFunction(ctx, n_set_namespace, "__rusm_set_namespace", 1));
  JS_FreeValue(ctx, global);
}

/* Evaluates the app; sets app_ns. */
static void evaluate_app(void) {
  static const char kBoot[] =
      "import * as app from 'rusm:app';\n"
      "globalThis.__rusm_set_namespace(app);\n"
      "delete globalThis.__rusm_set_namespace;\n";
  JSValue r = JS_Eval(ctx, kBoot, sizeof kBoot - 1, "<rusm boot>", JS_EVAL_TYPE_MODULE);
  if (JS_IsException(r)) {
    die_with_exception();
  }
  JS_FreeValue(ctx, r);
}

/* Reads a boot message's prefix (version 1 or 2: the script, and with 2
 * the prelude's bytecode); returns the offset of what follows it. */
static uint32_t read_boot_prefix(uint8_t* msg, uint32_t len) {
  if (len < 12 || (get_u32(msg) != 1 && get_u32(msg) != 2)) {
    die("rusm-js: a malformed boot message");
  }
  script_is_bytecode = get_u32(msg) == 2;
  uint32_t name_len = get_u32(msg + 4), src_len = get_u32(msg + 8);
  if ((uint64_t)12 + name_len + src_len > len) {
    die("rusm-js: a malformed boot message");
  }
  boot_prefix = msg;
  boot_prefix_len = 12 + name_len + src_len;
  if (script_is_bytecode) {
    const uint8_t* q = msg + boot_prefix_len;
    if (len - boot_prefix_len < 4 || get_u32(q) > len - boot_prefix_len - 4) {
      die("rusm-js: a malformed boot message");
    }
    prelude_len = get_u32(q);
    prelude_code = q + 4;
    boot_prefix_len += 4 + prelude_len;
  }
  script_name = malloc(name_len + 1);
  if (!script_name) {
    die("rusm-js: out of memory");
  }
  memcpy(script_name, msg + 12, name_len);
  script_name[name_len] = 0;
  /* The source must end with a NUL for QuickJS's parser: copy it. */
  char* src = malloc((size_t)src_len + 1);
  if (!src) {
    die("rusm-js: out of memory for the script");
  }
  memcpy(src, msg + 12 + name_len, src_len);
  src[src_len] = 0;
  script_source = src;
  script_len = src_len;
  return boot_prefix_len;
}

/* Reads a child's call from msg[at, len): u32 fn_len, fn, u32 args_len,
 * args (a JSON array). */
static void read_call(const uint8_t* msg, uint32_t at, uint32_t len, const char** fn,
                      uint32_t* fn_len, const char** args, uint32_t* args_len) {
  const uint8_t* q = msg + at;
  const uint8_t* end = msg + len;
  if (at > len || end - q < 4 || (*fn_len = get_u32(q), (uint64_t)(end - q) < 8ull + *fn_len)) {
    die("rusm-js: a malformed boot message");
  }
  *fn = (const char*)q + 4;
  q += 4 + *fn_len;
  *args_len = get_u32(q);
  if ((uint64_t)(end - q) < 4ull + *args_len) {
    die("rusm-js: a malformed boot message");
  }
  *args = (const char*)q + 4;
}

/* Calls the app's main(argv) (main process) or export fn(...args) (a
 * child), then runs what it left queued. */
static void run_entry(bool main_process, const char* fn, uint32_t fn_len, const char* args,
                      uint32_t args_len) {
  JSValue target = JS_UNDEFINED;
  JSValue call_args = JS_UNDEFINED;
  if (main_process) {
    target = JS_GetPropertyStr(ctx, app_ns, "main");
    if (!JS_IsFunction(ctx, target)) {
      JS_FreeValue(ctx, target);
      run_timers();
      return; /* a script without main(): its top level was the program */
    }
    call_args = JS_GetPropertyStr(ctx, rusm_object, "argv");
  } else {
    JSAtom atom = JS_NewAtomLen(ctx, fn, fn_len);
    target = JS_GetProperty(ctx, app_ns, atom);
    JS_FreeAtom(ctx, atom);
    if (!JS_IsFunction(ctx, target)) {
      char line[512];
      snprintf(line, sizeof line, "%s exports no function '%.*s'", script_name, (int)fn_len, fn);
      JS_ThrowTypeError(ctx, "%s", line);
      die(line);
    }
    /* The JSON needs a NUL after it: it is followed by nothing else. */
    char* text = malloc((size_t)args_len + 1);
    if (!text) {
      die("rusm-js: out of memory");
    }
    memcpy(text, args, args_len);
    text[args_len] = 0;
    call_args = JS_ParseJSON(ctx, text, args_len, "<spawn arguments>");
    free(text);
    if (JS_IsException(call_args)) {
      die_with_exception();
    }
  }
  uint32_t argc = 0;
  JSValue length = JS_GetPropertyStr(ctx, call_args, "length");
  JS_ToUint32(ctx, &argc, length);
  JS_FreeValue(ctx, length);
  if (argc > 1024) {
    die("rusm-js: more than 1024 arguments");
  }
  JSValue* av = calloc(argc ? argc : 1, sizeof(JSValue));
  for (uint32_t i = 0; i < argc; i++) {
    av[i] = JS_GetPropertyUint32(ctx, call_args, i);
  }
  JSValue r = JS_Call(ctx, target, JS_UNDEFINED, (int)argc, av);
  if (JS_IsException(r)) {
    die_with_exception();
  }
  JS_FreeValue(ctx, r);
  run_jobs();
  run_timers();
  /* The process ends here, normally. Its memory goes with its instance:
   * freeing the runtime first would only cost time. */
}

static void boot(bool main_process) {
  is_main = main_process;
  uint32_t len;
  uint8_t* msg = receive_boot(&len);
  uint32_t at = read_boot_prefix(msg, len);
  const char* fn = NULL;
  const char* args = NULL;
  uint32_t fn_len = 0, args_len = 0;
  if (!main_process) {
    read_call(msg, at, len, &fn, &fn_len, &args, &args_len);
  }
  create_context();
  initializing = !main_process;
  evaluate_app();
  initializing = false;
  run_jobs();
  run_entry(main_process, fn, fn_len, args, args_len);
}

RUSM_EXPORT(js_main) void js_main(void) {
  boot(true);
}

RUSM_EXPORT(js_spawned) void js_spawned(void) {
  boot(false);
}

/* ---- templates (docs/js.md, "How spawning works")
 *
 * A JS child's setup — the QuickJS runtime and context, the prelude, the
 * app's module and its top level — is the same for every child of an app.
 * The first spawn of a process makes a template process (ABI v10) that does
 * it once and returns; every spawn then starts from its state, and gets
 * only its call (boot version 3: u32 3, then the call as read_call reads
 * it). The template's pid is in its state, so children and theirs use it
 * too. If a template cannot be made (its top level fails as a child's),
 * spawning falls back to booting each child from its script. */

static rusm_pid template_pid;
static bool template_failed;
static char route_handler[128] = "handle"; /* js_http's export (serving, below) */
static bool serving;                       /* a route's template */
static void compile_shapes(void);

/* The template process: sets up as a child would, then returns. */
RUSM_EXPORT(js_template) void js_template(void) {
  is_main = false;
  zero_on_free = true; /* until it returns: see js_block_free */
  uint32_t len;
  uint8_t* msg = receive_boot(&len);
  uint32_t at = read_boot_prefix(msg, len);
  if (len - at >= 4) { /* a route's template: the handler's export name */
    uint32_t n = get_u32(msg + at);
    if (n == 0 || n >= sizeof route_handler || n > len - at - 4) {
      die("rusm-js: a malformed boot message");
    }
    memcpy(route_handler, msg + at + 4, n);
    route_handler[n] = 0;
    serving = true;
  }
  create_context();
  initializing = true;
  evaluate_app();
  initializing = false;
  run_jobs();
  if (serving) {
    compile_shapes();
  }
  JS_RunGC(rt);
  template_pid = rusm_self(); /* what the processes started from here use */
  /* Processes started from here spawn, and start supervisors' children,
   * from this template: the boot message is not needed there. Zeroed, it is
   * left out of the template (each JS process holds ~10 KB less). */
  wipe(msg, len);
  free(msg);
  boot_prefix = NULL;
  boot_prefix_len = 0;
  prelude_code = NULL;
  prelude_len = 0;
  /* The script's copy is compiled into the context now: zeroed, its chunks
   * are left out of the template, so every spawn copies less. */
  wipe((char*)script_source, script_len);
  free((char*)script_source);
  script_source = NULL;
  script_len = 0;
  /* So is the stack below this frame: what setting up left there is stale
   * (wasm-ld puts the stack between __data_end and __heap_base, growing
   * down; 4 KiB are left for memset's own frame). */
  extern char __data_end;
  char* low = &__data_end;
  char* high = (char*)__builtin_frame_address(0) - 4096;
  if (high > low) {
    memset(low, 0, (size_t)(high - low));
  }
  zero_on_free = false;
}

void js_random_init(JSContext* c); /* quickjs.c, made visible by cmake/RusmQuickJS.cmake */

/* A process started from the template's state: its call arrives (boot
 * version 3), from its parent or the boot server. */
static void start_from_template(void) {
  uint32_t len;
  uint8_t* msg = receive_boot(&len);
  if (len < 4 || get_u32(msg) != 3) {
    die("rusm-js: a malformed boot message");
  }
  const char* fn;
  const char* args;
  uint32_t fn_len, args_len;
  read_call(msg, 4, len, &fn, &fn_len, &args, &args_len);
  seeding = true; /* Math.random: this process's seed, not the template's */
  js_random_init(ctx);
  seeding = false;
  run_entry(false, fn, fn_len, args, args_len);
}

RUSM_EXPORT(js_from_template) void js_from_template(void) {
  start_from_template();
}

/* A supervisor's child started from the template (platform.c,
 * "Supervisors"): the boot server `server` has its call under `key`. */
RUSM_EXPORT(js_supervised_from_template)
void js_supervised_from_template(uint64_t server, uint64_t key) {
  boot_sender = server;
  rusm_send(server, BOOT_REQUEST, &key, sizeof key);
  start_from_template();
}

/* The template's pid, making it on first use; 0 if there is none. */
rusm_pid ensure_template(uint32_t caps) {
  if (template_pid != 0 || template_failed) {
    return template_pid;
  }
  template_failed = true; /* until it works */
  static const char kEntry[] = "js_template";
  static const char kLabel[] = "js template";
  rusm_spawn_opts o = {
      RUSM_SPAWN_TEMPLATE | RUSM_SPAWN_CAPS, 0, 0, caps, kLabel, sizeof kLabel - 1};
  rusm_spawned s = {0, 0};
  if (__rusm_spawn(kEntry, sizeof kEntry - 1, NULL, 0, &o, &s) < 0) {
    return 0;
  }
  if (rusm_send(s.pid, BOOT_TAG, boot_prefix, boot_prefix_len) < 0) {
    rusm_kill(s.pid);
    return 0;
  }
  int32_t r = rusm_template_wait(s.pid, 30000000000ll);
  if (r != RUSM_OK) {
    if (r == RUSM_ETIMEOUT) {
      rusm_kill(s.pid); /* a top level that never ends */
    }
    return 0;
  }
  template_failed = false;
  template_pid = s.pid;
  return template_pid;
}

/* ---- serving (docs/js.md, "Serving"): a route of `rusm serve` names a
 * script. The server makes the route's template (js_template, its boot
 * message followed by u32 len + the handler's export name) and starts each
 * request's process from it at js_http(req), which calls the handler with a
 * request object and answers with what it returns. */

static rusm_req current_req;
static JSValue settled_value; /* an async handler's outcome */
static bool settled, settled_ok;

/* A request field, copied with the ABI's full-length convention. */
/* A string a serving call copies out with the ABI's full-length
 * convention (`field(handle, buf, cap)`, or `lookup(handle, name, ...)`
 * when `name` is given: then ENOTFOUND is undefined), read whole. */
typedef int32_t (*FieldCall)(int32_t handle, char* buf, uint32_t cap);
typedef int32_t (*LookupCall)(int32_t handle, const char* name, uint32_t name_len, char* buf,
                              uint32_t cap);

static JSValue host_string(JSContext* c, const char* what, int32_t handle, FieldCall field,
                           LookupCall lookup, const char* name, size_t name_len) {
  char small[256];
  char* buf = small;
  uint32_t cap = sizeof small;
  for (;;) {
    int32_t n =
        lookup ? lookup(handle, name, (uint32_t)name_len, buf, cap) : field(handle, buf, cap);
    if (n == RUSM_ENOTFOUND && lookup) {
      if (buf != small) {
        free(buf);
      }
      return JS_UNDEFINED;
    }
    if (n < 0 || (uint32_t)n <= cap) {
      JSValue s = n < 0 ? throw_code(c, what, n) : JS_NewStringLen(c, buf, (size_t)n);
      if (buf != small) {
        free(buf);
      }
      return s;
    }
    if (buf != small) { /* it grew between the calls: once more */
      free(buf);
    }
    cap = (uint32_t)n;
    buf = malloc(cap);
    if (!buf) {
      return JS_ThrowOutOfMemory(c);
    }
  }
}

static JSValue req_field(JSContext* c, FieldCall get) {
  return host_string(c, "request", current_req, get, NULL, NULL, 0);
}

/* The body, read to its end (the route's body limit applies: ETOOLARGE). */
static JSValue n_req_body(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t cap = 16384, len = 0;
  uint8_t* buf = malloc(cap);
  if (!buf) {
    return JS_ThrowOutOfMemory(c);
  }
  for (;;) {
    if (cap - len < 4096) {
      uint8_t* more = realloc(buf, cap * 2);
      if (!more) {
        free(buf);
        return JS_ThrowOutOfMemory(c);
      }
      buf = more;
      cap *= 2;
    }
    int32_t n = rusm_http_read(current_req, buf + len, (uint32_t)(cap - len));
    if (n < 0) {
      free(buf);
      return throw_code(c, "request body", n);
    }
    if (n == 0) {
      break;
    }
    len += (size_t)n;
  }
  JSValue ab = JS_NewArrayBufferCopy(c, buf, len);
  free(buf);
  return ab;
}

static JSValue n_req_param(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  size_t name_len;
  const char* name = JS_ToCStringLen(c, &name_len, argv[0]);
  if (!name) {
    return JS_EXCEPTION;
  }
  JSValue v = host_string(c, "request param", current_req, NULL, __rusm_http_param, name, name_len);
  JS_FreeCString(c, name);
  return v;
}

/* The request object: method, url, path, query, peer, headers (lower-case
 * names; repeated ones joined with ", "), param(name), and the body as
 * text(), json() or bytes() (each reads it once; later calls reuse it). */
static JSValue make_request(JSContext* c) {
  JSValue r = JS_NewObject(c);
  JS_SetPropertyStr(c, r, "method", req_field(c, rusm_http_method));
  JS_SetPropertyStr(c, r, "url", req_field(c, rusm_http_target));
  JS_SetPropertyStr(c, r, "path", req_field(c, rusm_http_path));
  JS_SetPropertyStr(c, r, "query", req_field(c, rusm_http_query));
  JS_SetPropertyStr(c, r, "peer", req_field(c, rusm_http_peer));
  JSValue block = req_field(c, rusm_http_headers);
  JS_SetPropertyStr(c, r, "__headers", block);
  JS_SetPropertyStr(c, r, "__body", JS_NewCFunction(c, n_req_body, "body", 0));
  JS_SetPropertyStr(c, r, "param", JS_NewCFunction(c, n_req_param, "param", 1));
  return r;
}

/* The request object's JavaScript half (headers parsed, body accessors). */
static const char kRequestShape[] =
    "(function (r) {\n"
    "  const h = {};\n"
    "  for (const line of String(r.__headers).split('\\n')) {\n"
    "    const i = line.indexOf(':');\n"
    "    if (i <= 0) continue;\n"
    "    const k = line.slice(0, i).trim().toLowerCase(), v = line.slice(i + 1).trim();\n"
    "    h[k] = k in h ? h[k] + ', ' + v : v;\n"
    "  }\n"
    "  const read = r.__body; let body;\n"
    "  delete r.__headers; delete r.__body;\n"
    "  r.headers = h;\n"
    "  r.bytes = () => new Uint8Array(body === undefined ? (body = read()) : body);\n"
    "  r.text = () => new TextDecoder().decode(r.bytes());\n"
    "  r.json = () => JSON.parse(r.text());\n"
    "  return r;\n"
    "})";

/* The response for what the handler returned: a string (200 text/plain), a
 * Uint8Array or ArrayBuffer (200 application/octet-stream), an object with
 * `status` or `body` ({status, headers, body}, body a string, bytes or
 * anything JSON), or any other value (200 application/json): [status,
 * lines, body]. A body that is an iterable or async iterable of chunks
 * (strings or bytes; not an array, which is JSON) is streamed through `res`
 * instead: then the result is null, or a promise for an async one. A
 * write the connection refused (ECLOSED) ends the stream quietly (the
 * iterator's return() runs), as an sse route's does. */
static const char kResponseShape[] =
    "(function (v, res) {\n"
    "  const isBytes = (b) => b instanceof ArrayBuffer || ArrayBuffer.isView(b);\n"
    "  let status = 200, headers = {}, body = v;\n"
    "  if (v !== null && typeof v === 'object' && !isBytes(v) && ('status' in v || 'body' in v)) "
    "{\n"
    "    status = v.status === undefined ? 200 : Number(v.status);\n"
    "    headers = v.headers || {}; body = v.body;\n"
    "  }\n"
    "  if (body !== null && typeof body === 'object' && !isBytes(body) && !Array.isArray(body) &&\n"
    "      (typeof body[Symbol.iterator] === 'function' ||\n"
    "       typeof body[Symbol.asyncIterator] === 'function')) {\n"
    "    const sent = (f) => {\n"
    "      try { f(); return true; } catch (e) { if (e && e.code === 'ECLOSED') return false; "
    "throw e; }\n"
    "    };\n"
    "    res.start(status, headers);\n"
    "    if (typeof body[Symbol.asyncIterator] === 'function') {\n"
    "      return (async () => {\n"
    "        for await (const chunk of body) if (!sent(() => res.write(chunk))) return;\n"
    "        sent(() => res.end());\n"
    "      })();\n"
    "    }\n"
    "    for (const chunk of body) if (!sent(() => res.write(chunk))) return null;\n"
    "    sent(() => res.end());\n"
    "    return null;\n"
    "  }\n"
    "  const has = (n) => Object.keys(headers).some((k) => k.toLowerCase() === n);\n"
    "  let type;\n"
    "  if (body === undefined || body === null) body = '';\n"
    "  else if (typeof body === 'string') type = 'text/plain; charset=utf-8';\n"
    "  else if (isBytes(body)) type = 'application/octet-stream';\n"
    "  else { body = JSON.stringify(body); type = 'application/json'; }\n"
    "  let lines = '';\n"
    "  for (const [k, val] of Object.entries(headers)) lines += k + ': ' + val + '\\n';\n"
    "  if (type && !has('content-type')) lines += 'Content-Type: ' + type + '\\n';\n"
    "  return [status, lines, body];\n"
    "})";

/* The writer's JavaScript half: res.start(status = 200, headers = {}), its
 * Content-Length header (if any) the length of the body to come, else the
 * body is chunked. */
static const char kWriterShape[] =
    "(function (res) {\n"
    "  const start = res.__start;\n"
    "  delete res.__start;\n"
    "  res.start = (status = 200, headers = {}) => {\n"
    "    let lines = '', length = -1;\n"
    "    for (const [k, val] of Object.entries(headers || {})) {\n"
    "      if (k.toLowerCase() !== 'content-length') { lines += k + ': ' + val + '\\n'; "
    "continue; }\n"
    "      length = Number(val);\n"
    "      if (String(val).trim() === '' || !Number.isSafeInteger(length) || length < 0) {\n"
    "        throw new TypeError('response.start: Content-Length is a number of bytes, not ' + "
    "JSON.stringify(String(val)));\n"
    "      }\n"
    "    }\n"
    "    start(Number(status), lines, length);\n"
    "  };\n"
    "  return res;\n"
    "})";

static JSValue n_settle(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv,
                        int magic) {
  settled = true;
  settled_ok = magic == 1;
  settled_value = JS_DupValue(c, argc > 0 ? argv[0] : JS_UNDEFINED);
  return JS_UNDEFINED;
}

static JSValue eval_helper(const char* src, size_t len, const char* name) {
  JSValue f = JS_Eval(ctx, src, len, name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
  if (JS_IsException(f)) {
    die_with_exception();
  }
  return f;
}

/* The two helpers above, compiled once by a route's template (parsing them
 * per request would cost more than the rest of it). */
static JSValue request_shape, response_shape, writer_shape;
static bool have_shapes;

static void compile_shapes(void) {
  request_shape = eval_helper(kRequestShape, sizeof kRequestShape - 1, "<rusm request>");
  response_shape = eval_helper(kResponseShape, sizeof kResponseShape - 1, "<rusm response>");
  writer_shape = eval_helper(kWriterShape, sizeof kWriterShape - 1, "<rusm writer>");
  have_shapes = true;
}

/* A request's process starts: its seed, the handler, the request object. */
/* A route's process starts: its own Math.random seed, and the handler. */
static JSValue route_target(void) {
  seeding = true;
  js_random_init(ctx);
  seeding = false;
  JSValue target = JS_GetPropertyStr(ctx, app_ns, route_handler);
  if (!JS_IsFunction(ctx, target)) {
    char line[512];
    snprintf(line, sizeof line, "%s exports no function '%s' (the route's handler)", script_name,
             route_handler);
    die(line);
  }
  return target;
}

static JSValue begin_request(rusm_req req, JSValue* request) {
  current_req = req;
  JSValue target = route_target();
  if (!have_shapes) {
    compile_shapes();
  }
  JSValue raw = make_request(ctx);
  *request = JS_Call(ctx, request_shape, JS_UNDEFINED, 1, &raw);
  JS_FreeValue(ctx, raw);
  if (JS_IsException(*request)) {
    die_with_exception();
  }
  return target;
}

/* events.send(data, event?): one Server-Sent Event (data a string, or any
 * other value as JSON); true, or false once the client has gone. */
static JSValue n_send_event(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  JSValue text = JS_IsString(argv[0]) ? JS_DupValue(c, argv[0])
                                      : JS_JSONStringify(c, argv[0], JS_UNDEFINED, JS_UNDEFINED);
  if (JS_IsException(text)) {
    return text;
  }
  size_t data_len = 0, event_len = 0;
  const char* data = JS_ToCStringLen(c, &data_len, text);
  JS_FreeValue(c, text);
  const char* event =
      argc > 1 && !JS_IsUndefined(argv[1]) ? JS_ToCStringLen(c, &event_len, argv[1]) : NULL;
  if (!data || (argc > 1 && !JS_IsUndefined(argv[1]) && !event)) {
    if (data) {
      JS_FreeCString(c, data);
    }
    return JS_EXCEPTION;
  }
  int32_t r = __rusm_http_send_event(current_req, event ? event : "", (uint32_t)event_len, data,
                                     (uint32_t)data_len);
  JS_FreeCString(c, data);
  if (event) {
    JS_FreeCString(c, event);
  }
  if (r == RUSM_ECLOSED) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "events.send", r) : JS_TRUE;
}

/* An sse route's request: the stream starts (200, text/event-stream), then
 * the handler is called with the request and `events` ({send}); the stream
 * ends when it returns. */
RUSM_EXPORT(js_sse) void js_sse(int32_t req) {
  JSValue request;
  JSValue target = begin_request(req, &request);
  int32_t r = __rusm_http_start_events(req, "", 0);
  if (r < 0) {
    return; /* the client has gone, or a response was started: nothing to send */
  }
  JSValue events = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, events, "send", JS_NewCFunction(ctx, n_send_event, "send", 2));
  JSValue args[2] = {request, events};
  JSValue out = JS_Call(ctx, target, JS_UNDEFINED, 2, args);
  JS_FreeValue(ctx, request);
  JS_FreeValue(ctx, events);
  if (JS_IsException(out)) {
    die_with_exception();
  }
  JS_FreeValue(ctx, out);
  run_jobs();
  run_timers();
}

/* ---- ws routes: js_ws(conn) calls the handler with a connection object;
 * its frames arrive in the mailbox (rusm.receive: tags "WS_TEXT",
 * "WS_BINARY", then one "WS_CLOSE"). */

static int32_t current_ws;

static JSValue ws_field(JSContext* c, FieldCall get) {
  return host_string(c, "ws", current_ws, get, NULL, NULL, 0);
}

/* ws.header(name) (magic 0) and ws.param(name) (magic 1): undefined if absent. */
static JSValue n_ws_lookup(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv,
                           int magic) {
  size_t len;
  const char* name = JS_ToCStringLen(c, &len, argv[0]);
  if (!name) {
    return JS_EXCEPTION;
  }
  JSValue v =
      host_string(c, "ws", current_ws, NULL, magic ? __rusm_ws_param : __rusm_ws_header, name, len);
  JS_FreeCString(c, name);
  return v;
}

/* ws.send(data): a text message for a string, binary for bytes; true, or
 * false once the connection is closing or gone. */
static JSValue n_ws_send(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  const uint8_t* p;
  size_t n;
  const char* cstr;
  JSValue hold;
  if (to_bytes(c, argv[0], &p, &n, &cstr, &hold) < 0) {
    return JS_EXCEPTION;
  }
  int32_t r = rusm_ws_send(current_ws, JS_IsString(argv[0]), p, (uint32_t)n);
  free_bytes(c, cstr, hold);
  if (r == RUSM_ECLOSED) {
    return JS_FALSE;
  }
  return r < 0 ? throw_code(c, "ws.send", r) : JS_TRUE;
}

/* ws.close(code = 1000, reason = ""). */
static JSValue n_ws_close(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t code = 1000;
  if (argc > 0 && !JS_IsUndefined(argv[0]) && JS_ToInt32(c, &code, argv[0]) < 0) {
    return JS_EXCEPTION;
  }
  size_t len = 0;
  const char* reason =
      argc > 1 && !JS_IsUndefined(argv[1]) ? JS_ToCStringLen(c, &len, argv[1]) : NULL;
  int32_t r = rusm_ws_close(current_ws, code, reason ? reason : "", (uint32_t)len);
  if (reason) {
    JS_FreeCString(c, reason);
  }
  return r < 0 && r != RUSM_ECLOSED ? throw_code(c, "ws.close", r) : JS_UNDEFINED;
}

RUSM_EXPORT(js_ws) void js_ws(int32_t conn) {
  current_ws = conn;
  JSValue target = route_target();
  JSValue ws = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, ws, "path", ws_field(ctx, rusm_ws_path));
  JS_SetPropertyStr(ctx, ws, "query", ws_field(ctx, rusm_ws_query));
  JS_SetPropertyStr(ctx, ws, "send", JS_NewCFunction(ctx, n_ws_send, "send", 1));
  JS_SetPropertyStr(ctx, ws, "close", JS_NewCFunction(ctx, n_ws_close, "close", 2));
  JS_SetPropertyStr(ctx, ws, "header",
                    JS_NewCFunctionMagic(ctx, n_ws_lookup, "header", 1, JS_CFUNC_generic_magic, 0));
  JS_SetPropertyStr(ctx, ws, "param",
                    JS_NewCFunctionMagic(ctx, n_ws_lookup, "param", 1, JS_CFUNC_generic_magic, 1));
  JSValue out = JS_Call(ctx, target, JS_UNDEFINED, 1, &ws);
  JS_FreeValue(ctx, ws);
  if (JS_IsException(out)) {
    die_with_exception();
  }
  JS_FreeValue(ctx, out);
  run_jobs();
  run_timers();
}

/* ---- an http route's streamed response: `res`, the handler's second
 * argument, over http_start / http_write / http_finish (docs/abi.md). A
 * write returns at once while the connection's buffer has room and waits
 * (the process, not the thread) while the client is slow; a failed call
 * throws its code (ECLOSED: the connection refused it; the host kills the
 * process once the client is gone, docs/abi.md "Lifetimes"). */

enum { kResNone, kResStarted, kResEnded };
static int res_state = kResNone;

static JSValue res_start(JSContext* c, int32_t status, const char* headers, size_t headers_len,
                         int64_t length) {
  if (res_state != kResNone) {
    return throw_code(c, "response.start", RUSM_EBADSTATE);
  }
  int32_t r = __rusm_http_start(current_req, status, headers, (uint32_t)headers_len, length);
  if (r < 0) {
    return throw_code(c, "response.start", r);
  }
  res_state = kResStarted;
  return JS_UNDEFINED;
}

/* res.__start(status, lines, length): the head; length -1 is unknown (chunked). */
static JSValue n_res_start(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv) {
  int32_t status;
  double length;
  if (JS_ToInt32(c, &status, argv[0]) < 0 || JS_ToFloat64(c, &length, argv[2]) < 0) {
    return JS_EXCEPTION;
  }
  size_t len;
  const char* headers = JS_ToCStringLen(c, &len, argv[1]);
  if (!headers) {
    return JS_EXCEPTION;
  }
  JSValue r = res_start(c, status, headers, len, (int64_t)length);
  JS_FreeCString(c, headers);
  return r;
}

/* res.write(chunk) (magic 0) and res.end(chunk?) (magic 1): body bytes, a
 * string's as UTF-8. A write before start() starts a 200, chunked; an end
 * before anything was written sends its chunk with a Content-Length. A
 * second end does nothing. */
static JSValue n_res_write(JSContext* c, JSValueConst this_val, int argc, JSValueConst* argv,
                           int magic) {
  bool end = magic == 1;
  const char* what = end ? "response.end" : "response.write";
  if (res_state == kResEnded) {
    return end ? JS_UNDEFINED : throw_code(c, what, RUSM_EBADSTATE);
  }
  const uint8_t* p = NULL;
  size_t n = 0;
  const char* cstr = NULL;
  JSValue hold = JS_UNDEFINED;
  bool has_chunk = argc > 0 && !JS_IsUndefined(argv[0]) && !JS_IsNull(argv[0]);
  if ((has_chunk || !end) &&
      to_bytes(c, argc > 0 ? argv[0] : JS_UNDEFINED, &p, &n, &cstr, &hold) < 0) {
    return JS_EXCEPTION;
  }
  JSValue result = JS_UNDEFINED;
  if (res_state == kResNone) {
    result = res_start(c, 200, "", 0, end ? (int64_t)n : RUSM_HTTP_UNKNOWN_LENGTH);
  }
  if (!JS_IsException(result) && n > 0) {
    int32_t r = n > UINT32_MAX ? RUSM_ETOOLARGE : rusm_http_write(current_req, p, (uint32_t)n);
    if (r < 0) {
      result = throw_code(c, what, r);
    }
  }
  free_bytes(c, cstr, hold);
  if (end && !JS_IsException(result)) {
    res_state = kResEnded;
    int32_t r = rusm_http_finish(current_req);
    if (r < 0) {
      result = throw_code(c, what, r);
    }
  }
  return result;
}

static JSValue make_writer(JSContext* c) {
  JSValue res = JS_NewObject(c);
  JS_SetPropertyStr(c, res, "__start", JS_NewCFunction(c, n_res_start, "start", 3));
  JS_SetPropertyStr(c, res, "write",
                    JS_NewCFunctionMagic(c, n_res_write, "write", 1, JS_CFUNC_generic_magic, 0));
  JS_SetPropertyStr(c, res, "end",
                    JS_NewCFunctionMagic(c, n_res_write, "end", 1, JS_CFUNC_generic_magic, 1));
  JSValue shaped = JS_Call(c, writer_shape, JS_UNDEFINED, 1, &res);
  JS_FreeValue(c, res);
  if (JS_IsException(shaped)) {
    die_with_exception();
  }
  return shaped;
}

/* `out`'s value once the jobs ran: its outcome if it is a promise (or any
 * thenable), else `out` itself. Dies if the promise rejects or never
 * settles. Takes `out`; the result is owned by the caller. */
static JSValue settle(JSValue out) {
  JSValue then = JS_IsObject(out) ? JS_GetPropertyStr(ctx, out, "then") : JS_UNDEFINED;
  if (!JS_IsFunction(ctx, then)) {
    JS_FreeValue(ctx, then);
    run_jobs();
    return out;
  }
  settled = false;
  JSValue cbs[2] = {JS_NewCFunctionMagic(ctx, n_settle, "resolve", 1, JS_CFUNC_generic_magic, 1),
                    JS_NewCFunctionMagic(ctx, n_settle, "reject", 1, JS_CFUNC_generic_magic, 0)};
  JSValue r = JS_Call(ctx, then, out, 2, cbs);
  JS_FreeValue(ctx, cbs[0]);
  JS_FreeValue(ctx, cbs[1]);
  JS_FreeValue(ctx, r);
  JS_FreeValue(ctx, then);
  run_jobs();
  run_timers();
  JS_FreeValue(ctx, out);
  if (!settled) {
    die("the handler's promise never settled");
  }
  if (!settled_ok) {
    die_with(settled_value);
  }
  return settled_value;
}

/* Ends a response the handler started and left open (ECLOSED: the client
 * has gone, nothing to end). */
static void finish_streamed(void) {
  if (res_state != kResStarted) {
    return;
  }
  res_state = kResEnded;
  int32_t r = rusm_http_finish(current_req);
  if (r < 0 && r != RUSM_ECLOSED) {
    char line[160];
    snprintf(line, sizeof line, "the streamed response could not be ended: %s%s", error_name(r),
             r == RUSM_EBADSTATE ? " (fewer bytes than its Content-Length were written)" : "");
    die(line);
  }
}

/* An http route's request: the handler is called with the request and
 * `res`; a handler that used `res` has sent its response (ended here if it
 * left it open), else what it returns (or its promise's value) is sent. */
RUSM_EXPORT(js_http) void js_http(int32_t req) {
  JSValue request;
  JSValue target = begin_request(req, &request);
  JSValue res = make_writer(ctx);
  JSValue args[2] = {request, res};
  JSValue out = JS_Call(ctx, target, JS_UNDEFINED, 2, args);
  JS_FreeValue(ctx, request);
  if (JS_IsException(out)) {
    die_with_exception();
  }
  out = settle(out);
  if (res_state != kResNone) {
    bool returned = !JS_IsUndefined(out);
    JS_FreeValue(ctx, out);
    JS_FreeValue(ctx, res);
    finish_streamed();
    if (returned) {
      die("the handler returned a value after it had started its response with res (what it "
          "returns is not sent then: return nothing)");
    }
    return;
  }
  JSValue shape_args[2] = {out, res};
  JSValue parts = JS_Call(ctx, response_shape, JS_UNDEFINED, 2, shape_args);
  JS_FreeValue(ctx, out);
  JS_FreeValue(ctx, res);
  if (JS_IsException(parts)) {
    die_with_exception();
  }
  if (!JS_IsArray(ctx, parts)) { /* a streamed body: sent, or being sent by a promise */
    JS_FreeValue(ctx, settle(parts));
    finish_streamed();
    return;
  }
  int32_t status = 200;
  JSValue v = JS_GetPropertyUint32(ctx, parts, 0);
  JS_ToInt32(ctx, &status, v);
  JS_FreeValue(ctx, v);
  size_t headers_len = 0;
  JSValue hv = JS_GetPropertyUint32(ctx, parts, 1);
  const char* headers = JS_ToCStringLen(ctx, &headers_len, hv);
  JS_FreeValue(ctx, hv);
  JSValue bv = JS_GetPropertyUint32(ctx, parts, 2);
  const uint8_t* body;
  size_t body_len;
  const char* cstr;
  JSValue hold;
  if (!headers || to_bytes(ctx, bv, &body, &body_len, &cstr, &hold) < 0) {
    die_with_exception();
  }
  int32_t r =
      __rusm_http_respond(req, status, headers, (uint32_t)headers_len, body, (uint32_t)body_len);
  if (r < 0 && r != RUSM_ECLOSED) {
    char line[160];
    snprintf(line, sizeof line, "the response could not be sent: %s (status %d)", error_name(r),
             (int)status);
    die(line);
  }
  free_bytes(ctx, cstr, hold);
  JS_FreeCString(ctx, headers);
  JS_FreeValue(ctx, bv);
  JS_FreeValue(ctx, parts);
}

/* A child of a supervisor started from JS (platform.c, "Supervisors"): the
 * supervisor, a native process, cannot send it its script, so it asks the
 * boot server `server` for the boot message of child `key` and takes it
 * from there instead of from its parent. */
RUSM_EXPORT(js_supervised) void js_supervised(uint64_t server, uint64_t key) {
  boot_sender = server;
  rusm_send(server, BOOT_REQUEST, &key, sizeof key);
  boot(false);
}
