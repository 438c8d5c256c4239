// The node's HTTP vocabulary, independent of the socket layer so that the API handlers are
// tested without a server: a parsed request, a plain response, and a reply that can instead
// be an SSE stream of a run's events. Plain values.
#pragma once

#include "runtime/event_stream.hpp"

#include <map>
#include <optional>
#include <string>

namespace mbx::node {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // without the query, not yet percent-decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  [[nodiscard]] std::optional<std::string> header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct Reply {
  HttpResponse response;              // sent when `events` is empty
  std::optional<EventStream> events;  // else: an SSE stream (200, text/event-stream) until it ends
};

}  // namespace mbx::node
