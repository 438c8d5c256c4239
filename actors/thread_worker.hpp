// thread_worker: the actor of one active thread. Thin shell over ThreadWorkerState: claims and
// runs go to the run pool (a claim runs what it claims on the same thread), their outcomes come
// back as messages. Spawned on demand by
// the supervisor (not linked: the supervisor stops its workers when it exits); stops when the
// supervisor confirms it is idle.
#pragma once

#include "actors/actor_types.hpp"
#include "actors/thread_worker_state.hpp"

#include <caf/stateful_actor.hpp>

#include <string>

namespace mbx {

struct ThreadWorkerActorState {
  // A user-declared constructor on purpose: CAF 0.17 builds the state from the actor pointer
  // when it can, and C++20 would aggregate-initialize the first member from that pointer.
  ThreadWorkerActorState() = default;
  ThreadWorkerState machine;
  static inline const char* name = "mbx.thread_worker";
};

caf::behavior thread_worker(caf::stateful_actor<ThreadWorkerActorState>* self, std::string thread_id,
                            caf::actor supervisor, EngineRefs refs);

}  // namespace mbx
