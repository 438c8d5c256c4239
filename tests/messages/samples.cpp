#include "tests/messages/samples.hpp"

namespace mbx::samples {

ToolCall full_tool_call() { return {"call-1", "search", OpaqueJson{R"({"q":"weather","n":3})"}}; }

Message full_message() {
  Message m;
  m.id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  m.role = Role::assistant;
  m.content = "Let me look that up. \"quoted\" \u00e9\n";
  m.tool_calls = {full_tool_call(), ToolCall{"call-2", "fetch", OpaqueJson{"[1,2,3]"}}};
  m.visibility = Visibility::internal;
  m.metadata.run_id = "run-7";
  m.metadata.step_index = 4;
  m.metadata.sender_agent_id = "agent-b";
  return m;
}

Message full_tool_message() {
  Message m;
  m.id = "msg-tool-1";
  m.role = Role::tool;
  m.content = "sunny";
  m.tool_call_id = "call-1";
  m.metadata.sender_agent_id = "agent-a";
  return m;
}

MessageRecord full_message_record() {
  return MessageRecord{"thread-1", 42, full_message(), std::string("run-7"), 1'700'000'123};
}

RunIntent full_run_intent() {
  return RunIntent{"thread-1", std::string("agent-a"), RunKind::hitl_resume, std::string("run-0")};
}

RunOptions full_run_options() {
  return RunOptions{OpaqueJson{R"({"temperature":0.5,"model":"m"})"}, {"ui.confirm", "ui.pick"}};
}

RunTrace full_run_trace() {
  RunTrace t;
  t.run_mode = RunMode::internal_wake;
  t.origin = RunOrigin::a2a;
  t.parent_run_id = "run-parent";
  t.parent_thread_id = "thread-parent";
  t.dispatch_id = "dispatch-9";
  t.session_id = "session-3";
  t.transport_request_id = "req-77";
  return t;
}

SeededDecision full_seeded_decision() {
  return SeededDecision{"call-1", ToolCallResume{ResumeAction::cancel, OpaqueJson{R"({"approved":false})"},
                                                 std::string("decision-5")}};
}

PersistenceHints full_persistence_hints() {
  return PersistenceHints{std::string("run-hint"), std::string("dispatch-hint"), std::string("resolution-hint"),
                          true};
}

RunActivation full_run_activation() {
  RunActivation a;
  a.intent = full_run_intent();
  a.messages = {full_message(), full_tool_message()};
  a.options = full_run_options();
  a.trace = full_run_trace();
  a.control.seeded_decisions = {full_seeded_decision()};
  a.persistence = full_persistence_hints();
  return a;
}

RunMessageInput full_run_message_input() {
  return RunMessageInput{"thread-1", SeqRange{1, 12}, {"m-11", "m-12"}, {"m-1", "m-11", "m-12"}};
}

RunMessageOutput full_run_message_output() {
  return RunMessageOutput{"thread-1", SeqRange{13, 14}, {"m-13", "m-14"}};
}

RunActivationSnapshot full_run_activation_snapshot() {
  RunActivationSnapshot s;
  s.intent = full_run_intent();
  s.input = full_run_message_input();
  s.options = full_run_options();
  s.trace = full_run_trace();
  s.seeded_decisions = {full_seeded_decision()};
  s.resolution_id = "resolution-1";
  return s;
}

RunRequestSnapshot full_run_request_snapshot() {
  RunRequestSnapshot s;
  s.origin = RunOrigin::internal;
  s.sender_id = "agent-z";
  s.input_message_ids = {"m-11", "m-12"};
  s.input_message_count = 2;
  s.request_extras = OpaqueJson{R"({"run_mode":"resume","continue_run_id":"run-0"})"};
  s.decisions = {full_seeded_decision()};
  s.frontend_tools = {"ui.confirm"};
  s.parent_thread_id = "thread-parent";
  s.transport_request_id = "req-77";
  return s;
}

TerminationReason full_termination_reason() {
  return TerminationReason{TerminationKind::stopped, "max_steps", "stopped after 10 steps"};
}

RunWaitingState full_run_waiting_state() {
  RunWaitingState w;
  w.reason = WaitingReason::background_tasks;
  w.ticket_ids = {"ticket-1"};
  w.tickets = {WaitingTicket{"ticket-1", "call-1", "search", OpaqueJson{R"({"q":"x"})"}, "replace",
                             std::string("needs approval"), 1'700'000'000'500}};
  w.since_dispatch_id = "dispatch-8";
  w.message = "waiting for approval";
  return w;
}

RunOutcome full_run_outcome() {
  return RunOutcome{full_termination_reason(), std::string("final answer"),
                    OpaqueJson{R"({"message":"boom","retry":false})"}};
}

RunRecord full_run_record() {
  RunRecord r;
  r.run_id = "run-1";
  r.thread_id = "thread-1";
  r.agent_id = "agent-a";
  r.parent_run_id = "run-parent";
  r.resolution_id = "resolution-1";
  r.activation = full_run_activation_snapshot();
  r.request = full_run_request_snapshot();
  r.input = full_run_message_input();
  r.output = full_run_message_output();
  r.status = RunStatus::done;
  r.termination_reason = full_termination_reason();
  r.final_output = "final answer";
  r.error_payload = OpaqueJson{R"({"message":"boom","retry":false})"};
  r.dispatch_id = "dispatch-9";
  r.session_id = "session-3";
  r.transport_request_id = "req-77";
  r.waiting = full_run_waiting_state();  // not valid for Done; round trips must keep it anyway
  r.outcome = full_run_outcome();
  r.created_at = 1'700'000'000;
  r.started_at = 1'700'000'001;
  r.finished_at = 1'700'000'009;
  r.updated_at = 1'700'000'010;
  r.steps = 3;
  r.input_tokens = 1200;
  r.output_tokens = 345;
  r.state = OpaqueJson{R"({"counter":2,"notes":["a","b"]})"};
  return r;
}

AgentEvent full_agent_event() {
  AgentEvent e;
  e.type = AgentEventType::tool_call_done;
  e.seq = 17;
  e.thread_id = "thread-1";
  e.run_id = "run-1";
  e.text = "partial text";
  e.tool_call_id = "call-1";
  e.tool_name = "search";
  e.message_id = "msg-tool-1";
  e.parent_run_id = "run-parent";
  e.code = "E42";
  e.outcome = ToolCallOutcome::suspended;
  e.termination = full_termination_reason();
  e.payload = OpaqueJson{R"({"result":"sunny"})"};
  e.at_ms = 1'700'000'000'777;
  return e;
}

RunDispatchResult full_run_dispatch_result() {
  return RunDispatchResult{"run-1",      "instance-1",  RunStatus::done, full_termination_reason(),
                           std::string("final answer"), std::string("some error")};
}

InterruptOutcome full_interrupt_outcome() { return InterruptOutcome{4, 2, std::string("run-7")}; }

RunDispatch full_run_dispatch() {
  RunDispatch d;
  d.dispatch_id = "dispatch-9";
  d.thread_id = "thread-1";
  d.run_id = "run-1";
  d.priority = 7;
  d.dedupe_key = "dedupe-1";
  d.dispatch_epoch = 3;
  d.status = DispatchStatus::claimed;
  d.available_at = 1'700'000'000'100;
  d.attempt_count = 2;
  d.max_attempts = 4;
  d.last_error = "previous attempt failed";
  d.claim_token = "token-1";
  d.claimed_by = "consumer-1";
  d.lease_until = 1'700'000'030'000;
  d.dispatch_instance_id = "instance-1";
  d.run_status = RunStatus::running;
  d.termination = full_termination_reason();
  d.run_response = "response";
  d.run_error = "error";
  d.completed_at = 1'700'000'020'000;
  d.created_at = 1'700'000'000'000;
  d.updated_at = 1'700'000'010'000;
  return d;
}

Error full_error() { return Error{Errc::fenced, "ack: dispatch 'd1' token mismatch"}; }

}  // namespace mbx::samples
