// The execution tier the rusm command asks for (`--tier`), and how it fills
// the compiled tier's cache in the background.
#pragma once

#include <string>

#include "rusm/wasm.h"

#include <CLI/CLI.hpp>

namespace rusm::cli {

// $RUSM_TIER when it names a tier, else "auto". (scripts/test.sh sets
// interp, so that the suite's `rusm run`s do not depend on what a background
// compile has finished.)
std::string default_tier();
// `--tier auto|compiled|interp`.
void add_tier_option(CLI::App* cmd, std::string* tier);

// "auto", "compiled" or "interp" (checked by the flag) into `options`. For
// auto, a module missing from the cache runs interpreted and is compiled by
// a detached, low-priority `rusm compile` process, so the next start of it
// runs native code.
void apply_tier(const std::string& tier, wasm::CompileOptions* options);

}  // namespace rusm::cli
