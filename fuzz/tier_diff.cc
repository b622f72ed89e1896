// The generator and the comparison of tier_diff.h.
#include "tier_diff.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>

#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace rusm::tier_diff {
namespace {

// ---------------------------------------------------------------------------
// Choices from the input bytes

class Source {
 public:
  explicit Source(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint8_t byte() { return pos_ < bytes_.size() ? bytes_[pos_++] : 0; }
  // A choice in [0, n), n >= 1.
  uint32_t pick(uint32_t n) {
    if (n <= 1) {
      return 0;
    }
    if (n <= 256) {
      return byte() % n;
    }
    return u32() % n;
  }
  bool chance(uint32_t percent) { return pick(100) < percent; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      v = (v << 8) | byte();
    }
    return v;
  }
  uint64_t u64() { return (static_cast<uint64_t>(u32()) << 32) | u32(); }
  bool exhausted() const { return pos_ >= bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Encoding

enum VT : uint8_t { kI32 = 0x7f, kI64 = 0x7e, kF32 = 0x7d, kF64 = 0x7c };
constexpr VT kTypes[] = {kI32, kI64, kF32, kF64};
constexpr uint8_t kVoid = 0x40;

struct Bytes {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u32(uint32_t v) {
    do {
      uint8_t c = v & 0x7f;
      v >>= 7;
      b.push_back(v ? (c | 0x80) : c);
    } while (v);
  }
  void s64(int64_t v) {
    while (true) {
      uint8_t c = v & 0x7f;
      v >>= 7;  // arithmetic
      bool done = (v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40));
      b.push_back(done ? c : (c | 0x80));
      if (done) {
        break;
      }
    }
  }
  void s32(int32_t v) { s64(v); }
  void raw(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void append(const Bytes& o) { b.insert(b.end(), o.b.begin(), o.b.end()); }
  void name(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
};

// ---------------------------------------------------------------------------
// The generator

struct FuncSig {
  std::vector<VT> params;
  std::optional<VT> result;
};

struct Label {
  bool loop = false;
  std::optional<VT> type;  // the label's branch arity: the block's result
};

constexpr uint32_t kNumGlobals = 4;  // one of each type, global i has kTypes[i]
constexpr uint32_t kMemMaxPages = 4;

class Gen {
 public:
  explicit Gen(std::span<const uint8_t> bytes) : src_(bytes) {}

  std::vector<uint8_t> module() {
    uint32_t nfuncs = 1 + src_.pick(5);
    sigs_.resize(nfuncs);
    for (FuncSig& s : sigs_) {
      uint32_t np = src_.pick(4);
      for (uint32_t i = 0; i < np; ++i) {
        s.params.push_back(kTypes[src_.pick(4)]);
      }
      if (src_.pick(5) != 0) {
        s.result = kTypes[src_.pick(4)];
      }
    }
    std::vector<Bytes> bodies;
    for (uint32_t f = 0; f < nfuncs; ++f) {
      bodies.push_back(function(f));
    }

    Bytes m;
    m.raw("\0asm\1\0\0\0", 8);
    auto section = [&m](uint8_t id, const Bytes& contents) {
      m.u8(id);
      m.u32(static_cast<uint32_t>(contents.b.size()));
      m.append(contents);
    };
    Bytes types;  // one type per function, type i = function i's
    types.u32(nfuncs);
    for (const FuncSig& s : sigs_) {
      types.u8(0x60);
      types.u32(static_cast<uint32_t>(s.params.size()));
      for (VT t : s.params) {
        types.u8(t);
      }
      types.u32(s.result ? 1 : 0);
      if (s.result) {
        types.u8(*s.result);
      }
    }
    section(1, types);
    Bytes funcs;
    funcs.u32(nfuncs);
    for (uint32_t f = 0; f < nfuncs; ++f) {
      funcs.u32(f);
    }
    section(3, funcs);
    Bytes table;  // funcref, functions 0..n-1 then two null entries
    table.u32(1);
    table.u8(0x70);
    table.u8(0x00);
    table.u32(nfuncs + 2);
    section(4, table);
    Bytes mem;
    mem.u32(1);
    mem.u8(0x01);
    mem.u32(1);
    mem.u32(kMemMaxPages);
    section(5, mem);
    Bytes globals;
    globals.u32(kNumGlobals);
    for (uint32_t g = 0; g < kNumGlobals; ++g) {
      globals.u8(kTypes[g]);
      globals.u8(0x01);  // mutable
      constant(globals, kTypes[g]);
      globals.u8(0x0b);
    }
    section(6, globals);
    Bytes exports;
    exports.u32(nfuncs);
    for (uint32_t f = 0; f < nfuncs; ++f) {
      exports.name("f" + std::to_string(f));
      exports.u8(0x00);
      exports.u32(f);
    }
    section(7, exports);
    Bytes elems;
    elems.u32(1);
    elems.u8(0x00);
    elems.u8(0x41);
    elems.s32(0);
    elems.u8(0x0b);
    elems.u32(nfuncs);
    for (uint32_t f = 0; f < nfuncs; ++f) {
      elems.u32(f);
    }
    section(9, elems);
    Bytes code;
    code.u32(nfuncs);
    for (const Bytes& body : bodies) {
      code.u32(static_cast<uint32_t>(body.b.size()));
      code.append(body);
    }
    section(10, code);
    Bytes data;  // a few bytes at a small address
    data.u32(1);
    data.u8(0x00);
    data.u8(0x41);
    data.s32(static_cast<int32_t>(src_.pick(256)));
    data.u8(0x0b);
    uint32_t n = 1 + src_.pick(16);
    data.u32(n);
    for (uint32_t i = 0; i < n; ++i) {
      data.u8(static_cast<uint8_t>(src_.u32()));
    }
    section(11, data);
    return m.b;
  }

 private:
  // Locals: the params, then kLocalsPerType of each type, then the
  // reserved ones: a scratch local per float type (NaN canonicalization)
  // and the loop counters.
  static constexpr uint32_t kLocalsPerType = 2;
  static constexpr uint32_t kMaxLoops = 4;  // counters per function

  Bytes function(uint32_t f) {
    func_ = f;
    locals_.clear();
    for (VT t : sigs_[f].params) {
      locals_.push_back(t);
    }
    for (VT t : kTypes) {
      for (uint32_t i = 0; i < kLocalsPerType; ++i) {
        locals_.push_back(t);
      }
    }
    num_free_locals_ = static_cast<uint32_t>(locals_.size());
    scratch_f32_ = static_cast<uint32_t>(locals_.size());
    locals_.push_back(kF32);
    scratch_f64_ = static_cast<uint32_t>(locals_.size());
    locals_.push_back(kF64);
    first_counter_ = static_cast<uint32_t>(locals_.size());
    for (uint32_t i = 0; i < kMaxLoops; ++i) {
      locals_.push_back(kI32);
    }
    loops_used_ = 0;
    loop_counters_.clear();
    loop_depth_ = 0;
    budget_ = 60 + src_.pick(120);  // instructions, roughly

    Bytes body;
    // Local declarations (everything past the params), one entry per local.
    uint32_t nparams = static_cast<uint32_t>(sigs_[f].params.size());
    body.u32(static_cast<uint32_t>(locals_.size()) - nparams);
    for (size_t i = nparams; i < locals_.size(); ++i) {
      body.u32(1);
      body.u8(locals_[i]);
    }
    labels_.clear();
    labels_.push_back(Label{false, sigs_[f].result});  // the function's own
    out_ = &body;
    uint32_t nstmts = 1 + src_.pick(6);
    for (uint32_t i = 0; i < nstmts; ++i) {
      stmt(0);
    }
    if (sigs_[f].result) {
      expr(*sigs_[f].result, 0);
    }
    body.u8(0x0b);
    return body;
  }

  void op(uint8_t o) { out_->u8(o); }
  void fc(uint32_t o) {
    out_->u8(0xfc);
    out_->u32(o);
  }
  bool spend() {
    if (budget_ == 0) {
      return false;
    }
    --budget_;
    return true;
  }

  void constant(Bytes& out, VT t) {
    switch (t) {
      case kI32: {
        static constexpr int32_t kInteresting[] = {
            0, 1, -1, 2, 7, 31, 32, 0x7fffffff, INT32_MIN, 0xffff, 0x10000, -65536};
        out.u8(0x41);
        uint32_t c = src_.pick(3);
        out.s32(c == 0   ? kInteresting[src_.pick(12)]
                : c == 1 ? static_cast<int32_t>(src_.pick(100))
                         : static_cast<int32_t>(src_.u32()));
        break;
      }
      case kI64: {
        static constexpr int64_t kInteresting[] = {
            0, 1, -1, 63, 64, INT64_MAX, INT64_MIN, 0xffffffffLL, 0x100000000LL, INT32_MIN};
        out.u8(0x42);
        uint32_t c = src_.pick(3);
        out.s64(c == 0   ? kInteresting[src_.pick(10)]
                : c == 1 ? static_cast<int64_t>(src_.pick(100))
                         : static_cast<int64_t>(src_.u64()));
        break;
      }
      case kF32: {
        static constexpr uint32_t kInteresting[] = {
            0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000,
            0x7fc00000, 0xffc00000, 0x7fa00001, 0x00000001, 0x7f7fffff, 0x4f000000,
            0xcf000000, 0x5f000000, 0x3f000000, 0x3fc00000, 0x4effffff, 0xdf000000};
        out.u8(0x43);
        uint32_t bits;
        uint32_t c = src_.pick(3);
        if (c == 0) {
          bits = kInteresting[src_.pick(18)];
        } else if (c == 1) {
          float v = static_cast<float>(static_cast<int32_t>(src_.pick(200)) - 100) / 4;
          std::memcpy(&bits, &v, 4);
        } else {
          bits = src_.u32();
        }
        out.raw(&bits, 4);
        break;
      }
      case kF64: {
        static constexpr uint64_t kInteresting[] = {
            0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
            0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000000,
            0x7ff4000000000001, 0x0000000000000001, 0x7fefffffffffffff, 0x41e0000000000000,
            0xc1e0000000000000, 0x43e0000000000000, 0xc3e0000000000000, 0x3fe0000000000000,
            0x41dfffffffc00000, 0x41efffffffe00000, 0x43f0000000000000};
        out.u8(0x44);
        uint64_t bits;
        uint32_t c = src_.pick(3);
        if (c == 0) {
          bits = kInteresting[src_.pick(19)];
        } else if (c == 1) {
          double v = static_cast<double>(static_cast<int32_t>(src_.pick(200)) - 100) / 4;
          std::memcpy(&bits, &v, 8);
        } else {
          bits = src_.u64();
        }
        out.raw(&bits, 8);
        break;
      }
    }
  }

  uint32_t free_local(VT t) {
    // Locals of type t among the params and the declared free ones (there
    // are always kLocalsPerType of each type).
    std::vector<uint32_t> of;
    for (uint32_t i = 0; i < num_free_locals_; ++i) {
      if (locals_[i] == t) {
        of.push_back(i);
      }
    }
    return of[src_.pick(static_cast<uint32_t>(of.size()))];
  }
  uint32_t global_of(VT t) {
    for (uint32_t g = 0; g < kNumGlobals; ++g) {
      if (kTypes[g] == t) {
        return g;
      }
    }
    return 0;
  }

  // Emits code that replaces the float on top of the stack by the canonical
  // NaN if it is a NaN (so that its bits are deterministic).
  // [x] -> [canonical(x)]: computed as select(nan, x, x != x).
  void canonicalize(VT t) {
    uint32_t scratch = t == kF32 ? scratch_f32_ : scratch_f64_;
    op(0x21);
    out_->u32(scratch);  // local.set scratch
    if (t == kF32) {
      op(0x43);
      uint32_t nan = 0x7fc00000;
      out_->raw(&nan, 4);
    } else {
      op(0x44);
      uint64_t nan = 0x7ff8000000000000;
      out_->raw(&nan, 8);
    }
    op(0x20);
    out_->u32(scratch);
    op(0x20);
    out_->u32(scratch);
    op(0x20);
    out_->u32(scratch);
    op(t == kF32 ? 0x5c : 0x62);  // ne
    op(0x1b);                     // select
  }

  // An i32 address: mostly in the first KiB or 4 KiB, rarely near the end
  // of the memory or anywhere (a few percent of accesses are out of bounds,
  // so that most calls get far before one traps).
  // memory.size * 65536 - back: near the end of the memory.
  void near_end(int32_t back) {
    op(0x3f);
    op(0x00);
    op(0x41);
    out_->s32(16);
    op(0x74);
    op(0x41);
    out_->s32(back);
    op(0x6b);
  }

  void address() {
    if (!loop_counters_.empty() && src_.chance(60)) {
      // Affine in the innermost loop's counter: the compiled tier may prove
      // such accesses once before the loop (src/wasm/llvm/loop_guards.h), so
      // the bases run up to the end of memory and to where i32 addresses
      // wrap around.
      static constexpr int32_t kStrides[] = {1, 2, 4, 8, -8, 16, 256, -1};
      op(0x20);
      out_->u32(loop_counters_.back());
      op(0x41);
      out_->s32(kStrides[src_.pick(8)]);
      op(0x6c);  // i32.mul
      switch (src_.pick(4)) {
        case 0:
          op(0x41);
          out_->s32(static_cast<int32_t>(src_.pick(4096)));
          break;
        case 1:
          near_end(static_cast<int32_t>(src_.pick(64)));
          break;
        case 2:  // near 2^32: wraps to low addresses
          op(0x41);
          out_->s32(static_cast<int32_t>(0xFFFFFF00u + src_.pick(256)));
          break;
        default:
          expr(kI32, 3);
          op(0x41);
          out_->s32(0xffff);
          op(0x71);
          break;
      }
      op(0x6a);  // i32.add
      return;
    }
    uint32_t c = src_.pick(128);
    if (c < 70) {
      op(0x41);
      out_->s32(static_cast<int32_t>(src_.pick(c < 50 ? 256 : 4096)));
    } else if (c < 124) {  // a computed one, masked into the first KiB
      expr(kI32, 3);
      op(0x41);
      out_->s32(0x3ff);
      op(0x71);
    } else if (c == 124) {
      op(0x41);
      out_->s32(static_cast<int32_t>(65536 - 1 - src_.pick(16)));
    } else if (c == 125) {
      near_end(static_cast<int32_t>(1 + src_.pick(12)));
    } else if (c == 126) {
      op(0x41);
      out_->s32(static_cast<int32_t>(src_.u32()));
    } else {  // a computed one, masked into the first 128 KiB
      expr(kI32, 3);
      op(0x41);
      out_->s32(0x1ffff);
      op(0x71);
    }
  }
  void memarg(uint32_t natural_align_log2) {
    out_->u32(src_.pick(natural_align_log2 + 1));
    out_->u32(src_.pick(100) != 0 ? src_.pick(32) : src_.u32() % 70000);
  }

  // ---- expressions: push exactly one value of type t
  void expr(VT t, int depth) {
    if (depth >= 5 || !spend()) {
      leaf(t);
      return;
    }
    switch (src_.pick(16)) {
      case 0:
      case 1:
        leaf(t);
        return;
      case 2:
      case 3:
        unary(t, depth);
        return;
      case 4:
      case 5:
      case 6:
        binary(t, depth);
        return;
      case 7:
        convert(t, depth);
        return;
      case 8:
        load(t, depth);
        return;
      case 9:  // select
        expr(t, depth + 1);
        expr(t, depth + 1);
        expr(kI32, depth + 1);
        if (src_.chance(50)) {
          op(0x1b);
        } else {
          op(0x1c);  // select with a type
          out_->u32(1);
          op(t);
        }
        return;
      case 10: {  // block (result t)
        op(0x02);
        op(t);
        labels_.push_back(Label{false, t});
        uint32_t n = src_.pick(3);
        for (uint32_t i = 0; i < n; ++i) {
          stmt(depth + 1);
        }
        expr(t, depth + 1);
        labels_.pop_back();
        op(0x0b);
        return;
      }
      case 11: {  // if (result t)
        expr(kI32, depth + 1);
        op(0x04);
        op(t);
        labels_.push_back(Label{false, t});
        if (src_.chance(30)) {
          stmt(depth + 1);
        }
        expr(t, depth + 1);
        op(0x05);
        if (src_.chance(30)) {
          stmt(depth + 1);
        }
        expr(t, depth + 1);
        labels_.pop_back();
        op(0x0b);
        return;
      }
      case 12:
        if (call(t, depth)) {
          return;
        }
        leaf(t);
        return;
      case 13:
        if (t == kI32) {
          if (src_.chance(50)) {
            op(0x3f);
            op(0x00);  // memory.size
          } else {
            if (src_.chance(70)) {
              op(0x41);
              out_->s32(static_cast<int32_t>(src_.pick(3)));
            } else {
              expr(kI32, depth + 1);
            }
            op(0x40);
            op(0x00);  // memory.grow
          }
          return;
        }
        leaf(t);
        return;
      case 14: {  // local.tee
        expr(t, depth + 1);
        op(0x22);
        out_->u32(free_local(t));
        return;
      }
      default:
        if (t == kI32) {
          compare(depth);
        } else {
          binary(t, depth);
        }
        return;
    }
  }

  void leaf(VT t) {
    switch (src_.pick(3)) {
      case 0:
        constant(*out_, t);
        return;
      case 1:
        op(0x20);
        out_->u32(free_local(t));
        return;
      default:
        op(0x23);
        out_->u32(global_of(t));
        return;
    }
  }

  void unary(VT t, int depth) {
    switch (t) {
      case kI32: {
        static constexpr uint8_t kOps[] = {0x67, 0x68, 0x69, 0x45, 0xc0, 0xc1};
        expr(kI32, depth + 1);
        op(kOps[src_.pick(6)]);
        return;
      }
      case kI64: {
        static constexpr uint8_t kOps[] = {0x79, 0x7a, 0x7b, 0xc2, 0xc3, 0xc4};
        expr(kI64, depth + 1);
        op(kOps[src_.pick(6)]);
        return;
      }
      case kF32:
        expr(kF32, depth + 1);
        op(static_cast<uint8_t>(0x8b + src_.pick(7)));  // abs .. sqrt
        return;
      case kF64:
        expr(kF64, depth + 1);
        op(static_cast<uint8_t>(0x99 + src_.pick(7)));
        return;
    }
  }

  void binary(VT t, int depth) {
    switch (t) {
      case kI32:
      case kI64: {
        uint32_t o = src_.pick(15);  // add sub mul div_s div_u rem_s rem_u ... rotr
        expr(t, depth + 1);
        expr(t, depth + 1);
        if (o >= 3 && o <= 6 && src_.chance(90)) {
          // Mostly a divisor that is not 0 (it may still be -1).
          op(t == kI32 ? 0x41 : 0x42);
          out_->s32(1);
          op(t == kI32 ? 0x72 : 0x84);  // or
        }
        op(static_cast<uint8_t>((t == kI32 ? 0x6a : 0x7c) + o));
        return;
      }
      case kF32:
      case kF64: {
        uint32_t o = src_.pick(7);  // add sub mul div min max copysign
        expr(t, depth + 1);
        expr(t, depth + 1);
        if (o == 6) {
          canonicalize(t);  // the sign of a NaN is not deterministic
        }
        op(static_cast<uint8_t>((t == kF32 ? 0x92 : 0xa0) + o));
        return;
      }
    }
  }

  void compare(int depth) {
    VT t = kTypes[src_.pick(4)];
    switch (t) {
      case kI32:
        expr(kI32, depth + 1);
        expr(kI32, depth + 1);
        op(static_cast<uint8_t>(0x46 + src_.pick(10)));
        return;
      case kI64:
        if (src_.chance(20)) {
          expr(kI64, depth + 1);
          op(0x50);  // eqz
          return;
        }
        expr(kI64, depth + 1);
        expr(kI64, depth + 1);
        op(static_cast<uint8_t>(0x51 + src_.pick(10)));
        return;
      case kF32:
        expr(kF32, depth + 1);
        expr(kF32, depth + 1);
        op(static_cast<uint8_t>(0x5b + src_.pick(6)));
        return;
      case kF64:
        expr(kF64, depth + 1);
        expr(kF64, depth + 1);
        op(static_cast<uint8_t>(0x61 + src_.pick(6)));
        return;
    }
  }

  void convert(VT t, int depth) {
    switch (t) {
      case kI32:
        switch (src_.pick(5)) {
          case 0:
            expr(kI64, depth + 1);
            op(0xa7);  // wrap
            return;
          case 1:  // trapping truncation
            if (src_.chance(50)) {
              expr(kF32, depth + 1);
              op(static_cast<uint8_t>(0xa8 + src_.pick(2)));
            } else {
              expr(kF64, depth + 1);
              op(static_cast<uint8_t>(0xaa + src_.pick(2)));
            }
            return;
          case 2:  // saturating
            if (src_.chance(50)) {
              expr(kF32, depth + 1);
              fc(src_.pick(2));
            } else {
              expr(kF64, depth + 1);
              fc(2 + src_.pick(2));
            }
            return;
          case 3:
            expr(kF32, depth + 1);
            canonicalize(kF32);
            op(0xbc);  // reinterpret
            return;
          default:
            compare(depth);
            return;
        }
      case kI64:
        switch (src_.pick(5)) {
          case 0:
            expr(kI32, depth + 1);
            op(static_cast<uint8_t>(0xac + src_.pick(2)));  // extend_s/u
            return;
          case 1:
            if (src_.chance(50)) {
              expr(kF32, depth + 1);
              op(static_cast<uint8_t>(0xae + src_.pick(2)));
            } else {
              expr(kF64, depth + 1);
              op(static_cast<uint8_t>(0xb0 + src_.pick(2)));
            }
            return;
          case 2:
            if (src_.chance(50)) {
              expr(kF32, depth + 1);
              fc(4 + src_.pick(2));
            } else {
              expr(kF64, depth + 1);
              fc(6 + src_.pick(2));
            }
            return;
          case 3:
            expr(kF64, depth + 1);
            canonicalize(kF64);
            op(0xbd);
            return;
          default:
            expr(kI64, depth + 1);
            op(0xc4);  // extend32_s
            return;
        }
      case kF32:
        switch (src_.pick(4)) {
          case 0:
            expr(kI32, depth + 1);
            op(static_cast<uint8_t>(0xb2 + src_.pick(2)));
            return;
          case 1:
            expr(kI64, depth + 1);
            op(static_cast<uint8_t>(0xb4 + src_.pick(2)));
            return;
          case 2:
            expr(kF64, depth + 1);
            op(0xb6);  // demote
            return;
          default:
            expr(kI32, depth + 1);
            op(0xbe);  // reinterpret
            return;
        }
      case kF64:
        switch (src_.pick(4)) {
          case 0:
            expr(kI32, depth + 1);
            op(static_cast<uint8_t>(0xb7 + src_.pick(2)));
            return;
          case 1:
            expr(kI64, depth + 1);
            op(static_cast<uint8_t>(0xb9 + src_.pick(2)));
            return;
          case 2:
            expr(kF32, depth + 1);
            op(0xbb);  // promote
            return;
          default:
            expr(kI64, depth + 1);
            op(0xbf);
            return;
        }
    }
  }

  void load(VT t, int depth) {
    (void)depth;
    address();
    switch (t) {
      case kI32: {
        static constexpr uint8_t kOps[] = {0x28, 0x2c, 0x2d, 0x2e, 0x2f};
        static constexpr uint32_t kAlign[] = {2, 0, 0, 1, 1};
        uint32_t i = src_.pick(5);
        op(kOps[i]);
        memarg(kAlign[i]);
        return;
      }
      case kI64: {
        static constexpr uint8_t kOps[] = {0x29, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35};
        static constexpr uint32_t kAlign[] = {3, 0, 0, 1, 1, 2, 2};
        uint32_t i = src_.pick(7);
        op(kOps[i]);
        memarg(kAlign[i]);
        return;
      }
      case kF32:
        op(0x2a);
        memarg(2);
        return;
      case kF64:
        op(0x2b);
        memarg(3);
        return;
    }
  }

  void store(int depth) {
    VT t = kTypes[src_.pick(4)];
    address();
    expr(t, depth + 1);
    switch (t) {
      case kI32: {
        static constexpr uint8_t kOps[] = {0x36, 0x3a, 0x3b};
        static constexpr uint32_t kAlign[] = {2, 0, 1};
        uint32_t i = src_.pick(3);
        op(kOps[i]);
        memarg(kAlign[i]);
        return;
      }
      case kI64: {
        static constexpr uint8_t kOps[] = {0x37, 0x3c, 0x3d, 0x3e};
        static constexpr uint32_t kAlign[] = {3, 0, 1, 2};
        uint32_t i = src_.pick(4);
        op(kOps[i]);
        memarg(kAlign[i]);
        return;
      }
      case kF32:
        canonicalize(kF32);
        op(0x38);
        memarg(2);
        return;
      case kF64:
        canonicalize(kF64);
        op(0x39);
        memarg(3);
        return;
    }
  }

  // A call of a later function (calls only go forward: no recursion) whose
  // result is `want` (nullopt: any, the result dropped by the caller).
  // False if there is none.
  bool call(std::optional<VT> want, int depth, bool drop_result = false) {
    std::vector<uint32_t> callees;
    for (uint32_t g = func_ + 1; g < sigs_.size(); ++g) {
      if (drop_result || sigs_[g].result == want) {
        callees.push_back(g);
      }
    }
    bool indirect = src_.chance(35);
    if (callees.empty() && (!indirect || src_.chance(80))) {
      return false;  // (a call_indirect of a null slot, sometimes)
    }
    // The callee (or, for call_indirect, the table slot): a later function,
    // or past the functions (two null slots, then past the table's end).
    uint32_t n = static_cast<uint32_t>(sigs_.size());
    uint32_t type;
    uint32_t slot = 0;
    bool dynamic = false;
    if (indirect) {
      if (!callees.empty() && src_.chance(95)) {
        slot = callees[src_.pick(static_cast<uint32_t>(callees.size()))];
        type = slot;
        if (src_.chance(10)) {
          type = src_.pick(n);  // maybe a signature mismatch
        }
      } else {
        slot = n + src_.pick(3);  // null, null, out of the table
        type = src_.pick(n);
      }
      dynamic = slot + 1 < n + 3 && src_.chance(25);
    } else {
      slot = callees[src_.pick(static_cast<uint32_t>(callees.size()))];
      type = slot;
    }
    if (!drop_result && sigs_[type].result != want) {
      return false;  // (nothing emitted yet)
    }
    for (VT p : sigs_[type].params) {
      expr(p, depth + 1);
    }
    if (indirect) {
      if (dynamic) {  // slot or slot + 1, both past this function
        expr(kI32, depth + 1);
        op(0x41);
        out_->s32(1);
        op(0x71);
        op(0x41);
        out_->s32(static_cast<int32_t>(slot));
        op(0x6a);
      } else {
        op(0x41);
        out_->s32(static_cast<int32_t>(slot));
      }
      op(0x11);
      out_->u32(type);
      out_->u32(0);
    } else {
      op(0x10);
      out_->u32(slot);
    }
    if (drop_result && sigs_[type].result) {
      op(0x1a);
    }
    return true;
  }

  // The labels a br may target with a value of type `t` (any type when
  // !typed): never a loop (its counter bounds it), as a relative depth.
  std::vector<uint32_t> targets() {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (!labels_[i].loop) {
        out.push_back(static_cast<uint32_t>(labels_.size() - 1 - i));
      }
    }
    return out;
  }
  const Label& label_at(uint32_t depth) const { return labels_[labels_.size() - 1 - depth]; }
  void value_for(const Label& l, int depth) {
    if (l.type) {
      expr(*l.type, depth + 1);
    }
  }

  // ---- statements: leave the stack as they found it
  void stmt(int depth) {
    if (depth >= 4 || !spend()) {
      // Something cheap with no effect on the stack.
      VT t = kTypes[src_.pick(4)];
      leaf(t);
      op(0x21);
      out_->u32(free_local(t));
      return;
    }
    switch (src_.pick(20)) {
      case 0:
      case 1:
      case 2: {  // local.set
        VT t = kTypes[src_.pick(4)];
        expr(t, depth + 1);
        op(0x21);
        out_->u32(free_local(t));
        return;
      }
      case 3:
      case 4: {  // global.set
        VT t = kTypes[src_.pick(4)];
        expr(t, depth + 1);
        op(0x24);
        out_->u32(global_of(t));
        return;
      }
      case 5:
      case 6:
      case 7:
        store(depth);
        return;
      case 8: {  // drop
        expr(kTypes[src_.pick(4)], depth + 1);
        op(0x1a);
        return;
      }
      case 9: {  // block
        op(0x02);
        op(kVoid);
        labels_.push_back(Label{false, std::nullopt});
        uint32_t n = 1 + src_.pick(4);
        for (uint32_t i = 0; i < n; ++i) {
          stmt(depth + 1);
        }
        labels_.pop_back();
        op(0x0b);
        return;
      }
      case 10: {  // if / else
        expr(kI32, depth + 1);
        op(0x04);
        op(kVoid);
        labels_.push_back(Label{false, std::nullopt});
        uint32_t n = 1 + src_.pick(3);
        for (uint32_t i = 0; i < n; ++i) {
          stmt(depth + 1);
        }
        if (src_.chance(50)) {
          op(0x05);
          n = 1 + src_.pick(3);
          for (uint32_t i = 0; i < n; ++i) {
            stmt(depth + 1);
          }
        }
        labels_.pop_back();
        op(0x0b);
        return;
      }
      case 11:
      case 12: {  // a bounded loop: counter = k; loop { ...; br_if (--counter) }
        if (loops_used_ == kMaxLoops || loop_depth_ >= 2) {
          store(depth);
          return;
        }
        uint32_t counter = first_counter_ + loops_used_++;
        op(0x41);
        // Mostly short; sometimes long enough for a vectorized body.
        out_->s32(static_cast<int32_t>(1 + src_.pick(src_.chance(20) ? 300 : 6)));
        op(0x21);
        out_->u32(counter);
        op(0x03);
        op(kVoid);
        labels_.push_back(Label{true, std::nullopt});
        ++loop_depth_;
        loop_counters_.push_back(counter);
        uint32_t n = 1 + src_.pick(4);
        for (uint32_t i = 0; i < n; ++i) {
          stmt(depth + 1);
        }
        loop_counters_.pop_back();
        --loop_depth_;
        op(0x20);
        out_->u32(counter);
        op(0x41);
        out_->s32(1);
        op(0x6b);
        op(0x22);
        out_->u32(counter);
        op(0x0d);
        out_->u32(0);  // br_if to the loop
        labels_.pop_back();
        op(0x0b);
        return;
      }
      case 13: {  // br_if (the value, if any, dropped when not taken)
        std::vector<uint32_t> ts = targets();
        uint32_t d = ts[src_.pick(static_cast<uint32_t>(ts.size()))];
        const Label& l = label_at(d);
        bool has_value = l.type.has_value();
        value_for(l, depth);
        expr(kI32, depth + 1);
        op(0x0d);
        out_->u32(d);
        if (has_value) {
          op(0x1a);
        }
        return;
      }
      case 14: {                 // br or br_table, then the block goes on (unreachable code)
        if (!src_.chance(15)) {  // rarely: most blocks would end here
          stmt(depth + 1);
          return;
        }
        std::vector<uint32_t> ts = targets();
        uint32_t d = ts[src_.pick(static_cast<uint32_t>(ts.size()))];
        std::optional<VT> type = label_at(d).type;
        value_for(label_at(d), depth);
        if (src_.chance(50)) {
          op(0x0c);
          out_->u32(d);
        } else {
          std::vector<uint32_t> same;
          for (uint32_t t : ts) {
            if (label_at(t).type == type) {
              same.push_back(t);
            }
          }
          expr(kI32, depth + 1);
          op(0x0e);
          uint32_t n = src_.pick(4);
          out_->u32(n);
          for (uint32_t i = 0; i < n; ++i) {
            out_->u32(same[src_.pick(static_cast<uint32_t>(same.size()))]);
          }
          out_->u32(d);
        }
        return;
      }
      case 15:  // a call, its result dropped
        if (!call(std::nullopt, depth, /*drop_result=*/true)) {
          store(depth);
        }
        return;
      case 16: {  // memory.fill / memory.copy
        address();
        if (src_.chance(50)) {
          expr(kI32, depth + 1);
          op(0x41);
          out_->s32(static_cast<int32_t>(src_.chance(97) ? src_.pick(64) : src_.u32() % 70000));
          fc(11);
          op(0x00);
        } else {
          address();
          op(0x41);
          out_->s32(static_cast<int32_t>(src_.chance(97) ? src_.pick(64) : src_.u32() % 70000));
          fc(10);
          op(0x00);
          op(0x00);
        }
        return;
      }
      case 17: {  // memory.grow, result dropped
        op(0x41);
        out_->s32(static_cast<int32_t>(src_.pick(3)));
        op(0x40);
        op(0x00);
        op(0x1a);
        return;
      }
      case 18:
        if (src_.chance(10)) {  // return
          if (sigs_[func_].result) {
            expr(*sigs_[func_].result, depth + 1);
          }
          op(0x0f);
          return;
        }
        if (src_.chance(3)) {
          op(0x00);  // unreachable
          return;
        }
        stmt(depth + 1);
        return;
      default: {
        VT t = kTypes[src_.pick(4)];
        expr(t, depth + 1);
        op(0x21);
        out_->u32(free_local(t));
        return;
      }
    }
  }

  Source src_;
  std::vector<FuncSig> sigs_;
  std::vector<VT> locals_;
  std::vector<Label> labels_;
  Bytes* out_ = nullptr;
  uint32_t func_ = 0;
  uint32_t num_free_locals_ = 0;
  uint32_t scratch_f32_ = 0, scratch_f64_ = 0, first_counter_ = 0;
  uint32_t loops_used_ = 0;
  int loop_depth_ = 0;
  std::vector<uint32_t> loop_counters_;  // the enclosing loops' counter locals
  uint32_t budget_ = 0;
};

// ---------------------------------------------------------------------------
// Running and comparing

using namespace rusm::wasm;

constexpr int64_t kFuel = 5'000'000;

struct Outcome {
  RunStatus status = RunStatus::kFinished;
  std::vector<Value> results;
  TrapCode code = TrapCode::kUnreachable;
  std::string trap;
};

struct Side {
  std::shared_ptr<const Module> module;
  std::shared_ptr<Instance> instance;
  std::unique_ptr<Execution> exec;
};

Result<Side> prepare(std::span<const uint8_t> wasm, Tier tier) {
  CompileOptions options;
  options.tier = tier;
  options.native_cache_dir = "off";
  auto module = Module::compile(wasm, options);
  if (!module) {
    return Error(std::string("compile (") + to_string(tier) + "): " + module.message());
  }
  if ((*module)->tier() != tier) {
    return Error(std::string("compiled as ") + to_string((*module)->tier()) + ", asked for " +
                 to_string(tier));
  }
  auto resolved = resolve_imports(**module, Imports{});
  if (!resolved) {
    return Error("imports: " + resolved.message());
  }
  auto instance = Instance::instantiate(*module, *resolved);
  if (!instance) {
    return Error(std::string("instantiate (") + to_string(tier) + "): " + instance.message());
  }
  Side s;
  s.module = *module;
  s.instance = *instance;
  s.exec = std::make_unique<Execution>();
  return s;
}

Value fixed_arg(ValType t, size_t i) {
  static constexpr uint32_t kI32[] = {7, 0xffffffff, 0x80000000, 100};
  static constexpr uint64_t kI64[] = {0x123456789abcdef0, 1, 0x8000000000000000, 65536};
  static constexpr float kF32[] = {1.5f, -0.0f, 3e9f, -7.25f};
  static constexpr double kF64[] = {-2.5, 0.0, 1e300, 4294967296.5};
  switch (t) {
    case ValType::I32:
      return Value::i32(kI32[i % 4]);
    case ValType::I64:
      return Value::i64(kI64[i % 4]);
    case ValType::F32:
      return Value::f32(kF32[i % 4]);
    case ValType::F64:
      return Value::f64(kF64[i % 4]);
    default:
      return Value::zero(t);
  }
}

// What a call came to once its run stopped with `status`.
Outcome outcome(const Side& s, RunStatus status) {
  Outcome o;
  o.status = status;
  if (status == RunStatus::kFinished) {
    o.results = s.exec->results();
  } else if (status == RunStatus::kTrapped) {
    o.code = s.exec->trap().code;
    o.trap = s.exec->trap().to_string();
  }
  return o;
}

Outcome begin_failed(const Status& st) {
  Outcome o;
  o.status = RunStatus::kTrapped;
  o.trap = "begin: " + st.message();
  return o;
}

Outcome call(Side& s, Function* f, std::span<const Value> args) {
  if (Status st = s.exec->begin(f, args); !st) {
    return begin_failed(st);
  }
  return outcome(s, s.exec->run(kFuel));
}

// A third side: the interpreted module adopts the compiled one's machine
// code (Module::adopt_native_code) once `switch_after` units of fuel have
// been spent over the calls, in the middle of whichever call is running
// then: that call's frames go on interpreted and its callees run compiled.
// The call runs in short slices (as the scheduler's) so that the switch
// falls inside calls.
struct Switching {
  const Module* donor = nullptr;
  int64_t switch_after = 0;
  int64_t spent = 0;
  bool adopted = false;
  bool midway = false;  // adopted while a call was unfinished
  std::string error;
};

Outcome call_switching(Side& s, Function* f, std::span<const Value> args, Switching& sw) {
  constexpr int64_t kSlice = 61;
  if (Status st = s.exec->begin(f, args); !st) {
    return begin_failed(st);
  }
  RunStatus status;
  for (;;) {
    int64_t before = s.exec->fuel_consumed();
    status = s.exec->run(kSlice);
    sw.spent += s.exec->fuel_consumed() - before;
    if (!sw.adopted && sw.spent >= sw.switch_after) {
      sw.adopted = true;
      sw.midway = status == RunStatus::kOutOfFuel;
      if (Status st = s.module->adopt_native_code(*sw.donor); !st) {
        sw.error = st.message();
      }
    }
    if (status != RunStatus::kOutOfFuel || s.exec->fuel_consumed() >= kFuel) {
      return outcome(s, status);
    }
  }
}

bool is_nan(const Value& v) {
  if (v.type() == ValType::F32) {
    return std::isnan(v.f32());
  }
  if (v.type() == ValType::F64) {
    return std::isnan(v.f64());
  }
  return false;
}

bool same_value(const Value& a, const Value& b) {
  if (a.type() != b.type()) {
    return false;
  }
  if (is_nan(a) || is_nan(b)) {
    return is_nan(a) && is_nan(b);
  }
  return a.raw() == b.raw();
}

std::string describe(const Outcome& o) {
  switch (o.status) {
    case RunStatus::kFinished: {
      std::string s = "returned [";
      for (size_t i = 0; i < o.results.size(); ++i) {
        s += (i ? ", " : "") + o.results[i].to_string();
      }
      return s + "]";
    }
    case RunStatus::kTrapped:
      return "trapped: " + o.trap;
    default:
      return to_string(o.status);
  }
}

bool same_outcome(const Outcome& a, const Outcome& b) {
  if (a.status != b.status) {
    return false;
  }
  if (a.status == RunStatus::kTrapped) {
    return a.code == b.code;
  }
  if (a.results.size() != b.results.size()) {
    return false;
  }
  for (size_t i = 0; i < a.results.size(); ++i) {
    if (!same_value(a.results[i], b.results[i])) {
      return false;
    }
  }
  return true;
}

// "" when the memories and globals agree, else what differs.
std::string compare_state(Side& a, Side& b) {
  std::string diff;
  Memory* ma = a.instance->memory(0);
  Memory* mb = b.instance->memory(0);
  if (ma == nullptr || mb == nullptr) {  // (a hand-written module, see --file)
    if (ma != mb) {
      diff += "one side has no memory\n";
    }
  } else if (ma->size_bytes() != mb->size_bytes()) {
    diff += "memory size " + std::to_string(ma->pages()) + " vs " + std::to_string(mb->pages()) +
            " pages\n";
  } else if (std::memcmp(ma->base(), mb->base(), ma->size_bytes()) != 0) {
    uint64_t first = 0;
    while (ma->base()[first] == mb->base()[first]) {
      ++first;
    }
    uint64_t last = ma->size_bytes() - 1;
    while (ma->base()[last] == mb->base()[last]) {
      --last;
    }
    std::ostringstream os;
    os << "memory differs in [" << first << ", " << last << "]:";
    for (uint64_t i = first; i <= last && i < first + 16; ++i) {
      os << " " << static_cast<int>(ma->base()[i]) << "/" << static_cast<int>(mb->base()[i]);
    }
    diff += os.str() + " (interpreter/compiled)\n";
  }
  for (uint32_t g = 0; a.instance->global(g) != nullptr && b.instance->global(g) != nullptr; ++g) {
    Value va = a.instance->global(g)->get();
    Value vb = b.instance->global(g)->get();
    if (!same_value(va, vb)) {
      diff +=
          "global " + std::to_string(g) + ": " + va.to_string() + " vs " + vb.to_string() + "\n";
    }
  }
  return diff;
}

}  // namespace

std::vector<uint8_t> generate_module(std::span<const uint8_t> bytes) {
  return Gen(bytes).module();
}

std::vector<uint8_t> seed_bytes(uint64_t seed, size_t n) {
  std::vector<uint8_t> out(n);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x += 0x9e3779b97f4a7c15;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    z ^= z >> 31;
    for (size_t j = 0; j < 8 && i + j < n; ++j) {
      out[i + j] = static_cast<uint8_t>(z >> (8 * j));
    }
  }
  return out;
}

CheckResult check_module(std::span<const uint8_t> wasm) {
  enable_compiled_tier();
  CheckResult r;
  auto interp = prepare(wasm, Tier::kInterpreter);
  if (!interp) {
    r.kind = CheckResult::kBadModule;
    r.report = interp.message();
    return r;
  }
  auto compiled = prepare(wasm, Tier::kCompiled);
  if (!compiled) {
    r.kind = CheckResult::kBadModule;
    r.report = compiled.message();
    return r;
  }
  auto switched = prepare(wasm, Tier::kInterpreter);
  if (!switched) {
    r.kind = CheckResult::kBadModule;
    r.report = switched.message();
    return r;
  }
  Switching sw;
  sw.donor = compiled->module.get();
  uint64_t h = 14695981039346656037ull;  // FNV-1a of the module: where it switches
  for (uint8_t byte : wasm) {
    h = (h ^ byte) * 1099511628211ull;
  }
  sw.switch_after = static_cast<int64_t>(h % 400);
  for (const ExportInfo& ex : interp->module->exports()) {
    if (ex.kind != ExternKind::Func) {
      continue;
    }
    Function* fa = interp->instance->exported_function(ex.name);
    Function* fb = compiled->instance->exported_function(ex.name);
    std::vector<Value> args;
    for (size_t i = 0; i < fa->type().params.size(); ++i) {
      args.push_back(fixed_arg(fa->type().params[i], i));
    }
    Outcome a = call(*interp, fa, args);
    Outcome b = call(*compiled, fb, args);
    Outcome c = call_switching(*switched, switched->instance->exported_function(ex.name), args, sw);
    if (a.status == RunStatus::kOutOfFuel || b.status == RunStatus::kOutOfFuel ||
        c.status == RunStatus::kOutOfFuel) {
      r.kind = CheckResult::kInconclusive;
      return r;
    }
    ++r.calls;
    std::string diff;
    if (!same_outcome(a, b)) {
      diff = "interpreter " + describe(a) + "\ncompiled    " + describe(b) + "\n";
    }
    diff += compare_state(*interp, *compiled);
    if (!sw.error.empty()) {
      diff += "adopting the compiled code: " + sw.error + "\n";
    }
    if (!same_outcome(a, c)) {
      diff += "interpreter " + describe(a) + "\nswitched    " + describe(c) + " (after " +
              std::to_string(sw.switch_after) + " fuel)\n";
    }
    std::string state = compare_state(*interp, *switched);
    if (!state.empty()) {
      diff += "switched to compiled code midway: " + state;
    }
    if (!diff.empty()) {
      r.kind = CheckResult::kMismatch;
      r.report = "after calling export " + ex.name + ":\n" + diff;
      return r;
    }
    r.switched_midway = sw.midway;
    if (a.status == RunStatus::kTrapped) {
      ++r.traps;
      r.trap_kinds.push_back(to_string(a.code));
    }
  }
  return r;
}

}  // namespace rusm::tier_diff
