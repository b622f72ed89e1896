// Per-route serving figures in the observer: percentiles from the server's
// latency buckets, rates from two readings, and end to end: a real
// net::Server registered with the sampler, whose routes show up in the
// snapshots a dashboard client receives on /ws.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "observe/protocol.h"
#include "observe/server.h"
#include "rusm/net/server.h"
#include "rusm/otp/node.h"

namespace rusm::observe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kB = net::RouteStats::kBuckets;

TEST(Serving, QuantileInterpolatesWithinTheBucket) {
  uint64_t counts[kB] = {};
  EXPECT_EQ(bucket_quantile_ms(counts, 0.5), -1) << "an empty window has no percentile";
  counts[2] = 100;  // (250 us, 500 us]
  EXPECT_NEAR(bucket_quantile_ms(counts, 0.5), 0.375, 1e-9);
  EXPECT_NEAR(bucket_quantile_ms(counts, 0.99), 0.4975, 1e-9);
  // One slow request in a hundred lands in the (500 ms, 1 s] bucket: p99
  // stays with the fast ones, p100 does not.
  counts[2] = 99;
  counts[12] = 1;
  EXPECT_LE(bucket_quantile_ms(counts, 0.99), 0.5);
  EXPECT_GT(bucket_quantile_ms(counts, 1.0), 500);
  // The last bucket has no upper bound: its lower bound is reported.
  uint64_t slow[kB] = {};
  slow[kB - 1] = 3;
  EXPECT_EQ(bucket_quantile_ms(slow, 0.5), net::RouteStats::kBucketMicros[kB - 2] / 1000.0);
}

net::ServerStats reading(uint64_t requests, uint64_t ok, uint64_t errors, int bucket) {
  net::ServerStats s;
  net::RouteStats r;
  r.name = "GET /api";
  r.kind = "http";
  r.requests = requests;
  r.status[2] = ok;
  r.status[5] = errors;
  r.latency[bucket] = requests;
  r.in_flight = 3;
  r.rejected_in_flight = 7;
  s.routes.push_back(r);
  s.open_connections = 12;
  s.websockets = 2;
  s.rejected_connections = 5;
  s.accept_errors = 1;
  return s;
}

TEST(Serving, RatesAndPercentilesCoverTheWindowOnly) {
  net::ServerStats before = reading(1000, 990, 10, 8);  // old requests: (25, 50] ms
  net::ServerStats now = reading(1000, 990, 10, 8);
  now.routes[0].requests += 200;
  now.routes[0].status[2] += 150;
  now.routes[0].status[5] += 50;
  now.routes[0].latency[3] += 200;  // new ones: (0.5, 1] ms

  Serving first = derive_serving(now, nullptr, 0);
  ASSERT_EQ(first.routes.size(), 1u);
  EXPECT_EQ(first.window_s, 0);
  EXPECT_EQ(first.routes[0].requests_per_s, 0);
  EXPECT_EQ(first.routes[0].p50_ms, -1) << "no window yet";

  Serving v = derive_serving(now, &before, 2.0);
  const ServingRoute& r = v.routes[0];
  EXPECT_EQ(r.requests, 1200u);
  EXPECT_DOUBLE_EQ(r.requests_per_s, 100);
  EXPECT_DOUBLE_EQ(r.status_per_s[2], 75);
  EXPECT_DOUBLE_EQ(r.status_per_s[5], 25);
  EXPECT_GT(r.p50_ms, 0.5);
  EXPECT_LE(r.p99_ms, 1.0) << "the old 25-50 ms requests leaked into the window";
  EXPECT_EQ(r.in_flight, 3);
  EXPECT_EQ(r.rejected_in_flight, 7u);
  EXPECT_EQ(v.open_connections, 12);
  EXPECT_EQ(v.rejected_connections, 5u);

  json j = serving_json(v);
  EXPECT_EQ(j["routes"][0]["name"], "GET /api");
  EXPECT_EQ(j["routes"][0]["status"]["5xx"], 60);
  EXPECT_EQ(j["routes"][0]["status_per_s"]["2xx"], 75.0);
  EXPECT_EQ(j["routes"][0]["rejected"]["in_flight"], 7);
  EXPECT_TRUE(j["routes"][0]["p99_ms"].is_number());
  EXPECT_EQ(j["rejected"]["max_connections"], 5);
  EXPECT_EQ(j["rejected"]["accept_errors"], 1);
  EXPECT_TRUE(serving_json(first)["routes"][0]["p50_ms"].is_null());
}

class Hello final : public net::Handler {
 public:
  void handle(std::shared_ptr<net::Exchange> ex) override {
    ex->respond(200, {{"Content-Type", "text/plain"}}, "hello\n");
  }
};

int get_hello(uint16_t port, int n) {
  int ok = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return 0;
  }
  std::string req = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  for (int i = 0; i < n; ++i) {
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
      break;
    }
    std::string got;
    char buf[4096];
    while (got.find("hello\n") == std::string::npos) {
      ssize_t k = recv(fd, buf, sizeof buf, 0);
      if (k <= 0) {
        close(fd);
        return ok;
      }
      got.append(buf, size_t(k));
    }
    ok += got.starts_with("HTTP/1.1 200") ? 1 : 0;
  }
  close(fd);
  return ok;
}

// An app's server on the node's loop, its stats registered with the sampler;
// the observer on the same loop; a dashboard client sees the app's routes.
TEST(Serving, DashboardClientSeesTheAppsRoutes) {
  otp::Node node(otp::NodeOptions{.workers = 1});
  Sampler sampler(node, SamplerOptions{.hz = 20});
  asio::io_context loop;
  auto work = asio::make_work_guard(loop);
  std::thread loop_thread([&] { loop.run(); });

  net::ServerOptions ao;
  ao.listen.push_back(net::Listen{"127.0.0.1", 0, false});
  net::Route route;
  route.method = "GET";
  route.pattern = "/hello";
  route.handler = std::make_shared<Hello>();
  ao.routes.push_back(route);
  net::Server app(loop, ao);
  ASSERT_TRUE(app.start().is_ok());
  uint16_t app_port = app.ports()[0];
  sampler.set_serving_source([&app] { return app.stats(); });

  ServerOptions oo;
  oo.port = 0;
  oo.io = &loop;
  auto observer = std::make_unique<Server>(node, sampler, nullptr, oo);
  Result<uint16_t> port = observer->start();
  ASSERT_TRUE(port) << port.error().message();
  sampler.start();

  asio::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), *port));
  ws.handshake("127.0.0.1:" + std::to_string(*port), "/ws");
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop.load()) {
      get_hello(app_port, 20);
    }
  });
  json seen;
  for (int i = 0; i < 200 && seen.is_null(); ++i) {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
    ASSERT_FALSE(ec) << ec.message();
    json j = json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
    if (j.value("type", "") != "snapshot" || !j.contains("serving")) {
      continue;
    }
    for (const json& r : j["serving"]["routes"]) {
      if (r["name"] == "GET /hello" && r["requests_per_s"].get<double>() > 0 &&
          r["p50_ms"].is_number()) {
        seen = r;
      }
    }
  }
  stop = true;
  load.join();
  ASSERT_FALSE(seen.is_null()) << "no snapshot showed the app's route with traffic";
  EXPECT_GT(seen["status"]["2xx"].get<uint64_t>(), 0u);
  EXPECT_EQ(seen["kind"], "http");
  EXPECT_LT(seen["p50_ms"].get<double>(), 1000.0);
  EXPECT_GE(seen["p99_ms"].get<double>(), seen["p50_ms"].get<double>());

  beast::error_code ignored;
  ws.next_layer().close(ignored);
  observer->stop();
  observer.reset();
  sampler.stop();
  app.stop();
  auto end = std::chrono::steady_clock::now() + 5s;
  while (app.stats().open_connections > 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  work.reset();
  loop.stop();
  loop_thread.join();
  (void)node.shutdown(5s);
}

}  // namespace
}  // namespace rusm::observe
