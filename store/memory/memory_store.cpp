#include "store/memory/memory_store.hpp"

#include "store/detail/rules.hpp"

#include <algorithm>
#include <set>

namespace mbx {

namespace {

struct ThreadState {
  std::uint64_t epoch = 0;
  std::vector<MessageRecord> log;                      // log[i].seq == i + 1
  std::map<std::string, std::uint64_t> message_seq;   // message id -> seq
  std::set<std::string> dispatch_ids;
  std::set<std::string> run_ids;
  std::optional<std::string> latest_run_id;                          // max of run_order
  std::map<std::string, std::pair<std::int64_t, std::uint64_t>> run_order;  // run -> (updated_at, write seq)
  std::uint64_t writes = 0;

  // Latest run: greatest updated_at, ties to the one written last (also when a run is
  // rewritten with an older updated_at than before).
  void note_run_written(const RunRecord& run) {
    run_order[run.run_id] = {run.updated_at, ++writes};
    auto latest = std::max_element(run_order.begin(), run_order.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    latest_run_id = latest->first;
  }
};

template <class T>
std::vector<T> page(std::vector<T> all, std::uint64_t offset, std::uint32_t limit) {
  if (offset >= all.size()) return {};
  auto first = all.begin() + static_cast<std::ptrdiff_t>(offset);
  auto last = (limit == 0 || all.size() - offset <= limit) ? all.end() : first + limit;
  return std::vector<T>(std::make_move_iterator(first), std::make_move_iterator(last));
}

}  // namespace

struct MemoryStore::State {
  std::map<std::string, RunDispatch> dispatches;
  std::map<std::string, ThreadState> threads;
  std::map<std::string, RunRecord> runs;
  std::map<std::string, std::vector<AgentEvent>> events;

  // Appends `event` to the log of `run_id` as its next (seq and run id set) and returns it.
  AgentEvent append_event_locked(const std::string& run_id, const AgentEvent& event) {
    auto& log = events[run_id];
    AgentEvent stored = event;
    stored.run_id = run_id;
    stored.seq = log.size() + 1;
    log.push_back(stored);
    return stored;
  }

  ThreadState& thread(const std::string& id) { return threads[id]; }

  std::uint64_t epoch_of(const std::string& thread_id) const {
    auto it = threads.find(thread_id);
    return it == threads.end() ? 0 : it->second.epoch;
  }

  bool has_claimed(const ThreadState& t) const {
    return std::any_of(t.dispatch_ids.begin(), t.dispatch_ids.end(),
                       [&](const std::string& id) { return dispatches.at(id).status == DispatchStatus::claimed; });
  }

  std::optional<RunDispatch> claimed_of(const ThreadState& t) const {
    for (const auto& id : t.dispatch_ids)
      if (const auto& d = dispatches.at(id); d.status == DispatchStatus::claimed) return d;
    return std::nullopt;
  }

  // Supersedes the thread's Queued dispatches behind its epoch (lazy repair).
  void supersede_stale_queued(ThreadState& t, std::int64_t now_ms) {
    for (const auto& id : t.dispatch_ids) {
      auto& d = dispatches.at(id);
      if (d.status == DispatchStatus::queued && d.dispatch_epoch < t.epoch)
        std::ignore = d.mark_superseded_at_epoch(now_ms, t.epoch, kReasonQueuedStaleEpoch);  // Queued: cannot fail
    }
  }

  // The dispatch `fence` names, if the fence still owns it. A stale-epoch claim is superseded.
  Result<RunDispatch*> owned(const char* op, const Fence& fence, std::int64_t now_ms) {
    auto it = dispatches.find(fence.dispatch_id);
    if (it == dispatches.end()) return not_found_error(std::string(op) + ": dispatch '" + fence.dispatch_id + "' not found");
    auto& d = it->second;
    const auto thread_epoch = epoch_of(d.thread_id);
    switch (detail::check_fence(d, fence, thread_epoch)) {
      case detail::FenceVerdict::owned: return &d;
      case detail::FenceVerdict::stale_epoch: {
        auto err = detail::fence_error(op, d, fence, thread_epoch);
        std::ignore = d.mark_superseded_at_epoch(now_ms, thread_epoch, kReasonClaimedStaleEpoch);  // Claimed
        return err;
      }
      case detail::FenceVerdict::not_owned: break;
    }
    return detail::fence_error(op, d, fence, thread_epoch);
  }

  RunDispatch claim_locked(RunDispatch& d, const std::string& consumer, std::string token, std::int64_t lease_ms,
                           std::int64_t now_ms) {
    std::ignore = d.claim(consumer, std::move(token), detail::lease_deadline(now_ms, lease_ms), now_ms);  // Queued
    return d;
  }
};

MemoryStore::MemoryStore(IdSource& ids) : state_(std::make_unique<State>()), ids_(ids) {}
MemoryStore::~MemoryStore() = default;

Result<RunDispatch> MemoryStore::enqueue(const RunDispatch& dispatch, const EnqueueOptions& options) {
  if (options.claim) return validation_error("enqueue: an inline claim is only for commit_run_enqueue");
  std::lock_guard<std::mutex> lock(mu_);
  auto stored = check_enqueue_locked(dispatch, options, dispatch.created_at);
  if (!stored) return stored.error();
  auto& s = *state_;
  s.thread(stored->thread_id).dispatch_ids.insert(stored->dispatch_id);
  s.dispatches.emplace(stored->dispatch_id, *stored);
  return stored;
}

Result<RunDispatch> MemoryStore::check_enqueue_locked(const RunDispatch& dispatch, const EnqueueOptions& options,
                                                      std::int64_t now_ms) {
  if (auto r = detail::validate_for_enqueue(dispatch); !r) return r.error();
  auto& s = *state_;
  if (s.dispatches.count(dispatch.dispatch_id) != 0)
    return conflict_error("enqueue: dispatch '" + dispatch.dispatch_id + "' already exists");
  auto& t = s.thread(dispatch.thread_id);
  std::uint32_t queued = 0;
  bool claimed = false;
  for (const auto& id : t.dispatch_ids) {
    const auto& other = s.dispatches.at(id);
    if (dispatch.dedupe_key && !is_terminal(other.status) && other.dedupe_key == dispatch.dedupe_key)
      return conflict_error("enqueue: dedupe_key=" + *dispatch.dedupe_key + " is held by dispatch '" +
                            other.dispatch_id + "'");
    if (other.status == DispatchStatus::queued) ++queued;
    if (other.status == DispatchStatus::claimed) claimed = true;
  }
  if (options.max_queued_per_thread != 0 && queued >= options.max_queued_per_thread)
    return Error{Errc::queue_full, "enqueue: thread '" + dispatch.thread_id + "' already has " +
                                       std::to_string(queued) + " queued dispatches (limit " +
                                       std::to_string(options.max_queued_per_thread) + ")"};
  RunDispatch stored = dispatch;
  stored.prepare_for_enqueue(t.epoch);
  if (options.claim && !claimed && (!options.claim->only_if_no_queued || queued == 0)) {
    if (auto r = stored.claim(options.claim->consumer, ids_.next_id(),
                              detail::lease_deadline(now_ms, options.claim->lease_ms), now_ms);
        !r)
      return r.error();
  }
  return stored;
}

Result<std::vector<RunDispatch>> MemoryStore::claim(const std::string& thread_id, const std::string& consumer,
                                                    std::int64_t lease_ms, std::int64_t now_ms, std::uint32_t limit,
                                                    Durability durability) {
  return claim_without_start(thread_id, consumer, lease_ms, now_ms, limit, durability);
}

Result<std::optional<ClaimStart>> MemoryStore::claim_and_start(const std::string& thread_id,
                                                               const std::string& consumer, std::int64_t lease_ms,
                                                               std::int64_t now_ms, const RunStarter& start,
                                                               Durability /*nothing to sync*/) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  auto it = s.threads.find(thread_id);
  if (it == s.threads.end()) return std::optional<ClaimStart>();
  auto& t = it->second;
  // Queued dispatches behind the thread's epoch are superseded (as every claim does), but only
  // once nothing can refuse the claim, so that a refused start writes nothing.
  RunDispatch* best = nullptr;
  if (!s.has_claimed(t))
    for (const auto& id : t.dispatch_ids) {
      auto& d = s.dispatches.at(id);
      if (d.status != DispatchStatus::queued || d.dispatch_epoch < t.epoch || d.available_at > now_ms) continue;
      if (best == nullptr || detail::claim_order(d) < detail::claim_order(*best)) best = &d;
    }
  if (best == nullptr) {
    s.supersede_stale_queued(t, now_ms);
    return std::optional<ClaimStart>();
  }
  // Claimed and started on a copy, so that a refused start leaves the dispatch Queued.
  RunDispatch after = *best;
  ClaimStart out{s.claim_locked(after, consumer, ids_.next_id(), lease_ms, now_ms), std::nullopt, std::nullopt};
  std::optional<RunRecord> run;
  if (auto r = s.runs.find(after.run_id); r != s.runs.end()) run = r->second;
  auto started = detail::start_of_claim(out.dispatch, run, start, now_ms);
  if (!started) return started.error();
  s.supersede_stale_queued(t, now_ms);
  *best = out.dispatch;
  if (*started) {
    auto& started_run = (*started)->run;
    s.runs[started_run.run_id] = started_run;
    t.note_run_written(started_run);
    if ((*started)->event) out.event = s.append_event_locked(started_run.run_id, *(*started)->event);
    out.run = std::move(started_run);
  }
  return std::optional<ClaimStart>(std::move(out));
}

Result<std::optional<RunDispatch>> MemoryStore::claim_dispatch(const std::string& dispatch_id,
                                                               const std::string& consumer, std::int64_t lease_ms,
                                                               std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  auto it = s.dispatches.find(dispatch_id);
  if (it == s.dispatches.end() || it->second.status != DispatchStatus::queued) return std::optional<RunDispatch>{};
  auto& d = it->second;
  auto& t = s.thread(d.thread_id);
  if (d.dispatch_epoch < t.epoch) {
    std::ignore = d.mark_superseded_at_epoch(now_ms, t.epoch, kReasonQueuedStaleEpoch);  // Queued
    return std::optional<RunDispatch>{};
  }
  if (s.has_claimed(t)) return std::optional<RunDispatch>{};
  return std::optional<RunDispatch>{s.claim_locked(d, consumer, ids_.next_id(), lease_ms, now_ms)};
}

Result<std::vector<std::string>> MemoryStore::queued_thread_ids(std::int64_t now_ms, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  std::vector<std::string> out;
  for (const auto& [thread_id, t] : s.threads) {
    if (limit != 0 && out.size() >= limit) break;
    bool eligible = false;
    bool claimed = false;
    for (const auto& id : t.dispatch_ids) {
      const auto& d = s.dispatches.at(id);
      claimed = claimed || d.status == DispatchStatus::claimed;
      eligible = eligible || (d.status == DispatchStatus::queued && d.available_at <= now_ms);
    }
    if (eligible && !claimed) out.push_back(thread_id);
  }
  return out;
}

Result<std::optional<std::int64_t>> MemoryStore::next_available_at(std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<std::int64_t> next;
  for (const auto& [id, d] : state_->dispatches)
    if (d.status == DispatchStatus::queued && d.available_at > now_ms && (!next || d.available_at < *next))
      next = d.available_at;
  return next;
}

Result<RunDispatch> MemoryStore::ack(const Fence& fence, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = state_->owned("ack", fence, now_ms);
  if (!d) return d.error();
  if (auto r = (*d)->mark_acked(now_ms); !r) return r.error();
  return **d;
}

Result<RunDispatch> MemoryStore::nack(const Fence& fence, std::int64_t retry_at_ms, const std::string& error,
                                      std::int64_t now_ms, Durability) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = state_->owned("nack", fence, now_ms);
  if (!d) return d.error();
  if (auto r = (*d)->mark_nack_result(now_ms, retry_at_ms, error); !r) return r.error();
  return **d;
}

Result<RunDispatch> MemoryStore::dead_letter(const Fence& fence, const std::string& error, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = state_->owned("dead_letter", fence, now_ms);
  if (!d) return d.error();
  if (auto r = (*d)->mark_dead_letter(now_ms, error); !r) return r.error();
  return **d;
}

Result<RunDispatch> MemoryStore::extend_lease(const Fence& fence, std::int64_t lease_ms, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = state_->owned("extend_lease", fence, now_ms);
  if (!d) return d.error();
  if (auto r = (*d)->extend_lease(detail::lease_deadline(now_ms, lease_ms), now_ms); !r) return r.error();
  return **d;
}

Result<RunDispatch> MemoryStore::record_dispatch_start(const Fence& fence, const std::string& instance_id,
                                                       std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = state_->owned("record_dispatch_start", fence, now_ms);
  if (!d) return d.error();
  if (auto r = (*d)->record_dispatch_start(instance_id, now_ms); !r) return r.error();
  return **d;
}

Result<RunDispatch> MemoryStore::record_run_result(const Fence& fence, const RunDispatchResult& result,
                                                   std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto d = state_->owned("record_run_result", fence, now_ms);
  if (!d) return d.error();
  if (auto r = (*d)->record_run_result(result, now_ms); !r) return r.error();
  return **d;
}

Result<RunDispatch> MemoryStore::supersede_claimed(const Fence& fence, std::int64_t now_ms,
                                                   const std::string& reason, Durability /*nothing to sync*/) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  auto it = s.dispatches.find(fence.dispatch_id);
  if (it == s.dispatches.end())
    return not_found_error("supersede_claimed: dispatch '" + fence.dispatch_id + "' not found");
  auto& d = it->second;
  const auto thread_epoch = s.epoch_of(d.thread_id);
  if (d.status != DispatchStatus::claimed || d.claim_token != fence.claim_token)
    return detail::fence_error("supersede_claimed", d, fence, thread_epoch);
  if (auto r = d.mark_superseded_at_epoch(now_ms, std::max(d.dispatch_epoch, thread_epoch), reason); !r)
    return r.error();
  return d;
}

Result<std::optional<RunDispatch>> MemoryStore::cancel(const std::string& dispatch_id, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->dispatches.find(dispatch_id);
  if (it == state_->dispatches.end() || !it->second.mark_cancelled(now_ms)) return std::optional<RunDispatch>{};
  return std::optional<RunDispatch>{it->second};
}

Result<InterruptResult> MemoryStore::interrupt(const std::string& thread_id, std::int64_t now_ms,
                                               Durability /*nothing to sync*/) {
  if (is_blank(thread_id)) return validation_error("interrupt: thread_id is blank");
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  auto& t = s.thread(thread_id);
  const auto old_epoch = t.epoch;
  t.epoch += 1;
  InterruptResult out;
  out.new_epoch = t.epoch;
  std::vector<RunDispatch*> queued;
  for (const auto& id : t.dispatch_ids) {
    auto& d = s.dispatches.at(id);
    if (d.status == DispatchStatus::queued && d.dispatch_epoch <= old_epoch) queued.push_back(&d);
    if (d.status == DispatchStatus::claimed) out.active_dispatch = d;
  }
  std::sort(queued.begin(), queued.end(),
            [](const RunDispatch* a, const RunDispatch* b) { return detail::list_order(*a) < detail::list_order(*b); });
  for (auto* d : queued) {
    std::ignore = d->mark_superseded(now_ms, std::string(kReasonSupersededByInterrupt));  // Queued
    out.superseded.push_back(*d);
  }
  out.superseded_count = out.superseded.size();
  return out;
}

Result<std::vector<RunDispatch>> MemoryStore::reclaim_expired_leases(std::int64_t now_ms, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  std::vector<RunDispatch*> expired;
  for (auto& [id, d] : s.dispatches)
    if (d.status == DispatchStatus::claimed && d.lease_until && *d.lease_until < now_ms) expired.push_back(&d);
  std::sort(expired.begin(), expired.end(), [](const RunDispatch* a, const RunDispatch* b) {
    return std::tie(*a->lease_until, a->dispatch_id) < std::tie(*b->lease_until, b->dispatch_id);
  });
  if (limit != 0 && expired.size() > limit) expired.resize(limit);
  std::vector<RunDispatch> out;
  for (auto* d : expired) {
    const auto thread_epoch = s.epoch_of(d->thread_id);
    if (d->dispatch_epoch < thread_epoch)
      std::ignore = d->mark_superseded_at_epoch(now_ms, thread_epoch, kReasonExpiredAfterInterrupt);  // Claimed
    else
      std::ignore = d->mark_expired_lease(now_ms);  // Claimed
    out.push_back(*d);
  }
  return out;
}

Result<std::vector<RunDispatch>> MemoryStore::list_claimed_dispatches(const std::string& consumer) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RunDispatch> out;
  for (const auto& [id, d] : state_->dispatches)
    if (d.status == DispatchStatus::claimed && d.claimed_by == consumer) out.push_back(d);
  std::sort(out.begin(), out.end(), [](const RunDispatch& a, const RunDispatch& b) {
    return std::tie(a.lease_until, a.dispatch_id) < std::tie(b.lease_until, b.dispatch_id);
  });
  return out;
}

Result<std::uint64_t> MemoryStore::current_epoch(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return state_->epoch_of(thread_id);
}

Result<ThreadQueueState> MemoryStore::thread_state(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  ThreadQueueState out;
  out.epoch = s.epoch_of(thread_id);
  auto it = s.threads.find(thread_id);
  if (it == s.threads.end()) return out;
  for (const auto& id : it->second.dispatch_ids) {
    const auto& d = s.dispatches.at(id);
    if (d.status == DispatchStatus::queued) ++out.queued;
    if (d.status == DispatchStatus::claimed) out.claimed_dispatch_id = d.dispatch_id;
  }
  return out;
}

Result<std::optional<RunDispatch>> MemoryStore::load_dispatch(const std::string& dispatch_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->dispatches.find(dispatch_id);
  if (it == state_->dispatches.end()) return std::optional<RunDispatch>{};
  return std::optional<RunDispatch>{it->second};
}

Result<DispatchPage> MemoryStore::list_dispatches(const std::string& thread_id,
                                                  const std::vector<DispatchStatus>& statuses, std::uint64_t offset,
                                                  std::uint32_t limit, bool newest_first) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  DispatchPage out;
  auto it = s.threads.find(thread_id);
  if (it == s.threads.end() || statuses.empty()) return out;
  std::vector<RunDispatch> all;
  for (const auto& id : it->second.dispatch_ids) {
    const auto& d = s.dispatches.at(id);
    if (std::find(statuses.begin(), statuses.end(), d.status) != statuses.end()) all.push_back(d);
  }
  if (newest_first) {
    std::sort(all.begin(), all.end(), [](const RunDispatch& a, const RunDispatch& b) {
      return std::tie(b.created_at, b.dispatch_id) < std::tie(a.created_at, a.dispatch_id);
    });
  } else {
    std::sort(all.begin(), all.end(),
              [](const RunDispatch& a, const RunDispatch& b) { return detail::list_order(a) < detail::list_order(b); });
  }
  out.total = all.size();
  out.items = page(std::move(all), offset, limit);
  return out;
}

Result<std::vector<RunDispatch>> MemoryStore::list_terminal_dispatches(std::uint64_t offset, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RunDispatch> all;
  for (const auto& [id, d] : state_->dispatches)
    if (is_terminal(d.status)) all.push_back(d);
  std::sort(all.begin(), all.end(), [](const RunDispatch& a, const RunDispatch& b) {
    return detail::terminal_order(a) < detail::terminal_order(b);
  });
  return page(std::move(all), offset, limit);
}

Result<DispatchCounts> MemoryStore::count_dispatches_by_status() {
  std::lock_guard<std::mutex> lock(mu_);
  DispatchCounts counts{};
  for (const auto& [id, d] : state_->dispatches) counts[static_cast<std::size_t>(d.status)] += 1;
  return counts;
}

Result<std::uint64_t> MemoryStore::purge_terminal(std::int64_t older_than_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  std::uint64_t purged = 0;
  std::set<std::string> touched_runs;
  for (auto it = s.dispatches.begin(); it != s.dispatches.end();) {
    const auto& d = it->second;
    if (is_terminal(d.status) && d.updated_at < older_than_ms) {
      touched_runs.insert(d.run_id);
      s.thread(d.thread_id).dispatch_ids.erase(d.dispatch_id);
      it = s.dispatches.erase(it);
      ++purged;
    } else {
      ++it;
    }
  }
  for (const auto& run_id : touched_runs) {
    const bool still_has = std::any_of(s.dispatches.begin(), s.dispatches.end(),
                                       [&](const auto& kv) { return kv.second.run_id == run_id; });
    if (!still_has) s.events.erase(run_id);
  }
  return purged;
}

// ---- ThreadRunStore --------------------------------------------------------------------------

Result<std::optional<RunRecord>> MemoryStore::load_run(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->runs.find(run_id);
  if (it == state_->runs.end()) return std::optional<RunRecord>{};
  return std::optional<RunRecord>{it->second};
}

Result<std::optional<RunRecord>> MemoryStore::latest_run(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->threads.find(thread_id);
  if (it == state_->threads.end() || !it->second.latest_run_id) return std::optional<RunRecord>{};
  return std::optional<RunRecord>{state_->runs.at(*it->second.latest_run_id)};
}

Result<RunPage> MemoryStore::list_runs(const std::string& thread_id, std::uint64_t offset, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  RunPage out;
  auto it = state_->threads.find(thread_id);
  if (it == state_->threads.end()) return out;
  std::vector<RunRecord> all;
  for (const auto& id : it->second.run_ids) all.push_back(state_->runs.at(id));
  std::sort(all.begin(), all.end(), [](const RunRecord& a, const RunRecord& b) {
    return std::tie(a.created_at, a.run_id) < std::tie(b.created_at, b.run_id);
  });
  out.total = all.size();
  out.items = page(std::move(all), offset, limit);
  return out;
}

Result<RunPage> MemoryStore::list_runs_by_status(RunStatus status, std::uint64_t offset, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RunRecord> all;
  for (const auto& [id, r] : state_->runs)
    if (r.status == status) all.push_back(r);
  RunPage out;
  out.total = all.size();
  out.items = page(std::move(all), offset, limit);
  return out;
}

Result<std::vector<std::string>> MemoryStore::run_ids_by_status(RunStatus status) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, r] : state_->runs)
    if (r.status == status) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<RunRecord>> MemoryStore::reusable_waiting_run(const std::string& thread_id) {
  auto latest = latest_run(thread_id);
  if (!latest) return latest.error();
  if (*latest && (*latest)->is_resumable_waiting()) return latest;
  return std::optional<RunRecord>{};
}

Result<std::uint64_t> MemoryStore::commit_run_append(const std::string& thread_id,
                                                     const std::vector<Message>& messages,
                                                     std::optional<std::uint64_t> expected_version,
                                                     const RunRecord& run, const Fence* fence, std::int64_t now_ms,
                                                     Durability /*nothing to sync*/) {
  auto committed = commit_run(thread_id, messages, expected_version, run, fence, nullptr, nullptr, nullptr, now_ms);
  if (!committed) return committed.error();
  return committed->version;
}

Result<StepCommit> MemoryStore::commit_run_enqueue(const std::string& thread_id, const std::vector<Message>& messages,
                                                   std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                                   const RunDispatch& dispatch, const EnqueueOptions& options,
                                                   std::int64_t now_ms) {
  return commit_run(thread_id, messages, expected_version, run, nullptr, nullptr, &dispatch, &options, now_ms);
}

Result<StepCommit> MemoryStore::commit_run_step(const std::string& thread_id, const std::vector<Message>& messages,
                                                std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                                const Fence& fence, const DispatchStep& step, std::int64_t now_ms,
                                                Durability /*nothing to sync*/) {
  return commit_run(thread_id, messages, expected_version, run, &fence, &step, nullptr, nullptr, now_ms);
}

Result<StepCommit> MemoryStore::commit_run(const std::string& thread_id, const std::vector<Message>& messages,
                                           std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                           const Fence* fence, const DispatchStep* step, const RunDispatch* to_enqueue,
                                           const EnqueueOptions* enqueue_options, std::int64_t now_ms) {
  if (auto r = detail::validate_commit(thread_id, messages, expected_version, run); !r) return r.error();
  if (step != nullptr && fence == nullptr) return validation_error("commit_run_step: a step needs a fence");
  if (enqueue_options != nullptr)
    if (auto r = detail::validate_inline_start(*enqueue_options, run); !r) return r.error();
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  StepCommit out;
  RunDispatch* stepped = nullptr;  // the owned dispatch, changed last so that an error writes nothing
  if (fence != nullptr) {
    if (auto it = s.dispatches.find(fence->dispatch_id); it != s.dispatches.end() && it->second.thread_id != thread_id)
      return validation_error("commit_run_append: fence dispatch '" + fence->dispatch_id + "' belongs to thread '" +
                              it->second.thread_id + "', not '" + thread_id + "'");
    auto d = s.owned("commit_run_append", *fence, now_ms);
    if (!d) return d.error();
    if ((*d)->run_id != run.run_id)
      return validation_error("commit_run_append: fence dispatch '" + fence->dispatch_id + "' runs '" +
                              (*d)->run_id + "', not '" + run.run_id + "'");
    if (step != nullptr) {
      out.dispatch = **d;
      if (auto r = detail::apply_step(out.dispatch, *step, now_ms); !r) return r.error();
      stepped = *d;
    }
  }
  if (auto existing = s.runs.find(run.run_id); existing != s.runs.end() && existing->second.thread_id != thread_id)
    return validation_error("commit_run_append: run '" + run.run_id + "' belongs to thread '" +
                            existing->second.thread_id + "'");
  auto& t = s.thread(thread_id);
  const std::uint64_t version = t.log.size();
  if (expected_version && *expected_version != version)
    return detail::version_conflict(thread_id, *expected_version, version);
  for (const auto& m : messages)
    if (t.message_seq.count(m.id) != 0)
      return validation_error("commit_run_append: message '" + m.id + "' is already committed on thread '" +
                              thread_id + "'");
  const RunRecord* written = &run;  // an inline start writes the started record instead
  if (to_enqueue != nullptr) {
    if (to_enqueue->thread_id != thread_id || to_enqueue->run_id != run.run_id)
      return validation_error("commit_run_enqueue: dispatch '" + to_enqueue->dispatch_id + "' is not of run '" +
                              run.run_id + "' on thread '" + thread_id + "'");
    auto stored = check_enqueue_locked(*to_enqueue, *enqueue_options, now_ms);
    if (!stored) return stored.error();
    out.dispatch = std::move(*stored);
    auto started = detail::apply_inline_start(out.dispatch, *enqueue_options, run, now_ms);
    if (!started) return started.error();
    written = *started;
  }
  for (const auto& m : messages) {
    MessageRecord rec{thread_id, t.log.size() + 1, m, run.run_id, now_ms / 1000};
    t.message_seq[m.id] = rec.seq;
    t.log.push_back(std::move(rec));
  }
  s.runs[run.run_id] = *written;
  t.run_ids.insert(run.run_id);
  t.note_run_written(*written);
  if (stepped != nullptr) *stepped = out.dispatch;
  if (to_enqueue != nullptr) {
    t.dispatch_ids.insert(out.dispatch.dispatch_id);
    s.dispatches.emplace(out.dispatch.dispatch_id, out.dispatch);
  }
  if (const AgentEvent* event = detail::event_of_commit(step, enqueue_options, written, run))
    out.event = s.append_event_locked(run.run_id, *event);
  out.version = static_cast<std::uint64_t>(t.log.size());
  return out;
}

Result<std::uint64_t> MemoryStore::committed_version(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->threads.find(thread_id);
  return it == state_->threads.end() ? 0 : static_cast<std::uint64_t>(it->second.log.size());
}

Result<std::vector<MessageRecord>> MemoryStore::load_committed_messages(const std::string& thread_id,
                                                                       std::uint64_t from_seq, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->threads.find(thread_id);
  if (it == state_->threads.end()) return std::vector<MessageRecord>{};
  return page(it->second.log, from_seq == 0 ? 0 : from_seq - 1, limit);
}

Result<std::optional<MessageRecord>> MemoryStore::load_message_record(const std::string& thread_id,
                                                                      const std::string& message_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->threads.find(thread_id);
  if (it == state_->threads.end()) return std::optional<MessageRecord>{};
  auto seq = it->second.message_seq.find(message_id);
  if (seq == it->second.message_seq.end()) return std::optional<MessageRecord>{};
  return std::optional<MessageRecord>{it->second.log.at(seq->second - 1)};
}

Result<std::vector<MessageRecord>> MemoryStore::load_message_records_range(const std::string& thread_id,
                                                                           std::uint64_t from_seq,
                                                                           std::uint64_t to_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MessageRecord> out;
  auto it = state_->threads.find(thread_id);
  if (it == state_->threads.end()) return out;
  const auto& log = it->second.log;
  for (std::uint64_t seq = std::max<std::uint64_t>(from_seq, 1); seq <= to_seq && seq <= log.size(); ++seq)
    out.push_back(log[seq - 1]);
  return out;
}

Result<AgentEvent> MemoryStore::append_event(const std::string& run_id, const AgentEvent& event, const Fence* fence) {
  if (is_blank(run_id)) return validation_error("append_event: run_id is blank");
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  if (fence != nullptr) {
    auto d = s.owned("append_event", *fence, event.at_ms);
    if (!d) return d.error();
    if ((*d)->run_id != run_id)
      return validation_error("append_event: fence dispatch '" + fence->dispatch_id + "' runs '" + (*d)->run_id +
                              "', not '" + run_id + "'");
  }
  return s.append_event_locked(run_id, event);
}

Result<std::vector<AgentEvent>> MemoryStore::read_events(const std::string& run_id, std::uint64_t after_seq,
                                                         std::uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->events.find(run_id);
  if (it == state_->events.end()) return std::vector<AgentEvent>{};
  return page(it->second, after_seq, limit);
}

Result<std::vector<std::string>> MemoryStore::verify() {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = *state_;
  std::vector<std::string> problems;
  std::map<std::string, int> claimed_per_thread;
  for (const auto& [id, d] : s.dispatches) {
    if (id != d.dispatch_id) problems.push_back("dispatch key '" + id + "' holds '" + d.dispatch_id + "'");
    if (auto r = d.validate(); !r) problems.push_back(r.error().message);
    auto t = s.threads.find(d.thread_id);
    if (t == s.threads.end() || t->second.dispatch_ids.count(id) == 0)
      problems.push_back("dispatch '" + id + "' missing from its thread index");
    if (d.status == DispatchStatus::claimed && ++claimed_per_thread[d.thread_id] > 1)
      problems.push_back("thread '" + d.thread_id + "' has more than one claimed dispatch");
  }
  for (const auto& [thread_id, t] : s.threads) {
    for (const auto& id : t.dispatch_ids)
      if (s.dispatches.count(id) == 0) problems.push_back("thread '" + thread_id + "' indexes missing dispatch '" + id + "'");
    for (std::size_t i = 0; i < t.log.size(); ++i) {
      const auto& rec = t.log[i];
      if (rec.seq != i + 1) problems.push_back("thread '" + thread_id + "' seq gap at " + std::to_string(i + 1));
      auto seq = t.message_seq.find(rec.message.id);
      if (seq == t.message_seq.end() || seq->second != rec.seq)
        problems.push_back("thread '" + thread_id + "' message index wrong for '" + rec.message.id + "'");
    }
    if (t.message_seq.size() != t.log.size())
      problems.push_back("thread '" + thread_id + "' message index size differs from log");
    if (t.latest_run_id && s.runs.count(*t.latest_run_id) == 0)
      problems.push_back("thread '" + thread_id + "' latest run '" + *t.latest_run_id + "' missing");
  }
  for (const auto& [run_id, r] : s.runs) {
    std::string why;
    if (!r.check_invariants(&why)) problems.push_back(why);
  }
  for (const auto& [run_id, log] : s.events)
    for (std::size_t i = 0; i < log.size(); ++i)
      if (log[i].seq != i + 1) problems.push_back("run '" + run_id + "' event seq gap at " + std::to_string(i + 1));
  return problems;
}

}  // namespace mbx
