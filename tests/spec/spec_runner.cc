// The WebAssembly spec test runner.
//
// Converts each .wast with wabt's wast2json (at test time, into a temporary
// directory) and runs every command of the JSON script against the engine:
// module, register, action (invoke / get), assert_return (with
// nan:canonical / nan:arithmetic, per lane for v128), assert_trap,
// assert_exhaustion, assert_invalid, assert_malformed, assert_unlinkable,
// assert_uninstantiable. Prints a line per file and a total; exits non-zero
// if any command fails.
//
// Modules given in the text format (assert_malformed / assert_invalid of a
// `module quote`) test a text parser, which rusm does not have (it loads
// binaries only); they are counted as "text" and not run.
//
// Usage: spec_runner [--wast2json PATH] [-v] [--keep] (DIR | FILE.wast)...
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace rusm::wasm;
using rusm::Status;

namespace {

bool verbose = false;
// --tier: which tier compiles the modules. With `compiled`, a module the
// compiled tier cannot take yet falls back to the interpreter and is counted.
rusm::wasm::CompileOptions compile_options;
size_t modules_compiled = 0;
size_t modules_interpreted = 0;
std::map<std::string, size_t> fallback_reasons;

struct Counts {
  int passed = 0;
  int failed = 0;
  int text = 0;  // text-format modules, not applicable to a binary-only engine
};

// The "spectest" module every script may import from.
struct SpecTest {
  std::unique_ptr<Function> print, print_i32, print_i64, print_f32, print_f64, print_i32_f32,
      print_f64_f64;
  std::shared_ptr<Global> global_i32, global_i64, global_f32, global_f64;
  std::shared_ptr<Table> table;
  std::shared_ptr<Memory> memory;

  static HostAction nothing(HostCall&) { return HostAction::kReturn; }

  SpecTest() {
    using V = ValType;
    print = Function::host({{}, {}}, nothing, nullptr, "print");
    print_i32 = Function::host({{V::I32}, {}}, nothing, nullptr, "print_i32");
    print_i64 = Function::host({{V::I64}, {}}, nothing, nullptr, "print_i64");
    print_f32 = Function::host({{V::F32}, {}}, nothing, nullptr, "print_f32");
    print_f64 = Function::host({{V::F64}, {}}, nothing, nullptr, "print_f64");
    print_i32_f32 = Function::host({{V::I32, V::F32}, {}}, nothing, nullptr, "print_i32_f32");
    print_f64_f64 = Function::host({{V::F64, V::F64}, {}}, nothing, nullptr, "print_f64_f64");
    global_i32 = *Global::create({V::I32, false}, Value::i32(666));
    global_i64 = *Global::create({V::I64, false}, Value::i64(666));
    global_f32 = *Global::create({V::F32, false}, Value::f32(666.6f));
    global_f64 = *Global::create({V::F64, false}, Value::f64(666.6));
    table = *Table::create({V::FuncRef, {10, 20}}, Value::null(V::FuncRef));
    memory = *Memory::create({{1, 2}});
  }

  void add_to(Imports& imports) const {
    auto func = [&](const char* name, Function* f) {
      Extern e;
      e.kind = ExternKind::Func;
      e.func = f;
      imports.add("spectest", name, e);
    };
    func("print", print.get());
    func("print_i32", print_i32.get());
    func("print_i64", print_i64.get());
    func("print_f32", print_f32.get());
    func("print_f64", print_f64.get());
    func("print_i32_f32", print_i32_f32.get());
    func("print_f64_f64", print_f64_f64.get());
    auto global = [&](const char* name, const std::shared_ptr<Global>& g) {
      Extern e;
      e.kind = ExternKind::Global;
      e.global = g.get();
      e.owner = g;
      imports.add("spectest", name, e);
    };
    global("global_i32", global_i32);
    global("global_i64", global_i64);
    global("global_f32", global_f32);
    global("global_f64", global_f64);
    Extern t;
    t.kind = ExternKind::Table;
    t.table = table.get();
    t.owner = table;
    imports.add("spectest", "table", t);
    Extern m;
    m.kind = ExternKind::Memory;
    m.memory = memory.get();
    m.owner = memory;
    imports.add("spectest", "memory", m);
  }
};

// One script's state: instances by name, the registered ones, the current one.
class Script {
 public:
  Script(fs::path dir, std::string file) : dir_(std::move(dir)), file_(std::move(file)) {
    spectest_.add_to(imports_);
  }

  Counts run(const json& commands) {
    for (const json& cmd : commands) {
      line_ = cmd.value("line", 0);
      std::string type = cmd.at("type").get<std::string>();
      std::string error;
      bool text = false;
      bool ok = run_command(type, cmd, &error, &text);
      if (text) {
        counts_.text++;
      } else if (ok) {
        counts_.passed++;
      } else {
        counts_.failed++;
        if (verbose || counts_.failed <= 3) {
          std::printf("  %s:%d: %s: %s\n", file_.c_str(), line_, type.c_str(), error.c_str());
        }
      }
    }
    return counts_;
  }

 private:
  std::shared_ptr<const Module> compile(const std::string& filename, std::string* error) {
    std::ifstream in(dir_ / filename, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    auto m = Module::compile(bytes, compile_options);
    if (!m && compile_options.tier == rusm::wasm::Tier::kCompiled &&
        m.message().find("not supported yet") != std::string::npos) {
      rusm::wasm::CompileOptions interp = compile_options;
      interp.tier = rusm::wasm::Tier::kInterpreter;
      m = Module::compile(bytes, interp);
    }
    if (!m) {
      *error = m.message();
      last_error_code_ = m.error().code();
      return nullptr;
    }
    if ((*m)->tier() == rusm::wasm::Tier::kCompiled) {
      ++modules_compiled;
    } else {
      ++modules_interpreted;
      if (compile_options.tier != rusm::wasm::Tier::kInterpreter) {
        rusm::wasm::CompileOptions strict = compile_options;
        strict.tier = rusm::wasm::Tier::kCompiled;
        auto why = Module::compile(bytes, strict);
        std::string reason = why ? "?" : why.message();
        size_t from = reason.find("not supported yet");
        reason = reason.substr(from == std::string::npos ? 0 : from);
        fallback_reasons[reason.substr(0, reason.find(" in the compiled tier"))]++;
      }
    }
    return *m;
  }

  std::shared_ptr<Instance> instantiate(const std::shared_ptr<const Module>& module,
                                        std::string* error) {
    auto resolved = resolve_imports(*module, imports_);
    if (!resolved) {
      *error = resolved.message();
      last_error_code_ = resolved.error().code();
      return nullptr;
    }
    // The spec's store keeps every instance alive, even one whose
    // initialization failed after writing into an imported table.
    auto inst = Instance::create(module, *resolved);
    if (!inst) {
      *error = inst.message();
      last_error_code_ = inst.error().code();
      return nullptr;
    }
    store_.push_back(*inst);
    rusm::Status s = (*inst)->initialize();
    if (!s) {
      *error = s.message();
      last_error_code_ = s.error().code();
      return nullptr;
    }
    if ((*inst)->module().start_function()) {
      Execution e;
      s = e.begin_start(**inst);
      RunStatus r = s ? e.run() : RunStatus::kTrapped;
      if (r != RunStatus::kFinished) {
        *error = s ? e.trap().message : s.message();
        last_error_code_ = static_cast<int>(ErrorCode::kUninstantiable);
        return nullptr;
      }
    }
    return *inst;
  }

  Instance* target(const json& action, std::string* error) {
    if (action.contains("module")) {
      auto it = named_.find(action["module"].get<std::string>());
      if (it == named_.end()) {
        *error = "unknown module " + action["module"].get<std::string>();
        return nullptr;
      }
      return it->second.get();
    }
    if (!current_) {
      *error = "no current module";
    }
    return current_.get();
  }

  static uint64_t parse_u64(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 10); }

  static std::optional<Value> parse_arg(const json& a) {
    std::string type = a.at("type").get<std::string>();
    if (type == "v128") {
      std::string lane = a.at("lane_type").get<std::string>();
      const json& lanes = a.at("value");
      uint8_t bytes[16] = {};
      size_t width = lane == "i8"                       ? 1
                     : lane == "i16"                    ? 2
                     : (lane == "i32" || lane == "f32") ? 4
                                                        : 8;
      for (size_t i = 0; i < lanes.size() && (i + 1) * width <= 16; ++i) {
        uint64_t v = parse_u64(lanes[i].get<std::string>());
        std::memcpy(bytes + i * width, &v, width);
      }
      V128 v;
      std::memcpy(v.bytes, bytes, 16);
      return Value::v128(v);
    }
    std::string value = a.at("value").get<std::string>();
    if (type == "i32") {
      return Value::i32(static_cast<uint32_t>(parse_u64(value)));
    }
    if (type == "i64") {
      return Value::i64(parse_u64(value));
    }
    if (type == "f32") {
      return Value::f32_bits(static_cast<uint32_t>(parse_u64(value)));
    }
    if (type == "f64") {
      return Value::f64_bits(parse_u64(value));
    }
    if (type == "externref") {
      if (value == "null") {
        return Value::null(ValType::ExternRef);
      }
      return Value::externref(parse_u64(value) + 1);  // 0 is null in the engine
    }
    if (type == "funcref") {
      if (value == "null") {
        return Value::null(ValType::FuncRef);
      }
    }
    return std::nullopt;
  }

  static bool nan_matches(const std::string& expect, uint64_t bits, bool is64) {
    if (is64) {
      uint64_t exp_mask = 0x7ff0000000000000ull, quiet = 0x0008000000000000ull,
               payload = 0x000fffffffffffffull;
      bool nan = (bits & exp_mask) == exp_mask && (bits & payload) != 0;
      if (expect == "nan:canonical") {
        return nan && (bits & payload) == quiet;
      }
      return nan && (bits & quiet) != 0;
    }
    uint32_t b = static_cast<uint32_t>(bits);
    uint32_t exp_mask = 0x7f800000u, quiet = 0x00400000u, payload = 0x007fffffu;
    bool nan = (b & exp_mask) == exp_mask && (b & payload) != 0;
    if (expect == "nan:canonical") {
      return nan && (b & payload) == quiet;
    }
    return nan && (b & quiet) != 0;
  }

  static bool matches(const json& expect, const Value& got, std::string* why) {
    std::string type = expect.at("type").get<std::string>();
    if (type != to_string(got.type())) {
      *why = "expected a " + type + ", got " + got.to_string();
      return false;
    }
    if (type == "v128") {
      std::string lane = expect.at("lane_type").get<std::string>();
      const json& lanes = expect.at("value");
      V128 v = got.v128();
      size_t width = lane == "i8"                       ? 1
                     : lane == "i16"                    ? 2
                     : (lane == "i32" || lane == "f32") ? 4
                                                        : 8;
      for (size_t i = 0; i < lanes.size() && (i + 1) * width <= 16; ++i) {
        uint64_t bits = 0;
        std::memcpy(&bits, v.bytes + i * width, width);
        std::string s = lanes[i].get<std::string>();
        bool ok = s.rfind("nan:", 0) == 0
                      ? nan_matches(s, bits, width == 8)
                      : bits == (parse_u64(s) & (width == 8 ? ~0ull : ((1ull << (8 * width)) - 1)));
        if (!ok) {
          *why = "lane " + std::to_string(i) + " (" + lane + "): expected " + s + ", got " +
                 std::to_string(bits);
          return false;
        }
      }
      return true;
    }
    if (!expect.contains("value")) {
      return true;  // any value of the type
    }
    std::string value = expect.at("value").get<std::string>();
    if (type == "f32" || type == "f64") {
      uint64_t bits = got.raw();
      if (value.rfind("nan:", 0) == 0) {
        if (!nan_matches(value, bits, type == "f64")) {
          *why = "expected " + value + ", got bits " + std::to_string(bits);
          return false;
        }
        return true;
      }
      if (bits != parse_u64(value)) {
        *why = "expected bits " + value + ", got " + std::to_string(bits);
        return false;
      }
      return true;
    }
    if (type == "externref" || type == "funcref") {
      if (value == "null") {
        if (!got.is_null()) {
          *why = "expected null, got " + got.to_string();
          return false;
        }
        return true;
      }
      if (got.is_null()) {
        *why = "expected non-null " + value + ", got null";
        return false;
      }
      if (type == "externref" && got.externref() != parse_u64(value) + 1) {
        *why = "expected externref " + value + ", got " + std::to_string(got.externref() - 1);
        return false;
      }
      return true;
    }
    uint64_t want = parse_u64(value);
    uint64_t bits = type == "i32" ? got.i32() : got.i64();
    if (type == "i32") {
      want &= 0xffffffffu;
    }
    if (bits != want) {
      *why = "expected " + value + ", got " + std::to_string(bits);
      return false;
    }
    return true;
  }

  // Runs an action; on success fills `results`. `trap` gets the trap text.
  bool run_action(const json& action, std::vector<Value>* results, std::string* trap,
                  std::string* error) {
    Instance* inst = target(action, error);
    if (inst == nullptr) {
      return false;
    }
    std::string field = action.at("field").get<std::string>();
    if (action.at("type") == "get") {
      Global* g = inst->exported_global(field);
      if (g == nullptr) {
        *error = "no exported global " + field;
        return false;
      }
      results->push_back(g->get());
      return true;
    }
    Function* f = inst->exported_function(field);
    if (f == nullptr) {
      *error = "no exported function " + field;
      return false;
    }
    std::vector<Value> args;
    for (const json& a : action.at("args")) {
      auto v = parse_arg(a);
      if (!v) {
        *error = "unsupported argument " + a.dump();
        return false;
      }
      args.push_back(*v);
    }
    ExecutionLimits limits;
    Execution exec(limits);
    Status s = exec.begin(f, args);
    if (!s) {
      *error = s.message();
      return false;
    }
    RunStatus r = exec.run();
    if (r == RunStatus::kTrapped) {
      *trap = exec.trap().message;
      return true;
    }
    if (r != RunStatus::kFinished) {
      *error = std::string("run ended ") + to_string(r);
      return false;
    }
    *results = exec.results();
    return true;
  }

  bool run_command(const std::string& type, const json& cmd, std::string* error, bool* text) {
    if (type == "module") {
      auto m = compile(cmd.at("filename").get<std::string>(), error);
      if (!m) {
        return false;
      }
      auto inst = instantiate(m, error);
      if (!inst) {
        return false;
      }
      current_ = inst;
      if (cmd.contains("name")) {
        named_[cmd["name"].get<std::string>()] = inst;
      }
      return true;
    }
    if (type == "register") {
      std::shared_ptr<Instance> inst = current_;
      if (cmd.contains("name")) {
        inst = named_[cmd["name"].get<std::string>()];
      }
      if (!inst) {
        *error = "nothing to register";
        return false;
      }
      imports_.add_instance(cmd.at("as").get<std::string>(), inst);
      return true;
    }
    if (type == "action") {
      std::vector<Value> results;
      std::string trap;
      if (!run_action(cmd.at("action"), &results, &trap, error)) {
        return false;
      }
      if (!trap.empty()) {
        *error = "trapped: " + trap;
        return false;
      }
      return true;
    }
    if (type == "assert_return") {
      std::vector<Value> results;
      std::string trap;
      if (!run_action(cmd.at("action"), &results, &trap, error)) {
        return false;
      }
      if (!trap.empty()) {
        *error = "trapped: " + trap;
        return false;
      }
      const json& expected = cmd.at("expected");
      if (expected.size() != results.size()) {
        *error = "expected " + std::to_string(expected.size()) + " results, got " +
                 std::to_string(results.size());
        return false;
      }
      for (size_t i = 0; i < results.size(); ++i) {
        if (!matches(expected[i], results[i], error)) {
          *error = "result " + std::to_string(i) + ": " + *error;
          return false;
        }
      }
      return true;
    }
    if (type == "assert_trap" || type == "assert_exhaustion") {
      std::vector<Value> results;
      std::string trap;
      if (!run_action(cmd.at("action"), &results, &trap, error)) {
        return false;
      }
      std::string text = cmd.at("text").get<std::string>();
      if (trap.empty()) {
        *error = "expected trap \"" + text + "\", got results";
        return false;
      }
      if (trap.rfind(text, 0) != 0) {
        *error = "expected trap \"" + text + "\", got \"" + trap + "\"";
        return false;
      }
      return true;
    }
    if (type == "assert_malformed" || type == "assert_invalid") {
      if (cmd.value("module_type", "binary") == "text") {
        *text = true;
        return true;
      }
      std::string msg;
      auto m = compile(cmd.at("filename").get<std::string>(), &msg);
      if (m) {
        *error = "module compiled, expected \"" + cmd.at("text").get<std::string>() + "\"";
        return false;
      }
      int want = type == "assert_malformed" ? static_cast<int>(ErrorCode::kMalformed)
                                            : static_cast<int>(ErrorCode::kInvalid);
      if (last_error_code_ != want) {
        *error = "wrong kind of error for \"" + cmd.at("text").get<std::string>() + "\": " + msg;
        return false;
      }
      if (verbose && msg.find(cmd.at("text").get<std::string>()) == std::string::npos) {
        std::printf("  %s:%d: note: expected \"%s\", said \"%s\"\n", file_.c_str(), line_,
                    cmd.at("text").get<std::string>().c_str(), msg.c_str());
      }
      return true;
    }
    if (type == "assert_unlinkable" || type == "assert_uninstantiable") {
      if (cmd.value("module_type", "binary") == "text") {
        *text = true;
        return true;
      }
      auto m = compile(cmd.at("filename").get<std::string>(), error);
      if (!m) {
        return false;
      }
      std::string msg;
      auto inst = instantiate(m, &msg);
      if (inst) {
        *error = "module instantiated, expected \"" + cmd.at("text").get<std::string>() + "\"";
        return false;
      }
      int want = type == "assert_unlinkable" ? static_cast<int>(ErrorCode::kUnlinkable)
                                             : static_cast<int>(ErrorCode::kUninstantiable);
      if (last_error_code_ != want) {
        *error = "wrong kind of error: " + msg;
        return false;
      }
      return true;
    }
    *error = "unknown command type " + type;
    return false;
  }

  fs::path dir_;
  std::string file_;
  SpecTest spectest_;
  Imports imports_;
  std::shared_ptr<Instance> current_;
  std::vector<std::shared_ptr<Instance>> store_;
  std::map<std::string, std::shared_ptr<Instance>> named_;
  Counts counts_;
  int line_ = 0;
  int last_error_code_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string wast2json = "wast2json";
  bool keep = false;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-v") {
      verbose = true;
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--wast2json" && i + 1 < argc) {
      wast2json = argv[++i];
    } else if (a == "--tier" && i + 1 < argc) {
      std::string t = argv[++i];
      if (t == "interp") {
        compile_options.tier = rusm::wasm::Tier::kInterpreter;
      } else if (t == "compiled") {
        rusm::wasm::enable_compiled_tier();
        compile_options.tier = rusm::wasm::Tier::kCompiled;
        compile_options.native_cache_dir = "off";
      } else {
        std::fprintf(stderr, "spec_runner: --tier takes interp or compiled, not %s\n", t.c_str());
        return 2;
      }
    } else {
      inputs.push_back(a);
    }
  }
  std::vector<fs::path> files;
  for (const fs::path& in : inputs) {
    if (fs::is_directory(in)) {
      for (const auto& e : fs::directory_iterator(in)) {
        if (e.path().extension() == ".wast") {
          files.push_back(e.path());
        }
      }
    } else if (fs::exists(in)) {
      files.push_back(in);
    } else {
      std::fprintf(stderr, "spec_runner: %s: no such file or directory\n", in.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "spec_runner: no .wast files given (is the spec suite present?)\n");
    return 2;
  }
  std::sort(files.begin(), files.end());
  fs::path tmp = fs::temp_directory_path() / ("rusm-spec-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  Counts total;
  int failed_files = 0;
  for (const fs::path& file : files) {
    std::string name = file.stem().string();
    fs::path dir = tmp / name;
    fs::create_directories(dir);
    fs::path out = dir / (name + ".json");
    std::string cmd = wast2json + " '" + file.string() + "' -o '" + out.string() + "' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string conv_out;
    char buf[512];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) {
      conv_out += buf;
    }
    int rc = p != nullptr ? pclose(p) : -1;
    if (rc != 0) {
      std::printf("%-40s wast2json failed: %s\n", file.filename().c_str(), conv_out.c_str());
      ++failed_files;
      total.failed++;
      continue;
    }
    std::ifstream in(out);
    json script = json::parse(in, nullptr, false);
    if (script.is_discarded()) {
      std::printf("%-40s cannot parse %s\n", file.filename().c_str(), out.c_str());
      ++failed_files;
      total.failed++;
      continue;
    }
    Script s(dir, file.filename().string());
    Counts c = s.run(script.at("commands"));
    std::printf("%-40s %5d passed %5d failed %5d text%s\n", file.filename().c_str(), c.passed,
                c.failed, c.text, c.failed ? "   <-- FAIL" : "");
    std::fflush(stdout);
    total.passed += c.passed;
    total.failed += c.failed;
    total.text += c.text;
    if (c.failed) {
      ++failed_files;
    }
    if (!keep) {
      fs::remove_all(dir);
    }
  }
  if (!keep) {
    fs::remove_all(tmp);
  }
  std::printf(
      "TOTAL: %zu files, %zu passed completely; %d commands passed, %d failed, %d text "
      "(not applicable: rusm loads binaries only)\n",
      files.size(), files.size() - failed_files, total.passed, total.failed, total.text);
  std::printf("modules: %zu compiled to native code, %zu interpreted\n", modules_compiled,
              modules_interpreted);
  for (const auto& [reason, n] : fallback_reasons) {
    std::printf("  interpreted (%zu): %s\n", n, reason.c_str());
  }
  return total.failed == 0 ? 0 : 1;
}
