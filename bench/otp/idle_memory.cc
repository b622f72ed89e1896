// idle-memory: bytes per idle process with 1,000,000 processes blocked in
// receive. Guards the size of the process record and of coroutine frames.
#include <malloc.h>

#include <atomic>
#include <fstream>

#include "common/scenario.h"
#include "otp/beam.h"
#include "rusm/otp/node.h"

namespace rusm::bench::otp {
namespace {

using namespace rusm::otp;

constexpr uint32_t kProcesses = 1000000;

Task<> idle(Context& ctx, std::atomic<uint64_t>* ready) {
  ready->fetch_add(1, std::memory_order_relaxed);
  Message m = co_await ctx.receive();
}

Task<> spawn_many(Context& ctx, uint32_t n, std::atomic<uint64_t>* ready) {
  for (uint32_t i = 0; i < n; ++i) {
    (void)ctx.spawn(idle, ready);
    if ((i & 255) == 0) {
      co_await ctx.reduce(0);
    }
  }
}

size_t heap_bytes() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

Report run(const Options& options, Progress& progress) {
  Report report;
  report.scenario = "idle-memory";
  report.summary = "bytes per process with 1,000,000 processes blocked in receive";
  NodeOptions no;
  no.workers = options.threads;
  no.max_processes = 2 * kProcesses;
  double heap_per = 0, rss_per = 0;
  {
    Node node(no);
    std::atomic<uint64_t> ready{0};
    size_t heap0 = heap_bytes(), rss0 = rss_bytes();
    unsigned spawners = node.workers();
    for (unsigned i = 0; i < spawners; ++i) {
      (void)node.spawn(spawn_many, kProcesses / spawners + (i == 0 ? kProcesses % spawners : 0),
                       &ready);
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (ready.load() < kProcesses && std::chrono::steady_clock::now() < until &&
           !progress.should_stop()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      progress.sample("idle processes", static_cast<double>(ready.load()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    heap_per = static_cast<double>(heap_bytes() - heap0) / kProcesses;
    rss_per = static_cast<double>(rss_bytes() - rss0) / kProcesses;
    if (ready.load() < kProcesses) {
      report.notes.push_back("only " + std::to_string(ready.load()) + " processes became idle");
    }
  }
  // The BEAM's figure is erlang:memory(total), allocated bytes. Ours is the
  // allocator's count where the allocator reports one (glibc's mallinfo2);
  // under mimalloc (the rusm executable's allocator) mallinfo2 sees nothing,
  // and resident memory, which also counts allocator overhead, stands in.
  const bool heap_measured = heap_per > 0;
  Row r1 = make_row("bytes/process (heap delta)", heap_per, "B");
  r1.higher_is_better = false;
  Row r2 = make_row("bytes/process (RSS delta)", rss_per, "B");
  r2.higher_is_better = false;
  Row& compared = heap_measured ? r1 : r2;
  BeamOutput beam = run_beam(options, "rusm_beam_anchor:idle_memory(1000000)");
  if (beam.ran) {
    compared.baseline = number_after(beam.text, "processes, ");
    compared.baseline_name = "BEAM";
    report.notes.push_back("BEAM figure: erlang:memory(total) delta");
  } else {
    report.notes.push_back(beam.note);
  }
  if (!heap_measured) {
    report.notes.push_back("heap delta not reported by this allocator (mimalloc): RSS compared");
    report.rows = {r2};
    return report;
  }
  report.rows = {r1, r2};
  return report;
}

Registrar registrar({"idle-memory", "bytes per idle process (1M blocked in receive)", run});

}  // namespace
}  // namespace rusm::bench::otp
