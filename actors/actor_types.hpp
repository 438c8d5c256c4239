// What the engine's actors share: the references every behaviour gets at spawn (not messages,
// so they need no type IDs) and the spawn functions. Messages between the actors are the atoms
// of messages/type_ids.hpp with strings, integers and RunDispatch values.
//
//   supervisor    (dispatch_next_atom, thread) | (run_atom, RunDispatch) | (idle_atom, thread, routed)
//                 | (wake_atom) | (wake_atom, in_ms) | (status_atom) -> uint64 workers
//                 | (interrupt_atom, thread, reason, bool deferred) -> InterruptOutcome or a "mailbox"
//                 caf::error (deferred: the epoch bump's write skips its fsync; EnginePort::interrupt)
//   thread_worker (dispatch_next_atom) | (run_atom, RunDispatch) | (claimed_atom[, RunDispatch, bool run_here])
//                 | (finished_atom, claim) | (finished_atom, claim, RunDispatch claimed next, bool run_here)
//                 | (finished_atom, claim, dispatch_next_atom) | (stop_atom) | (status_atom) -> string
//                 (run_here: the run thread that claimed the dispatch runs it itself; the worker only
//                 records it as running. (finished_atom, claim, dispatch_next_atom): the run thread
//                 left the thread's next claim to the worker, as other jobs wait for a run thread)
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
  BlockingPool* io = nullptr;    // the ready-thread scan
  BlockingPool* runs = nullptr;  // workers' claims and agent runs (each blocks a thread of this pool while it runs);
                                 // a claimed run starts on the thread that claimed it, and after a run
                                 // the thread's next one follows there when no other job waits
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
