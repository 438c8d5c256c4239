#include "actors/lease_keeper.hpp"

#include "messages/type_ids.hpp"

#include <caf/all.hpp>

namespace mbx {

caf::behavior lease_keeper(caf::stateful_actor<LeaseKeeperState>* self, EngineRefs refs, std::int64_t interval_ms) {
  const auto interval = std::chrono::milliseconds(interval_ms);
  self->delayed_send(self, interval, tick_atom::value);
  return {
      [=](tick_atom) {
        self->delayed_send(self, interval, tick_atom::value);
        if (self->state.renewing) return;
        self->state.renewing = true;
        auto me = caf::actor_cast<caf::actor>(self);
        EnginePort* port = refs.port;
        if (!refs.leases->post([me, port] {
              port->renew_leases();
              caf::anon_send(me, finished_atom::value);
            }))
          self->quit();  // the engine is stopping
      },
      [=](finished_atom) { self->state.renewing = false; },
  };
}

}  // namespace mbx
