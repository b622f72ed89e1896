// Writes memory in runs too short to trip a work threshold: for each message
// it receives, one byte in each 256-byte chunk of the next 256 KiB of a
// static array (a few thousand instructions), then answers "ok" and waits
// for the next. Its memory never grows, so only the written-chunk count
// tells what it holds.
#include <stdint.h>

#include "rusm.h"

#define kStep (256 * 1024)
static volatile uint8_t g_area[32 * kStep];

RUSM_EXPORT(sparse_writer) void sparse_writer(void) {
  for (uint32_t round = 0; round < 32; ++round) {
    rusm_msg m;
    rusm_receive(&m, 0, 0);
    for (uint32_t i = 0; i < kStep; i += 256) {
      g_area[round * kStep + i] = 1;
    }
    rusm_send_str(m.from, 1, "ok");
  }
}

int main(void) {
  return 0;
}
