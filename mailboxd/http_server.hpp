// HttpServer: the node's HTTP/1.1 listener (Boost.Beast, synchronous, one thread per
// connection, keep-alive). A request is parsed with size limits and handed to the Api; a reply
// with an event stream is written as Server-Sent Events until the stream ends. A reaper thread
// closes connections that stay silent or stuck past the idle timeout, so slow or half-closed
// clients only ever hold their own thread. Thread-safe: start() and stop() from one thread.
#pragma once

#include "mailboxd/api.hpp"
#include "messages/error.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace mbx::node {

struct ServerLimits {
  std::size_t max_body_bytes = 1 << 20;     // 1 MiB; past it: 413
  std::size_t max_header_bytes = 16 << 10;  // past it: 431
  std::size_t max_connections = 512;        // past it: 503 and close
  std::chrono::milliseconds idle_timeout{30'000};  // a silent or stuck connection is closed
  std::chrono::milliseconds sse_heartbeat{15'000}; // ": keep-alive" comment on a quiet stream
};

class HttpServer {
public:
  HttpServer(Api& api, ServerLimits limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (port 0: any free port; see port()).
  [[nodiscard]] Result<void> listen(const std::string& host, std::uint16_t port);
  [[nodiscard]] std::uint16_t port() const { return port_; }
  void start();
  // Stops accepting, closes every connection (streams end), waits for their threads.
  void stop();

  struct Connection;

private:
  void accept_loop();
  void serve(const std::shared_ptr<Connection>& connection);
  void reap_loop();

  Api& api_;
  ServerLimits limits_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::thread reap_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;  // Guarded by mu_.
  std::uint64_t next_id_ = 0;                                                  // Guarded by mu_.
};

}  // namespace mbx::node
