#include "agents/scripted_agent.hpp"

#include "agents/detail/execution_failure.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <limits>
#include <set>

namespace mbx {

namespace {

namespace json = boost::json;

constexpr std::size_t kMaxScriptBytes = 4 * 1024 * 1024;

using detail::failed;

std::string kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

Error bad(const std::string& path, const std::string& what) { return validation_error(path + ": " + what); }

Result<std::string> get_string(const json::object& o, const char* key, const std::string& path, bool required) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) {
    if (required) return bad(path + "." + key, "missing");
    return std::string();
  }
  if (!v->is_string()) return bad(path + "." + key, "expected a string, got " + kind_of(*v));
  return std::string(v->as_string());
}

Result<std::int64_t> get_count(const json::value& v, const std::string& path, std::int64_t max) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.as_int64();
  } else if (v.is_uint64()) {
    if (v.as_uint64() > static_cast<std::uint64_t>(max)) return bad(path, "too large");
    n = static_cast<std::int64_t>(v.as_uint64());
  } else {
    return bad(path, "expected a non-negative integer, got " + kind_of(v));
  }
  if (n < 0) return bad(path, "expected a non-negative integer");
  if (n > max) return bad(path, "too large (at most " + std::to_string(max) + ")");
  return n;
}

Result<ToolCall> get_call(const json::value& v, const std::string& path) {
  if (!v.is_object()) return bad(path, "expected an object, got " + kind_of(v));
  const auto& o = v.as_object();
  ToolCall call;
  auto id = get_string(o, "id", path, true);
  if (!id) return id.error();
  auto name = get_string(o, "name", path, true);
  if (!name) return name.error();
  if (id->empty()) return bad(path + ".id", "empty");
  if (name->empty()) return bad(path + ".name", "empty");
  call.id = std::move(*id);
  call.name = std::move(*name);
  const auto* args = o.if_contains("args");
  call.arguments = OpaqueJson{args == nullptr ? std::string("{}") : json::serialize(*args)};
  return call;
}

Result<ScriptStep> parse_step(const json::value& v, const std::string& path) {
  if (!v.is_object()) return bad(path, "expected an object, got " + kind_of(v));
  const auto& o = v.as_object();
  ScriptStep step;
  if (const auto* text = o.if_contains("text")) {
    if (!text->is_string()) return bad(path + ".text", "expected a string, got " + kind_of(*text));
    step.kind = ScriptStepKind::text;
    step.text = std::string(text->as_string());
    if (const auto* delay = o.if_contains("delay_ms")) {
      auto ms = get_count(*delay, path + ".delay_ms", 3'600'000);
      if (!ms) return ms.error();
      step.delay_ms = *ms;
    }
    return step;
  }
  if (const auto* sleep = o.if_contains("sleep_ms")) {
    auto ms = get_count(*sleep, path + ".sleep_ms", 3'600'000);
    if (!ms) return ms.error();
    step.kind = ScriptStepKind::sleep;
    step.delay_ms = *ms;
    return step;
  }
  if (const auto* tool = o.if_contains("tool")) {
    auto call = get_call(*tool, path + ".tool");
    if (!call) return call.error();
    step.kind = ScriptStepKind::tool;
    step.call = std::move(*call);
    if (const auto* result = tool->as_object().if_contains("result"))
      step.result = result->is_string() ? std::string(result->as_string()) : json::serialize(*result);
    return step;
  }
  if (const auto* approval = o.if_contains("approval")) {
    auto call = get_call(*approval, path + ".approval");
    if (!call) return call.error();
    step.kind = ScriptStepKind::approval;
    step.call = std::move(*call);
    return step;
  }
  if (const auto* fail = o.if_contains("fail")) {
    if (!fail->is_string() || (fail->as_string() != "transient" && fail->as_string() != "permanent"))
      return bad(path + ".fail", "expected \"transient\" or \"permanent\"");
    step.kind = ScriptStepKind::fail;
    step.permanent = fail->as_string() == "permanent";
    auto message = get_string(o, "message", path, false);
    if (!message) return message.error();
    step.message = message->empty() ? "scripted " + std::string(fail->as_string()) + " failure" : *message;
    if (const auto* attempts = o.if_contains("attempts")) {
      auto n = get_count(*attempts, path + ".attempts", std::numeric_limits<std::uint32_t>::max());
      if (!n) return n.error();
      step.attempts = static_cast<std::uint32_t>(*n);
    }
    return step;
  }
  return bad(path, "unknown step (expected one of text, sleep_ms, tool, approval, fail)");
}

std::string trimmed_front(std::string_view s) {
  const auto i = s.find_first_not_of(" \t\r\n");
  return i == std::string_view::npos ? std::string() : std::string(s.substr(i, 1));
}

bool is_cancelled_wait(RunContext& ctx, std::int64_t ms) {
  return ms > 0 ? ctx.wait_for_cancel(std::chrono::milliseconds(ms)) : ctx.cancelled();
}

// What this run already committed (a retry or a resume replays the script).
struct Committed {
  std::set<std::string> calls;    // tool call ids in assistant messages of this run
  std::set<std::string> results;  // tool_call_ids of tool messages
};

Result<Committed> committed_by_run(RunContext& ctx) {
  auto thread = ctx.thread();
  if (!thread) return thread.error();
  Committed out;
  for (const auto& record : (*thread)->messages) {
    const auto& m = record.message;
    const bool ours = m.metadata.run_id == ctx.run().run_id || record.produced_by_run_id == ctx.run().run_id;
    if (!ours) continue;
    for (const auto& call : m.tool_calls) out.calls.insert(call.id);
    if (m.role == Role::tool && m.tool_call_id) out.results.insert(*m.tool_call_id);
  }
  return out;
}

// Runs one script from `first`. `text` holds the answer so far.
class ScriptRun {
public:
  ScriptRun(RunContext& ctx, const Script& script, Committed committed, std::string text)
      : ctx_(ctx), script_(script), committed_(std::move(committed)), text_(std::move(text)) {}

  ExecutionResult run_from(std::size_t first) {
    for (std::size_t i = first; i < script_.steps.size(); ++i) {
      if (ctx_.cancelled()) return {};  // the engine ends the run as cancelled
      const ScriptStep& step = script_.steps[i];
      std::optional<ExecutionResult> stop;
      switch (step.kind) {
        case ScriptStepKind::text: stop = text(step); break;
        case ScriptStepKind::sleep:
          if (is_cancelled_wait(ctx_, step.delay_ms)) return {};
          break;
        case ScriptStepKind::tool: stop = tool(step); break;
        case ScriptStepKind::approval: stop = approval(step); break;
        case ScriptStepKind::fail:
          if (!step.attempts || ctx_.dispatch().attempt_count < *step.attempts)
            return failed(step.permanent ? ExecutionStatus::permanent_error : ExecutionStatus::transient_error,
                          step.message);
          break;
      }
      if (stop) return std::move(*stop);
    }
    if (!text_.empty()) {
      Message reply;
      reply.id = ctx_.dispatch().dispatch_id + "/reply";  // a retried attempt never answers twice
      reply.role = Role::assistant;
      reply.content = text_;
      if (auto c = ctx_.commit_messages({std::move(reply)}); !c) return failed(c.error());
    }
    ExecutionResult r;
    r.response = text_;
    return r;
  }

  // The HITL continuation of approval step `index`.
  ExecutionResult resume_after(std::size_t index, const SeededDecision& decision) {
    AgentEvent resumed;
    resumed.type = AgentEventType::tool_call_resumed;
    resumed.tool_call_id = decision.tool_call_id;
    resumed.tool_name = script_.steps[index].call.name;
    resumed.payload = decision.resume.result;
    if (auto e = ctx_.emit(std::move(resumed)); !e) return failed(e.error());
    std::string content = "denied";
    if (decision.resume.action == ResumeAction::resume) {
      content = "approved";
      if (!decision.resume.result.is_null()) {
        boost::system::error_code ec;
        auto v = json::parse(decision.resume.result.json, ec);
        content = !ec && v.is_string() ? std::string(v.as_string()) : decision.resume.result.json;
      }
    }
    if (auto r = commit_result(decision.tool_call_id, content); r) return std::move(*r);
    return run_from(index + 1);
  }

private:
  std::optional<ExecutionResult> emit(AgentEvent e) {
    if (auto r = ctx_.emit(std::move(e)); !r) return failed(r.error());
    return std::nullopt;
  }

  std::optional<ExecutionResult> text(const ScriptStep& step) {
    if (is_cancelled_wait(ctx_, step.delay_ms)) return ExecutionResult{};
    AgentEvent e;
    e.type = AgentEventType::text_delta;
    e.text = step.text;
    text_ += step.text;
    return emit(std::move(e));
  }

  std::optional<ExecutionResult> commit_call(const ToolCall& call) {
    if (committed_.calls.contains(call.id)) return std::nullopt;  // a retry replays it
    Message m;
    m.role = Role::assistant;
    m.tool_calls.push_back(call);
    if (auto c = ctx_.commit_messages({std::move(m)}); !c) return failed(c.error());
    committed_.calls.insert(call.id);
    return std::nullopt;
  }

  std::optional<ExecutionResult> commit_result(const std::string& call_id, const std::string& content) {
    if (committed_.results.contains(call_id)) return std::nullopt;
    Message m;
    m.role = Role::tool;
    m.tool_call_id = call_id;
    m.content = content;
    if (auto c = ctx_.commit_messages({std::move(m)}); !c) return failed(c.error());
    committed_.results.insert(call_id);
    return std::nullopt;
  }

  std::optional<ExecutionResult> start(const ToolCall& call) {
    AgentEvent e;
    e.type = AgentEventType::tool_call_start;
    e.tool_call_id = call.id;
    e.tool_name = call.name;
    if (auto r = emit(std::move(e))) return r;
    return commit_call(call);
  }

  std::optional<ExecutionResult> tool(const ScriptStep& step) {
    if (auto r = start(step.call)) return r;
    AgentEvent done;
    done.type = AgentEventType::tool_call_done;
    done.tool_call_id = step.call.id;
    done.tool_name = step.call.name;
    done.outcome = ToolCallOutcome::succeeded;
    done.payload = OpaqueJson{json::serialize(json::value(json::string_view(step.result)))};
    if (auto r = emit(std::move(done))) return r;
    return commit_result(step.call.id, step.result);
  }

  std::optional<ExecutionResult> approval(const ScriptStep& step) {
    if (auto r = start(step.call)) return r;
    AgentEvent done;
    done.type = AgentEventType::tool_call_done;
    done.tool_call_id = step.call.id;
    done.tool_name = step.call.name;
    done.outcome = ToolCallOutcome::suspended;
    done.payload = step.call.arguments;
    if (auto r = emit(std::move(done))) return r;
    RunWaitingState waiting;
    waiting.reason = WaitingReason::tool_permission;
    WaitingTicket ticket;
    ticket.ticket_id = "ticket-" + step.call.id;
    ticket.tool_call_id = step.call.id;
    ticket.tool_name = step.call.name;
    ticket.arguments = step.call.arguments;
    ticket.resume_mode = "resume";
    ticket.reason = "approval required for '" + step.call.name + "'";
    waiting.ticket_ids.push_back(ticket.ticket_id);
    waiting.tickets.push_back(std::move(ticket));
    waiting.message = "waiting for approval of '" + step.call.name + "'";
    ExecutionResult r;
    r.status = ExecutionStatus::waiting;
    r.waiting = std::move(waiting);
    return r;
  }

  RunContext& ctx_;
  const Script& script_;
  Committed committed_;
  std::string text_;
};

}  // namespace

ScriptedAgent::ScriptedAgent(std::string default_script) {
  if (!default_script.empty()) default_ = parse_script(default_script);
}

Result<void> ScriptedAgent::check_default() const {
  if (default_ && !*default_) return validation_error("default script: " + default_->error().message);
  return {};
}

bool ScriptedAgent::looks_like_script(std::string_view content) {
  return trimmed_front(content) == "{" && content.find("\"script\"") != std::string_view::npos;
}

Result<Script> ScriptedAgent::parse_script(std::string_view document) {
  if (document.size() > kMaxScriptBytes) return bad("script", "document larger than 4 MiB");
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  auto v = json::parse(json::string_view(document.data(), document.size()), ec, {}, options);
  if (ec) return bad("script", "not valid JSON: " + ec.message());
  if (!v.is_object()) return bad("script", "expected an object {\"script\": [...]}, got " + kind_of(v));
  const auto* steps = v.as_object().if_contains("script");
  if (steps == nullptr) return bad("script", "missing the \"script\" member");
  if (!steps->is_array()) return bad("script", "expected an array of steps, got " + kind_of(*steps));
  Script script;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < steps->as_array().size(); ++i) {
    const std::string path = "script[" + std::to_string(i) + "]";
    auto step = parse_step(steps->as_array()[i], path);
    if (!step) return step.error();
    if ((step->kind == ScriptStepKind::tool || step->kind == ScriptStepKind::approval) &&
        !ids.insert(step->call.id).second)
      return bad(path, "tool call id '" + step->call.id + "' is used twice");
    script.steps.push_back(std::move(*step));
  }
  return script;
}

ExecutionResult ScriptedAgent::execute(RunContext& ctx) {
  const RunActivation& act = ctx.activation();
  const auto& decisions = act.control.seeded_decisions;
  const bool resume = !decisions.empty() && act.messages.empty();
  const bool replay = resume || ctx.dispatch().attempt_count > 0;

  // 1. The script.
  std::optional<std::string> document;
  const ThreadContext* thread = nullptr;
  if (replay) {
    auto t = ctx.thread();
    if (!t) return failed(t.error());
    thread = *t;
  }
  if (resume) {
    const auto& msgs = thread->messages;
    std::size_t at = msgs.size();
    for (std::size_t i = msgs.size(); i-- > 0 && at == msgs.size();)
      for (const auto& call : msgs[i].message.tool_calls)
        if (call.id == decisions.front().tool_call_id) at = i;
    if (at == msgs.size())
      return failed(ExecutionStatus::permanent_error,
                    "resume: tool call '" + decisions.front().tool_call_id + "' is not in the thread history");
    for (std::size_t i = at; i-- > 0;) {
      const auto& m = msgs[i].message;
      if (m.role == Role::user && looks_like_script(m.content)) {
        document = m.content;
        break;
      }
    }
  } else {
    for (const auto& m : act.messages) {
      if (m.role != Role::user) continue;
      if (looks_like_script(m.content)) document = m.content;
      break;  // only the first user message counts
    }
  }
  Result<Script> script = validation_error("unset");
  if (document) {
    script = parse_script(*document);
  } else if (default_) {
    script = *default_;
  } else {
    return failed(ExecutionStatus::permanent_error,
                  "no script: the first user message is not a {\"script\": [...]} document and no default "
                  "script is configured");
  }
  if (!script) return failed(ExecutionStatus::permanent_error, script.error().message);

  // 2. What this run committed already (retries and resumes replay the script).
  Committed committed;
  if (replay) {
    auto c = committed_by_run(ctx);
    if (!c) return failed(c.error());
    committed = std::move(*c);
  }
  if (!resume) return ScriptRun(ctx, *script, std::move(committed), {}).run_from(0);

  // 3. A resume continues after the approval step of the decided call.
  for (const auto& decision : decisions) {
    for (std::size_t i = 0; i < script->steps.size(); ++i) {
      const auto& step = script->steps[i];
      if (step.kind != ScriptStepKind::approval || step.call.id != decision.tool_call_id) continue;
      std::string before;
      for (std::size_t j = 0; j < i; ++j)
        if (script->steps[j].kind == ScriptStepKind::text) before += script->steps[j].text;
      return ScriptRun(ctx, *script, std::move(committed), std::move(before)).resume_after(i, decision);
    }
  }
  return failed(ExecutionStatus::permanent_error,
                "resume: the script has no approval step for tool call '" + decisions.front().tool_call_id + "'");
}

}  // namespace mbx
