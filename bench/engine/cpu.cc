// `rusm bench cpu`: the engine's CPU speed on the C corpus
// (bench/engine/corpus/*.c), each program run in the same run under rusm's
// interpreter, natively (clang-19 -O2) and under node (V8), with ratios to
// native and their geometric means. The goal: rusm's geometric mean
// at most 10x native.
//
// Every program checks its own result and traps if it is wrong; here the
// three engines' checksums must also agree. A wrong or failed run is an
// "ERROR:" note, never a number. Each engine gets one untimed warm-up call,
// then timed calls for about duration/3 seconds (at least one); the figure is
// the mean time per call. For rusm, a warm-up call that alone took over twice
// that budget is the measurement (an interpreter has no tier-up to wait for,
// and this halves the scenario's time while the interpreter is slow). rusm
// runs the call in fuel slices, as the scheduler would, so that a stop
// request is honoured between slices.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/scenario.h"
#include "engine/engine_inputs.h"

namespace rusm::bench::engine {
namespace {

constexpr int64_t kFuelSlice = 10'000'000;

struct Timing {
  double seconds_per_run = 0;
  long runs = 0;
  uint32_t checksum = 0;
  bool warmup_timed = false;  // the one run is the warm-up call (see time_rusm)
};

Result<Timing> timing_from_json(const nlohmann::json& j) {
  if (!j.contains("seconds_per_run") || !j.contains("checksum") || !j.contains("runs")) {
    return Error("result without seconds_per_run/runs/checksum: " + j.dump());
  }
  Timing t;
  t.seconds_per_run = j["seconds_per_run"].get<double>();
  t.runs = j["runs"].get<long>();
  t.checksum = j["checksum"].get<uint32_t>();
  return t;
}

std::string seconds_arg(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

Result<Timing> time_native(const std::string& exe, double budget) {
  auto j =
      run_json_command({exe, "--seconds", seconds_arg(budget), "--min-runs", "1", "--warmup", "1"});
  if (!j) {
    return j.error();
  }
  return timing_from_json(*j);
}

Result<Timing> time_v8(const std::string& node, const std::string& runner,
                       const std::string& wasm_file, double budget) {
  auto j = run_json_command({node, runner, "run", wasm_file, "--seconds", seconds_arg(budget),
                             "--min-runs", "1", "--warmup", "1"});
  if (!j) {
    return j.error();
  }
  return timing_from_json(*j);
}

Result<Timing> time_rusm(const std::string& wasm_file, double budget, Progress& progress,
                         std::vector<std::string>& notes,
                         wasm::DispatchScheme dispatch = wasm::DispatchScheme::kDefault) {
  auto bytes = read_file(wasm_file);
  if (!bytes) {
    return bytes.error();
  }
  wasm::CompileOptions compile_options;
  compile_options.dispatch = dispatch;
  auto module = wasm::Module::compile(*bytes, compile_options);
  if (!module) {
    return Error("compile: " + module.message());
  }
  ImportStubs stubs;
  auto resolved = stubs.resolve(**module);
  if (!resolved) {
    return Error("imports: " + resolved.message());
  }
  if (!stubs.stubbed().empty()) {
    std::string list;
    for (const std::string& name : stubs.stubbed()) {
      list += (list.empty() ? "" : ", ") + name;
    }
    notes.push_back(wasm_file + " imports " + list + " (stubbed)");
  }
  auto instance = wasm::Instance::instantiate(*module, *resolved);
  if (!instance) {
    return Error("instantiate: " + instance.message());
  }
  auto stop = [&progress] { return progress.should_stop(); };
  wasm::Execution exec;
  if (wasm::Function* init = (*instance)->exported_function("_initialize")) {
    if (auto r = call_to_end(exec, init, kFuelSlice, stop); !r) {
      return Error("_initialize: " + r.message());
    }
  }
  wasm::Function* run = (*instance)->exported_function("run");
  if (run == nullptr) {
    return Error("no exported function run");
  }
  if (run->type() != wasm::FuncType{{}, {wasm::ValType::I32}}) {
    return Error("run has type " + wasm::to_string(run->type()) + ", expected () -> (i32)");
  }
  Timing t;
  auto call_once = [&]() -> Result<uint32_t> {
    auto r = call_to_end(exec, run, kFuelSlice, stop);
    if (!r) {
      return r.error();
    }
    if (r->size() != 1) {
      return Error("run returned " + std::to_string(r->size()) + " values");
    }
    return (*r)[0].i32();
  };
  double warm_start = now_seconds();
  auto warm = call_once();
  double warm_seconds = now_seconds() - warm_start;
  if (!warm) {
    return warm.error();
  }
  t.checksum = *warm;
  double total = 0;
  if (warm_seconds >= 2 * budget) {
    // A slow interpreter: one call is already well past the budget, and there
    // is no tier-up to wait for, so the warm-up call is the measurement.
    t.runs = 1;
    t.warmup_timed = true;
    total = warm_seconds;
  }
  while (t.runs < 1 || total < budget) {
    if (progress.should_stop()) {
      break;
    }
    double t0 = now_seconds();
    auto c = call_once();
    double dt = now_seconds() - t0;
    if (!c) {
      return c.error();
    }
    if (*c != t.checksum) {
      return Error("checksum changed between runs");
    }
    total += dt;
    ++t.runs;
    progress.sample("cpu rusm ms/run", dt * 1e3);
  }
  if (t.runs == 0) {
    return Error("stopped");
  }
  t.seconds_per_run = total / static_cast<double>(t.runs);
  return t;
}

std::string ratio_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", r);
  return buf;
}

Report run_cpu(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "cpu";
  report.summary =
      "time per run of each C corpus program under rusm, natively (clang-19 -O2) and under V8 "
      "(node), same machine, same run";
  auto dir = input_dir();
  if (!dir) {
    report.notes.push_back("ERROR: " + dir.message());
    return report;
  }
  std::vector<std::string> programs = corpus_programs();
  if (programs.empty()) {
    report.notes.push_back("ERROR: no corpus programs in this build");
    return report;
  }
  std::optional<std::string> node;
  if (options.baselines) {
    node = node_path();
    if (!node) {
      report.notes.push_back("node not found: no V8 baseline");
    }
  } else {
    report.notes.push_back("--no-baselines: no native or V8 figures, so no ratios");
  }
  double budget = std::max(0.05, options.duration_s / 3);
  std::string runner = *dir + "/node_runner.mjs";

  std::vector<double> rusm_ratios, v8_ratios;
  for (const std::string& name : programs) {
    if (progress.should_stop()) {
      report.notes.push_back("stopped before " + name);
      break;
    }
    std::string exe = *dir + "/corpus/" + name;
    std::string wasm_file = exe + ".wasm";
    if (!file_exists(wasm_file)) {
      report.notes.push_back("ERROR: " + name + ": missing " + wasm_file);
      continue;
    }
    std::optional<Timing> native, v8, ours;
    if (options.baselines) {
      if (!file_exists(exe)) {
        report.notes.push_back("ERROR: " + name + ": missing native executable " + exe);
      } else if (auto t = time_native(exe, budget)) {
        native = *t;
      } else {
        report.notes.push_back("ERROR: " + name + " native: " + t.message());
      }
      if (node) {
        if (auto t = time_v8(*node, runner, wasm_file, budget)) {
          v8 = *t;
        } else {
          report.notes.push_back("ERROR: " + name + " under V8: " + t.message());
        }
      }
    }
    if (auto t = time_rusm(wasm_file, budget, progress, report.notes)) {
      ours = *t;
    } else {
      report.notes.push_back("ERROR: " + name + " under rusm: " + t.message());
    }

    // Native is the reference checksum: the programs verify themselves, and
    // native is what the C compiler means by the source.
    auto agrees = [&](std::optional<Timing>& t, const char* engine) {
      if (t && native && t->checksum != native->checksum) {
        report.notes.push_back("ERROR: " + name + " under " + engine + ": checksum " +
                               std::to_string(t->checksum) + " != native " +
                               std::to_string(native->checksum));
        t.reset();
      }
    };
    agrees(ours, "rusm");
    agrees(v8, "V8");

    if (ours) {
      Row row;
      row.metric = name + " (rusm)";
      row.value = ours->seconds_per_run * 1e3;
      row.unit = "ms/run";
      row.higher_is_better = false;
      row.note =
          "runs: " + std::to_string(ours->runs) + (ours->warmup_timed ? " (the warm-up)" : "");
      if (native) {
        row.baseline = native->seconds_per_run * 1e3;
        row.baseline_name = "native";
        rusm_ratios.push_back(ours->seconds_per_run / native->seconds_per_run);
        progress.sample("cpu " + name + " rusm/native", rusm_ratios.back());
      }
      if (v8) {
        row.note += "; rusm/V8 " + ratio_text(ours->seconds_per_run / v8->seconds_per_run);
      }
      report.rows.push_back(std::move(row));
    }
    if (v8) {
      Row row;
      row.metric = name + " (V8)";
      row.value = v8->seconds_per_run * 1e3;
      row.unit = "ms/run";
      row.higher_is_better = false;
      row.note = "node's V8, not rusm; runs: " + std::to_string(v8->runs);
      if (native) {
        row.baseline = native->seconds_per_run * 1e3;
        row.baseline_name = "native";
        v8_ratios.push_back(v8->seconds_per_run / native->seconds_per_run);
        progress.sample("cpu " + name + " V8/native", v8_ratios.back());
      }
      report.rows.push_back(std::move(row));
    }
  }

  if (!rusm_ratios.empty()) {
    Row row;
    row.metric = "geomean rusm/native";
    row.value = geometric_mean(rusm_ratios);
    row.unit = "x native";
    row.higher_is_better = false;
    row.note = "over " + std::to_string(rusm_ratios.size()) + " programs; goal <= 10x";
    if (!v8_ratios.empty()) {
      row.baseline = geometric_mean(v8_ratios);
      row.baseline_name = "V8";
    }
    report.rows.push_back(std::move(row));
  }
  if (!v8_ratios.empty()) {
    Row row;
    row.metric = "geomean V8/native";
    row.value = geometric_mean(v8_ratios);
    row.unit = "x native";
    row.higher_is_better = false;
    row.note = "node's V8, not rusm; over " + std::to_string(v8_ratios.size()) + " programs";
    report.rows.push_back(std::move(row));
  }
  if (rusm_ratios.size() != v8_ratios.size()) {
    report.notes.push_back("the two geometric means cover different programs (see ERROR notes)");
  }
  report.notes.push_back("each engine: 1 warm-up call, then timed calls for ~" +
                         format_seconds(budget) +
                         "; mean time per call (rusm: the warm-up alone when it took over twice "
                         "that)");
  return report;
}

// `rusm bench dispatch`: the interpreter's two dispatch schemes on the same
// corpus, same build, same run: tail-calling handlers ([[clang::musttail]],
// the default under clang) against a computed-goto loop (the g++ scheme).
// DESIGN.md: dispatch is measured, not assumed; this is the measurement.
Report run_dispatch(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "dispatch";
  report.summary =
      "time per run of each C corpus program under the interpreter's tail-call dispatch and its "
      "computed-goto dispatch, same build, same run";
  auto dir = input_dir();
  if (!dir) {
    report.notes.push_back("ERROR: " + dir.message());
    return report;
  }
  double budget = std::max(0.05, options.duration_s / 2);
  std::vector<double> ratios;
  for (const std::string& name : corpus_programs()) {
    if (progress.should_stop()) {
      report.notes.push_back("stopped before " + name);
      break;
    }
    std::string wasm_file = *dir + "/corpus/" + name + ".wasm";
    auto tail =
        time_rusm(wasm_file, budget, progress, report.notes, wasm::DispatchScheme::kTailCall);
    auto go =
        time_rusm(wasm_file, budget, progress, report.notes, wasm::DispatchScheme::kComputedGoto);
    if (!tail || !go) {
      report.notes.push_back("ERROR: " + name + ": " + (!tail ? tail.message() : go.message()));
      continue;
    }
    if (tail->checksum != go->checksum) {
      report.notes.push_back("ERROR: " + name + ": the two schemes disagree on the checksum");
      continue;
    }
    Row row;
    row.metric = name + " (goto)";
    row.value = go->seconds_per_run * 1e3;
    row.unit = "ms/run";
    row.higher_is_better = false;
    row.baseline = tail->seconds_per_run * 1e3;
    row.baseline_name = "tail";
    ratios.push_back(go->seconds_per_run / tail->seconds_per_run);
    report.rows.push_back(std::move(row));
  }
  if (!ratios.empty()) {
    Row row;
    row.metric = "geomean goto/tail";
    row.value = geometric_mean(ratios);
    row.unit = "x tail";
    row.higher_is_better = false;
    row.note = "above 1: tail calls win; the default under clang is tail calls";
    report.rows.push_back(std::move(row));
  }
  return report;
}

Registrar dispatch_registrar(Scenario{
    "dispatch", "the interpreter's dispatch schemes compared: tail calls vs computed goto",
    run_dispatch});

Registrar registrar(Scenario{
    "cpu", "CPU speed on the C corpus: rusm's interpreter vs native and V8, with geometric means",
    run_cpu});

}  // namespace
}  // namespace rusm::bench::engine
