#include "cluster/connection.h"

#include <gtest/gtest.h>

#include "cluster_test_util.h"

namespace rusm::cluster {
namespace {

using namespace test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SendResult = Connection::SendResult;

ConnectionOptions options(const std::string& name, uint16_t id, Events& ev,
                          std::chrono::milliseconds tick = 100ms) {
  ConnectionOptions o;
  o.node_name = name;
  o.node_id = id;
  o.creation = 1000u + id;
  o.tick = tick;
  o.handshake_timeout = 2s;
  o.log = ev.logger(name + " ");
  return o;
}

Connection::Callbacks recorder(Events& ev, const std::string& who) {
  Connection::Callbacks cb;
  cb.on_up = [&ev, who](Connection&, const Hello& h) {
    ev.add(who + " up " + h.name + " id=" + std::to_string(h.node_id) +
           " creation=" + std::to_string(h.creation));
  };
  cb.on_down = [&ev, who](Connection&, const std::string& reason) {
    ev.add(who + " down: " + reason);
  };
  cb.on_frame = [&ev, who](Connection&, Frame&& f) {
    if (auto* s = std::get_if<Send>(&f)) {
      ev.add(who + " got SEND " + s->payload);
    } else {
      ev.add(who + " got " + frame_type_name(static_cast<uint8_t>(type_of(f))));
    }
  };
  cb.on_drain = [&ev, who](Connection&) { ev.add(who + " drain"); };
  return cb;
}

// A server side: accepts every connection on 127.0.0.1 with `opt`.
class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>("test-ca");
    auto tls = make_tls_context(pki_->node("server"));
    ASSERT_TRUE(tls) << tls.message();
    server_tls_ = *tls;
    server_opt_ = options("server", 1, ev_);
    loop_.run([this] {
      acceptor_.open(tcp::v4());
      acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      acceptor_.listen();
      port_ = acceptor_.local_endpoint().port();
      accept_next();
      return 0;
    });
  }
  void TearDown() override {
    loop_.run([this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& c : servers_) {
        c->close("test over");
      }
      if (client_) {
        client_->close("test over");
      }
      return 0;
    });
    loop_.stop();
  }
  void accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) {
        return;
      }
      servers_.push_back(Connection::accept(loop_.io(), server_tls_, std::move(s), server_opt_,
                                            recorder(ev_, "server")));
      accept_next();
    });
  }
  // Dials the server as `name`, whose certificate is `files`.
  void dial(const TlsFiles& files, ConnectionOptions opt) {
    auto tls = make_tls_context(files);
    ASSERT_TRUE(tls) << tls.message();
    dial_with(*tls, std::move(opt));
  }
  void dial_with(std::shared_ptr<asio::ssl::context> tls, ConnectionOptions opt) {
    loop_.run([&] {
      client_ = Connection::dial(loop_.io(), tls, "127.0.0.1", port_, opt, recorder(ev_, "client"));
      return 0;
    });
  }
  std::shared_ptr<Connection> server() {
    return loop_.run([this] { return servers_.empty() ? nullptr : servers_.back(); });
  }
  // The server still accepts a well-formed peer after a refusal.
  void expect_server_still_accepts() {
    ev_.clear();
    dial(pki_->node("good"), options("good", 3, ev_));
    EXPECT_NE(ev_.wait_for("server up good"), "") << ev_.all();
    EXPECT_NE(ev_.wait_for("client up server"), "") << ev_.all();
  }

  IoThread loop_;
  Events ev_;
  std::unique_ptr<TestPki> pki_;
  std::shared_ptr<asio::ssl::context> server_tls_;
  ConnectionOptions server_opt_;
  tcp::acceptor acceptor_{loop_.io()};
  uint16_t port_ = 0;
  std::vector<std::shared_ptr<Connection>> servers_;
  std::shared_ptr<Connection> client_;
};

TEST_F(Fixture, HandshakeBringsBothSidesUpWithEachOthersIdentity) {
  dial(pki_->node("client"), options("client", 2, ev_));
  EXPECT_NE(ev_.wait_for("server up client id=2 creation=1002"), "") << ev_.all();
  EXPECT_NE(ev_.wait_for("client up server id=1 creation=1001"), "") << ev_.all();
  EXPECT_EQ(loop_.run([this] { return client_->peer_cert_names(); }),
            std::vector<std::string>{"server"});
}

TEST_F(Fixture, FramesFlowBothWaysInOrder) {
  dial(pki_->node("client"), options("client", 2, ev_));
  ASSERT_NE(ev_.wait_for("server up"), "") << ev_.all();
  ASSERT_NE(ev_.wait_for("client up"), "") << ev_.all();
  loop_.run([this] {
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(client_->send(Send{1, 2, 3, 0, "c" + std::to_string(i)}), SendResult::kOk);
    }
    EXPECT_EQ(servers_.back()->send_control(Link{5, 6}), SendResult::kOk);
    return 0;
  });
  EXPECT_NE(ev_.wait_for("server got SEND c99"), "") << ev_.all();
  EXPECT_NE(ev_.wait_for("client got LINK"), "") << ev_.all();
  std::string all = ev_.all();
  EXPECT_LT(all.find("got SEND c9\n"), all.find("got SEND c10\n"));
  auto stats = loop_.run([this] { return servers_.back()->stats(); });
  EXPECT_GE(stats.frames_in, 101u);
}

TEST_F(Fixture, RefusesAPeerWithoutClientCertificate) {
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  tls->load_verify_file(pki_->ca_file());
  tls->set_verify_mode(asio::ssl::verify_peer);
  dial_with(tls, options("anon", 2, ev_));
  EXPECT_NE(ev_.wait_for("server log: connection from"), "") << ev_.all();
  EXPECT_NE(ev_.wait_for("server down: TLS handshake failed"), "") << ev_.all();
  EXPECT_NE(ev_.wait_for("client down"), "") << ev_.all();
  EXPECT_EQ(ev_.count("server up"), 0u) << ev_.all();
  expect_server_still_accepts();
}

TEST_F(Fixture, RefusesACertificateOfAnotherCa) {
  TestPki other("other-ca");
  dial(other.node("client"), options("client", 2, ev_));
  EXPECT_NE(ev_.wait_for("server down: TLS handshake failed"), "") << ev_.all();
  EXPECT_NE(ev_.wait_for("client down"), "") << ev_.all();
  EXPECT_EQ(ev_.count(" up "), 0u) << ev_.all();
  expect_server_still_accepts();
}

TEST_F(Fixture, RefusesANodeNameThatIsNotItsCertificates) {
  dial(pki_->node("mallory"), options("client", 2, ev_));
  std::string line = ev_.wait_for("client down: refused by peer");
  EXPECT_NE(line.find("node name 'client' does not match its certificate (names: 'mallory')"),
            std::string::npos)
      << ev_.all();
  EXPECT_NE(ev_.wait_for("server log: connection from"), "") << ev_.all();
  EXPECT_EQ(ev_.count(" up "), 0u) << ev_.all();
  expect_server_still_accepts();
}

TEST_F(Fixture, CertificateWithoutSanIsCheckedAgainstItsCn) {
  dial(pki_->node("client", std::string()), options("client", 2, ev_));
  EXPECT_NE(ev_.wait_for("server up client"), "") << ev_.all();
}

TEST_F(Fixture, RefusesAWrongProtocolVersion) {
  ConnectionOptions o = options("client", 2, ev_);
  o.protocol_version = kProtocolVersion + 1;
  dial(pki_->node("client"), o);
  std::string line = ev_.wait_for("client down: refused by peer");
  EXPECT_NE(line.find("protocol version " + std::to_string(kProtocolVersion + 1) +
                      ", this node speaks " + std::to_string(kProtocolVersion)),
            std::string::npos)
      << ev_.all();
  EXPECT_NE(ev_.wait_for("server down: refusing node 'client': protocol version"), "") << ev_.all();
  expect_server_still_accepts();
}

TEST_F(Fixture, OwnerCanRefuseAtHello) {
  ConnectionOptions o = options("client", 2, ev_);
  auto tls = make_tls_context(pki_->node("client"));
  ASSERT_TRUE(tls);
  loop_.run([&] {
    auto cb = recorder(ev_, "client");
    cb.on_hello = [](Connection&, const Hello& h) -> std::optional<std::string> {
      return "no thanks, " + h.name;
    };
    client_ = Connection::dial(loop_.io(), *tls, "127.0.0.1", port_, o, cb);
    return 0;
  });
  EXPECT_NE(ev_.wait_for("server down: refused by peer: no thanks, server"), "") << ev_.all();
  EXPECT_NE(ev_.wait_for("client down: refusing node 'server': no thanks"), "") << ev_.all();
}

TEST_F(Fixture, GarbageFromAPeerClosesThatConnectionWithAReason) {
  auto tls = make_tls_context(pki_->node("raw"));
  ASSERT_TRUE(tls) << tls.message();
  asio::io_context io;
  asio::ssl::stream<tcp::socket> s(io, **tls);
  s.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  s.handshake(asio::ssl::stream_base::client);
  std::string garbage("\0\0\0\3\xc8zz", 7);  // type 200
  asio::write(s, asio::buffer(garbage));
  EXPECT_NE(ev_.wait_for("server down: bad frame from peer: frame at stream offset 0: unknown "
                         "frame type 200"),
            "")
      << ev_.all();
  // The peer is told why before the close.
  std::string got;
  boost::system::error_code ec;
  char buf[512];
  while (!ec) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
  }
  EXPECT_NE(got.find("bad frame"), std::string::npos) << got;
  expect_server_still_accepts();
}

TEST_F(Fixture, OversizedFrameIsRefusedLocally) {
  ConnectionOptions o = options("client", 2, ev_);
  o.max_frame = 64 * 1024;
  dial(pki_->node("client"), o);
  ASSERT_NE(ev_.wait_for("client up"), "") << ev_.all();
  Send big{1, 2, 3, 0, std::string(64 * 1024, 'x')};
  EXPECT_EQ(loop_.run([&] { return client_->send(big); }), SendResult::kTooLarge);
  EXPECT_EQ(loop_.run([&] { return client_->send_control(big); }), SendResult::kTooLarge);
  big.payload.resize(1000);
  EXPECT_EQ(loop_.run([&] { return client_->send(big); }), SendResult::kOk);
  EXPECT_NE(ev_.wait_for("server got SEND"), "") << ev_.all();
  EXPECT_EQ(ev_.count("down"), 0u) << ev_.all();
}

TEST_F(Fixture, HeartbeatTimeoutDeclaresDownWithinTwoTicks) {
  dial(pki_->node("client"), options("client", 2, ev_));
  ASSERT_NE(ev_.wait_for("server up"), "") << ev_.all();
  ASSERT_NE(ev_.wait_for("client up"), "") << ev_.all();
  // Several ticks of idle traffic keep the connection up (TICKs flow).
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(ev_.count("down"), 0u) << ev_.all();
  auto t0 = std::chrono::steady_clock::now();
  loop_.run([this] {
    client_->silence();
    return 0;
  });
  std::string line = ev_.wait_for("server down: heartbeat timeout");
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_NE(line, "") << ev_.all();
  // Bound: 7/4 ticks by design; 2 ticks (200 ms) is the promise, plus 50 ms
  // for the loop thread to be scheduled under sanitizers.
  EXPECT_LT(elapsed, 250ms)
      << "detected after " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
      << " ms";
  EXPECT_NE(ev_.wait_for("client down: heartbeat timeout"), "") << ev_.all();
}

TEST_F(Fixture, SendBlocksWhenThePeerDoesNotReadThenDrains) {
  server_opt_ = options("server", 1, ev_, 10s);
  ConnectionOptions o = options("client", 2, ev_, 10s);
  o.send_limit = 64 * 1024;
  dial(pki_->node("client"), o);
  ASSERT_NE(ev_.wait_for("server up"), "") << ev_.all();
  ASSERT_NE(ev_.wait_for("client up"), "") << ev_.all();
  auto srv = server();
  std::string chunk(16 * 1024, 'p');
  struct Outcome {
    int sent = 0;
    SendResult last = SendResult::kOk;
    size_t buffered = 0;
  };
  Outcome out = loop_.run([&] {
    srv->hold_reads(true);
    Outcome o;
    // The kernel's socket buffers absorb some, then our buffer fills.
    while (o.sent < 100000 &&
           (o.last = client_->send(Send{1, 2, 3, 0, chunk})) == SendResult::kOk) {
      ++o.sent;
    }
    o.buffered = client_->buffered();
    return o;
  });
  int sent = out.sent;
  std::pair<SendResult, size_t> state{out.last, out.buffered};
  ASSERT_LT(sent, 100000) << "send never blocked";
  EXPECT_EQ(state.first, SendResult::kWouldBlock);
  EXPECT_GE(state.second, o.send_limit);
  EXPECT_LT(state.second, o.send_limit + chunk.size() + 64);
  // Control frames still pass the data limit.
  EXPECT_EQ(loop_.run([&] { return client_->send_control(Link{1, 2}); }), SendResult::kOk);
  loop_.run([&] {
    srv->hold_reads(false);
    return 0;
  });
  EXPECT_NE(ev_.wait_for("client drain"), "") << ev_.all();
  EXPECT_EQ(loop_.run([&] { return client_->send(Send{1, 2, 3, 0, "after"}); }), SendResult::kOk);
  EXPECT_NE(ev_.wait_for("server got SEND after"), "") << ev_.all();
  EXPECT_EQ(ev_.count("down"), 0u) << ev_.all();
}

TEST_F(Fixture, ControlFramesBeyondFourTimesTheLimitDeclareThePeerDown) {
  server_opt_ = options("server", 1, ev_, 10s);
  ConnectionOptions o = options("client", 2, ev_, 10s);
  o.send_limit = 16 * 1024;
  dial(pki_->node("client"), o);
  ASSERT_NE(ev_.wait_for("server up"), "") << ev_.all();
  ASSERT_NE(ev_.wait_for("client up"), "") << ev_.all();
  auto srv = server();
  auto result = loop_.run([&] {
    srv->hold_reads(true);
    size_t max_buffered = 0;
    for (int i = 0; i < 1000000; ++i) {
      auto r = client_->send_control(Exit{1, 2, 3, std::string(4096, 'e'), true});
      if (r != SendResult::kOk) {
        return std::make_pair(r, max_buffered);
      }
      max_buffered = std::max(max_buffered, client_->buffered());
    }
    return std::make_pair(SendResult::kOk, max_buffered);
  });
  EXPECT_EQ(result.first, SendResult::kDown);
  EXPECT_LT(result.second, 4 * o.send_limit + 4096 + 64);
  EXPECT_NE(ev_.wait_for("client down: send buffer above 65536 bytes: the peer is not reading"), "")
      << ev_.all();
}

}  // namespace
}  // namespace rusm::cluster
