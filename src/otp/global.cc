// Global names (Erlang's global): every node keeps a replica of every name
// in the cluster, name -> (pid, stamp), and tells its peers what changes
// through the Router's global_* hooks (the cluster layer turns them into
// frames; see docs/cluster.md, "Global names").
//
// Who changes what:
//   - A node inserts the names it registers and drops those it unregisters,
//     and tells every peer (Router::global_add / global_del).
//   - A process that exits drops its names (exit_process calls drop_globals
//     when has_global_ is set, the same handshake as has_name_), and its
//     node tells every peer.
//   - node_down(N) drops the names of N's processes on this node; every
//     other node does the same when it sees N go down, so nothing is sent.
//   - node_up(N) sends N the names this node's processes hold (global_sync);
//     N does the same, and each side resolves what it receives.
//   - Two registrations of one name meeting resolve the same way on every
//     node (global_name_wins: the older); each node tells only its own
//     losing process (the router applies the conflict policy to the pid the
//     remote_global_* entry points return).
//
// Changes that go to the router are made under global_order_mu_, held
// across the router call, so that the changes of one name (and a name's
// registration and its holder's exit) reach the peers in the order they
// were made here. Nothing here is on a hot path.
//
// With a GlobalAuthority (router.h; the cluster's etcd backend) the store
// decides instead: register and unregister ask it (the blocking forms wait
// for its answer), its decisions come back through authority_put / _del in
// its order, a process's exit asks it to drop the process's names, and the
// peers' hooks (global_add / _del / _sync, node up and down) are not used:
// names of a node that went down stay until the store drops them (the
// node's lease expired).
#include <chrono>
#include <future>
#include <optional>

#include "otp/node_impl.h"

namespace rusm::otp {

namespace detail {

namespace {

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool valid_global_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxGlobalName;
}

std::optional<Error> bad_global_name(std::string_view name) {
  if (name.empty()) {
    return Error("register_global: the name is empty");
  }
  if (name.size() > kMaxGlobalName) {
    return Error("register_global: the name is " + std::to_string(name.size()) +
                 " bytes long, more than " + std::to_string(kMaxGlobalName));
  }
  return std::nullopt;
}

// Runs an asynchronous global-name call and waits for its answer.
template <typename Call>
Status wait_for(Call call) {
  auto answer = std::make_shared<std::promise<Status>>();
  std::future<Status> f = answer->get_future();
  call([answer](Status s) { answer->set_value(std::move(s)); });
  return f.get();
}

}  // namespace

bool NodeImpl::with_authority(const std::function<void(GlobalAuthority&)>& f) {
  RouterUse r(this);
  GlobalAuthority* a = r ? r->global_authority() : nullptr;
  if (a == nullptr) {
    return false;
  }
  f(*a);
  return true;
}

Status NodeImpl::register_global(std::string name, Pid pid) {
  return wait_for([&](std::function<void(Status)> done) {
    register_global_async(std::move(name), pid, std::move(done));
  });
}

Status NodeImpl::unregister_global(std::string_view name) {
  return wait_for([&](std::function<void(Status)> done) {
    unregister_global_async(std::string(name), std::move(done));
  });
}

void NodeImpl::register_global_async(std::string name, Pid pid, std::function<void(Status)> done) {
  if (auto e = bad_global_name(name)) {
    done(*e);
    return;
  }
  bool asked = with_authority([&](GlobalAuthority& a) {
    if (is_local(pid)) {
      Process* p = acquire(pid);
      if (p == nullptr) {
        done(Error("register_global '" + name + "': " + pid.to_string() + " is not alive"));
        return;
      }
      release(p);
    } else if (!pid.valid()) {
      done(Error("register_global '" + name + "': the pid is invalid"));
      return;
    }
    {
      std::shared_lock<std::shared_mutex> lock(global_mu_);
      if (globals_.size() >= options_.max_global_names && !globals_.contains(name)) {
        lock.unlock();
        done(Error("register_global '" + name + "': the global registry is full (" +
                   std::to_string(options_.max_global_names) +
                   " names, NodeOptions::max_global_names)"));
        return;
      }
    }
    a.register_name(GlobalName{name, pid, 0}, std::move(done));
  });
  if (!asked) {
    done(register_global_here(std::move(name), pid));
  }
}

void NodeImpl::unregister_global_async(std::string name, std::function<void(Status)> done) {
  bool asked =
      with_authority([&](GlobalAuthority& a) { a.unregister_name(name, Pid(), std::move(done)); });
  if (!asked) {
    done(unregister_global_here(name));
  }
}

Node::AuthorityPut NodeImpl::authority_put(const GlobalName& g) {
  Node::AuthorityPut out;
  if (!valid_global_name(g.name) || !g.pid.valid()) {
    return out;
  }
  Process* p = nullptr;
  if (is_local(g.pid)) {
    p = acquire(g.pid);
    out.holder_dead = p == nullptr;
  }
  Pid before;
  {
    std::unique_lock<std::shared_mutex> lock(global_mu_);
    if (p != nullptr) {
      // Pairs with exit_process, as in register_global_here.
      p->has_global_.store(true, std::memory_order_seq_cst);
      out.holder_dead = p->exiting_.load(std::memory_order_seq_cst);
    }
    auto it = globals_.find(g.name);
    if (it != globals_.end()) {
      before = it->second.pid;
    }
    if (out.holder_dead) {
      if (it != globals_.end()) {
        globals_.erase(it);  // the authority drops it in the store too
      }
    } else if (it != globals_.end()) {
      it->second = GlobalEntry{g.pid, g.stamp};
    } else if (globals_.size() < options_.max_global_names) {
      globals_.emplace(g.name, GlobalEntry{g.pid, g.stamp});
    }
  }
  if (p != nullptr) {
    release(p);
  }
  if (before.valid() && before != g.pid && is_local(before)) {
    out.lost = before;
  }
  return out;
}

Pid NodeImpl::authority_del(std::string_view name) {
  std::unique_lock<std::shared_mutex> lock(global_mu_);
  auto it = globals_.find(name);
  if (it == globals_.end()) {
    return Pid();
  }
  Pid holder = it->second.pid;
  globals_.erase(it);
  return is_local(holder) ? holder : Pid();
}

Status NodeImpl::register_global_here(std::string name, Pid pid) {
  std::lock_guard<std::mutex> order(global_order_mu_);
  Process* p = nullptr;
  if (is_local(pid)) {
    p = acquire(pid);
    if (p == nullptr) {
      return Error("register_global '" + name + "': " + pid.to_string() + " is not alive");
    }
  } else if (!pid.valid()) {
    return Error("register_global '" + name + "': the pid is invalid");
  } else if (!node_is_up(pid.node())) {
    return Error("register_global '" + name + "': " + pid.to_string() + " is of node " +
                 std::to_string(pid.node()) + ", which is not connected");
  }
  GlobalName g{name, pid, now_micros()};
  {
    std::unique_lock<std::shared_mutex> lock(global_mu_);
    auto it = globals_.find(name);
    if (it != globals_.end()) {
      Pid holder = it->second.pid;
      lock.unlock();
      if (p != nullptr) {
        release(p);
      }
      return Error("register_global '" + name + "': name already registered to " +
                   holder.to_string());
    }
    if (p != nullptr) {
      // Pairs with exit_process: it sets exiting_ then checks has_global_.
      p->has_global_.store(true, std::memory_order_seq_cst);
      if (p->exiting_.load(std::memory_order_seq_cst)) {
        lock.unlock();
        release(p);
        return Error("register_global '" + name + "': " + pid.to_string() + " is not alive");
      }
    }
    if (globals_.size() >= options_.max_global_names) {
      lock.unlock();
      if (p != nullptr) {
        release(p);
      }
      return Error("register_global '" + name + "': the global registry is full (" +
                   std::to_string(options_.max_global_names) +
                   " names, NodeOptions::max_global_names)");
    }
    if (p == nullptr && !node_is_up(pid.node())) {
      // It went down since the check above, and node_down may have swept
      // the names already (it clears the node's bit first, then sweeps
      // under global_mu_).
      return Error("register_global '" + name + "': " + pid.to_string() + " is of node " +
                   std::to_string(pid.node()) + ", which is not connected");
    }
    globals_.emplace(std::move(name), GlobalEntry{pid, g.stamp});
  }
  if (p != nullptr) {
    release(p);
  }
  if (RouterUse r(this); r) {
    r->global_add(g);
  }
  return Status::ok();
}

Status NodeImpl::unregister_global_here(std::string_view name) {
  std::lock_guard<std::mutex> order(global_order_mu_);
  Pid pid;
  {
    std::unique_lock<std::shared_mutex> lock(global_mu_);
    auto it = globals_.find(name);
    if (it == globals_.end()) {
      return Error("unregister_global '" + std::string(name) + "': name not registered");
    }
    pid = it->second.pid;
    globals_.erase(it);
  }
  if (RouterUse r(this); r) {
    r->global_del(name, pid);
  }
  return Status::ok();
}

Pid NodeImpl::whereis_global(std::string_view name) const {
  std::shared_lock<std::shared_mutex> lock(global_mu_);
  auto it = globals_.find(name);
  return it == globals_.end() ? Pid() : it->second.pid;
}

std::vector<std::pair<std::string, Pid>> NodeImpl::global_names() const {
  std::shared_lock<std::shared_mutex> lock(global_mu_);
  std::vector<std::pair<std::string, Pid>> out;
  out.reserve(globals_.size());
  for (const auto& [name, e] : globals_) {
    out.emplace_back(name, e.pid);
  }
  return out;
}

void NodeImpl::drop_globals(Pid pid) {
  std::lock_guard<std::mutex> order(global_order_mu_);
  std::vector<std::string> dropped;
  {
    std::unique_lock<std::shared_mutex> lock(global_mu_);
    for (auto it = globals_.begin(); it != globals_.end();) {
      if (it->second.pid == pid) {
        dropped.push_back(it->first);
        it = globals_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (dropped.empty()) {
    return;  // it had lost them (unregistered, or a conflict)
  }
  if (with_authority([&](GlobalAuthority& a) {
        for (const std::string& name : dropped) {
          a.unregister_name(name, pid, nullptr);
        }
      })) {
    return;
  }
  if (RouterUse r(this); r) {
    for (const std::string& name : dropped) {
      r->global_del(name, pid);
    }
  }
}

Pid NodeImpl::remote_global_add(const GlobalName& g) {
  if (!valid_global_name(g.name) || !is_remote(g.pid)) {
    return Pid();
  }
  std::unique_lock<std::shared_mutex> lock(global_mu_);
  if (!node_is_up(g.pid.node())) {
    return Pid();  // down (see node_down): its names are gone here
  }
  auto it = globals_.find(g.name);
  if (it == globals_.end()) {
    if (globals_.size() < options_.max_global_names) {  // full: a peer cannot grow it
      globals_.emplace(g.name, GlobalEntry{g.pid, g.stamp});
    }
    return Pid();
  }
  GlobalEntry& e = it->second;
  if (e.pid == g.pid) {
    e.stamp = g.stamp;  // the holder's node has the last word on its stamp
    return Pid();
  }
  if (!global_name_wins(g.pid, g.stamp, e.pid, e.stamp)) {
    return Pid();  // g's node resolves it the same way and tells its process
  }
  Pid loser = e.pid;
  e = GlobalEntry{g.pid, g.stamp};
  return is_local(loser) ? loser : Pid();
}

void NodeImpl::remote_global_del(std::string_view name, Pid pid) {
  std::unique_lock<std::shared_mutex> lock(global_mu_);
  auto it = globals_.find(name);
  if (it != globals_.end() && it->second.pid == pid) {
    globals_.erase(it);
  }
}

Pid NodeImpl::remote_global_ask(const GlobalName& g) {
  if (!valid_global_name(g.name) || !is_local(g.pid)) {
    return Pid();
  }
  std::lock_guard<std::mutex> order(global_order_mu_);
  Process* p = acquire(g.pid);
  Pid loser;
  bool holds = false;
  {
    std::unique_lock<std::shared_mutex> lock(global_mu_);
    auto it = globals_.find(g.name);
    if (p != nullptr) {
      p->has_global_.store(true, std::memory_order_seq_cst);
      if (p->exiting_.load(std::memory_order_seq_cst)) {
        release(p);
        p = nullptr;
      }
    }
    if (p == nullptr) {
      // Gone: the asker (and whoever heard of it) drops it.
      if (it != globals_.end() && it->second.pid == g.pid) {
        globals_.erase(it);
      }
    } else if (it == globals_.end()) {
      if (globals_.size() < options_.max_global_names) {  // full: refused (GLOBAL_DEL)
        globals_.emplace(g.name, GlobalEntry{g.pid, g.stamp});
        holds = true;
      }
    } else if (it->second.pid == g.pid) {
      it->second.stamp = g.stamp;
      holds = true;
    } else if (global_name_wins(g.pid, g.stamp, it->second.pid, it->second.stamp)) {
      if (is_local(it->second.pid)) {
        loser = it->second.pid;
      }
      it->second = GlobalEntry{g.pid, g.stamp};
      holds = true;
    } else {
      loser = g.pid;  // the name's holder here is older
    }
  }
  if (p != nullptr) {
    release(p);
  }
  if (RouterUse r(this); r) {
    if (holds) {
      r->global_add(g);
    } else {
      r->global_del(g.name, g.pid);
    }
  }
  return loser;
}

void NodeImpl::global_node_up(uint16_t node) {
  if (with_authority([](GlobalAuthority&) {})) {
    return;  // each node's names are in the store already
  }
  std::lock_guard<std::mutex> order(global_order_mu_);
  std::vector<GlobalName> mine;
  {
    std::shared_lock<std::shared_mutex> lock(global_mu_);
    for (const auto& [name, e] : globals_) {
      if (is_local(e.pid)) {
        mine.push_back(GlobalName{name, e.pid, e.stamp});
      }
    }
  }
  if (mine.empty()) {
    return;
  }
  if (RouterUse r(this); r) {
    r->global_sync(node, std::move(mine));
  }
}

void NodeImpl::global_node_down(uint16_t node) {
  if (with_authority([](GlobalAuthority&) {})) {
    return;  // they stay until the store drops them (the node's lease expired)
  }
  std::unique_lock<std::shared_mutex> lock(global_mu_);
  std::erase_if(globals_, [node](const auto& kv) { return kv.second.pid.node() == node; });
}

}  // namespace detail

Status Node::register_global(std::string name, Pid pid) {
  return impl_->register_global(std::move(name), pid);
}
Status Node::unregister_global(std::string_view name) {
  return impl_->unregister_global(name);
}
void Node::register_global_async(std::string name, Pid pid, std::function<void(Status)> done) {
  impl_->register_global_async(std::move(name), pid, std::move(done));
}
void Node::unregister_global_async(std::string name, std::function<void(Status)> done) {
  impl_->unregister_global_async(std::move(name), std::move(done));
}
Node::AuthorityPut Node::authority_put(const GlobalName& g) {
  return impl_->authority_put(g);
}
Pid Node::authority_del(std::string_view name) {
  return impl_->authority_del(name);
}
Pid Node::whereis_global(std::string_view name) const {
  return impl_->whereis_global(name);
}
Status Node::send_global(std::string_view name, Message m) {
  Pid to = impl_->whereis_global(name);
  if (!to) {
    return Error("send to global name '" + std::string(name) +
                 "': no process registered under that name");
  }
  return impl_->send_message(Pid(), to, std::move(m));
}
std::vector<std::pair<std::string, Pid>> Node::global_names() const {
  return impl_->global_names();
}
Pid Node::remote_global_add(const GlobalName& g) {
  return impl_->remote_global_add(g);
}
void Node::remote_global_del(std::string_view name, Pid pid) {
  impl_->remote_global_del(name, pid);
}
Pid Node::remote_global_ask(const GlobalName& g) {
  return impl_->remote_global_ask(g);
}

}  // namespace rusm::otp
