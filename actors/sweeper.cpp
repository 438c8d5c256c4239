#include "actors/sweeper.hpp"

#include "messages/type_ids.hpp"

#include <caf/all.hpp>

namespace mbx {

caf::behavior sweeper(caf::event_based_actor* self, EnginePort* port, caf::actor supervisor,
                      EngineIntervals intervals) {
  const auto sweep_every = std::chrono::milliseconds(intervals.sweep_ms);
  const auto gc_every = std::chrono::milliseconds(intervals.gc_ms);
  self->delayed_send(self, sweep_every, sweep_atom::value);
  self->delayed_send(self, gc_every, tick_atom::value);
  return {
      [=](sweep_atom) {
        for (auto& thread_id : port->sweep()) self->send(supervisor, dispatch_next_atom::value, std::move(thread_id));
        self->send(supervisor, wake_atom::value);  // and anything else that became claimable
        self->delayed_send(self, sweep_every, sweep_atom::value);
      },
      [=](tick_atom) {
        port->collect_garbage();
        self->delayed_send(self, gc_every, tick_atom::value);
      },
  };
}

}  // namespace mbx
