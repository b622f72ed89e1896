// The node's event loop (rusm/runtime/event_loop.h).
//
// Host descriptors that processes wait on are watched through one epoll set
// of our own, level-triggered and one-shot per registration, which the
// io_context watches as a single descriptor: when it becomes readable, the
// loop collects the ready registrations without blocking, wakes their
// processes and waits again. Level triggering means a descriptor that became
// ready before anyone waited is still reported; one-shot means each
// registration wakes its process once.
#include "rusm/runtime/event_loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>

namespace rusm::runtime {

namespace asio = boost::asio;

struct EventLoop::Impl : otp::IdleDriver {
  otp::Node* node;
  asio::io_context io;
  bool driven = false;  // by the node's workers
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::vector<std::thread> threads;
  std::once_flag stopped;

  // Host descriptors watched for processes.
  int ep = -1;
  std::unique_ptr<asio::posix::stream_descriptor> ep_watch;
  struct Watch {
    int fd;
    otp::Pid pid;
  };
  std::mutex mu;
  std::unordered_set<Watch*> live;  // registered, not fired yet
  bool armed = false;

  // otp::IdleDriver, when driven by the workers. After a handler ran (I/O,
  // a wake-up), an idle worker polls for up to `spin` before it blocks, as
  // the BEAM's schedulers spin before they sleep: an answer that comes soon
  // (a peer node's reply, the next request on a connection) is read without
  // the wake-up of a blocked thread, which costs tens of microseconds.
  using Clock = std::chrono::steady_clock;
  std::chrono::nanoseconds spin{0};
  Clock::time_point last_active{};
  void poll() override {
    if (io.poll() > 0) {
      last_active = Clock::now();
    }
  }
  void wait(int64_t timeout_ns) override {
    if (spin.count() > 0) {
      Clock::time_point now = Clock::now();
      if (now - last_active < std::chrono::milliseconds(1)) {
        Clock::time_point until = now + spin;
        if (timeout_ns >= 0) {
          until = std::min(until, now + std::chrono::nanoseconds(timeout_ns));
        }
        do {
          if (io.poll() > 0) {
            last_active = Clock::now();
            return;
          }
        } while (Clock::now() < until);
      }
    }
    size_t n = timeout_ns < 0 ? io.run_one() : io.run_one_for(std::chrono::nanoseconds(timeout_ns));
    n += io.poll();  // the rest of what is ready, in one go
    if (n > 0) {
      last_active = Clock::now();
    }
  }
  void wake() override {
    asio::post(io, [] {});
  }

  void arm() {
    ep_watch->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (!ec) {
                             drain();
                             arm();
                           }
                         });
  }

  void drain() {
    epoll_event evs[64];
    for (;;) {
      int n = epoll_wait(ep, evs, 64, 0);
      if (n <= 0) {
        return;
      }
      for (int i = 0; i < n; ++i) {
        auto* w = static_cast<Watch*>(evs[i].data.ptr);
        {
          std::lock_guard<std::mutex> lock(mu);
          live.erase(w);
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, nullptr);
        ::close(w->fd);
        node->wake(w->pid);
        delete w;
      }
      if (n < 64) {
        return;
      }
    }
  }
};

EventLoop::EventLoop(otp::Node& node, unsigned threads, std::chrono::microseconds idle_spin)
    : impl_(std::make_unique<Impl>()) {
  impl_->node = &node;
  impl_->ep = epoll_create1(EPOLL_CLOEXEC);
  impl_->ep_watch = std::make_unique<asio::posix::stream_descriptor>(impl_->io, ::dup(impl_->ep));
  impl_->arm();
  impl_->spin = idle_spin;
  if (threads == 0) {
    impl_->driven = true;
    node.set_idle_driver(impl_.get());
  }
  for (unsigned i = 0; i < threads; ++i) {
    impl_->threads.emplace_back([io = &impl_->io] { io->run(); });
  }
}

EventLoop::~EventLoop() {
  stop();
  impl_->ep_watch.reset();
  for (Impl::Watch* w : impl_->live) {
    ::close(w->fd);
    delete w;
  }
  ::close(impl_->ep);
}

asio::io_context& EventLoop::context() {
  return impl_->io;
}

void EventLoop::stop() {
  std::call_once(impl_->stopped, [this] {
    if (impl_->driven) {
      impl_->node->set_idle_driver(nullptr);
    }
    impl_->work.reset();
    impl_->io.stop();
    for (std::thread& t : impl_->threads) {
      t.join();
    }
  });
}

Status EventLoop::watch_fd(int fd, bool for_write, otp::Pid pid) {
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
    ::close(dup_fd);
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
