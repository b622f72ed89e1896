#include "observe/shell.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "observe/protocol.h"
#include "rusm/otp/message.h"

namespace rusm::observe {

namespace {

ShellResult fail(std::string message) {
  ShellResult r;
  r.ok = false;
  r.output = std::move(message);
  if (r.output.empty() || r.output.back() != '\n') {
    r.output += '\n';
  }
  return r;
}

ShellResult okay(std::string output) {
  ShellResult r;
  r.output = std::move(output);
  return r;
}

std::string usage(const char* command) {
  static const struct {
    const char* name;
    const char* text;
  } kUsage[] = {
      {"ps", "ps [--filter SUBSTR] [--sort reductions|memory|mailbox] [--limit N]"},
      {"info", "info PID|NAME"},
      {"send", "send PID|NAME TAG DATA"},
      {"exit", "exit PID|NAME REASON"},
      {"kill", "kill PID|NAME"},
      {"whereis", "whereis NAME"},
      {"stats", "stats"},
      {"top", "top [N]"},
      {"nodes", "nodes"},
      {"spawn", "spawn MODULE [FUNCTION] [ARG...] [--node NAME] [--allow CAP,...]"},
      {"trace", "trace PROC [--rate N] [--count N]"},
      {"help", "help"},
  };
  for (const auto& u : kUsage) {
    if (std::string_view(u.name) == command) {
      return std::string("usage: ") + u.text;
    }
  }
  return "usage: help";
}

// A whole decimal number in [lo, hi], or an error naming `what`.
Result<uint64_t> parse_count(std::string_view text, const char* what, uint64_t lo, uint64_t hi) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
    return Error(std::string(what) + " must be a whole number in [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "], not '" + std::string(text.substr(0, 40)) + "'");
  }
  return v;
}

// A 64-bit integer, decimal or 0x hex; errors call it `what`.
Result<uint64_t> parse_u64(std::string_view text, const char* what) {
  uint64_t v = 0;
  int base = 10;
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return Error(std::string("bad ") + what + " '" + std::string(text.substr(0, 40)) +
                 "' (a 64-bit integer, decimal or 0x hex)");
  }
  return v;
}

Result<uint64_t> parse_tag(std::string_view text) {
  Result<uint64_t> r = parse_u64(text, "tag");
  if (!r) {
    return r;
  }
  uint64_t v = *r;
  if (v >= otp::kSystemTagBase) {
    return Error("tag " + std::string(text.substr(0, 40)) +
                 " is reserved for the system (exit and DOWN messages)");
  }
  return v;
}

std::string pid_list(const std::vector<otp::Pid>& pids) {
  if (pids.empty()) {
    return "-";
  }
  std::string out;
  for (otp::Pid p : pids) {
    if (!out.empty()) {
      out += ' ';
    }
    out += p.to_string();
  }
  return out;
}

// What a row shows as the process's name: its registered name, else its label.
std::string display_name(const otp::ProcessInfo& p) {
  if (!p.registered_name.empty()) {
    return p.registered_name;
  }
  return p.label;
}

// Control characters (a guest's label, a client's bytes) never reach a
// terminal raw: they could move the cursor or retitle the window.
std::string printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) {
    out += "...";
  }
  return out;
}

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) {
    out.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
  }
}

void table_header(std::string& out, const char* first_numbers) {
  appendf(out, "%-16s %-9s %8s %14s %12s  %-24s %s\n", "PID", "STATUS", "MAILBOX", first_numbers,
          "MEMORY", "NAME", "WAIT");
}

void table_row(std::string& out, const otp::ProcessInfo& p, uint64_t reductions) {
  appendf(out, "%-16s %-9s %8zu %14llu %12zu  %-24s %s\n", p.pid.to_string().c_str(),
          otp::to_string(p.status), p.mailbox_length, static_cast<unsigned long long>(reductions),
          p.memory_bytes, printable(display_name(p), 24).c_str(),
          printable(p.current_wait, 40).c_str());
}

}  // namespace

Result<std::vector<std::string>> split_shell_words(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) {
      ++i;
    }
    if (i == line.size()) {
      break;
    }
    std::string word;
    while (i < line.size() && !blank(line[i])) {
      char c = line[i];
      if (c == '\'') {
        size_t close = line.find('\'', i + 1);
        if (close == std::string_view::npos) {
          return Error("unterminated ' quote at column " + std::to_string(i + 1));
        }
        word.append(line.substr(i + 1, close - i - 1));
        i = close + 1;
      } else if (c == '"') {
        size_t start = i;
        ++i;
        for (;;) {
          if (i == line.size()) {
            return Error("unterminated \" quote at column " + std::to_string(start + 1));
          }
          char d = line[i++];
          if (d == '"') {
            break;
          }
          if (d != '\\') {
            word += d;
            continue;
          }
          if (i == line.size()) {
            return Error("unterminated \" quote at column " + std::to_string(start + 1));
          }
          char e = line[i++];
          switch (e) {
            case '\\':
            case '"':
            case '\'':
              word += e;
              break;
            case 'n':
              word += '\n';
              break;
            case 't':
              word += '\t';
              break;
            case 'x': {
              unsigned v = 0;
              if (i + 2 > line.size() ||
                  std::from_chars(line.data() + i, line.data() + i + 2, v, 16).ptr !=
                      line.data() + i + 2) {
                return Error("bad escape \\x at column " + std::to_string(i - 1) +
                             " (two hex digits follow \\x)");
              }
              word += static_cast<char>(v);
              i += 2;
              break;
            }
            default:
              return Error(std::string("unknown escape \\") + printable(std::string(1, e)) +
                           " at column " + std::to_string(i - 1) +
                           " (known: \\\\ \\\" \\' \\n \\t \\xHH)");
          }
        }
      } else {
        word += c;
        ++i;
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

Shell::Shell(otp::Node& node, ShellOptions options) : node_(node), options_(std::move(options)) {}

ShellResult Shell::execute(std::string_view line, Access access, const ShellStream& stream) {
  if (line.size() > kMaxCommandBytes) {
    return fail("line too long (" + std::to_string(line.size()) + " bytes, at most " +
                std::to_string(kMaxCommandBytes) + ")");
  }
  Result<Words> words = split_shell_words(line);
  if (!words) {
    return fail(words.error().message());
  }
  const Words& w = *words;
  if (w.empty()) {
    return okay("");
  }
  const std::string& cmd = w[0];
  if (cmd == "send" || cmd == "exit" || cmd == "kill" || cmd == "spawn") {
    if (access != Access::kControl) {
      ShellResult r = fail("'" + cmd +
                           "' changes the node and needs control access: this connection may "
                           "only observe (connect with the token)");
      r.denied = true;
      return r;
    }
    if (cmd == "send") {
      return send(w);
    }
    if (cmd == "spawn") {
      return spawn(w);
    }
    return cmd == "exit" ? exit(w) : kill(w);
  }
  if (cmd == "help" || cmd == "?") {
    return help();
  }
  if (cmd == "ps") {
    return ps(w);
  }
  if (cmd == "info") {
    return info(w);
  }
  if (cmd == "whereis") {
    return whereis(w);
  }
  if (cmd == "stats") {
    return stats(w);
  }
  if (cmd == "top") {
    return top(w);
  }
  if (cmd == "nodes") {
    return nodes(w);
  }
  if (cmd == "trace") {
    return trace(w, stream);
  }
  return fail("unknown command '" + printable(cmd, 40) + "' (help lists the commands)");
}

ShellResult Shell::help() const {
  return okay(
      "help                                  this list\n"
      "ps [--filter S] [--sort reductions|memory|mailbox] [--limit N]\n"
      "                                      processes (default: 50 busiest by reductions)\n"
      "info PROC                             one process: links, monitors, mailbox, wait\n"
      "send PROC TAG DATA       (control)    send a message; TAG is decimal or 0x hex\n"
      "exit PROC REASON         (control)    exit signal: normal, shutdown, kill or text\n"
      "kill PROC                (control)    the untrappable kill signal\n"
      "whereis NAME                          the pid registered as NAME (here, else global)\n"
      "stats                                 node counters, budgets and workers\n"
      "top [N]                               busiest N (10) since the previous top\n"
      "nodes                                 the nodes of the cluster\n"
      "spawn MODULE [FUNCTION] [ARG...] [--node NAME] [--allow CAP,...]\n"
      "                         (control)    start a process (MODULE: a module of the node\n"
      "                                      or a .wasm file on its disk; on a peer with --node)\n"
      "trace PROC [--rate N] [--count N]     a live stream of PROC's messages, spawns, links,\n"
      "                                      monitors and exit (at most N/s, default 100),\n"
      "                                      until it exits or Ctrl-C (rusm attach)\n"
      "PROC is a pid (<0.12.1>) or a registered name (local, else global); send, exit and\n"
      "kill also reach processes of other connected nodes; quote words with ' or \".\n");
}

ShellResult Shell::spawn(const Words& w) const {
  if (!options_.spawn) {
    return fail("spawn is not available on this node (it is not run by `rusm serve`)");
  }
  ShellSpawn s;
  size_t positional = 0;
  for (size_t i = 1; i < w.size(); ++i) {
    if (w[i] == "--node" || w[i] == "--allow") {
      if (i + 1 == w.size()) {
        return fail(w[i] + " needs a value; " + usage("spawn"));
      }
      const std::string& v = w[++i];
      if (w[i - 1] == "--node") {
        s.node = v;
        continue;
      }
      for (size_t at = 0; at <= v.size();) {
        size_t comma = std::min(v.find(',', at), v.size());
        if (comma > at) {
          s.allow.push_back(v.substr(at, comma - at));
        }
        at = comma + 1;
      }
      continue;
    }
    if (w[i].starts_with("--")) {
      return fail("unknown option '" + printable(w[i], 40) + "'; " + usage("spawn"));
    }
    if (positional == 0) {
      s.module = w[i];
    } else if (positional == 1) {
      s.function = w[i];
    } else {
      Result<uint64_t> v = parse_u64(w[i], "argument");
      if (!v) {
        return fail(v.error().message());
      }
      if (s.args.size() == 64) {
        return fail("at most 64 arguments");
      }
      s.args.push_back(*v);
    }
    ++positional;
  }
  if (s.module.empty()) {
    return fail(usage("spawn"));
  }
  Result<std::string> pid = options_.spawn(s);
  if (!pid) {
    return fail("spawn " + printable(s.module, 80) + ": " + pid.error().message());
  }
  return okay(*pid + "\n");
}

namespace {

// trace's tracer: events become lines, at most `rate` a second (a token
// bucket with a second's worth of burst) and kMaxTraceBacklog waiting; the
// rest are counted. Called on the traced process's threads; the shell's
// thread takes the lines.
class LineTracer final : public otp::Tracer {
 public:
  explicit LineTracer(uint64_t rate) : rate_(rate), tokens_(static_cast<double>(rate)) {}

  void event(const otp::TraceEvent& e) override {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    if (e.kind == otp::TraceKind::kExit) {
      exited_ = true;  // always told, whatever the rate
    } else {
      double dt = std::chrono::duration<double>(now - refilled_).count();
      refilled_ = now;
      tokens_ = std::min(static_cast<double>(rate_), tokens_ + dt * static_cast<double>(rate_));
      if (tokens_ < 1 || lines_.size() >= kMaxTraceBacklog) {
        ++dropped_;
        return;
      }
      tokens_ -= 1;
    }
    lines_.push_back(line(e));
    cv_.notify_one();
  }

  // Waits up to `wait` for lines; takes them all.
  std::vector<std::string> take(std::chrono::milliseconds wait, bool* exited, uint64_t* dropped) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !lines_.empty() || exited_; });
    std::vector<std::string> out;
    out.swap(lines_);
    *exited = exited_;
    *dropped = dropped_;
    return out;
  }

 private:
  static std::string line(const otp::TraceEvent& e) {
    std::string s = e.pid.to_string() + " " + otp::trace_kind_name(e.kind);
    switch (e.kind) {
      case otp::TraceKind::kSend:
        s += " to " + e.other.to_string();
        break;
      case otp::TraceKind::kReceive:
        s += " from " + (e.other.valid() ? e.other.to_string() : std::string("outside"));
        break;
      case otp::TraceKind::kExit:
        return s + ": " + printable(e.reason.to_string(), 200) + "\n";
      default:
        return s + " " + e.other.to_string() + "\n";
    }
    char tail[80];
    std::snprintf(tail, sizeof tail, " tag %llu (%zu bytes)\n",
                  static_cast<unsigned long long>(e.tag), e.size);
    return s + tail;
  }

  const uint64_t rate_;
  std::mutex mu_;
  std::condition_variable cv_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
  std::vector<std::string> lines_;
  uint64_t dropped_ = 0;
  bool exited_ = false;
};

}  // namespace

ShellResult Shell::trace(const Words& w, const ShellStream& stream) const {
  if (w.size() < 2) {
    return fail(usage("trace"));
  }
  uint64_t rate = kDefaultTraceRate, count = 0;
  for (size_t i = 2; i < w.size(); ++i) {
    if ((w[i] == "--rate" || w[i] == "--count") && i + 1 < w.size()) {
      Result<uint64_t> n = w[i] == "--rate" ? parse_count(w[i + 1], "--rate", 1, kMaxTraceRate)
                                            : parse_count(w[i + 1], "--count", 1, 1'000'000);
      if (!n) {
        return fail(n.error().message());
      }
      (w[i] == "--rate" ? rate : count) = *n;
      ++i;
    } else {
      return fail("unknown argument '" + printable(w[i], 40) + "'; " + usage("trace"));
    }
  }
  if (!stream) {
    return fail(
        "trace streams its output as it happens: this client takes one answer per command "
        "(use `rusm attach`, or the dashboard's WebSocket)");
  }
  Result<otp::Pid> pid = resolve(w[1]);
  if (!pid) {
    return fail(pid.error().message());
  }
  auto tracer = std::make_shared<LineTracer>(rate);
  if (Status st = node_.trace(*pid, tracer); !st) {
    return fail(st.message());
  }
  // A client that stops the trace at once (even before this line is out)
  // still gets the same closing line, with no events.
  const bool started = stream("tracing " + pid->to_string() + " (at most " + std::to_string(rate) +
                              " events/s; Ctrl-C stops)\n");
  uint64_t shown = 0, dropped = 0;
  bool exited = false, dying = false;
  std::string why = "stopped";
  for (; started;) {
    std::vector<std::string> lines =
        tracer->take(std::chrono::milliseconds(200), &exited, &dropped);
    std::string chunk;
    for (std::string& l : lines) {
      if (count != 0 && shown == count) {
        break;
      }
      chunk += l;
      ++shown;
    }
    if (!chunk.empty() && !stream(chunk)) {
      break;
    }
    if (exited) {
      why = "it exited";
      break;
    }
    if (count != 0 && shown >= count) {
      why = std::to_string(count) + " events";
      break;
    }
    if (!node_.is_alive(*pid)) {
      why = "it exited";
      if (dying) {
        break;  // its exit event did not come: stop all the same
      }
      dying = true;  // one more round for its exit event, on its way
      continue;
    }
    if (chunk.empty() && !stream("")) {  // the client may have stopped it meanwhile
      break;
    }
  }
  node_.untrace(*pid, tracer.get());
  return okay("trace of " + pid->to_string() + " ended (" + why + "): " + std::to_string(shown) +
              " events, " + std::to_string(dropped) + " dropped over the rate cap\n");
}

Result<otp::Pid> Shell::resolve(const std::string& word, bool any_node) const {
  otp::Pid pid;
  if (!word.empty() && word.front() == '<') {
    Result<otp::Pid> parsed = parse_pid(word);
    if (!parsed) {
      return parsed.error();
    }
    pid = *parsed;
  } else if (pid = node_.whereis(word); !pid) {
    pid = node_.whereis_global(word);
    if (!pid) {
      return Error("no process registered as '" + printable(word, 80) +
                   "', here or globally (a pid looks like <0.12.1>)");
    }
  }
  if (pid.node() != node_.id()) {
    if (!any_node) {
      return Error(pid.to_string() + " is a process of node " + std::to_string(pid.node()) +
                   "; this is node " + std::to_string(node_.id()) +
                   " (info and trace read this node's tables: attach to that node, or open its "
                   "observer from the dashboard's Cluster panel)");
    }
    if (!node_.node_is_up(pid.node())) {
      return Error(pid.to_string() + " is a process of node " + std::to_string(pid.node()) +
                   ", which is not connected to this one");
    }
    return pid;  // its node decides (a process that is gone: nothing happens, as in Erlang)
  }
  if (!node_.is_alive(pid)) {
    return Error("no process " + pid.to_string() + " (it has exited or never existed)");
  }
  return pid;
}

ShellResult Shell::ps(const Words& w) const {
  std::string filter;
  std::string sort = "reductions";
  uint64_t limit = 50;
  for (size_t i = 1; i < w.size(); ++i) {
    std::string flag = w[i];
    std::string value;
    if (size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (flag == "--filter" || flag == "--sort" || flag == "--limit") {
      if (i + 1 == w.size()) {
        return fail(flag + " needs a value; " + usage("ps"));
      }
      value = w[++i];
    }
    if (flag == "--filter") {
      filter = value;
    } else if (flag == "--sort") {
      if (value != "reductions" && value != "memory" && value != "mailbox") {
        return fail("--sort takes reductions, memory or mailbox, not '" + printable(value, 40) +
                    "'");
      }
      sort = value;
    } else if (flag == "--limit") {
      Result<uint64_t> n = parse_count(value, "--limit", 1, 100000);
      if (!n) {
        return fail(n.error().message());
      }
      limit = *n;
    } else {
      return fail("unknown argument '" + printable(w[i], 40) + "'; " + usage("ps"));
    }
  }
  std::vector<otp::ProcessInfo> all = node_.processes();
  size_t total = all.size();
  std::vector<const otp::ProcessInfo*> rows;
  for (const otp::ProcessInfo& p : all) {
    if (filter.empty() || p.pid.to_string().find(filter) != std::string::npos ||
        p.registered_name.find(filter) != std::string::npos ||
        p.label.find(filter) != std::string::npos ||
        std::string_view(otp::to_string(p.status)).find(filter) != std::string_view::npos ||
        p.current_wait.find(filter) != std::string::npos) {
      rows.push_back(&p);
    }
  }
  auto key = [&](const otp::ProcessInfo* p) -> uint64_t {
    if (sort == "memory") {
      return p->memory_bytes;
    }
    if (sort == "mailbox") {
      return p->mailbox_length;
    }
    return p->reductions;
  };
  auto before = [&](const otp::ProcessInfo* a, const otp::ProcessInfo* b) {
    uint64_t ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a->pid < b->pid;
  };
  size_t shown = std::min<size_t>(rows.size(), limit);
  std::partial_sort(rows.begin(), rows.begin() + shown, rows.end(), before);
  std::string out;
  table_header(out, "REDUCTIONS");
  for (size_t i = 0; i < shown; ++i) {
    table_row(out, *rows[i], rows[i]->reductions);
  }
  appendf(out, "%zu of %zu processes", shown, total);
  if (!filter.empty()) {
    appendf(out, " (%zu match '%s')", rows.size(), printable(filter, 40).c_str());
  }
  out += ", by " + sort + "\n";
  return okay(std::move(out));
}

ShellResult Shell::info(const Words& w) const {
  if (w.size() != 2) {
    return fail(usage("info"));
  }
  Result<otp::Pid> pid = resolve(w[1]);
  if (!pid) {
    return fail(pid.error().message());
  }
  std::optional<otp::ProcessInfo> i = node_.info(*pid);
  if (!i) {
    return fail("no process " + pid->to_string() + " (it has exited)");
  }
  std::string out;
  appendf(out, "pid           %s\n", i->pid.to_string().c_str());
  appendf(out, "status        %s\n", otp::to_string(i->status));
  appendf(out, "name          %s\n",
          i->registered_name.empty() ? "-" : printable(i->registered_name).c_str());
  appendf(out, "label         %s\n", i->label.empty() ? "-" : printable(i->label).c_str());
  appendf(out, "parent        %s\n", i->parent.valid() ? i->parent.to_string().c_str() : "-");
  appendf(out, "wait          %s\n",
          i->current_wait.empty() ? "-" : printable(i->current_wait).c_str());
  appendf(out, "trap_exit     %s\n", i->trap_exit ? "true" : "false");
  appendf(out, "mailbox       %zu messages\n", i->mailbox_length);
  if (i->mailbox_limit == UINT64_MAX) {
    appendf(out, "message bytes %llu (no limit)\n",
            static_cast<unsigned long long>(i->mailbox_bytes));
  } else {
    appendf(out, "message bytes %llu of %llu\n", static_cast<unsigned long long>(i->mailbox_bytes),
            static_cast<unsigned long long>(i->mailbox_limit));
  }
  appendf(out, "reductions    %llu\n", static_cast<unsigned long long>(i->reductions));
  appendf(out, "memory        %zu bytes\n", i->memory_bytes);
  out += "links         " + pid_list(i->links) + "\n";
  out += "monitors      " + pid_list(i->monitors) + "\n";
  out += "monitored by  " + pid_list(i->monitored_by) + "\n";
  return okay(std::move(out));
}

ShellResult Shell::send(const Words& w) const {
  if (w.size() != 4) {
    return fail(usage("send") + " (quote DATA that has blanks: \"hello world\")");
  }
  Result<otp::Pid> pid = resolve(w[1], /*any_node=*/true);
  if (!pid) {
    return fail(pid.error().message());
  }
  Result<uint64_t> tag = parse_tag(w[2]);
  if (!tag) {
    return fail(tag.error().message());
  }
  if (Status s = node_.send(*pid, otp::Message::make(*tag, w[3])); !s) {
    return fail("send to " + pid->to_string() + ": " + s.message());
  }
  std::string out;
  appendf(out, "sent %zu bytes with tag %llu to %s\n", w[3].size(),
          static_cast<unsigned long long>(*tag), pid->to_string().c_str());
  return okay(std::move(out));
}

ShellResult Shell::exit(const Words& w) const {
  if (w.size() != 3) {
    return fail(usage("exit") + " (REASON: normal, shutdown, kill, or text for error(text))");
  }
  Result<otp::Pid> pid = resolve(w[1], /*any_node=*/true);
  if (!pid) {
    return fail(pid.error().message());
  }
  const std::string& r = w[2];
  otp::ExitReason reason;
  if (r == "normal") {
    reason = otp::ExitReason::normal();
  } else if (r == "shutdown") {
    reason = otp::ExitReason::shutdown();
  } else if (r == "kill") {
    reason = otp::ExitReason::kill();
  } else if (r.empty()) {
    return fail("REASON must not be empty; " + usage("exit"));
  } else {
    reason = otp::ExitReason::error(r);
  }
  node_.exit(*pid, reason);
  std::string out =
      "sent exit signal '" + printable(reason.to_string()) + "' to " + pid->to_string() + "\n";
  if (r == "normal") {
    out += "(a process that does not trap exits ignores 'normal')\n";
  }
  return okay(std::move(out));
}

ShellResult Shell::kill(const Words& w) const {
  if (w.size() != 2) {
    return fail(usage("kill"));
  }
  Result<otp::Pid> pid = resolve(w[1], /*any_node=*/true);
  if (!pid) {
    return fail(pid.error().message());
  }
  node_.exit(*pid, otp::ExitReason::kill());
  return okay("sent kill to " + pid->to_string() + "\n");
}

ShellResult Shell::whereis(const Words& w) const {
  if (w.size() != 2) {
    return fail(usage("whereis"));
  }
  otp::Pid pid = node_.whereis(w[1]);
  if (pid) {
    return okay(pid.to_string() + "\n");
  }
  // Not a name of this node: a global name (on any node of the cluster).
  if (otp::Pid g = node_.whereis_global(w[1]); g) {
    return okay(g.to_string() + " (global)\n");
  }
  return fail("no process registered as '" + printable(w[1], 80) + "', here or globally");
}

ShellResult Shell::stats(const Words& w) const {
  if (w.size() != 1) {
    return fail(usage("stats"));
  }
  otp::NodeStats s = node_.stats();
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::string out;
  appendf(out, "processes     %llu of at most %llu\n", u(s.processes), u(s.max_processes));
  appendf(out, "spawns        %llu\n", u(s.spawns));
  appendf(out, "exits         %llu normal, %llu shutdown, %llu killed, %llu error\n",
          u(s.exits_normal), u(s.exits_shutdown), u(s.exits_killed), u(s.exits_error));
  appendf(out, "messages      %llu sent, %llu received\n", u(s.messages_sent),
          u(s.messages_received));
  appendf(out, "reductions    %llu\n", u(s.reductions));
  appendf(out, "restarts      %llu\n", u(s.restarts));
  appendf(out, "memory held   %lld of %llu bytes (timers %lld)\n",
          static_cast<long long>(s.memory_held), u(s.memory_limit),
          static_cast<long long>(s.timer_bytes));
  appendf(out, "workers       %zu\n", s.workers.size());
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const otp::WorkerStats& wk = s.workers[i];
    appendf(out, "  worker %-3zu  runs %llu, steals %llu, parks %llu, run queue %zu, busy %.3f s\n",
            i, u(wk.runs), u(wk.steals), u(wk.parks), wk.run_queue_length, wk.busy_ns / 1e9);
  }
  return okay(std::move(out));
}

ShellResult Shell::top(const Words& w) {
  uint64_t n = 10;
  if (w.size() > 2) {
    return fail(usage("top"));
  }
  if (w.size() == 2) {
    Result<uint64_t> v = parse_count(w[1], "N", 1, 1000);
    if (!v) {
      return fail(v.error().message() + "; " + usage("top"));
    }
    n = *v;
  }
  auto now = std::chrono::steady_clock::now();
  std::vector<otp::ProcessInfo> all = node_.processes();
  std::vector<std::pair<uint64_t, const otp::ProcessInfo*>> rows;
  rows.reserve(all.size());
  std::unordered_map<otp::Pid, uint64_t> readings;
  readings.reserve(all.size());
  for (const otp::ProcessInfo& p : all) {
    uint64_t delta = p.reductions;
    if (top_taken_) {
      auto it = top_reductions_.find(p.pid);
      if (it != top_reductions_.end() && it->second <= p.reductions) {
        delta = p.reductions - it->second;
      }
    }
    rows.emplace_back(delta, &p);
    readings.emplace(p.pid, p.reductions);
  }
  size_t shown = std::min<size_t>(rows.size(), n);
  std::partial_sort(rows.begin(), rows.begin() + shown, rows.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second->pid < b.second->pid;
  });
  std::string out;
  if (top_taken_) {
    double secs = std::chrono::duration<double>(now - top_time_).count();
    appendf(out, "busiest processes over the last %.1f s (reductions in that time)\n", secs);
  } else {
    out += "busiest processes since they started (top again for the last interval)\n";
  }
  table_header(out, "REDUCTIONS");
  for (size_t i = 0; i < shown; ++i) {
    table_row(out, *rows[i].second, rows[i].first);
  }
  appendf(out, "%zu of %zu processes\n", shown, all.size());
  top_reductions_ = std::move(readings);
  top_time_ = now;
  top_taken_ = true;
  return okay(std::move(out));
}

ShellResult Shell::nodes(const Words& w) const {
  if (w.size() != 1) {
    return fail(usage("nodes"));
  }
  std::vector<ShellPeer> peers;
  if (options_.peers) {
    peers = options_.peers();
  }
  std::string out;
  appendf(out, "%-24s %6s %-6s %10s %8s %12s %12s\n", "NAME", "ID", "STATE", "PROCESSES", "WORKERS",
          "BYTES IN", "BYTES OUT");
  appendf(out, "%-24s %6u %-6s %10llu %8u %12s %12s  (this node)\n",
          printable(node_.name(), 24).c_str(), static_cast<unsigned>(node_.id()), "up",
          static_cast<unsigned long long>(node_.process_count()), node_.workers(), "-", "-");
  size_t up = 1;
  for (const ShellPeer& p : peers) {
    up += p.up ? 1 : 0;
    appendf(out, "%-24s %6u %-6s %10s %8s %12llu %12llu  %s\n", printable(p.name, 24).c_str(),
            static_cast<unsigned>(p.id), p.up ? "up" : "down", "-", "-",
            static_cast<unsigned long long>(p.bytes_in),
            static_cast<unsigned long long>(p.bytes_out), printable(p.address, 48).c_str());
  }
  appendf(out, "%zu node%s, %zu up\n", peers.size() + 1, peers.empty() ? "" : "s", up);
  return okay(std::move(out));
}

}  // namespace rusm::observe
