// Route kind ws (src/serve/ws.cc): a Wasm process per WebSocket connection,
// frames as mailbox messages, ws_* calls, close codes both ways, the kill
// after the client left, flow control under a flood. Driven by a Beast
// WebSocket client over loopback against a live App; the guests are
// tests/serve/guests/ws_echo.c. A Probe registered as "ws_test" hears from
// the guests (tag 1: a process announces itself; tag 2: the close code it
// saw).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "rusm/net/config.h"
#include "rusm/otp/node.h"
#include "rusm/serve/app.h"

namespace rusm::serve {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// A WebSocket client whose every operation gives up after a timeout, so a
// broken server fails the test instead of hanging it.
class Client {
 public:
  struct Frame {
    bool ok = false;
    bool text = false;
    std::string data;
    beast::error_code ec;
  };

  // With `origin`, the handshake carries it, as a browser's does, and Host
  // names the port (a browser's Host always does).
  bool connect(uint16_t port, const std::string& target, const std::string& origin = "") {
    beast::error_code ec;
    ws_.next_layer().connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
    if (ec) {
      return false;
    }
    ws_.set_option(websocket::stream_base::decorator([origin](websocket::request_type& r) {
      r.set("X-Test", "hello");
      if (!origin.empty()) {
        r.set(beast::http::field::origin, origin);
      }
    }));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::ping) {
        pings_ += std::string(payload) + ";";
      }
    });
    bool done = false;
    const std::string host = origin.empty() ? "127.0.0.1" : "127.0.0.1:" + std::to_string(port);
    ws_.async_handshake(response_, host, target, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    return run(done) && !ec;
  }

  bool send(const std::string& s, bool text = true) {
    ws_.text(text);
    bool done = false;
    beast::error_code ec;
    ws_.async_write(asio::buffer(s), [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    return run(done) && !ec;
  }

  Frame read(std::chrono::milliseconds timeout = 5s) {
    Frame f;
    beast::flat_buffer buf;
    bool done = false;
    ws_.async_read(buf, [&](beast::error_code e, size_t) {
      f.ec = e;
      done = true;
    });
    if (!run(done, timeout)) {
      f.ec = asio::error::timed_out;
      return f;
    }
    f.ok = !f.ec;
    f.text = ws_.got_text();
    f.data = beast::buffers_to_string(buf.data());
    return f;
  }

  bool close(uint16_t code) {
    bool done = false;
    beast::error_code ec;
    ws_.async_close(websocket::close_reason(code), [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    return run(done) && !ec;
  }

  // The close the server sent (after a read failed with closed).
  websocket::close_reason reason() const { return ws_.reason(); }
  const std::string& pings() const { return pings_; }
  // The server's answer to the handshake (101, or a refusal's status).
  unsigned handshake_status() const { return response_.result_int(); }
  tcp::socket& socket() { return ws_.next_layer(); }

 private:
  // Runs the io_context until `done` or the timeout; on timeout the socket
  // is closed and the operation drained.
  bool run(bool& done, std::chrono::milliseconds timeout = 5s) {
    io_.restart();
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < until) {
      io_.run_one_for(until - std::chrono::steady_clock::now());
    }
    if (!done) {
      beast::error_code ignored;
      ws_.next_layer().close(ignored);
      io_.restart();
      io_.run_for(1s);
      return false;
    }
    return true;
  }

  asio::io_context io_;
  websocket::stream<tcp::socket> ws_{io_};
  std::string pings_;
  websocket::response_type response_;
};

class WsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string wasm = std::string(RUSM_SERVE_GUESTS) + "/ws_echo.wasm";
    std::string text = "listen = [\"127.0.0.1:0\"]\n";
    for (const char* entry : {"handle", "ignore", "flood"}) {
      text += "[[route]]\npath = \"/" + std::string(entry) + "/{id}\"\nkind = \"ws\"\nmodule = \"" +
              wasm + "\"\nentry = \"" + entry + "\"\nallow = [\"registry\"]\n";
    }
    text += "[[route]]\npath = \"/listed\"\nkind = \"ws\"\nmodule = \"" + wasm +
            "\"\nentry = \"handle\"\norigins = [\"HTTPS://App.Example.com:443\"]\n";
    auto config = net::parse_config(text, "/tmp/ws_test_rusm.toml");
    ASSERT_TRUE(config) << config.message();
    AppOptions o;
    o.workers = 2;
    auto app = App::create(*config, o);
    ASSERT_TRUE(app) << app.message();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->start()) << "cannot listen";
    port_ = app_->ports().at(0);
    probe_ = std::make_unique<otp::Probe>(node());
    ASSERT_TRUE(node().register_name("ws_test", probe_->pid()));
  }
  void TearDown() override {
    probe_.reset();
    app_.reset();
  }

  otp::Node& node() { return app_->runtime().node(); }

  // The next announcement (tag 1): the pid of a new handler process.
  otp::Pid announced() {
    auto m = probe_->receive_if([](const otp::Message& m) { return m.tag() == 1; }, 5s);
    return m ? m->from() : otp::Pid();
  }
  // The close code a handler process saw (tag 2), or -1; `late_send` gets
  // what its ws_send after the close returned.
  int64_t close_seen(int64_t* late_send = nullptr) {
    auto m = probe_->receive_if([](const otp::Message& m) { return m.tag() == 2; }, 5s);
    if (!m || m->size() != 16) {
      return -1;
    }
    struct {
      int64_t code, send;
    } r = m->as<decltype(r)>();
    if (late_send != nullptr) {
      *late_send = r.send;
    }
    return r.code;
  }
  // Waits for pid's end; its reason, or "timeout".
  std::string down_reason(otp::Pid pid, otp::Duration timeout) {
    otp::MonitorRef ref = probe_->monitor(pid);
    auto m = probe_->receive_if(
        [ref](const otp::Message& m) { return m.is_down() && m.ref() == ref; }, timeout);
    return m ? m->reason().to_string() : "timeout";
  }

  std::unique_ptr<App> app_;
  uint16_t port_ = 0;
  std::unique_ptr<otp::Probe> probe_;
};

TEST_F(WsTest, EchoesTextAndBinaryFrames) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(announced());
  ASSERT_TRUE(c.send("hello"));
  Client::Frame f = c.read();
  ASSERT_TRUE(f.ok) << f.ec.message();
  EXPECT_TRUE(f.text);
  EXPECT_EQ(f.data, "hello");
  std::string bin("\x00\x01\xff\x80zz", 6);
  ASSERT_TRUE(c.send(bin, false));
  f = c.read();
  ASSERT_TRUE(f.ok) << f.ec.message();
  EXPECT_FALSE(f.text) << "a binary frame comes back binary";
  EXPECT_EQ(f.data, bin);
  std::string big(40000, 'x');
  ASSERT_TRUE(c.send(big, false));
  f = c.read();
  EXPECT_EQ(f.data.size(), big.size());
}

TEST_F(WsTest, FramesAndProcessMessagesShareOneReceiveLoop) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  otp::Pid pid = announced();
  ASSERT_TRUE(pid);
  ASSERT_TRUE(probe_->send(pid, otp::Message::make(7, "from a process")));
  Client::Frame f = c.read();
  ASSERT_TRUE(f.ok) << f.ec.message();
  EXPECT_EQ(f.data, "msg:from a process");
  ASSERT_TRUE(c.send("then a frame"));
  EXPECT_EQ(c.read().data, "then a frame");
}

TEST_F(WsTest, RequestAccessorsCopyOutLikeTheRestOfTheAbi) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/42?a=b"));
  ASSERT_TRUE(c.send("req"));
  Client::Frame f = c.read();
  ASSERT_TRUE(f.ok) << f.ec.message();
  // path | query | header X-Test | param id | missing header | full length
  // of the path copied into 2 bytes.
  EXPECT_EQ(f.data, "/handle/42|a=b|hello|42|-5|10");
}

TEST_F(WsTest, WrongHandlesAndBadArgumentsAreEbadarg) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(c.send("badhandle"));
  Client::Frame f = c.read();
  ASSERT_TRUE(f.ok) << f.ec.message();
  EXPECT_EQ(f.data, "-3 -3 -3 -3 -3")
      << "wrong handle, handle 0, negative handle, bad pointer, reserved close code";
  ASSERT_TRUE(c.send("still here"));
  EXPECT_EQ(c.read().data, "still here");
}

TEST_F(WsTest, PingReachesTheClient) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(c.send("ping"));
  Client::Frame f = c.read();
  ASSERT_TRUE(f.ok) << f.ec.message();
  EXPECT_EQ(f.data, "pinged");
  EXPECT_EQ(c.pings(), "p;");
}

TEST_F(WsTest, ClientCloseReachesTheProcessWithItsCode) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  otp::Pid pid = announced();
  ASSERT_TRUE(pid);
  otp::MonitorRef ref = probe_->monitor(pid);
  ASSERT_TRUE(c.close(1000));
  int64_t late_send = 0;
  EXPECT_EQ(close_seen(&late_send), 1000);
  EXPECT_EQ(late_send, -11) << "ws_send after the close is ECLOSED";
  auto down = probe_->receive_if(
      [ref](const otp::Message& m) { return m.is_down() && m.ref() == ref; }, 5s);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->reason().to_string(), "normal") << "the guest returns after CLOSE";
}

TEST_F(WsTest, PagesOfTheSameOriginMayConnect) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1", "http://127.0.0.1:" + std::to_string(port_)));
  ASSERT_TRUE(c.send("same origin"));
  EXPECT_EQ(c.read().data, "same origin");
}

TEST_F(WsTest, PagesOfOtherOriginsGet403) {
  const std::string port = std::to_string(port_);
  for (const std::string& origin : std::vector<std::string>{
           "http://evil.example", "http://127.0.0.1:1", "https://127.0.0.1:" + port, "null",
           "http://127.0.0.1:" + port + "/path"}) {
    Client c;
    EXPECT_FALSE(c.connect(port_, "/handle/1", origin)) << origin;
    EXPECT_EQ(c.handshake_status(), 403u) << origin;
  }
}

TEST_F(WsTest, ARouteAcceptsTheOriginsItLists) {
  Client listed;
  ASSERT_TRUE(listed.connect(port_, "/listed", "https://app.example.com"));
  ASSERT_TRUE(listed.send("listed"));
  EXPECT_EQ(listed.read().data, "listed");
  Client other;
  EXPECT_FALSE(other.connect(port_, "/listed", "https://other.example.com"));
  EXPECT_EQ(other.handshake_status(), 403u);
}

TEST_F(WsTest, ClientDropGivesCloseWith1006) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(announced());
  c.socket().close();
  EXPECT_EQ(close_seen(), 1006);
}

TEST_F(WsTest, ProcessExitClosesWith1000) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(c.send("exit"));
  Client::Frame f = c.read();
  EXPECT_EQ(f.ec, websocket::error::closed) << f.ec.message();
  EXPECT_EQ(c.reason().code, 1000);
}

TEST_F(WsTest, ProcessCloseSendsItsCodeAndReason) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(announced());
  ASSERT_TRUE(c.send("close"));
  Client::Frame f = c.read();
  EXPECT_EQ(f.ec, websocket::error::closed) << f.ec.message();
  EXPECT_EQ(c.reason().code, 4000);
  EXPECT_EQ(std::string(c.reason().reason.c_str()), "bye");
  EXPECT_EQ(close_seen(), 4000) << "the process hears the end of the handshake, with its own code";
}

TEST_F(WsTest, TrapClosesWith1011AndTheServerGoesOn) {
  {
    Client c;
    ASSERT_TRUE(c.connect(port_, "/handle/1"));
    otp::Pid pid = announced();
    ASSERT_TRUE(pid);
    ASSERT_TRUE(c.send("trap"));
    Client::Frame f = c.read();
    EXPECT_EQ(f.ec, websocket::error::closed) << f.ec.message();
    EXPECT_EQ(c.reason().code, 1011);
    EXPECT_FALSE(node().is_alive(pid));
  }
  Client c;
  ASSERT_TRUE(c.connect(port_, "/handle/1"));
  ASSERT_TRUE(c.send("again"));
  EXPECT_EQ(c.read().data, "again");
}

TEST_F(WsTest, AProcessThatIgnoresTheCloseIsKilled) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/ignore/1"));
  otp::Pid pid = announced();
  ASSERT_TRUE(pid);
  c.socket().close();
  EXPECT_EQ(down_reason(pid, 15s), "killed") << "killed a grace period after the close";
}

TEST_F(WsTest, AppShutdownKillsHandlerProcesses) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/ignore/1"));
  otp::Pid pid = announced();
  ASSERT_TRUE(pid);
  otp::MonitorRef ref = probe_->monitor(pid);
  // The client answers the server's close (1001) meanwhile.
  Client::Frame f;
  std::thread reader([&] { f = c.read(20s); });
  app_->shutdown();
  reader.join();
  EXPECT_EQ(f.ec, websocket::error::closed) << f.ec.message();
  EXPECT_EQ(c.reason().code, 1001);
  auto m = probe_->receive_if(
      [ref](const otp::Message& m) { return m.is_down() && m.ref() == ref; }, 10s);
  ASSERT_TRUE(m) << "the handler outlived the server";
  EXPECT_EQ(m->reason().to_string(), "killed");
}

// A client floods 1 KiB frames at a process that does not receive them: the
// server stops reading (the client's writes stall), the process's mailbox
// stays bounded, and once the process drains, every frame arrives.
TEST_F(WsTest, FloodIsPausedWithBoundedMailboxAndNothingLost) {
  Client c;
  ASSERT_TRUE(c.connect(port_, "/flood/1"));
  otp::Pid pid = announced();
  ASSERT_TRUE(pid);

  constexpr size_t kPayload = 1024;
  constexpr size_t kFrames = 48 * 1024;  // 48 MiB: more than any socket buffers
  // A masked binary frame (zero mask key: the payload goes as is).
  std::string frame = {'\x82',
                       static_cast<char>(0x80 | 126),
                       static_cast<char>(kPayload >> 8),
                       static_cast<char>(kPayload & 0xff),
                       0,
                       0,
                       0,
                       0};
  frame += std::string(kPayload, 'f');
  int fd = c.socket().native_handle();

  size_t frames_sent = 0, offset = 0;
  // Sends until done, or until the socket takes nothing for `stall`.
  auto pump = [&](std::chrono::milliseconds stall) {
    while (frames_sent < kFrames) {
      ssize_t n =
          ::send(fd, frame.data() + offset, frame.size() - offset, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        offset += static_cast<size_t>(n);
        if (offset == frame.size()) {
          offset = 0;
          ++frames_sent;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(stall.count())) == 0) {
          return false;
        }
        continue;
      }
      return false;
    }
    return true;
  };
  ASSERT_FALSE(pump(1500ms)) << "the server read " << kFrames << " frames nobody received";
  EXPECT_LT(frames_sent, kFrames);

  std::optional<runtime::ProcessDetails> d = app_->runtime().details(pid);
  ASSERT_TRUE(d);
  EXPECT_LE(d->info.mailbox_length, 66u) << "frames in the mailbox beyond the pause bound";
  EXPECT_LE(d->info.mailbox_bytes, 2u << 20);

  ASSERT_TRUE(probe_->send(pid, otp::Message::of<uint64_t>(9, kFrames)));
  ASSERT_TRUE(pump(10s)) << "reading did not resume after the process drained (" << frames_sent
                         << " frames sent)";
  Client::Frame f = c.read(30s);
  ASSERT_TRUE(f.ok) << f.ec.message();
  EXPECT_EQ(f.data, "got " + std::to_string(kFrames) + " " + std::to_string(kFrames * kPayload));
}

// examples/serve/chat: two clients in the room; a line reaches both; a
// member killed without saying goodbye is dropped by the room's monitor.
TEST(WsChatExample, LinesReachEveryoneAndDeadMembersAreDropped) {
  const std::string file = std::string(RUSM_EXAMPLES_DIR) + "/serve/chat/rusm.toml";
  ASSERT_EQ(::access((std::string(RUSM_EXAMPLES_DIR) + "/serve/chat/chat.wasm").c_str(), R_OK), 0)
      << "examples/serve/chat is not built";
  auto config = net::load_config(file);
  ASSERT_TRUE(config) << config.message();
  config->listen = {net::Listen{}};  // 127.0.0.1, any free port
  AppOptions o;
  o.workers = 2;
  auto app = App::create(*config, o);
  ASSERT_TRUE(app) << app.message();
  ASSERT_TRUE((*app)->start());
  uint16_t port = (*app)->ports().at(0);

  Client alice, bob;
  ASSERT_TRUE(alice.connect(port, "/chat?name=alice"));
  EXPECT_EQ(alice.read().data, "* alice joined");
  ASSERT_TRUE(bob.connect(port, "/chat?name=bob"));
  EXPECT_EQ(bob.read().data, "* bob joined");
  EXPECT_EQ(alice.read().data, "* bob joined");
  ASSERT_TRUE(alice.send("hi bob"));
  EXPECT_EQ(alice.read().data, "alice: hi bob");
  EXPECT_EQ(bob.read().data, "alice: hi bob");

  otp::Node& node = (*app)->runtime().node();
  otp::Pid bob_pid;
  for (const otp::ProcessInfo& p : node.processes()) {
    if (p.label.rfind("chat:bob", 0) == 0) {
      bob_pid = p.pid;
    }
  }
  ASSERT_TRUE(bob_pid) << "bob's connection process labels itself chat:bob";
  node.exit(bob_pid, otp::ExitReason::kill());
  EXPECT_EQ(alice.read().data, "* bob dropped") << "the room saw bob's DOWN";
  Client::Frame f = bob.read();
  EXPECT_EQ(f.ec, websocket::error::closed) << f.ec.message();
  EXPECT_EQ(bob.reason().code, 1011) << "a killed handler closes with 1011";
  ASSERT_TRUE(alice.send("still here"));
  EXPECT_EQ(alice.read().data, "alice: still here");
}

}  // namespace
}  // namespace rusm::serve
