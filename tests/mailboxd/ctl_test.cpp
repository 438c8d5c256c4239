// mailboxctl against a real mailboxd: readable output, --json, exit codes (0 ok, 1 error with
// a one-line reason, 2 usage), and fsck of the stopped node's folder.
#include "tests/mailboxd/node_process.hpp"

#include <boost/json/parse.hpp>

#include <array>
#include <cstdio>

namespace mbx::testing {
namespace {

struct Out {
  int code = -1;
  std::string text;  // stdout and stderr
};

Out ctl(const std::string& args) {
  Out out;
  const std::string cmd = std::string(MBX_MAILBOXCTL_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.text.append(buf.data(), n);
  const int status = pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(MailboxctlTest, DrivesANodeAndChecksItsFolder) {
  const auto dir = std::filesystem::temp_directory_path() / ("mbx-ctl-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  NodeProcess node(dir / "data");
  ASSERT_TRUE(node.start());
  const std::string url = "--url http://127.0.0.1:" + std::to_string(node.port());

  auto sent = ctl(url + " send t1 'hello ctl' --agent echo");
  EXPECT_EQ(sent.code, 0) << sent.text;
  EXPECT_NE(sent.text.find("hello ctl"), std::string::npos) << sent.text;
  EXPECT_NE(sent.text.find("[run finished: natural_end]"), std::string::npos) << sent.text;

  auto runs = ctl(url + " --json runs t1");
  ASSERT_EQ(runs.code, 0) << runs.text;
  auto v = boost::json::parse(runs.text);
  const std::string run_id(v.at("runs").at(0).at("run_id").as_string());
  auto one = ctl(url + " run " + run_id);
  EXPECT_EQ(one.code, 0);
  EXPECT_NE(one.text.find("done"), std::string::npos) << one.text;
  auto history = ctl(url + " messages t1");
  EXPECT_NE(history.text.find("2  assistant: hello ctl"), std::string::npos) << history.text;
  auto watched = ctl(url + " watch " + run_id + " --after 1");
  EXPECT_EQ(watched.code, 0);
  EXPECT_EQ(watched.text.find("started"), std::string::npos) << "event 1 must not be replayed: " << watched.text;
  EXPECT_NE(ctl(url + " queue t1 'later' --agent echo").text.find("run "), std::string::npos);
  EXPECT_EQ(ctl(url + " dispatches t1").code, 0);
  EXPECT_EQ(ctl(url + " stats").code, 0);

  auto missing = ctl(url + " run no-such-run");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.text.find("404 not_found"), std::string::npos) << missing.text;
  EXPECT_EQ(ctl(url + " frobnicate").code, 2);
  EXPECT_EQ(ctl("--url http://127.0.0.1:1 runs t1").code, 1);  // nobody listens there

  auto busy = ctl("fsck " + (dir / "data").string());
  EXPECT_EQ(busy.code, 1) << busy.text;  // the node holds the folder
  EXPECT_EQ(node.stop(), 0);
  auto clean = ctl("fsck " + (dir / "data").string());
  EXPECT_EQ(clean.code, 0) << clean.text;
  EXPECT_NE(clean.text.find("is consistent"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mbx::testing
