// RocksdbStore::memory_usage: RocksDB's own estimates of what it holds in memory.
#include "store/rocksdb/rocksdb_impl.hpp"

namespace mbx {

RocksdbStore::MemoryUsage RocksdbStore::memory_usage() const {
  MemoryUsage out;
  auto* db = impl_->db;
  std::uint64_t v = 0;
  if (db->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &v)) out.memtables = v;
  if (db->GetAggregatedIntProperty("rocksdb.estimate-table-readers-mem", &v)) out.table_readers = v;
  // One block cache is shared by the column families: read it once, not summed over them.
  if (db->GetIntProperty(impl_->cf[0], "rocksdb.block-cache-usage", &v)) out.block_cache = v;
  return out;
}

}  // namespace mbx
