#include "tests/runtime/scripted_executor.hpp"

#include <sstream>
#include <stdexcept>
#include <thread>

namespace mbx::testing {

namespace {

std::string first_word(const std::string& s, std::string* rest) {
  std::istringstream in(s);
  std::string word;
  in >> word;
  std::getline(in, *rest);
  if (!rest->empty() && rest->front() == ' ') rest->erase(0, 1);
  return word;
}

Message assistant(const std::string& text) {
  Message m;
  m.role = Role::assistant;
  m.content = text;
  return m;
}

Message tool_call(const std::string& call_id, const std::string& name) {
  Message m;
  m.role = Role::assistant;
  m.tool_calls.push_back(ToolCall{call_id, name, OpaqueJson{"{}"}});
  return m;
}

AgentEvent delta(const std::string& text) {
  AgentEvent e;
  e.type = AgentEventType::text_delta;
  e.text = text;
  return e;
}

}  // namespace

ExecutionResult ScriptedExecutor::echo(RunContext& ctx, const std::string& text) {
  std::ignore = ctx.emit(delta(text));  // a fenced emit surfaces in the engine's end write
  Message reply = assistant(text);
  reply.id = ctx.dispatch().dispatch_id + "/reply";  // like a well-behaved agent: a retry never answers twice
  auto committed = ctx.commit_messages({std::move(reply)});
  ExecutionResult r;
  if (!committed) {
    r.status = ExecutionStatus::permanent_error;
    r.error = committed.error().message;
    return r;
  }
  r.response = text;
  return r;
}

ExecutionResult ScriptedExecutor::execute(RunContext& ctx) {
  const int now_running = ++running_;
  int seen = max_concurrent_.load();
  while (now_running > seen && !max_concurrent_.compare_exchange_weak(seen, now_running)) {
  }
  struct Leave {
    std::atomic<int>& n;
    ~Leave() { --n; }
  } leave{running_};

  const auto& act = ctx.activation();
  std::string rest;
  const std::string script = act.messages.empty() ? std::string() : first_word(act.messages.front().content, &rest);
  {
    std::lock_guard<std::mutex> lock(mu_);
    executions_.push_back(Execution{ctx.run().run_id, ctx.dispatch().thread_id, script.empty() ? "decision" : script,
                                    ctx.dispatch().attempt_count, !act.control.seeded_decisions.empty(),
                                    std::this_thread::get_id()});
  }
  ExecutionResult r;
  if (!act.control.seeded_decisions.empty()) {  // a HITL resume
    const auto& d = act.control.seeded_decisions.front();
    Message result;
    result.role = Role::tool;
    result.tool_call_id = d.tool_call_id;
    result.content = d.resume.action == ResumeAction::resume ? "approved" : "denied";
    AgentEvent resumed;
    resumed.type = AgentEventType::tool_call_resumed;
    resumed.tool_call_id = d.tool_call_id;
    std::ignore = ctx.emit(resumed);
    if (auto c = ctx.commit_messages({result}); !c) {
      r.status = ExecutionStatus::permanent_error;
      r.error = c.error().message;
      return r;
    }
    return echo(ctx, "resumed " + result.content);
  }
  if (script == "echo") return echo(ctx, rest);
  if (script == "slow") {
    std::string text;
    const int ms = std::stoi(first_word(rest, &text));
    if (ctx.wait_for_cancel(std::chrono::milliseconds(ms))) return r;
    return echo(ctx, text);
  }
  if (script == "block" || script == "tool-block" || (script == "tool-block-once" && ctx.dispatch().attempt_count == 0)) {
    if (script != "block") std::ignore = ctx.commit_messages({tool_call("call-1", "search")});
    std::ignore = ctx.emit(delta("working"));
    std::ignore = ctx.wait_for_cancel(std::chrono::seconds(30));
    return r;
  }
  if (script == "tool-block-once") return echo(ctx, "second attempt");
  if (script == "approve") {
    std::ignore = ctx.commit_messages({tool_call("approve-1", "dangerous_tool")});
    AgentEvent done;
    done.type = AgentEventType::tool_call_done;
    done.tool_call_id = "approve-1";
    done.outcome = ToolCallOutcome::suspended;
    std::ignore = ctx.emit(done);
    RunWaitingState waiting;
    waiting.reason = WaitingReason::tool_permission;
    waiting.ticket_ids = {"ticket-1"};
    waiting.tickets.push_back(WaitingTicket{"ticket-1", "approve-1", "dangerous_tool", OpaqueJson{"{}"}, "resume",
                                            std::nullopt, 0});
    r.status = ExecutionStatus::waiting;
    r.waiting = waiting;
    return r;
  }
  if (script == "transient" || script == "permanent") {
    r.status = script == "transient" ? ExecutionStatus::transient_error : ExecutionStatus::permanent_error;
    r.error = script + " failure";
    return r;
  }
  if (script == "steer") {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto input = ctx.take_live_input();
      if (!input.empty()) return echo(ctx, "steered: " + input.front().content);
      if (ctx.wait_for_cancel(std::chrono::milliseconds(5))) return r;
    }
    return echo(ctx, "no live input");
  }
  if (script == "throw") throw std::runtime_error("scripted failure");
  if (script == "history") {
    auto thread = ctx.thread();
    if (!thread) {
      r.status = ExecutionStatus::permanent_error;
      r.error = thread.error().message;
      return r;
    }
    return echo(ctx, "history " + std::to_string((*thread)->messages.size()) + " v" +
                         std::to_string((*thread)->version));
  }
  return echo(ctx, act.messages.empty() ? std::string() : act.messages.front().content);
}

std::vector<Execution> ScriptedExecutor::executions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return executions_;
}

std::size_t ScriptedExecutor::count(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (const auto& e : executions_) n += e.run_id == run_id ? 1 : 0;
  return n;
}

}  // namespace mbx::testing
