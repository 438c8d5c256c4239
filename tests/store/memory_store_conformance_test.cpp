// The store contract suite (store_conformance.hpp) against MemoryStore, the reference model.
#include "tests/store/store_conformance.hpp"
#include "tests/store/store_factories.hpp"

namespace mbx::store_tests {

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StoreConformance, MemoryStoreFactory);

}  // namespace mbx::store_tests
