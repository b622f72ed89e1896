// `rusm attach HOST:PORT [--certs DIR] [--name NAME] [-c COMMAND]`: an
// operator's shell on a running node, over the cluster's mutual TLS (the
// node's [cluster] listen address). The client dials with DIR/NAME.pem and
// NAME.key, checks the node's certificate against DIR/ca.pem, and says in
// its HELLO that it is an operator (src/cluster/frame.h): the node answers
// each line (SHELL_LINE) with its shell's answer (SHELL_RESULT) and never
// takes the client for a member of the cluster. See docs/cluster.md.
//
// Lines come from a terminal (line editing and history in ~/.rusm_history,
// via libedit), from a pipe (one command a line), or from -c. Answers go to
// standard output, failed ones to standard error. Exit status: 0; 1 when a
// command failed (-c, or any line of a pipe); 2 for usage, certificate,
// connection and TLS errors, with a one-line message.
#include <editline/readline.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "cluster/certs.h"
#include "cluster/connection.h"
#include "cluster/frame.h"
#include "commands.h"
#include "rusm/cluster/cluster.h"

namespace rusm::cli {
namespace {

namespace asio = boost::asio;
using cluster::Connection;

struct AttachArgs {
  std::string address;
  std::string certs = std::string(cluster::kDefaultCertDir);
  std::string name = "operator";
  std::optional<std::string> command;
};

[[noreturn]] void fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "rusm attach: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

// How long the client waits without hearing from the node before it takes
// the node for gone. The node's heartbeats (every 3/4 of its tick when idle,
// [cluster] tick, 1 s by default) keep it from firing; the client answers
// each of them, which keeps the node from dropping an idle client.
constexpr std::chrono::milliseconds kClientTick{10000};

// One attach connection, run on an io thread of its own; the calling thread
// waits on it. Thread-safety: connect/run/close from one thread.
class Client {
 public:
  Client() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~Client() {
    close();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Dials and waits for the node's HELLO (its name and id) or the reason it
  // went down.
  Result<cluster::Hello> connect(const std::string& host, uint16_t port,
                                 std::shared_ptr<asio::ssl::context> tls, const std::string& name) {
    cluster::ConnectionOptions o;
    o.node_name = name;
    o.node_id = 0;
    o.flags = cluster::kHelloOperator;
    o.tick = kClientTick;
    o.handshake_timeout = std::chrono::seconds(10);
    o.echo_ticks = true;
    o.log = [](const std::string&) {};  // the reason reaches on_down, and is printed once
    Connection::Callbacks cb;
    cb.on_up = [this](Connection&, const cluster::Hello& h) {
      std::lock_guard<std::mutex> lock(mu_);
      node_ = h;
      up_ = true;
      cv_.notify_all();
    };
    cb.on_down = [this](Connection&, const std::string& reason) {
      std::lock_guard<std::mutex> lock(mu_);
      down_ = reason;
      cv_.notify_all();
    };
    cb.on_frame = [this](Connection& c, cluster::Frame&& f) {
      if (auto* r = std::get_if<cluster::ShellResult>(&f)) {
        std::lock_guard<std::mutex> lock(mu_);
        answers_[r->id] = std::move(*r);
        cv_.notify_all();
        return;
      }
      if (auto* o = std::get_if<cluster::ShellOutput>(&f)) {
        std::lock_guard<std::mutex> lock(mu_);
        outputs_.push_back(std::move(*o));
        cv_.notify_all();
        return;
      }
      c.close("protocol error: the node sent " +
              cluster::frame_type_name(static_cast<uint8_t>(cluster::type_of(f))) +
              " to an operator");
    };
    std::promise<void> made;
    asio::post(io_, [&, o = std::move(o), cb = std::move(cb)]() mutable {
      conn_ = Connection::dial(io_, std::move(tls), host, port, std::move(o), std::move(cb));
      made.set_value();
    });
    made.get_future().wait();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return up_ || down_; });
    if (down_) {
      return Error(*down_);
    }
    return node_;
  }

  // Sends one line and waits for its answer (or the connection's end).
  // Output the node streams first (trace) goes to `output` as it comes;
  // when `interrupted` turns true the line is cancelled (SHELL_CANCEL) and
  // its answer still awaited.
  Result<cluster::ShellResult> run(const std::string& line,
                                   const std::function<void(const std::string&)>& output,
                                   const std::atomic<bool>& interrupted) {
    uint32_t id = ++next_id_;
    asio::post(io_, [this, line, id] {
      if (conn_ && conn_->send(cluster::ShellLine{id, line}) != Connection::SendResult::kOk) {
        conn_->close("could not send the line (connection not up)");
      }
    });
    bool cancelled = false;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [&] { return answers_.count(id) > 0 || down_ || !outputs_.empty(); });
      std::vector<cluster::ShellOutput> chunks;
      chunks.swap(outputs_);
      lock.unlock();
      for (const cluster::ShellOutput& o : chunks) {
        if (o.id == id) {
          output(o.output);
        }
      }
      if (!cancelled && interrupted.load()) {
        cancelled = true;
        asio::post(io_, [this, id] {
          if (conn_) {
            (void)conn_->send_control(cluster::ShellCancel{id});
          }
        });
      }
      lock.lock();
      if (outputs_.empty() && (answers_.count(id) > 0 || down_)) {
        break;
      }
    }
    auto it = answers_.find(id);
    if (it == answers_.end()) {
      return Error(*down_);
    }
    cluster::ShellResult r = std::move(it->second);
    answers_.erase(it);
    return r;
  }

  void close() {
    std::promise<void> done;
    asio::post(io_, [&] {
      if (conn_) {
        conn_->close("operator left");
        conn_.reset();
      }
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::shared_ptr<Connection> conn_;  // io thread only
  uint32_t next_id_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool up_ = false;
  std::optional<std::string> down_;
  cluster::Hello node_;
  std::map<uint32_t, cluster::ShellResult> answers_;
  std::vector<cluster::ShellOutput> outputs_;
};

// Ctrl-C while a command runs cancels it (trace), rather than ending attach.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
}

// Installs on_sigint for its lifetime.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    installed_ = sigaction(SIGINT, &sa, &old_) == 0;
  }
  ~InterruptScope() {
    if (installed_) {
      sigaction(SIGINT, &old_, nullptr);
    }
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction old_ {};
  bool installed_ = false;
};

// HOST:PORT, [v6]:PORT.
bool split_address(const std::string& a, std::string& host, uint16_t& port) {
  size_t colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size() || a.size() - colon > 6 ||
      a.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return false;
  }
  unsigned long p = std::stoul(a.substr(colon + 1));
  if (p == 0 || p > 65535) {
    return false;
  }
  host = a.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  port = static_cast<uint16_t>(p);
  return !host.empty();
}

// The node's text on the terminal: control characters other than newline
// and tab are shown escaped, never interpreted.
std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Runs one line; prints its answer. Returns whether the command succeeded.
// A lost connection ends the command (exit status 2).
bool run_line(Client& client, const std::string& node, const std::string& line) {
  if (line.size() > cluster::kMaxAttachLine) {
    std::fprintf(stderr, "line too long (%zu bytes, at most %zu)\n", line.size(),
                 cluster::kMaxAttachLine);
    return false;
  }
  InterruptScope interrupts;
  Result<cluster::ShellResult> r = client.run(
      line,
      [](const std::string& chunk) {
        std::string text = printable(chunk);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      },
      g_interrupted);
  if (!r) {
    fail("connection to " + node + " lost: " + r.message());
  }
  std::FILE* out = r->ok ? stdout : stderr;
  std::string text = printable(r->output);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
  return r->ok;
}

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

std::string history_file() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.rusm_history" : std::string();
}

// A terminal: libedit's line editing, history kept in ~/.rusm_history.
void interactive(Client& client, const std::string& node) {
  std::string history = history_file();
  using_history();
  stifle_history(1000);
  if (!history.empty()) {
    read_history(history.c_str());
  }
  std::string prompt = node + "> ";
  while (char* raw = readline(prompt.c_str())) {
    std::string line(raw);
    std::free(raw);
    if (blank(line)) {
      continue;
    }
    add_history(line.c_str());
    std::string word = line.substr(line.find_first_not_of(" \t"));
    word = word.substr(0, word.find_last_not_of(" \t\r") + 1);
    if (word == "quit" || word == "exit") {
      break;  // a bare `exit` is no exit signal (that needs PROC REASON)
    }
    run_line(client, node, line);
  }
  if (!history.empty()) {
    write_history(history.c_str());
    ::chmod(history.c_str(), 0600);  // lines may carry message payloads
  }
  std::fputc('\n', stderr);
}

void attach(const AttachArgs& a) {
  std::string host;
  uint16_t port = 0;
  if (!split_address(a.address, host, port)) {
    fail("'" + a.address + "' is not HOST:PORT (the node's [cluster] listen address)");
  }
  if (Status s = cluster::check_node_name(a.name); !s) {
    fail("--name: " + s.message());
  }
  cluster::TlsFiles files{a.certs + "/ca.pem", a.certs + "/" + a.name + ".pem",
                          a.certs + "/" + a.name + ".key"};
  for (const std::string* f : {&files.cert_file, &files.key_file}) {
    if (::access(f->c_str(), R_OK) != 0) {
      fail("no certificate for operator '" + a.name + "': " + *f +
           " cannot be read (make one with `rusm cluster cert " + a.name + " --dir " + a.certs +
           "`, or pass --certs DIR / --name NAME)");
    }
  }
  if (::access(files.ca_file.c_str(), R_OK) != 0) {
    fail("no cluster CA: " + files.ca_file + " cannot be read (pass --certs DIR)");
  }
  auto tls = cluster::make_tls_context(files);
  if (!tls) {
    fail(tls.message());
  }
  Client client;
  Result<cluster::Hello> node = client.connect(host, port, *tls, a.name);
  if (!node) {
    fail("cannot attach to " + a.address + ": " + node.message());
  }
  std::string name = node->name;
  if (a.command) {
    bool ok = run_line(client, name, *a.command);
    if (!ok) {
      throw CLI::RuntimeError(1);
    }
    return;
  }
  std::fprintf(stderr, "attached to %s (id %u); help lists commands, Ctrl-D leaves\n", name.c_str(),
               unsigned(node->node_id));
  if (::isatty(STDIN_FILENO)) {
    interactive(client, name);
    return;
  }
  bool all_ok = true;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (blank(line) || line.find_first_not_of(" \t") == line.find('#')) {
      continue;  // blank lines and # comments in a script
    }
    all_ok = run_line(client, name, line) && all_ok;
  }
  if (!all_ok) {
    throw CLI::RuntimeError(1);
  }
}

void setup(CLI::App& app) {
  auto a = std::make_shared<AttachArgs>();
  CLI::App* cmd = app.add_subcommand(
      "attach",
      "An operator's shell on a running node, over the cluster's mutual TLS: ps, info, kill, "
      "send, stats, nodes... (help lists them). Lines from the terminal (with history), a "
      "pipe, or -c.\n"
      "Exit status: 0; 1 if a command failed; 2 for usage, certificate or connection errors.");
  cmd->add_option("address", a->address, "HOST:PORT: the node's [cluster] listen address")
      ->required();
  cmd->add_option("--certs", a->certs,
                  "Directory with ca.pem and NAME.pem/NAME.key (`rusm cluster cert NAME`)")
      ->capture_default_str();
  cmd->add_option("--name", a->name, "The operator's certificate name")->capture_default_str();
  cmd->add_option("-c,--command", a->command, "Run one command, print its answer and exit");
  cmd->callback([a] { attach(*a); });
}

CommandRegistrar registrar(setup);

}  // namespace
}  // namespace rusm::cli
