// HttpClient: a small blocking HTTP/1.1 client for the node's API (Boost.Beast), used by
// mailboxctl and the end-to-end tests. One keep-alive connection, reconnected on demand;
// request() for JSON routes, stream() for Server-Sent Events (with Last-Event-ID). Not
// thread-safe: one client per thread.
#pragma once

#include "messages/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace mbx::client {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
};

class HttpClient {
public:
  HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Errors: store (cannot connect, reset, timeout). Any HTTP status is a result.
  [[nodiscard]] Result<HttpResult> request(const std::string& method, const std::string& target,
                                           const std::string& body = {},
                                           const std::map<std::string, std::string>& headers = {});
  // Sends the request and calls `on_event` for each SSE event until the stream ends, the
  // callback returns false, or the connection fails. Returns the HTTP status (a non-200 reply's
  // body is returned in HttpResult::body and no event is delivered).
  [[nodiscard]] Result<HttpResult> stream(const std::string& method, const std::string& target, const std::string& body,
                                          const std::map<std::string, std::string>& headers,
                                          const std::function<bool(const SseEvent&)>& on_event);

private:
  Result<void> connect();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
};

// "http://host:port" or "host:port" -> host, port.
[[nodiscard]] Result<std::pair<std::string, std::uint16_t>> parse_base_url(const std::string& url);

}  // namespace mbx::client
