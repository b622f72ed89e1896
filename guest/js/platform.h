/* platform.h: the platform calls of a JavaScript process (docs/js.md,
 * "Platform"): the key-value store, topics, supervisors and Web Crypto
 * beyond digest, as native functions that prelude.js, platform.js and
 * crypto.js shape into `rusm.kv`, `rusm.subscribe`/`publish`,
 * `rusm.supervisor` and `crypto.subtle`. Defined in platform.c; rusm_js.c adds kPlatformNative to
 * the `native` object it hands prelude.js.
 *
 * Also declared here: what platform.c uses of rusm_js.c (its helpers for
 * arguments, errors and messages, and the boot message's prefix), and the
 * tags of the boot protocol both files speak.
 */
#ifndef RUSM_JS_PLATFORM_H
#define RUSM_JS_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quickjs.h"
#include "rusm.h"

/* The tags of JS processes' own protocol: above 2^53, so that no JS code
 * can send them (a JS integer tag is below 2^53, a string tag's hash is in
 * 0x7F00000000000000..). BOOT carries a process's script (rusm_js.c); the
 * others are the boot server's (platform.c, "Supervisors"). */
#define BOOT_TAG 0x524A53424F4F5401ull           /* "RJSBOOT", 1 */
#define BOOT_SERVER_CONFIG 0x524A53424F4F5402ull /* owner -> server: what to boot */
#define BOOT_REQUEST 0x524A53424F4F5403ull       /* child -> server: u64 key */
#define BOOT_REGISTER 0x524A53424F4F5404ull      /* anyone -> server: a child's args */
#define BOOT_REGISTERED 0x524A53424F4F5405ull    /* server -> caller: u64 key (0: full) */
#define BOOT_SUPERVISOR 0x524A53424F4F5406ull    /* owner -> server: the supervisor's pid */
#define BOOT_STOP 0x524A53424F4F5407ull          /* owner -> server: end */

/* The native platform calls (platform.c). */
extern const JSCFunctionListEntry kPlatformNative[];
extern const int kPlatformNativeCount;

/* ---- defined in rusm_js.c */

/* The start of a child's boot message (version, names, the app's and the
 * prelude's bytecode): what a boot server hands the children it boots. */
/* The app's template (ABI v10), made on first use; 0 if there is none. */
rusm_pid ensure_template(uint32_t caps);
extern uint8_t* boot_prefix;
extern uint32_t boot_prefix_len;
/* The app's module namespace, once evaluated (have_ns). */
extern JSValue app_ns;
extern bool have_ns;
extern char* script_name;

/* Throws an Error for a failed host call: message "rusm.WHAT: CODE", its
 * `code` the rusm error name ("EDENIED"). */
JSValue throw_code(JSContext* c, const char* what, int32_t code);
JSValue pid_value(JSContext* c, uint64_t pid);
/* A pid argument; -1 with a TypeError pending if it is not one. */
int to_pid(JSContext* c, JSValueConst v, const char* what, rusm_pid* out);
int64_t ms_to_ns(double ms);
/* The bytes of a string (UTF-8), ArrayBuffer or typed array; release with
 * free_bytes. -1 with an exception pending. */
int to_bytes(JSContext* c, JSValueConst v, const uint8_t** p, size_t* n, const char** cstr,
             JSValue* hold);
void free_bytes(JSContext* c, const char* cstr, JSValue hold);
/* JS_EXCEPTION if called during a spawned process's top level. */
JSValue check_not_initializing(JSContext* c, const char* what);

/* A message to send: its tag and its bytes (a string tag's envelope
 * included), made from a tag and a data argument; outgoing_done frees it. */
typedef struct {
  uint64_t tag;
  const uint8_t* msg;
  size_t len;
  uint8_t* owned;
  const char* tag_str;
  const char* cstr;
  JSValue hold;
} Outgoing;
/* 0, or -1 with an exception pending (nothing to free then). */
int outgoing(JSContext* c, JSValueConst tag_v, JSValueConst data_v, Outgoing* o);
void outgoing_done(JSContext* c, Outgoing* o);

#endif /* RUSM_JS_PLATFORM_H */
