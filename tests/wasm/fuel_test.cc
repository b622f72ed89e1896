// Fuel accounting (src/wasm/interp.cc, "Fuel"): fuel tracks the work a call
// actually does, whatever the shape of its control flow, and every run stops
// within kMaxFuelOvershoot of its budget.
//
// The guests are generated here, in the binary format, by a small writer that
// counts the Wasm instructions it emits, so each test knows how many Wasm
// instructions a call executes without asking the engine. Fuel is counted in
// the interpreter's own instructions, which are fewer (`local.get`, most
// constants and `local.set`s cost nothing there, a comparison and the branch
// on it are one), so the invariant checked is a band: fuel per executed Wasm
// instruction within [kMinRatio, kMaxRatio]. Typical code sits near 0.4; the
// band is wide enough for any mix of instructions the compiler handles and
// narrow enough that charging for code that did not run (a loop charged for
// all its branches: a 3000-case switch costs thousands of times its path)
// falls far outside.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rusm/wasm.h"

namespace rusm::wasm {
namespace {

// Fuel per executed Wasm instruction: at least one interpreter instruction
// per 5 Wasm instructions (the most a superinstruction absorbs is about 4:
// two local.gets, a comparison and its br_if), at most 1.5 (a Wasm
// instruction is at most one interpreter instruction, plus the copies that
// move values at block boundaries).
constexpr double kMinRatio = 0.2;
constexpr double kMaxRatio = 1.5;

// ---------------------------------------------------------------------------
// A minimal writer of function bodies and modules (i32 only).

class Code {
 public:
  // Wasm instructions executed when control passes the code emitted so far
  // in straight line: every instruction but the structural block, loop,
  // else and end, which do no work of their own.
  size_t count() const { return count_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

  void block() { structural(0x02, 0x40); }
  void loop() { structural(0x03, 0x40); }
  void else_() { structural(0x05); }
  void end() { structural(0x0B); }
  void if_(bool result_i32 = false) {
    op(0x04);
    bytes_.push_back(result_i32 ? 0x7F : 0x40);
  }
  void br(uint32_t depth) { op(0x0C, depth); }
  void br_if(uint32_t depth) { op(0x0D, depth); }
  void br_table(const std::vector<uint32_t>& depths, uint32_t default_depth) {
    op(0x0E, static_cast<uint32_t>(depths.size()));
    for (uint32_t d : depths) {
      leb(d);
    }
    leb(default_depth);
  }
  void call(uint32_t f) { op(0x10, f); }
  void get(uint32_t local) { op(0x20, local); }
  void set(uint32_t local) { op(0x21, local); }
  void tee(uint32_t local) { op(0x22, local); }
  void i32(int32_t v) {
    op(0x41);
    sleb(v);
  }
  void eq() { op(0x46); }
  void lt_u() { op(0x49); }
  void add() { op(0x6A); }
  void sub() { op(0x6B); }
  void mul() { op(0x6C); }
  void rem_u() { op(0x70); }
  void and_() { op(0x71); }
  void xor_() { op(0x73); }
  void shr_u() { op(0x76); }

 private:
  void op(uint8_t b) {
    bytes_.push_back(b);
    ++count_;
  }
  void op(uint8_t b, uint32_t imm) {
    op(b);
    leb(imm);
  }
  void structural(uint8_t b) { bytes_.push_back(b); }
  void structural(uint8_t b, uint8_t block_type) {
    bytes_.push_back(b);
    bytes_.push_back(block_type);
  }
  void leb(uint32_t v) {
    do {
      uint8_t byte = v & 0x7F;
      v >>= 7;
      bytes_.push_back(byte | (v != 0 ? 0x80 : 0));
    } while (v != 0);
  }
  void sleb(int32_t v) {
    int64_t x = v;
    for (;;) {
      uint8_t byte = x & 0x7F;
      x >>= 7;
      bool done = (x == 0 && !(byte & 0x40)) || (x == -1 && (byte & 0x40));
      bytes_.push_back(byte | (done ? 0 : 0x80));
      if (done) {
        return;
      }
    }
  }

  std::vector<uint8_t> bytes_;
  size_t count_ = 0;
};

struct Func {
  std::string name;  // exported under this name
  uint32_t params = 1;
  uint32_t locals = 4;
  bool result = true;
  Code code;  // the body without its final `end`
};

void put_leb(std::vector<uint8_t>& out, uint32_t v) {
  do {
    uint8_t byte = v & 0x7F;
    v >>= 7;
    out.push_back(byte | (v != 0 ? 0x80 : 0));
  } while (v != 0);
}

void put_section(std::vector<uint8_t>& out, uint8_t id, const std::vector<uint8_t>& body) {
  out.push_back(id);
  put_leb(out, static_cast<uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

// A module of `funcs`, each exported by name, after the imports "env"
// `imports`, functions of no parameters and no results: imports take the
// first function indices, then funcs in order.
std::vector<uint8_t> module_bytes(const std::vector<Func>& funcs,
                                  const std::vector<std::string>& imports = {}) {
  std::vector<uint8_t> out = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};
  std::vector<uint8_t> types, import_section, fns, exports, code;
  uint32_t num_imports = static_cast<uint32_t>(imports.size());
  put_leb(types, static_cast<uint32_t>(funcs.size()) + (num_imports != 0 ? 1 : 0));
  put_leb(import_section, num_imports);
  put_leb(fns, static_cast<uint32_t>(funcs.size()));
  put_leb(exports, static_cast<uint32_t>(funcs.size()));
  put_leb(code, static_cast<uint32_t>(funcs.size()));
  for (const std::string& name : imports) {
    import_section.insert(import_section.end(), {3, 'e', 'n', 'v'});
    put_leb(import_section, static_cast<uint32_t>(name.size()));
    import_section.insert(import_section.end(), name.begin(), name.end());
    import_section.push_back(0x00);
    put_leb(import_section, static_cast<uint32_t>(funcs.size()));  // the last type: () -> ()
  }
  for (uint32_t i = 0; i < funcs.size(); ++i) {
    const Func& f = funcs[i];
    types.push_back(0x60);
    put_leb(types, f.params);
    types.insert(types.end(), f.params, 0x7F);
    types.push_back(f.result ? 1 : 0);
    if (f.result) {
      types.push_back(0x7F);
    }
    put_leb(fns, i);
    put_leb(exports, static_cast<uint32_t>(f.name.size()));
    exports.insert(exports.end(), f.name.begin(), f.name.end());
    exports.push_back(0x00);
    put_leb(exports, num_imports + i);
    std::vector<uint8_t> body;
    if (f.locals == 0) {
      body.push_back(0);
    } else {
      body.push_back(1);
      put_leb(body, f.locals);
      body.push_back(0x7F);
    }
    body.insert(body.end(), f.code.bytes().begin(), f.code.bytes().end());
    body.push_back(0x0B);
    put_leb(code, static_cast<uint32_t>(body.size()));
    code.insert(code.end(), body.begin(), body.end());
  }
  if (num_imports != 0) {
    types.insert(types.end(), {0x60, 0, 0});
  }
  put_section(out, 1, types);
  if (num_imports != 0) {
    put_section(out, 2, import_section);
  }
  put_section(out, 3, fns);
  put_section(out, 7, exports);
  put_section(out, 10, code);
  return out;
}

// Locals of the generated loops: the iteration count is the parameter.
constexpr uint32_t kN = 0, kI = 1, kS = 2, kK = 3;

// ++i; loop again while i < n (the loop is the innermost label).
void loop_footer(Code& c, uint32_t counter = kI, uint32_t limit = kN) {
  c.get(counter);
  c.i32(1);
  c.add();
  c.tee(counter);
  c.get(limit);
  c.lt_u();
  c.br_if(0);
}

// local *= k: 4 instructions.
void scale(Code& c, uint32_t local, int32_t k) {
  c.get(local);
  c.i32(k);
  c.mul();
  c.set(local);
}

// What a generated function executes: Wasm instructions for `n` iterations.
struct Shape {
  Func func;
  std::function<double(uint32_t n)> executed;
};

// s = s * 31 + i; s ^= s >> 3, n times.
Shape straight_loop() {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "straight";
  c.loop();
  size_t begin = c.count();
  c.get(kS);
  c.i32(31);
  c.mul();
  c.get(kI);
  c.add();
  c.set(kS);
  c.get(kS);
  c.get(kS);
  c.i32(3);
  c.shr_u();
  c.xor_();
  c.set(kS);
  loop_footer(c);
  size_t per_iteration = c.count() - begin;
  c.end();
  c.get(kS);
  sh.executed = [per_iteration](uint32_t n) { return double(n) * per_iteration; };
  return sh;
}

// A loop over a switch of `cases` cases (a power of two), lowered as C
// compilers do: nested blocks, a br_table to the case, each case a little
// arithmetic on the state, picking the next case, then a branch to the join.
// Every case has the same length, so an iteration runs the same number of
// instructions whichever case it takes. `forever`: the loop never ends.
Shape switch_loop(uint32_t cases, bool forever = false) {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "switch";
  c.i32(12345);
  c.set(kS);
  c.loop();
  size_t begin = c.count();
  c.block();  // the join
  for (uint32_t i = 0; i < cases; ++i) {
    c.block();
  }
  c.get(kK);
  std::vector<uint32_t> depths(cases);
  for (uint32_t i = 0; i < cases; ++i) {
    depths[i] = i;
  }
  c.br_table(depths, 0);
  size_t dispatch = c.count() - begin;
  size_t case_length = 0;
  for (uint32_t i = 0; i < cases; ++i) {
    c.end();
    size_t at = c.count();
    c.get(kS);
    c.i32(static_cast<int32_t>(2 * i + 0x9E3779B1u));
    c.mul();
    c.i32(static_cast<int32_t>(i));
    c.add();
    c.tee(kS);
    c.i32(7);
    c.shr_u();
    c.i32(static_cast<int32_t>(cases - 1));
    c.and_();
    c.set(kK);
    c.br(cases - 1 - i);
    case_length = c.count() - at;
  }
  c.end();  // the join
  size_t footer = c.count();
  if (forever) {
    c.br(0);
  } else {
    loop_footer(c);
  }
  footer = c.count() - footer;
  c.end();
  c.get(kS);
  size_t per_iteration = dispatch + case_length + footer;
  sh.executed = [per_iteration](uint32_t n) { return double(n) * per_iteration; };
  return sh;
}

// Nested loops: n outer iterations of `inner` inner ones.
Shape nested_loops(uint32_t inner) {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "nested";
  sh.func.params = 2;  // n, m
  constexpr uint32_t kM = 1, kI2 = 2, kS2 = 3, kJ2 = 4;
  c.loop();
  size_t outer_begin = c.count();
  c.i32(0);
  c.set(kJ2);
  size_t outer = c.count() - outer_begin;
  c.loop();
  size_t inner_begin = c.count();
  c.get(kS2);
  c.get(kJ2);
  c.add();
  c.i32(7);
  c.mul();
  c.set(kS2);
  loop_footer(c, kJ2, kM);
  size_t per_inner = c.count() - inner_begin;
  c.end();
  size_t footer = c.count();
  loop_footer(c, kI2, kN);
  outer += c.count() - footer;
  c.end();
  c.get(kS2);
  sh.executed = [=](uint32_t n) { return double(n) * (outer + double(inner) * per_inner); };
  return sh;
}

// if (k == 0) arm 0 else if (k == 1) arm 1 ... with k = i % arms.
Shape if_else_chain(uint32_t arms) {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "chain";
  c.loop();
  size_t begin = c.count();
  c.get(kI);
  c.i32(static_cast<int32_t>(arms));
  c.rem_u();
  c.set(kK);
  size_t header = c.count() - begin;
  size_t test = 0, arm = 0;
  for (uint32_t j = 0; j < arms; ++j) {
    size_t at = c.count();
    c.get(kK);
    c.i32(static_cast<int32_t>(j));
    c.eq();
    c.if_();
    test = c.count() - at;
    at = c.count();
    c.get(kS);
    c.i32(static_cast<int32_t>(2 * j + 3));
    c.mul();
    c.i32(static_cast<int32_t>(j));
    c.xor_();
    c.set(kS);
    arm = c.count() - at;
    c.else_();
  }
  for (uint32_t j = 0; j < arms; ++j) {
    c.end();
  }
  size_t footer = c.count();
  loop_footer(c);
  footer = c.count() - footer;
  c.end();
  c.get(kS);
  sh.executed = [=](uint32_t n) {
    double total = 0;
    for (uint32_t i = 0; i < n; ++i) {
      total += header + double(i % arms + 1) * test + arm + footer;
    }
    return total;
  };
  return sh;
}

// if (i & 1) { `body` instructions } each iteration: a forward branch that
// skips half the time what the fall-through path would run.
Shape skip_half(uint32_t body) {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "skip";
  c.loop();
  size_t begin = c.count();
  c.get(kI);
  c.i32(1);
  c.and_();
  c.if_();
  size_t header = c.count() - begin;
  size_t at = c.count();
  for (uint32_t i = 0; i < body / 4; ++i) {
    scale(c, kS, static_cast<int32_t>(2 * i + 5));
  }
  size_t taken = c.count() - at;
  c.end();
  size_t footer = c.count();
  loop_footer(c);
  footer = c.count() - footer;
  c.end();
  c.get(kS);
  sh.executed = [=](uint32_t n) { return double(n) * (header + footer) + double(n / 2) * taken; };
  return sh;
}

// A loop whose body is one straight line of `length` instructions: longer
// than any run the compiler emits. `forever`: the loop never ends.
Shape long_body(uint32_t length, bool forever = false) {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "long";
  c.loop();
  size_t begin = c.count();
  for (uint32_t i = 0; i < length / 4; ++i) {
    scale(c, kS, static_cast<int32_t>(2 * i + 7));
  }
  if (forever) {
    c.br(0);
  } else {
    loop_footer(c);
  }
  size_t per_iteration = c.count() - begin;
  c.end();
  c.get(kS);
  sh.executed = [per_iteration](uint32_t n) { return double(n) * per_iteration; };
  return sh;
}

// fib(n), recursively: the first function calls itself.
Shape fib() {
  Shape sh;
  Code& c = sh.func.code;
  sh.func.name = "fib";
  sh.func.locals = 0;
  c.get(0);
  c.i32(2);
  c.lt_u();
  c.if_(/*result_i32=*/true);
  size_t test = c.count();
  c.get(0);
  size_t base = c.count();
  c.else_();
  size_t at = c.count();
  c.get(0);
  c.i32(1);
  c.sub();
  c.call(0);
  c.get(0);
  c.i32(2);
  c.sub();
  c.call(0);
  c.add();
  size_t rec = test + c.count() - at;
  c.end();
  sh.executed = [=](uint32_t n) {
    std::vector<double> count(n + 1);
    for (uint32_t k = 0; k <= n; ++k) {
      count[k] = k < 2 ? double(base) : rec + count[k - 1] + count[k - 2];
    }
    return count[n];
  };
  return sh;
}

// ---------------------------------------------------------------------------

std::shared_ptr<Instance> instantiate(const Func& f) {
  auto module = Module::compile(module_bytes({f}));
  EXPECT_TRUE(module.is_ok()) << (module.is_ok() ? "" : module.error().message());
  if (!module.is_ok()) {
    return nullptr;
  }
  auto resolved = resolve_imports(**module, {});
  EXPECT_TRUE(resolved.is_ok());
  auto instance = Instance::instantiate(*module, *resolved);
  EXPECT_TRUE(instance.is_ok()) << (instance.is_ok() ? "" : instance.error().message());
  return instance.is_ok() ? *instance : nullptr;
}

// Fuel a call of the shape's function with `args` consumes, run to its end.
int64_t fuel_of(Instance& instance, const Shape& sh, std::vector<uint32_t> args) {
  std::vector<Value> values;
  for (uint32_t a : args) {
    values.push_back(Value::i32(a));
  }
  Execution exec;
  EXPECT_TRUE(exec.begin(instance.exported_function(sh.func.name), values).is_ok());
  EXPECT_EQ(exec.run(), RunStatus::kFinished);
  return exec.fuel_consumed();
}

// Fuel per executed Wasm instruction over the iterations between n1 and n2
// (the difference cancels what a call costs whatever n is).
double fuel_ratio(const Shape& sh, uint32_t n1, uint32_t n2, std::vector<uint32_t> more = {}) {
  auto instance = instantiate(sh.func);
  if (!instance) {
    return 0;
  }
  std::vector<uint32_t> a1 = {n1}, a2 = {n2};
  a1.insert(a1.end(), more.begin(), more.end());
  a2.insert(a2.end(), more.begin(), more.end());
  int64_t f1 = fuel_of(*instance, sh, a1);
  int64_t f2 = fuel_of(*instance, sh, a2);
  return double(f2 - f1) / (sh.executed(n2) - sh.executed(n1));
}

void expect_in_band(double ratio, const std::string& what) {
  EXPECT_GE(ratio, kMinRatio) << what << ": fuel per executed Wasm instruction";
  EXPECT_LE(ratio, kMaxRatio) << what << ": fuel per executed Wasm instruction";
}

TEST(FuelAccountingTest, AStraightLoopIsChargedWhatItRuns) {
  expect_in_band(fuel_ratio(straight_loop(), 1000, 11000), "straight loop");
}

TEST(FuelAccountingTest, ALoopOverABigSwitchIsChargedOneCasePerIteration) {
  for (uint32_t cases : {8u, 512u, 4096u}) {
    expect_in_band(fuel_ratio(switch_loop(cases), 1000, 11000),
                   std::to_string(cases) + "-case switch loop");
  }
}

TEST(FuelAccountingTest, AnIterationCostsTheSameWhateverTheNumberOfCasesNotTaken) {
  auto per_iteration = [](uint32_t cases) {
    Shape sh = switch_loop(cases);
    auto instance = instantiate(sh.func);
    return instance
               ? double(fuel_of(*instance, sh, {11000}) - fuel_of(*instance, sh, {1000})) / 10000
               : 0.0;
  };
  double small = per_iteration(8), big = per_iteration(4096);
  EXPECT_GT(small, 0);
  EXPECT_NEAR(big, small, 0.01) << "fuel per iteration: 8 cases " << small << ", 4096 cases "
                                << big;
}

TEST(FuelAccountingTest, NestedLoopsAreChargedWhatTheyRun) {
  expect_in_band(fuel_ratio(nested_loops(50), 100, 1100, {50}), "nested loops");
}

TEST(FuelAccountingTest, IfElseChainsAreChargedForTheArmsTaken) {
  expect_in_band(fuel_ratio(if_else_chain(40), 400, 4400), "if/else chain of 40 arms");
}

TEST(FuelAccountingTest, AForwardBranchGivesBackWhatItSkips) {
  expect_in_band(fuel_ratio(skip_half(400), 1000, 11000), "if without else, taken half the time");
}

TEST(FuelAccountingTest, RecursionIsChargedPerCall) {
  expect_in_band(fuel_ratio(fib(), 15, 22), "recursive fib");
}

TEST(FuelAccountingTest, ALongStraightLineIsChargedWhatItRuns) {
  expect_in_band(fuel_ratio(long_body(40000), 10, 60), "loop with a 40000-instruction body");
}

// A run that resumes where an earlier run had prepaid the code ahead and
// then skips it gives fuel back; it is reported as consuming nothing, never
// less, so fuel_consumed() never decreases.
TEST(FuelAccountingTest, ARunThatGivesFuelBackConsumesNothingRatherThanLess) {
  // pause(); if (x) { 400 Wasm instructions }; return x
  Func f;
  f.name = "pause_then_skip";
  f.locals = 1;
  Code& c = f.code;
  c.call(0);  // the import
  c.get(0);
  c.if_();
  for (int i = 0; i < 100; ++i) {
    scale(c, 1, 3);
  }
  c.end();
  c.get(0);
  auto module = Module::compile(module_bytes({f}, {"pause"}));
  ASSERT_TRUE(module.is_ok()) << module.error().message();
  auto pause = Function::host(
      FuncType{{}, {}}, [](HostCall&) { return HostAction::kSuspend; }, nullptr, "env.pause");
  Imports imports;
  Extern e;
  e.kind = ExternKind::Func;
  e.func = pause.get();
  imports.add("env", "pause", e);
  auto resolved = resolve_imports(**module, imports);
  ASSERT_TRUE(resolved.is_ok()) << resolved.error().message();
  auto instance = Instance::instantiate(*module, *resolved);
  ASSERT_TRUE(instance.is_ok()) << instance.error().message();

  Execution exec;
  Value x = Value::i32(0);  // the branch skips the 400 instructions
  ASSERT_TRUE(exec.begin((*instance)->exported_function("pause_then_skip"), {&x, 1}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kSuspended);
  int64_t first = exec.fuel_consumed();
  EXPECT_GE(first, 100);  // the entry run, prepaid up to the return: 100 multiplications at least
  ASSERT_TRUE(exec.set_host_results({}).is_ok());
  ASSERT_EQ(exec.run(), RunStatus::kFinished);
  EXPECT_EQ(exec.fuel_consumed(), first);
}

// Preemption: a loop whose body is huge, branchy or straight, still comes
// back every slice, within kMaxFuelOvershoot of the budget, having made
// progress.
void expect_preempted_every_slice(const Shape& sh, int64_t budget) {
  auto instance = instantiate(sh.func);
  ASSERT_TRUE(instance);
  Execution exec;
  Value n = Value::i32(0);
  ASSERT_TRUE(exec.begin(instance->exported_function(sh.func.name), {&n, 1}).is_ok());
  int64_t before = 0;
  for (int slice = 0; slice < 200; ++slice) {
    ASSERT_EQ(exec.run(budget), RunStatus::kOutOfFuel);
    int64_t spent = exec.fuel_consumed() - before;
    EXPECT_GE(spent, budget) << "slice " << slice;
    EXPECT_LE(spent, budget + kMaxFuelOvershoot) << "slice " << slice;
    before = exec.fuel_consumed();
  }
}

TEST(FuelPreemptionTest, AnInfiniteLoopOverAHugeSwitchStopsWithinTheBudget) {
  expect_preempted_every_slice(switch_loop(4096, /*forever=*/true), 1000);
}

TEST(FuelPreemptionTest, AnInfiniteLoopWithAHugeStraightBodyStopsWithinTheBudget) {
  expect_preempted_every_slice(long_body(40000, /*forever=*/true), 100);
  expect_preempted_every_slice(long_body(40000, /*forever=*/true), 5000);
}

TEST(FuelPreemptionTest, AHugeStraightBodyRunInTinySlicesGivesTheSameResult) {
  Shape sh = long_body(40000);
  auto instance = instantiate(sh.func);
  ASSERT_TRUE(instance);
  Value n = Value::i32(3);
  Execution whole;
  ASSERT_TRUE(whole.begin(instance->exported_function("long"), {&n, 1}).is_ok());
  ASSERT_EQ(whole.run(), RunStatus::kFinished);
  Execution sliced;
  ASSERT_TRUE(sliced.begin(instance->exported_function("long"), {&n, 1}).is_ok());
  int slices = 0;
  RunStatus s;
  while ((s = sliced.run(10)) == RunStatus::kOutOfFuel) {
    ++slices;
  }
  ASSERT_EQ(s, RunStatus::kFinished);
  EXPECT_EQ(sliced.results()[0].i32(), whole.results()[0].i32());
  // Every slice came back within kMaxFuelOvershoot of its 10 units.
  EXPECT_GE(slices, sliced.fuel_consumed() / (10 + kMaxFuelOvershoot));
  EXPECT_EQ(sliced.fuel_consumed(), whole.fuel_consumed());
}

}  // namespace
}  // namespace rusm::wasm
