// The CAF actor system setup every mailbox process uses: a configuration with every message
// type of messages/ registered (so values cross actors and nodes) and the mailbox error
// category. Called once at process start.
#pragma once

#include <caf/actor_system_config.hpp>

namespace mbx {

// Registers the mailbox's message types and error category on `cfg`; returns it.
caf::actor_system_config& configure_actor_system(caf::actor_system_config& cfg);

}  // namespace mbx
