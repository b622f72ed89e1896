// The Wasm route kinds, one file each, and what they share. Internal to
// rusm_serve.
//
// Each kind's host functions are added to the Runtime before any module is
// loaded (add_*_functions), then each route gets a net::Handler from its
// factory. A handler spawns one process per request (http, sse, cgi) or per
// WebSocket connection (ws) from the route's ProcessSpec, hands it the
// request or the connection as a Resource (runtime/host.h) and ties the two
// lifetimes together: the exchange's cancel hook (deadline, client gone,
// shutdown) kills the process, and the process's end finishes or fails the
// exchange.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "rusm/net/config.h"
#include "rusm/net/handler.h"
#include "rusm/result.h"
#include "rusm/runtime/runtime.h"

namespace rusm::serve {

struct RouteContext {
  runtime::Runtime* runtime = nullptr;
  const net::RouteConfig* route = nullptr;  // valid for the App's lifetime
  // What each process starts from: the route's module (loaded under
  // spec.module), its entry, its capabilities (the sandboxed profile plus the
  // route's allow list, its memory cap).
  runtime::ProcessSpec spec;
  // One line per failure worth an operator's attention (a trap, a handler
  // that ended without answering). Thread-safe.
  std::function<void(const std::string&)> error_log;
};

// Writes ahead of the socket: http_write, http_send_event and ws_send return
// at once while the process has fewer than kWriteAheadOps writes and
// kWriteAheadBytes bytes not yet taken into its connection's write buffer;
// past that a write suspends until the connection has taken it (and so all
// before it). An error of a write that did not wait is returned by the next
// call. Memory per connection stays bounded: the write buffer plus this.
inline constexpr int32_t kWriteAheadOps = 32;
inline constexpr int64_t kWriteAheadBytes = 64 * 1024;
static_assert(kWriteAheadOps + 1 < net::kMaxQueuedOps);

// One host function of a route kind, added to the `rusm` import module with
// the type abi/rusm.toml defines for it.
struct HostFn {
  const char* name;
  wasm::HostCallback cb;
};
// Adds each of `fns` to `rt` as rusm.<name>; the first error stops (a name
// abi/rusm.toml does not define is one).
inline Status add_rusm_functions(runtime::Runtime& rt, std::span<const HostFn> fns) {
  for (const HostFn& f : fns) {
    std::optional<wasm::FuncType> type = runtime::abi_function_type(f.name);
    if (!type) {
      return Error(std::string("rusm.") + f.name + " is not in abi/rusm.toml");
    }
    if (Status s = rt.add_host_function("rusm", f.name, std::move(*type), f.cb); !s) {
      return s;
    }
  }
  return {};
}

// http and sse routes: the handler process uses the rusm ABI's http_* calls.
Status add_http_functions(runtime::Runtime& rt);
Result<std::shared_ptr<net::Handler>> make_http_handler(const RouteContext& ctx);

// cgi routes: any WASI command, RFC 3875 over stdio.
Result<std::shared_ptr<net::Handler>> make_cgi_handler(const RouteContext& ctx);

// ws routes: a process per connection; frames arrive as messages.
Status add_ws_functions(runtime::Runtime& rt);
Result<std::shared_ptr<net::Handler>> make_ws_handler(const RouteContext& ctx);

}  // namespace rusm::serve
