// Attacks on preopened directories (issue 9, item 3): a guest that may spawn
// changes the host tree under a preopen's host path (rename the directory
// away, plant a symlink in its place) and then starts a child, hoping the
// child's preopen is resolved again from the path and lands outside. The
// node must hand children the directory it opened once, so the child sees
// the original directory and nothing outside the granted tree.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "rusm/otp/supervisor.h"
#include "rusm/runtime/runtime.h"

namespace rusm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// root/app (preopened as /app) holds uploads/ (preopened as /up);
// root/outside is never granted.
class PreopenAttack : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rusm-preopen-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "app" / "uploads");
    fs::create_directories(root_ / "outside");
    std::ofstream(root_ / "app" / "uploads" / "upload.txt") << "upload\n";
    std::ofstream(root_ / "outside" / "secret.txt") << "secret\n";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string app_dir() const { return (root_ / "app").string() + ":/app"; }
  std::string up_dir(bool read_only = false) const {
    return (root_ / "app" / "uploads").string() + ":/up" + (read_only ? ":ro" : "");
  }

  // Runs the guest with `rusm run`, the preopens in the given order; returns
  // its stdout and sets *code to the exit status.
  std::string run(const std::vector<std::string>& dirs, const std::string& mode,
                  const std::string& link_target, int* code) {
    std::string cmd = std::string(RUSM_BINARY) + " run " + RUSM_SECURITY_GUEST_DIR +
                      "/preopen_escape.wasm --stdio --allow spawn";
    for (const std::string& d : dirs) {
      cmd += " --dir '" + d + "'";
    }
    cmd += " -- " + mode + " '" + link_target + "' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
      return "popen failed";
    }
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
      out.append(buf, n);
    }
    int status = pclose(p);
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }

  void expect_held_after_swap(const std::string& mode, bool app_first);

  // Nothing reached through /up may land outside the granted tree.
  void expect_outside_untouched() {
    EXPECT_FALSE(fs::exists(root_ / "outside" / "pwned")) << "a child wrote outside its preopen";
  }

  fs::path root_;
};

// What a child must see through /up after the attack: the original uploads
// directory (now renamed to uploads.old on the host), never outside/.
const char* kHeld = "child sees upload.txt: upload, secret.txt: errno=44, create pwned: ok\n";

// The relative-link attack (`uploads -> ../outside`) with `mode` (a spawned
// child, or a supervisor's child restarted after the swap) and the preopens
// in the given order.
void PreopenAttack::expect_held_after_swap(const std::string& mode, bool app_first) {
  std::vector<std::string> dirs = {app_dir(), up_dir()};
  if (!app_first) {
    std::swap(dirs[0], dirs[1]);
  }
  int code;
  std::string out = run(dirs, mode, "../outside", &code);
  EXPECT_EQ(code, 0) << out;
  std::string first_run = mode == "supervisor" ? kHeld : "";
  std::string again = mode == "supervisor" ? "restarted: " : "";
  EXPECT_EQ(out, "parent reads /up/upload.txt: upload\n" + first_run +
                     "rename uploads: 0\n"
                     "symlink uploads -> ../outside: 0\n" +
                     again + kHeld);
  expect_outside_untouched();
  EXPECT_TRUE(fs::exists(root_ / "app" / "uploads.old" / "pwned"))
      << "the child's write did not land in the held directory";
}

TEST_F(PreopenAttack, SpawnedChildKeepsHeldDirectoryAfterSymlinkSwapAppFirst) {
  expect_held_after_swap("spawn", /*app_first=*/true);
}

TEST_F(PreopenAttack, SpawnedChildKeepsHeldDirectoryAfterSymlinkSwapUploadsFirst) {
  expect_held_after_swap("spawn", /*app_first=*/false);
}

TEST_F(PreopenAttack, SupervisorRestartKeepsHeldDirectoryAppFirst) {
  expect_held_after_swap("supervisor", /*app_first=*/true);
}

TEST_F(PreopenAttack, SupervisorRestartKeepsHeldDirectoryUploadsFirst) {
  expect_held_after_swap("supervisor", /*app_first=*/false);
}

// The issue's own form of the attack: `uploads -> /` (here the absolute host
// path of outside/, so that the test does not depend on the host's files).
// path_symlink refuses absolute targets (ENOTCAPABLE); and even if such a
// link existed, the child would still hold the original directory.
TEST_F(PreopenAttack, AbsoluteSymlinkTargetIsRefused) {
  for (bool app_first : {true, false}) {
    for (const char* mode : {"spawn", "supervisor"}) {
      SCOPED_TRACE(std::string(mode) + (app_first ? ", /app first" : ", /up first"));
      int code;
      std::vector<std::string> dirs = {app_dir(), up_dir()};
      if (!app_first) {
        std::swap(dirs[0], dirs[1]);
      }
      std::string out = run(dirs, mode, (root_ / "outside").string(), &code);
      EXPECT_EQ(code, 0) << out;
      EXPECT_NE(out.find("symlink uploads -> (absolute): 76\n"), std::string::npos) << out;
      EXPECT_NE(out.find(kHeld), std::string::npos) << out;
      EXPECT_EQ(out.find("secret.txt: secret"), std::string::npos) << out;
      expect_outside_untouched();
      fs::remove_all(root_ / "app" / "uploads.old" / "pwned");
      if (fs::exists(root_ / "app" / "uploads.old")) {
        fs::remove(root_ / "app" / "uploads");
        fs::rename(root_ / "app" / "uploads.old", root_ / "app" / "uploads");
      }
    }
  }
}

// A child's preopens are a subset of its parent's: spawned without `fs`, it
// has none at all.
TEST_F(PreopenAttack, ChildSpawnedWithoutFsHasNoPreopens) {
  int code;
  std::string out = run({app_dir(), up_dir()}, "without_fs", "-", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out,
            "parent reads /up/upload.txt: upload\n"
            "child sees upload.txt: errno=76, secret.txt: errno=76, create pwned: refused\n");
  EXPECT_FALSE(fs::exists(root_ / "app" / "uploads" / "pwned"));
}

// A read-only preopen stays read-only in every child.
TEST_F(PreopenAttack, ReadOnlyPreopenStaysReadOnlyInChildren) {
  for (const char* mode : {"spawn", "supervisor"}) {
    SCOPED_TRACE(mode);
    int code;
    std::string out = run({app_dir(), up_dir(/*read_only=*/true)}, mode, "../outside", &code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("child sees upload.txt: upload, secret.txt: errno=44, create pwned: "
                       "refused\n"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("create pwned: ok"), std::string::npos) << out;
    expect_outside_untouched();
    fs::remove(root_ / "app" / "uploads");
    fs::rename(root_ / "app" / "uploads.old", root_ / "app" / "uploads");
  }
}

// The embedder's form: a host supervisor restarts a Wasm child from a
// ProcessSpec whose preopen was opened once; the host tree is swapped under
// it between the two runs (here by the host itself, which a guest with /app
// could do as well).
TEST_F(PreopenAttack, EmbedderChildSpecRestartKeepsHeldDirectory) {
  runtime::Runtime rt;
  ASSERT_TRUE(
      rt.load_file("g", std::string(RUSM_SECURITY_GUEST_DIR) + "/preopen_escape.wasm").is_ok());
  otp::Probe probe(rt.node());
  runtime::ProcessSpec spec;
  spec.module = "g";
  spec.function = "worker";
  spec.args = {probe.pid().bits()};
  spec.caps = *runtime::profile("trusted");
  auto up = wasi::Preopen::open((root_ / "app" / "uploads").string(), "/up");
  ASSERT_TRUE(up.is_ok()) << up.error().message();
  spec.wasi.preopens.push_back(std::move(*up));
  otp::SupervisorSpec sup;
  sup.max_restarts = 5;
  sup.children.push_back(rt.child_spec("w", spec));
  ASSERT_TRUE(otp::start_supervisor(rt.node(), std::move(sup)).is_ok());

  auto report = [&] {
    return probe.receive_if([](const otp::Message& m) { return m.tag() == 7; }, 10s);
  };
  auto first = report();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text(), "upload.txt: upload, secret.txt: errno=44, create pwned: ok");

  fs::rename(root_ / "app" / "uploads", root_ / "app" / "uploads.old");
  fs::create_directory_symlink("../outside", root_ / "app" / "uploads");
  ASSERT_TRUE(probe.send(first->from(), otp::Message::make(8, "")).is_ok());
  auto second = report();
  ASSERT_TRUE(second);
  EXPECT_NE(second->from(), first->from()) << "the worker was not restarted";
  EXPECT_EQ(second->text(), "upload.txt: upload, secret.txt: errno=44, create pwned: ok");
  expect_outside_untouched();
}

}  // namespace
}  // namespace rusm
