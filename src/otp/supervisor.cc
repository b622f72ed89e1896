// Supervisors (see include/rusm/otp/supervisor.h).
//
// HOT PATH (guarded by bench fault-recovery): child exit -> restart decision
// -> intensity check (amortized O(1): a queue of restart times from the last
// max_seconds, never longer than max_restarts + 1) -> start function.
#include "rusm/otp/supervisor.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "otp/node_impl.h"

namespace rusm::otp {
namespace {

constexpr uint64_t kSupStartChild = kSystemTagBase + 20;
constexpr uint64_t kSupTerminateChild = kSystemTagBase + 21;
constexpr uint64_t kSupWhichChildren = kSystemTagBase + 22;
constexpr uint64_t kSupReply = kSystemTagBase + 23;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Restart intensity: at most max restarts in any window of period.
class Intensity {
 public:
  Intensity(int max, Duration period) : max_(max), period_(period.count()) {}
  // Records a restart at now; false if that exceeds the intensity.
  bool add(int64_t now) {
    while (!times_.empty() && times_.front() <= now - period_) {
      times_.pop_front();
    }
    times_.push_back(now);
    if (times_.size() > static_cast<size_t>(max_) + 1) {
      times_.pop_front();
    }
    return times_.size() <= static_cast<size_t>(max_);
  }

 private:
  int max_;
  int64_t period_;
  std::deque<int64_t> times_;
};

bool is_shutdown_reason(const ExitReason& r) {
  return r.kind() == ExitKind::kNormal || r.kind() == ExitKind::kShutdown;
}

// Reply payload: the pid bits, then, for an error, its code (i32) and text.
Message make_reply(uint64_t ref, const Result<Pid>& r) {
  std::string payload(sizeof(uint64_t), '\0');
  uint64_t bits = r ? r->bits() : 0;
  std::memcpy(payload.data(), &bits, sizeof bits);
  if (!r) {
    int32_t code = r.error().code();
    payload.append(reinterpret_cast<const char*>(&code), sizeof code);
    payload += r.message();
  }
  Message m = Message::make(kSupReply, payload);
  m.set_ref(ref);
  return m;
}

class Supervisor {
 public:
  Supervisor(Context& ctx, SupervisorSpec& spec)
      : ctx_(ctx), spec_(spec), intensity_(spec.max_restarts, spec.max_seconds) {}

  // Starts the static children in order. Error names the failing child.
  Status start_all() {
    if (spec_.strategy == Strategy::kSimpleOneForOne) {
      return Status::ok();
    }
    for (size_t i = 0; i < spec_.children.size(); ++i) {
      children_.push_back({i, Pid()});
    }
    for (auto& c : children_) {
      Result<Pid> r = spec_.children[c.spec].start(ctx_, empty_);
      if (!r) {
        return Error("failed to start child '" + spec_.children[c.spec].id + "': " + r.message());
      }
      c.pid = *r;
    }
    return Status::ok();
  }

  // Stops every live child in reverse start order.
  Task<> terminate_all() {
    if (spec_.strategy == Strategy::kSimpleOneForOne) {
      co_await terminate_dynamic();
      co_return;
    }
    for (size_t i = children_.size(); i-- > 0;) {
      if (children_[i].pid) {
        Pid pid = std::exchange(children_[i].pid, Pid());
        co_await terminate(pid, spec_.children[children_[i].spec].shutdown);
      }
    }
  }

  // Handles a trapped exit from `from`. Returns false if the supervisor must
  // stop (intensity exceeded): it has already stopped its children then.
  Task<bool> child_exited(Pid from, const ExitReason& reason) {
    if (spec_.strategy == Strategy::kSimpleOneForOne) {
      auto it = dynamic_.find(from);
      if (it == dynamic_.end()) {
        co_return true;
      }
      Message arg = std::move(it->second.arg);
      dynamic_.erase(it);
      if (!should_restart(spec_.children[0].restart, reason)) {
        co_return true;
      }
      for (;;) {
        if (!count_restart()) {
          co_await terminate_all();
          co_return false;
        }
        Result<Pid> r = spec_.children[0].start(ctx_, arg);
        if (r) {
          dynamic_.emplace(*r, Dynamic{std::move(arg), next_seq_++});
          co_return true;
        }
      }
    }
    size_t i = 0;
    while (i < children_.size() && children_[i].pid != from) {
      ++i;
    }
    if (i == children_.size()) {
      co_return true;  // not (or no longer) ours
    }
    children_[i].pid = Pid();
    const ChildSpec& cs = spec_.children[children_[i].spec];
    if (!should_restart(cs.restart, reason)) {
      co_return true;  // the child stays down
    }
    size_t first = i;
    size_t last = i + 1;
    if (spec_.strategy == Strategy::kOneForAll) {
      first = 0;
      last = children_.size();
    } else if (spec_.strategy == Strategy::kRestForOne) {
      last = children_.size();
    }
    for (;;) {
      if (!count_restart()) {
        co_await terminate_all();
        co_return false;
      }
      // Stop the others in the affected range, newest first.
      for (size_t k = last; k-- > first;) {
        if (k != i && children_[k].pid) {
          Pid pid = std::exchange(children_[k].pid, Pid());
          co_await terminate(pid, spec_.children[children_[k].spec].shutdown);
        }
      }
      bool ok = true;
      for (size_t k = first; k < last; ++k) {
        const ChildSpec& s = spec_.children[children_[k].spec];
        if (k != i && s.restart == Restart::kTemporary) {
          continue;  // temporary children are not restarted by their siblings
        }
        Result<Pid> r = s.start(ctx_, empty_);
        if (!r) {
          ok = false;
          break;
        }
        children_[k].pid = *r;
      }
      if (ok) {
        co_return true;
      }
    }
  }

  Result<Pid> start_dynamic(Message arg) {
    if (spec_.strategy != Strategy::kSimpleOneForOne) {
      return Error("start_child: only simple_one_for_one supervisors add children at run time");
    }
    Result<Pid> r = spec_.children[0].start(ctx_, arg);
    if (r) {
      dynamic_.emplace(*r, Dynamic{std::move(arg), next_seq_++});
    }
    return r;
  }

  Task<Status> terminate_child(Pid pid) {
    if (spec_.strategy == Strategy::kSimpleOneForOne) {
      auto it = dynamic_.find(pid);
      if (it == dynamic_.end()) {
        co_return Error("terminate_child: " + pid.to_string() + " is not a child");
      }
      dynamic_.erase(it);
      co_await terminate(pid, spec_.children[0].shutdown);
      co_return Status::ok();
    }
    for (auto& c : children_) {
      if (c.pid == pid) {
        c.pid = Pid();
        co_await terminate(pid, spec_.children[c.spec].shutdown);
        co_return Status::ok();
      }
    }
    co_return Error("terminate_child: " + pid.to_string() + " is not a child");
  }

  std::vector<Pid> live_children() const {
    std::vector<Pid> out;
    for (auto& c : children_) {
      if (c.pid) {
        out.push_back(c.pid);
      }
    }
    // Dynamic children in the order they were (re)started.
    std::vector<std::pair<uint64_t, Pid>> dyn;
    dyn.reserve(dynamic_.size());
    for (auto& [pid, d] : dynamic_) {
      dyn.emplace_back(d.seq, pid);
    }
    std::sort(dyn.begin(), dyn.end());
    for (auto& [seq, pid] : dyn) {
      out.push_back(pid);
    }
    return out;
  }

 private:
  struct Child {
    size_t spec;
    Pid pid;
  };

  static bool should_restart(Restart r, const ExitReason& reason) {
    switch (r) {
      case Restart::kPermanent:
        return true;
      case Restart::kTransient:
        return !is_shutdown_reason(reason);
      case Restart::kTemporary:
        return false;
    }
    return false;
  }

  bool count_restart() {
    ctx_.node().impl()->bump_restarts();
    return intensity_.add(now_ns());
  }

  // Stops one child: shutdown signal, kill after the timeout. Waits on a
  // monitor so a child that unlinked itself cannot hang the supervisor.
  Task<> terminate(Pid pid, Duration timeout) {
    MonitorRef ref = ctx_.monitor(pid);
    ctx_.exit(pid, timeout == Duration(0) ? ExitReason::kill() : ExitReason::shutdown());
    auto is_down = [ref](const Message& m) { return m.is_down() && m.ref() == ref; };
    auto down = co_await ctx_.receive_if(is_down, timeout == Duration(0) ? kInfinity : timeout);
    if (!down) {
      ctx_.exit(pid, ExitReason::kill());
      co_await ctx_.receive_if(is_down);
    }
    // The link's exit signal was sent before the DOWN: drop it.
    (void)co_await ctx_.receive_if(
        [pid](const Message& m) { return m.is_exit() && m.from() == pid; }, Duration(0));
  }

  Task<> terminate_dynamic() {
    std::vector<std::pair<Pid, MonitorRef>> pending;
    for (auto& [pid, d] : dynamic_) {
      MonitorRef ref = ctx_.monitor(pid);
      ctx_.exit(pid, spec_.children[0].shutdown == Duration(0) ? ExitReason::kill()
                                                               : ExitReason::shutdown());
      pending.push_back({pid, ref});
    }
    dynamic_.clear();
    Duration timeout = spec_.children[0].shutdown;
    auto until = std::chrono::steady_clock::now() +
                 (timeout == kInfinity ? std::chrono::hours(24 * 365) : timeout);
    for (auto& [pid, ref] : pending) {
      MonitorRef r = ref;
      auto is_down = [r](const Message& m) { return m.is_down() && m.ref() == r; };
      Duration left =
          std::chrono::duration_cast<Duration>(until - std::chrono::steady_clock::now());
      auto down = co_await ctx_.receive_if(is_down, std::max(left, Duration(0)));
      if (!down) {
        ctx_.exit(pid, ExitReason::kill());
        co_await ctx_.receive_if(is_down);
      }
    }
  }

  Context& ctx_;
  SupervisorSpec& spec_;
  Intensity intensity_;
  std::vector<Child> children_;
  struct Dynamic {
    Message arg;   // given to start_child, kept for restarts
    uint64_t seq;  // start order
  };
  std::unordered_map<Pid, Dynamic> dynamic_;
  uint64_t next_seq_ = 0;
  Message empty_;
};

Task<> supervisor_main(Context& ctx, SupervisorSpec spec) {
  ctx.trap_exit(true);
  Supervisor sup(ctx, spec);
  Status started = sup.start_all();
  if (!started) {
    co_await sup.terminate_all();
    co_await ctx.exit(ExitReason::error(started.message()));
  }
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.is_exit()) {
      if (m.from() == ctx.parent() || !m.from().valid()) {
        co_await sup.terminate_all();
        co_await ctx.exit(m.reason());
      }
      if (!co_await sup.child_exited(m.from(), m.reason())) {
        co_await ctx.exit(ExitReason::shutdown("reached max restart intensity"));
      }
    } else if (m.tag() == kSupStartChild) {
      Message arg;
      uint64_t tag;
      std::string_view body = m.text();
      if (body.size() >= sizeof(uint64_t)) {
        std::memcpy(&tag, body.data(), sizeof tag);
        arg = Message::make(tag, body.substr(sizeof tag));
      }
      Result<Pid> r = sup.start_dynamic(std::move(arg));
      (void)ctx.send(m.from(), make_reply(m.ref(), r));
    } else if (m.tag() == kSupTerminateChild) {
      Status s = co_await sup.terminate_child(m.as<Pid>());
      (void)ctx.send(m.from(),
                     make_reply(m.ref(), s ? Result<Pid>(Pid()) : Result<Pid>(s.error())));
    } else if (m.tag() == kSupWhichChildren) {
      std::vector<Pid> kids = sup.live_children();
      std::string payload(sizeof(uint64_t), '\0');
      payload.append(reinterpret_cast<const char*>(kids.data()), kids.size() * sizeof(Pid));
      Message reply = Message::make(kSupReply, payload);
      reply.set_ref(m.ref());
      (void)ctx.send(m.from(), std::move(reply));
    }
  }
}

Status validate(const SupervisorSpec& spec) {
  if (spec.max_restarts < 0) {
    return Error("supervisor spec: max_restarts must be >= 0");
  }
  if (spec.strategy == Strategy::kSimpleOneForOne && spec.children.size() != 1) {
    return Error("supervisor spec: simple_one_for_one needs exactly one child spec, got " +
                 std::to_string(spec.children.size()));
  }
  for (const ChildSpec& c : spec.children) {
    if (!c.start) {
      return Error("supervisor spec: child '" + c.id + "' has no start function");
    }
  }
  return Status::ok();
}

Task<std::optional<Message>> call(Context& ctx, Pid sup, Message req, Duration timeout) {
  uint64_t ref = ctx.make_ref();
  req.set_ref(ref);
  (void)ctx.send(sup, std::move(req));
  co_return co_await ctx.receive_if(
      [ref](const Message& m) { return supervisor::is_reply(m, ref); }, timeout);
}

std::optional<Message> call(Node& node, Pid sup, Message req, Duration timeout) {
  Probe probe(node);
  uint64_t ref = node.impl()->make_ref();
  req.set_ref(ref);
  (void)probe.send(sup, std::move(req));
  return probe.receive_if([ref](const Message& m) { return supervisor::is_reply(m, ref); },
                          timeout);
}

}  // namespace

ChildSpec ChildSpec::supervisor(std::string id, SupervisorSpec spec) {
  ChildSpec c;
  c.id = std::move(id);
  c.is_supervisor = true;
  c.shutdown = kInfinity;
  c.start = [spec = std::move(spec)](Context& ctx, const Message&) {
    return start_supervisor(ctx, spec);
  };
  return c;
}

Result<Pid> start_supervisor(Context& ctx, SupervisorSpec spec) {
  if (Status s = validate(spec); !s) {
    return s.error();
  }
  SpawnOptions o;
  o.link = true;
  o.trap_exit = true;
  o.label = spec.label;
  Result<Spawned> s = ctx.spawn_opt(o, supervisor_main, std::move(spec));
  if (!s) {
    return s.error();
  }
  return s->pid;
}

Result<Pid> start_supervisor(Node& node, SupervisorSpec spec) {
  if (Status s = validate(spec); !s) {
    return s.error();
  }
  SpawnOptions o;
  o.trap_exit = true;
  o.label = spec.label;
  Result<Spawned> s = node.spawn_opt(o, supervisor_main, std::move(spec));
  if (!s) {
    return s.error();
  }
  return s->pid;
}

namespace supervisor {

Message start_child_request(const Message& arg) {
  std::string payload(sizeof(uint64_t), '\0');
  uint64_t tag = arg.empty() ? 0 : arg.tag();
  std::memcpy(payload.data(), &tag, sizeof tag);
  if (!arg.empty()) {
    payload += arg.text();
  }
  return Message::make(kSupStartChild, payload);
}

Message terminate_child_request(Pid child) {
  return Message::of(kSupTerminateChild, child);
}

Message which_children_request() {
  return Message::make(kSupWhichChildren);
}

bool is_reply(const Message& m, uint64_t ref) {
  return m.tag() == kSupReply && m.ref() == ref;
}

Result<Pid> parse_reply(const Message& m) {
  std::string_view t = m.text();
  if (t.size() < sizeof(uint64_t)) {
    return Error("supervisor: malformed reply");
  }
  uint64_t bits;
  std::memcpy(&bits, t.data(), sizeof bits);
  if (t.size() > sizeof(uint64_t)) {
    int32_t code = 0;
    if (t.size() >= sizeof(uint64_t) + sizeof code) {
      std::memcpy(&code, t.data() + sizeof(uint64_t), sizeof code);
      t.remove_prefix(sizeof code);
    }
    return Error(std::string(t.substr(sizeof(uint64_t))), code);
  }
  return Pid::from_bits(bits);
}

std::vector<Pid> parse_children(const Message& m) {
  std::string_view t = m.text();
  std::vector<Pid> out;
  for (size_t off = sizeof(uint64_t); off + sizeof(uint64_t) <= t.size(); off += sizeof(uint64_t)) {
    uint64_t bits;
    std::memcpy(&bits, t.data() + off, sizeof bits);
    out.push_back(Pid::from_bits(bits));
  }
  return out;
}

Task<Result<Pid>> start_child(Context& ctx, Pid sup, Message arg, Duration timeout) {
  auto reply = co_await call(ctx, sup, start_child_request(arg), timeout);
  if (!reply) {
    co_return Error("start_child: supervisor " + sup.to_string() + " did not answer");
  }
  co_return parse_reply(*reply);
}

Result<Pid> start_child(Node& node, Pid sup, Message arg, Duration timeout) {
  auto reply = call(node, sup, start_child_request(arg), timeout);
  if (!reply) {
    return Error("start_child: supervisor " + sup.to_string() + " did not answer");
  }
  return parse_reply(*reply);
}

Task<Status> terminate_child(Context& ctx, Pid sup, Pid child, Duration timeout) {
  auto reply = co_await call(ctx, sup, terminate_child_request(child), timeout);
  if (!reply) {
    co_return Error("terminate_child: supervisor " + sup.to_string() + " did not answer");
  }
  Result<Pid> r = parse_reply(*reply);
  co_return r ? Status::ok() : Status(r.error());
}

Task<Result<std::vector<Pid>>> which_children(Context& ctx, Pid sup, Duration timeout) {
  auto reply = co_await call(ctx, sup, which_children_request(), timeout);
  if (!reply) {
    co_return Error("which_children: supervisor " + sup.to_string() + " did not answer");
  }
  co_return parse_children(*reply);
}

Result<std::vector<Pid>> which_children(Node& node, Pid sup, Duration timeout) {
  auto reply = call(node, sup, which_children_request(), timeout);
  if (!reply) {
    return Error("which_children: supervisor " + sup.to_string() + " did not answer");
  }
  return parse_children(*reply);
}

}  // namespace supervisor
}  // namespace rusm::otp
