// Test guest for WASI preview 1 conformance details (each one a case the
// official WASI test suite checks), run with a read-write preopen at fd 3
// (/sandbox). argv[1] names the scenario; every line printed is one result,
// the raw WASI errno of the call.
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t open_at(__wasi_fd_t dir, const char* path, __wasi_oflags_t oflags,
                           __wasi_rights_t base, __wasi_rights_t inheriting, int* err) {
  __wasi_fd_t fd = 0;
  *err = __wasi_path_open(dir, 0, path, oflags, base, inheriting, 0, &fd);
  return fd;
}

// path_link and path_symlink to a destination with a trailing slash.
static int trailing_slash(void) {
  int e;
  __wasi_fd_t f = open_at(3, "file", __WASI_OFLAGS_CREAT, 0, 0, &e);
  __wasi_fd_close(f);
  printf("create dir: %d\n", __wasi_path_create_directory(3, "dir"));
  printf("symlink to missing/: %d\n", __wasi_path_symlink("target", 3, "missing/"));
  printf("symlink to file/: %d\n", __wasi_path_symlink("target", 3, "file/"));
  printf("symlink to dir/: %d\n", __wasi_path_symlink("target", 3, "dir/"));
  printf("link to missing/: %d\n", __wasi_path_link(3, 0, "file", 3, "missing/"));
  printf("link to dir/: %d\n", __wasi_path_link(3, 0, "file", 3, "dir/"));
  printf("link to file/: %d\n", __wasi_path_link(3, 0, "file", 3, "file/"));
  __wasi_filestat_t st;
  printf("missing still missing: %d\n", __wasi_path_filestat_get(3, 0, "missing", &st));
  printf("symlink to missing: %d\n", __wasi_path_symlink("target", 3, "missing"));
  printf("link to missing2: %d\n", __wasi_path_link(3, 0, "file", 3, "missing2"));
  return 0;
}

static void print_rights(const char* what, __wasi_fd_t fd) {
  __wasi_fdstat_t st;
  int e = __wasi_fd_fdstat_get(fd, &st);
  __wasi_rights_t b = st.fs_rights_base;
  printf("%s: fdstat=%d seek=%d tell=%d read=%d write=%d readdir=%d path_open=%d\n", what, e,
         (b & __WASI_RIGHTS_FD_SEEK) != 0, (b & __WASI_RIGHTS_FD_TELL) != 0,
         (b & __WASI_RIGHTS_FD_READ) != 0, (b & __WASI_RIGHTS_FD_WRITE) != 0,
         (b & __WASI_RIGHTS_FD_READDIR) != 0, (b & __WASI_RIGHTS_PATH_OPEN) != 0);
}

// Rights follow the descriptor's type: a directory has no position, a file
// no path calls, whatever was asked for.
static int dir_rights(void) {
  __wasi_filesize_t pos;
  print_rights("preopen", 3);
  printf("preopen seek: %d tell: %d\n", __wasi_fd_seek(3, 0, __WASI_WHENCE_CUR, &pos),
         __wasi_fd_tell(3, &pos));
  __wasi_fdstat_t st;
  __wasi_fd_fdstat_get(3, &st);
  printf("preopen passes on seek=%d write=%d\n",
         (st.fs_rights_inheriting & __WASI_RIGHTS_FD_SEEK) != 0,
         (st.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE) != 0);
  int e;
  __wasi_path_create_directory(3, "dir");
  __wasi_fd_t d = open_at(3, "dir", __WASI_OFLAGS_DIRECTORY,
                          __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_READDIR |
                              __WASI_RIGHTS_PATH_OPEN,
                          0, &e);
  printf("open dir asking for seek: %d\n", e);
  print_rights("dir", d);
  printf("dir seek: %d set: %d end: %d tell: %d\n", __wasi_fd_seek(d, 0, __WASI_WHENCE_CUR, &pos),
         __wasi_fd_seek(d, 0, __WASI_WHENCE_SET, &pos),
         __wasi_fd_seek(d, 0, __WASI_WHENCE_END, &pos), __wasi_fd_tell(d, &pos));
  __wasi_fd_t f = open_at(3, "file", __WASI_OFLAGS_CREAT,
                          __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_READDIR |
                              __WASI_RIGHTS_PATH_OPEN,
                          0, &e);
  printf("open file asking for readdir: %d\n", e);
  print_rights("file", f);
  return 0;
}

// path_open(preopen, ".") with the preopen's own rights, or none, opens it
// again; asking to write a directory is EISDIR.
static int open_preopen(void) {
  __wasi_fdstat_t st;
  __wasi_fd_fdstat_get(3, &st);
  int e;
  __wasi_fd_t fd = open_at(3, ".", 0, st.fs_rights_base, st.fs_rights_inheriting, &e);
  print_rights(e == 0 ? "same rights" : "same rights failed", e == 0 ? fd : 3);
  open_at(3, ".", 0, 0, 0, &e);
  printf("no rights: %d\n", e);
  open_at(3, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, &e);
  printf("directory, no rights: %d\n", e);
  open_at(3, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ, 0, &e);
  printf("directory, read: %d\n", e);
  open_at(3, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, &e);
  printf("directory, read+write: %d\n", e);
  open_at(3, ".", 0, __WASI_RIGHTS_FD_WRITE, 0, &e);
  printf("write: %d\n", e);
  open_at(3, ".", 0, __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_SYNC, 0, &e);
  printf("datasync+sync: %d\n", e);
  return 0;
}

static long long size_of(__wasi_fd_t dir, const char* path) {
  __wasi_filestat_t st;
  int e = __wasi_path_filestat_get(dir, 0, path, &st);
  return e == 0 ? (long long)st.size : -e;
}

// O_TRUNC needs path_filestat_set_size on the directory, as O_CREAT needs
// path_create_file.
static int open_rights(void) {
  int e;
  __wasi_fd_t f = open_at(3, "file", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, &e);
  __wasi_ciovec_t iov = {(const uint8_t*)"abc", 3};
  __wasi_size_t n;
  __wasi_fd_write(f, &iov, 1, &n);
  __wasi_fd_close(f);
  __wasi_fdstat_t st;
  __wasi_fd_fdstat_get(3, &st);
  __wasi_fd_t d =
      open_at(3, ".", __WASI_OFLAGS_DIRECTORY, st.fs_rights_base, st.fs_rights_inheriting, &e);
  __wasi_fd_fdstat_set_rights(d, st.fs_rights_base & ~__WASI_RIGHTS_PATH_FILESTAT_SET_SIZE,
                              st.fs_rights_inheriting);
  open_at(d, "file", __WASI_OFLAGS_TRUNC, 0, 0, &e);
  printf("trunc without path_filestat_set_size: %d, size %lld\n", e, size_of(3, "file"));
  open_at(3, "file", __WASI_OFLAGS_TRUNC, 0, 0, &e);
  printf("trunc with it: %d, size %lld\n", e, size_of(3, "file"));
  __wasi_fd_fdstat_set_rights(
      d,
      st.fs_rights_base & ~(__WASI_RIGHTS_PATH_FILESTAT_SET_SIZE | __WASI_RIGHTS_PATH_CREATE_FILE),
      st.fs_rights_inheriting);
  open_at(d, "new", __WASI_OFLAGS_CREAT, 0, 0, &e);
  printf("create without path_create_file: %d, %lld\n", e, size_of(3, "new"));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  if (strcmp(argv[1], "trailing_slash") == 0) {
    return trailing_slash();
  }
  if (strcmp(argv[1], "open_preopen") == 0) {
    return open_preopen();
  }
  if (strcmp(argv[1], "open_rights") == 0) {
    return open_rights();
  }
  if (strcmp(argv[1], "dir_rights") == 0) {
    return dir_rights();
  }
  return 3;
}
