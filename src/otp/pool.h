// Pooled allocation for the spawn and send paths.
//
// HOT PATH (guarded by bench spawn-storm and ping-pong): coroutine frames and
// message nodes are taken from thread-local free lists, one per size class;
// blocks move between threads in batches through a global depot, so a thread
// that frees more than it allocates (a receiver) feeds one that allocates
// more (a sender) with one lock per batch. Memory is kept for reuse, never
// returned to the system while the program runs.
//
// Under AddressSanitizer the pools are bypassed so that use-after-free bugs
// stay visible.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <cstddef>

namespace rusm::otp::detail {

void* pool_alloc(size_t size);
void pool_free(void* p, size_t size);

}  // namespace rusm::otp::detail
