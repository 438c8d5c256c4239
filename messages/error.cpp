#include "messages/error.hpp"

namespace mbx {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::validation: return "validation";
    case Errc::not_found: return "not_found";
    case Errc::conflict: return "conflict";
    case Errc::fenced: return "fenced";
    case Errc::queue_full: return "queue_full";
    case Errc::store: return "store";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

Error validation_error(std::string message) { return {Errc::validation, std::move(message)}; }
Error not_found_error(std::string message) { return {Errc::not_found, std::move(message)}; }
Error conflict_error(std::string message) { return {Errc::conflict, std::move(message)}; }
Error fenced_error(std::string message) { return {Errc::fenced, std::move(message)}; }
Error store_error(std::string message) { return {Errc::store, std::move(message)}; }
Error internal_error(std::string message) { return {Errc::internal, std::move(message)}; }

std::string describe(const Error& error) {
  std::string out(to_string(error.code));
  out += ": ";
  out += error.message;
  return out;
}

}  // namespace mbx
