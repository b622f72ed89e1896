// The file system through preopened directories: read-write and read-only
// preopens, no preopen at all, and escape attempts (.., absolute paths,
// symlinks pointing outside) with both path resolvers.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "driver.h"
#include "wasi/path.h"

namespace rusm::wasi {
namespace {

namespace fs = std::filesystem;
using testing::captured;
using testing::run_guest;

// root/sandbox is preopened as /sandbox; root/outside must stay out of reach.
class WasiFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rusm-wasi-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    sandbox_ = root_ / "sandbox";
    fs::create_directories(sandbox_ / "inner");
    fs::create_directories(root_ / "outside");
    std::ofstream(sandbox_ / "data.txt") << "data\n";
    std::ofstream(root_ / "outside" / "secret.txt") << "secret\n";
    fs::create_directory_symlink(root_ / "outside", sandbox_ / "abs_link");
    fs::create_directory_symlink("../outside", sandbox_ / "rel_link");
    fs::create_symlink("../outside/secret.txt", sandbox_ / "secret_link");
    fs::create_symlink("data.txt", sandbox_ / "inside_link");
  }
  void TearDown() override {
    set_force_fallback_for_testing(false);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  Config config(const std::string& scenario, bool read_only = false) {
    Config c = captured({scenario});
    auto p = Preopen::open(sandbox_.string(), "/sandbox", read_only);
    EXPECT_TRUE(p.is_ok()) << p.error().message();
    if (p) {
      c.preopens.push_back(std::move(*p));
    }
    return c;
  }
  void expect_outside_untouched() {
    EXPECT_TRUE(fs::exists(root_ / "outside" / "secret.txt"));
    EXPECT_FALSE(fs::exists(root_ / "made"));
    EXPECT_FALSE(fs::exists(root_ / "stolen"));
    EXPECT_FALSE(fs::exists(sandbox_ / "got"));
    EXPECT_FALSE(fs::is_symlink(sandbox_ / "etc"));
  }

  fs::path root_, sandbox_;
};

TEST_F(WasiFs, ReadWriteRenameRemoveInAPreopen) {
  auto r = run_guest("fs", config("rw"));
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
  EXPECT_EQ(r.out,
            "read 12: hello, file\n"
            "size=12 regular=1\n"
            "after seek: file\n"
            "write to read-only fd: -1 errno=8\n"
            "pread: HELLO\n"
            "truncated size=5\n"
            "allocated size=100\n"
            "open missing: -1 errno=44\n"
            "create excl existing: -1 errno=20\n"
            "mkdir existing: -1 errno=20\n"
            "readlink: 11 renamed.txt\n"
            "stat through link: regular=1\n"
            "lstat link: symlink=1\n"
            "hard link nlink=2\n"
            "mtime=1000000000\n"
            "ls /sandbox: abs_link data.txt hard inner inside_link rel_link secret_link sub\n"
            "ls /sandbox/sub: link renamed.txt\n"
            "rmdir non-empty: -1 errno=55\n"
            "unlink dir: -1 errno=31\n"
            "ls /sandbox: abs_link data.txt inner inside_link rel_link secret_link\n"
            "renumber=0\n"
            "close renumbered-away fd: -1 errno=8\n"
            "data: data\n");
  EXPECT_FALSE(fs::exists(sandbox_ / "sub"));
}

TEST_F(WasiFs, ReadOnlyPreopenRefusesEveryWrite) {
  auto r = run_guest("fs", config("ro", /*read_only=*/true));
  EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
  EXPECT_EQ(r.out,
            "data: data\n"
            "write: -1 errno=8\n"  // wasi-libc turns ENOTCAPABLE into EBADF here
            "raw fd_write: 76\n"
            "create: -1 errno=76\n"
            "open rdwr: opened, write: -1 errno=8\n"
            "truncate: -1 errno=76\n"
            "mkdir: -1 errno=76\n"
            "unlink: -1 errno=76\n"
            "rename: -1 errno=76\n"
            "symlink: -1 errno=76\n"
            "utimes: -1 errno=76\n"
            "ls /sandbox: abs_link data.txt inner inside_link rel_link secret_link\n");
  EXPECT_FALSE(fs::exists(sandbox_ / "new.txt"));
  EXPECT_TRUE(fs::exists(sandbox_ / "data.txt"));
}

const char* kEscapeOutput =
    "dotdot: 76\n"
    "inner dotdot: 76\n"
    "absolute: 76\n"
    "abs symlink: 76\n"
    "rel symlink: 76\n"
    "file symlink: 76\n"
    "inside symlink: 0\n"
    "inside dotdot: 0\n"
    "stat dotdot: 76\n"
    "mkdir dotdot: 76\n"
    "unlink abs: 76\n"
    "symlink escape then open: 0 76\n"
    "absolute symlink: 76\n"
    "rename out: 76\n"
    "link out: 76\n"
    "readlink out: 76\n"
    "libc dotdot: -1 errno=76\n";

TEST_F(WasiFs, NoEscapeThroughDotDotAbsolutePathsOrSymlinks) {
  auto r = run_guest("fs", config("escape"));
  EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
  EXPECT_EQ(r.out, kEscapeOutput);
  expect_outside_untouched();
}

TEST_F(WasiFs, NoEscapeWithTheComponentWiseFallback) {
  set_force_fallback_for_testing(true);
  auto r = run_guest("fs", config("escape"));
  EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
  EXPECT_EQ(r.out, kEscapeOutput);
  expect_outside_untouched();
}

TEST_F(WasiFs, FallbackResolverStillWorksInside) {
  set_force_fallback_for_testing(true);
  auto r = run_guest("fs", config("rw"));
  EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
  EXPECT_NE(r.out.find("data: data\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
}

TEST_F(WasiFs, RawDescriptorCalls) {
  auto r = run_guest("fs", config("rawfd"));
  EXPECT_TRUE(r.finished) << r.trap << "\n" << r.out;
  EXPECT_EQ(r.out,
            "readdir tiny=0 used=25\n"
            "entries=8 last_cookie=8\n"  // ., .. and the six entries of the sandbox
            "after last cookie used=0\n"
            "preopen filetype=3\n"
            "prestat name_len=8 short buf=37\n"
            "prestat name=/sandbox\n"
            "tell=0 pos=2\n"
            "sync flags=58\n"
            "tell after dropping rights=76\n"
            "regain rights=76\n"
            "readdir on file=76\n"
            "path_open on file=54\n"
            "renumber to closed=8\n"
            "double close=8\n"
            "open dir as file then read=0\n"
            "read dir=76\n"  // a directory never holds fd_read
            "open file as dir=54\n"
            "empty path=44\n");
}

TEST_F(WasiFs, NoPreopenMeansNoFileSystem) {
  Config c = captured({"nofs"});
  auto r = run_guest("fs", c);
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out, "open: -1 errno=76\nraw path_open fd 3: 8\nprestat 3: 8\n");
}

}  // namespace
}  // namespace rusm::wasi
