#include "messages/type_ids.hpp"

#include <caf/make_message.hpp>

#include <string>
#include <utility>

namespace mbx {

namespace {

// The message of a mailbox error's context: its single string, "" when empty, else CAF's text.
std::string context_text(const caf::message& context) {
  if (context.empty()) return {};
  if (context.match_elements<std::string>()) return context.get_as<std::string>(0);
  return caf::to_string(context);
}

bool is_known_errc(std::uint8_t code) {
  return to_string(static_cast<Errc>(code)) != std::string_view{"unknown"};
}

}  // namespace

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::mailbox>();
  cfg.add_error_category(kCafErrorCategory, render_mailbox_error);
}

caf::error to_caf_error(const Error& error) {
  return caf::error(static_cast<std::uint8_t>(error.code), kCafErrorCategory, caf::make_message(error.message));
}

caf::error make_error(Errc code, std::string message) {
  return caf::error(static_cast<std::uint8_t>(code), kCafErrorCategory, caf::make_message(std::move(message)));
}

Error from_caf_error(const caf::error& error) {
  if (!error) return internal_error("from_caf_error: the caf::error holds no error");
  if (error.category() != kCafErrorCategory) return internal_error("caf: " + caf::to_string(error));
  if (!is_known_errc(error.code()))
    return internal_error("caf: unknown mailbox error code " + std::to_string(error.code()) + ": " +
                          context_text(error.context()));
  return Error{static_cast<Errc>(error.code()), context_text(error.context())};
}

std::string render_mailbox_error(std::uint8_t code, caf::atom_value category, const caf::message& context) {
  std::string out = caf::to_string(category);
  out += ": ";
  out += is_known_errc(code) ? std::string(to_string(static_cast<Errc>(code))) : "code " + std::to_string(code);
  out += ": ";
  out += context_text(context);
  return out;
}

}  // namespace mbx
