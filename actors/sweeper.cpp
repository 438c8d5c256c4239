#include "actors/sweeper.hpp"

#include "messages/type_ids.hpp"

#include <caf/all.hpp>

namespace mbx {

caf::behavior sweeper(caf::stateful_actor<SweeperState>* self, EngineRefs refs, caf::actor supervisor,
                      EngineIntervals intervals) {
  const auto sweep_every = std::chrono::milliseconds(intervals.sweep_ms);
  const auto gc_every = std::chrono::milliseconds(intervals.gc_ms);
  self->delayed_send(self, sweep_every, sweep_atom::value);
  self->delayed_send(self, gc_every, tick_atom::value);
  return {
      [=](sweep_atom) {
        self->delayed_send(self, sweep_every, sweep_atom::value);
        if (self->state.sweeping) return;
        self->state.sweeping = true;
        auto me = caf::actor_cast<caf::actor>(self);
        EnginePort* port = refs.port;
        if (!refs.maintenance->post([me, port, supervisor] {
              for (auto& thread_id : port->sweep()) caf::anon_send(supervisor, dispatch_next_atom::value, thread_id);
              caf::anon_send(supervisor, wake_atom::value);  // and anything else that became claimable
              caf::anon_send(me, sweep_atom::value, finished_atom::value);
            }))
          self->quit();
      },
      [=](sweep_atom, finished_atom) { self->state.sweeping = false; },
      [=](tick_atom) {
        self->delayed_send(self, gc_every, tick_atom::value);
        if (self->state.collecting) return;
        self->state.collecting = true;
        auto me = caf::actor_cast<caf::actor>(self);
        EnginePort* port = refs.port;
        if (!refs.maintenance->post([me, port] {
              port->collect_garbage();
              caf::anon_send(me, tick_atom::value, finished_atom::value);
            }))
          self->quit();
      },
      [=](tick_atom, finished_atom) { self->state.collecting = false; },
  };
}

}  // namespace mbx
