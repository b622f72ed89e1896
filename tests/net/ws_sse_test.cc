// WebSocket (RFC 6455) and Server-Sent Events over raw sockets: the close
// codes for protocol violations, ping/pong, the close handshake, shutdown's
// 1001, SSE streaming, and bounded server memory for a client that stops
// reading.
#include <future>

#include "test_util.h"

namespace rusm::net::test {
namespace {

// A minimal WebSocket client frame writer/reader (test side only).
std::string frame(uint8_t opcode, std::string_view payload, bool mask = true, bool fin = true) {
  std::string f;
  f += char((fin ? 0x80 : 0) | opcode);
  uint8_t m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    f += char(m | payload.size());
  } else if (payload.size() < 65536) {
    f += char(m | 126);
    f += char(payload.size() >> 8);
    f += char(payload.size() & 0xff);
  } else {
    f += char(m | 127);
    for (int i = 7; i >= 0; --i) {
      f += char((uint64_t(payload.size()) >> (8 * i)) & 0xff);
    }
  }
  const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) {
    f.append(reinterpret_cast<const char*>(key), 4);
  }
  for (size_t i = 0; i < payload.size(); ++i) {
    f += mask ? char(payload[i] ^ key[i % 4]) : payload[i];
  }
  return f;
}

struct Frame {
  uint8_t opcode = 0;
  std::string payload;
  bool ok = false;
};

// Parses the first server frame (unmasked) in `in`; consumed bytes in *used.
Frame parse_frame(const std::string& in, size_t* used) {
  Frame f;
  if (in.size() < 2) {
    return f;
  }
  f.opcode = uint8_t(in[0]) & 0x0f;
  uint64_t len = uint8_t(in[1]) & 0x7f;
  size_t p = 2;
  if (len == 126) {
    if (in.size() < 4) {
      return f;
    }
    len = (uint8_t(in[2]) << 8) | uint8_t(in[3]);
    p = 4;
  } else if (len == 127) {
    if (in.size() < 10) {
      return f;
    }
    len = 0;
    for (int i = 0; i < 8; ++i) {
      len = (len << 8) | uint8_t(in[2 + i]);
    }
    p = 10;
  }
  if (in.size() < p + len) {
    return f;
  }
  f.payload = in.substr(p, len);
  f.ok = true;
  *used = p + len;
  return f;
}

Frame read_frame(int fd, std::string& pending, std::chrono::milliseconds timeout = 3s) {
  size_t used = 0;
  Frame f = parse_frame(pending, &used);
  if (!f.ok) {
    pending += recv_until(
        fd,
        [&](const std::string& got) {
          size_t u = 0;
          return parse_frame(pending + got, &u).ok;
        },
        timeout);
    f = parse_frame(pending, &used);
  }
  if (f.ok) {
    pending.erase(0, used);
  }
  return f;
}

uint16_t close_code(const Frame& f) {
  return f.payload.size() >= 2 ? uint16_t((uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1])) : 0;
}

class Ws : public ::testing::Test {
 protected:
  void SetUp() override {
    echo = std::make_shared<WsEcho>();
    ServerOptions o;
    o.limits.ws_message_bytes = 1000;
    Route r = route("/ws", echo);
    r.kind = RouteKind::kWs;
    o.routes.push_back(r);
    ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  }

  // Connects and completes the upgrade; returns the fd.
  int open() {
    int fd = connect_to(ts.port);
    send_all(fd,
             "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    std::string head = recv_until(
        fd, [](const std::string& s) { return s.find("\r\n\r\n") != s.npos; }, 3s);
    Response r = parse_response(head);
    EXPECT_EQ(r.status, 101) << head;
    EXPECT_EQ(r.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    return fd;
  }

  std::shared_ptr<WsEcho> echo;
  TestServer ts;
};

TEST_F(Ws, EchoesTextAndBinary) {
  int fd = open();
  std::string pending;
  send_all(fd, frame(0x1, "hello"));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x1);
  EXPECT_EQ(f.payload, "hello");
  send_all(fd, frame(0x2, std::string("\x00\xff", 2)));
  f = read_frame(fd, pending);
  EXPECT_EQ(f.opcode, 0x2);
  EXPECT_EQ(f.payload, std::string("\x00\xff", 2));
  // A fragmented message arrives whole.
  send_all(fd, frame(0x1, "ab", true, false) + frame(0x0, "cd", true, true));
  f = read_frame(fd, pending);
  EXPECT_EQ(f.payload, "abcd");
  close(fd);
}

TEST_F(Ws, PingIsAnsweredWithPong) {
  int fd = open();
  std::string pending;
  send_all(fd, frame(0x9, "are you there"));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0xA);
  EXPECT_EQ(f.payload, "are you there");
  close(fd);
}

TEST_F(Ws, CloseHandshakeCompletes) {
  int fd = open();
  std::string pending;
  std::string payload = std::string("\x03\xe8", 2) + "done";
  send_all(fd, frame(0x8, payload));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x8);
  EXPECT_EQ(close_code(f), 1000);
  EXPECT_TRUE(closed_within(fd, 3s)) << "server must close TCP first (RFC 6455 7.1.1)";
  shutdown(fd, SHUT_WR);  // then the client closes, as a browser does
  EXPECT_TRUE(eventually([&] { return echo->closed == 1; }));
  EXPECT_EQ(echo->last_code, 1000);
  close(fd);
}

TEST_F(Ws, ServerInitiatedCloseHandshake) {
  int fd = open();
  std::string pending;
  send_all(fd, frame(0x1, "close"));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x8);
  EXPECT_EQ(close_code(f), 1000);
  send_all(fd, frame(0x8, std::string("\x03\xe8", 2)));
  EXPECT_TRUE(closed_within(fd, 3s));
  shutdown(fd, SHUT_WR);
  EXPECT_TRUE(eventually([&] { return echo->closed == 1; }));
  close(fd);
}

TEST_F(Ws, UnmaskedClientFrameCloses1002) {
  int fd = open();
  std::string pending;
  send_all(fd, frame(0x1, "hello", /*mask=*/false));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x8);
  EXPECT_EQ(close_code(f), 1002);
  EXPECT_TRUE(closed_within(fd, 3s));
  shutdown(fd, SHUT_WR);
  EXPECT_TRUE(eventually([&] { return echo->last_code == 1002; }));
  close(fd);
}

TEST_F(Ws, InvalidUtf8Closes1007) {
  int fd = open();
  std::string pending;
  send_all(fd, frame(0x1, "\xc3\x28 bad"));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x8);
  EXPECT_EQ(close_code(f), 1007);
  close(fd);
}

TEST_F(Ws, OversizedMessageCloses1009) {
  int fd = open();
  std::string pending;
  send_all(fd, frame(0x2, std::string(5000, 'x')));
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x8);
  EXPECT_EQ(close_code(f), 1009);
  close(fd);
}

TEST_F(Ws, ShutdownClosesWith1001) {
  int fd = open();
  ASSERT_TRUE(eventually([&] { return echo->opened == 1; }));
  std::string pending;
  std::atomic<bool> done{false};
  ts.server->shutdown([&] { done = true; });
  Frame f = read_frame(fd, pending);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.opcode, 0x8);
  EXPECT_EQ(close_code(f), 1001);
  send_all(fd, frame(0x8, std::string("\x03\xe9", 2)));
  EXPECT_TRUE(closed_within(fd, 3s));
  shutdown(fd, SHUT_WR);
  EXPECT_TRUE(eventually([&] { return done.load(); }));
  close(fd);
}

TEST_F(Ws, PlainGetOnAWebSocketRouteReachesTheHandler) {
  EXPECT_EQ(request(ts.port, get("/ws")).status, 426);
}

TEST(Sse, StreamsEventsAsTheyAreWritten) {
  TestServer ts;
  ServerOptions o;
  auto ticker = std::make_shared<SseTicker>(16, 5);
  Route r = route("/events", ticker);
  r.kind = RouteKind::kSse;
  o.routes.push_back(r);
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  send_all(fd, get("/events"));
  auto rs = read_responses(fd, 1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].headers["content-type"], "text/event-stream");
  EXPECT_EQ(rs[0].headers["cache-control"], "no-cache");
  EXPECT_EQ(rs[0].headers["transfer-encoding"], "chunked");
  EXPECT_EQ(rs[0].body.substr(0, 16), "data: 0xxxxxxx\n\n");
  EXPECT_NE(rs[0].body.find("data: 4"), std::string::npos);
  close(fd);
}

TEST(Sse, ClientThatStopsReadingKeepsServerMemoryBounded) {
  TestServer ts;
  ServerOptions o;
  o.limits.write_buffer_bytes = 64 * 1024;
  o.limits.idle_timeout = 60'000ms;
  auto ticker = std::make_shared<SseTicker>(1024);
  Route r = route("/events", ticker);
  r.kind = RouteKind::kSse;
  r.deadline = Millis(0);
  o.routes.push_back(r);
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = connect_to(ts.port);
  send_all(fd, get("/events"));
  // The client reads nothing. Writes proceed until the kernel buffers and
  // then the server's own buffer are full, then stall.
  int64_t last = -1;
  ASSERT_TRUE(eventually(
      [&] {
        int64_t now = ticker->written.load();
        bool stalled = now == last && now > 0;
        last = now;
        std::this_thread::sleep_for(100ms);
        return stalled;
      },
      20s))
      << "writes never stalled: " << ticker->written.load();
  auto st = ts.server->stats();
  EXPECT_LE(st.buffered_bytes, 64 * 1024 + 2 * 1100)
      << "server buffered beyond its high-water mark";
  EXPECT_LE(st.buffered_peak, 64 * 1024 + 2 * 1100);
  EXPECT_GT(st.buffered_bytes, 0);
  // Reading again resumes the stream.
  int64_t before = ticker->written.load();
  size_t got = recv_all(fd, 300ms).size();
  EXPECT_TRUE(eventually([&] {
    got += recv_all(fd, 50ms).size();
    return ticker->written.load() > before;
  })) << "stream did not resume: open "
      << ts.server->stats().open_connections << ", buffered " << ts.server->stats().buffered_bytes
      << ", ended " << ticker->ended << " " << errc_name(ticker->last.load()) << " client got "
      << got;
  close(fd);
  EXPECT_TRUE(eventually([&] { return ticker->ended == 1; }, 10s))
      << "writer not told of the close" << ts.server->stats().open_connections << " buf "
      << ts.server->stats().buffered_bytes << " w " << ticker->written;
}

}  // namespace
}  // namespace rusm::net::test

namespace rusm::net::test {
namespace {

// A handler that answers from a foreign thread (as a Wasm process on a
// scheduler worker will): every call is posted onto the strand and every
// completion comes back on it.
class ForeignThreadHandler : public Handler {
 public:
  void handle(std::shared_ptr<Exchange> ex) override {
    std::thread([this, ex] {
      std::promise<Errc> started, wrote;
      ex->start(200, {{"X-From", "worker"}}, std::nullopt, [&](Errc e) { started.set_value(e); });
      if (started.get_future().get() != Errc::kOk) {
        return;
      }
      for (int i = 0; i < 100; ++i) {
        std::promise<Errc> p;
        ex->write("line " + std::to_string(i) + "\n", [&](Errc e) { p.set_value(e); });
        if (p.get_future().get() != Errc::kOk) {
          return;
        }
      }
      ex->finish([this](Errc e) {
        if (e == Errc::kOk) {
          ++done;
        }
      });
    }).detach();
  }
  std::atomic<int> done{0};
};

TEST(Threads, HandlerCallsFromAForeignThread) {
  TestServer ts;
  ServerOptions o;
  auto h = std::make_shared<ForeignThreadHandler>();
  o.routes.push_back(route("/w", h));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) {
    fds.push_back(connect_to(ts.port));
    send_all(fds.back(), get("/w") + get("/w"));
  }
  for (int fd : fds) {
    auto rs = read_responses(fd, 2);
    ASSERT_EQ(rs.size(), 2u);
    for (auto& r : rs) {
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.headers["x-from"], "worker");
      EXPECT_EQ(r.body.substr(0, 7), "line 0\n");
      EXPECT_NE(r.body.find("line 99\n"), std::string::npos);
    }
    close(fd);
  }
  EXPECT_TRUE(eventually([&] { return h->done == 16; }));
}

// Pauses after the first message; resumes when told.
class PausingWs : public Handler {
 public:
  struct C : WebSocketHandler {
    PausingWs* o;
    std::shared_ptr<WebSocket> ws;
    void on_open(std::shared_ptr<WebSocket> w) override {
      ws = w;
      std::lock_guard<std::mutex> lock(o->mu);
      o->ws = w;
    }
    void on_message(bool, std::string data, bool last) override {
      ++o->messages;
      o->pieces.fetch_add(1);
      if (last) {
        ++o->whole;
      }
      if (o->messages == 1) {
        ws->pause();
      }
    }
    void on_close(uint16_t, std::string) override {
      ws.reset();
      std::lock_guard<std::mutex> lock(o->mu);
      o->ws.reset();  // the route's handler must not keep the connection alive
    }
  };
  void handle(std::shared_ptr<Exchange> ex) override {
    auto c = std::make_shared<C>();
    c->o = this;
    ex->upgrade(c, fragments);
  }
  std::shared_ptr<WebSocket> get_ws() {
    std::lock_guard<std::mutex> lock(mu);
    return ws;
  }
  bool fragments = false;
  std::atomic<int> messages{0}, pieces{0}, whole{0};
  std::mutex mu;
  std::shared_ptr<WebSocket> ws;  // under mu
};

int ws_open(uint16_t port, const char* path) {
  int fd = connect_to(port);
  send_all(fd,
           std::string("GET ") + path +
               " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  recv_until(
      fd, [](const std::string& s) { return s.find("\r\n\r\n") != s.npos; }, 3s);
  return fd;
}

TEST(WsFlow, PauseStopsDeliveryAndResumeRestartsIt) {
  TestServer ts;
  ServerOptions o;
  auto h = std::make_shared<PausingWs>();
  o.routes.push_back(route("/ws", h));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = ws_open(ts.port, "/ws");
  std::string many;
  for (int i = 0; i < 50; ++i) {
    many += frame(0x1, "m" + std::to_string(i));
  }
  send_all(fd, many);
  ASSERT_TRUE(eventually([&] { return h->messages >= 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(h->messages.load(), 2) << "messages delivered while paused";
  h->get_ws()->resume();
  EXPECT_TRUE(eventually([&] { return h->messages == 50; }));
  close(fd);
}

TEST(WsFlow, FragmentsModeDeliversPieces) {
  TestServer ts;
  ServerOptions o;
  auto h = std::make_shared<PausingWs>();
  h->fragments = true;
  o.routes.push_back(route("/ws", h));
  ASSERT_TRUE(ts.start(std::move(o)).is_ok());
  int fd = ws_open(ts.port, "/ws");
  ASSERT_TRUE(eventually([&] { return h->get_ws() != nullptr; }));
  h->get_ws()->resume();  // (it pauses after its first piece)
  send_all(fd, frame(0x1, "ab", true, false));
  ASSERT_TRUE(eventually([&] { return h->pieces >= 1; }));
  h->get_ws()->resume();
  send_all(fd, frame(0x0, "cd", true, true));
  EXPECT_TRUE(eventually([&] { return h->whole == 1; }));
  EXPECT_EQ(h->pieces.load(), 2) << "a fragmented message must arrive as its fragments";
  close(fd);
}

}  // namespace
}  // namespace rusm::net::test
