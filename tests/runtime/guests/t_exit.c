// `rusm run` test guest: argv[1] says what to do: a number (exit code),
// "trap", "spawn" (exit 3 if denied), "hello", "clock" / "clock_twice" /
// "random" (exit 4 if refused), "child_hello" / "child_hello_stdio" (a child
// prints, spawned without / with RUSM_SPAWN_CAPS asking for stdio; needs
// spawn). For --entry (no args, so no env granted by them): use_env. It uses
// no file (t_fs does), so wasi-libc does not look for preopens.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "rusm.h"

RUSM_EXPORT(child) void child(void) {}

RUSM_EXPORT(child_hello) void child_hello(void) {
  printf("hello from the child\n");
  fflush(stdout);
}

RUSM_EXPORT(use_env) void use_env(void) {
  printf("HOME %s\n", getenv("HOME") ? "set" : "unset");
}

// Spawns child_hello monitored (with `caps` if ask) and waits for it to end.
static int spawn_and_wait(int ask, uint32_t caps) {
  rusm_spawn_opts o = {RUSM_SPAWN_MONITOR | (ask ? RUSM_SPAWN_CAPS : 0), 0, 0, caps, 0, 0};
  if (rusm_spawn_opt("child_hello", 0, 0, &o, 0) == 0) {
    return 3;
  }
  rusm_msg m;
  char buf[256];
  rusm_receive(&m, buf, sizeof buf);  // its DOWN
  return 0;
}

__attribute__((noinline)) static void explode(void) { __builtin_trap(); }

int main(int argc, char** argv) {
  if (argc < 2) {
    return 0;
  }
  if (strcmp(argv[1], "trap") == 0) {
    explode();
  }
  if (strcmp(argv[1], "spawn") == 0) {
    return rusm_spawn("child", 0, 0) == 0 ? 3 : 0;
  }
  if (strcmp(argv[1], "clock") == 0) {
    struct timespec ts;
    return clock_gettime(CLOCK_MONOTONIC, &ts) == 0 ? 0 : 4;
  }
  if (strcmp(argv[1], "clock_twice") == 0) {  // refused twice: named once
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return clock_gettime(CLOCK_REALTIME, &ts) == 0 ? 0 : 4;
  }
  if (strcmp(argv[1], "random") == 0) {
    char b[8];
    return getentropy(b, sizeof b) == 0 ? 0 : 4;
  }
  if (strcmp(argv[1], "child_hello") == 0) {
    return spawn_and_wait(0, 0);
  }
  if (strcmp(argv[1], "child_hello_stdio") == 0) {
    return spawn_and_wait(1, RUSM_CAP_STDIO);
  }
  if (strcmp(argv[1], "hello") == 0) {
    printf("hello %s\n", argc > 2 ? argv[2] : "");
    return 0;
  }
  return atoi(argv[1]);
}
