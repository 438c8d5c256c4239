// The merge operator of the counters column family: values are u64 lanes (one per dispatch
// status), added lane by lane. Shared by the store and by tests that open a folder by hand
// (opening and closing a folder may flush merge operands, which needs the operator).
#pragma once

#include <rocksdb/merge_operator.h>

#include <memory>

namespace mbx::rdb {

[[nodiscard]] std::shared_ptr<rocksdb::MergeOperator> counters_merge_operator();

}  // namespace mbx::rdb
