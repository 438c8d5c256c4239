// AgentRegistry: the Executor a node hands to its Mailbox when it hosts several agents. It maps
// agent ids to executors and runs each dispatch on the agent its run names (RunRecord.agent_id,
// else the activation's intent.agent_id). An unknown id is a permanent error (the dispatch is
// dead-lettered). Called by mailboxd (add, before Mailbox::start) and by the engine's run
// threads (execute, concurrently). Thread-safe: add/ids/execute may race; an executor added
// while runs execute is visible to the next lookup.
#pragma once

#include "messages/error.hpp"
#include "runtime/executor.hpp"

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace mbx {

class AgentRegistry final : public Executor {
public:
  // Registers `executor` under `agent_id`. Errors: validation (blank id, null executor),
  // conflict (the id is taken).
  [[nodiscard]] Result<void> add(std::string agent_id, std::shared_ptr<Executor> executor);

  // The registered ids, sorted.
  [[nodiscard]] std::vector<std::string> ids() const;
  // The executor registered under `agent_id`, or null.
  [[nodiscard]] std::shared_ptr<Executor> find(const std::string& agent_id) const;

  // Runs the dispatch on its agent; "unknown agent 'X' (known: a, b)" is a permanent error.
  ExecutionResult execute(RunContext& context) override;

private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Executor>> agents_;  // Guarded by mu_.
};

}  // namespace mbx
