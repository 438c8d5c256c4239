// NodeProcess: runs a real mailboxd (the built binary) for end-to-end tests: on 127.0.0.1 with
// a free port, a data folder and a fast config; reads the port from its first stdout line;
// stops it with SIGTERM (expecting exit 0) or kills it with SIGKILL.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mbx::testing {

// Fast timers so that leases, sweeps and retries happen within a test.
inline std::string fast_node_config_json() {
  return R"({"mailbox":{"lease_ms":1500,"lease_renewal_interval_ms":200,"sweep_interval_ms":200,
             "gc_interval_ms":1000,"default_retry_delay_ms":20,"max_retry_delay_ms":200,
             "inline_claim_guard_ms":1000,"cancel_wait_ms":5000,"shutdown_wait_ms":3000},
             "http":{"idle_timeout_ms":2000},"log_level":"warn"})";
}

class NodeProcess {
public:
  explicit NodeProcess(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
  ~NodeProcess() { kill_now(); }

  // Starts mailboxd; false (with a gtest failure) if it does not report its port in time.
  bool start(std::vector<std::string> extra_args = {}, bool expect_up = true) {
    const auto config = data_dir_.parent_path() / (data_dir_.filename().string() + "-config.json");
    std::ofstream(config) << fast_node_config_json();
    // Its output goes to a log file beside the data folder (never a pipe nobody drains).
    log_path_ = data_dir_.parent_path() / (data_dir_.filename().string() + ".log");
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd < 0) return false;
    const auto offset = std::filesystem::file_size(log_path_);
    std::vector<std::string> args = {MBX_MAILBOXD_PATH, "--data-dir", data_dir_.string(), "--listen", "127.0.0.1:0",
                                     "--config", config.string()};
    for (auto& a : extra_args) args.push_back(a);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      close(log_fd);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(log_fd);
    std::string line;
    for (int i = 0; i < 400 && line.empty(); ++i) {  // up to 20 s
      std::ifstream in(log_path_);
      in.seekg(static_cast<std::streamoff>(offset));
      std::string l;
      while (std::getline(in, l))
        if (l.find("listening on http://127.0.0.1:") != std::string::npos) line = l;
      int status = 0;
      if (line.empty() && waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      if (line.empty()) usleep(50'000);
    }
    const auto at = line.find("http://127.0.0.1:");
    if (at == std::string::npos) {
      std::ifstream in(log_path_);
      std::stringstream all;
      all << in.rdbuf();
      if (expect_up) ADD_FAILURE() << "mailboxd did not start; its output:\n" << all.str();
      return false;
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(at + 17)));
    return true;
  }

  // SIGTERM; returns the exit status (-1 if it had to be killed).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(50'000);
    }
    kill_now();
    return -1;
  }

  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::filesystem::path& log_path() const { return log_path_; }

private:
  std::filesystem::path data_dir_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace mbx::testing
