// Api: the node's HTTP API over a Mailbox (routes in docs/http-api.md). Maps each route to a
// Mailbox call, JSON in and out, and every error to a JSON body {"error": {"code", "message"}}
// with a fitting status (validation 400, not_found 404, conflict/fenced 409, queue_full 429,
// store 503, internal 500). Never throws; bad input is a 4xx. Thread-safe (the Mailbox is).
#pragma once

#include "mailboxd/http_types.hpp"
#include "runtime/mailbox.hpp"

#include <string>

namespace mbx::node {

class Api {
public:
  explicit Api(Mailbox& mailbox) : mailbox_(mailbox) {}
  [[nodiscard]] Reply handle(const HttpRequest& request);

private:
  Mailbox& mailbox_;
};

// Percent-decodes a path segment or query value; false on a malformed escape.
[[nodiscard]] bool url_decode(const std::string& in, std::string* out, bool plus_is_space);
// Splits "a=1&b=2" into decoded pairs; false on a malformed escape.
[[nodiscard]] bool parse_query(const std::string& text, std::map<std::string, std::string>* out);

}  // namespace mbx::node
