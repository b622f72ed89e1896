// The load driver: runs one measured load (or a rate sweep) against a target
// and returns what it saw.
//
// Threads: `threads` OS threads, each with its own Asio io_context (epoll
// underneath); connections are pinned to threads round-robin and never
// migrate, so no lock or atomic is taken per operation (the measurement
// window is two relaxed atomics read per completion). Per-thread counters
// and histograms are merged after the threads are joined.
//
// Hot path: a keep-alive request costs one send() and one recv() on a plain
// socket (the request bytes are built once; responses are framed in place by
// HttpResponseParser); nothing is allocated per request.
//
// Open loop (--rate R): each thread owns R/threads of the schedule. Op k of
// a thread is due at t0 + k/rate; due ops go to idle connections in order,
// and an op that waits for a free connection keeps its intended time, so its
// latency (completion - intended time) includes the wait: no coordinated
// omission (as in wrk2). Closed loop (no --rate): every connection starts
// its next op as soon as the previous one completes.
//
// Thread-safe: each call is independent; run_load blocks until done.
#pragma once

#include <functional>

#include "options.h"
#include "report.h"
#include "rusm/result.h"

namespace rusm::loadtest {

// One run: warm-up, then the measured window. Errors (cannot resolve the
// host, bad --cacert, bad option combination) are returned, never thrown;
// failures of individual connections are counted in the result instead.
Result<RunResult> run_load(const Options& options);

// Checks the option combinations that run_load refuses (e.g. --rate with
// sse); returns the one-line reason.
Status validate(const Options& options);

// --sweep: open-loop runs at rising rates (from --rate, default 1000, times
// --sweep-factor each level) until a level misses the SLA, then two
// bisection levels between the last pass and the first failure. `progress`
// (may be empty) is called after every level.
Result<SweepResult> run_sweep(const Options& options,
                              const std::function<void(const SweepLevel&)>& progress);

}  // namespace rusm::loadtest
