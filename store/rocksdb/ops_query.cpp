// RocksdbStore: read-only queries of the dispatch side.
#include "store/rocksdb/rocksdb_impl.hpp"

#include "store/detail/rules.hpp"

#include <algorithm>

namespace mbx {

Result<std::vector<std::string>> RocksdbStore::queued_thread_ids(std::int64_t now_ms, std::uint32_t limit) {
  auto& m = *impl_;
  std::vector<std::string> out;
  std::optional<Error> failure;
  auto scanned = m.scan(rdb::kIndexCf, std::string(rdb::kReadyPrefix), [&](std::string_view key, std::string_view) {
    std::string thread(key.substr(rdb::kReadyPrefix.size()));
    auto meta = m.get_meta(thread);
    if (!meta) {
      failure = meta.error();
      return false;
    }
    if (!meta->claimed.empty()) return true;
    bool eligible = false;
    auto inner = m.scan(rdb::kIndexCf, rdb::queued_prefix(thread), [&](std::string_view qkey, std::string_view) {
      const auto at = rdb::get_i64(qkey.substr(rdb::queued_prefix(thread).size() + 1));
      eligible = at <= now_ms;
      return !eligible;
    });
    if (!inner) {
      failure = inner.error();
      return false;
    }
    if (eligible) out.push_back(std::move(thread));
    return limit == 0 || out.size() < limit;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

Result<std::optional<std::int64_t>> RocksdbStore::next_available_at(std::int64_t now_ms) {
  std::string start(rdb::kWakePrefix);
  rdb::put_i64(start, now_ms == INT64_MAX ? now_ms : now_ms + 1);
  std::optional<std::int64_t> next;
  auto scanned = impl_->scan(
      rdb::kIndexCf, std::string(rdb::kWakePrefix),
      [&](std::string_view key, std::string_view) {
        next = rdb::get_i64(key.substr(rdb::kWakePrefix.size()));
        return false;
      },
      &start);
  if (!scanned) return scanned.error();
  return next;
}

Result<std::uint64_t> RocksdbStore::current_epoch(const std::string& thread_id) {
  if (!rdb::is_key_safe(thread_id)) return std::uint64_t{0};
  auto meta = impl_->read_meta(thread_id);
  if (!meta) return meta.error();
  return meta->epoch;
}

Result<ThreadQueueState> RocksdbStore::thread_state(const std::string& thread_id) {
  ThreadQueueState out;
  if (!rdb::is_key_safe(thread_id)) return out;
  auto meta = impl_->read_meta(thread_id);
  if (!meta) return meta.error();
  out.epoch = meta->epoch;
  out.queued = meta->queued;
  if (!meta->claimed.empty()) out.claimed_dispatch_id = meta->claimed;
  return out;
}

Result<std::optional<RunDispatch>> RocksdbStore::load_dispatch(const std::string& dispatch_id) {
  return impl_->get_dispatch(dispatch_id);
}

Result<DispatchPage> RocksdbStore::list_dispatches(const std::string& thread_id,
                                                   const std::vector<DispatchStatus>& statuses, std::uint64_t offset,
                                                   std::uint32_t limit, bool newest_first) {
  auto& m = *impl_;
  DispatchPage out;
  if (statuses.empty() || !rdb::is_key_safe(thread_id)) return out;
  const auto prefix = rdb::thread_dispatch_prefix(thread_id);
  std::vector<RunDispatch> all;
  std::optional<Error> failure;
  auto scanned = m.scan(rdb::kIndexCf, prefix, [&](std::string_view key, std::string_view value) {
    const auto status = static_cast<DispatchStatus>(value.empty() ? 0 : value[0]);
    if (std::find(statuses.begin(), statuses.end(), status) == statuses.end()) return true;
    const std::string id(key.substr(prefix.size() + 8));
    auto d = m.get_dispatch(id);
    if (!d || !*d) {
      failure = d ? store_error("list_dispatches: index names missing dispatch '" + id + "'") : d.error();
      return false;
    }
    all.push_back(std::move(**d));
    return true;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  if (newest_first) {
    std::sort(all.begin(), all.end(), [](const RunDispatch& a, const RunDispatch& b) {
      return std::tie(b.created_at, b.dispatch_id) < std::tie(a.created_at, a.dispatch_id);
    });
  } else {
    std::sort(all.begin(), all.end(),
              [](const RunDispatch& a, const RunDispatch& b) { return detail::list_order(a) < detail::list_order(b); });
  }
  out.total = all.size();
  if (offset < all.size()) {
    const auto end = limit == 0 ? all.size() : std::min<std::uint64_t>(all.size(), offset + limit);
    out.items.assign(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(offset)),
                     std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  return out;
}

Result<std::vector<RunDispatch>> RocksdbStore::list_terminal_dispatches(std::uint64_t offset, std::uint32_t limit) {
  auto& m = *impl_;
  std::vector<RunDispatch> out;
  std::uint64_t skipped = 0;
  std::optional<Error> failure;
  auto scanned = m.scan(rdb::kIndexCf, std::string(rdb::kTerminalPrefix), [&](std::string_view key, std::string_view) {
    if (skipped < offset) {
      ++skipped;
      return true;
    }
    const std::string id(key.substr(rdb::kTerminalPrefix.size() + 16));
    auto d = m.get_dispatch(id);
    if (!d) {
      failure = d.error();
      return false;
    }
    if (*d) out.push_back(std::move(**d));  // purged between index read and load: skip
    return limit == 0 || out.size() < limit;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

Result<DispatchCounts> RocksdbStore::count_dispatches_by_status() { return impl_->read_counts(); }

}  // namespace mbx
