// `rusm new NAME [--kind http|cgi|ws|sse|all]`: scaffolds a `rusm serve` app
// in a new directory: rusm.toml, a C handler per route kind, the C SDK
// (rusm.h), build.sh and a README. The templates live in
// src/cli/new_templates/ and are embedded at build time with guest/c/rusm.h
// (embed_files.cmake), so the binary needs no data files and the SDK it
// hands out is the one it was built with.
//
// Templates are plain files with two additions, so that they stay readable:
// `{{name}}` is the app's name, and a line `@if KIND...` up to a line `@end`
// is kept only when one of the KINDs is generated (static: only with all).
// Single-threaded: it runs on the command's thread only.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "commands.h"
#include "new_templates.h"
#include "rusm/result.h"

namespace rusm::cli {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxNameLength = 64;

struct NewArgs {
  std::string dir;
  std::string kind = "all";
};

// Route kinds an app is generated with; static comes with all.
struct Kinds {
  bool http = false;
  bool cgi = false;
  bool ws = false;
  bool sse = false;
  bool statik = false;

  static Kinds from(std::string_view kind) {
    Kinds k;
    bool all = kind == "all";
    k.http = all || kind == "http";
    k.cgi = all || kind == "cgi";
    k.ws = all || kind == "ws";
    k.sse = all || kind == "sse";
    k.statik = all;
    return k;
  }
  bool has(std::string_view kind) const {
    return (kind == "http" && http) || (kind == "cgi" && cgi) || (kind == "ws" && ws) ||
           (kind == "sse" && sse) || (kind == "static" && statik);
  }
  bool abi() const { return http || ws || sse; }  // handlers that include rusm.h
  std::string list() const {
    std::string s;
    for (const char* k : {"http", "cgi", "ws", "sse", "static"}) {
      if (has(k)) {
        s += s.empty() ? "" : ", ";
        s += k;
      }
    }
    return s;
  }
};

// One file of the app: where it goes, which template it comes from, what
// `rusm new` says it is.
struct Output {
  const char* path;
  const char* from;
  const char* what;
  bool executable = false;
  bool verbatim = false;  // copied as is (rusm.h), not rendered
};

[[noreturn]] void fail(const std::string& message, int code) {
  std::fprintf(stderr, "rusm new: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

// The embedded template at `path`; an error only if the template directory
// and the list of outputs below disagree (a build mistake).
Result<std::string_view> template_text(std::string_view path) {
  for (const new_templates::File& f : new_templates::kFiles) {
    if (f.path == path) {
      return f.text;
    }
  }
  return Error("internal error: no template " + std::string(path) + " in this rusm binary");
}

// Applies the two template rules (see the top of this file).
std::string render(std::string_view text, const Kinds& kinds, std::string_view name) {
  std::string out;
  bool keep = true;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol == std::string_view::npos ? text.size() : eol + 1);
    text.remove_prefix(line.size());
    if (line.starts_with("@if ")) {
      keep = false;
      std::string_view rest = line.substr(4);
      while (!rest.empty()) {
        size_t end = rest.find_first_of(" \n");
        std::string_view word = rest.substr(0, end);
        keep = keep || kinds.has(word);
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      }
      continue;
    }
    if (line == "@end\n" || line == "@end") {
      keep = true;
      continue;
    }
    if (!keep) {
      continue;
    }
    for (size_t at = 0;;) {
      size_t mark = line.find("{{name}}", at);
      out.append(line.substr(at, mark == std::string_view::npos ? mark : mark - at));
      if (mark == std::string_view::npos) {
        break;
      }
      out.append(name);
      at = mark + 8;
    }
  }
  return out;
}

// NAME (without trailing slashes) is a path whose last component names the app (it appears in the
// README and the page title, and may become a package name elsewhere).
Result<std::string> app_name(const std::string& dir) {
  std::string name = fs::path(dir).filename().string();
  if (name.empty() || name.size() > kMaxNameLength) {
    return Error("NAME '" + dir + "': the app's name (its last path component) must be 1 to " +
                 std::to_string(kMaxNameLength) + " characters");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) {
      std::string which = name == dir ? "" : " (the app's name, '" + name + "')";
      return Error("NAME '" + dir + "'" + which +
                   ": must start with a letter or digit and contain only letters, digits, '-' "
                   "and '_'");
    }
  }
  return name;
}

// Writes a new file (never replacing one): `path` must not exist.
Status write_new_file(const fs::path& path, std::string_view text, bool executable) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, executable ? 0755 : 0644);
  if (fd < 0) {
    return Error(path.string() + ": " + std::strerror(errno));
  }
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::close(fd);
      return Error(path.string() + ": " + std::strerror(e));
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) {
    return Error(path.string() + ": " + std::strerror(errno));
  }
  return Status::ok();
}

// How to run this rusm from the app's directory: "rusm" when PATH finds this
// very binary, else its absolute path.
std::string rusm_command() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return "rusm";
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string_view dir = rest.substr(0, colon);
      rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon + 1);
      if (dir.empty()) {
        continue;
      }
      fs::path candidate = fs::path(dir) / "rusm";
      std::error_code ec2;
      if (fs::exists(candidate, ec2) && fs::equivalent(candidate, self, ec2)) {
        return "rusm";
      }
    }
  }
  return self.string();
}

// A word for a shell command line: quoted unless plainly safe.
std::string shell_word(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/._-+:@", c));
  }
  if (plain) {
    return s;
  }
  std::string q = "'";
  for (char c : s) {
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return q + "'";
}

void make_app(NewArgs a) {
  while (a.dir.size() > 1 && a.dir.back() == '/') {
    a.dir.pop_back();
  }
  Result<std::string> name = app_name(a.dir);
  if (!name) {
    fail(name.error().message(), 2);
  }
  Kinds kinds = Kinds::from(a.kind);
  fs::path dir = a.dir;

  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  bool existed = fs::exists(st);
  if (existed && !fs::is_directory(st)) {
    fail(a.dir + " exists and is not a directory", 1);
  }
  if (existed && !fs::is_empty(dir, ec)) {
    fail(ec ? a.dir + ": " + ec.message()
            : a.dir + " already exists and is not empty; choose another NAME (nothing was written)",
         1);
  }

  std::vector<Output> outputs = {
      {"rusm.toml", "rusm.toml", "the app: listens on 127.0.0.1:8080, one [[route]] per handler"}};
  if (kinds.http) {
    outputs.push_back(
        {"http.c", "http.c", "/hello/{name}: http handler (rusm ABI), a process per request"});
  }
  if (kinds.cgi) {
    outputs.push_back({"cgi.c", "cgi.c", "/cgi: CGI handler, a plain WASI command (main)"});
  }
  if (kinds.ws) {
    outputs.push_back({"ws.c", "ws.c", "/ws: WebSocket echo, a process per connection"});
  }
  if (kinds.sse) {
    outputs.push_back({"sse.c", "sse.c", "/events: Server-Sent Events ticker (?n=5: five ticks)"});
  }
  if (kinds.statik) {
    outputs.push_back(
        {"public/index.html", "public/index.html", "/: static page that talks to /ws and /events"});
  }
  if (kinds.abi()) {
    outputs.push_back(
        {"rusm.h", "rusm.h", "the rusm C SDK (ABI v3) the handlers include", false, true});
  }
  outputs.push_back({"build.sh", "build.sh", "builds each .c into its .wasm (clang-19)", true});
  outputs.push_back({"README.md", "README.md", "how to build, serve and try it"});
  outputs.push_back({".gitignore", "gitignore", "ignores the built *.wasm"});

  std::vector<std::string> texts;
  for (const Output& o : outputs) {
    Result<std::string_view> t = template_text(o.from);
    if (!t) {
      fail(t.error().message(), 1);
    }
    texts.push_back(o.verbatim ? std::string(*t) : render(*t, kinds, *name));
  }

  // Everything this call made, to take back if a later write fails.
  std::vector<fs::path> made;
  auto undo_and_fail = [&](const std::string& message) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      std::error_code ignored;
      fs::remove(*it, ignored);
    }
    fail(message + " (nothing was left behind)", 1);
  };
  auto make_dir = [&](const fs::path& d) {
    std::vector<fs::path> missing;
    for (fs::path p = d; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) {
        break;
      }
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (fs::create_directory(*it, ec)) {
        made.push_back(*it);
      } else if (ec) {
        undo_and_fail(it->string() + ": " + ec.message());
      }
    }
  };
  make_dir(dir);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Output& o = outputs[i];
    fs::path path = dir / o.path;
    make_dir(path.parent_path());
    if (Status s = write_new_file(path, texts[i], o.executable); !s) {
      undo_and_fail(s.message());
    }
    made.push_back(path);
  }

  std::printf("rusm new: made %s/ (%s)\n", a.dir.c_str(), kinds.list().c_str());
  for (const Output& o : outputs) {
    std::printf("  %-18s %s\n", o.path, o.what);
  }
  std::printf("\nNext:\n  cd %s && ./build.sh\n  %s serve\n", shell_word(a.dir).c_str(),
              shell_word(rusm_command()).c_str());
  if (kinds.statik) {
    std::printf("then open http://127.0.0.1:8080/\n");
  }
}

void setup(CLI::App& app) {
  auto a = std::make_shared<NewArgs>();
  CLI::App* cmd = app.add_subcommand(
      "new",
      "Make a new `rusm serve` app in directory NAME: rusm.toml, a C handler per route kind, "
      "the C SDK (rusm.h), build.sh (clang-19 --target=wasm32-wasi) and a README.\n"
      "Exit status 1: NAME exists and is not an empty directory, or a file could not be "
      "written (nothing is left behind). Exit status 2: a bad NAME or option.");
  cmd->add_option("NAME", a->dir,
                  "Directory to create; its last component is the app's name (letters, digits, "
                  "'-', '_')")
      ->required();
  cmd->add_option("--kind", a->kind,
                  "Handlers to generate: http (rusm ABI, a process per request), cgi (a WASI "
                  "command), ws (WebSocket echo, a process per connection), sse (an event "
                  "stream), or all: one of each plus a static page that uses ws and sse")
      ->check(CLI::IsMember({"http", "cgi", "ws", "sse", "all"}))
      ->default_str("all");
  cmd->footer(
      "Example:\n"
      "  rusm new hello && cd hello && ./build.sh && rusm serve\n"
      "  curl http://127.0.0.1:8080/hello/ada");
  cmd->callback([a] { make_app(*a); });
}

CommandRegistrar registrar(setup);

}  // namespace
}  // namespace rusm::cli
