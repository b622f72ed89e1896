// Test guest for the file-system WASI calls, run with a preopen at
// /sandbox (read-write or read-only). argv[1] names the scenario.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <wasi/api.h>

#define CHECK(expr)                                                      \
  do {                                                                   \
    if (!(expr)) {                                                       \
      printf("FAILED %s (line %d, errno %d)\n", #expr, __LINE__, errno); \
      return 1;                                                          \
    }                                                                    \
  } while (0)

static int cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

static void list(const char* path) {
  DIR* d = opendir(path);
  if (d == NULL) {
    printf("opendir %s: errno=%d\n", path, errno);
    return;
  }
  char* names[64];
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < 64) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      names[n++] = strdup(e->d_name);
    }
  }
  closedir(d);
  qsort(names, n, sizeof(char*), cmp);
  printf("ls %s:", path);
  for (int i = 0; i < n; ++i) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf("\n");
}

static int read_write(void) {
  FILE* f = fopen("/sandbox/hello.txt", "w");
  CHECK(f != NULL);
  fprintf(f, "hello, file\n");
  CHECK(fclose(f) == 0);

  char buf[64] = {0};
  int fd = open("/sandbox/hello.txt", O_RDONLY);
  CHECK(fd >= 0);
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  printf("read %zd: %s", n, buf);
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  printf("size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  CHECK(lseek(fd, 7, SEEK_SET) == 7);
  memset(buf, 0, sizeof(buf));
  n = read(fd, buf, 4);
  printf("after seek: %s\n", buf);
  printf("write to read-only fd: %zd errno=%d\n", write(fd, "x", 1), errno);
  CHECK(close(fd) == 0);

  fd = open("/sandbox/hello.txt", O_RDWR);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, "HELLO", 5, 0) == 5);
  memset(buf, 0, sizeof(buf));
  CHECK(pread(fd, buf, 5, 0) == 5);
  printf("pread: %s\n", buf);
  CHECK(ftruncate(fd, 5) == 0);
  CHECK(fstat(fd, &st) == 0);
  printf("truncated size=%lld\n", (long long)st.st_size);
  CHECK(fsync(fd) == 0);
  CHECK(fdatasync(fd) == 0);
  CHECK(posix_fadvise(fd, 0, 5, POSIX_FADV_SEQUENTIAL) == 0);
  CHECK(posix_fallocate(fd, 0, 100) == 0);
  CHECK(fstat(fd, &st) == 0);
  printf("allocated size=%lld\n", (long long)st.st_size);
  CHECK(close(fd) == 0);

  fd = open("/sandbox/hello.txt", O_WRONLY | O_APPEND);
  CHECK(fd >= 0);
  CHECK(fcntl(fd, F_GETFL) & O_APPEND);
  CHECK(close(fd) == 0);

  printf("open missing: %d errno=%d\n", open("/sandbox/missing", O_RDONLY), errno);
  printf("create excl existing: %d errno=%d\n",
         open("/sandbox/hello.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), errno);

  CHECK(mkdir("/sandbox/sub", 0755) == 0);
  printf("mkdir existing: %d errno=%d\n", mkdir("/sandbox/sub", 0755), errno);
  CHECK(rename("/sandbox/hello.txt", "/sandbox/sub/renamed.txt") == 0);
  CHECK(symlink("renamed.txt", "/sandbox/sub/link") == 0);
  char target[64] = {0};
  n = readlink("/sandbox/sub/link", target, sizeof(target) - 1);
  printf("readlink: %zd %s\n", n, target);
  CHECK(stat("/sandbox/sub/link", &st) == 0);
  printf("stat through link: regular=%d\n", S_ISREG(st.st_mode));
  CHECK(lstat("/sandbox/sub/link", &st) == 0);
  printf("lstat link: symlink=%d\n", S_ISLNK(st.st_mode));
  CHECK(link("/sandbox/sub/renamed.txt", "/sandbox/hard") == 0);
  CHECK(stat("/sandbox/hard", &st) == 0);
  printf("hard link nlink=%d\n", (int)st.st_nlink);
  struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
  CHECK(utimes("/sandbox/hard", tv) == 0);
  CHECK(stat("/sandbox/hard", &st) == 0);
  printf("mtime=%lld\n", (long long)st.st_mtim.tv_sec);
  list("/sandbox");
  list("/sandbox/sub");
  printf("rmdir non-empty: %d errno=%d\n", rmdir("/sandbox/sub"), errno);
  printf("unlink dir: %d errno=%d\n", unlink("/sandbox/sub"), errno);
  CHECK(unlink("/sandbox/sub/link") == 0);
  CHECK(unlink("/sandbox/sub/renamed.txt") == 0);
  CHECK(unlink("/sandbox/hard") == 0);
  CHECK(rmdir("/sandbox/sub") == 0);
  list("/sandbox");

  // Renumbering: dup2 is not in wasi-libc; call fd_renumber directly.
  int a = open("/sandbox/data.txt", O_RDONLY);
  int b = open("/sandbox/data.txt", O_RDONLY);
  CHECK(a >= 0 && b >= 0);
  printf("renumber=%d\n", __wasi_fd_renumber(a, b));
  printf("close renumbered-away fd: %d errno=%d\n", close(a), errno);
  memset(buf, 0, sizeof(buf));
  CHECK(read(b, buf, sizeof(buf) - 1) > 0);
  printf("data: %s", buf);
  CHECK(close(b) == 0);
  return 0;
}

static int read_only(void) {
  char buf[64] = {0};
  int fd = open("/sandbox/data.txt", O_RDONLY);
  CHECK(fd >= 0);
  CHECK(read(fd, buf, sizeof(buf) - 1) > 0);
  printf("data: %s", buf);
  printf("write: %zd errno=%d\n", write(fd, "x", 1), errno);
  __wasi_size_t n;
  __wasi_ciovec_t iov = {(const uint8_t*)"x", 1};
  printf("raw fd_write: %d\n", __wasi_fd_write(fd, &iov, 1, &n));
  close(fd);
  printf("create: %d errno=%d\n", open("/sandbox/new.txt", O_CREAT | O_WRONLY, 0644), errno);
  // wasi-libc asks only for the rights the directory can pass on, so this
  // open succeeds, read-only; every write through it is refused.
  fd = open("/sandbox/data.txt", O_RDWR);
  printf("open rdwr: %s, write: %zd errno=%d\n", fd >= 0 ? "opened" : "failed", write(fd, "x", 1),
         errno);
  close(fd);
  printf("truncate: %d errno=%d\n", open("/sandbox/data.txt", O_WRONLY | O_TRUNC), errno);
  printf("mkdir: %d errno=%d\n", mkdir("/sandbox/d", 0755), errno);
  printf("unlink: %d errno=%d\n", unlink("/sandbox/data.txt"), errno);
  printf("rename: %d errno=%d\n", rename("/sandbox/data.txt", "/sandbox/x"), errno);
  printf("symlink: %d errno=%d\n", symlink("data.txt", "/sandbox/l"), errno);
  struct timeval tv[2] = {{1, 0}, {1, 0}};
  printf("utimes: %d errno=%d\n", utimes("/sandbox/data.txt", tv), errno);
  list("/sandbox");
  return 0;
}

static int raw_open(const char* path, int follow) {
  __wasi_fd_t fd;
  int e = __wasi_path_open(3, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, 0,
                           __WASI_RIGHTS_FD_READ, 0, 0, &fd);
  if (e == 0) {
    (void)__wasi_fd_close(fd);
  }
  return e;
}

static int escapes(void) {
  printf("dotdot: %d\n", raw_open("../outside/secret.txt", 1));
  printf("inner dotdot: %d\n", raw_open("inner/../../outside/secret.txt", 1));
  printf("absolute: %d\n", raw_open("/etc/passwd", 1));
  printf("abs symlink: %d\n", raw_open("abs_link/secret.txt", 1));
  printf("rel symlink: %d\n", raw_open("rel_link/secret.txt", 1));
  printf("file symlink: %d\n", raw_open("secret_link", 1));
  printf("inside symlink: %d\n", raw_open("inside_link", 1));
  printf("inside dotdot: %d\n", raw_open("inner/../data.txt", 1));
  __wasi_filestat_t st;
  printf("stat dotdot: %d\n", __wasi_path_filestat_get(3, 0, "..", &st));
  printf("mkdir dotdot: %d\n", __wasi_path_create_directory(3, "../made"));
  printf("unlink abs: %d\n", __wasi_path_unlink_file(3, "/tmp/x"));
  // A relative link that climbs out can be made (it is only text) but never
  // followed; an absolute one cannot be made at all.
  printf("symlink escape then open: %d %d\n", __wasi_path_symlink("../outside", 3, "out"),
         raw_open("out/secret.txt", 1));
  printf("absolute symlink: %d\n", __wasi_path_symlink("/etc", 3, "etc"));
  printf("rename out: %d\n", __wasi_path_rename(3, "data.txt", 3, "../stolen"));
  printf("link out: %d\n",
         __wasi_path_link(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "secret_link", 3, "got"));
  char buf[64];
  __wasi_size_t used;
  printf("readlink out: %d\n", __wasi_path_readlink(3, "../outside/x", (uint8_t*)buf, 64, &used));
  // Through wasi-libc: paths outside every preopen never reach the host.
  printf("libc dotdot: %d errno=%d\n", open("/sandbox/../outside/secret.txt", O_RDONLY), errno);
  return 0;
}

// Raw descriptor calls wasi-libc hides: readdir cookies and truncation,
// preopen fdstat, tell, renumber/close errors, rights reduction.
static int raw_fd(void) {
  uint8_t buf[4096];
  __wasi_size_t used = 0;
  printf("readdir tiny=%d used=%d\n", __wasi_fd_readdir(3, buf, 25, 0, &used), (int)used);
  CHECK(__wasi_fd_readdir(3, buf, sizeof(buf), 0, &used) == 0);
  int entries = 0;
  __wasi_dircookie_t last = 0;
  for (__wasi_size_t off = 0; off + sizeof(__wasi_dirent_t) <= used;) {
    __wasi_dirent_t d;
    memcpy(&d, buf + off, sizeof(d));
    off += sizeof(d) + d.d_namlen;
    last = d.d_next;
    ++entries;
  }
  printf("entries=%d last_cookie=%d\n", entries, (int)last);
  CHECK(__wasi_fd_readdir(3, buf, sizeof(buf), last, &used) == 0);
  printf("after last cookie used=%d\n", (int)used);

  __wasi_fdstat_t st;
  CHECK(__wasi_fd_fdstat_get(3, &st) == 0);
  printf("preopen filetype=%d\n", st.fs_filetype);
  __wasi_prestat_t pre;
  CHECK(__wasi_fd_prestat_get(3, &pre) == 0);
  char name[16] = {0};
  printf("prestat name_len=%d short buf=%d\n", (int)pre.u.dir.pr_name_len,
         __wasi_fd_prestat_dir_name(3, (uint8_t*)name, 3));
  CHECK(__wasi_fd_prestat_dir_name(3, (uint8_t*)name, pre.u.dir.pr_name_len) == 0);
  printf("prestat name=%s\n", name);

  __wasi_fd_t fd;
  CHECK(__wasi_path_open(3, 0, "data.txt", 0,
                         __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_SEEK |
                             __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS,
                         0, 0, &fd) == 0);
  __wasi_iovec_t iov = {buf, 2};
  CHECK(__wasi_fd_read(fd, &iov, 1, &used) == 0);
  __wasi_filesize_t pos = 0;
  printf("tell=%d pos=%d\n", __wasi_fd_tell(fd, &pos), (int)pos);
  printf("sync flags=%d\n", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC));
  CHECK(__wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ, 0) == 0);
  printf("tell after dropping rights=%d\n", __wasi_fd_tell(fd, &pos));
  printf("regain rights=%d\n",
         __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0));
  printf("readdir on file=%d\n", __wasi_fd_readdir(fd, buf, sizeof(buf), 0, &used));
  printf("path_open on file=%d\n",
         __wasi_path_open(fd, 0, "x", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
  printf("renumber to closed=%d\n", __wasi_fd_renumber(fd, 99));
  CHECK(__wasi_fd_close(fd) == 0);
  printf("double close=%d\n", __wasi_fd_close(fd));
  printf("open dir as file then read=%d\n", __wasi_path_open(3, 0, "inner", __WASI_OFLAGS_DIRECTORY,
                                                             __WASI_RIGHTS_FD_READ, 0, 0, &fd));
  printf("read dir=%d\n", __wasi_fd_read(fd, &iov, 1, &used));
  printf("open file as dir=%d\n",
         __wasi_path_open(3, 0, "data.txt", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
  printf("empty path=%d\n", __wasi_path_open(3, 0, "", 0, 0, 0, 0, &fd));
  return 0;
}

static int no_fs(void) {
  printf("open: %d errno=%d\n", open("/sandbox/data.txt", O_RDONLY), errno);
  printf("raw path_open fd 3: %d\n", raw_open("data.txt", 1));
  __wasi_prestat_t pre;
  printf("prestat 3: %d\n", __wasi_fd_prestat_get(3, &pre));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  if (strcmp(argv[1], "rw") == 0) {
    return read_write();
  }
  if (strcmp(argv[1], "ro") == 0) {
    return read_only();
  }
  if (strcmp(argv[1], "escape") == 0) {
    return escapes();
  }
  if (strcmp(argv[1], "rawfd") == 0) {
    return raw_fd();
  }
  if (strcmp(argv[1], "nofs") == 0) {
    return no_fs();
  }
  return 3;
}
