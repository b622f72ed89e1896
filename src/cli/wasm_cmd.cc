// `rusm wasm inspect file.wasm` and `rusm wasm invoke file.wasm NAME ARGS...`:
// developer commands over the engine alone (no processes, no WASI).
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "commands.h"
#include "input.h"
#include "rusm/wasm.h"
#include "tier.h"
#include "wasm/disasm.h"

namespace rusm::cli {
namespace {

using namespace rusm::wasm;

[[noreturn]] void die(const std::string& message, int code = 1) {
  std::fprintf(stderr, "rusm: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

std::shared_ptr<const Module> load(const std::string& path,
                                   DispatchScheme dispatch = DispatchScheme::kDefault,
                                   const std::string& tier = "interp") {
  Result<std::vector<uint8_t>> bytes = read_module_file(path);
  if (!bytes) {
    die(bytes.message(), 2);
  }
  CompileOptions options;
  options.dispatch = dispatch;
  apply_tier(tier, &options);
  auto m = Module::compile(*bytes, options);
  if (!m) {
    die(path + ": " + m.message());
  }
  return *m;
}

// Caps what one instance's memories and tables may take together, so that a
// module declaring (say) 200 tables of 10M entries is refused with a clear
// error instead of asking the host for 16 GB.
class TotalBytesLimiter final : public ResourceLimiter {
 public:
  explicit TotalBytesLimiter(uint64_t cap) : cap_(cap) {}
  bool memory_growing(uint64_t current, uint64_t desired) override {
    return take(desired - current);
  }
  bool table_growing(uint64_t current, uint64_t desired) override {
    return take((desired - current) * kTableElementBytes);
  }
  void memory_grow_failed(uint64_t current, uint64_t desired) override {
    used_ -= desired - current;
  }

 private:
  bool take(uint64_t bytes) {
    if (bytes > cap_ - used_) {
      return false;
    }
    used_ += bytes;
    return true;
  }
  uint64_t cap_;
  uint64_t used_ = 0;
};

std::string limits_string(const Limits& l) {
  return std::to_string(l.min) + (l.max ? ".." + std::to_string(*l.max) : "..");
}

void inspect(const std::string& path, const std::vector<std::string>& code_funcs) {
  auto module = load(path);
  if (!code_funcs.empty()) {
    for (const std::string& f : code_funcs) {
      uint32_t index = 0;
      if (auto e = module->find_export(f); e && e->kind == ExternKind::Func) {
        index = e->index;
      } else {
        char* end = nullptr;
        index = static_cast<uint32_t>(std::strtoul(f.c_str(), &end, 10));
        if (end == f.c_str() || *end != '\0') {
          die(path + ": no function '" + f + "' (give an export name or an index)");
        }
      }
      std::string text = internal::disassemble(module->data(), index);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return;
  }
  std::printf("%s\n", path.c_str());
  std::printf("sections:\n");
  for (const SectionInfo& s : module->sections()) {
    std::printf("  %-10s offset 0x%06x  size %u\n", s.name.c_str(), s.offset, s.size);
  }
  std::printf("imports (%zu):\n", module->imports().size());
  for (const ImportInfo& i : module->imports()) {
    std::string what;
    switch (i.kind) {
      case ExternKind::Func:
        what = "func " + to_string(i.func);
        break;
      case ExternKind::Table:
        what =
            std::string("table ") + to_string(i.table.elem) + " " + limits_string(i.table.limits);
        break;
      case ExternKind::Memory:
        what = "memory " + limits_string(i.memory.limits) + " pages";
        break;
      case ExternKind::Global:
        what =
            std::string("global ") + (i.global.is_mutable ? "mut " : "") + to_string(i.global.type);
        break;
    }
    std::printf("  %s.%s: %s\n", i.module.c_str(), i.name.c_str(), what.c_str());
  }
  std::printf("exports (%zu):\n", module->exports().size());
  for (const ExportInfo& e : module->exports()) {
    std::string what = std::string(to_string(e.kind)) + " " + std::to_string(e.index);
    if (e.kind == ExternKind::Func) {
      what += " " + to_string(module->func_type(e.index));
    }
    std::printf("  %s: %s\n", e.name.c_str(), what.c_str());
  }
  std::printf("functions: %u\n", module->num_functions());
  if (auto start = module->start_function()) {
    std::printf("start: function %u\n", *start);
  }
}

// Parses one argument of type `t`: integers in decimal or 0x hex (negative
// allowed), floats as C literals (also nan, inf, hex floats), v128 as 32 hex
// digits (lane 0 last, like a big-endian number).
std::optional<Value> parse_value(ValType t, const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  switch (t) {
    case ValType::I32:
    case ValType::I64: {
      bool neg = !s.empty() && s[0] == '-';
      uint64_t v =
          neg ? static_cast<uint64_t>(std::strtoll(begin, &end, 0)) : std::strtoull(begin, &end, 0);
      if (errno != 0 || end == begin || *end != '\0') {
        return std::nullopt;
      }
      if (t == ValType::I32) {
        int64_t sv = static_cast<int64_t>(v);
        if (neg ? sv < INT32_MIN : v > UINT32_MAX) {
          return std::nullopt;
        }
        return Value::i32(static_cast<uint32_t>(v));
      }
      return Value::i64(v);
    }
    case ValType::F32: {
      float f = std::strtof(begin, &end);
      if (end == begin || *end != '\0') {
        return std::nullopt;
      }
      return Value::f32(f);
    }
    case ValType::F64: {
      double d = std::strtod(begin, &end);
      if (end == begin || *end != '\0') {
        return std::nullopt;
      }
      return Value::f64(d);
    }
    case ValType::V128: {
      std::string h = s.rfind("0x", 0) == 0 ? s.substr(2) : s;
      if (h.size() != 32 || h.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        return std::nullopt;
      }
      uint64_t hi = std::strtoull(h.substr(0, 16).c_str(), nullptr, 16);
      uint64_t lo = std::strtoull(h.substr(16).c_str(), nullptr, 16);
      return Value::v128_words(lo, hi);
    }
    case ValType::FuncRef:
    case ValType::ExternRef:
      if (s == "null") {
        return Value::null(t);
      }
      if (t == ValType::ExternRef) {
        uint64_t v = std::strtoull(begin, &end, 0);
        if (end != begin && *end == '\0' && v != 0) {
          return Value::externref(v);
        }
      }
      return std::nullopt;
  }
  return std::nullopt;
}

std::string format_value(const Value& v) {
  char buf[128];
  switch (v.type()) {
    case ValType::I32:
      std::snprintf(buf, sizeof buf, "%" PRId32 " : i32", static_cast<int32_t>(v.i32()));
      return buf;
    case ValType::I64:
      std::snprintf(buf, sizeof buf, "%" PRId64 " : i64", static_cast<int64_t>(v.i64()));
      return buf;
    case ValType::F32:
      std::snprintf(buf, sizeof buf, "%.9g : f32", static_cast<double>(v.f32()));
      return buf;
    case ValType::F64:
      std::snprintf(buf, sizeof buf, "%.17g : f64", v.f64());
      return buf;
    default:
      return v.to_string();
  }
}

struct InvokeArgs {
  std::string file;
  std::string name;
  std::vector<std::string> args;
  int64_t fuel = 0;
  std::string dispatch = "default";
  std::string max_memory = "1G";
  uint64_t max_memory_pages = kMaxPages;
  std::string tier = "interp";
};

void invoke(const InvokeArgs& a) {
  DispatchScheme scheme = a.dispatch == "goto"   ? DispatchScheme::kComputedGoto
                          : a.dispatch == "tail" ? DispatchScheme::kTailCall
                                                 : DispatchScheme::kDefault;
  auto module = load(a.file, scheme, a.tier);
  if (!module->imports().empty()) {
    const ImportInfo& i = module->imports()[0];
    die(a.file + ": imports " + i.module + "." + i.name +
        "; rusm wasm invoke runs modules without imports (use rusm run for WASI programs)");
  }
  auto exp = module->find_export(a.name);
  if (!exp || exp->kind != ExternKind::Func) {
    die(a.file + ": no exported function '" + a.name + "'");
  }
  const FuncType& type = module->func_type(exp->index);
  if (a.args.size() != type.params.size()) {
    die(a.name + " takes " + std::to_string(type.params.size()) + " arguments " + to_string(type) +
        ", got " + std::to_string(a.args.size()));
  }
  std::vector<Value> values;
  for (size_t i = 0; i < a.args.size(); ++i) {
    auto v = parse_value(type.params[i], a.args[i]);
    if (!v) {
      die("argument " + std::to_string(i + 1) + " '" + a.args[i] + "' is not a valid " +
          to_string(type.params[i]));
    }
    values.push_back(*v);
  }
  auto imports = resolve_imports(*module, Imports());
  if (!imports) {
    die(a.file + ": " + imports.message());
  }
  TotalBytesLimiter limiter(a.max_memory_pages * kPageSize);
  InstanceOptions io;
  io.max_memory_pages = a.max_memory_pages;
  io.limiter = &limiter;
  auto instance = instantiate_and_start(module, *imports, io);
  if (!instance) {
    die(a.file + ": " + instance.message());
  }
  Execution exec;
  Status s = exec.begin((*instance)->exported_function(a.name), values);
  if (!s) {
    die(s.message());
  }
  RunStatus r = exec.run(a.fuel > 0 ? a.fuel : kUnlimitedFuel);
  switch (r) {
    case RunStatus::kFinished:
      for (const Value& v : exec.results()) {
        std::printf("%s\n", format_value(v).c_str());
      }
      return;
    case RunStatus::kTrapped:
      die("trap: " + exec.trap().to_string());
    case RunStatus::kOutOfFuel:
      die("out of fuel after " + std::to_string(exec.fuel_consumed()) + " units");
    case RunStatus::kSuspended:
      die("suspended at a host call");
  }
}

void setup_wasm(CLI::App& app) {
  CLI::App* wasm = app.add_subcommand("wasm", "Developer commands for the WebAssembly engine.");
  wasm->require_subcommand(1);

  auto inspect_file = std::make_shared<std::string>();
  auto code_funcs = std::make_shared<std::vector<std::string>>();
  CLI::App* ins =
      wasm->add_subcommand("inspect", "Print a module's sections, imports, exports and start.");
  ins->add_option("file", *inspect_file, "A .wasm binary")->required();
  ins->add_option("--code", *code_funcs,
                  "Disassemble the engine's internal code of these functions (export name or "
                  "index) instead");
  ins->callback([inspect_file, code_funcs] { inspect(*inspect_file, *code_funcs); });

  auto args = std::make_shared<InvokeArgs>();
  CLI::App* inv = wasm->add_subcommand(
      "invoke", "Instantiate a module (no imports) and call an exported function; print results.");
  inv->add_option("file", args->file, "A .wasm binary")->required();
  inv->add_option("name", args->name, "Exported function")->required();
  inv->add_option("args", args->args,
                  "Arguments: integers (decimal/0x hex), floats (1.5, nan, inf, 0x1p3), "
                  "v128 as 32 hex digits");
  inv->add_option("--fuel", args->fuel, "Stop after this much fuel (0 = unlimited)")
      ->check(CLI::NonNegativeNumber);
  inv->add_option("--max-memory", args->max_memory,
                  "Cap on the instance's memories and tables together: 64M, 1G, 16p (pages); "
                  "default 1G");
  inv->add_option("--tier", args->tier, "Execution tier: interp (default), compiled or auto")
      ->check(CLI::IsMember({"auto", "compiled", "interp"}));
  inv->add_option("--dispatch", args->dispatch, "Interpreter dispatch: default, tail or goto")
      ->check(CLI::IsMember({"default", "tail", "goto"}));
  inv->callback([args] {
    Result<uint64_t> pages = parse_memory_pages(args->max_memory);
    if (!pages) {
      die(pages.message(), 2);
    }
    args->max_memory_pages = *pages;
    invoke(*args);
  });
}

CommandRegistrar registrar(setup_wasm);

}  // namespace
}  // namespace rusm::cli
