// The RocksDB store's hand-written row codec (RunDispatch, ThreadMeta) writes exactly what CAF's
// binary serialization of the same record writes, and reads rows as CAF does: records with
// every field set, with every optional empty, and with strings long enough for two- and
// three-byte sizes; truncated, padded and corrupted rows are refused or read alike.
#include "store/rocksdb/codec.hpp"
#include "tests/messages/samples.hpp"

#include <gtest/gtest.h>

#include <string>
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
::testing::AssertionResult decoders_agree(const std::string& row) {
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

}  // namespace
}  // namespace mbx
