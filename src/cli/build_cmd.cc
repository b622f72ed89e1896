// `rusm build app.ts -o app.js`: writes a TypeScript app's compiled bundle
// (the one `rusm run app.ts` runs, from the same cache; typescript.h) for
// deployment: `rusm run app.js` then runs it without esbuild.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "commands.h"
#include "typescript.h"

namespace rusm::cli {
namespace {

struct BuildArgs {
  std::string input;
  std::string output;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "rusm: %s\n", message.c_str());
  throw CLI::RuntimeError(2);
}

void build(const BuildArgs& a) {
  if (!is_typescript(a.input)) {
    fail(a.input + ": not a TypeScript app (.ts, .mts)");
  }
  if (!a.output.ends_with(".js") && !a.output.ends_with(".mjs")) {
    fail("-o " + a.output + ": name it .js or .mjs, so that `rusm run` runs it as JavaScript");
  }
  Result<TsBundle> bundle = compile_typescript(a.input);
  if (!bundle) {
    fail(bundle.message());
  }
  // Through a temporary file next to it, renamed into place.
  namespace fs = std::filesystem;
  fs::path tmp = a.output + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bundle->js.data(), static_cast<std::streamsize>(bundle->js.size()));
    if (!out.good()) {
      std::error_code ec;
      fs::remove(tmp, ec);
      fail("-o " + a.output + ": cannot write it");
    }
  }
  std::error_code ec;
  fs::rename(tmp, a.output, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail("-o " + a.output + ": " + ec.message());
  }
}

void setup(CLI::App& app) {
  auto a = std::make_shared<BuildArgs>();
  CLI::App* cmd = app.add_subcommand(
      "build",
      "Compile a TypeScript app (.ts, .mts) with esbuild into one JavaScript module, as "
      "`rusm run app.ts` does (and from the same cache), and write it to -o; `rusm run "
      "app.js` runs that without esbuild. See docs/js.md.\n"
      "Exit status: 2 for usage and compile errors (esbuild's messages on stderr).");
  cmd->add_option("app", a->input, "The TypeScript app (.ts, .mts)")->required();
  cmd->add_option("-o,--output", a->output, "Where to write the JavaScript (.js, .mjs)")
      ->required();
  cmd->callback([a] { build(*a); });
}

CommandRegistrar registrar(setup);

}  // namespace
}  // namespace rusm::cli
