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
  __wasi_filestat_t st;
  printf("missing still missing: %d\n", __wasi_path_filestat_get(3, 0, "missing", &st));
  printf("symlink to missing: %d\n", __wasi_path_symlink("target", 3, "missing"));
  printf("link to missing2: %d\n", __wasi_path_link(3, 0, "file", 3, "missing2"));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  if (strcmp(argv[1], "trailing_slash") == 0) {
    return trailing_slash();
  }
  return 3;
}
