#include "demo_tree.h"

#include <string>

#include "rusm/otp/supervisor.h"

namespace rusm::cli {
namespace {

using namespace rusm::otp;
using namespace std::chrono_literals;

constexpr uint64_t kTick = 1;
constexpr uint64_t kReport = 2;
constexpr uint64_t kSessionWork = 3;
constexpr int kWorkers = 4;

// A worker child with a label (ChildSpec::worker has none).
template <typename F, typename... A>
ChildSpec labelled(std::string id, std::string label, F f, A... args) {
  ChildSpec c;
  c.id = std::move(id);
  c.start = [label, f, args...](Context& ctx, const Message&) -> Result<Pid> {
    SpawnOptions so;
    so.link = true;
    so.label = label;
    Result<Spawned> s = ctx.spawn_opt(so, f, args...);
    if (!s) {
      return s.error();
    }
    return s->pid;
  };
  return c;
}

Task<> ticker(Context& ctx) {
  (void)ctx.register_name("ticker");
  for (uint64_t n = 0;; ++n) {
    co_await ctx.sleep(200ms);
    for (int i = 1; i <= kWorkers; ++i) {
      (void)ctx.send("worker-" + std::to_string(i), Message::of(kTick, n));
    }
    if (n % 5 == 0) {
      (void)ctx.send("sessions", Message::make(kSessionWork));
    }
  }
}

Task<> worker(Context& ctx, int index) {
  (void)ctx.register_name("worker-" + std::to_string(index));
  uint64_t handled = 0;
  for (;;) {
    Message m = co_await ctx.receive();
    if (m.tag() == kTick) {
      // A little work, more for higher indexes, so reductions differ.
      co_await ctx.reduce(200 * index);
      if (++handled % 10 == 0) {
        (void)ctx.send("store", Message::of(kReport, handled));
      }
    }
  }
}

Task<> store(Context& ctx) {
  (void)ctx.register_name("store");
  [[maybe_unused]] uint64_t reports = 0;
  for (;;) {
    Message m = co_await ctx.receive();
    reports += m.tag() == kReport ? 1 : 0;
  }
}

// Monitors every worker; re-monitors restarted ones as their names reappear.
Task<> watcher(Context& ctx) {
  (void)ctx.register_name("watcher");
  Pid watched[kWorkers + 1];
  for (;;) {
    for (int i = 1; i <= kWorkers; ++i) {
      Pid p = ctx.whereis("worker-" + std::to_string(i));
      if (p.valid() && p != watched[i]) {
        ctx.monitor(p);
        watched[i] = p;
      }
    }
    (void)co_await ctx.receive(1s);  // DOWN messages or nothing
  }
}

Task<> session(Context& ctx, Message arg) {
  for (;;) {
    Message m = co_await ctx.receive();
    co_await ctx.reduce(50);
  }
}

// Owns the pool: starts three sessions and fans work out to them.
Task<> session_dispatcher(Context& ctx, Pid pool) {
  (void)ctx.register_name("sessions");
  for (int i = 0; i < 3; ++i) {
    (void)co_await supervisor::start_child(ctx, pool, Message::make(0, "session"));
  }
  for (;;) {
    Message m = co_await ctx.receive();
    Result<std::vector<Pid>> kids = co_await supervisor::which_children(ctx, pool);
    if (kids) {
      for (Pid k : *kids) {
        (void)ctx.send(k, Message::make(kSessionWork));
      }
    }
  }
}

}  // namespace

Result<Pid> start_demo_tree(Node& node) {
  SupervisorSpec pool;
  pool.strategy = Strategy::kSimpleOneForOne;
  pool.max_restarts = 100;
  pool.max_seconds = 5s;
  pool.label = "session pool (simple_one_for_one)";
  ChildSpec s;
  s.id = "session";
  s.start = [](Context& ctx, const Message& arg) -> Result<Pid> {
    SpawnOptions so;
    so.link = true;
    so.label = "session";
    Result<Spawned> r = ctx.spawn_opt(so, session, Message::make(arg.tag(), arg.text()));
    if (!r) {
      return r.error();
    }
    return r->pid;
  };
  pool.children.push_back(std::move(s));

  SupervisorSpec root;
  root.strategy = Strategy::kOneForOne;
  root.max_restarts = 100;
  root.max_seconds = 5s;
  root.label = "demo supervisor (one_for_one)";
  root.children.push_back(labelled("store", "store", store));
  for (int i = 1; i <= kWorkers; ++i) {
    root.children.push_back(
        labelled("worker-" + std::to_string(i), "worker " + std::to_string(i), worker, i));
  }
  root.children.push_back(labelled("watcher", "watcher (monitors workers)", watcher));
  root.children.push_back(ChildSpec::supervisor("pool", std::move(pool)));
  root.children.push_back(labelled("ticker", "ticker (200 ms)", ticker));
  Result<Pid> sup = start_supervisor(node, std::move(root));
  if (!sup) {
    return sup.error();
  }
  // The dispatcher needs the pool's pid, known only once the tree runs.
  Result<std::vector<Pid>> kids = supervisor::which_children(node, *sup);
  if (!kids || kids->size() < kWorkers + 3) {
    return Error("demo tree: could not list the root supervisor's children");
  }
  Pid pool_pid = (*kids)[kWorkers + 2];
  SpawnOptions so;
  so.label = "session dispatcher";
  so.link = false;
  Result<Spawned> d = node.spawn_opt(so, session_dispatcher, pool_pid);
  if (!d) {
    return d.error();
  }
  return *sup;
}

}  // namespace rusm::cli
