// A rusm.toml app (include/rusm/serve/app.h): compiles the routes' modules,
// turns each route into a net::Handler and runs the server on the node's
// event loop.
#include "rusm/serve/app.h"

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "rusm/serve/js.h"
#include "serve/routes.h"

namespace rusm::serve {

namespace {

// One JSON line per request, to stdout or a file; lines from different
// strands never interleave.
class AccessLog {
 public:
  static Result<std::shared_ptr<AccessLog>> open(const std::string& path) {
    if (path == "-") {
      return std::make_shared<AccessLog>(stdout, false);
    }
    FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) {
      return Error("access_log.path: " + path + ": " + std::strerror(errno));
    }
    return std::make_shared<AccessLog>(f, true);
  }
  AccessLog(FILE* f, bool owned) : f_(f), owned_(owned) {}
  ~AccessLog() {
    if (owned_) {
      std::fclose(f_);
    }
  }
  void write(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fputc('\n', f_);
    std::fflush(f_);
  }

 private:
  std::mutex mu_;
  FILE* f_;
  bool owned_;
};

std::string where(const net::AppConfig& c, const net::RouteConfig& r) {
  return c.file + ":" + std::to_string(r.line) + ": route \"" + r.name + "\"";
}

Result<runtime::Capabilities> route_caps(const net::AppConfig& c, const net::RouteConfig& r) {
  auto caps = runtime::profile("sandboxed");
  if (!caps) {
    return caps.error();
  }
  for (const std::string& name : r.allow) {
    if (Status s = runtime::allow(*caps, name); !s) {
      return Error(where(c, r) + ": allow: " + s.message());
    }
  }
  if (!r.allow.empty()) {
    caps->profile = "custom";
  }
  if (r.memory_bytes != 0) {
    caps->max_memory_pages = (r.memory_bytes + 65535) / 65536;
  }
  return *caps;
}

}  // namespace

struct App::Impl {
  net::AppConfig config;
  std::unique_ptr<runtime::Runtime> rt;
  std::unique_ptr<net::Server> server;
  std::shared_ptr<AccessLog> access_log;
  std::function<void(const std::string&)> error_log;

  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  bool started = false;

  Status build_routes(std::vector<net::Route>& out);
  Status javascript_route(const net::RouteConfig& r, runtime::ProcessSpec& spec);
  Status start_javascript_route(const net::RouteConfig& r, runtime::ProcessSpec& spec,
                                const std::string& name, const std::vector<uint8_t>& source);
  std::function<Result<std::string>(const std::string&)> compile_typescript;

  std::span<const uint8_t> js_runtime;  // AppOptions::js_runtime
  bool js_loaded = false;
};

// A route whose module is a script: its processes run rusm-js.wasm from a
// template of the script made now (docs/js.md, "Serving"), so a request
// costs a copy of the set-up QuickJS instead of booting it; js_http calls
// the script's export named by the route's entry.
Status App::Impl::javascript_route(const net::RouteConfig& r, runtime::ProcessSpec& spec) {
  if (r.kind == net::RouteKind::kCgi) {
    return Error("a cgi route runs a WASI command: name a .wasm (a script: kind http, sse or ws)");
  }
  if (js_runtime.empty()) {
    return Error("module " + r.module +
                 ": this rusm was built without JavaScript (run scripts/bootstrap.sh, then "
                 "rebuild)");
  }
  if (!js_loaded) {
    if (Status s = rt->load("rusm-js", js_runtime); !s) {
      return Error("the JavaScript runtime: " + s.error().message());
    }
    js_loaded = true;
  }
  constexpr uint64_t kMaxScriptBytes = 16u << 20;
  std::string name = std::filesystem::path(r.module).filename().string();
  std::vector<uint8_t> source;
  if (is_typescript(r.module)) {
    if (!compile_typescript) {
      return Error("module " + r.module + ": this server cannot compile TypeScript");
    }
    Result<std::string> js = compile_typescript(r.module);
    if (!js) {
      return Error("module " + r.module + ": " + js.error().message());
    }
    source.assign(js->begin(), js->end());
    name = std::filesystem::path(name).replace_extension(".js").string();
    return start_javascript_route(r, spec, name, source);
  }
  std::FILE* f = std::fopen(r.module.c_str(), "rb");
  if (f == nullptr) {
    return Error("module " + r.module + ": " + std::strerror(errno));
  }
  uint8_t chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0 && source.size() <= kMaxScriptBytes) {
    source.insert(source.end(), chunk, chunk + n);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || source.size() > kMaxScriptBytes) {
    return Error("module " + r.module + (failed ? ": cannot be read" : ": over 16 MiB"));
  }
  return start_javascript_route(r, spec, name, source);
}

// The route's template from the script `source` (named `name` in errors).
Status App::Impl::start_javascript_route(const net::RouteConfig& r, runtime::ProcessSpec& spec,
                                         const std::string& name,
                                         const std::vector<uint8_t>& source) {
  if (r.entry.size() >= 128) {
    return Error("entry: a handler's name is at most 127 bytes");
  }
  runtime::ProcessSpec t = spec;
  t.module = "rusm-js";
  t.function = "js_template";
  t.options.label = r.name + " (template)";
  auto made =
      rt->make_template(t, otp::Message::make(kJsBootTag, js_boot_message(name, source, r.entry)),
                        std::chrono::seconds(30));
  if (!made) {
    return Error("module " + r.module + ": " + made.error().message());
  }
  spec.module = "rusm-js";
  spec.function = r.kind == net::RouteKind::kSse  ? "js_sse"
                  : r.kind == net::RouteKind::kWs ? "js_ws"
                                                  : "js_http";
  spec.snapshot = *made;
  return Status::ok();
}

Status App::Impl::build_routes(std::vector<net::Route>& out) {
  // Each module file is compiled once, whatever the number of routes using it.
  std::map<std::string, std::string> loaded;  // path -> module name
  for (const net::RouteConfig& r : config.routes) {
    net::Route route;
    route.name = r.name;
    route.method = r.method;
    route.pattern = r.path;
    route.prefix = r.prefix;
    route.kind = r.kind;
    if (r.deadline) {
      route.deadline = *r.deadline;
    } else if (r.kind == net::RouteKind::kWs || r.kind == net::RouteKind::kSse) {
      route.deadline = net::Millis(0);  // streams live as long as their client
    }
    if (r.max_in_flight) {
      route.max_in_flight = *r.max_in_flight;
    }
    if (r.kind == net::RouteKind::kStatic) {
      auto h = net::make_static_handler(r.dir);
      if (!h) {
        return Error(where(config, r) + ": " + h.error().message());
      }
      route.handler = *h;
      out.push_back(std::move(route));
      continue;
    }
    RouteContext ctx;
    ctx.runtime = rt.get();
    ctx.route = &r;
    ctx.error_log = error_log;
    auto caps = route_caps(config, r);
    if (!caps) {
      return caps.error();
    }
    ctx.spec.caps = *caps;
    ctx.spec.options.label = r.name;
    if (is_javascript(r.module)) {
      if (Status s = javascript_route(r, ctx.spec); !s) {
        return Error(where(config, r) + ": " + s.error().message());
      }
    } else {
      auto [it, fresh] = loaded.try_emplace(r.module, "route" + std::to_string(loaded.size()));
      if (fresh) {
        if (Status s = rt->load_file(it->second, r.module); !s) {
          return Error(where(config, r) + ": module " + r.module + ": " + s.error().message());
        }
      }
      ctx.spec.module = it->second;
      ctx.spec.function = r.entry;
    }
    Result<std::shared_ptr<net::Handler>> h = Error("unreachable");
    switch (r.kind) {
      case net::RouteKind::kHttp:
      case net::RouteKind::kSse:
        h = make_http_handler(ctx);
        break;
      case net::RouteKind::kCgi:
        h = make_cgi_handler(ctx);
        break;
      case net::RouteKind::kWs:
        h = make_ws_handler(ctx);
        break;
      default:
        h = Error(std::string("route kind ") + net::route_kind_name(r.kind) +
                  " cannot be configured");
    }
    if (!h) {
      return Error(where(config, r) + ": " + h.error().message());
    }
    route.handler = *h;
    out.push_back(std::move(route));
  }
  return {};
}

Result<std::unique_ptr<App>> App::create(net::AppConfig config, AppOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  runtime::RuntimeOptions ro;
  ro.node.workers = options.workers;
  ro.io_threads = options.io_threads;
  ro.compile = options.compile;
  if (!options.node_name.empty()) {
    ro.node.name = options.node_name;
  }
  ro.node.node_id = options.node_id;
  // The store is opened, so that a bad path fails here, only when a route
  // is granted a bucket: a site without one leaves no file behind.
  ro.kv.path = impl->config.kv.path;
  ro.kv.max_value = impl->config.kv.max_value;
  ro.kv.max_bytes = impl->config.kv.max_size;
  ro.fetch.ca_file = impl->config.fetch.ca_file;
  ro.fetch.timeout = impl->config.fetch.timeout;
  ro.fetch.max_response = impl->config.fetch.max_response;
  bool uses_kv = false;
  for (const net::RouteConfig& r : impl->config.routes) {
    for (const std::string& a : r.allow) {
      uses_kv = uses_kv || a.starts_with("kv");
    }
  }
  impl->rt = std::make_unique<runtime::Runtime>(ro);
  if (uses_kv) {
    if (auto store = impl->rt->kv_store(); !store) {
      return Error(impl->config.file + ": [kv]: " + store.message());
    }
  }
  impl->error_log = [](const std::string& line) {
    std::fprintf(stderr, "rusm serve: %s\n", line.c_str());
  };
  if (options.error_log) {
    impl->error_log = options.error_log;
  }
  impl->js_runtime = options.js_runtime;
  impl->compile_typescript = options.compile_typescript;
  if (impl->config.access_log.enabled) {
    auto log = AccessLog::open(impl->config.access_log.path);
    if (!log) {
      return Error(impl->config.file + ": " + log.error().message());
    }
    impl->access_log = *log;
  }
  // Host functions first: modules are linked against them when loaded.
  if (Status s = add_http_functions(*impl->rt); !s) {
    return s.error();
  }
  if (Status s = add_ws_functions(*impl->rt); !s) {
    return s.error();
  }
  net::ServerOptions so;
  so.listen = impl->config.listen;
  so.tls = impl->config.tls;
  so.limits = impl->config.limits;
  so.metrics_path = impl->config.metrics_path;
  if (Status s = impl->build_routes(so.routes); !s) {
    return s.error();
  }
  if (impl->access_log) {
    so.access_log = [log = impl->access_log](const std::string& line) { log->write(line); };
  }
  so.error_log = impl->error_log;
  impl->server = std::make_unique<net::Server>(impl->rt->event_loop().context(), std::move(so));
  return std::unique_ptr<App>(new App(std::move(impl)));
}

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

App::~App() {
  if (impl_ && impl_->started) {
    shutdown();
  }
  // The server's sockets close before the node (and its event loop) goes.
  impl_->server.reset();
  impl_->rt.reset();
}

Status App::start() {
  if (Status s = impl_->server->start(); !s) {
    return s;
  }
  impl_->started = true;
  return {};
}

std::vector<uint16_t> App::ports() const {
  return impl_->server->ports();
}

void App::shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->started || impl_->stopped) {
      return;
    }
  }
  impl_->server->shutdown([impl = impl_.get()] {
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->stopped = true;
    impl->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped; });
}

void App::wait_for_signal() {
  if (!impl_->started) {
    return;
  }
  impl_->server->shutdown_on_signals([impl = impl_.get()] {
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->stopped = true;
    impl->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->stopped; });
}

const net::AppConfig& App::config() const {
  return impl_->config;
}
net::Server& App::server() {
  return *impl_->server;
}
runtime::Runtime& App::runtime() {
  return *impl_->rt;
}

}  // namespace rusm::serve
