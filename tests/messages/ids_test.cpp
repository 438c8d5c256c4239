// Id minting (messages/ids.hpp): UUID v7 text form, time order (also within one millisecond and
// when the clock steps back), embedded milliseconds, uniqueness, thread safety; message id
// normalization; and the text names of every enum (messages/enum_strings.hpp).
#include "messages/enum_strings.hpp"
#include "messages/ids.hpp"
#include "messages/message.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace mbx {
namespace {

constexpr std::int64_t kStartMs = 1'700'000'000'000;

bool is_lower_hex_uuid(const std::string& id) {
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// -- format --------------------------------------------------------------------------------------

TEST(IdsTest, MintedIdsAreCanonicalUuidV7) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  for (int i = 0; i < 1000; ++i) {
    const std::string id = ids.next_id();
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_TRUE(is_uuid_v7(id)) << id;
    EXPECT_TRUE(is_lower_hex_uuid(id)) << id;
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[13], '-');
    EXPECT_EQ(id[18], '-');
    EXPECT_EQ(id[23], '-');
    EXPECT_EQ(id[14], '7') << id;                                        // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 9562 variant
    if (i % 100 == 0) clock.advance_ms(1);
  }
}

TEST(IdsTest, DefaultSourceMintsUuidV7) {
  const std::string id = default_id_source().next_id();
  EXPECT_TRUE(is_uuid_v7(id)) << id;
  EXPECT_NE(default_id_source().next_id(), id);
}

TEST(IdsTest, IsUuidV7RejectsOtherText) {
  EXPECT_TRUE(is_uuid_v7("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"));
  EXPECT_FALSE(is_uuid_v7(""));
  EXPECT_FALSE(is_uuid_v7("not-a-uuid"));
  EXPECT_FALSE(is_uuid_v7("0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b"));   // version 4
  EXPECT_FALSE(is_uuid_v7("0190a1b2-c3d4-7e5f-ca6b-7c8d9e0f1a2b"));   // variant c
  EXPECT_FALSE(is_uuid_v7("0190a1b2c3d47e5f8a6b7c8d9e0f1a2b"));       // no dashes
  EXPECT_FALSE(is_uuid_v7("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2"));    // short
  EXPECT_FALSE(is_uuid_v7("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2bb"));  // long
  EXPECT_FALSE(is_uuid_v7("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2g"));   // not hex
  EXPECT_FALSE(is_uuid_v7("0190a1b2-c3d4_7e5f-8a6b-7c8d9e0f1a2b"));   // wrong separator
}

// -- time order ----------------------------------------------------------------------------------

TEST(IdsTest, IdsSortInMintOrderAsTheClockMovesForward) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  std::vector<std::string> minted;
  for (int i = 0; i < 2000; ++i) {
    minted.push_back(ids.next_id());
    clock.advance_ms(1 + i % 7);
  }
  EXPECT_TRUE(std::is_sorted(minted.begin(), minted.end()));
  EXPECT_EQ(std::set<std::string>(minted.begin(), minted.end()).size(), minted.size());
}

TEST(IdsTest, IdsWithinOneMillisecondSortInMintOrder) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  std::vector<std::string> minted;
  // More than the 4096 ids a 12-bit counter holds in one millisecond.
  for (int i = 0; i < 10'000; ++i) minted.push_back(ids.next_id());
  clock.advance_ms(1);
  for (int i = 0; i < 100; ++i) minted.push_back(ids.next_id());
  clock.advance_ms(10);
  for (int i = 0; i < 100; ++i) minted.push_back(ids.next_id());
  EXPECT_TRUE(std::is_sorted(minted.begin(), minted.end()));
  EXPECT_EQ(std::set<std::string>(minted.begin(), minted.end()).size(), minted.size());
}

TEST(IdsTest, IdsStayOrderedWhenTheClockStepsBack) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  std::vector<std::string> minted;
  minted.push_back(ids.next_id());
  clock.set_ms(kStartMs - 5'000);
  minted.push_back(ids.next_id());
  minted.push_back(ids.next_id());
  clock.set_ms(kStartMs + 1);
  minted.push_back(ids.next_id());
  EXPECT_TRUE(std::is_sorted(minted.begin(), minted.end()));
  EXPECT_EQ(uuid_v7_millis(minted[1]), kStartMs);
}

TEST(IdsTest, UuidV7MillisReturnsTheClocksMilliseconds) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  EXPECT_EQ(uuid_v7_millis(ids.next_id()), kStartMs);
  clock.advance_ms(1234);
  EXPECT_EQ(uuid_v7_millis(ids.next_id()), kStartMs + 1234);
  ManualClock zero(0);
  UuidV7Source zero_ids(zero);
  EXPECT_EQ(uuid_v7_millis(zero_ids.next_id()), 0);
  ManualClock late(0xFFFF'FFFF'FFF0);  // the largest 48-bit times
  UuidV7Source late_ids(late);
  EXPECT_EQ(uuid_v7_millis(late_ids.next_id()), 0xFFFF'FFFF'FFF0);
  EXPECT_EQ(uuid_v7_millis("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"), 0x0190a1b2c3d4);
  EXPECT_EQ(uuid_v7_millis("0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B"), 0x0190a1b2c3d4);
  EXPECT_EQ(uuid_v7_millis("not a uuid"), -1);
}

// -- uniqueness and thread safety ----------------------------------------------------------------

TEST(IdsTest, HundredThousandIdsAreUnique) {
  SystemClock clock;
  UuidV7Source ids(clock);
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(seen.insert(ids.next_id()).second) << "duplicate at " << i;
}

TEST(IdsTest, FourThreadsMintUniqueOrderedIds) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25'000;
  std::vector<std::vector<std::string>> minted(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      minted[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        minted[t].push_back(ids.next_id());
        if (t == 0 && i % 1000 == 0) clock.advance_ms(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::unordered_set<std::string> all;
  for (const auto& list : minted) {
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));  // each thread sees increasing ids
    for (const auto& id : list) {
      EXPECT_TRUE(is_uuid_v7(id)) << id;
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

// -- blank ids and message ids -------------------------------------------------------------------

TEST(IdsTest, IsBlank) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" "));
  EXPECT_TRUE(is_blank(" \t\n"));
  EXPECT_FALSE(is_blank("a"));
  EXPECT_FALSE(is_blank(" a "));
}

TEST(IdsTest, NormalizeMessageIdFillsABlankId) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  for (const char* blank : {"", "   ", "\t"}) {
    Message m;
    m.id = blank;
    m.content = "hi";
    normalize_message_id(m, ids);
    EXPECT_TRUE(is_uuid_v7(m.id)) << m.id;
    EXPECT_EQ(uuid_v7_millis(m.id), kStartMs);
    EXPECT_EQ(m.content, "hi");
  }
}

TEST(IdsTest, NormalizeMessageIdKeepsASetId) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  Message m;
  m.id = "client-chosen-id";
  const Message before = m;
  normalize_message_id(m, ids);
  EXPECT_EQ(m, before);
}

TEST(IdsTest, NormalizeMessageIdsFillsOnlyBlankOnesInOrder) {
  ManualClock clock(kStartMs);
  UuidV7Source ids(clock);
  std::vector<Message> messages(4);
  messages[1].id = "keep-me";
  normalize_message_ids(messages, ids);
  EXPECT_TRUE(is_uuid_v7(messages[0].id));
  EXPECT_EQ(messages[1].id, "keep-me");
  EXPECT_TRUE(is_uuid_v7(messages[2].id));
  EXPECT_TRUE(is_uuid_v7(messages[3].id));
  EXPECT_LT(messages[0].id, messages[2].id);
  EXPECT_LT(messages[2].id, messages[3].id);
}

// -- enum names ----------------------------------------------------------------------------------

// Every enumerator has a distinct name that parses back to it; unknown names fail and leave the
// output untouched; a value outside the enum prints as "unknown".
template <class E>
void expect_names_round_trip(std::initializer_list<E> all, std::initializer_list<const char*> names) {
  ASSERT_EQ(all.size(), names.size());
  std::set<std::string> seen;
  auto name = names.begin();
  for (E v : all) {
    const std::string text(to_string(v));
    EXPECT_EQ(text, *name++);
    EXPECT_TRUE(seen.insert(text).second) << "duplicate name " << text;
    E parsed = *all.begin() == v ? *(all.end() - 1) : *all.begin();
    ASSERT_TRUE(from_string(text, parsed)) << text;
    EXPECT_EQ(parsed, v) << text;
  }
  E untouched = *all.begin();
  EXPECT_FALSE(from_string("no_such_name", untouched));
  EXPECT_FALSE(from_string("", untouched));
  EXPECT_FALSE(from_string(std::string(to_string(*all.begin())) + " ", untouched));
  EXPECT_EQ(untouched, *all.begin());
  EXPECT_EQ(to_string(static_cast<E>(all.size())), "unknown");
}

TEST(EnumStringsTest, RoleNamesRoundTrip) {
  expect_names_round_trip<Role>({Role::system, Role::user, Role::assistant, Role::tool},
                                {"system", "user", "assistant", "tool"});
}

TEST(EnumStringsTest, EveryEnumNameRoundTrips) {
  expect_names_round_trip<Visibility>({Visibility::all, Visibility::internal}, {"all", "internal"});
  expect_names_round_trip<RunKind>({RunKind::new_intent, RunKind::hitl_resume}, {"new_intent", "hitl_resume"});
  expect_names_round_trip<RunMode>({RunMode::foreground, RunMode::background, RunMode::resume, RunMode::internal_wake},
                                   {"foreground", "background", "resume", "internal_wake"});
  expect_names_round_trip<RunOrigin>({RunOrigin::user, RunOrigin::a2a, RunOrigin::internal},
                                     {"user", "a2a", "internal"});
  expect_names_round_trip<ResumeAction>({ResumeAction::resume, ResumeAction::cancel}, {"resume", "cancel"});
  expect_names_round_trip<RunStatus>({RunStatus::created, RunStatus::running, RunStatus::waiting, RunStatus::done},
                                     {"created", "running", "waiting", "done"});
  expect_names_round_trip<TerminationKind>(
      {TerminationKind::natural_end, TerminationKind::behavior_requested, TerminationKind::stopped,
       TerminationKind::cancelled, TerminationKind::blocked, TerminationKind::suspended, TerminationKind::error},
      {"natural_end", "behavior_requested", "stopped", "cancelled", "blocked", "suspended", "error"});
  expect_names_round_trip<WaitingReason>(
      {WaitingReason::tool_permission, WaitingReason::user_input, WaitingReason::background_tasks,
       WaitingReason::external_event, WaitingReason::rate_limit, WaitingReason::manual_pause},
      {"tool_permission", "user_input", "background_tasks", "external_event", "rate_limit", "manual_pause"});
  expect_names_round_trip<AgentEventType>(
      {AgentEventType::run_start, AgentEventType::run_finish, AgentEventType::text_delta,
       AgentEventType::reasoning_delta, AgentEventType::tool_call_start, AgentEventType::tool_call_delta,
       AgentEventType::tool_call_ready, AgentEventType::tool_call_done, AgentEventType::tool_call_resumed,
       AgentEventType::tool_call_cancel, AgentEventType::step_start, AgentEventType::step_end,
       AgentEventType::state_snapshot, AgentEventType::error},
      {"run_start", "run_finish", "text_delta", "reasoning_delta", "tool_call_start", "tool_call_delta",
       "tool_call_ready", "tool_call_done", "tool_call_resumed", "tool_call_cancel", "step_start", "step_end",
       "state_snapshot", "error"});
  expect_names_round_trip<ToolCallOutcome>({ToolCallOutcome::succeeded, ToolCallOutcome::failed,
                                            ToolCallOutcome::suspended},
                                           {"succeeded", "failed", "suspended"});
  expect_names_round_trip<DispatchStatus>(
      {DispatchStatus::queued, DispatchStatus::claimed, DispatchStatus::acked, DispatchStatus::cancelled,
       DispatchStatus::superseded, DispatchStatus::dead_letter},
      {"queued", "claimed", "acked", "cancelled", "superseded", "dead_letter"});
}

TEST(EnumStringsTest, ErrcNamesAreDistinct) {
  std::set<std::string> seen;
  for (auto code : {Errc::validation, Errc::not_found, Errc::conflict, Errc::fenced, Errc::queue_full, Errc::store,
                    Errc::internal}) {
    const std::string text(to_string(code));
    EXPECT_NE(text, "unknown");
    EXPECT_TRUE(seen.insert(text).second) << text;
  }
  EXPECT_EQ(to_string(static_cast<Errc>(0)), "unknown");
  EXPECT_EQ(describe(Error{Errc::fenced, "stale token"}), "fenced: stale token");
}

}  // namespace
}  // namespace mbx
