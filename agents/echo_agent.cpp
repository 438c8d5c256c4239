#include "agents/echo_agent.hpp"

#include <vector>

namespace mbx {

namespace {

// "a b  c" -> {"a ", "b  ", "c"}: each word with the whitespace that follows it.
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    while (j < text.size() && is_space(text[j])) ++j;
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

ExecutionResult failed(const Error& e) {
  ExecutionResult r;
  // A lost claim or a store hiccup is worth a retry; anything else will not get better.
  r.status = e.code == Errc::fenced || e.code == Errc::store || e.code == Errc::conflict
                 ? ExecutionStatus::transient_error
                 : ExecutionStatus::permanent_error;
  r.error = describe(e);
  return r;
}

}  // namespace

std::string EchoAgent::answer(const RunActivation& activation) {
  if (!activation.control.seeded_decisions.empty() && activation.messages.empty()) return "resumed";
  std::string text;
  bool first = true;
  for (const auto& m : activation.messages) {
    if (m.role != Role::user) continue;
    if (!first) text += "\n";
    text += m.content;
    first = false;
  }
  return text;
}

ExecutionResult EchoAgent::execute(RunContext& ctx) {
  const std::string text = answer(ctx.activation());
  for (const auto& word : words(text)) {
    if (ctx.cancelled()) return {};  // the engine ends the run as cancelled
    AgentEvent e;
    e.type = AgentEventType::text_delta;
    e.text = word;
    if (auto emitted = ctx.emit(std::move(e)); !emitted) return failed(emitted.error());
  }
  if (!text.empty()) {
    Message reply;
    reply.id = ctx.dispatch().dispatch_id + "/reply";  // a retried attempt never answers twice
    reply.role = Role::assistant;
    reply.content = text;
    if (auto committed = ctx.commit_messages({std::move(reply)}); !committed) return failed(committed.error());
  }
  ExecutionResult r;
  r.response = text;
  return r;
}

}  // namespace mbx
