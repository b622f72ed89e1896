// Fuzzes linear memory against a reference copy: the input is a program of
// stores (every width and form: scalar, f32/f64, v128, lanes, fused add+store,
// constant stores, offsets), memory.fill/copy/init, host writes and
// memory.grow calls, run
// on tests/wasm/guests/mem_ops.wat and applied to a std::vector at the same
// time (tests/wasm/memory_model.h). After every grow (which moves the memory
// to a bigger region at 16, 32 and 64 pages) and at the end, the memory must
// equal the reference byte for byte, and after every operation the memory's
// footprint must count the chunks written; then the regions released by the
// program must read as zeros when reused; and an instance made from a
// snapshot of the program's instance must hold the same bytes. Any
// difference aborts.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "memory_model.h"

namespace {

using namespace rusm::wasm;
using testing::MemoryModel;
using testing::store_forms;

constexpr uint64_t kProgramMaxPages = 80;

const std::shared_ptr<const Module>& mem_ops() {
  static const std::shared_ptr<const Module> module = [] {
    std::ifstream in(RUSM_MEM_OPS_WASM, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    auto m = Module::compile(bytes);
    if (!m) {
      std::fprintf(stderr, "memory_fuzz: %s: %s\n", RUSM_MEM_OPS_WASM, m.message().c_str());
      std::abort();
    }
    return *m;
  }();
  return module;
}

// Reads the program; past the end of the input every read is zero.
class Input {
 public:
  Input(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool done() const { return p_ >= end_; }
  uint64_t bytes(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
      v |= uint64_t{p_ < end_ ? *p_++ : uint8_t{0}} << (8 * i);
    }
    return v;
  }
  // An address: across a chunk boundary, anywhere (some out of bounds) or raw.
  uint64_t address(uint64_t size) {
    switch (bytes(1) % 3) {
      case 0:
        return ((bytes(2) % (size >> 8)) << 8) + 240 + bytes(1) % 16;
      case 1:
        return bytes(4) % (size + 64);
      default:
        return bytes(4);
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "memory_fuzz: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) {
    return 0;
  }
  // Capacities (pages) of the regions the program's memory lived in: 16 at
  // first, then at least doubling at each move (MemoryImpl::grow).
  std::vector<uint64_t> capacities = {16};
  {
    MemoryModel model(mem_ops(), kProgramMaxPages);
    if (!model.error().empty()) {
      fail(model.error());
    }
    Input in(data, size);
    while (!in.done()) {
      uint64_t msize = model.size();
      std::string e;
      unsigned op = in.bytes(1) % 17;
      if (op <= 10) {
        size_t form = in.bytes(1) % store_forms().size();
        uint64_t ea = in.address(msize);
        uint64_t lo = in.bytes(8);
        e = model.store(form, ea, lo, in.bytes(8));
      } else if (op == 11) {
        uint32_t d = static_cast<uint32_t>(in.address(msize));
        uint8_t v = static_cast<uint8_t>(in.bytes(1));
        e = model.fill(d, v, static_cast<uint32_t>(in.bytes(2) % 2048));
      } else if (op == 12) {
        uint32_t d = static_cast<uint32_t>(in.address(msize));
        uint32_t s = static_cast<uint32_t>(in.address(msize));
        e = model.copy(d, s, static_cast<uint32_t>(in.bytes(2) % 2048));
      } else if (op == 13) {
        uint32_t d = static_cast<uint32_t>(in.address(msize));
        uint32_t s = static_cast<uint32_t>(in.bytes(2) % 520);
        e = model.init(d, s, static_cast<uint32_t>(in.bytes(2) % 520));
      } else if (op == 14) {
        uint64_t offset = in.address(msize);
        std::vector<uint8_t> bytes(in.bytes(2) % 1024);
        for (uint8_t& b : bytes) {
          b = static_cast<uint8_t>(in.bytes(1));
        }
        e = model.host_write(offset, bytes, offset % 2 == 0);
      } else {
        uint8_t* before = model.memory()->base();
        e = model.grow(static_cast<uint32_t>(in.bytes(1) % 8));
        if (model.memory()->base() != before) {
          uint64_t pages = model.size() / kPageSize;
          capacities.push_back(std::bit_ceil(std::max(pages, capacities.back() * 2)));
        }
      }
      if (e.empty()) {
        e = model.check_footprint();
      }
      if (!e.empty()) {
        fail(e);
      }
    }
    if (std::string e = model.compare(); !e.empty()) {
      fail(e);
    }
    if (std::string e = model.compare_snapshot(); !e.empty()) {
      fail(e);
    }
  }
  // The released regions are back in this thread's cache, last in first
  // out per size class: a memory of a region's capacity takes it again.
  static const std::vector<uint8_t> zeros(kProgramMaxPages * 2 * kPageSize, 0);
  for (uint64_t pages : capacities) {
    auto m = Memory::create(MemoryType{Limits{pages, std::nullopt}});
    if (!m) {
      fail("Memory::create: " + m.message());
    }
    const uint8_t* p = (*m)->read_span(0, pages * kPageSize);
    if (std::memcmp(p, zeros.data(), pages * kPageSize) != 0) {
      size_t i = 0;
      while (p[i] == 0) {
        ++i;
      }
      fail("byte " + std::to_string(i) + " of a recycled " + std::to_string(pages) +
           "-page region is not zero");
    }
  }
  return 0;
}
