/* A bytecode interpreter: a tiny stack machine (switch dispatch, operand
 * stack, local slots, conditional jumps, calls) running a loop program built
 * at run time:
 *
 *   acc = 0; cnt = 0
 *   for i in [0, n):  acc += square(i); if i % 3 == 0: cnt += 1
 *
 * where square is a bytecode function (CALL/RET). All arithmetic is mod 2^32.
 * Check: acc equals the closed form n(n-1)(2n-1)/6 mod 2^32 (evaluated with
 * the factors 2 and 3 divided out first, so it is exact) and cnt equals
 * ceil(n/3). */
#include "corpus.h"

static volatile uint32_t vm_n = 3000000;

enum Op {
  kPush,  /* imm: push imm */
  kLoad,  /* slot: push locals[slot] */
  kStore, /* slot: pop into locals[slot] */
  kAdd,
  kMul,
  kRem, /* pop b, pop a, push a % b (b != 0 is the program's duty) */
  kLt,  /* pop b, pop a, push a < b */
  kDup,
  kJz,   /* target: pop; jump if zero */
  kJnz,  /* target: pop; jump if nonzero */
  kJmp,  /* target */
  kCall, /* target: push return address on the call stack */
  kRet,
  kHalt,
};

enum { kI = 0, kN = 1, kAcc = 2, kCnt = 3 };

typedef struct {
  uint32_t code[64];
  uint32_t len;
} Program;

/* Appends ops to the program; returns the index of the last one (the
 * operand of a jump, to patch once its target is known). */
static uint32_t emit_ops(Program* p, const uint32_t* ops, uint32_t n) {
  CORPUS_CHECK(p->len + n <= sizeof p->code / sizeof p->code[0]);
  for (uint32_t i = 0; i < n; ++i) {
    p->code[p->len++] = ops[i];
  }
  return p->len - 1;
}
#define EMIT(...)                              \
  emit_ops(p, (const uint32_t[]){__VA_ARGS__}, \
           sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

static void build(Program* p) {
  p->len = 0;
  EMIT(kPush, 0, kStore, kI, kPush, 0, kStore, kAcc, kPush, 0, kStore, kCnt);
  uint32_t loop = p->len;
  uint32_t fix_end = EMIT(kLoad, kI, kLoad, kN, kLt, kJz, 0);
  uint32_t fix_square = EMIT(kLoad, kAcc, kLoad, kI, kCall, 0);
  EMIT(kAdd, kStore, kAcc);
  uint32_t fix_skip = EMIT(kLoad, kI, kPush, 3, kRem, kJnz, 0);
  EMIT(kLoad, kCnt, kPush, 1, kAdd, kStore, kCnt);
  p->code[fix_skip] = p->len;
  EMIT(kLoad, kI, kPush, 1, kAdd, kStore, kI, kJmp, loop);
  p->code[fix_end] = p->len;
  EMIT(kHalt);
  /* square: x -> x * x */
  p->code[fix_square] = p->len;
  EMIT(kDup, kMul, kRet);
}

/* Runs until HALT; traps on stack overflow or a bad opcode. */
static void execute(const Program* p, uint32_t* locals) {
  uint32_t stack[32];
  uint32_t calls[8];
  uint32_t sp = 0, csp = 0, pc = 0;
  const uint32_t* code = p->code;
  for (;;) {
    uint32_t op = code[pc++];
    switch (op) {
      case kPush:
        stack[sp++] = code[pc++];
        break;
      case kLoad:
        stack[sp++] = locals[code[pc++]];
        break;
      case kStore:
        locals[code[pc++]] = stack[--sp];
        break;
      case kAdd:
        --sp;
        stack[sp - 1] += stack[sp];
        break;
      case kMul:
        --sp;
        stack[sp - 1] *= stack[sp];
        break;
      case kRem:
        --sp;
        stack[sp - 1] %= stack[sp];
        break;
      case kLt:
        --sp;
        stack[sp - 1] = stack[sp - 1] < stack[sp];
        break;
      case kDup:
        stack[sp] = stack[sp - 1];
        ++sp;
        break;
      case kJz:
        pc = stack[--sp] == 0 ? code[pc] : pc + 1;
        break;
      case kJnz:
        pc = stack[--sp] != 0 ? code[pc] : pc + 1;
        break;
      case kJmp:
        pc = code[pc];
        break;
      case kCall:
        CORPUS_CHECK(csp < 8);
        calls[csp++] = pc + 1;
        pc = code[pc];
        break;
      case kRet:
        pc = calls[--csp];
        break;
      case kHalt:
        return;
      default:
        __builtin_trap();
    }
    CORPUS_CHECK(sp < 30);
  }
}

/* n(n-1)(2n-1)/6 mod 2^32, exactly: divide the factors 2 and 3 out of the
 * three factors before multiplying in wrapping 32-bit arithmetic. */
static uint32_t sum_of_squares(uint64_t n) {
  if (n == 0) {
    return 0;
  }
  uint64_t f[3] = {n, n - 1, 2 * n - 1};
  for (int d = 2; d <= 3; ++d) {
    for (int k = 0; k < 3; ++k) {
      if (f[k] % d == 0) {
        f[k] /= d;
        break;
      }
    }
  }
  return (uint32_t)f[0] * (uint32_t)f[1] * (uint32_t)f[2];
}

uint32_t run(void) {
  Program p;
  build(&p);
  uint32_t locals[4] = {0, vm_n, 0, 0};
  execute(&p, locals);
  uint32_t n = locals[kN];
  CORPUS_CHECK(locals[kI] == n);
  CORPUS_CHECK(locals[kAcc] == sum_of_squares(n));
  CORPUS_CHECK(locals[kCnt] == (n + 2) / 3);
  return locals[kAcc] ^ locals[kCnt];
}
