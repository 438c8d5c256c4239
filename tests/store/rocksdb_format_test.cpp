// The RocksDB store's on-disk format across its changes: a folder written with the former
// per-status counter keys opens with them folded into the single counters key, with the same
// counts and a clean verify(); thread rows of value format 1 (no queue head) are read, and
// claims on them scan the queue index.
#include "store/rocksdb/codec.hpp"
#include "store/rocksdb/column_families.hpp"
#include "store/rocksdb/counters_merge.hpp"
#include "store/rocksdb/keys.hpp"
#include "store/store.hpp"
#include "tests/store/store_factories.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace mbx::store_tests {
namespace {

// Opens the folder with RocksDB itself (the store closed), hands `edit` the database and its
// column family handles, and closes it again.
template <class Edit>
void edit_folder(const std::string& path, Edit edit) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (std::size_t i = 0; i < rdb::kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions o;
    if (i == rdb::kCountersCf) o.merge_operator = rdb::counters_merge_operator();
    descriptors.emplace_back(rdb::kCfNames[i], o);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions{}, path, descriptors, &handles, &raw).ok());
  edit(*raw, handles);
  for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(raw->Close().ok());
  delete raw;
}

// Rewrites the folder's counters as the former layout had them: one key per status (its status
// byte), each holding that status's count.
void write_legacy_counters(const std::string& path, const DispatchCounts& counts) {
  edit_folder(path, [&](rocksdb::DB& raw, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    rocksdb::WriteBatch b;
    ASSERT_TRUE(b.Delete(handles[rdb::kCountersCf], std::string(rdb::kCountersKey)).ok());
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      std::string v;
      rdb::put_u64(v, counts[i]);
      ASSERT_TRUE(b.Put(handles[rdb::kCountersCf], rdb::legacy_counter_key(static_cast<DispatchStatus>(i)), v).ok());
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(raw.Write(wo, &b).ok());
  });
}

// Rewrites the thread row of `thread` in value format 1 (no queue head).
void write_v1_thread_row(const std::string& path, const std::string& thread) {
  edit_folder(path, [&](rocksdb::DB& raw, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    std::string row;
    ASSERT_TRUE(raw.Get(rocksdb::ReadOptions{}, handles[rdb::kThreadsCf], thread, &row).ok());
    rdb::ThreadMeta meta;
    ASSERT_TRUE(is_ok(rdb::decode(row, meta)));
    EXPECT_FALSE(meta.head.empty());
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(raw.Put(wo, handles[rdb::kThreadsCf], thread, rdb::encode_v1(meta)).ok());
  });
}

TEST(RocksdbFormatTest, ThreadRowsWithoutQueueHeadAreReadAndClaimedInOrder) {
  RocksdbStoreFactory factory;
  auto store = factory.open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(is_ok(store->enqueue(make_dispatch("d2", "t-1", "r-d2", kT0 + 1), EnqueueOptions{})));
  ASSERT_TRUE(is_ok(store->enqueue(make_dispatch("d1", "t-1", "r-d1", kT0), EnqueueOptions{})));
  store.reset();

  write_v1_thread_row(factory.path(), "t-1");
  store = factory.open();
  ASSERT_NE(store, nullptr);
  auto problems = store->verify();
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty()) << ::testing::PrintToString(*problems);
  auto state = store->thread_state("t-1");
  ASSERT_TRUE(is_ok(state));
  EXPECT_EQ(state->queued, 2U);
  for (const char* expected : {"d1", "d2"}) {
    auto claimed = store->claim("t-1", kConsumer, kLeaseMs, kT0 + 10, 1);
    ASSERT_TRUE(is_ok(claimed));
    ASSERT_EQ(claimed->size(), 1U);
    EXPECT_EQ(claimed->front().dispatch_id, expected);
    ASSERT_TRUE(is_ok(store->ack(Fence::of(claimed->front()), kT0 + 11)));
    problems = store->verify();
    ASSERT_TRUE(is_ok(problems));
    EXPECT_TRUE(problems->empty()) << ::testing::PrintToString(*problems);
  }
}

TEST(RocksdbFormatTest, PerStatusCountersOfAnOlderFolderAreFoldedIntoOneKeyOnOpen) {
  RocksdbStoreFactory factory;
  auto store = factory.open();
  ASSERT_NE(store, nullptr);
  for (const char* id : {"d1", "d2", "d3"})
    ASSERT_TRUE(is_ok(store->enqueue(make_dispatch(id, std::string("t-") + id), EnqueueOptions{})));
  auto claimed = store->claim("t-d1", kConsumer, kLeaseMs, kT0, 1);
  ASSERT_TRUE(is_ok(claimed));
  ASSERT_EQ(claimed->size(), 1U);
  ASSERT_TRUE(is_ok(store->ack(Fence::of(claimed->front()), kT0 + 1)));
  ASSERT_TRUE(is_ok(store->claim("t-d2", kConsumer, kLeaseMs, kT0 + 2, 1)));
  auto before = store->count_dispatches_by_status();
  ASSERT_TRUE(is_ok(before));
  EXPECT_EQ(count_of(*before, DispatchStatus::queued), 1U);
  EXPECT_EQ(count_of(*before, DispatchStatus::claimed), 1U);
  EXPECT_EQ(count_of(*before, DispatchStatus::acked), 1U);
  store.reset();

  write_legacy_counters(factory.path(), *before);
  store = factory.open();
  ASSERT_NE(store, nullptr);
  auto after = store->count_dispatches_by_status();
  ASSERT_TRUE(is_ok(after));
  EXPECT_EQ(*after, *before);
  auto problems = store->verify();  // also reports any counter key left besides the single one
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty()) << ::testing::PrintToString(*problems);

  // The folded counters keep counting.
  auto next = store->claim("t-d3", kConsumer, kLeaseMs, kT0 + 3, 1);
  ASSERT_TRUE(is_ok(next));
  ASSERT_EQ(next->size(), 1U);
  factory.reopen(store);
  ASSERT_NE(store, nullptr);
  auto last = store->count_dispatches_by_status();
  ASSERT_TRUE(is_ok(last));
  EXPECT_EQ(count_of(*last, DispatchStatus::queued), 0U);
  EXPECT_EQ(count_of(*last, DispatchStatus::claimed), 2U);
  EXPECT_EQ(count_of(*last, DispatchStatus::acked), 1U);
  problems = store->verify();
  ASSERT_TRUE(is_ok(problems));
  EXPECT_TRUE(problems->empty()) << ::testing::PrintToString(*problems);
}

}  // namespace
}  // namespace mbx::store_tests
