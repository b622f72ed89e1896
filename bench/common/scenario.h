// Benchmark scenarios: what `rusm bench <scenario>` runs and the dashboard
// shows.
//
// A scenario measures one thing and, where one exists, a baseline measured in
// the same run (the BEAM, native code, V8), so that every claim is a ratio
// taken on the same machine at the same time. Scenarios register themselves
// with a static `Registrar` in their own file (bench/<area>/*.cc); the CLI and
// the dashboard find them by name.
//
// Thread-safety: registration happens during static initialization; after
// that the registry is read-only. A scenario's run() may be called from any
// thread, one run at a time per scenario.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rusm::bench {

struct Options {
  double duration_s = 3.0;  // how long each measured phase runs
  unsigned threads = 0;     // worker threads / cores to use; 0 = all cores
  bool baselines = true;    // also run baselines (BEAM, node) when installed
};

// Live progress, for the dashboard's charts and for stopping a run early.
// Both calls must be cheap; scenarios call sample() a few times a second.
class Progress {
 public:
  virtual ~Progress() = default;
  virtual bool should_stop() const { return false; }
  // A throughput or gauge reading, e.g. ("spawns/s", 1.2e6). The gauge
  // "processes" (live processes on the scenario's node) gives the dashboard
  // its peak concurrency.
  virtual void sample(std::string_view metric, double value) {}
  // One latency observation in nanoseconds, e.g. ("round trip", 1800); the
  // dashboard keeps a histogram per metric. Called from any thread, including
  // process bodies, so it must be thread-safe and cost tens of nanoseconds.
  // Scenarios sample it (every Nth operation) where measuring costs time.
  virtual void latency(std::string_view metric, uint64_t ns) {}
};

// One line of a report: our figure and, if measured, the baseline's.
struct Row {
  std::string metric;  // "spawns/s", "round trip p50"
  double value = 0;
  std::string unit;  // "/s", "us", "MiB", "x native"
  std::optional<double> baseline;
  std::string baseline_name;  // "BEAM", "native", "V8"
  bool higher_is_better = true;
  std::string note;  // optional, e.g. "2 spawners"
};

struct Report {
  std::string scenario;
  std::string summary;  // one sentence: what it measures
  std::vector<Row> rows;
  std::vector<std::string> notes;  // caveats: "erl not installed: no BEAM baseline"
};

struct Scenario {
  std::string name;     // "spawn-storm"
  std::string summary;  // one sentence, shown in help and the dashboard
  std::function<Report(const Options&, Progress&)> run;
};

void register_scenario(Scenario scenario);
// All scenarios, sorted by name.
std::vector<const Scenario*> scenarios();
const Scenario* find_scenario(std::string_view name);

// The report as an aligned text table (what the CLI prints), or as JSON
// ({"scenario":..., "rows":[{"metric","value","unit","baseline",
// "baseline_name","ratio"}], "notes":[...]}).
// A TCP port on 127.0.0.1 that was free a moment ago (0 if none), for a
// peer server a scenario starts (a race with other programs is possible).
uint16_t free_port();

std::string format_table(const Report& report);
std::string format_json(const Report& report);

struct Registrar {
  explicit Registrar(Scenario scenario) { register_scenario(std::move(scenario)); }
};

// A helper a scenario runs as an OS process of its own (e.g. the far node of
// a cluster scenario): the scenario re-executes the rusm binary
// (/proc/self/exe) as `rusm bench-helper NAME ARGS...`, a hidden command that
// calls the helper registered under NAME and exits with what it returns.
using HelperMain = int (*)(const std::vector<std::string>& args);
void register_helper(std::string name, HelperMain main);
HelperMain find_helper(std::string_view name);

struct HelperRegistrar {
  HelperRegistrar(std::string name, HelperMain main) { register_helper(std::move(name), main); }
};

// A fresh temporary directory (for a compiled-tier cache, say), removed
// with everything in it by the destructor.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "rusm-bench-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }  // "" if it could not be made

 private:
  std::string path_;
};

}  // namespace rusm::bench
