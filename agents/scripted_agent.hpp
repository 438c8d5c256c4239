// ScriptedAgent: a deterministic agent that follows a JSON script, for tests, demos and load
// generation. It streams text with delays, makes tool calls with canned results, suspends for
// human approval (HITL) and resumes, and fails transiently or permanently on chosen attempts.
//
// The script is {"script": [step, ...]}; each step is an object with one of these members:
//   {"text": "hello ", "delay_ms": 20}   a text_delta after an optional cancellable delay
//   {"sleep_ms": 100}                      a cancellable wait
//   {"tool": {"id": "c1", "name": "search", "args": {...}, "result": "..."}}
//        tool_call_start, an assistant message with the call, tool_call_done (succeeded,
//        payload = result), a tool message with the result ("result" may be any JSON; a
//        string is used as is, anything else as its JSON text; default "")
//   {"approval": {"id": "a1", "name": "deploy", "args": {...}}}
//        HITL: tool_call_start, an assistant message with the call, tool_call_done (suspended),
//        then the run waits (reason tool_permission, ticket "ticket-<id>"). Resumed with a
//        decision for that call: tool_call_resumed, a tool message ("approved", or the
//        decision's result when it is not null, for resume; "denied" for cancel), then the
//        steps after the approval step.
//   {"fail": "transient" | "permanent", "message": "...", "attempts": N}
//        fails while the dispatch's attempt_count < N (default: always), else is skipped
// At the end the run commits one assistant message with all the text of its text steps (none
// if empty) and answers that text.
//
// Where the script comes from: the first user message of the activation when its content is a
// JSON object with a "script" member (content that starts with '{' and mentions "script" but
// does not parse is a permanent error), else the default script given at construction, else
// the run fails permanently. A resume (seeded decisions, no messages) finds its script in the
// thread history: the nearest user message holding a script before the assistant message that
// carries the decided tool call (else the default script); the text of the text steps before
// the approval is counted into the final answer without being streamed again.
// Retries replay the script from the start; tool calls and results this run already committed
// are not committed twice. Invalid scripts are permanent errors naming the step and field.
//
// Called by the engine's run threads; immutable after construction, so thread-safe.
#pragma once

#include "messages/error.hpp"
#include "runtime/executor.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mbx {

enum class ScriptStepKind : std::uint8_t { text, sleep, tool, approval, fail };

struct ScriptStep {
  ScriptStepKind kind = ScriptStepKind::text;
  std::string text;                    // text
  std::int64_t delay_ms = 0;           // text (delay_ms), sleep (sleep_ms)
  ToolCall call;                       // tool, approval
  std::string result;                  // tool
  bool permanent = false;              // fail
  std::string message;                 // fail
  std::optional<std::uint32_t> attempts;  // fail; empty = every attempt
};

struct Script {
  std::vector<ScriptStep> steps;
};

class ScriptedAgent final : public Executor {
public:
  // `default_script`: a script document used when a run brings none; empty = no default.
  explicit ScriptedAgent(std::string default_script = {});

  // Parses a script document. Errors: validation, naming the problem ("script[2].tool.id:
  // expected a string").
  [[nodiscard]] static Result<Script> parse_script(std::string_view document);
  // True if `content` is meant as a script document (see the header comment).
  [[nodiscard]] static bool looks_like_script(std::string_view content);

  // The default script's parse result; an error if it was given and is invalid (mailboxd
  // checks this at startup).
  [[nodiscard]] Result<void> check_default() const;

  ExecutionResult execute(RunContext& context) override;

private:
  std::optional<Result<Script>> default_;  // empty: no default script
};

}  // namespace mbx
