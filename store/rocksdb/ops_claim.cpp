// RocksdbStore: enqueue and the two claim paths.
#include "store/rocksdb/rocksdb_impl.hpp"

#include "store/detail/rules.hpp"

namespace mbx {

namespace {

Result<void> check_ids(const RunDispatch& d) {
  for (const auto* id : {&d.dispatch_id, &d.thread_id, &d.run_id})
    if (!rdb::is_key_safe(*id)) return validation_error("enqueue: ids must be non-blank and contain no NUL byte");
  if (d.dedupe_key && d.dedupe_key->find('\0') != std::string::npos)
    return validation_error("enqueue: dedupe_key contains a NUL byte");
  return {};
}

}  // namespace

Result<RunDispatch> RocksdbStore::enqueue(const RunDispatch& dispatch, const EnqueueOptions& options) {
  return impl_->durable<RunDispatch>([&]() -> Result<RunDispatch> {
    if (options.claim) return validation_error("enqueue: an inline claim is only for commit_run_enqueue");
    auto& m = *impl_;
    std::lock_guard<rdb::CountedMutex> lock(m.thread_lock(dispatch.thread_id));
    auto meta = m.get_meta_locked(dispatch.thread_id);
    if (!meta) return meta.error();
    auto stored = m.check_enqueue_locked(dispatch, options, *meta, dispatch.created_at);
    if (!stored) return stored.error();
    rocksdb::WriteBatch b;
    auto after_meta = *meta;
    m.stage_dispatch(b, after_meta, nullptr, &*stored);
    m.stage_meta(b, dispatch.thread_id, *meta, after_meta);
    if (auto r = m.commit_locked(dispatch.thread_id, b, "enqueue", &after_meta, &*stored); !r) return r.error();
    return stored;
  });
}

Result<RunDispatch> RocksdbStore::Impl::check_enqueue_locked(const RunDispatch& dispatch, const EnqueueOptions& options,
                                                             const rdb::ThreadMeta& meta, std::int64_t now_ms) {
  if (auto r = detail::validate_for_enqueue(dispatch); !r) return r.error();
  if (auto r = check_ids(dispatch); !r) return r.error();
  auto& m = *this;
  auto existing = m.get(rdb::kDispatchesCf, dispatch.dispatch_id);
  if (!existing) return existing.error();
  if (*existing) return conflict_error("enqueue: dispatch '" + dispatch.dispatch_id + "' already exists");
  if (dispatch.dedupe_key) {
    auto holder = m.get(rdb::kIndexCf, rdb::dedupe_key(dispatch.thread_id, *dispatch.dedupe_key));
    if (!holder) return holder.error();
    if (*holder)
      return conflict_error("enqueue: dedupe_key=" + *dispatch.dedupe_key + " is held by dispatch '" + **holder + "'");
  }
  if (options.max_queued_per_thread != 0 && meta.queued >= options.max_queued_per_thread)
    return Error{Errc::queue_full, "enqueue: thread '" + dispatch.thread_id + "' already has " +
                                       std::to_string(meta.queued) + " queued dispatches (limit " +
                                       std::to_string(options.max_queued_per_thread) + ")"};
  RunDispatch stored = dispatch;
  stored.prepare_for_enqueue(meta.epoch);
  if (options.claim && meta.claimed.empty() && (!options.claim->only_if_no_queued || meta.queued == 0)) {
    if (auto r = stored.claim(options.claim->consumer, ids.next_id(),
                              detail::lease_deadline(now_ms, options.claim->lease_ms), now_ms);
        !r)
      return r.error();
  }
  return stored;
}

namespace {

// Supersedes (in `b`) the thread's Queued dispatches behind its epoch and returns the best
// eligible one at `now` in claim order, if any. `next_head` gets the first 'q' key that stays
// once the superseded ones and the returned one are gone (empty: none or not known). Caller
// holds the thread lock.
Result<std::optional<RunDispatch>> best_eligible_locked(RocksdbStore::Impl& m, const std::string& thread_id,
                                                        rdb::ThreadMeta& meta, rocksdb::WriteBatch& b,
                                                        std::int64_t now_ms, std::string& next_head) {
  next_head.clear();
  const auto prefix_len = rdb::queued_prefix(thread_id).size();
  // The cached first 'q' key (meta.head): when its dispatch is current and available, it is what
  // the scan below would return, with nothing stale before it to supersede, so one point read
  // replaces the index scan. Anything else (stale, delayed, unknown) takes the scan.
  if (meta.head.size() > prefix_len + 1 + 8 + 8) {
    auto d = m.get_dispatch_locked(thread_id, meta.head.substr(prefix_len + 1 + 8 + 8));
    if (!d) return d.error();
    if (*d && (*d)->status == DispatchStatus::queued && (*d)->dispatch_epoch >= meta.epoch &&
        (*d)->available_at <= now_ms && rdb::queued_key(**d) == meta.head) {
      // Claimed, the head leaves the queue and the key after it is the next head. A seek to the
      // head finds it without walking the tombstones the queue left before the head (without
      // it the next claim would scan them all, once per claim: quadratic on a busy thread).
      if (meta.claimed.empty() && meta.queued > 1) {
        auto after = m.scan(
            rdb::kIndexCf, rdb::queued_prefix(thread_id),
            [&](std::string_view key, std::string_view) {
              if (key == meta.head) return true;
              next_head.assign(key);
              return false;
            },
            &meta.head);
        if (!after) return after.error();
      }
      return d;
    }
  }
  std::optional<RunDispatch> best;
  std::vector<RunDispatch> stale;
  Error failure;
  bool failed = false;
  auto scanned = m.scan(rdb::kIndexCf, rdb::queued_prefix(thread_id), [&](std::string_view key, std::string_view) {
    if (best) {  // the key after the best one
      if (next_head.empty()) next_head.assign(key);
      return false;
    }
    const std::string id(key.substr(prefix_len + 1 + 8 + 8));
    auto d = m.get_dispatch_locked(thread_id, id);
    if (!d || !*d) {
      failure = d ? store_error("claim: queued index names missing dispatch '" + id + "'") : d.error();
      failed = true;
      return false;
    }
    if ((*d)->dispatch_epoch < meta.epoch) {
      stale.push_back(std::move(**d));
      return true;
    }
    // Index order is priority, available_at, created_at, id: the first eligible wins.
    if ((*d)->available_at <= now_ms) {
      best = std::move(**d);
    } else if (next_head.empty()) {
      next_head.assign(key);  // delayed: stays queued, before the best
    }
    return !best || next_head.empty();
  });
  if (!scanned) return scanned.error();
  if (failed) return failure;
  for (const auto& d : stale) {
    RunDispatch after = d;
    std::ignore = after.mark_superseded_at_epoch(now_ms, meta.epoch, kReasonQueuedStaleEpoch);  // Queued
    m.stage_dispatch(b, meta, &d, &after);
  }
  return best;
}

}  // namespace

Result<std::vector<RunDispatch>> RocksdbStore::claim(const std::string& thread_id, const std::string& consumer,
                                                     std::int64_t lease_ms, std::int64_t now_ms, std::uint32_t limit,
                                                     Durability durability) {
  return claim_without_start(thread_id, consumer, lease_ms, now_ms, limit, durability);
}

Result<std::optional<ClaimStart>> RocksdbStore::claim_and_start(const std::string& thread_id,
                                                                const std::string& consumer, std::int64_t lease_ms,
                                                                std::int64_t now_ms, const RunStarter& start,
                                                                Durability durability) {
  return impl_->durable<std::optional<ClaimStart>>([&]() -> Result<std::optional<ClaimStart>> {
    if (!rdb::is_key_safe(thread_id)) return std::optional<ClaimStart>();
    auto& m = *impl_;
    std::lock_guard<rdb::CountedMutex> lock(m.thread_lock(thread_id));
    auto meta = m.get_meta_locked(thread_id);
    if (!meta) return meta.error();
    if (meta->queued == 0) return std::optional<ClaimStart>();
    const auto meta_before = *meta;
    rocksdb::WriteBatch b;
    std::string next_head;
    auto best = best_eligible_locked(m, thread_id, *meta, b, now_ms, next_head);
    if (!best) return best.error();
    std::optional<ClaimStart> out;
    std::optional<StartedRun> started;
    Impl::StagedEvent staged;
    if (*best && meta->claimed.empty()) {
      RunDispatch after = **best;
      if (auto r = after.claim(consumer, m.ids.next_id(), detail::lease_deadline(now_ms, lease_ms), now_ms); !r)
        return r.error();
      // The start, when the run can start in this write: read under the thread lock, so that no
      // other write of the run (all are made under it) comes between.
      std::optional<RunRecord> run;
      if (start && after.attempt_count == 0) {
        auto loaded = m.get_run(after.run_id);
        if (!loaded) return loaded.error();
        run = std::move(*loaded);
      }
      auto made = detail::start_of_claim(after, run, start, now_ms);
      if (!made) return made.error();
      started = std::move(*made);
      m.stage_dispatch(b, *meta, &**best, &after);
      if (meta->queued > 0 && !next_head.empty()) meta->head = std::move(next_head);
      if (started) {
        if (auto r = m.stage_run_locked(b, thread_id, *meta, &*run, started->run); !r) return r.error();
        if (started->event)
          if (auto r = staged.stage(m, b, after.run_id, *started->event); !r) return r.error();
      }
      out = ClaimStart{std::move(after), std::nullopt, std::nullopt};
    }
    if (b.Count() == 0) return out;
    m.stage_meta(b, thread_id, meta_before, *meta);
    if (auto r = m.commit_locked(thread_id, b, started ? "claim_and_start" : "claim", &*meta,
                                 out ? &out->dispatch : nullptr, durability);
        !r)
      return r.error();
    if (started) {
      staged.committed();
      out->run = std::move(started->run);
      out->event = std::move(staged.event);
    }
    return out;
  });
}

Result<std::optional<RunDispatch>> RocksdbStore::claim_dispatch(const std::string& dispatch_id,
                                                                const std::string& consumer, std::int64_t lease_ms,
                                                                std::int64_t now_ms) {
  return impl_->durable<std::optional<RunDispatch>>([&]() -> Result<std::optional<RunDispatch>> {
    auto& m = *impl_;
    auto queued = m.lock_queued(dispatch_id);
    if (!queued) return queued.error();
    if (!*queued) return std::optional<RunDispatch>{};
    const RunDispatch& d = (*queued)->dispatch();
    rdb::ThreadMeta& meta = (*queued)->meta;
    if (d.dispatch_epoch < meta.epoch) {
      auto r = m.transition_locked(
          "claim_dispatch", d, meta,
          [&](const RunDispatch&, const rdb::ThreadMeta& mt, RunDispatch& after) {
            return after.mark_superseded_at_epoch(now_ms, mt.epoch, kReasonQueuedStaleEpoch);
          },
          now_ms);
      if (!r) return r.error();
      return std::optional<RunDispatch>{};
    }
    if (!meta.claimed.empty()) return std::optional<RunDispatch>{};
    auto r = m.transition_locked(
        "claim_dispatch", d, meta,
        [&](const RunDispatch&, const rdb::ThreadMeta&, RunDispatch& after) {
          return after.claim(consumer, m.ids.next_id(), detail::lease_deadline(now_ms, lease_ms), now_ms);
        },
        now_ms);
    if (!r) return r.error();
    return std::optional<RunDispatch>{std::move(*r)};
  });
}

}  // namespace mbx
