/* SHA-256 (FIPS 180-4): 32-bit rotates, adds and table lookups.
 * Check: the published test vectors, "abc", the 448-bit message and the
 * one-million-'a' message, which is hashed again and again, fed in chunks of
 * pseudo-random sizes so that the buffering path is exercised too. */
#include <string.h>

#include "corpus.h"

static volatile uint32_t sha_rounds = 24;

typedef struct {
  uint32_t h[8];
  uint64_t length; /* bytes */
  uint8_t block[64];
  uint32_t used;
} Sha256;

static const uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

static void sha_init(Sha256* s) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, h0, sizeof h0);
  s->length = 0;
  s->used = 0;
}

static void sha_block(Sha256* s, const uint8_t* p) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  }
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
  uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t t1 =
        h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s->h[0] += a;
  s->h[1] += b;
  s->h[2] += c;
  s->h[3] += d;
  s->h[4] += e;
  s->h[5] += f;
  s->h[6] += g;
  s->h[7] += h;
}

static void sha_update(Sha256* s, const uint8_t* p, size_t n) {
  s->length += n;
  if (s->used > 0) {
    size_t take = 64 - s->used < n ? 64 - s->used : n;
    memcpy(s->block + s->used, p, take);
    s->used += (uint32_t)take;
    p += take;
    n -= take;
    if (s->used < 64) {
      return;
    }
    sha_block(s, s->block);
    s->used = 0;
  }
  for (; n >= 64; p += 64, n -= 64) {
    sha_block(s, p);
  }
  memcpy(s->block, p, n);
  s->used = (uint32_t)n;
}

static void sha_final(Sha256* s, uint8_t out[32]) {
  uint64_t bits = s->length * 8;
  uint8_t pad[72] = {0x80};
  size_t pad_len = (s->used < 56 ? 56 : 120) - s->used;
  for (int i = 0; i < 8; ++i) {
    pad[pad_len + i] = (uint8_t)(bits >> (56 - 8 * i));
  }
  sha_update(s, pad, pad_len + 8);
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = (uint8_t)(s->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)s->h[i];
  }
}

/* Compares a digest with its published hex spelling. */
static int digest_is(const uint8_t d[32], const char* hex) {
  for (int i = 0; i < 32; ++i) {
    int hi = hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10;
    int lo = hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10;
    if (d[i] != (uint8_t)(hi << 4 | lo)) {
      return 0;
    }
  }
  return 1;
}

static uint32_t fold(const uint8_t d[32]) {
  uint32_t x = 0;
  for (int i = 0; i < 32; ++i) {
    x = x * 33 + d[i];
  }
  return x;
}

static uint8_t million_a[1000000];

uint32_t run(void) {
  Sha256 s;
  uint8_t d[32];
  uint32_t checksum = 0;

  sha_init(&s);
  sha_update(&s, (const uint8_t*)"abc", 3);
  sha_final(&s, d);
  CORPUS_CHECK(digest_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  checksum += fold(d);

  static const char k448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha_init(&s);
  sha_update(&s, (const uint8_t*)k448, sizeof k448 - 1);
  sha_final(&s, d);
  CORPUS_CHECK(digest_is(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  checksum += fold(d);

  memset(million_a, 'a', sizeof million_a);
  uint64_t rng = 42;
  uint32_t rounds = sha_rounds;
  for (uint32_t r = 0; r < rounds; ++r) {
    sha_init(&s);
    size_t done = 0;
    while (done < sizeof million_a) {
      /* Mostly large chunks, some small and unaligned ones. */
      uint64_t x = corpus_next(&rng);
      size_t chunk = (x & 3) == 0 ? (size_t)(x >> 8) % 200 + 1 : (size_t)(x >> 8) % 65536 + 1;
      if (chunk > sizeof million_a - done) {
        chunk = sizeof million_a - done;
      }
      sha_update(&s, million_a + done, chunk);
      done += chunk;
    }
    sha_final(&s, d);
    CORPUS_CHECK(digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    checksum += fold(d);
  }
  return checksum;
}
