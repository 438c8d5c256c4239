#include "actors/supervisor.hpp"

#include "actors/thread_worker.hpp"
#include "messages/type_ids.hpp"

#include <caf/all.hpp>

namespace mbx {

namespace {

using Self = caf::stateful_actor<SupervisorState>;

SupervisorState::Worker& worker_for(Self* self, const std::string& thread_id, const EngineRefs& refs) {
  auto it = self->state.workers.find(thread_id);
  if (it == self->state.workers.end()) {
    auto me = caf::actor_cast<caf::actor>(self);
    // Not linked: a link is an entry in the supervisor's list of attachables, and every exit
    // of a linked worker removes its entry by a linear search of that list, so with hundreds of
    // thousands of workers alive (a backlog of inline-claimed runs waiting for run threads)
    // the supervisor spent its time unlinking and fell minutes behind. It stops its workers
    // itself when it exits (stop_workers below).
    auto handle = self->spawn(thread_worker, thread_id, me, refs);
    it = self->state.workers.emplace(thread_id, SupervisorState::Worker{std::move(handle), 0, std::nullopt, {}}).first;
  } else if (it->second.idle_since) {  // lingering: busy again
    self->state.idle.erase(it->second.idle_pos);
    it->second.idle_since.reset();
  }
  return it->second;
}

// Stops the worker of `it` (nothing is routed to it since it reported idle).
void stop_worker(Self* self, const EngineRefs& refs, std::unordered_map<std::string, SupervisorState::Worker>::iterator it) {
  if (it->second.idle_since) self->state.idle.erase(it->second.idle_pos);
  self->send(it->second.handle, stop_atom::value);
  const std::string thread_id = it->first;
  self->state.workers.erase(it);
  refs.port->thread_idle(thread_id);
}

// Stops the workers idle for the linger or longer, and arms the timer for the next one.
void reap_idle(Self* self, const EngineRefs& refs) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  const auto linger = std::chrono::milliseconds(refs.idle_worker_linger_ms);
  while (!st.idle.empty()) {
    auto it = st.workers.find(st.idle.front());
    if (*it->second.idle_since + linger > now) break;
    stop_worker(self, refs, it);
  }
  if (st.idle.empty() || st.reap_armed) return;
  const auto due = *st.workers.find(st.idle.front())->second.idle_since + linger;
  st.reap_armed = true;
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(due - now) + std::chrono::milliseconds(1),
                     idle_atom::value, tick_atom::value);
}

void arm_wake(Self* self, std::int64_t in_ms) {
  if (in_ms < 0) in_ms = 0;
  const auto at = std::chrono::steady_clock::now() + std::chrono::milliseconds(in_ms);
  auto& armed = self->state.wake_armed;
  if (armed && *armed <= at && *armed >= std::chrono::steady_clock::now()) return;  // an earlier timer covers it
  armed = at;
  self->delayed_send(self, std::chrono::milliseconds(in_ms), wake_atom::value);
}

void scan(Self* self, const EngineRefs& refs) {
  if (self->state.scanning) {
    self->state.rescan = true;
    return;
  }
  self->state.scanning = true;
  auto me = caf::actor_cast<caf::actor>(self);
  EnginePort* port = refs.port;
  const bool posted = refs.io->post([me, port] {
    auto ready = port->ready_threads();
    for (auto& t : ready.thread_ids) caf::anon_send(me, dispatch_next_atom::value, std::move(t));
    caf::anon_send(me, wake_atom::value, finished_atom::value, ready.next_in_ms.value_or(-1));
  });
  if (!posted) self->state.scanning = false;
}

// Runs the front interrupt of the thread on the interrupts pool; its outcome comes back as
// (interrupt_atom, finished_atom, thread, InterruptOutcome | Error).
void start_interrupt(Self* self, const EngineRefs& refs, const std::string& thread_id) {
  auto& queue = self->state.interrupts[thread_id];
  auto me = caf::actor_cast<caf::actor>(self);
  EnginePort* port = refs.port;
  const bool posted = refs.interrupts->post([me, port, thread_id, reason = queue.front().supersede_reason,
                                             durability = queue.front().durability] {
    auto outcome = port->interrupt(thread_id, reason, durability);
    if (outcome)
      caf::anon_send(me, interrupt_atom::value, finished_atom::value, thread_id, *outcome);
    else
      caf::anon_send(me, interrupt_atom::value, finished_atom::value, thread_id, outcome.error());
  });
  if (posted) return;
  // Stopping: no interrupt runs any more; everyone waiting gets an answer now.
  for (auto& pending : queue) pending.promise.deliver(make_error(Errc::conflict, "the mailbox is stopping"));
  self->state.interrupts.erase(thread_id);
}

// The front interrupt of the thread ended: answer it and start the next one.
template <class Answer>
void finish_interrupt(Self* self, const EngineRefs& refs, const std::string& thread_id, Answer answer) {
  auto it = self->state.interrupts.find(thread_id);
  if (it == self->state.interrupts.end() || it->second.empty()) return;
  it->second.front().promise.deliver(std::move(answer));
  it->second.pop_front();
  if (it->second.empty())
    self->state.interrupts.erase(it);
  else
    start_interrupt(self, refs, thread_id);
}

// The supervisor is exiting: its workers exit with it (they are not linked to it).
void stop_workers(Self* self, const caf::error& reason) {
  for (auto& [thread_id, w] : self->state.workers) self->send_exit(w.handle, reason);
  self->state.workers.clear();
  self->state.idle.clear();
}

}  // namespace

caf::behavior supervisor(Self* self, EngineRefs refs) {
  self->set_exit_handler([self](caf::exit_msg& msg) {
    stop_workers(self, msg.reason);
    self->quit(msg.reason);
  });
  self->set_exception_handler([self](std::exception_ptr&) -> caf::error {
    stop_workers(self, caf::exit_reason::unhandled_exception);
    return caf::exit_reason::unhandled_exception;
  });
  return {
      [=](dispatch_next_atom, const std::string& thread_id) {
        auto& w = worker_for(self, thread_id, refs);
        ++w.routed;
        self->send(w.handle, dispatch_next_atom::value);
      },
      [=](run_atom, const RunDispatch& d) {
        auto& w = worker_for(self, d.thread_id, refs);
        ++w.routed;
        self->send(w.handle, run_atom::value, d);
      },
      [=](idle_atom, const std::string& thread_id, std::uint64_t routed) {
        auto& st = self->state;
        auto it = st.workers.find(thread_id);
        if (it == st.workers.end() || it->second.routed != routed) return;  // more work is on its way
        if (it->second.idle_since) return;  // reported before
        // It lingers, so that the thread's next run (often moments away on a busy thread) needs
        // no new worker; the longest idle one stops at once past max_idle_workers, and with no
        // linger reap_idle stops it right away.
        it->second.idle_since = std::chrono::steady_clock::now();
        it->second.idle_pos = st.idle.insert(st.idle.end(), thread_id);
        while (st.idle.size() > refs.max_idle_workers) stop_worker(self, refs, st.workers.find(st.idle.front()));
        reap_idle(self, refs);
      },
      [=](idle_atom, tick_atom) {
        self->state.reap_armed = false;
        reap_idle(self, refs);
      },
      [=](wake_atom) {
        if (self->state.wake_armed && *self->state.wake_armed <= std::chrono::steady_clock::now())
          self->state.wake_armed.reset();
        scan(self, refs);
      },
      [=](wake_atom, std::int64_t in_ms) { arm_wake(self, in_ms); },
      [=](wake_atom, finished_atom, std::int64_t next_in_ms) {
        self->state.scanning = false;
        if (next_in_ms >= 0) arm_wake(self, next_in_ms);
        if (self->state.rescan) {
          self->state.rescan = false;
          scan(self, refs);
        }
      },
      [=](interrupt_atom, const std::string& thread_id, const std::string& supersede_reason, bool deferred) {
        auto promise = self->make_response_promise();
        auto& queue = self->state.interrupts[thread_id];
        queue.push_back(SupervisorState::PendingInterrupt{
            supersede_reason, deferred ? Durability::deferred : Durability::synced, promise});
        if (queue.size() == 1) start_interrupt(self, refs, thread_id);
        return promise;
      },
      [=](interrupt_atom, finished_atom, const std::string& thread_id, const InterruptOutcome& outcome) {
        finish_interrupt(self, refs, thread_id, outcome);
      },
      [=](interrupt_atom, finished_atom, const std::string& thread_id, const Error& error) {
        finish_interrupt(self, refs, thread_id, to_caf_error(error));
      },
      [=](status_atom) { return static_cast<std::uint64_t>(self->state.workers.size()); },
  };
}

}  // namespace mbx
