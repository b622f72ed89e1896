#include "observe/static_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

namespace rusm::observe {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/rusm-static-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << text;
  }
};

TEST(StaticFiles, ServesWhatTheBuildProducedAndNothingElse) {
  TempDir d;
  d.write("index.html", "<html>index</html>");
  d.write("assets/app-1234.js", "console.log(1)");
  d.write("assets/app.css", "body{}");
  d.write(".hidden", "secret");
  d.write("sub/index.html", "<html>sub</html>");
  fs::create_symlink("/etc/passwd", d.path / "assets" / "passwd.js");
  fs::create_symlink("/etc", d.path / "etc");
  ASSERT_EQ(mkfifo((d.path / "fifo.js").c_str(), 0600), 0);  // must not block the load

  Result<StaticFiles> t = StaticFiles::load(d.path.string());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->size(), 4u);

  const StaticFile* index = t->find("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->body, "<html>index</html>");
  EXPECT_STREQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_FALSE(index->immutable);
  EXPECT_EQ(t->find("/index.html"), index);
  const StaticFile* js = t->find("/assets/app-1234.js");
  ASSERT_NE(js, nullptr);
  EXPECT_STREQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_TRUE(js->immutable);
  ASSERT_NE(t->find("/sub/"), nullptr);
  EXPECT_EQ(t->find("/sub/")->body, "<html>sub</html>");

  for (const char* miss :
       {"//etc/passwd", "/etc/passwd", "/assets/passwd.js", "/etc", "/etc/hostname", "/.hidden",
        "/fifo.js", "/assets/../index.html", "/assets//app.css", "/%2e%2e/index.html",
        "/ASSETS/app.css", "/assets/app.css/", "", "index.html", "/sub", "//dev/zero",
        "/../../../../etc/passwd"}) {
    EXPECT_EQ(t->find(miss), nullptr) << miss;
  }
}

TEST(StaticFiles, RefusesAFolderThatIsNotADashboardBuild) {
  TempDir many;
  for (int i = 0; i < 20; ++i) {
    many.write("f" + std::to_string(i) + ".js", "x");
  }
  StaticLimits few;
  few.max_files = 10;
  Result<StaticFiles> t = StaticFiles::load(many.path.string(), few);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("not a dashboard build"), std::string::npos);

  TempDir big;
  big.write("index.html", std::string(2000, 'x'));
  StaticLimits small;
  small.max_file_bytes = 1000;
  t = StaticFiles::load(big.path.string(), small);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("too large"), std::string::npos);

  TempDir total;
  total.write("a.js", std::string(600, 'x'));
  total.write("b.js", std::string(600, 'x'));
  StaticLimits capped;
  capped.max_total_bytes = 1000;
  EXPECT_FALSE(StaticFiles::load(total.path.string(), capped));
}

TEST(StaticFiles, MissingFolderIsAnErrorWithItsErrno) {
  Result<StaticFiles> t = StaticFiles::load("/nonexistent/rusm-dashboard");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ENOENT);
  EXPECT_NE(t.error().message().find("/nonexistent/rusm-dashboard"), std::string::npos);
  EXPECT_EQ(StaticFiles().find("/"), nullptr);
}

}  // namespace
}  // namespace rusm::observe
