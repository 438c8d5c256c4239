// lease_keeper: every renewal interval extends the lease of every active run (the engine uses
// the suspended lease for runs waiting on a human; a refused extension cancels that run, which
// then never acks). Spawned detached: renewals are synced store writes, and a dedicated thread
// means a busy io pool can never delay a renewal past the lease (the reference's renewal gap).
#pragma once

#include "actors/actor_types.hpp"

#include <caf/event_based_actor.hpp>

namespace mbx {

caf::behavior lease_keeper(caf::event_based_actor* self, EnginePort* port, std::int64_t interval_ms);

}  // namespace mbx
