// Topics (Erlang's pg as publish/subscribe): each node keeps its own
// processes' subscriptions, and knows which other nodes have subscribers of
// which topics (they tell it, through the Router's topic_* hooks, when a
// topic gets its first subscriber there or loses its last one, and on
// connecting). publish() delivers to the local subscribers and sends one copy
// to each other node that has some, which fans it out to its own.
//
// A subscriber's exit drops its subscriptions (exit_process calls
// drop_topics when has_topics_ is set: the same handshake as has_global_).
// Nothing here is on the message hot path except publish's fan-out, which
// copies the message once per subscriber (as the sends would).
#include <algorithm>

#include "otp/node_impl.h"

namespace rusm::otp {

namespace detail {

namespace {

std::optional<Error> bad_topic(std::string_view topic) {
  if (topic.empty()) {
    return Error("topic: the name is empty");
  }
  if (topic.size() > kMaxGlobalName) {
    return Error("topic: the name is " + std::to_string(topic.size()) + " bytes long, more than " +
                 std::to_string(kMaxGlobalName));
  }
  return std::nullopt;
}

Message copy_of(const Message& m) {
  Message c = Message::make(m.tag(), m.text());
  c.set_ref(m.ref());
  return c;
}

}  // namespace

Status NodeImpl::subscribe(std::string topic, Pid pid) {
  if (auto e = bad_topic(topic)) {
    return *e;
  }
  if (!is_local(pid)) {
    return Error("subscribe '" + topic + "': " + pid.to_string() +
                 " is not a process of this node");
  }
  Process* p = acquire(pid);
  if (p == nullptr) {
    return Error("subscribe '" + topic + "': " + pid.to_string() + " is not alive");
  }
  std::lock_guard<std::mutex> lock(topic_mu_);
  // Pairs with exit_process: it sets exiting_ then checks has_topics_.
  p->has_topics_.store(true, std::memory_order_seq_cst);
  bool exiting = p->exiting_.load(std::memory_order_seq_cst);
  release(p);
  if (exiting) {
    return Error("subscribe '" + topic + "': " + pid.to_string() + " is not alive");
  }
  auto it = subscribers_.find(topic);
  if (it != subscribers_.end() &&
      std::find(it->second.begin(), it->second.end(), pid) != it->second.end()) {
    return Status::ok();  // already
  }
  if (subscription_count_ >= options_.max_subscriptions) {
    return Error("subscribe '" + topic + "': " + std::to_string(subscription_count_) +
                 " subscriptions on this node already (NodeOptions::max_subscriptions)");
  }
  bool first = it == subscribers_.end();
  if (first && subscribers_.size() >= options_.max_topics) {
    return Error("subscribe '" + topic + "': " + std::to_string(subscribers_.size()) +
                 " topics on this node already (NodeOptions::max_topics)");
  }
  if (first) {
    it = subscribers_.emplace(topic, std::vector<Pid>{}).first;
  }
  it->second.push_back(pid);
  topics_of_[pid].push_back(topic);
  ++subscription_count_;
  if (first) {
    if (RouterUse r(this); r) {
      r->topic_join(topic);
    }
  }
  return Status::ok();
}

Status NodeImpl::unsubscribe(std::string_view topic, Pid pid) {
  std::lock_guard<std::mutex> lock(topic_mu_);
  auto it = subscribers_.find(topic);
  auto at = it == subscribers_.end() ? std::vector<Pid>::iterator()
                                     : std::find(it->second.begin(), it->second.end(), pid);
  if (it == subscribers_.end() || at == it->second.end()) {
    return Error("unsubscribe '" + std::string(topic) + "': " + pid.to_string() +
                 " is not subscribed");
  }
  it->second.erase(at);
  --subscription_count_;
  if (auto o = topics_of_.find(pid); o != topics_of_.end()) {
    std::erase(o->second, topic);
    if (o->second.empty()) {
      topics_of_.erase(o);
    }
  }
  if (it->second.empty()) {
    subscribers_.erase(it);
    if (RouterUse r(this); r) {
      r->topic_leave(topic);
    }
  }
  return Status::ok();
}

void NodeImpl::drop_topics(Pid pid) {
  std::lock_guard<std::mutex> lock(topic_mu_);
  auto o = topics_of_.find(pid);
  if (o == topics_of_.end()) {
    return;
  }
  std::vector<std::string> left;
  for (const std::string& topic : o->second) {
    auto it = subscribers_.find(topic);
    if (it == subscribers_.end()) {
      continue;
    }
    std::erase(it->second, pid);
    --subscription_count_;
    if (it->second.empty()) {
      subscribers_.erase(it);
      left.push_back(topic);
    }
  }
  topics_of_.erase(o);
  if (!left.empty()) {
    if (RouterUse r(this); r) {
      for (const std::string& topic : left) {
        r->topic_leave(topic);
      }
    }
  }
}

size_t NodeImpl::deliver_copies(Pid from, const std::vector<Pid>& pids, const Message& m) {
  size_t n = 0;
  for (Pid to : pids) {
    if (send_message(from, to, copy_of(m))) {
      ++n;
    }
  }
  return n;
}

Result<size_t> NodeImpl::publish(std::string_view topic, Message m, Pid from) {
  if (auto e = bad_topic(topic)) {
    return *e;
  }
  if (m.resource_count() != 0) {
    return Error("publish '" + std::string(topic) +
                 "': a message holding host resources cannot be copied to subscribers");
  }
  std::vector<Pid> local;
  std::vector<uint16_t> nodes;
  {
    std::lock_guard<std::mutex> lock(topic_mu_);
    if (auto it = subscribers_.find(topic); it != subscribers_.end()) {
      local = it->second;
    }
    if (auto it = topic_nodes_.find(topic); it != topic_nodes_.end()) {
      nodes = it->second;
    }
  }
  size_t n = deliver_copies(from, local, m);
  if (!nodes.empty()) {
    RouterUse r(this);
    for (uint16_t node : nodes) {
      if (r && r->publish(from, node, topic, m)) {
        ++n;
      }
    }
  }
  return n;
}

std::vector<Pid> NodeImpl::subscribers(std::string_view topic) const {
  std::lock_guard<std::mutex> lock(topic_mu_);
  auto it = subscribers_.find(topic);
  return it == subscribers_.end() ? std::vector<Pid>{} : it->second;
}

std::vector<uint16_t> NodeImpl::topic_nodes(std::string_view topic) const {
  std::lock_guard<std::mutex> lock(topic_mu_);
  auto it = topic_nodes_.find(topic);
  return it == topic_nodes_.end() ? std::vector<uint16_t>{} : it->second;
}

void NodeImpl::remote_topic_join(uint16_t node, std::string_view topic) {
  if (bad_topic(topic) || node == node_id_ || !node_is_up(node)) {
    return;
  }
  std::lock_guard<std::mutex> lock(topic_mu_);
  auto it = topic_nodes_.find(topic);
  if (it == topic_nodes_.end()) {
    if (topic_nodes_.size() >= options_.max_topics) {
      return;  // a peer cannot grow it without bound
    }
    it = topic_nodes_.emplace(std::string(topic), std::vector<uint16_t>{}).first;
  }
  if (std::find(it->second.begin(), it->second.end(), node) == it->second.end()) {
    it->second.push_back(node);
  }
}

void NodeImpl::remote_topic_leave(uint16_t node, std::string_view topic) {
  std::lock_guard<std::mutex> lock(topic_mu_);
  auto it = topic_nodes_.find(topic);
  if (it == topic_nodes_.end()) {
    return;
  }
  std::erase(it->second, node);
  if (it->second.empty()) {
    topic_nodes_.erase(it);
  }
}

size_t NodeImpl::remote_publish(Pid from, std::string_view topic, Message m) {
  std::vector<Pid> local;
  {
    std::lock_guard<std::mutex> lock(topic_mu_);
    if (auto it = subscribers_.find(topic); it != subscribers_.end()) {
      local = it->second;
    }
  }
  return deliver_copies(from, local, m);
}

void NodeImpl::topic_node_up(uint16_t node) {
  std::lock_guard<std::mutex> lock(topic_mu_);
  if (subscribers_.empty()) {
    return;
  }
  std::vector<std::string> topics;
  topics.reserve(subscribers_.size());
  for (const auto& [topic, pids] : subscribers_) {
    topics.push_back(topic);
  }
  if (RouterUse r(this); r) {
    r->topic_sync(node, std::move(topics));
  }
}

void NodeImpl::topic_node_down(uint16_t node) {
  std::lock_guard<std::mutex> lock(topic_mu_);
  for (auto it = topic_nodes_.begin(); it != topic_nodes_.end();) {
    std::erase(it->second, node);
    it = it->second.empty() ? topic_nodes_.erase(it) : std::next(it);
  }
}

}  // namespace detail

Status Node::subscribe(std::string topic, Pid pid) {
  return impl_->subscribe(std::move(topic), pid);
}
Status Node::unsubscribe(std::string_view topic, Pid pid) {
  return impl_->unsubscribe(topic, pid);
}
Result<size_t> Node::publish(std::string_view topic, Message m, Pid from) {
  return impl_->publish(topic, std::move(m), from);
}
std::vector<Pid> Node::subscribers(std::string_view topic) const {
  return impl_->subscribers(topic);
}
std::vector<uint16_t> Node::topic_nodes(std::string_view topic) const {
  return impl_->topic_nodes(topic);
}
void Node::remote_topic_join(uint16_t node, std::string_view topic) {
  impl_->remote_topic_join(node, topic);
}
void Node::remote_topic_leave(uint16_t node, std::string_view topic) {
  impl_->remote_topic_leave(node, topic);
}
size_t Node::remote_publish(Pid from, std::string_view topic, Message m) {
  return impl_->remote_publish(from, topic, std::move(m));
}

}  // namespace rusm::otp
