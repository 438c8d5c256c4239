// The RocksDB store's hand-written row codec (RunDispatch, ThreadMeta, RunRecord, AgentEvent,
// MessageRecord) writes exactly what CAF's binary serialization of the same record writes, and
// reads rows as CAF does: records with every field set (nested records, vectors of several
// elements, non-ASCII strings), with every optional empty, and with strings and vectors long
// enough for two- and three-byte sizes; truncated, padded and corrupted rows are refused or
// read alike, and a bogus vector size is refused without allocating for it.
#include "store/rocksdb/codec.hpp"
#include "tests/messages/samples.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace mbx {
namespace {

std::vector<RunDispatch> dispatches() {
  std::vector<RunDispatch> out;
  out.push_back(samples::full_run_dispatch());
  out.push_back(RunDispatch{});  // every optional empty, every number zero
  auto queued = RunDispatch::queued("d-1", "t-1", "r-1", 1'700'000'000'000);
  out.push_back(queued);
  auto big = samples::full_run_dispatch();
  big.dispatch_id = std::string(300, 'd');    // sizes of two varbytes
  big.run_error = std::string(20'000, 'e');   // and of three
  big.available_at = -5;                      // negative numbers
  big.dispatch_epoch = ~std::uint64_t{0};
  big.attempt_count = 0xFFFFFFFF;
  big.status = DispatchStatus::dead_letter;
  big.run_status = RunStatus::done;
  out.push_back(big);
  return out;
}

TEST(RocksdbCodecTest, RunDispatchRowsAreCafsSerialization) {
  for (const auto& d : dispatches()) {
    const auto row = rdb::encode(d);
    EXPECT_EQ(row, rdb::encode_with_caf(d)) << d.dispatch_id.substr(0, 20);
    RunDispatch back;
    ASSERT_TRUE(rdb::decode(row, back));
    EXPECT_EQ(back, d);
  }
}

// Both decoders on one row: both refuse it, or both read the same record.
template <class T>
::testing::AssertionResult decoders_agree(std::string_view row) {
  T mine;
  T caf;
  const auto a = rdb::decode(row, mine);
  const auto b = rdb::decode_with_caf(row, caf);
  if (a.has_value() != b.has_value())
    return ::testing::AssertionFailure() << "hand-written " << (a ? "reads" : "refuses") << " a row CAF "
                                         << (b ? "reads" : "refuses");
  if (a && !(mine == caf)) return ::testing::AssertionFailure() << "the two read different records";
  return ::testing::AssertionSuccess();
}

TEST(RocksdbCodecTest, RunDispatchRowsAreReadAsCafReadsThem) {
  const auto row = rdb::encode(samples::full_run_dispatch());
  RunDispatch d;
  for (std::size_t n = 0; n < row.size(); ++n) {
    EXPECT_FALSE(rdb::decode(row.substr(0, n), d)) << "truncated to " << n;
    EXPECT_TRUE(decoders_agree<RunDispatch>(row.substr(0, n))) << "truncated to " << n;
  }
  EXPECT_FALSE(rdb::decode(row + '\0', d));
  EXPECT_TRUE(decoders_agree<RunDispatch>(row + '\0'));
  for (std::size_t at = 0; at < row.size(); ++at) {
    for (const char c : {'\x00', '\x01', '\x06', '\x7f', '\x80', '\xff'}) {
      auto corrupt = row;
      corrupt[at] = c;
      EXPECT_TRUE(decoders_agree<RunDispatch>(corrupt)) << "byte " << at << " set to " << static_cast<int>(c);
    }
  }
}

TEST(RocksdbCodecTest, ThreadMetaRowsAreCafsSerialization) {
  rdb::ThreadMeta full;
  full.epoch = 3;
  full.version = 17;
  full.queued = 2;
  full.claimed = "d-7";
  full.latest_run_id = "r-2";
  full.latest_updated_at = -1;
  full.writes = 9;
  full.head = std::string(200, 'q');
  for (const auto& meta : {rdb::ThreadMeta{}, full}) {
    const auto row = rdb::encode(meta);
    EXPECT_EQ(row, rdb::encode_with_caf(meta));
    rdb::ThreadMeta back;
    ASSERT_TRUE(rdb::decode(row, back));
    EXPECT_EQ(back, meta);
    for (std::size_t n = 0; n < row.size(); ++n) EXPECT_TRUE(decoders_agree<rdb::ThreadMeta>(row.substr(0, n))) << n;
    EXPECT_TRUE(decoders_agree<rdb::ThreadMeta>(row + 'x'));
  }
}

// -- RunRecord, AgentEvent, MessageRecord --------------------------------------------------------

// 200 bytes of UTF-8 (two- and three-byte characters) and a NUL: a two-byte varbyte size.
std::string text(const std::string& prefix) {
  std::string out = prefix;
  out.push_back('\0');
  while (out.size() < 200) out += "\u00e9t\u00e9 \u20ac ";
  return out;
}

RunRecord full_run() {
  auto r = samples::full_run_record();
  r.thread_id = text("thread-");
  r.final_output = text("final ");
  r.status = RunStatus::waiting;
  r.steps = std::numeric_limits<std::uint32_t>::max();
  r.input_tokens = std::numeric_limits<std::uint64_t>::max();
  r.created_at = -1;
  r.started_at = std::numeric_limits<std::int64_t>::min();
  auto& a = *r.activation;
  a.seeded_decisions.push_back(SeededDecision{text("call-"), ToolCallResume{}});
  a.seeded_decisions.push_back(SeededDecision{"call-3", ToolCallResume{ResumeAction::resume, OpaqueJson{"1"}, {}}});
  a.input.range.reset();
  a.options.frontend_tools.push_back(text("tool-"));
  a.trace.parent_thread_id.reset();
  auto& q = *r.request;
  q.decisions.push_back(samples::full_seeded_decision());
  q.input_message_ids.push_back(text("m-"));
  for (int i = 0; i < 130; ++i) r.input->selected_message_ids.push_back("m-" + std::to_string(i));  // 2-byte size
  r.output->message_ids.push_back(text("m-"));
  auto& w = *r.waiting;
  w.tickets.push_back(WaitingTicket{});
  w.tickets.push_back(WaitingTicket{"ticket-2", "call-2", text("tool-"), OpaqueJson{text("\"")+"\""}, "append",
                                    std::nullopt, -7});
  w.ticket_ids = {"ticket-1", "", "ticket-2"};
  r.outcome->termination_reason.detail = text("detail ");
  r.state = OpaqueJson{R"({"notes":")" + text("") + R"("})"};
  return r;
}

// Records set only in part: nested records with their own optionals empty, empty vectors.
RunRecord partial_run() {
  RunRecord r;
  r.run_id = "run-2";
  r.thread_id = "thread-2";
  r.activation = RunActivationSnapshot{};
  r.request = RunRequestSnapshot{};
  r.input = RunMessageInput{"thread-2", SeqRange{1, 12}, {}, {}};
  r.output = RunMessageOutput{"thread-2", SeqRange{13, 14}, {"m-13"}};
  r.status = RunStatus::done;
  r.termination_reason = TerminationReason{};
  r.error_payload = OpaqueJson{};
  r.waiting = RunWaitingState{};
  r.outcome = RunOutcome{};
  r.finished_at = 0;
  r.state = OpaqueJson{R"({"counter":2})"};
  return r;
}

std::vector<RunRecord> runs() {
  std::vector<RunRecord> out{samples::full_run_record(), full_run(), partial_run(), RunRecord{}};
  auto big = full_run();
  big.state = OpaqueJson{std::string(20'000, ' ') + "{}"};  // a three-byte size
  big.activation->input.trigger_message_ids.assign(20'000, "m");
  out.push_back(big);
  return out;
}

AgentEvent full_event() {
  auto e = samples::full_agent_event();
  e.text = text("delta ");
  e.tool_name = text("tool-");
  e.termination->code = text("code-");
  e.seq = std::numeric_limits<std::uint64_t>::max();
  e.at_ms = -1;
  e.payload = OpaqueJson{R"({"result":")" + text("") + R"("})"};
  return e;
}

std::vector<AgentEvent> events() {
  std::vector<AgentEvent> out{samples::full_agent_event(), full_event(), AgentEvent{}};
  AgentEvent finish;
  finish.type = AgentEventType::run_finish;
  finish.termination = TerminationReason{};
  finish.outcome = ToolCallOutcome::succeeded;
  out.push_back(finish);
  auto big = full_event();
  big.text = std::string(20'000, 't');
  out.push_back(big);
  return out;
}

MessageRecord full_message() {
  auto m = samples::full_message_record();
  m.thread_id = text("thread-");
  m.message.content = text("content ");
  m.message.tool_calls.push_back(ToolCall{text("call-"), "", OpaqueJson{}});
  m.message.tool_call_id = "call-0";
  m.message.metadata.step_index = std::numeric_limits<std::uint32_t>::max();
  m.seq = std::numeric_limits<std::uint64_t>::max();
  m.created_at = -1;
  return m;
}

std::vector<MessageRecord> messages() {
  std::vector<MessageRecord> out{samples::full_message_record(), full_message(), MessageRecord{}};
  out.push_back(MessageRecord{"thread-1", 2, samples::full_tool_message(), std::nullopt, 5});
  auto big = full_message();
  big.message.content = std::string(20'000, 'c');
  big.message.tool_calls.assign(200, samples::full_tool_call());
  out.push_back(big);
  return out;
}

// The hand-written encoder writes CAF's bytes, and each decoder reads the other's rows back.
template <class T>
void expect_rows_are_cafs_serialization(const std::vector<T>& records) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& x = records[i];
    const auto row = rdb::encode(x);
    const auto caf = rdb::encode_with_caf(x);
    EXPECT_EQ(row, caf) << "record " << i;
    T back;
    ASSERT_TRUE(rdb::decode(caf, back)) << "record " << i;
    EXPECT_EQ(back, x) << "record " << i;
    T by_caf;
    ASSERT_TRUE(rdb::decode_with_caf(row, by_caf)) << "record " << i;
    EXPECT_EQ(by_caf, x) << "record " << i;
  }
}

// Every truncation of a valid row and the row padded are refused (with Errc::store naming the
// record kind), and the hand-written decoder reads every row with one byte corrupted as CAF does.
template <class T>
void expect_bad_rows_refused(const T& x, const std::string& kind) {
  const auto row = rdb::encode(x);
  const std::string_view view = row;
  T out;
  for (std::size_t n = 0; n < row.size(); ++n) {
    const auto r = rdb::decode(view.substr(0, n), out);
    ASSERT_FALSE(r) << kind << " truncated to " << n;
    EXPECT_EQ(r.error().code, Errc::store);
    EXPECT_NE(r.error().message.find("decode " + kind + ": "), std::string::npos) << r.error().message;
    EXPECT_TRUE(decoders_agree<T>(view.substr(0, n))) << kind << " truncated to " << n;
  }
  EXPECT_FALSE(rdb::decode(row + '\0', out));
  EXPECT_TRUE(decoders_agree<T>(row + '\0'));
  for (std::size_t at = 0; at < row.size(); ++at) {
    for (const char c : {'\x00', '\x01', '\x06', '\x7f', '\x80', '\xff'}) {
      auto corrupt = row;
      corrupt[at] = c;
      EXPECT_TRUE(decoders_agree<T>(corrupt)) << kind << " byte " << at << " set to " << static_cast<int>(c);
    }
  }
}

TEST(RocksdbCodecTest, RunRecordRowsAreCafsSerialization) { expect_rows_are_cafs_serialization(runs()); }
TEST(RocksdbCodecTest, AgentEventRowsAreCafsSerialization) { expect_rows_are_cafs_serialization(events()); }
TEST(RocksdbCodecTest, MessageRecordRowsAreCafsSerialization) { expect_rows_are_cafs_serialization(messages()); }

TEST(RocksdbCodecTest, RunRecordRowsAreReadAsCafReadsThem) {
  for (const auto& r : {samples::full_run_record(), full_run(), partial_run(), RunRecord{}})
    expect_bad_rows_refused(r, "RunRecord");
}

TEST(RocksdbCodecTest, AgentEventRowsAreReadAsCafReadsThem) {
  for (const auto& e : {full_event(), AgentEvent{}}) expect_bad_rows_refused(e, "AgentEvent");
}

TEST(RocksdbCodecTest, MessageRecordRowsAreReadAsCafReadsThem) {
  for (const auto& m : {full_message(), MessageRecord{}}) expect_bad_rows_refused(m, "MessageRecord");
}

// A vector size of 2^32 - 1 in a short row is refused at once (no room is reserved for it).
TEST(RocksdbCodecTest, AHugeVectorSizeIsRefused) {
  MessageRecord m;
  m.message.content = "C";
  auto row = rdb::encode(m);
  const auto at = row.find('C') + 1;  // the size of message.tool_calls, 0
  ASSERT_EQ(row[at], '\0');
  row.replace(at, 1, "\xff\xff\xff\xff\x0f");
  MessageRecord out;
  EXPECT_FALSE(rdb::decode(row, out));
  EXPECT_TRUE(decoders_agree<MessageRecord>(row));
}

}  // namespace
}  // namespace mbx
