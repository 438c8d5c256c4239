#include "runtime/instrumented_store.hpp"

#include <chrono>

namespace mbx {

namespace {

template <class T>
std::string_view result_label(const Result<T>& r) {
  if (!r) return "error";
  if constexpr (requires(const T& v) { v.has_value(); }) {
    return r->has_value() ? "ok" : "empty";
  } else if constexpr (requires(const T& v) { v.empty(); }) {
    return r->empty() ? "empty" : "ok";
  } else {
    return "ok";
  }
}

template <class F>
auto timed(Metrics& metrics, std::string_view op, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  auto r = f();
  metrics.store_operation(op, result_label(r),
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return r;
}

// A deferred write is counted apart, under its own name ("<op>_deferred").
std::string_view op_name(Durability durability, std::string_view synced, std::string_view deferred) {
  return durability == Durability::deferred ? deferred : synced;
}

}  // namespace

Result<RunDispatch> InstrumentedStore::enqueue(const RunDispatch& d, const EnqueueOptions& o) {
  return timed(metrics_, "enqueue", [&] { return inner_.enqueue(d, o); });
}
Result<std::vector<RunDispatch>> InstrumentedStore::claim(const std::string& t, const std::string& c, std::int64_t l,
                                                          std::int64_t n, std::uint32_t lim, Durability d) {
  return timed(metrics_, op_name(d, "claim", "claim_deferred"), [&] { return inner_.claim(t, c, l, n, lim, d); });
}
Result<std::optional<ClaimStart>> InstrumentedStore::claim_and_start(const std::string& t, const std::string& c,
                                                                     std::int64_t l, std::int64_t n,
                                                                     const RunStarter& start, Durability d) {
  return timed(metrics_, op_name(d, "claim_and_start", "claim_and_start_deferred"),
               [&] { return inner_.claim_and_start(t, c, l, n, start, d); });
}
Result<std::optional<RunDispatch>> InstrumentedStore::claim_dispatch(const std::string& id, const std::string& c,
                                                                     std::int64_t l, std::int64_t n) {
  return timed(metrics_, "claim_dispatch", [&] { return inner_.claim_dispatch(id, c, l, n); });
}
Result<std::vector<std::string>> InstrumentedStore::queued_thread_ids(std::int64_t n, std::uint32_t lim) {
  return timed(metrics_, "queued_thread_ids", [&] { return inner_.queued_thread_ids(n, lim); });
}
Result<std::optional<std::int64_t>> InstrumentedStore::next_available_at(std::int64_t n) {
  return timed(metrics_, "next_available_at", [&] { return inner_.next_available_at(n); });
}
Result<RunDispatch> InstrumentedStore::ack(const Fence& f, std::int64_t n) {
  return timed(metrics_, "ack", [&] { return inner_.ack(f, n); });
}
Result<RunDispatch> InstrumentedStore::nack(const Fence& f, std::int64_t r, const std::string& e, std::int64_t n,
                                            Durability d) {
  return timed(metrics_, op_name(d, "nack", "nack_deferred"), [&] { return inner_.nack(f, r, e, n, d); });
}
Result<RunDispatch> InstrumentedStore::dead_letter(const Fence& f, const std::string& e, std::int64_t n) {
  return timed(metrics_, "dead_letter", [&] { return inner_.dead_letter(f, e, n); });
}
Result<RunDispatch> InstrumentedStore::extend_lease(const Fence& f, std::int64_t l, std::int64_t n) {
  return timed(metrics_, "extend_lease", [&] { return inner_.extend_lease(f, l, n); });
}
Result<RunDispatch> InstrumentedStore::record_dispatch_start(const Fence& f, const std::string& i, std::int64_t n) {
  return timed(metrics_, "record_dispatch_start", [&] { return inner_.record_dispatch_start(f, i, n); });
}
Result<RunDispatch> InstrumentedStore::record_run_result(const Fence& f, const RunDispatchResult& r, std::int64_t n) {
  return timed(metrics_, "record_run_result", [&] { return inner_.record_run_result(f, r, n); });
}
Result<RunDispatch> InstrumentedStore::supersede_claimed(const Fence& f, std::int64_t n, const std::string& r,
                                                         Durability d) {
  return timed(metrics_, op_name(d, "supersede_claimed", "supersede_claimed_deferred"),
               [&] { return inner_.supersede_claimed(f, n, r, d); });
}
Result<std::optional<RunDispatch>> InstrumentedStore::cancel(const std::string& id, std::int64_t n) {
  return timed(metrics_, "cancel", [&] { return inner_.cancel(id, n); });
}
Result<InterruptResult> InstrumentedStore::interrupt(const std::string& t, std::int64_t n, Durability d) {
  return timed(metrics_, op_name(d, "interrupt", "interrupt_deferred"), [&] { return inner_.interrupt(t, n, d); });
}
Result<std::vector<RunDispatch>> InstrumentedStore::reclaim_expired_leases(std::int64_t n, std::uint32_t lim) {
  return timed(metrics_, "reclaim_expired_leases", [&] { return inner_.reclaim_expired_leases(n, lim); });
}
Result<std::vector<RunDispatch>> InstrumentedStore::list_claimed_dispatches(const std::string& consumer) {
  return timed(metrics_, "list_claimed_dispatches", [&] { return inner_.list_claimed_dispatches(consumer); });
}
Result<std::uint64_t> InstrumentedStore::current_epoch(const std::string& t) {
  return timed(metrics_, "current_epoch", [&] { return inner_.current_epoch(t); });
}
Result<ThreadQueueState> InstrumentedStore::thread_state(const std::string& t) {
  return timed(metrics_, "thread_state", [&] { return inner_.thread_state(t); });
}
Result<std::optional<RunDispatch>> InstrumentedStore::load_dispatch(const std::string& id) {
  return timed(metrics_, "load_dispatch", [&] { return inner_.load_dispatch(id); });
}
Result<DispatchPage> InstrumentedStore::list_dispatches(const std::string& t, const std::vector<DispatchStatus>& s,
                                                        std::uint64_t o, std::uint32_t l, bool nf) {
  return timed(metrics_, "list_dispatches", [&] { return inner_.list_dispatches(t, s, o, l, nf); });
}
Result<std::vector<RunDispatch>> InstrumentedStore::list_terminal_dispatches(std::uint64_t o, std::uint32_t l) {
  return timed(metrics_, "list_terminal_dispatches", [&] { return inner_.list_terminal_dispatches(o, l); });
}
Result<DispatchCounts> InstrumentedStore::count_dispatches_by_status() {
  return timed(metrics_, "count_dispatches_by_status", [&] { return inner_.count_dispatches_by_status(); });
}
Result<std::uint64_t> InstrumentedStore::purge_terminal(std::int64_t o) {
  return timed(metrics_, "purge_terminal", [&] { return inner_.purge_terminal(o); });
}
Result<std::optional<RunRecord>> InstrumentedStore::load_run(const std::string& id) {
  return timed(metrics_, "load_run", [&] { return inner_.load_run(id); });
}
Result<std::optional<RunRecord>> InstrumentedStore::latest_run(const std::string& t) {
  return timed(metrics_, "latest_run", [&] { return inner_.latest_run(t); });
}
Result<RunPage> InstrumentedStore::list_runs(const std::string& t, std::uint64_t o, std::uint32_t l) {
  return timed(metrics_, "list_runs", [&] { return inner_.list_runs(t, o, l); });
}
Result<RunPage> InstrumentedStore::list_runs_by_status(RunStatus s, std::uint64_t o, std::uint32_t l) {
  return timed(metrics_, "list_runs_by_status", [&] { return inner_.list_runs_by_status(s, o, l); });
}
Result<std::vector<std::string>> InstrumentedStore::run_ids_by_status(RunStatus s) {
  return timed(metrics_, "run_ids_by_status", [&] { return inner_.run_ids_by_status(s); });
}
Result<std::optional<RunRecord>> InstrumentedStore::reusable_waiting_run(const std::string& t) {
  return timed(metrics_, "reusable_waiting_run", [&] { return inner_.reusable_waiting_run(t); });
}
Result<std::uint64_t> InstrumentedStore::commit_run_append(const std::string& t, const std::vector<Message>& m,
                                                           std::optional<std::uint64_t> v, const RunRecord& r,
                                                           const Fence* f, std::int64_t n, Durability d) {
  return timed(metrics_, op_name(d, "commit_run_append", "commit_run_append_deferred"),
               [&] { return inner_.commit_run_append(t, m, v, r, f, n, d); });
}
Result<StepCommit> InstrumentedStore::commit_run_step(const std::string& t, const std::vector<Message>& m,
                                                      std::optional<std::uint64_t> v, const RunRecord& r,
                                                      const Fence& f, const DispatchStep& step, std::int64_t n,
                                                      Durability d) {
  return timed(metrics_, op_name(d, "commit_run_step", "commit_run_step_deferred"),
               [&] { return inner_.commit_run_step(t, m, v, r, f, step, n, d); });
}
Result<StepCommit> InstrumentedStore::commit_run_enqueue(const std::string& t, const std::vector<Message>& m,
                                                         std::optional<std::uint64_t> v, const RunRecord& r,
                                                         const RunDispatch& d, const EnqueueOptions& o, std::int64_t n) {
  return timed(metrics_, "commit_run_enqueue", [&] { return inner_.commit_run_enqueue(t, m, v, r, d, o, n); });
}
Result<std::uint64_t> InstrumentedStore::committed_version(const std::string& t) {
  return timed(metrics_, "committed_version", [&] { return inner_.committed_version(t); });
}
Result<std::vector<MessageRecord>> InstrumentedStore::load_committed_messages(const std::string& t, std::uint64_t f,
                                                                              std::uint32_t l) {
  return timed(metrics_, "load_committed_messages", [&] { return inner_.load_committed_messages(t, f, l); });
}
Result<std::optional<MessageRecord>> InstrumentedStore::load_message_record(const std::string& t,
                                                                            const std::string& id) {
  return timed(metrics_, "load_message_record", [&] { return inner_.load_message_record(t, id); });
}
Result<std::vector<MessageRecord>> InstrumentedStore::load_message_records_range(const std::string& t,
                                                                                 std::uint64_t f, std::uint64_t to) {
  return timed(metrics_, "load_message_records_range", [&] { return inner_.load_message_records_range(t, f, to); });
}
Result<AgentEvent> InstrumentedStore::append_event(const std::string& id, const AgentEvent& e, const Fence* f) {
  return timed(metrics_, "append_event", [&] { return inner_.append_event(id, e, f); });
}
Result<std::vector<AgentEvent>> InstrumentedStore::read_events(const std::string& id, std::uint64_t a,
                                                               std::uint32_t l) {
  return timed(metrics_, "read_events", [&] { return inner_.read_events(id, a, l); });
}
Result<std::vector<std::string>> InstrumentedStore::verify() {
  return timed(metrics_, "verify", [&] { return inner_.verify(); });
}

}  // namespace mbx
