#include "cluster/node_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "rusm/cluster/cluster.h"

namespace rusm::cluster {

NodeProcess::~NodeProcess() {
  if (in >= 0) {
    close(in);
  }
  if (pid > 0) {
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, nullptr, 0);
  }
}

Result<std::unique_ptr<NodeProcess>> start_node_process(std::vector<std::string> argv, int cpu,
                                                        std::chrono::milliseconds wait) {
  int to[2], from[2];
  if (pipe(to) != 0) {
    return Error("pipe failed");
  }
  if (pipe(from) != 0) {
    close(to[0]);
    close(to[1]);
    return Error("pipe failed");
  }
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[1]);
    close(from[0]);
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  auto p = std::make_unique<NodeProcess>();
  p->pid = pid;  // reaped by p's destructor on every path below
  p->in = to[1];
  if (pid < 0) {
    close(from[0]);
    return Error("fork failed");
  }
  // "PORT n\n", within `wait`.
  std::string line;
  char ch;
  auto end = std::chrono::steady_clock::now() + wait;
  fcntl(from[0], F_SETFL, O_NONBLOCK);
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = read(from[0], &ch, 1);
    if (n == 1) {
      if (ch == '\n') {
        break;
      }
      line += ch;
    } else if (n == 0) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  close(from[0]);
  if (line.rfind("PORT ", 0) != 0 || line.size() < 6 || line.size() > 10 ||
      line.find_first_not_of("0123456789", 5) != std::string::npos) {
    return Error(argv[0] + " did not start (it said '" + line + "')");
  }
  p->port = static_cast<uint16_t>(std::stoi(line.substr(5)));
  return p;
}

void run_node_until_stdin_closes(Cluster& cluster) {
  std::printf("PORT %u\n", cluster.port());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  cluster.stop();
}

}  // namespace rusm::cluster
