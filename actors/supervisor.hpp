// supervisor: routes every thread's work to that thread's worker (spawning it on demand,
// stopping it when idle, after a short linger and with at most max_idle_workers lingering, so
// idle threads cost no memory while a busy thread keeps its worker between runs), performs interrupts (supersede the
// thread's queued work, cancel its active run, answer when that run has stopped), and wakes
// threads whose delayed work (nack backoff, the inline-claim guard) has become claimable:
// after each scan of the store it arms a timer for the next available_at.
// Never blocks: scans run on the io pool, interrupts on the interrupts pool, one at a time per
// thread (a second interrupt of a thread waits for the first; the answers keep their order).
#pragma once

#include "actors/actor_types.hpp"

#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace mbx {

struct SupervisorState {
  // A user-declared constructor on purpose: CAF 0.17 builds the state from the actor pointer
  // when it can, and C++20 would aggregate-initialize the first member from that pointer.
  SupervisorState() = default;
  struct Worker {
    caf::actor handle;
    std::uint64_t routed = 0;  // messages routed to it; see ThreadWorkerState::routed
    // Idle (it reported so, with nothing routed since): since when, and its place in `idle`.
    std::optional<std::chrono::steady_clock::time_point> idle_since;
    std::list<std::string>::iterator idle_pos;
  };
  std::unordered_map<std::string, Worker> workers;
  std::list<std::string> idle;  // threads of the idle workers, longest idle first
  bool reap_armed = false;      // a (idle_atom, tick_atom) timer is pending
  struct PendingInterrupt {
    std::string supersede_reason;
    Durability durability = Durability::synced;
    caf::response_promise promise;
  };
  // Per thread, in arrival order; the front one is running on the interrupts pool.
  std::unordered_map<std::string, std::deque<PendingInterrupt>> interrupts;
  std::optional<std::chrono::steady_clock::time_point> wake_armed;  // earliest pending timer
  bool scanning = false;
  bool rescan = false;
  static inline const char* name = "mbx.supervisor";
};

caf::behavior supervisor(caf::stateful_actor<SupervisorState>* self, EngineRefs refs);

}  // namespace mbx
