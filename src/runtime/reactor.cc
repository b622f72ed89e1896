// The I/O reactor: one epoll thread per runtime, started on first use, that
// wakes processes blocked in WASI I/O. Registrations are one-shot and use a
// dup() of the fd so several processes may wait on the same descriptor.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "rusm/runtime/runtime.h"

namespace rusm::runtime {

struct Reactor::Impl {
  otp::Node* node;
  int ep = -1;
  int stop_fd = -1;
  std::thread thread;

  struct Watch {
    int fd;
    otp::Pid pid;
  };
  std::mutex mu;
  std::unordered_set<Watch*> live;

  void loop() {
    epoll_event evs[64];
    for (;;) {
      int n = epoll_wait(ep, evs, 64, -1);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return;
      }
      for (int i = 0; i < n; ++i) {
        if (evs[i].data.ptr == nullptr) {
          return;  // the stop eventfd
        }
        auto* w = static_cast<Watch*>(evs[i].data.ptr);
        {
          std::lock_guard<std::mutex> lock(mu);
          live.erase(w);
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, nullptr);
        close(w->fd);
        node->wake(w->pid);
        delete w;
      }
    }
  }
};

Reactor::Reactor(otp::Node& node) : impl_(std::make_unique<Impl>()) {
  impl_->node = &node;
  impl_->ep = epoll_create1(EPOLL_CLOEXEC);
  impl_->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  epoll_ctl(impl_->ep, EPOLL_CTL_ADD, impl_->stop_fd, &ev);
  impl_->thread = std::thread([this] { impl_->loop(); });
}

Reactor::~Reactor() {
  uint64_t one = 1;
  (void)!write(impl_->stop_fd, &one, sizeof one);
  impl_->thread.join();
  for (Impl::Watch* w : impl_->live) {
    close(w->fd);
    delete w;
  }
  close(impl_->stop_fd);
  close(impl_->ep);
}

Status Reactor::watch(int fd, bool for_write, otp::Pid pid) {
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    return Error("cannot watch fd " + std::to_string(fd) + ": " + std::strerror(errno));
  }
  auto* w = new Impl::Watch{dup_fd, pid};
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->live.insert(w);
  }
  epoll_event ev{};
  ev.events = (for_write ? EPOLLOUT : EPOLLIN) | EPOLLONESHOT;
  ev.data.ptr = w;
  if (epoll_ctl(impl_->ep, EPOLL_CTL_ADD, dup_fd, &ev) != 0) {
    int err = errno;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->live.erase(w);
    }
    close(dup_fd);
    delete w;
    if (err == EPERM) {
      // Regular files are always ready: wake at once.
      impl_->node->wake(pid);
      return Status::ok();
    }
    return Error("cannot watch fd " + std::to_string(fd) + ": " + std::strerror(err));
  }
  return Status::ok();
}

}  // namespace rusm::runtime
