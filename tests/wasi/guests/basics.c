// Test guest for the non-file WASI calls. argv[1] names the scenario; the
// output is what wasi_test.cc expects, byte for byte.
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

extern char** environ;

// proc_raise is in wasi_snapshot_preview1 but no longer in wasi-libc's header.
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise"))) uint16_t
raw_proc_raise(uint32_t sig);

static int args(int argc, char** argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; ++i) {
    printf("argv[%d]=%s\n", i, argv[i]);
  }
  for (char** e = environ; *e != NULL; ++e) {
    printf("env %s\n", *e);
  }
  const char* home = getenv("HOME");
  printf("HOME=%s\n", home != NULL ? home : "(unset)");
  return 0;
}

static int clocks(void) {
  __wasi_timestamp_t t1 = 0, t2 = 0, res = 0, real = 0;
  int e1 = __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t1);
  int e2 = __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t2);
  int e3 = __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res);
  int e4 = __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &real);
  int e5 = __wasi_clock_time_get(99, 1, &t1);
  int e6 = __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &t1);
  printf("time_get=%d,%d res_get=%d realtime=%d bad_clock=%d cputime=%d\n", e1, e2, e3, e4, e5, e6);
  if (e1 == 0) {
    // 2020-01-01 in ns since the epoch.
    printf("monotonic_ordered=%d res_positive=%d realtime_after_2020=%d\n", t2 >= t1, res > 0,
           real > 1577836800000000000ull);
  }
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  printf("clock_gettime=%d errno=%d\n", r, r == 0 ? 0 : errno);
  return 0;
}

static int random_bytes(void) {
  uint8_t buf[32];
  memset(buf, 0, sizeof(buf));
  int e = __wasi_random_get(buf, sizeof(buf));
  int nonzero = 0;
  for (size_t i = 0; i < sizeof(buf); ++i) {
    nonzero |= buf[i];
  }
  printf("random_get=%d nonzero=%d\n", e, nonzero != 0);
  return 0;
}

static int stdin_echo(void) {
  char buf[256];
  size_t total = 0;
  size_t n;
  while ((n = fread(buf + total, 1, sizeof(buf) - 1 - total, stdin)) > 0) {
    total += n;
  }
  buf[total] = '\0';
  printf("read %zu bytes: %s\n", total, buf);
  fprintf(stderr, "to stderr\n");
  return 0;
}

static int sleeper(void) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  int r = nanosleep(&ts, NULL);
  printf("nanosleep=%d errno=%d\n", r, r == 0 ? 0 : errno);
  return 0;
}

// poll_oneoff straight: a 1 ms clock and a read on stdin, events by userdata.
static int raw_poll(void) {
  __wasi_subscription_t subs[2];
  memset(subs, 0, sizeof(subs));
  subs[0].userdata = 7;
  subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
  subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  subs[0].u.u.clock.timeout = 1000000;
  subs[1].userdata = 8;
  subs[1].u.tag = __WASI_EVENTTYPE_FD_READ;
  subs[1].u.u.fd_read.file_descriptor = 0;
  __wasi_event_t ev[2];
  __wasi_size_t n = 0;
  int e = __wasi_poll_oneoff(subs, ev, 2, &n);
  printf("poll=%d nevents=%d\n", e, (int)n);
  for (__wasi_size_t i = 0; i < n; ++i) {
    printf("event userdata=%d error=%d type=%d nbytes=%d hangup=%d\n", (int)ev[i].userdata,
           ev[i].error, ev[i].type, (int)ev[i].fd_readwrite.nbytes,
           (ev[i].fd_readwrite.flags & __WASI_EVENTRWFLAGS_FD_READWRITE_HANGUP) != 0);
  }
  return 0;
}

static int yielder(void) {
  int r = sched_yield();
  printf("sched_yield=%d\n", r);
  return 0;
}

// Bad pointers and lengths: errors, never a crash.
static int faults(void) {
  uint8_t* far = (uint8_t*)0xFFFFFFF0u;
  __wasi_size_t n = 0;
  __wasi_ciovec_t iov = {(const uint8_t*)"x", 1};
  __wasi_ciovec_t bad_iov = {far, 100};
  printf("fd_write bad iovs=%d\n", __wasi_fd_write(1, (const __wasi_ciovec_t*)far, 1, &n));
  printf("fd_write bad buf=%d\n", __wasi_fd_write(1, &bad_iov, 1, &n));
  printf("fd_write bad nwritten=%d\n", __wasi_fd_write(1, &iov, 1, (__wasi_size_t*)far));
  printf("fd_write huge iovs_len=%d\n", __wasi_fd_write(1, &iov, 0x7fffffff, &n));
  printf("fd_read bad buf=%d\n", __wasi_fd_read(0, (const __wasi_iovec_t*)&bad_iov, 1, &n));
  printf("args_sizes_get bad=%d\n", __wasi_args_sizes_get((__wasi_size_t*)far, &n));
  printf("args_get bad=%d\n", __wasi_args_get((uint8_t**)far, far));
  printf("environ_get bad=%d\n", __wasi_environ_get((uint8_t**)far, far));
  printf("random_get bad=%d\n", __wasi_random_get(far, 64));
  printf("clock_time_get bad=%d\n",
         __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, (__wasi_timestamp_t*)far));
  __wasi_event_t ev;
  __wasi_size_t nev;
  __wasi_subscription_t sub;
  memset(&sub, 0, sizeof(sub));
  printf("poll_oneoff zero subs=%d\n", __wasi_poll_oneoff(&sub, &ev, 0, &nev));
  printf("poll_oneoff bad in=%d\n",
         __wasi_poll_oneoff((const __wasi_subscription_t*)far, &ev, 1, &nev));
  printf("poll_oneoff huge nsubs=%d\n", __wasi_poll_oneoff(&sub, &ev, 0x10000000, &nev));
  printf("fd_fdstat_get bad fd=%d\n", __wasi_fd_fdstat_get(1234, (__wasi_fdstat_t*)&ev));
  printf("fd_prestat_dir_name bad=%d\n", __wasi_fd_prestat_dir_name(3, far, 100));
  return 0;
}

static int unsupported(void) {
  __wasi_fd_t fd;
  __wasi_size_t n;
  __wasi_roflags_t flags;
  __wasi_iovec_t iov = {0, 0};
  __wasi_ciovec_t ciov = {0, 0};
  printf("proc_raise=%d\n", raw_proc_raise(6));
  printf("sock_accept=%d\n", __wasi_sock_accept(0, 0, &fd));
  printf("sock_recv=%d\n", __wasi_sock_recv(0, &iov, 1, 0, &n, &flags));
  printf("sock_send=%d\n", __wasi_sock_send(1, &ciov, 1, 0, &n));
  printf("sock_shutdown=%d\n", __wasi_sock_shutdown(0, __WASI_SDFLAGS_RD));
  printf("bad fd: sock_accept=%d sock_recv=%d sock_send=%d sock_shutdown=%d\n",
         __wasi_sock_accept(99, 0, &fd), __wasi_sock_recv(99, &iov, 1, 0, &n, &flags),
         __wasi_sock_send(99, &ciov, 1, 0, &n), __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD));
  return 0;
}

static int stdio_info(void) {
  __wasi_fdstat_t st;
  for (int fd = 0; fd < 3; ++fd) {
    int e = __wasi_fd_fdstat_get(fd, &st);
    printf("fd %d: fdstat=%d read=%d write=%d\n", fd, e,
           (st.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0,
           (st.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0);
  }
  __wasi_size_t n;
  __wasi_ciovec_t iov = {(const uint8_t*)"x", 1};
  printf("write stdin=%d\n", __wasi_fd_write(0, &iov, 1, &n));
  __wasi_filesize_t pos;
  printf("seek stdout=%d\n", __wasi_fd_seek(1, 0, __WASI_WHENCE_SET, &pos));
  __wasi_prestat_t pre;
  printf("prestat fd 3=%d\n", __wasi_fd_prestat_get(3, &pre));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  const char* s = argv[1];
  if (strcmp(s, "args") == 0) {
    return args(argc, argv);
  }
  if (strcmp(s, "clock") == 0) {
    return clocks();
  }
  if (strcmp(s, "random") == 0) {
    return random_bytes();
  }
  if (strcmp(s, "exit") == 0) {
    printf("exiting with %s\n", argv[2]);
    exit(atoi(argv[2]));
  }
  if (strcmp(s, "stdin") == 0) {
    return stdin_echo();
  }
  if (strcmp(s, "sleep") == 0) {
    return sleeper();
  }
  if (strcmp(s, "rawpoll") == 0) {
    return raw_poll();
  }
  if (strcmp(s, "yield") == 0) {
    return yielder();
  }
  if (strcmp(s, "faults") == 0) {
    return faults();
  }
  if (strcmp(s, "unsupported") == 0) {
    return unsupported();
  }
  if (strcmp(s, "stdio") == 0) {
    return stdio_info();
  }
  return 3;
}
