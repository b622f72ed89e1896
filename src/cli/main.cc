// The `rusm` command: a thin front over the layers; each subcommand is in its
// own file (see commands.h).
#include <cstdio>

#include "commands.h"

namespace rusm::cli {

std::vector<CommandSetup>& command_setups() {
  static std::vector<CommandSetup> setups;
  return setups;
}

}  // namespace rusm::cli

int main(int argc, char** argv) {
  CLI::App app{"rusm: the BEAM's process model for WebAssembly", "rusm"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rusm 0.1.0");
  for (auto setup : rusm::cli::command_setups()) {
    setup(app);
  }
  CLI11_PARSE(app, argc, argv);
  return 0;
}
