// What the engine's actors share: the references every behaviour gets at spawn (not messages,
// so they need no type IDs) and the spawn functions. Messages between the actors are the atoms
// of messages/type_ids.hpp with strings, integers and RunDispatch values.
//
//   supervisor    (dispatch_next_atom, thread) | (run_atom, RunDispatch) | (idle_atom, thread, routed)
//                 | (wake_atom) | (wake_atom, in_ms) | (status_atom) -> uint64 workers
//                 | (interrupt_atom, thread, reason, bool deferred) -> InterruptOutcome or a "mailbox"
//                 caf::error (deferred: the epoch bump's write skips its fsync; EnginePort::interrupt)
//   thread_worker (dispatch_next_atom) | (run_atom, RunDispatch) | (claimed_atom[, RunDispatch])
//                 | (finished_atom, claim) | (finished_atom, claim, RunDispatch claimed next, bool run_here)
//                 | (stop_atom) | (status_atom) -> string
//                 (run_here: the run thread runs the next dispatch itself, as no other job waits for
//                 a run thread; the worker only records it as running)
//   lease_keeper  (tick_atom) every renewal interval; renewals run on the leases pool
//   sweeper       (sweep_atom) every sweep interval, (tick_atom) every GC interval; on the maintenance pool
#pragma once

#include "actors/blocking_pool.hpp"
#include "actors/engine_port.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <cstddef>
#include <cstdint>

namespace mbx {

struct EngineRefs {
  EnginePort* port = nullptr;
  BlockingPool* io = nullptr;    // claims and scans
  BlockingPool* runs = nullptr;  // agent runs (each blocks a thread of this pool while it runs), the claim after each,
                                 // and the thread's next run when no other job waits
  BlockingPool* leases = nullptr;       // lease renewals only (one thread)
  BlockingPool* maintenance = nullptr;  // sweeps and garbage collection (one thread)
  BlockingPool* interrupts = nullptr;   // interrupts: a synced write, then the wait for the old run
  std::int64_t idle_worker_linger_ms = 1'000;  // an idle worker stops after this long idle (0: at once)
  std::size_t max_idle_workers = 1'024;        // idle workers kept at most; past it the longest idle one stops
};

struct EngineIntervals {
  std::int64_t lease_renewal_ms = 10'000;
  std::int64_t sweep_ms = 30'000;
  std::int64_t gc_ms = 60'000;
};

}  // namespace mbx
