#include "cluster/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "rusm/otp/node.h"

namespace rusm::cluster {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Bytes asked of each read. Big enough that a busy peer's coalesced writes
// arrive in few reads; the decoder buffer grows beyond it only for frames
// larger than this.
constexpr size_t kReadChunk = 64 * 1024;
// How long a REFUSE may take to flush before the socket is closed anyway.
constexpr std::chrono::milliseconds kRefuseFlush{500};

std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

Status readable(const char* what, const std::string& path) {
  if (path.empty()) {
    return Error(std::string(what) + ": no file given");
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return Error(std::string(what) + ": " + path + ": cannot be read");
  }
  return Status::ok();
}

// The names a certificate vouches for: its SAN DNS names, or its subject CN
// when it has no SAN DNS name.
std::vector<std::string> cert_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const ASN1_STRING* s = gn->d.dNSName;
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    X509_NAME* subject = X509_get_subject_name(cert);
    int i = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (i >= 0) {
      const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += out.empty() ? "" : ", ";
    out += "'" + s + "'";
  }
  return out.empty() ? "none" : out;
}

long long ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const TlsFiles& files) {
  if (Status s = readable("cluster CA", files.ca_file); !s) {
    return s.error();
  }
  if (Status s = readable("node certificate", files.cert_file); !s) {
    return s.error();
  }
  if (Status s = readable("node key", files.key_file); !s) {
    return s.error();
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  SSL_CTX* c = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(c, 0);
  if (SSL_CTX_use_certificate_chain_file(c, files.cert_file.c_str()) != 1) {
    return Error("node certificate: " + files.cert_file + ": not a usable PEM certificate (" +
                 ssl_errors() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(c, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error("node key: " + files.key_file + ": not a usable PEM private key (" + ssl_errors() +
                 ")");
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return Error("node key: " + files.key_file + ": does not match the certificate in " +
                 files.cert_file);
  }
  if (SSL_CTX_load_verify_locations(c, files.ca_file.c_str(), nullptr) != 1) {
    return Error("cluster CA: " + files.ca_file + ": not a usable PEM CA certificate (" +
                 ssl_errors() + ")");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

const char* to_string(Connection::State s) {
  switch (s) {
    case Connection::State::kConnecting:
      return "connecting";
    case Connection::State::kTls:
      return "tls";
    case Connection::State::kHello:
      return "hello";
    case Connection::State::kUp:
      return "up";
    case Connection::State::kDown:
      return "down";
  }
  return "?";
}

Connection::Connection(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls,
                       tcp::socket socket, Role role, ConnectionOptions options,
                       Callbacks callbacks)
    : tls_(std::move(tls)),
      stream_(std::move(socket), *tls_),
      resolver_(io),
      timer_(io),
      role_(role),
      state_(role == Role::kDialer ? State::kConnecting : State::kTls),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      decoder_(options_.max_frame),
      started_(Clock::now()),
      last_sent_(started_),
      last_received_(started_) {}

Connection::~Connection() = default;

std::shared_ptr<Connection> Connection::dial(asio::io_context& io,
                                             std::shared_ptr<asio::ssl::context> tls,
                                             std::string host, uint16_t port,
                                             ConnectionOptions options, Callbacks callbacks) {
  auto c = std::make_shared<Connection>(io, std::move(tls), tcp::socket(io), Role::kDialer,
                                        std::move(options), std::move(callbacks));
  c->remote_ = host + ":" + std::to_string(port);
  asio::post(io, [c, host = std::move(host), port]() mutable {
    if (c->state_ == State::kDown) {
      return;
    }
    c->arm_timer();
    c->start_dial(std::move(host), port);
  });
  return c;
}

std::shared_ptr<Connection> Connection::accept(asio::io_context& io,
                                               std::shared_ptr<asio::ssl::context> tls,
                                               tcp::socket socket, ConnectionOptions options,
                                               Callbacks callbacks) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  socket.set_option(tcp::no_delay(true), ec);
  auto c = std::make_shared<Connection>(io, std::move(tls), std::move(socket), Role::kAcceptor,
                                        std::move(options), std::move(callbacks));
  c->remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  asio::post(io, [c] {
    if (c->state_ == State::kDown) {
      return;
    }
    c->arm_timer();
    c->start_tls();
  });
  return c;
}

void Connection::start_dial(std::string host, uint16_t port) {
  resolver_.async_resolve(
      host, std::to_string(port),
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  tcp::resolver::results_type results) {
        if (self->state_ == State::kDown) {
          return;
        }
        if (ec) {
          self->fail("cannot resolve " + self->remote_ + ": " + ec.message());
          return;
        }
        asio::async_connect(
            self->stream_.lowest_layer(), results,
            [self](const boost::system::error_code& ec, const tcp::endpoint&) {
              if (self->state_ == State::kDown) {
                return;
              }
              if (ec) {
                self->fail("cannot connect to " + self->remote_ + ": " + ec.message());
                return;
              }
              boost::system::error_code ignored;
              self->stream_.lowest_layer().set_option(tcp::no_delay(true), ignored);
              self->start_tls();
            });
      });
}

void Connection::start_tls() {
  state_ = State::kTls;
  stream_.async_handshake(
      role_ == Role::kDialer ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      [self = shared_from_this()](const boost::system::error_code& ec) {
        if (self->state_ == State::kDown) {
          return;
        }
        if (ec) {
          std::string why = "TLS handshake failed: " + ec.message();
          long v = SSL_get_verify_result(self->stream_.native_handle());
          if (v != X509_V_OK) {
            why += std::string(" (peer certificate: ") + X509_verify_cert_error_string(v) + ")";
          }
          self->fail(why);
          return;
        }
        self->on_tls_done();
      });
}

void Connection::on_tls_done() {
  X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
  if (cert == nullptr) {
    fail("TLS handshake completed without a peer certificate");
    return;
  }
  cert_names_ = cert_names(cert);
  X509_free(cert);
  state_ = State::kHello;
  if (role_ == Role::kDialer) {
    queue(Hello{options_.protocol_version, options_.node_name, options_.node_id, options_.creation,
                options_.flags});
  }
  start_read();
}

void Connection::start_read() {
  if (reading_ || hold_reads_ || state_ == State::kDown || state_ < State::kHello) {
    return;
  }
  reading_ = true;
  char* p = decoder_.prepare(kReadChunk);
  stream_.async_read_some(
      asio::buffer(p, kReadChunk),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        self->reading_ = false;
        if (self->state_ == State::kDown) {
          return;
        }
        if (ec && self->silenced_) {
          // A partition hides the peer's close too: stop reading and let
          // the heartbeat declare the peer down.
          self->discarded_ = true;
          return;
        }
        if (ec) {
          if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            self->fail("peer closed the connection");
          } else {
            self->fail("read failed: " + ec.message());
          }
          return;
        }
        self->on_read(n);
      });
}

void Connection::on_read(size_t n) {
  stats_.bytes_in += n;
  if (silenced_) {
    discarded_ = discarded_ || n > 0;
    start_read();
    return;
  }
  decoder_.commit(n);
  last_received_ = Clock::now();
  // The node's workers wake once for the frames of this read, not per frame.
  otp::DeferWakeups burst;
  while (state_ != State::kDown) {
    Result<std::optional<Frame>> r = decoder_.next();
    if (!r) {
      fail("bad frame from peer: " + r.message(), "bad frame: " + r.message());
      return;
    }
    if (!r->has_value()) {
      break;
    }
    ++stats_.frames_in;
    handle(std::move(**r));
  }
  start_read();
  keep_polling(last_received_);
}

void Connection::handle(Frame&& f) {
  if (auto* refuse = std::get_if<Refuse>(&f)) {
    fail("refused by peer: " + refuse->reason);
    return;
  }
  if (state_ == State::kHello) {
    if (auto* hello = std::get_if<Hello>(&f)) {
      check_hello(*hello);
    } else {
      std::string why =
          "protocol error: " + frame_type_name(static_cast<uint8_t>(type_of(f))) + " before HELLO";
      fail(why, why);
    }
    return;
  }
  if (std::holds_alternative<Tick>(f)) {
    if (options_.echo_ticks && buffered() == 0) {
      queue(Tick{});
    }
    return;
  }
  if (std::holds_alternative<Hello>(f)) {
    fail("protocol error: a second HELLO", "protocol error: a second HELLO");
    return;
  }
  if (callbacks_.on_frame && !detached_) {
    callbacks_.on_frame(*this, std::move(f));
  }
}

void Connection::check_hello(const Hello& h) {
  if (h.version != options_.protocol_version) {
    std::string why = "protocol version " + std::to_string(h.version) + ", this node speaks " +
                      std::to_string(options_.protocol_version);
    fail("refusing node '" + h.name + "': " + why, why);
    return;
  }
  if (h.name.empty() ||
      std::find(cert_names_.begin(), cert_names_.end(), h.name) == cert_names_.end()) {
    std::string why = "node name '" + h.name +
                      "' does not match its certificate (names: " + join(cert_names_) + ")";
    fail("refusing a peer: " + why, why);
    return;
  }
  bool op = (h.flags & kHelloOperator) != 0;
  if (role_ == Role::kAcceptor && op != (h.node_id == 0)) {
    std::string why =
        op ? "an operator's HELLO must carry node id 0, not " + std::to_string(h.node_id)
           : "node id 0 is not a node's id (an operator sets kHelloOperator)";
    fail("refusing '" + h.name + "': " + why, why);
    return;
  }
  if (role_ == Role::kDialer) {
    bool asked = (options_.flags & kHelloOperator) != 0;
    std::optional<std::string> why;
    if (h.node_id == 0) {
      why = "node id 0 is not a node's id";
    } else if (asked && !op) {
      why = "node '" + h.name + "' answered as to a peer node: it does not accept attach";
    } else if (!asked && op) {
      why = "node '" + h.name + "' answered as to an operator, not as to a node";
    }
    if (why) {
      fail("refusing node '" + h.name + "': " + *why, *why);
      return;
    }
  }
  // From here on is_operator() tells the owner's callbacks what this is.
  peer_ = h;
  if (callbacks_.on_hello && !detached_) {
    if (std::optional<std::string> why = callbacks_.on_hello(*this, h)) {
      fail("refusing node '" + h.name + "': " + *why, *why);
      return;
    }
    if (state_ == State::kDown) {
      return;
    }
  }
  if (role_ == Role::kAcceptor) {
    queue(Hello{options_.protocol_version, options_.node_name, options_.node_id, options_.creation,
                options_.flags | (h.flags & kHelloOperator)});
  }
  go_up();
}

void Connection::go_up() {
  state_ = State::kUp;
  last_received_ = Clock::now();
  if (callbacks_.on_up && !detached_) {
    callbacks_.on_up(*this, peer_);
  }
}

Connection::SendResult Connection::send(const Frame& frame) {
  if (state_ != State::kUp) {
    return SendResult::kDown;
  }
  if (encoded_size(frame) - 4 > options_.max_frame) {
    return SendResult::kTooLarge;
  }
  if (buffered() >= options_.send_limit) {
    want_drain_ = true;
    return SendResult::kWouldBlock;
  }
  queue(frame);
  return SendResult::kOk;
}

Connection::SendResult Connection::send_control(const Frame& frame) {
  if (state_ != State::kUp) {
    return SendResult::kDown;
  }
  if (encoded_size(frame) - 4 > options_.max_frame) {
    return SendResult::kTooLarge;
  }
  if (buffered() >= 4 * options_.send_limit) {
    fail("send buffer above " + std::to_string(4 * options_.send_limit) +
         " bytes: the peer is not reading");
    return SendResult::kDown;
  }
  queue(frame);
  return SendResult::kOk;
}

void Connection::queue(const Frame& f) {
  encode(f, out_);
  ++stats_.frames_out;
  last_sent_ = Clock::now();
  schedule_flush();
  keep_polling(last_sent_);
}

void Connection::keep_polling(Clock::time_point now) {
  if (options_.busy_poll.count() <= 0 || state_ != State::kUp) {
    return;
  }
  poll_until_ = now + options_.busy_poll;
  if (!polling_) {
    polling_ = true;
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->poll_once(); });
  }
}

void Connection::poll_once() {
  // While this handler is queued the io loop polls its sockets (epoll with
  // no timeout) between handlers instead of blocking.
  if (state_ != State::kUp || Clock::now() >= poll_until_) {
    polling_ = false;
    return;
  }
  sched_yield();  // the node's worker, if it shares the core and has work
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->poll_once(); });
}

void Connection::schedule_flush() {
  // The write starts after the handlers already queued on the io thread
  // have run, so the frames they queue leave in the same TLS write (one
  // record, one sendto) instead of the first alone and the rest after it.
  if (writing_ || flush_posted_) {
    return;
  }
  flush_posted_ = true;
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

void Connection::flush() {
  if (writing_ || out_.empty() || silenced_ || state_ < State::kHello ||
      (state_ == State::kDown && !closing_)) {
    return;
  }
  std::swap(out_, wbuf_);
  writing_ = true;
  asio::async_write(stream_, asio::buffer(wbuf_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                      self->writing_ = false;
                      self->wbuf_.clear();
                      self->stats_.bytes_out += n;
                      if (self->closing_) {
                        if (ec || self->out_.empty()) {
                          self->close_socket();
                        } else {
                          self->flush();
                        }
                        return;
                      }
                      if (self->state_ == State::kDown) {
                        return;
                      }
                      if (ec) {
                        self->fail("write failed: " + ec.message());
                        return;
                      }
                      self->flush();
                      if (self->want_drain_ && self->buffered() < self->options_.send_limit) {
                        self->want_drain_ = false;
                        if (self->callbacks_.on_drain && !self->detached_) {
                          self->callbacks_.on_drain(*self);
                        }
                      }
                    });
}

void Connection::arm_timer() {
  auto period =
      std::max<std::chrono::milliseconds>(options_.tick / 4, std::chrono::milliseconds(1));
  timer_.expires_after(period);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->state_ == State::kDown) {
      return;
    }
    self->on_timer();
  });
}

void Connection::on_timer() {
  auto now = Clock::now();
  if (state_ != State::kUp) {
    if (now - started_ > options_.handshake_timeout) {
      fail("handshake timed out after " + std::to_string(ms(now - started_)) + " ms (state " +
           to_string(state_) + ")");
      return;
    }
    arm_timer();
    return;
  }
  if (now - last_received_ > options_.tick * 3 / 2) {
    fail("heartbeat timeout: nothing received for " + std::to_string(ms(now - last_received_)) +
         " ms (tick " + std::to_string(options_.tick.count()) + " ms)");
    return;
  }
  if (!silenced_ && buffered() == 0 && now - last_sent_ >= options_.tick / 4) {
    queue(Tick{});
  }
  arm_timer();
}

void Connection::fail(const std::string& reason, std::optional<std::string> refuse) {
  if (state_ == State::kDown) {
    return;
  }
  State was = state_;
  state_ = State::kDown;
  log(who() + ": " + reason);
  timer_.cancel();
  resolver_.cancel();
  if (refuse && was >= State::kHello && !silenced_) {
    // Tell the peer why, then close: the write path closes the socket once
    // the REFUSE is out, and the timer bounds how long that may take.
    out_.clear();
    encode(Refuse{*refuse}, out_);
    closing_ = true;
    flush();
    timer_.expires_after(kRefuseFlush);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->closing_) {
        self->close_socket();
      }
    });
  } else if (silenced_) {
    // A simulated partition: the peer must find out by its own heartbeat,
    // not by our close, so the socket stays open for two more ticks.
    timer_.expires_after(options_.tick * 2);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) {
        self->close_socket();
      }
    });
  } else {
    close_socket();
  }
  // Only on_down is taken out: fail() may run inside another callback,
  // which must not be destroyed under its own feet; the others are gated on
  // the state from now on.
  auto on_down = std::move(callbacks_.on_down);
  callbacks_.on_down = nullptr;
  if (on_down && !detached_) {
    on_down(*this, reason);
  }
}

void Connection::close_socket() {
  closing_ = false;
  boost::system::error_code ec;
  timer_.cancel();
  stream_.lowest_layer().close(ec);
}

void Connection::close(const std::string& reason) {
  fail(reason);
}

void Connection::refuse(const std::string& reason) {
  fail(reason, reason);
}

void Connection::detach() {
  detached_ = true;
}

void Connection::silence() {
  silenced_ = true;
}

void Connection::resume() {
  if (!silenced_) {
    return;
  }
  silenced_ = false;
  if (discarded_) {
    fail("bytes were discarded while silenced: the stream lost its framing");
    return;
  }
  flush();
}

void Connection::hold_reads(bool hold) {
  hold_reads_ = hold;
  if (!hold) {
    start_read();
  }
}

void Connection::log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "rusm cluster: %s\n", line.c_str());
  }
}

std::string Connection::who() const {
  std::string name = peer_.name.empty() ? "" : " '" + peer_.name + "'";
  return (role_ == Role::kDialer ? "connection to" : "connection from") + name + " " + remote_;
}

}  // namespace rusm::cluster
