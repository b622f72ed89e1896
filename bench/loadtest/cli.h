// `rusm loadtest`: the command line of the load driver. The rusm binary
// hands it everything after the word `loadtest` (src/cli/loadtest_cmd.cc),
// so that it owns its flags, help text and exit codes.
#pragma once

#include <string>
#include <vector>

#include "options.h"
#include "rusm/result.h"

namespace rusm::loadtest {

// Parses the arguments after `loadtest`. On `--help`, returns an Error with
// code kHelp whose message is the help text; on a bad flag, an Error whose
// message is one line naming the flag.
inline constexpr int kHelp = 1;
Result<Options> parse_args(const std::vector<std::string>& args);

// The help text: every flag with its default.
std::string help_text();

// Runs the command: prints the table (or JSON) to stdout, progress and
// errors to stderr. Returns the exit code: 0 on a completed run, 2 on bad
// flags, 1 if the run could not start (unresolvable host, unreadable
// --cacert) or, with --sweep, if no level passed.
int run_cli(const std::vector<std::string>& args);

}  // namespace rusm::loadtest
