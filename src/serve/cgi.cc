// Route kind cgi (see routes.h). Not written yet.
#include "serve/routes.h"

namespace rusm::serve {

Result<std::shared_ptr<net::Handler>> make_cgi_handler(const RouteContext& ctx) {
  return Error("not supported yet: route kind 'cgi' (" + ctx.route->name + ")");
}

}  // namespace rusm::serve
