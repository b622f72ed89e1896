#include "cluster/attach.h"

#include <exception>

namespace rusm::cluster {

AttachSession::AttachSession(AttachShell shell, Deliver deliver)
    : shell_(std::move(shell)), deliver_(std::move(deliver)), thread_([this] { run(); }) {}

AttachSession::~AttachSession() {
  stop();
  join();
}

bool AttachSession::submit(ShellLine line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || lines_.size() >= kMaxAttachQueue) {
    return false;
  }
  lines_.push_back(std::move(line));
  cv_.notify_one();
  return true;
}

void AttachSession::cancel(uint32_t id) {
  cancelled_.store(id, std::memory_order_relaxed);
}

void AttachSession::stop() {
  halted_.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  lines_.clear();
  cv_.notify_one();
}

void AttachSession::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void AttachSession::run() {
  while (true) {
    ShellLine line;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !lines_.empty(); });
      if (stopping_) {
        break;
      }
      line = std::move(lines_.front());
      lines_.pop_front();
    }
    ShellResult answer;
    answer.id = line.id;
    if (line.line.size() > kMaxAttachLine) {
      answer.ok = false;
      answer.output = "line too long (" + std::to_string(line.line.size()) + " bytes, at most " +
                      std::to_string(kMaxAttachLine) + ")\n";
    } else if (!shell_) {
      answer.ok = false;
      answer.output = "this node does not accept attach\n";
    } else {
      running_.store(line.id, std::memory_order_relaxed);
      congested_.store(false, std::memory_order_relaxed);
      const uint32_t id = line.id;
      AttachStream stream = [this, id](std::string_view chunk) {
        auto going = [&] {
          return cancelled_.load(std::memory_order_relaxed) != id &&
                 !halted_.load(std::memory_order_relaxed) &&
                 !congested_.load(std::memory_order_relaxed);
        };
        if (!going()) {
          return false;
        }
        if (!chunk.empty() && deliver_) {
          deliver_(ShellOutput{id, std::string(chunk)});
        }
        return going();
      };
      try {
        AttachAnswer a = shell_(line.line, stream);
        answer.ok = a.ok;
        answer.output = std::move(a.output);
      } catch (const std::exception& e) {
        answer.ok = false;
        answer.output = std::string("internal error answering the line: ") + e.what() + "\n";
      } catch (...) {
        answer.ok = false;
        answer.output = "internal error answering the line\n";
      }
    }
    running_.store(0, std::memory_order_relaxed);
    if (deliver_) {
      deliver_(std::move(answer));
    }
  }
  finished_.store(true, std::memory_order_release);
}

}  // namespace rusm::cluster
