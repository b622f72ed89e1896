// `rusm run` test guest that uses files: opens argv[1] (default /data/x) for
// reading; exit 0 if it could, 5 if not. wasi-libc looks for preopened
// directories when it starts, since the program uses files.
#include <stdio.h>

int main(int argc, char** argv) {
  FILE* f = fopen(argc > 1 ? argv[1] : "/data/x", "r");
  return f != NULL ? 0 : 5;
}
