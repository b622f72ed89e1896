// `rusm compile FILE.wasm...`: compiles modules with the compiled tier ahead
// of time, filling the on-disk cache of machine code (CompileOptions::
// native_cache_dir), so that the first `rusm run` of a module does not wait
// for LLVM. Prints, per module, its size, how long compiling took (or that it
// came from the cache) and ms per MB.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "input.h"
#include "js_runtime.h"
#include "rusm/wasm.h"
#include "rusm/wasm_compiled.h"

namespace rusm::cli {
namespace {

struct CompileArgs {
  std::vector<std::string> files;
  std::string cache_dir;
  bool force = false;
  bool js = false;  // the embedded JavaScript runtime (QuickJS), which `rusm run app.js` loads
  bool quiet = false;
  bool remove_input = false;  // the background compile of `--tier auto` (tier.cc)
};

int compile_files(const CompileArgs& a) {
  wasm::CompileOptions options;
  options.tier = wasm::Tier::kCompiled;
  options.native_cache_dir = a.cache_dir;
  std::string dir = wasm::native_cache_dir(options);
  if (dir.empty()) {
    std::fprintf(stderr,
                 "rusm: compile: no cache directory (set HOME or RUSM_CACHE_DIR, or "
                 "give --cache-dir)\n");
    return 2;
  }
  int failures = 0;
  if (a.js) {
    std::span<const uint8_t> wasm = js_runtime_wasm();
    if (wasm.empty()) {
      std::fprintf(stderr, "rusm: compile: this rusm was built without JavaScript\n");
      return 1;
    }
    wasm::CompileOptions o = options;
    o.native_cache_refresh = a.force;
    auto m = wasm::Module::compile(wasm, o);
    if (!m) {
      std::fprintf(stderr, "rusm: the JavaScript runtime: %s\n", m.message().c_str());
      ++failures;
    } else if (!a.quiet) {
      double mb = static_cast<double>(wasm.size()) / (1024.0 * 1024.0);
      std::printf("the JavaScript runtime: %zu bytes, %s in %.1f ms (%.0f ms/MB)\n", wasm.size(),
                  (*m)->from_cache() ? "loaded from the cache" : "compiled",
                  (*m)->native_compile_ms(), (*m)->native_compile_ms() / mb);
    }
  }
  for (const std::string& file : a.files) {
    Result<std::vector<uint8_t>> bytes = read_module_file(file);
    if (a.remove_input) {
      std::error_code ec;
      std::filesystem::remove(file, ec);
    }
    if (!bytes) {
      std::fprintf(stderr, "rusm: %s\n", bytes.message().c_str());
      ++failures;
      continue;
    }
    wasm::CompileOptions o = options;
    o.native_cache_refresh = a.force;
    auto m = wasm::Module::compile(*bytes, o);
    if (!m) {
      std::fprintf(stderr, "rusm: %s: %s\n", file.c_str(), m.message().c_str());
      ++failures;
      continue;
    }
    if (a.quiet) {
      continue;
    }
    double mb = static_cast<double>(bytes->size()) / (1024.0 * 1024.0);
    double ms = (*m)->native_compile_ms();
    std::printf("%s: %zu bytes, %s in %.1f ms (%.0f ms/MB)\n", file.c_str(), bytes->size(),
                (*m)->from_cache() ? "loaded from the cache" : "compiled", ms,
                mb > 0 ? ms / mb : 0.0);
  }
  if (!a.quiet) {
    std::printf("cache: %s\n", dir.c_str());
  }
  return failures == 0 ? 0 : 1;
}

void setup_compile(CLI::App& app) {
  auto a = std::make_shared<CompileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compile",
      "Compile modules to native code ahead of time (the compiled tier's on-disk cache), so "
      "that `rusm run --tier auto|compiled` starts at once");
  cmd->add_option("files", a->files, "Wasm modules (.wasm)");
  cmd->add_flag("--js", a->js,
                "Also the embedded JavaScript runtime (QuickJS) that `rusm run app.js` and JS "
                "routes load (LLVM takes about a minute for it)");
  cmd->add_option("--cache-dir", a->cache_dir,
                  "The cache directory (default: $RUSM_CACHE_DIR/native, else "
                  "~/.cache/rusm/native)");
  cmd->add_flag("--force", a->force, "Compile even when the cache has the module");
  cmd->add_flag("--quiet", a->quiet, "Print errors only");
  cmd->add_flag("--remove-input", a->remove_input,
                "Delete each input file once read (how `--tier auto` hands modules over)")
      ->group("");
  cmd->callback([a] {
    if (a->files.empty() && !a->js) {
      std::fprintf(stderr, "rusm: compile: give .wasm files, or --js (see --help)\n");
      throw CLI::RuntimeError(2);
    }
    int code = compile_files(*a);
    if (code != 0) {
      throw CLI::RuntimeError(code);
    }
  });
}

CommandRegistrar registrar(setup_compile);

}  // namespace
}  // namespace rusm::cli
