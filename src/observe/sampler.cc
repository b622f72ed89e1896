#include "rusm/observe/sampler.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace rusm::observe {

uint64_t process_rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  unsigned long long size = 0, resident = 0;
  int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

unsigned process_threads() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return 0;
  }
  char line[256];
  unsigned threads = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "Threads:", 8) == 0) {
      threads = static_cast<unsigned>(std::strtoul(line + 8, nullptr, 10));
      break;
    }
  }
  std::fclose(f);
  return threads;
}

double process_cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) {
    return 0;
  }
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double bucket_quantile_ms(const uint64_t (&counts)[net::RouteStats::kBuckets], double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) {
    total += c;
  }
  if (total == 0) {
    return -1;
  }
  double target = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  uint64_t below = 0;
  for (int b = 0; b < net::RouteStats::kBuckets; ++b) {
    uint64_t c = counts[b];
    if (c == 0 || static_cast<double>(below + c) < target) {
      below += c;
      continue;
    }
    double lower = b == 0 ? 0.0 : static_cast<double>(net::RouteStats::kBucketMicros[b - 1]);
    if (b == net::RouteStats::kBuckets - 1) {
      return lower / 1000.0;  // the +Inf bucket: all we know is "above its lower bound"
    }
    double upper = static_cast<double>(net::RouteStats::kBucketMicros[b]);
    double within = (target - static_cast<double>(below)) / static_cast<double>(c);
    return (lower + (upper - lower) * std::clamp(within, 0.0, 1.0)) / 1000.0;
  }
  return -1;
}

Serving derive_serving(const net::ServerStats& now, const net::ServerStats* before,
                       double window_s) {
  Serving v;
  v.window_s = before != nullptr ? window_s : 0;
  auto delta = [](uint64_t a, uint64_t b) { return a >= b ? a - b : 0; };
  for (size_t i = 0; i < now.routes.size(); ++i) {
    const net::RouteStats& r = now.routes[i];
    // The same server lists the same routes in the same order; a mismatch
    // (another server) starts the window over.
    const net::RouteStats* p = nullptr;
    if (before != nullptr && i < before->routes.size() && before->routes[i].name == r.name) {
      p = &before->routes[i];
    }
    ServingRoute o;
    o.name = r.name;
    o.kind = r.kind;
    o.requests = r.requests;
    o.in_flight = r.in_flight;
    o.rejected_in_flight = r.rejected_in_flight;
    o.rejected_body = r.rejected_body;
    o.deadline_exceeded = r.deadline_exceeded;
    o.failed = r.failed;
    for (int c = 0; c < 6; ++c) {
      o.status[c] = r.status[c];
    }
    if (p != nullptr && v.window_s > 0) {
      o.requests_per_s = static_cast<double>(delta(r.requests, p->requests)) / v.window_s;
      for (int c = 0; c < 6; ++c) {
        o.status_per_s[c] = static_cast<double>(delta(r.status[c], p->status[c])) / v.window_s;
      }
      uint64_t window[net::RouteStats::kBuckets];
      for (int b = 0; b < net::RouteStats::kBuckets; ++b) {
        window[b] = delta(r.latency[b], p->latency[b]);
      }
      o.p50_ms = bucket_quantile_ms(window, 0.50);
      o.p99_ms = bucket_quantile_ms(window, 0.99);
    }
    v.routes.push_back(std::move(o));
  }
  v.open_connections = now.open_connections;
  v.websockets = now.websockets;
  v.accepted = now.accepted;
  v.rejected_connections = now.rejected_connections;
  v.rejected_header_bytes = now.rejected_header_bytes;
  v.rejected_bad_request = now.rejected_bad_request;
  v.rejected_in_flight = now.rejected_in_flight;
  v.header_timeouts = now.header_timeouts;
  v.idle_timeouts = now.idle_timeouts;
  v.tls_handshake_failures = now.tls_handshake_failures;
  v.accept_errors = now.accept_errors;
  return v;
}

Sampler::Sampler(otp::Node& node, SamplerOptions options)
    : node_(node), options_(options), start_(std::chrono::steady_clock::now()) {}

Sampler::~Sampler() {
  stop();
}

void Sampler::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) {
    return;
  }
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Sampler::stop() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) {
    t.join();
  }
}

bool Sampler::running() const {
  std::lock_guard lock(mu_);
  return thread_.joinable();
}

uint64_t Sampler::add_listener(Listener listener) {
  std::lock_guard lock(mu_);
  uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void Sampler::remove_listener(uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

void Sampler::set_peers_source(PeersSource source) {
  std::lock_guard lock(serving_mu_);
  peers_source_ = std::move(source);
}

void Sampler::set_serving_source(ServingSource source) {
  std::lock_guard lock(serving_mu_);
  serving_source_ = std::move(source);
  serving_history_.clear();
}

void Sampler::want_table(bool on) {
  std::lock_guard lock(mu_);
  table_wanted_ = std::max(0, table_wanted_ + (on ? 1 : -1));
}

std::shared_ptr<const Snapshot> Sampler::latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

std::shared_ptr<const Snapshot> Sampler::sample_now(bool with_table) {
  std::shared_ptr<const Snapshot> prev = latest();
  return take(with_table, prev.get());
}

std::shared_ptr<Snapshot> Sampler::take(bool with_table, const Snapshot* prev) {
  auto t0 = std::chrono::steady_clock::now();
  auto s = std::make_shared<Snapshot>();
  s->t_s = std::chrono::duration<double>(t0 - start_).count();
  s->stats = node_.stats();
  s->rss_bytes = process_rss_bytes();
  s->os_threads = process_threads();
  double cpu = process_cpu_seconds();
  if (prev != nullptr && s->t_s > prev->t_s) {
    double dt = s->t_s - prev->t_s;
    s->dt_s = dt;
    auto rate = [dt](uint64_t now, uint64_t before) {
      return now >= before ? (now - before) / dt : 0.0;
    };
    const otp::NodeStats& a = s->stats;
    const otp::NodeStats& b = prev->stats;
    s->spawns_per_s = rate(a.spawns, b.spawns);
    uint64_t exits_a = a.exits_normal + a.exits_shutdown + a.exits_killed + a.exits_error;
    uint64_t exits_b = b.exits_normal + b.exits_shutdown + b.exits_killed + b.exits_error;
    s->exits_per_s = rate(exits_a, exits_b);
    s->sent_per_s = rate(a.messages_sent, b.messages_sent);
    s->received_per_s = rate(a.messages_received, b.messages_received);
    s->reductions_per_s = rate(a.reductions, b.reductions);
    s->restarts_per_s = rate(a.restarts, b.restarts);
    s->cpu_cores = std::max(0.0, (cpu - prev->cpu_seconds) / dt);
    for (size_t i = 0; i < a.workers.size(); ++i) {
      uint64_t before = i < b.workers.size() ? b.workers[i].busy_ns : 0;
      double busy = a.workers[i].busy_ns >= before ? (a.workers[i].busy_ns - before) / 1e9 : 0;
      s->worker_load.push_back(std::clamp(busy / dt, 0.0, 1.0));
    }
  } else {
    s->worker_load.assign(s->stats.workers.size(), 0.0);
  }
  s->cpu_seconds = cpu;
  if (with_table) {
    s->has_table = true;
    s->table = node_.processes();
    for (const otp::ProcessInfo& p : s->table) {
      s->process_memory_bytes += p.memory_bytes;
      switch (p.status) {
        case otp::ProcessStatus::kRunnable:
          ++s->status.runnable;
          break;
        case otp::ProcessStatus::kRunning:
          ++s->status.running;
          break;
        case otp::ProcessStatus::kWaiting:
          ++s->status.waiting;
          break;
        case otp::ProcessStatus::kExiting:
          ++s->status.exiting;
          break;
      }
    }
  }
  {
    std::lock_guard lock(serving_mu_);
    if (serving_source_) {
      // The window: back to the newest reading at least a second old.
      constexpr double kWindowS = 1.0;
      net::ServerStats now = serving_source_();
      while (serving_history_.size() > 1 && serving_history_[1].first <= s->t_s - kWindowS) {
        serving_history_.pop_front();
      }
      const std::pair<double, net::ServerStats>* base =
          serving_history_.empty() ? nullptr : &serving_history_.front();
      s->has_serving = true;
      s->serving = base != nullptr && s->t_s > base->first
                       ? derive_serving(now, &base->second, s->t_s - base->first)
                       : derive_serving(now, nullptr, 0);
      serving_history_.emplace_back(s->t_s, std::move(now));
      if (serving_history_.size() > 256) {
        serving_history_.pop_front();  // a sampler faster than the window needs
      }
    }
    if (peers_source_) {
      s->has_cluster = true;
      s->node_name = node_.name();
      s->node_id = node_.id();
      s->peers = peers_source_();
      for (const PeerNode& peer : s->peers) {
        double in = 0, out = 0;
        if (prev != nullptr && prev->has_cluster && s->t_s > prev->t_s) {
          for (const PeerNode& before : prev->peers) {
            if (before.name == peer.name && before.bytes_in <= peer.bytes_in &&
                before.bytes_out <= peer.bytes_out) {
              in = static_cast<double>(peer.bytes_in - before.bytes_in) / (s->t_s - prev->t_s);
              out = static_cast<double>(peer.bytes_out - before.bytes_out) / (s->t_s - prev->t_s);
            }
          }
        }
        s->peer_in_bytes_per_s.push_back(in);
        s->peer_out_bytes_per_s.push_back(out);
      }
    }
  }
  auto cost = std::chrono::steady_clock::now() - t0;
  cost_.record(static_cast<uint64_t>(std::chrono::nanoseconds(cost).count()));
  s->sample_cost_ns = cost_.snapshot().percentiles();
  return s;
}

void Sampler::loop() {
  double hz = std::clamp(options_.hz, 1.0, 60.0);
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / hz));
  double table_period_s = 1.0 / std::clamp(options_.table_hz, 0.1, hz);
  double last_table_s = -1e9;
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    bool with_table;
    std::shared_ptr<const Snapshot> prev;
    {
      std::unique_lock lock(mu_);
      next += period;
      if (cv_.wait_until(lock, next, [this] { return stop_; })) {
        return;
      }
      auto now = std::chrono::steady_clock::now();
      if (now > next + period) {
        next = now;  // fell behind (suspended, overloaded): do not burst
      }
      double t = std::chrono::duration<double>(now - start_).count();
      with_table = table_wanted_ > 0 && t - last_table_s >= table_period_s * 0.95;
      if (with_table) {
        last_table_s = t;
      }
      prev = latest_;
    }
    std::shared_ptr<Snapshot> s = take(with_table, prev.get());
    std::vector<Listener> listeners;
    {
      std::lock_guard lock(mu_);
      s->seq = ++seq_;
      latest_ = s;
      for (auto& [id, l] : listeners_) {
        listeners.push_back(l);
      }
    }
    for (Listener& l : listeners) {
      l(s);
    }
  }
}

}  // namespace rusm::observe
