// sweeper: every sweep interval reclaims expired leases and hands the threads that got work back
// to the supervisor; every GC interval purges terminal dispatches, event logs and idempotency
// keys past their TTL. Spawned detached (its store work is blocking).
#pragma once

#include "actors/actor_types.hpp"

#include <caf/event_based_actor.hpp>

namespace mbx {

caf::behavior sweeper(caf::event_based_actor* self, EnginePort* port, caf::actor supervisor,
                      EngineIntervals intervals);

}  // namespace mbx
