// Attacks on fair scheduling through host calls (tests/security/fuel_test.cc):
// calls that move many bytes for one call's fuel, and loops of host calls in
// a slice that never runs out.
#include <stdint.h>
#include <unistd.h>

#include "rusm.h"

static char g_buf[12 << 20];

// Takes one message, tells `napper` to start its nap, then copies all of the
// message into memory `reads` times with message_read, then says "done"
// (tag 2) and waits.
RUSM_EXPORT(read_loop) void read_loop(rusm_pid reporter, int32_t reads, rusm_pid napper) {
  rusm_msg m;
  int32_t n = rusm_receive(&m, g_buf, 0);
  rusm_send(napper, 7, 0, 0);
  for (int32_t i = 0; i < reads; ++i) {
    rusm_message_read(0, g_buf, (uint32_t)n);
  }
  rusm_send_str(reporter, 2, "done");
  rusm_sleep_ns(-1);
}

// Waits to be told to (tag 7) if `wait_go`, sleeps ns, then says "woke" (tag 1).
RUSM_EXPORT(nap) void nap(rusm_pid reporter, int64_t ns, int32_t wait_go) {
  if (wait_go) {
    rusm_msg m;
    rusm_receive_tag(7, &m, 0, 0, -1);
  }
  rusm_sleep_ns(ns);
  rusm_send_str(reporter, 1, "woke");
}

// Says "looping" (tag 1), then makes 2^32 cheap host calls; "loop ended"
// (tag 2) if it ever gets there.
RUSM_EXPORT(call_loop) void call_loop(rusm_pid reporter) {
  rusm_send_str(reporter, 1, "looping");
  for (uint64_t i = 0; i < (1ull << 32); ++i) {
    (void)rusm_self();
  }
  rusm_send_str(reporter, 2, "loop ended");
}

// Sends `sends` messages of 1 MiB to `to`, then says "sent" (tag 2).
RUSM_EXPORT(send_loop) void send_loop(rusm_pid to, int32_t sends, rusm_pid reporter) {
  for (int32_t i = 0; i < sends; ++i) {
    rusm_send(to, 1, g_buf, 1 << 20);
  }
  rusm_send_str(reporter, 2, "sent");
  rusm_sleep_ns(-1);
}

// Writes 12 MiB to stdout (null unless granted) `writes` times through WASI
// fd_write, then says "written" (tag 2).
RUSM_EXPORT(write_loop) void write_loop(rusm_pid reporter, int32_t writes) {
  for (int32_t i = 0; i < writes; ++i) {
    (void)write(1, g_buf, sizeof g_buf);
  }
  rusm_send_str(reporter, 2, "written");
  rusm_sleep_ns(-1);
}

int main(void) {
  return 0;
}
