// Crash suite of the RocksDB store: runs mbx_crash_writer (crash_writer.cpp, protocol in its
// top comment) against one data folder, SIGKILLs it at a random moment, reopens the folder
// here and checks that every write the child saw return is durable, that the one write each
// worker may have had in flight is either wholly applied or not at all, and that verify() is
// empty; then starts the next child on the same folder (state accumulates).
// Reproduce a run with MBX_CRASH_SEED=<seed printed by the test>.
#include "messages/run_dispatch.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#ifndef MBX_CRASH_WRITER
#error "MBX_CRASH_WRITER (path of mbx_crash_writer) must be defined by the build"
#endif

extern char** environ;

namespace mbx {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Tokens = std::vector<std::string>;

constexpr int kThreads = 36;  // as in crash_writer.cpp
constexpr int kWorkers = 4;   // as in crash_writer.cpp: worker w owns the threads i with i % kWorkers == w
constexpr int kCycles = 40;
constexpr auto kBudget = std::chrono::seconds(50);
const std::vector<DispatchStatus> kAllStatuses = {DispatchStatus::queued,     DispatchStatus::claimed,
                                                  DispatchStatus::acked,      DispatchStatus::cancelled,
                                                  DispatchStatus::superseded, DispatchStatus::dead_letter};

std::string thread_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "t%02d", i);
  return buf;
}

// A fresh folder under the system temp folder, removed with everything in it.
class TempDir {
public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mbx-crash-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string db() const { return (path_ / "db").string(); }

private:
  fs::path path_;
};

// One running mbx_crash_writer with its stdout on a pipe.
class Child {
public:
  Child(const std::string& dir, std::uint64_t seed) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    const std::string seed_text = std::to_string(seed);
    std::string path = MBX_CRASH_WRITER;
    std::vector<char*> argv = {path.data(), const_cast<char*>(dir.c_str()), const_cast<char*>(seed_text.c_str()),
                               nullptr};
    const int rc = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    fd_ = fds[0];
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(rc);
    }
    started_ = Clock::now();
  }
  ~Child() {
    kill_and_wait();
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] bool ok() const { return pid_ > 0; }

  // Reads output until `deadline` (or EOF); returns false at EOF.
  bool read_until(Clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return true;
      pollfd p{fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return true;
      if (!read_some()) return false;
    }
  }

  // Reads until the first complete line starting with `prefix`, or the deadline. Returns it.
  std::optional<std::string> wait_line(const std::string& prefix, Clock::time_point deadline) {
    for (;;) {
      std::istringstream in(out_);
      std::string line;
      while (std::getline(in, line) && !in.eof())
        if (line.rfind(prefix, 0) == 0) return line;
      if (Clock::now() >= deadline) return std::nullopt;
      if (!read_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(5)))) {
        // EOF: one last look
        std::istringstream rest(out_);
        while (std::getline(rest, line) && !rest.eof())
          if (line.rfind(prefix, 0) == 0) return line;
        return std::nullopt;
      }
    }
  }

  // SIGKILL, reap, and drain the pipe to EOF. Returns the wait status.
  int kill_and_wait() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    while (read_some()) {
    }
    return status_;
  }

  // Complete lines only: a line cut by the kill (no '\n' yet) is ignored.
  [[nodiscard]] std::vector<Tokens> lines() const {
    std::vector<Tokens> out;
    std::size_t start = 0;
    for (;;) {
      const auto nl = out_.find('\n', start);
      if (nl == std::string::npos) break;
      std::istringstream words(out_.substr(start, nl - start));
      Tokens t;
      for (std::string w; words >> w;) t.push_back(w);
      if (!t.empty()) out.push_back(std::move(t));
      start = nl + 1;
    }
    return out;
  }

  [[nodiscard]] bool cut_last_line() const { return !out_.empty() && out_.back() != '\n'; }
  [[nodiscard]] Clock::time_point started() const { return started_; }

private:
  bool read_some() {
    char buf[65536];
    for (;;) {
      const auto n = ::read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      out_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = 0;
  std::string out_;
  Clock::time_point started_;
};

std::unique_ptr<RocksdbStore> open_store(const std::string& dir) {
  auto r = RocksdbStore::open(RocksdbOptions{dir, true});
  if (!r) {
    ADD_FAILURE() << "open after kill: " << describe(r.error());
    return nullptr;
  }
  return std::move(*r);
}

// ---- the expected state, accumulated over the children -----------------------------------------

struct KnownDispatch {
  std::string thread;
  DispatchStatus status = DispatchStatus::queued;
  std::string token;  // while Claimed
  std::uint32_t attempts = 0;
  std::uint64_t epoch = 0;

  [[nodiscard]] static KnownDispatch of(const RunDispatch& d) {
    return KnownDispatch{d.thread_id, d.status, d.claim_token.value_or(""), d.attempt_count, d.dispatch_epoch};
  }
  friend bool operator==(const KnownDispatch&, const KnownDispatch&) = default;
};

std::string show(const KnownDispatch& k) {
  return std::string(to_string(k.status)) + " token=" + k.token + " attempts=" + std::to_string(k.attempts) +
         " epoch=" + std::to_string(k.epoch);
}

std::optional<DispatchStatus> status_named(const std::string& s) {
  for (auto st : kAllStatuses)
    if (to_string(st) == s) return st;
  return std::nullopt;
}

struct Model {
  std::map<std::string, KnownDispatch> dispatches;
  std::map<std::string, std::uint64_t> epochs;               // thread -> epoch
  std::map<std::string, std::vector<std::string>> logs;      // thread -> message ids by seq
  std::map<std::string, std::vector<std::string>> events;    // run -> event texts by seq
  std::map<std::string, std::string> runs;                   // run -> thread (committed runs)
  std::uint64_t writes_seen = 0;
};

class Checker {
public:
  explicit Checker(Model& model) : m_(model) {}

  void problem(const std::string& p) { problems_.push_back(p); }
  [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

  // Folds the child's done lines into the model; remembers each worker's last unfinished intent.
  void replay(const std::vector<Tokens>& lines) {
    for (const auto& t : lines) {
      const auto& k = t[0];
      if (k == "R") continue;
      if (t.size() < 2) {
        problem("malformed line");
        continue;
      }
      const auto& w = t[1];
      if (k == "B") {
        inflight_[w] = t;
        continue;
      }
      inflight_.erase(w);
      if (k == "X") {
        std::string msg;
        for (std::size_t i = 2; i < t.size(); ++i) msg += t[i] + " ";
        problem("child reported an unexpected error: " + msg);
      } else if (k == "C0") {
        // claim found nothing; no write
      } else {
        ++m_.writes_seen;
        apply_done(t);
      }
    }
  }

  void check(RocksdbStore& store) {
    check_threads(store);
    check_events(store);
    check_runs(store);
    auto v = store.verify();
    if (!v) {
      problem("verify: " + describe(v.error()));
    } else {
      for (const auto& p : *v) problem("verify: " + p);
    }
    auto counts = store.count_dispatches_by_status();
    if (!counts) {
      problem("count_dispatches_by_status: " + describe(counts.error()));
    } else {
      std::uint64_t total = 0;
      for (auto c : *counts) total += c;
      if (total != listed_) problem("counters sum to " + std::to_string(total) + ", listed " + std::to_string(listed_));
    }
  }

  [[nodiscard]] std::size_t inflight_count() const { return inflight_.size(); }

private:
  void apply_done(const Tokens& t) {
    const auto& k = t[0];
    auto need = [&](std::size_t n) {
      if (t.size() < n) problem("short line " + k);
      return t.size() >= n;
    };
    if (k == "E" && need(5)) {
      const auto epoch = std::stoull(t[4]);
      if (m_.dispatches.count(t[2]) != 0) problem("E: dispatch " + t[2] + " reported twice");
      if (epoch != m_.epochs[t[3]]) problem("E: " + t[2] + " stamped epoch " + t[4] + ", thread at " +
                                            std::to_string(m_.epochs[t[3]]));
      m_.dispatches[t[2]] = KnownDispatch{t[3], DispatchStatus::queued, "", 0, epoch};
    } else if (k == "C" && need(6)) {
      auto& d = known(t[2]);
      if (d.status != DispatchStatus::queued) problem("C: " + t[2] + " claimed while " + show(d));
      d.status = DispatchStatus::claimed;
      d.token = t[4];
    } else if (k == "A" && need(3)) {
      auto& d = known(t[2]);
      d.status = DispatchStatus::acked;
      d.token.clear();
    } else if (k == "N" && need(5)) {
      auto& d = known(t[2]);
      auto st = status_named(t[3]);
      if (!st) problem("N: status " + t[3]);
      d.status = st.value_or(DispatchStatus::queued);
      d.attempts = static_cast<std::uint32_t>(std::stoul(t[4]));
      d.token.clear();
    } else if (k == "I" && need(4)) {
      const auto epoch = std::stoull(t[3]);
      if (epoch != m_.epochs[t[2]] + 1)
        problem("I: " + t[2] + " new epoch " + t[3] + " after " + std::to_string(m_.epochs[t[2]]));
      m_.epochs[t[2]] = epoch;
      for (std::size_t i = 4; i < t.size(); ++i) {
        auto& d = known(t[i]);
        d.status = DispatchStatus::superseded;
      }
    } else if (k == "M" && need(6)) {
      auto& log = m_.logs[t[2]];
      m_.runs[t[3]] = t[2];
      for (std::size_t i = 5; i < t.size(); ++i) {
        const auto colon = t[i].rfind(':');
        const auto id = t[i].substr(0, colon);
        const auto seq = std::stoull(t[i].substr(colon + 1));
        if (seq != log.size() + 1) problem("M: " + id + " at seq " + std::to_string(seq) + " after " +
                                           std::to_string(log.size()));
        log.push_back(id);
      }
      if (std::stoull(t[4]) != log.size()) problem("M: version " + t[4] + " vs log " + std::to_string(log.size()));
    } else if (k == "V" && need(5)) {
      auto& ev = m_.events[t[2]];
      if (std::stoull(t[3]) != ev.size() + 1)
        problem("V: event seq " + t[3] + " of run " + t[2] + " after " + std::to_string(ev.size()));
      ev.push_back(t[4]);
    } else if (k == "S" && need(4)) {
      auto& d = known(t[2]);
      auto st = status_named(t[3]);
      if (st != DispatchStatus::superseded) problem("S: fenced write left " + t[2] + " " + t[3]);
      d.status = st.value_or(DispatchStatus::superseded);
      d.token.clear();
      d.epoch = m_.epochs[d.thread];  // superseded at the thread's epoch
    } else if (k != "E" && k != "C" && k != "A" && k != "N" && k != "I" && k != "M" && k != "V" && k != "S") {
      problem("unknown line kind " + k);
    }
  }

  KnownDispatch& known(const std::string& id) {
    auto it = m_.dispatches.find(id);
    if (it == m_.dispatches.end()) {
      problem("line names unknown dispatch " + id);
      return m_.dispatches[id];
    }
    return it->second;
  }

  // The in-flight intent of the worker that owns `thread`, if that write concerns the thread.
  const Tokens* inflight_on_thread(const std::string& thread) const {
    const int index = std::stoi(thread.substr(1));
    const auto it = inflight_.find(std::to_string(index % kWorkers));
    if (it == inflight_.end()) return nullptr;
    const Tokens& t = it->second;
    auto thread_of = [&](const std::string& dispatch) {
      auto d = m_.dispatches.find(dispatch);
      return d == m_.dispatches.end() ? std::string() : d->second.thread;
    };
    std::string concerned;
    const std::string op = t.size() > 2 ? t[2] : "";
    if (op == "enq" && t.size() > 4) concerned = t[4];
    if ((op == "claim" || op == "int" || op == "commit") && t.size() > 3) concerned = t[3];
    if ((op == "ack" || op == "nack") && t.size() > 3) concerned = thread_of(t[3]);
    if (op == "event" && t.size() > 4 && t[4] != "-") concerned = thread_of(t[4]);
    return concerned == thread ? &t : nullptr;
  }

  void check_threads(RocksdbStore& store) {
    for (int i = 0; i < kThreads; ++i) {
      const auto thread = thread_name(i);
      const Tokens* in = inflight_on_thread(thread);
      auto arg = [&](std::size_t j) -> std::string { return in != nullptr && in->size() > j ? (*in)[j] : ""; };
      const std::string op = arg(2);

      // epoch: an in-flight interrupt is all or nothing
      auto epoch = store.current_epoch(thread);
      if (!epoch) {
        problem("current_epoch: " + describe(epoch.error()));
        continue;
      }
      const auto known_epoch = m_.epochs[thread];
      const bool interrupt_applied = op == "int" && *epoch == known_epoch + 1;
      if (*epoch != known_epoch && !interrupt_applied)
        problem(thread + ": epoch " + std::to_string(*epoch) + ", expected " + std::to_string(known_epoch));

      // dispatches: exactly the known ones (+ the in-flight enqueue)
      auto listed = store.list_dispatches(thread, kAllStatuses, 0, 0, false);
      if (!listed) {
        problem("list_dispatches: " + describe(listed.error()));
        continue;
      }
      listed_ += listed->items.size();
      std::map<std::string, RunDispatch> actual;
      for (const auto& d : listed->items) actual.emplace(d.dispatch_id, d);
      int claimed_by_inflight = 0;
      for (const auto& [id, k] : m_.dispatches) {
        if (k.thread != thread) continue;
        auto it = actual.find(id);
        if (it == actual.end()) {
          problem(thread + ": reported dispatch " + id + " (" + show(k) + ") is missing");
          continue;
        }
        const auto a = KnownDispatch::of(it->second);
        actual.erase(it);
        if (a == k) {
          if (interrupt_applied && k.status == DispatchStatus::queued)
            problem(thread + ": interrupt applied (epoch bumped) but " + id + " is still queued");
          continue;
        }
        if (explained(k, a, id, in, interrupt_applied)) {
          changed_by_inflight_.insert(id);
          if (op == "claim") ++claimed_by_inflight;
          continue;
        }
        problem(thread + ": " + id + " is " + show(a) + ", expected " + show(k) +
                (in != nullptr ? " (in flight: " + op + " " + arg(3) + ")" : ""));
      }
      if (claimed_by_inflight > 1)
        problem(thread + ": one in-flight claim changed " + std::to_string(claimed_by_inflight) + " dispatches");
      for (const auto& [id, d] : actual) {
        const bool inflight_enqueue = op == "enq" && arg(3) == id && d.status == DispatchStatus::queued &&
                                      d.attempt_count == 0 && d.dispatch_epoch == known_epoch;
        if (!inflight_enqueue) problem(thread + ": unexpected dispatch " + id + " " + show(KnownDispatch::of(d)));
      }

      // committed log: the known one, plus the whole in-flight delta or none of it
      auto log = store.load_committed_messages(thread, 1, 0);
      if (!log) {
        problem("load_committed_messages: " + describe(log.error()));
        continue;
      }
      std::vector<std::string> expected = m_.logs[thread];
      bool commit_applied = false;
      const std::string commit_run = op == "commit" ? arg(6) : "";
      if (op == "commit" && in->size() > 7) {
        std::vector<std::string> with = expected;
        for (std::size_t j = 7; j < in->size(); ++j) with.push_back((*in)[j]);
        if (log->size() == with.size()) {
          expected = std::move(with);
          commit_applied = true;
          if (arg(5) != "-" && changed_by_inflight_.count(arg(5)) != 0)
            problem(thread + ": in-flight fenced commit applied, yet it also changed its fence dispatch " + arg(5));
        }
        auto run = store.load_run(commit_run);
        if (!run) {
          problem("load_run: " + describe(run.error()));
        } else if (commit_applied && !*run) {
          problem(thread + ": in-flight commit applied without its run " + commit_run);
        } else if (!commit_applied && *run && m_.runs.count(commit_run) == 0) {
          problem(thread + ": in-flight commit not applied, yet its new run " + commit_run + " exists");
        }
        if (commit_applied) m_.runs[commit_run] = thread;
      }
      if (log->size() != expected.size())
        problem(thread + ": committed log has " + std::to_string(log->size()) + " messages, expected " +
                std::to_string(expected.size()) + (op == "commit" ? " (or that plus the in-flight delta)" : ""));
      for (std::size_t j = 0; j < std::min(log->size(), expected.size()); ++j) {
        const auto& rec = (*log)[j];
        if (rec.seq != j + 1 || rec.message.id != expected[j] || rec.thread_id != thread)
          problem(thread + ": seq " + std::to_string(j + 1) + " holds " + rec.message.id + "@" +
                  std::to_string(rec.seq) + ", expected " + expected[j]);
        if (!rec.produced_by_run_id || m_.runs.count(*rec.produced_by_run_id) == 0)
          problem(thread + ": message " + rec.message.id + " produced by an unreported run");
      }
      auto version = store.committed_version(thread);
      if (!version || *version != log->size()) problem(thread + ": committed_version disagrees with the log");
      resync_thread(thread, *epoch, *log, listed->items);
    }
  }

  // Whether the in-flight intent `in` explains the change known -> actual of dispatch `id`.
  static bool explained(const KnownDispatch& k, const KnownDispatch& a, const std::string& id, const Tokens* in,
                        bool interrupt_applied) {
    if (in == nullptr || a.thread != k.thread) return false;
    const std::string& op = (*in)[2];
    const bool same_attempts = a.attempts == k.attempts;
    const bool same_epoch = a.epoch == k.epoch;
    if (op == "claim")
      return k.status == DispatchStatus::queued && a.status == DispatchStatus::claimed && same_attempts && same_epoch;
    if (op == "int")
      return interrupt_applied && k.status == DispatchStatus::queued && a.status == DispatchStatus::superseded &&
             same_attempts && same_epoch;
    // the dispatch the op names: ack/nack its target, commit/event their fence
    std::size_t col = 0;
    if (op == "ack" || op == "nack") col = 3;
    if (op == "commit") col = 5;
    if (op == "event") col = 4;
    if (col == 0 || in->size() <= col || (*in)[col] != id || k.status != DispatchStatus::claimed) return false;
    if (a.status == DispatchStatus::superseded) return same_attempts;  // a stale fence supersedes
    if (op == "ack") return a.status == DispatchStatus::acked && same_attempts && same_epoch;
    if (op == "nack")
      return (a.status == DispatchStatus::queued || a.status == DispatchStatus::dead_letter) &&
             a.attempts == k.attempts + 1 && same_epoch;
    return false;
  }

  void check_events(RocksdbStore& store) {
    std::set<std::string> runs;
    for (const auto& [run, ev] : m_.events) runs.insert(run);
    std::map<std::string, const Tokens*> inflight_by_run;
    for (const auto& [w, t] : inflight_)
      if (t.size() >= 6 && t[2] == "event") {
        runs.insert(t[3]);
        inflight_by_run[t[3]] = &t;
      }
    for (const auto& run : runs) {
      auto got = store.read_events(run, 0, 0);
      if (!got) {
        problem("read_events: " + describe(got.error()));
        continue;
      }
      auto expected = m_.events[run];
      auto in = inflight_by_run.find(run);
      if (in != inflight_by_run.end() && got->size() == expected.size() + 1) {
        const Tokens& t = *in->second;
        expected.push_back(t[5]);
        if (t[4] != "-" && changed_by_inflight_.count(t[4]) != 0)
          problem("run " + run + ": in-flight fenced event applied, yet it also changed its fence dispatch " + t[4]);
      }
      if (got->size() != expected.size())
        problem("run " + run + ": " + std::to_string(got->size()) + " events, expected " +
                std::to_string(expected.size()));
      std::vector<std::string> texts;
      for (std::size_t j = 0; j < got->size(); ++j) {
        const auto& e = (*got)[j];
        texts.push_back(e.text);
        if (e.seq != j + 1 || e.run_id != run || j >= expected.size() || e.text != expected[j])
          problem("run " + run + ": event " + std::to_string(j + 1) + " is '" + e.text + "'@" + std::to_string(e.seq));
      }
      m_.events[run] = texts;
    }
  }

  void check_runs(RocksdbStore& store) {
    for (const auto& [run, thread] : m_.runs) {
      auto r = store.load_run(run);
      if (!r) {
        problem("load_run: " + describe(r.error()));
      } else if (!*r) {
        problem("committed run " + run + " is missing");
      } else if ((*r)->thread_id != thread) {
        problem("run " + run + " is on thread " + (*r)->thread_id + ", expected " + thread);
      }
    }
  }

  // After the check, the database is the new baseline (an applied in-flight write included).
  void resync_thread(const std::string& thread, std::uint64_t epoch, const std::vector<MessageRecord>& log,
                     const std::vector<RunDispatch>& dispatches) {
    m_.epochs[thread] = epoch;
    auto& ids = m_.logs[thread];
    ids.clear();
    for (const auto& rec : log) ids.push_back(rec.message.id);
    for (const auto& d : dispatches) m_.dispatches[d.dispatch_id] = KnownDispatch::of(d);
  }

  Model& m_;
  std::vector<std::string> problems_;
  std::map<std::string, Tokens> inflight_;  // worker -> its unfinished intent
  std::set<std::string> changed_by_inflight_;  // dispatches an in-flight write changed
  std::uint64_t listed_ = 0;
};

std::uint64_t base_seed() {
  if (const char* s = std::getenv("MBX_CRASH_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}() % 1000000;
}

std::string joined(const std::vector<std::string>& lines, std::size_t max = 40) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < max; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > max) out += "  ... " + std::to_string(lines.size() - max) + " more\n";
  return out;
}

// ---- tests -------------------------------------------------------------------------------------

TEST(RocksdbCrashTest, EveryReturnedWriteSurvivesSigkill) {
  const auto seed = base_seed();
  std::cout << "MBX_CRASH_SEED=" << seed << std::endl;
  std::mt19937_64 rng(seed);
  TempDir dir;
  Model model;
  const auto t0 = Clock::now();
  int cycles = 0;
  int killed_before_ready = 0;
  int cut_lines = 0;
  int inflight_total = 0;
  for (int cycle = 0; cycle < kCycles && Clock::now() - t0 < kBudget; ++cycle) {
    const auto child_seed = seed * 1000 + static_cast<std::uint64_t>(cycle);
    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 150)(rng));
    std::vector<Tokens> lines;
    {
      Child child(dir.db(), child_seed);
      ASSERT_TRUE(child.ok());
      // Most kills land among the writes: the delay counts from the moment the store is open.
      // One in five counts from the spawn, so that it may land in open / WAL recovery.
      auto from = child.started();
      if (cycle % 5 != 4) {
        auto ready = child.wait_line("R ", Clock::now() + std::chrono::seconds(20));
        ASSERT_TRUE(ready) << "cycle " << cycle << ": the writer never opened the store";
        from = Clock::now();
      }
      std::ignore = child.read_until(from + delay);  // EOF early only if the child died
      const int status = child.kill_and_wait();
      if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        FAIL() << "cycle " << cycle << ": the writer exited by itself (status " << status << ")";
      lines = child.lines();
      if (child.cut_last_line()) ++cut_lines;
    }
    if (lines.empty() || lines.front()[0] != "R") ++killed_before_ready;
    ++cycles;
    auto store = open_store(dir.db());
    ASSERT_NE(store, nullptr) << "cycle " << cycle << " (MBX_CRASH_SEED=" << seed << ")";
    Checker checker(model);
    checker.replay(lines);
    inflight_total += static_cast<int>(checker.inflight_count());
    checker.check(*store);
    ASSERT_TRUE(checker.problems().empty())
        << "cycle " << cycle << " (MBX_CRASH_SEED=" << seed << ", child seed " << child_seed << ", killed after "
        << delay.count() << " ms, " << lines.size() << " lines):\n"
        << joined(checker.problems());
  }
  const auto secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << cycles << " kill cycles in " << secs << " s; " << model.writes_seen << " returned writes checked, "
            << model.dispatches.size() << " dispatches, " << killed_before_ready << " kills before the store opened, "
            << inflight_total << " writes in flight at a kill, " << cut_lines << " cut last lines" << std::endl;
  EXPECT_GE(cycles, 10);
  EXPECT_GT(model.writes_seen, 0u);
}

TEST(RocksdbCrashTest, KilledDatabaseOpensWithoutManualSteps) {
  TempDir dir;
  {
    Child child(dir.db(), base_seed() * 1000 + 999);
    ASSERT_TRUE(child.ok());
    ASSERT_TRUE(child.wait_line("R ", Clock::now() + std::chrono::seconds(20))) << "writer never opened the store";
    ASSERT_TRUE(child.wait_line("E ", Clock::now() + std::chrono::seconds(20))) << "writer never enqueued";
    std::ignore = child.read_until(Clock::now() + std::chrono::milliseconds(30));
    child.kill_and_wait();
  }
  auto store = RocksdbStore::open(RocksdbOptions{dir.db(), true});
  ASSERT_TRUE(store) << describe(store.error());
  auto problems = (*store)->verify();
  ASSERT_TRUE(problems) << describe(problems.error());
  EXPECT_TRUE(problems->empty()) << joined(*problems);
  auto counts = (*store)->count_dispatches_by_status();
  ASSERT_TRUE(counts);
  std::uint64_t total = 0;
  for (auto c : *counts) total += c;
  EXPECT_GT(total, 0u);
}

TEST(RocksdbCrashTest, SecondOpenWhileAnotherProcessHoldsTheFolderFails) {
  TempDir dir;
  Child child(dir.db(), base_seed() * 1000 + 998);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child.wait_line("R ", Clock::now() + std::chrono::seconds(20))) << "writer never opened the store";
  auto second = RocksdbStore::open(RocksdbOptions{dir.db(), true});
  ASSERT_FALSE(second) << "a second process opened a folder that a live process holds";
  EXPECT_EQ(second.error().code, Errc::store) << describe(second.error());
  const auto& msg = second.error().message;
  EXPECT_NE(msg.find(dir.db()), std::string::npos) << "message should name the folder: " << msg;
  EXPECT_NE(msg.find("LOCK"), std::string::npos) << "message should name the lock: " << msg;
  EXPECT_NE(msg.find("another process"), std::string::npos) << "message should say why: " << msg;
  child.kill_and_wait();
  auto after = RocksdbStore::open(RocksdbOptions{dir.db(), true});
  EXPECT_TRUE(after) << "the folder stays locked after its holder died: " << describe(after.error());
}

}  // namespace
}  // namespace mbx
