// Route kind http (see routes.h). Not written yet.
#include "serve/routes.h"

namespace rusm::serve {

Status add_http_functions(runtime::Runtime&) {
  return {};
}

Result<std::shared_ptr<net::Handler>> make_http_handler(const RouteContext& ctx) {
  return Error("not supported yet: route kind 'http' (" + ctx.route->name + ")");
}

}  // namespace rusm::serve
