#include "actors/lease_keeper.hpp"

#include "messages/type_ids.hpp"

#include <caf/all.hpp>

namespace mbx {

caf::behavior lease_keeper(caf::event_based_actor* self, EnginePort* port, std::int64_t interval_ms) {
  const auto interval = std::chrono::milliseconds(interval_ms);
  self->delayed_send(self, interval, tick_atom::value);
  return {
      [=](tick_atom) {
        port->renew_leases();
        self->delayed_send(self, interval, tick_atom::value);
      },
  };
}

}  // namespace mbx
