// The `rusm` command: a thin front over the layers; each subcommand is in its
// own file (see commands.h).
#include <cstdio>
#include <string>

#include "commands.h"
#include "rusm/wasm_compiled.h"

#if RUSM_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace rusm::cli {

std::vector<CommandSetup>& command_setups() {
  static std::vector<CommandSetup> setups;
  return setups;
}

namespace {

// "rusm 0.1.0 (mimalloc 2.0.9)": the allocator matters to every benchmark.
std::string version() {
  std::string v = "rusm 0.1.0";
#if RUSM_WITH_MIMALLOC
  int mi = mi_version();
  v += " (mimalloc " + std::to_string(mi / 100) + "." + std::to_string(mi / 10 % 10) + "." +
       std::to_string(mi % 10) + ")";
#else
  v += " (system malloc)";
#endif
  return v;
}

}  // namespace

}  // namespace rusm::cli

int main(int argc, char** argv) {
  rusm::wasm::enable_compiled_tier();
  CLI::App app{"rusm: the BEAM's process model for WebAssembly", "rusm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", rusm::cli::version());
  for (auto setup : rusm::cli::command_setups()) {
    setup(app);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command failed and printed its one-line error
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);  // --help, --version
    }
    // A usage error: one line, status 2, whatever CLI11's own code is.
    std::string what = e.what();
    for (char& c : what) {
      if (c == '\n') {
        c = ' ';
      }
    }
    std::fprintf(stderr, "rusm: %s (see --help)\n", what.c_str());
    return 2;
  }
  return 0;
}
