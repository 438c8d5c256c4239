// mailboxd: the mailbox node. Opens the embedded RocksDB store, registers the built-in agents
// (echo, scripted, exec), starts the engine and serves the HTTP API until SIGTERM or SIGINT,
// then stops accepting, releases running runs' dispatches, flushes and exits 0.
// Configuration: mailboxd/node_config.hpp (flags > environment > JSON file > defaults).
#include "agents/agent_registry.hpp"
#include "agents/echo_agent.hpp"
#include "agents/exec_agent.hpp"
#include "agents/scripted_agent.hpp"
#include "mailboxd/api.hpp"
#include "mailboxd/http_server.hpp"
#include "mailboxd/node_config.hpp"
#include "runtime/mailbox.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace {

int fail(const std::string& message, int code = 1) {
  std::cerr << "mailboxd: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that went away is a write error, not a crash

  auto config = mbx::node::load_node_config(argc, argv, [](const char* k) { return std::getenv(k); });
  if (!config) return fail(config.error().message + " (see --help)", 2);
  if (config->show_help) {
    std::cout << mbx::node::node_usage();
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));

  mbx::RocksdbOptions store_options;
  store_options.path = config->data_dir;
  store_options.sync = config->sync;
  auto store = mbx::RocksdbStore::open(store_options);
  if (!store) {
    const std::string& m = store.error().message;
    if (m.find("lock") != std::string::npos || m.find("Lock") != std::string::npos)
      return fail("the data folder '" + config->data_dir +
                  "' is in use by another mailboxd (its RocksDB lock is held); stop that one or use --data-dir");
    return fail("cannot open the store in '" + config->data_dir + "': " + m);
  }

  mbx::AgentRegistry agents;
  auto echo = std::make_shared<mbx::EchoAgent>();
  std::ignore = agents.add("echo", echo);     // fresh registry: ids are free
  std::ignore = agents.add("default", echo);  // runs that name no agent
  auto scripted = std::make_shared<mbx::ScriptedAgent>(config->scripted_default_script);
  if (auto r = scripted->check_default(); !r) return fail("agents.scripted: " + r.error().message, 2);
  std::ignore = agents.add("scripted", scripted);
  if (!config->exec_command.empty()) {
    mbx::ExecAgentConfig exec;
    exec.argv = config->exec_command;
    exec.kill_grace = std::chrono::milliseconds(config->exec_grace_ms);
    std::ignore = agents.add("exec", std::make_shared<mbx::ExecAgent>(exec));
  }

  auto mailbox = mbx::Mailbox::start(**store, agents, config->mailbox);
  if (!mailbox) return fail("cannot start the engine: " + mbx::describe(mailbox.error()));
  mbx::node::Api api(**mailbox);
  mbx::node::HttpServer server(api, config->limits);
  if (auto r = server.listen(config->listen_host, config->listen_port); !r) {
    (*mailbox)->stop();
    return fail(r.error().message);
  }
  server.start();
  std::cout << "mailboxd: listening on http://" << config->listen_host << ":" << server.port() << " (data in "
            << config->data_dir << ", agents:";
  for (const auto& id : agents.ids()) std::cout << " " << id;
  std::cout << ")\n"
            << "  try: curl -s -XPOST http://" << config->listen_host << ":" << server.port()
            << "/v1/threads/demo/messages -d '{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
               "\"agent_id\":\"echo\",\"stream\":true}'\n"
            << std::flush;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("mailboxd: {} received; stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  server.stop();
  (*mailbox)->stop();
  mailbox->reset();
  store->reset();  // flushes and closes RocksDB
  spdlog::info("mailboxd: stopped");
  return 0;
}
