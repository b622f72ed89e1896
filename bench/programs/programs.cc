// `rusm bench programs`: real programs, not kernels. QuickJS running a
// JavaScript workload (workload.js: objects, arrays, strings, a JSON round
// trip, a regular expression, a recursive function) and SQLite running a SQL
// workload (sql_main.c: a transaction of inserts, indexes, indexed lookups,
// an aggregate over a join, updates and deletes), each in the same run:
//
//   rusm    the wasm32-wasi command as a Wasm process on a fresh node (WASI
//           args and captured stdout), timed from spawn to exit: scheduling,
//           fuel slices, accounting and host calls are all in the figure;
//           under the interpreter, and under the compiled tier (LLVM) when
//           it can compile the module (else a note says why not, e.g. "not
//           supported yet: SIMD")
//   native  the same C built with clang -O2, timed as a child process
//   V8      the same .wasm under node's WASI (node_wasi_runner.mjs), timed
//           from instantiate to the end of _start
//
// One run of each (they take seconds under an interpreter); the programs
// print {"checksum":N}, and rusm's and V8's checksums must equal native's.
// The inputs are built by `cmake --build build --target bench_programs`
// (bench/programs/CMakeLists.txt); the scenario says what is missing.
// The goal (issue 10): each program within 1.5x of `rusm bench cpu`'s
// geometric mean rusm/native.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/scenario.h"
#include "engine/engine_inputs.h"
#include "rusm/runtime/runtime.h"
#include "rusm/wasm_compiled.h"

#ifndef RUSM_BENCH_PROGRAMS_DIR
#define RUSM_BENCH_PROGRAMS_DIR ""
#endif

namespace rusm::bench::programs {
namespace {

using engine::file_exists;
using engine::run_json_command;
using Clock = std::chrono::steady_clock;

struct Program {
  const char* name;   // files <dir>/<name>, <dir>/<name>.wasm, <dir>/<name>.status
  const char* title;  // for the table
  int scale;          // argv[1]: rounds of the workload (about 0.6 s natively)
};

constexpr Program kPrograms[] = {
    {"js", "js (QuickJS)", 6},
    {"sql", "sql (SQLite)", 2},
};

// The directory with node_wasi_runner.mjs and the built programs: the first
// of $RUSM_BENCH_PROGRAMS_DIR, <dir of rusm>/bench/programs and the build
// directory this binary was configured with.
Result<std::string> programs_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("RUSM_BENCH_PROGRAMS_DIR"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string path(exe, static_cast<size_t>(n));
    candidates.push_back(path.substr(0, path.rfind('/')) + "/bench/programs");
  }
  if (*RUSM_BENCH_PROGRAMS_DIR != '\0') {
    candidates.push_back(RUSM_BENCH_PROGRAMS_DIR);
  }
  for (const std::string& dir : candidates) {
    if (file_exists(dir + "/node_wasi_runner.mjs")) {
      return dir;
    }
  }
  return Error("bench/programs not found in the build tree; set RUSM_BENCH_PROGRAMS_DIR");
}

// The first line of <dir>/<name>.status ("ok", or why the build gave up).
std::string build_status(const std::string& dir, const Program& p) {
  std::ifstream in(dir + "/" + p.name + ".status");
  std::string line;
  if (!in || !std::getline(in, line)) {
    return "not built: run `cmake --build build --target bench_programs` (fetches QuickJS and "
           "SQLite with npm pack, then compiles them; a few minutes the first time)";
  }
  return line;
}

// The checksum of the last {"checksum":N} line of `out`.
std::optional<uint32_t> checksum_in(const std::string& out) {
  std::optional<uint32_t> found;
  std::stringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("checksum") && j["checksum"].is_number_unsigned()) {
      found = j["checksum"].get<uint32_t>();
    }
  }
  return found;
}

struct Timed {
  double seconds = 0;      // wall
  double cpu_seconds = 0;  // user + system
  uint32_t checksum = 0;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// User + system time of this process (RUSAGE_SELF: every thread, the node's
// workers included) or of its waited-for children (RUSAGE_CHILDREN).
double cpu_seconds(int who) {
  struct rusage u {};
  ::getrusage(who, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

Result<Timed> time_native(const std::string& exe, int scale) {
  auto t0 = Clock::now();
  double c0 = cpu_seconds(RUSAGE_CHILDREN);
  auto j = run_json_command({exe, std::to_string(scale)});
  double cpu = cpu_seconds(RUSAGE_CHILDREN) - c0;
  double s = seconds_since(t0);
  if (!j) {
    return j.error();
  }
  if (!j->contains("checksum")) {
    return Error("no checksum in " + j->dump());
  }
  return Timed{s, cpu, (*j)["checksum"].get<uint32_t>()};
}

Result<Timed> time_v8(const std::string& node, const std::string& runner,
                      const std::string& wasm_file, int scale) {
  double c0 = cpu_seconds(RUSAGE_CHILDREN);
  auto j = run_json_command({node, "--no-warnings", runner, wasm_file, std::to_string(scale)});
  double cpu = cpu_seconds(RUSAGE_CHILDREN) - c0;
  if (!j) {
    return j.error();
  }
  if (!j->contains("seconds") || !j->contains("stdout")) {
    return Error("unexpected result " + j->dump());
  }
  if (j->contains("exit_code") && (*j)["exit_code"] != 0) {
    return Error("exit code " + (*j)["exit_code"].dump());
  }
  auto sum = checksum_in((*j)["stdout"].get<std::string>());
  if (!sum) {
    return Error("no checksum in its output: " + (*j)["stdout"].get<std::string>());
  }
  return Timed{(*j)["seconds"].get<double>(), cpu, *sum};
}

// Spawns the command on `rt` (the module is compiled already) and waits for
// its exit; a stop request kills it.
Result<Timed> time_rusm(runtime::Runtime& rt, const Program& p, const std::string& module,
                        Progress& progress) {
  runtime::ProcessSpec spec;
  spec.module = module;
  spec.caps = *runtime::profile("trusted");
  spec.caps.max_memory_pages = 16384;  // 1 GiB
  spec.wasi.args = {p.name, std::to_string(p.scale)};
  spec.wasi.stdout_mode = wasi::StdioMode::kCapture;
  spec.wasi.stderr_mode = wasi::StdioMode::kCapture;
  spec.record_outcome = true;
  auto t0 = Clock::now();
  double c0 = cpu_seconds(RUSAGE_SELF);
  auto spawned = rt.spawn(spec);
  if (!spawned) {
    return Error("spawn: " + spawned.message());
  }
  std::optional<runtime::Outcome> outcome;
  while (!(outcome = rt.wait(spawned->pid, std::chrono::milliseconds(200)))) {
    if (progress.should_stop()) {
      rt.node().exit(spawned->pid, otp::ExitReason::kill());
      return Error("stopped");
    }
  }
  double s = seconds_since(t0);
  double cpu = cpu_seconds(RUSAGE_SELF) - c0;
  bool clean = outcome->exit_code ? *outcome->exit_code == 0 : outcome->reason.is_normal();
  if (!clean) {
    return Error(outcome->reason.to_string() +
                 (outcome->captured_stderr.empty() ? "" : ": " + outcome->captured_stderr));
  }
  auto sum = checksum_in(outcome->captured_stdout);
  if (!sum) {
    return Error("no checksum in its output: " + outcome->captured_stdout);
  }
  return Timed{s, cpu, *sum};
}

std::string ratio_text(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", r);
  return buf;
}

// "12.3 s (9.87x native)": wall time, which a busy machine inflates.
std::string wall_text(const Timed& t, const std::optional<Timed>& native) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f s", t.seconds);
  return std::string(buf) +
         (native ? " (" + ratio_text(t.seconds / native->seconds) + " native)" : "");
}

// A row of CPU seconds against native's; the note ends with the wall time.
Row cpu_row(std::string metric, const Timed& t, const std::optional<Timed>& native,
            std::string note) {
  Row row;
  row.metric = std::move(metric);
  row.value = t.cpu_seconds;
  row.unit = "s CPU";
  row.higher_is_better = false;
  row.note = std::move(note) + "wall " + wall_text(t, native);
  if (native) {
    row.baseline = native->cpu_seconds;
    row.baseline_name = "native";
  }
  return row;
}

Report run_programs(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "programs";
  report.summary =
      "CPU time of real programs (QuickJS running JavaScript, SQLite running SQL) as Wasm "
      "processes under rusm, natively (clang -O2) and under V8 (node's WASI), same run";
  auto dir = programs_dir();
  if (!dir) {
    report.notes.push_back("ERROR: " + dir.message());
    return report;
  }
  std::optional<std::string> node;
  if (options.baselines) {
    node = engine::node_path();
    if (!node) {
      report.notes.push_back("node not found: no V8 baseline");
    }
  } else {
    report.notes.push_back("--no-baselines: no native or V8 figures, so no ratios");
  }
  runtime::RuntimeOptions ro;
  ro.node.workers = options.threads;
  runtime::Runtime rt(ro);

  wasm::enable_compiled_tier();
  std::vector<double> ratios, compiled_ratios;
  for (const Program& p : kPrograms) {
    if (progress.should_stop()) {
      report.notes.push_back(std::string("stopped before ") + p.name);
      break;
    }
    std::string status = build_status(*dir, p);
    if (status != "ok") {
      report.notes.push_back(std::string("ERROR: ") + p.name + ": " + status);
      continue;
    }
    std::string exe = *dir + "/" + p.name;
    std::string wasm_file = exe + ".wasm";
    if (Status s = rt.load_file(p.name, wasm_file); !s) {
      report.notes.push_back(std::string("ERROR: ") + p.name + ": " + s.message());
      continue;
    }
    std::optional<Timed> native, v8, ours;
    auto take = [&](Result<Timed> r, std::optional<Timed>& into, const char* engine) {
      if (r) {
        into = *r;
      } else {
        report.notes.push_back(std::string("ERROR: ") + p.name + " " + engine + ": " + r.message());
      }
    };
    if (options.baselines) {
      take(time_native(exe, p.scale), native, "native");
      if (node) {
        take(time_v8(*node, *dir + "/node_wasi_runner.mjs", wasm_file, p.scale), v8, "under V8");
      }
    }
    take(time_rusm(rt, p, p.name, progress), ours, "under rusm");
    // The compiled tier: a strict compile through the default on-disk cache
    // (QuickJS and SQLite take a minute or so each to compile cold; later
    // runs load them), registered under a name of its own.
    std::optional<Timed> compiled;
    std::string compiled_note;
    if (auto bytes = engine::read_file(wasm_file); !bytes) {
      report.notes.push_back(std::string("ERROR: ") + p.name + ": " + bytes.message());
    } else {
      wasm::CompileOptions co;
      co.tier = wasm::Tier::kCompiled;
      double t0 = engine::now_seconds();
      auto m = wasm::Module::compile(*bytes, co);
      double ms = (engine::now_seconds() - t0) * 1e3;
      if (!m) {
        report.notes.push_back(std::string(p.name) +
                               ": no compiled-tier figure, it runs interpreted: " + m.message());
      } else {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%s %.0f ms (%.0f ms/MB); ",
                      (*m)->from_cache() ? "loaded from the cache in" : "compiled cold in", ms,
                      ms / (static_cast<double>(bytes->size()) / 1e6));
        compiled_note = buf;
        std::string name = std::string(p.name) + "-compiled";
        if (Status s = rt.add_module(name, *m); !s) {
          report.notes.push_back(std::string("ERROR: ") + p.name + " compiled: " + s.message());
        } else {
          take(time_rusm(rt, p, name, progress), compiled, "under rusm's compiled tier");
        }
      }
    }
    auto agrees = [&](std::optional<Timed>& t, const char* engine) {
      if (t && native && t->checksum != native->checksum) {
        report.notes.push_back(std::string("ERROR: ") + p.name + " under " + engine +
                               ": checksum " + std::to_string(t->checksum) + " != native " +
                               std::to_string(native->checksum));
        t.reset();
      }
    };
    agrees(ours, "rusm");
    agrees(compiled, "rusm's compiled tier");
    agrees(v8, "V8");

    if (ours) {
      Row row = cpu_row(std::string(p.title) + " rusm", *ours, native,
                        "scale " + std::to_string(p.scale) + "; ");
      if (native) {
        ratios.push_back(ours->cpu_seconds / native->cpu_seconds);
        progress.sample(std::string("programs ") + p.name + " rusm/native", ratios.back());
      }
      if (v8) {
        row.note += "; rusm/V8 " + ratio_text(ours->cpu_seconds / v8->cpu_seconds);
      }
      report.rows.push_back(std::move(row));
    }
    if (compiled) {
      Row row = cpu_row(std::string(p.title) + " rusm compiled", *compiled, native,
                        compiled_note + "scale " + std::to_string(p.scale) + "; ");
      if (native) {
        compiled_ratios.push_back(compiled->cpu_seconds / native->cpu_seconds);
        progress.sample(std::string("programs ") + p.name + " compiled/native",
                        compiled_ratios.back());
      }
      if (v8) {
        row.note += "; compiled/V8 " + ratio_text(compiled->cpu_seconds / v8->cpu_seconds);
      }
      report.rows.push_back(std::move(row));
    }
    if (v8) {
      report.rows.push_back(cpu_row(std::string(p.title) + " V8", *v8, native,
                                    "node's V8 running the same .wasm, not rusm; "));
    }
  }
  if (!ratios.empty()) {
    Row row;
    row.metric = "geomean rusm/native";
    row.value = engine::geometric_mean(ratios);
    row.unit = "x native";
    row.higher_is_better = false;
    row.note = "over " + std::to_string(ratios.size()) +
               " programs; goal: each within 1.5x of `rusm bench cpu`'s geomean";
    report.rows.push_back(std::move(row));
  }
  if (!compiled_ratios.empty()) {
    Row row;
    row.metric = "geomean rusm compiled/native";
    row.value = engine::geometric_mean(compiled_ratios);
    row.unit = "x native";
    row.higher_is_better = false;
    row.note = "over " + std::to_string(compiled_ratios.size()) +
               " programs; rusm's compiled tier (LLVM), compile time not included";
    report.rows.push_back(std::move(row));
  }
  report.notes.push_back(
      "one run each; figures are CPU time (user + system: steadier than wall time on a shared "
      "machine), wall time in the notes. rusm: spawn to exit of a Wasm process on this node "
      "(module compiled before), CPU of the whole rusm process; V8: the node process, startup "
      "and compile threads included (its wall time is instantiate + _start only); native: the "
      "process");
  return report;
}

Registrar registrar(Scenario{
    "programs",
    "real programs (QuickJS, SQLite) under rusm (interpreter and compiled tier) vs native and "
    "V8: the engine and the process around it",
    run_programs});

}  // namespace
}  // namespace rusm::bench::programs
