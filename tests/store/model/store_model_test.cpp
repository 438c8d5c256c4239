// Model-based test of the RocksDB store: rapidcheck generates random operation sequences over
// a small universe (3 threads, 12 dispatch ids, 4 run ids, 2 consumers, a manual clock) and
// applies each operation to a MemoryStore (the reference model) and to a RocksdbStore (temp
// folder, sync=false). Both must agree on success, Errc and returned value (claim tokens match
// because each store mints them from its own deterministic "tok-1", "tok-2", ... source), and
// after every step on every observable query. After each sequence verify() must be empty.
// On failure the message lists the interpreted operations of the (shrunk) sequence.
// RC_PARAMS (e.g. RC_PARAMS="seed=42 max_success=500") overrides the defaults.
#include "messages/clock.hpp"
#include "messages/ids.hpp"
#include "messages/run_dispatch.hpp"
#include "store/memory/memory_store.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace mbx {
namespace {

namespace fs = std::filesystem;

constexpr int kDispatches = 12;
constexpr int kThreads = 3;
constexpr int kRuns = 6;
constexpr int kMaxOps = 60;
constexpr int kDefaultCases = 200;
constexpr std::int64_t kStartMs = 1'700'000'000'000;
const std::vector<DispatchStatus> kAllStatuses = {DispatchStatus::queued,     DispatchStatus::claimed,
                                                  DispatchStatus::acked,      DispatchStatus::cancelled,
                                                  DispatchStatus::superseded, DispatchStatus::dead_letter};

// Claim tokens "tok-1", "tok-2", ...: two stores that mint in the same order mint the same.
class SequenceIds final : public IdSource {
public:
  [[nodiscard]] std::string next_id() override { return "tok-" + std::to_string(++n_); }

private:
  std::uint64_t n_ = 0;
};

// A fresh folder, removed with everything in it. Under $TMPDIR if set, else /dev/shm when there
// is one (sync=false here: durability is not under test, and opening RocksDB there is ~5x faster),
// else the system temp folder.
fs::path temp_root() {
  if (std::getenv("TMPDIR") != nullptr) return fs::temp_directory_path();
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

class TempDir {
public:
  TempDir() {
    std::string tmpl = (temp_root() / "mbx-model-XXXXXX").string();
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

// ---- operations --------------------------------------------------------------------------------

enum class OpKind : std::uint8_t {
  enqueue,
  claim,
  claim_dispatch,
  ack,
  nack,
  dead_letter,
  extend_lease,
  record_dispatch_start,
  record_run_result,
  supersede_claimed,
  cancel,
  interrupt,
  reclaim_expired_leases,
  purge_terminal,
  commit_run_append,
  append_event,
};

constexpr const char* kOpNames[] = {"enqueue",          "claim",
                                    "claim_dispatch",   "ack",
                                    "nack",             "dead_letter",
                                    "extend_lease",     "record_dispatch_start",
                                    "record_run_result", "supersede_claimed",
                                    "cancel",           "interrupt",
                                    "reclaim_expired_leases", "purge_terminal",
                                    "commit_run_append", "append_event"};

// One generated step: the clock advance before it, and raw choices that the interpreter maps
// (modulo) onto the universe, so that every shrink of a field is still a valid step.
struct Op {
  OpKind kind = OpKind::enqueue;
  int advance_ms = 0;
  int a = 0;
  int b = 0;
  int c = 0;
  int d = 0;
  int e = 0;
  int f = 0;  // fence choice
  int g = 0;
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  return os << kOpNames[static_cast<int>(op.kind)] << "{+" << op.advance_ms << "ms " << op.a << "," << op.b << ","
            << op.c << "," << op.d << "," << op.e << "," << op.f << "," << op.g << "}";
}

rc::Gen<Op> gen_op() {
  using K = OpKind;
  auto field = rc::gen::inRange(0, 1000);
  return rc::gen::build<Op>(
      rc::gen::set(&Op::kind, rc::gen::weightedElement<K>({{10, K::enqueue},
                                                           {8, K::claim},
                                                           {4, K::claim_dispatch},
                                                           {5, K::ack},
                                                           {5, K::nack},
                                                           {2, K::dead_letter},
                                                           {3, K::extend_lease},
                                                           {3, K::record_dispatch_start},
                                                           {3, K::record_run_result},
                                                           {2, K::supersede_claimed},
                                                           {3, K::cancel},
                                                           {3, K::interrupt},
                                                           {3, K::reclaim_expired_leases},
                                                           {2, K::purge_terminal},
                                                           {6, K::commit_run_append},
                                                           {4, K::append_event}})),
      rc::gen::set(&Op::advance_ms,
                   rc::gen::weightedOneOf<int>({{4, rc::gen::just(0)}, {6, rc::gen::inRange(1, 3001)}})),
      rc::gen::set(&Op::a, field), rc::gen::set(&Op::b, field), rc::gen::set(&Op::c, field),
      rc::gen::set(&Op::d, field), rc::gen::set(&Op::e, field), rc::gen::set(&Op::f, field),
      rc::gen::set(&Op::g, field));
}

// ---- printing (for failure messages) -------------------------------------------------------------

template <class T>
std::string opt(const std::optional<T>& v) {
  if (!v) return "-";
  std::ostringstream os;
  if constexpr (std::is_enum_v<T>) {
    os << to_string(*v);
  } else if constexpr (std::is_same_v<T, TerminationReason>) {
    os << to_string(v->kind);
  } else {
    os << *v;
  }
  return os.str();
}

std::string show(const RunDispatch& d) {
  std::ostringstream os;
  os << d.dispatch_id << "{" << to_string(d.status) << " thread=" << d.thread_id << " run=" << d.run_id
     << " prio=" << int(d.priority) << " dedupe=" << opt(d.dedupe_key) << " epoch=" << d.dispatch_epoch
     << " avail=" << d.available_at - kStartMs << " attempt=" << d.attempt_count << "/" << d.max_attempts
     << " err=" << opt(d.last_error) << " token=" << opt(d.claim_token) << " by=" << opt(d.claimed_by)
     << " lease=" << (d.lease_until ? std::to_string(*d.lease_until - kStartMs) : "-")
     << " inst=" << opt(d.dispatch_instance_id) << " run_status=" << opt(d.run_status)
     << " term=" << opt(d.termination) << " resp=" << opt(d.run_response) << " run_err=" << opt(d.run_error)
     << " completed=" << (d.completed_at ? std::to_string(*d.completed_at - kStartMs) : "-")
     << " created=" << d.created_at - kStartMs << " updated=" << d.updated_at - kStartMs << "}";
  return os.str();
}
std::string show(const std::optional<RunDispatch>& d) { return d ? show(*d) : "none"; }
std::string show(const RunRecord& r) {
  return r.run_id + "{" + std::string(to_string(r.status)) + " thread=" + r.thread_id +
         " updated=" + std::to_string(r.updated_at) + "}";
}
std::string show(const std::optional<RunRecord>& r) { return r ? show(*r) : "none"; }
std::string show(const MessageRecord& m) {
  return m.thread_id + "#" + std::to_string(m.seq) + ":" + m.message.id + " by " + opt(m.produced_by_run_id);
}
std::string show(const std::optional<MessageRecord>& m) { return m ? show(*m) : "none"; }
std::string show(const AgentEvent& e) { return e.run_id + "#" + std::to_string(e.seq) + ":" + e.text; }
std::string show(const std::string& s) { return "'" + s + "'"; }
std::string show(std::uint64_t v) { return std::to_string(v); }
std::string show(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v - kStartMs) : "none"; }
std::string show(const DispatchCounts& c) {
  std::string out;
  for (std::size_t i = 0; i < c.size(); ++i) out += std::string(to_string(static_cast<DispatchStatus>(i))) + "=" + std::to_string(c[i]) + " ";
  return out;
}
template <class T>
std::string show(const std::vector<T>& v) {
  std::string out = "[";
  for (const auto& x : v) out += "\n      " + show(x);
  return out + "]";
}
std::string show(const InterruptResult& r) {
  return "{epoch=" + std::to_string(r.new_epoch) + " active=" + show(r.active_dispatch) +
         " count=" + std::to_string(r.superseded_count) + " superseded=" + show(r.superseded) + "}";
}
std::string show(const DispatchPage& p) { return "{total=" + std::to_string(p.total) + " " + show(p.items) + "}"; }
std::string show(const RunPage& p) { return "{total=" + std::to_string(p.total) + " " + show(p.items) + "}"; }

bool same_value(const InterruptResult& x, const InterruptResult& y) {
  return x.new_epoch == y.new_epoch && x.active_dispatch == y.active_dispatch &&
         x.superseded_count == y.superseded_count && x.superseded == y.superseded;
}
bool same_value(const DispatchPage& x, const DispatchPage& y) { return x.total == y.total && x.items == y.items; }
bool same_value(const RunPage& x, const RunPage& y) { return x.total == y.total && x.items == y.items; }
template <class T>
bool same_value(const T& x, const T& y) {
  return x == y;
}

// ---- the two stores side by side -----------------------------------------------------------------

class Pair {
public:
  explicit Pair(const std::string& dir) : memory_(memory_ids_) {
    auto r = RocksdbStore::open(RocksdbOptions{dir, false}, rocks_ids_);
    if (!r) RC_FAIL("RocksdbStore::open: " + describe(r.error()));
    rocks_ = std::move(*r);
  }

  MemoryStore& memory() { return memory_; }
  RocksdbStore& rocks() { return *rocks_; }
  std::int64_t now() const { return clock_.now_ms(); }
  void advance(int ms) { clock_.advance_ms(ms); }

  // Applies `call` to both stores, requires the same outcome, returns the memory result.
  template <class Call>
  auto both(const std::string& what, Call&& call) -> decltype(call(std::declval<Store&>())) {
    auto m = call(static_cast<Store&>(memory_));
    auto r = call(static_cast<Store&>(*rocks_));
    if (static_cast<bool>(m) != static_cast<bool>(r))
      fail(what + ": memory " + (m ? std::string("succeeded") : describe(m.error())) + ", rocksdb " +
           (r ? std::string("succeeded") : describe(r.error())));
    if (!m) {
      if (m.error().code != r.error().code)
        fail(what + ": memory fails with " + describe(m.error()) + ", rocksdb with " + describe(r.error()));
      return m;
    }
    if (!same_value(*m, *r)) fail(what + ":\n    memory  " + show(*m) + "\n    rocksdb " + show(*r));
    return m;
  }

  void note(std::string line) { trace_.push_back(std::move(line)); }

  [[noreturn]] void fail(const std::string& what) {
    std::string msg = "memory and rocksdb disagree on " + what + "\n  after the operations:\n";
    for (std::size_t i = 0; i < trace_.size(); ++i) msg += "    " + std::to_string(i + 1) + ". " + trace_[i] + "\n";
    RC_FAIL(msg);
  }

private:
  SequenceIds memory_ids_;
  SequenceIds rocks_ids_;
  MemoryStore memory_;
  std::unique_ptr<RocksdbStore> rocks_;
  ManualClock clock_{kStartMs};
  std::vector<std::string> trace_;
};

std::string dispatch_name(int i) { return "d" + std::to_string(i % kDispatches); }
std::string thread_name(int i) { return "t" + std::to_string(i % kThreads); }
std::string run_name(int i) { return "r" + std::to_string(i % kRuns); }
// Mostly one of the two runs "of" the thread (r<t>, r<t+3>), sometimes any run.
std::string run_for(int thread, int choice) {
  return choice % 5 == 4 ? run_name(choice) : run_name(thread % kThreads + kThreads * (choice % 2));
}
std::string ms(std::int64_t v) { return (v >= 0 ? "+" : "") + std::to_string(v); }

// Interprets generated operations against the pair; remembers the fences claims handed out.
class Interpreter {
public:
  explicit Interpreter(Pair& p) : p_(p) {}

  void apply(const Op& op) {
    p_.advance(op.advance_ms);
    const auto now = p_.now();
    const std::string at = "[t" + ms(now - kStartMs) + "] ";
    switch (op.kind) {
      case OpKind::enqueue: return enqueue(op, at);
      case OpKind::claim: {
        auto ready = p_.memory().queued_thread_ids(now, 0);
        const auto thread = op.g % 3 != 0 && ready && !ready->empty()
                                ? (*ready)[static_cast<std::size_t>(op.b) % ready->size()]
                                : thread_name(op.b);
        const auto consumer = "c" + std::to_string(op.c % 2);
        const std::int64_t lease = op.d % 2 == 0 ? 1000 : 5000;
        const std::uint32_t limit = std::array<std::uint32_t, 4>{1, 1, 2, 0}[op.e % 4];
        p_.note(at + "claim " + thread + " " + consumer + " lease=" + std::to_string(lease) + " limit=" +
                std::to_string(limit));
        auto r = p_.both("claim", [&](Store& s) { return s.claim(thread, consumer, lease, now, limit); });
        if (r)
          for (const auto& d : *r) fences_.push_back(Fence::of(d));
        return;
      }
      case OpKind::claim_dispatch: {
        const auto id = op.g % 3 != 0 ? pick_dispatch(DispatchStatus::queued, op.a) : dispatch_name(op.a);
        const auto consumer = "c" + std::to_string(op.c % 2);
        const std::int64_t lease = op.d % 2 == 0 ? 1000 : 5000;
        p_.note(at + "claim_dispatch " + id + " " + consumer + " lease=" + std::to_string(lease));
        auto r = p_.both("claim_dispatch", [&](Store& s) { return s.claim_dispatch(id, consumer, lease, now); });
        if (r && *r) fences_.push_back(Fence::of(**r));
        return;
      }
      case OpKind::ack: {
        const auto f = fence(op);
        p_.note(at + "ack " + show(f));
        std::ignore = p_.both("ack", [&](Store& s) { return s.ack(f, now); });  // compared inside
        return;
      }
      case OpKind::nack: {
        const auto f = fence(op);
        const std::int64_t retry = std::array<std::int64_t, 3>{0, 1000, -100}[op.d % 3];
        p_.note(at + "nack " + show(f) + " retry_at=" + ms(retry));
        std::ignore = p_.both("nack", [&](Store& s) { return s.nack(f, now + retry, "boom", now); });
        return;
      }
      case OpKind::dead_letter: {
        const auto f = fence(op);
        p_.note(at + "dead_letter " + show(f));
        std::ignore = p_.both("dead_letter", [&](Store& s) { return s.dead_letter(f, "fatal", now); });
        return;
      }
      case OpKind::extend_lease: {
        const auto f = fence(op);
        const std::int64_t lease = op.d % 2 == 0 ? 1000 : 5000;
        p_.note(at + "extend_lease " + show(f) + " lease=" + std::to_string(lease));
        std::ignore = p_.both("extend_lease", [&](Store& s) { return s.extend_lease(f, lease, now); });
        return;
      }
      case OpKind::record_dispatch_start: {
        const auto f = fence(op);
        const std::string instance = op.d % 7 == 6 ? std::string(" ") : "inst-" + std::to_string(op.d % 3);
        p_.note(at + "record_dispatch_start " + show(f) + " '" + instance + "'");
        std::ignore = p_.both("record_dispatch_start",
                              [&](Store& s) { return s.record_dispatch_start(f, instance, now); });
        return;
      }
      case OpKind::record_run_result: return record_run_result(op, at);
      case OpKind::supersede_claimed: {
        const auto f = fence(op);
        const std::string reason = "why-" + std::to_string(op.d % 2);
        p_.note(at + "supersede_claimed " + show(f) + " " + reason);
        std::ignore = p_.both("supersede_claimed", [&](Store& s) { return s.supersede_claimed(f, now, reason); });
        return;
      }
      case OpKind::cancel: {
        const auto id = op.g % 2 != 0 ? pick_dispatch(DispatchStatus::queued, op.a) : dispatch_name(op.a);
        p_.note(at + "cancel " + id);
        std::ignore = p_.both("cancel", [&](Store& s) { return s.cancel(id, now); });
        return;
      }
      case OpKind::interrupt: {
        const std::string thread = op.e % 10 == 9 ? std::string() : op.e % 10 == 8 ? "t9" : thread_name(op.b);
        p_.note(at + "interrupt '" + thread + "'");
        std::ignore = p_.both("interrupt", [&](Store& s) { return s.interrupt(thread, now); });
        return;
      }
      case OpKind::reclaim_expired_leases: {
        const std::uint32_t limit = std::array<std::uint32_t, 3>{0, 1, 5}[op.d % 3];
        p_.note(at + "reclaim_expired_leases limit=" + std::to_string(limit));
        std::ignore = p_.both("reclaim_expired_leases", [&](Store& s) { return s.reclaim_expired_leases(now, limit); });
        return;
      }
      case OpKind::purge_terminal: {
        const std::int64_t back = std::array<std::int64_t, 4>{0, 1000, 10000, -1}[op.d % 4];
        p_.note(at + "purge_terminal older_than=" + ms(-back));
        std::ignore = p_.both("purge_terminal", [&](Store& s) { return s.purge_terminal(now - back); });
        return;
      }
      case OpKind::commit_run_append: return commit(op, at);
      case OpKind::append_event: return append_event(op, at);
    }
  }

private:
  static std::string show(const Fence& f) {
    return "fence{" + f.dispatch_id + "," + f.claim_token + ",e" + std::to_string(f.epoch) + "}";
  }

  // Some dispatch now in `status` (any status if none) by the reference, else any name.
  std::string pick_dispatch(std::optional<DispatchStatus> status, int choice) const {
    std::vector<std::string> ids;
    for (int i = 0; i < kDispatches; ++i) {
      auto d = p_.memory().load_dispatch(dispatch_name(i));
      if (d && *d && (!status || (*d)->status == *status)) ids.push_back((*d)->dispatch_id);
    }
    return ids.empty() ? dispatch_name(choice) : ids[static_cast<std::size_t>(choice) % ids.size()];
  }

  // The real fence of a Claimed dispatch, an older fence a claim handed out, or a made-up one
  // (a claimed dispatch's token with the wrong epoch, an old token, a bogus token).
  Fence fence(const Op& op) const {
    const int choice = op.f % 5;
    if (choice <= 2) {
      const auto id = pick_dispatch(DispatchStatus::claimed, op.g);
      auto d = p_.memory().load_dispatch(id);
      if (d && *d && (*d)->status == DispatchStatus::claimed) return Fence::of(**d);
    }
    if (!fences_.empty() && choice <= 3) return fences_[fences_.size() - 1 - static_cast<std::size_t>(op.g) % fences_.size()];
    const auto id = op.a % 4 != 0 ? pick_dispatch(std::nullopt, op.a) : dispatch_name(op.a);
    auto d = p_.memory().load_dispatch(id);
    Fence f{id, "tok-" + std::to_string(1 + op.g % 6), static_cast<std::uint64_t>(op.g % 2)};
    if (op.g % 3 == 0) f.claim_token = "bogus";
    if (op.g % 3 == 1 && d && *d && (*d)->claim_token) {
      f = Fence::of(**d);
      f.epoch += 1 + static_cast<std::uint64_t>(op.g % 2);
    }
    return f;
  }

  // The fence of commit / append_event: none (f % 5 == 4) or as above.
  std::optional<Fence> optional_fence(const Op& op) const {
    if (op.f % 5 == 4) return std::nullopt;
    Op o = op;
    o.f = op.f % 4;
    return fence(o);
  }

  void enqueue(const Op& op, const std::string& at) {
    const auto now = p_.now();
    auto d = RunDispatch::queued(dispatch_name(op.a), thread_name(op.b), run_for(op.b, op.c), now);
    d.priority = std::array<std::uint8_t, 3>{0, 128, 255}[op.d % 3];
    d.available_at = now + std::array<std::int64_t, 4>{0, -500, 1000, 5000}[(op.d / 3) % 4];
    d.max_attempts = static_cast<std::uint32_t>(1 + op.e % 3);
    if ((op.d / 12) % 10 == 9) d.max_attempts = 0;  // invalid
    const int dedupe = (op.e / 3) % 3;
    if (dedupe != 0) d.dedupe_key = "k" + std::to_string(dedupe);
    EnqueueOptions options;
    options.max_queued_per_thread = (op.e / 9) % 2 == 1 ? 2 : 0;
    p_.note(at + "enqueue " + d.dispatch_id + " " + d.thread_id + " " + d.run_id + " prio=" +
            std::to_string(d.priority) + " avail=" + ms(d.available_at - now) + " max=" +
            std::to_string(d.max_attempts) + " dedupe=" + d.dedupe_key.value_or("-") + " max_queued=" +
            std::to_string(options.max_queued_per_thread));
    std::ignore = p_.both("enqueue", [&](Store& s) { return s.enqueue(d, options); });
  }

  void record_run_result(const Op& op, const std::string& at) {
    const auto now = p_.now();
    const auto f = fence(op);
    RunDispatchResult result;
    auto stored = p_.memory().load_dispatch(f.dispatch_id);
    result.run_id = op.c % 3 != 0 && stored && *stored ? (*stored)->run_id : run_name(op.c);
    result.dispatch_instance_id = op.e % 9 == 8 ? std::string() : "inst-" + std::to_string(op.e % 2);
    switch (op.d % 3) {
      case 0:
        result.status = RunStatus::done;
        result.termination = TerminationReason{TerminationKind::natural_end, "", ""};
        result.response = "answer";
        break;
      case 1:
        result.status = RunStatus::waiting;
        result.termination = TerminationReason{TerminationKind::suspended, "", ""};
        break;
      default:
        result.status = RunStatus::done;
        result.termination = TerminationReason{TerminationKind::error, "", "bad"};
        result.error = "bad";
        break;
    }
    p_.note(at + "record_run_result " + show(f) + " run=" + result.run_id + " inst='" + result.dispatch_instance_id +
            "' status=" + std::string(to_string(result.status)));
    std::ignore = p_.both("record_run_result", [&](Store& s) { return s.record_run_result(f, result, now); });
  }

  void commit(const Op& op, const std::string& at) {
    const auto now = p_.now();
    const auto fence = optional_fence(op);
    // a fenced commit usually writes its dispatch's thread and run (the engine's use), but
    // sometimes another thread: both stores must then refuse it alike
    auto stored = fence ? p_.memory().load_dispatch(fence->dispatch_id) : Result<std::optional<RunDispatch>>{};
    const bool known = fence && stored && *stored;
    const auto thread = known && op.b % 8 != 7 ? (*stored)->thread_id : thread_name(op.b);
    RunRecord run;
    run.run_id = known && op.c % 3 != 0 ? (*stored)->run_id : run_for(op.b, op.c);
    run.thread_id = op.a % 12 == 11 ? thread_name(op.b + 1) : thread;
    run.created_at = now / 1000;
    run.updated_at = now / 1000;
    run.steps = static_cast<std::uint32_t>(op.g % 5);
    switch (op.g % 4) {
      case 0: run.status = RunStatus::created; break;
      case 1: run.status = RunStatus::running; break;
      case 2:
        run.status = RunStatus::waiting;
        run.waiting = RunWaitingState{};
        run.waiting->ticket_ids = {"ticket-1"};
        break;
      default:
        run.status = RunStatus::done;
        run.finished_at = now / 1000;
        run.outcome = RunOutcome{};
        run.final_output = "done";
        break;
    }
    const int count = op.d % 4;
    std::vector<Message> messages(static_cast<std::size_t>(count));
    auto log = p_.memory().load_committed_messages(thread, 1, 0);
    for (auto& m : messages) {
      m.id = "m" + std::to_string(++messages_);
      m.role = Role::user;
      m.content = "hello " + m.id;
      m.metadata.run_id = run.run_id;
    }
    const int variant = op.a % 12;
    if (count > 0 && variant == 5 && log && !log->empty()) messages[0].id = log->front().message.id;  // committed
    if (count > 1 && variant == 4) messages[1].id = messages[0].id;                                   // in delta
    if (count > 0 && variant == 3) messages.back().role = Role::tool;                                 // bad shape
    auto version = p_.memory().committed_version(thread);
    std::optional<std::uint64_t> expected = version ? *version : 0;
    if (op.e % 8 == 6) expected = *expected + 1;
    if (op.e % 8 == 7) expected.reset();
    std::string ids;
    for (const auto& m : messages) ids += " " + m.id + (m.role == Role::tool ? "(tool)" : "");
    p_.note(at + "commit_run_append " + thread + " run=" + run.run_id + "@" + run.thread_id + " " +
            std::string(to_string(run.status)) + " expected=" + (expected ? std::to_string(*expected) : "none") +
            " " + (fence ? show(*fence) : "unfenced") + " messages:" + ids);
    std::ignore = p_.both("commit_run_append", [&](Store& s) {
      return s.commit_run_append(thread, messages, expected, run, fence ? &*fence : nullptr, now);
    });
  }

  void append_event(const Op& op, const std::string& at) {
    const auto fence = optional_fence(op);
    auto stored = fence ? p_.memory().load_dispatch(fence->dispatch_id) : Result<std::optional<RunDispatch>>{};
    std::string run_id = fence && op.c % 3 != 0 && stored && *stored ? (*stored)->run_id : run_for(op.b, op.c);
    if (op.a % 10 == 9) run_id = " ";
    AgentEvent ev;
    ev.type = op.d % 2 == 0 ? AgentEventType::text_delta : AgentEventType::step_start;
    ev.thread_id = thread_name(op.b);
    ev.text = "ev" + std::to_string(++events_);
    ev.at_ms = p_.now();
    p_.note(at + "append_event '" + run_id + "' " + (fence ? show(*fence) : "unfenced") + " " + ev.text);
    std::ignore = p_.both("append_event", [&](Store& s) { return s.append_event(run_id, ev, fence ? &*fence : nullptr); });
  }

  Pair& p_;
  std::vector<Fence> fences_;
  int messages_ = 0;
  int events_ = 0;
};

// Every observable query, on both stores.
void compare_state(Pair& p, const std::string& step) {
  const auto now = p.now();
  const std::string in = " (after step " + step + ")";
  for (int i = 0; i < kDispatches; ++i) {
    const auto id = dispatch_name(i);
    std::ignore = p.both("load_dispatch " + id + in, [&](Store& s) { return s.load_dispatch(id); });
  }
  std::ignore = p.both("count_dispatches_by_status" + in, [&](Store& s) { return s.count_dispatches_by_status(); });
  std::ignore = p.both("queued_thread_ids" + in, [&](Store& s) { return s.queued_thread_ids(now, 0); });
  std::ignore = p.both("queued_thread_ids limit 1" + in, [&](Store& s) { return s.queued_thread_ids(now, 1); });
  std::ignore = p.both("next_available_at" + in, [&](Store& s) { return s.next_available_at(now); });
  std::ignore = p.both("list_terminal_dispatches" + in, [&](Store& s) { return s.list_terminal_dispatches(0, 0); });
  std::ignore = p.both("list_terminal_dispatches page" + in, [&](Store& s) { return s.list_terminal_dispatches(1, 2); });
  for (const std::string thread : {"t0", "t1", "t2", "t9"}) {
    const auto t = " " + thread + in;
    std::ignore = p.both("current_epoch" + t, [&](Store& s) { return s.current_epoch(thread); });
    std::ignore = p.both("committed_version" + t, [&](Store& s) { return s.committed_version(thread); });
    std::ignore = p.both("load_committed_messages" + t, [&](Store& s) { return s.load_committed_messages(thread, 1, 0); });
    std::ignore = p.both("load_committed_messages from 2 limit 2" + t,
                         [&](Store& s) { return s.load_committed_messages(thread, 2, 2); });
    std::ignore = p.both("load_message_records_range 2..3" + t,
                         [&](Store& s) { return s.load_message_records_range(thread, 2, 3); });
    std::ignore = p.both("list_dispatches" + t,
                         [&](Store& s) { return s.list_dispatches(thread, kAllStatuses, 0, 0, false); });
    std::ignore = p.both("list_dispatches newest first page" + t,
                         [&](Store& s) { return s.list_dispatches(thread, kAllStatuses, 1, 2, true); });
    std::ignore = p.both("list_dispatches queued+claimed" + t, [&](Store& s) {
      return s.list_dispatches(thread, {DispatchStatus::queued, DispatchStatus::claimed}, 0, 0, false);
    });
    std::ignore = p.both("latest_run" + t, [&](Store& s) { return s.latest_run(thread); });
    std::ignore = p.both("reusable_waiting_run" + t, [&](Store& s) { return s.reusable_waiting_run(thread); });
    std::ignore = p.both("list_runs" + t, [&](Store& s) { return s.list_runs(thread, 0, 0); });
    for (int m = 1; m <= 4; ++m) {
      const auto mid = "m" + std::to_string(m);
      std::ignore = p.both("load_message_record " + mid + t, [&](Store& s) { return s.load_message_record(thread, mid); });
    }
  }
  for (int i = 0; i < kRuns; ++i) {
    const auto run = run_name(i);
    std::ignore = p.both("load_run " + run + in, [&](Store& s) { return s.load_run(run); });
    std::ignore = p.both("read_events " + run + in, [&](Store& s) { return s.read_events(run, 0, 0); });
    std::ignore = p.both("read_events after 1 limit 1 " + run + in, [&](Store& s) { return s.read_events(run, 1, 1); });
  }
  for (auto st : {RunStatus::created, RunStatus::running, RunStatus::waiting, RunStatus::done})
    std::ignore = p.both("list_runs_by_status " + std::string(to_string(st)) + in,
                         [&](Store& s) { return s.list_runs_by_status(st, 0, 0); });
}

void run_sequence(const std::vector<Op>& ops) {
  TempDir dir;
  Pair pair(dir.db());
  Interpreter interpreter(pair);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    interpreter.apply(ops[i]);
    compare_state(pair, std::to_string(i + 1));
  }
  auto problems = pair.rocks().verify();
  if (!problems) pair.fail("verify: " + describe(problems.error()));
  if (!problems->empty()) {
    std::string all;
    for (const auto& line : *problems) all += "\n    " + line;
    pair.fail("nothing: rocksdb verify() found" + all);
  }
  auto memory_problems = pair.memory().verify();
  if (memory_problems && !memory_problems->empty()) pair.fail("nothing: memory verify() found " + memory_problems->front());
}

// Regression (found by the random test above): a fenced commit_run_append on another thread
// than the fence's dispatch. MemoryStore used to commit it; RocksdbStore checked the fence
// against the commit thread's epoch and, with that epoch ahead, superseded the dispatch through
// the wrong thread's metadata, so the dispatch's thread kept naming it as its Claimed dispatch
// (verify() reported it, and that thread could never be claimed again).
TEST(StoreModelTest, FencedCommitOnAnotherThreadAgreesAndKeepsRocksdbConsistent) {
  TempDir dir;
  SequenceIds memory_ids;
  SequenceIds rocks_ids;
  MemoryStore memory(memory_ids);
  auto opened = RocksdbStore::open(RocksdbOptions{dir.db(), false}, rocks_ids);
  ASSERT_TRUE(opened) << describe(opened.error());
  auto& rocks = **opened;
  const std::int64_t now = kStartMs;
  RunRecord run;
  run.run_id = "r0";
  run.thread_id = "t1";
  run.created_at = now / 1000;
  run.updated_at = now / 1000;
  for (Store* s : {static_cast<Store*>(&memory), static_cast<Store*>(&rocks)}) {
    SCOPED_TRACE(s == &memory ? "memory" : "rocksdb");
    ASSERT_TRUE(s->enqueue(RunDispatch::queued("d0", "t0", "r0", now), EnqueueOptions{}));
    auto claimed = s->claim("t0", "c0", 5000, now, 1);
    ASSERT_TRUE(claimed && claimed->size() == 1);
    ASSERT_TRUE(s->interrupt("t1", now));
  }
  const Fence fence{"d0", "tok-1", 0};
  auto m = memory.commit_run_append("t1", {}, 0, run, &fence, now);
  auto r = rocks.commit_run_append("t1", {}, 0, run, &fence, now);
  EXPECT_EQ(static_cast<bool>(m), static_cast<bool>(r))
      << "memory: " << (m ? "committed" : describe(m.error())) << "; rocksdb: " << (r ? "committed" : describe(r.error()));
  auto md = memory.load_dispatch("d0");
  auto rd = rocks.load_dispatch("d0");
  ASSERT_TRUE(md && *md && rd && *rd);
  EXPECT_EQ((*md)->status, (*rd)->status) << "memory " << show(**md) << "\nrocksdb " << show(**rd);
  auto problems = rocks.verify();
  ASSERT_TRUE(problems) << describe(problems.error());
  std::string all;
  for (const auto& p : *problems) all += "\n  " + p;
  EXPECT_TRUE(problems->empty()) << "rocksdb verify():" << all;
  // Whatever happened to d0: a thread with no Claimed dispatch must be claimable again.
  auto live = rocks.list_dispatches("t0", {DispatchStatus::claimed}, 0, 0, false);
  ASSERT_TRUE(live);
  if (live->items.empty()) {
    ASSERT_TRUE(rocks.enqueue(RunDispatch::queued("d1", "t0", "r0", now), EnqueueOptions{}));
    auto again = rocks.claim("t0", "c0", 5000, now, 1);
    ASSERT_TRUE(again) << describe(again.error());
    EXPECT_EQ(again->size(), 1u) << "t0 has no Claimed dispatch, yet its queued d1 cannot be claimed";
  }
}

TEST(StoreModelTest, RocksdbAgreesWithMemoryOnRandomSequences) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  const char* env = std::getenv("RC_PARAMS");
  if (env == nullptr || std::string(env).find("max_success") == std::string::npos) params.maxSuccess = kDefaultCases;
  rc::detail::TestMetadata metadata;
  metadata.id = "StoreModelTest/RocksdbAgreesWithMemoryOnRandomSequences";
  metadata.description = "RocksdbAgreesWithMemoryOnRandomSequences";
  const auto t0 = std::chrono::steady_clock::now();
  const auto result = rc::detail::checkTestable(
      [] {
        const int count = *rc::gen::inRange(1, kMaxOps + 1);
        const auto ops = *rc::gen::container<std::vector<Op>>(static_cast<std::size_t>(count), gen_op());
        run_sequence(ops);
      },
      metadata, params);
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ostringstream report;
  rc::detail::printResultMessage(result, report);
  std::cout << report.str() << "\n(" << secs << " s, seed " << params.seed << ")" << std::endl;
  EXPECT_TRUE(result.template is<rc::detail::SuccessResult>()) << report.str();
}

}  // namespace
}  // namespace mbx
