/* The CPU corpus of `rusm bench cpu`: each program in this folder defines
 * `uint32_t run(void)`, a fixed workload (about 0.1-0.3 s natively at -O2)
 * that verifies its own result against a value computed independently
 * (a published digest, a closed form, a second algorithm) and returns a
 * checksum. A wrong result traps (__builtin_trap), so a checksum that comes
 * back at all has been verified; the bench also compares checksums across
 * native, rusm and V8.
 *
 * Rules for programs here: plain portable C, no I/O, libc only where it needs
 * no WASI import (memcpy, memset, malloc), and run() callable many times in
 * the same instance (it frees what it allocates and resets its state). The
 * same source is compiled with clang-19 -O2 natively (linked with
 * ../native_main.c, which times run()) and for wasm32-wasi as a reactor that
 * exports run. */
#ifndef RUSM_BENCH_CORPUS_H_
#define RUSM_BENCH_CORPUS_H_

#include <stddef.h>
#include <stdint.h>

/* Traps when a verification fails: the run is wrong, not slow. */
#define CORPUS_CHECK(cond) \
  do {                     \
    if (!(cond)) {         \
      __builtin_trap();    \
    }                      \
  } while (0)

uint32_t run(void);

/* splitmix64: the PRNG and hash mixer of the corpus. Its finalizer is a
 * bijection on 64-bit words, which the hash-map program relies on. */
static inline uint64_t corpus_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline uint64_t corpus_next(uint64_t* state) {
  *state += 0x9e3779b97f4a7c15ULL;
  return corpus_mix64(*state);
}

#endif /* RUSM_BENCH_CORPUS_H_ */
