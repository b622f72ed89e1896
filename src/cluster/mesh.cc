#include "cluster/mesh.h"

#include <algorithm>
#include <cstdio>

#include <boost/asio/post.hpp>

namespace rusm::cluster {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

Result<HostPort> parse_address(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Error("address '" + address + "': expected host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  for (size_t i = colon + 1; i < address.size(); ++i) {
    char ch = address[i];
    if (ch < '0' || ch > '9' || port > 65535) {
      return Error("address '" + address + "': bad port");
    }
    port = port * 10 + static_cast<unsigned long>(ch - '0');
  }
  if (port == 0 || port > 65535) {
    return Error("address '" + address + "': port must be 1-65535");
  }
  return HostPort{host, static_cast<uint16_t>(port)};
}

}  // namespace

Result<std::shared_ptr<Mesh>> Mesh::create(asio::io_context& io, MeshOptions options,
                                           Callbacks callbacks) {
  if (options.name.empty()) {
    return Error("cluster: the node needs a name");
  }
  auto m = std::make_shared<Mesh>(io, std::move(options), std::move(callbacks));
  auto tls = make_tls_context(m->options_.tls);
  if (!tls) {
    return Error("cluster: " + tls.message());
  }
  m->tls_ = std::move(tls).value();
  if (Status s = m->listen(); !s) {
    return s.error();
  }
  for (const std::string& seed : m->options_.seeds) {
    if (Status s = m->add_target(seed, "", true); !s) {
      return Error("cluster seed: " + s.message());
    }
  }
  asio::post(io, [w = std::weak_ptr<Mesh>(m)] {
    auto m = w.lock();
    if (!m || m->stopped_) {
      return;
    }
    m->accept_next();
    for (auto& [address, t] : m->targets_) {
      m->maintain(t);
    }
  });
  return m;
}

Mesh::Mesh(asio::io_context& io, MeshOptions options, Callbacks callbacks)
    : io_(io), options_(std::move(options)), callbacks_(std::move(callbacks)), acceptor_(io) {}

Mesh::~Mesh() = default;

Status Mesh::listen() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options_.listen_host, ec);
  if (ec) {
    return Error("cluster listen: '" + options_.listen_host + "' is not an IP address");
  }
  tcp::endpoint ep(addr, options_.listen_port);
  std::string where = options_.listen_host + ":" + std::to_string(options_.listen_port);
  if (acceptor_.open(ep.protocol(), ec); ec) {
    return Error("cluster listen " + where + ": " + ec.message());
  }
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor_.bind(ep, ec); ec) {
    return Error("cluster listen " + where + ": " + ec.message());
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Error("cluster listen " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  advertise_ = options_.advertise.empty() ? options_.listen_host + ":" + std::to_string(port_)
                                          : options_.advertise;
  return Status::ok();
}

void Mesh::accept_next() {
  acceptor_.async_accept([w = weak_from_this()](const boost::system::error_code& ec,
                                                tcp::socket socket) {
    auto m = w.lock();
    if (!m || m->stopped_ || ec == asio::error::operation_aborted) {
      return;
    }
    if (!ec) {
      size_t pending = std::count_if(m->conns_.begin(), m->conns_.end(), [](const auto& c) {
        return c->role() == Connection::Role::kAcceptor && !c->up();
      });
      if (pending >= m->options_.max_pending) {
        m->log("too many connections in their handshake (" + std::to_string(pending) +
               "): closing a new one");
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        m->conns_.insert(Connection::accept(m->io_, m->tls_, std::move(socket),
                                            m->connection_options(), m->connection_callbacks()));
      }
    } else {
      m->log("accept failed: " + ec.message());
    }
    m->accept_next();
  });
}

ConnectionOptions Mesh::connection_options() const {
  ConnectionOptions o;
  o.node_name = options_.name;
  o.node_id = options_.node_id;
  o.creation = options_.creation;
  o.protocol_version = options_.protocol_version;
  o.tick = options_.tick;
  o.handshake_timeout = options_.handshake_timeout;
  o.busy_poll = options_.busy_poll;
  o.send_limit = options_.send_limit;
  o.max_frame = options_.max_frame;
  o.log = options_.log;
  return o;
}

Connection::Callbacks Mesh::connection_callbacks() {
  std::weak_ptr<Mesh> w = weak_from_this();
  Connection::Callbacks cb;
  cb.on_hello = [w](Connection& c, const Hello& h) -> std::optional<std::string> {
    auto m = w.lock();
    if (!m || m->stopped_) {
      return std::string("node is stopping");
    }
    return m->admit(c, h);
  };
  cb.on_up = [w](Connection& c, const Hello& h) {
    if (auto m = w.lock()) {
      m->on_up(c, h);
    }
  };
  cb.on_down = [w](Connection& c, const std::string& reason) {
    if (auto m = w.lock()) {
      m->on_down(c, reason);
    }
  };
  cb.on_frame = [w](Connection& c, Frame&& f) {
    if (auto m = w.lock()) {
      m->on_frame(c, std::move(f));
    }
  };
  cb.on_drain = [w](Connection& c) {
    auto m = w.lock();
    if (!m) {
      return;
    }
    auto it = m->peers_.find(c.peer().name);
    if (it != m->peers_.end() && it->second.conn.get() == &c && m->callbacks_.on_drain) {
      m->callbacks_.on_drain(it->first);
    }
  };
  return cb;
}

Status Mesh::add_target(const std::string& address, const std::string& name, bool seed) {
  Result<HostPort> hp = parse_address(address);
  if (!hp) {
    return hp.error();
  }
  auto [it, inserted] = targets_.try_emplace(address);
  Target& t = it->second;
  if (inserted) {
    t.address = address;
    t.timer = std::make_unique<asio::steady_timer>(io_);
  }
  t.seed = t.seed || seed;
  if (!name.empty()) {
    t.name = name;
  }
  return Status::ok();
}

void Mesh::maintain(Target& t) {
  if (stopped_ || t.conn || t.scheduled || t.address == advertise_) {
    return;
  }
  if (!t.name.empty() && (t.name == options_.name || silenced_.count(t.name) || is_up(t.name))) {
    return;
  }
  t.scheduled = true;
  t.timer->expires_after(t.backoff);
  t.timer->async_wait(
      [w = weak_from_this(), address = t.address](const boost::system::error_code& ec) {
        auto m = w.lock();
        if (!m || ec || m->stopped_) {
          return;
        }
        auto it = m->targets_.find(address);
        if (it == m->targets_.end()) {
          return;
        }
        it->second.scheduled = false;
        m->dial(it->second);
      });
}

void Mesh::dial(Target& t) {
  if (t.conn || (!t.name.empty() && (silenced_.count(t.name) || is_up(t.name)))) {
    return;
  }
  Result<HostPort> hp = parse_address(t.address);
  if (!hp) {
    return;
  }
  ConnectionOptions o = connection_options();
  // A peer that stays away would fill the log with one line per redial:
  // the first failure is logged, the rest until it comes up are not.
  o.log = [w = weak_from_this(), address = t.address](const std::string& line) {
    auto m = w.lock();
    if (!m) {
      return;
    }
    auto it = m->targets_.find(address);
    if (it == m->targets_.end() || it->second.failures == 0) {
      m->log(line);
    }
  };
  t.conn = Connection::dial(io_, tls_, hp->host, hp->port, o, connection_callbacks());
  conns_.insert(t.conn);
}

Mesh::Target* Mesh::target_of(const Connection& c) {
  for (auto& [address, t] : targets_) {
    if (t.conn.get() == &c) {
      return &t;
    }
  }
  return nullptr;
}

std::shared_ptr<Connection> Mesh::find_conn(const Connection& c) {
  for (const auto& sp : conns_) {
    if (sp.get() == &c) {
      return sp;
    }
  }
  return nullptr;
}

bool Mesh::preferred(const Connection& c) const {
  // True when `c` was dialled by the smaller of the two names.
  const std::string& peer = c.peer().name;
  bool we_are_smaller = options_.name < peer;
  return (c.role() == Connection::Role::kDialer) == we_are_smaller;
}

std::optional<std::string> Mesh::admit(Connection& c, const Hello& h) {
  if (c.is_operator()) {
    return admit_operator(c, h);
  }
  if (Target* t = target_of(c)) {
    t->name = h.name;  // a seed's name, now known: no redial while that node is up
  }
  if (h.name == options_.name) {
    return "node name '" + h.name + "' is this node's own name";
  }
  if (h.node_id == options_.node_id) {
    return "node id " + std::to_string(h.node_id) + " is this node's own id ('" + options_.name +
           "')";
  }
  if (silenced_.count(h.name)) {
    return "partitioned from '" + h.name + "' (test hook)";
  }
  for (const auto& [name, p] : peers_) {
    if (name != h.name && p.conn && p.node_id == h.node_id) {
      return "node id " + std::to_string(h.node_id) + " is already used by peer '" + name + "'";
    }
  }
  bool we_are_smaller = options_.name < h.name;
  bool c_preferred = (c.role() == Connection::Role::kDialer) == we_are_smaller;
  const std::string& keeper = we_are_smaller ? options_.name : h.name;
  auto it = peers_.find(h.name);
  if (it != peers_.end() && it->second.conn && it->second.conn.get() != &c) {
    const Connection& existing = *it->second.conn;
    if (existing.peer().creation == h.creation && !(c_preferred && !preferred(existing))) {
      return "already connected to '" + h.name + "' (keeping the connection dialled by '" + keeper +
             "')";
    }
  }
  if (c.role() == Connection::Role::kAcceptor) {
    // Our own dial to the same node may be in flight: keep the preferred one.
    for (auto& [address, t] : targets_) {
      if (t.name != h.name || !t.conn || t.conn.get() == &c || t.conn->up()) {
        continue;
      }
      if (!c_preferred) {
        return "simultaneous dial: keeping the connection dialled by '" + keeper + "'";
      }
      auto old = std::move(t.conn);
      t.conn.reset();
      conns_.erase(old);
      old->detach();
      old->close("simultaneous dial: keeping the connection dialled by '" + keeper + "'");
    }
  }
  return std::nullopt;
}

std::optional<std::string> Mesh::admit_operator(Connection& c, const Hello&) {
  if (c.role() != Connection::Role::kAcceptor) {
    return std::string("a node does not dial operators");
  }
  if (operators_closed_) {
    return std::string("node is stopping");
  }
  if (!options_.attach_shell) {
    return std::string("this node does not accept attach");
  }
  if (operators_.size() >= options_.max_operators) {
    return "too many operators attached (" + std::to_string(operators_.size()) +
           ", the most this node takes); try again later";
  }
  // Lines are short: a frame far above the longest line is not buffered.
  c.limit_incoming_frames(static_cast<uint32_t>(4 * kMaxAttachLine));
  return std::nullopt;
}

void Mesh::operator_up(Connection& c) {
  std::shared_ptr<Connection> sp = find_conn(c);
  if (!sp) {
    return;
  }
  reap_sessions();
  AttachShell shell = options_.attach_shell();
  // Answers are made on the session's thread and sent from this one, where
  // the connection lives; a connection gone meanwhile drops them.
  // Answers are bounded by the session's queue (at most kMaxAttachQueue are
  // outstanding) and streamed output by the backlog check, so control sends
  // (never refused for a full buffer) cannot grow without bound.
  auto session = std::make_shared<std::weak_ptr<AttachSession>>();
  auto deliver = [&io = io_, w = std::weak_ptr<Connection>(sp), session](Frame&& frame) {
    asio::post(io, [w, session, frame = std::move(frame)] {
      if (auto conn = w.lock()) {
        conn->send_control(frame);
        if (conn->buffered() > kMaxAttachStreamBacklog) {
          if (auto s = session->lock()) {
            s->congested();
          }
        }
      }
    });
  };
  auto made = std::make_shared<AttachSession>(std::move(shell), deliver);
  *session = made;
  operators_[&c] = Operator{sp, std::move(made)};
  log("operator '" + c.peer().name + "' attached from " + c.remote_address() + " (" +
      std::to_string(operators_.size()) + " attached)");
}

void Mesh::operator_frame(Connection& c, Frame&& f) {
  auto it = operators_.find(&c);
  if (it == operators_.end()) {
    return;
  }
  if (auto* cancel = std::get_if<ShellCancel>(&f)) {
    it->second.session->cancel(cancel->id);
    return;
  }
  auto* line = std::get_if<ShellLine>(&f);
  if (line == nullptr) {
    c.refuse(
        "protocol error: an operator's connection carries SHELL_LINE and SHELL_CANCEL "
        "frames only, not " +
        frame_type_name(static_cast<uint8_t>(type_of(f))));
    return;
  }
  if (!it->second.session->submit(std::move(*line))) {
    c.refuse("more than " + std::to_string(kMaxAttachQueue) +
             " lines waiting for their answers; wait for the answers before sending more");
  }
}

void Mesh::reap_sessions() {
  std::erase_if(retired_, [](const std::shared_ptr<AttachSession>& s) { return s->finished(); });
}

std::vector<std::shared_ptr<AttachSession>> Mesh::close_operators() {
  operators_closed_ = true;
  std::vector<std::shared_ptr<Connection>> conns;
  for (auto& [key, op] : operators_) {
    conns.push_back(op.conn);
  }
  for (auto& conn : conns) {
    conn->close("node stopping");  // on_down moves its session to retired_
  }
  auto out = std::move(retired_);
  retired_.clear();
  return out;
}

void Mesh::on_up(Connection& c, const Hello& h) {
  if (c.is_operator()) {
    operator_up(c);
    return;
  }
  std::shared_ptr<Connection> sp = find_conn(c);
  if (!sp) {
    return;
  }
  Peer& p = peers_[h.name];
  p.name = h.name;
  bool silent = false;
  if (p.conn && p.conn != sp) {
    auto old = p.conn;
    bool same_incarnation = old->peer().creation == h.creation;
    p.conn = sp;
    conns_.erase(old);
    old->detach();
    old->close(same_incarnation ? "replaced by the preferred connection of a simultaneous dial"
                                : "replaced by a new incarnation of the node");
    if (same_incarnation) {
      silent = true;
    } else if (callbacks_.on_node_down) {
      callbacks_.on_node_down(h.name, "replaced by a new incarnation of the node");
    }
  }
  p.conn = sp;
  p.node_id = h.node_id;
  p.creation = h.creation;
  if (Target* t = target_of(c)) {
    t->name = h.name;
    t->backoff = options_.backoff_initial;
    t->failures = 0;
    t->conn.reset();
  }
  c.send_control(gossip());
  if (!silent && callbacks_.on_node_up) {
    callbacks_.on_node_up(info(p));
  }
}

void Mesh::on_down(Connection& c, const std::string& reason) {
  std::shared_ptr<Connection> sp = find_conn(c);
  if (sp) {
    conns_.erase(sp);
  }
  if (auto op = operators_.find(&c); op != operators_.end()) {
    op->second.session->stop();
    retired_.push_back(std::move(op->second.session));
    operators_.erase(op);
    log("operator '" + c.peer().name + "' (" + c.remote_address() + ") left: " + reason);
    reap_sessions();
    return;
  }
  if (stopped_) {
    return;
  }
  if (Target* t = target_of(c)) {
    t->conn.reset();
    t->backoff = t->backoff.count() == 0 ? options_.backoff_initial
                                         : std::min(t->backoff * 2, options_.backoff_max);
    if (++t->failures == 1 && !stopped_) {
      log("will keep dialling " + t->address + " with backoff (up to " +
          std::to_string(options_.backoff_max.count()) +
          " ms); further failures are not logged until it is up");
    }
    maintain(*t);
  }
  const std::string& name = c.peer().name;
  auto it = peers_.find(name);
  if (name.empty() || it == peers_.end() || it->second.conn.get() != &c) {
    return;
  }
  it->second.conn.reset();
  if (callbacks_.on_node_down) {
    callbacks_.on_node_down(name, reason);
  }
  for (auto& [address, t] : targets_) {
    if (t.name == name) {
      t.backoff = options_.backoff_initial;
      maintain(t);
    }
  }
}

void Mesh::on_frame(Connection& c, Frame&& f) {
  if (c.is_operator()) {
    operator_frame(c, std::move(f));
    return;
  }
  if (std::holds_alternative<ShellLine>(f) || std::holds_alternative<ShellResult>(f) ||
      std::holds_alternative<ShellOutput>(f) || std::holds_alternative<ShellCancel>(f)) {
    log("dropped a " + frame_type_name(static_cast<uint8_t>(type_of(f))) + " frame from peer '" +
        c.peer().name + "': only an operator's connection carries it");
    return;
  }
  const std::string& name = c.peer().name;
  auto it = peers_.find(name);
  if (it == peers_.end() || it->second.conn.get() != &c) {
    return;  // a connection being replaced
  }
  if (auto* p = std::get_if<Peers>(&f)) {
    learn(name, *p);
    return;
  }
  if (callbacks_.on_frame) {
    callbacks_.on_frame(name, std::move(f));
  }
}

void Mesh::learn(const std::string& from, const Peers& gossiped) {
  for (const PeerEntry& e : gossiped.peers) {
    if (e.name.empty() || e.name == options_.name || e.address.empty()) {
      continue;
    }
    if (!parse_address(e.address)) {
      log("peer '" + from + "' gossiped a bad address for '" + e.name + "': " + e.address);
      continue;
    }
    if (e.name == from) {
      // The sender's own listen address: remember it, and tell the others.
      auto it = peers_.find(from);
      if (it != peers_.end() && it->second.address != e.address) {
        it->second.address = e.address;
        Peers one{{e}};
        for (auto& [name, p] : peers_) {
          if (name != from && p.conn && p.conn->up()) {
            p.conn->send_control(one);
          }
        }
      }
    }
    if (add_target(e.address, e.name, false)) {
      maintain(targets_[e.address]);
    }
  }
}

Peers Mesh::gossip() const {
  Peers out;
  out.peers.push_back({options_.name, advertise_});
  for (const auto& [name, p] : peers_) {
    if (p.conn && !p.address.empty()) {
      out.peers.push_back({name, p.address});
    }
  }
  return out;
}

PeerInfo Mesh::info(const Peer& p) const {
  PeerInfo i;
  i.name = p.name;
  i.node_id = p.node_id;
  i.creation = p.creation;
  i.address = p.address;
  i.up = p.conn && p.conn->up();
  if (p.conn) {
    i.stats = p.conn->stats();
  }
  return i;
}

Mesh::SendResult Mesh::send(const std::string& peer, const Frame& frame) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.conn) {
    return SendResult::kDown;
  }
  return it->second.conn->send(frame);
}

Mesh::SendResult Mesh::send_control(const std::string& peer, const Frame& frame) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.conn) {
    return SendResult::kDown;
  }
  return it->second.conn->send_control(frame);
}

void Mesh::flush(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.conn) {
    it->second.conn->flush_now();
  }
}

std::vector<PeerInfo> Mesh::peers() const {
  std::vector<PeerInfo> out;
  for (const auto& [name, p] : peers_) {
    out.push_back(info(p));
  }
  return out;
}

bool Mesh::is_up(const std::string& peer) const {
  auto it = peers_.find(peer);
  return it != peers_.end() && it->second.conn && it->second.conn->up();
}

Status Mesh::connect(const std::string& address) {
  if (Status s = add_target(address, "", true); !s) {
    return s;
  }
  maintain(targets_[address]);
  return Status::ok();
}

void Mesh::silence(const std::string& peer) {
  silenced_.insert(peer);
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.conn) {
    it->second.conn->silence();
  }
}

void Mesh::resume(const std::string& peer) {
  silenced_.erase(peer);
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.conn) {
    it->second.conn->resume();
  }
  for (auto& [address, t] : targets_) {
    if (t.name == peer) {
      t.backoff = std::chrono::milliseconds(0);
      maintain(t);
    }
  }
}

void Mesh::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  operators_closed_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& [address, t] : targets_) {
    t.timer->cancel();
    t.conn.reset();
  }
  auto conns = std::move(conns_);
  conns_.clear();
  for (const auto& c : conns) {
    c->detach();
    c->close("node stopping");
  }
  for (auto& [name, p] : peers_) {
    p.conn.reset();
  }
  // The connections are closed (detached: on_down did not run for them);
  // their sessions finish the line they are answering.
  std::vector<std::shared_ptr<AttachSession>> sessions = std::move(retired_);
  retired_.clear();
  for (auto& [key, op] : operators_) {
    sessions.push_back(std::move(op.session));
  }
  operators_.clear();
  for (auto& s : sessions) {
    s->stop();
    s->join();
  }
}

void Mesh::log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "rusm cluster: %s\n", line.c_str());
  }
}

}  // namespace rusm::cluster
