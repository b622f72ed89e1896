// The dashboard server in-process, with limits small enough to reach in a
// test: the two ways a WebSocket client that does not read is dropped (its
// queue overflows; a message waits longer than the idle timeout while the
// client keeps sending, so the stream's own idle ping never fires).
#include "observe/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "rusm/otp/node.h"

namespace rusm::observe {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

const std::string kToken = "0123456789abcdef0123456789abcdef";

struct Running {
  otp::Node node{otp::NodeOptions{.workers = 1}};
  Sampler sampler{node, SamplerOptions{.hz = 20}};
  std::unique_ptr<Server> server;
  uint16_t port = 0;

  explicit Running(ServerLimits limits) {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.access.token = kToken;
    o.limits = limits;
    server = std::make_unique<Server>(node, sampler, nullptr, o);
    Result<uint16_t> p = server->start();
    EXPECT_TRUE(p) << p.error().message();
    port = p ? *p : 0;
    sampler.start();
  }
  ~Running() {
    server->stop();
    sampler.stop();
    (void)node.shutdown(5s);
  }
};

// Shuts a socket down if the test is still using it after `limit`, so a
// blocked write cannot hang the test.
class Watchdog {
 public:
  Watchdog(int fd, std::chrono::seconds limit)
      : thread_([this, fd, limit] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            ::shutdown(fd, SHUT_RDWR);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Connects with a small receive buffer, then sends pings whose 8 KiB ids
// every pong echoes, `gap` apart, never reading, until the server drops the
// connection. Returns how long that took.
std::chrono::milliseconds ping_without_reading(uint16_t port, std::chrono::microseconds gap) {
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.open(tcp::v4());
  sock.set_option(net::socket_base::receive_buffer_size(4096));
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  websocket::stream<tcp::socket> ws(std::move(sock));
  ws.handshake("127.0.0.1:" + std::to_string(port), "/ws?token=" + kToken);
  Watchdog dog(ws.next_layer().native_handle(), 30s);
  std::string ping = R"({"type":"ping","id":")" + std::string(8192, 'x') + R"("})";
  auto start = std::chrono::steady_clock::now();
  beast::error_code ec;
  while (!ec) {
    ws.write(net::buffer(ping), ec);
    if (gap.count() > 0) {
      std::this_thread::sleep_for(gap);
    }
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

// The server, not the test's watchdog, ended the connection, counted the
// client as slow, and released everything it held for it.
ServerStats expect_dropped_as_slow(const Server& s, std::chrono::milliseconds took) {
  EXPECT_LT(took, 25s) << "the watchdog, not the server, ended it";
  for (int i = 0; i < 100 && (s.stats().websockets != 0 || s.stats().queued_bytes != 0); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ServerStats st = s.stats();
  EXPECT_EQ(st.slow_clients_total, 1u);
  EXPECT_EQ(st.websockets, 0);
  EXPECT_EQ(st.queued_bytes, 0);
  EXPECT_EQ(st.queued_messages, 0);
  return st;
}

TEST(Server, ClientWhoseRepliesOverflowTheQueueIsDisconnected) {
  ServerLimits limits;
  limits.queue.max_messages = 16;
  limits.pause_reading_at = 1'000'000;  // keep reading: only the queue bound can act
  Running r(limits);
  ASSERT_NE(r.port, 0);
  expect_dropped_as_slow(*r.server, ping_without_reading(r.port, 0us));
}

TEST(Server, ClientThatKeepsSendingButNeverReadsIsDroppedAfterTheIdleTimeout) {
  ServerLimits limits;
  limits.idle_timeout = 500ms;
  limits.pause_reading_at = 1'000'000;
  limits.queue.max_messages = 1'000'000;
  limits.queue.max_bytes = 512 << 20;
  Running r(limits);
  ASSERT_NE(r.port, 0);
  // 4 MB/s of pongs: the socket buffers fill in a second or two, then the
  // write in flight waits; the client's pings keep the stream from idling.
  ServerStats st = expect_dropped_as_slow(*r.server, ping_without_reading(r.port, 2ms));
  EXPECT_EQ(st.timeouts_total, 0u) << "the stream's idle timer acted, not the stall check";
}

otp::Task<> idle(otp::Context& ctx) {
  (void)co_await ctx.receive();
}

// A process's label and registered name are free bytes (a guest's
// included); invalid UTF-8 in them made json::dump throw on the I/O thread,
// so no client got a snapshot with the table again.
TEST(Server, InvalidUtf8InAProcessLabelDoesNotStopSnapshots) {
  Running r{ServerLimits{}};
  ASSERT_NE(r.port, 0);
  otp::SpawnOptions so;
  so.label = "bad \xff\xfe label";
  Result<otp::Spawned> p = r.node.spawn_opt(so, idle);
  ASSERT_TRUE(p);
  ASSERT_TRUE(r.node.register_name("name\xc3", p->pid));

  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), r.port));
  ws.handshake("127.0.0.1:" + std::to_string(r.port), "/ws");
  Watchdog dog(ws.next_layer().native_handle(), 20s);
  ws.write(net::buffer(std::string(R"({"type":"subscribe","topic":"processes"})")));
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
    ASSERT_FALSE(ec) << ec.message();
    nlohmann::json j = nlohmann::json::parse(beast::buffers_to_string(buf.data()));
    for (const auto& row : j.value("table", nlohmann::json::array())) {
      seen = seen || row.value("label", "").starts_with("bad ");
    }
  }
  EXPECT_TRUE(seen) << "no snapshot with the process's row arrived";
  r.node.exit(p->pid, otp::ExitReason::kill());
}

TEST(Server, StartFailsOnABadTokenAndMakesOneWhenNoneIsGiven) {
  otp::Node node(otp::NodeOptions{.workers = 1});
  Sampler sampler(node, SamplerOptions{});
  {
    ServerOptions o;
    o.port = 0;
    o.access.token = "short";
    Server s(node, sampler, nullptr, o);
    Result<uint16_t> p = s.start();
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message().find("--token"), std::string::npos);
  }
  {
    ServerOptions o;
    o.port = 0;
    Server s(node, sampler, nullptr, o);
    ASSERT_TRUE(s.start());
    EXPECT_EQ(s.policy().token().size(), 64u);
    EXPECT_NE(s.url().find("?token=" + s.policy().token()), std::string::npos);
  }
  (void)node.shutdown(5s);
}

}  // namespace
}  // namespace rusm::observe
