// Store factories for the typed store suites (conformance, concurrency, persistence): each
// makes a fresh mbx::Store per test and can reopen it. MemoryStoreFactory keeps its store on
// reopen (nothing to reload); RocksdbStoreFactory gives every test its own folder under
// $TMPDIR (or /tmp), removed when the factory is destroyed, and reopen() closes the database
// and opens the same folder again. Claim tokens come from a UUID v7 source over a manual
// clock, so no test depends on real time. Also the few builders and assertion helpers those
// suites share (record builders, is_ok / fails_with, gtest printers).
// A factory is used by one test thread at a time; its stores are shared like any Store.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/clock.hpp"
#include "messages/error.hpp"
#include "messages/ids.hpp"
#include "messages/message.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "store/memory/memory_store.hpp"
#include "store/rocksdb/rocksdb_store.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace mbx::store_tests {

// The manual clock value every suite starts from (ms since the epoch).
inline constexpr std::int64_t kT0 = 1'700'000'000'000;

class MemoryStoreFactory {
public:
  [[nodiscard]] std::unique_ptr<Store> open() { return std::make_unique<MemoryStore>(ids_); }
  // Nothing to reload: the same store stays open.
  void reopen(std::unique_ptr<Store>& store) {
    if (store == nullptr) store = open();
  }

private:
  ManualClock clock_{kT0};
  UuidV7Source ids_{clock_};
};

class RocksdbStoreFactory {
public:
  // sync = false: tests only need process-crash safety, and it is much faster.
  explicit RocksdbStoreFactory(bool sync = false) : dir_(unique_dir()), sync_(sync) {}
  ~RocksdbStoreFactory() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);  // best effort: a leftover temp folder fails nothing
  }
  RocksdbStoreFactory(const RocksdbStoreFactory&) = delete;
  RocksdbStoreFactory& operator=(const RocksdbStoreFactory&) = delete;

  // Opens the test's database folder (created on first use). Null (and a test failure) on error.
  [[nodiscard]] std::unique_ptr<Store> open() {
    RocksdbOptions options;
    options.path = path();
    options.sync = sync_;
    auto opened = RocksdbStore::open(options, ids_);
    if (!opened) {
      ADD_FAILURE() << "RocksdbStore::open(" << options.path << "): " << describe(opened.error());
      return nullptr;
    }
    return std::unique_ptr<Store>(std::move(*opened));
  }

  // Closes the database (the old store must be gone before the folder can be opened again)
  // and opens the same folder.
  void reopen(std::unique_ptr<Store>& store) {
    store.reset();
    store = open();
  }

  [[nodiscard]] std::string path() const { return (dir_ / "db").string(); }

private:
  static std::filesystem::path unique_dir() {
    static std::atomic<std::uint64_t> counter{0};
    std::string name = "mbx_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1));
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info(); info != nullptr) {
      name += "_";
      for (const char c : std::string(info->name())) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    std::error_code ec;
    auto base = std::filesystem::temp_directory_path(ec);  // honours $TMPDIR
    if (ec) base = "/tmp";
    auto dir = base / name;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir, ec);
    return dir;
  }

  std::filesystem::path dir_;
  bool sync_;
  ManualClock clock_{kT0};
  UuidV7Source ids_{clock_};
};

// For suites typed over both backends (ctest names them Suite.Test<...Factory>).
using AllStoreFactories = ::testing::Types<MemoryStoreFactory, RocksdbStoreFactory>;

// ---- Builders -------------------------------------------------------------------------------

inline constexpr std::int64_t kT0s = kT0 / 1000;  // run records keep seconds
inline constexpr std::int64_t kLeaseMs = 30'000;
inline constexpr const char* kConsumer = "consumer-a";
inline constexpr const char* kOtherConsumer = "consumer-b";

// A clean Queued dispatch with the defaults (priority 128, max attempts 5) created at `created_at`;
// its run id is "r-" + dispatch id unless given.
[[nodiscard]] inline RunDispatch make_dispatch(const std::string& dispatch_id, const std::string& thread_id = "t-1",
                                               const std::string& run_id = {}, std::int64_t created_at = kT0) {
  return RunDispatch::queued(dispatch_id, thread_id, run_id.empty() ? "r-" + dispatch_id : run_id, created_at);
}

// A run record that passes the persist invariants of `status` (times in seconds).
[[nodiscard]] inline RunRecord make_run(const std::string& run_id, const std::string& thread_id = "t-1",
                                        RunStatus status = RunStatus::created, std::int64_t created_s = kT0s,
                                        std::optional<std::int64_t> updated_s = std::nullopt) {
  RunRecord r;
  r.run_id = run_id;
  r.thread_id = thread_id;
  r.agent_id = "agent-a";
  r.status = status;
  r.created_at = created_s;
  r.updated_at = updated_s.value_or(created_s);
  if (status != RunStatus::created) r.started_at = created_s;
  if (status == RunStatus::waiting) {
    RunWaitingState w;
    w.reason = WaitingReason::user_input;
    w.ticket_ids = {"ticket-1"};
    w.message = "need input";
    r.waiting = std::move(w);
  }
  if (status == RunStatus::done) {
    r.finished_at = r.updated_at;
    r.termination_reason = TerminationReason{TerminationKind::natural_end, "", ""};
  }
  return r;
}

[[nodiscard]] inline Message user_message(const std::string& id, const std::string& content = "hello") {
  Message m;
  m.id = id;
  m.role = Role::user;
  m.content = content;
  return m;
}

[[nodiscard]] inline Message assistant_message(const std::string& id, const std::string& content = "hi there") {
  Message m = user_message(id, content);
  m.role = Role::assistant;
  return m;
}

[[nodiscard]] inline AgentEvent text_event(const std::string& thread_id, const std::string& run_id,
                                           const std::string& text, std::int64_t at_ms = kT0) {
  AgentEvent e;
  e.type = AgentEventType::text_delta;
  e.thread_id = thread_id;
  e.run_id = run_id;
  e.text = text;
  e.at_ms = at_ms;
  return e;
}

[[nodiscard]] inline RunDispatchResult done_result(const std::string& run_id, const std::string& instance_id,
                                                   const std::string& response = "the answer") {
  RunDispatchResult r;
  r.run_id = run_id;
  r.dispatch_instance_id = instance_id;
  r.status = RunStatus::done;
  r.termination = TerminationReason{TerminationKind::natural_end, "", ""};
  r.response = response;
  return r;
}

// ---- Assertions -----------------------------------------------------------------------------

// EXPECT_TRUE(is_ok(r)): prints the error when r failed.
template <class T>
[[nodiscard]] ::testing::AssertionResult is_ok(const Result<T>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed with " << describe(r.error());
}

// EXPECT_TRUE(fails_with(r, Errc::fenced)): r failed, with this code.
template <class T>
[[nodiscard]] ::testing::AssertionResult fails_with(const Result<T>& r, Errc code) {
  if (r) return ::testing::AssertionFailure() << "succeeded, expected a " << to_string(code) << " error";
  if (r.error().code != code)
    return ::testing::AssertionFailure() << "failed with " << describe(r.error()) << ", expected a "
                                         << to_string(code) << " error";
  return ::testing::AssertionSuccess();
}

// Thread ids ("<prefix>0", "<prefix>1", ...) that land on one lock stripe of RocksdbStore, whose
// stripe is the id's std::hash modulo 4096 (Impl::kThreadStripes). Should that number change,
// a test built on them still runs, only without sharing a stripe.
inline std::vector<std::string> threads_on_one_stripe(std::size_t n, const std::string& prefix) {
  constexpr std::size_t kStripes = 4096;
  const auto stripe_of = [](std::string_view id) { return std::hash<std::string_view>{}(id) % kStripes; };
  const std::size_t stripe = stripe_of(prefix + "0");
  std::vector<std::string> out;
  for (std::uint64_t i = 0; out.size() < n; ++i) {
    std::string id = prefix + std::to_string(i);
    if (stripe_of(id) == stripe) out.push_back(std::move(id));
  }
  return out;
}

}  // namespace mbx::store_tests

// ---- Printers (found by ADL, so failures show records instead of bytes) ----------------------

namespace mbx {

namespace store_tests::detail {
template <class T>
void print_opt(std::ostream& os, const char* name, const std::optional<T>& v) {
  if (!v) return;
  os << " " << name << "=";
  if constexpr (std::is_enum_v<T>) {
    os << to_string(*v);
  } else {
    os << *v;
  }
}
}  // namespace store_tests::detail

inline void PrintTo(const Error& e, std::ostream* os) { *os << describe(e); }

inline void PrintTo(const TerminationReason& t, std::ostream* os) {
  *os << to_string(t.kind);
  if (!t.code.empty()) *os << "/" << t.code;
  if (!t.detail.empty()) *os << "(" << t.detail << ")";
}

inline void PrintTo(const RunDispatch& d, std::ostream* os) {
  using store_tests::detail::print_opt;
  auto& o = *os;
  o << "{" << d.dispatch_id << " thread=" << d.thread_id << " run=" << d.run_id << " " << to_string(d.status)
    << " prio=" << static_cast<int>(d.priority) << " epoch=" << d.dispatch_epoch << " avail=" << d.available_at
    << " attempt=" << d.attempt_count << "/" << d.max_attempts;
  print_opt(o, "dedupe", d.dedupe_key);
  print_opt(o, "last_error", d.last_error);
  print_opt(o, "token", d.claim_token);
  print_opt(o, "by", d.claimed_by);
  print_opt(o, "lease_until", d.lease_until);
  print_opt(o, "instance", d.dispatch_instance_id);
  print_opt(o, "run_status", d.run_status);
  if (d.termination) {
    o << " termination=";
    PrintTo(*d.termination, os);
  }
  print_opt(o, "response", d.run_response);
  print_opt(o, "run_error", d.run_error);
  print_opt(o, "completed_at", d.completed_at);
  o << " created=" << d.created_at << " updated=" << d.updated_at << "}";
}

inline void PrintTo(const Fence& f, std::ostream* os) {
  *os << "Fence{" << f.dispatch_id << ", " << f.claim_token << ", epoch " << f.epoch << "}";
}

inline void PrintTo(const RunRecord& r, std::ostream* os) {
  using store_tests::detail::print_opt;
  auto& o = *os;
  o << "{run " << r.run_id << " thread=" << r.thread_id << " agent=" << r.agent_id << " " << to_string(r.status)
    << " created=" << r.created_at << " updated=" << r.updated_at << " steps=" << r.steps;
  print_opt(o, "dispatch", r.dispatch_id);
  print_opt(o, "final_output", r.final_output);
  print_opt(o, "finished_at", r.finished_at);
  if (r.waiting) o << " waiting";
  if (r.activation) o << " +activation";
  if (r.request) o << " +request";
  if (r.input) o << " +input";
  if (r.output) o << " +output";
  if (r.outcome) o << " +outcome";
  if (r.state) o << " state=" << r.state->json;
  o << "}";
}

inline void PrintTo(const MessageRecord& m, std::ostream* os) {
  *os << "{" << m.thread_id << "#" << m.seq << " " << m.message.id << " " << to_string(m.message.role) << " \""
      << m.message.content << "\" by=" << m.produced_by_run_id.value_or("-") << " at=" << m.created_at << "}";
}

inline void PrintTo(const AgentEvent& e, std::ostream* os) {
  *os << "{" << e.run_id << "#" << e.seq << " " << to_string(e.type) << " \"" << e.text << "\" at=" << e.at_ms << "}";
}

}  // namespace mbx
