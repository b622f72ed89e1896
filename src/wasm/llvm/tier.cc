// The compiled tier's driver: IR (codegen.cc) → LLVM's O2 pipeline → an
// object file for the host CPU → linked into this process by ORC (one
// JITDylib per module, dropped with the module). Object files are cached on
// disk by the module's hash, the engine's version and the CPU, so a module is
// compiled once per machine (`rusm compile` fills the cache ahead of time).
#include <fcntl.h>
#include <unistd.h>

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassTimingInfo.h>
#include <llvm/Pass.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "native_source_hash.h"
#include "rusm/wasm_compiled.h"
#include "wasm/llvm/codegen.h"
#include "wasm/llvm/loop_guards.h"
#include "wasm/native.h"

namespace rusm::wasm {
namespace {

namespace orc = llvm::orc;
using internal::NativeCode;

// Part of the cache key with RUSM_NATIVE_SOURCE_HASH (the SHA-256 of the
// generator's and the engine contract's sources, made by the build), so that
// machine code made by another version of the generator is never loaded.
constexpr const char* kNativeAbi = "rusm-native-2";

std::string to_message(llvm::Error e) {
  std::string s;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase& info) {
    if (!s.empty()) {
      s += "; ";
    }
    s += info.message();
  });
  return s;
}

// One JIT per process, and the machine description compiled code targets.
struct Jit {
  std::unique_ptr<orc::LLJIT> lljit;
  orc::JITTargetMachineBuilder machine{llvm::Triple()};
  orc::JITDylib* runtime = nullptr;  // the helpers and the C library
  std::string cpu;
  std::string features;
  std::string stack_register;
  std::string error;
  std::atomic<uint64_t> next_id{0};
};

Jit& jit() {
  static Jit* j = [] {
    auto* j = new Jit();  // never destroyed: modules may outlive statics
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    if (const char* args = std::getenv("RUSM_LLVM_ARGS"); args != nullptr && *args != '\0') {
      // A developer's knob: LLVM's own options (e.g. "-time-passes").
      std::vector<std::string> words{"rusm"};
      std::istringstream in(args);
      for (std::string w; in >> w;) {
        words.push_back(w);
      }
      std::vector<const char*> argv;
      for (const std::string& w : words) {
        argv.push_back(w.c_str());
      }
      llvm::cl::ParseCommandLineOptions(static_cast<int>(argv.size()), argv.data());
    }
    auto machine = orc::JITTargetMachineBuilder::detectHost();
    if (!machine) {
      j->error = to_message(machine.takeError());
      return j;
    }
    machine->setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);
    machine->setRelocationModel(llvm::Reloc::PIC_);
    machine->setCodeModel(llvm::CodeModel::Small);
    j->machine = *machine;
    j->cpu = machine->getCPU();
    j->features = machine->getFeatures().getString();
    const llvm::Triple& triple = machine->getTargetTriple();
    j->stack_register = triple.getArch() == llvm::Triple::x86_64    ? "rsp"
                        : triple.getArch() == llvm::Triple::aarch64 ? "sp"
                                                                    : "";
    auto lljit = orc::LLJITBuilder().setJITTargetMachineBuilder(*machine).create();
    if (!lljit) {
      j->error = to_message(lljit.takeError());
      return j;
    }
    j->lljit = std::move(*lljit);
    orc::ExecutionSession& es = j->lljit->getExecutionSession();
    j->runtime = &es.createBareJITDylib("rusm_runtime");
    orc::SymbolMap helpers;
    for (const internal::NativeHelper& h : internal::native_helpers()) {
      helpers[es.intern(h.name)] = {orc::ExecutorAddr::fromPtr(h.address),
                                    llvm::JITSymbolFlags::Exported};
    }
    if (llvm::Error e = j->runtime->define(orc::absoluteSymbols(std::move(helpers)))) {
      j->error = to_message(std::move(e));
      return j;
    }
    auto process = orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
        j->lljit->getDataLayout().getGlobalPrefix());
    if (!process) {
      j->error = to_message(process.takeError());
      return j;
    }
    j->runtime->addGenerator(std::move(*process));
    return j;
  }();
  return *j;
}

// Compiled code linked into the JIT; unlinked when the module goes.
class LinkedCode final : public NativeCode {
 public:
  explicit LinkedCode(orc::JITDylib* dylib) : dylib_(dylib) {}
  ~LinkedCode() override {
    if (dylib_ != nullptr) {
      llvm::consumeError(jit().lljit->getExecutionSession().removeJITDylib(*dylib_));
    }
  }

 private:
  orc::JITDylib* dylib_;
};

std::string hex(llvm::ArrayRef<uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

// The developer knobs that change the code (docs/engine.md): part of the key,
// so that a measurement with one never reads code made without it.
bool knob(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v == '1';
}
std::string knobs() {
  return std::string(knob("RUSM_LLVM_OPT") ? "O1" : "O2") +
         (knob("RUSM_LLVM_NO_VERSIONING") ? ",unguarded" : "");
}

std::string cache_key(std::span<const uint8_t> bytes) {
  const Jit& j = jit();
  const internal::NativeLayout& l = internal::native_layout();
  llvm::SHA256 h;
  std::string tag =
      std::string(kNativeAbi) + "|" RUSM_NATIVE_SOURCE_HASH "|" LLVM_VERSION_STRING "|" + j.cpu +
      "|" + j.features + "|" + std::to_string(l.memory_base) + "," + std::to_string(l.memory_size) +
      "," + std::to_string(l.memory_dirty) + "," + std::to_string(l.func_type_id) + "," +
      std::to_string(l.func_code) + "," + std::to_string(l.func_instance) + "," +
      std::to_string(l.code_native) + "|" + knobs() + "|";
  h.update(tag);
  h.update(llvm::ArrayRef<uint8_t>(bytes.data(), bytes.size()));
  auto digest = h.final();
  return hex(llvm::ArrayRef<uint8_t>(digest.data(), digest.size()));
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data;
}

// Writes atomically (a temporary file renamed into place), so that a reader
// never sees half an object. A cache that cannot be written is not an error.
void write_file(const std::filesystem::path& path, llvm::StringRef data) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return;
    }
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
  }
}

Result<std::string> compile_object(const internal::ModuleData& md) {
  Jit& j = jit();
  llvm::LLVMContext context;
  auto mod = llvm_tier::build_module(md, context, j.stack_register);
  if (!mod) {
    return mod.error();
  }
  auto tm = j.machine.createTargetMachine();
  if (!tm) {
    return Error("the compiled tier: " + to_message(tm.takeError()),
                 static_cast<int>(ErrorCode::kUsage));
  }
  llvm::Module& m = **mod;
  m.setDataLayout((*tm)->createDataLayout());
  m.setTargetTriple((*tm)->getTargetTriple().str());

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm->get());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = llvm::OptimizationLevel::O2;
  if (knob("RUSM_LLVM_OPT")) {
    level = llvm::OptimizationLevel::O1;
  }
  if (!knob("RUSM_LLVM_NO_VERSIONING")) {
    // Hot loops without their guards where one check before the loop proves
    // them (loop_guards.h); LLVM's vectorizer runs next.
    pb.registerVectorizerStartEPCallback(
        [](llvm::FunctionPassManager& fpm, llvm::OptimizationLevel) {
          fpm.addPass(llvm_tier::VersionGuardedLoops());
        });
  }
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
  if (const char* dump = std::getenv("RUSM_LLVM_DUMP"); dump != nullptr && *dump != '\0') {
    // A developer's view of the optimized IR (a file name, or "-" for stderr).
    std::error_code ec;
    llvm::raw_fd_ostream out(std::string(dump) == "-" ? "-" : dump, ec, llvm::sys::fs::OF_Append);
    if (!ec) {
      m.print(out, nullptr);
    }
  }

  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager emit;
  if ((*tm)->addPassesToEmitFile(emit, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    return Error("the compiled tier: this target cannot emit object files",
                 static_cast<int>(ErrorCode::kUsage));
  }
  emit.run(m);
  if (llvm::TimePassesIsEnabled) {  // RUSM_LLVM_ARGS=-time-passes
    llvm::reportAndResetTimings(&llvm::errs());
  }
  return std::string(object.data(), object.size());
}

Result<std::shared_ptr<NativeCode>> link(const internal::ModuleData& md,
                                         const std::string& object) {
  Jit& j = jit();
  orc::ExecutionSession& es = j.lljit->getExecutionSession();
  orc::JITDylib& dylib = es.createBareJITDylib("wasm" + std::to_string(j.next_id.fetch_add(1)));
  dylib.addToLinkOrder(*j.runtime);
  auto code = std::make_shared<LinkedCode>(&dylib);
  auto fail = [&](llvm::Error e) -> Error {
    return Error("the compiled tier could not link the module: " + to_message(std::move(e)),
                 static_cast<int>(ErrorCode::kUsage));
  };
  if (llvm::Error e =
          j.lljit->addObjectFile(dylib, llvm::MemoryBuffer::getMemBufferCopy(object, "wasm.o"))) {
    return fail(std::move(e));
  }
  size_t defined = md.ir.bodies.size();
  code->funcs.resize(defined);
  code->tramps.resize(defined);
  if (defined != 0) {
    auto funcs = j.lljit->lookup(dylib, llvm_tier::kFuncsSymbol);
    if (!funcs) {
      return fail(funcs.takeError());
    }
    auto tramps = j.lljit->lookup(dylib, llvm_tier::kTrampsSymbol);
    if (!tramps) {
      return fail(tramps.takeError());
    }
    auto* f = funcs->toPtr<void* const*>();
    auto* t = tramps->toPtr<void* const*>();
    std::copy(f, f + defined, code->funcs.begin());
    std::copy(t, t + defined, code->tramps.begin());
  }
  code->code_bytes = object.size();
  return std::shared_ptr<NativeCode>(std::move(code));
}

Result<std::shared_ptr<NativeCode>> compile_native(const internal::ModuleData& md,
                                                   const CompileOptions& options) {
  auto start = std::chrono::steady_clock::now();
  Jit& j = jit();
  if (j.lljit == nullptr) {
    return Error("the compiled tier is not available on this machine: " + j.error,
                 static_cast<int>(ErrorCode::kUsage));
  }
  if (j.stack_register.empty()) {
    return Error("not supported yet: the compiled tier on this architecture",
                 static_cast<int>(ErrorCode::kUsage));
  }
  std::string dir = native_cache_dir(options);
  std::filesystem::path path;
  std::optional<std::string> object;
  bool from_cache = false;
  if (!dir.empty()) {
    path = std::filesystem::path(dir) / (cache_key(md.ir.bytes) + ".o");
    if (!options.native_cache_refresh) {
      object = read_file(path);
    }
    from_cache = object.has_value();
  }
  if (!object && options.tier == Tier::kAuto) {
    std::filesystem::path refused = path;
    refused.replace_extension(".unsupported");
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(refused, ec)) {
      // The tier cannot take it (an earlier compile said why): no retries.
      return Error("not supported yet by the compiled tier (see " + refused.string() + ")",
                   static_cast<int>(ErrorCode::kUsage));
    }
    if (options.on_native_cache_miss && !dir.empty()) {
      options.on_native_cache_miss(std::span<const uint8_t>(md.ir.bytes));
    }
    return Error("not compiled yet: the module is not in the compiled tier's cache",
                 static_cast<int>(ErrorCode::kUsage));
  }
  if (!object) {
    auto made = compile_object(md);
    if (!made) {
      if (!dir.empty() && made.message().find("not supported yet") != std::string::npos) {
        // Remembered, so that `--tier auto` runs it interpreted without asking again.
        std::filesystem::path refused = path;
        refused.replace_extension(".unsupported");
        write_file(refused, made.message());
      }
      return made.error();
    }
    object = std::move(*made);
    if (!dir.empty()) {
      write_file(path, *object);
    }
  }
  auto code = link(md, *object);
  if (!code && from_cache) {
    // A damaged cache entry: compile again and replace it.
    auto made = compile_object(md);
    if (!made) {
      return made.error();
    }
    write_file(path, *made);
    from_cache = false;
    code = link(md, *made);
  }
  if (!code) {
    return code.error();
  }
  (*code)->from_cache = from_cache;
  (*code)->ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return code;
}

}  // namespace

std::string native_cache_dir(const CompileOptions& options) {
  if (options.native_cache_dir == "off") {
    return "";
  }
  if (!options.native_cache_dir.empty()) {
    return options.native_cache_dir;
  }
  if (const char* d = std::getenv("RUSM_CACHE_DIR"); d != nullptr && *d != '\0') {
    return std::string(d) + "/native";
  }
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d != nullptr && *d != '\0') {
    return std::string(d) + "/rusm/native";
  }
  if (const char* d = std::getenv("HOME"); d != nullptr && *d != '\0') {
    return std::string(d) + "/.cache/rusm/native";
  }
  return "";
}

namespace {

bool cache_has(std::span<const uint8_t> bytes, const CompileOptions& options) {
  std::string dir = native_cache_dir(options);
  if (dir.empty() || jit().stack_register.empty()) {
    return false;
  }
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(dir) / (cache_key(bytes) + ".o"), ec);
}

}  // namespace

void enable_compiled_tier() {
  internal::set_native_compiler(&compile_native);
  internal::set_native_cache_probe(&cache_has);
}

}  // namespace rusm::wasm
