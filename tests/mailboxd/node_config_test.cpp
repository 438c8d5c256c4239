#include "mailboxd/node_config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace mbx::node {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  std::function<const char*(const char*)> fn() {
    return [this](const char* k) -> const char* {
      auto it = vars.find(k);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

Result<NodeConfig> load(std::vector<const char*> args, Env env = {}) {
  args.insert(args.begin(), "mailboxd");
  return load_node_config(static_cast<int>(args.size()), args.data(), env.fn());
}

TEST(NodeConfigTest, DefaultsNeedNoConfiguration) {
  auto c = load({});
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_EQ(c->data_dir, "./mailbox-data");
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8787);
  EXPECT_TRUE(c->sync);
}

TEST(NodeConfigTest, FlagsBeatEnvironmentBeatsFile) {
  const std::string path = ::testing::TempDir() + "/mailboxd-config.json";
  {
    std::ofstream f(path);
    f << R"({"data_dir":"/from/file","listen":"127.0.0.1:1000","mailbox":{"lease_ms":5000,"lease_renewal_interval_ms":1000},
            "agents":{"exec":{"command":["python3","agent.py"]}}})";
  }
  Env env;
  env.vars["MAILBOX_LISTEN"] = "127.0.0.1:2000";
  env.vars["MAILBOX_DATA_DIR"] = "/from/env";
  auto c = load({"--config", path.c_str(), "--data-dir", "/from/flag"}, env);
  ASSERT_TRUE(c) << describe(c.error());
  EXPECT_EQ(c->data_dir, "/from/flag");
  EXPECT_EQ(c->listen_port, 2000);
  EXPECT_EQ(c->mailbox.lease_ms, 5000);
  ASSERT_EQ(c->exec_command.size(), 2u);
  std::remove(path.c_str());
}

TEST(NodeConfigTest, BadSettingsAreNamed) {
  for (auto args : std::vector<std::vector<const char*>>{{"--listen", "nowhere"},
                                                         {"--listen", "127.0.0.1:99999"},
                                                         {"--bogus", "1"},
                                                         {"--data-dir"},
                                                         {"--log-level", "loud"},
                                                         {"--config", "/no/such/file.json"}}) {
    auto c = load(args);
    ASSERT_FALSE(c) << args[0];
    EXPECT_EQ(c.error().code, Errc::validation);
    EXPECT_FALSE(c.error().message.empty());
  }
  Env env;
  env.vars["MAILBOX_SYNC"] = "perhaps";
  EXPECT_FALSE(load({}, env));
}

}  // namespace
}  // namespace mbx::node
