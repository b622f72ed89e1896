// `rusm loadtest http|ws|sse|conn URL [flags]`: the load driver
// (bench/loadtest/). It runs in its own process, apart from any rusm node it
// measures; this file only hands it the arguments after `loadtest`, so that
// the driver owns its flags, help and exit codes (2 on a bad flag).
#include "cli.h"
#include "commands.h"

namespace rusm::cli {
namespace {

void setup_loadtest(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "loadtest", "Load driver: http|ws|sse|conn URL [flags] (rusm loadtest --help)");
  cmd->prefix_command();  // everything after `loadtest` is the driver's
  cmd->set_help_flag();   // so is --help
  cmd->allow_extras();
  cmd->callback([cmd] {
    int code = loadtest::run_cli(cmd->remaining());
    if (code != 0) {
      throw CLI::RuntimeError(code);
    }
  });
}

CommandRegistrar registrar(setup_loadtest);

}  // namespace
}  // namespace rusm::cli
