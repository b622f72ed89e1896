// `rusm run app.wasm [flags] -- args...`: runs a module's _start as the main
// process of a fresh node and exits with its exit code. See docs/runtime.md.
// `rusm run app.js`: the same for a JavaScript app (docs/js.md): the main
// process runs the embedded rusm-js.wasm, which gets the script from the
// first message it receives. `rusm run app.ts`: esbuild compiles it into
// one JS module first (typescript.cc), then it runs as a JS app.
// The main process gets the terminal's stdio unless --no-stdio (its children
// do not inherit it); a capability refused to the guest is named once on
// stderr, with the flag that grants it.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "input.h"
#include "js_runtime.h"
#include "rusm/runtime/runtime.h"
#include "rusm/serve/js.h"
#include "tier.h"
#include "typescript.h"

extern char** environ;

namespace rusm::cli {
namespace {

using namespace rusm::runtime;

struct RunArgs {
  std::string module;
  std::vector<std::string> args;
  bool keep_alive = false;
  std::vector<std::string> dirs;
  std::vector<std::string> envs;
  bool inherit_env = false;
  bool stdio = false;  // --stdio: accepted, does nothing (stdio is the default)
  bool no_stdio = false;
  std::string max_memory;
  std::string profile = "sandboxed";
  std::vector<std::string> allow, deny;
  std::string entry = "_start";
  unsigned workers = 0;
  std::string max_mailbox;
  std::string max_node_memory;
  uint32_t max_processes = 0;
  std::string kv = ".rusm/kv.db";
  std::vector<std::string> allow_net;
  std::string fetch_ca;
  uint32_t fetch_timeout_ms = 0;
  std::string fetch_max_response;
  std::string tier = default_tier();
};

// The flag of `rusm run` that grants `cap`.
std::string grant_flag(uint32_t cap) {
  switch (cap) {
    case kCapEnv:
      return "--env NAME[=VALUE] or --inherit-env";
    case kCapFs:
      return "--dir HOST[:GUEST]";
    case kCapNet:
      return "--allow-net HOST:PORT";
    case kCapKv:
      return "--allow kv:BUCKET[:ro]";  // `--allow kv` alone opens no bucket
    default:
      return std::string("--allow ") + cap_name(cap);
  }
}

[[noreturn]] void fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "rusm: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

// A JavaScript app is named by its extension; a TypeScript app is one too,
// once compiled.
bool is_js(const std::string& path) {
  return path.ends_with(".js") || path.ends_with(".mjs") || is_typescript(path);
}

// Scripts are read whole into the main process's first message.
constexpr uint64_t kMaxScriptBytes = 16u << 20;

int run(const RunArgs& a) {
  const bool js = is_js(a.module);
  if (js && a.entry != "_start") {
    fail(
        "--entry: not for a JavaScript app (its main process runs the script, then its "
        "exported main() if any)");
  }
  if (js && js_runtime_wasm().empty()) {
    fail(a.module +
         ": this rusm was built without JavaScript (no QuickJS sources: run "
         "scripts/bootstrap.sh, then rebuild)");
  }
  auto caps = runtime::profile(a.profile);
  if (!caps) {
    fail("--profile: " + caps.message());
  }
  ProcessSpec spec;
  spec.module = "main";
  spec.function = js ? "js_main" : a.entry;
  spec.caps = *caps;
  spec.record_outcome = true;
  wasi::Config& w = spec.wasi;
  w.args.push_back(a.module);
  w.args.insert(w.args.end(), a.args.begin(), a.args.end());
  bool custom = false;
  auto grant = [&](uint32_t bit) {
    if (!spec.caps.has(bit)) {
      spec.caps.bits |= bit;
      custom = true;
    }
  };
  if (a.inherit_env) {
    for (char** e = environ; *e != nullptr; ++e) {
      w.env.emplace_back(*e);
    }
    grant(kCapEnv);
  }
  for (const std::string& e : a.envs) {
    if (e.find('=') != std::string::npos) {
      w.env.push_back(e);
    } else if (const char* v = std::getenv(e.c_str())) {
      w.env.push_back(e + "=" + v);
    }
    grant(kCapEnv);
  }
  if (a.args.size() > 0) {
    grant(kCapEnv);
  }
  for (const std::string& d : a.dirs) {
    Result<DirSpec> dir = parse_dir(d);
    if (!dir) {
      fail(dir.message());
    }
    // Opened here, once: the process and all its children hold this descriptor.
    auto p = wasi::Preopen::open(dir->host, dir->guest, dir->read_only);
    if (!p) {
      fail("--dir " + d + ": " + p.message());
    }
    w.preopens.push_back(std::move(*p));
    grant(kCapFs);
  }
  for (const std::string& name : a.allow) {
    const Capabilities before = spec.caps;
    if (Status st = allow(spec.caps, name); !st) {
      fail("--allow " + st.message());
    }
    custom = custom || spec.caps.bits != before.bits || spec.caps.kv != before.kv;
  }
  for (const std::string& host : a.allow_net) {
    if (Status st = allow(spec.caps, "net:" + host); !st) {
      fail("--allow-net " + st.message());
    }
    custom = true;
  }
  uint32_t withdrawn = 0;  // by --deny or --no-stdio: refusals are then expected
  for (const std::string& name : a.deny) {
    auto bit = parse_cap(name);
    if (!bit) {
      fail("--deny: unknown capability '" + name + "'");
    }
    spec.caps.bits &= ~*bit;
    withdrawn |= *bit;
    custom = true;
  }
  if (a.no_stdio) {
    if (spec.caps.has(kCapStdio)) {
      spec.caps.bits &= ~kCapStdio;
      custom = true;
    }
    withdrawn |= kCapStdio;
  } else if (!spec.caps.has(kCapStdio) && (withdrawn & kCapStdio) == 0) {
    // The default, like wasmtime's: the terminal's stdio for the main process
    // only; a child gets it only if its spawn asks (RUSM_SPAWN_CAPS).
    spec.caps.bits |= kCapStdio;
    spec.caps.not_inherited |= kCapStdio;
  }
  if (spec.caps.has(kCapStdio)) {
    w.stdin_mode = w.stdout_mode = w.stderr_mode = wasi::StdioMode::kInherit;
  }
  w.allow_clock = spec.caps.has(kCapClock);
  w.allow_random = spec.caps.has(kCapRandom);
  if (!a.max_memory.empty()) {
    Result<uint64_t> pages = parse_memory_pages(a.max_memory);
    if (!pages) {
      fail(pages.message());
    }
    spec.caps.max_memory_pages = *pages;
  }
  if (custom) {
    spec.caps.profile = a.profile + "+";
  }

  // Read after the flags, before a node starts: a directory, a device or a
  // huge file is a usage error, not something to load. A TypeScript app is
  // its compiled bundle (from the cache, or esbuild now), still named by the
  // .ts file.
  Result<std::vector<uint8_t>> module_bytes = std::vector<uint8_t>{};
  std::optional<TsBundle> ts;
  if (is_typescript(a.module)) {
    Result<TsBundle> compiled = compile_typescript(a.module);
    if (!compiled) {
      fail(compiled.message(), 2);
    }
    ts = std::move(*compiled);
    module_bytes = std::vector<uint8_t>(ts->js.begin(), ts->js.end());
  } else {
    module_bytes = read_module_file(a.module, js ? kMaxScriptBytes : kMaxModuleBytes);
  }
  if (!module_bytes) {
    fail(module_bytes.message());
  }

  // One line per refused capability, the first time: a refusal of the main
  // process, or of a child when the main process lacks the capability too
  // (else the guest withheld it from its child itself, and no flag helps).
  // `fs` is different: a guest that uses files looks for its directories
  // when it starts, and its failed opens never reach the host; so that one
  // is named only if the main process then fails and nothing else was named.
  std::atomic<uint32_t> hinted{0};
  std::atomic<bool> fs_missing{false};
  const Capabilities main_caps = spec.caps;
  auto hint = [&hinted, &main_caps, withdrawn](uint32_t cap) {
    if (main_caps.has(cap) || (hinted.fetch_or(cap) & cap) != 0) {
      return;
    }
    std::string how = (withdrawn & cap) != 0 ? std::string("withdrawn by ") +
                                                   (cap == kCapStdio ? "--no-stdio or " : "") +
                                                   "--deny " + cap_name(cap)
                                             : "grant it with " + grant_flag(cap);
    std::fprintf(stderr, "rusm: the guest was refused capability '%s' (%s)\n", cap_name(cap),
                 how.c_str());
  };
  RuntimeOptions ro;
  apply_tier(a.tier, &ro.compile);
  ro.on_denied = [&hint, &fs_missing](otp::Pid, uint32_t cap) {
    if (cap == kCapFs) {
      fs_missing = true;
    } else {
      hint(cap);
    }
  };
  ro.node.workers = a.workers;
  if (!a.max_mailbox.empty()) {
    Result<uint64_t> bytes = parse_byte_size("--max-mailbox", a.max_mailbox);
    if (!bytes) {
      fail(bytes.message());
    }
    ro.node.max_mailbox_bytes = *bytes;
  }
  if (!a.max_node_memory.empty()) {
    Result<uint64_t> bytes = parse_byte_size("--max-node-memory", a.max_node_memory);
    if (!bytes) {
      fail(bytes.message());
    }
    ro.node.max_memory_bytes = *bytes;
  }
  if (a.max_processes != 0) {
    ro.node.max_processes = a.max_processes;
  }
  if (!a.fetch_ca.empty()) {
    if (!std::filesystem::is_regular_file(a.fetch_ca)) {
      fail("--fetch-ca " + a.fetch_ca + ": not a readable file of PEM certificates");
    }
    ro.fetch.ca_file = a.fetch_ca;
  }
  if (a.fetch_timeout_ms != 0) {
    ro.fetch.timeout = std::chrono::milliseconds(a.fetch_timeout_ms);
  }
  if (!a.fetch_max_response.empty()) {
    Result<uint64_t> bytes = parse_byte_size("--fetch-max-response", a.fetch_max_response);
    if (!bytes) {
      fail(bytes.message());
    }
    ro.fetch.max_response = *bytes;
  }
  // The store exists only for a process granted a bucket. Named on the
  // command line (--allow kv:...), it is opened here, so that a bad path or
  // a store in use fails before the guest starts; granted by the trusted
  // profile only, on the guest's first kv_open (no file until it is used).
  const bool uses_kv = spec.caps.has(kCapKv) && spec.caps.kv && !spec.caps.kv->empty();
  const bool kv_named = std::any_of(a.allow.begin(), a.allow.end(),
                                    [](const std::string& s) { return s.starts_with("kv"); });
  if (uses_kv) {
    ro.kv.path = a.kv;
  }
  int code = 0;
  {
    Runtime rt(ro);
    if (uses_kv && kv_named) {
      if (auto store = rt.kv_store(); !store) {
        fail("--kv: " + store.message());
      }
    }
    if (js) {
      std::span<const uint8_t> wasm = js_runtime_wasm();
      if (Status s = rt.load("main", wasm); !s) {
        fail("the embedded JavaScript runtime: " + s.message());
      }
    } else if (Status s = rt.load("main", *module_bytes); !s) {
      fail(a.module + ": " + s.message());
    }
    auto p = rt.spawn(spec);
    if (!p) {
      fail(a.module + ": " + p.message());
    }
    if (js) {
      Status sent = rt.node().send(
          p->pid,
          otp::Message::make(serve::kJsBootTag, serve::js_boot_message(a.module, *module_bytes)));
      if (!sent) {
        fail(a.module + ": handing the script to its process: " + sent.message());
      }
    }
    std::optional<Outcome> o = rt.wait(p->pid, otp::kInfinity);
    if (!o) {
      fail("the main process did not finish");
    }
    if (a.keep_alive) {
      while (rt.node().process_count() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    // A refused capability was named when it happened (ro.on_denied).
    if (o->exit_code) {
      code = static_cast<int>(*o->exit_code);
    } else if (!o->reason.is_normal()) {
      // A JS app's error already names the file and line ("app.js:3:
      // TypeError: ..."): say just that.
      std::string line = o->reason.to_string();
      if (js && line.starts_with("error: ") && line.find(": trap: ") == std::string::npos) {
        line = line.substr(7);
        if (ts) {
          line = ts->map_error(line, a.module);  // the bundle's line -> the .ts file's
        }
      }
      std::fprintf(stderr, "rusm: %s\n", line.c_str());
      code = 1;
    }
    if (code != 0 && fs_missing && hinted == 0) {
      hint(kCapFs);
    }
  }
  return code;
}

void setup(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a module's _start as the main process of a fresh node; exit with its exit code.\n"
      "Default deny: by default the main process gets the terminal's stdin/stdout/stderr, "
      "CPU and 16 MiB of memory, nothing else (the sandboxed profile, plus stdio unless "
      "--no-stdio); the processes it spawns get no stdio unless their spawn asks for it "
      "(RUSM_SPAWN_CAPS), and never more than it holds. Flags grant more. A capability "
      "refused to the guest is named once on stderr with the flag that grants it.\n"
      "Exit status: the guest's proc_exit code; 1 if it crashed (trap or error, one "
      "line on stderr); 2 for usage and module errors.");
  cmd->add_option("module", a->module,
                  "The .wasm file, or a JavaScript app (.js, .mjs: an ES module run by QuickJS; "
                  ".ts, .mts: TypeScript, compiled by esbuild and cached; see docs/js.md)")
      ->required();
  cmd->add_option("args", a->args, "Arguments for the guest (after --); grants env");
  cmd->add_flag("--keep-alive", a->keep_alive,
                "After the main process ends, keep the node up while other processes live");
  cmd->add_option("--dir", a->dirs,
                  "Preopen host directory as guest path: host[:guest][:ro|:rw]; "
                  "grants fs")
      ->allow_extra_args(false);
  cmd->add_option("--env", a->envs, "Pass NAME (from the host) or NAME=VALUE; grants env")
      ->allow_extra_args(false);
  cmd->add_flag("--inherit-env", a->inherit_env, "Pass the whole host environment; grants env");
  cmd->add_flag(
      "--no-stdio", a->no_stdio,
      "Withdraw the main process's stdin/stdout/stderr (reads see end of file, writes are "
      "discarded); as --deny stdio");
  cmd->add_flag("--stdio", a->stdio,
                "Accepted for compatibility, does nothing: the main process has stdio by default "
                "(--allow stdio also lets children spawned without RUSM_SPAWN_CAPS inherit it)");
  cmd->add_option("--max-memory", a->max_memory,
                  "Cap on each process's linear memory and tables together: 64M, 1G, 16p (pages)");
  cmd->add_option("--max-mailbox", a->max_mailbox,
                  "Each process's message budget: bytes waiting in its mailbox plus its pending "
                  "timers (default 64M); a send past it fails with EFULL");
  cmd->add_option("--max-node-memory", a->max_node_memory,
                  "The node's memory budget over all processes (memories, tables, messages, "
                  "timers; default: the machine's RAM); spawns and sends past it fail");
  cmd->add_option("--max-processes", a->max_processes,
                  "How many processes may live at once (default 4194304, at most 16777216)")
      ->check(CLI::Range(1u, 1u << 24));
  cmd->add_option("--profile", a->profile, "sandboxed (default) or trusted");
  cmd->add_option("--kv", a->kv,
                  "The node's key-value store, opened when a bucket is granted (--allow kv:BUCKET)")
      ->capture_default_str();
  cmd->add_option("--allow", a->allow,
                  "Grant a capability: " + cap_names() +
                      "; kv:BUCKET[:ro] or kv:* grants buckets of the key-value store; "
                      "net:HOST:PORT as --allow-net")
      ->allow_extra_args(false);
  cmd->add_option("--allow-net", a->allow_net,
                  "Let the guest fetch from HOST:PORT (HOST:* any port, *.DOMAIN:PORT its "
                  "subdomains, [IPV6]:PORT); grants net. Nothing is reachable without it, "
                  "loopback and link-local addresses only where named (localhost, 127.0.0.1)")
      ->allow_extra_args(false);
  cmd->add_option("--fetch-ca", a->fetch_ca,
                  "PEM certificates fetch trusts besides the system's (servers' certificates are "
                  "always verified)");
  cmd->add_option("--fetch-timeout", a->fetch_timeout_ms,
                  "Milliseconds a fetch waits for the response's head, and for each body read "
                  "(default 30000; a request may ask for less)")
      ->check(CLI::Range(1u, 3'600'000u));
  cmd->add_option("--fetch-max-response", a->fetch_max_response,
                  "Body bytes one response may have (default 64M; a request may ask for less)");
  cmd->add_option("--deny", a->deny, "Withdraw a capability the profile grants")
      ->allow_extra_args(false);
  cmd->add_option("--entry", a->entry, "Exported function to run instead of _start");
  cmd->add_option("--workers", a->workers, "Scheduler threads (default: one per core)")
      ->check(CLI::Range(0u, kMaxThreads));
  add_tier_option(cmd, &a->tier);
  cmd->callback([a] {
    int code = run(*a);
    if (code != 0) {
      throw CLI::RuntimeError(code);
    }
  });
}

CommandRegistrar registrar(setup);

}  // namespace
}  // namespace rusm::cli
