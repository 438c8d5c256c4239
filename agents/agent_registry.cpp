#include "agents/agent_registry.hpp"

#include <mutex>

namespace mbx {

namespace {

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace

Result<void> AgentRegistry::add(std::string agent_id, std::shared_ptr<Executor> executor) {
  if (blank(agent_id)) return validation_error("AgentRegistry.add: agent id is blank");
  if (!executor) return validation_error("AgentRegistry.add: executor for agent '" + agent_id + "' is null");
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto [it, inserted] = agents_.try_emplace(agent_id, std::move(executor));
  if (!inserted) return conflict_error("AgentRegistry.add: agent '" + agent_id + "' is already registered");
  return {};
}

std::vector<std::string> AgentRegistry::ids() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(agents_.size());
  for (const auto& [id, executor] : agents_) out.push_back(id);
  return out;
}

std::shared_ptr<Executor> AgentRegistry::find(const std::string& agent_id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  return it == agents_.end() ? nullptr : it->second;
}

ExecutionResult AgentRegistry::execute(RunContext& context) {
  std::string agent_id = context.run().agent_id;
  if (blank(agent_id)) agent_id = context.activation().intent.agent_id.value_or("");
  if (auto executor = find(agent_id)) return executor->execute(context);  // the lock is not held here
  std::string known;
  for (const auto& id : ids()) known += (known.empty() ? "" : ", ") + id;
  ExecutionResult r;
  r.status = ExecutionStatus::permanent_error;
  r.error = "unknown agent '" + agent_id + "' (known: " + (known.empty() ? "none" : known) + ")";
  return r;
}

}  // namespace mbx
