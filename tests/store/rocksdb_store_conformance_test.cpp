// The store contract suite (store_conformance.hpp) against RocksdbStore, one fresh database
// folder per test (sync off; durability is rocksdb_persistence_test.cpp's subject).
#include "tests/store/store_conformance.hpp"
#include "tests/store/store_factories.hpp"

namespace mbx::store_tests {

INSTANTIATE_TYPED_TEST_SUITE_P(Rocksdb, StoreConformance, RocksdbStoreFactory);

}  // namespace mbx::store_tests
