// Recovery and background maintenance: startup recovery (claims this consumer left behind go
// back to the queue at once; once the engine runs, Created runs whose dispatch was lost get one
// and runs of terminal dispatches are closed), the sweeper's lease reclaim, the supervisor's
// scan for ready threads and delayed work, and garbage collection. Runs on pool threads or the
// detached sweeper.
#include "runtime/detail/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace mbx {

Result<void> Mailbox::Engine::recover_open_run(const RunRecord& run, std::uint64_t& rebuilt, std::uint64_t& closed) {
  if (run.status == RunStatus::waiting || !run.dispatch_id) return {};
  auto d = store_.load_dispatch(*run.dispatch_id);
  if (!d) return d.error();
  if (!*d && run.status == RunStatus::created) {
    // Prepared, but the process died before the enqueue (earlier versions wrote them apart):
    // the run gets its dispatch now.
    auto dispatch = RunDispatch::queued(*run.dispatch_id, run.thread_id, run.run_id, now_ms());
    dispatch.max_attempts = config_.default_max_attempts;
    auto enqueued = store_.enqueue(dispatch, EnqueueOptions{});
    if (!enqueued) return enqueued.error();
    ++rebuilt;
    nudge_thread(run.thread_id);  // its thread may be idle
  } else if (*d && is_terminal((*d)->status) && (*d)->status != DispatchStatus::acked) {
    reconcile_terminal_dispatch(**d);
    ++closed;
  }
  return {};
}

Result<void> Mailbox::Engine::recover() {
  const std::int64_t started = now_ms();
  // Claims this consumer left behind go back to the queue at once: the lease index names every
  // Claimed dispatch, so this reads only those, not every open run.
  auto mine = store_.list_claimed_dispatches(config_.consumer_id);
  if (!mine) return mine.error();
  std::uint64_t released = 0;
  for (const RunDispatch& d : *mine) {
    // Deferred: lost in a power loss, the claim is still this node's and the next recovery
    // releases it again; the first synced write after it (any run's end) makes it durable.
    auto nacked = store_.nack(Fence::of(d), now_ms(), "reclaimed at startup: the previous process stopped", now_ms(),
                              Durability::deferred);
    if (!nacked) {
      if (nacked.error().code != Errc::fenced && nacked.error().code != Errc::not_found) return nacked.error();
      // Stale (an interrupt moved the epoch on before the crash): the store superseded it.
      if (auto after = store_.load_dispatch(d.dispatch_id); after && *after) reconcile_terminal_dispatch(**after);
      continue;
    }
    if (nacked->status == DispatchStatus::dead_letter) reconcile_terminal_dispatch(*nacked);
    ++released;
  }
  auto reclaimed = sweep();
  // The open runs an earlier process left are checked once the engine runs (check_open_runs):
  // each costs two point reads and decodes, over a second for 100 000 queued runs, and nothing
  // a claim needs depends on it. Only their ids are read here, from the status index. Waiting
  // runs need no check (recover_open_run skips them).
  recovery_run_ids_.clear();
  for (RunStatus status : {RunStatus::created, RunStatus::running}) {
    auto ids = store_.run_ids_by_status(status);
    if (!ids) return ids.error();
    recovery_run_ids_.insert(recovery_run_ids_.end(), std::make_move_iterator(ids->begin()),
                             std::make_move_iterator(ids->end()));
  }
  spdlog::info("mailbox: recovery took {} ms: {} own claims released, {} expired leases reclaimed, {} open runs "
               "to check in the background",
               now_ms() - started, released, reclaimed.size(), recovery_run_ids_.size());
  return {};
}

void Mailbox::Engine::check_open_runs(const std::vector<std::string>& run_ids) {
  const std::int64_t started = now_ms();
  std::uint64_t checked = 0, rebuilt = 0, closed = 0, failed = 0;
  for (const auto& run_id : run_ids) {
    if (stopping_.load()) break;  // the next start checks them again
    auto run = store_.load_run(run_id);
    std::optional<Error> error;
    if (!run) error = run.error();
    else if (*run && (*run)->status != RunStatus::done)
      if (auto r = recover_open_run(**run, rebuilt, closed); !r) error = r.error();
    ++checked;
    if (error) {
      ++failed;
      spdlog::warn("mailbox: recovery check of run {} failed: {}", run_id, describe(*error));
    }
  }
  spdlog::info("mailbox: recovery checked {} of {} open runs in {} ms: {} dispatches rebuilt, {} runs closed, {} "
               "failed",
               checked, run_ids.size(), now_ms() - started, rebuilt, closed, failed);
}

std::vector<std::string> Mailbox::Engine::sweep() {
  auto reclaimed = store_.reclaim_expired_leases(now_ms(), 0);
  if (!reclaimed) {
    spdlog::warn("mailbox: lease sweep failed: {}", describe(reclaimed.error()));
    return {};
  }
  std::vector<std::string> threads;
  for (const auto& d : *reclaimed) {
    // Dead-lettered (max attempts) or superseded (stale: an interrupt came after the claim):
    // the run is closed with its tool calls answered. Either way the thread's claim is free.
    if (is_terminal(d.status)) reconcile_terminal_dispatch(d);
    threads.push_back(d.thread_id);
  }
  if (!reclaimed->empty()) {
    metrics_.claims_reclaimed(reclaimed->size());
    spdlog::info("mailbox: reclaimed {} expired leases", reclaimed->size());
  }
  return threads;
}

ReadyThreads Mailbox::Engine::ready_threads() {
  ReadyThreads out;
  const std::int64_t now = now_ms();
  if (auto ids = store_.queued_thread_ids(now, 0); ids) {
    out.thread_ids = std::move(*ids);
  } else {
    spdlog::warn("mailbox: scan for queued threads failed: {}", describe(ids.error()));
    out.next_in_ms = 1000;  // try again soon
    return out;
  }
  if (auto next = store_.next_available_at(now); next && *next) out.next_in_ms = **next - now;
  return out;
}

void Mailbox::Engine::collect_garbage() {
  const std::int64_t now = now_ms();
  if (auto purged = store_.purge_terminal(now - config_.gc_ttl_ms); !purged)
    spdlog::warn("mailbox: purge failed: {}", describe(purged.error()));
  else if (*purged > 0)
    spdlog::info("mailbox: purged {} terminal dispatches older than {} ms", *purged, config_.gc_ttl_ms);
  std::lock_guard<std::mutex> lock(idempotency_mu_);
  std::erase_if(idempotency_, [&](const auto& kv) { return kv.second.expires_at_ms <= now; });
}

}  // namespace mbx
