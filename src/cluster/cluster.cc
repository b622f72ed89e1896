// Cluster: the otp::Router over a Mesh of TLS connections.
//
// Threads. Router calls come from any thread (workers running processes,
// outside threads); the Mesh and its connections live on the cluster's own
// io_context thread. A call checks the peer's slot (up? room in its send
// buffer?) on the caller's thread, then appends the frame to the slot's
// inbox, which the io thread takes whole (one post per burst, see Slot);
// the inbox keeps the order frames were queued in, which keeps Erlang's
// per-pair order. Frames the connection cannot take yet (its buffer is
// full) wait in the slot's backlog, in order, until it drains; the bytes in
// the inbox or waiting count against send_buffer_bytes, past which send()
// fails. Inbound frames are checked (the sender's pids must be of the peer's
// node, the receiver's of this node) and handed to the Node's remote_*
// entry points on the io thread.
//
// Remote spawn: a request waits in `pending` (by a ref of this cluster's)
// until its SPAWN_REPLY, the peer's going down, or stop(); exactly one of
// them calls its `done`. The answering node sends the reply from the child's
// SpawnOptions::before_start, on the io thread and straight into the peer's
// queue (not through a post, which asio could order after a worker's), so it
// leaves before anything the child does. Module bytes are loaded into the
// runtime as "sha256:HEX" (verified against the hash) and forgotten least
// recently used first.
//
// Global names: the Node keeps the replica and calls global_add / global_del
// / global_sync (under its global-name order lock, so frames of one name go
// out in order); they become GLOBAL_* control frames, to every up peer or to
// one. Inbound, a GLOBAL_ADD or GLOBAL_SYNC entry for a pid not of the
// sending peer's node, or a GLOBAL_ASK for a pid not of this node, is dropped
// with a log line; what the Node resolves against an older registration
// comes back as a local loser, which gets the conflict policy
// (ClusterOptions::global_conflict).
#include "rusm/cluster/cluster.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "cluster/etcd.h"
#include "cluster/frame.h"
#include "cluster/mesh.h"
#include "rusm/otp/node.h"
#include "rusm/otp/router.h"
#include "rusm/runtime/host.h"
#include "rusm/runtime/module_file.h"
#include "rusm/runtime/runtime.h"

namespace rusm::cluster {

namespace asio = boost::asio;
using otp::ExitReason;
using otp::Message;
using otp::MonitorRef;
using otp::Pid;

void use_certs_dir(ClusterOptions& options, const std::string& dir, const std::string& name) {
  options.ca_file = dir + "/ca.pem";
  options.cert_file = dir + "/" + name + ".pem";
  options.key_file = dir + "/" + name + ".key";
}

uint16_t node_id_for(std::string_view name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (char c : name) {
    h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  return static_cast<uint16_t>(1 + (h ^ (h >> 16)) % 65535);
}

namespace {

// A global name from a peer, fit for a log line: bytes outside printable
// ASCII become '?', and long names are cut.
std::string shown(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    out += c >= 0x20 && c < 0x7f ? c : '?';
  }
  return name.size() > 64 ? out + "..." : out;
}

// A frame on its way to a peer: posted by a caller, not yet given to the
// connection.
struct Outgoing {
  Frame frame;
  bool control = false;
  int64_t size = 0;  // encoded bytes, counted in Slot::queued
};

// One peer node, by id; shared between the callers' threads and the io
// thread. name/backlog/taken belong to the io thread.
//
// Callers append to `inbox` under inbox_mu; the one that finds it empty
// (no drain posted) posts a drain to the io thread, which takes the whole
// inbox at once. So a burst of sends costs one post and one wake-up of the
// io thread, and its frames reach the connection together (one TLS write).
struct Slot {
  uint16_t id = 0;
  std::string name;
  std::atomic<bool> up{false};
  std::atomic<int64_t> queued{0};  // bytes in the inbox or the backlog
  std::mutex inbox_mu;
  std::vector<Outgoing> inbox;  // guarded by inbox_mu, in the order queued
  bool drain_posted = false;    // guarded by inbox_mu
  std::vector<Outgoing> taken;  // io thread: the inbox being pushed (its capacity reused)
  std::deque<std::pair<Frame, bool>> backlog;  // (frame, control), io thread only
  // Hashes of the modules shipped to it since it came up (io thread): a
  // module goes once, however many spawns were waiting for it.
  std::unordered_set<std::string> modules_sent;
};

}  // namespace

struct Cluster::Impl : otp::Router, std::enable_shared_from_this<Cluster::Impl> {
  otp::Node& node;
  ClusterOptions options;
  // The loop the connections run on: the node's event loop
  // (ClusterOptions::io), or one of the cluster's own, run by `thread`.
  std::unique_ptr<asio::io_context> own_io;
  asio::io_context* io = nullptr;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::shared_ptr<Mesh> mesh;          // io thread (and start/stop while it is idle)
  std::unique_ptr<EtcdRegistry> etcd;  // global names in etcd (ClusterOptions::etcd), or null
  uint16_t port = 0;
  std::atomic<bool> stopped{false};

  mutable std::shared_mutex mu;  // guards the maps, not the slots' atomics
  std::unordered_map<uint16_t, std::shared_ptr<Slot>> by_id;
  std::map<std::string, std::shared_ptr<Slot>, std::less<>> by_name;
  // by_id without the lock, for the send path (see slot(id)): 256 pages of
  // 256 ids, each made (under mu) when one of its ids is first looked up.
  mutable std::array<std::atomic<std::atomic<Slot*>*>, 256> fast{};
  mutable std::vector<std::unique_ptr<std::atomic<Slot*>[]>> fast_pages;  // under mu

  // Remote spawns this node asked for (see above).
  struct PendingSpawn {
    runtime::RemoteSpawnRequest request;
    runtime::RemoteSpawnDone done;
    bool module_sent = false;  // this request shipped the module
    bool relied = false;       // it relied on a module another request shipped
  };
  std::mutex spawn_mu;
  std::unordered_map<uint64_t, PendingSpawn> pending;
  uint64_t next_spawn_ref = 1;
  static constexpr size_t kMaxPendingSpawns = 1 << 16;
  // Modules peers shipped here (io thread): hashes, least recently used first,
  // and the ones that failed to load (bounded) with why.
  std::deque<std::pair<std::string, size_t>> peer_modules;  // (hash, bytes)
  size_t peer_module_bytes = 0;                             // their sum
  std::map<std::string, std::string> bad_modules;

  // Observer snapshots asked of peers (Cluster::observe), by request id.
  struct PendingObserve {
    uint16_t node = 0;
    std::function<void(Result<std::string>)> done;
  };
  std::mutex observe_mu;
  std::unordered_map<uint32_t, PendingObserve> observing;
  uint32_t next_observe = 1;

  Impl(otp::Node& n, ClusterOptions o) : node(n), options(std::move(o)) {}

  void log(const std::string& line) const {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "rusm cluster %s: %s\n", node.name().c_str(), line.c_str());
    }
  }

  // The slot of node `id`, or null. Lock-free once the slot was looked up
  // once: slots are never removed, so a pointer published in `fast` stays
  // valid for the life of the Impl.
  Slot* slot(uint16_t id) const {
    std::atomic<Slot*>* page = fast[id >> 8].load(std::memory_order_acquire);
    if (page != nullptr) {
      if (Slot* s = page[id & 0xff].load(std::memory_order_acquire)) {
        return s;
      }
    }
    Slot* s = nullptr;
    {
      std::shared_lock lock(mu);  // a node never connected stays on this path
      auto it = by_id.find(id);
      if (it == by_id.end()) {
        return nullptr;
      }
      s = it->second.get();
    }
    std::unique_lock lock(mu);
    page = fast[id >> 8].load(std::memory_order_relaxed);
    if (page == nullptr) {
      fast_pages.push_back(std::make_unique<std::atomic<Slot*>[]>(256));
      page = fast_pages.back().get();
      fast[id >> 8].store(page, std::memory_order_release);
    }
    page[id & 0xff].store(s, std::memory_order_release);
    return s;
  }
  std::shared_ptr<Slot> slot(std::string_view name) const {
    std::shared_lock lock(mu);
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }

  static Error not_connected(uint16_t id) {
    return Error("not connected to node " + std::to_string(id));
  }

  // ---- Outbound (any thread) ------------------------------------------------

  // Queues f for node `id`. Data frames are refused past the send buffer.
  // Hot path (every remote send; bench: `rusm bench distributed-ping-pong`).
  Status queue(uint16_t id, Frame f, bool control) {
    Slot* s = slot(id);
    if (s == nullptr || !s->up.load(std::memory_order_acquire)) {
      return not_connected(id);
    }
    auto size = static_cast<int64_t>(encoded_size(f));
    if (!control && s->queued.load(std::memory_order_relaxed) + size >
                        static_cast<int64_t>(options.send_buffer_bytes)) {
      return Error("send buffer to node " + std::to_string(id) + " is full (" +
                   std::to_string(options.send_buffer_bytes) +
                   " bytes queued; the peer is not keeping up), retry later");
    }
    s->queued.fetch_add(size, std::memory_order_relaxed);
    bool post;
    {
      std::lock_guard<std::mutex> lock(s->inbox_mu);
      s->inbox.push_back(Outgoing{std::move(f), control, size});
      post = !std::exchange(s->drain_posted, true);
    }
    if (post) {
      asio::post(*io, [self = shared_from_this(), s] {
        {
          std::lock_guard<std::mutex> lock(s->inbox_mu);
          std::swap(s->inbox, s->taken);
          s->drain_posted = false;
        }
        for (Outgoing& o : s->taken) {
          self->push(*s, std::move(o.frame), o.control, o.size);
        }
        if (!s->taken.empty() && self->mesh) {
          self->mesh->flush(s->name);  // the whole burst is queued: no need to wait
        }
        s->taken.clear();
        if (s->taken.capacity() > 4096) {
          s->taken.shrink_to_fit();  // after a burst: keep no more than a usual one
        }
      });
    }
    return Status::ok();
  }

  Status send(Pid from, Pid to, Message m) override {
    return queue(to.node(), Send{from.bits(), to.bits(), m.tag(), m.ref(), std::string(m.text())},
                 false);
  }
  Status send_named(Pid from, uint16_t node_id, std::string name, Message m) override {
    return queue(node_id,
                 SendNamed{from.bits(), std::move(name), m.tag(), m.ref(), std::string(m.text())},
                 false);
  }
  void exit_signal(Pid from, Pid to, ExitReason r, bool linked) override {
    (void)queue(to.node(),
                Exit{from.bits(), to.bits(), static_cast<uint8_t>(r.kind()), r.detail(), linked},
                true);
  }
  Status link(Pid from, Pid to) override {
    return queue(to.node(), Link{from.bits(), to.bits()}, true);
  }
  void unlink(Pid from, Pid to) override {
    (void)queue(to.node(), Unlink{from.bits(), to.bits()}, true);
  }
  Status monitor(Pid from, Pid to, MonitorRef ref) override {
    return queue(to.node(), Monitor{from.bits(), to.bits(), ref}, true);
  }
  void demonitor(Pid from, Pid to, MonitorRef ref) override {
    (void)queue(to.node(), Demonitor{from.bits(), to.bits(), ref}, true);
  }
  void down(Pid from, Pid to, MonitorRef ref, ExitReason r) override {
    (void)queue(to.node(),
                Down{from.bits(), to.bits(), ref, static_cast<uint8_t>(r.kind()), r.detail()},
                true);
  }

  // The ids of the peers that are up now.
  std::vector<uint16_t> up_ids() const {
    std::vector<uint16_t> ids;
    std::shared_lock lock(mu);
    for (const auto& [id, s] : by_id) {
      if (s->up.load(std::memory_order_acquire)) {
        ids.push_back(id);
      }
    }
    return ids;
  }

  void global_add(const otp::GlobalName& g) override {
    if (g.pid.node() != node.id()) {
      (void)queue(g.pid.node(), GlobalAsk{g.name, g.pid.bits(), static_cast<uint64_t>(g.stamp)},
                  true);
      return;
    }
    for (uint16_t id : up_ids()) {
      (void)queue(id, GlobalAdd{g.name, g.pid.bits(), static_cast<uint64_t>(g.stamp)}, true);
    }
  }
  void global_del(std::string_view name, Pid pid) override {
    for (uint16_t id : up_ids()) {
      (void)queue(id, GlobalDel{std::string(name), pid.bits()}, true);
    }
  }
  otp::GlobalAuthority* global_authority() override { return etcd.get(); }

  // Topics: which topics have subscribers here goes to every peer as control
  // frames; a publish goes as one data frame per node with subscribers.
  void topic_join(std::string_view topic) override {
    for (uint16_t id : up_ids()) {
      (void)queue(id, TopicJoin{std::string(topic)}, true);
    }
  }
  void topic_leave(std::string_view topic) override {
    for (uint16_t id : up_ids()) {
      (void)queue(id, TopicLeave{std::string(topic)}, true);
    }
  }
  void topic_sync(uint16_t node_id, std::vector<std::string> topics) override {
    (void)queue(node_id, TopicSync{std::move(topics)}, true);
  }
  Status publish(Pid from, uint16_t node_id, std::string_view topic,
                 const otp::Message& m) override {
    return queue(node_id,
                 Publish{from.bits(), std::string(topic), m.tag(), m.ref(), std::string(m.text())},
                 false);
  }
  void global_sync(uint16_t node_id, std::vector<otp::GlobalName> names) override {
    GlobalSync f;
    f.names.reserve(names.size());
    for (otp::GlobalName& g : names) {
      f.names.push_back(
          GlobalEntry{std::move(g.name), g.pid.bits(), static_cast<uint64_t>(g.stamp)});
    }
    (void)queue(node_id, std::move(f), true);
  }

  // A local process lost `name` to an older registration (or, with etcd, to
  // another node's while this node's lease was gone).
  void global_loser(Pid loser, const std::string& name,
                    std::string_view why = "to an older registration") {
    if (!loser) {
      return;
    }
    log("global name '" + shown(name) + "': " + loser.to_string() + " lost it " + std::string(why) +
        " (" + (options.global_conflict == GlobalConflict::kExit ? "exit signal" : "message") +
        ")");
    if (options.global_conflict == GlobalConflict::kExit) {
      node.exit(loser, ExitReason::error("global name conflict: " + name));
    } else {
      (void)node.send(loser, Message::make(otp::kGlobalConflictTag, name));
    }
  }

  // ---- Remote spawn, asking side (any thread) --------------------------------

  // The SPAWN frame of request r under ref.
  static Spawn spawn_frame(uint64_t ref, const runtime::RemoteSpawnRequest& r) {
    Spawn f;
    f.ref = ref;
    f.from = r.parent.bits();
    f.hash = r.sha256;
    f.module = r.module;
    f.function = r.function;
    f.args = r.args;
    f.caps = r.caps.bits;
    f.max_memory_pages =
        static_cast<uint32_t>(std::min<uint64_t>(r.caps.max_memory_pages, UINT32_MAX));
    f.flags =
        static_cast<uint8_t>((r.link ? kSpawnLinkFlag : 0) | (r.monitor ? kSpawnMonitorFlag : 0) |
                             (r.trap_exit ? kSpawnTrapExitFlag : 0));
    f.monitor_ref = r.monitor_ref;
    f.mailbox_bound = r.mailbox_bound;
    f.label = r.label;
    return f;
  }

  void request_spawn(runtime::RemoteSpawnRequest r, runtime::RemoteSpawnDone done) {
    const uint16_t id = r.node;
    Spawn f;
    std::optional<Error> refused;
    {
      std::lock_guard<std::mutex> lock(spawn_mu);
      if (stopped.load()) {
        refused = Error("this node left the cluster", runtime::kErrNoConn);
      } else if (pending.size() >= kMaxPendingSpawns) {
        refused = Error("too many remote spawns waiting for their answers (" +
                            std::to_string(kMaxPendingSpawns) + ")",
                        runtime::kErrLimit);
      } else {
        f = spawn_frame(next_spawn_ref++, r);
        pending.emplace(f.ref, PendingSpawn{std::move(r), std::move(done)});
      }
    }
    if (refused) {
      return done(std::move(*refused));  // outside the lock
    }
    uint64_t ref = f.ref;
    // A control frame, as links are: small, and bounded by kMaxPendingSpawns,
    // so a send buffer busy with a module never refuses a spawn.
    if (Status st = queue(id, std::move(f), true); !st) {
      answer_spawn(ref, Error(st.message(), runtime::kErrNoConn));
    }
  }

  // Ends a pending spawn with `result` (if it is still pending).
  void answer_spawn(uint64_t ref, Result<otp::Spawned> result) {
    runtime::RemoteSpawnDone done;
    {
      std::lock_guard<std::mutex> lock(spawn_mu);
      auto it = pending.find(ref);
      if (it == pending.end()) {
        return;
      }
      done = std::move(it->second.done);
      pending.erase(it);
    }
    done(std::move(result));
  }

  // Ends every pending spawn to node `id` (0: to every node).
  void fail_spawns(uint16_t id, const std::string& why) {
    std::vector<runtime::RemoteSpawnDone> failed;
    {
      std::lock_guard<std::mutex> lock(spawn_mu);
      for (auto it = pending.begin(); it != pending.end();) {
        if (id == 0 || it->second.request.node == id) {
          failed.push_back(std::move(it->second.done));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& d : failed) {
      d(Error(why, runtime::kErrNoConn));
    }
  }

  // A SPAWN_REPLY from peer slot s (io thread).
  void on_spawn_reply(Slot& s, SpawnReply& x) {
    std::unique_lock<std::mutex> lock(spawn_mu);
    auto it = pending.find(x.ref);
    if (it == pending.end() || it->second.request.node != s.id ||
        it->second.request.parent.bits() != x.to) {
      lock.unlock();
      log("dropped a SPAWN_REPLY from " + s.name + " that answers no spawn asked of it");
      return;
    }
    PendingSpawn& p = it->second;
    if (x.status == SpawnStatus::kModuleNeeded) {
      // The bytes (unless another request already shipped them to this
      // peer, ahead of this one on the connection), then the request again.
      bool ship;
      if (!p.module_sent && !p.relied && s.modules_sent.count(p.request.sha256) > 0) {
        p.relied = true;
        ship = false;
      } else if (!p.module_sent) {
        p.module_sent = true;
        ship = true;
      } else {
        lock.unlock();
        return answer_spawn(x.ref, Error("node " + s.name + " asked for module '" +
                                             p.request.module + "' again after it was sent",
                                         runtime::kErrBadArg));
      }
      Spawn again = spawn_frame(x.ref, p.request);
      std::shared_ptr<const std::string> bytes = p.request.bytes;
      lock.unlock();
      Status st = Status::ok();
      if (ship) {
        // A control frame: never refused for the send buffer (a module may
        // be larger than it). A module goes once per peer (modules_sent),
        // again only to a peer that asks for it after it was sent (it
        // evicted it), so what waits stays bounded by this node's modules.
        s.modules_sent.insert(again.hash);
        st = queue(s.id, ModuleBytes{again.hash, *bytes}, true);
      }
      if (st) {
        st = queue(s.id, std::move(again), true);
      }
      if (!st) {
        answer_spawn(x.ref, Error(st.message(), runtime::kErrNoConn));
      }
      return;
    }
    const runtime::RemoteSpawnRequest& r = p.request;
    if (x.status == SpawnStatus::kSpawned) {
      Pid child = Pid::from_bits(x.pid);
      if (child.node() != s.id) {
        lock.unlock();
        log("dropped a SPAWN_REPLY from " + s.name + ": its child " + child.to_string() +
            " is not of that node");
        return answer_spawn(x.ref, Error("node " + s.name + " answered with a pid of another node",
                                         runtime::kErrBadArg));
      }
      // This node's sides of the link and the monitor, before anything of
      // the child's (the frames after this one) arrives.
      if (r.link || r.monitor) {
        node.remote_spawned(child, r.parent, r.link, r.monitor ? r.monitor_ref : 0);
      }
      otp::Spawned out{child, r.monitor ? r.monitor_ref : 0};
      lock.unlock();
      return answer_spawn(x.ref, out);
    }
    lock.unlock();
    int code = x.status == SpawnStatus::kDenied     ? runtime::kErrDenied
               : x.status == SpawnStatus::kNotFound ? runtime::kErrNotFound
               : x.status == SpawnStatus::kBadArg   ? runtime::kErrBadArg
                                                    : runtime::kErrLimit;
    answer_spawn(x.ref, Error("node " + s.name + ": " + x.message, code));
  }

  // ---- Observing peers -------------------------------------------------------

  void observe(const std::string& peer, std::function<void(Result<std::string>)> done) {
    std::shared_ptr<Slot> s = slot(std::string_view(peer));
    if (!s || !s->up.load(std::memory_order_acquire)) {
      return done(Error("node '" + peer + "' is not connected to this one"));
    }
    uint32_t id = 0;
    {
      std::lock_guard<std::mutex> lock(observe_mu);
      if (stopped.load()) {
        return done(Error("this node left the cluster"));
      }
      if (observing.size() >= kMaxObserveRequests) {
        return done(Error("too many observer requests waiting for answers (" +
                          std::to_string(kMaxObserveRequests) + ")"));
      }
      id = next_observe++;
      observing.emplace(id, PendingObserve{s->id, std::move(done)});
    }
    if (Status st = queue(s->id, Observe{id}, true); !st) {
      answer_observe(s->id, id, Error(st.message()));
    }
  }

  // Ends request id (if it is still waiting and was asked of node_id).
  void answer_observe(uint16_t node_id, uint32_t id, Result<std::string> r) {
    std::function<void(Result<std::string>)> done;
    {
      std::lock_guard<std::mutex> lock(observe_mu);
      auto it = observing.find(id);
      if (it == observing.end() || it->second.node != node_id) {
        return;
      }
      done = std::move(it->second.done);
      observing.erase(it);
    }
    done(std::move(r));
  }

  // Ends every request to node `id` (0: every request).
  void fail_observes(uint16_t id, const std::string& why) {
    std::vector<std::function<void(Result<std::string>)>> failed;
    {
      std::lock_guard<std::mutex> lock(observe_mu);
      for (auto it = observing.begin(); it != observing.end();) {
        if (id == 0 || it->second.node == id) {
          failed.push_back(std::move(it->second.done));
          it = observing.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& d : failed) {
      d(Error(why));
    }
  }

  // A peer asks for this node's snapshot (io thread). The answer takes the
  // data path (refused when the peer's buffer is full: then a short refusal),
  // so a peer that asks in a loop cannot grow this node's memory.
  void on_observe(Slot& s, const Observe& x) {
    Observed answer{x.id, false, "no observer on node " + node.name()};
    if (options.observer) {
      Result<std::string> r = options.observer();
      answer.ok = r.is_ok();
      answer.body = r ? std::move(*r) : r.message();
    }
    auto size = static_cast<int64_t>(encoded_size(answer));
    if (s.queued.load(std::memory_order_relaxed) + size >
        static_cast<int64_t>(options.send_buffer_bytes)) {
      return send_now(s, Observed{x.id, false, "node " + node.name() + " is busy, ask again"});
    }
    s.queued.fetch_add(size, std::memory_order_relaxed);
    push(s, std::move(answer), false, size);
  }

  // ---- Remote spawn, answering side (io thread) -------------------------------

  // Queues f to s now, ahead of frames still being posted (io thread).
  void send_now(Slot& s, Frame f) {
    auto size = static_cast<int64_t>(encoded_size(f));
    s.queued.fetch_add(size, std::memory_order_relaxed);
    push(s, std::move(f), true, size);
  }

  static std::string module_name(const std::string& hash) { return "sha256:" + runtime::hex(hash); }

  void on_module(const Slot& s, ModuleBytes& x) {
    runtime::Runtime* rt = options.runtime;
    if (rt == nullptr || !options.remote_spawn) {
      return;  // its SPAWN is refused
    }
    std::string name = module_name(x.hash);
    if (rt->has_module(name)) {
      return;
    }
    auto remember_bad = [&](std::string why) {
      log("module " + name.substr(0, 19) + "... from " + s.name + " refused: " + why);
      if (bad_modules.size() >= 64) {
        bad_modules.erase(bad_modules.begin());
      }
      bad_modules[x.hash] = std::move(why);
    };
    if (x.bytes.size() > options.max_peer_module_bytes) {
      return remember_bad(std::to_string(x.bytes.size()) + " bytes, more than this node takes (" +
                          std::to_string(options.max_peer_module_bytes) + ")");
    }
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(x.bytes.data()), x.bytes.size());
    if (runtime::module_sha256(bytes) != x.hash) {
      return remember_bad("its bytes do not have the SHA-256 it was sent under");
    }
    if (Status st = rt->load(name, bytes); !st) {
      return remember_bad(st.message());
    }
    bad_modules.erase(x.hash);
    peer_modules.emplace_back(x.hash, x.bytes.size());
    peer_module_bytes += x.bytes.size();
    while (peer_modules.size() > 1 &&
           (peer_modules.size() > std::max<size_t>(1, options.max_peer_modules) ||
            peer_module_bytes > options.max_peer_module_total)) {
      rt->unload(module_name(peer_modules.front().first));
      peer_module_bytes -= peer_modules.front().second;
      peer_modules.pop_front();
    }
  }

  void on_spawn(Slot& s, Spawn& x) {
    auto reply = [&](SpawnStatus st, std::string message) {
      send_now(s, SpawnReply{x.ref, x.from, st, 0, std::move(message)});
    };
    runtime::Runtime* rt = options.runtime;
    if (rt == nullptr || !options.remote_spawn) {
      return reply(SpawnStatus::kDenied, "node " + node.name() + " takes no spawns from peers");
    }
    std::string name = module_name(x.hash);
    if (!rt->has_module(name)) {
      if (auto bad = bad_modules.find(x.hash); bad != bad_modules.end()) {
        return reply(SpawnStatus::kBadArg, "module '" + shown(x.module) + "': " + bad->second);
      }
      return reply(SpawnStatus::kModuleNeeded, "");
    }
    if (auto it = std::find_if(peer_modules.begin(), peer_modules.end(),
                               [&](const auto& m) { return m.first == x.hash; });
        it != peer_modules.end()) {
      auto used = *it;
      peer_modules.erase(it);  // most recently used last
      peer_modules.push_back(std::move(used));
    }
    runtime::ProcessSpec spec;
    spec.module = name;
    spec.function = x.function;
    spec.args = x.args;
    runtime::Capabilities want;
    want.bits = static_cast<uint32_t>(x.caps);
    want.max_memory_pages = x.max_memory_pages;
    want.profile = "remote";
    spec.caps = want.restricted_to(*options.remote_spawn);
    spec.caps.profile = "remote from " + s.name;
    spec.wasi.stdout_mode = spec.wasi.stderr_mode = wasi::StdioMode::kInherit;
    spec.wasi.allow_clock = spec.wasi.allow_random = true;  // filtered by the caps
    spec.wasi.args = {x.function};
    Pid parent = Pid::from_bits(x.from);
    if (parent.valid() && parent.node() == s.id) {
      spec.options.remote_parent = parent;
      spec.options.link = (x.flags & kSpawnLinkFlag) != 0;
      spec.options.monitor = (x.flags & kSpawnMonitorFlag) != 0;
      spec.options.remote_monitor = x.monitor_ref;
    }
    spec.options.trap_exit = (x.flags & kSpawnTrapExitFlag) != 0;
    spec.options.label =
        x.label.empty() ? shown(x.module) + "." + shown(x.function) : shown(x.label);
    spec.options.mailbox_bound = x.mailbox_bound;
    bool answered = false;
    spec.options.before_start = [&](Pid child) {
      answered = true;
      send_now(s, SpawnReply{x.ref, x.from, SpawnStatus::kSpawned, child.bits(), ""});
    };
    Result<otp::Spawned> r = rt->spawn(spec);
    if (!r && !answered) {
      // The runtime's codes for a missing function and wrong arguments
      // (WasmProcess::init); anything else kept it from starting.
      int code = r.error().code();
      reply(code == runtime::kErrNotFound ? SpawnStatus::kNotFound
            : code == runtime::kErrBadArg ? SpawnStatus::kBadArg
                                          : SpawnStatus::kLimit,
            r.message());
    }
  }

  // ---- io thread ------------------------------------------------------------

  void push(Slot& s, Frame&& f, bool control, int64_t size) {
    if (!s.up.load(std::memory_order_relaxed) || !mesh) {
      s.queued.fetch_sub(size, std::memory_order_relaxed);
      return;  // went down meanwhile: dropped (links and monitors fired already)
    }
    if (!s.backlog.empty()) {
      s.backlog.emplace_back(std::move(f), control);
      return;
    }
    if (!hand_over(s, f, control)) {
      s.backlog.emplace_back(std::move(f), control);
    }
  }

  // Gives f to the connection; false if it must wait for on_drain.
  bool hand_over(Slot& s, const Frame& f, bool control) {
    auto size = static_cast<int64_t>(encoded_size(f));
    Mesh::SendResult r = control ? mesh->send_control(s.name, f) : mesh->send(s.name, f);
    if (r == Mesh::SendResult::kWouldBlock) {
      return false;
    }
    if (r == Mesh::SendResult::kTooLarge) {
      log("dropped a frame of " + std::to_string(size) + " bytes to " + s.name +
          ": larger than the largest frame");
    }
    s.queued.fetch_sub(size, std::memory_order_relaxed);
    return true;
  }

  void on_drain(const std::string& peer) {
    std::shared_ptr<Slot> s = slot(peer);
    if (!s) {
      return;
    }
    while (!s->backlog.empty() &&
           hand_over(*s, s->backlog.front().first, s->backlog.front().second)) {
      s->backlog.pop_front();
    }
  }

  void on_node_up(const PeerInfo& p) {
    if (p.node_id == node.id()) {
      log("peer " + p.name + " has this node's id " + std::to_string(p.node_id) +
          "; ignoring it (give one of them another cluster.node_id)");
      return;
    }
    std::shared_ptr<Slot> s;
    {
      std::unique_lock lock(mu);
      auto it = by_id.find(p.node_id);
      if (it != by_id.end() && it->second->name != p.name) {
        log("peer " + p.name + " claims node id " + std::to_string(p.node_id) + " of " +
            it->second->name + "; ignoring it");
        return;
      }
      if (it == by_id.end()) {
        s = std::make_shared<Slot>();
        s->id = p.node_id;
        s->name = p.name;
        by_id.emplace(p.node_id, s);
        by_name[p.name] = s;
      } else {
        s = it->second;
      }
    }
    s->backlog.clear();
    s->modules_sent.clear();  // a restarted node has none of them
    s->queued.store(0, std::memory_order_relaxed);
    s->up.store(true, std::memory_order_release);
    log("node " + p.name + " (" + std::to_string(p.node_id) + ") is up" +
        (p.address.empty() ? "" : " at " + p.address));
    node.node_up(s->id, s->name);
  }

  void on_node_down(const std::string& peer, const std::string& reason) {
    std::shared_ptr<Slot> s = slot(peer);
    if (!s || !s->up.exchange(false, std::memory_order_acq_rel)) {
      return;
    }
    // New operations for it are refused from here on; then every link and
    // monitor to its processes fires, once.
    s->backlog.clear();
    log("node " + peer + " (" + std::to_string(s->id) + ") is down: " + reason);
    node.node_down(s->id);
    fail_spawns(s->id, "node " + peer + " went down before answering the spawn: " + reason);
    fail_observes(s->id, "node " + peer + " went down: " + reason);
  }

  void on_frame(const std::string& peer, Frame&& f) {
    std::shared_ptr<Slot> s = slot(peer);
    if (!s || !s->up.load(std::memory_order_relaxed)) {
      return;
    }
    uint16_t self = node.id();
    auto from_peer = [&](uint64_t pid) { return Pid::from_bits(pid).node() == s->id; };
    auto to_us = [&](uint64_t pid) { return Pid::from_bits(pid).node() == self; };
    auto bad = [&](const char* what) {
      log("dropped a " + std::string(what) + " frame from " + peer +
          " whose pids are not of its node and this one");
    };
    auto reason = [&](uint8_t kind, std::string detail) {
      std::optional<ExitReason> r = ExitReason::from_code(kind, std::move(detail));
      return r ? std::move(*r) : ExitReason::error("unknown exit reason from node " + peer);
    };
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Send>) {
            if (!(x.from == 0 || from_peer(x.from)) || !to_us(x.to)) {
              return bad("SEND");
            }
            Message m = Message::make(x.tag, x.payload);
            m.set_ref(x.ref);
            (void)node.remote_send(Pid::from_bits(x.from), Pid::from_bits(x.to), std::move(m));
          } else if constexpr (std::is_same_v<T, SendNamed>) {
            if (!(x.from == 0 || from_peer(x.from))) {
              return bad("SEND_NAMED");
            }
            Message m = Message::make(x.tag, x.payload);
            m.set_ref(x.ref);
            (void)node.remote_send_named(Pid::from_bits(x.from), x.name, std::move(m));
          } else if constexpr (std::is_same_v<T, Exit>) {
            // from 0: an explicit exit from outside any process (an
            // operator's shell on the peer), as Node::exit sends it.
            if (!((x.from == 0 && !x.linked) || from_peer(x.from)) || !to_us(x.to)) {
              return bad("EXIT");
            }
            node.remote_exit(Pid::from_bits(x.from), Pid::from_bits(x.to),
                             reason(x.reason_kind, std::move(x.detail)), x.linked);
          } else if constexpr (std::is_same_v<T, Link>) {
            if (!from_peer(x.from) || !to_us(x.to)) {
              return bad("LINK");
            }
            node.remote_link(Pid::from_bits(x.from), Pid::from_bits(x.to));
          } else if constexpr (std::is_same_v<T, Unlink>) {
            if (!from_peer(x.from) || !to_us(x.to)) {
              return bad("UNLINK");
            }
            node.remote_unlink(Pid::from_bits(x.from), Pid::from_bits(x.to));
          } else if constexpr (std::is_same_v<T, Monitor>) {
            if (!from_peer(x.from) || !to_us(x.to)) {
              return bad("MONITOR");
            }
            node.remote_monitor(Pid::from_bits(x.from), Pid::from_bits(x.to), x.ref);
          } else if constexpr (std::is_same_v<T, Demonitor>) {
            if (!from_peer(x.from) || !to_us(x.to)) {
              return bad("DEMONITOR");
            }
            node.remote_demonitor(Pid::from_bits(x.from), Pid::from_bits(x.to), x.ref);
          } else if constexpr (std::is_same_v<T, Down>) {
            if (!from_peer(x.from) || !to_us(x.to)) {
              return bad("DOWN");
            }
            node.remote_down(Pid::from_bits(x.from), Pid::from_bits(x.to), x.ref,
                             reason(x.reason_kind, std::move(x.detail)));
          } else if constexpr (std::is_same_v<T, GlobalAdd>) {
            if (!from_peer(x.pid)) {
              return bad_global(peer, "GLOBAL_ADD", x.name, x.pid, 1);
            }
            global_from(otp::GlobalName{std::move(x.name), Pid::from_bits(x.pid),
                                        static_cast<int64_t>(x.stamp)});
          } else if constexpr (std::is_same_v<T, GlobalSync>) {
            size_t dropped = 0;
            const GlobalEntry* first = nullptr;
            for (GlobalEntry& e : x.names) {
              if (!from_peer(e.pid)) {
                first = first ? first : &e;
                ++dropped;
                continue;
              }
              global_from(
                  otp::GlobalName{e.name, Pid::from_bits(e.pid), static_cast<int64_t>(e.stamp)});
            }
            if (first != nullptr) {
              bad_global(peer, "GLOBAL_SYNC", first->name, first->pid, dropped);
            }
          } else if constexpr (std::is_same_v<T, GlobalDel>) {
            node.remote_global_del(x.name, Pid::from_bits(x.pid));
          } else if constexpr (std::is_same_v<T, GlobalAsk>) {
            if (!to_us(x.pid)) {
              log("dropped a GLOBAL_ASK frame from " + peer + " for name '" + shown(x.name) +
                  "': " + Pid::from_bits(x.pid).to_string() + " is not a process of this node");
              return;
            }
            global_loser(node.remote_global_ask(otp::GlobalName{x.name, Pid::from_bits(x.pid),
                                                                static_cast<int64_t>(x.stamp)}),
                         x.name);
          } else if constexpr (std::is_same_v<T, TopicJoin>) {
            node.remote_topic_join(s->id, x.topic);
          } else if constexpr (std::is_same_v<T, TopicLeave>) {
            node.remote_topic_leave(s->id, x.topic);
          } else if constexpr (std::is_same_v<T, TopicSync>) {
            for (const std::string& topic : x.topics) {
              node.remote_topic_join(s->id, topic);
            }
          } else if constexpr (std::is_same_v<T, Publish>) {
            if (x.from != 0 && !from_peer(x.from)) {
              return bad("PUBLISH");
            }
            Message m = Message::make(x.tag, x.payload);
            m.set_ref(x.ref);
            (void)node.remote_publish(Pid::from_bits(x.from), x.topic, std::move(m));
          } else if constexpr (std::is_same_v<T, Spawn>) {
            if (x.from != 0 && !from_peer(x.from)) {
              return bad("SPAWN");
            }
            on_spawn(*s, x);
          } else if constexpr (std::is_same_v<T, SpawnReply>) {
            on_spawn_reply(*s, x);
          } else if constexpr (std::is_same_v<T, ModuleBytes>) {
            on_module(*s, x);
          } else if constexpr (std::is_same_v<T, Observe>) {
            on_observe(*s, x);
          } else if constexpr (std::is_same_v<T, Observed>) {
            answer_observe(s->id, x.id,
                           x.ok ? Result<std::string>(std::move(x.body))
                                : Result<std::string>(Error("node " + peer + ": " + x.body)));
          }
          // HELLO, REFUSE, TICK and PEERS are the mesh's own.
        },
        f);
  }

  // A name a peer says one of its processes holds (GLOBAL_ADD, or an entry
  // of GLOBAL_SYNC), the pid checked to be of that peer's node.
  void global_from(const otp::GlobalName& g) { global_loser(node.remote_global_add(g), g.name); }

  // Names from peer for pids not of its node (a peer registers only its own
  // processes): dropped, with one log line per frame.
  void bad_global(const std::string& peer, const char* frame, const std::string& name, uint64_t pid,
                  size_t count) {
    log("dropped global name '" + shown(name) + "'" +
        (count > 1 ? " and " + std::to_string(count - 1) + " more" : std::string()) + " from " +
        peer + " (" + frame + "): " + Pid::from_bits(pid).to_string() +
        " is not a process of that node");
  }

  // Runs fn on the io thread and waits for it (the loop is running). From a
  // handler of the loop itself (the node's event loop, which the observer
  // shares), at once.
  template <typename F>
  auto on_io(F fn) -> decltype(fn()) {
    if (io->get_executor().running_in_this_thread()) {
      return fn();
    }
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto fut = task.get_future();
    asio::post(*io, [&task] { task(); });
    return fut.get();
  }
};

namespace {

// The runtime's way to the cluster (runtime::Runtime::set_remote_spawner).
class Spawner final : public runtime::RemoteSpawner {
 public:
  explicit Spawner(std::weak_ptr<Cluster::Impl> impl) : impl_(std::move(impl)) {}
  void spawn(runtime::RemoteSpawnRequest request, runtime::RemoteSpawnDone done) override {
    auto i = impl_.lock();
    if (!i) {
      return done(Error("this node left the cluster", runtime::kErrNoConn));
    }
    i->request_spawn(std::move(request), std::move(done));
  }

 private:
  std::weak_ptr<Cluster::Impl> impl_;
};

}  // namespace

Result<std::unique_ptr<Cluster>> Cluster::start(otp::Node& node, ClusterOptions options) {
  if (options.runtime != nullptr && &options.runtime->node() != &node) {
    return Error("cluster: ClusterOptions::runtime must be the runtime of the node it starts on");
  }
  if (node.id() == 0) {
    return Error("cluster: the node's id is 0; give it one (NodeOptions::node_id, 1-65535)");
  }
  for (auto* f : {&options.ca_file, &options.cert_file, &options.key_file}) {
    if (f->empty()) {
      return Error(
          "cluster: the CA, certificate and key files are required "
          "(make them with `rusm cluster ca` and `rusm cluster cert NAME`)");
    }
  }
  auto impl = std::make_shared<Impl>(node, std::move(options));
  if (impl->options.io != nullptr) {
    impl->io = impl->options.io;
  } else {
    impl->own_io = std::make_unique<asio::io_context>();
    impl->io = impl->own_io.get();
    impl->work.emplace(impl->io->get_executor());
  }
  MeshOptions mo;
  mo.name = node.name();
  mo.node_id = node.id();
  mo.creation = node.creation();
  mo.tls = TlsFiles{impl->options.ca_file, impl->options.cert_file, impl->options.key_file};
  mo.listen_host = impl->options.listen_host;
  mo.listen_port = impl->options.listen_port;
  mo.advertise = impl->options.advertise;
  mo.seeds = impl->options.seeds;
  mo.tick = impl->options.tick;
  mo.busy_poll = impl->options.busy_poll;
  mo.attach_shell = impl->options.attach_shell;
  mo.max_operators = impl->options.max_operators;
  mo.log = [w = std::weak_ptr<Impl>(impl)](const std::string& line) {
    if (auto i = w.lock()) {
      i->log(line);
    }
  };
  std::weak_ptr<Impl> w = impl;
  Mesh::Callbacks cb;
  cb.on_node_up = [w](const PeerInfo& p) {
    if (auto i = w.lock()) {
      i->on_node_up(p);
    }
  };
  cb.on_node_down = [w](const std::string& peer, const std::string& reason) {
    if (auto i = w.lock()) {
      i->on_node_down(peer, reason);
    }
  };
  cb.on_frame = [w](const std::string& peer, Frame&& f) {
    if (auto i = w.lock()) {
      i->on_frame(peer, std::move(f));
    }
  };
  cb.on_drain = [w](const std::string& peer) {
    if (auto i = w.lock()) {
      i->on_drain(peer);
    }
  };
  if (!impl->options.etcd.endpoints.empty()) {
    // Before the router: the replica holds every name by the time the
    // node's processes can ask. (If the mesh fails, its destructor stops it.)
    auto etcd = EtcdRegistry::start(
        node, impl->options.etcd,
        [w](const std::string& line) {
          if (auto i = w.lock()) {
            i->log(line);
          }
        },
        [w](Pid loser, const std::string& name) {
          if (auto i = w.lock()) {
            i->global_loser(loser, name, "while this node's etcd lease was gone");
          }
        });
    if (!etcd) {
      return etcd.error();
    }
    impl->etcd = std::move(*etcd);
  }
  // The mesh is made before the thread runs, so nothing races with it.
  auto mesh = Mesh::create(*impl->io, std::move(mo), std::move(cb));
  if (!mesh) {
    return mesh.error();  // "cluster: ..." already
  }
  impl->mesh = std::move(*mesh);
  impl->port = impl->mesh->port();
  node.set_router(impl.get());
  if (impl->own_io) {
    impl->thread = std::thread([i = impl.get()] { i->own_io->run(); });
  }
  if (impl->options.runtime != nullptr) {
    impl->options.runtime->set_remote_spawner(std::make_shared<Spawner>(impl));
  }
  return std::unique_ptr<Cluster>(new Cluster(std::move(impl)));
}

Cluster::Cluster(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Cluster::~Cluster() {
  stop();
}

void Cluster::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) {
    return;
  }
  Impl& i = *impl_;
  if (i.options.runtime != nullptr) {
    i.options.runtime->set_remote_spawner(nullptr);
  }
  i.fail_spawns(0, "this node left the cluster");
  i.fail_observes(0, "this node left the cluster");
  i.node.set_router(nullptr);  // no caller is inside the router after this
  if (i.etcd) {
    i.etcd->stop();  // answers what waits; revokes the lease
  }
  // Operators first, joined here while the io thread still runs: a shell
  // answering a line may be waiting for it (nodes()).
  auto sessions = i.on_io([&i] { return i.mesh->close_operators(); });
  for (auto& s : sessions) {
    s->join();
  }
  sessions.clear();
  i.on_io([&i] {
    std::vector<std::shared_ptr<Slot>> up;
    {
      std::shared_lock lock(i.mu);
      for (auto& [id, s] : i.by_id) {
        up.push_back(s);
      }
    }
    for (auto& s : up) {
      if (s->up.exchange(false)) {
        s->backlog.clear();
        i.node.node_down(s->id);
      }
    }
    i.mesh->stop();
    i.mesh.reset();
    return 0;
  });
  if (i.own_io) {
    i.work.reset();
    i.own_io->stop();
    i.thread.join();
  }
}

void Cluster::observe(const std::string& node, std::function<void(Result<std::string>)> done) {
  impl_->observe(node, std::move(done));
}

uint16_t Cluster::port() const {
  return impl_->port;
}

std::vector<NodeStatus> Cluster::nodes() const {
  Impl& i = *impl_;
  if (i.stopped) {
    return {};
  }
  std::vector<PeerInfo> peers =
      i.on_io([&i] { return i.mesh ? i.mesh->peers() : std::vector<PeerInfo>{}; });
  std::vector<NodeStatus> out;
  for (const PeerInfo& p : peers) {
    NodeStatus n;
    n.name = p.name;
    n.id = p.node_id;
    n.address = p.address;
    n.up = p.up;
    n.bytes_in = p.stats.bytes_in;
    n.bytes_out = p.stats.bytes_out;
    n.frames_in = p.stats.frames_in;
    n.frames_out = p.stats.frames_out;
    out.push_back(std::move(n));
  }
  return out;
}

std::optional<uint16_t> Cluster::node_id(std::string_view name) const {
  std::shared_ptr<Slot> s = impl_->slot(name);
  if (!s) {
    return std::nullopt;
  }
  return s->id;
}

void Cluster::pause_etcd_lease(bool paused) {
  if (impl_->etcd) {
    impl_->etcd->pause_keepalive(paused);
  }
}

void Cluster::silence(const std::string& peer) {
  if (impl_->stopped) {
    return;  // the io thread is gone
  }
  impl_->on_io([this, &peer] {
    if (impl_->mesh) {
      impl_->mesh->silence(peer);
    }
    return 0;
  });
}

void Cluster::resume(const std::string& peer) {
  if (impl_->stopped) {
    return;  // the io thread is gone
  }
  impl_->on_io([this, &peer] {
    if (impl_->mesh) {
      impl_->mesh->resume(peer);
    }
    return 0;
  });
}

}  // namespace rusm::cluster
