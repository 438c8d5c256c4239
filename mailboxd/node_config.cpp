#include "mailboxd/node_config.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace mbx::node {

namespace json = boost::json;

namespace {

Result<void> parse_listen(const std::string& text, NodeConfig& c, const std::string& source) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return validation_error(fmt::format("{}: listen address '{}' must be HOST:PORT", source, text));
  std::uint32_t port = 0;
  const std::string p = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || ptr != p.data() + p.size() || port > 65535)
    return validation_error(fmt::format("{}: port '{}' is not a number from 0 to 65535", source, p));
  c.listen_host = text.substr(0, colon);
  if (c.listen_host.size() > 2 && c.listen_host.front() == '[' && c.listen_host.back() == ']')
    c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
  c.listen_port = static_cast<std::uint16_t>(port);
  return {};
}

Result<bool> parse_bool(const std::string& text, const std::string& source) {
  if (text == "1" || text == "true" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "no") return false;
  return validation_error(fmt::format("{}: expected true or false, got '{}'", source, text));
}

template <class Int>
Result<void> json_int(const json::object& o, const char* key, Int* out, const std::string& source) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (!it->value().is_int64() && !it->value().is_uint64())
    return validation_error(fmt::format("{}: {}: expected an integer", source, key));
  const auto v = it->value().is_int64() ? it->value().as_int64() : static_cast<std::int64_t>(it->value().as_uint64());
  if (v < 0) return validation_error(fmt::format("{}: {}: must not be negative", source, key));
  *out = static_cast<Int>(v);
  return {};
}

Result<void> json_string(const json::object& o, const char* key, std::string* out, const std::string& source) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (!it->value().is_string()) return validation_error(fmt::format("{}: {}: expected a string", source, key));
  *out = std::string(it->value().as_string());
  return {};
}

Result<void> apply_file(const std::string& path, NodeConfig& c) {
  std::ifstream in(path);
  if (!in) return validation_error(fmt::format("config file '{}': cannot be read", path));
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(text.str(), ec);
  if (ec) return validation_error(fmt::format("config file '{}': malformed JSON ({})", path, ec.message()));
  if (!v.is_object()) return validation_error(fmt::format("config file '{}': expected a JSON object", path));
  const auto& o = v.as_object();
  const std::string src = "config file '" + path + "'";
  std::string listen;
  for (auto r : {json_string(o, "data_dir", &c.data_dir, src), json_string(o, "listen", &listen, src),
                 json_string(o, "log_level", &c.log_level, src)})
    if (!r) return r;
  if (!listen.empty())
    if (auto r = parse_listen(listen, c, src); !r) return r;
  if (auto it = o.find("sync"); it != o.end()) {
    if (!it->value().is_bool()) return validation_error(src + ": sync: expected true or false");
    c.sync = it->value().as_bool();
  }
  if (auto it = o.find("mailbox"); it != o.end()) {
    if (!it->value().is_object()) return validation_error(src + ": mailbox: expected an object");
    const auto& m = it->value().as_object();
    auto& mc = c.mailbox;
    const std::string ms = src + ": mailbox";
    for (auto r : {json_string(m, "consumer_id", &mc.consumer_id, ms), json_int(m, "lease_ms", &mc.lease_ms, ms),
                   json_int(m, "suspended_lease_ms", &mc.suspended_lease_ms, ms),
                   json_int(m, "lease_renewal_interval_ms", &mc.lease_renewal_interval_ms, ms),
                   json_int(m, "sweep_interval_ms", &mc.sweep_interval_ms, ms),
                   json_int(m, "gc_interval_ms", &mc.gc_interval_ms, ms), json_int(m, "gc_ttl_ms", &mc.gc_ttl_ms, ms),
                   json_int(m, "default_max_attempts", &mc.default_max_attempts, ms),
                   json_int(m, "default_retry_delay_ms", &mc.default_retry_delay_ms, ms),
                   json_int(m, "max_retry_delay_ms", &mc.max_retry_delay_ms, ms),
                   json_int(m, "inline_claim_guard_ms", &mc.inline_claim_guard_ms, ms),
                   json_int(m, "event_channel_capacity", &mc.event_channel_capacity, ms),
                   json_int(m, "append_retries", &mc.append_retries, ms),
                   json_int(m, "max_queued_per_thread", &mc.max_queued_per_thread, ms),
                   json_int(m, "idempotency_window_ms", &mc.idempotency_window_ms, ms),
                   json_int(m, "cancel_wait_ms", &mc.cancel_wait_ms, ms),
                   json_int(m, "shutdown_wait_ms", &mc.shutdown_wait_ms, ms),
                   json_int(m, "io_threads", &mc.io_threads, ms), json_int(m, "run_threads", &mc.run_threads, ms),
                   json_int(m, "interrupt_threads", &mc.interrupt_threads, ms),
                   json_int(m, "actor_threads", &mc.actor_threads, ms),
                   json_int(m, "idle_worker_linger_ms", &mc.idle_worker_linger_ms, ms),
                   json_int(m, "max_idle_workers", &mc.max_idle_workers, ms)})
      if (!r) return r;
  }
  if (auto it = o.find("http"); it != o.end()) {
    if (!it->value().is_object()) return validation_error(src + ": http: expected an object");
    const auto& h = it->value().as_object();
    std::int64_t idle = c.limits.idle_timeout.count();
    for (auto r : {json_int(h, "max_body_bytes", &c.limits.max_body_bytes, src),
                   json_int(h, "max_connections", &c.limits.max_connections, src),
                   json_int(h, "idle_timeout_ms", &idle, src)})
      if (!r) return r;
    c.limits.idle_timeout = std::chrono::milliseconds(idle);
  }
  if (auto it = o.find("agents"); it != o.end()) {
    if (!it->value().is_object()) return validation_error(src + ": agents: expected an object");
    const auto& a = it->value().as_object();
    if (auto s = a.find("scripted"); s != a.end()) {
      if (!s->value().is_object() || !s->value().as_object().contains("script"))
        return validation_error(src + ": agents.scripted: expected {\"script\": [...]}");
      c.scripted_default_script = json::serialize(s->value());
    }
    if (auto e = a.find("exec"); e != a.end()) {
      if (!e->value().is_object()) return validation_error(src + ": agents.exec: expected an object");
      const auto& eo = e->value().as_object();
      auto cmd = eo.find("command");
      if (cmd == eo.end() || !cmd->value().is_array() || cmd->value().as_array().empty())
        return validation_error(src + ": agents.exec.command: expected a non-empty array of strings");
      c.exec_command.clear();
      for (const auto& part : cmd->value().as_array()) {
        if (!part.is_string()) return validation_error(src + ": agents.exec.command: expected strings");
        c.exec_command.emplace_back(part.as_string());
      }
      if (auto r = json_int(eo, "grace_ms", &c.exec_grace_ms, src + ": agents.exec"); !r) return r;
    }
  }
  return {};
}

}  // namespace

std::string node_usage() {
  return "usage: mailboxd [--data-dir DIR] [--listen HOST:PORT] [--config FILE] [--consumer-id ID]\n"
         "                [--log-level LEVEL] [--unsynced]\n"
         "  Serves the mailbox HTTP API (docs/http-api.md) on an embedded RocksDB store.\n"
         "  Defaults: --data-dir ./mailbox-data, --listen 127.0.0.1:8787, synced writes.\n"
         "  Environment: MAILBOX_DATA_DIR, MAILBOX_LISTEN, MAILBOX_CONFIG, MAILBOX_CONSUMER_ID,\n"
         "  MAILBOX_LOG_LEVEL, MAILBOX_SYNC. Precedence: flags > environment > config file > defaults.\n";
}

Result<NodeConfig> load_node_config(int argc, const char* const* argv,
                                    const std::function<const char*(const char*)>& getenv) {
  NodeConfig c;
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  if (const char* f = getenv("MAILBOX_CONFIG"); f != nullptr && *f != '\0') config_file = f;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      c.show_help = true;
      return c;
    }
    if (arg == "--unsynced") {
      flags.emplace_back(arg, "");
      continue;
    }
    std::string name = arg;
    std::string value;
    if (const std::size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= argc) return validation_error("flag " + arg + " needs a value");
      value = argv[++i];
    }
    if (name == "--config") {
      config_file = value;
    } else if (name == "--data-dir" || name == "--listen" || name == "--consumer-id" || name == "--log-level") {
      flags.emplace_back(name, value);
    } else {
      return validation_error("unknown flag " + name + " (see --help)");
    }
  }
  if (!config_file.empty())
    if (auto r = apply_file(config_file, c); !r) return r.error();
  if (const char* v = getenv("MAILBOX_DATA_DIR"); v != nullptr && *v != '\0') c.data_dir = v;
  if (const char* v = getenv("MAILBOX_LISTEN"); v != nullptr && *v != '\0')
    if (auto r = parse_listen(v, c, "MAILBOX_LISTEN"); !r) return r.error();
  if (const char* v = getenv("MAILBOX_CONSUMER_ID"); v != nullptr && *v != '\0') c.mailbox.consumer_id = v;
  if (const char* v = getenv("MAILBOX_LOG_LEVEL"); v != nullptr && *v != '\0') c.log_level = v;
  if (const char* v = getenv("MAILBOX_SYNC"); v != nullptr && *v != '\0') {
    auto b = parse_bool(v, "MAILBOX_SYNC");
    if (!b) return b.error();
    c.sync = *b;
  }
  for (const auto& [name, value] : flags) {
    if (name == "--data-dir") {
      c.data_dir = value;
    } else if (name == "--listen") {
      if (auto r = parse_listen(value, c, "--listen"); !r) return r.error();
    } else if (name == "--consumer-id") {
      c.mailbox.consumer_id = value;
    } else if (name == "--log-level") {
      c.log_level = value;
    } else if (name == "--unsynced") {
      c.sync = false;
    }
  }
  if (c.data_dir.empty()) return validation_error("data_dir must not be empty");
  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end())
    return validation_error("log level '" + c.log_level + "': expected trace, debug, info, warn, error or off");
  if (auto r = c.mailbox.validate(); !r) return r.error();
  return c;
}

}  // namespace mbx::node
