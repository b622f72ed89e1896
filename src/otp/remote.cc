// The distribution seam (see rusm/otp/router.h): what otp/ does with pids of
// other nodes, the inbound entry points a Router delivers through, and node
// up/down.
//
// Local state for remote links and monitors lives where local ones do (each
// process's ProcessExt: links, monitors_out, monitors_in), so the local rules
// apply unchanged; a remote pid there only means its signals go through the
// router. remote_index_ remembers which local processes may hold such
// entries per node, so that node_down() reaches exactly those processes:
// each gets a kNodeDown signal and removes (and fires) its entries itself,
// in order with its other signals, which is what makes every link and
// monitor fire exactly once.
//
// None of this is on the local hot path: a local pid costs one compare of
// its node id (NodeImpl::is_remote) where a send, link or monitor starts.
#include <algorithm>
#include <bit>
#include <cstring>
#include <thread>

#include "otp/access.h"
#include "otp/node_impl.h"

namespace rusm::otp {

namespace detail {

Error not_connected(uint16_t node) {
  return Error("not connected to node " + std::to_string(node));
}

// A worker marks itself (a per-worker counter, seq_cst so that set_router's
// scan cannot miss it after it read the old router); other threads share
// one counter.
RouterUse::RouterUse(NodeImpl* node) : node_(node), worker_(node->current_worker()) {
  if (worker_ != nullptr) {
    depth_ = worker_->router_depth_.load(std::memory_order_relaxed);
    worker_->router_depth_.store(depth_ + 1, std::memory_order_seq_cst);
  } else {
    node_->outside_router_users_.fetch_add(1, std::memory_order_seq_cst);
  }
  router_ = node_->router_.load(std::memory_order_seq_cst);
}

RouterUse::~RouterUse() {
  if (worker_ != nullptr) {
    worker_->router_depth_.store(depth_, std::memory_order_release);
  } else {
    node_->outside_router_users_.fetch_sub(1, std::memory_order_release);
  }
}

void NodeImpl::set_router(Router* r) {
  router_.store(r, std::memory_order_seq_cst);
  // Wait until no call that may have read the previous router is running.
  // Calls never block, so this is short.
  auto busy = [&] {
    if (outside_router_users_.load(std::memory_order_seq_cst) != 0) {
      return true;
    }
    for (auto& w : workers_) {
      if (w->router_depth_.load(std::memory_order_seq_cst) != 0) {
        return true;
      }
    }
    return false;
  };
  while (busy()) {
    std::this_thread::yield();
  }
}

Status NodeImpl::send_remote(Pid from, Pid to, Message m) {
  if (Worker* w = current_worker()) {
    WorkerCounters::bump(w->counters_.sent);
  } else {
    outside_.sent.fetch_add(1, std::memory_order_relaxed);
  }
  if (!m.empty() && m.resource_count() != 0) {
    return Error("send to " + to.to_string() +
                 ": a message holding host resources cannot go to another node");
  }
  RouterUse r(this);
  if (!r) {
    return Error("send to " + to.to_string() + ": " + not_connected(to.node()).message());
  }
  return r->send(from, to, std::move(m));
}

Status NodeImpl::send_named(Pid from, uint16_t node, std::string_view name, Message m) {
  if (node == node_id_) {
    Pid to = whereis(name);
    if (!to) {
      return Error("send to '" + std::string(name) + "': no process registered under that name");
    }
    return send_message(from, to, std::move(m));
  }
  if (!m.empty() && m.resource_count() != 0) {
    return Error("send to '" + std::string(name) + "' on node " + std::to_string(node) +
                 ": a message holding host resources cannot go to another node");
  }
  RouterUse r(this);
  if (!r) {
    return Error("send to '" + std::string(name) + "' on node " + std::to_string(node) + ": " +
                 not_connected(node).message());
  }
  return r->send_named(from, node, std::string(name), std::move(m));
}

void NodeImpl::note_remote(uint16_t node, Pid local) {
  std::lock_guard<std::mutex> lock(remote_mu_);
  RemoteSet& set = remote_index_[node];
  if (!set.pids.insert(local).second) {
    return;
  }
  if (set.pids.size() >= set.prune_at) {
    // Forget processes that are gone, now and then, so the set stays the
    // size of the processes that can still hold such entries.
    std::erase_if(set.pids, [&](Pid pid) {
      Process* q = acquire(pid);
      if (q == nullptr) {
        return true;
      }
      release(q);
      return false;
    });
    set.prune_at = std::max<size_t>(64, 2 * set.pids.size());
  }
}

void NodeImpl::link_remote(Process* p, Pid pid) {
  note_remote(pid.node(), p->pid_);
  Status st = not_connected(pid.node());
  if (RouterUse r(this); r) {
    st = r->link(p->pid_, pid);
  }
  if (!st) {
    // Unreachable: an exit signal noconnection, through p's inbox so that it
    // removes the link it fires (once, even if node_down fires too).
    MessageNode* n = new_node();
    n->kind = NodeKind::kExit;
    n->from = pid;
    n->linked = true;
    n->reason = ExitReason::noconnection();
    p->inbox_.push(n);
  }
}

void NodeImpl::monitor_remote(Process* p, Pid pid, MonitorRef ref) {
  note_remote(pid.node(), p->pid_);
  Status st = not_connected(pid.node());
  if (RouterUse r(this); r) {
    st = r->monitor(p->pid_, pid, ref);
  }
  if (!st) {
    MessageNode* n = new_node();
    n->kind = NodeKind::kDown;
    n->from = pid;
    n->ref = ref;
    n->reason = ExitReason::noconnection();
    p->inbox_.push(n);
  }
}

void NodeImpl::unlink_remote(Pid from, Pid to) {
  if (RouterUse r(this); r) {
    r->unlink(from, to);
  }
}

void NodeImpl::demonitor_remote(Pid from, Pid to, MonitorRef ref) {
  if (RouterUse r(this); r) {
    r->demonitor(from, to, ref);
  }
}

namespace {

// A nodeup/nodedown message: never refused or counted, like a DOWN.
MessageNode* node_message(uint64_t tag, uint16_t node) {
  MessageNode* n = new_node();
  n->kind = NodeKind::kMessage;
  n->tag = tag;
  n->ref = node;
  std::memcpy(reserve_payload(n, sizeof node), &node, sizeof node);
  return n;
}

}  // namespace

void NodeImpl::node_up(uint16_t node, std::string name) {
  if (node == node_id_) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(nodes_mu_);
    if (!name.empty()) {
      node_names_[node] = std::move(name);
    }
    const uint64_t bit = uint64_t{1} << (node & 63);
    if ((up_nodes_[node >> 6].fetch_or(bit, std::memory_order_acq_rel) & bit) != 0) {
      return;
    }
    auto it = node_watchers_.find(node);
    if (it != node_watchers_.end()) {
      std::erase_if(it->second, [&](Pid w) {
        MessageNode* n = node_message(kNodeUpTag, node);
        if (deliver(w, n)) {
          return false;
        }
        free_node(n);
        return true;
      });
    }
  }
  // The names this node's processes hold, for the new peer (global.cc), and
  // the topics they subscribe to (pubsub.cc).
  global_node_up(node);
  topic_node_up(node);
}

void NodeImpl::node_down(uint16_t node) {
  if (node == node_id_) {
    return;
  }
  RemoteSet set;
  {
    std::lock_guard<std::mutex> lock(remote_mu_);
    auto it = remote_index_.find(node);
    if (it != remote_index_.end()) {
      set = std::move(it->second);
      remote_index_.erase(it);
    }
  }
  for (Pid pid : set.pids) {
    MessageNode* n = new_node();
    n->kind = NodeKind::kNodeDown;
    n->ref = node;
    if (!deliver(pid, n)) {
      free_node(n);
    }
  }
  std::lock_guard<std::mutex> lock(nodes_mu_);
  const uint64_t bit = uint64_t{1} << (node & 63);
  const bool was_up = (up_nodes_[node >> 6].fetch_and(~bit, std::memory_order_acq_rel) & bit) != 0;
  // Its processes' global names, once it counts as down (so that a
  // register_global racing with this sees one or the other), and before
  // the nodedown messages.
  global_node_down(node);
  topic_node_down(node);
  if (!was_up) {
    return;
  }
  auto it = node_watchers_.find(node);
  if (it == node_watchers_.end()) {
    return;
  }
  std::erase_if(it->second, [&](Pid w) {
    MessageNode* n = node_message(kNodeDownTag, node);
    if (deliver(w, n)) {
      return false;
    }
    free_node(n);
    return true;
  });
}

std::vector<uint16_t> NodeImpl::connected_nodes() const {
  std::vector<uint16_t> out;
  for (size_t w = 0; w < std::size(up_nodes_); ++w) {
    for (uint64_t bits = up_nodes_[w].load(std::memory_order_acquire); bits != 0;
         bits &= bits - 1) {
      auto id = static_cast<uint16_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits)));
      if (id != node_id_) {
        out.push_back(id);
      }
    }
  }
  return out;
}

std::string NodeImpl::node_name(uint16_t node) const {
  if (node == node_id_) {
    return options_.name;
  }
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto it = node_names_.find(node);
  return it == node_names_.end() ? std::string() : it->second;
}

size_t NodeImpl::node_watchers(uint16_t node) const {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto it = node_watchers_.find(node);
  return it == node_watchers_.end() ? 0 : it->second.size();
}

void NodeImpl::monitor_node(Pid watcher, uint16_t node) {
  if (node == node_id_) {
    return;
  }
  std::lock_guard<std::mutex> lock(nodes_mu_);
  std::vector<Pid>& ws = node_watchers_[node];
  if (std::find(ws.begin(), ws.end(), watcher) == ws.end()) {
    ws.push_back(watcher);
    // Watchers are dropped when a delivery to them fails; for a node that
    // never changes state that never happens, so a stream of processes that
    // subscribe and exit would grow the list without bound. Sweeping the
    // dead at each doubling keeps it within twice the live watchers, at O(1)
    // amortized per subscription.
    if (ws.size() >= 64 && (ws.size() & (ws.size() - 1)) == 0) {
      std::erase_if(ws, [&](Pid w) { return !owner_->is_alive(w); });
    }
  }
  if (!node_is_up(node)) {
    MessageNode* n = node_message(kNodeDownTag, node);
    if (!deliver(watcher, n)) {
      free_node(n);
    }
  }
}

void NodeImpl::demonitor_node(Pid watcher, uint16_t node) {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  auto it = node_watchers_.find(node);
  if (it != node_watchers_.end()) {
    std::erase(it->second, watcher);
  }
}

}  // namespace detail

using detail::MessageNode;
using detail::NodeKind;

uint16_t Node::id() const {
  return impl_->node_id_;
}
const std::string& Node::name() const {
  return impl_->options_.name;
}
uint32_t Node::creation() const {
  return impl_->creation_;
}

Status Node::send_named(uint16_t node, std::string_view name, Message m) {
  return impl_->send_named(Pid(), node, name, std::move(m));
}

void Node::set_router(Router* router) {
  impl_->set_router(router);
}

Status Node::remote_send(Pid from, Pid to, Message m) {
  if (!impl_->is_local(to)) {
    return Error("remote send to " + to.to_string() + ": not a process of this node (node " +
                 std::to_string(impl_->node_id_) + ")");
  }
  return impl_->send_message(from, to, std::move(m));
}

Status Node::remote_send_named(Pid from, std::string_view name, Message m) {
  Pid to = impl_->whereis(name);
  if (!to) {
    return Error("remote send to '" + std::string(name) +
                 "': no process registered under that name");
  }
  return impl_->send_message(from, to, std::move(m));
}

void Node::remote_exit(Pid from, Pid to, ExitReason reason, bool linked) {
  if (impl_->is_local(to)) {
    impl_->send_exit(from, to, reason, linked);
  }
}

void Node::remote_link(Pid from, Pid to) {
  if (!impl_->is_local(to) || !impl_->is_remote(from)) {
    return;
  }
  impl_->note_remote(from.node(), to);
  MessageNode* n = detail::new_node();
  n->kind = NodeKind::kLink;
  n->from = from;
  if (!impl_->deliver(to, n)) {
    detail::free_node(n);
    impl_->send_exit(to, from, ExitReason::noproc(), true);  // through the router
  }
}

void Node::remote_unlink(Pid from, Pid to) {
  if (!impl_->is_local(to) || !impl_->is_remote(from)) {
    return;
  }
  MessageNode* n = detail::new_node();
  n->kind = NodeKind::kUnlink;
  n->from = from;
  if (!impl_->deliver(to, n)) {
    detail::free_node(n);
  }
}

void Node::remote_monitor(Pid from, Pid to, MonitorRef ref) {
  if (!impl_->is_local(to) || !impl_->is_remote(from)) {
    return;
  }
  impl_->note_remote(from.node(), to);
  MessageNode* n = detail::new_node();
  n->kind = NodeKind::kMonitor;
  n->from = from;
  n->ref = ref;
  if (!impl_->deliver(to, n)) {
    detail::free_node(n);
    impl_->send_down(to, from, ref, ExitReason::noproc());  // through the router
  }
}

void Node::remote_demonitor(Pid from, Pid to, MonitorRef ref) {
  if (!impl_->is_local(to) || !impl_->is_remote(from)) {
    return;
  }
  MessageNode* n = detail::new_node();
  n->kind = NodeKind::kDemonitor;
  n->from = from;
  n->ref = ref;
  if (!impl_->deliver(to, n)) {
    detail::free_node(n);
  }
}

void Node::remote_down(Pid from, Pid to, MonitorRef ref, ExitReason reason) {
  if (impl_->is_local(to) && impl_->is_remote(from)) {
    impl_->send_down(from, to, ref, reason);
  }
}

void Node::remote_spawned(Pid child, Pid parent, bool link, MonitorRef ref) {
  if (!impl_->is_local(parent) || !impl_->is_remote(child)) {
    return;
  }
  if (link) {
    remote_link(child, parent);
  }
  if (ref != 0) {
    impl_->note_remote(child.node(), parent);
    MessageNode* n = detail::new_node();
    n->kind = NodeKind::kWatch;
    n->from = child;
    n->ref = ref;
    if (!impl_->deliver(parent, n)) {
      detail::free_node(n);
      impl_->demonitor_remote(parent, child, ref);
    }
  }
}

MonitorRef Node::make_ref() {
  return impl_->make_ref();
}

void Node::node_up(uint16_t node, std::string name) {
  impl_->node_up(node, std::move(name));
}
std::vector<uint16_t> Node::connected_nodes() const {
  return impl_->connected_nodes();
}
std::string Node::node_name(uint16_t node) const {
  return impl_->node_name(node);
}
size_t Node::node_watchers(uint16_t node) const {
  return impl_->node_watchers(node);
}
void Node::node_down(uint16_t node) {
  impl_->node_down(node);
}
bool Node::node_is_up(uint16_t node) const {
  return impl_->node_is_up(node);
}

Status Probe::send_named(uint16_t node, std::string_view name, Message m) {
  return node_->impl()->send_named(pid_, node, name, std::move(m));
}
void Probe::monitor_node(uint16_t node) {
  node_->impl()->monitor_node(pid_, node);
}
void Probe::demonitor_node(uint16_t node) {
  node_->impl()->demonitor_node(pid_, node);
}

}  // namespace rusm::otp
