// RocksdbStore: the fenced transitions of a claimed dispatch, cancel and supersede.
#include "store/rocksdb/rocksdb_impl.hpp"

#include "store/detail/rules.hpp"

namespace mbx {

Result<RunDispatch> RocksdbStore::ack(const Fence& fence, std::int64_t now_ms) {
  return impl_->fenced("ack", fence, now_ms, [&](RunDispatch& d) { return d.mark_acked(now_ms); });
}

Result<RunDispatch> RocksdbStore::nack(const Fence& fence, std::int64_t retry_at_ms, const std::string& error,
                                       std::int64_t now_ms, Durability durability) {
  return impl_->fenced(
      "nack", fence, now_ms, [&](RunDispatch& d) { return d.mark_nack_result(now_ms, retry_at_ms, error); }, durability);
}

Result<RunDispatch> RocksdbStore::dead_letter(const Fence& fence, const std::string& error, std::int64_t now_ms) {
  return impl_->fenced("dead_letter", fence, now_ms, [&](RunDispatch& d) { return d.mark_dead_letter(now_ms, error); });
}

Result<RunDispatch> RocksdbStore::extend_lease(const Fence& fence, std::int64_t lease_ms, std::int64_t now_ms) {
  return impl_->fenced("extend_lease", fence, now_ms, [&](RunDispatch& d) {
    return d.extend_lease(detail::lease_deadline(now_ms, lease_ms), now_ms);
  });
}

Result<RunDispatch> RocksdbStore::record_dispatch_start(const Fence& fence, const std::string& instance_id,
                                                        std::int64_t now_ms) {
  return impl_->fenced("record_dispatch_start", fence, now_ms,
                       [&](RunDispatch& d) { return d.record_dispatch_start(instance_id, now_ms); });
}

Result<RunDispatch> RocksdbStore::record_run_result(const Fence& fence, const RunDispatchResult& result,
                                                    std::int64_t now_ms) {
  return impl_->fenced("record_run_result", fence, now_ms,
                       [&](RunDispatch& d) { return d.record_run_result(result, now_ms); });
}

Result<RunDispatch> RocksdbStore::supersede_claimed(const Fence& fence, std::int64_t now_ms,
                                                    const std::string& reason, Durability durability) {
  return impl_->durable<RunDispatch>([&]() -> Result<RunDispatch> {
    auto& m = *impl_;
    auto locked = m.lock_dispatch(fence.dispatch_id);
    if (!locked) return locked.error();
    const auto& d = locked->dispatch;
    if (!d) return not_found_error("supersede_claimed: dispatch '" + fence.dispatch_id + "' not found");
    auto meta = m.get_meta_locked(d->thread_id);
    if (!meta) return meta.error();
    if (d->status != DispatchStatus::claimed || d->claim_token != fence.claim_token)
      return detail::fence_error("supersede_claimed", *d, fence, meta->epoch);
    return m.transition_locked(
        "supersede_claimed", *d, *meta,
        [&](const RunDispatch& before, const rdb::ThreadMeta& mt, RunDispatch& after) {
          return after.mark_superseded_at_epoch(now_ms, std::max(before.dispatch_epoch, mt.epoch), reason);
        },
        now_ms, durability);
  });
}

Result<std::optional<RunDispatch>> RocksdbStore::cancel(const std::string& dispatch_id, std::int64_t now_ms) {
  return impl_->durable<std::optional<RunDispatch>>([&]() -> Result<std::optional<RunDispatch>> {
    auto& m = *impl_;
    auto queued = m.lock_queued(dispatch_id);
    if (!queued) return queued.error();
    if (!*queued) return std::optional<RunDispatch>{};
    auto r = m.transition_locked(
        "cancel", (*queued)->dispatch(), (*queued)->meta,
        [&](const RunDispatch&, const rdb::ThreadMeta&, RunDispatch& after) { return after.mark_cancelled(now_ms); },
        now_ms);
    if (!r) return r.error();
    return std::optional<RunDispatch>{std::move(*r)};
  });
}

Result<InterruptResult> RocksdbStore::interrupt(const std::string& thread_id, std::int64_t now_ms,
                                                Durability durability) {
  return impl_->durable<InterruptResult>([&]() -> Result<InterruptResult> {
    if (!rdb::is_key_safe(thread_id)) return validation_error("interrupt: thread_id must be non-blank without NUL");
    auto& m = *impl_;
    std::lock_guard<rdb::CountedMutex> lock(m.thread_lock(thread_id));
    auto meta = m.get_meta_locked(thread_id);
    if (!meta) return meta.error();
    const auto meta_before = *meta;
    const auto old_epoch = meta->epoch;
    meta->epoch += 1;
    InterruptResult out;
    out.new_epoch = meta->epoch;
    std::vector<RunDispatch> queued;
    Error failure;
    bool failed = false;
    const auto prefix = rdb::queued_prefix(thread_id);
    auto scanned = m.scan(rdb::kIndexCf, prefix, [&](std::string_view key, std::string_view) {
      const std::string id(key.substr(prefix.size() + 1 + 8 + 8));
      auto d = m.get_dispatch_locked(thread_id, id);
      if (!d || !*d) {
        failure = d ? store_error("interrupt: queued index names missing dispatch '" + id + "'") : d.error();
        failed = true;
        return false;
      }
      if ((*d)->dispatch_epoch <= old_epoch) queued.push_back(std::move(**d));
      return true;
    });
    if (!meta->claimed.empty()) {
      auto active = m.get_dispatch_locked(thread_id, meta->claimed);
      if (!active) return active.error();
      if (!*active) return store_error("interrupt: thread meta names missing claimed dispatch '" + meta->claimed + "'");
      out.active_dispatch = std::move(**active);
    }
    if (!scanned) return scanned.error();
    if (failed) return failure;
    std::sort(queued.begin(), queued.end(),
              [](const RunDispatch& a, const RunDispatch& b) { return detail::list_order(a) < detail::list_order(b); });
    rocksdb::WriteBatch b;
    for (const auto& d : queued) {
      RunDispatch after = d;
      std::ignore = after.mark_superseded(now_ms, std::string(kReasonSupersededByInterrupt));  // Queued
      m.stage_dispatch(b, *meta, &d, &after);
      out.superseded.push_back(std::move(after));
    }
    out.superseded_count = out.superseded.size();
    m.stage_meta(b, thread_id, meta_before, *meta);
    if (auto r = m.commit_locked(thread_id, b, "interrupt", &*meta, nullptr, durability); !r) return r.error();
    return out;
  });
}

}  // namespace mbx
