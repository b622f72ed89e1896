// Wire framing for the load driver: an incremental HTTP/1.1 response parser,
// a WebSocket frame reader (server -> client frames), an SSE event counter,
// and the fixed client bytes (masked frames, the upgrade key).
//
// Hot path: every response, echo and SSE chunk of `rusm loadtest` goes
// through these, so they never allocate and touch each byte at most once
// (memchr/memmem for the header and event scans). The parser is a strict,
// minimal response framer (status line, Content-Length, chunked,
// Connection), not a general HTTP parser: it keeps no header it does not
// need. Beast's parser was the alternative; this one does the same framing
// with less work per response (see bench/loadtest/README.md).
//
// All types are plain values, one per connection, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rusm::loadtest {

// Counts Server-Sent Events in a byte stream: an event ends at an empty line
// that follows at least one non-empty line. Lines end with LF or CRLF (a
// lone CR as line end is not supported yet: such streams count 0 events).
class SseCounter {
 public:
  uint64_t feed(const char* p, size_t n);

 private:
  enum : uint8_t { kEmpty, kCr, kText };
  uint8_t line_ = kEmpty;  // what the current, unfinished line holds so far
  bool in_event_ = false;  // a non-empty line since the last event boundary
};

// Incremental HTTP/1.x response parser. feed() consumes what it can; the
// header must arrive whole before it is parsed, so the caller keeps the
// unconsumed bytes and calls again with more. Body bytes (de-chunked) go to
// a sink callable `void(const char*, size_t)`.
class HttpResponseParser {
 public:
  enum class Step { kNeedMore, kDone, kError };

  // Prepares for the next response. `head` = the request was HEAD (no body).
  void reset(bool head = false) {
    *this = HttpResponseParser();
    head_ = head;
  }
  // The expected Sec-WebSocket-Accept value, checked when the status is 101.
  void expect_ws_accept(std::string_view accept) { ws_accept_ = accept; }

  // Parses data[0..n): returns kDone when a complete response has been
  // framed (consumed = bytes that belonged to it), kNeedMore when all bytes
  // that could be consumed were, kError on a framing error (error() says
  // which). `max_header` bounds the header: a header that does not end
  // within it is an error.
  template <typename Sink>
  Step feed(const char* data, size_t n, size_t* consumed, size_t max_header, Sink&& sink);
  Step feed(const char* data, size_t n, size_t* consumed, size_t max_header) {
    return feed(data, n, consumed, max_header, [](const char*, size_t) {});
  }
  // The peer closed the connection: completes a read-until-close body.
  Step on_eof() {
    if (state_ == State::kUntilEof) {
      state_ = State::kDone;
      return Step::kDone;
    }
    error_ = "connection closed before the response was complete";
    return Step::kError;
  }

  int status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return chunked_; }
  bool ws_accept_ok() const { return ws_accept_ok_; }
  bool header_done() const { return state_ != State::kHeader; }
  bool done() const { return state_ == State::kDone; }
  const char* error() const { return error_; }

 private:
  enum class State : uint8_t {
    kHeader,
    kLength,     // Content-Length body: remaining_ bytes left
    kUntilEof,   // no length: the body ends when the server closes
    kChunkSize,  // hex digits of a chunk size
    kChunkExt,   // after the size: extensions up to LF
    kChunkData,  // remaining_ bytes of chunk data
    kChunkCr,    // CRLF after chunk data
    kChunkLf,
    kTrailer,  // trailer lines after the last chunk, up to an empty line
    kDone,
  };

  // Parses the complete header [p, p+len) (ending with the blank line).
  Step parse_header(const char* p, size_t len);
  Step fail(const char* why) {
    error_ = why;
    return Step::kError;
  }

  State state_ = State::kHeader;
  bool head_ = false;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool ws_accept_ok_ = false;
  bool chunk_digits_ = false;
  bool trailer_line_empty_ = true;
  int status_ = 0;
  uint64_t remaining_ = 0;
  size_t scanned_ = 0;  // header bytes already searched for the blank line
  std::string_view ws_accept_;
  const char* error_ = nullptr;
};

// Reads the frames a server sends (unmasked, RFC 6455 section 5.2); one per
// connection. feed() consumes bytes and reports each complete frame's
// opcode and payload length; the payload is skipped, not kept.
class WsFrameReader {
 public:
  struct Frame {
    uint8_t opcode = 0;
    bool fin = false;
    uint64_t length = 0;
  };
  enum class Step { kNeedMore, kFrame, kError };

  // Consumes from data[0..n) up to the end of one frame. On kFrame,
  // `frame` is that frame; *consumed counts the bytes used either way.
  Step feed(const char* data, size_t n, size_t* consumed, Frame* frame);
  void reset() { *this = WsFrameReader(); }

 private:
  uint8_t header_[14];
  uint8_t have_ = 0;  // header bytes buffered
  uint8_t need_ = 2;  // header bytes this frame needs
  bool in_payload_ = false;
  uint64_t remaining_ = 0;
  Frame frame_;
};

// The RFC 6455 example key and its accept value: the driver uses one fixed
// key, as the anchors' loadgen does, so no hashing happens per handshake.
inline constexpr std::string_view kWsKey = "dGhlIHNhbXBsZSBub25jZQ==";
inline constexpr std::string_view kWsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
// Computes Sec-WebSocket-Accept for `key` (SHA-1 + base64 through OpenSSL).
std::string ws_accept_for(std::string_view key);
// A client frame: FIN + `opcode`, masked with a fixed key.
std::string ws_client_frame(uint8_t opcode, std::string_view payload);

// ---- implementation of the template ----

template <typename Sink>
HttpResponseParser::Step HttpResponseParser::feed(const char* data, size_t n, size_t* consumed,
                                                  size_t max_header, Sink&& sink) {
  size_t i = 0;
  size_t base = 0;  // bytes of interim (1xx) responses skipped before data
  *consumed = 0;
  for (;;) {
    switch (state_) {
      case State::kHeader: {
        // The header ends at an empty line. memchr per line beats memmem's
        // setup on a ~150-byte header (75 vs 250 ns), and a line's bytes
        // before `scanned_` were already looked at.
        const char* end = nullptr;
        for (const char* q = data + scanned_; q < data + n;) {
          q = static_cast<const char*>(memchr(q, '\n', data + n - q));
          if (q == nullptr) {
            break;
          }
          size_t at = q - data;
          if ((at >= 1 && q[-1] == '\n') || (at >= 2 && q[-1] == '\r' && q[-2] == '\n')) {
            end = q + 1;
            break;
          }
          ++q;
        }
        if (end == nullptr) {
          scanned_ = n;
          if (n >= max_header) {
            return fail("response header too large");
          }
          return Step::kNeedMore;
        }
        size_t len = end - data;
        Step s = parse_header(data, len);
        if (s == Step::kError) {
          return s;
        }
        i = len;
        if (state_ == State::kHeader) {
          // A 1xx interim response: the real one follows.
          data += len;
          n -= len;
          base += len;
          *consumed = base;
          i = 0;
          scanned_ = 0;
          continue;
        }
        break;
      }
      case State::kLength: {
        size_t take = n - i < remaining_ ? n - i : static_cast<size_t>(remaining_);
        if (take != 0) {
          sink(data + i, take);
        }
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) {
          state_ = State::kDone;
        }
        break;
      }
      case State::kUntilEof:
        if (n > i) {
          sink(data + i, n - i);
        }
        i = n;
        break;
      case State::kChunkSize:
        while (i < n) {
          char c = data[i];
          int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
          if (d < 0) {
            if (!chunk_digits_) {
              return fail("bad chunk size");
            }
            state_ = State::kChunkExt;
            break;
          }
          if (remaining_ >> 59 != 0) {
            return fail("chunk size too large");
          }
          remaining_ = remaining_ * 16 + d;
          chunk_digits_ = true;
          ++i;
        }
        break;
      case State::kChunkExt: {
        const void* lf = memchr(data + i, '\n', n - i);
        if (lf == nullptr) {
          i = n;
          break;
        }
        i = static_cast<const char*>(lf) - data + 1;
        chunk_digits_ = false;
        if (remaining_ == 0) {
          state_ = State::kTrailer;
          trailer_line_empty_ = true;
        } else {
          state_ = State::kChunkData;
        }
        break;
      }
      case State::kChunkData: {
        size_t take = n - i < remaining_ ? n - i : static_cast<size_t>(remaining_);
        if (take != 0) {
          sink(data + i, take);
        }
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) {
          state_ = State::kChunkCr;
        }
        break;
      }
      case State::kChunkCr:
        if (i < n) {
          if (data[i] != '\r') {
            return fail("chunk data not followed by CRLF");
          }
          ++i;
          state_ = State::kChunkLf;
        }
        break;
      case State::kChunkLf:
        if (i < n) {
          if (data[i] != '\n') {
            return fail("chunk data not followed by CRLF");
          }
          ++i;
          state_ = State::kChunkSize;
        }
        break;
      case State::kTrailer:
        while (i < n) {
          char c = data[i++];
          if (c == '\n') {
            if (trailer_line_empty_) {
              state_ = State::kDone;
              break;
            }
            trailer_line_empty_ = true;
          } else if (c != '\r') {
            trailer_line_empty_ = false;
          }
        }
        break;
      case State::kDone:
        *consumed = base + i;
        return Step::kDone;
    }
    if (state_ == State::kDone) {
      *consumed = base + i;
      return Step::kDone;
    }
    if (i >= n) {
      *consumed = base + i;
      return Step::kNeedMore;
    }
  }
}

}  // namespace rusm::loadtest
