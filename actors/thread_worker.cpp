#include "actors/thread_worker.hpp"

#include "messages/type_ids.hpp"

#include <caf/all.hpp>

#include <cstdio>

namespace mbx {

namespace {

// A run's identity for the worker: its claim, not only its dispatch (see ThreadWorkerState).
std::string claim_of(const RunDispatch& d) { return d.dispatch_id + "/" + d.claim_token.value_or(""); }

// Runs `d` on this run thread, then the thread's next dispatches while no other job waits for
// a run thread. When one does and the thread has more work, its next claim goes behind that
// job (the worker posts it): threads take turns, and no claim waits in the queue holding a
// lease. A thread with nothing queued is simply finished (its worker may go idle).
void run_here_and_after(const caf::actor& me, EnginePort* port, BlockingPool* runs, RunDispatch d) {
  for (;;) {
    port->execute(d);
    if (runs->queued() > 0) {
      if (port->has_queued(d.thread_id))
        caf::anon_send(me, finished_atom::value, claim_of(d), dispatch_next_atom::value);
      else
        caf::anon_send(me, finished_atom::value, claim_of(d));
      return;
    }
    auto next = port->claim_next(d.thread_id);
    if (!next || !*next) {
      caf::anon_send(me, finished_atom::value, claim_of(d));  // nothing, or a store error (logged)
      return;
    }
    caf::anon_send(me, finished_atom::value, claim_of(d), **next, true);  // the worker records it as running
    d = std::move(**next);
  }
}

void carry_out(caf::stateful_actor<ThreadWorkerActorState>* self, WorkerAction action, const caf::actor& supervisor,
               const EngineRefs& refs, const RunDispatch* dispatch, bool run_here = false) {
  auto me = caf::actor_cast<caf::actor>(self);
  EnginePort* port = refs.port;
  BlockingPool* runs = refs.runs;
  switch (action) {
    case WorkerAction::none:
      return;
    case WorkerAction::claim: {
      // On a run thread: the claim is made when a run thread is free to run what it claims, in
      // the order threads asked (the pool's queue), and the claimed run starts right there.
      std::string thread = self->state.machine.thread_id();
      const bool posted = runs->post([me, port, runs, thread] {
        auto claimed = port->claim_next(thread);
        if (!claimed || !*claimed) {
          caf::anon_send(me, claimed_atom::value);  // nothing, or a store error (logged by the port)
          return;
        }
        caf::anon_send(me, claimed_atom::value, **claimed, true);
        run_here_and_after(me, port, runs, std::move(**claimed));
      });
      if (!posted) self->quit();  // the engine is stopping
      return;
    }
    case WorkerAction::execute: {
      if (run_here) return;  // the run thread that reported the claim is already running it
      const bool posted = runs->post([me, port, runs, d = *dispatch]() mutable { run_here_and_after(me, port, runs, std::move(d)); });
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
      [=](claimed_atom, const RunDispatch& d, bool run_here) {
        carry_out(self, self->state.machine.on_claimed(claim_of(d)), supervisor, refs, &d, run_here);
      },
      [=](claimed_atom) { carry_out(self, self->state.machine.on_claimed(std::nullopt), supervisor, refs, nullptr); },
      [=](finished_atom, const std::string& claim) {
        carry_out(self, self->state.machine.on_finished(claim, std::nullopt), supervisor, refs, nullptr);
      },
      [=](finished_atom, const std::string& claim, dispatch_next_atom) {
        carry_out(self, self->state.machine.on_yielded(claim), supervisor, refs, nullptr);
      },
      [=](finished_atom, const std::string& claim, const RunDispatch& next, bool run_here) {
        carry_out(self, self->state.machine.on_finished(claim, claim_of(next)), supervisor, refs, &next, run_here);
      },
      [=](status_atom) { return std::string(to_string(self->state.machine.status())); },
      [=](stop_atom) { self->quit(); },
  };
}

}  // namespace mbx
