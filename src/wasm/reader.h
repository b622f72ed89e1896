// A bounds-checked reader over a module's bytes, used by the decoder and the
// compiler.
//
// Errors are sticky: the first failing read records a message and the
// offset where it happened, every later read returns 0, and the caller
// checks ok() when convenient. Offsets are absolute positions in the
// module's binary, so error messages can name them.
//
// Hot path: the compiler reads every immediate through this class; keep the
// fast paths (one-byte LEB128) inline.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace rusm::wasm {

class Reader {
 public:
  // `base` is the absolute offset of bytes[0] within the module.
  explicit Reader(std::span<const uint8_t> bytes, size_t base = 0)
      : begin_(bytes.data()), pos_(bytes.data()), end_(bytes.data() + bytes.size()), base_(base) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t error_offset() const { return error_offset_; }

  // Records `message` at the current offset unless an error is already recorded.
  void fail(std::string message) { fail_at(offset(), std::move(message)); }
  void fail_at(size_t offset, std::string message) {
    if (error_.empty()) {
      error_ = std::move(message);
      error_offset_ = offset;
      pos_ = end_;  // stop further reads
    }
  }

  size_t offset() const { return base_ + static_cast<size_t>(pos_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - pos_); }
  bool at_end() const { return pos_ == end_; }
  const uint8_t* position() const { return pos_; }

  uint8_t u8() {
    if (pos_ == end_) {
      fail("unexpected end");
      return 0;
    }
    return *pos_++;
  }

  uint8_t peek_u8() const { return pos_ == end_ ? 0 : *pos_; }

  uint32_t u32_leb() {
    if (pos_ != end_ && *pos_ < 0x80) {
      return *pos_++;
    }
    return static_cast<uint32_t>(read_unsigned(32));
  }
  uint64_t u64_leb() { return read_unsigned(64); }

  int32_t s32_leb() {
    if (pos_ != end_ && *pos_ < 0x40) {
      return *pos_++;
    }
    return static_cast<int32_t>(read_signed(32));
  }
  int64_t s64_leb() { return read_signed(64); }
  // Block types use a signed 33-bit index.
  int64_t s33_leb() { return read_signed(33); }

  uint32_t fixed_u32() {
    uint32_t v = 0;
    if (remaining() < 4) {
      fail("unexpected end");
      return 0;
    }
    std::memcpy(&v, pos_, 4);
    pos_ += 4;
    return v;
  }
  uint64_t fixed_u64() {
    uint64_t v = 0;
    if (remaining() < 8) {
      fail("unexpected end");
      return 0;
    }
    std::memcpy(&v, pos_, 8);
    pos_ += 8;
    return v;
  }

  // The next `n` bytes, or an empty span (and an error) if fewer remain.
  std::span<const uint8_t> bytes(size_t n) {
    if (remaining() < n) {
      fail("unexpected end");
      return {};
    }
    std::span<const uint8_t> s(pos_, n);
    pos_ += n;
    return s;
  }

  void skip(size_t n) { (void)bytes(n); }

  // A length-prefixed name; fails with "malformed UTF-8 encoding" if the
  // bytes are not valid UTF-8.
  std::string name() {
    uint32_t len = u32_leb();
    if (!ok()) {
      return {};
    }
    if (remaining() < len) {
      fail("length out of bounds");
      return {};
    }
    size_t at = offset();
    std::span<const uint8_t> s = bytes(len);
    if (!valid_utf8(s)) {
      fail_at(at, "malformed UTF-8 encoding");
      return {};
    }
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }

  static bool valid_utf8(std::span<const uint8_t> s) {
    size_t i = 0;
    while (i < s.size()) {
      uint8_t c = s[i];
      if (c < 0x80) {
        ++i;
        continue;
      }
      size_t n;
      uint32_t cp;
      if ((c & 0xE0) == 0xC0) {
        n = 1;
        cp = c & 0x1F;
      } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        cp = c & 0x0F;
      } else if ((c & 0xF8) == 0xF0) {
        n = 3;
        cp = c & 0x07;
      } else {
        return false;
      }
      if (i + n >= s.size()) {
        return false;
      }
      for (size_t k = 1; k <= n; ++k) {
        if ((s[i + k] & 0xC0) != 0x80) {
          return false;
        }
        cp = (cp << 6) | (s[i + k] & 0x3F);
      }
      // Overlong encodings, surrogates and values past U+10FFFF are invalid.
      if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
          (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        return false;
      }
      i += n + 1;
    }
    return true;
  }

 private:
  uint64_t read_unsigned(unsigned bits) {
    uint64_t result = 0;
    unsigned shift = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
      if (pos_ == end_) {
        fail("unexpected end");
        return 0;
      }
      uint8_t b = *pos_++;
      if (i == max_bytes - 1) {
        // Last permitted byte: unused high bits must be zero, and no
        // continuation. Checked in this order, as the reference decoder does,
        // so that a byte wrong both ways gets the reference's message.
        unsigned used = bits - shift;  // bits this byte may carry
        if (used < 7 && ((b & 0x7F) >> used) != 0) {
          fail_at(offset() - 1, "integer too large");
          return 0;
        }
        if (b & 0x80) {
          fail("integer representation too long");
          return 0;
        }
        return result | (static_cast<uint64_t>(b) << shift);
      }
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if (!(b & 0x80)) {
        return result;
      }
    }
  }

  int64_t read_signed(unsigned bits) {
    uint64_t result = 0;
    unsigned shift = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
      if (pos_ == end_) {
        fail("unexpected end");
        return 0;
      }
      uint8_t b = *pos_++;
      if (i == max_bytes - 1) {
        // The unused bits of the last byte must all equal the sign bit, and
        // there must be no continuation (same order as read_unsigned).
        unsigned used = bits - shift;  // value bits in this byte, including the sign
        if (used < 7) {
          int8_t sb = static_cast<int8_t>(b << 1) >> 1;  // sign-extend 7 bits
          int8_t top = static_cast<int8_t>(sb >> (used - 1));
          if (top != 0 && top != -1) {
            fail_at(offset() - 1, "integer too large");
            return 0;
          }
        }
        if (b & 0x80) {
          fail("integer representation too long");
          return 0;
        }
        result |= static_cast<uint64_t>(b & 0x7F) << shift;
        shift += 7;
        break;
      }
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if (!(b & 0x80)) {
        break;
      }
    }
    if (shift < 64 && (pos_[-1] & 0x40)) {
      result |= ~uint64_t{0} << shift;
    }
    return static_cast<int64_t>(result);
  }

  const uint8_t* begin_;
  const uint8_t* pos_;
  const uint8_t* end_;
  size_t base_;
  std::string error_;
  size_t error_offset_ = 0;
};

}  // namespace rusm::wasm
