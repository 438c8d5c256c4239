#include "mailboxd/api.hpp"

#include "messages/enum_strings.hpp"
#include "messages/json/json_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <charconv>
#include <vector>

namespace mbx::node {

namespace json = boost::json;

namespace {

constexpr std::uint32_t kDefaultPage = 50;
constexpr std::uint32_t kMaxPage = 1000;

HttpResponse json_response(int status, const json::value& v) { return HttpResponse{status, "application/json", json::serialize(v)}; }

int status_of(Errc code) {
  switch (code) {
    case Errc::validation:
      return 400;
    case Errc::not_found:
      return 404;
    case Errc::conflict:
    case Errc::fenced:
      return 409;
    case Errc::queue_full:
      return 429;
    case Errc::store:
      return 503;
    case Errc::internal:
      return 500;
  }
  return 500;
}

Reply error_reply(int status, std::string_view code, std::string_view message) {
  json::object inner{{"code", code}, {"message", message}};
  return Reply{json_response(status, json::object{{"error", std::move(inner)}}), std::nullopt};
}

Reply error_reply(const Error& e) { return error_reply(status_of(e.code), to_string(e.code), e.message); }

Reply ok(const json::value& v, int status = 200) { return Reply{json_response(status, v), std::nullopt}; }

json::value submit_json(const SubmitResult& r) {
  json::object o{{"dispatch_id", r.dispatch_id},
                 {"run_id", r.run_id},
                 {"thread_id", r.thread_id},
                 {"status", to_string(r.status)}};
  if (r.replayed) o["replayed"] = true;
  return o;
}

template <class T>
json::array json_array(const std::vector<T>& items) {
  json::array a;
  a.reserve(items.size());
  for (const auto& x : items) a.push_back(to_json(x));
  return a;
}

// The request body as a JSON object (an empty body is an empty object).
Result<json::object> body_object(const HttpRequest& req) {
  if (req.body.empty()) return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) return validation_error("request body: malformed JSON (" + ec.message() + ")");
  if (!v.is_object()) return validation_error("request body: expected a JSON object");
  return std::move(v.as_object());
}

Result<std::optional<std::string>> opt_string(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return validation_error(fmt::format("{}: expected a string", key));
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Result<bool> opt_bool(const json::object& o, std::string_view key, bool fallback) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_bool()) return validation_error(fmt::format("{}: expected true or false", key));
  return it->value().as_bool();
}

Result<std::vector<Message>> messages_of(const json::object& o, bool required) {
  auto it = o.find("messages");
  if (it == o.end() || it->value().is_null()) {
    if (required) return validation_error("messages: required (an array of {\"role\", \"content\"})");
    return std::vector<Message>{};
  }
  if (!it->value().is_array()) return validation_error("messages: expected an array");
  std::vector<Message> out;
  std::size_t i = 0;
  for (const auto& v : it->value().as_array()) {
    auto m = from_json<Message>(v);
    if (!m) return validation_error(fmt::format("messages[{}]: {}", i, m.error().message));
    out.push_back(std::move(*m));
    ++i;
  }
  return out;
}

Result<std::uint64_t> query_number(const HttpRequest& req, const std::string& key, std::uint64_t fallback,
                                   std::uint64_t max) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) return fallback;
  std::uint64_t v = 0;
  const auto* first = it->second.data();
  const auto* last = first + it->second.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last || v > max)
    return validation_error(fmt::format("query parameter {}: expected an integer from 0 to {}", key, max));
  return v;
}

struct Page {
  std::uint64_t offset = 0;
  std::uint32_t limit = kDefaultPage;
};

Result<Page> page_of(const HttpRequest& req) {
  auto offset = query_number(req, "offset", 0, std::numeric_limits<std::uint32_t>::max());
  if (!offset) return offset.error();
  auto limit = query_number(req, "limit", kDefaultPage, kMaxPage);
  if (!limit) return limit.error();
  return Page{*offset, static_cast<std::uint32_t>(*limit == 0 ? kDefaultPage : *limit)};
}

}  // namespace

bool url_decode(const std::string& in, std::string* out, bool plus_is_space) {
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;  // needs two more characters
      const int hi = hex(in[i + 1]);
      const int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool parse_query(const std::string& text, std::map<std::string, std::string>* out) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('&', start), text.size());
    const std::string pair = text.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      std::string key;
      std::string value;
      if (!url_decode(pair.substr(0, eq), &key, true)) return false;
      if (eq != std::string::npos && !url_decode(pair.substr(eq + 1), &value, true)) return false;
      (*out)[key] = value;
    }
    start = end + 1;
  }
  return true;
}

Reply Api::handle(const HttpRequest& req) {
  // Split and decode the path.
  std::vector<std::string> seg;
  {
    std::size_t start = 1;
    if (req.path.empty() || req.path[0] != '/') return error_reply(400, "validation", "path must start with /");
    while (start <= req.path.size()) {
      const std::size_t end = std::min(req.path.find('/', start), req.path.size());
      std::string decoded;
      if (!url_decode(req.path.substr(start, end - start), &decoded, false))
        return error_reply(400, "validation", "malformed percent-escape in the path");
      seg.push_back(std::move(decoded));
      start = end + 1;
    }
    if (!seg.empty() && seg.back().empty()) seg.pop_back();  // trailing slash
  }
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  auto method_not_allowed = [&](const char* allowed) {
    auto r = error_reply(405, "method_not_allowed", fmt::format("{} is not allowed here; use {}", req.method, allowed));
    return r;
  };

  // Health and metrics.
  if (seg.size() == 1 && seg[0] == "metrics") {
    if (!get) return method_not_allowed("GET");
    return Reply{HttpResponse{200, "text/plain; version=0.0.4", mailbox_.metrics_text()}, std::nullopt};
  }
  if (seg.size() >= 1 && seg[0] == "health") {
    if (!get) return method_not_allowed("GET");
    if (seg.size() == 2 && seg[1] == "live") return ok(json::object{{"status", "live"}});
    if (seg.size() != 1) return error_reply(404, "not_found", "no such route");
    if (auto h = mailbox_.health(); !h) return error_reply(503, "store", h.error().message);
    return ok(json::object{{"status", "ok"}});
  }
  if (seg.size() < 2 || seg[0] != "v1") return error_reply(404, "not_found", "no such route: " + req.path);

  // /v1/threads/{id}/...
  if (seg[1] == "threads" && seg.size() >= 4) {
    const std::string& thread_id = seg[2];
    const std::string& what = seg[3];
    if (seg.size() == 4 && (what == "messages" || what == "mailbox") && post) {
      auto body = body_object(req);
      if (!body) return error_reply(body.error());
      auto messages = messages_of(*body, true);
      if (!messages) return error_reply(messages.error());
      auto agent = opt_string(*body, "agent_id");
      if (!agent) return error_reply(agent.error());
      auto mode = opt_string(*body, "mode");
      if (!mode) return error_reply(mode.error());
      auto stream = opt_bool(*body, "stream", false);
      if (!stream) return error_reply(stream.error());
      auto key = opt_string(*body, "idempotency_key");
      if (!key) return error_reply(key.error());
      RunActivation request;
      request.intent.thread_id = thread_id;
      request.intent.agent_id = *agent;
      request.messages = std::move(*messages);
      SubmitOptions options;
      options.idempotency_key = *key ? *key : req.header("idempotency-key");
      std::string m = mode->value_or(what == "mailbox" ? "queue" : "interrupt_then_queue");
      Result<Submission> submitted = internal_error("unset");
      if (m == "interrupt_then_queue") {
        options.strategy = MultitaskStrategy::interrupt;
      } else if (m == "queue") {
        options.strategy = MultitaskStrategy::enqueue;
      } else if (m == "live_then_queue") {
        options.strategy = MultitaskStrategy::steer;
      } else if (m == "reject") {
        options.strategy = MultitaskStrategy::reject;
      } else if (m == "resume_open_run") {
        auto latest = mailbox_.latest_run(thread_id);
        if (!latest) return error_reply(latest.error());
        if (!*latest || !(*latest)->is_resumable_waiting())
          return error_reply(409, "conflict", "thread '" + thread_id + "' has no open (waiting) run to resume");
        request.intent.kind = RunKind::hitl_resume;
        request.intent.resume_run_id = (*latest)->run_id;
        options.strategy = MultitaskStrategy::enqueue;
      } else {
        return error_reply(400, "validation",
                           "mode: expected interrupt_then_queue, queue, live_then_queue, reject or resume_open_run");
      }
      submitted = mailbox_.submit(std::move(request), options);
      if (!submitted) return error_reply(submitted.error());
      if (*stream) return Reply{HttpResponse{}, std::move(submitted->events)};
      return ok(submit_json(submitted->result), submitted->result.status == SubmitStatus::running ? 201 : 202);
    }
    if (seg.size() == 4 && what == "mailbox") {
      if (!get) return method_not_allowed("GET, POST");
      auto page = page_of(req);
      if (!page) return error_reply(page.error());
      auto d = mailbox_.dispatches(thread_id, page->offset, page->limit);
      if (!d) return error_reply(d.error());
      return ok(json::object{{"dispatches", json_array(d->items)}, {"total", d->total}});
    }
    if (seg.size() == 4 && what == "messages") {
      if (!get) return method_not_allowed("GET, POST");
      auto from = query_number(req, "from_seq", 1, std::numeric_limits<std::uint64_t>::max());
      if (!from) return error_reply(from.error());
      auto limit = query_number(req, "limit", kDefaultPage, kMaxPage);
      if (!limit) return error_reply(limit.error());
      auto records = mailbox_.messages(thread_id, *from, static_cast<std::uint32_t>(*limit == 0 ? kDefaultPage : *limit));
      if (!records) return error_reply(records.error());
      json::object o{{"messages", json_array(*records)}};
      o["next_seq"] = records->empty() ? json::value(nullptr) : json::value(records->back().seq + 1);
      return ok(o);
    }
    if (seg.size() == 4 && (what == "interrupt" || what == "cancel")) {
      if (!post) return method_not_allowed("POST");
      if (what == "interrupt") {
        auto r = mailbox_.interrupt_thread(thread_id);
        if (!r) return error_reply(r.error());
        json::object o{{"new_epoch", r->new_epoch}, {"superseded", r->superseded}};
        o["cancelled_run_id"] = r->cancelled_run_id ? json::value(*r->cancelled_run_id) : json::value(nullptr);
        return ok(o);
      }
      auto active = mailbox_.active_run(thread_id);
      if (!active) return error_reply(active.error());
      if (!*active) return error_reply(404, "not_found", "thread '" + thread_id + "' has no active run");
      if (auto r = mailbox_.cancel_run((*active)->run_id); !r) return error_reply(r.error());
      return ok(json::object{{"cancelled_run_id", (*active)->run_id}});
    }
    if (what == "runs" && (seg.size() == 4 || seg.size() == 5)) {
      if (!get) return method_not_allowed("GET");
      if (seg.size() == 4) {
        auto page = page_of(req);
        if (!page) return error_reply(page.error());
        auto runs = mailbox_.runs(thread_id, page->offset, page->limit);
        if (!runs) return error_reply(runs.error());
        return ok(json::object{{"runs", json_array(runs->items)}, {"total", runs->total}});
      }
      Result<std::optional<RunRecord>> run = internal_error("unset");
      if (seg[4] == "active") {
        run = mailbox_.active_run(thread_id);
      } else if (seg[4] == "latest") {
        run = mailbox_.latest_run(thread_id);
      } else {
        return error_reply(404, "not_found", "no such route: " + req.path);
      }
      if (!run) return error_reply(run.error());
      if (!*run) return error_reply(404, "not_found", "thread '" + thread_id + "' has no " + seg[4] + " run");
      return ok(to_json(**run));
    }
    return error_reply(404, "not_found", "no such route: " + req.path);
  }

  // /v1/runs/{id}[/...]
  if (seg[1] == "runs" && seg.size() >= 3) {
    const std::string& run_id = seg[2];
    if (seg.size() == 3) {
      if (!get) return method_not_allowed("GET");
      auto run = mailbox_.load_run(run_id);
      if (!run) return error_reply(run.error());
      if (!*run) return error_reply(404, "not_found", "run '" + run_id + "' not found");
      return ok(to_json(**run));
    }
    if (seg.size() != 4) return error_reply(404, "not_found", "no such route: " + req.path);
    const std::string& what = seg[3];
    if (what == "events") {
      if (!get) return method_not_allowed("GET");
      std::uint64_t after = 0;
      if (auto last = req.header("last-event-id"); last && !last->empty()) {
        auto [ptr, ec] = std::from_chars(last->data(), last->data() + last->size(), after);
        if (ec != std::errc() || ptr != last->data() + last->size())
          return error_reply(400, "validation", "Last-Event-ID: expected an event sequence number");
      } else {
        auto from = query_number(req, "after_seq", 0, std::numeric_limits<std::uint64_t>::max());
        if (!from) return error_reply(from.error());
        after = *from;
      }
      auto events = mailbox_.attach(run_id, after);
      if (!events) return error_reply(events.error());
      return Reply{HttpResponse{}, std::move(*events)};
    }
    if (!post) return method_not_allowed("POST");
    auto body = body_object(req);
    if (!body) return error_reply(body.error());
    if (what == "cancel") {
      if (auto r = mailbox_.cancel_run(run_id); !r) return error_reply(r.error());
      return ok(json::object{{"cancelled_run_id", run_id}});
    }
    if (what == "decision") {
      auto call = opt_string(*body, "tool_call_id");
      if (!call) return error_reply(call.error());
      if (!*call) return error_reply(400, "validation", "tool_call_id: required");
      auto action = opt_string(*body, "action");
      if (!action) return error_reply(action.error());
      ToolCallResume decision;
      const std::string a = action->value_or("resume");
      if (a == "resume") {
        decision.action = ResumeAction::resume;
      } else if (a == "cancel") {
        decision.action = ResumeAction::cancel;
      } else {
        return error_reply(400, "validation", "action: expected resume or cancel");
      }
      if (auto it = body->find("result"); it != body->end()) decision.result = OpaqueJson{json::serialize(it->value())};
      auto r = mailbox_.decide(run_id, **call, std::move(decision));
      if (!r) return error_reply(r.error());
      return ok(submit_json(*r), 202);
    }
    if (what == "inputs") {
      auto messages = messages_of(*body, true);
      if (!messages) return error_reply(messages.error());
      auto run = mailbox_.load_run(run_id);
      if (!run) return error_reply(run.error());
      if (!*run) return error_reply(404, "not_found", "run '" + run_id + "' not found");
      RunActivation request;
      request.intent.thread_id = (*run)->thread_id;
      request.messages = std::move(*messages);
      auto r = mailbox_.submit_live_then_queue(std::move(request), run_id);
      if (!r) return error_reply(r.error());
      json::value v = submit_json(*r);
      v.as_object()["delivered_live"] = r->run_id == run_id && r->status == SubmitStatus::running;
      return ok(v, 202);
    }
    return error_reply(404, "not_found", "no such route: " + req.path);
  }

  if (seg[1] == "dispatches" && seg.size() == 3) {
    if (!get) return method_not_allowed("GET");
    auto d = mailbox_.load_dispatch(seg[2]);
    if (!d) return error_reply(d.error());
    if (!*d) return error_reply(404, "not_found", "dispatch '" + seg[2] + "' not found");
    return ok(to_json(**d));
  }
  if (seg[1] == "messages" && seg.size() == 3 && seg[2] == "durable") {
    if (!post) return method_not_allowed("POST");
    auto body = body_object(req);
    if (!body) return error_reply(body.error());
    DurableMessage m;
    for (auto [key, field, required] :
         {std::tuple{"message_id", &m.message_id, true}, std::tuple{"thread_id", &m.recipient_thread_id, true},
          std::tuple{"sender_agent_id", &m.sender_agent_id, false}, std::tuple{"content", &m.content, true}}) {
      auto v = opt_string(*body, key);
      if (!v) return error_reply(v.error());
      if (!*v && required) return error_reply(400, "validation", fmt::format("{}: required", key));
      *field = v->value_or("");
    }
    auto agent = opt_string(*body, "agent_id");
    if (!agent) return error_reply(agent.error());
    m.recipient_agent_id = *agent;
    auto r = mailbox_.submit_durable_message(m);
    if (!r) return error_reply(r.error());
    return ok(json::object{{"dispatch_id", *r}, {"run_id", "durable-msg-" + m.message_id}}, 202);
  }
  return error_reply(404, "not_found", "no such route: " + req.path);
}

}  // namespace mbx::node
