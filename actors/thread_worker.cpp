#include "actors/thread_worker.hpp"

#include "messages/type_ids.hpp"

#include <caf/all.hpp>

#include <cstdio>

namespace mbx {

namespace {

// A run's identity for the worker: its claim, not only its dispatch (see ThreadWorkerState).
std::string claim_of(const RunDispatch& d) { return d.dispatch_id + "/" + d.claim_token.value_or(""); }

void carry_out(caf::stateful_actor<ThreadWorkerActorState>* self, WorkerAction action, const caf::actor& supervisor,
               const EngineRefs& refs, const RunDispatch* dispatch, bool run_here = false) {
  auto me = caf::actor_cast<caf::actor>(self);
  switch (action) {
    case WorkerAction::none:
      return;
    case WorkerAction::claim: {
      std::string thread = self->state.machine.thread_id();
      EnginePort* port = refs.port;
      const bool posted = refs.io->post([me, port, thread] {
        auto claimed = port->claim_next(thread);
        if (claimed && *claimed)
          caf::anon_send(me, claimed_atom::value, **claimed);
        else
          caf::anon_send(me, claimed_atom::value);  // nothing, or a store error (logged by the port)
      });
      if (!posted) self->quit();  // the engine is stopping
      return;
    }
    case WorkerAction::execute: {
      if (run_here) return;  // the run thread that reported the claim is already running it
      RunDispatch d = *dispatch;
      EnginePort* port = refs.port;
      BlockingPool* runs = refs.runs;
      const bool posted = runs->post([me, port, runs, d]() mutable {
        for (;;) {
          port->execute(d);
          // The worker's next step after a run is always the thread's next claim: made here, on
          // the run's thread, right after the run's end (no hand-off to the I/O pool and back).
          auto next = port->claim_next(d.thread_id);
          if (!next || !*next) {
            caf::anon_send(me, finished_atom::value, claim_of(d));  // nothing, or a store error (logged)
            return;
          }
          // When no other job waits for a run thread, this thread runs the claimed dispatch
          // itself, right away (no hand-off through the worker and the pool); the worker is told
          // it runs here. Otherwise the worker posts it like any other run.
          const bool here = runs->queued() == 0;
          caf::anon_send(me, finished_atom::value, claim_of(d), **next, here);
          if (!here) return;
          d = std::move(**next);
        }
      });
      if (!posted) self->quit();
      return;
    }
    case WorkerAction::report_idle:
      self->send(supervisor, idle_atom::value, self->state.machine.thread_id(), self->state.machine.routed());
      return;
  }
}

}  // namespace

caf::behavior thread_worker(caf::stateful_actor<ThreadWorkerActorState>* self, std::string thread_id,
                            caf::actor supervisor, EngineRefs refs) {
  self->state.machine = ThreadWorkerState(std::move(thread_id));
  return {
      [=](dispatch_next_atom) {
        carry_out(self, self->state.machine.on_dispatch_next(), supervisor, refs, nullptr);
      },
      [=](run_atom, const RunDispatch& d) {
        carry_out(self, self->state.machine.on_start(claim_of(d)), supervisor, refs, &d);
      },
      [=](claimed_atom, const RunDispatch& d) {
        carry_out(self, self->state.machine.on_claimed(claim_of(d)), supervisor, refs, &d);
      },
      [=](claimed_atom) { carry_out(self, self->state.machine.on_claimed(std::nullopt), supervisor, refs, nullptr); },
      [=](finished_atom, const std::string& claim) {
        carry_out(self, self->state.machine.on_finished(claim, std::nullopt), supervisor, refs, nullptr);
      },
      [=](finished_atom, const std::string& claim, const RunDispatch& next, bool run_here) {
        carry_out(self, self->state.machine.on_finished(claim, claim_of(next)), supervisor, refs, &next, run_here);
      },
      [=](status_atom) { return std::string(to_string(self->state.machine.status())); },
      [=](stop_atom) { self->quit(); },
  };
}

}  // namespace mbx
