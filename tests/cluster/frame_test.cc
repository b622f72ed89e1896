#include "cluster/frame.h"

#include <gtest/gtest.h>

#include <random>

namespace rusm::cluster {
namespace {

std::vector<Frame> every_frame() {
  return {
      Hello{kProtocolVersion, "alpha.cluster", 7, 0xdeadbeef, 3},
      Refuse{"protocol version 9, this node speaks 1"},
      Tick{},
      TopicJoin{"news"},
      TopicLeave{std::string(255, 't')},
      TopicSync{{"a", "b", std::string("\0z", 2)}},
      TopicSync{},
      Publish{0x0001000000000001ull, "news", 7, 9, std::string("\0\1payload", 9)},
      Publish{0, "t", 0, 0, ""},
      Send{0x0001000000000001ull, 0x0002000000000002ull, 42, 0, std::string(32, 'x')},
      Send{1, 2, 3, 0, ""},
      SendNamed{5, "logger", 9, 0, std::string("\0\1\2binary", 9)},
      Exit{1, 2, 4, "badarg", true},
      Exit{1, 2, 0, "", false},
      Link{10, 11},
      Unlink{12, 13},
      Monitor{14, 15, 99},
      Demonitor{16, 17, 100},
      Down{18, 19, 101, 5, "noconnection"},
      Peers{{{"a", "127.0.0.1:1"}, {"b", "[::1]:2"}}},
      Peers{},
      Spawn{77,
            0x0001000000000005ull,
            std::string(32, 'h'),
            "worker",
            "run",
            {1, 2, 0xffffffffffull},
            0x3f,
            256,
            kSpawnLinkFlag | kSpawnMonitorFlag,
            0x55,
            100,
            "a worker"},
      Spawn{1, 0, std::string(32, '\0'), "", "_start", {}, 0, 0, 0, 0},
      SpawnReply{77, 0x0001000000000005ull, SpawnStatus::kSpawned, 0x0002000000000009ull, ""},
      SpawnReply{78, 5, SpawnStatus::kNotFound, 0, "unknown function 'nope'"},
      SpawnReply{79, 5, SpawnStatus::kModuleNeeded, 0, ""},
      ModuleBytes{std::string(32, 'h'), std::string("\0asm\1\0\0\0", 8)},
      GlobalAdd{"leader", 0x0003000001000001ull, 1733443200000000ull},
      GlobalAdd{std::string(255, 'n'), 1, 0},
      GlobalDel{"leader", 0x0003000001000001ull},
      GlobalSync{{{"a", 1, 2}, {"b", 3, 4}}},
      GlobalSync{},
      GlobalAsk{"svc", 0x0004000001000002ull, 99},
      ShellLine{7, "ps --sort memory --limit 3"},
      ShellLine{0, ""},
      ShellResult{7, true, "PID  NAME\n<0.1.1> web\n"},
      ShellResult{0xffffffffu, false, ""},
      ShellOutput{7, "<0.5.1> send to <0.6.1> tag 1 (2 bytes)\n"},
      Observe{12},
      Observed{12, true, "{\"type\":\"snapshot\"}"},
      Observed{13, false, "no observer on this node"},
      ShellCancel{7},
  };
}

std::string encode_one(const Frame& f) {
  std::string out;
  encode(f, out);
  return out;
}

TEST(FrameTest, EveryFrameTypeRoundTrips) {
  for (const Frame& f : every_frame()) {
    std::string bytes = encode_one(f);
    EXPECT_EQ(bytes.size(), encoded_size(f));
    Decoder d;
    d.feed(bytes);
    auto r = d.next();
    ASSERT_TRUE(r) << r.message();
    ASSERT_TRUE(r->has_value()) << frame_type_name(static_cast<uint8_t>(type_of(f)));
    EXPECT_EQ(**r, f) << frame_type_name(static_cast<uint8_t>(type_of(f)));
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(FrameTest, DecoderReassemblesFramesFedByteByByte) {
  std::string stream;
  auto frames = every_frame();
  for (const Frame& f : frames) {
    encode(f, stream);
  }
  Decoder d;
  std::vector<Frame> got;
  for (char c : stream) {
    d.feed(std::string_view(&c, 1));
    while (true) {
      auto r = d.next();
      ASSERT_TRUE(r) << r.message();
      if (!r->has_value()) {
        break;
      }
      got.push_back(std::move(**r));
    }
  }
  EXPECT_EQ(got, frames);
}

TEST(FrameTest, EncodeAppendsToTheBuffer) {
  std::string out = "prefix";
  encode(Tick{}, out);
  EXPECT_EQ(out.substr(0, 6), "prefix");
  EXPECT_EQ(out.substr(6), std::string("\0\0\0\1\3", 5));
}

Error decode_error(const std::string& bytes, uint32_t max = kDefaultMaxFrame) {
  Decoder d(max);
  d.feed(bytes);
  while (true) {
    auto r = d.next();
    if (!r) {
      EXPECT_TRUE(d.failed());
      return r.error();
    }
    if (!r->has_value()) {
      return Error("no error: needs more bytes");
    }
  }
}

std::string frame_bytes(uint8_t type, const std::string& body) {
  uint32_t len = static_cast<uint32_t>(body.size() + 1);
  std::string out;
  out.push_back(static_cast<char>(len >> 24));
  out.push_back(static_cast<char>(len >> 16));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len));
  out.push_back(static_cast<char>(type));
  return out + body;
}

TEST(FrameTest, UnknownTypeIsAnError) {
  Error e = decode_error(frame_bytes(200, "abc"));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kUnknownType)) << e.message();
  EXPECT_NE(e.message().find("unknown frame type 200"), std::string::npos) << e.message();
  e = decode_error(frame_bytes(0, ""));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kUnknownType)) << e.message();
}

TEST(FrameTest, ReservedTypesAreUnsupported) {
  for (int t : {18, 19, 28, 29}) {
    Error e = decode_error(frame_bytes(static_cast<uint8_t>(t), "x"));
    EXPECT_EQ(e.code(), static_cast<int>(FrameError::kUnsupportedType)) << e.message();
    EXPECT_NE(e.message().find("unsupported frame type " + std::to_string(t)), std::string::npos)
        << e.message();
  }
}

TEST(FrameTest, SpawnFramesCheckTheirFields) {
  // A module hash must be exactly 32 bytes.
  std::string bad = encode_one(ModuleBytes{std::string(31, 'h'), "x"});
  Error e = decode_error(bad);
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
  EXPECT_NE(e.message().find("expected 32"), std::string::npos) << e.message();
  // At most kMaxSpawnArgs arguments.
  Spawn s{1, 2, std::string(32, 'h'), "m", "f", std::vector<uint64_t>(kMaxSpawnArgs + 1, 7)};
  e = decode_error(encode_one(s));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
  // A status beyond kLimit.
  std::string reply = encode_one(SpawnReply{1, 2, SpawnStatus::kLimit, 0, ""});
  reply[kFrameHeaderSize + 16] = 9;
  e = decode_error(reply);
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
}

TEST(FrameTest, TruncatedBodyIsAnError) {
  // A SEND whose body stops inside the 'to' field.
  Error e = decode_error(frame_bytes(4, std::string(12, '\0')));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kTruncated)) << e.message();
  EXPECT_NE(e.message().find("'to'"), std::string::npos) << e.message();
}

TEST(FrameTest, IncompleteFrameWaitsForMoreBytes) {
  std::string bytes = encode_one(Send{1, 2, 3, 0, "payload"});
  Decoder d;
  d.feed(std::string_view(bytes).substr(0, bytes.size() - 1));
  auto r = d.next();
  ASSERT_TRUE(r) << r.message();
  EXPECT_FALSE(r->has_value());
  d.feed(std::string_view(bytes).substr(bytes.size() - 1));
  r = d.next();
  ASSERT_TRUE(r && r->has_value());
}

TEST(FrameTest, FieldLengthBeyondTheFrameIsAnError) {
  std::string body(32, '\0');
  body += std::string("\0\0\1\0", 4);  // payload of 256 bytes...
  body += "short";                     // ...but 5 present
  Error e = decode_error(frame_bytes(4, body));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadLength)) << e.message();
  EXPECT_NE(e.message().find("payload"), std::string::npos) << e.message();
}

TEST(FrameTest, TrailingBytesInsideAFrameAreAnError) {
  Error e = decode_error(frame_bytes(3, "zz"));  // TICK has no body
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kTrailingBytes)) << e.message();
  std::string link = encode_one(Link{1, 2}).substr(5) + "!";
  e = decode_error(frame_bytes(7, link));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kTrailingBytes)) << e.message();
}

TEST(FrameTest, OversizedLengthIsRejectedFromTheHeaderAlone) {
  // Only the 5 header bytes of a 1 GiB frame: rejected before any body.
  std::string header = frame_bytes(4, "").substr(0, 4);
  header[0] = 0x40;
  Decoder d(1 << 20);
  d.feed(header);
  auto r = d.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), static_cast<int>(FrameError::kOversized)) << r.message();
  EXPECT_NE(r.message().find("above the limit of 1048576"), std::string::npos) << r.message();
}

TEST(FrameTest, ZeroLengthIsAnError) {
  Error e = decode_error(std::string(4, '\0'));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kEmpty)) << e.message();
}

TEST(FrameTest, LinkedFlagOtherThanZeroOrOneIsAnError) {
  std::string body = encode_one(Exit{1, 2, 3, "x", true}).substr(5);
  body.back() = 2;
  Error e = decode_error(frame_bytes(6, body));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
}

TEST(FrameTest, DecoderStaysFailedAfterAnError) {
  Decoder d;
  d.feed(frame_bytes(200, ""));
  EXPECT_FALSE(d.next());
  d.feed(encode_one(Tick{}));
  auto r = d.next();
  EXPECT_FALSE(r);
}

TEST(FrameTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(12345);
  int errors = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (auto& c : bytes) {
      c = static_cast<char>(rng());
    }
    // Small lengths, so that bodies get parsed rather than awaited.
    if (bytes.size() >= 5) {
      bytes[0] = bytes[1] = bytes[2] = 0;
      bytes[3] = static_cast<char>(rng() % 40);
      bytes[4] = static_cast<char>(rng() % 26);
    }
    Decoder d(1024);
    d.feed(bytes);
    for (int k = 0; k < 8; ++k) {
      auto r = d.next();
      if (!r) {
        ++errors;
        break;
      }
      if (!r->has_value()) {
        break;
      }
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(FrameTest, TopicsEmptyOrLongerThan255BytesAreRefused) {
  auto str16 = [](const std::string& s) {
    std::string b;
    b.push_back(static_cast<char>(s.size() >> 8));
    b.push_back(static_cast<char>(s.size()));
    return b + s;
  };
  for (const std::string& topic : {std::string(), std::string(256, 't')}) {
    for (uint8_t type : {24, 25}) {  // TOPIC_JOIN, TOPIC_LEAVE
      Error e = decode_error(frame_bytes(type, str16(topic)));
      EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
    }
    std::string publish =
        std::string(8, '\0') + str16(topic) + std::string(16, '\0') + std::string("\0\0\0\0", 4);
    Error e = decode_error(frame_bytes(27, publish));
    EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
  }
  // A SYNC announcing more topics than it holds is an error, not an allocation.
  Error e = decode_error(frame_bytes(26, std::string("\xff\xff\xff\xff", 4)));
  EXPECT_NE(e.code(), 0) << e.message();
}

TEST(FrameTest, GlobalNamesEmptyOrLongerThan255BytesAreRefused) {
  auto name_body = [](const std::string& name, const std::string& rest) {
    std::string b;
    b.push_back(static_cast<char>(name.size() >> 8));
    b.push_back(static_cast<char>(name.size()));
    return b + name + rest;
  };
  std::string pid_stamp(16, '\1');
  for (const std::string& name : {std::string(), std::string(256, 'n'), std::string(65535, 'n')}) {
    for (uint8_t type : {20, 23}) {  // GLOBAL_ADD, GLOBAL_ASK
      Error e = decode_error(frame_bytes(type, name_body(name, pid_stamp)));
      EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
      EXPECT_NE(e.message().find("expected 1 to 255"), std::string::npos) << e.message();
    }
    Error e = decode_error(frame_bytes(21, name_body(name, std::string(8, '\1'))));
    EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
    // In a SYNC, one bad entry fails the frame.
    std::string sync =
        std::string("\0\0\0\2", 4) + name_body("ok", pid_stamp) + name_body(name, pid_stamp);
    e = decode_error(frame_bytes(22, sync));
    EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
  }
  // A SYNC announcing more entries than it holds is truncated, not a huge
  // allocation.
  Error e = decode_error(frame_bytes(22, std::string("\xff\xff\xff\xff", 4)));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kTruncated)) << e.message();
}

TEST(FrameTest, ShellResultOkOtherThanZeroOrOneIsAnError) {
  std::string body = encode_one(ShellResult{3, true, "out"}).substr(5);
  body[4] = 7;  // the ok byte, after the u32 id
  Error e = decode_error(frame_bytes(31, body));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadValue)) << e.message();
  EXPECT_NE(e.message().find("SHELL_RESULT"), std::string::npos) << e.message();
}

TEST(FrameTest, ShellLineWhoseLengthRunsPastTheFrameIsAnError) {
  std::string body = encode_one(ShellLine{1, "help"}).substr(5);
  body[7] = 9;  // the line's length says 9 bytes, 4 follow
  Error e = decode_error(frame_bytes(30, body));
  EXPECT_EQ(e.code(), static_cast<int>(FrameError::kBadLength)) << e.message();
  EXPECT_NE(e.message().find("'line'"), std::string::npos) << e.message();
}

TEST(FrameTest, ShellTypesAreKnownBeforeTheirBodyArrives) {
  // The header of a SHELL_LINE whose body has not arrived: wait, not fail
  // (unlike an unknown type, which fails from the header alone).
  std::string header = frame_bytes(30, std::string(10, 'x')).substr(0, 5);
  Decoder d;
  d.feed(header);
  auto r = d.next();
  ASSERT_TRUE(r) << r.message();
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(known_frame_type(30));
  EXPECT_TRUE(known_frame_type(31));
  EXPECT_TRUE(known_frame_type(32));
  EXPECT_TRUE(known_frame_type(33));
  EXPECT_FALSE(known_frame_type(34));
  EXPECT_FALSE(known_frame_type(0));
}

TEST(FrameTest, TypeNamesAreReadable) {
  EXPECT_EQ(frame_type_name(4), "SEND");
  EXPECT_EQ(frame_type_name(12), "PEERS");
  EXPECT_EQ(frame_type_name(20), "GLOBAL_ADD");
  EXPECT_EQ(frame_type_name(22), "GLOBAL_SYNC");
  EXPECT_EQ(frame_type_name(30), "SHELL_LINE");
  EXPECT_EQ(frame_type_name(31), "SHELL_RESULT");
  EXPECT_EQ(frame_type_name(99), "type 99");
}

}  // namespace
}  // namespace rusm::cluster
