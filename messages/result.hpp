#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace skep {

/// What can go wrong at run time. The numbering matches
/// `schema::ErrorCode` in messages/common.capnp so codes cross the wire as is.
enum class errc : uint16_t {
  none = 0,
  invalid_argument = 1,
  not_found = 2,
  already_exists = 3,
  not_manager = 4,
  unavailable = 5,
  timeout = 6,
  internal = 7,
  malformed_message = 8,
  unsupported = 9,
  permission_denied = 10,
  frame_too_large = 11,
};

/// Returns a short, stable name for `code`, e.g. "invalid_argument".
const char* to_string(errc code) noexcept;

/// A failure: a code for programs and a message for people. The message names
/// the thing that went wrong and, where it can, what to do about it.
struct failure {
  errc code = errc::internal;
  std::string message;
  /// The manager that leads, when what failed must be asked of the leader
  /// (Raft's node id; 0 when unknown or beside the point).
  std::uint64_t leader_hint = 0;
  /// A finer reason within `code`, in the vocabulary of the layer that
  /// failed (Raft's raft::error_code); 0 when there is none.
  std::uint16_t detail = 0;
};

/// Either a value or a failure. Business logic returns these instead of
/// throwing; exceptions are reserved for bugs.
template <class T>
class result {
 public:
  result(T value) : state_(std::move(value)) {}
  result(failure err) : state_(std::move(err)) {}

  /// True when the result holds a value.
  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// Requires ok().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Requires !ok().
  const failure& error() const& { return std::get<1>(state_); }
  failure&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, failure> state_;
};

/// A result that carries no value on success.
template <>
class result<void> {
 public:
  result() = default;
  result(failure err) : error_(std::move(err)), failed_(true) {}

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const failure& error() const& { return error_; }
  failure&& error() && { return std::move(error_); }

 private:
  failure error_;
  bool failed_ = false;
};

/// Shorthand for building failures: `return fail(errc::not_found, "...")`.
inline failure fail(errc code, std::string message) {
  return failure{code, std::move(message)};
}

} // namespace skep
