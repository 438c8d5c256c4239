// JSON codecs under hostile input (messages/json/json_codec.hpp): malformed, truncated, huge,
// deeply nested or mistyped JSON gives a validation error naming the field path; nothing
// crashes or throws.
#include "messages/json/json_codec.hpp"
#include "tests/messages/samples.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace mbx {
namespace {

namespace json = boost::json;

template <class T>
std::string decode_error(std::string_view text) {
  auto r = from_json_text<T>(text);
  if (r) {
    ADD_FAILURE() << "decoded: " << text.substr(0, 200);
    return {};
  }
  EXPECT_EQ(r.error().code, Errc::validation);
  return r.error().message;
}

template <class T>
std::string value_error(const json::value& v) {
  auto r = from_json<T>(v);
  if (r) {
    ADD_FAILURE() << "decoded: " << json::serialize(v).substr(0, 200);
    return {};
  }
  EXPECT_EQ(r.error().code, Errc::validation);
  return r.error().message;
}

// The JSON of `x` with `pointer` replaced by `replacement`, or removed if `remove`.
json::value edited(const json::value& original, std::string_view parent, std::string_view key,
                   const json::value* replacement) {
  json::value v = original;
  boost::system::error_code ec;
  json::value* target = parent.empty() ? &v : v.find_pointer(parent, ec);
  EXPECT_TRUE(target != nullptr && target->is_object()) << parent;
  if (target == nullptr || !target->is_object()) return v;
  if (replacement == nullptr)
    target->as_object().erase(key);
  else
    target->as_object()[key] = *replacement;
  return v;
}

json::value without(const json::value& v, std::string_view parent, std::string_view key) {
  return edited(v, parent, key, nullptr);
}

json::value with(const json::value& v, std::string_view parent, std::string_view key, const json::value& x) {
  return edited(v, parent, key, &x);
}

const std::string kMessageMissing = ": missing required field";

TEST(JsonCodecTest, EmptyAndBlankInputAreErrors) {
  EXPECT_NE(decode_error<Message>("").find("Message: invalid JSON"), std::string::npos);
  EXPECT_NE(decode_error<Message>("   \n").find("invalid JSON"), std::string::npos);
}

TEST(JsonCodecTest, SyntaxErrorsAreErrorsWithTheirOffset) {
  EXPECT_NE(decode_error<Message>(R"({"role":"user",})").find("invalid JSON at byte"), std::string::npos);
  decode_error<Message>(R"({"role":"user"} trailing)");
  decode_error<Message>(R"({"role":"user"}{})");
  decode_error<Message>(R"({role:"user"})");
  decode_error<Message>(R"({"role":'user'})");
  decode_error<Message>(R"({"role":"user","content":"\x"})");
  decode_error<Message>(R"({"role":"user","content":"\ud800"})");
  decode_error<Message>("{\"role\":\"user\",\"content\":\"\xff\xfe\"}");  // invalid UTF-8
  decode_error<Message>(R"({"role":"user","content":"a)" "\n" R"("})");   // raw control character
  decode_error<RunDispatch>(R"({"priority":NaN})");
  EXPECT_EQ(decode_error<Message>(std::string("{\"role\":\"user\"}\0", 16)).find("Message: invalid JSON"), 0u);
}

TEST(JsonCodecTest, EveryTruncationOfAValidDocumentIsAnError) {
  const std::string text = json::serialize(to_json(samples::full_run_record()));
  ASSERT_TRUE(from_json_text<RunRecord>(text));
  for (std::size_t n = 0; n < text.size(); ++n) {
    auto r = from_json_text<RunRecord>(std::string_view(text).substr(0, n));
    ASSERT_FALSE(r) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().code, Errc::validation);
  }
}

TEST(JsonCodecTest, RandomMutationsNeverCrash) {
  const std::string text = json::serialize(to_json(samples::full_run_dispatch()));
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\":,-.0123456789eEtrufalsn \\x";
  for (int i = 0; i < 3000; ++i) {
    std::string t = text;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: t.erase(at, 1 + rng() % 8); break;
        default: t.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
      if (t.empty()) t = "{";
    }
    auto r = from_json_text<RunDispatch>(t);
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::validation);
    }
  }
}

TEST(JsonCodecTest, DeeplyNestedArraysAreRejected) {
  const std::string open(100000, '[');
  EXPECT_NE(decode_error<Message>(open).find("invalid JSON"), std::string::npos);
  EXPECT_NE(decode_error<Message>(open + std::string(100000, ']')).find("invalid JSON"), std::string::npos);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  decode_error<RunRecord>(objects);
  // Inside an opaque field, past the depth limit.
  const std::string deep_args = R"({"id":"c","name":"n","arguments":)" + std::string(70, '[') + std::string(70, ']') + "}";
  decode_error<ToolCall>(deep_args);
  // Within the limit it is fine.
  const std::string ok_args = R"({"id":"c","name":"n","arguments":)" + std::string(60, '[') + std::string(60, ']') + "}";
  auto ok = from_json_text<ToolCall>(ok_args);
  ASSERT_TRUE(ok) << describe(ok.error());
  EXPECT_EQ(ok->arguments.json, std::string(60, '[') + std::string(60, ']'));
}

TEST(JsonCodecTest, DeepValuesBuiltInMemoryAreRejectedInOpaqueFields) {
  json::value deep = json::array{};
  for (int i = 0; i < 200; ++i) deep = json::array{std::move(deep)};
  json::value v = to_json(samples::full_tool_call());
  v.as_object()["arguments"] = deep;
  EXPECT_EQ(value_error<ToolCall>(v), "ToolCall.arguments: nested deeper than 64");
}

TEST(JsonCodecTest, TextOverTheSizeLimitIsRejected) {
  const std::string huge = R"({"role":"user","content":")" + std::string(20 * 1024 * 1024, 'x') + "\"}";
  const std::string error = decode_error<Message>(huge);
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos) << error.substr(0, 200);
}

TEST(JsonCodecTest, OneMebibyteContentIsFine) {
  Message m;
  m.role = Role::user;
  m.content = std::string(1024 * 1024, 'y');
  auto back = from_json_text<Message>(json::serialize(to_json(m)));
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_EQ(back->content.size(), m.content.size());
}

TEST(JsonCodecTest, TopLevelMustBeAnObject) {
  EXPECT_EQ(decode_error<RunDispatch>("[]"), "RunDispatch: expected object, got array");
  EXPECT_EQ(decode_error<RunDispatch>("5"), "RunDispatch: expected object, got integer");
  EXPECT_EQ(decode_error<RunDispatch>("\"x\""), "RunDispatch: expected object, got string");
  EXPECT_EQ(decode_error<RunDispatch>("null"), "RunDispatch: expected object, got null");
  EXPECT_EQ(decode_error<Error>("true"), "Error: expected object, got bool");
  EXPECT_EQ(decode_error<Message>("1.5"), "Message: expected object, got floating-point number");
}

TEST(JsonCodecTest, MissingRequiredFieldsNameTheirPath) {
  struct Case {
    std::string_view parent;
    std::string_view key;
    std::string_view path;
  };
  const json::value record = to_json(samples::full_run_record());
  for (const Case& c : {Case{"", "run_id", "RunRecord.run_id"}, Case{"", "thread_id", "RunRecord.thread_id"},
                        Case{"", "status", "RunRecord.status"},
                        Case{"/activation/intent", "thread_id", "RunRecord.activation.intent.thread_id"},
                        Case{"/activation/intent", "kind", "RunRecord.activation.intent.kind"},
                        Case{"/activation", "input", "RunRecord.activation.input"},
                        Case{"/activation/input/range", "to_seq", "RunRecord.activation.input.range.to_seq"},
                        Case{"/request/decisions/0/resume", "action", "RunRecord.request.decisions[0].resume.action"},
                        Case{"/request/decisions/0", "tool_call_id", "RunRecord.request.decisions[0].tool_call_id"},
                        Case{"/output", "thread_id", "RunRecord.output.thread_id"},
                        Case{"/waiting", "reason", "RunRecord.waiting.reason"},
                        Case{"/waiting/tickets/0", "ticket_id", "RunRecord.waiting.tickets[0].ticket_id"},
                        Case{"/outcome", "termination_reason", "RunRecord.outcome.termination_reason"},
                        Case{"/termination_reason", "kind", "RunRecord.termination_reason.kind"}})
    EXPECT_EQ(value_error<RunRecord>(without(record, c.parent, c.key)), std::string(c.path) + kMessageMissing);

  const json::value dispatch = to_json(samples::full_run_dispatch());
  for (std::string_view key : {"dispatch_id", "thread_id", "run_id", "status"})
    EXPECT_EQ(value_error<RunDispatch>(without(dispatch, "", key)), "RunDispatch." + std::string(key) + kMessageMissing);
  EXPECT_EQ(value_error<RunDispatch>(without(dispatch, "/termination", "kind")),
            "RunDispatch.termination.kind" + kMessageMissing);

  const json::value message = to_json(samples::full_message());
  EXPECT_EQ(value_error<Message>(without(message, "", "role")), "Message.role" + kMessageMissing);
  EXPECT_EQ(value_error<Message>(without(message, "/tool_calls/1", "name")), "Message.tool_calls[1].name" + kMessageMissing);
  EXPECT_EQ(value_error<Message>(without(message, "/tool_calls/0", "id")), "Message.tool_calls[0].id" + kMessageMissing);

  const json::value rec = to_json(samples::full_message_record());
  for (std::string_view key : {"thread_id", "seq", "message"})
    EXPECT_EQ(value_error<MessageRecord>(without(rec, "", key)), "MessageRecord." + std::string(key) + kMessageMissing);
  EXPECT_EQ(value_error<MessageRecord>(without(rec, "/message", "role")), "MessageRecord.message.role" + kMessageMissing);

  const json::value activation = to_json(samples::full_run_activation());
  EXPECT_EQ(value_error<RunActivation>(without(activation, "", "intent")), "RunActivation.intent" + kMessageMissing);
  EXPECT_EQ(value_error<RunActivation>(without(activation, "/messages/1", "role")),
            "RunActivation.messages[1].role" + kMessageMissing);
  EXPECT_EQ(value_error<RunActivation>(without(activation, "/control/seeded_decisions/0", "resume")),
            "RunActivation.control.seeded_decisions[0].resume" + kMessageMissing);

  const json::value result = to_json(samples::full_run_dispatch_result());
  for (std::string_view key : {"run_id", "status"})
    EXPECT_EQ(value_error<RunDispatchResult>(without(result, "", key)),
              "RunDispatchResult." + std::string(key) + kMessageMissing);
  EXPECT_EQ(value_error<AgentEvent>(without(to_json(samples::full_agent_event()), "", "type")),
            "AgentEvent.type" + kMessageMissing);
  EXPECT_EQ(value_error<Error>(without(to_json(samples::full_error()), "", "code")), "Error.code" + kMessageMissing);
  EXPECT_EQ(decode_error<Error>("{}"), "Error.code" + kMessageMissing);
  EXPECT_EQ(decode_error<RunRecord>("{}"), "RunRecord.run_id" + kMessageMissing);
}

TEST(JsonCodecTest, WrongTypesNameTheFieldAndTheKinds) {
  const json::value dispatch = to_json(samples::full_run_dispatch());
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "attempt_count", "2")),
            "RunDispatch.attempt_count: expected unsigned integer, got string");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "dispatch_id", 5)),
            "RunDispatch.dispatch_id: expected string, got integer");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "claim_token", json::array{})),
            "RunDispatch.claim_token: expected string, got array");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "created_at", true)),
            "RunDispatch.created_at: expected integer, got bool");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "status", 1)),
            "RunDispatch.status: expected string (one of queued, claimed, acked, cancelled, superseded, dead_letter), "
            "got integer");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "termination", "stopped")),
            "RunDispatch.termination: expected object, got string");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "lease_until", json::object{})),
            "RunDispatch.lease_until: expected integer, got object");

  const json::value hints = to_json(samples::full_persistence_hints());
  EXPECT_EQ(value_error<PersistenceHints>(with(hints, "", "messages_already_persisted", "true")),
            "PersistenceHints.messages_already_persisted: expected bool, got string");
  EXPECT_EQ(value_error<PersistenceHints>(with(hints, "", "messages_already_persisted", 1)),
            "PersistenceHints.messages_already_persisted: expected bool, got integer");

  const json::value message = to_json(samples::full_message());
  EXPECT_EQ(value_error<Message>(with(message, "", "tool_calls", json::object{})),
            "Message.tool_calls: expected array, got object");
  EXPECT_EQ(value_error<Message>(with(message, "", "tool_calls", json::array{json::object{}, 3})),
            "Message.tool_calls[0].id: missing required field");
  EXPECT_EQ(value_error<Message>(with(message, "/tool_calls/1", "id", nullptr)),
            "Message.tool_calls[1].id: expected string, got null");
  EXPECT_EQ(value_error<Message>(with(message, "/metadata", "step_index", "4")),
            "Message.metadata.step_index: expected unsigned integer, got string");

  const json::value input = to_json(samples::full_run_message_input());
  EXPECT_EQ(value_error<RunMessageInput>(with(input, "", "trigger_message_ids", json::array{"a", 2})),
            "RunMessageInput.trigger_message_ids[1]: expected string, got integer");
  EXPECT_EQ(value_error<RunMessageInput>(with(input, "", "selected_message_ids", "m-1")),
            "RunMessageInput.selected_message_ids: expected array, got string");
}

TEST(JsonCodecTest, NullWhereAnObjectIsRequiredIsAnError) {
  EXPECT_EQ(value_error<RunActivation>(with(to_json(samples::full_run_activation()), "", "intent", nullptr)),
            "RunActivation.intent: expected object, got null");
  EXPECT_EQ(value_error<Message>(with(to_json(samples::full_message()), "", "metadata", nullptr)),
            "Message.metadata: expected object, got null");
  EXPECT_EQ(value_error<MessageRecord>(with(to_json(samples::full_message_record()), "", "message", nullptr)),
            "MessageRecord.message: expected object, got null");
  EXPECT_EQ(value_error<RunOutcome>(with(to_json(samples::full_run_outcome()), "", "termination_reason", nullptr)),
            "RunOutcome.termination_reason: expected object, got null");
  EXPECT_EQ(value_error<Message>(with(to_json(samples::full_message()), "", "tool_calls", json::array{nullptr})),
            "Message.tool_calls[0]: expected object, got null");
  EXPECT_EQ(value_error<Message>(with(to_json(samples::full_message()), "", "content", nullptr)),
            "Message.content: expected string, got null");
}

TEST(JsonCodecTest, NegativeNumbersForUnsignedFieldsAreErrors) {
  EXPECT_EQ(value_error<RunDispatch>(with(to_json(samples::full_run_dispatch()), "", "attempt_count", -1)),
            "RunDispatch.attempt_count: expected unsigned integer, got -1");
  EXPECT_EQ(value_error<MessageRecord>(with(to_json(samples::full_message_record()), "", "seq", -42)),
            "MessageRecord.seq: expected unsigned integer, got -42");
  EXPECT_EQ(decode_error<RunRecord>(R"({"run_id":"r","thread_id":"t","status":"done","input_tokens":-9223372036854775808})"),
            "RunRecord.input_tokens: expected unsigned integer, got -9223372036854775808");
  EXPECT_EQ(value_error<RunDispatch>(with(to_json(samples::full_run_dispatch()), "", "priority", -1)),
            "RunDispatch.priority: expected unsigned integer, got -1");
}

TEST(JsonCodecTest, FloatsForIntegerFieldsAreErrors) {
  const json::value record = to_json(samples::full_message_record());
  for (const char* number : {"1.5", "2.0", "1e3", "-0.0", "1e400"}) {
    const json::value v = with(record, "", "seq", json::parse(number));
    EXPECT_EQ(value_error<MessageRecord>(v), "MessageRecord.seq: expected unsigned integer, got floating-point number")
        << number;
  }
  EXPECT_EQ(value_error<MessageRecord>(with(record, "", "created_at", 1.25)),
            "MessageRecord.created_at: expected integer, got floating-point number");
  EXPECT_EQ(decode_error<ToolCall>(R"({"id":"c","name":"n","arguments":[1e400]})"),
            "ToolCall.arguments: non-finite number");
}

TEST(JsonCodecTest, OutOfRangeIntegersAreErrors) {
  const json::value dispatch = to_json(samples::full_run_dispatch());
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "priority", 256)),
            "RunDispatch.priority: expected unsigned integer <= 255, got 256");
  EXPECT_EQ(value_error<RunDispatch>(with(dispatch, "", "max_attempts", 4294967296LL)),
            "RunDispatch.max_attempts: expected unsigned integer <= 4294967295, got 4294967296");
  EXPECT_EQ(decode_error<RunDispatch>(R"({"dispatch_id":"d","thread_id":"t","run_id":"r","status":"queued",)"
                                      R"("created_at":9223372036854775808})"),
            "RunDispatch.created_at: expected integer in [-9223372036854775808, 9223372036854775807], got "
            "9223372036854775808");
  EXPECT_EQ(decode_error<RunRecord>(R"({"run_id":"r","thread_id":"t","status":"done","input_tokens":18446744073709551616})"),
            "RunRecord.input_tokens: expected unsigned integer, got floating-point number");
  auto ok = from_json_text<RunDispatch>(R"({"dispatch_id":"d","thread_id":"t","run_id":"r","status":"queued",)"
                                        R"("priority":255,"created_at":-9223372036854775808})");
  ASSERT_TRUE(ok) << describe(ok.error());
  EXPECT_EQ(ok->priority, 255);
}

TEST(JsonCodecTest, UnknownEnumNamesListTheAcceptedNames) {
  const json::value record = to_json(samples::full_run_record());
  EXPECT_EQ(value_error<RunRecord>(with(record, "/activation/intent", "kind", "resume_please")),
            "RunRecord.activation.intent.kind: expected one of new_intent, hitl_resume");
  EXPECT_EQ(value_error<RunRecord>(with(record, "", "status", "Done")),
            "RunRecord.status: expected one of created, running, waiting, done");
  EXPECT_EQ(value_error<RunRecord>(with(record, "/waiting", "reason", "")),
            "RunRecord.waiting.reason: expected one of tool_permission, user_input, background_tasks, "
            "external_event, rate_limit, manual_pause");
  EXPECT_EQ(value_error<RunDispatch>(with(to_json(samples::full_run_dispatch()), "", "status", "dead-letter")),
            "RunDispatch.status: expected one of queued, claimed, acked, cancelled, superseded, dead_letter");
  EXPECT_EQ(decode_error<Error>(R"({"code":"boom"})"),
            "Error.code: expected one of validation, not_found, conflict, fenced, queue_full, store, internal");
  EXPECT_EQ(decode_error<AgentEvent>(R"({"type":"text_delta","outcome":"maybe"})"),
            "AgentEvent.outcome: expected one of succeeded, failed, suspended");
  EXPECT_EQ(decode_error<Message>(R"({"role":"unknown"})"),
            "Message.role: expected one of system, user, assistant, tool");
}

TEST(JsonCodecTest, LargeArraysOfWrongTypesFailAtTheFirstBadElement) {
  json::array tools;
  for (int i = 0; i < 100000; ++i) tools.push_back(json::value("t"));
  tools.push_back(json::value(7));
  json::value v = to_json(samples::full_run_options());
  v.as_object()["frontend_tools"] = std::move(tools);
  EXPECT_EQ(value_error<RunOptions>(v), "RunOptions.frontend_tools[100000]: expected string, got integer");
}

}  // namespace
}  // namespace mbx
