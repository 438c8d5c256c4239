// The RocksDB store's hand-written row encoders (RunDispatch, ThreadMeta) write exactly what
// CAF's binary serialization of the same record writes, and the rows read back as written:
// records with every field set, with every optional empty, and with strings long enough for a
// two-byte size.
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
  }
}

}  // namespace
}  // namespace mbx
