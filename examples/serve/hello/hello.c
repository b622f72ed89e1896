/* The smallest rusm serve app: every request gets a fresh sandboxed process
 * that answers in one call.
 *   rusm serve build/examples/serve/hello/rusm.toml
 *   curl http://127.0.0.1:8080/ */
#include "rusm.h"

RUSM_EXPORT(handle) void handle(rusm_req req) {
  rusm_http_respond_str(req, 200, "Content-Type: text/plain\n", "hello from rusm\n");
}
