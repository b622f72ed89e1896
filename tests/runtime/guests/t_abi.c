// Test guest for tests/runtime: one exported function per scenario. Checks
// fail by sending "FAIL line N: <expr>" to the reporter and exiting.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rusm.h"

static rusm_pid g_reporter;

static void fail(int line, const char* what) {
  char buf[200];
  int n = snprintf(buf, sizeof buf, "FAIL line %d: %s", line, what);
  rusm_send(g_reporter, 1, buf, (uint32_t)n);
  rusm_exit_error("check failed");
}
#define CHECK(c)          \
  do {                    \
    if (!(c)) {           \
      fail(__LINE__, #c); \
    }                     \
  } while (0)

static void report(const char* s) {
  rusm_send_str(g_reporter, 1, s);
}

static char g_big[70000];

// Answers every message with the same tag and payload (of any size); tag 99 stops.
RUSM_EXPORT(echo) void echo(void) {
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, g_big, 16);
    if (m.tag == 99) {
      return;
    }
    if (n > 16 && n <= (int32_t)sizeof g_big) {
      rusm_message_read(16, g_big + 16, (uint32_t)n - 16);
    }
    rusm_send(m.from, m.tag, g_big, n < 0 ? 0 : (uint32_t)n);
  }
}

__attribute__((noinline)) static void reply_to(const rusm_msg* m) {
  rusm_send(m->from, m->tag + 1, g_big, 0);
}

// One round of `rounds`: answers a message with its tag + 1; tag 99 stops.
// Not inlined, and not straight-line code (it calls reply_to), which auto
// would keep interpreting: once the module's compiled code arrives
// (Runtime::load with tier auto), the next round's call enters it
// (tests/runtime/tier_up.cc).
__attribute__((noinline)) static int answer_one(void) {
  rusm_msg m;
  rusm_receive(&m, g_big, 16);
  if (m.tag == 99) {
    return 0;
  }
  reply_to(&m);
  return 1;
}

RUSM_EXPORT(rounds) void rounds(void) {
  while (answer_one()) {
  }
}

RUSM_EXPORT(crash) void crash(void) {
  __builtin_trap();
}

RUSM_EXPORT(divide) int32_t divide(int32_t x) {
  volatile int32_t hundred = 100;
  return hundred / x;
}

RUSM_EXPORT(spin) void spin(void) {
  volatile uint64_t n = 0;
  for (;;) {
    n++;
  }
}

RUSM_EXPORT(sleeper) void sleeper(void) {
  rusm_sleep_ns(-1);
}

RUSM_EXPORT(exit_kind) void exit_kind(int32_t kind) {
  rusm_exit(kind, "bye");
}

RUSM_EXPORT(add) int64_t add(int32_t a, int64_t b) {
  return a + b;
}

// Links to partner, tells the reporter, then waits forever.
RUSM_EXPORT(link_and_wait) void link_and_wait(rusm_pid partner, rusm_pid reporter) {
  rusm_link(partner);
  rusm_send_str(reporter, 1, "linked");
  rusm_sleep_ns(-1);
}

// Traps exits, links to partner, forwards the EXIT message's payload to reporter.
RUSM_EXPORT(trap_and_link) void trap_and_link(rusm_pid partner, rusm_pid reporter) {
  rusm_trap_exit(1);
  rusm_link(partner);
  rusm_send_str(reporter, 1, "linked");
  rusm_msg m;
  char buf[256];
  int32_t n = rusm_receive_tag(RUSM_TAG_EXIT, &m, buf, sizeof buf, -1);
  rusm_send(reporter, 2, buf, (uint32_t)n);
}

// A supervised worker: registers as "sw<i>"; tag 1 crashes, tag 2 answers "pong".
RUSM_EXPORT(sworker) void sworker(int32_t i) {
  char name[8] = {'s', 'w', (char)('0' + i), 0};
  if (rusm_register(name) != RUSM_OK) {  // a predecessor's name is freed before its EXIT
    rusm_exit_error("sworker: name taken");
  }
  for (;;) {
    rusm_msg m;
    char buf[16];
    rusm_receive(&m, buf, sizeof buf);
    if (m.tag == 1) {
      __builtin_trap();
    }
    rusm_send_str(m.from, 2, "pong");
  }
}

// Starts a one_for_one supervisor over two sworkers and reports its pid.
RUSM_EXPORT(sup_main) void sup_main(rusm_pid reporter) {
  static uint64_t a0 = 0, a1 = 1;
  rusm_child_spec kids[2] = {rusm_child("w0", "sworker", &a0, 1, RUSM_PERMANENT),
                             rusm_child("w1", "sworker", &a1, 1, RUSM_PERMANENT)};
  int64_t sup = rusm_supervisor_start(RUSM_ONE_FOR_ONE, 10, 1000, kids, 2);
  rusm_send_u64(reporter, 3, (uint64_t)sup);
  rusm_sleep_ns(-1);
}

// A simple_one_for_one child: dworker(reporter, n) reports "up n" and
// waits; tag 1 crashes it (transient: it comes back with the same n).
RUSM_EXPORT(dworker) void dworker(rusm_pid reporter, int32_t n) {
  char up[16];
  int len = snprintf(up, sizeof up, "up %d", (int)n);
  rusm_send(reporter, 4, up, (uint32_t)len);
  rusm_msg m;
  rusm_receive(&m, 0, 0);
  if (m.tag == 1) {
    __builtin_trap();
  }
}

// A guest-started simple_one_for_one supervisor, start_child,
// which_children, terminate_child and their errors. Reports "ok" on tag 1
// and the first dynamic child's pid on tag 5 (the test crashes it).
RUSM_EXPORT(sofo_main) void sofo_main(rusm_pid reporter) {
  g_reporter = reporter;
  rusm_trap_exit(1);  // it kills a supervisor it is linked to, below
  uint64_t fixed = reporter;
  rusm_child_spec tmpl = rusm_child("dyn", "dworker", &fixed, 1, RUSM_TRANSIENT);
  int64_t sup = rusm_supervisor_start(RUSM_SIMPLE_ONE_FOR_ONE, 5, 1000, &tmpl, 1);
  CHECK(sup > 0);
  rusm_pid none[1];
  CHECK(rusm_supervisor_which_children((rusm_pid)sup, none, 1, 5000) == 0);
  uint64_t n1 = 1, n2 = 2, two[2] = {7, 8};
  int64_t c1 = rusm_supervisor_start_child((rusm_pid)sup, &n1, 1, 5000);
  int64_t c2 = rusm_supervisor_start_child((rusm_pid)sup, &n2, 1, 5000);
  CHECK(c1 > 0 && c2 > 0 && c1 != c2);
  CHECK(rusm_is_alive((rusm_pid)c1) == 1);
  // Arguments that do not fit the template; a template of two children; a
  // supervisor of another strategy; a process that is not a supervisor.
  CHECK(rusm_supervisor_start_child((rusm_pid)sup, two, 2, 5000) == RUSM_EBADARG);
  CHECK(rusm_supervisor_start_child((rusm_pid)sup, 0, 0, 5000) == RUSM_EBADARG);
  rusm_child_spec pair[2] = {tmpl, tmpl};
  CHECK(rusm_supervisor_start(RUSM_SIMPLE_ONE_FOR_ONE, 5, 1000, pair, 2) == RUSM_EBADARG);
  rusm_child_spec fixed_kid = rusm_child("s", "sleeper", 0, 0, RUSM_PERMANENT);
  int64_t o41 = rusm_supervisor_start(RUSM_ONE_FOR_ONE, 5, 1000, &fixed_kid, 1);
  CHECK(o41 > 0);
  CHECK(rusm_supervisor_start_child((rusm_pid)o41, &n1, 1, 5000) == RUSM_EBADARG);
  rusm_child_spec bad_arity = rusm_child("s", "sleeper", &n1, 1, RUSM_PERMANENT);
  CHECK(rusm_supervisor_start(RUSM_ONE_FOR_ONE, 5, 1000, &bad_arity, 1) == RUSM_EBADARG);
  CHECK(rusm_supervisor_start_child(rusm_self(), &n1, 1, -1) == RUSM_EBADARG);
  CHECK(rusm_supervisor_start_child(reporter, &n1, 1, 20) == RUSM_ETIMEOUT);
  CHECK(rusm_supervisor_start_child(0, &n1, 1, 20) == RUSM_EBADARG);
  rusm_pid kids[4];
  CHECK(rusm_supervisor_which_children((rusm_pid)sup, kids, 4, 5000) == 2);
  CHECK(kids[0] == (rusm_pid)c1 && kids[1] == (rusm_pid)c2);
  CHECK(rusm_supervisor_terminate_child((rusm_pid)sup, (rusm_pid)c2, 5000) == RUSM_OK);
  CHECK(rusm_is_alive((rusm_pid)c2) == 0);
  CHECK(rusm_supervisor_terminate_child((rusm_pid)sup, (rusm_pid)c2, 5000) == RUSM_ENOTFOUND);
  CHECK(rusm_supervisor_which_children((rusm_pid)sup, kids, 4, 5000) == 1);
  // A supervisor that is gone.
  rusm_exit_pid((rusm_pid)o41, RUSM_KILL, 0);
  while (rusm_is_alive((rusm_pid)o41)) {
    rusm_sleep_ms(1);
  }
  CHECK(rusm_supervisor_start_child((rusm_pid)o41, &n1, 1, 5000) == RUSM_ENOPROC);
  CHECK(rusm_supervisor_which_children((rusm_pid)o41, kids, 4, 5000) == RUSM_ENOPROC);
  rusm_send_u64(reporter, 5, (uint64_t)c1);
  report("ok");
  rusm_sleep_ns(-1);
}

// Grows its linear memory by writing 1.5 MiB, reports, then sleeps.
static char* volatile g_grown;  // escapes, so the compiler keeps the writes

RUSM_EXPORT(grow_and_sleep) void grow_and_sleep(rusm_pid reporter) {
  char* p = (char*)malloc(3 << 19);
  g_grown = p;
  if (p != 0) {
    memset(p, 1, 3 << 19);
  }
  rusm_send_str(reporter, 1, p != 0 ? "grown" : "no memory");
  rusm_sleep_ns(-1);
}

// Reports what a child with restricted capabilities may do.
RUSM_EXPORT(caps_child) void caps_child(rusm_pid reporter) {
  g_reporter = reporter;
  CHECK(rusm_register("caps_child") == RUSM_EDENIED);
  char info[512];
  int32_t n = rusm_process_info(rusm_self(), info, sizeof info - 1);
  CHECK(n > 0);
  info[n] = 0;
  CHECK(strstr(info, "profile=custom") != 0);
  report("ok");
}

// Spawns caps_child asking for spawn|registry while holding only spawn.
RUSM_EXPORT(caps_parent) void caps_parent(rusm_pid reporter) {
  uint64_t arg = reporter;
  rusm_spawn_opts o = {RUSM_SPAWN_CAPS, 0, 0, RUSM_CAP_SPAWN | RUSM_CAP_REGISTRY, 0, 0};
  g_reporter = reporter;
  CHECK(rusm_spawn_opt("caps_child", &arg, 1, &o, 0) != 0);
}

// Everything a sandboxed process must be refused.
RUSM_EXPORT(denied) void denied(rusm_pid reporter) {
  g_reporter = reporter;
  rusm_spawned s;
  CHECK(__rusm_spawn("echo", 4, 0, 0, 0, &s) == RUSM_EDENIED);
  CHECK(rusm_spawn_module("t_abi", "echo", 0, 0, 0, &s) == RUSM_EDENIED);
  CHECK(rusm_register("x") == RUSM_EDENIED);
  CHECK(rusm_unregister("x") == RUSM_EDENIED);
  CHECK(rusm_whereis("x") == RUSM_EDENIED);
  CHECK(rusm_send_name("x", 1, "", 0) == RUSM_EDENIED);
  rusm_pid pids[4];
  CHECK(rusm_processes(pids, 4) == RUSM_EDENIED);
  CHECK(rusm_exit_pid(reporter, RUSM_KILL, 0) == RUSM_EDENIED);
  char info[64];
  CHECK(rusm_process_info(reporter, info, sizeof info) == RUSM_EDENIED);
  CHECK(rusm_process_info(rusm_self(), info, sizeof info) > 0);
  rusm_child_spec kid = rusm_child("w", "echo", 0, 0, RUSM_PERMANENT);
  CHECK(rusm_supervisor_start(RUSM_ONE_FOR_ONE, 1, 1000, &kid, 1) == RUSM_EDENIED);
  // Messaging, timers and links are not capabilities.
  CHECK(rusm_send_str(rusm_self(), 5, "self") == RUSM_OK);
  rusm_msg m;
  char buf[8];
  CHECK(rusm_receive_tag(5, &m, buf, sizeof buf, 0) == 4);
  report("ok");
}

// The whole ABI with its error paths (run trusted).
RUSM_EXPORT(api) void api(rusm_pid reporter) {
  g_reporter = reporter;
  rusm_pid me = rusm_self();
  rusm_msg m;
  char buf[128];
  CHECK(rusm_abi_version() == RUSM_ABI_VERSION);
  CHECK(me != 0 && rusm_is_alive(me) == 1);
  CHECK(rusm_is_alive(0x123456789ull) == 0);
  CHECK(rusm_parent() == 0);  // spawned from the host

  // Bad arguments.
  CHECK(rusm_send(me, 1, (const void*)0xFFFFFFF0u, 100) == RUSM_EBADARG);
  CHECK(rusm_send(0, 1, "x", 1) == RUSM_EBADARG);
  CHECK(rusm_send(me, RUSM_TAG_EXIT, "x", 1) == RUSM_EBADARG);
  CHECK(__rusm_register((const char*)0xFFFFFFF0u, 64) == RUSM_EBADARG);
  CHECK(rusm_message_read(0, buf, 1) == RUSM_ENOMSG);
  CHECK(__rusm_receive(0, 0, 0, (rusm_msg*)0xFFFFFFF0u, 0, 0) == RUSM_ETIMEOUT);

  // Receive: timeout, unknown size, selective.
  CHECK(rusm_receive_timeout(&m, buf, sizeof buf, 1000000) == RUSM_ETIMEOUT);
  char big[100];
  for (int i = 0; i < 100; ++i)
    big[i] = (char)i;
  CHECK(rusm_send(me, 5, big, 100) == RUSM_OK);
  CHECK(rusm_receive(&m, buf, 4) == 100);
  CHECK(m.tag == 5 && m.from == me && m.size == 100 && buf[3] == 3);
  CHECK(rusm_message_read(4, buf + 4, 96) == 96);
  CHECK(memcmp(buf, big, 100) == 0);
  CHECK(rusm_message_read(200, buf, 1) == RUSM_EBADARG);
  CHECK(rusm_send_str(me, 7, "a") == RUSM_OK);
  CHECK(rusm_send_str(me, 8, "b") == RUSM_OK);
  CHECK(rusm_receive_tag(8, &m, buf, sizeof buf, -1) == 1 && buf[0] == 'b');
  CHECK(rusm_receive(&m, buf, sizeof buf) == 1 && buf[0] == 'a' && m.tag == 7);

  // Registry.
  CHECK(rusm_register("api") == RUSM_OK);
  CHECK(rusm_register("api2") == RUSM_EEXISTS);
  CHECK(rusm_whereis("api") == (int64_t)me);
  CHECK(rusm_whereis("nope") == 0);
  CHECK(rusm_send_name("api", 9, "x", 1) == RUSM_OK);
  CHECK(rusm_receive_tag(9, &m, buf, sizeof buf, -1) == 1);
  CHECK(rusm_send_name("nope", 9, "x", 1) == RUSM_ENOTFOUND);
  CHECK(rusm_unregister("api") == RUSM_OK);
  CHECK(rusm_unregister("api") == RUSM_ENOTFOUND);

  // Timers and sleep.
  int64_t t = rusm_send_after(2000000, me, 11, "t", 1);
  CHECK(t > 0);
  CHECK(rusm_receive_tag(11, &m, buf, sizeof buf, 1000000000) == 1);
  int64_t t2 = rusm_send_after(10000000000ll, me, 12, "u", 1);
  CHECK(rusm_cancel_timer(t2) > 0);
  CHECK(rusm_cancel_timer(t2) == RUSM_ENOTFOUND);
  CHECK(rusm_send_after(-1, me, 1, "", 0) == RUSM_EBADARG);
  rusm_sleep_ms(2);
  rusm_yield();

  // Labels and introspection.
  CHECK(rusm_set_label("api-proc") == RUSM_OK);
  char info[512];
  int32_t n = rusm_process_info(me, info, sizeof info - 1);
  CHECK(n > 0 && n < (int32_t)sizeof info);
  info[n] = 0;
  CHECK(strstr(info, "label=api-proc\n") != 0);
  CHECK(strstr(info, "profile=trusted\n") != 0);
  rusm_pid pids[64];
  CHECK(rusm_processes(pids, 64) >= 2);
  CHECK(rusm_process_info(0x123456789ull, info, sizeof info) == RUSM_ENOPROC);

  // Spawning own functions; DOWN layout.
  uint64_t two = 2;
  rusm_ref ref = 0;
  rusm_pid p = rusm_spawn_monitor("exit_kind", &two, 1, &ref);
  CHECK(p != 0 && ref != 0);
  n = rusm_receive_tag(RUSM_TAG_DOWN, &m, buf, sizeof buf, -1);
  rusm_down_payload down;
  memcpy(&down, buf, sizeof down);
  CHECK(n == (int32_t)sizeof down + 3 && m.from == p && m.ref == ref);
  CHECK(down.ref == ref && down.from == p && down.kind == RUSM_ERROR && down.detail_len == 3);
  CHECK(memcmp(buf + sizeof down, "bye", 3) == 0);
  uint64_t args2[2] = {40, 2};
  CHECK(rusm_spawn("add", args2, 2) != 0);
  rusm_spawned s;
  CHECK(__rusm_spawn("nope", 4, 0, 0, 0, &s) == RUSM_ENOTFOUND);
  CHECK(__rusm_spawn("add", 3, 0, 0, 0, &s) == RUSM_EBADARG);  // wrong argument count
  CHECK(__rusm_spawn("add", 3, (const uint64_t*)0xFFFFFFF0u, 2, 0, &s) == RUSM_EBADARG);
  CHECK(rusm_spawn_module("nope", "echo", 0, 0, 0, &s) == RUSM_ENOTFOUND);
  CHECK(rusm_spawn_module("t_abi", "add", args2, 2, 0, &s) == RUSM_OK);
  rusm_spawn_opts tiny = {0, 0, 1, 0, 0, 0};
  CHECK(rusm_spawn_opt("add", args2, 2, &tiny, 0) == 0);  // memory over the limit

  // Links with trap_exit: EXIT layout.
  CHECK(rusm_trap_exit(1) == 0);
  p = rusm_spawn_link("crash", 0, 0);
  CHECK(p != 0);
  n = rusm_receive_tag(RUSM_TAG_EXIT, &m, buf, sizeof buf - 1, -1);
  rusm_exit_payload ex;
  memcpy(&ex, buf, sizeof ex);
  CHECK(n > (int32_t)sizeof ex && m.from == p && ex.from == p && ex.kind == RUSM_ERROR);
  buf[n] = 0;
  CHECK(strstr(buf + sizeof ex, "unreachable") != 0);
  CHECK(rusm_trap_exit(0) == 1);

  // Monitors: dead pid, demonitor, kill.
  ref = (rusm_ref)rusm_monitor(0x123456789ull);
  CHECK(rusm_receive_tag(RUSM_TAG_DOWN, &m, buf, sizeof buf, -1) > 0);
  memcpy(&down, buf, sizeof down);
  CHECK(down.kind == RUSM_NOPROC && down.ref == ref);
  rusm_pid e = rusm_spawn("echo", 0, 0);
  CHECK(e != 0);
  ref = (rusm_ref)rusm_monitor(e);
  CHECK(rusm_demonitor(ref, 1) == 1);
  CHECK(rusm_demonitor(ref, 1) == 0);
  ref = (rusm_ref)rusm_monitor(e);
  CHECK(rusm_send_str(e, 3, "hi") == RUSM_OK);
  CHECK(rusm_receive_tag(3, &m, buf, sizeof buf, -1) == 2 && m.from == e);
  CHECK(rusm_kill(e) == RUSM_OK);
  CHECK(rusm_receive_tag(RUSM_TAG_DOWN, &m, buf, sizeof buf, -1) > 0);
  memcpy(&down, buf, sizeof down);
  CHECK(down.kind == RUSM_KILLED && down.from == e);
  CHECK(rusm_is_alive(e) == 0);
  CHECK(rusm_exit_pid(e, RUSM_KILL, 0) == RUSM_ENOPROC);
  CHECK(rusm_link(0) == RUSM_EBADARG);

  // Mailbox bound.
  rusm_spawn_opts bounded = {0, 1, 0, 0, "bounded", 7};
  rusm_pid b = rusm_spawn_opt("sleeper", 0, 0, &bounded, 0);
  CHECK(b != 0);
  CHECK(rusm_send_str(b, 1, "1") == RUSM_OK);
  CHECK(rusm_send_str(b, 1, "2") == RUSM_EFULL);
  CHECK(rusm_kill(b) == RUSM_OK);
  report("ok");
}

// Topics (ABI v7): a subscriber reports what it gets, a publisher how many
// copies went out; without cap pubsub both are refused.
RUSM_EXPORT(topic_subscriber) void topic_subscriber(rusm_pid reporter) {
  g_reporter = reporter;
  CHECK(rusm_subscribe("news") == RUSM_OK);
  CHECK(rusm_subscribe("news") == RUSM_OK);
  CHECK(rusm_subscribe("") == RUSM_EBADARG);
  rusm_send_str(reporter, 2, "subscribed");
  rusm_msg m;
  char buf[64];
  int32_t n = rusm_receive(&m, buf, sizeof buf - 1);
  CHECK(n >= 0 && n < (int32_t)sizeof buf);
  buf[n] = 0;
  char out[128];
  snprintf(out, sizeof out, "got %llu %s", (unsigned long long)m.tag, buf);
  rusm_send_str(reporter, 1, out);
  CHECK(rusm_unsubscribe("news") == RUSM_OK);
  CHECK(rusm_unsubscribe("news") == RUSM_ENOTFOUND);
  rusm_send_str(reporter, 1, "done");
}

RUSM_EXPORT(topic_publisher) void topic_publisher(rusm_pid reporter) {
  g_reporter = reporter;
  CHECK(rusm_publish("news", RUSM_TAG_RESERVED, "x", 1) == RUSM_EBADARG);
  int32_t n = rusm_publish("news", 42, "flash", 5);
  char out[32];
  snprintf(out, sizeof out, "published %d", (int)n);
  rusm_send_str(reporter, 1, out);
}

RUSM_EXPORT(topic_denied) void topic_denied(rusm_pid reporter) {
  g_reporter = reporter;
  CHECK(rusm_subscribe("news") == RUSM_EDENIED);
  CHECK(rusm_publish("news", 1, "x", 1) == RUSM_EDENIED);
  rusm_send_str(reporter, 1, "denied");
}
