// A native hello server for measuring the core alone (not a test):
//   net_hello_server PORT [THREADS]
// serves "hello from rusm\n" on every path until SIGTERM/SIGINT. See
// docs/serve.md for the wrk comparison with nginx's `return 200`.
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <boost/asio.hpp>

#include "rusm/net/server.h"

namespace {
class Hello : public rusm::net::Handler {
 public:
  void handle(std::shared_ptr<rusm::net::Exchange> ex) override {
    ex->respond(200, {{"Content-Type", "text/plain"}}, "hello from rusm\n");
  }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: net_hello_server PORT [THREADS]\n");
    return 2;
  }
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  boost::asio::io_context ioc(threads);
  rusm::net::ServerOptions o;
  o.listen.push_back({"127.0.0.1", uint16_t(atoi(argv[1])), false});
  rusm::net::Route r;
  r.pattern = "/";
  r.prefix = true;
  r.handler = std::make_shared<Hello>();
  o.routes.push_back(r);
  rusm::net::Server s(ioc, o);
  if (rusm::Status st = s.start(); !st) {
    fprintf(stderr, "net_hello_server: %s\n", st.message().c_str());
    return 1;
  }
  s.shutdown_on_signals([&] { ioc.stop(); });
  std::vector<std::thread> ts;
  for (int i = 1; i < threads; ++i) {
    ts.emplace_back([&] { ioc.run(); });
  }
  ioc.run();
  for (auto& t : ts) {
    t.join();
  }
  return 0;
}
