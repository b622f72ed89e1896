// Issue 9, item 4: a store that crosses a 256-byte chunk boundary, then a
// malloc that grows linear memory past its region (so the memory moves).
// Prints what reads back; exits 1 if any byte was lost.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Alignas(256) unsigned char buf_storage[1280];
// Volatile so that the optimizer keeps the stores, the allocation and the
// loads, and cannot forward a stored value to its load across malloc.
unsigned char* volatile buf_ptr = buf_storage;
char* volatile big_ptr;

int main(void) {
  const uint64_t v8 = 0x1122334455667788u;
  const uint32_t v4 = 0x99aabbccu;
  const uint16_t v2 = 0xddeeu;
  unsigned char* buf = buf_ptr;
  memcpy(buf + 252, &v8, 8);        // 4 bytes in each chunk
  memcpy(buf + 512 + 254, &v4, 4);  // 2 and 2
  memcpy(buf + 768 + 255, &v2, 2);  // 1 and 1
  big_ptr = malloc(8 << 20);
  char* big = big_ptr;
  if (big == NULL) {
    printf("malloc(8 MiB) failed\n");
    return 2;
  }
  big[0] = 1;
  buf = buf_ptr;
  uint64_t r8;
  uint32_t r4;
  uint16_t r2;
  memcpy(&r8, buf + 252, 8);
  memcpy(&r4, buf + 512 + 254, 4);
  memcpy(&r2, buf + 768 + 255, 2);
  printf("%016llx %08x %04x\n", (unsigned long long)r8, r4, r2);
  return r8 == v8 && r4 == v4 && r2 == v2 ? 0 : 1;
}
