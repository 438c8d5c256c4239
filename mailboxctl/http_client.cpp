#include "mailboxctl/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <charconv>

namespace mbx::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), host_(std::move(host)), port_(port), timeout_(timeout) {}

HttpClient::~HttpClient() {
  if (impl_->stream) {
    beast::error_code ec;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
  }
}

Result<void> HttpClient::connect() {
  if (impl_->stream && impl_->stream->socket().is_open()) return {};
  beast::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
  if (ec) return store_error("cannot resolve " + host_ + ": " + ec.message());
  impl_->stream.emplace(impl_->io);
  impl_->buffer.clear();
  impl_->stream->expires_after(timeout_);
  impl_->stream->connect(endpoints, ec);
  if (ec) {
    impl_->stream.reset();
    return store_error("cannot connect to " + host_ + ":" + std::to_string(port_) + ": " + ec.message());
  }
  return {};
}

namespace {

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& host, const std::string& body,
                                              const std::map<std::string, std::string>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "mailboxctl");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

template <class Message>
void copy_headers(const Message& m, HttpResult& out) {
  for (const auto& f : m) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
}

}  // namespace

Result<HttpResult> HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                                       const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {  // a kept-alive connection the server closed: reconnect once
    if (auto c = connect(); !c) return c.error();
    auto req = make_request(method, target, host_, body, headers);
    beast::error_code ec;
    impl_->stream->expires_after(timeout_);
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->stream.reset();
      if (attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                           ec == asio::error::broken_pipe))
        continue;
      return store_error(method + " " + target + ": " + ec.message());
    }
    auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    copy_headers(res, out);
    if (!res.keep_alive()) impl_->stream.reset();
    return out;
  }
  return store_error(method + " " + target + ": connection closed");
}

Result<HttpResult> HttpClient::stream(const std::string& method, const std::string& target, const std::string& body,
                                      const std::map<std::string, std::string>& headers,
                                      const std::function<bool(const SseEvent&)>& on_event) {
  impl_->stream.reset();  // an SSE reply ends with the connection: use a fresh one
  if (auto c = connect(); !c) return c.error();
  auto req = make_request(method, target, host_, body, headers);
  beast::error_code ec;
  impl_->stream->expires_after(timeout_);
  http::write(*impl_->stream, req, ec);
  if (ec) return store_error(method + " " + target + ": " + ec.message());
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(*impl_->stream, impl_->buffer, parser, ec);
  if (ec) return store_error(method + " " + target + ": " + ec.message());
  HttpResult out;
  out.status = static_cast<int>(parser.get().result_int());
  copy_headers(parser.get(), out);
  const bool is_sse = out.headers["content-type"].rfind("text/event-stream", 0) == 0;
  std::string pending;
  SseEvent current;
  char chunk[8192];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    impl_->stream->expires_after(timeout_);
    // read_some: hand each event on as soon as it arrives (read would wait for a full chunk).
    http::read_some(*impl_->stream, impl_->buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      impl_->stream.reset();
      return store_error(method + " " + target + ": stream broken: " + ec.message());
    }
    const std::size_t got = sizeof(chunk) - parser.get().body().size;
    if (!is_sse) {
      out.body.append(chunk, got);
    } else {
      pending.append(chunk, got);
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
          if (!current.data.empty() || !current.event.empty()) {
            if (!on_event(current)) {
              impl_->stream.reset();
              return out;
            }
          }
          current = SseEvent{};
        } else if (line[0] == ':') {
          continue;  // comment (keep-alive)
        } else if (line.rfind("id:", 0) == 0) {
          current.id = line.substr(line.size() > 3 && line[3] == ' ' ? 4 : 3);
        } else if (line.rfind("event:", 0) == 0) {
          current.event = line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6);
        } else if (line.rfind("data:", 0) == 0) {
          if (!current.data.empty()) current.data += '\n';
          current.data += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
        }
      }
    }
    if (ec) break;  // end of stream
  }
  impl_->stream.reset();
  return out;
}

Result<std::pair<std::string, std::uint16_t>> parse_base_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return validation_error("url '" + url + "': expected http://HOST:PORT");
  std::uint32_t port = 0;
  const std::string p = rest.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || ptr != p.data() + p.size() || port == 0 || port > 65535)
    return validation_error("url '" + url + "': bad port");
  return std::make_pair(rest.substr(0, colon), static_cast<std::uint16_t>(port));
}

}  // namespace mbx::client
