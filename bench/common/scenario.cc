#include "common/scenario.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

namespace rusm::bench {
namespace {

std::map<std::string, std::unique_ptr<Scenario>, std::less<>>& registry() {
  static std::map<std::string, std::unique_ptr<Scenario>, std::less<>> r;
  return r;
}

std::string format_number(double v) {
  char buf[64];
  double a = std::fabs(v);
  if (a != 0 && (a >= 1e7 || a < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else if (a >= 1000) {
    // Thousands separators make throughput figures readable at a glance.
    std::snprintf(buf, sizeof buf, "%.0f", v);
    std::string digits = buf;
    std::string out;
    size_t start = digits[0] == '-' ? 1 : 0;
    for (size_t i = start; i < digits.size(); ++i) {
      if (i > start && (digits.size() - i) % 3 == 0) {
        out += ',';
      }
      out += digits[i];
    }
    return (start ? "-" : "") + out;
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

std::optional<double> ratio(const Row& row) {
  if (!row.baseline || *row.baseline == 0) {
    return std::nullopt;
  }
  return row.value / *row.baseline;
}

std::map<std::string, HelperMain, std::less<>>& helpers() {
  static std::map<std::string, HelperMain, std::less<>> h;
  return h;
}

}  // namespace

void register_helper(std::string name, HelperMain main) {
  helpers()[std::move(name)] = main;
}

HelperMain find_helper(std::string_view name) {
  auto it = helpers().find(name);
  return it == helpers().end() ? nullptr : it->second;
}

void register_scenario(Scenario scenario) {
  std::string name = scenario.name;
  registry()[name] = std::make_unique<Scenario>(std::move(scenario));
}

std::vector<const Scenario*> scenarios() {
  std::vector<const Scenario*> out;
  for (auto& [name, s] : registry()) {
    out.push_back(s.get());
  }
  return out;
}

const Scenario* find_scenario(std::string_view name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.get();
}

std::string format_table(const Report& report) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"metric", "rusm", "unit", "baseline", "ours/baseline", "note"});
  for (const Row& row : report.rows) {
    std::string base = row.baseline ? format_number(*row.baseline) + " (" + row.baseline_name + ")"
                                    : std::string("-");
    std::string r = "-";
    if (auto q = ratio(row)) {
      char buf[32];
      // Two significant digits below 0.01 (a JS spawn is ~0.001x a C one),
      // where "%.2f" would print 0.00.
      std::snprintf(buf, sizeof buf, *q != 0 && *q < 0.01 ? "%.2gx" : "%.2fx", *q);
      r = buf;
      r += row.higher_is_better ? (*q >= 1 ? " better" : " worse")
                                : (*q <= 1 ? " better" : " worse");
    }
    cells.push_back({row.metric, format_number(row.value), row.unit, base, r, row.note});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) {
      width[i] = std::max(width[i], line[i].size());
    }
  }
  std::string out = report.scenario + ": " + report.summary + "\n";
  for (size_t l = 0; l < cells.size(); ++l) {
    std::string line;
    for (size_t i = 0; i < cells[l].size(); ++i) {
      std::string cell = cells[l][i];
      bool numeric = i == 1;
      std::string pad(width[i] - cell.size(), ' ');
      line += numeric ? pad + cell : cell + pad;
      line += i + 1 < cells[l].size() ? "  " : "";
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
    if (l == 0) {
      size_t total = 0;
      for (size_t w : width) {
        total += w + 2;
      }
      out += std::string(total - 2, '-') + "\n";
    }
  }
  for (const std::string& note : report.notes) {
    out += "note: " + note + "\n";
  }
  return out;
}

std::string format_json(const Report& report) {
  nlohmann::json j;
  j["scenario"] = report.scenario;
  j["summary"] = report.summary;
  j["rows"] = nlohmann::json::array();
  for (const Row& row : report.rows) {
    nlohmann::json r;
    r["metric"] = row.metric;
    r["value"] = row.value;
    r["unit"] = row.unit;
    r["higher_is_better"] = row.higher_is_better;
    if (row.baseline) {
      r["baseline"] = *row.baseline;
      r["baseline_name"] = row.baseline_name;
      if (auto q = ratio(row)) {
        r["ratio"] = *q;
      }
    }
    if (!row.note.empty()) {
      r["note"] = row.note;
    }
    j["rows"].push_back(std::move(r));
  }
  j["notes"] = report.notes;
  return j.dump(2);
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) != nullptr) {
    path_ = tmpl;
  }
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

}  // namespace rusm::bench
