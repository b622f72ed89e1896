// A rusm.toml app: the node (a Runtime) and the HTTP/WebSocket server on the
// node's one event loop, each route answered natively (static files,
// /metrics) or by a fresh sandboxed Wasm process per request or connection
// (kinds http, sse, cgi, ws; docs/serve.md, docs/abi.md).
//
//   auto config = net::load_config("site/rusm.toml");
//   auto app = serve::App::create(*config);
//   (*app)->start();               // compiles every module, binds every listener
//   (*app)->wait_for_signal();     // SIGTERM/SIGINT: graceful shutdown
//
// Modules are compiled once, at create(); a bad module, a missing file, a bad
// TLS certificate or a port in use is an error from create() or start(),
// never at the first request.
//
// Thread-safety: create/start/shutdown/wait_for_signal from one thread (the
// owner); ports() and server() from any.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rusm/net/config.h"
#include "rusm/net/server.h"
#include "rusm/result.h"
#include "rusm/runtime/runtime.h"

namespace rusm::serve {

struct AppOptions {
  unsigned workers = 0;          // scheduler threads; 0: one per core
  unsigned io_threads = 0;       // threads of the node's event loop; 0: run by the workers
  wasm::CompileOptions compile;  // the execution tier and its cache (RuntimeOptions::compile)
  // The node's identity in a cluster (otp::NodeOptions); defaults: a node
  // that is not in one.
  std::string node_name;
  uint16_t node_id = 0;
  // Where lines worth an operator's attention go (a handler failed or
  // trapped); default stderr. Called from any thread.
  std::function<void(const std::string&)> error_log;
  // rusm-js.wasm, for routes whose module is a script (.js, .mjs; docs/js.md
  // "Serving"); empty: such a route is an error saying so. Must outlive the App.
  std::span<const uint8_t> js_runtime;
  // Compiles a TypeScript route's module (.ts, .mts) into one JavaScript
  // module (`rusm serve` passes esbuild's, docs/js.md "TypeScript"); empty:
  // such a route is an error saying so.
  std::function<Result<std::string>(const std::string& path)> compile_typescript;
};

class App {
 public:
  static Result<std::unique_ptr<App>> create(net::AppConfig config, AppOptions options = {});
  // Graceful shutdown if still serving, then the node.
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Binds every listener (and loads TLS files).
  Status start();
  // Bound ports, in the order of the config's listen addresses.
  std::vector<uint16_t> ports() const;
  // Graceful shutdown: stop accepting, let in-flight requests finish within
  // limits.shutdown_timeout, close WebSockets with 1001. Blocks until done.
  void shutdown();
  // Blocks until SIGTERM or SIGINT, then shuts down gracefully.
  void wait_for_signal();

  const net::AppConfig& config() const;
  net::Server& server();
  runtime::Runtime& runtime();

  struct Impl;

 private:
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rusm::serve
