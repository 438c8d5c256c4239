// Errors are values: every fallible function of the engine returns Result<T>.
// Used by every layer; plain data, thread-safe as any value.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace mbx {

// The small set of error kinds; the message carries the detail.
enum class Errc : std::uint8_t {
  validation = 1,  // bad input or an illegal transition
  not_found,       // the named record does not exist
  conflict,        // optimistic version / claim-token / dedupe conflict
  fenced,          // a write on behalf of a stale owner (lost lease, superseded, old epoch)
  queue_full,      // the thread's queue is at its bound
  store,           // the storage engine failed (I/O, corruption)
  internal,        // a broken invariant of the engine itself
};

[[nodiscard]] std::string_view to_string(Errc code) noexcept;

struct Error {
  Errc code = Errc::internal;
  std::string message;

  friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
using Result = boost::system::result<T, Error>;

[[nodiscard]] Error validation_error(std::string message);
[[nodiscard]] Error not_found_error(std::string message);
[[nodiscard]] Error conflict_error(std::string message);
[[nodiscard]] Error fenced_error(std::string message);
[[nodiscard]] Error store_error(std::string message);
[[nodiscard]] Error internal_error(std::string message);

// "validation: <message>", for logs and demo output.
[[nodiscard]] std::string describe(const Error& error);

}  // namespace mbx
