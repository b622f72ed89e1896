// `rusm bench cpu`: the engine's CPU speed on the C corpus
// (bench/engine/corpus/*.c), each program run in the same run under rusm's
// interpreter, under rusm's compiled tier (LLVM, src/wasm/llvm/), natively
// (clang-19 -O2) and under node (V8), with ratios to native and their
// geometric means. The goal: the interpreter's geometric mean at most
// 10x native.
//
// Every program checks its own result and traps if it is wrong; here the
// engines' checksums must also agree. A wrong or failed run is an "ERROR:"
// note, never a number. Each engine gets one untimed warm-up call, then timed
// calls for about duration/4 seconds (at least one); the figure is the mean
// time per call. For the interpreter, a warm-up call that alone took over
// twice that budget is the measurement (an interpreter has no tier-up to wait
// for, and this keeps the scenario's time down while the interpreter is
// slow). rusm runs the call in fuel slices, as the scheduler would, so that a
// stop request is honoured between slices.
//
// Compile time, per program and over the corpus, in ms per MB (10^6 bytes)
// of Wasm: the compiled tier cold (CompileOptions::native_cache_dir "off"),
// the compiled tier from its on-disk cache (a temporary cache directory,
// filled by one compile, then read by the timed one), and the interpreter's
// compile for comparison. Each figure is the wall time of Module::compile
// (decode and validate included).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/scenario.h"
#include "engine/engine_inputs.h"
#include "rusm/wasm_compiled.h"

namespace rusm::bench::engine {
namespace {

// The scheduler's slice (otp::NodeOptions::slice_reductions 4000 times
// RuntimeOptions::fuel_per_reduction 20): the compiled tier proves a loop's
// fuel for its whole run only when the run fits what is left of a slice
// (src/wasm/llvm/loop_guards.h), so a bigger slice here would flatter it.
constexpr int64_t kFuelSlice = 80'000;

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

// Compiles `bytes` with `options`, returning the module and the wall time
// of Module::compile in ms.
Result<std::pair<std::shared_ptr<const wasm::Module>, double>> compile_timed(
    const std::vector<uint8_t>& bytes, const wasm::CompileOptions& options) {
  double t0 = now_seconds();
  auto module = wasm::Module::compile(bytes, options);
  double ms = (now_seconds() - t0) * 1e3;
  if (!module) {
    return Error("compile (" + std::string(wasm::to_string(options.tier)) +
                 "): " + module.message());
  }
  return std::make_pair(*module, ms);
}

// Times `module`'s run() (see the top); `wasm_file` names it in notes.
Result<Timing> time_module(std::shared_ptr<const wasm::Module> module, const std::string& wasm_file,
                           double budget, Progress& progress, std::vector<std::string>& notes,
                           const char* sample_name) {
  ImportStubs stubs;
  auto resolved = stubs.resolve(*module);
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
  auto instance = wasm::Instance::instantiate(module, *resolved);
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
  if (warm_seconds >= 2 * budget && module->tier() == wasm::Tier::kInterpreter) {
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
    progress.sample(sample_name, dt * 1e3);
  }
  if (t.runs == 0) {
    return Error("stopped");
  }
  t.seconds_per_run = total / static_cast<double>(t.runs);
  return t;
}

Result<Timing> time_rusm(const std::string& wasm_file, double budget, Progress& progress,
                         std::vector<std::string>& notes,
                         const wasm::CompileOptions& compile_options = {},
                         const char* sample_name = "cpu rusm ms/run") {
  auto bytes = read_file(wasm_file);
  if (!bytes) {
    return bytes.error();
  }
  auto compiled = compile_timed(*bytes, compile_options);
  if (!compiled) {
    return compiled.error();
  }
  return time_module(compiled->first, wasm_file, budget, progress, notes, sample_name);
}

std::string ratio_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", r);
  return buf;
}

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g ms", ms);
  return buf;
}

// Compile times of one program (wall ms of Module::compile), see the top.
struct CompileTimes {
  double mb = 0;  // the module's size in MB (10^6 bytes)
  double interpreter_ms = 0;
  double cold_ms = 0;                        // compiled tier, cache off
  double cached_ms = 0;                      // compiled tier, from the cache
  std::shared_ptr<const wasm::Module> cold;  // the cold compile's module, for timing
};

Result<CompileTimes> time_compiles(const std::string& wasm_file) {
  auto bytes = read_file(wasm_file);
  if (!bytes) {
    return bytes.error();
  }
  CompileTimes t;
  t.mb = static_cast<double>(bytes->size()) / 1e6;
  wasm::CompileOptions interp;
  interp.tier = wasm::Tier::kInterpreter;
  auto i = compile_timed(*bytes, interp);
  if (!i) {
    return i.error();
  }
  t.interpreter_ms = i->second;

  wasm::CompileOptions cold;
  cold.tier = wasm::Tier::kCompiled;
  cold.native_cache_dir = "off";
  auto c = compile_timed(*bytes, cold);
  if (!c) {
    return c.error();
  }
  if (c->first->from_cache()) {
    return Error("compiled tier with the cache off: the module came from a cache");
  }
  t.cold_ms = c->second;
  t.cold = c->first;

  TempDir dir("rusm-bench-cpu-");
  if (dir.path().empty()) {
    return Error("cannot make a temporary cache directory");
  }
  wasm::CompileOptions cached = cold;
  cached.native_cache_dir = dir.path();
  auto fill = compile_timed(*bytes, cached);
  if (!fill) {
    return fill.error();
  }
  auto hit = compile_timed(*bytes, cached);
  if (!hit) {
    return hit.error();
  }
  if (!hit->first->from_cache()) {
    return Error("the second compile with cache " + dir.path() + " did not load from it");
  }
  t.cached_ms = hit->second;
  return t;
}

Row time_row(const std::string& metric, const Timing& t, const std::optional<Timing>& native,
             const std::optional<Timing>& v8, const char* ours, std::vector<double>& ratios,
             Progress& progress, const std::string& sample) {
  Row row;
  row.metric = metric;
  row.value = t.seconds_per_run * 1e3;
  row.unit = "ms/run";
  row.higher_is_better = false;
  row.note = "runs: " + std::to_string(t.runs) + (t.warmup_timed ? " (the warm-up)" : "");
  if (native) {
    row.baseline = native->seconds_per_run * 1e3;
    row.baseline_name = "native";
    ratios.push_back(t.seconds_per_run / native->seconds_per_run);
    progress.sample(sample, ratios.back());
  }
  if (v8) {
    row.note +=
        std::string("; ") + ours + "/V8 " + ratio_text(t.seconds_per_run / v8->seconds_per_run);
  }
  return row;
}

Report run_cpu(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "cpu";
  report.summary =
      "time per run of each C corpus program under rusm's interpreter and compiled tier, "
      "natively (clang-19 -O2) and under V8 (node), same machine, same run; compile ms/MB";
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
  wasm::enable_compiled_tier();
  std::optional<std::string> node;
  if (options.baselines) {
    node = node_path();
    if (!node) {
      report.notes.push_back("node not found: no V8 baseline");
    }
  } else {
    report.notes.push_back("--no-baselines: no native or V8 figures, so no ratios");
  }
  // Four engines per program; the compiled tier's compiles (three per
  // program) take a fraction of a second each.
  double budget = std::max(0.05, options.duration_s / 4);
  std::string runner = *dir + "/node_runner.mjs";
  wasm::CompileOptions interp_options;
  interp_options.tier = wasm::Tier::kInterpreter;

  std::vector<double> interp_ratios, compiled_ratios, v8_ratios;
  std::vector<CompileTimes> compiles;
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
    std::optional<Timing> native, v8, interp, compiled;
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
    if (auto t = time_rusm(wasm_file, budget, progress, report.notes, interp_options,
                           "cpu interpreter ms/run")) {
      interp = *t;
    } else {
      report.notes.push_back("ERROR: " + name + " under rusm's interpreter: " + t.message());
    }
    // The compiled tier's timing runs the cold compile's module.
    std::optional<CompileTimes> compile_times;
    if (auto t = time_compiles(wasm_file)) {
      compile_times = *t;
      if (auto r = time_module(t->cold, wasm_file, budget, progress, report.notes,
                               "cpu compiled ms/run")) {
        compiled = *r;
      } else {
        report.notes.push_back("ERROR: " + name + " under rusm's compiled tier: " + r.message());
      }
      compile_times->cold.reset();
    } else {
      report.notes.push_back("ERROR: " + name + " compiled tier: " + t.message());
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
    agrees(interp, "rusm's interpreter");
    agrees(compiled, "rusm's compiled tier");
    agrees(v8, "V8");
    if (interp && compiled && interp->checksum != compiled->checksum) {
      report.notes.push_back("ERROR: " + name + ": the interpreter's checksum " +
                             std::to_string(interp->checksum) + " != the compiled tier's " +
                             std::to_string(compiled->checksum));
      compiled.reset();
    }

    if (interp) {
      report.rows.push_back(time_row(name + " (interpreter)", *interp, native, v8, "interpreter",
                                     interp_ratios, progress,
                                     "cpu " + name + " interpreter/native"));
    }
    if (compiled) {
      Row row = time_row(name + " (compiled)", *compiled, native, v8, "compiled", compiled_ratios,
                         progress, "cpu " + name + " compiled/native");
      if (interp) {
        row.note += "; " + ratio_text(interp->seconds_per_run / compiled->seconds_per_run) +
                    " faster than the interpreter";
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
    if (compile_times) {
      const CompileTimes& c = *compile_times;
      Row row;
      row.metric = name + " compile, compiled tier";
      row.value = c.cold_ms / c.mb;
      row.unit = "ms/MB";
      row.higher_is_better = false;
      row.baseline = c.interpreter_ms / c.mb;
      row.baseline_name = "interpreter";
      char size[32];
      std::snprintf(size, sizeof size, "%.1f KB", c.mb * 1e3);
      row.note = std::string(size) + ": cold " + ms_text(c.cold_ms) + ", from the cache " +
                 ms_text(c.cached_ms) + " (" + ms_text(c.cached_ms / c.mb) + "/MB), interpreter " +
                 ms_text(c.interpreter_ms);
      report.rows.push_back(std::move(row));
      compiles.push_back(c);
    }
  }

  auto geomean_row = [&](const char* metric, const std::vector<double>& ratios, std::string note) {
    Row row;
    row.metric = metric;
    row.value = geometric_mean(ratios);
    row.unit = "x native";
    row.higher_is_better = false;
    row.note = "over " + std::to_string(ratios.size()) + " programs" + note;
    if (!v8_ratios.empty()) {
      row.baseline = geometric_mean(v8_ratios);
      row.baseline_name = "V8";
    }
    report.rows.push_back(std::move(row));
  };
  if (!interp_ratios.empty()) {
    geomean_row("geomean interpreter/native", interp_ratios, "; goal <= 10x");
  }
  if (!compiled_ratios.empty()) {
    geomean_row("geomean compiled/native", compiled_ratios, "; rusm's compiled tier (LLVM)");
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
  if (!compiles.empty()) {
    // Over the whole corpus: total ms / total MB.
    double mb = 0, interp_ms = 0, cold_ms = 0, cached_ms = 0;
    for (const CompileTimes& c : compiles) {
      mb += c.mb;
      interp_ms += c.interpreter_ms;
      cold_ms += c.cold_ms;
      cached_ms += c.cached_ms;
    }
    auto compile_row = [&](const char* metric, double ms, const char* note) {
      Row row;
      row.metric = metric;
      row.value = ms / mb;
      row.unit = "ms/MB";
      row.higher_is_better = false;
      row.baseline = interp_ms / mb;
      row.baseline_name = "interpreter";
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f KB of Wasm in %zu programs", mb * 1e3, compiles.size());
      row.note = std::string(note) + buf;
      report.rows.push_back(std::move(row));
    };
    compile_row("compile ms/MB, compiled tier cold", cold_ms, "cache off; ");
    compile_row("compile ms/MB, compiled tier cached", cached_ms,
                "loaded from the on-disk cache; ");
  }
  if (interp_ratios.size() != v8_ratios.size() || compiled_ratios.size() != v8_ratios.size()) {
    report.notes.push_back("the geometric means cover different programs (see ERROR notes)");
  }
  report.notes.push_back("each engine: 1 warm-up call, then timed calls for ~" +
                         format_seconds(budget) +
                         "; mean time per call (the interpreter: the warm-up alone when it took "
                         "over twice that)");
  report.notes.push_back(
      "compile ms/MB: wall time of Module::compile (decode and validate included) per MB "
      "(10^6 bytes) of Wasm; compiled tier at O2, cold with the cache off, then from a "
      "temporary cache directory");
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
    wasm::CompileOptions tail_options, goto_options;
    tail_options.dispatch = wasm::DispatchScheme::kTailCall;
    goto_options.dispatch = wasm::DispatchScheme::kComputedGoto;
    auto tail = time_rusm(wasm_file, budget, progress, report.notes, tail_options);
    auto go = time_rusm(wasm_file, budget, progress, report.notes, goto_options);
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
    "cpu",
    "CPU speed on the C corpus: rusm's interpreter and compiled tier vs native and V8, with "
    "geometric means; compile ms/MB",
    run_cpu});

}  // namespace
}  // namespace rusm::bench::engine
