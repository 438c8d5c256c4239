// The JSON face of messages/: Boost.JSON codecs for every value type. Used by the demo, the
// runtime (legacy request_extras), tools and tests; stateless, thread-safe.
//
//   to_json(x)                -> boost::json::value        (never fails)
//   from_json<T>(value)       -> Result<T>                 (never throws)
//   from_json_text<T>(text)   -> Result<T>                 (size- and depth-limited parse, never throws)
//   boost::json::value_from(x) / value_to<T>(v) / try_value_to<T>(v) also work (tag_invoke below);
//   value_to throws system_error on bad input as its contract says, so prefer from_json.
//
// Encoding rules:
// - Field names are the C++ field names (snake_case); enums are their snake_case names
//   (messages/enum_strings.hpp; Error.code as to_string(Errc), e.g. "fenced").
// - std::optional fields are omitted when empty; vectors are arrays; integers are JSON numbers.
// - OpaqueJson is embedded as a real JSON value. Text that is not valid JSON (it should always
//   be) is embedded as a JSON string holding the raw text rather than failing.
//
// Decoding rules (every failure is Error{Errc::validation, "<path>: <what>"}, the path rooted
// at the type name, e.g. "RunRecord.activation.intent.kind: expected one of new_intent,
// hitl_resume" or "Message.tool_calls[1].id: expected string, got integer"):
// - The top level and every nested struct must be a JSON object. Unknown fields are ignored.
// - Required fields are the identity fields and the type tags (discriminators); a missing one
//   is "missing required field":
//     ToolCall: id, name              Message: role           MessageRecord: thread_id, seq, message
//     RunIntent: thread_id, kind      ToolCallResume: action  SeededDecision: tool_call_id, resume
//     RunActivation: intent           SeqRange: from_seq, to_seq
//     RunMessageInput / RunMessageOutput: thread_id
//     RunActivationSnapshot: intent, input                    TerminationReason: kind
//     WaitingTicket: ticket_id        RunWaitingState: reason RunOutcome: termination_reason
//     RunRecord: run_id, thread_id, status                    AgentEvent: type
//     RunDispatchResult: run_id, status
//     RunDispatch: dispatch_id, thread_id, run_id, status     Error: code
//   Every other field falls back to the struct's default when missing (a Message without
//   "id" decodes with id "", normalized later by normalize_message_id).
// - std::optional fields: missing or null = empty. So an optional OpaqueJson holding JSON
//   null comes back empty. A null for any non-optional field is a type error, except
//   OpaqueJson, where null is a value.
// - Integers must be JSON integers within the field's range: no fractions or exponents
//   (1.0 and 1e3 are rejected), no negatives for unsigned fields, priority <= 255, and so on.
// - Enums must be one of their snake_case names; the error lists the accepted names.
// - OpaqueJson accepts any JSON value and stores it as compact text (numbers in their
//   shortest round-trip form, e.g. 0.5, so the text is stable across round trips); nesting
//   deeper than kMaxJsonDepth or a non-finite number is an error.
// - from_json_text rejects text over kMaxJsonTextBytes and nesting over kMaxJsonDepth before
//   building anything, and reports JSON syntax errors with their byte offset.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"

#include <boost/json/conversion.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <string_view>
#include <utility>

namespace mbx {

inline constexpr std::size_t kMaxJsonTextBytes = 16 * 1024 * 1024;  // from_json_text input limit
inline constexpr std::size_t kMaxJsonDepth = 64;                    // nesting limit (arrays + objects)

// The root of error paths for each type with a JSON codec; empty for every other type.
template <class T>
inline constexpr std::string_view kJsonTypeName{};
template <> inline constexpr std::string_view kJsonTypeName<ToolCall> = "ToolCall";
template <> inline constexpr std::string_view kJsonTypeName<MessageMetadata> = "MessageMetadata";
template <> inline constexpr std::string_view kJsonTypeName<Message> = "Message";
template <> inline constexpr std::string_view kJsonTypeName<MessageRecord> = "MessageRecord";
template <> inline constexpr std::string_view kJsonTypeName<RunIntent> = "RunIntent";
template <> inline constexpr std::string_view kJsonTypeName<RunOptions> = "RunOptions";
template <> inline constexpr std::string_view kJsonTypeName<RunTrace> = "RunTrace";
template <> inline constexpr std::string_view kJsonTypeName<ToolCallResume> = "ToolCallResume";
template <> inline constexpr std::string_view kJsonTypeName<SeededDecision> = "SeededDecision";
template <> inline constexpr std::string_view kJsonTypeName<RunControl> = "RunControl";
template <> inline constexpr std::string_view kJsonTypeName<PersistenceHints> = "PersistenceHints";
template <> inline constexpr std::string_view kJsonTypeName<RunActivation> = "RunActivation";
template <> inline constexpr std::string_view kJsonTypeName<SeqRange> = "SeqRange";
template <> inline constexpr std::string_view kJsonTypeName<RunMessageInput> = "RunMessageInput";
template <> inline constexpr std::string_view kJsonTypeName<RunMessageOutput> = "RunMessageOutput";
template <> inline constexpr std::string_view kJsonTypeName<RunActivationSnapshot> = "RunActivationSnapshot";
template <> inline constexpr std::string_view kJsonTypeName<RunRequestSnapshot> = "RunRequestSnapshot";
template <> inline constexpr std::string_view kJsonTypeName<TerminationReason> = "TerminationReason";
template <> inline constexpr std::string_view kJsonTypeName<WaitingTicket> = "WaitingTicket";
template <> inline constexpr std::string_view kJsonTypeName<RunWaitingState> = "RunWaitingState";
template <> inline constexpr std::string_view kJsonTypeName<RunOutcome> = "RunOutcome";
template <> inline constexpr std::string_view kJsonTypeName<RunRecord> = "RunRecord";
template <> inline constexpr std::string_view kJsonTypeName<AgentEvent> = "AgentEvent";
template <> inline constexpr std::string_view kJsonTypeName<RunDispatchResult> = "RunDispatchResult";
template <> inline constexpr std::string_view kJsonTypeName<RunDispatch> = "RunDispatch";
template <> inline constexpr std::string_view kJsonTypeName<Error> = "Error";
template <> inline constexpr std::string_view kJsonTypeName<InterruptOutcome> = "InterruptOutcome";

// The types listed above: the ones to_json, from_json and value_from / value_to accept.
template <class T>
concept JsonCodecType = !kJsonTypeName<T>.empty();

// -- encoding (messages/json/<type>_json.cpp) ----------------------------------------------------

[[nodiscard]] boost::json::value to_json(const ToolCall& x);
[[nodiscard]] boost::json::value to_json(const MessageMetadata& x);
[[nodiscard]] boost::json::value to_json(const Message& x);
[[nodiscard]] boost::json::value to_json(const MessageRecord& x);
[[nodiscard]] boost::json::value to_json(const RunIntent& x);
[[nodiscard]] boost::json::value to_json(const RunOptions& x);
[[nodiscard]] boost::json::value to_json(const RunTrace& x);
[[nodiscard]] boost::json::value to_json(const ToolCallResume& x);
[[nodiscard]] boost::json::value to_json(const SeededDecision& x);
[[nodiscard]] boost::json::value to_json(const RunControl& x);
[[nodiscard]] boost::json::value to_json(const PersistenceHints& x);
[[nodiscard]] boost::json::value to_json(const RunActivation& x);
[[nodiscard]] boost::json::value to_json(const SeqRange& x);
[[nodiscard]] boost::json::value to_json(const RunMessageInput& x);
[[nodiscard]] boost::json::value to_json(const RunMessageOutput& x);
[[nodiscard]] boost::json::value to_json(const RunActivationSnapshot& x);
[[nodiscard]] boost::json::value to_json(const RunRequestSnapshot& x);
[[nodiscard]] boost::json::value to_json(const TerminationReason& x);
[[nodiscard]] boost::json::value to_json(const WaitingTicket& x);
[[nodiscard]] boost::json::value to_json(const RunWaitingState& x);
[[nodiscard]] boost::json::value to_json(const RunOutcome& x);
[[nodiscard]] boost::json::value to_json(const RunRecord& x);
[[nodiscard]] boost::json::value to_json(const AgentEvent& x);
[[nodiscard]] boost::json::value to_json(const RunDispatchResult& x);
[[nodiscard]] boost::json::value to_json(const RunDispatch& x);
[[nodiscard]] boost::json::value to_json(const Error& x);
[[nodiscard]] boost::json::value to_json(const InterruptOutcome& x);

// -- decoding ------------------------------------------------------------------------------------

// Decodes a parsed value. Defined in detail/json_decoder.hpp and explicitly instantiated for
// every JsonCodecType next to its encoder.
template <JsonCodecType T>
[[nodiscard]] Result<T> from_json(const boost::json::value& value);

namespace detail {
// Parses `text` with the kMaxJsonTextBytes / kMaxJsonDepth limits; errors are rooted at `root`.
[[nodiscard]] Result<boost::json::value> parse_json_text(std::string_view text, std::string_view root);
// The error_code form of a decoding error, for boost::json::try_value_to (category "mbx").
[[nodiscard]] boost::system::error_code to_error_code(const Error& error);
}  // namespace detail

// Parses (limited, never throws) and decodes.
template <JsonCodecType T>
[[nodiscard]] Result<T> from_json_text(std::string_view text) {
  auto value = detail::parse_json_text(text, kJsonTypeName<T>);
  if (!value) return Result<T>(boost::system::in_place_error, value.error());  // T may be Error
  return from_json<T>(*value);
}

// -- Boost.JSON customization (found by argument-dependent lookup) -------------------------------

template <JsonCodecType T>
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const T& x) {
  out = to_json(x);
}

// The path-carrying message of a failure is reduced to an error_code here (Boost.JSON's
// contract); call from_json to keep it.
template <JsonCodecType T>
boost::system::result<T> tag_invoke(boost::json::try_value_to_tag<T>, const boost::json::value& value) {
  auto decoded = from_json<T>(value);
  if (!decoded) return detail::to_error_code(decoded.error());
  return std::move(*decoded);
}

}  // namespace mbx
