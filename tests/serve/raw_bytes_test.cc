// Raw bytes at a live app with Wasm routes (http, sse, cgi, ws): seeded
// random garbage, mutated and truncated requests, request-smuggling shapes
// and garbage after a WebSocket upgrade. Deterministic (fixed seeds), short,
// and run under ASan in CI, it complements fuzz/net_fuzz.cc, which fuzzes
// the server core behind native handlers only. After every batch the node
// must answer a normal request and have ended every handler process the
// batch started; a reply, when there is one, must be HTTP.
//
// Thread-safety: each test drives its own app from the test thread.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "serve/serve_test_util.h"

namespace rusm::serve::test {
namespace {

std::string app_toml() {
  std::string http = guest("http_app");
  auto route = [](const std::string& where, const std::string& kind, const std::string& module,
                  const std::string& extra) {
    return "[[route]]\n" + where + "\nkind = \"" + kind + "\"\nmodule = \"" + module + "\"\n" +
           extra + "\n";
  };
  return "[limits]\nbody_bytes = \"64K\"\nheader_bytes = \"4K\"\nheader_timeout = \"1s\"\n"
         "idle_timeout = \"2s\"\ndeadline = \"3s\"\nws_message_bytes = \"64K\"\n"
         "shutdown_timeout = \"300ms\"\n\n" +
         route("path = \"/hello\"", "http", http, "entry = \"hello\"") +
         route("path = \"/echo\"\nmethod = \"POST\"", "http", http, "entry = \"echo\"") +
         route("path = \"/info/{id}\"", "http", http, "entry = \"info\"") +
         route("path = \"/events\"", "sse", http, "entry = \"events\"") +
         route("path = \"/cgi\"\nmethod = \"POST\"", "cgi", guest("cgi_echo"), "") +
         route("path = \"/ws/{id}\"", "ws", guest("ws_echo"),
               "entry = \"handle\"\nallow = [\"registry\"]");
}

// Requests that reach each route kind: the material the mutators work on.
const std::vector<std::string>& templates() {
  static const std::vector<std::string> t = {
      "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
      "GET /info/42?a=b HTTP/1.1\r\nHost: t\r\nX-Test: yes\r\nAccept: */*\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
      "POST /cgi HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nabcde",
      "POST /cgi HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "GET /events?n=4 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n",
      "GET /ws/1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
      "\x81\x82\x00\x00\x00\x00hi",
      "GET /hello HTTP/1.0\r\n\r\n",
  };
  return t;
}

class RawBytes : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = app_.start(app_toml());
    ASSERT_TRUE(s.is_ok()) << s.message();
    base_ = app_.processes();
  }

  // Writes `raw` on a fresh connection in two pieces (split at `split`),
  // shuts the write side and reads until the server closes (at most 5 s).
  // Fails the test if the reply is not HTTP.
  std::string blast(const std::string& raw, size_t split, const std::string& what) {
    int fd = connect_to(app_.port());
    EXPECT_GE(fd, 0) << "connect failed before " << what;
    if (fd < 0) {
      return {};
    }
    split = std::min(split, raw.size());
    bool sent = send_all(fd, std::string_view(raw).substr(0, split)) &&
                send_all(fd, std::string_view(raw).substr(split));
    (void)sent;  // the server may close first: that is an answer too
    ::shutdown(fd, SHUT_WR);
    bool eof = false;
    std::string reply = recv_all(fd, 5s, &eof);
    ::close(fd);
    EXPECT_TRUE(eof) << what << ": the server kept the connection 5 s after the client's EOF";
    EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.", 0) == 0)
        << what << ": the reply is not HTTP: " << escape(reply.substr(0, 120));
    return reply;
  }

  // The node answers a plain request and has ended every handler process
  // (nothing leaks from a batch of bad input).
  void expect_healthy(const std::string& after) {
    Response r = request(app_.port(), get("/hello"));
    EXPECT_EQ(r.status, 200) << "after " << after;
    EXPECT_EQ(r.body, "hello from wasm\n") << "after " << after;
    EXPECT_TRUE(app_.processes_at_most(base_, 10s))
        << "after " << after << ": " << app_.processes() << " processes, " << base_
        << " before: handler processes outlived their connections";
  }

  static std::string escape(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
      if (c >= 0x20 && c < 0x7f) {
        o += char(c);
      } else {
        char b[8];
        snprintf(b, sizeof b, "\\x%02x", c);
        o += b;
      }
    }
    return o;
  }

  ServeApp app_;
  uint64_t base_ = 0;
};

TEST_F(RawBytes, SeededRandomGarbage) {
  std::mt19937 rng(20261205);
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  static const std::string kHttpish = "GET POST HTTP/1.1\r\n:/ ?&=%chunkedContent-Length0123456789";
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < 100; ++i) {
      std::string raw(pick(1500) + 1, '\0');
      for (char& c : raw) {
        // Batch 0: any byte; 1: printable with line ends; 2: HTTP's words.
        if (batch == 0) {
          c = char(rng());
        } else if (batch == 1) {
          c = pick(5) == 0 ? "\r\n: \t"[pick(5)] : char(0x20 + pick(95));
        } else {
          c = kHttpish[pick(kHttpish.size())];
        }
      }
      // Half of them start like a request to a Wasm route.
      if (i % 2 == 1) {
        raw = (i % 4 == 1 ? "POST /echo HTTP/1.1\r\n" : "GET /hello HTTP/1.1\r\n") + raw;
      }
      blast(raw, pick(raw.size() + 1),
            "garbage batch " + std::to_string(batch) + " #" + std::to_string(i));
    }
    expect_healthy("garbage batch " + std::to_string(batch));
  }
}

TEST_F(RawBytes, MutatedRequests) {
  std::mt19937 rng(11);
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  int answered = 0, handled = 0;
  for (int i = 0; i < 400; ++i) {
    std::string raw = templates()[size_t(i) % templates().size()];
    int edits = 1 + int(pick(4));
    for (int e = 0; e < edits && !raw.empty(); ++e) {
      size_t at = pick(raw.size());
      switch (pick(6)) {
        case 0:
          raw[at] = char(rng());
          break;  // flip a byte
        case 1:
          raw.insert(at, 1, char(rng()));
          break;  // insert one
        case 2:
          raw.erase(at, 1 + pick(8));
          break;  // delete a few
        case 3:
          raw.insert(at, raw.substr(at, pick(raw.size() - at) + 1));
          break;  // repeat
        case 4:
          raw.insert(at, pick(2) ? "\r\n" : "\n");
          break;  // a line end
        case 5:
          raw.insert(at, std::string(pick(3000), 'A'));
          break;  // long run
      }
    }
    std::string reply = blast(raw, pick(raw.size() + 1), "mutation #" + std::to_string(i));
    answered += reply.empty() ? 0 : 1;
    handled += reply.rfind("HTTP/1.1 200", 0) == 0 || reply.rfind("HTTP/1.1 101", 0) == 0 ? 1 : 0;
    if (i % 100 == 99) {
      expect_healthy("mutations up to #" + std::to_string(i));
    }
  }
  // The mutators leave many requests valid or answerable (400, 413, 431).
  EXPECT_GT(answered, 200) << "most mutated requests get some HTTP answer";
  EXPECT_GT(handled, 20) << "some mutated requests still reach a Wasm handler";
  std::printf("mutated requests: %d answered, %d of them by a handler (200/101)\n", answered,
              handled);
}

TEST_F(RawBytes, TruncatedRequestsEndTheirHandlers) {
  int n = 0;
  for (const std::string& t : templates()) {
    // Every cut of the shorter requests; every 3rd byte of the longer ones.
    size_t step = t.size() > 120 ? 3 : 1;
    for (size_t cut = 0; cut < t.size(); cut += step, ++n) {
      blast(t.substr(0, cut), cut / 2, "cut at " + std::to_string(cut) + " of " + escape(t));
    }
    expect_healthy("truncations of " + escape(t.substr(0, t.find('\r'))));
  }
  EXPECT_GT(n, 500);
}

// Framing that a proxy and the server might read differently (RFC 9112
// section 6). Each carries a second request, GET /hello, where one reading
// of the framing would find it. The server must reject the message (400)
// or, where RFC 9112 allows processing it, close the connection after its
// one response; either way the hidden request is never answered.
TEST_F(RawBytes, SmugglingShapesAreRejectedAndNeverAnswerTheHiddenRequest) {
  const std::string hidden = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  struct Shape {
    const char* name;
    std::string head;  // request head (with its blank line) and body
    bool must_be_400;  // RFC 9112 says MUST respond 400 (else: may process, then close)
  };
  const std::vector<Shape> shapes = {
      {"CL then TE",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       false},
      {"TE then CL",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
       "Content-Length: 40\r\n\r\n0\r\n\r\n",
       false},
      {"CL+TE to cgi",
       "POST /cgi HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       false},
      {"two different CL",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
       "Content-Length: 32\r\n\r\n",
       true},
      {"CL list", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 32\r\n\r\n", true},
      {"negative CL", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -32\r\n\r\n", true},
      {"CL with plus", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +0\r\n\r\n", true},
      {"CL overflow",
       "POST /echo HTTP/1.1\r\nHost: t\r\n"
       "Content-Length: 18446744073709551616\r\n\r\n",
       true},
      {"space before colon (CL)", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 0\r\n\r\n",
       true},
      {"space before colon (TE)",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 32\r\n"
       "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
       true},
      {"TE not ending in chunked",
       "POST /echo HTTP/1.1\r\nHost: t\r\n"
       "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
       true},
      {"TE xchunked",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n"
       "0\r\n\r\n",
       true},
      {"TE folded",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 32\r\n"
       "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
       false},
      {"TE in HTTP/1.0",
       "POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       false},
      {"two TE headers",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
       false},
      {"chunk size overflow",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10000000000000001\r\nx\r\n0\r\n\r\n",
       false},
      {"no Host in HTTP/1.1", "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true},
      {"two Host headers", "POST /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
       true},
      {"NUL in a header",
       std::string("POST /echo HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n"
                   "Content-Length: 0\r\n\r\n",
                   52),
       false},
  };
  for (const Shape& s : shapes) {
    std::string reply = blast(s.head + hidden, s.head.size(), s.name);
    Response first = parse_response(reply);
    EXPECT_EQ(reply.find("hello from wasm"), std::string::npos)
        << s.name << ": the hidden request was answered: " << escape(reply);
    EXPECT_NE(first.status, 0) << s.name << ": no response at all";
    if (s.must_be_400) {
      EXPECT_EQ(first.status, 400) << s.name << ": " << escape(reply.substr(0, 200));
    }
  }
  expect_healthy("smuggling shapes");

  // Controls: the same bytes with honest framing are two requests and get
  // two answers (the client keeps its side open: see
  // DISABLED_PipelinedRequestsBeforeTheClientsEofAreAllAnswered), and a body
  // that looks like a request is only a body.
  int fd = connect_to(app_.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(
      send_all(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + hidden));
  std::vector<Response> two = read_responses(fd, 2, 5s);
  ::close(fd);
  ASSERT_EQ(two.size(), 2u) << "honest pipelining: two requests, two answers";
  EXPECT_EQ(two[0].body, "abc");
  EXPECT_EQ(two[1].body, "hello from wasm\n");
  std::string body_only =
      blast("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(hidden.size()) +
                "\r\n\r\n" + hidden,
            0, "a request as a body");
  EXPECT_EQ(body_only.find("hello from wasm"), std::string::npos) << escape(body_only);
  EXPECT_NE(body_only.find(hidden), std::string::npos)
      << "the body is echoed: " << escape(body_only);
}

// Requests pipelined ahead of the client's FIN (a half-close, as `nc -N` or
// a client that shuts its write side after its last request does) are
// complete requests and deserve answers, as native routes give them. With
// Wasm routes the last ones are dropped: the EOF arrives through the read
// kept going while a handler runs, and HttpConn::on_read sets close_after_
// unconditionally (src/net/http_conn.cc, the EOF branch), so after_exchange()
// closes without parsing the complete requests still in buf_. Disabled until
// that is fixed (close only once buf_ holds no complete request).
TEST_F(RawBytes, DISABLED_PipelinedRequestsBeforeTheClientsEofAreAllAnswered) {
  const std::string hello = get("/hello");
  for (const std::string& raw :
       {hello + hello + hello,
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + hello}) {
    std::string reply = blast(raw, raw.size(), "pipelined then EOF");
    size_t answers = 0;
    for (size_t at = reply.find("HTTP/1.1 200"); at != std::string::npos;
         at = reply.find("HTTP/1.1 200", at + 1)) {
      ++answers;
    }
    EXPECT_EQ(answers, raw == hello + hello + hello ? 3u : 2u) << escape(reply);
  }
}

// An upgrade request that carries a body (Content-Length or chunked) is the
// client's mistake, but a ws route answers it 500 and logs "handler failed:
// upgrade: not a WebSocket upgrade request, or a response was started" (and
// counts it in rusm_http_handler_failures_total): Beast's is_upgrade() does
// not look at the body, so WsHandler::handle (src/serve/ws.cc) calls
// upgrade(), and HttpConn::x_upgrade refuses because the parser is not done.
// Any client can so fill the operator's error log, a line per request.
// Disabled until WsHandler::handle answers such a request 400 (or
// HttpConn::on_head sets Request::websocket only for a request without a
// body).
TEST_F(RawBytes, DISABLED_AWebSocketUpgradeWithABodyIsAClientError) {
  const std::string head =
      "GET /ws/5 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  for (const std::string& body : {std::string("Content-Length: 5\r\n\r\nabcde"),
                                  std::string("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")}) {
    Response r = parse_response(blast(head + body, 0, "upgrade with a body"));
    EXPECT_EQ(r.status, 400) << escape(body);
  }
  EXPECT_TRUE(app_.error_lines().empty())
      << "a client's bad request is not a handler failure: " << app_.error_lines().front();
  expect_healthy("upgrades with a body");
}

// After a WebSocket upgrade: random frames (bad opcodes, unmasked, reserved
// bits, lengths past the limit, invalid UTF-8). The node closes the
// connection (or the handler ends it); every handler process ends.
TEST_F(RawBytes, GarbageAfterAWebSocketUpgrade) {
  std::mt19937 rng(7);
  const std::string upgrade =
      "GET /ws/9 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  for (int i = 0; i < 150; ++i) {
    std::string frames;
    int n = 1 + int(rng() % 4);
    for (int f = 0; f < n; ++f) {
      uint8_t b0 = uint8_t(rng());
      size_t len = rng() % 4 == 0 ? 126 + rng() % 70000 : rng() % 126;
      frames += char(b0);
      bool masked = rng() % 8 != 0;
      if (len < 126) {
        frames += char((masked ? 0x80 : 0) | len);
      } else if (len < 65536) {
        frames += char((masked ? 0x80 : 0) | 126);
        frames += char(len >> 8);
        frames += char(len & 0xff);
      } else {
        frames += char((masked ? 0x80 : 0) | 127);
        for (int k = 7; k >= 0; --k) {
          frames += char(k >= 3 ? 0 : (len >> (8 * k)) & 0xff);
        }
      }
      if (masked) {
        for (int k = 0; k < 4; ++k) {
          frames += char(rng());
        }
      }
      size_t payload = std::min<size_t>(len, 2048);  // often short of its length
      for (size_t k = 0; k < payload; ++k) {
        frames += char(rng());
      }
    }
    std::string reply = blast(upgrade + frames, upgrade.size(), "ws garbage #" + std::to_string(i));
    EXPECT_EQ(reply.rfind("HTTP/1.1 101", 0), 0u) << "ws garbage #" << i << ": " << escape(reply);
    if (i % 50 == 49) {
      expect_healthy("ws garbage up to #" + std::to_string(i));
    }
  }
}

}  // namespace
}  // namespace rusm::serve::test
