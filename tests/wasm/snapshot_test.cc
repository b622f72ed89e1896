// Snapshots (rusm/wasm.h, Snapshot): an instance made from a snapshot starts
// in the captured state — memory size and bytes, globals (numbers and
// funcrefs), tables (its own functions and its imports, resolved in the new
// instance), dropped segments — and is independent of the captured instance
// and of its siblings. What cannot be captured says "not supported yet".
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "rusm/wasm.h"

namespace rusm::wasm {
namespace {

std::shared_ptr<const Module> load(const std::string& name) {
  std::ifstream in(std::string(RUSM_TEST_GUEST_DIR) + "/" + name + ".wasm", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_FALSE(bytes.empty()) << name;
  auto module = Module::compile(bytes);
  EXPECT_TRUE(module.is_ok()) << (module.is_ok() ? "" : module.error().message());
  return module.is_ok() ? *module : nullptr;
}

HostAction return_value(HostCall& call) {
  call.set_result_i32(0, *static_cast<uint32_t*>(call.host_data()));
  return HostAction::kReturn;
}

HostAction ignore(HostCall&) {
  return HostAction::kReturn;
}

class SnapshotTest : public ::testing::Test {
 protected:
  // An instance whose `env.host` returns `host_value`.
  struct Guest {
    uint32_t host_value = 0;
    std::unique_ptr<Function> host, ext;
    std::shared_ptr<Instance> instance;
  };

  std::unique_ptr<Guest> make(uint32_t host_value, const InstanceOptions& options = {},
                              std::string* error = nullptr) {
    auto g = std::make_unique<Guest>();
    g->host_value = host_value;
    g->host =
        Function::host(FuncType{{}, {ValType::I32}}, return_value, &g->host_value, "env.host");
    g->ext = Function::host(FuncType{{ValType::I32}, {}}, ignore, nullptr, "env.ext");
    Imports imports;
    Extern h;
    h.kind = ExternKind::Func;
    h.func = g->host.get();
    imports.add("env", "host", h);
    Extern x = h;
    x.func = g->ext.get();
    imports.add("env", "ext", x);
    auto resolved = resolve_imports(*module_, imports);
    EXPECT_TRUE(resolved.is_ok());
    auto inst = Instance::instantiate(module_, *resolved, options);
    if (!inst) {
      if (error != nullptr) {
        *error = inst.error().message();
      }
      return nullptr;
    }
    g->instance = *inst;
    if (!options.snapshot) {  // the embedder runs the start function; a snapshot's has run
      Execution exec;
      EXPECT_TRUE(exec.begin_start(*g->instance).is_ok());
      EXPECT_EQ(exec.run(), RunStatus::kFinished);
    }
    return g;
  }

  // Calls an export; returns its first result (0 for none), or fails the test.
  static uint64_t call(Instance& inst, const char* name, std::vector<Value> args = {},
                       RunStatus expect = RunStatus::kFinished) {
    Execution exec;
    Function* f = inst.exported_function(name);
    EXPECT_NE(f, nullptr) << name;
    if (f == nullptr) {
      return 0;
    }
    EXPECT_TRUE(exec.begin(f, args).is_ok());
    RunStatus s = exec.run();
    EXPECT_EQ(s, expect) << name;
    if (s != RunStatus::kFinished) {
      return 0;
    }
    auto results = exec.results();
    return results.empty() ? 0 : results[0].raw();
  }

  void SetUp() override {
    module_ = load("snapshot");
    ASSERT_TRUE(module_);
  }

  std::shared_ptr<const Module> module_;
};

TEST_F(SnapshotTest, AnInstanceFromASnapshotStartsInTheCapturedState) {
  auto a = make(100);
  ASSERT_TRUE(a);
  call(*a->instance, "init");
  auto snap = a->instance->snapshot();
  ASSERT_TRUE(snap.is_ok()) << snap.error().message();
  EXPECT_EQ((*snap)->memory_pages(), 3u);

  InstanceOptions options;
  options.snapshot = *snap;
  auto b = make(200, options);
  ASSERT_TRUE(b);
  Instance& i = *b->instance;
  EXPECT_EQ(call(i, "pages"), 3u);
  EXPECT_EQ(call(i, "peek", {Value::i32(1000)}), 0x11223344u);
  EXPECT_EQ(call(i, "peek", {Value::i32(70000)}), 0x55667788u);
  EXPECT_EQ(call(i, "peek", {Value::i32(196600)}), 0x05060708u);
  EXPECT_EQ(call(i, "peek", {Value::i32(196604)}), 0x01020304u);
  EXPECT_EQ(call(i, "peek8", {Value::i32(16)}), uint32_t{'s'});    // the active segment
  EXPECT_EQ(call(i, "peek8", {Value::i32(5000)}), uint32_t{'p'});  // memory.init'ed by init
  EXPECT_EQ(call(i, "peek", {Value::i32(2000)}), 0u);              // never written
  EXPECT_EQ(call(i, "bump"), 42u);                                 // counter was 41
  EXPECT_EQ(call(i, "wide"), 0x7fffffffffffu);
  EXPECT_EQ(call(i, "starts"), 1u);  // the start function ran once, in `a`
  EXPECT_EQ(call(i, "call_slot", {Value::i32(1)}), 7u);
  EXPECT_EQ(call(i, "call_slot", {Value::i32(2)}), 9u);  // set by init
  EXPECT_EQ(call(i, "call_fn"), 9u);                     // the funcref global
  // Slot 0 holds the import: the new instance's own, not the captured one's.
  EXPECT_EQ(call(i, "call_slot", {Value::i32(0)}), 200u);
  EXPECT_EQ(call(*a->instance, "call_slot", {Value::i32(0)}), 100u);
  // The passive segment was dropped before the capture.
  call(i, "reinit", {}, RunStatus::kTrapped);
}

TEST_F(SnapshotTest, InstancesFromOneSnapshotAreIndependent) {
  auto a = make(1);
  ASSERT_TRUE(a);
  call(*a->instance, "init");
  auto snap = a->instance->snapshot();
  ASSERT_TRUE(snap.is_ok());
  InstanceOptions options;
  options.snapshot = *snap;
  auto b = make(2, options);
  auto c = make(3, options);
  ASSERT_TRUE(b && c);
  call(*b->instance, "poke", {Value::i32(1000), Value::i32(5)});
  call(*b->instance, "bump");
  call(*b->instance, "bump");
  EXPECT_EQ(call(*c->instance, "peek", {Value::i32(1000)}), 0x11223344u);
  EXPECT_EQ(call(*c->instance, "bump"), 42u);
  EXPECT_EQ(call(*a->instance, "peek", {Value::i32(1000)}), 0x11223344u);
  // The captured instance's later changes do not reach the snapshot.
  call(*a->instance, "poke", {Value::i32(3000), Value::i32(77)});
  auto d = make(4, options);
  ASSERT_TRUE(d);
  EXPECT_EQ(call(*d->instance, "peek", {Value::i32(3000)}), 0u);
  // A memory released by an instance from a snapshot comes back zeroed.
  b.reset();
  c.reset();
  d.reset();
  auto fresh = make(5);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(call(*fresh->instance, "peek", {Value::i32(1000)}), 0u);
  EXPECT_EQ(call(*fresh->instance, "pages"), 1u);
}

TEST_F(SnapshotTest, OnlyNonZeroWrittenChunksAreKept) {
  auto a = make(1);
  ASSERT_TRUE(a);
  call(*a->instance, "init");
  auto before = a->instance->snapshot();
  ASSERT_TRUE(before.is_ok());
  // Zeroing the chunk at 1000 (written by init) drops it from the next capture.
  call(*a->instance, "clear", {Value::i32(768)});
  auto after = a->instance->snapshot();
  ASSERT_TRUE(after.is_ok());
  EXPECT_LT((*after)->memory_bytes(), (*before)->memory_bytes());
  EXPECT_LE((*before)->memory_bytes(), a->instance->memory(0)->written_bytes() + 15);
  InstanceOptions options;
  options.snapshot = *after;
  auto b = make(2, options);
  ASSERT_TRUE(b);
  EXPECT_EQ(call(*b->instance, "peek", {Value::i32(1000)}), 0u);
  EXPECT_EQ(call(*b->instance, "peek", {Value::i32(70000)}), 0x55667788u);
}

TEST_F(SnapshotTest, ASnapshotOfAnInstanceFromASnapshotCarriesBoth) {
  auto a = make(1);
  ASSERT_TRUE(a);
  call(*a->instance, "init");
  auto first = a->instance->snapshot();
  ASSERT_TRUE(first.is_ok());
  InstanceOptions options;
  options.snapshot = *first;
  auto b = make(2, options);
  ASSERT_TRUE(b);
  call(*b->instance, "poke", {Value::i32(4000), Value::i32(99)});
  call(*b->instance, "bump");
  auto second = b->instance->snapshot();
  ASSERT_TRUE(second.is_ok());
  options.snapshot = *second;
  auto c = make(3, options);
  ASSERT_TRUE(c);
  EXPECT_EQ(call(*c->instance, "peek", {Value::i32(4000)}), 99u);
  EXPECT_EQ(call(*c->instance, "peek", {Value::i32(1000)}), 0x11223344u);
  EXPECT_EQ(call(*c->instance, "bump"), 43u);
}

TEST_F(SnapshotTest, ASnapshotLargerThanTheMemoryLimitIsRefused) {
  auto a = make(1);
  ASSERT_TRUE(a);
  call(*a->instance, "init");
  auto snap = a->instance->snapshot();
  ASSERT_TRUE(snap.is_ok());
  InstanceOptions options;
  options.snapshot = *snap;
  options.max_memory_pages = 2;  // the snapshot's memory has 3
  std::string error;
  EXPECT_FALSE(make(2, options, &error));
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos) << error;
}

TEST_F(SnapshotTest, ASnapshotOfAnotherModuleIsRefused) {
  auto a = make(1);
  ASSERT_TRUE(a);
  auto snap = a->instance->snapshot();
  ASSERT_TRUE(snap.is_ok());
  module_ = load("snapshot");  // the same bytes, another module
  InstanceOptions options;
  options.snapshot = *snap;
  std::string error;
  EXPECT_FALSE(make(2, options, &error));
  EXPECT_NE(error.find("another module"), std::string::npos) << error;
}

// An instance of snapshot_imports_memory.wat, initialized or not.
std::shared_ptr<Instance> importing_memory(bool initialize) {
  auto module = load("snapshot_imports_memory");
  auto memory = Memory::create(MemoryType{Limits{1, std::nullopt}});
  EXPECT_TRUE(module && memory.is_ok());
  if (!module || !memory) {
    return nullptr;
  }
  Imports imports;
  Extern m;
  m.kind = ExternKind::Memory;
  m.memory = memory->get();
  m.owner = *memory;
  imports.add("env", "memory", m);
  auto resolved = resolve_imports(*module, imports);
  EXPECT_TRUE(resolved.is_ok());
  auto inst =
      initialize ? Instance::instantiate(module, *resolved) : Instance::create(module, *resolved);
  EXPECT_TRUE(inst.is_ok());
  return inst ? *inst : nullptr;
}

TEST(SnapshotLimits, AnInstanceThatImportsItsMemoryCannotBeCaptured) {
  auto inst = importing_memory(true);
  ASSERT_TRUE(inst);
  auto snap = inst->snapshot();
  ASSERT_FALSE(snap.is_ok());
  EXPECT_NE(snap.error().message().find("not supported yet"), std::string::npos);
}

TEST(SnapshotLimits, AnUninitializedInstanceCannotBeCaptured) {
  auto inst = importing_memory(false);
  ASSERT_TRUE(inst);
  auto snap = inst->snapshot();
  ASSERT_FALSE(snap.is_ok());
  EXPECT_NE(snap.error().message().find("not initialized"), std::string::npos);
}

}  // namespace
}  // namespace rusm::wasm
