#include "framing.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace rusm::loadtest {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

// Whether `a` equals `lower_name` ignoring ASCII case; `lower_name` is
// lower case. Per byte: one compare, and an OR for letters that differ in
// case only (this runs for every header of every response).
bool iequals(std::string_view a, std::string_view lower_name) {
  if (a.size() != lower_name.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = lower_name[i];
    if (x != y && ((x | 0x20) != y || y < 'a' || y > 'z')) {
      return false;
    }
  }
  return true;
}

// Whether the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (iequals(item, token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

uint64_t SseCounter::feed(const char* p, size_t n) {
  uint64_t events = 0;
  const char* end = p + n;
  const char* s = p;
  while (s < end) {
    const char* nl = static_cast<const char*>(memchr(s, '\n', end - s));
    const char* seg_end = nl == nullptr ? end : nl;
    size_t len = seg_end - s;
    if (len == 1 && *s == '\r' && line_ == kEmpty) {
      line_ = kCr;
    } else if (len != 0) {
      line_ = kText;
    }
    if (nl == nullptr) {
      break;
    }
    if (line_ == kText) {
      in_event_ = true;
    } else if (in_event_) {
      ++events;
      in_event_ = false;
    }
    line_ = kEmpty;
    s = nl + 1;
  }
  return events;
}

HttpResponseParser::Step HttpResponseParser::parse_header(const char* p, size_t len) {
  const char* end = p + len;
  const char* eol = static_cast<const char*>(memchr(p, '\n', len));
  // "HTTP/1.x SSS" at least.
  if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') {
    return fail("bad status line");
  }
  bool http10 = p[7] == '0';
  keep_alive_ = !http10;
  int status = 0;
  for (int k = 9; k < 12; ++k) {
    if (p[k] < '0' || p[k] > '9') {
      return fail("bad status code");
    }
    status = status * 10 + (p[k] - '0');
  }
  status_ = status;
  bool have_length = false;
  uint64_t length = 0;
  bool chunked = false;
  bool accept_ok = false;
  for (const char* line = eol + 1; line < end;) {
    const char* nl = static_cast<const char*>(memchr(line, '\n', end - line));
    const char* le = nl;
    if (le > line && le[-1] == '\r') {
      --le;
    }
    if (le == line) {
      break;  // the blank line
    }
    const char* colon = static_cast<const char*>(memchr(line, ':', le - line));
    if (colon == nullptr) {
      return fail("header line without ':'");
    }
    std::string_view name(line, colon - line);
    const char* v = colon + 1;
    while (v < le && (*v == ' ' || *v == '\t')) {
      ++v;
    }
    const char* ve = le;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
      --ve;
    }
    std::string_view value(v, ve - v);
    // Only names that start with c, t or s can matter: skip the rest cheaply.
    char c0 = lower(name.empty() ? '\0' : name[0]);
    if (c0 == 'c') {
      if (iequals(name, "content-length")) {
        if (value.empty()) {
          return fail("bad Content-Length");
        }
        uint64_t x = 0;
        for (char c : value) {
          if (c < '0' || c > '9' || x > (UINT64_MAX - 9) / 10) {
            return fail("bad Content-Length");
          }
          x = x * 10 + (c - '0');
        }
        if (have_length && x != length) {
          return fail("conflicting Content-Length headers");
        }
        have_length = true;
        length = x;
      } else if (iequals(name, "connection")) {
        if (has_token(value, "close")) {
          keep_alive_ = false;
        } else if (has_token(value, "keep-alive")) {
          keep_alive_ = true;
        }
      }
    } else if (c0 == 't') {
      if (iequals(name, "transfer-encoding")) {
        // Chunked must be the last coding (RFC 9112 6.1); anything else is
        // read until close.
        size_t last = value.rfind(',');
        std::string_view tail = last == std::string_view::npos ? value : value.substr(last + 1);
        chunked = has_token(tail, "chunked");
        if (!chunked) {
          have_length = false;
        }
      }
    } else if (c0 == 's') {
      if (!ws_accept_.empty() && iequals(name, "sec-websocket-accept")) {
        accept_ok = value == ws_accept_;
      }
    }
    line = nl + 1;
  }
  ws_accept_ok_ = accept_ok;
  chunked_ = chunked;
  if (status >= 100 && status < 200 && status != 101) {
    return Step::kNeedMore;  // interim: state stays kHeader
  }
  if (status == 101 || head_ || status == 204 || status == 304) {
    state_ = State::kDone;
  } else if (chunked) {
    state_ = State::kChunkSize;
    remaining_ = 0;
  } else if (have_length) {
    remaining_ = length;
    state_ = length == 0 ? State::kDone : State::kLength;
  } else {
    state_ = State::kUntilEof;
    keep_alive_ = false;
  }
  return Step::kNeedMore;
}

WsFrameReader::Step WsFrameReader::feed(const char* data, size_t n, size_t* consumed,
                                        Frame* frame) {
  size_t i = 0;
  for (;;) {
    if (!in_payload_) {
      while (have_ < need_ && i < n) {
        header_[have_++] = static_cast<uint8_t>(data[i++]);
        if (have_ == 2) {
          uint8_t len7 = header_[1] & 0x7f;
          need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
        }
      }
      if (have_ < need_) {
        *consumed = i;
        return Step::kNeedMore;
      }
      uint8_t len7 = header_[1] & 0x7f;
      uint64_t len = len7;
      if (len7 == 126) {
        len = (uint64_t{header_[2]} << 8) | header_[3];
      } else if (len7 == 127) {
        len = 0;
        for (int k = 2; k < 10; ++k) {
          len = (len << 8) | header_[k];
        }
        if (len >> 63 != 0) {
          *consumed = i;
          return Step::kError;
        }
      }
      if ((header_[0] & 0x70) != 0) {
        *consumed = i;
        return Step::kError;  // reserved bits: no extension was negotiated
      }
      frame_.opcode = header_[0] & 0x0f;
      frame_.fin = (header_[0] & 0x80) != 0;
      frame_.length = len;
      remaining_ = len;
      in_payload_ = true;
    }
    size_t take = n - i < remaining_ ? n - i : static_cast<size_t>(remaining_);
    i += take;
    remaining_ -= take;
    if (remaining_ != 0) {
      *consumed = i;
      return Step::kNeedMore;
    }
    *frame = frame_;
    in_payload_ = false;
    have_ = 0;
    need_ = 2;
    *consumed = i;
    return Step::kFrame;
  }
}

std::string ws_accept_for(std::string_view key) {
  std::string in(key);
  in += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[64];
  int len = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string ws_client_frame(uint8_t opcode, std::string_view payload) {
  static constexpr uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int k = 7; k >= 0; --k) {
      f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * k)) & 0xff));
    }
  }
  f.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t i = 0; i < n; ++i) {
    f.push_back(static_cast<char>(payload[i] ^ kMask[i % 4]));
  }
  return f;
}

}  // namespace rusm::loadtest
