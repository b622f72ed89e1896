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
// there, EEXIST (20) when something is (suite: path_link,
// path_symlink_trailing_slashes).
TEST_F(WasiConformance, LinkAndSymlinkToATrailingSlashDestinationFail) {
  auto r = run("trailing_slash");
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out,
            "create dir: 0\n"
            "symlink to missing/: 44\n"
            "symlink to file/: 20\n"
            "symlink to dir/: 20\n"
            "link to missing/: 44\n"
            "link to dir/: 20\n"
            "missing still missing: 44\n"
            "symlink to missing: 0\n"
            "link to missing2: 0\n");
}

}  // namespace
}  // namespace rusm::wasi
