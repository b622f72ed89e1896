// How the `rusm` command is assembled: every subcommand lives in its own file
// (wasm_cmd.cc, bench_cmd.cc, run_cmd.cc, ...) and registers a setup function
// with a static CommandRegistrar. main.cc builds the CLI11 app from them.
#pragma once

#include <CLI/CLI.hpp>

#include <vector>

namespace rusm::cli {

// Adds one or more subcommands (with their callbacks) to `app`. A callback
// reports failure by throwing CLI::RuntimeError(exit_code) after printing
// its one-line error to stderr.
using CommandSetup = void (*)(CLI::App& app);

std::vector<CommandSetup>& command_setups();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandSetup setup) { command_setups().push_back(setup); }
};

}  // namespace rusm::cli
