#include "agents/exec_agent.hpp"

#include "agents/detail/execution_failure.hpp"

#include "messages/json/json_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <set>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mbx {

namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kExitTempFail = 75;                    // EX_TEMPFAIL
constexpr int kPollMs = 20;                          // cancellation latency
constexpr auto kDrainAfterExit = std::chrono::milliseconds(500);  // grandchildren holding the pipes
constexpr std::size_t kMaxStderrLine = 64 * 1024;

using detail::failed;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The child and our ends of its pipes. The destructor never leaves a zombie or an open fd.
struct Child {
  pid_t pid = -1;
  int in = -1;
  int out = -1;
  int err = -1;
  bool reaped = false;
  int status = 0;

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    close_fd(in);
    close_fd(out);
    close_fd(err);
    if (pid > 0 && !reaped) {
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  bool try_reap() {
    if (reaped) return true;
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      reaped = true;
      status = st;
    } else if (r < 0 && errno == ECHILD) {
      reaped = true;  // someone else reaped it (a SIGCHLD handler set to SIG_IGN): nothing left
      status = 0;
    }
    return reaped;
  }
  void signal_group(int sig) const {
    if (pid > 0) ::kill(-pid, sig);
  }
};

// Spawns the program with the three pipes; every fd we keep is close-on-exec and non-blocking.
Result<void> spawn(const ExecAgentConfig& config, const std::vector<std::pair<std::string, std::string>>& extra_env,
                   Child& child) {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    close_all();
    return internal_error(std::string("pipe: ") + std::strerror(e));
  }
  // Environment: inherited (minus overridden names), then ours.
  std::vector<std::pair<std::string, std::string>> overrides = config.env;
  overrides.insert(overrides.end(), extra_env.begin(), extra_env.end());
  std::set<std::string> names;
  for (const auto& [k, v] : overrides) names.insert(k);
  std::vector<std::string> env_text;
  if (config.inherit_env && environ != nullptr)
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (!names.contains(std::string(entry.substr(0, entry.find('='))))) env_text.emplace_back(entry);
    }
  for (const auto& [k, v] : overrides) env_text.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = config.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  if (config.working_dir) posix_spawn_file_actions_addchdir_np(&actions, config.working_dir->c_str());
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: cancellation signals the whole tree
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = -1;
  const bool search = config.argv.front().find('/') == std::string::npos;
  const int rc = search ? ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data())
                        : ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    close_all();
    return validation_error("cannot start '" + config.argv.front() + "'" +
                            (config.working_dir ? " in '" + *config.working_dir + "'" : std::string()) + ": " +
                            std::strerror(rc));
  }
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  child.pid = pid;
  child.in = in[1];
  child.out = out[0];
  child.err = err[0];
  for (int fd : {child.in, child.out, child.err}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return {};
}

// SIGPIPE blocked on this thread while we write to the child's stdin (a child that exits
// without reading must not kill us); a pending one is consumed before the mask is restored.
class SigpipeBlock {
public:
  SigpipeBlock() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
  }
  ~SigpipeBlock() {
    consume();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  static void consume() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      std::ignore = sigtimedwait(&pipe_set, nullptr, &zero);  // clears it; nothing else to do
    }
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

private:
  sigset_t old_;
};

// Interprets the child's stdout lines.
class LineProtocol {
public:
  explicit LineProtocol(RunContext& ctx) : ctx_(ctx) {}

  // Handles one line; an error result stops the child (protocol error or a failed write).
  std::optional<ExecutionResult> handle(std::string_view line) {
    ++line_no_;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return std::nullopt;
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    auto v = json::parse(json::string_view(line.data(), line.size()), ec, {}, options);
    if (ec) return protocol("not valid JSON (" + ec.message() + ")");
    if (!v.is_object()) return protocol("expected a JSON object");
    const auto& o = v.as_object();
    const auto* type = o.if_contains("type");
    if (type == nullptr || !type->is_string()) return protocol("missing the \"type\" string");
    const std::string_view t(type->as_string());
    if (t == "message") {
      const auto* m = o.if_contains("message");
      if (m == nullptr) return protocol("message: missing \"message\"");
      auto message = from_json<Message>(*m);
      if (!message) return protocol(message.error().message);
      if (auto c = ctx_.commit_messages({std::move(*message)}); !c) return failed(c.error());
      return std::nullopt;
    }
    if (t == "result") {
      if (const auto* r = o.if_contains("response"); r != nullptr && !r->is_null()) {
        if (!r->is_string()) return protocol("result: \"response\" must be a string");
        response_ = std::string(r->as_string());
      }
      if (const auto* s = o.if_contains("state"); s != nullptr) state_ = OpaqueJson{json::serialize(*s)};
      return std::nullopt;
    }
    if (t == "waiting") {
      const auto* w = o.if_contains("waiting");
      if (w == nullptr) return protocol("waiting: missing \"waiting\"");
      auto waiting = from_json<RunWaitingState>(*w);
      if (!waiting) return protocol(waiting.error().message);
      waiting_ = std::move(*waiting);
      return std::nullopt;
    }
    auto event = from_json<AgentEvent>(v);
    if (!event) return protocol(event.error().message);
    if (event->type == AgentEventType::run_start || event->type == AgentEventType::run_finish ||
        event->type == AgentEventType::error)
      return protocol("event type '" + std::string(t) + "' is reserved to the engine (exit with a status instead)");
    event->seq = 0;
    if (event->type == AgentEventType::text_delta) text_ += event->text;
    if (auto e = ctx_.emit(std::move(*event)); !e) return failed(e.error());
    return std::nullopt;
  }

  // The result of a child that exited with status 0.
  ExecutionResult completed() {
    ExecutionResult r;
    r.state = state_;
    if (waiting_) {
      r.status = ExecutionStatus::waiting;
      r.waiting = std::move(waiting_);
      return r;
    }
    r.response = response_ ? *response_ : text_;
    return r;
  }

  ExecutionResult protocol(const std::string& what) const {
    return failed(ExecutionStatus::permanent_error,
                  "exec agent protocol error, stdout line " + std::to_string(line_no_) + ": " + what);
  }

private:
  RunContext& ctx_;
  std::uint64_t line_no_ = 0;
  std::string text_;
  std::optional<std::string> response_;
  std::optional<OpaqueJson> state_;
  std::optional<RunWaitingState> waiting_;
};

// Reads what is available on `fd` into `buffer`; false at EOF or on an error.
bool read_some(int fd, std::string& buffer) {
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof chunk) return true;
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

}  // namespace

ExecAgent::ExecAgent(ExecAgentConfig config) : config_(std::move(config)) {}

std::string ExecAgent::stdin_document(const RunContext& ctx) {
  json::value doc = to_json(ctx.activation());
  if (!doc.is_object()) doc = json::object{};
  auto& o = doc.as_object();
  o["run_id"] = ctx.run().run_id;
  o["thread_id"] = ctx.dispatch().thread_id;
  o["agent_id"] = ctx.run().agent_id;
  o["dispatch_id"] = ctx.dispatch().dispatch_id;
  o["attempt"] = static_cast<std::int64_t>(ctx.dispatch().attempt_count);
  if (ctx.run().state) {
    boost::system::error_code ec;
    auto state = json::parse(ctx.run().state->json, ec);
    o["state"] = ec ? json::value(ctx.run().state->json) : std::move(state);
  }
  return json::serialize(doc);
}

ExecutionResult ExecAgent::execute(RunContext& ctx) {
  if (config_.argv.empty() || config_.argv.front().empty())
    return failed(ExecutionStatus::permanent_error, "exec agent: no program configured");
  const std::string program = config_.argv.front();
  const std::string run_id = ctx.run().run_id;
  const std::string input = stdin_document(ctx) + "\n";

  SigpipeBlock sigpipe;
  Child child;
  const std::vector<std::pair<std::string, std::string>> run_env = {
      {"MBX_RUN_ID", run_id},
      {"MBX_THREAD_ID", ctx.dispatch().thread_id},
      {"MBX_DISPATCH_ID", ctx.dispatch().dispatch_id},
      {"MBX_ATTEMPT", std::to_string(ctx.dispatch().attempt_count)}};
  if (auto spawned = spawn(config_, run_env, child); !spawned)
    return failed(ExecutionStatus::permanent_error, "exec agent: " + spawned.error().message);

  LineProtocol protocol(ctx);
  std::optional<ExecutionResult> stopped;  // a protocol error or a failed write: the child is stopped
  std::string out_buffer;
  std::string err_buffer;
  std::string last_stderr;
  std::size_t written = 0;
  bool terminating = false;
  bool killed = false;
  SteadyClock::time_point kill_at{};
  SteadyClock::time_point exited_at{};

  auto log_stderr_line = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return;
    spdlog::info("exec agent '{}' run {}: {}", program, run_id, line);
    last_stderr = std::move(line);
  };

  for (;;) {
    const auto now = SteadyClock::now();
    if (!child.reaped && child.try_reap()) exited_at = now;
    if (child.reaped && ((child.out < 0 && child.err < 0) || now - exited_at > kDrainAfterExit)) {
      if (child.out >= 0 || child.err >= 0) child.signal_group(SIGKILL);  // leftovers holding the pipes
      break;
    }
    if (!terminating && (stopped || ctx.cancelled())) {
      terminating = true;
      child.signal_group(SIGTERM);
      kill_at = now + config_.kill_grace;
      close_fd(child.in);
    }
    if (terminating && !killed && !child.reaped && now >= kill_at) {
      spdlog::warn("exec agent '{}' run {}: no exit {} ms after SIGTERM; SIGKILL", program, run_id,
                   config_.kill_grace.count());
      child.signal_group(SIGKILL);
      killed = true;
    }

    pollfd fds[3];
    nfds_t n = 0;
    if (child.in >= 0) fds[n++] = pollfd{child.in, POLLOUT, 0};
    if (child.out >= 0) fds[n++] = pollfd{child.out, POLLIN, 0};
    if (child.err >= 0) fds[n++] = pollfd{child.err, POLLIN, 0};
    const int ready = ::poll(fds, n, kPollMs);
    if (ready <= 0) continue;  // timeout or EINTR: the top of the loop checks everything
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == child.in) {
        const ssize_t w = ::write(child.in, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          SigpipeBlock::consume();  // EPIPE: the child does not read its stdin; fine
          close_fd(child.in);
        } else if (written == input.size()) {
          close_fd(child.in);
        }
      } else if (fds[i].fd == child.out) {
        const bool open = read_some(child.out, out_buffer);
        std::size_t start = 0;
        for (std::size_t nl; (nl = out_buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
          if (terminating) continue;  // a stopped run emits nothing more
          auto line = std::string_view(out_buffer).substr(start, nl - start);
          if (auto r = protocol.handle(line); r && !stopped) stopped = std::move(r);
        }
        out_buffer.erase(0, start);
        if (!open && !out_buffer.empty() && !terminating) {  // a last line without its newline
          if (auto r = protocol.handle(out_buffer); r && !stopped) stopped = std::move(r);
          out_buffer.clear();
        }
        if (out_buffer.size() > config_.max_line_bytes && !stopped) {
          stopped = protocol.protocol("line longer than " + std::to_string(config_.max_line_bytes) + " bytes");
          out_buffer.clear();
        }
        if (terminating) out_buffer.clear();
        if (!open) close_fd(child.out);
      } else if (fds[i].fd == child.err) {
        const bool open = read_some(child.err, err_buffer);
        std::size_t start = 0;
        for (std::size_t nl; (nl = err_buffer.find('\n', start)) != std::string::npos; start = nl + 1)
          log_stderr_line(err_buffer.substr(start, nl - start));
        err_buffer.erase(0, start);
        if (!open || err_buffer.size() > kMaxStderrLine) {
          log_stderr_line(std::move(err_buffer));
          err_buffer.clear();
        }
        if (!open) close_fd(child.err);
      }
    }
  }

  if (ctx.cancelled()) return {};  // the engine ends the run as cancelled
  if (stopped) return std::move(*stopped);
  const int status = child.status;
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 0) return protocol.completed();
    const std::string why = !last_stderr.empty() ? last_stderr
                                                 : "'" + program + "' exited with status " + std::to_string(code);
    return failed(code == kExitTempFail ? ExecutionStatus::transient_error : ExecutionStatus::permanent_error, why);
  }
  if (WIFSIGNALED(status)) {
    std::string why = "'" + program + "' was killed by signal " + std::to_string(WTERMSIG(status));
    if (!last_stderr.empty()) why += ": " + last_stderr;
    return failed(ExecutionStatus::permanent_error, why);
  }
  return failed(ExecutionStatus::permanent_error, "'" + program + "' ended in an unknown way");
}

}  // namespace mbx
