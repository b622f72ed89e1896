// Errors as values, shared by every layer.
//
// `Status` is success or an error message; `Result<T>` is a T or an error
// message. Messages say what went wrong and where ("code section, offset
// 0x1f: type mismatch in i32.add"), because they are what a user reads.
// Neither type throws. Both are cheap to move; copying an error copies its
// message. Not thread-safe to share a single object between threads while one
// of them mutates it (like any value type).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rusm {

// An error: a human-readable message plus a small code that callers may
// branch on. Codes are owned by the layer that produces them (e.g.
// wasm::ErrorCode); 0 means "unspecified".
class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int code = 0) : message_(std::move(message)), code_(code) {}

  const std::string& message() const { return message_; }
  int code() const { return code_; }

 private:
  std::string message_;
  int code_ = 0;
};

// Success, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  static Status ok() { return Status(); }

  bool is_ok() const { return !error_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Error& error() const {
    assert(error_.has_value());
    return *error_;
  }
  const std::string& message() const { return error().message(); }

 private:
  std::optional<Error> error_;
};

// A value of type T, or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  T& value() & {
    assert(is_ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(is_ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(is_ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!is_ok());
    return std::get<1>(v_);
  }
  const std::string& message() const { return error().message(); }
  Status status() const { return is_ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace rusm
