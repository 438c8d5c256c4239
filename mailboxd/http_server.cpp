#include "mailboxd/http_server.hpp"

#include "messages/json/json_codec.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

namespace mbx::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
};

struct HttpServer::Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  std::atomic<std::int64_t> deadline_ms{0};  // steady ms; 0 = not waiting on the client
  std::atomic<bool> closed{false};

  void close() {
    if (closed.exchange(true)) return;
    ::shutdown(socket.native_handle(), SHUT_RDWR);  // wakes a blocked read or write
  }
};

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string error_body(std::string_view code, std::string_view message) {
  return fmt::format("{{\"error\":{{\"code\":\"{}\",\"message\":\"{}\"}}}}", code, message);
}

// One SSE frame: id = seq, event = type, data = the event as JSON.
std::string sse_frame(const AgentEvent& e) {
  return fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.seq, to_string(e.type), boost::json::serialize(to_json(e)));
}

}  // namespace

HttpServer::HttpServer(Api& api, ServerLimits limits) : api_(api), limits_(limits), impl_(std::make_unique<Impl>()) {}

HttpServer::~HttpServer() { stop(); }

Result<void> HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return validation_error("listen address '" + host + "': " + ec.message());
  const tcp::endpoint endpoint(address, port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return store_error(fmt::format("cannot listen on {}:{}: {}", host, port, ec.message()));
  port_ = acceptor.local_endpoint().port();
  return {};
}

void HttpServer::start() {
  accept_thread_ = std::thread([this] { accept_loop(); });
  reap_thread_ = std::thread([this] { reap_loop(); });
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  beast::error_code ec;
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);  // wakes accept()
  if (accept_thread_.joinable()) accept_thread_.join();
  impl_->acceptor.close(ec);  // only once the accept thread is done with it (TSan saw the race)
  std::unique_lock<std::mutex> lock(mu_);
  for (auto& [id, c] : connections_) c->close();
  cv_.notify_all();
  cv_.wait(lock, [this] { return connections_.empty(); });
  lock.unlock();
  if (reap_thread_.joinable()) reap_thread_.join();
}

void HttpServer::accept_loop() {
  while (!stopping_.load()) {
    beast::error_code ec;
    tcp::socket socket(impl_->io);
    impl_->acceptor.accept(socket, ec);
    if (ec) {
      if (stopping_.load()) return;
      spdlog::warn("http: accept failed: {}", ec.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = std::make_shared<Connection>(std::move(socket));
    std::lock_guard<std::mutex> lock(mu_);
    if (connections_.size() >= limits_.max_connections) {
      const std::string body = error_body("unavailable", "too many connections");
      const std::string response = fmt::format(
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
          "Connection: close\r\n\r\n{}",
          body.size(), body);
      asio::write(connection->socket, asio::buffer(response), ec);
      connection->close();
      continue;
    }
    const std::uint64_t id = next_id_++;
    connections_.emplace(id, connection);
    std::thread([this, id, connection]() mutable {
      serve(connection);
      connection->close();
      // This thread's reference goes first: the map's is then the last, so the socket is
      // destroyed under the lock, before stop() can see the map empty and the io_context go.
      connection.reset();
      std::lock_guard<std::mutex> done(mu_);
      connections_.erase(id);
      cv_.notify_all();
    }).detach();
  }
}

void HttpServer::reap_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_.load() || !connections_.empty()) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    const std::int64_t now = steady_ms();
    for (auto& [id, c] : connections_) {
      const std::int64_t deadline = c->deadline_ms.load();
      if (deadline != 0 && now > deadline) c->close();
    }
    if (stopping_.load() && connections_.empty()) return;
  }
}

void HttpServer::serve(const std::shared_ptr<Connection>& c) {
  beast::flat_buffer buffer;
  auto arm = [&] { c->deadline_ms.store(steady_ms() + limits_.idle_timeout.count()); };
  auto disarm = [&] { c->deadline_ms.store(0); };
  while (!stopping_.load()) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits_.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    beast::error_code ec;
    arm();
    http::read(c->socket, buffer, parser, ec);
    disarm();
    if (ec) {
      int status = 0;
      std::string code;
      if (ec == http::error::body_limit) {
        status = 413;
        code = "payload_too_large";
      } else if (ec == http::error::header_limit) {
        status = 431;
        code = "headers_too_large";
      } else if (ec.category() == beast::error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        status = 400;
        code = "bad_request";
      }
      if (status != 0) {
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::content_type, "application/json");
        res.body() = error_body(code, ec.message());
        res.keep_alive(false);
        res.prepare_payload();
        arm();
        http::write(c->socket, res, ec);
        // Lingering close: a client still sending its (refused) body would get a reset instead
        // of our answer; drain what it sends for a moment before closing.
        beast::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_send, ignored);
        c->deadline_ms.store(steady_ms() + 1000);
        char sink[16384];
        std::size_t drained = 0;
        while (drained < 8 * limits_.max_body_bytes) {
          const std::size_t n = c->socket.read_some(asio::buffer(sink), ignored);
          if (ignored || n == 0) break;
          drained += n;
        }
      }
      return;  // closed, reset, timed out, or answered
    }
    auto& req = parser.get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    const std::string target(req.target());
    const std::size_t q = target.find('?');
    request.path = target.substr(0, q);
    if (q != std::string::npos && !parse_query(target.substr(q + 1), &request.query)) {
      request.path = "";  // answered below as a bad request
    }
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(req.body());
    const bool keep_alive = req.keep_alive();
    Reply reply = request.path.empty() && q != std::string::npos
                      ? Reply{HttpResponse{400, "application/json", error_body("validation", "malformed query string")},
                              std::nullopt}
                      : api_.handle(request);

    if (reply.events) {  // Server-Sent Events until the run's stream ends or the client goes away
      const std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
          "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
      arm();
      asio::write(c->socket, asio::buffer(head), ec);
      disarm();
      auto quiet_since = std::chrono::steady_clock::now();
      while (!ec && !stopping_.load() && !reply.events->finished()) {
        auto next = reply.events->next(std::chrono::milliseconds(250));
        std::string frame;
        if (!next) {
          frame = fmt::format("event: error\ndata: {}\n\n", error_body(to_string(next.error().code), next.error().message));
        } else if (*next) {
          frame = sse_frame(**next);
        } else if (std::chrono::steady_clock::now() - quiet_since >= limits_.sse_heartbeat) {
          frame = ": keep-alive\n\n";
        } else {
          continue;
        }
        quiet_since = std::chrono::steady_clock::now();
        arm();
        asio::write(c->socket, asio::buffer(frame), ec);
        disarm();
        if (!next) break;
      }
      return;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.response.status), req.version()};
    res.set(http::field::server, "mailboxd");
    res.set(http::field::content_type, reply.response.content_type);
    res.body() = std::move(reply.response.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    arm();
    http::write(c->socket, res, ec);
    disarm();
    if (ec || !keep_alive) return;
  }
}

}  // namespace mbx::node
