// CAF face of messages/ (type_ids.hpp, caf_inspect.hpp): every value type survives CAF 0.17's
// binary serializer with every field set, optionals both empty and set, enums are checked on
// load, a caf::message carrying a RunDispatch survives serialization, and Error <-> caf::error.
#include "messages/type_ids.hpp"
#include "tests/messages/samples.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>
#include <typeindex>
#include <vector>

namespace mbx {
namespace {

class CafRoundtripTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    config_ = std::make_unique<caf::actor_system_config>();
    register_message_types(*config_);
    config_->set("scheduler.max-threads", 1);
    system_ = std::make_unique<caf::actor_system>(*config_);
  }

  static void TearDownTestSuite() {
    system_.reset();
    config_.reset();
  }

  template <class T>
  static std::vector<char> save(const T& value) {
    std::vector<char> buf;
    caf::binary_serializer sink{*system_, buf};
    T copy = value;
    auto err = sink(copy);
    EXPECT_FALSE(err) << system_->render(err);
    return buf;
  }

  template <class T>
  static T load(const std::vector<char>& buf) {
    T out{};
    caf::binary_deserializer source{*system_, buf};
    auto err = source(out);
    EXPECT_FALSE(err) << system_->render(err);
    EXPECT_EQ(source.remaining(), 0u) << "bytes left over";
    return out;
  }

  template <class T>
  static T roundtrip(const T& value) {
    return load<T>(save(value));
  }

  static std::unique_ptr<caf::actor_system_config> config_;
  static std::unique_ptr<caf::actor_system> system_;
};

std::unique_ptr<caf::actor_system_config> CafRoundtripTest::config_;
std::unique_ptr<caf::actor_system> CafRoundtripTest::system_;

// Round trips `value` and also checks the copy differs from a default value (so a no-op
// serializer could not pass).
#define MBX_EXPECT_ROUNDTRIP(value)                      \
  do {                                                   \
    const auto original = (value);                       \
    using ValueType = std::decay_t<decltype(original)>;  \
    EXPECT_NE(original, ValueType{});                    \
    EXPECT_EQ(roundtrip(original), original);            \
  } while (false)

TEST_F(CafRoundtripTest, ErrorRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_error()); }
TEST_F(CafRoundtripTest, OpaqueJsonRoundTrips) { MBX_EXPECT_ROUNDTRIP(OpaqueJson{R"({"a":[1,2,{"b":null}]})"}); }
TEST_F(CafRoundtripTest, ToolCallRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_tool_call()); }
TEST_F(CafRoundtripTest, MessageMetadataRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_message().metadata); }
TEST_F(CafRoundtripTest, MessageRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_message()); }
TEST_F(CafRoundtripTest, ToolMessageRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_tool_message()); }
TEST_F(CafRoundtripTest, MessageRecordRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_message_record()); }
TEST_F(CafRoundtripTest, RunIntentRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_intent()); }
TEST_F(CafRoundtripTest, RunOptionsRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_options()); }
TEST_F(CafRoundtripTest, RunTraceRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_trace()); }
TEST_F(CafRoundtripTest, ToolCallResumeRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_seeded_decision().resume); }
TEST_F(CafRoundtripTest, SeededDecisionRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_seeded_decision()); }
TEST_F(CafRoundtripTest, RunControlRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_activation().control); }
TEST_F(CafRoundtripTest, PersistenceHintsRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_persistence_hints()); }
TEST_F(CafRoundtripTest, RunActivationRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_activation()); }
TEST_F(CafRoundtripTest, SeqRangeRoundTrips) { MBX_EXPECT_ROUNDTRIP((SeqRange{13, 14})); }
TEST_F(CafRoundtripTest, RunMessageInputRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_message_input()); }
TEST_F(CafRoundtripTest, RunMessageOutputRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_message_output()); }
TEST_F(CafRoundtripTest, RunActivationSnapshotRoundTrips) {
  MBX_EXPECT_ROUNDTRIP(samples::full_run_activation_snapshot());
}
TEST_F(CafRoundtripTest, RunRequestSnapshotRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_request_snapshot()); }
TEST_F(CafRoundtripTest, TerminationReasonRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_termination_reason()); }
TEST_F(CafRoundtripTest, WaitingTicketRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_waiting_state().tickets.at(0)); }
TEST_F(CafRoundtripTest, RunWaitingStateRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_waiting_state()); }
TEST_F(CafRoundtripTest, RunOutcomeRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_outcome()); }
TEST_F(CafRoundtripTest, RunRecordRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_record()); }
TEST_F(CafRoundtripTest, AgentEventRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_agent_event()); }
TEST_F(CafRoundtripTest, RunDispatchResultRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_dispatch_result()); }
TEST_F(CafRoundtripTest, RunDispatchRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_run_dispatch()); }
TEST_F(CafRoundtripTest, InterruptOutcomeRoundTrips) { MBX_EXPECT_ROUNDTRIP(samples::full_interrupt_outcome()); }

TEST_F(CafRoundtripTest, VectorsThatCrossActorsRoundTrip) {
  const std::vector<AgentEvent> events{samples::full_agent_event(), AgentEvent{}};
  EXPECT_EQ(roundtrip(events), events);
  const std::vector<RunDispatch> dispatches{samples::full_run_dispatch(), RunDispatch::queued("d", "t", "r", 5)};
  EXPECT_EQ(roundtrip(dispatches), dispatches);
  const std::vector<MessageRecord> records{samples::full_message_record()};
  EXPECT_EQ(roundtrip(records), records);
  EXPECT_EQ(roundtrip(std::vector<RunRecord>{}), std::vector<RunRecord>{});
}

// Default values: every optional empty, every vector empty.
TEST_F(CafRoundtripTest, DefaultValuesWithEmptyOptionalsRoundTrip) {
  EXPECT_EQ(roundtrip(RunRecord{}), RunRecord{});
  EXPECT_EQ(roundtrip(RunDispatch{}), RunDispatch{});
  EXPECT_EQ(roundtrip(AgentEvent{}), AgentEvent{});
  EXPECT_EQ(roundtrip(Message{}), Message{});
  EXPECT_EQ(roundtrip(RunActivation{}), RunActivation{});
}

// An empty optional loads as nullopt even into a target whose optional was set, and a set one
// (also a nested struct, an enum and an empty string) loads with its value.
TEST_F(CafRoundtripTest, EmptyOptionalOverwritesSetTargetAndSetOptionalKeepsValue) {
  RunDispatch empty = samples::full_run_dispatch();
  empty.claim_token.reset();
  empty.termination.reset();
  empty.run_status.reset();
  empty.lease_until.reset();
  RunDispatch target = samples::full_run_dispatch();
  const auto buf = save(empty);  // the deserializer only views the bytes: keep them alive
  caf::binary_deserializer source{*system_, buf};
  ASSERT_FALSE(source(target));
  EXPECT_EQ(target, empty);
  EXPECT_FALSE(target.claim_token.has_value());
  EXPECT_FALSE(target.termination.has_value());

  RunDispatch set = RunDispatch::queued("d", "t", "r", 1);
  set.claim_token = "";
  set.run_status = RunStatus::waiting;
  set.termination = TerminationReason{TerminationKind::error, "", "boom"};
  set.lease_until = -1;
  const auto back = roundtrip(set);
  EXPECT_EQ(back, set);
  ASSERT_TRUE(back.claim_token.has_value());
  EXPECT_EQ(*back.claim_token, "");
  EXPECT_EQ(back.run_status, RunStatus::waiting);
  EXPECT_EQ(back.lease_until, -1);
}

TEST_F(CafRoundtripTest, EmptyOptionalIsOneFlagByte) {
  MessageMetadata empty;
  EXPECT_EQ(save(empty).size(), 3u);  // three absent optionals
  MessageMetadata one;
  one.step_index = 7;
  EXPECT_EQ(save(one).size(), 3u + sizeof(std::uint32_t));
}

TEST_F(CafRoundtripTest, UnknownEnumValueFailsToLoadWithValidationError) {
  TerminationReason reason = samples::full_termination_reason();
  auto buf = save(reason);
  ASSERT_FALSE(buf.empty());
  buf[0] = static_cast<char>(200);  // the kind byte comes first
  TerminationReason out;
  caf::binary_deserializer source{*system_, buf};
  auto err = source(out);
  ASSERT_TRUE(err);
  const Error back = from_caf_error(err);
  EXPECT_EQ(back.code, Errc::validation);
  EXPECT_NE(back.message.find("200"), std::string::npos) << back.message;
}

TEST_F(CafRoundtripTest, TruncatedBytesFailToLoad) {
  auto buf = save(samples::full_run_dispatch());
  buf.resize(buf.size() / 2);
  RunDispatch out;
  caf::binary_deserializer source{*system_, buf};
  EXPECT_TRUE(source(out));
}

TEST_F(CafRoundtripTest, MessageCarryingRunDispatchRoundTrips) {
  const RunDispatch dispatch = samples::full_run_dispatch();
  caf::message msg = caf::make_message(dispatch_next_atom_v, dispatch);
  ASSERT_TRUE((msg.match_elements<dispatch_next_atom, RunDispatch>()));
  EXPECT_EQ(msg.get_as<RunDispatch>(1), dispatch);

  // Serialized as a whole: the deserializer finds RunDispatch through the registered name.
  std::vector<char> buf;
  {
    caf::binary_serializer sink{*system_, buf};
    ASSERT_FALSE(sink(msg));
  }
  caf::message back;
  caf::binary_deserializer source{*system_, buf};
  auto err = source(back);
  ASSERT_FALSE(err) << system_->render(err);
  ASSERT_TRUE((back.match_elements<caf::atom_value, RunDispatch>()));
  EXPECT_EQ(back.get_as<caf::atom_value>(0), caf::atom("dispnext"));
  EXPECT_EQ(back.get_as<RunDispatch>(1), dispatch);
}

TEST_F(CafRoundtripTest, MessageCarryingEventVectorRoundTrips) {
  const std::vector<AgentEvent> events{samples::full_agent_event()};
  caf::message msg = caf::make_message(events);
  std::vector<char> buf;
  {
    caf::binary_serializer sink{*system_, buf};
    ASSERT_FALSE(sink(msg));
  }
  caf::message back;
  caf::binary_deserializer source{*system_, buf};
  ASSERT_FALSE(source(back));
  ASSERT_TRUE(back.match_elements<std::vector<AgentEvent>>());
  EXPECT_EQ(back.get_as<std::vector<AgentEvent>>(0), events);
}

TEST_F(CafRoundtripTest, RegisteredUnderQualifiedNames) {
  const auto& names = config_->type_names_by_rtti;
  auto name_of = [&](const std::type_info& ti) {
    auto i = names.find(std::type_index(ti));
    return i == names.end() ? std::string("<unregistered>") : i->second;
  };
  EXPECT_EQ(name_of(typeid(RunDispatch)), "mbx::RunDispatch");
  EXPECT_EQ(name_of(typeid(RunRecord)), "mbx::RunRecord");
  EXPECT_EQ(name_of(typeid(Error)), "mbx::Error");
  EXPECT_EQ(name_of(typeid(std::vector<AgentEvent>)), "std::vector<mbx::AgentEvent>");
  EXPECT_EQ(name_of(typeid(std::vector<Message>)), "std::vector<mbx::Message>");
  EXPECT_EQ(names.count(std::type_index(typeid(RunControl))), 1u);
}

TEST_F(CafRoundtripTest, DeepToStringPrintsEnumNamesAndOptionals) {
  RunDispatch d = RunDispatch::queued("d-1", "t-1", "r-1", 5);
  const std::string text = caf::deep_to_string(d);
  EXPECT_NE(text.find("RunDispatch("), std::string::npos) << text;
  EXPECT_NE(text.find("queued"), std::string::npos) << text;
  EXPECT_NE(text.find("none"), std::string::npos) << text;
  d.claim_token = "tok-xyz";
  EXPECT_NE(caf::deep_to_string(d).find("tok-xyz"), std::string::npos);
  EXPECT_NE(caf::to_string(caf::make_message(d)).find("tok-xyz"), std::string::npos);
}

TEST_F(CafRoundtripTest, AtomsHaveTheirTexts) {
  EXPECT_EQ(caf::to_string(submit_atom::value), "submit");
  EXPECT_EQ(caf::to_string(dispatch_next_atom::value), "dispnext");
  EXPECT_EQ(caf::to_string(cancel_atom::value), "cancel");
  EXPECT_EQ(caf::to_string(interrupt_atom::value), "interrupt");
  EXPECT_EQ(caf::to_string(status_atom::value), "status");
  EXPECT_EQ(caf::to_string(lease_atom::value), "lease");
  EXPECT_EQ(caf::to_string(sweep_atom::value), "sweep");
  EXPECT_EQ(caf::to_string(stop_atom::value), "stop");
  EXPECT_EQ(caf::to_string(ack_atom::value), "ack");
  EXPECT_EQ(caf::to_string(nack_atom::value), "nack");
  EXPECT_EQ(caf::to_string(event_atom::value), "event");
}

// -- Error <-> caf::error -------------------------------------------------------------------------

TEST_F(CafRoundtripTest, ErrorToCafErrorAndBackKeepsCodeAndMessageForEveryErrc) {
  for (auto code : {Errc::validation, Errc::not_found, Errc::conflict, Errc::fenced, Errc::queue_full, Errc::store,
                    Errc::internal}) {
    const Error e{code, "detail for " + std::string(to_string(code))};
    const caf::error ce = to_caf_error(e);
    ASSERT_TRUE(ce);
    EXPECT_EQ(ce.category(), caf::atom("mailbox"));
    EXPECT_EQ(ce.code(), static_cast<std::uint8_t>(code));
    EXPECT_EQ(from_caf_error(ce), e);
  }
}

TEST_F(CafRoundtripTest, ErrorWithEmptyMessageRoundTrips) {
  const Error e{Errc::not_found, ""};
  EXPECT_EQ(from_caf_error(to_caf_error(e)), e);
}

TEST_F(CafRoundtripTest, MakeErrorFoundByAdlAndErrorCodeEnumAgree) {
  const caf::error a = make_error(Errc::conflict, "version 3 != 4");
  const caf::error b{Errc::conflict, std::string("version 3 != 4")};  // CAF_ERROR_CODE_ENUM
  EXPECT_EQ(a, b);
  EXPECT_EQ(from_caf_error(b), (Error{Errc::conflict, "version 3 != 4"}));
  const caf::error bare{Errc::fenced};
  EXPECT_EQ(from_caf_error(bare), (Error{Errc::fenced, ""}));
}

TEST_F(CafRoundtripTest, CafErrorSurvivesSerialization) {
  const caf::error ce = to_caf_error(samples::full_error());
  std::vector<char> buf;
  {
    caf::binary_serializer sink{*system_, buf};
    caf::error copy = ce;
    ASSERT_FALSE(sink(copy));
  }
  caf::error back;
  caf::binary_deserializer source{*system_, buf};
  ASSERT_FALSE(source(back));
  EXPECT_EQ(from_caf_error(back), samples::full_error());
}

TEST_F(CafRoundtripTest, ForeignCafErrorsBecomeInternal) {
  const Error e = from_caf_error(caf::make_error(caf::sec::request_timeout));
  EXPECT_EQ(e.code, Errc::internal);
  EXPECT_NE(e.message.find("caf: "), std::string::npos) << e.message;

  const Error unknown = from_caf_error(caf::error(99, caf::atom("mailbox"), caf::make_message(std::string("x"))));
  EXPECT_EQ(unknown.code, Errc::internal);
  EXPECT_NE(unknown.message.find("99"), std::string::npos) << unknown.message;

  EXPECT_EQ(from_caf_error(caf::error{}).code, Errc::internal);
}

TEST_F(CafRoundtripTest, SystemRendersMailboxErrors) {
  const std::string text = system_->render(to_caf_error(samples::full_error()));
  EXPECT_EQ(text, "mailbox: fenced: ack: dispatch 'd1' token mismatch");
}

}  // namespace
}  // namespace mbx
