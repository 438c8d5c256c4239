// Recovery and background maintenance: startup recovery (claims this consumer left behind go
// back to the queue at once, Created runs whose dispatch was lost get one, runs of terminal
// dispatches are closed), the sweeper's lease reclaim, the supervisor's scan for ready threads
// and delayed work, and garbage collection. Runs on pool threads or the detached sweeper.
#include "runtime/detail/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <latch>
#include <optional>
#include <thread>
#include <unordered_set>
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
  } else if (*d && is_terminal((*d)->status) && (*d)->status != DispatchStatus::acked) {
    reconcile_terminal_dispatch(**d);
    ++closed;
  }
  return {};
}

Result<void> Mailbox::Engine::recover() {
  const std::int64_t started = now_ms();
  std::unordered_set<std::string> threads;
  std::uint64_t open_runs = 0;
  std::uint64_t rebuilt = 0;
  std::uint64_t closed = 0;
  // The open runs of each status are read and checked in slices, one thread per slice (each
  // run costs point reads and decodes; on a restart with 100 000 queued runs that was most of
  // the recovery). Every slice is listed before any is checked: a check can close a run, which
  // moves it out of its status index and would shift a later slice's offsets.
  const std::size_t slices = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  for (RunStatus status : {RunStatus::created, RunStatus::running, RunStatus::waiting}) {
    auto head = store_.list_runs_by_status(status, 0, 1);
    if (!head) return head.error();
    if (head->total == 0) continue;
    // Few runs: one slice. A listing scans the whole status index once to count its total.
    const std::size_t n = head->total < 4096 ? 1 : slices;
    const auto per_slice = static_cast<std::uint32_t>((head->total + n - 1) / n);
    struct Slice {
      RunPage page;
      std::optional<Error> error;
      std::uint64_t rebuilt = 0, closed = 0;
    };
    std::vector<Slice> slice(n);
    std::latch listed(static_cast<std::ptrdiff_t>(n));
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < n; ++i)
      workers.emplace_back([&, i] {
        Slice& mine = slice[i];
        // One listing per slice: paging by offset re-scans the status index for every page
        // (to count its total), so small pages made recovery quadratic in the open runs.
        auto page = store_.list_runs_by_status(status, i * per_slice, per_slice);
        if (page) mine.page = std::move(*page);
        else mine.error = page.error();
        listed.arrive_and_wait();
        for (std::size_t k = 0; !mine.error && k < mine.page.items.size(); ++k)
          if (auto checked = recover_open_run(mine.page.items[k], mine.rebuilt, mine.closed); !checked)
            mine.error = checked.error();
      });
    for (auto& w : workers) w.join();
    for (const auto& done : slice) {
      if (done.error) return *done.error;
      rebuilt += done.rebuilt;
      closed += done.closed;
      open_runs += done.page.items.size();
      for (const auto& run : done.page.items) threads.insert(run.thread_id);
    }
  }
  std::uint64_t released = 0;
  for (const auto& thread_id : threads) {
    // A thread has at most one Claimed dispatch, named in its metadata (one point read).
    auto state = store_.thread_state(thread_id);
    if (!state) return state.error();
    if (!state->claimed_dispatch_id) continue;
    auto claimed = store_.load_dispatch(*state->claimed_dispatch_id);
    if (!claimed) return claimed.error();
    if (!*claimed || (*claimed)->status != DispatchStatus::claimed) continue;
    const RunDispatch& d = **claimed;
    if (d.claimed_by != config_.consumer_id) continue;  // another node's; its lease decides
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
  spdlog::info("mailbox: recovery took {} ms: {} open runs, {} own claims released, {} dispatches rebuilt, "
               "{} runs closed, {} expired leases reclaimed",
               now_ms() - started, open_runs, released, rebuilt, closed, reclaimed.size());
  return {};
}

std::vector<std::string> Mailbox::Engine::sweep() {
  auto reclaimed = store_.reclaim_expired_leases(now_ms(), 0);
  if (!reclaimed) {
    spdlog::warn("mailbox: lease sweep failed: {}", describe(reclaimed.error()));
    return {};
  }
  std::vector<std::string> threads;
  for (const auto& d : *reclaimed) {
    if (d.status == DispatchStatus::dead_letter)
      reconcile_terminal_dispatch(d);  // max attempts: the run is closed with its tool calls answered
    else
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
