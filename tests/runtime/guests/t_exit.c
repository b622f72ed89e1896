// `rusm run` test guest: argv[1] says what to do: a number (exit code),
// "trap", "spawn" (exit 3 if denied), "hello".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rusm.h"

RUSM_EXPORT(child) void child(void) {}

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
  if (strcmp(argv[1], "hello") == 0) {
    printf("hello %s\n", argc > 2 ? argv[2] : "");
    return 0;
  }
  return atoi(argv[1]);
}
