/* Memory copies: memcpy, memmove (overlapping, both directions) and memset
 * over sizes from 0 bytes to 1 MiB at varied alignments; small sizes are
 * repeated more, so every size class moves about the same number of bytes.
 * Check: the source holds pattern(i), a formula, so after each operation the
 * first, middle and last bytes of the destination are compared with the
 * formula's value for where they must have come from, and the bytes just
 * past a memset must be untouched. */
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

#define BUF_BYTES (1u << 20)
#define SLACK 128

static volatile uint32_t memcopy_rounds = 72;

static uint8_t pattern(uint32_t i) {
  return (uint8_t)((i * 2654435761u) >> 24);
}

static const uint32_t kSizes[] = {
    0,   1,   2,   3,   4,   5,   7,    8,    15,   16,   17,    31,    32,     33,     63,      64,
    100, 127, 128, 255, 256, 511, 1000, 1024, 4095, 4096, 10000, 65536, 100000, 262144, 1u << 20};

uint32_t run(void) {
  uint8_t* src = malloc(BUF_BYTES + SLACK);
  uint8_t* dst = malloc(BUF_BYTES + 2 * SLACK);
  CORPUS_CHECK(src != NULL && dst != NULL);
  for (uint32_t i = 0; i < BUF_BYTES + SLACK; ++i) {
    src[i] = pattern(i);
  }
  uint32_t rounds = memcopy_rounds;
  uint32_t checksum = 0;
  for (uint32_t r = 0; r < rounds; ++r) {
    for (size_t z = 0; z < sizeof kSizes / sizeof kSizes[0]; ++z) {
      uint32_t s = kSizes[z];
      uint32_t reps = 1 + (1u << 17) / (s + 16);
      for (uint32_t k = 0; k < reps; ++k) {
        uint32_t so = (r * 7 + k * 13 + z) % 61;
        uint32_t d = (r * 11 + k * 5 + z * 3) % 53;
        uint8_t* out = dst + d;

        memcpy(out, src + so, s);
        if (s > 0) {
          CORPUS_CHECK(out[0] == pattern(so) && out[s / 2] == pattern(so + s / 2) &&
                       out[s - 1] == pattern(so + s - 1));
          checksum += out[s / 2];
        }
        if (s > 1) {
          /* Forward overlap: out[1 + j] = old out[j]. */
          memmove(out + 1, out, s - 1);
          CORPUS_CHECK(out[0] == pattern(so) && out[1] == pattern(so) &&
                       out[s - 1] == pattern(so + s - 2));
          /* Backward overlap: out[j] = old out[1 + j], which undoes it. */
          memmove(out, out + 1, s - 1);
          CORPUS_CHECK(out[0] == pattern(so) && out[s - 2] == pattern(so + s - 2));
          checksum += out[s - 2];
        }
        uint8_t fill = (uint8_t)(r + k + z);
        uint8_t after = out[s];
        memset(out, fill, s);
        CORPUS_CHECK(out[s] == after);
        if (s > 0) {
          CORPUS_CHECK(out[0] == fill && out[s / 2] == fill && out[s - 1] == fill);
        }
        checksum = checksum * 3 + fill;
      }
    }
  }
  free(src);
  free(dst);
  return checksum;
}
