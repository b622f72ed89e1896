// WASI preview 1 conformance details, each a case of the official WASI test
// suite (tests/wasi-suite runs the suite itself): the guest guests/conform.c
// prints raw errno values, one per call, with a fresh read-write preopen.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "driver.h"

namespace rusm::wasi {
namespace {

namespace fs = std::filesystem;
using testing::captured;
using testing::run_guest;

class WasiConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rusm-wasi-conform-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  // Runs `scenario` and checks that it printed exactly `expected`.
  void expect_output(const std::string& scenario, const std::string& expected) {
    auto r = run(scenario);
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
    EXPECT_EQ(r.out, expected);
  }
  testing::RunResult run(const std::string& scenario) {
    Config c = captured({scenario});
    auto p = Preopen::open(root_.string(), "/sandbox");
    EXPECT_TRUE(p.is_ok()) << p.error().message();
    if (p) {
      c.preopens.push_back(std::move(*p));
    }
    return run_guest("conform", std::move(c));
  }

  fs::path root_;
};

// path_link / path_symlink never create "name/": ENOENT (44) when nothing is
// there, EEXIST (20) when a directory is, ENOTDIR (54) when a file is
// (suite: path_link, path_symlink_trailing_slashes, also in its Unix errno
// mode).
TEST_F(WasiConformance, LinkAndSymlinkToATrailingSlashDestinationFail) {
  expect_output("trailing_slash",
                "create dir: 0\n"
                "symlink to missing/: 44\n"
                "symlink to file/: 54\n"
                "symlink to dir/: 20\n"
                "link to missing/: 44\n"
                "link to dir/: 20\n"
                "link to file/: 54\n"
                "missing still missing: 44\n"
                "symlink to missing: 0\n"
                "link to missing2: 0\n");
}

// A directory holds only directory rights: no fd_seek/fd_tell even when
// asked for (fd_seek on it is ENOTCAPABLE, 76), while a preopen still passes
// file rights on; a file holds no path_* or fd_readdir (suite:
// directory_seek, dir_fd_op_failures).
TEST_F(WasiConformance, RightsFollowTheDescriptorType) {
  expect_output("dir_rights",
                "preopen: fdstat=0 seek=0 tell=0 read=0 write=0 readdir=1 path_open=1\n"
                "preopen seek: 76 tell: 76\n"
                "preopen passes on seek=1 write=1\n"
                "open dir asking for seek: 0\n"
                "dir: fdstat=0 seek=0 tell=0 read=0 write=0 readdir=1 path_open=1\n"
                "dir seek: 76 set: 76 end: 76 tell: 76\n"
                "open file asking for readdir: 0\n"
                "file: fdstat=0 seek=1 tell=0 read=1 write=0 readdir=0 path_open=0\n");
}

// Re-opening a preopen through "." with its own rights works (it asks for
// fd_datasync, which needs no writable open); any write right on a
// directory is EISDIR (31), as POSIX says (suite: path_open_preopen).
TEST_F(WasiConformance, PathOpenDotWithThePreopensRightsReopensIt) {
  expect_output("open_preopen",
                "same rights: fdstat=0 seek=0 tell=0 read=0 write=0 readdir=1 path_open=1\n"
                "no rights: 0\n"
                "directory, no rights: 0\n"
                "directory, read: 0\n"
                "directory, read+write: 31\n"
                "write: 31\n"
                "datasync+sync: 0\n");
}

// path_open needs the directory's right for what it does to the tree:
// O_TRUNC path_filestat_set_size, O_CREAT path_create_file; without it
// ENOTCAPABLE (76) and nothing changes (suite: truncation_rights).
TEST_F(WasiConformance, PathOpenNeedsTheDirectorysRightToTruncateOrCreate) {
  expect_output("open_rights",
                "trunc without path_filestat_set_size: 76, size 3\n"
                "trunc with it: 0, size 0\n"
                "create without path_create_file: 76, -44\n");
}

}  // namespace
}  // namespace rusm::wasi
