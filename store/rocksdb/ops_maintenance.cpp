// RocksdbStore: lease reclaim and purge, the operations that walk every thread. Each dispatch
// is re-read and changed under its own thread lock, so concurrent sweeps transition it once.
#include "store/rocksdb/rocksdb_impl.hpp"

namespace mbx {

namespace {

// Ids in index `prefix` whose leading i64 is < bound, at most `limit` (0 = all).
Result<std::vector<std::string>> ids_before(RocksdbStore::Impl& m, std::string_view prefix, std::size_t skip,
                                            std::int64_t bound, std::uint32_t limit) {
  std::vector<std::string> ids;
  auto scanned = m.scan(rdb::kIndexCf, std::string(prefix), [&](std::string_view key, std::string_view) {
    if (rdb::get_i64(key.substr(prefix.size())) >= bound) return false;
    ids.emplace_back(key.substr(prefix.size() + skip));
    return limit == 0 || ids.size() < limit;
  });
  if (!scanned) return scanned.error();
  return ids;
}

}  // namespace

Result<std::vector<RunDispatch>> RocksdbStore::reclaim_expired_leases(std::int64_t now_ms, std::uint32_t limit) {
  return impl_->durable<std::vector<RunDispatch>>([&]() -> Result<std::vector<RunDispatch>> {
    auto& m = *impl_;
    auto ids = ids_before(m, rdb::kLeasePrefix, 8, now_ms, limit);
    if (!ids) return ids.error();
    std::vector<RunDispatch> out;
    for (const auto& id : *ids) {
      auto locked = m.lock_dispatch(id);
      if (!locked) return locked.error();
      const auto& d = locked->dispatch;
      if (!d || d->status != DispatchStatus::claimed || !d->lease_until || *d->lease_until >= now_ms)
        continue;  // another sweep or the owner got there first
      auto meta = m.get_meta_locked(d->thread_id);
      if (!meta) return meta.error();
      const bool stale = d->dispatch_epoch < meta->epoch;
      auto r = m.transition_locked(
          "reclaim_expired_leases", *d, *meta,
          [&](const RunDispatch&, const rdb::ThreadMeta& mt, RunDispatch& after) -> Result<void> {
            if (stale) return after.mark_superseded_at_epoch(now_ms, mt.epoch, kReasonExpiredAfterInterrupt);
            return after.mark_expired_lease(now_ms);
          },
          now_ms);
      if (!r) return r.error();
      out.push_back(std::move(*r));
    }
    return out;
  });
}

Result<std::vector<RunDispatch>> RocksdbStore::list_claimed_dispatches(const std::string& consumer) {
  auto& m = *impl_;
  // Every Claimed dispatch has one lease key, 'l' <lease_until i64> <dispatch_id>.
  std::vector<std::string> ids;
  auto scanned = m.scan(rdb::kIndexCf, std::string(rdb::kLeasePrefix), [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(rdb::kLeasePrefix.size() + 8));
    return true;
  });
  if (!scanned) return scanned.error();
  std::vector<RunDispatch> out;
  for (const auto& id : ids) {
    auto d = m.get_dispatch(id);
    if (!d) return d.error();
    if (*d && (*d)->status == DispatchStatus::claimed && (*d)->claimed_by == consumer) out.push_back(std::move(**d));
  }
  return out;
}

Result<std::uint64_t> RocksdbStore::purge_terminal(std::int64_t older_than_ms) {
  auto& m = *impl_;
  auto ids = ids_before(m, rdb::kTerminalPrefix, 16, older_than_ms, 0);
  if (!ids) return ids.error();
  // Purge writes are not synced: a purge lost in a crash is simply done again.
  std::uint64_t purged = 0;
  for (const auto& id : *ids) {
    auto locked = m.lock_dispatch(id);
    if (!locked) return locked.error();
    const auto& d = locked->dispatch;
    if (!d || !is_terminal(d->status) || d->updated_at >= older_than_ms) continue;
    auto meta = m.get_meta_locked(d->thread_id);
    if (!meta) return meta.error();
    const auto meta_before = *meta;
    rocksdb::WriteBatch b;
    m.stage_dispatch(b, *meta, &*d, nullptr);
    m.stage_meta(b, d->thread_id, meta_before, *meta);
    bool run_has_other = false;
    auto scanned = m.scan(rdb::kIndexCf, rdb::run_dispatch_prefix(d->run_id), [&](std::string_view key,
                                                                                  std::string_view) {
      run_has_other = key.substr(rdb::run_dispatch_prefix(d->run_id).size()) != id;
      return !run_has_other;
    });
    if (!scanned) return scanned.error();
    std::unique_lock<std::mutex> events;
    if (!run_has_other) {  // the run's last dispatch goes: its event log goes with it
      auto& stripe = m.event_stripe(d->run_id);
      events = std::unique_lock<std::mutex>(stripe.mu);
      if (stripe.run_id == d->run_id) stripe.run_id.clear();  // its log restarts at seq 1
      const auto from = rdb::event_prefix(d->run_id);
      std::ignore = b.DeleteRange(m.cf[rdb::kEventsCf], from, rdb::prefix_end(from));
    }
    if (auto r = m.commit_locked(d->thread_id, b, "purge_terminal", &*meta, nullptr, Durability::deferred); !r)
      return r.error();
    ++purged;
  }
  return purged;
}

}  // namespace mbx
