// `rusm run app.ts`: esbuild compiles the app ahead of time; see typescript.h
// and docs/js.md ("TypeScript").
//
// The cache, $XDG_CACHE_HOME/rusm/ts (else ~/.cache/rusm/ts), holds:
//   entries/<sha256 of the flags and the entry's absolute path>.json
//       what the last compile of that entry read: esbuild's version, the
//       esbuild binary it ran (path, size, mtime) and every input file
//       (esbuild's --metafile), as absolute paths;
//   <key>.js, <key>.js.map
//       a bundle and its source map, where key is the SHA-256 of the flags,
//       esbuild's version and each input's path and bytes.
// A run reads the entry's record, hashes the files it names and uses
// <key>.js if it is there: an edit of any input (or a new esbuild binary)
// misses, and esbuild runs again. Every file is written under a temporary
// name in the cache directory and renamed into place, so concurrent runs
// never see half a file.
#include "typescript.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "rusm/runtime/module_file.h"

extern char** environ;

namespace rusm::cli {
namespace {

namespace fs = std::filesystem;

// The flags every compile uses; part of every cache key. `rusm` stays an
// import (the runtime provides it); the target is what QuickJS 2021-03-27
// runs (ES2020 without BigInt).
const std::vector<std::string>& esbuild_flags() {
  static const std::vector<std::string> flags = {
      "--bundle",        "--format=esm",         "--platform=neutral",      "--target=es2020",
      "--external:rusm", "--sourcemap=external", "--sources-content=false", "--log-level=warning"};
  return flags;
}

// Bundles larger than this are refused (as `rusm run` refuses larger scripts).
constexpr uint64_t kMaxBundleBytes = 16u << 20;

std::string hex_sha256(const std::string& data) {
  std::string raw = runtime::module_sha256(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) {
    return std::nullopt;
  }
  return std::move(s).str();
}

bool is_executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

struct Esbuild {
  std::string path;
  std::string stamp;  // its real path, size and mtime: a new binary misses the cache
};

std::string stamp_of(const std::string& path) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  struct stat st {};
  if (ec || ::stat(real.c_str(), &st) != 0) {
    return path;
  }
  return real.string() + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

// RUSM_ESBUILD (when set, the only one tried), then scripts/bootstrap.sh's
// install, then `esbuild` on PATH.
Result<Esbuild> find_esbuild() {
  const std::string hint =
      "TypeScript needs esbuild: run scripts/bootstrap.sh (it installs it into "
      "/opt/rusm/toolchains/esbuild), or put esbuild on PATH, or set RUSM_ESBUILD";
  if (const char* env = std::getenv("RUSM_ESBUILD"); env != nullptr && *env != '\0') {
    if (!is_executable_file(env)) {
      return Error(std::string("RUSM_ESBUILD=") + env + " is not an executable file. " + hint, 2);
    }
    return Esbuild{env, stamp_of(env)};
  }
  const std::string bootstrapped = "/opt/rusm/toolchains/esbuild/node_modules/.bin/esbuild";
  if (is_executable_file(bootstrapped)) {
    return Esbuild{bootstrapped, stamp_of(bootstrapped)};
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (true) {
      size_t colon = rest.find(':');
      std::string dir(rest.substr(0, colon));
      fs::path candidate = fs::path(dir.empty() ? "." : dir) / "esbuild";
      if (is_executable_file(candidate)) {
        return Esbuild{candidate.string(), stamp_of(candidate.string())};
      }
      if (colon == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(colon + 1);
    }
  }
  return Error("esbuild not found. " + hint, 2);
}

// Runs argv[0] with stdin closed off, stdout into `out_file` (if given) and
// stderr inherited, so esbuild's own messages reach the user. Its exit
// status, or -1 if it could not be started.
int run_program(const std::vector<std::string>& argv, const std::string& out_file) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!out_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  pid_t pid = 0;
  int err = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

Result<fs::path> cache_dir() {
  fs::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    base = fs::path(home) / ".cache";
  } else {
    return Error("no cache directory for compiled TypeScript: set XDG_CACHE_HOME or HOME", 2);
  }
  fs::path dir = base / "rusm" / "ts";
  std::error_code ec;
  fs::create_directories(dir / "entries", ec);
  if (ec) {
    return Error("the TypeScript cache " + dir.string() + ": " + ec.message(), 2);
  }
  return dir;
}

// The key of a bundle: the flags, esbuild's version and every input (sorted
// path, size, bytes). nullopt if an input cannot be read.
std::optional<std::string> bundle_key(const std::string& version, std::vector<std::string> inputs) {
  std::sort(inputs.begin(), inputs.end());
  std::string all = "rusm-ts 1\n";
  for (const std::string& f : esbuild_flags()) {
    all += f + "\n";
  }
  all += "esbuild " + version + "\n";
  for (const std::string& path : inputs) {
    std::optional<std::string> bytes = read_file(path);
    if (!bytes) {
      return std::nullopt;
    }
    all += path + "\n" + std::to_string(bytes->size()) + "\n" + *bytes + "\n";
  }
  return hex_sha256(all);
}

// Writes `data` to `path` through a temporary file in the same directory.
bool write_atomically(const fs::path& path, const std::string& data) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out.good()) {
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return false;
  }
  return true;
}

// The key of the cached bundle of `entry_record`'s inputs, if there is one
// and nothing changed since.
std::optional<std::string> lookup(const fs::path& dir, const fs::path& entry_record,
                                  const std::optional<Esbuild>& esbuild) {
  std::optional<std::string> text = read_file(entry_record);
  if (!text) {
    return std::nullopt;
  }
  nlohmann::json record = nlohmann::json::parse(*text, nullptr, false);
  if (record.is_discarded() || !record.is_object() || !record["version"].is_string() ||
      !record["esbuild"].is_string() || !record["inputs"].is_array()) {
    return std::nullopt;
  }
  // Another esbuild binary than the one that compiled it: compile again. No
  // esbuild at all: the bundle it made is still good.
  if (esbuild && esbuild->stamp != record["esbuild"].get<std::string>()) {
    return std::nullopt;
  }
  std::vector<std::string> inputs;
  for (const auto& i : record["inputs"]) {
    if (!i.is_string()) {
      return std::nullopt;
    }
    inputs.push_back(i.get<std::string>());
  }
  std::optional<std::string> key = bundle_key(record["version"].get<std::string>(), inputs);
  if (!key) {
    return std::nullopt;
  }
  std::error_code ec;
  if (!fs::is_regular_file(dir / (*key + ".js"), ec)) {
    return std::nullopt;
  }
  return key;
}

// The first mapping of each generated line of a source map (version 3,
// esbuild's): `sources` are relative to the map's directory, `map_dir`.
// The entry is named `entry` as the user wrote it, other files relative to
// the working directory when they are under it.
std::vector<std::pair<std::string, uint32_t>> line_origins(const std::string& map_text,
                                                           const fs::path& map_dir,
                                                           const std::string& entry,
                                                           const std::string& abs_entry) {
  std::vector<std::pair<std::string, uint32_t>> origin;
  nlohmann::json map = nlohmann::json::parse(map_text, nullptr, false);
  if (map.is_discarded() || !map.is_object() || !map["sources"].is_array() ||
      !map["mappings"].is_string()) {
    return origin;
  }
  std::vector<std::string> sources;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  for (const auto& src : map["sources"]) {
    std::string name = src.is_string() ? src.get<std::string>() : "";
    fs::path abs = (map_dir / name).lexically_normal();
    if (abs.string() == abs_entry) {
      name = entry;
    } else if (fs::path rel = abs.lexically_relative(cwd);
               !ec && !rel.empty() && !rel.string().starts_with("..")) {
      name = rel.string();
    } else {
      name = abs.string();
    }
    sources.push_back(name);
  }
  // Base64 VLQ: 5 bits a digit, continuation bit 32, sign in the lowest bit.
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  const std::string mappings = map["mappings"].get<std::string>();
  int64_t source = 0, line = 0;  // the columns are not needed
  bool line_done = false;
  origin.emplace_back();
  for (size_t i = 0; i < mappings.size();) {
    char c = mappings[i];
    if (c == ';') {
      origin.emplace_back();
      line_done = false;
      ++i;
      continue;
    }
    if (c == ',') {
      ++i;
      continue;
    }
    int64_t fields[5] = {0, 0, 0, 0, 0};
    int n = 0;
    while (i < mappings.size() && mappings[i] != ',' && mappings[i] != ';') {
      int64_t value = 0;
      int shift = 0;
      int d = 0;
      do {
        d = i < mappings.size() ? digit(mappings[i++]) : -1;
        if (d < 0 || shift > 60) {
          return {};
        }
        value |= static_cast<int64_t>(d & 31) << shift;
        shift += 5;
      } while ((d & 32) != 0);
      if (n < 5) {
        fields[n++] = (value & 1) != 0 ? -(value >> 1) : (value >> 1);
      }
    }
    if (n >= 4) {
      source += fields[1];
      line += fields[2];
      if (!line_done && source >= 0 && static_cast<size_t>(source) < sources.size() && line >= 0) {
        origin.back() = {sources[static_cast<size_t>(source)], static_cast<uint32_t>(line + 1)};
        line_done = true;
      }
    }
  }
  return origin;
}

}  // namespace

std::string TsBundle::map_error(const std::string& text, const std::string& name) const {
  const std::string prefix = name + ":";
  if (!text.starts_with(prefix)) {
    return text;
  }
  size_t end = prefix.size();
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
    ++end;
  }
  if (end == prefix.size() || end - prefix.size() > 9 || end >= text.size() || text[end] != ':') {
    return text;
  }
  size_t line = std::stoul(text.substr(prefix.size(), end - prefix.size()));
  if (line == 0 || line > origin.size() || origin[line - 1].first.empty()) {
    return text;
  }
  const auto& [file, source_line] = origin[line - 1];
  return file + ":" + std::to_string(source_line) + text.substr(end);
}

bool is_typescript(const std::string& path) {
  return path.ends_with(".ts") || path.ends_with(".mts");
}

Result<TsBundle> compile_typescript(const std::string& entry) {
  std::error_code ec;
  if (!fs::is_regular_file(entry, ec)) {
    return Error(entry + ": no such file", 2);
  }
  Result<fs::path> dir = cache_dir();
  if (!dir) {
    return dir.error();
  }
  const std::string abs_entry = fs::absolute(entry).lexically_normal().string();
  std::string entry_id = "rusm-ts 1\n";
  for (const std::string& f : esbuild_flags()) {
    entry_id += f + "\n";
  }
  const fs::path entry_record = *dir / "entries" / (hex_sha256(entry_id + abs_entry) + ".json");

  Result<Esbuild> found = find_esbuild();
  std::optional<Esbuild> esbuild;
  if (found) {
    esbuild = *found;
  }
  // The maps' sources are relative to the directory esbuild wrote into,
  // one level under the cache directory.
  const fs::path map_dir = *dir / "tmp";
  if (std::optional<std::string> key = lookup(*dir, entry_record, esbuild)) {
    if (std::optional<std::string> js = read_file(*dir / (*key + ".js"))) {
      TsBundle b{std::move(*js), {}};
      if (std::optional<std::string> map = read_file(*dir / (*key + ".js.map"))) {
        b.origin = line_origins(*map, map_dir, entry, abs_entry);
      }
      return b;
    }
  }
  if (!found) {
    return Error(entry + ": " + found.message(), 2);
  }

  // A private directory in the cache for this compile's files.
  std::string tmpl = (*dir / "tmp-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error("the TypeScript cache " + dir->string() + ": cannot create a directory", 2);
  }
  const fs::path tmp = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(p, ignored);
    }
  } cleanup{tmp};

  const std::string version_file = (tmp / "version").string();
  if (run_program({esbuild->path, "--version"}, version_file) != 0) {
    return Error(entry + ": " + esbuild->path + " --version failed: is it esbuild?", 2);
  }
  std::string version = read_file(version_file).value_or("");
  while (!version.empty() && (version.back() == '\n' || version.back() == '\r')) {
    version.pop_back();
  }

  const fs::path out = tmp / "out.js";
  const fs::path meta = tmp / "meta.json";
  std::vector<std::string> argv = {esbuild->path, entry};
  argv.insert(argv.end(), esbuild_flags().begin(), esbuild_flags().end());
  argv.push_back("--outfile=" + out.string());
  argv.push_back("--metafile=" + meta.string());
  int status = run_program(argv, "");
  if (status < 0) {
    return Error(entry + ": could not run " + esbuild->path, 2);
  }
  if (status != 0) {
    return Error(entry + ": esbuild could not compile it (its messages are above)", 2);
  }
  std::optional<std::string> js = read_file(out);
  if (!js) {
    return Error(entry + ": esbuild wrote no output", 2);
  }
  if (js->size() > kMaxBundleBytes) {
    return Error(entry + ": the compiled bundle is over 16 MiB", 2);
  }
  const fs::path map_file = tmp / "out.js.map";
  TsBundle bundle{std::move(*js), {}};
  if (std::optional<std::string> map = read_file(map_file)) {
    bundle.origin = line_origins(*map, map_dir, entry, abs_entry);
  }

  // Cache it under the hash of every input esbuild read (its metafile's
  // "inputs", paths relative to the working directory, which it shares).
  std::optional<std::string> metatext = read_file(meta);
  nlohmann::json metajson =
      metatext ? nlohmann::json::parse(*metatext, nullptr, false) : nlohmann::json();
  if (metajson.is_discarded() || !metajson.is_object() || !metajson["inputs"].is_object()) {
    return bundle;  // Runs, uncached.
  }
  std::vector<std::string> inputs;
  for (const auto& [name, _] : metajson["inputs"].items()) {
    fs::path p = fs::absolute(name, ec).lexically_normal();
    if (ec || !fs::is_regular_file(p, ec)) {
      return bundle;  // An input that is not a file: not cacheable.
    }
    inputs.push_back(p.string());
  }
  std::optional<std::string> key = bundle_key(version, inputs);
  if (!key) {
    return bundle;
  }
  // Renames within one directory tree: atomic. The map first, so that a
  // bundle found in the cache has its map.
  fs::rename(map_file, *dir / (*key + ".js.map"), ec);
  fs::rename(out, *dir / (*key + ".js"), ec);
  if (!ec) {
    nlohmann::json record = {{"version", version},
                             {"esbuild", esbuild->stamp},
                             {"entry", abs_entry},
                             {"inputs", inputs}};
    write_atomically(entry_record, record.dump(2) + "\n");
  }
  return bundle;
}

}  // namespace rusm::cli
