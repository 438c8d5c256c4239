// RunActivation: a request to run an agent on a thread (intent, messages, options, trace,
// control, persistence hints), and the snapshots of it that a RunRecord stores so that any
// worker can rebuild the request later. Plain values.
#pragma once

#include "messages/message.hpp"
#include "messages/opaque_json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

enum class RunKind : std::uint8_t { new_intent, hitl_resume };
enum class RunMode : std::uint8_t { foreground, background, resume, internal_wake };
enum class RunOrigin : std::uint8_t { user, a2a, internal };
enum class ResumeAction : std::uint8_t { resume, cancel };

struct RunIntent {
  std::string thread_id;
  std::optional<std::string> agent_id;
  RunKind kind = RunKind::new_intent;
  std::optional<std::string> resume_run_id;  // set iff kind == hitl_resume

  // The run a HitlResume continues; nullopt for a new intent.
  [[nodiscard]] std::optional<std::string> resume_id() const {
    return kind == RunKind::hitl_resume ? resume_run_id : std::nullopt;
  }
  friend bool operator==(const RunIntent&, const RunIntent&) = default;
};

struct RunOptions {
  OpaqueJson overrides;                     // inference overrides, opaque to the mailbox
  std::vector<std::string> frontend_tools;

  friend bool operator==(const RunOptions&, const RunOptions&) = default;
};

struct RunTrace {
  RunMode run_mode = RunMode::foreground;
  RunOrigin origin = RunOrigin::user;
  std::optional<std::string> parent_run_id;
  std::optional<std::string> parent_thread_id;
  std::optional<std::string> dispatch_id;
  std::optional<std::string> session_id;
  std::optional<std::string> transport_request_id;

  friend bool operator==(const RunTrace&, const RunTrace&) = default;
};

// A human decision for one suspended tool call.
struct ToolCallResume {
  ResumeAction action = ResumeAction::resume;
  OpaqueJson result;
  std::optional<std::string> decision_id;

  friend bool operator==(const ToolCallResume&, const ToolCallResume&) = default;
};

struct SeededDecision {
  std::string tool_call_id;
  ToolCallResume resume;

  friend bool operator==(const SeededDecision&, const SeededDecision&) = default;
};

struct RunControl {
  std::vector<SeededDecision> seeded_decisions;

  friend bool operator==(const RunControl&, const RunControl&) = default;
};

struct PersistenceHints {
  std::optional<std::string> run_id_hint;
  std::optional<std::string> dispatch_id_hint;
  std::optional<std::string> resolution_id_hint;
  bool messages_already_persisted = false;

  friend bool operator==(const PersistenceHints&, const PersistenceHints&) = default;
};

struct RunActivation {
  RunIntent intent;
  std::vector<Message> messages;
  RunOptions options;
  RunTrace trace;
  RunControl control;
  PersistenceHints persistence;

  friend bool operator==(const RunActivation&, const RunActivation&) = default;
};

struct SeqRange {
  std::uint64_t from_seq = 1;  // inclusive, 1-based
  std::uint64_t to_seq = 1;    // inclusive

  friend bool operator==(const SeqRange&, const SeqRange&) = default;
};

// Which part of the committed log a run reads (RunRecord.input, and the activation snapshot's input).
struct RunMessageInput {
  std::string thread_id;
  std::optional<SeqRange> range;
  std::vector<std::string> trigger_message_ids;
  std::vector<std::string> selected_message_ids;

  friend bool operator==(const RunMessageInput&, const RunMessageInput&) = default;
};

// The messages a run produced (RunRecord.output).
struct RunMessageOutput {
  std::string thread_id;
  std::optional<SeqRange> range;
  std::vector<std::string> message_ids;

  friend bool operator==(const RunMessageOutput&, const RunMessageOutput&) = default;
};

// RunRecord.activation: the current (new-path) request snapshot.
struct RunActivationSnapshot {
  RunIntent intent;
  RunMessageInput input;
  RunOptions options;
  RunTrace trace;
  std::vector<SeededDecision> seeded_decisions;
  std::optional<std::string> resolution_id;

  friend bool operator==(const RunActivationSnapshot&, const RunActivationSnapshot&) = default;
};

// RunRecord.request: the legacy request snapshot, read-only compatibility for old rows.
struct RunRequestSnapshot {
  RunOrigin origin = RunOrigin::user;
  std::optional<std::string> sender_id;
  std::vector<std::string> input_message_ids;
  std::uint64_t input_message_count = 0;
  std::optional<OpaqueJson> request_extras;
  std::vector<SeededDecision> decisions;
  std::vector<std::string> frontend_tools;
  std::optional<std::string> parent_thread_id;
  std::optional<std::string> transport_request_id;

  friend bool operator==(const RunRequestSnapshot&, const RunRequestSnapshot&) = default;
};

std::string_view to_string(RunKind v) noexcept;
std::string_view to_string(RunMode v) noexcept;
std::string_view to_string(RunOrigin v) noexcept;
std::string_view to_string(ResumeAction v) noexcept;

}  // namespace mbx
