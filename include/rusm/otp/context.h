// Native process bodies: C++20 coroutines, and the Context a process uses to
// talk to the node.
//
// A native body is a coroutine function returning Task<> whose first
// parameter is Context&:
//
//   Task<> echo(Context& ctx) {
//     for (;;) {
//       Message m = co_await ctx.receive();
//       ctx.send(m.from(), Message::make(m.tag(), m.text()));
//     }
//   }
//   Result<Pid> pid = node.spawn(echo);
//
// Take body parameters by value: they are copied into the coroutine frame,
// while references would dangle once spawn() returns. A lambda with captures
// may be passed too (it is moved into the process), as may a captureless one.
// Returning from the body ends the process with reason normal; an exception
// escaping it ends the process with ExitReason::error(what()). Coroutine frames
// come from a pooled allocator (no malloc on the spawn path in steady state).
//
// Task<T> can also be awaited from a body to call a helper coroutine
// (`int n = co_await helper(ctx);`); helpers may receive, sleep and so on.
//
// Reductions: each slice gets a budget (NodeOptions::slice_reductions).
// send() and taking a message charge 1, spawn() 10, and `co_await
// ctx.reduce(n)` charges n. When the budget is spent, the next co_await on the
// context yields the worker to other processes; a loop that never awaits is
// never preempted, so long computations should `co_await ctx.reduce()`.
//
// Thread-safety: a Context belongs to its process. Call it only from that
// process's body (the worker thread currently running it). Node's methods
// are the thread-safe way in from outside.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "rusm/otp/body.h"
#include "rusm/otp/info.h"
#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"
#include "rusm/result.h"

namespace rusm::otp {

class Node;
class Context;
template <typename T = void>
class Task;

struct SpawnOptions {
  bool link = false;           // link to the spawner (atomically with the spawn)
  bool monitor = false;        // spawner monitors the child; see Spawned::monitor
  bool trap_exit = false;      // the child starts trapping exits
  std::string label;           // free text shown in process info
  uint32_t mailbox_bound = 0;  // max queued user messages; 0 = unbounded
  // Message budget in bytes (mailbox + own pending timers, see NodeOptions);
  // 0 = the node's max_mailbox_bytes, UINT64_MAX = unlimited.
  uint64_t max_mailbox_bytes = 0;
  // Spawning for a process of another node (remote spawn, rusm/cluster),
  // from outside any process: the child starts linked to (link) and/or
  // monitored by (monitor, with the ref remote_monitor that the parent's
  // node made) remote_parent, atomically with the spawn, as a local parent
  // would be. The parent's node records its own sides (Node::remote_spawned).
  Pid remote_parent;
  MonitorRef remote_monitor = 0;
  // Called with the child's pid once its links and monitors are in place and
  // before anyone can reach it (it cannot run, exit or take a signal yet).
  // Must be quick and must not call into the node. Remote spawn sends its
  // reply from here, so the reply leaves before anything the child causes.
  std::function<void(Pid)> before_start;
};

struct Spawned {
  Pid pid;
  MonitorRef monitor = 0;  // set when SpawnOptions::monitor
};

namespace detail {

class Process;
class NodeImpl;
class CoroutineBody;

void* frame_alloc(size_t size);
void frame_free(void* p, size_t size);

// Spawn in two halves so the body's coroutine can be created with the child's
// Context: prepare reserves a process record (not yet visible), commit
// publishes and schedules it. parent is null when spawning from outside.
Result<Process*> spawn_prepare(NodeImpl* node, Process* parent, const SpawnOptions& options);
Context& context_of(Process* p);
// Exactly one of top (a native coroutine) or body (a custom Body) is set.
Spawned spawn_commit(Process* child, Process* parent, const SpawnOptions& options,
                     std::coroutine_handle<> top, std::unique_ptr<Body> body);
NodeImpl* node_impl(Node& node);

struct HeaderAccess;

struct PromiseBase {
  static void* operator new(size_t size) { return frame_alloc(size); }
  static void operator delete(void* p, size_t size) { frame_free(p, size); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept;
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  std::coroutine_handle<> continuation_;  // the awaiting coroutine, if nested
  Context* ctx_ = nullptr;
  std::exception_ptr exception_;
};

template <typename T>
struct ValuePromise : PromiseBase {
  template <typename U>
  void return_value(U&& v) {
    value_.emplace(std::forward<U>(v));
  }
  std::optional<T> value_;
};
template <>
struct ValuePromise<void> : PromiseBase {
  void return_void() noexcept {}
};

}  // namespace detail

// A coroutine running in a process: the body itself (Task<>) or a helper it
// awaits. Lazily started; move-only; destroying an unstarted or suspended Task
// destroys its frame.
template <typename T>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::ValuePromise<T> {
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) {
        h_.destroy();
      }
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Task() {
    if (h_) {
      h_.destroy();
    }
  }

  // Awaiting a Task runs it to completion inside the same process.
  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept;
  T await_resume() {
    auto& p = h_.promise();
    if (p.exception_) {
      std::rethrow_exception(p.exception_);
    }
    if constexpr (!std::is_void_v<T>) {
      return std::move(*p.value_);
    }
  }

  Handle release() { return std::exchange(h_, {}); }

 private:
  explicit Task(Handle h) : h_(h) {}
  Handle h_;
};

// See the file comment. Obtained by a body as its first parameter.
class Context {
 public:
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Pid self() const;
  Node& node() const;
  // The process that spawned this one; invalid if spawned from outside.
  Pid parent() const;

  // ---- Messages

  // Sends m to `to`. Sending to a dead process is not an error (the message is
  // dropped). Errors: `to`'s mailbox is full (its bound, or its message
  // budget in bytes), or the node's memory budget is spent; the message is
  // dropped then. Messages from one process to another arrive in the order sent.
  Status send(Pid to, Message m);
  // Sends to the process registered as name. Error if no such name.
  Status send(std::string_view name, Message m);
  // Sends to the process registered as name on `node` (Erlang's {Name, Node}
  // ! Msg). On this node: as send(name, m). On another: through the node's
  // router; error if there is none ("not connected to node N").
  //
  // A pid of another node (Pid::node() != Node::id()) is handled by the
  // node's router (see router.h) in every call of this class: send() fails
  // with "not connected to node N" if there is no router or it cannot reach
  // that node, or with an error if m holds host resources.
  Status send_named(uint16_t node, std::string_view name, Message m);

  template <bool kTimed, typename Pred>
  class ReceiveOp;
  struct AnyPred {};
  struct TagPred {
    uint64_t tag;
  };

  // `Message m = co_await ctx.receive();` takes the oldest message.
  ReceiveOp<false, AnyPred> receive();
  // As receive(), giving up after timeout: std::nullopt if nothing came.
  ReceiveOp<true, AnyPred> receive(Duration timeout);
  // The oldest message with this tag; others stay queued in order.
  ReceiveOp<false, TagPred> receive_tag(uint64_t tag);
  ReceiveOp<true, TagPred> receive_tag(uint64_t tag, Duration timeout);
  // The oldest message for which pred(const Message&) is true.
  template <typename Pred>
  ReceiveOp<false, Pred> receive_if(Pred pred);
  template <typename Pred>
  ReceiveOp<true, Pred> receive_if(Pred pred, Duration timeout);

  class StepOp;
  class YieldOp;
  // Sleeps for d; messages arriving meanwhile stay queued.
  StepOp sleep(Duration d);
  // Gives the worker to the other runnable processes.
  YieldOp yield();
  // Charges n reductions; yields only if that spent the slice's budget.
  YieldOp reduce(int64_t n = 1);
  // Ends this process with reason; never resumes. (exit(self, reason) below
  // is the asynchronous signal form.)
  StepOp exit(ExitReason reason);
  class EventOp;
  // Waits for Node::wake(self()) (external events such as I/O readiness).
  // Resumes with true on a wake, false on timeout. A wake that came while the
  // process was not waiting is remembered and ends the next wait at once.
  EventOp wait_event(Duration timeout = kInfinity);

  // ---- Spawning. f(Context&, args...) must return Task<>.

  template <typename F, typename... A>
  Result<Pid> spawn(F&& f, A&&... args);
  template <typename F, typename... A>
  Result<Pid> spawn_link(F&& f, A&&... args);
  template <typename F, typename... A>
  Result<Spawned> spawn_monitor(F&& f, A&&... args);
  template <typename F, typename... A>
  Result<Spawned> spawn_opt(const SpawnOptions& options, F&& f, A&&... args);
  // A process with a custom body (e.g. a Wasm instance).
  Result<Spawned> spawn_body(std::unique_ptr<Body> body, const SpawnOptions& options = {});

  // ---- Links, monitors, exit signals (Erlang semantics)

  // Links self and pid (idempotent). If pid does not exist, self receives an
  // exit signal with reason noproc (an EXIT message when trapping, else death).
  // A pid of a node that cannot be reached gives an exit signal with reason
  // noconnection at once; the link fires with noconnection, too, if that
  // node goes down later.
  void link(Pid pid);
  void unlink(Pid pid);
  // Starts monitoring pid; when it exits (or if it is already gone: noproc;
  // or its node cannot be reached or goes down: noconnection) a DOWN message
  // with the returned ref arrives, exactly once.
  MonitorRef monitor(Pid pid);
  // Stops a monitor; no DOWN for it arrives after this returns, and with
  // flush a DOWN already queued is removed. Returns whether it was active.
  bool demonitor(MonitorRef ref, bool flush = false);
  // Sets trap_exit; returns the previous value. Trapping turns exit signals
  // (except kill) into kExitTag messages.
  bool trap_exit(bool on);
  // Sends an exit signal to pid (to self too). Reason kill is untrappable and
  // the target dies with killed; normal is ignored by non-trapping targets.
  void exit(Pid pid, ExitReason reason);
  // Pids of other nodes: false (this node cannot tell).
  bool is_alive(Pid pid) const;

  // ---- Nodes (distribution; see router.h)

  // Subscribes self to node's status until demonitor_node(node) or exit:
  // a kNodeDownTag message each time it goes down and a kNodeUpTag message
  // each time it comes up (message.h: payload and ref() are the node id). If
  // the node is not up now, a nodedown arrives at once (as Erlang's
  // monitor_node). Subscribing twice is subscribing once. This node's own id:
  // nothing (it is always up).
  void monitor_node(uint16_t node);
  void demonitor_node(uint16_t node);
  bool node_is_up(uint16_t node) const;

  // ---- Registry

  // Errors: name taken, or self already has a name.
  Status register_name(std::string name);
  Status unregister_name(std::string_view name);
  Pid whereis(std::string_view name) const;

  // ---- Timers

  // Delivers m to `to` after delay (m.from() is self). The pending timer
  // (payload and record) counts against this process's message budget until
  // it fires or is cancelled; when this process exits, its pending timers
  // are cancelled and their payloads freed (Erlang cancels the timers of a
  // dead owner too). Returns an invalid TimerRef, sending nothing, if this
  // process's message budget or the node's memory budget has no room.
  // When it fires, the message is counted in the receiver's budget but never
  // refused (it was paid for already).
  TimerRef send_after(Duration delay, Pid to, Message m);
  // Cancels; returns the time that was left, or nullopt if the timer already
  // fired or was cancelled. The payload is freed at once (by the worker
  // whose wheel holds it, shortly after, when that is another thread).
  std::optional<Duration> cancel_timer(TimerRef timer);
  // Whether the timer is still pending (neither fired nor cancelled).
  bool timer_pending(TimerRef timer) const;

  // ---- Introspection
  std::optional<ProcessInfo> info(Pid pid) const;
  MonitorRef make_ref();
  // Replaces this process's label (shown in process info).
  void set_label(std::string label);

  // ---- For Body implementations (see body.h)

  // Reductions left in this slice (may go negative).
  int64_t budget() const { return budget_; }
  void charge(int64_t reductions) { budget_ -= reductions; }
  // Raised when an exit signal for this process arrives while it runs (and
  // cleared by the scheduler when it starts a slice): a body that runs long
  // between returns should stop soon when it is set, returning
  // Step::yield(), so that a kill takes effect at once. Read it relaxed.
  const std::atomic<bool>& interrupt_flag() const;
  // The node's memory budget, for what the body holds (see Node::reserve_memory).
  bool reserve_memory(uint64_t bytes);
  void release_memory(uint64_t bytes);
  // What the body holds now, in bytes, for process info (memory); a body
  // reports when it changes noticeably. Body::memory_bytes() is the first report.
  void report_memory(size_t bytes);
  WakeReason wake_reason() const { return wake_; }
  // The message that ended a kWaitMessage wait (empty after a timeout).
  Message take_delivered();

 private:
  friend class detail::Process;
  friend class detail::NodeImpl;
  friend class detail::CoroutineBody;
  friend struct detail::HeaderAccess;
  Context() = default;

  // Fast path of receive: takes a matching message now if there is one and
  // the budget allows (no suspension). Defined in context.cc.
  bool try_receive_now(const MessageFilter& filter);

  detail::Process* proc_ = nullptr;
  int64_t budget_ = 0;
  std::coroutine_handle<> current_;  // innermost coroutine of a native body
  Step pending_;                     // what the native body asked for when it suspended
  detail::MessageNode* delivered_ = nullptr;
  WakeReason wake_ = WakeReason::kStart;
};

namespace detail {

struct HeaderAccess {
  static void set_current(Context& ctx, std::coroutine_handle<> h) { ctx.current_ = h; }
  static Step& pending(Context& ctx) { return ctx.pending_; }
  static int64_t& budget(Context& ctx) { return ctx.budget_; }
  static bool try_receive_now(Context& ctx, const MessageFilter& f) {
    return ctx.try_receive_now(f);
  }
};

template <typename P>
std::coroutine_handle<> PromiseBase::FinalAwaiter::await_suspend(
    std::coroutine_handle<P> h) noexcept {
  PromiseBase& p = h.promise();
  if (p.continuation_) {
    HeaderAccess::set_current(*p.ctx_, p.continuation_);
    return p.continuation_;
  }
  return std::noop_coroutine();
}

template <typename F>
inline F empty_instance{};

template <typename Fn, typename... A>
Task<> owned_body(Context& ctx, Fn fn, A... args) {
  co_await std::invoke(fn, ctx, std::move(args)...);
}

// Builds the body coroutine for f(ctx, args...), keeping f alive for the
// coroutine's lifetime when it carries state.
template <typename F, typename... A>
Task<> make_body(Context& ctx, F&& f, A&&... args) {
  using Fn = std::decay_t<F>;
  if constexpr (std::is_pointer_v<Fn> || std::is_member_function_pointer_v<Fn>) {
    return std::invoke(f, ctx, std::forward<A>(args)...);
  } else if constexpr (std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>) {
    return std::invoke(empty_instance<Fn>, ctx, std::forward<A>(args)...);
  } else {
    return owned_body<Fn, std::decay_t<A>...>(ctx, Fn(std::forward<F>(f)),
                                              std::forward<A>(args)...);
  }
}

template <typename F, typename... A>
Result<Spawned> spawn_native(NodeImpl* node, Process* parent, const SpawnOptions& options, F&& f,
                             A&&... args) {
  Result<Process*> child = spawn_prepare(node, parent, options);
  if (!child) {
    return child.error();
  }
  Context& cctx = context_of(*child);
  Task<> task = make_body(cctx, std::forward<F>(f), std::forward<A>(args)...);
  auto h = task.release();
  h.promise().ctx_ = &cctx;
  return spawn_commit(*child, parent, options, h, nullptr);
}

}  // namespace detail

template <typename T>
template <typename P>
std::coroutine_handle<> Task<T>::await_suspend(std::coroutine_handle<P> parent) noexcept {
  auto& cp = h_.promise();
  cp.continuation_ = parent;
  cp.ctx_ = parent.promise().ctx_;
  detail::HeaderAccess::set_current(*cp.ctx_, h_);
  return h_;
}

// co_await ctx.receive...(): see Context.
template <bool kTimed, typename Pred>
class Context::ReceiveOp {
 public:
  ReceiveOp(Context* ctx, Pred pred, Duration timeout)
      : ctx_(ctx), pred_(std::move(pred)), timeout_(timeout) {}

  bool await_ready() {
    filter_ = make_filter();
    return detail::HeaderAccess::try_receive_now(*ctx_, filter_);
  }
  void await_suspend(std::coroutine_handle<>) {
    detail::HeaderAccess::pending(*ctx_) = Step::wait_message(filter_, timeout_);
  }
  auto await_resume() {
    if constexpr (kTimed) {
      Message m = ctx_->take_delivered();
      return m ? std::optional<Message>(std::move(m)) : std::nullopt;
    } else {
      return ctx_->take_delivered();
    }
  }

 private:
  MessageFilter make_filter() {
    if constexpr (std::is_same_v<Pred, AnyPred>) {
      return MessageFilter::any();
    } else if constexpr (std::is_same_v<Pred, TagPred>) {
      return MessageFilter::by_tag(pred_.tag);
    } else {
      return MessageFilter::by_predicate(
          [](const Message& m, void* arg) {
            return static_cast<bool>((*static_cast<Pred*>(arg))(m));
          },
          &pred_);
    }
  }

  Context* ctx_;
  Pred pred_;
  Duration timeout_;
  MessageFilter filter_;
};

// co_await ctx.sleep / yield / reduce / exit.
class Context::StepOp {
 public:
  StepOp(Context* ctx, Step step, bool ready) : ctx_(ctx), step_(std::move(step)), ready_(ready) {}
  bool await_ready() const noexcept { return ready_; }
  void await_suspend(std::coroutine_handle<>) {
    detail::HeaderAccess::pending(*ctx_) = std::move(step_);
  }
  void await_resume() const noexcept {}

 private:
  Context* ctx_;
  Step step_;
  bool ready_;
};

// co_await ctx.yield / reduce: HOT (bench fairness), so no Step is built
// unless the process really yields.
class Context::YieldOp {
 public:
  YieldOp(Context* ctx, bool ready) : ctx_(ctx), ready_(ready) {}
  bool await_ready() const noexcept { return ready_; }
  void await_suspend(std::coroutine_handle<>) {
    detail::HeaderAccess::pending(*ctx_).kind = Step::Kind::kYield;
  }
  void await_resume() const noexcept {}

 private:
  Context* ctx_;
  bool ready_;
};

class Context::EventOp {
 public:
  EventOp(Context* ctx, Duration timeout) : ctx_(ctx), timeout_(timeout) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) {
    detail::HeaderAccess::pending(*ctx_) = Step::wait_event(timeout_);
  }
  bool await_resume() const noexcept { return ctx_->wake_reason() == WakeReason::kEvent; }

 private:
  Context* ctx_;
  Duration timeout_;
};

inline Context::ReceiveOp<false, Context::AnyPred> Context::receive() {
  return {this, AnyPred{}, kInfinity};
}
inline Context::ReceiveOp<true, Context::AnyPred> Context::receive(Duration timeout) {
  return {this, AnyPred{}, timeout};
}
inline Context::ReceiveOp<false, Context::TagPred> Context::receive_tag(uint64_t tag) {
  return {this, TagPred{tag}, kInfinity};
}
inline Context::ReceiveOp<true, Context::TagPred> Context::receive_tag(uint64_t tag,
                                                                       Duration timeout) {
  return {this, TagPred{tag}, timeout};
}
template <typename Pred>
Context::ReceiveOp<false, Pred> Context::receive_if(Pred pred) {
  return {this, std::move(pred), kInfinity};
}
template <typename Pred>
Context::ReceiveOp<true, Pred> Context::receive_if(Pred pred, Duration timeout) {
  return {this, std::move(pred), timeout};
}
inline Context::StepOp Context::sleep(Duration d) {
  return {this, Step::wait_message(MessageFilter::nothing(), d), false};
}
inline Context::YieldOp Context::yield() {
  return {this, false};
}
inline Context::YieldOp Context::reduce(int64_t n) {
  budget_ -= n;
  return {this, budget_ > 0};
}
inline Context::StepOp Context::exit(ExitReason reason) {
  return {this, Step::exit(std::move(reason)), false};
}
inline Context::EventOp Context::wait_event(Duration timeout) {
  return {this, timeout};
}

template <typename F, typename... A>
Result<Pid> Context::spawn(F&& f, A&&... args) {
  Result<Spawned> s = spawn_opt(SpawnOptions{}, std::forward<F>(f), std::forward<A>(args)...);
  if (!s) {
    return s.error();
  }
  return s->pid;
}
template <typename F, typename... A>
Result<Pid> Context::spawn_link(F&& f, A&&... args) {
  SpawnOptions o;
  o.link = true;
  Result<Spawned> s = spawn_opt(o, std::forward<F>(f), std::forward<A>(args)...);
  if (!s) {
    return s.error();
  }
  return s->pid;
}
template <typename F, typename... A>
Result<Spawned> Context::spawn_monitor(F&& f, A&&... args) {
  SpawnOptions o;
  o.monitor = true;
  return spawn_opt(o, std::forward<F>(f), std::forward<A>(args)...);
}
template <typename F, typename... A>
Result<Spawned> Context::spawn_opt(const SpawnOptions& options, F&& f, A&&... args) {
  budget_ -= 10;
  return detail::spawn_native(detail::node_impl(node()), proc_, options, std::forward<F>(f),
                              std::forward<A>(args)...);
}

}  // namespace rusm::otp
