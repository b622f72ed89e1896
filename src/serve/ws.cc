// Route kind ws (see routes.h). Not written yet.
#include "serve/routes.h"

namespace rusm::serve {

Status add_ws_functions(runtime::Runtime&) {
  return {};
}

Result<std::shared_ptr<net::Handler>> make_ws_handler(const RouteContext& ctx) {
  return Error("not supported yet: route kind 'ws' (" + ctx.route->name + ")");
}

}  // namespace rusm::serve
