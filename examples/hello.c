// hello: prints a greeting with its pid and the ABI version.
// rusm run build/examples/hello.wasm --stdio
#include <stdio.h>

#include "rusm.h"

int main(int argc, char** argv) {
  printf("hello from rusm process %llu (abi %d)\n", (unsigned long long)rusm_self(),
         rusm_abi_version());
  return 0;
}
