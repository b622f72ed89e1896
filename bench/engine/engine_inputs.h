// What the engine scenarios (cpu.cc, instantiate.cc) share: where their
// inputs are, running a baseline (a native corpus program, node) as a child
// process, stub host functions for a benchmark module's imports, and a few
// measurement helpers.
//
// The inputs are built by bench/engine/CMakeLists.txt into the build tree:
// <dir>/corpus/<name> and <name>.wasm, <dir>/guests/*.wasm and
// <dir>/node_runner.mjs. Nothing here is thread-safe to share except the
// free functions, which hold no state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rusm/result.h"
#include "rusm/wasm.h"

namespace rusm::bench::engine {

// The directory holding corpus/, guests/ and node_runner.mjs: the first of
// $RUSM_BENCH_ENGINE_DIR, <dir of this executable>/bench/engine (the build
// tree's layout) and the build directory this binary was configured with
// that has a node_runner.mjs. The error lists every place searched.
Result<std::string> input_dir();

// The corpus programs this build knows (the names of bench/engine/corpus/*.c).
std::vector<std::string> corpus_programs();

// The node executable found at configure time, else "node" from PATH;
// nullopt when neither runs.
std::optional<std::string> node_path();

Result<std::vector<uint8_t>> read_file(const std::string& path);
bool file_exists(const std::string& path);

// Runs argv[0] with its arguments (no shell) and returns the last line of its
// output (stdout and stderr together) that parses as a JSON object. Errors:
// the program cannot start, dies of a signal, exits non-zero, or prints no
// JSON line; the message includes the end of its output. A JSON line with an
// "error" member is returned as that error.
Result<nlohmann::json> run_json_command(const std::vector<std::string>& argv);

// Host functions standing in for a benchmark module's imports, the same as
// node_runner.mjs gives V8: WASI preview 1 fd_write accepts and counts every
// byte, fd_fdstat_get says "regular file", fd_seek/fd_close succeed,
// proc_exit traps with the message "proc_exit(<code>)"; any other function
// returns zeros. Owns the Function objects, so it must outlive every instance
// instantiated with what resolve() returned.
class ImportStubs {
 public:
  // Stubs every import of `module`. Errors: a non-function import, or
  // resolve_imports' own error.
  Result<wasm::ResolvedImports> resolve(const wasm::Module& module);
  // "module.name" of each import stubbed, for the report's notes.
  const std::vector<std::string>& stubbed() const { return stubbed_; }

 private:
  std::vector<std::unique_ptr<wasm::Function>> functions_;
  std::vector<std::string> stubbed_;
};

// True for the trap of proc_exit(0) from the stubs: a command that exits
// successfully.
bool is_clean_exit(const wasm::Trap& trap);

// Calls `f` with no arguments to completion on `exec`, in fuel slices of
// `fuel_slice` (as the scheduler would run it), checking `stop` between
// slices. Errors name the trap, a suspension, or the stop.
Result<std::vector<wasm::Value>> call_to_end(wasm::Execution& exec, wasm::Function* f,
                                             int64_t fuel_slice,
                                             const std::function<bool()>& stop = {});

double now_seconds();     // monotonic clock
size_t resident_bytes();  // this process's RSS, from /proc/self/statm
double geometric_mean(const std::vector<double>& values);  // 0 when empty
std::string format_seconds(double s);                      // "12.3 ms", "850 us"

}  // namespace rusm::bench::engine
