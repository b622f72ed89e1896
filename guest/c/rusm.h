/* rusm.h: the C guest SDK for rusm's `rusm` import module (ABI version 1).
 *
 * Header-only. Build guests with clang-19 --target=wasm32-wasi. Every
 * function returning int32_t gives 0 (or a count/size) on success and a
 * negative RUSM_E* code on error; see docs/abi.md for the full contract.
 *
 *   RUSM_EXPORT(pong) void pong(void) {
 *     char buf[64]; rusm_msg m;
 *     for (;;) {
 *       int32_t n = rusm_receive(&m, buf, sizeof buf);
 *       rusm_send(m.from, m.tag, buf, n);
 *     }
 *   }
 *   ...  rusm_pid p = rusm_spawn("pong", 0, 0);
 */
#ifndef RUSM_GUEST_H
#define RUSM_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN generated: version (abi/rusm.toml, scripts/abi.py) */
#define RUSM_ABI_VERSION 10
/* END generated */

/* Export a function so that processes can be spawned running it. */
#define RUSM_EXPORT(name) __attribute__((export_name(#name)))
#define RUSM_IMPORT_(name) __attribute__((import_module("rusm"), import_name(#name)))

/* The structs below are laid out as abi/rusm.toml says (checked on wasm32). */
#ifdef __cplusplus
#define RUSM_LAYOUT_(type, size) \
  static_assert(sizeof(void*) != 4 || sizeof(type) == (size), #type ": see abi/rusm.toml")
#else
#define RUSM_LAYOUT_(type, size) \
  _Static_assert(sizeof(void*) != 4 || sizeof(type) == (size), #type ": see abi/rusm.toml")
#endif

typedef uint64_t rusm_pid; /* 0 = no process */
typedef uint64_t rusm_ref;

/* BEGIN generated: errors (abi/rusm.toml, scripts/abi.py) */
enum {
  RUSM_OK = 0,
  RUSM_ETIMEOUT = -1,
  RUSM_ENOPROC = -2,
  RUSM_EBADARG = -3,
  RUSM_EDENIED = -4,
  RUSM_ENOTFOUND = -5,
  RUSM_EEXISTS = -6,
  RUSM_EFULL = -7,
  RUSM_ENOMSG = -8,
  RUSM_ELIMIT = -9,
  RUSM_ENOTSUP = -10,
  RUSM_ECLOSED = -11,   /* v3: the connection is gone (client closed, deadline, shutdown) */
  RUSM_ETOOLARGE = -12, /* v3: request body or WebSocket message over its limit */
  RUSM_EBADSTATE = -13, /* v3: the call makes no sense now (write before start, after finish) */
  RUSM_ENOTCONN = -14,  /* v4: the pid's (name's) node is not connected; fetch: host unreachable */
  RUSM_EAUTH = -15,     /* v6: a tag, signature or (fetch) server certificate does not verify */
  RUSM_ECONFLICT = -16, /* v8: kv: compare-and-swap or a batch's check found another value */
  RUSM_EIO = -17,       /* v8: kv: the commit failed, nothing applied; fetch: not valid HTTP */
};
/* END generated */

/* Reserved tags: trapped exit signals and monitor notifications. */
#define RUSM_TAG_EXIT 0xFFFFFFFFFFFFFF01ull
#define RUSM_TAG_DOWN 0xFFFFFFFFFFFFFF02ull
/* A supervisor's reply that arrived after its call timed out (ignore it). */
#define RUSM_TAG_SUPERVISOR_REPLY 0xFFFFFFFFFFFFFF17ull
/* v3: WebSocket frames delivered to a ws handler process (docs/abi.md). */
#define RUSM_TAG_WS_TEXT 0xFFFFFFFFFFFFFF20ull
#define RUSM_TAG_WS_BINARY 0xFFFFFFFFFFFFFF21ull
#define RUSM_TAG_WS_CLOSE 0xFFFFFFFFFFFFFF22ull
/* v4: rusm_monitor_node's messages; payload: u16 node id, little-endian
 * (also the header's ref). */
#define RUSM_TAG_NODE_UP 0xFFFFFFFFFFFFFF03ull
#define RUSM_TAG_NODE_DOWN 0xFFFFFFFFFFFFFF04ull
/* v5: the answer to a rusm_spawn_on that arrived after the call timed out
 * (payload: u64 pid, u64 monitor ref, i32 code). */
#define RUSM_TAG_SPAWN_REPLY 0xFFFFFFFFFFFFFF18ull
#define RUSM_TAG_RESERVED 0xFFFFFFFFFFFFFF00ull /* tags >= this cannot be sent */

/* Exit reason kinds (in EXIT/DOWN payloads and for rusm_exit*). */
enum {
  RUSM_NORMAL = 0,
  RUSM_SHUTDOWN = 1,
  RUSM_KILLED = 2,       /* in payloads */
  RUSM_KILL = 3,         /* as a signal: untrappable */
  RUSM_NOPROC = 4,       /* in payloads */
  RUSM_ERROR = 5,        /* in payloads */
  RUSM_NOCONNECTION = 6, /* in payloads: the process's node is not connected */
};
#define RUSM_EXIT_ERROR 2 /* kind for rusm_exit / rusm_exit_pid */

/* Capability bits. */
enum {
  RUSM_CAP_STDIO = 1 << 0,
  RUSM_CAP_ENV = 1 << 1,
  RUSM_CAP_FS = 1 << 2,
  RUSM_CAP_CLOCK = 1 << 3,
  RUSM_CAP_RANDOM = 1 << 4,
  RUSM_CAP_SPAWN = 1 << 5,
  RUSM_CAP_PROC = 1 << 6,
  RUSM_CAP_REGISTRY = 1 << 7,
  RUSM_CAP_CRYPTO = 1 << 8, /* v6: the crypto_* calls */
  RUSM_CAP_PUBSUB = 1 << 9, /* v7: subscribe, publish */
  RUSM_CAP_KV = 1 << 10,    /* v8: the kv_* calls, on the buckets granted */
  RUSM_CAP_NET = 1 << 11,   /* v9: fetch, to the hosts granted */
};

/* BEGIN generated: structs core (abi/rusm.toml, scripts/abi.py) */
/* The header of a received message. */
typedef struct {
  uint64_t tag;
  rusm_pid from;
  uint64_t ref; /* DOWN: the monitor reference */
  uint32_t size;
  uint32_t reserved;
} rusm_msg;
RUSM_LAYOUT_(rusm_msg, 32);

/* Payload of an EXIT message; `detail_len` bytes of detail follow. */
typedef struct {
  rusm_pid from;
  uint32_t kind;
  uint32_t detail_len;
} rusm_exit_payload;
RUSM_LAYOUT_(rusm_exit_payload, 16);

/* Payload of a DOWN message; `detail_len` bytes of detail follow. */
typedef struct {
  rusm_ref ref;
  rusm_pid from;
  uint32_t kind;
  uint32_t detail_len;
} rusm_down_payload;
RUSM_LAYOUT_(rusm_down_payload, 24);
/* END generated */

#define RUSM_SPAWN_LINK 1u
#define RUSM_SPAWN_MONITOR 2u
#define RUSM_SPAWN_TRAP_EXIT 4u
#define RUSM_SPAWN_CAPS 8u /* `caps` is set (else the child inherits) */
/* v10: the child is a template: when its entry function returns, its state
 * is kept for rusm_spawn_from (docs/abi.md, "Templates"). */
#define RUSM_SPAWN_TEMPLATE 16u

/* BEGIN generated: structs spawn (abi/rusm.toml, scripts/abi.py) */
typedef struct {
  uint32_t flags;
  uint32_t mailbox_bound;    /* 0 = unbounded */
  uint32_t max_memory_pages; /* 0 = the parent's limit */
  uint32_t caps;             /* with RUSM_SPAWN_CAPS; never more than the parent's */
  const char* label;
  uint32_t label_len;
} rusm_spawn_opts;
RUSM_LAYOUT_(rusm_spawn_opts, 24);

typedef struct {
  rusm_pid pid;
  rusm_ref monitor;
} rusm_spawned;
RUSM_LAYOUT_(rusm_spawned, 16);

/* v5: the payload of a RUSM_TAG_SPAWN_REPLY message (a rusm_spawn_on answer that came late). */
typedef struct {
  rusm_pid pid;
  rusm_ref monitor;
  int32_t code;
  int32_t unused;
} rusm_spawn_reply;
RUSM_LAYOUT_(rusm_spawn_reply, 24);
/* END generated */

/* ---- raw imports (docs/abi.md) */
/* BEGIN generated: imports core (abi/rusm.toml, scripts/abi.py) */
RUSM_IMPORT_(abi_version) int32_t rusm_abi_version(void);
RUSM_IMPORT_(self) rusm_pid rusm_self(void);
RUSM_IMPORT_(parent) rusm_pid rusm_parent(void);
RUSM_IMPORT_(spawn)
int32_t __rusm_spawn(const char* fn, uint32_t fn_len, const uint64_t* args, uint32_t nargs,
                     const rusm_spawn_opts* opts, rusm_spawned* out);
RUSM_IMPORT_(spawn_module)
int32_t __rusm_spawn_module(const char* mod, uint32_t mod_len, const char* fn, uint32_t fn_len,
                            const uint64_t* args, uint32_t nargs, const rusm_spawn_opts* opts,
                            rusm_spawned* out);
/* Waits until the template process `tmpl` (spawned with RUSM_SPAWN_TEMPLATE) returned from its
 * entry function: OK, or EBADSTATE (it ended otherwise), ENOTFOUND, ETIMEOUT. */
RUSM_IMPORT_(template_wait) int32_t rusm_template_wait(rusm_pid tmpl, int64_t timeout_ns);
/* spawn, the child's instance starting in the state template `tmpl` left (memory, globals,
 * tables): its start function and initialization do not run again. ENOTFOUND (no such template in
 * the family), EBADSTATE (not ready). */
RUSM_IMPORT_(spawn_from)
int32_t __rusm_spawn_from(rusm_pid tmpl, const char* fn, uint32_t fn_len, const uint64_t* args,
                          uint32_t nargs, const rusm_spawn_opts* opts, rusm_spawned* out);
RUSM_IMPORT_(exit) void __rusm_exit(int32_t kind, const char* detail, uint32_t len);
RUSM_IMPORT_(exit_pid)
int32_t __rusm_exit_pid(rusm_pid pid, int32_t kind, const char* detail, uint32_t len);
RUSM_IMPORT_(is_alive) int32_t rusm_is_alive(rusm_pid pid);
RUSM_IMPORT_(process_info) int32_t rusm_process_info(rusm_pid pid, char* buf, uint32_t cap);
RUSM_IMPORT_(processes) int32_t rusm_processes(rusm_pid* buf, uint32_t max);
RUSM_IMPORT_(set_label) int32_t __rusm_set_label(const char* s, uint32_t len);
RUSM_IMPORT_(send) int32_t rusm_send(rusm_pid to, uint64_t tag, const void* data, uint32_t len);
RUSM_IMPORT_(send_name)
int32_t __rusm_send_name(const char* name, uint32_t name_len, uint64_t tag, const void* data,
                         uint32_t len);
RUSM_IMPORT_(receive)
int32_t __rusm_receive(uint64_t tag, int32_t use_tag, int64_t timeout_ns, rusm_msg* hdr, void* buf,
                       uint32_t cap);
RUSM_IMPORT_(message_read) int32_t rusm_message_read(uint32_t offset, void* buf, uint32_t len);
RUSM_IMPORT_(link) int32_t rusm_link(rusm_pid pid);
RUSM_IMPORT_(unlink) int32_t rusm_unlink(rusm_pid pid);
RUSM_IMPORT_(monitor) int64_t rusm_monitor(rusm_pid pid);
RUSM_IMPORT_(demonitor) int32_t rusm_demonitor(rusm_ref ref, int32_t flush);
RUSM_IMPORT_(trap_exit) int32_t rusm_trap_exit(int32_t on);
RUSM_IMPORT_(register) int32_t __rusm_register(const char* name, uint32_t len);
RUSM_IMPORT_(unregister) int32_t __rusm_unregister(const char* name, uint32_t len);
RUSM_IMPORT_(whereis) int64_t __rusm_whereis(const char* name, uint32_t len);
/* v4: nodes of the cluster (docs/abi.md, "Nodes"). */
RUSM_IMPORT_(node_self) int32_t rusm_node_self(void);
RUSM_IMPORT_(nodes) int32_t rusm_nodes(uint32_t* ids, uint32_t max);
RUSM_IMPORT_(node_name) int32_t rusm_node_name(uint32_t node, char* buf, uint32_t cap);
RUSM_IMPORT_(monitor_node) int32_t rusm_monitor_node(uint32_t node, int32_t on);
/* v5: spawn on another node (docs/abi.md, "Nodes"). */
RUSM_IMPORT_(spawn_on)
int32_t __rusm_spawn_on(uint32_t node, const char* mod, uint32_t mod_len, const char* fn,
                        uint32_t fn_len, const uint64_t* args, uint32_t nargs,
                        const rusm_spawn_opts* opts, rusm_spawned* out, int64_t timeout_ns);
RUSM_IMPORT_(register_global) int32_t __rusm_register_global(const char* name, uint32_t len);
RUSM_IMPORT_(unregister_global) int32_t __rusm_unregister_global(const char* name, uint32_t len);
RUSM_IMPORT_(whereis_global) int64_t __rusm_whereis_global(const char* name, uint32_t len);
RUSM_IMPORT_(send_global)
int32_t __rusm_send_global(const char* name, uint32_t name_len, uint64_t tag, const void* data,
                           uint32_t len);
RUSM_IMPORT_(send_named)
int32_t __rusm_send_named(uint32_t node, const char* name, uint32_t name_len, uint64_t tag,
                          const void* data, uint32_t len);
RUSM_IMPORT_(send_after)
int64_t rusm_send_after(int64_t delay_ns, rusm_pid to, uint64_t tag, const void* data,
                        uint32_t len);
RUSM_IMPORT_(cancel_timer) int64_t rusm_cancel_timer(int64_t timer);
RUSM_IMPORT_(sleep) void rusm_sleep_ns(int64_t ns);
RUSM_IMPORT_(yield) void rusm_yield(void);
RUSM_IMPORT_(supervisor_start) int64_t __rusm_supervisor_start(const void* spec, uint32_t len);
RUSM_IMPORT_(supervisor_start_child)
int64_t __rusm_supervisor_start_child(int64_t sup, const uint64_t* args, uint32_t nargs,
                                      int64_t timeout_ns);
RUSM_IMPORT_(supervisor_terminate_child)
int32_t __rusm_supervisor_terminate_child(int64_t sup, int64_t child, int64_t timeout_ns);
RUSM_IMPORT_(supervisor_which_children)
int32_t __rusm_supervisor_which_children(int64_t sup, rusm_pid* out, uint32_t cap,
                                         int64_t timeout_ns);
/* v7: topics (publish/subscribe across the cluster; docs/abi.md, "Topics"). */
RUSM_IMPORT_(subscribe) int32_t __rusm_subscribe(const char* topic, uint32_t len);
RUSM_IMPORT_(unsubscribe) int32_t __rusm_unsubscribe(const char* topic, uint32_t len);
RUSM_IMPORT_(publish)
int32_t __rusm_publish(const char* topic, uint32_t topic_len, uint64_t tag, const void* data,
                       uint32_t len);
/* END generated */

/* ---- convenience wrappers */

static inline rusm_pid rusm_spawn_opt(const char* fn, const uint64_t* args, uint32_t nargs,
                                      const rusm_spawn_opts* opts, rusm_spawned* out) {
  rusm_spawned s = {0, 0};
  int32_t r = __rusm_spawn(fn, (uint32_t)strlen(fn), args, nargs, opts, &s);
  if (out)
    *out = s;
  return r < 0 ? 0 : s.pid;
}
/* Spawns exported function `fn` of this module with i32/i64 args; 0 on error. */
static inline rusm_pid rusm_spawn(const char* fn, const uint64_t* args, uint32_t nargs) {
  return rusm_spawn_opt(fn, args, nargs, 0, 0);
}
static inline rusm_pid rusm_spawn_link(const char* fn, const uint64_t* args, uint32_t nargs) {
  rusm_spawn_opts o = {RUSM_SPAWN_LINK, 0, 0, 0, 0, 0};
  return rusm_spawn_opt(fn, args, nargs, &o, 0);
}
static inline rusm_pid rusm_spawn_monitor(const char* fn, const uint64_t* args, uint32_t nargs,
                                          rusm_ref* ref) {
  rusm_spawn_opts o = {RUSM_SPAWN_MONITOR, 0, 0, 0, 0, 0};
  rusm_spawned s;
  rusm_pid p = rusm_spawn_opt(fn, args, nargs, &o, &s);
  if (ref)
    *ref = s.monitor;
  return p;
}
/* v10 templates (docs/abi.md, "Templates"): spawns `fn` as a template
 * process; when it returns, rusm_spawn_from starts processes from its state. */
static inline rusm_pid rusm_spawn_template(const char* fn, const uint64_t* args, uint32_t nargs) {
  rusm_spawn_opts o = {RUSM_SPAWN_TEMPLATE, 0, 0, 0, 0, 0};
  return rusm_spawn_opt(fn, args, nargs, &o, 0);
}
/* Spawns `fn` of the template's module, starting in the template's state. */
static inline int32_t rusm_spawn_from(rusm_pid tmpl, const char* fn, const uint64_t* args,
                                      uint32_t nargs, const rusm_spawn_opts* opts,
                                      rusm_spawned* out) {
  return __rusm_spawn_from(tmpl, fn, (uint32_t)strlen(fn), args, nargs, opts, out);
}
/* Spawns function `fn` of the module registered as `module`. */
static inline int32_t rusm_spawn_module(const char* module, const char* fn, const uint64_t* args,
                                        uint32_t nargs, const rusm_spawn_opts* opts,
                                        rusm_spawned* out) {
  return __rusm_spawn_module(module, (uint32_t)strlen(module), fn, (uint32_t)strlen(fn), args,
                             nargs, opts, out);
}

/* v5: rusm_spawn_module on node `node` of the cluster (this node's id
 * spawns here). The module (loaded on this node under that name) is sent
 * to the other node on first use; the process waits for the answer, up to
 * timeout_ns (negative: until the answer or the node going down). With
 * RUSM_SPAWN_LINK / RUSM_SPAWN_MONITOR the child is linked / monitored
 * atomically with the spawn. Errors: RUSM_ENOTCONN (not connected, or the
 * node went down), RUSM_EDENIED (no spawn capability, or the node takes no
 * spawns from peers), RUSM_ENOTFOUND (no such module here or function
 * there), RUSM_EBADARG, RUSM_ELIMIT, RUSM_ETIMEOUT. */
static inline int32_t rusm_spawn_on(uint32_t node, const char* module, const char* fn,
                                    const uint64_t* args, uint32_t nargs,
                                    const rusm_spawn_opts* opts, rusm_spawned* out,
                                    int64_t timeout_ns) {
  return __rusm_spawn_on(node, module, (uint32_t)strlen(module), fn, (uint32_t)strlen(fn), args,
                         nargs, opts, out, timeout_ns);
}

__attribute__((noreturn)) static inline void rusm_exit(int32_t kind, const char* detail) {
  __rusm_exit(kind, detail, detail ? (uint32_t)strlen(detail) : 0);
  __builtin_unreachable();
}
__attribute__((noreturn)) static inline void rusm_exit_error(const char* detail) {
  rusm_exit(RUSM_EXIT_ERROR, detail);
}
static inline int32_t rusm_exit_pid(rusm_pid pid, int32_t kind, const char* detail) {
  return __rusm_exit_pid(pid, kind, detail, detail ? (uint32_t)strlen(detail) : 0);
}
static inline int32_t rusm_kill(rusm_pid pid) {
  return __rusm_exit_pid(pid, RUSM_KILL, 0, 0);
}
static inline int32_t rusm_set_label(const char* s) {
  return __rusm_set_label(s, (uint32_t)strlen(s));
}

static inline int32_t rusm_send_str(rusm_pid to, uint64_t tag, const char* s) {
  return rusm_send(to, tag, s, (uint32_t)strlen(s));
}
static inline int32_t rusm_send_u64(rusm_pid to, uint64_t tag, uint64_t v) {
  return rusm_send(to, tag, &v, 8);
}
static inline int32_t rusm_send_name(const char* name, uint64_t tag, const void* data,
                                     uint32_t len) {
  return __rusm_send_name(name, (uint32_t)strlen(name), tag, data, len);
}

/* Receives the oldest message (blocking). Copies up to `cap` payload bytes to
 * buf and returns the payload size; if it is larger than cap, read the rest
 * with rusm_message_read (the message stays current until the next receive). */
static inline int32_t rusm_receive(rusm_msg* m, void* buf, uint32_t cap) {
  return __rusm_receive(0, 0, -1, m, buf, cap);
}
/* As rusm_receive, giving up after timeout_ns (RUSM_ETIMEOUT); -1 = never. */
static inline int32_t rusm_receive_timeout(rusm_msg* m, void* buf, uint32_t cap,
                                           int64_t timeout_ns) {
  return __rusm_receive(0, 0, timeout_ns, m, buf, cap);
}
/* The oldest message with this tag; others stay queued. */
static inline int32_t rusm_receive_tag(uint64_t tag, rusm_msg* m, void* buf, uint32_t cap,
                                       int64_t timeout_ns) {
  return __rusm_receive(tag, 1, timeout_ns, m, buf, cap);
}
static inline uint64_t rusm_receive_u64(rusm_msg* m) {
  uint64_t v = 0;
  rusm_receive(m, &v, 8);
  return v;
}

static inline int32_t rusm_register(const char* name) {
  return __rusm_register(name, (uint32_t)strlen(name));
}
static inline int32_t rusm_unregister(const char* name) {
  return __rusm_unregister(name, (uint32_t)strlen(name));
}
/* The pid registered as name; 0 if none (negative if denied). */
static inline int64_t rusm_whereis(const char* name) {
  return __rusm_whereis(name, (uint32_t)strlen(name));
}
/* v4: to the process registered as name on node (rusm_node_self() for this
 * one). RUSM_ENOTFOUND (no such name here), RUSM_ENOTCONN (node not up). */
static inline int32_t rusm_send_named(uint32_t node, const char* name, uint64_t tag,
                                      const void* data, uint32_t len) {
  return __rusm_send_named(node, name, (uint32_t)strlen(name), tag, data, len);
}
/* v4: global names, one pid for a name on every node of the cluster
 * (docs/cluster.md, "Global names"). rusm_register_global names the caller:
 * RUSM_EEXISTS if the name is taken, RUSM_EBADARG if empty or over 255 bytes,
 * RUSM_ELIMIT if the node's registry is full. */
static inline int32_t rusm_register_global(const char* name) {
  return __rusm_register_global(name, (uint32_t)strlen(name));
}
static inline int32_t rusm_unregister_global(const char* name) {
  return __rusm_unregister_global(name, (uint32_t)strlen(name));
}
/* v7: topics. A subscriber gets each message published on the topic (from
 * any node of the cluster) as a plain message, tag and payload as published,
 * from the publisher. rusm_publish returns how many copies went out (local
 * subscribers, plus one per other node with subscribers). */
static inline int32_t rusm_subscribe(const char* topic) {
  return __rusm_subscribe(topic, (uint32_t)strlen(topic));
}
static inline int32_t rusm_unsubscribe(const char* topic) {
  return __rusm_unsubscribe(topic, (uint32_t)strlen(topic));
}
static inline int32_t rusm_publish(const char* topic, uint64_t tag, const void* data,
                                   uint32_t len) {
  return __rusm_publish(topic, (uint32_t)strlen(topic), tag, data, len);
}
/* The pid registered globally as name; 0 if none. */
static inline int64_t rusm_whereis_global(const char* name) {
  return __rusm_whereis_global(name, (uint32_t)strlen(name));
}
static inline int32_t rusm_send_global(const char* name, uint64_t tag, const void* data,
                                       uint32_t len) {
  return __rusm_send_global(name, (uint32_t)strlen(name), tag, data, len);
}
static inline void rusm_sleep_ms(int64_t ms) {
  rusm_sleep_ns(ms * 1000000);
}

/* ---- supervisors */
enum {
  RUSM_ONE_FOR_ONE = 0,
  RUSM_ONE_FOR_ALL = 1,
  RUSM_REST_FOR_ONE = 2,
  RUSM_SIMPLE_ONE_FOR_ONE = 3 /* one template child; children added by start_child */
};
enum { RUSM_PERMANENT = 0, RUSM_TRANSIENT = 1, RUSM_TEMPORARY = 2 };

/* BEGIN generated: structs supervisor (abi/rusm.toml, scripts/abi.py) */
typedef struct {
  const char* id;
  uint32_t id_len;
  const char* module; /* 0/"" = this module */
  uint32_t module_len;
  const char* fn;
  uint32_t fn_len;
  const uint64_t* args;
  uint32_t nargs;
  uint32_t restart;
  uint32_t shutdown_ms;
  uint32_t flags; /* RUSM_SPAWN_CAPS to set caps; v10 RUSM_SPAWN_TEMPLATE: args[0] is a template */
  uint32_t caps;
} rusm_child_spec;
RUSM_LAYOUT_(rusm_child_spec, 48);

typedef struct {
  uint32_t strategy;
  uint32_t max_restarts;
  uint32_t max_seconds_ms;
  uint32_t nchildren;
} rusm_sup_header;
RUSM_LAYOUT_(rusm_sup_header, 16);
/* END generated */

/* A child running this module's exported function fn(args...). */
static inline rusm_child_spec rusm_child(const char* id, const char* fn, const uint64_t* args,
                                         uint32_t nargs, uint32_t restart) {
  rusm_child_spec c = {
      id, (uint32_t)strlen(id), 0, 0, fn, (uint32_t)strlen(fn), args, nargs, restart, 1000, 0, 0};
  return c;
}

/* Starts a supervisor linked to the caller; returns its pid or a negative error. */
static inline int64_t rusm_supervisor_start(uint32_t strategy, uint32_t max_restarts,
                                            uint32_t max_seconds_ms,
                                            const rusm_child_spec* children, uint32_t n) {
  uint32_t len = (uint32_t)(sizeof(rusm_sup_header) + n * sizeof(rusm_child_spec));
  unsigned char* buf = (unsigned char*)__builtin_alloca(len);
  rusm_sup_header h = {strategy, max_restarts, max_seconds_ms, n};
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, children, n * sizeof(rusm_child_spec));
  return __rusm_supervisor_start(buf, len);
}

/* simple_one_for_one: starts a child from the template, appending args to the
 * template's own; returns its pid or a negative error (EBADARG: not a
 * simple_one_for_one supervisor or the argument count does not fit;
 * ENOPROC: no such supervisor; ETIMEOUT; ELIMIT: the child could not start).
 * timeout_ms < 0 waits forever (the call still ends if the supervisor dies). */
static inline int64_t rusm_supervisor_start_child(rusm_pid sup, const uint64_t* args,
                                                  uint32_t nargs, int64_t timeout_ms) {
  return __rusm_supervisor_start_child((int64_t)sup, args, nargs,
                                       timeout_ms < 0 ? -1 : timeout_ms * 1000000);
}
/* Stops a child (shutdown, then kill after its shutdown time) and forgets it:
 * RUSM_OK or ENOTFOUND (not a live child), ENOPROC, ETIMEOUT. */
static inline int32_t rusm_supervisor_terminate_child(rusm_pid sup, rusm_pid child,
                                                      int64_t timeout_ms) {
  return __rusm_supervisor_terminate_child((int64_t)sup, (int64_t)child,
                                           timeout_ms < 0 ? -1 : timeout_ms * 1000000);
}
/* The live children in start order: writes up to cap pids, returns how many
 * there are (may exceed cap) or a negative error. */
static inline int32_t rusm_supervisor_which_children(rusm_pid sup, rusm_pid* out, uint32_t cap,
                                                     int64_t timeout_ms) {
  return __rusm_supervisor_which_children((int64_t)sup, out, cap,
                                          timeout_ms < 0 ? -1 : timeout_ms * 1000000);
}

/* ---- v3: serving, HTTP and SSE (http and sse routes; docs/abi.md "Serving") */
/* A handler process's entry takes its request: RUSM_EXPORT(handle) void handle(rusm_req req).
 * Header blocks are "Name: value\n" lines (NULL = none). The copy calls return
 * the full length (copy truncated to cap). http_read, http_write and
 * http_send_event suspend the process (not a thread) until the bytes are in. */
typedef int32_t rusm_req;
/* BEGIN generated: imports http (abi/rusm.toml, scripts/abi.py) */
RUSM_IMPORT_(http_method) int32_t rusm_http_method(rusm_req req, char* buf, uint32_t cap);
RUSM_IMPORT_(http_target) int32_t rusm_http_target(rusm_req req, char* buf, uint32_t cap);
RUSM_IMPORT_(http_path) int32_t rusm_http_path(rusm_req req, char* buf, uint32_t cap);
RUSM_IMPORT_(http_query) int32_t rusm_http_query(rusm_req req, char* buf, uint32_t cap);
RUSM_IMPORT_(http_peer) int32_t rusm_http_peer(rusm_req req, char* buf, uint32_t cap);
RUSM_IMPORT_(http_headers) int32_t rusm_http_headers(rusm_req req, char* buf, uint32_t cap);
RUSM_IMPORT_(http_header)
int32_t __rusm_http_header(rusm_req req, const char* name, uint32_t name_len, char* buf,
                           uint32_t cap);
RUSM_IMPORT_(http_param)
int32_t __rusm_http_param(rusm_req req, const char* name, uint32_t name_len, char* buf,
                          uint32_t cap);
/* Next body bytes (up to cap); 0 at the end of the body. */
RUSM_IMPORT_(http_read) int32_t rusm_http_read(rusm_req req, void* buf, uint32_t cap);
RUSM_IMPORT_(http_start)
int32_t __rusm_http_start(rusm_req req, int32_t status, const char* headers, uint32_t headers_len,
                          int64_t content_length);
RUSM_IMPORT_(http_write) int32_t rusm_http_write(rusm_req req, const void* data, uint32_t len);
RUSM_IMPORT_(http_finish) int32_t rusm_http_finish(rusm_req req);
RUSM_IMPORT_(http_respond)
int32_t __rusm_http_respond(rusm_req req, int32_t status, const char* headers, uint32_t headers_len,
                            const void* body, uint32_t body_len);
RUSM_IMPORT_(http_start_events)
int32_t __rusm_http_start_events(rusm_req req, const char* headers, uint32_t headers_len);
RUSM_IMPORT_(http_send_event)
int32_t __rusm_http_send_event(rusm_req req, const char* event, uint32_t event_len,
                               const void* data, uint32_t data_len);
/* END generated */

#define RUSM_HTTP_UNKNOWN_LENGTH (-1) /* http_start: chunked (HTTP/1.0: close-delimited) */

static inline uint32_t rusm_strlen_or0_(const char* s) {
  return s ? (uint32_t)strlen(s) : 0;
}
/* Header `name` (case-insensitive); RUSM_ENOTFOUND if absent. */
static inline int32_t rusm_http_header(rusm_req req, const char* name, char* buf, uint32_t cap) {
  return __rusm_http_header(req, name, (uint32_t)strlen(name), buf, cap);
}
/* Route parameter ("/users/{id}" -> "id"; "*" = a prefix route's rest). */
static inline int32_t rusm_http_param(rusm_req req, const char* name, char* buf, uint32_t cap) {
  return __rusm_http_param(req, name, (uint32_t)strlen(name), buf, cap);
}
/* content_length -1 (RUSM_HTTP_UNKNOWN_LENGTH): chunked. */
static inline int32_t rusm_http_start(rusm_req req, int32_t status, const char* headers,
                                      int64_t content_length) {
  return __rusm_http_start(req, status, headers, rusm_strlen_or0_(headers), content_length);
}
static inline int32_t rusm_http_write_str(rusm_req req, const char* s) {
  return rusm_http_write(req, s, (uint32_t)strlen(s));
}
/* The whole response in one call. */
static inline int32_t rusm_http_respond(rusm_req req, int32_t status, const char* headers,
                                        const void* body, uint32_t body_len) {
  return __rusm_http_respond(req, status, headers, rusm_strlen_or0_(headers), body, body_len);
}
static inline int32_t rusm_http_respond_str(rusm_req req, int32_t status, const char* headers,
                                            const char* body) {
  return rusm_http_respond(req, status, headers, body, rusm_strlen_or0_(body));
}
/* Server-Sent Events: 200, text/event-stream, no caching (plus `headers`). */
static inline int32_t rusm_http_start_events(rusm_req req, const char* headers) {
  return __rusm_http_start_events(req, headers, rusm_strlen_or0_(headers));
}
/* One event: "event: <event>" unless event is NULL or "", a "data:" line per
 * line of data. Suspends until the connection takes it. */
static inline int32_t rusm_http_send_event(rusm_req req, const char* event, const void* data,
                                           uint32_t data_len) {
  return __rusm_http_send_event(req, event, rusm_strlen_or0_(event), data, data_len);
}
static inline int32_t rusm_http_send_event_str(rusm_req req, const char* event, const char* data) {
  return rusm_http_send_event(req, event, data, rusm_strlen_or0_(data));
}
/* Reads the body into buf until it ends or buf is full; returns the bytes
 * read (cap if the body may be longer) or a negative error. */
static inline int32_t rusm_http_read_all(rusm_req req, void* buf, uint32_t cap) {
  uint32_t got = 0;
  while (got < cap) {
    int32_t n = rusm_http_read(req, (char*)buf + got, cap - got);
    if (n < 0)
      return n;
    if (n == 0)
      break;
    got += (uint32_t)n;
  }
  return (int32_t)got;
}

/* ---- v3: serving, WebSocket (ws routes; docs/abi.md "Serving") */
/* A ws route's entry is `void handle(int32_t ws)`: `ws` is the connection.
 * Frames arrive in the mailbox as messages tagged RUSM_TAG_WS_TEXT or
 * RUSM_TAG_WS_BINARY (payload: the message's bytes), then one
 * RUSM_TAG_WS_CLOSE (payload: u16 close code, little-endian, then the
 * reason; 1006 if the connection dropped without a close frame) when the
 * connection ends; receive them with rusm_receive like any message. The
 * connection closes when the process ends (1000, or 1011 if it crashed); a
 * process still alive 5 s after the connection closed is killed. */
#define RUSM_WS_TEXT 1
#define RUSM_WS_BINARY 0

/* BEGIN generated: imports ws (abi/rusm.toml, scripts/abi.py) */
/* Sends one message and waits until the connection's write buffer took it:
 * RUSM_OK, ECLOSED (the connection is closing or gone), EBADARG. */
RUSM_IMPORT_(ws_send)
int32_t rusm_ws_send(int32_t ws, int32_t text, const void* data, uint32_t len);
/* A ping (payload at most 125 bytes): RUSM_OK, ECLOSED, EBADARG. */
RUSM_IMPORT_(ws_ping) int32_t rusm_ws_ping(int32_t ws, const void* data, uint32_t len);
/* Starts the close handshake with `code` (1000-1014 except 1004-1006, or
 * 3000-4999) and a reason of at most 123 bytes; the CLOSE message follows.
 * RUSM_OK, ECLOSED (already closing), EBADARG. */
RUSM_IMPORT_(ws_close)
int32_t rusm_ws_close(int32_t ws, int32_t code, const char* reason, uint32_t len);
/* The upgrade request: copy up to cap bytes, return the full length
 * (ENOTFOUND for a missing header or route parameter, EBADARG). */
RUSM_IMPORT_(ws_path) int32_t rusm_ws_path(int32_t ws, char* buf, uint32_t cap);
RUSM_IMPORT_(ws_query) int32_t rusm_ws_query(int32_t ws, char* buf, uint32_t cap);
RUSM_IMPORT_(ws_header)
int32_t __rusm_ws_header(int32_t ws, const char* name, uint32_t name_len, char* buf, uint32_t cap);
RUSM_IMPORT_(ws_param)
int32_t __rusm_ws_param(int32_t ws, const char* name, uint32_t name_len, char* buf, uint32_t cap);
/* END generated */
static inline int32_t rusm_ws_send_text(int32_t ws, const char* s) {
  return rusm_ws_send(ws, RUSM_WS_TEXT, s, (uint32_t)strlen(s));
}
static inline int32_t rusm_ws_header(int32_t ws, const char* name, char* buf, uint32_t cap) {
  return __rusm_ws_header(ws, name, (uint32_t)strlen(name), buf, cap);
}
static inline int32_t rusm_ws_param(int32_t ws, const char* name, char* buf, uint32_t cap) {
  return __rusm_ws_param(ws, name, (uint32_t)strlen(name), buf, cap);
}
/* The close code of a RUSM_TAG_WS_CLOSE payload (n bytes at p). */
static inline uint32_t rusm_ws_close_code(const void* p, int32_t n) {
  const uint8_t* b = (const uint8_t*)p;
  return n >= 2 ? (uint32_t)b[0] | ((uint32_t)b[1] << 8) : 1005;
}

/* ---- crypto (v6, docs/crypto.md): digests, HMAC, HKDF, AEAD, signatures,
 * secure random, constant-time compare; cap crypto. Keys stay in the host:
 * a handle names one, and its bytes leave only through crypto_key_export
 * of a key made RUSM_KEY_EXPORTABLE. Calls that write return the bytes
 * written; an output buffer too small is EBADARG (a truncated digest, tag or
 * signature is of no use). */
/* BEGIN generated: constants crypto (abi/rusm.toml, scripts/abi.py) */
/* crypto_digest, crypto_hmac, crypto_hkdf: the hash. */
enum {
  RUSM_HASH_SHA256 = 1,
  RUSM_HASH_SHA384 = 2,
  RUSM_HASH_SHA512 = 3,
  RUSM_HASH_BLAKE2B512 = 4,
  RUSM_HASH_BLAKE2S256 = 5,
};

/* crypto_key_*: what a key is for. */
enum {
  RUSM_KEY_AES128_GCM = 1,
  RUSM_KEY_AES256_GCM = 2,
  RUSM_KEY_CHACHA20_POLY1305 = 3,
  RUSM_KEY_ED25519 = 4,
  RUSM_KEY_ECDSA_P256 = 5,
};

/* crypto_key_generate / _import flags: the key's bytes may leave the host (crypto_key_export). */
enum {
  RUSM_KEY_EXPORTABLE = 1,
};
/* END generated */
/* BEGIN generated: imports crypto (abi/rusm.toml, scripts/abi.py) */
RUSM_IMPORT_(crypto_random) int32_t rusm_crypto_random(void* buf, uint32_t len);
RUSM_IMPORT_(crypto_digest)
int32_t rusm_crypto_digest(int32_t alg, const void* data, uint32_t len, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_hmac)
int32_t rusm_crypto_hmac(int32_t alg, const void* key, uint32_t key_len, const void* data,
                         uint32_t len, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_hkdf)
int32_t rusm_crypto_hkdf(int32_t alg, const void* ikm, uint32_t ikm_len, const void* salt,
                         uint32_t salt_len, const void* info, uint32_t info_len, void* out,
                         uint32_t out_len);
/* Keys live in the host; a handle names one (per process, gone at its exit). */
RUSM_IMPORT_(crypto_key_generate) int32_t rusm_crypto_key_generate(int32_t kind, int32_t flags);
RUSM_IMPORT_(crypto_key_import)
int32_t rusm_crypto_key_import(int32_t kind, int32_t flags, const void* bytes, uint32_t len);
RUSM_IMPORT_(crypto_key_export)
int32_t rusm_crypto_key_export(int32_t key, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_key_public)
int32_t rusm_crypto_key_public(int32_t key, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_key_drop) int32_t rusm_crypto_key_drop(int32_t key);
RUSM_IMPORT_(crypto_seal)
int32_t rusm_crypto_seal(int32_t key, const void* nonce, uint32_t nonce_len, const void* aad,
                         uint32_t aad_len, const void* data, uint32_t len, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_open)
int32_t rusm_crypto_open(int32_t key, const void* nonce, uint32_t nonce_len, const void* aad,
                         uint32_t aad_len, const void* data, uint32_t len, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_sign)
int32_t rusm_crypto_sign(int32_t key, const void* data, uint32_t len, void* out, uint32_t cap);
RUSM_IMPORT_(crypto_verify)
int32_t rusm_crypto_verify(int32_t kind, const void* pub, uint32_t pub_len, const void* data,
                           uint32_t len, const void* sig, uint32_t sig_len);
RUSM_IMPORT_(crypto_equal) int32_t rusm_crypto_equal(const void* a, const void* b, uint32_t len);
/* END generated */
static inline int32_t rusm_crypto_sha256(const void* data, uint32_t len, uint8_t out[32]) {
  return rusm_crypto_digest(RUSM_HASH_SHA256, data, len, out, 32);
}

/* ---- kv (v8, docs/kv.md): the node's durable key-value store; cap kv with
 * the bucket granted (--allow kv:BUCKET[:ro]). Each call but kv_open and
 * kv_close suspends the process (never the worker) until the store has
 * committed: a call that returned OK is on disk. */
/* BEGIN generated: constants kv (abi/rusm.toml, scripts/abi.py) */
/* kv_cas flags; kv_list flags. */
enum {
  RUSM_KV_IF_ABSENT = 1,
  RUSM_KV_DELETE = 2,
  RUSM_KV_VALUES = 1,
};

/* rusm_kv_op.kind: a batch's steps. */
enum {
  RUSM_KV_OP_PUT = 1,
  RUSM_KV_OP_DELETE = 2,
  RUSM_KV_OP_CHECK = 3,
  RUSM_KV_OP_CHECK_ABSENT = 4,
};
/* END generated */
/* BEGIN generated: structs kv (abi/rusm.toml, scripts/abi.py) */
/* kv_list: an entry's header, then key_len bytes of key, value_len of value (unaligned). */
typedef struct {
  uint32_t key_len;
  uint32_t value_len;
} rusm_kv_entry;
RUSM_LAYOUT_(rusm_kv_entry, 8);

/* kv_batch: a step's header, then key_len bytes of key, value_len of value (unaligned). */
typedef struct {
  uint32_t kind;
  uint32_t key_len;
  uint32_t value_len;
} rusm_kv_op;
RUSM_LAYOUT_(rusm_kv_op, 12);
/* END generated */
/* BEGIN generated: imports kv (abi/rusm.toml, scripts/abi.py) */
/* A handle on a bucket the process was granted (EDENIED otherwise); gone at its exit. */
RUSM_IMPORT_(kv_open) int32_t rusm_kv_open(const char* bucket, uint32_t len);
RUSM_IMPORT_(kv_close) int32_t rusm_kv_close(int32_t bucket);
/* The value's length (its first `cap` bytes copied to buf), or ENOTFOUND. */
RUSM_IMPORT_(kv_get)
int32_t rusm_kv_get(int32_t bucket, const void* key, uint32_t key_len, void* buf, uint32_t cap);
RUSM_IMPORT_(kv_put)
int32_t rusm_kv_put(int32_t bucket, const void* key, uint32_t key_len, const void* value,
                    uint32_t value_len);
RUSM_IMPORT_(kv_delete) int32_t rusm_kv_delete(int32_t bucket, const void* key, uint32_t key_len);
/* Writes value (or deletes, RUSM_KV_DELETE) only if the key holds `expected` (or is absent,
 * RUSM_KV_IF_ABSENT); else ECONFLICT. */
RUSM_IMPORT_(kv_cas)
int32_t rusm_kv_cas(int32_t bucket, const void* key, uint32_t key_len, const void* expected,
                    uint32_t expected_len, const void* value, uint32_t value_len, int32_t flags);
/* Adds delta to a decimal integer value (a missing key is 0); the sum to *out. */
RUSM_IMPORT_(kv_incr)
int32_t rusm_kv_incr(int32_t bucket, const void* key, uint32_t key_len, int64_t delta,
                     int64_t* out);
/* Entries (rusm_kv_entry, key, value) of the keys with `prefix` after `after`, in byte order;
 * returns how many fit in buf. */
RUSM_IMPORT_(kv_list)
int32_t rusm_kv_list(int32_t bucket, const void* prefix, uint32_t prefix_len, const void* after,
                     uint32_t after_len, void* buf, uint32_t cap, int32_t flags);
/* Runs ops (rusm_kv_op, key, value each) atomically: the checks, then the writes; ECONFLICT with
 * the check's index in *failed. */
RUSM_IMPORT_(kv_batch)
int32_t rusm_kv_batch(int32_t bucket, const void* ops, uint32_t len, int32_t* failed);
/* END generated */

/* Appends one step to a kv_batch buffer of `cap` bytes holding *len bytes;
 * RUSM_EFULL if it does not fit. */
static inline int32_t rusm_kv_batch_add(void* buf, uint32_t cap, uint32_t* len, uint32_t kind,
                                        const void* key, uint32_t key_len, const void* value,
                                        uint32_t value_len) {
  rusm_kv_op op = {kind, key_len, value_len};
  uint64_t need = (uint64_t)*len + sizeof op + key_len + value_len;
  if (need > cap) {
    return RUSM_EFULL;
  }
  uint8_t* p = (uint8_t*)buf + *len;
  __builtin_memcpy(p, &op, sizeof op);
  __builtin_memcpy(p + sizeof op, key, key_len);
  __builtin_memcpy(p + sizeof op + key_len, value, value_len);
  *len = (uint32_t)need;
  return RUSM_OK;
}

/* Reads the entries kv_list wrote, one per call, as many times as it
 * returned: *at starts at 0 and moves past the entry. */
static inline void rusm_kv_next(const void* buf, uint32_t* at, const uint8_t** key,
                                uint32_t* key_len, const uint8_t** value, uint32_t* value_len) {
  const uint8_t* p = (const uint8_t*)buf + *at;
  rusm_kv_entry e;
  __builtin_memcpy(&e, p, sizeof e);
  *key = p + sizeof e;
  *key_len = e.key_len;
  *value = p + sizeof e + e.key_len;
  *value_len = e.value_len;
  *at += (uint32_t)(sizeof e + e.key_len + e.value_len);
}

/* ---- fetch (v9, docs/fetch.md): outbound HTTP and HTTPS; cap net with the
 * host and port granted (--allow-net HOST:PORT). fetch waits for the
 * response's head and fetch_read for body bytes; both suspend the process,
 * never the worker. */
/* BEGIN generated: structs fetch (abi/rusm.toml, scripts/abi.py) */
/* fetch: this, then the method (empty: GET), url, headers ("Name: value\r\n" each), body. */
typedef struct {
  uint32_t method_len;
  uint32_t url_len;
  uint32_t headers_len;
  uint32_t body_len;
  uint32_t timeout_ms;   /* to the head, then between body reads (0: the node's default) */
  uint32_t max_response; /* body bytes at most (0: the node's cap) */
} rusm_fetch_request;
RUSM_LAYOUT_(rusm_fetch_request, 24);

/* fetch_head: the response's status and, after this header, headers_len bytes of headers. */
typedef struct {
  uint32_t status;
  uint32_t headers_len;
  uint64_t content_length; /* UINT64_MAX: not known (chunked, or until close) */
} rusm_fetch_response;
RUSM_LAYOUT_(rusm_fetch_response, 16);
/* END generated */
/* BEGIN generated: imports fetch (abi/rusm.toml, scripts/abi.py) */
/* Sends a request (rusm_fetch_request, then its method, url, headers and body) and waits for the
 * response's head; a handle, or EDENIED, ENOTCONN, ETIMEOUT, EAUTH, EIO, ETOOLARGE. */
RUSM_IMPORT_(fetch) int32_t rusm_fetch(const void* request, uint32_t len);
/* The response's head: a rusm_fetch_response, then its headers ("Name: value\r\n" each); returns
 * its length, the first `cap` bytes copied to buf. */
RUSM_IMPORT_(fetch_head) int32_t rusm_fetch_head(int32_t fetch, void* buf, uint32_t cap);
/* Up to `cap` bytes of the body, waiting until some arrive; 0 at its end. ETIMEOUT, ETOOLARGE
 * (past the response cap), EIO. */
RUSM_IMPORT_(fetch_read) int32_t rusm_fetch_read(int32_t fetch, void* buf, uint32_t cap);
/* Closes the exchange (its connection, if the body was not read to its end). */
RUSM_IMPORT_(fetch_close) int32_t rusm_fetch_close(int32_t fetch);
/* END generated */

/* Lays out a fetch request in buf (cap bytes): method (NULL: GET), url,
 * headers ("Name: value\r\n" each, or NULL), body (or NULL). Its length, or
 * RUSM_EFULL if it does not fit. */
static inline int32_t rusm_fetch_request_build(void* buf, uint32_t cap, const char* method,
                                               const char* url, const char* headers,
                                               const void* body, uint32_t body_len,
                                               uint32_t timeout_ms) {
  rusm_fetch_request r = {0, 0, 0, body_len, timeout_ms, 0};
  r.method_len = method ? (uint32_t)__builtin_strlen(method) : 0;
  r.url_len = (uint32_t)__builtin_strlen(url);
  r.headers_len = headers ? (uint32_t)__builtin_strlen(headers) : 0;
  uint64_t need = (uint64_t)sizeof r + r.method_len + r.url_len + r.headers_len + body_len;
  if (need > cap) {
    return RUSM_EFULL;
  }
  uint8_t* p = (uint8_t*)buf;
  __builtin_memcpy(p, &r, sizeof r);
  p += sizeof r;
  __builtin_memcpy(p, method, r.method_len);
  p += r.method_len;
  __builtin_memcpy(p, url, r.url_len);
  p += r.url_len;
  __builtin_memcpy(p, headers, r.headers_len);
  p += r.headers_len;
  __builtin_memcpy(p, body, body_len);
  return (int32_t)need;
}

#ifdef __cplusplus
}
#endif
#endif /* RUSM_GUEST_H */
