// Supervisors: processes that start children, watch them, and restart them
// when they exit, following Erlang/OTP's supervisor.
//
//   SupervisorSpec spec;
//   spec.strategy = Strategy::kOneForOne;
//   spec.max_restarts = 10;  spec.max_seconds = std::chrono::seconds(1);
//   spec.children.push_back(ChildSpec::worker("db", db_main));
//   spec.children.push_back(ChildSpec::worker("web", web_main, 8080));
//   Result<Pid> sup = start_supervisor(node, std::move(spec));
//
// Semantics:
//   - Children start in spec order and stop in reverse order. A child's
//     start function must spawn it linked to the supervisor (ChildSpec::worker
//     does).
//   - Strategies: one_for_one restarts only the child that exited;
//     one_for_all stops the others and restarts all; rest_for_one stops and
//     restarts the children started after it; simple_one_for_one has one
//     ChildSpec used as a template for children added with start_child().
//   - Restart types: permanent children always restart, transient ones only
//     after an abnormal exit (not normal or shutdown), temporary ones never.
//   - Intensity: more than max_restarts restarts within max_seconds stops the
//     supervisor (children first) with ExitReason::shutdown("reached max
//     restart intensity"), which its parent sees. The check costs O(1)
//     amortized per restart (a queue of recent restart times).
//   - Stopping a child: exit(child, shutdown), then kill if it has not exited
//     after ChildSpec::shutdown (Duration 0 = kill at once, kInfinity = wait).
//   - A supervisor stops (children in reverse order) when its parent's exit
//     signal arrives, or when it receives an exit signal from outside any
//     process (Node::shutdown, Node::exit).
//   - If a child cannot be started at supervisor start, the supervisor stops
//     the ones already started and exits with an error naming the child.
//
// Thread-safety: the functions taking Context& are for process bodies; the
// ones taking Node& may be called from any thread outside the node's workers.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "rusm/otp/context.h"
#include "rusm/otp/node.h"

namespace rusm::otp {

enum class Strategy : uint8_t { kOneForOne, kOneForAll, kRestForOne, kSimpleOneForOne };
enum class Restart : uint8_t { kPermanent, kTransient, kTemporary };

struct SupervisorSpec;

struct ChildSpec {
  std::string id;
  // Spawns the child linked to the supervisor (ctx is the supervisor's own
  // context) and returns its pid. For simple_one_for_one, arg is the message
  // given to start_child (kept for restarts); otherwise it is empty.
  std::function<Result<Pid>(Context& ctx, const Message& arg)> start;
  Restart restart = Restart::kPermanent;
  Duration shutdown = std::chrono::seconds(5);  // 0 = brutal kill; kInfinity = wait
  bool is_supervisor = false;

  // A worker running f(ctx, args...) (args copied for every (re)start).
  template <typename F, typename... A>
  static ChildSpec worker(std::string id, F f, A... args) {
    ChildSpec c;
    c.id = std::move(id);
    c.start = [f, args...](Context& ctx, const Message&) -> Result<Pid> {
      return ctx.spawn_link(f, args...);
    };
    return c;
  }
  // A worker running f(ctx, Message arg) for simple_one_for_one supervisors.
  template <typename F>
  static ChildSpec dynamic_worker(std::string id, F f) {
    ChildSpec c;
    c.id = std::move(id);
    c.start = [f](Context& ctx, const Message& arg) -> Result<Pid> {
      return ctx.spawn_link(f, arg.empty() ? Message() : Message::make(arg.tag(), arg.text()));
    };
    return c;
  }
  // A nested supervisor.
  static ChildSpec supervisor(std::string id, SupervisorSpec spec);
};

struct SupervisorSpec {
  Strategy strategy = Strategy::kOneForOne;
  int max_restarts = 3;
  Duration max_seconds = std::chrono::seconds(5);
  std::vector<ChildSpec> children;  // simple_one_for_one: exactly one template
  std::string label = "supervisor";
};

// Starts a supervisor linked to the calling process. Errors: an invalid spec
// (message says which field), or spawn refused.
Result<Pid> start_supervisor(Context& ctx, SupervisorSpec spec);
// Starts a root supervisor from outside the node; Node::shutdown stops it.
Result<Pid> start_supervisor(Node& node, SupervisorSpec spec);

// Calls into a running supervisor. Errors: the supervisor did not answer in
// time, or refused (message says why).
namespace supervisor {

// Adds a child (simple_one_for_one: from the template with arg; other
// strategies are refused).
Task<Result<Pid>> start_child(Context& ctx, Pid sup, Message arg,
                              Duration timeout = std::chrono::seconds(5));
Result<Pid> start_child(Node& node, Pid sup, Message arg,
                        Duration timeout = std::chrono::seconds(5));
// Stops a child and forgets it (it is not restarted).
Task<Status> terminate_child(Context& ctx, Pid sup, Pid child,
                             Duration timeout = std::chrono::seconds(5));
// The live children, in start order.
Task<Result<std::vector<Pid>>> which_children(Context& ctx, Pid sup,
                                              Duration timeout = std::chrono::seconds(5));
Result<std::vector<Pid>> which_children(Node& node, Pid sup,
                                        Duration timeout = std::chrono::seconds(5));

// The same calls as plain messages, for bodies that cannot co_await (the
// Wasm body): set a fresh ref (Context::make_ref) on the request, send it to
// the supervisor, wait for a message m with is_reply(m, ref), then parse it.
// A refusal or a failed start comes back as an Error whose code() is the one
// the child's start function returned (0 for the supervisor's own refusals).
Message start_child_request(const Message& arg);
Message terminate_child_request(Pid child);
Message which_children_request();
bool is_reply(const Message& m, uint64_t ref);
Result<Pid> parse_reply(const Message& m);              // start_child, terminate_child
std::vector<Pid> parse_children(const Message& reply);  // which_children

}  // namespace supervisor
}  // namespace rusm::otp
