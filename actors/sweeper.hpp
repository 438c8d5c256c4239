// sweeper: every sweep interval asks the engine to reclaim expired leases and hands the threads
// that got work back to the supervisor; every GC interval asks it to purge terminal dispatches,
// event logs and idempotency keys past their TTL. The work runs on the maintenance pool
// (`EngineRefs::maintenance`, one thread), so the actor never blocks and a long sweep never
// delays lease renewals or claims. A pass still running when its next tick comes is skipped.
#pragma once

#include "actors/actor_types.hpp"

#include <caf/stateful_actor.hpp>

namespace mbx {

struct SweeperState {
  // A user-declared constructor on purpose: CAF 0.17 builds the state from the actor pointer
  // when it can, and C++20 would aggregate-initialize the first member from that pointer.
  SweeperState() = default;
  bool sweeping = false;
  bool collecting = false;
  static inline const char* name = "mbx.sweeper";
};

caf::behavior sweeper(caf::stateful_actor<SweeperState>* self, EngineRefs refs, caf::actor supervisor,
                      EngineIntervals intervals);

}  // namespace mbx
