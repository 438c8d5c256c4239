// lease_keeper: every renewal interval asks the engine to extend the lease of every active run
// (the suspended lease for runs waiting on a human; a refused extension cancels that run, which
// then never acks). The renewal runs on its own one-thread pool (`EngineRefs::leases`): a busy
// io pool can never delay a renewal past the lease (the reference's renewal gap), and the actor
// itself never blocks. A renewal still running when the next tick comes is not doubled.
#pragma once

#include "actors/actor_types.hpp"

#include <caf/stateful_actor.hpp>

namespace mbx {

struct LeaseKeeperState {
  // A user-declared constructor on purpose: CAF 0.17 builds the state from the actor pointer
  // when it can, and C++20 would aggregate-initialize the first member from that pointer.
  LeaseKeeperState() = default;
  bool renewing = false;
  static inline const char* name = "mbx.lease_keeper";
};

caf::behavior lease_keeper(caf::stateful_actor<LeaseKeeperState>* self, EngineRefs refs, std::int64_t interval_ms);

}  // namespace mbx
