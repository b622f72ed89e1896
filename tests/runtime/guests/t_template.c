// Templates (ABI v10, docs/abi.md "Templates"): a template process sets up
// state and returns; processes spawned from it start in that state, each
// with its own copy, without running the module's initialization again.
// `all` reports "ok" or the first failure; the other exports are the
// template and child entries it (and the C++ test) spawns.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rusm.h"

static rusm_pid g_reporter;
static int g_ctor_runs;                   // the module's constructors (_initialize)
static uint32_t g_table[20000];           // 80 KB set up by the template
static char* g_heap;                      // malloc'ed by the template
static int g_setup_value;                 // from the template's message
static volatile uint32_t g_child_writes;  // written by children only

__attribute__((constructor)) static void count_ctor(void) {
  g_ctor_runs++;
}

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

// The template: waits for its input, builds its state, returns.
RUSM_EXPORT(setup) void setup(void) {
  rusm_msg m;
  int32_t v = 0;
  if (rusm_receive_tag(7, &m, &v, sizeof v, -1) != 4) {
    rusm_exit_error("no input");
  }
  g_setup_value = v;
  for (uint32_t i = 0; i < 20000; ++i) {
    g_table[i] = i * i + (uint32_t)v;
  }
  g_heap = malloc(100000);
  memset(g_heap, 'h', 100000);
  strcpy(g_heap, "from the template");
}

// A template that traps: no state is kept.
RUSM_EXPORT(setup_traps) void setup_traps(void) {
  __builtin_trap();
}

// A child: checks the template's state, changes its own copy, reports.
RUSM_EXPORT(child) void child(rusm_pid reporter, int32_t n) {
  g_reporter = reporter;
  CHECK(g_ctor_runs == 1);  // ran once, in the template
  CHECK(g_setup_value == 5);
  CHECK(g_table[19999] == 19999u * 19999u + 5u);
  CHECK(g_heap != NULL && strcmp(g_heap, "from the template") == 0 && g_heap[99999] == 'h');
  CHECK(g_child_writes == 0);  // a sibling's write is not seen
  g_child_writes = (uint32_t)n;
  g_table[0] = (uint32_t)n;
  char* more = malloc(1000);  // the allocator's state came along
  CHECK(more != NULL && more != g_heap);
  char buf[64];
  int len = snprintf(buf, sizeof buf, "child %d", n);
  rusm_send(reporter, 2, buf, (uint32_t)len);
}

RUSM_EXPORT(all) void all(rusm_pid reporter) {
  g_reporter = reporter;
  // Before any template: spawn_from and template_wait know of nothing.
  CHECK(rusm_template_wait(12345, 0) == RUSM_ENOTFOUND);
  CHECK(rusm_spawn_from(12345, "child", 0, 0, 0, 0) == RUSM_ENOTFOUND);

  rusm_pid t = rusm_spawn_template("setup", 0, 0);
  CHECK(t != 0);
  CHECK(rusm_template_wait(t, 0) == RUSM_ETIMEOUT);  // it waits for its input
  CHECK(rusm_spawn_from(t, "child", 0, 0, 0, 0) == RUSM_EBADSTATE);
  int32_t five = 5;
  CHECK(rusm_send(t, 7, &five, 4) == RUSM_OK);
  CHECK(rusm_template_wait(t, 10000000000ll) == RUSM_OK);
  CHECK(rusm_template_wait(t, 0) == RUSM_OK);  // and stays ready

  for (int i = 1; i <= 3; ++i) {
    uint64_t args[2] = {reporter, (uint64_t)i};
    rusm_spawned s;
    CHECK(rusm_spawn_from(t, "child", args, 2, 0, &s) == RUSM_OK && s.pid != 0);
  }
  // Wrong arity, unknown export.
  CHECK(rusm_spawn_from(t, "child", 0, 0, 0, 0) == RUSM_EBADARG);
  CHECK(rusm_spawn_from(t, "nope", 0, 0, 0, 0) == RUSM_ENOTFOUND);
  // A child whose memory limit is below the template's memory is refused.
  uint64_t args[2] = {reporter, 9};
  rusm_spawn_opts small = {0, 0, 2, 0, 0, 0};
  CHECK(rusm_spawn_from(t, "child", args, 2, &small, 0) == RUSM_ELIMIT);

  // A supervisor's child from the template (child spec flag): args[0] is
  // the template, the rest are the function's; it reports like the others.
  // It reports here first (this process outlives it), then we pass it on.
  uint64_t sup_args[3] = {t, rusm_self(), 4};
  rusm_child_spec from = rusm_child("from", "child", sup_args, 3, RUSM_TEMPORARY);
  from.flags = RUSM_SPAWN_TEMPLATE;
  CHECK(rusm_supervisor_start(RUSM_ONE_FOR_ONE, 1, 1000, &from, 1) > 0);
  char report[64];
  rusm_msg rm;
  int32_t got = rusm_receive_tag(2, &rm, report, sizeof report, 10000000000ll);
  CHECK(got > 0 && got <= (int32_t)sizeof report);
  rusm_send(reporter, 2, report, (uint32_t)got);
  uint64_t stranger_args[3] = {12345, reporter, 5};
  rusm_child_spec unknown = rusm_child("x", "child", stranger_args, 3, RUSM_TEMPORARY);
  unknown.flags = RUSM_SPAWN_TEMPLATE;
  CHECK(rusm_supervisor_start(RUSM_ONE_FOR_ONE, 1, 1000, &unknown, 1) == RUSM_ENOTFOUND);

  // A template that traps leaves nothing.
  rusm_pid bad = rusm_spawn_template("setup_traps", 0, 0);
  CHECK(bad != 0);
  CHECK(rusm_template_wait(bad, 10000000000ll) == RUSM_EBADSTATE);
  CHECK(rusm_spawn_from(bad, "child", args, 2, 0, 0) == RUSM_EBADSTATE);
  rusm_send(reporter, 1, "ok", 2);
}

// Spawned without templates in its family (by the host): sees none.
RUSM_EXPORT(stranger) void stranger(rusm_pid reporter, rusm_pid tmpl) {
  g_reporter = reporter;
  CHECK(rusm_template_wait(tmpl, 0) == RUSM_ENOTFOUND);
  CHECK(rusm_spawn_from(tmpl, "child", 0, 0, 0, 0) == RUSM_ENOTFOUND);
  rusm_send(reporter, 1, "stranger ok", 11);
}

// Makes a template and reports its pid, then waits (so the C++ test can
// hand the pid to a stranger).
RUSM_EXPORT(keeper) void keeper(rusm_pid reporter) {
  rusm_pid t = rusm_spawn_template("setup", 0, 0);
  int32_t five = 5;
  rusm_send(t, 7, &five, 4);
  if (rusm_template_wait(t, 10000000000ll) != RUSM_OK) {
    rusm_exit_error("template failed");
  }
  rusm_send(reporter, 3, &t, sizeof t);
  rusm_msg m;
  rusm_receive_tag(99, &m, 0, 0, -1);
}

// A family of many templates: the 17th is refused.
RUSM_EXPORT(many) void many(rusm_pid reporter) {
  g_reporter = reporter;
  int made = 0;
  for (int i = 0; i < 17; ++i) {
    rusm_spawned s = {0, 0};
    rusm_spawn_opts o = {RUSM_SPAWN_TEMPLATE, 0, 0, 0, 0, 0};
    int32_t r = __rusm_spawn("setup_traps", 11, 0, 0, &o, &s);
    if (r == RUSM_OK) {
      made++;
    } else {
      CHECK(r == RUSM_ELIMIT);
    }
  }
  CHECK(made == 16);
  rusm_send(reporter, 1, "many ok", 7);
}
