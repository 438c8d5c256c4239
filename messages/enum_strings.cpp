#include "messages/enum_strings.hpp"

#include "messages/detail/enum_table.hpp"

namespace mbx {

namespace {

constexpr detail::EnumTable<Role, 4> kRoleNames{{
    {Role::system, "system"},
    {Role::user, "user"},
    {Role::assistant, "assistant"},
    {Role::tool, "tool"},
}};

constexpr detail::EnumTable<Visibility, 2> kVisibilityNames{{
    {Visibility::all, "all"},
    {Visibility::internal, "internal"},
}};

constexpr detail::EnumTable<RunKind, 2> kRunKindNames{{
    {RunKind::new_intent, "new_intent"},
    {RunKind::hitl_resume, "hitl_resume"},
}};

constexpr detail::EnumTable<RunMode, 4> kRunModeNames{{
    {RunMode::foreground, "foreground"},
    {RunMode::background, "background"},
    {RunMode::resume, "resume"},
    {RunMode::internal_wake, "internal_wake"},
}};

constexpr detail::EnumTable<RunOrigin, 3> kRunOriginNames{{
    {RunOrigin::user, "user"},
    {RunOrigin::a2a, "a2a"},
    {RunOrigin::internal, "internal"},
}};

constexpr detail::EnumTable<ResumeAction, 2> kResumeActionNames{{
    {ResumeAction::resume, "resume"},
    {ResumeAction::cancel, "cancel"},
}};

constexpr detail::EnumTable<RunStatus, 4> kRunStatusNames{{
    {RunStatus::created, "created"},
    {RunStatus::running, "running"},
    {RunStatus::waiting, "waiting"},
    {RunStatus::done, "done"},
}};

constexpr detail::EnumTable<TerminationKind, 7> kTerminationKindNames{{
    {TerminationKind::natural_end, "natural_end"},
    {TerminationKind::behavior_requested, "behavior_requested"},
    {TerminationKind::stopped, "stopped"},
    {TerminationKind::cancelled, "cancelled"},
    {TerminationKind::blocked, "blocked"},
    {TerminationKind::suspended, "suspended"},
    {TerminationKind::error, "error"},
}};

constexpr detail::EnumTable<WaitingReason, 6> kWaitingReasonNames{{
    {WaitingReason::tool_permission, "tool_permission"},
    {WaitingReason::user_input, "user_input"},
    {WaitingReason::background_tasks, "background_tasks"},
    {WaitingReason::external_event, "external_event"},
    {WaitingReason::rate_limit, "rate_limit"},
    {WaitingReason::manual_pause, "manual_pause"},
}};

constexpr detail::EnumTable<AgentEventType, 14> kAgentEventTypeNames{{
    {AgentEventType::run_start, "run_start"},
    {AgentEventType::run_finish, "run_finish"},
    {AgentEventType::text_delta, "text_delta"},
    {AgentEventType::reasoning_delta, "reasoning_delta"},
    {AgentEventType::tool_call_start, "tool_call_start"},
    {AgentEventType::tool_call_delta, "tool_call_delta"},
    {AgentEventType::tool_call_ready, "tool_call_ready"},
    {AgentEventType::tool_call_done, "tool_call_done"},
    {AgentEventType::tool_call_resumed, "tool_call_resumed"},
    {AgentEventType::tool_call_cancel, "tool_call_cancel"},
    {AgentEventType::step_start, "step_start"},
    {AgentEventType::step_end, "step_end"},
    {AgentEventType::state_snapshot, "state_snapshot"},
    {AgentEventType::error, "error"},
}};

constexpr detail::EnumTable<ToolCallOutcome, 3> kToolCallOutcomeNames{{
    {ToolCallOutcome::succeeded, "succeeded"},
    {ToolCallOutcome::failed, "failed"},
    {ToolCallOutcome::suspended, "suspended"},
}};

constexpr detail::EnumTable<DispatchStatus, 6> kDispatchStatusNames{{
    {DispatchStatus::queued, "queued"},
    {DispatchStatus::claimed, "claimed"},
    {DispatchStatus::acked, "acked"},
    {DispatchStatus::cancelled, "cancelled"},
    {DispatchStatus::superseded, "superseded"},
    {DispatchStatus::dead_letter, "dead_letter"},
}};

template <class E, std::size_t N>
bool parse_into(const detail::EnumTable<E, N>& table, std::string_view text, E& out) {
  auto v = detail::enum_parse(table, text);
  if (!v) return false;
  out = *v;
  return true;
}

}  // namespace

std::string_view to_string(Role v) noexcept { return detail::enum_name(kRoleNames, v); }
bool from_string(std::string_view text, Role& out) { return parse_into(kRoleNames, text, out); }
std::string_view to_string(Visibility v) noexcept { return detail::enum_name(kVisibilityNames, v); }
bool from_string(std::string_view text, Visibility& out) { return parse_into(kVisibilityNames, text, out); }
std::string_view to_string(RunKind v) noexcept { return detail::enum_name(kRunKindNames, v); }
bool from_string(std::string_view text, RunKind& out) { return parse_into(kRunKindNames, text, out); }
std::string_view to_string(RunMode v) noexcept { return detail::enum_name(kRunModeNames, v); }
bool from_string(std::string_view text, RunMode& out) { return parse_into(kRunModeNames, text, out); }
std::string_view to_string(RunOrigin v) noexcept { return detail::enum_name(kRunOriginNames, v); }
bool from_string(std::string_view text, RunOrigin& out) { return parse_into(kRunOriginNames, text, out); }
std::string_view to_string(ResumeAction v) noexcept { return detail::enum_name(kResumeActionNames, v); }
bool from_string(std::string_view text, ResumeAction& out) { return parse_into(kResumeActionNames, text, out); }
std::string_view to_string(RunStatus v) noexcept { return detail::enum_name(kRunStatusNames, v); }
bool from_string(std::string_view text, RunStatus& out) { return parse_into(kRunStatusNames, text, out); }
std::string_view to_string(TerminationKind v) noexcept { return detail::enum_name(kTerminationKindNames, v); }
bool from_string(std::string_view text, TerminationKind& out) { return parse_into(kTerminationKindNames, text, out); }
std::string_view to_string(WaitingReason v) noexcept { return detail::enum_name(kWaitingReasonNames, v); }
bool from_string(std::string_view text, WaitingReason& out) { return parse_into(kWaitingReasonNames, text, out); }
std::string_view to_string(AgentEventType v) noexcept { return detail::enum_name(kAgentEventTypeNames, v); }
bool from_string(std::string_view text, AgentEventType& out) { return parse_into(kAgentEventTypeNames, text, out); }
std::string_view to_string(ToolCallOutcome v) noexcept { return detail::enum_name(kToolCallOutcomeNames, v); }
bool from_string(std::string_view text, ToolCallOutcome& out) { return parse_into(kToolCallOutcomeNames, text, out); }
std::string_view to_string(DispatchStatus v) noexcept { return detail::enum_name(kDispatchStatusNames, v); }
bool from_string(std::string_view text, DispatchStatus& out) { return parse_into(kDispatchStatusNames, text, out); }

}  // namespace mbx
