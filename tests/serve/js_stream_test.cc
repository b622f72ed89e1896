// Streamed responses from a JavaScript route (docs/js.md, "Serving"): a
// body returned as a generator or an async generator, and the handler's
// writer `res` (start, write, end) over http_start / http_write /
// http_finish. The client reads late, so that the 100,000-byte write waits
// for the connection's buffer, and checks the chunked framing and every
// byte; misuses of the writer throw Errors with their code, and a client
// that leaves ends an endless stream.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "serve/serve_test_util.h"

namespace rusm::serve::test {
namespace {

// Chunk i of the body: kSizes[i] letters of the alphabet rotated by 7 * i
// (even chunks are written as strings, odd ones as Uint8Arrays).
constexpr size_t kSizes[] = {3, 1000, 100000, 17, 70000};

std::string chunk(size_t i) {
  std::string s;
  for (size_t j = 0; j < kSizes[i]; ++j) {
    s += static_cast<char>('a' + (7 * i + j) % 26);
  }
  return s;
}

std::string whole_body() {
  std::string s;
  for (size_t i = 0; i < std::size(kSizes); ++i) {
    s += chunk(i);
  }
  return s;
}

const char kScript[] = R"js(
const kSizes = [3, 1000, 100000, 17, 70000];
const kAlphabet = "abcdefghijklmnopqrstuvwxyz";
function chunk(i) {
  const k = (7 * i) % 26;
  const s = (kAlphabet.slice(k) + kAlphabet.slice(0, k)).repeat(Math.ceil(kSizes[i] / 26))
                .slice(0, kSizes[i]);
  return i % 2 === 0 ? s : new TextEncoder().encode(s);
}

// A generator as the body: chunked, no Content-Type added.
export function gen() {
  return { status: 202, headers: { "X-Kind": "generator" },
           body: (function* () { for (let i = 0; i < kSizes.length; i++) yield chunk(i); })() };
}

// An async generator: each chunk after an await.
export function agen() {
  async function* chunks() {
    for (let i = 0; i < kSizes.length; i++) {
      await null;
      yield chunk(i);
    }
  }
  return { headers: { "Content-Type": "text/plain" }, body: chunks() };
}

// The writer: start, five writes, end.
export function writer(req, res) {
  res.start(201, { "X-Kind": "writer" });
  for (let i = 0; i < kSizes.length; i++) res.write(chunk(i));
  res.end();
}

// A known length: Content-Length instead of chunks; left open, the response
// is ended when the handler returns.
export function length(req, res) {
  res.start(200, { "Content-Length": "10" });
  res.write("01234");
  res.write(new Uint8Array([53, 54, 55, 56, 57]));
}

// end(chunk) with nothing written before: one body with its length.
export function ended(req, res) {
  res.end("all at once");
}

// Writes for ever: only a client that leaves ends it.
export function forever(req, res) {
  res.start(200, {});
  const block = new Uint8Array(65536).fill(120);
  for (;;) res.write(block);
}
export function foreverGen() {
  return { body: (function* () { for (;;) yield "y".repeat(65536); })() };
}

// What each misuse of the writer throws, kept in the store for /seen.
export function misuse(req, res) {
  const seen = [];
  const attempt = (f) => {
    try {
      f();
      seen.push("no error");
    } catch (e) {
      seen.push(`${e instanceof Error} ${e.code} ${e.message}`);
    }
  };
  res.start(200, { "Content-Length": "4" });
  attempt(() => res.start(200, {}));
  attempt(() => res.write("12345"));
  attempt(() => res.write(42));
  res.write("1234");
  res.end();
  attempt(() => res.write("more"));
  attempt(() => res.end());
  rusm.kv.open("t").put("misuse", seen.join("\n"));
}
export function seen() {
  return rusm.kv.open("t").getText("misuse") || "nothing yet";
}

// A bad Content-Length is a TypeError in start.
export function badLength(req, res) {
  try {
    res.start(200, { "Content-Length": "ten" });
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
  return "no error";
}
)js";

class JsStream : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(RUSM_JS_WASM, std::ios::binary);
    js_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_FALSE(js_.empty()) << RUSM_JS_WASM;
    std::string script = (app_.dir() / "app.js").string();
    std::ofstream(script) << kScript;
    std::string toml;
    for (const char* entry :
         {"gen", "agen", "writer", "length", "ended", "forever", "foreverGen", "misuse", "seen"}) {
      toml += std::string("[[route]]\npath = \"/") + entry + "\"\nkind = \"http\"\nmodule = \"" +
              script + "\"\nentry = \"" + entry + "\"\nallow = [\"kv:t\"]\n";
    }
    toml += "[[route]]\npath = \"/bad\"\nkind = \"http\"\nmodule = \"" + script +
            "\"\nentry = \"badLength\"\n";
    AppOptions o;
    o.js_runtime = js_;
    Status s = app_.start(toml, o);
    ASSERT_TRUE(s.is_ok()) << s.message();
  }

  // GET `path`, reading nothing for `late` after the request went out.
  Response slow_get(const std::string& path, std::chrono::milliseconds late) {
    int fd = connect_to(app_.port());
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(send_all(fd, get(path)));
    std::this_thread::sleep_for(late);
    auto rs = read_responses(fd, 1, 20s);
    close(fd);
    return rs.empty() ? Response{} : rs[0];
  }

  std::vector<uint8_t> js_;
  ServeApp app_;
};

TEST_F(JsStream, AGeneratorBodyIsSentChunkedByteForByte) {
  Response r = slow_get("/gen", 300ms);
  ASSERT_TRUE(r.complete) << "no complete response; errors: " << app_.error_lines().size();
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.headers.count("content-length"), 0u);
  EXPECT_EQ(r.headers["x-kind"], "generator");
  EXPECT_EQ(r.headers.count("content-type"), 0u) << "nothing is guessed for a stream";
  ASSERT_EQ(r.body.size(), whole_body().size());
  EXPECT_TRUE(r.body == whole_body()) << "the body differs from the five chunks";
}

TEST_F(JsStream, AnAsyncGeneratorBodyIsSentChunked) {
  Response r = slow_get("/agen", 300ms);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.headers["content-type"], "text/plain");
  ASSERT_EQ(r.body.size(), whole_body().size());
  EXPECT_TRUE(r.body == whole_body()) << "the body differs from the five chunks";
}

TEST_F(JsStream, TheWriterStreamsFiveWritesToASlowClient) {
  Response r = slow_get("/writer", 500ms);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.headers["x-kind"], "writer");
  ASSERT_EQ(r.body.size(), whole_body().size());
  EXPECT_TRUE(r.body == whole_body()) << "the body differs from the five chunks";
  // Twice more on one connection: the response ended properly each time.
  int fd = connect_to(app_.port());
  ASSERT_TRUE(send_all(fd, get("/writer") + get("/writer")));
  auto rs = read_responses(fd, 2, 20s);
  close(fd);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(rs[1].body == whole_body());
}

TEST_F(JsStream, AContentLengthHeaderMakesAKnownLengthResponse) {
  Response r = request(app_.port(), get("/length"));
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.headers["content-length"], "10");
  EXPECT_EQ(r.headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(r.body, "0123456789");
  r = request(app_.port(), get("/ended"));
  EXPECT_EQ(r.headers["content-length"], "11");
  EXPECT_EQ(r.body, "all at once");
  r = request(app_.port(), get("/bad"));
  EXPECT_EQ(r.body, "TypeError: response.start: Content-Length is a number of bytes, not \"ten\"");
}

TEST_F(JsStream, EachMisuseOfTheWriterThrowsAnError) {
  Response r = request(app_.port(), get("/misuse"));
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.headers["content-length"], "4");
  EXPECT_EQ(r.body, "1234");
  std::string seen;
  ASSERT_TRUE(eventually([&] {
    seen = request(app_.port(), get("/seen")).body;
    return seen != "nothing yet" && !seen.empty();
  }));
  EXPECT_EQ(seen,
            "true EBADSTATE rusm.response.start: EBADSTATE\n"  // a second start
            "true EBADSTATE rusm.response.write: EBADSTATE\n"  // past Content-Length
            "true undefined rusm: data must be a string, an ArrayBuffer or a typed array\n"
            "true EBADSTATE rusm.response.write: EBADSTATE\n"  // a write after end
            "no error");                                       // a second end does nothing
}

// The host ends the handler's process when its client leaves (docs/abi.md,
// "Lifetimes"): a writer or a generator that would write for ever does not
// outlive the connection.
TEST_F(JsStream, AClientThatLeavesEndsAnEndlessStream) {
  const uint64_t base = app_.processes();
  for (const char* path : {"/forever", "/foreverGen"}) {
    int fd = connect_to(app_.port());
    ASSERT_TRUE(send_all(fd, get(path)));
    std::string got = recv_until(
        fd, [](const std::string& s) { return s.size() > 200000; }, 10s);
    ASSERT_GT(got.size(), 200000u) << path << ": the stream flows";
    EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << path;
    close(fd);  // a plain close: the next writes fail, and the process goes
    EXPECT_TRUE(app_.processes_at_most(base, 10s)) << path << ": the handler still runs";
  }
}

}  // namespace
}  // namespace rusm::serve::test
