// NodeConfig: every setting of mailboxd, with its default, and how it is loaded: defaults,
// then a JSON config file (--config FILE or MAILBOX_CONFIG), then environment variables
// (MAILBOX_DATA_DIR, MAILBOX_LISTEN, MAILBOX_CONSUMER_ID, MAILBOX_LOG_LEVEL, MAILBOX_SYNC), then
// flags. Errors name the setting and its source. Plain value.
#pragma once

#include "mailboxd/http_server.hpp"
#include "messages/error.hpp"
#include "runtime/config.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mbx::node {

struct NodeConfig {
  std::string data_dir = "./mailbox-data";  // Default: ./mailbox-data (RocksDB)
  std::string listen_host = "127.0.0.1";    // Default: 127.0.0.1
  std::uint16_t listen_port = 8787;         // Default: 8787
  bool sync = true;                         // Default: synced store writes (power-loss safe)
  std::string log_level = "info";           // Default: info (trace, debug, info, warn, error, off)
  MailboxConfig mailbox;                    // the engine's settings (config file key "mailbox")
  ServerLimits limits;                      // HTTP limits (config file key "http")
  std::string scripted_default_script;      // Default: none. JSON script for agent "scripted"
  std::vector<std::string> exec_command;    // Default: none. argv of agent "exec"
  std::int64_t exec_grace_ms = 5'000;       // Default: 5 s. SIGTERM -> SIGKILL grace of agent "exec"
  bool show_help = false;
};

// `getenv` is injectable for tests.
[[nodiscard]] Result<NodeConfig> load_node_config(int argc, const char* const* argv,
                                                  const std::function<const char*(const char*)>& getenv);

[[nodiscard]] std::string node_usage();

}  // namespace mbx::node
