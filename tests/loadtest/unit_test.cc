// Unit tests of the load driver's pieces: histogram, response framing,
// WebSocket frames, SSE event counting, URLs and the command line.
#include <gtest/gtest.h>

#include <string>

#include "cli.h"
#include "framing.h"
#include "histogram.h"
#include "options.h"

namespace rusm::loadtest {
namespace {

TEST(Histogram, SmallValuesAreExactAndLargeOnesWithinOneSixtyFourth) {
  for (uint64_t v = 0; v < 128; ++v) {
    EXPECT_EQ(Histogram::bucket_lowest(Histogram::index_of(v)), v);
  }
  for (uint64_t v : {128ull, 1000ull, 123456ull, 987654321ull, 1ull << 40}) {
    int i = Histogram::index_of(v);
    uint64_t lo = Histogram::bucket_lowest(i);
    uint64_t width = Histogram::bucket_width(i);
    EXPECT_LE(lo, v);
    EXPECT_LT(v, lo + width);
    EXPECT_LE(static_cast<double>(width) / static_cast<double>(lo), 1.0 / 64 + 1e-12) << v;
  }
  // Buckets are contiguous: the next bucket starts where this one ends.
  for (int i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::bucket_lowest(i) + Histogram::bucket_width(i),
              Histogram::bucket_lowest(i + 1))
        << i;
  }
}

TEST(Histogram, PercentilesOfAUniformSpreadAndMerge) {
  Histogram a, b;
  for (uint64_t v = 1; v <= 100000; ++v) {
    (v % 2 ? a : b).record(v * 1000);  // 1 us .. 100 ms
  }
  a.merge(b);
  EXPECT_EQ(a.count(), 100000u);
  EXPECT_EQ(a.min_ns(), 1000u);
  EXPECT_EQ(a.max_ns(), 100000000u);
  auto near = [](uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want / 64;
  };
  EXPECT_TRUE(near(a.percentile_ns(50), 50e6)) << a.percentile_ns(50);
  EXPECT_TRUE(near(a.percentile_ns(99), 99e6)) << a.percentile_ns(99);
  EXPECT_TRUE(near(a.percentile_ns(99.9), 99.9e6)) << a.percentile_ns(99.9);
  EXPECT_EQ(a.percentile_ns(100), 100000000u);
  EXPECT_EQ(Histogram().percentile_ns(99), 0u);
}

// Feeds `wire` in pieces of `step` bytes, keeping unconsumed bytes as the
// driver does; returns the body the parser delivered.
std::string parse_in_pieces(HttpResponseParser& p, const std::string& wire, size_t step,
                            HttpResponseParser::Step* last) {
  std::string pending, body;
  size_t at = 0;
  *last = HttpResponseParser::Step::kNeedMore;
  while (at < wire.size()) {
    pending += wire.substr(at, step);
    at += step;
    size_t used = 0;
    *last = p.feed(pending.data(), pending.size(), &used, 4096,
                   [&](const char* d, size_t n) { body.append(d, n); });
    pending.erase(0, used);
    if (*last != HttpResponseParser::Step::kNeedMore) {
      break;
    }
  }
  return body;
}

TEST(HttpResponseParser, FramesContentLengthChunkedAndInterimResponsesSplitAnywhere) {
  const std::string length = "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nhello from rusm\n";
  const std::string chunked =
      "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n"
      "6;ext=1\r\nhello \r\nA\r\nfrom rusm\n\r\n0\r\nX-T: 1\r\n\r\n";
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n" + length;
  for (const std::string* wire : {&length, &chunked, &interim}) {
    for (size_t step = 1; step <= wire->size(); ++step) {
      HttpResponseParser p;
      HttpResponseParser::Step st;
      std::string body = parse_in_pieces(p, *wire, step, &st);
      ASSERT_EQ(st, HttpResponseParser::Step::kDone) << *wire << " step " << step;
      EXPECT_EQ(body, "hello from rusm\n");
      EXPECT_EQ(p.status(), 200);
      EXPECT_TRUE(p.keep_alive());
    }
  }
}

TEST(HttpResponseParser, KeepAliveCloseAndBodylessResponses) {
  HttpResponseParser p;
  size_t used;
  std::string close = "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(p.feed(close.data(), close.size(), &used, 4096), HttpResponseParser::Step::kDone);
  EXPECT_EQ(p.status(), 503);
  EXPECT_FALSE(p.keep_alive());

  p.reset();
  std::string until_eof = "HTTP/1.0 200 OK\r\n\r\nbody";
  EXPECT_EQ(p.feed(until_eof.data(), until_eof.size(), &used, 4096),
            HttpResponseParser::Step::kNeedMore);
  EXPECT_EQ(p.on_eof(), HttpResponseParser::Step::kDone);
  EXPECT_FALSE(p.keep_alive());

  p.reset(/*head=*/true);
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
  EXPECT_EQ(p.feed(head.data(), head.size(), &used, 4096), HttpResponseParser::Step::kDone);
  EXPECT_EQ(used, head.size());

  p.reset();
  std::string no_content = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200";
  EXPECT_EQ(p.feed(no_content.data(), no_content.size(), &used, 4096),
            HttpResponseParser::Step::kDone);
  EXPECT_EQ(used, no_content.size() - 12);  // the next response is not swallowed

  p.reset();
  std::string cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  EXPECT_EQ(p.feed(cut.data(), cut.size(), &used, 4096), HttpResponseParser::Step::kNeedMore);
  EXPECT_EQ(p.on_eof(), HttpResponseParser::Step::kError);
}

TEST(HttpResponseParser, RejectsMalformedResponses) {
  const char* bad[] = {
      "HTTX/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
  };
  for (const char* wire : bad) {
    HttpResponseParser p;
    size_t used;
    EXPECT_EQ(p.feed(wire, strlen(wire), &used, 4096), HttpResponseParser::Step::kError) << wire;
    EXPECT_NE(p.error(), nullptr);
  }
  HttpResponseParser p;
  std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(5000, 'a');
  size_t used;
  EXPECT_EQ(p.feed(huge.data(), huge.size(), &used, 4096), HttpResponseParser::Step::kError);
  EXPECT_STREQ(p.error(), "response header too large");
}

TEST(HttpResponseParser, ChecksTheWebSocketAccept) {
  std::string ok =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  std::string wrong = "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n";
  HttpResponseParser p;
  size_t used;
  p.expect_ws_accept(kWsAccept);
  EXPECT_EQ(p.feed(ok.data(), ok.size(), &used, 4096), HttpResponseParser::Step::kDone);
  EXPECT_TRUE(p.ws_accept_ok());
  p.reset();
  p.expect_ws_accept(kWsAccept);
  EXPECT_EQ(p.feed(wrong.data(), wrong.size(), &used, 4096), HttpResponseParser::Step::kDone);
  EXPECT_FALSE(p.ws_accept_ok());
  EXPECT_EQ(ws_accept_for(kWsKey), kWsAccept);  // RFC 6455 section 1.3's example
}

TEST(WsFrameReader, ReadsFramesOfEveryLengthFormByteByByte) {
  std::string wire;
  wire += std::string("\x82\x04ping", 6);
  wire += std::string("\x82\x7e\x01\x2c", 4) + std::string(300, 'x');  // 16-bit length
  wire += std::string("\x89\x00", 2);                                  // ping, empty
  wire += std::string("\x82\x7f\0\0\0\0\0\x01\0\0", 10) + std::string(65536, 'y');
  std::vector<WsFrameReader::Frame> frames;
  WsFrameReader r;
  for (size_t i = 0; i < wire.size(); ++i) {
    size_t used;
    WsFrameReader::Frame f;
    WsFrameReader::Step st = r.feed(wire.data() + i, 1, &used, &f);
    ASSERT_NE(st, WsFrameReader::Step::kError);
    ASSERT_EQ(used, 1u);
    if (st == WsFrameReader::Step::kFrame) {
      frames.push_back(f);
    }
  }
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].length, 4u);
  EXPECT_EQ(frames[1].length, 300u);
  EXPECT_EQ(frames[2].opcode, 0x9);
  EXPECT_EQ(frames[3].length, 65536u);
  EXPECT_TRUE(frames[3].fin);

  WsFrameReader bad;
  size_t used;
  WsFrameReader::Frame f;
  EXPECT_EQ(bad.feed("\xc2\x00", 2, &used, &f), WsFrameReader::Step::kError);  // RSV1 set
}

TEST(WsClientFrame, IsMaskedAndCarriesItsLength) {
  std::string f = ws_client_frame(0x2, "ping");
  ASSERT_EQ(f.size(), 10u);
  EXPECT_EQ(static_cast<uint8_t>(f[0]), 0x82);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 0x84);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(static_cast<char>(f[6 + i] ^ f[2 + i]), "ping"[i]);
  }
  EXPECT_EQ(ws_client_frame(0x2, std::string(300, 'a')).size(), 2u + 2 + 4 + 300);
}

TEST(SseCounter, CountsEventsWhereverTheStreamIsSplit) {
  const std::string stream =
      "data: 1\n\nid: 2\r\ndata: x\r\n\r\n\n\ndata: 3\n\n: comment\n\ndata: 4";
  // Events: "data: 1", "id/data x", "data: 3", ": comment"; the extra blank
  // lines end nothing and "data: 4" is unfinished.
  for (size_t step = 1; step <= stream.size(); ++step) {
    SseCounter c;
    uint64_t n = 0;
    for (size_t at = 0; at < stream.size(); at += step) {
      std::string piece = stream.substr(at, step);
      n += c.feed(piece.data(), piece.size());
    }
    EXPECT_EQ(n, 4u) << "step " << step;
  }
}

TEST(ParseUrl, AcceptsTheFourSchemesAndRejectsTheRest) {
  Result<Target> t = parse_url("https://example.org:8443/a/b?c=d#frag");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->host, "example.org");
  EXPECT_EQ(t->port, 8443);
  EXPECT_EQ(t->path, "/a/b?c=d");
  EXPECT_EQ(t->host_header, "example.org:8443");
  t = parse_url("ws://[::1]/x");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 80);
  EXPECT_FALSE(t->tls);
  t = parse_url("wss://h");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->path, "/");
  for (const char* bad : {"127.0.0.1:80/", "ftp://h/", "http://:80/", "http://h:0/",
                          "http://h:99999/", "http://h:8x/", "http://u@h/", "http://[::1/"}) {
    Result<Target> r = parse_url(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
    }
  }
}

TEST(ParseArgs, DefaultsFlagsAndOneLineErrors) {
  Result<Options> o = parse_args({"ws", "ws://127.0.0.1:9/", "-d", "2", "--size", "300"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->mode, Mode::kWs);
  EXPECT_EQ(o->connections, 256u);
  EXPECT_EQ(o->message_size, 300u);
  EXPECT_DOUBLE_EQ(o->duration_s, 2.0);

  o = parse_args({"http", "http://h/", "-H", "Connection: close", "--rate", "500", "-t", "2"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_TRUE(o->close);  // as wrk: the header means a new connection per request
  EXPECT_EQ(o->connections, 64u);
  EXPECT_DOUBLE_EQ(o->rate, 500);

  Result<Options> help = parse_args({"--help"});
  ASSERT_FALSE(help);
  EXPECT_EQ(help.error().code(), kHelp);
  for (const char* flag :
       {"--connections", "--duration", "--warmup", "--rate", "--threads", "--timeout", "--json",
        "--close", "--header", "--method", "--body", "--size", "--insecure", "--cacert", "--sweep",
        "--sweep-factor", "--sla-p99-ms", "--sla-achieved", "--sla-errors"}) {
    EXPECT_NE(help.error().message().find(flag), std::string::npos) << flag;
  }

  std::vector<std::vector<std::string>> bad = {
      {"http"},
      {"tcp", "http://h/"},
      {"http", "http://h/", "--bogus"},
      {"http", "http://h/", "-c", "0"},
      {"http", "http://h/", "-d", "x"},
      {"sse", "http://h/", "--rate", "10"},
      {"ws", "ws://h/", "--close"},
      {"http", "http://h/", "--insecure"},
      {"http", "http://h/", "-H", "NoColon"},
      {"http", "http://h/", "--method", "get me"},
      {"http", "gopher://h/"},
  };
  for (const auto& args : bad) {
    Result<Options> r = parse_args(args);
    ASSERT_FALSE(r) << args.back();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
    EXPECT_FALSE(r.error().message().empty());
  }
}

}  // namespace
}  // namespace rusm::loadtest
