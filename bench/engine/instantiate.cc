// `rusm bench instantiate`: how fast rusm's engine goes through the life of a
// short process, instantiate + call one export + destroy, on one thread, and
// how much memory a live instance holds; V8 (node) measured in the same run.
// Two modules: a one-page module with one function (calls "run") and a
// typical clang-19 wasm32-wasi C command with printf and malloc (calls
// "_start", its WASI imports served by stubs). The goal: under 1 us
// each (over 1,000,000/s) for the small module.
//
// Memory: kLiveInstances instances of each module are kept alive at once,
// each after its export was called; the report gives bytes per instance from
// Instance::memory_footprint() and from the growth of the process's RSS
// (approximate: the allocator may reuse memory freed earlier). The live
// phase runs first, and the second module's instances are created while the
// first's are still alive, so neither reuses the other's memory.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/scenario.h"
#include "engine/engine_inputs.h"
#include "rusm/wasm_compiled.h"

namespace rusm::bench::engine {
namespace {

constexpr size_t kLiveInstances = 10'000;
constexpr int kBatch = 64;  // iterations between clock reads

struct Guest {
  std::string label;  // "one-page"
  std::string file;   // relative to the input directory
  std::string export_name;
  std::shared_ptr<const wasm::Module> module;
  ImportStubs stubs;
  wasm::ResolvedImports imports;
};

// One process lifetime: instantiate, call the export to its end, destroy.
// Returns the instance instead of destroying it when `keep` is set.
Result<std::shared_ptr<wasm::Instance>> live_once(Guest& g, bool keep) {
  auto instance = g.module->start_function() ? wasm::instantiate_and_start(g.module, g.imports)
                                             : wasm::Instance::instantiate(g.module, g.imports);
  if (!instance) {
    return Error("instantiate: " + instance.message());
  }
  wasm::Function* f = (*instance)->exported_function(g.export_name);
  if (f == nullptr) {
    return Error("no exported function " + g.export_name);
  }
  {
    // A fresh execution, as a new process has; destroyed before the instance.
    wasm::Execution exec;
    if (Status s = exec.begin(f, {}); !s) {
      return s.error();
    }
    wasm::RunStatus status = exec.run();
    if (status == wasm::RunStatus::kTrapped && !is_clean_exit(exec.trap())) {
      return Error(g.export_name + " trapped: " + exec.trap().to_string());
    }
    if (status != wasm::RunStatus::kFinished && status != wasm::RunStatus::kTrapped) {
      return Error(g.export_name + " came back " + std::string(wasm::to_string(status)));
    }
  }
  if (keep) {
    return *std::move(instance);
  }
  return std::shared_ptr<wasm::Instance>();
}

struct Rate {
  double per_second = 0;
  long iterations = 0;
};

Result<Rate> measure_rate(Guest& g, double duration, Progress& progress) {
  // Warm-up: first-touch of pooled memory, caches.
  for (int i = 0; i < 1000; ++i) {
    if (auto r = live_once(g, false); !r) {
      return r.error();
    }
  }
  Rate rate;
  double start = now_seconds();
  double last_sample = start;
  long last_iterations = 0;
  double now = start;
  while (now - start < duration) {
    for (int i = 0; i < kBatch; ++i) {
      if (auto r = live_once(g, false); !r) {
        return r.error();
      }
    }
    rate.iterations += kBatch;
    now = now_seconds();
    if (now - last_sample >= 0.25) {
      progress.sample("instantiations/s",
                      static_cast<double>(rate.iterations - last_iterations) / (now - last_sample));
      last_sample = now;
      last_iterations = rate.iterations;
      if (progress.should_stop()) {
        break;
      }
    }
  }
  rate.per_second = static_cast<double>(rate.iterations) / (now - start);
  return rate;
}

struct LiveMemory {
  double footprint_per_instance = 0;
  double rss_per_instance = 0;
};

Result<LiveMemory> measure_live(Guest& g, std::vector<std::shared_ptr<wasm::Instance>>& keep,
                                Progress& progress) {
  size_t rss_before = resident_bytes();
  size_t first = keep.size();
  for (size_t i = 0; i < kLiveInstances; ++i) {
    auto r = live_once(g, true);
    if (!r) {
      return Error("after " + std::to_string(i) + " live instances: " + r.message());
    }
    keep.push_back(*std::move(r));
    if (i % 1024 == 0 && progress.should_stop()) {
      return Error("stopped");
    }
  }
  size_t rss_after = resident_bytes();
  size_t footprint = 0;
  for (size_t i = first; i < keep.size(); ++i) {
    footprint += keep[i]->memory_footprint();
  }
  LiveMemory m;
  m.footprint_per_instance = static_cast<double>(footprint) / kLiveInstances;
  m.rss_per_instance =
      (static_cast<double>(rss_after) - static_cast<double>(rss_before)) / kLiveInstances;
  progress.sample("bytes per live instance", m.rss_per_instance);
  return m;
}

struct V8Figures {
  double per_second = 0;
  std::optional<double> rss_per_instance;
};

Result<V8Figures> measure_v8(const std::string& node, const std::string& runner,
                             const std::string& file, const Guest& g, double duration) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", duration);
  auto j = run_json_command({node, runner, "instantiate", file, "--seconds", seconds, "--export",
                             g.export_name, "--live", std::to_string(kLiveInstances)});
  if (!j) {
    return j.error();
  }
  if (!j->contains("per_second")) {
    return Error("result without per_second: " + j->dump());
  }
  V8Figures v;
  v.per_second = (*j)["per_second"].get<double>();
  if (j->contains("rss_bytes_per_instance")) {
    v.rss_per_instance = (*j)["rss_bytes_per_instance"].get<double>();
  }
  return v;
}

std::string with_commas(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

Report run_instantiate(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "instantiate";
  report.summary =
      "instantiate + call one export + destroy per second on one thread, and memory per live "
      "instance, vs V8 (node)";
  auto dir = input_dir();
  if (!dir) {
    report.notes.push_back("ERROR: " + dir.message());
    return report;
  }
  std::vector<std::unique_ptr<Guest>> guests;
  for (auto [label, file, export_name] :
       {std::tuple{"one-page", "guests/one_page.wasm", "run"},
        std::tuple{"typical C", "guests/typical.wasm", "_start"}}) {
    auto g = std::make_unique<Guest>();
    g->label = label;
    g->file = *dir + "/" + file;
    g->export_name = export_name;
    auto bytes = read_file(g->file);
    if (!bytes) {
      report.notes.push_back("ERROR: " + g->label + ": " + bytes.message());
      continue;
    }
    auto module = wasm::Module::compile(*bytes);
    if (!module) {
      report.notes.push_back("ERROR: " + g->label + ": compile: " + module.message());
      continue;
    }
    g->module = *module;
    auto imports = g->stubs.resolve(*g->module);
    if (!imports) {
      report.notes.push_back("ERROR: " + g->label + ": imports: " + imports.message());
      continue;
    }
    g->imports = *std::move(imports);
    guests.push_back(std::move(g));
  }

  // Memory first, in a process that has not yet created and freed instances.
  std::vector<std::optional<LiveMemory>> live(guests.size());
  {
    std::vector<std::shared_ptr<wasm::Instance>> keep;
    keep.reserve(kLiveInstances * guests.size());
    for (size_t i = 0; i < guests.size(); ++i) {
      if (auto m = measure_live(*guests[i], keep, progress)) {
        live[i] = *m;
      } else {
        report.notes.push_back("ERROR: " + guests[i]->label + " live instances: " + m.message());
      }
    }
  }

  std::optional<std::string> node;
  if (options.baselines) {
    node = node_path();
    if (!node) {
      report.notes.push_back("node not found: no V8 baseline");
    }
  }
  std::vector<std::optional<double>> interpreted(guests.size());
  for (size_t i = 0; i < guests.size(); ++i) {
    Guest& g = *guests[i];
    if (progress.should_stop()) {
      report.notes.push_back("stopped before " + g.label);
      break;
    }
    std::optional<V8Figures> v8;
    if (node) {
      if (auto v = measure_v8(*node, *dir + "/node_runner.mjs", g.file, g, options.duration_s)) {
        v8 = *v;
      } else {
        report.notes.push_back("ERROR: " + g.label + " under V8: " + v.message());
      }
    }
    auto rate = measure_rate(g, options.duration_s, progress);
    if (!rate) {
      report.notes.push_back("ERROR: " + g.label + " under rusm: " + rate.message());
    } else {
      interpreted[i] = rate->per_second;
      Row row;
      row.metric = g.label + ": instantiate+call+destroy";
      row.value = rate->per_second;
      row.unit = "/s";
      row.note = format_seconds(1 / rate->per_second) + " each, calls " + g.export_name;
      if (i == 0) {
        row.note += "; goal > 1,000,000/s";
      }
      if (v8) {
        row.baseline = v8->per_second;
        row.baseline_name = "V8";
      }
      report.rows.push_back(std::move(row));
    }
    if (live[i]) {
      std::string count = with_commas(kLiveInstances) + " live";
      Row footprint;
      footprint.metric = g.label + ": memory per live instance";
      footprint.value = live[i]->footprint_per_instance;
      footprint.unit = "bytes";
      footprint.higher_is_better = false;
      footprint.note = "Instance::memory_footprint(), " + count;
      Row rss;
      rss.metric = g.label + ": RSS per live instance";
      rss.value = live[i]->rss_per_instance;
      rss.unit = "bytes";
      rss.higher_is_better = false;
      rss.note = "process RSS growth, " + count;
      if (v8 && v8->rss_per_instance) {
        footprint.baseline = rss.baseline = *v8->rss_per_instance;
        footprint.baseline_name = rss.baseline_name = "V8 RSS";
      }
      report.rows.push_back(std::move(footprint));
      report.rows.push_back(std::move(rss));
    }
  }
  // The same lives with the modules' machine code (the compiled tier), and
  // with Tier::kAuto as `rusm run` uses it (the cache filled first): its
  // instantiation must cost no more than the interpreter's (issue 14). auto
  // interprets a module not worth compiling (Module::worth_compiling).
  wasm::enable_compiled_tier();
  TempDir cache("rusm-bench-instantiate-");
  for (size_t i = 0; i < guests.size() && !progress.should_stop(); ++i) {
    const Guest& g = *guests[i];
    for (wasm::Tier tier : {wasm::Tier::kCompiled, wasm::Tier::kAuto}) {
      auto c = std::make_unique<Guest>();
      c->label = g.label + (tier == wasm::Tier::kAuto ? " auto" : " compiled");
      c->file = g.file;
      c->export_name = g.export_name;
      auto bytes = read_file(g.file);
      wasm::CompileOptions o;
      o.tier = wasm::Tier::kCompiled;
      o.native_cache_dir = cache.path().empty() ? "off" : cache.path();
      auto module = bytes ? wasm::Module::compile(*bytes, o)  // fills the cache
                          : Result<std::shared_ptr<const wasm::Module>>(bytes.error());
      if (module && tier == wasm::Tier::kAuto) {
        o.tier = tier;
        module = wasm::Module::compile(*bytes, o);
      }
      if (!module) {
        report.notes.push_back("ERROR: " + c->label + ": compile: " + module.message());
        continue;
      }
      c->module = *module;
      auto imports = c->stubs.resolve(*c->module);
      if (!imports) {
        report.notes.push_back("ERROR: " + c->label + ": imports: " + imports.message());
        continue;
      }
      c->imports = *std::move(imports);
      auto rate = measure_rate(*c, options.duration_s, progress);
      if (!rate) {
        report.notes.push_back("ERROR: " + c->label + " under rusm: " + rate.message());
        continue;
      }
      Row row;
      row.metric = c->label + ": instantiate+call+destroy";
      row.value = rate->per_second;
      row.unit = "/s";
      row.note = format_seconds(1 / rate->per_second) + " each, " +
                 wasm::to_string(c->module->tier()) +
                 (tier == wasm::Tier::kAuto ? "; goal: no worse than interpreted" : "");
      if (interpreted[i]) {
        row.baseline = *interpreted[i];
        row.baseline_name = "interpreter";
      }
      report.rows.push_back(std::move(row));
    }
  }
  report.notes.push_back(
      "one thread; each iteration builds a fresh Execution, as a new process "
      "does; V8's figures from node_runner.mjs, same module and stubs");
  return report;
}

Registrar registrar(Scenario{
    "instantiate", "instantiate + call + destroy per second and memory per live instance, vs V8",
    run_instantiate});

}  // namespace
}  // namespace rusm::bench::engine
