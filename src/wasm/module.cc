// Module: decode, validate and compile once; then immutable and shared.
#include "wasm/compiler.h"
#include "wasm/decoder.h"
#include "wasm/engine.h"
#include "wasm/native.h"

namespace rusm::wasm {

Module::Module(std::unique_ptr<internal::ModuleData> data) : data_(std::move(data)) {}
Module::~Module() = default;

Result<std::shared_ptr<const Module>> Module::compile(std::span<const uint8_t> bytes,
                                                      const CompileOptions& options) {
  internal::Dispatch dispatch = internal::default_dispatch();
  if (options.dispatch == DispatchScheme::kTailCall) {
    if (!internal::dispatch_available(internal::Dispatch::kTailCall)) {
      return Error("not supported yet: tail-call dispatch needs a clang build",
                   static_cast<int>(ErrorCode::kUsage));
    }
    dispatch = internal::Dispatch::kTailCall;
  } else if (options.dispatch == DispatchScheme::kComputedGoto) {
    dispatch = internal::Dispatch::kGoto;
  }
  auto ir = decode(bytes, options);
  if (!ir) {
    return ir.error();
  }
  auto md = std::make_unique<internal::ModuleData>();
  md->ir = std::move(**ir);
  md->dispatch = dispatch;
  md->auto_tier = options.tier == Tier::kAuto;
  Status s = internal::compile_functions(*md);
  if (!s) {
    return s.error();
  }
  if (options.tier == Tier::kCompiled ||
      (options.tier == Tier::kAuto && !md->cheap_to_interpret())) {
    internal::NativeCompiler compiler = internal::native_compiler();
    if (compiler == nullptr) {
      if (options.tier == Tier::kCompiled) {
        return Error(
            "the compiled tier is not in this program (it links rusm_wasm_llvm and calls "
            "rusm::wasm::enable_compiled_tier())",
            static_cast<int>(ErrorCode::kUsage));
      }
    } else {
      auto native = compiler(*md, options);
      if (!native) {
        if (options.tier == Tier::kCompiled) {
          return native.error();
        }
      } else {
        md->native = std::move(*native);
        for (size_t i = 0; i < md->funcs.size(); ++i) {
          md->funcs[i].native = md->native->funcs[i];
          md->funcs[i].tramp = md->native->tramps[i];
        }
        md->native_published.store(md->native.get(), std::memory_order_release);
      }
    }
  }
  return std::shared_ptr<const Module>(new Module(std::move(md)));
}

std::span<const ImportInfo> Module::imports() const {
  return data_->ir.import_infos;
}
std::span<const ExportInfo> Module::exports() const {
  return data_->ir.exports;
}
std::span<const SectionInfo> Module::sections() const {
  return data_->ir.sections;
}

std::optional<ExportInfo> Module::find_export(std::string_view name) const {
  for (const ExportInfo& e : data_->ir.exports) {
    if (e.name == name) {
      return e;
    }
  }
  return std::nullopt;
}

const FuncType& Module::func_type(uint32_t index) const {
  return data_->ir.func_type(index);
}

uint32_t Module::num_functions() const {
  return static_cast<uint32_t>(data_->ir.func_types.size());
}

std::string_view Module::func_name(uint32_t index) const {
  auto it = data_->ir.func_names.find(index);
  return it == data_->ir.func_names.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<uint32_t> Module::start_function() const {
  return data_->ir.start;
}

bool Module::worth_compiling() const {
  return !data_->cheap_to_interpret();
}

Tier Module::tier() const {
  return data_->native_code() != nullptr ? Tier::kCompiled : Tier::kInterpreter;
}

bool Module::from_cache() const {
  const internal::NativeCode* n = data_->native_code();
  return n != nullptr && n->from_cache;
}

double Module::native_compile_ms() const {
  const internal::NativeCode* n = data_->native_code();
  return n != nullptr ? n->ms : 0;
}

// Running instances switch at function entry: each defined function's entry
// becomes a stub whose enter_native instruction stops the interpreter, which
// then runs the function's compiled code (Execution::run) and returns to the
// interpreted caller. The interpreter's own code is kept (frames in it go on
// interpreted), so a switch never waits for running calls.
Status Module::adopt_native_code(const Module& compiled) const {
  internal::ModuleData& md = *data_;
  const internal::ModuleData& from = *compiled.data_;
  const internal::NativeCode* code = from.native_code();
  if (code == nullptr) {
    return Error("adopt_native_code: the other module has no compiled code",
                 static_cast<int>(ErrorCode::kUsage));
  }
  // The same module: the same bytes (the code must be this code, not code
  // of the same shape).
  bool same = md.ir.bytes == from.ir.bytes;
  if (!same) {
    return Error("adopt_native_code: the compiled module is not this module",
                 static_cast<int>(ErrorCode::kUsage));
  }
  std::lock_guard<std::mutex> lock(md.adopt_mu);
  if (md.native_code() != nullptr) {
    return Status::ok();  // compiled already
  }
  md.native = from.native;  // shared: it lives as long as either module
  const internal::Word* handlers = internal::handler_table(md.dispatch);
  md.native_stubs = std::make_unique<internal::Word[]>(3 * md.funcs.size());
  for (size_t i = 0; i < md.funcs.size(); ++i) {
    internal::FuncCode& fc = md.funcs[i];
    __atomic_store_n(&fc.native, code->funcs[i], __ATOMIC_RELAXED);
    __atomic_store_n(&fc.tramp, code->tramps[i], __ATOMIC_RELAXED);
    internal::Word* stub = &md.native_stubs[3 * i];
    stub[0] = handlers[static_cast<size_t>(internal::Op::enter_native)];
    stub[1] = reinterpret_cast<internal::Word>(&fc);
    stub[2] = handlers[static_cast<size_t>(internal::Op::return0)];
  }
  // New instances get compiled code's context from here on (instantiate).
  md.native_published.store(code, std::memory_order_release);
  for (size_t i = 0; i < md.funcs.size(); ++i) {
    if (md.runs_compiled(md.funcs[i])) {  // auto: short straight-line calls stay interpreted
      __atomic_store_n(&md.funcs[i].entry, &md.native_stubs[3 * i], __ATOMIC_RELEASE);
    }
  }
  return Status::ok();
}

const char* to_string(Tier t) {
  switch (t) {
    case Tier::kInterpreter:
      return "interp";
    case Tier::kCompiled:
      return "compiled";
    case Tier::kAuto:
      return "auto";
  }
  return "?";
}

}  // namespace rusm::wasm
