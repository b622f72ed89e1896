#include "input.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace rusm::cli {

namespace {

// Splits "1.5G" into its number (decimal digits with an optional fraction:
// no sign, exponent, nan or inf) and its unit; nullopt if there is no number.
struct SizeText {
  double value;
  std::string unit;
};
std::optional<SizeText> scan_size(const std::string& text) {
  size_t digits = 0;
  bool dot = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits == 0 || digits > 18) {
    return std::nullopt;
  }
  return SizeText{std::strtod(text.substr(0, i).c_str(), nullptr), text.substr(i)};
}

// K, M, G (powers of 1024) or nothing (bytes); 0 for anything else.
double unit_scale(const std::string& unit) {
  if (unit.empty()) {
    return 1;
  }
  if (unit == "K" || unit == "k") {
    return 1024;
  }
  if (unit == "M" || unit == "m") {
    return 1024.0 * 1024;
  }
  if (unit == "G" || unit == "g") {
    return 1024.0 * 1024 * 1024;
  }
  return 0;
}

}  // namespace

Result<uint64_t> parse_memory_pages(const std::string& text) {
  auto bad = [&](const std::string& why) { return Error("--max-memory '" + text + "': " + why); };
  std::optional<SizeText> size = scan_size(text);
  if (!size) {
    return bad("expected a size like 64M, 1G, 512K or 16p (pages)");
  }
  double pages;
  if (size->unit == "p" || size->unit == "P") {
    if (size->value != std::floor(size->value)) {
      return bad("a number of pages must be whole");
    }
    pages = size->value;
  } else {
    double scale = unit_scale(size->unit);
    if (scale == 0) {
      return bad("unknown unit '" + size->unit + "' (K, M, G, or p for 64 KiB pages)");
    }
    pages = std::floor(size->value * scale / 65536);
  }
  if (!(pages >= 1)) {
    return bad("less than one 64 KiB page");
  }
  if (pages > static_cast<double>(kMaxPages)) {
    return bad("more than 4 GiB (65536 pages), the most a 32-bit memory can have");
  }
  return static_cast<uint64_t>(pages);
}

Result<uint64_t> parse_byte_size(const std::string& flag, const std::string& text) {
  auto bad = [&](const std::string& why) { return Error(flag + " '" + text + "': " + why); };
  std::optional<SizeText> size = scan_size(text);
  if (!size) {
    return bad("expected a size like 64M, 1G or 512K");
  }
  double scale = unit_scale(size->unit);
  if (scale == 0) {
    return bad("unknown unit '" + size->unit + "' (K, M or G)");
  }
  double bytes = std::floor(size->value * scale);
  if (!(bytes >= 1)) {
    return bad("less than one byte");
  }
  if (bytes > static_cast<double>(kMaxByteSize)) {
    return bad("more than 1 PiB");
  }
  return static_cast<uint64_t>(bytes);
}

Result<DirSpec> parse_dir(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error("--dir '" + text + "': " + why + " (expected host[:guest][:ro|:rw])");
  };
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  DirSpec d;
  if (parts.size() > 3) {
    return bad("too many ':'");
  }
  if (parts.size() >= 2 && (parts.back() == "ro" || parts.back() == "rw")) {
    d.read_only = parts.back() == "ro";
    parts.pop_back();
  } else if (parts.size() == 3) {
    return bad("unknown mode '" + parts.back() + "'");
  }
  d.host = parts[0];
  d.guest = parts.size() == 2 ? parts[1] : d.host;
  if (d.host.empty()) {
    return bad("empty host directory");
  }
  if (d.guest.empty()) {
    return bad("empty guest path");
  }
  return d;
}

CLI::Validator finite_range(double lo, double hi) {
  char desc[96];
  std::snprintf(desc, sizeof desc, "NUMBER in [%g, %g]", lo, hi);
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end == s.c_str() || *end != '\0' || !std::isfinite(v) || v < lo ||
            v > hi) {
          char buf[128];
          std::snprintf(buf, sizeof buf, "'%.40s' is not a number in [%g, %g]", s.c_str(), lo, hi);
          return buf;
        }
        return std::string();
      },
      desc);
}

}  // namespace rusm::cli
