// EchoAgent: the simplest built-in agent, for smoke tests and demos. It answers the user
// messages of an activation with their text: streamed as text_delta events (one per word,
// whitespace kept so the deltas concatenate to the text), then one committed assistant message,
// and the text as the run's response. A HITL resume (seeded decisions) answers "resumed".
// Called by the engine's run threads (directly or through AgentRegistry); stateless, so
// thread-safe.
#pragma once

#include "runtime/executor.hpp"

namespace mbx {

class EchoAgent final : public Executor {
public:
  // The text answered for an activation: its user messages' contents joined by "\n"
  // ("resumed" for a resume with seeded decisions).
  [[nodiscard]] static std::string answer(const RunActivation& activation);

  ExecutionResult execute(RunContext& context) override;
};

}  // namespace mbx
