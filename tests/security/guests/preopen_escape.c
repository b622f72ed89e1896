// Attack on nested preopens (issue 9, item 3). Run with two preopens, /app
// and /up, where the host directory of /up is app/uploads, and the spawn
// capability:
//
//   preopen_escape.wasm -- spawn|supervisor LINK_TARGET
//   preopen_escape.wasm -- without_fs -   (a child spawned without `fs`)
//
// The guest renames /app/uploads away and plants a symlink `uploads ->
// LINK_TARGET` in its place (a relative "../outside" or an absolute host
// path), then starts a child (a spawned process, or a supervisor's child
// after a restart) and lets it read and write through /up. If the runtime
// re-opened /up by its host path, the child would see the symlink's target;
// holding the descriptor, it sees the original directory. Every step prints
// one line; the test checks them and the host tree.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rusm.h"

#define TAG_REPORT 7
#define TAG_CRASH 8

// Reads /up/NAME into out ("errno=N" when it cannot).
static void read_up(const char* name, char* out, size_t cap) {
  char path[128];
  snprintf(path, sizeof path, "/up/%s", name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    snprintf(out, cap, "errno=%d", errno);
    return;
  }
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  out[n < 0 ? 0 : n] = '\0';
  char* nl = strchr(out, '\n');
  if (nl != NULL) {
    *nl = '\0';
  }
}

// What a child sees through /up: one line.
static void probe(char* report, size_t cap) {
  char upload[64], secret[64];
  read_up("upload.txt", upload, sizeof upload);
  read_up("secret.txt", secret, sizeof secret);
  int fd = open("/up/pwned", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int write_errno = fd < 0 ? errno : 0;
  if (fd >= 0) {
    close(fd);
  }
  snprintf(report, cap, "upload.txt: %s, secret.txt: %s, create pwned: %s", upload, secret,
           write_errno == 0 ? "ok" : "refused");
}

// A spawned child: reports to its parent and ends.
RUSM_EXPORT(child) void child(void) {
  char report[256];
  probe(report, sizeof report);
  rusm_send_str(rusm_parent(), TAG_REPORT, report);
}

// A supervisor's child: reports to `to`, then crashes when told to (and is
// restarted, reporting again).
RUSM_EXPORT(worker) void worker(uint64_t to) {
  char report[256];
  probe(report, sizeof report);
  rusm_send_str((rusm_pid)to, TAG_REPORT, report);
  rusm_msg m;
  char buf[8];
  rusm_receive_tag(TAG_CRASH, &m, buf, sizeof buf, -1);
  rusm_exit_error("told to crash");
}

static rusm_pid wait_report(void) {
  rusm_msg m;
  char buf[256];
  int32_t n = rusm_receive_tag(TAG_REPORT, &m, buf, sizeof buf - 1, 10000000000ll);
  if (n < 0) {
    printf("no report: %d\n", n);
    return 0;
  }
  buf[n] = '\0';
  printf("child sees %s\n", buf);
  return m.from;
}

// Replaces /app/uploads with a symlink to `target`.
static void plant(const char* target) {
  printf("rename uploads: %d\n", rename("/app/uploads", "/app/uploads.old") == 0 ? 0 : errno);
  printf("symlink uploads -> %s: %d\n", target[0] == '/' ? "(absolute)" : target,
         symlink(target, "/app/uploads") == 0 ? 0 : errno);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    printf("usage: preopen_escape spawn|supervisor LINK_TARGET\n");
    return 2;
  }
  char before[64];
  read_up("upload.txt", before, sizeof before);
  printf("parent reads /up/upload.txt: %s\n", before);
  if (strcmp(argv[1], "without_fs") == 0) {
    rusm_spawn_opts o = {
        RUSM_SPAWN_CAPS, 0, 0, RUSM_CAP_STDIO | RUSM_CAP_ENV | RUSM_CAP_SPAWN, 0, 0};
    if (rusm_spawn_opt("child", NULL, 0, &o, NULL) == 0) {
      printf("spawn failed\n");
      return 1;
    }
    wait_report();
    return 0;
  }
  if (strcmp(argv[1], "spawn") == 0) {
    plant(argv[2]);
    if (rusm_spawn("child", NULL, 0) == 0) {
      printf("spawn failed\n");
      return 1;
    }
    wait_report();
    return 0;
  }
  uint64_t self = rusm_self();
  rusm_child_spec c = rusm_child("w", "worker", &self, 1, RUSM_PERMANENT);
  int64_t sup = rusm_supervisor_start(RUSM_ONE_FOR_ONE, 5, 10000, &c, 1);
  if (sup < 0) {
    printf("supervisor_start failed: %lld\n", (long long)sup);
    return 1;
  }
  rusm_pid w = wait_report();  // the first run, before the attack
  plant(argv[2]);
  rusm_send_str(w, TAG_CRASH, "");
  printf("restarted: ");
  wait_report();
  return 0;
}
