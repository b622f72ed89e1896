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
  Status s = internal::compile_functions(*md);
  if (!s) {
    return s.error();
  }
  if (options.tier != Tier::kInterpreter) {
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
        md->native_from_cache = md->native->from_cache;
        md->native_ms = md->native->ms;
        for (size_t i = 0; i < md->funcs.size(); ++i) {
          md->funcs[i].native = md->native->funcs[i];
          md->funcs[i].tramp = md->native->tramps[i];
        }
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

Tier Module::tier() const {
  return data_->native != nullptr ? Tier::kCompiled : Tier::kInterpreter;
}

bool Module::from_cache() const {
  return data_->native_from_cache;
}

double Module::native_compile_ms() const {
  return data_->native_ms;
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
