// Routes whose module is a script (docs/js.md, "Serving"): what is refused
// at start, with a message naming the route and the reason. (Requests to
// JavaScript routes: serve.example.js_api, serve.example.js_ws.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "rusm/net/config.h"
#include "rusm/serve/app.h"

namespace rusm::serve {
namespace {

class JsRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test: ctest runs them at once.
    dir_ = ::testing::TempDir() + "/js_route_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    std::ifstream in(RUSM_JS_WASM, std::ios::binary);
    js_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Creates the app for one route of `kind` on a script with `source`.
  Result<std::unique_ptr<App>> app(const std::string& kind, const std::string& source,
                                   bool with_js = true) {
    std::string script = dir_ + "/app.js";
    std::ofstream(script) << source;
    std::string text = "listen = [\"127.0.0.1:0\"]\n[[route]]\npath = \"/x\"\nkind = \"" + kind +
                       "\"\nmodule = \"" + script + "\"\n";
    auto config = net::parse_config(text, dir_ + "/rusm.toml");
    EXPECT_TRUE(config) << config.message();
    AppOptions o;
    o.workers = 2;
    if (with_js) {
      o.js_runtime = js_;
    }
    return App::create(*config, o);
  }
  std::string dir_;
  std::vector<uint8_t> js_;
};

TEST_F(JsRouteTest, AScriptForACgiRouteIsRefused) {
  auto a = app("cgi", "export function handle() {}\n");
  ASSERT_FALSE(a);
  EXPECT_NE(a.message().find("a cgi route runs a WASI command"), std::string::npos) << a.message();
}

TEST_F(JsRouteTest, ATypeScriptRouteNeedsACompiler) {
  std::ofstream(dir_ + "/app.ts") << "export function handle(): string { return 'ok'; }\n";
  std::string text =
      "listen = [\"127.0.0.1:0\"]\n[[route]]\npath = \"/x\"\nkind = \"http\"\n"
      "module = \"" +
      dir_ + "/app.ts\"\n";
  auto config = net::parse_config(text, dir_ + "/rusm.toml");
  ASSERT_TRUE(config) << config.message();
  AppOptions o;
  o.workers = 2;
  o.js_runtime = js_;
  auto a = App::create(*config, o);  // no compile_typescript
  ASSERT_FALSE(a);
  EXPECT_NE(a.message().find("cannot compile TypeScript"), std::string::npos) << a.message();
  o.compile_typescript = [](const std::string&) -> Result<std::string> {
    return std::string("export function handle() { return 'compiled'; }\n");
  };
  EXPECT_TRUE(App::create(*config, o)) << "with a compiler it starts";
}

TEST_F(JsRouteTest, WithoutTheJavaScriptRuntimeTheRouteSaysHowToGetIt) {
  auto a = app("http", "export function handle() {}\n", false);
  ASSERT_FALSE(a);
  EXPECT_NE(a.message().find("built without JavaScript"), std::string::npos) << a.message();
}

TEST_F(JsRouteTest, AScriptWhoseTopLevelThrowsStopsTheStartWithItsLine) {
  ASSERT_FALSE(js_.empty()) << RUSM_JS_WASM;
  auto a = app("http", "const x = 1;\nnull.boom;\nexport function handle() {}\n");
  ASSERT_FALSE(a);
  EXPECT_NE(a.message().find("app.js:2"), std::string::npos) << a.message();
  EXPECT_NE(a.message().find("TypeError"), std::string::npos) << a.message();
}

TEST_F(JsRouteTest, AScriptThatParsesStarts) {
  ASSERT_FALSE(js_.empty()) << RUSM_JS_WASM;
  auto a = app("http", "export function handle() { return 'ok'; }\n");
  ASSERT_TRUE(a) << a.message();
}

}  // namespace
}  // namespace rusm::serve
