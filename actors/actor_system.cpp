#include "actors/actor_system.hpp"

#include "messages/type_ids.hpp"

namespace mbx {

caf::actor_system_config& configure_actor_system(caf::actor_system_config& cfg) {
  register_message_types(cfg);
  return cfg;
}

}  // namespace mbx
