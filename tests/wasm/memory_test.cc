// Linear memory against a reference copy: random stores of every width and
// form (chunk-straddling ones favoured), bulk operations and memory.grow
// calls that move the memory to bigger regions, compared byte for byte after
// every grow; the footprint counted as chunks are written; then recycled
// regions must read as zeros.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "memory_model.h"
#include "rusm/wasm.h"

namespace rusm::wasm {
namespace {

using testing::MemoryModel;
using testing::store_forms;

std::shared_ptr<const Module> mem_ops() {
  std::ifstream in(std::string(RUSM_TEST_GUEST_DIR) + "/mem_ops.wasm", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  auto module = Module::compile(bytes);
  EXPECT_TRUE(module.is_ok()) << (module.is_ok() ? "" : module.error().message());
  return module.is_ok() ? *module : nullptr;
}

// Prints what differed when an operation of the model did not match.
::testing::AssertionResult expect_ok(const std::string& error) {
  if (error.empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << error;
}

// An address that straddles a 256-byte chunk boundary for most widths, or
// anywhere, or near the end of memory (some out of bounds).
uint64_t pick_address(std::mt19937_64& rng, uint64_t size) {
  switch (rng() % 4) {
    case 0:
    case 1:
      return ((rng() % (size >> 8)) << 8) + 241 + rng() % 15;
    case 2:
      return rng() % size;
    default:
      return size - 1 - rng() % 24;
  }
}

// Runs `ops` random operations; memory starts at one page and may grow to
// `max_pages`, moving at 16, 32, 64, ... pages.
void run_random_program(uint64_t seed, int ops, uint64_t max_pages) {
  auto module = mem_ops();
  ASSERT_TRUE(module);
  MemoryModel model(module, max_pages);
  ASSERT_TRUE(expect_ok(model.error()));
  std::mt19937_64 rng(seed);
  int grows = 0;
  for (int i = 0; i < ops; ++i) {
    uint64_t size = model.size();
    std::string e;
    unsigned what = rng() % 100;
    if (what < 80) {
      e = model.store(rng() % store_forms().size(), pick_address(rng, size), rng(), rng());
    } else if (what < 86) {
      uint32_t n = static_cast<uint32_t>(rng() % 1200);
      e = model.fill(static_cast<uint32_t>(pick_address(rng, size)), static_cast<uint8_t>(rng()),
                     n);
    } else if (what < 92) {
      uint32_t n = static_cast<uint32_t>(rng() % 1200);
      e = model.copy(static_cast<uint32_t>(pick_address(rng, size)),
                     static_cast<uint32_t>(rng() % size), n);
    } else if (what < 94) {
      std::vector<uint8_t> bytes(rng() % 700);
      for (uint8_t& b : bytes) {
        b = static_cast<uint8_t>(rng());
      }
      e = model.host_write(pick_address(rng, size), bytes, rng() % 2 == 0);
    } else if (what < 97) {
      uint32_t s = static_cast<uint32_t>(rng() % 500);
      e = model.init(static_cast<uint32_t>(pick_address(rng, size)), s,
                     static_cast<uint32_t>(rng() % (510 - s)));
    } else {
      ++grows;
      e = model.grow(static_cast<uint32_t>(rng() % 7));
    }
    ASSERT_TRUE(expect_ok(e)) << "seed " << seed << ", operation " << i;
    ASSERT_TRUE(expect_ok(model.check_footprint())) << "seed " << seed << ", operation " << i;
  }
  ASSERT_TRUE(expect_ok(model.compare())) << "seed " << seed << " at the end";
  // An instance from a snapshot of this one holds the same bytes.
  ASSERT_TRUE(expect_ok(model.compare_snapshot())) << "seed " << seed << ": the snapshot";
  EXPECT_GT(grows, 0);
}

TEST(MemoryModelTest, RandomStoresBulkOpsAndGrowsKeepEveryByte) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    run_random_program(seed, 3000, 160);
  }
}

// The report's reproduction: 8 bytes at a 256-aligned address + 252, then a
// grow that moves the memory. Each width and form on its own, at every
// straddling offset.
TEST(MemoryModelTest, StraddlingStoreOfEveryFormSurvivesAMovingGrow) {
  auto module = mem_ops();
  ASSERT_TRUE(module);
  for (size_t f = 0; f < store_forms().size(); ++f) {
    for (uint32_t off = 241; off < 256; ++off) {
      MemoryModel model(module, 64);
      ASSERT_TRUE(expect_ok(model.error()));
      ASSERT_TRUE(expect_ok(model.store(f, 4096 + off, 0x1122334455667788, 0x99aabbccddeeff00)));
      EXPECT_TRUE(expect_ok(model.grow(20))) << store_forms()[f].name << " at 4096 + " << off;
    }
  }
}

// memory.fill/copy/init and host writes (Memory::write, Memory::span) that
// end in a chunk they do not start in.
TEST(MemoryModelTest, BulkWritesAcrossChunksSurviveAMovingGrow) {
  auto module = mem_ops();
  ASSERT_TRUE(module);
  MemoryModel model(module, 64);
  ASSERT_TRUE(expect_ok(model.error()));
  ASSERT_TRUE(expect_ok(model.fill(250, 0xab, 700)));
  ASSERT_TRUE(expect_ok(model.copy(2000, 300, 600)));
  ASSERT_TRUE(expect_ok(model.init(5000 + 200, 3, 400)));
  ASSERT_TRUE(expect_ok(model.host_write(8000 + 254, {1, 2, 3, 4}, false)));
  ASSERT_TRUE(expect_ok(model.host_write(9000 + 250, std::vector<uint8_t>(600, 7), true)));
  ASSERT_TRUE(expect_ok(model.grow(40)));
}

// Regions released by a grow (the old one) and by the instance's end (the
// grown one) are reused by the next memories on this thread: every byte a
// straddling store or a bulk write touched must be zero again.
TEST(MemoryModelTest, RecycledRegionsAreZeroAfterStraddlingStoresAndGrows) {
  auto module = mem_ops();
  ASSERT_TRUE(module);
  for (int round = 0; round < 3; ++round) {
    uint8_t* first_base = nullptr;
    uint8_t* last_base = nullptr;
    uint64_t last_capacity_pages = 0;
    {
      MemoryModel model(module, 64);
      ASSERT_TRUE(expect_ok(model.error()));
      first_base = model.memory()->base();
      for (size_t f = 0; f < store_forms().size(); ++f) {
        ASSERT_TRUE(expect_ok(model.store(f, ((f + 1) << 8) + 252, ~uint64_t{0}, ~uint64_t{0})));
      }
      ASSERT_TRUE(expect_ok(model.fill(65536 - 3, 0xff, 3)));
      ASSERT_TRUE(expect_ok(model.grow(20)));  // 16-page region -> 32-page region
      ASSERT_NE(model.memory()->base(), first_base);
      for (size_t f = 0; f < store_forms().size(); ++f) {
        ASSERT_TRUE(expect_ok(model.store(f, ((f + 40) << 8) + 250, ~uint64_t{0}, ~uint64_t{0})));
      }
      last_base = model.memory()->base();
      last_capacity_pages = 32;
    }
    // The thread's region cache is last in, first out.
    const std::vector<std::pair<uint8_t*, uint64_t>> regions = {{last_base, last_capacity_pages},
                                                                {first_base, 16}};
    for (auto [base, pages] : regions) {
      auto m = Memory::create(MemoryType{Limits{pages, std::nullopt}});
      ASSERT_TRUE(m.is_ok());
      ASSERT_EQ((*m)->base(), base) << "not the recycled region; the test proves nothing";
      const uint8_t* p = (*m)->read_span(0, pages * kPageSize);
      for (uint64_t i = 0; i < pages * kPageSize; ++i) {
        ASSERT_EQ(p[i], 0) << "round " << round << ": byte " << i << " of a recycled " << pages
                           << "-page region survived";
      }
    }
  }
}

}  // namespace
}  // namespace rusm::wasm
