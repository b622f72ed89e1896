// A linear memory checked against a reference copy.
//
// MemoryModel runs the exports of guests/mem_ops.wat (every store width and
// form the interpreter has, memory.fill/copy/init and memory.grow) on an
// instance and applies the same operations to a std::vector; compare() says
// where the two differ. Used by memory_test.cc (random programs) and by
// fuzz/memory_fuzz.cc (programs read from the fuzzer's input), so both check
// the same rules: a store or bulk operation writes exactly its bytes or traps
// without writing, and memory.grow keeps every byte, moving or not.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rusm/wasm.h"

namespace rusm::wasm::testing {

// One store export of mem_ops.wat.
struct StoreForm {
  const char* name;
  uint32_t bytes;                      // bytes written
  uint32_t value_offset = 0;           // first byte of the 16-byte value written (lanes)
  uint32_t memarg_offset = 0;          // the instruction's offset immediate
  bool adds_hi = false;                // address is u32(a + u32(hi)) (fused add+store)
  std::optional<uint64_t> constant{};  // stores this constant, not the value
};

inline const std::vector<StoreForm>& store_forms() {
  static const std::vector<StoreForm> forms = {
      {"i32.store8", 1},
      {"i32.store16", 2},
      {"i32.store", 4},
      {"i64.store8", 1},
      {"i64.store16", 2},
      {"i64.store32", 4},
      {"i64.store", 8},
      {"f32.store", 4},
      {"f64.store", 8},
      {"v128.store", 16},
      {"v128.store8_lane", 1, 5},
      {"v128.store16_lane", 2, 6},
      {"v128.store32_lane", 4, 8},
      {"v128.store64_lane", 8, 8},
      {"i32.store+add", 4, 0, 0, true},
      {"i64.store+add", 8, 0, 0, true},
      {"i32.store8+add", 1, 0, 0, true},
      {"i32.store16+add", 2, 0, 0, true},
      {"i32.store+imm", 4, 0, 0, false, 0xa1b2c3d4},
      {"i64.store+imm", 8, 0, 0, false, 0x0102030405060708},
      {"i32.store8+imm", 1, 0, 0, false, 0x7f},
      {"i32.store16+imm", 2, 0, 0, false, 0xbeef},
      {"i64.store+off", 8, 0, 252},
      {"v128.store+off", 16, 0, 241},
  };
  return forms;
}

// The passive data segment of mem_ops.wat (memory.init's source).
inline const std::vector<uint8_t>& init_segment() {
  static const std::vector<uint8_t> seg = [] {
    const std::string pattern = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::vector<uint8_t> s;
    for (int i = 0; i < 8; ++i) {
      s.insert(s.end(), pattern.begin(), pattern.end());
    }
    return s;
  }();
  return seg;
}

class MemoryModel {
 public:
  // `module` is mem_ops.wat compiled; the memory may grow to `max_pages`.
  MemoryModel(std::shared_ptr<const Module> module, uint64_t max_pages) : max_pages_(max_pages) {
    InstanceOptions options;
    options.max_memory_pages = max_pages;
    auto resolved = resolve_imports(*module, Imports{});
    if (!resolved) {
      error_ = "resolving imports: " + resolved.message();
      return;
    }
    auto inst = Instance::instantiate(module, *resolved, options);
    if (!inst) {
      error_ = "instantiating mem_ops: " + inst.message();
      return;
    }
    instance_ = std::move(*inst);
    memory_ = instance_->memory(0);
    ref_.assign(memory_->size_bytes(), 0);
    marked_.assign(ref_.size() >> 8, false);
    // Functions are created on first use and count in the footprint.
    for (const StoreForm& form : store_forms()) {
      instance_->exported_function(form.name);
    }
    for (const char* name : {"memory.fill", "memory.copy", "memory.init", "memory.grow"}) {
      instance_->exported_function(name);
    }
    footprint0_ = instance_->memory_footprint();
  }

  // Empty when the instance was created, else why not.
  const std::string& error() const { return error_; }
  Memory* memory() const { return memory_; }
  uint64_t size() const { return ref_.size(); }
  std::string& history() { return history_; }

  // Each operation returns an empty string when the instance did what the
  // reference did (same result, or the same trap), else what differed.

  // Store form `f` (an index into store_forms()) of value (lo, hi) so that
  // its effective address is `ea` (for "+off" forms, ea below the offset is
  // reached with a wrapped operand and traps, as it must).
  std::string store(size_t f, uint64_t ea, uint64_t lo, uint64_t hi) {
    const StoreForm& form = store_forms()[f];
    uint32_t a = static_cast<uint32_t>(ea - form.memarg_offset);
    uint64_t effective = uint64_t{a} + form.memarg_offset;
    if (form.adds_hi) {
      // Split the address between the two operands of the fused add.
      uint32_t b = static_cast<uint32_t>(hi);
      a = static_cast<uint32_t>(ea) - b;
      effective = static_cast<uint32_t>(a + b);
    }
    uint8_t value[16];
    std::memcpy(value, &lo, 8);
    std::memcpy(value + 8, &hi, 8);
    if (form.constant) {
      std::memcpy(value, &*form.constant, 8);
    }
    bool traps = effective + form.bytes > ref_.size();
    if (!traps) {
      std::memcpy(ref_.data() + effective, value + form.value_offset, form.bytes);
      mark(effective, 1);  // a store counts the chunk of its first byte
    }
    Value args[] = {Value::i32(a), Value::i64(lo), Value::i64(hi)};
    note(std::string(form.name) + " @" + std::to_string(effective));
    return run(form.name, args, traps, std::nullopt);
  }

  std::string fill(uint32_t d, uint8_t v, uint32_t n) {
    bool traps = uint64_t{d} + n > ref_.size();
    if (!traps) {
      std::memset(ref_.data() + d, v, n);
      mark(d, n);
    }
    Value args[] = {Value::i32(d), Value::i32(v), Value::i32(n)};
    note("fill @" + std::to_string(d) + "+" + std::to_string(n));
    return run("memory.fill", args, traps, std::nullopt);
  }

  std::string copy(uint32_t d, uint32_t s, uint32_t n) {
    bool traps = uint64_t{d} + n > ref_.size() || uint64_t{s} + n > ref_.size();
    if (!traps) {
      std::memmove(ref_.data() + d, ref_.data() + s, n);
      mark(d, n);
    }
    Value args[] = {Value::i32(d), Value::i32(s), Value::i32(n)};
    note("copy @" + std::to_string(d) + "<-" + std::to_string(s) + "+" + std::to_string(n));
    return run("memory.copy", args, traps, std::nullopt);
  }

  std::string init(uint32_t d, uint32_t s, uint32_t n) {
    const std::vector<uint8_t>& seg = init_segment();
    bool traps = uint64_t{s} + n > seg.size() || uint64_t{d} + n > ref_.size();
    if (!traps) {
      std::memcpy(ref_.data() + d, seg.data() + s, n);
      mark(d, n);
    }
    Value args[] = {Value::i32(d), Value::i32(s), Value::i32(n)};
    note("init @" + std::to_string(d) + "<-" + std::to_string(s) + "+" + std::to_string(n));
    return run("memory.init", args, traps, std::nullopt);
  }

  // A host function's write (WASI fd_read, the rusm ABI's message_read):
  // through Memory::span when `via_span`, else Memory::write.
  std::string host_write(uint64_t offset, const std::vector<uint8_t>& bytes, bool via_span) {
    bool fits = offset <= ref_.size() && bytes.size() <= ref_.size() - offset;
    if (fits && !bytes.empty()) {
      std::memcpy(ref_.data() + offset, bytes.data(), bytes.size());
      mark(offset, bytes.size());
    }
    note(std::string(via_span ? "span" : "write") + " @" + std::to_string(offset) + "+" +
         std::to_string(bytes.size()));
    bool done;
    if (via_span) {
      uint8_t* p = memory_->span(offset, bytes.size());
      done = p != nullptr;
      if (done && !bytes.empty()) {
        std::memcpy(p, bytes.data(), bytes.size());
      }
    } else {
      done = memory_->write(offset, bytes.data(), bytes.size());
    }
    return done == fits ? ""
                        : std::string("host write ") + (fits ? "refused" : "accepted") +
                              " out of bounds" + history_;
  }

  // Grows by `pages` and compares the whole memory with the reference.
  std::string grow(uint32_t pages) {
    uint64_t old = ref_.size() / kPageSize;
    bool fits = pages <= max_pages_ - old;
    if (fits) {
      ref_.resize(ref_.size() + uint64_t{pages} * kPageSize, 0);
      marked_.resize(ref_.size() >> 8, false);
    }
    Value args[] = {Value::i32(pages)};
    note("grow " + std::to_string(old) + "+" + std::to_string(pages));
    std::string e =
        run("memory.grow", args, false, fits ? static_cast<uint32_t>(old) : 0xffffffffu);
    return e.empty() ? compare() : e;
  }

  // The instance's memory_footprint() must have grown by a chunk (256 bytes)
  // per chunk first written and by a byte of dirty map per 256 bytes of
  // growth, and Memory::written_bytes() be 256 per chunk written: the engine
  // keeps them as a count, and this is the count's check.
  std::string check_footprint() const {
    uint64_t expected = footprint0_ + marked_count_ * 256 + (marked_.size() - (kPageSize >> 8));
    uint64_t got = instance_->memory_footprint();
    if (got == expected && memory_->written_bytes() == marked_count_ * 256) {
      return "";
    }
    return "memory_footprint() is " + std::to_string(got) + ", expected " +
           std::to_string(expected) + "; written_bytes() " +
           std::to_string(memory_->written_bytes()) + ", expected " +
           std::to_string(marked_count_ * 256) + history_;
  }

  // A snapshot of the instance, and an instance made from it: its memory
  // must equal the reference byte for byte (the snapshot keeps every
  // non-zero written byte, at the same size). Returns the first difference,
  // or "".
  std::string compare_snapshot() const {
    auto snap = instance_->snapshot();
    if (!snap) {
      return "snapshot: " + snap.message();
    }
    if ((*snap)->memory_pages() * kPageSize != ref_.size()) {
      return "the snapshot's memory has " + std::to_string((*snap)->memory_pages()) + " pages";
    }
    auto resolved = resolve_imports(instance_->module(), Imports{});
    if (!resolved) {
      return "resolving imports: " + resolved.message();
    }
    InstanceOptions options;
    options.max_memory_pages = max_pages_;
    options.snapshot = *snap;
    std::shared_ptr<const Module> module(instance_, &instance_->module());
    auto copy = Instance::instantiate(module, *resolved, options);
    if (!copy) {
      return "instantiating from the snapshot: " + copy.message();
    }
    Memory* m = (*copy)->memory(0);
    const uint8_t* got = m->read_span(0, ref_.size());
    if (m->size_bytes() != ref_.size() || got == nullptr) {
      return "the copy's memory is " + std::to_string(m->size_bytes()) + " bytes";
    }
    if (std::memcmp(got, ref_.data(), ref_.size()) != 0) {
      size_t i = 0;
      while (got[i] == ref_[i]) {
        ++i;
      }
      return "the copy's byte " + std::to_string(i) + " differs" + history_;
    }
    return "";
  }

  // The first byte where the instance's memory and the reference differ.
  std::string compare() const {
    if (memory_->size_bytes() != ref_.size()) {
      return "memory is " + std::to_string(memory_->size_bytes()) + " bytes, the reference " +
             std::to_string(ref_.size());
    }
    const uint8_t* got = memory_->read_span(0, ref_.size());
    if (got == nullptr || std::memcmp(got, ref_.data(), ref_.size()) == 0) {
      return got == nullptr ? "memory cannot be read" : "";
    }
    size_t i = 0;
    while (got[i] == ref_[i]) {
      ++i;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "byte %zu (chunk %zu + %zu) is 0x%02x, expected 0x%02x", i,
                  i >> 8, i & 255, got[i], ref_[i]);
    return std::string(buf) + "; last operations:" + history_;
  }

 private:
  std::string run(const char* name, std::span<const Value> args, bool traps,
                  std::optional<uint32_t> result) {
    Function* f = instance_->exported_function(name);
    if (f == nullptr) {
      return std::string("no export ") + name;
    }
    if (auto s = exec_.begin(f, args); !s) {
      return std::string(name) + ": " + s.message();
    }
    RunStatus st = exec_.run();
    if (traps) {
      return st == RunStatus::kTrapped
                 ? ""
                 : std::string(name) + " did not trap out of bounds" + history_;
    }
    if (st != RunStatus::kFinished) {
      return std::string(name) + " ended " + to_string(st) +
             (st == RunStatus::kTrapped ? ": " + exec_.trap().to_string() : "") + history_;
    }
    if (result) {
      std::vector<Value> r = exec_.results();
      if (r.size() != 1 || r[0].i32() != *result) {
        return std::string(name) + " returned " +
               (r.empty() ? "nothing" : std::to_string(r[0].i32())) + ", expected " +
               std::to_string(*result);
      }
    }
    return "";
  }
  // Chunks [begin >> 8, (begin + len - 1) >> 8] are now written.
  void mark(uint64_t begin, uint64_t len) {
    if (len == 0) {
      return;
    }
    for (uint64_t c = begin >> 8; c <= (begin + len - 1) >> 8; ++c) {
      marked_count_ += !marked_[c];
      marked_[c] = true;
    }
  }
  // Keeps the last few operations for failure messages.
  void note(const std::string& op) {
    history_ += "\n  " + op;
    if (history_.size() > 400) {
      history_.erase(0, history_.find('\n', history_.size() - 300));
    }
  }

  uint64_t max_pages_;
  std::string error_;
  std::shared_ptr<Instance> instance_;
  Memory* memory_ = nullptr;
  Execution exec_;
  std::vector<uint8_t> ref_;
  std::vector<bool> marked_;  // per 256-byte chunk: written
  uint64_t marked_count_ = 0;
  size_t footprint0_ = 0;  // memory_footprint() of the fresh one-page instance
  std::string history_;
};

}  // namespace rusm::wasm::testing
