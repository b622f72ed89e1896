#include "otp/beam.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rusm::bench::otp {
namespace {

namespace fs = std::filesystem;

std::string anchors_dir() {
  if (const char* env = std::getenv("RUSM_BEAM_ANCHORS")) {
    return env;
  }
  return std::string(RUSM_SOURCE_DIR) + "/../shared/anchors/beam";
}

bool on_path(const char* tool) {
  std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    return out;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) {
    out.append(buf.data(), n);
  }
  pclose(f);
  return out;
}

}  // namespace

BeamOutput run_beam(const Options& options, const std::string& calls,
                    const std::string& extra_module, const std::string& extra_source) {
  BeamOutput r;
  if (!options.baselines) {
    r.note = "baselines off: no BEAM figures";
    return r;
  }
  if (!on_path("erl") || !on_path("erlc")) {
    r.note = "erl not installed: no BEAM baseline";
    return r;
  }
  fs::path dir = anchors_dir();
  if (!fs::exists(dir / "bench.escript") || !fs::exists(dir / "rsup.erl")) {
    r.note = "BEAM anchors not found in " + dir.string() + " (set RUSM_BEAM_ANCHORS)";
    return r;
  }
  char tmpl[] = "/tmp/rusm-beam-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    r.note = "cannot create a temporary directory for the BEAM anchors";
    return r;
  }
  fs::path tmp = tmpl;
  // The escript as a module: drop its two header lines, name it, export all.
  {
    std::ifstream in(dir / "bench.escript");
    std::ofstream out(tmp / "rusm_beam_anchor.erl");
    out << "-module(rusm_beam_anchor).\n-compile([export_all, nowarn_export_all]).\n";
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("#!", 0) == 0 || line.rfind("%%!", 0) == 0) {
        out << "\n";
        continue;
      }
      out << line << "\n";
    }
  }
  std::string compile = "erlc -o " + tmp.string() + " " + (tmp / "rusm_beam_anchor.erl").string() +
                        " " + (dir / "rsup.erl").string();
  if (!extra_module.empty()) {
    fs::path extra = tmp / (extra_module + ".erl");
    std::ofstream(extra) << extra_source;
    compile += " " + extra.string();
  }
  compile += " 2>&1";
  std::string cout = capture(compile);
  if (!fs::exists(tmp / "rusm_beam_anchor.beam") ||
      (!extra_module.empty() && !fs::exists(tmp / (extra_module + ".beam")))) {
    r.note = "compiling the BEAM anchors failed: " + cout;
    fs::remove_all(tmp);
    return r;
  }
  std::string sched = options.threads != 0 ? " +S " + std::to_string(options.threads) : "";
  std::string cmd = "erl -noshell +P 2000000" + sched + " -pa " + tmp.string() +
                    " -eval 'logger:set_primary_config(level, none), " + calls + ", halt().' 2>&1";
  r.text = capture(cmd);
  r.ran = true;
  fs::remove_all(tmp);
  return r;
}

std::optional<double> number_after(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const char* p = text.c_str() + at + prefix.size();
  while (*p != '\0' && !(*p >= '0' && *p <= '9') && *p != '-' && *p != '\n') {
    ++p;
  }
  char* end = nullptr;
  double v = std::strtod(p, &end);
  if (end == p) {
    return std::nullopt;
  }
  return v;
}

}  // namespace rusm::bench::otp
