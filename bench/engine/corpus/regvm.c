/* A register-machine bytecode interpreter of 312 opcodes, in the shape of
 * the dispatch loops of real interpreters (QuickJS's JS_CallInternal,
 * SQLite's sqlite3VdbeExec, Lua's luaV_execute): one `switch` inside a loop,
 * each case a handful of instructions. Like them it specializes its commonest
 * operations by operand: MOV d,s is one opcode per register pair (256),
 * ADDI r,imm and LOADK r,imm one per register (16 each); the rest are generic
 * three-register ALU operations, compare-and-branch, loads and stores, calls
 * and a value stack.
 *
 * The program: three routines written for virtual registers, assembled at
 * run time under 8 different register assignments (as code from different
 * call sites would be), so the dispatch spreads over many opcodes:
 *   collatz  for i in [1, n): the number of steps of i's Collatz sequence to
 *            1, folded into acc = acc * 31 + steps
 *   hash     mem[j] = j * 0x9E3779B1 ^ seed for j < m, then an FNV-style hash
 *            of mem with rotations
 *   fib      fib(k), recursively, through CALL/RET and PUSH/POP
 * Check: every result equals the same computation written directly in C. */
#include "corpus.h"

static volatile uint32_t regvm_n = 3000; /* collatz bound */
static volatile uint32_t regvm_m = 2048; /* hash: words of memory */
static volatile uint32_t regvm_k = 20;   /* fib argument */

enum {
  kMov = 0,     /* + d * 16 + s: r[d] = r[s] */
  kAddI = 256,  /* + r, imm: r[r] += imm */
  kLoadK = 272, /* + r, imm: r[r] = imm */
  kAdd = 288,   /* dab: r[d] = r[a] op r[b] (dab = d | a << 4 | b << 8) */
  kSub,
  kMul,
  kAnd,
  kOr,
  kXor,
  kShl,
  kShrU,
  kRotl,
  kRemU,
  kBeq, /* ab, target: branch if r[a] op r[b] */
  kBne,
  kBltU,
  kBgeU,
  kBeqZ, /* a, target: branch if r[a] == 0 */
  kBneZ,
  kJmp,  /* target */
  kLd,   /* da: r[d] = mem[r[a] % kMem] */
  kSt,   /* ab: mem[r[a] % kMem] = r[b] */
  kCall, /* target */
  kRet,
  kPush, /* a */
  kPop,  /* d */
  kHalt,
  kOpCount
};
_Static_assert(kOpCount == 312, "312 opcodes");

enum { kMem = 2048, kCode = 1024, kStack = 256, kCalls = 64 };

typedef struct {
  uint32_t code[kCode];
  uint32_t len;
  uint8_t phys[16]; /* virtual register -> register */
} Asm;

static void put(Asm* a, uint32_t w) {
  CORPUS_CHECK(a->len < kCode);
  a->code[a->len++] = w;
}
static void mov(Asm* a, int d, int s) {
  put(a, kMov + a->phys[d] * 16u + a->phys[s]);
}
static void addi(Asm* a, int r, int32_t imm) {
  put(a, kAddI + a->phys[r]);
  put(a, (uint32_t)imm);
}
static void loadk(Asm* a, int r, uint32_t imm) {
  put(a, kLoadK + a->phys[r]);
  put(a, imm);
}
/* PUSH r, POP r */
static void stack_op(Asm* a, uint32_t op, int r) {
  put(a, op);
  put(a, a->phys[r]);
}
static uint32_t dab(Asm* a, int d, int x, int y) {
  return a->phys[d] | (uint32_t)a->phys[x] << 4 | (uint32_t)a->phys[y] << 8;
}
static void alu(Asm* a, uint32_t op, int d, int x, int y) {
  put(a, op);
  put(a, dab(a, d, x, y));
}
/* A branch; returns where its target goes (patch() it, or pass a known one). */
static uint32_t branch(Asm* a, uint32_t op, int x, int y, uint32_t target) {
  put(a, op);
  put(a, dab(a, x, y, 0));
  put(a, target);
  return a->len - 1;
}
static uint32_t jump(Asm* a, uint32_t op, uint32_t target) {
  put(a, op);
  put(a, target);
  return a->len - 1;
}
static void patch(Asm* a, uint32_t at) {
  a->code[at] = a->len;
}

/* Virtual registers of the routines. */
enum { vAcc, vI, vN, vX, vSteps, vT, vOne, vThree, vK31, vJ, vH, vSeed, vGold, vFive, vTwo, vR };

static void build_collatz(Asm* a) {
  loadk(a, vOne, 1);
  loadk(a, vThree, 3);
  loadk(a, vK31, 31);
  loadk(a, vAcc, 0);
  loadk(a, vI, 1);
  uint32_t top = a->len;
  uint32_t to_done = branch(a, kBgeU, vI, vN, 0);
  mov(a, vX, vI);
  loadk(a, vSteps, 0);
  uint32_t loop = a->len;
  uint32_t to_out = branch(a, kBeq, vX, vOne, 0);
  mov(a, vT, vX);
  alu(a, kAnd, vT, vT, vOne);
  uint32_t to_even = branch(a, kBeqZ, vT, 0, 0);
  mov(a, vT, vX); /* x = 3x + 1 as x + x + x + 1 */
  alu(a, kAdd, vX, vX, vX);
  alu(a, kAdd, vX, vX, vT);
  addi(a, vX, 1);
  uint32_t to_next = jump(a, kJmp, 0);
  patch(a, to_even);
  alu(a, kShrU, vX, vX, vOne);
  patch(a, to_next);
  addi(a, vSteps, 1);
  jump(a, kJmp, loop);
  patch(a, to_out);
  alu(a, kMul, vAcc, vAcc, vK31);
  alu(a, kAdd, vAcc, vAcc, vSteps);
  addi(a, vI, 1);
  jump(a, kJmp, top);
  patch(a, to_done);
  put(a, kHalt);
}

static void build_hash(Asm* a) {
  loadk(a, vGold, 0x9E3779B1u);
  loadk(a, vFive, 5);
  loadk(a, vK31, 16777619u);
  loadk(a, vJ, 0);
  uint32_t fill = a->len;
  uint32_t to_filled = branch(a, kBgeU, vJ, vN, 0);
  alu(a, kMul, vT, vJ, vGold);
  alu(a, kXor, vT, vT, vSeed);
  put(a, kSt);
  put(a, dab(a, vJ, vT, 0));
  addi(a, vJ, 1);
  jump(a, kJmp, fill);
  patch(a, to_filled);
  loadk(a, vJ, 0);
  loadk(a, vH, 2166136261u);
  uint32_t hash = a->len;
  uint32_t to_done = branch(a, kBgeU, vJ, vN, 0);
  put(a, kLd);
  put(a, dab(a, vT, vJ, 0));
  alu(a, kXor, vH, vH, vT);
  alu(a, kRotl, vH, vH, vFive);
  alu(a, kMul, vH, vH, vK31);
  addi(a, vJ, 1);
  jump(a, kJmp, hash);
  patch(a, to_done);
  mov(a, vAcc, vH);
  put(a, kHalt);
}

/* fib(vN) into vR; vN is its argument, saved around the recursive calls. */
static void build_fib(Asm* a) {
  loadk(a, vTwo, 2);
  uint32_t to_fib = jump(a, kCall, 0);
  mov(a, vAcc, vR);
  put(a, kHalt);
  patch(a, to_fib);
  uint32_t fib = a->len;
  uint32_t to_base = branch(a, kBltU, vN, vTwo, 0);
  stack_op(a, kPush, vN);
  addi(a, vN, -1);
  jump(a, kCall, fib);
  stack_op(a, kPop, vN);
  stack_op(a, kPush, vR);
  stack_op(a, kPush, vN);
  addi(a, vN, -2);
  jump(a, kCall, fib);
  stack_op(a, kPop, vN);
  stack_op(a, kPop, vT);
  alu(a, kAdd, vR, vR, vT);
  put(a, kRet);
  patch(a, to_base);
  mov(a, vR, vN);
  put(a, kRet);
}

#define MOV1(n)              \
  case kMov + (n):           \
    r[(n) >> 4] = r[(n)&15]; \
    break;
#define MOV4(n) MOV1((n)*4) MOV1((n)*4 + 1) MOV1((n)*4 + 2) MOV1((n)*4 + 3)
#define MOV16(n) MOV4((n)*4) MOV4((n)*4 + 1) MOV4((n)*4 + 2) MOV4((n)*4 + 3)
#define MOV64(n) MOV16((n)*4) MOV16((n)*4 + 1) MOV16((n)*4 + 2) MOV16((n)*4 + 3)
#define REG1(n)         \
  case kAddI + (n):     \
    r[n] += code[pc++]; \
    break;              \
  case kLoadK + (n):    \
    r[n] = code[pc++];  \
    break;
#define REG4(n) REG1((n)*4) REG1((n)*4 + 1) REG1((n)*4 + 2) REG1((n)*4 + 3)
#define ALU(op, expr)              \
  case op: {                       \
    uint32_t w = code[pc++];       \
    uint32_t x = r[(w >> 4) & 15]; \
    uint32_t y = r[(w >> 8) & 15]; \
    r[w & 15] = (expr);            \
    break;                         \
  }
#define BRANCH(op, cond)                          \
  case op: {                                      \
    uint32_t w = code[pc++];                      \
    uint32_t x = r[w & 15], y = r[(w >> 4) & 15]; \
    pc = (cond) ? code[pc] : pc + 1;              \
    (void)y;                                      \
    break;                                        \
  }

/* Runs from pc 0 to HALT; returns r[acc's register]. Traps on a bad
 * opcode, a stack overflow or a division by zero. */
static uint32_t execute(const Asm* a, uint32_t* r, uint32_t* mem) {
  const uint32_t* code = a->code;
  uint32_t stack[kStack], calls[kCalls];
  uint32_t pc = 0, sp = 0, csp = 0;
  for (;;) {
    uint32_t op = code[pc++];
    switch (op) {
      MOV64(0)
      MOV64(1)
      MOV64(2)
      MOV64(3)
      REG4(0)
      REG4(1)
      REG4(2)
      REG4(3)
      ALU(kAdd, x + y)
      ALU(kSub, x - y)
      ALU(kMul, x * y)
      ALU(kAnd, x & y)
      ALU(kOr, x | y)
      ALU(kXor, x ^ y)
      ALU(kShl, x << (y & 31))
      ALU(kShrU, x >> (y & 31))
      ALU(kRotl, (x << (y & 31)) | (x >> ((32 - (y & 31)) & 31)))
      ALU(kRemU, y != 0 ? x % y : (__builtin_trap(), 0))
      BRANCH(kBeq, x == y)
      BRANCH(kBne, x != y)
      BRANCH(kBltU, x < y)
      BRANCH(kBgeU, x >= y)
      BRANCH(kBeqZ, x == 0)
      BRANCH(kBneZ, x != 0)
      case kJmp:
        pc = code[pc];
        break;
      case kLd: {
        uint32_t w = code[pc++];
        r[w & 15] = mem[r[(w >> 4) & 15] % kMem];
        break;
      }
      case kSt: {
        uint32_t w = code[pc++];
        mem[r[w & 15] % kMem] = r[(w >> 4) & 15];
        break;
      }
      case kCall:
        CORPUS_CHECK(csp < kCalls);
        calls[csp++] = pc + 1;
        pc = code[pc];
        break;
      case kRet:
        CORPUS_CHECK(csp > 0);
        pc = calls[--csp];
        break;
      case kPush:
        CORPUS_CHECK(sp < kStack);
        stack[sp++] = r[code[pc++]];
        break;
      case kPop:
        CORPUS_CHECK(sp > 0);
        r[code[pc++]] = stack[--sp];
        break;
      case kHalt:
        return r[a->phys[vAcc]];
      default:
        __builtin_trap();
    }
  }
}

/* The three routines in C. */
static uint32_t collatz_c(uint32_t n) {
  uint32_t acc = 0;
  for (uint32_t i = 1; i < n; ++i) {
    uint32_t x = i, steps = 0;
    while (x != 1) {
      x = (x & 1) ? 3 * x + 1 : x >> 1;
      ++steps;
    }
    acc = acc * 31 + steps;
  }
  return acc;
}

static uint32_t hash_c(uint32_t m, uint32_t seed) {
  static uint32_t mem[kMem];
  for (uint32_t j = 0; j < m; ++j) {
    mem[j % kMem] = (j * 0x9E3779B1u) ^ seed;
  }
  uint32_t h = 2166136261u;
  for (uint32_t j = 0; j < m; ++j) {
    h ^= mem[j % kMem];
    h = (h << 5) | (h >> 27);
    h *= 16777619u;
  }
  return h;
}

static uint32_t fib_c(uint32_t k) {
  uint32_t a = 0, b = 1;
  for (uint32_t i = 0; i < k; ++i) {
    uint32_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

uint32_t run(void) {
  static uint32_t mem[kMem];
  uint32_t n = regvm_n, m = regvm_m, k = regvm_k;
  uint32_t expect_collatz = collatz_c(n), expect_fib = fib_c(k);
  uint32_t checksum = 0;
  for (uint32_t assignment = 0; assignment < 8; ++assignment) {
    Asm a;
    for (uint32_t v = 0; v < 16; ++v) {
      a.phys[v] = (uint8_t)((v * 5 + assignment * 3) & 15); /* a permutation: 5 is odd */
    }
    uint32_t r[16] = {0};
    uint32_t seed = (uint32_t)corpus_mix64(assignment);

    a.len = 0;
    build_collatz(&a);
    r[a.phys[vN]] = n;
    uint32_t c = execute(&a, r, mem);
    CORPUS_CHECK(c == expect_collatz);

    a.len = 0;
    build_hash(&a);
    r[a.phys[vN]] = m;
    r[a.phys[vSeed]] = seed;
    uint32_t h = execute(&a, r, mem);
    CORPUS_CHECK(h == hash_c(m, seed));

    a.len = 0;
    build_fib(&a);
    r[a.phys[vN]] = k;
    uint32_t f = execute(&a, r, mem);
    CORPUS_CHECK(f == expect_fib);

    checksum = checksum * 31 + (c ^ h ^ f);
  }
  return checksum;
}
