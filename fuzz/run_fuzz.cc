// Fuzzes the whole path a guest takes: compile, link against stub imports,
// instantiate, then run the start function and every exported function with
// zero arguments under fuel, call-depth, stack and memory limits. Traps and
// errors are fine; crashes, sanitizer reports and hangs are not.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "rusm/wasm.h"

namespace {

using namespace rusm::wasm;

constexpr int64_t kFuelPerCall = 200'000;
constexpr uint64_t kFuzzMaxPages = 64;  // 4 MiB per memory

// A stub host function: returns zeros of its result types.
HostAction zero_results(HostCall& call) {
  const FuncType& t = call.type();
  for (size_t i = 0; i < t.results.size(); ++i) {
    call.set_result(i, Value::zero(t.results[i]));
  }
  return HostAction::kReturn;
}

struct Stubs {
  std::vector<std::unique_ptr<Function>> funcs;
  std::vector<std::shared_ptr<void>> objects;
  Imports imports;
};

// Builds an import of each declared type; returns false if one cannot be made
// (e.g. a memory too large for the fuzzer's limits).
bool make_stubs(const Module& module, Stubs& stubs) {
  for (const ImportInfo& imp : module.imports()) {
    Extern e;
    e.kind = imp.kind;
    switch (imp.kind) {
      case ExternKind::Func:
        stubs.funcs.push_back(Function::host(imp.func, &zero_results, nullptr, imp.name));
        e.func = stubs.funcs.back().get();
        break;
      case ExternKind::Memory: {
        if (imp.memory.limits.min > kFuzzMaxPages)
          return false;
        auto m = Memory::create(imp.memory);
        if (!m.is_ok())
          return false;
        e.memory = m->get();
        stubs.objects.push_back(*m);
        break;
      }
      case ExternKind::Table: {
        if (imp.table.limits.min > 100'000)
          return false;
        auto t = Table::create(imp.table, Value::null(imp.table.elem));
        if (!t.is_ok())
          return false;
        e.table = t->get();
        stubs.objects.push_back(*t);
        break;
      }
      case ExternKind::Global: {
        auto g = Global::create(imp.global, Value::zero(imp.global.type));
        if (!g.is_ok())
          return false;
        e.global = g->get();
        stubs.objects.push_back(*g);
        break;
      }
    }
    stubs.imports.add(imp.module, imp.name, e);
  }
  return true;
}

void run_bounded(Execution& exec) {
  // A few slices, as the scheduler would run them, then give up.
  for (int slice = 0; slice < 4; ++slice) {
    if (exec.run(kFuelPerCall / 4) != RunStatus::kOutOfFuel)
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto module = Module::compile(std::span<const uint8_t>(data, size));
  if (!module.is_ok())
    return 0;
  Stubs stubs;
  if (!make_stubs(**module, stubs))
    return 0;
  auto resolved = resolve_imports(**module, stubs.imports);
  if (!resolved.is_ok())
    return 0;
  InstanceOptions options;
  options.max_memory_pages = kFuzzMaxPages;
  options.max_table_elements = 100'000;
  auto instance = Instance::create(*module, *resolved, options);
  if (!instance.is_ok())
    return 0;
  if (!(*instance)->initialize().is_ok())
    return 0;

  ExecutionLimits limits;
  limits.max_call_depth = 2'000;
  limits.max_stack_bytes = 1 << 20;
  Execution exec(limits);
  if ((*module)->start_function() && exec.begin_start(**instance).is_ok()) {
    run_bounded(exec);
    if (exec.status() == RunStatus::kTrapped)
      return 0;  // instantiation failed
  }
  for (const ExportInfo& ex : (*module)->exports()) {
    if (ex.kind != ExternKind::Func)
      continue;
    Function* f = (*instance)->function(ex.index);
    std::vector<Value> args;
    for (ValType t : f->type().params)
      args.push_back(Value::zero(t));
    if (exec.begin(f, args).is_ok())
      run_bounded(exec);
  }
  return 0;
}
