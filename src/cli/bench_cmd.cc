// `rusm bench <scenario> [--duration S] [--threads N] [--json]`: runs one
// benchmark scenario headless and prints its table (see bench/common/scenario.h).
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "common/scenario.h"
#include "input.h"

namespace rusm::cli {
namespace {

struct BenchArgs {
  std::string scenario;
  double duration = 3.0;
  unsigned threads = 0;
  bool json = false;
  bool no_baselines = false;
  bool list = false;
};

void setup_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  std::string names;
  for (const bench::Scenario* s : bench::scenarios()) {
    names += "\n  " + s->name + ": " + s->summary;
  }
  CLI::App* cmd = app.add_subcommand("bench", "Run a benchmark scenario and print its table." +
                                                  (names.empty() ? "" : "\nScenarios:" + names));
  cmd->add_option("scenario", args->scenario, "Scenario to run (see --list)");
  cmd->add_option("--duration", args->duration, "Seconds per measured phase")
      ->check(finite_range(0.05, 3600.0));
  cmd->add_option("--threads", args->threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0u, kMaxThreads));
  cmd->add_flag("--json", args->json, "Print the report as JSON");
  cmd->add_flag("--no-baselines", args->no_baselines, "Skip baselines (BEAM, native, node)");
  cmd->add_flag("--list", args->list, "List the scenarios");
  cmd->callback([args] {
    if (args->list || args->scenario.empty()) {
      int width = 0;
      for (const bench::Scenario* s : bench::scenarios()) {
        width = std::max(width, static_cast<int>(s->name.size()));
      }
      for (const bench::Scenario* s : bench::scenarios()) {
        std::printf("%-*s  %s\n", width, s->name.c_str(), s->summary.c_str());
      }
      if (!args->list) {
        throw CLI::RuntimeError(2);
      }
      return;
    }
    const bench::Scenario* s = bench::find_scenario(args->scenario);
    if (s == nullptr) {
      std::fprintf(stderr, "rusm bench: unknown scenario '%s' (rusm bench --list shows them)\n",
                   args->scenario.c_str());
      throw CLI::RuntimeError(2);
    }
    bench::Options options;
    options.duration_s = args->duration;
    options.threads = args->threads;
    options.baselines = !args->no_baselines;
    bench::Progress progress;
    bench::Report report = s->run(options, progress);
    std::string out = args->json ? bench::format_json(report) + "\n" : bench::format_table(report);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

// `rusm bench-helper NAME ARGS...`: hidden; what a scenario starts as a
// process of its own (see bench::register_helper).
void setup_bench_helper(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  auto rest = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("bench-helper", "A benchmark's helper process (internal)");
  cmd->group("");
  cmd->add_option("name", *name)->required();
  cmd->add_option("args", *rest);
  cmd->callback([name, rest] {
    bench::HelperMain main = bench::find_helper(*name);
    if (main == nullptr) {
      std::fprintf(stderr, "rusm bench-helper: unknown helper '%s'\n", name->c_str());
      throw CLI::RuntimeError(2);
    }
    int rc = main(*rest);
    if (rc != 0) {
      throw CLI::RuntimeError(rc);
    }
  });
}

CommandRegistrar registrar(setup_bench);
CommandRegistrar helper_registrar(setup_bench_helper);

}  // namespace
}  // namespace rusm::cli
