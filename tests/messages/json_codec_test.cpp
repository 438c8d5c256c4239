// JSON codecs (messages/json/json_codec.hpp): every message type round-trips with every field
// set, through to_json -> text -> from_json_text and through Boost.JSON's value_from /
// value_to; defaults for missing fields, omitted optionals, ignored unknown fields, enum names
// and embedded OpaqueJson values in the output.
#include "messages/json/json_codec.hpp"
#include "tests/messages/samples.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace mbx {
namespace {

namespace json = boost::json;

template <class T>
void expect_round_trip(const T& x) {
  const std::string text = json::serialize(to_json(x));
  SCOPED_TRACE(text);
  auto back = from_json_text<T>(text);
  ASSERT_TRUE(back) << describe(back.error());
  EXPECT_TRUE(*back == x);
  EXPECT_EQ(json::serialize(to_json(*back)), text) << "re-encoding is not stable";

  auto direct = from_json<T>(to_json(x));
  ASSERT_TRUE(direct) << describe(direct.error());
  EXPECT_TRUE(*direct == x);

  const json::value v = json::value_from(x);
  EXPECT_EQ(json::serialize(v), text);
  EXPECT_TRUE(json::value_to<T>(v) == x);
  auto tried = json::try_value_to<T>(v);
  ASSERT_TRUE(tried) << tried.error().message();
  EXPECT_TRUE(*tried == x);
}

json::object encoded(const auto& x) { return to_json(x).as_object(); }

TEST(JsonCodecTest, ToolCallRoundTrips) { expect_round_trip(samples::full_tool_call()); }
TEST(JsonCodecTest, MessageMetadataRoundTrips) { expect_round_trip(samples::full_message().metadata); }
TEST(JsonCodecTest, MessageRoundTrips) { expect_round_trip(samples::full_message()); }
TEST(JsonCodecTest, ToolMessageRoundTrips) { expect_round_trip(samples::full_tool_message()); }
TEST(JsonCodecTest, MessageRecordRoundTrips) { expect_round_trip(samples::full_message_record()); }
TEST(JsonCodecTest, RunIntentRoundTrips) { expect_round_trip(samples::full_run_intent()); }
TEST(JsonCodecTest, RunOptionsRoundTrips) { expect_round_trip(samples::full_run_options()); }
TEST(JsonCodecTest, RunTraceRoundTrips) { expect_round_trip(samples::full_run_trace()); }
TEST(JsonCodecTest, ToolCallResumeRoundTrips) { expect_round_trip(samples::full_seeded_decision().resume); }
TEST(JsonCodecTest, SeededDecisionRoundTrips) { expect_round_trip(samples::full_seeded_decision()); }
TEST(JsonCodecTest, RunControlRoundTrips) { expect_round_trip(samples::full_run_activation().control); }
TEST(JsonCodecTest, PersistenceHintsRoundTrips) { expect_round_trip(samples::full_persistence_hints()); }
TEST(JsonCodecTest, RunActivationRoundTrips) { expect_round_trip(samples::full_run_activation()); }
TEST(JsonCodecTest, SeqRangeRoundTrips) { expect_round_trip(SeqRange{3, 9}); }
TEST(JsonCodecTest, RunMessageInputRoundTrips) { expect_round_trip(samples::full_run_message_input()); }
TEST(JsonCodecTest, RunMessageOutputRoundTrips) { expect_round_trip(samples::full_run_message_output()); }
TEST(JsonCodecTest, RunActivationSnapshotRoundTrips) { expect_round_trip(samples::full_run_activation_snapshot()); }
TEST(JsonCodecTest, RunRequestSnapshotRoundTrips) { expect_round_trip(samples::full_run_request_snapshot()); }
TEST(JsonCodecTest, TerminationReasonRoundTrips) { expect_round_trip(samples::full_termination_reason()); }
TEST(JsonCodecTest, WaitingTicketRoundTrips) { expect_round_trip(samples::full_run_waiting_state().tickets.at(0)); }
TEST(JsonCodecTest, RunWaitingStateRoundTrips) { expect_round_trip(samples::full_run_waiting_state()); }
TEST(JsonCodecTest, RunOutcomeRoundTrips) { expect_round_trip(samples::full_run_outcome()); }
TEST(JsonCodecTest, RunRecordRoundTrips) { expect_round_trip(samples::full_run_record()); }
TEST(JsonCodecTest, AgentEventRoundTrips) { expect_round_trip(samples::full_agent_event()); }
TEST(JsonCodecTest, RunDispatchResultRoundTrips) { expect_round_trip(samples::full_run_dispatch_result()); }
TEST(JsonCodecTest, InterruptOutcomeRoundTrips) { expect_round_trip(samples::full_interrupt_outcome()); }
TEST(JsonCodecTest, RunDispatchRoundTrips) { expect_round_trip(samples::full_run_dispatch()); }
TEST(JsonCodecTest, ErrorRoundTrips) { expect_round_trip(samples::full_error()); }

TEST(JsonCodecTest, DefaultValuesRoundTrip) {
  expect_round_trip(Message{});
  expect_round_trip(RunRecord{});
  expect_round_trip(RunDispatch{});
  expect_round_trip(AgentEvent{});
  expect_round_trip(RunActivation{});
  expect_round_trip(RunRequestSnapshot{});
}

TEST(JsonCodecTest, IntegerExtremesRoundTrip) {
  RunRecord r = samples::full_run_record();
  r.input_tokens = std::numeric_limits<std::uint64_t>::max();
  r.output_tokens = 0;
  r.created_at = std::numeric_limits<std::int64_t>::min();
  r.updated_at = std::numeric_limits<std::int64_t>::max();
  r.steps = std::numeric_limits<std::uint32_t>::max();
  expect_round_trip(r);
  RunDispatch d = samples::full_run_dispatch();
  d.priority = 255;
  expect_round_trip(d);
  d.priority = 0;
  expect_round_trip(d);
}

TEST(JsonCodecTest, EveryEnumValueRoundTripsByName) {
  for (auto s : {DispatchStatus::queued, DispatchStatus::claimed, DispatchStatus::acked, DispatchStatus::cancelled,
                 DispatchStatus::superseded, DispatchStatus::dead_letter}) {
    RunDispatch d = samples::full_run_dispatch();
    d.status = s;
    EXPECT_EQ(encoded(d).at("status").as_string(), to_string(s));
    expect_round_trip(d);
  }
  for (int t = 0; t <= static_cast<int>(AgentEventType::error); ++t) {
    AgentEvent e = samples::full_agent_event();
    e.type = static_cast<AgentEventType>(t);
    EXPECT_EQ(encoded(e).at("type").as_string(), to_string(e.type));
    expect_round_trip(e);
  }
  for (int k = 0; k <= static_cast<int>(TerminationKind::error); ++k) {
    const TerminationReason t{static_cast<TerminationKind>(k), "c", "d"};
    EXPECT_EQ(encoded(t).at("kind").as_string(), to_string(t.kind));
    expect_round_trip(t);
  }
  for (int c = static_cast<int>(Errc::validation); c <= static_cast<int>(Errc::internal); ++c)
    expect_round_trip(Error{static_cast<Errc>(c), "m"});
}

TEST(JsonCodecTest, EnumsAreWrittenAsSnakeCaseNames) {
  RunDispatch d = samples::full_run_dispatch();
  d.status = DispatchStatus::dead_letter;
  const auto o = encoded(d);
  EXPECT_EQ(o.at("status"), json::value("dead_letter"));
  EXPECT_EQ(o.at("run_status"), json::value("running"));
  EXPECT_EQ(o.at("termination").at("kind"), json::value("stopped"));
  const auto m = encoded(samples::full_message());
  EXPECT_EQ(m.at("role"), json::value("assistant"));
  EXPECT_EQ(m.at("visibility"), json::value("internal"));
  const auto t = encoded(samples::full_run_trace());
  EXPECT_EQ(t.at("run_mode"), json::value("internal_wake"));
  EXPECT_EQ(t.at("origin"), json::value("a2a"));
}

TEST(JsonCodecTest, ErrorIsCodeNameAndMessage) {
  EXPECT_EQ(json::serialize(to_json(samples::full_error())),
            R"({"code":"fenced","message":"ack: dispatch 'd1' token mismatch"})");
}

TEST(JsonCodecTest, FieldNamesAreTheCppFieldNames) {
  const auto o = encoded(samples::full_run_dispatch());
  for (const char* key : {"dispatch_id", "thread_id", "run_id", "priority", "dedupe_key", "dispatch_epoch", "status",
                          "available_at", "attempt_count", "max_attempts", "last_error", "claim_token", "claimed_by",
                          "lease_until", "dispatch_instance_id", "run_status", "termination", "run_response",
                          "run_error", "completed_at", "created_at", "updated_at"})
    EXPECT_TRUE(o.contains(key)) << key;
  EXPECT_EQ(o.size(), 22u);
  EXPECT_EQ(o.at("priority"), json::value(7));
}

TEST(JsonCodecTest, EmptyOptionalsAreOmitted) {
  const auto d = encoded(RunDispatch::queued("d1", "t1", "r1", 1000));
  for (const char* key : {"dedupe_key", "last_error", "claim_token", "claimed_by", "lease_until",
                          "dispatch_instance_id", "run_status", "termination", "run_response", "run_error",
                          "completed_at"})
    EXPECT_FALSE(d.contains(key)) << key;
  EXPECT_EQ(d.at("priority"), json::value(128));
  EXPECT_EQ(d.at("max_attempts"), json::value(5));

  const auto m = encoded(Message{});
  EXPECT_FALSE(m.contains("tool_call_id"));
  EXPECT_EQ(m.at("metadata"), json::value(json::object{}));
  EXPECT_EQ(m.at("tool_calls"), json::value(json::array{}));

  RunRecord r;
  r.run_id = "r1";
  const auto ro = encoded(r);
  for (const char* key : {"activation", "request", "input", "output", "waiting", "outcome", "started_at", "state"})
    EXPECT_FALSE(ro.contains(key)) << key;
}

TEST(JsonCodecTest, MissingDefaultedFieldsTakeTheStructDefaults) {
  auto d = from_json_text<RunDispatch>(R"({"dispatch_id":"d1","thread_id":"t1","run_id":"r1","status":"queued"})");
  ASSERT_TRUE(d) << describe(d.error());
  RunDispatch expected;
  expected.dispatch_id = "d1";
  expected.thread_id = "t1";
  expected.run_id = "r1";
  EXPECT_TRUE(*d == expected);
  EXPECT_EQ(d->priority, kDefaultPriority);
  EXPECT_EQ(d->max_attempts, kDefaultMaxAttempts);

  auto r = from_json_text<RunRecord>(R"({"run_id":"r1","thread_id":"t1","status":"running"})");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->agent_id, "default");
  EXPECT_EQ(r->status, RunStatus::running);
  EXPECT_FALSE(r->activation);

  auto range = from_json_text<SeqRange>(R"({"from_seq":2,"to_seq":5})");
  ASSERT_TRUE(range);
  EXPECT_TRUE(*range == (SeqRange{2, 5}));
}

TEST(JsonCodecTest, MessageWithoutIdDecodesWithBlankId) {
  auto m = from_json_text<Message>(R"({"role":"user","content":"hi"})");
  ASSERT_TRUE(m) << describe(m.error());
  EXPECT_EQ(m->id, "");
  EXPECT_EQ(m->role, Role::user);
  EXPECT_EQ(m->content, "hi");
  EXPECT_EQ(m->visibility, Visibility::all);
  EXPECT_TRUE(m->tool_calls.empty());
}

TEST(JsonCodecTest, NullOptionalsDecodeEmpty) {
  auto m = from_json_text<Message>(
      R"({"role":"tool","tool_call_id":null,"metadata":{"run_id":null,"step_index":null}})");
  ASSERT_TRUE(m) << describe(m.error());
  EXPECT_FALSE(m->tool_call_id);
  EXPECT_FALSE(m->metadata.run_id);
  EXPECT_FALSE(m->metadata.step_index);

  auto r = from_json_text<RunRecord>(
      R"({"run_id":"r","thread_id":"t","status":"done","activation":null,"state":null,"started_at":null})");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_FALSE(r->activation);
  EXPECT_FALSE(r->state);
  EXPECT_FALSE(r->started_at);
}

TEST(JsonCodecTest, OptionalOpaqueHoldingNullComesBackEmpty) {
  RunRecord r;
  r.run_id = "r";
  r.state = OpaqueJson{};  // "null"
  EXPECT_EQ(encoded(r).at("state"), json::value(nullptr));
  auto back = from_json<RunRecord>(to_json(r));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->state);
}

TEST(JsonCodecTest, UnknownFieldsAreIgnored) {
  auto m = from_json_text<Message>(R"({"role":"assistant","future":{"deep":[1,2,{"x":null}]},"tool_calls":
      [{"id":"c1","name":"n","arguments":{},"extra":true}],"metadata":{"new_field":7}})");
  ASSERT_TRUE(m) << describe(m.error());
  ASSERT_EQ(m->tool_calls.size(), 1u);
  EXPECT_EQ(m->tool_calls[0].arguments.json, "{}");

  json::value v = to_json(samples::full_run_record());
  v.as_object()["unknown_top"] = "x";
  v.as_object()["activation"].as_object()["unknown_nested"] = json::array{1, 2};
  auto r = from_json<RunRecord>(v);
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_TRUE(*r == samples::full_run_record());
}

TEST(JsonCodecTest, OpaqueJsonIsEmbeddedAsARealValue) {
  const auto o = encoded(samples::full_tool_call());
  ASSERT_TRUE(o.at("arguments").is_object());
  EXPECT_EQ(o.at("arguments").at("q"), json::value("weather"));
  EXPECT_EQ(o.at("arguments").at("n"), json::value(3));
  const auto r = encoded(samples::full_run_record());
  EXPECT_TRUE(r.at("state").at("notes").is_array());
  const auto e = encoded(samples::full_agent_event());
  EXPECT_EQ(e.at("payload").at("result"), json::value("sunny"));
}

TEST(JsonCodecTest, OpaqueJsonDecodesToCompactStableText) {
  auto t = from_json_text<ToolCall>(
      R"({"id":"c","name":"n","arguments": { "a" : [1, 2.5, -0.125, 1.0, 1e300, true, null, "x\"y\u00e9"], "b":{} }})");
  ASSERT_TRUE(t) << describe(t.error());
  EXPECT_EQ(t->arguments.json, "{\"a\":[1,2.5,-0.125,1.0,1e+300,true,null,\"x\\\"y\u00e9\"],\"b\":{}}");
  auto again = from_json<ToolCall>(to_json(*t));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->arguments.json, t->arguments.json);

  auto scalar = from_json_text<ToolCall>(R"({"id":"c","name":"n","arguments":"text"})");
  ASSERT_TRUE(scalar);
  EXPECT_EQ(scalar->arguments.json, R"("text")");
  auto missing = from_json_text<ToolCall>(R"({"id":"c","name":"n"})");
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->arguments.is_null());
}

TEST(JsonCodecTest, InvalidOpaqueTextIsEmbeddedAsAString) {
  const ToolCall t{"c", "n", OpaqueJson{"{not json"}};
  EXPECT_EQ(encoded(t).at("arguments"), json::value("{not json"));
}

TEST(JsonCodecTest, VectorsConvertThroughValueFromAndValueTo) {
  const std::vector<Message> messages{samples::full_message(), samples::full_tool_message(), Message{}};
  const json::value v = json::value_from(messages);
  ASSERT_TRUE(v.is_array());
  EXPECT_EQ(v.as_array().size(), 3u);
  EXPECT_TRUE(json::value_to<std::vector<Message>>(v) == messages);
}

TEST(JsonCodecTest, ValueToThrowsAtTheLibraryEdgeAndTryValueToDoesNot) {
  const json::value bad = json::parse(R"({"content":"no role"})");
  auto tried = json::try_value_to<Message>(bad);
  ASSERT_FALSE(tried);
  EXPECT_STREQ(tried.error().category().name(), "mbx");
  EXPECT_EQ(tried.error().value(), static_cast<int>(Errc::validation));
  EXPECT_THROW(std::ignore = json::value_to<Message>(bad), boost::system::system_error);

  auto decoded = from_json<Message>(bad);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, Errc::validation);
  EXPECT_EQ(decoded.error().message, "Message.role: missing required field");
}

TEST(JsonCodecTest, HitlIntentKeepsResumeRunId) {
  auto i = from_json_text<RunIntent>(R"({"thread_id":"t","kind":"hitl_resume","resume_run_id":"r0"})");
  ASSERT_TRUE(i) << describe(i.error());
  EXPECT_EQ(i->resume_id(), std::optional<std::string>("r0"));
  EXPECT_FALSE(i->agent_id);
}

}  // namespace
}  // namespace mbx
