// Opening and closing the RocksDB store, and the shared machinery of rocksdb_impl.hpp.
#include "store/rocksdb/rocksdb_impl.hpp"
#include "store/rocksdb/counters_merge.hpp"

#include "store/detail/rules.hpp"

#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <functional>
#include <limits>

namespace mbx {

namespace {

// counters CF: values are 8-byte big-endian two's complement lanes; merge adds lane by lane
// (a missing lane is 0), so the one-lane operands of the former per-status keys add as before.
class AddOperator final : public rocksdb::AssociativeMergeOperator {
public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    const std::string_view a = existing != nullptr ? std::string_view(existing->data(), existing->size()) : "";
    const std::string_view b(value.data(), value.size());
    if (a.size() % 8 != 0 || b.size() % 8 != 0) return false;  // corrupt operand: the read fails
    new_value->clear();
    for (std::size_t at = 0; at < std::max(a.size(), b.size()); at += 8) {
      const std::uint64_t x = at < a.size() ? rdb::get_u64(a.substr(at)) : 0;
      const std::uint64_t y = at < b.size() ? rdb::get_u64(b.substr(at)) : 0;
      rdb::put_u64(*new_value, x + y);
    }
    return true;
  }
  const char* Name() const override { return "mbx.add64"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> rdb::counters_merge_operator() { return std::make_shared<AddOperator>(); }

std::vector<std::pair<std::string, std::string>> dispatch_index_entries(const RunDispatch& d) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(rdb::thread_dispatch_key(d), std::string(1, static_cast<char>(d.status)));
  out.emplace_back(rdb::run_dispatch_key(d.run_id, d.dispatch_id), std::string());
  switch (d.status) {
    case DispatchStatus::queued:
      out.emplace_back(rdb::queued_key(d), std::string());
      out.emplace_back(rdb::wake_key(d), d.thread_id);
      break;
    case DispatchStatus::claimed:
      out.emplace_back(rdb::lease_key(d.lease_until.value_or(0), d.dispatch_id), std::string());
      break;
    default:
      out.emplace_back(rdb::terminal_key(d), std::string());
      break;
  }
  if (!is_terminal(d.status) && d.dedupe_key) out.emplace_back(rdb::dedupe_key(d.thread_id, *d.dedupe_key), d.dispatch_id);
  return out;
}

// ---- open / close ------------------------------------------------------------------------------

Result<std::unique_ptr<RocksdbStore>> RocksdbStore::open(const RocksdbOptions& options, IdSource& ids) {
  if (options.path.empty()) return validation_error("RocksdbStore::open: path is empty");
  auto impl = std::make_unique<Impl>(options, ids);
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  // No pipelined writes: on 2 cores they cost unsynced writers from 2 to 32 threads half their
  // rate or more (the WAL and memtable stages hand each write group over between threads) and
  // gain nothing synced, where the fsync dominates (docs/benchmarks.md).
  db_options.enable_pipelined_write = false;
  db_options.max_background_jobs = 2;
  // A restart replays the WAL still live into the memtables before the open returns. A WAL
  // file lives until every column family with writes in it has flushed, and some of ours see
  // few bytes (the counters key, thread metadata), so by default (4x all write buffers) the WAL
  // grew to hundreds of MB and the replay took seconds. Past 32 MB the oldest column family
  // is flushed instead. The replay (memtable inserts, one thread) costs about 15 ms per MB:
  // a killed node with 100 000 queued dispatches reopened in 0.17-0.60 s with 32 MB, 0.26-1.29 s
  // with 64 MB, about 2 s unbounded (docs/benchmarks.md, recovery).
  db_options.max_total_wal_size = 32ull << 20;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.OptimizeLevelStyleCompaction(64 << 20);
  // Point lookups dominate (dispatch, thread meta, dedupe and message-id checks), and many of
  // them miss (a new dispatch id, a new message id): bloom filters in the SSTs and the memtable.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.memtable_whole_key_filtering = true;
  cf_options.memtable_prefix_bloom_size_ratio = 0.02;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (std::size_t i = 0; i < rdb::kCfCount; ++i) {
    auto opts = cf_options;
    if (i == rdb::kCountersCf) opts.merge_operator = rdb::counters_merge_operator();
    // Memtable inserts start from a hint, the position of an earlier insert, and walk from there
    // (ignored by concurrent inserts of a write group): index keys of one kind (their first byte)
    // often grow in time order ('w', 'l', 't' lead with a time); a dispatch or thread row is
    // mostly written again soon after its last write (claim then ack, start, append), or is new
    // with an id that grows in time (UUID v7); each merge operand of the one counters key sorts
    // right before the previous one. Without a hint RocksDB searches from the top
    // whenever the key is not right after the previous insert, which made these inserts about
    // three times the cost of a bare batch's (docs/benchmarks.md).
    if (i == rdb::kIndexCf) opts.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
    if (i == rdb::kDispatchesCf || i == rdb::kThreadsCf || i == rdb::kCountersCf)
      opts.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
    descriptors.emplace_back(rdb::kCfNames[i], opts);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto status = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &impl->db);
  if (!status.ok()) return to_error(status, "RocksdbStore::open '" + options.path + "'");
  for (std::size_t i = 0; i < rdb::kCfCount; ++i) impl->cf[i] = handles[i];
  impl->write_options.sync = options.sync;
  impl->deferred_write_options.sync = false;
  if (auto r = impl->fold_legacy_counters(); !r) return r.error();
  return std::unique_ptr<RocksdbStore>(new RocksdbStore(std::move(impl)));
}

RocksdbStore::RocksdbStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksdbStore::~RocksdbStore() = default;

RocksdbStore::Impl::~Impl() {
  if (db == nullptr) return;
  std::ignore = db->FlushWAL(true);  // best effort on close; every write was already in the WAL
  for (auto* h : cf)
    if (h != nullptr) std::ignore = db->DestroyColumnFamilyHandle(h);
  std::ignore = db->Close();
  delete db;
}

Result<void> RocksdbStore::Impl::fold_legacy_counters() {
  rocksdb::WriteBatch b;
  std::string lanes;
  for (std::size_t i = 0; i < std::tuple_size_v<DispatchCounts>; ++i) {
    const auto key = rdb::legacy_counter_key(static_cast<DispatchStatus>(i));
    auto v = get(rdb::kCountersCf, key);
    if (!v) return v.error();
    lanes.resize(8 * (i + 1), '\0');
    if (!*v) continue;
    if ((*v)->size() != 8) return store_error("open: counter of status " + std::to_string(i) + " is not 8 bytes");
    lanes.replace(8 * i, 8, **v);
    std::ignore = b.Delete(cf[rdb::kCountersCf], key);
  }
  if (b.Count() == 0) return {};
  std::ignore = b.Merge(cf[rdb::kCountersCf], rdb::kCountersKey, lanes);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = db->Write(wo, &b); !s.ok()) return to_error(s, "open: fold counters");
  return {};
}

Result<DispatchCounts> RocksdbStore::Impl::read_counts(const rocksdb::Snapshot* snapshot) {
  DispatchCounts counts{};
  auto v = get(rdb::kCountersCf, std::string(rdb::kCountersKey), snapshot);
  if (!v) return v.error();
  if (!*v) return counts;
  const std::string_view lanes = **v;
  if (lanes.size() % 8 != 0 || lanes.size() > 8 * counts.size()) return store_error("counters: value of a wrong size");
  for (std::size_t i = 0; 8 * i < lanes.size(); ++i) counts[i] = rdb::get_u64(lanes.substr(8 * i));
  return counts;
}

// ---- locks and reads ---------------------------------------------------------------------------

std::size_t RocksdbStore::Impl::stripe_index(std::string_view thread_id) const {
  return std::hash<std::string_view>{}(thread_id) % kThreadStripes;
}

namespace {

// RocksDB counts into a thread-local PerfContext on every read and write unless the calling
// thread turns it off (its default level is kEnableCount); nothing here reads those counters.
// Once per thread that calls into the store: every operation takes a stripe first.
void quiet_perf_context_once() {
  thread_local const bool quiet = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)quiet;
}

}  // namespace

RocksdbStore::Impl::Stripe& RocksdbStore::Impl::stripe(std::string_view thread_id) {
  quiet_perf_context_once();
  return thread_stripes[stripe_index(thread_id)];
}

RocksdbStore::Impl::EventStripe& RocksdbStore::Impl::event_stripe(std::string_view run_id) {
  quiet_perf_context_once();
  return event_stripes[std::hash<std::string_view>{}(run_id) % kEventStripes];
}

Result<std::optional<std::string>> RocksdbStore::Impl::get(rdb::Cf c, const std::string& key,
                                                           const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  auto s = db->Get(ro, cf[c], key, &value);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return to_error(s, "get");
  return std::optional<std::string>{std::move(value)};
}

Result<std::optional<RunDispatch>> RocksdbStore::Impl::get_dispatch(const std::string& id) {
  auto v = get(rdb::kDispatchesCf, id);
  if (!v) return v.error();
  if (!*v) return std::optional<RunDispatch>{};
  RunDispatch d;
  if (auto r = rdb::decode(**v, d); !r) return r.error();
  return std::optional<RunDispatch>{std::move(d)};
}

Result<rdb::ThreadMeta> RocksdbStore::Impl::get_meta(const std::string& thread_id) {
  auto v = get(rdb::kThreadsCf, thread_id);
  if (!v) return v.error();
  rdb::ThreadMeta meta;
  if (*v) {
    if (auto r = rdb::decode(**v, meta); !r) return r.error();
  }
  return meta;
}

Result<AgentEvent> RocksdbStore::Impl::stage_event_locked(rocksdb::WriteBatch& b, EventStripe& stripe,
                                                          const std::string& run_id, const AgentEvent& event) {
  std::uint64_t last = 0;
  if (stripe.run_id == run_id) {
    last = stripe.last_seq;
  } else {
    auto it = iterator(rdb::kEventsCf);
    it->SeekForPrev(rdb::event_key(run_id, std::numeric_limits<std::uint64_t>::max()));
    const auto prefix = rdb::event_prefix(run_id);
    if (it->Valid() && it->key().starts_with(prefix))
      last = rdb::get_u64(std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()));
    if (!it->status().ok()) return to_error(it->status(), "append_event");
  }
  AgentEvent stored = event;
  stored.run_id = run_id;
  stored.seq = last + 1;
  std::ignore = b.Put(cf[rdb::kEventsCf], rdb::event_key(run_id, stored.seq), rdb::encode(stored));
  return stored;
}

Result<rdb::ThreadMeta> RocksdbStore::Impl::read_meta(const std::string& thread_id) {
  auto& s = stripe(thread_id);
  {
    std::unique_lock<rdb::CountedMutex> lock(s.mu, std::try_to_lock);
    if (lock.owns_lock())
      if (const auto* cached = s.metas.find(thread_id)) return *cached;
  }
  return get_meta(thread_id);
}

Result<std::optional<RunRecord>> RocksdbStore::Impl::get_run(const std::string& run_id) {
  auto v = get(rdb::kRunsCf, run_id);
  if (!v) return v.error();
  if (!*v) return std::optional<RunRecord>{};
  RunRecord r;
  if (auto d = rdb::decode(**v, r); !d) return d.error();
  return std::optional<RunRecord>{std::move(r)};
}

std::unique_ptr<rocksdb::Iterator> RocksdbStore::Impl::iterator(rdb::Cf c, const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, cf[c]));
}

Result<void> RocksdbStore::Impl::scan(rdb::Cf c, const std::string& prefix,
                                      const std::function<bool(std::string_view, std::string_view)>& fn,
                                      const std::string* start, const rocksdb::Snapshot* snapshot) {
  // The upper bound keeps the iterator from walking over deleted keys past the prefix (a
  // queue leaves many tombstones behind).
  const std::string end = rdb::prefix_end(prefix);
  const rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf[c]));
  for (it->Seek(start != nullptr ? *start : prefix); it->Valid(); it->Next()) {
    auto key = it->key();
    if (!key.starts_with(prefix)) break;
    if (!fn(std::string_view(key.data(), key.size()), std::string_view(it->value().data(), it->value().size())))
      break;
  }
  if (!it->status().ok()) return to_error(it->status(), "scan");
  return {};
}

Result<rdb::ThreadMeta> RocksdbStore::Impl::get_meta_locked(const std::string& thread_id) {
  auto& metas = stripe(thread_id).metas;
  if (const auto* cached = metas.find(thread_id)) return *cached;
  auto meta = get_meta(thread_id);
  if (meta) metas.put(thread_id, *meta);
  return meta;
}

Result<std::optional<RunDispatch>> RocksdbStore::Impl::get_dispatch_locked(const std::string& thread_id,
                                                                           const std::string& dispatch_id) {
  // An entry of this stripe's cache is the stored record of a dispatch whose thread hashes to
  // this stripe, whose lock the caller holds: current.
  if (const auto* cached = stripe(thread_id).live.find(dispatch_id)) return std::optional<RunDispatch>{*cached};
  return get_dispatch(dispatch_id);
}

Result<std::optional<RocksdbStore::Impl::LockedQueued>> RocksdbStore::Impl::lock_queued(
    const std::string& dispatch_id) {
  auto locked = lock_dispatch(dispatch_id);
  if (!locked) return locked.error();
  if (!locked->dispatch || locked->dispatch->status != DispatchStatus::queued) return std::optional<LockedQueued>{};
  auto meta = get_meta_locked(locked->dispatch->thread_id);
  if (!meta) return meta.error();
  return std::optional<LockedQueued>{LockedQueued{std::move(*locked), std::move(*meta)}};
}

Result<RocksdbStore::Impl::LockedDispatch> RocksdbStore::Impl::lock_dispatch(const std::string& dispatch_id) {
  const auto hint = live_hints[std::hash<std::string_view>{}(dispatch_id) % kLiveHints].load(std::memory_order_relaxed);
  if (hint != 0) {
    auto& s = thread_stripes[hint - 1];
    std::unique_lock<rdb::CountedMutex> lock(s.mu);
    // Found: the stored record of a dispatch of one of this stripe's threads (LiveDispatchCache),
    // and every write of it holds this lock. Not found: the hint was stale or shared.
    if (const auto* cached = s.live.find(dispatch_id)) return LockedDispatch{std::move(lock), *cached};
  }
  const auto seen = locked_writes.load(std::memory_order_acquire);
  auto d = get_dispatch(dispatch_id);
  if (!d) return d.error();
  if (!*d) return LockedDispatch{};
  LockedDispatch out{std::unique_lock<rdb::CountedMutex>(thread_lock((*d)->thread_id)), std::move(*d)};
  // Every write of the dispatch holds this lock and bumps locked_writes before releasing it.
  // Unchanged count: no write of it committed after the read began, so the read is current.
  if (locked_writes.load(std::memory_order_acquire) != seen) {
    auto again = get_dispatch(dispatch_id);
    if (!again) return again.error();
    out.dispatch = std::move(*again);
  }
  return out;
}

// ---- staging -----------------------------------------------------------------------------------

namespace {

// One kind of index entry of a dispatch, staged as the difference between two states: `had` /
// `has` say whether `before` / `after` own one; same_key / same_value compare the two entries when
// both do (without building them). Deleted when only `before` owns it or its key changed; written
// when `after` owns it and its key or value changed. An entry both own unchanged stays as it is.
template <class Key, class Value, class SameKey, class SameValue>
void stage_entry(rocksdb::WriteBatch& b, rocksdb::ColumnFamilyHandle* cf, const RunDispatch* before, bool had,
                 const RunDispatch* after, bool has, Key key, Value value, SameKey same_key, SameValue same_value) {
  const bool kept = had && has && same_key(*before, *after);
  if (had && !kept) std::ignore = b.Delete(cf, key(*before));
  if (has && (!kept || !same_value(*before, *after))) {
    const std::string_view v = value(*after);
    std::ignore = b.Put(cf, key(*after), rocksdb::Slice(v.data(), v.size()));
  }
}

bool owns_dedupe(const RunDispatch* d) { return d != nullptr && !is_terminal(d->status) && d->dedupe_key.has_value(); }

}  // namespace

void RocksdbStore::Impl::stage_dispatch(rocksdb::WriteBatch& b, rdb::ThreadMeta& meta, const RunDispatch* before,
                                        const RunDispatch* after) {
  // Only the difference is written: an entry both states own with the same value stays as
  // it is (the 'd' and 'x' entries of most transitions), one whose value changed is
  // overwritten, and the counters move only when the status does. The entries are those of
  // dispatch_index_entries, compared kind by kind (each kind has its own first key byte).
  // The dispatch row is written below: its cached record (if any) goes until the commit.
  if (const auto* d = after != nullptr ? after : before) stripe(d->thread_id).live.erase(d->dispatch_id);
  auto* index = cf[rdb::kIndexCf];
  const auto status_is = [](const RunDispatch* d, DispatchStatus s) { return d != nullptr && d->status == s; };
  const auto terminal = [](const RunDispatch* d) { return d != nullptr && is_terminal(d->status); };
  const auto no_value = [](const RunDispatch&) { return std::string_view(); };
  const auto always = [](const RunDispatch&, const RunDispatch&) { return true; };
  const auto same_thread_entry = [](const RunDispatch& x, const RunDispatch& y) {
    return x.thread_id == y.thread_id && x.created_at == y.created_at && x.dispatch_id == y.dispatch_id;
  };
  // 'd': every dispatch, its status as value.
  stage_entry(
      b, index, before, before != nullptr, after, after != nullptr, [](const RunDispatch& d) { return rdb::thread_dispatch_key(d); },
      [](const RunDispatch& d) { return std::string_view(reinterpret_cast<const char*>(&d.status), 1); },
      same_thread_entry, [](const RunDispatch& x, const RunDispatch& y) { return x.status == y.status; });
  // 'x': every dispatch.
  stage_entry(
      b, index, before, before != nullptr, after, after != nullptr,
      [](const RunDispatch& d) { return rdb::run_dispatch_key(d.run_id, d.dispatch_id); }, no_value,
      [](const RunDispatch& x, const RunDispatch& y) { return x.run_id == y.run_id && x.dispatch_id == y.dispatch_id; },
      always);
  // 'q' and 'w': Queued.
  const bool was_queued = status_is(before, DispatchStatus::queued);
  const bool is_queued = status_is(after, DispatchStatus::queued);
  stage_entry(
      b, index, before, was_queued, after, is_queued, [](const RunDispatch& d) { return rdb::queued_key(d); }, no_value,
      [&](const RunDispatch& x, const RunDispatch& y) {
        return same_thread_entry(x, y) && x.priority == y.priority && x.available_at == y.available_at;
      },
      always);
  stage_entry(
      b, index, before, was_queued, after, is_queued, [](const RunDispatch& d) { return rdb::wake_key(d); },
      [](const RunDispatch& d) { return std::string_view(d.thread_id); },
      [](const RunDispatch& x, const RunDispatch& y) {
        return x.available_at == y.available_at && x.dispatch_id == y.dispatch_id;
      },
      [](const RunDispatch& x, const RunDispatch& y) { return x.thread_id == y.thread_id; });
  // 'l': Claimed.
  stage_entry(
      b, index, before, status_is(before, DispatchStatus::claimed), after, status_is(after, DispatchStatus::claimed),
      [](const RunDispatch& d) { return rdb::lease_key(d.lease_until.value_or(0), d.dispatch_id); }, no_value,
      [](const RunDispatch& x, const RunDispatch& y) {
        return x.lease_until.value_or(0) == y.lease_until.value_or(0) && x.dispatch_id == y.dispatch_id;
      },
      always);
  // 't': terminal.
  stage_entry(
      b, index, before, terminal(before), after, terminal(after), [](const RunDispatch& d) { return rdb::terminal_key(d); },
      no_value,
      [](const RunDispatch& x, const RunDispatch& y) {
        return x.updated_at == y.updated_at && x.created_at == y.created_at && x.dispatch_id == y.dispatch_id;
      },
      always);
  // 'k': non-terminal with a dedupe key, the dispatch id as value.
  stage_entry(
      b, index, before, owns_dedupe(before), after, owns_dedupe(after),
      [](const RunDispatch& d) { return rdb::dedupe_key(d.thread_id, *d.dedupe_key); },
      [](const RunDispatch& d) { return std::string_view(d.dispatch_id); },
      [](const RunDispatch& x, const RunDispatch& y) { return x.thread_id == y.thread_id && *x.dedupe_key == *y.dedupe_key; },
      [](const RunDispatch& x, const RunDispatch& y) { return x.dispatch_id == y.dispatch_id; });
  if (before != nullptr && after != nullptr) {
    if (before->status != after->status)
      std::ignore = b.Merge(cf[rdb::kCountersCf], rdb::kCountersKey, rdb::counter_delta(before->status, after->status));
  } else if (before != nullptr || after != nullptr) {
    const auto& d = before != nullptr ? *before : *after;
    std::ignore = b.Merge(cf[rdb::kCountersCf], rdb::kCountersKey, rdb::counter_delta(d.status, before != nullptr ? -1 : 1));
  }
  // meta.head (in memory only) follows the first 'q' key: dropped (unknown) when its dispatch
  // leaves it, set when a Queued dispatch is the only one or sorts before the known head.
  if (before != nullptr) {
    if (before->status == DispatchStatus::queued) {
      meta.queued -= 1;
      if (!meta.head.empty() && meta.head == rdb::queued_key(*before)) meta.head.clear();
    }
    if (before->status == DispatchStatus::claimed && meta.claimed == before->dispatch_id) meta.claimed.clear();
  }
  if (after != nullptr) {
    if (after->status == DispatchStatus::queued) {
      meta.queued += 1;
      auto key = rdb::queued_key(*after);
      if (meta.queued == 1 || (!meta.head.empty() && key < meta.head)) meta.head = std::move(key);
    }
    if (after->status == DispatchStatus::claimed) meta.claimed = after->dispatch_id;
    std::ignore = b.Put(cf[rdb::kDispatchesCf], after->dispatch_id, rdb::encode(*after));
  } else if (before != nullptr) {
    std::ignore = b.Delete(cf[rdb::kDispatchesCf], before->dispatch_id);
  }
  if (meta.queued == 0) meta.head.clear();
}

void RocksdbStore::Impl::stage_meta(rocksdb::WriteBatch& b, const std::string& thread_id,
                                    const rdb::ThreadMeta& before, const rdb::ThreadMeta& after) {
  if (before == after) return;
  stripe(thread_id).metas.erase(thread_id);  // cached again by commit_locked once written
  std::ignore = b.Put(cf[rdb::kThreadsCf], thread_id, rdb::encode(after));
  if (before.queued == 0 && after.queued > 0) std::ignore = b.Put(cf[rdb::kIndexCf], rdb::ready_key(thread_id), "");
  if (before.queued > 0 && after.queued == 0) std::ignore = b.Delete(cf[rdb::kIndexCf], rdb::ready_key(thread_id));
}

// ---- synced writes: the fsync after the locks ------------------------------------------------

namespace {
// The store whose durable() scope this thread is in, how deep, and the sequence number its
// synced writes need synced (0: none).
struct ThreadSyncState {
  const RocksdbStore::Impl* store = nullptr;
  int depth = 0;
  rocksdb::SequenceNumber owed = 0;
};
thread_local ThreadSyncState t_sync;
// A thread's lock that had a waiter this recently counts as busy: its synced writes sync after
// the lock. Many fsync times: a waiter that arrives during an fsync made under the lock waits
// for all of it, so the moment of the write alone says too little. Measured (alternating
// runs, T = 1 and T = 100 synced): waiters at the moment of the write only, T = 1 gained
// nothing; a 2 ms window, 1 079-1 204/s; 10 ms, 1 277-1 312/s (every synced write after the
// lock: 1 310-1 359/s), while T = 100 kept the context switches and CPU of syncing under the
// lock (about 360 000 switches per run against 445 000 with every write after the lock).
constexpr std::chrono::milliseconds kBusyLockWindow{10};
}  // namespace

RocksdbStore::Impl::SyncScope::SyncScope(Impl& m) : m_(m), outermost_(t_sync.depth == 0) {
  if (outermost_) t_sync = ThreadSyncState{&m, 0, 0};
  ++t_sync.depth;
}

RocksdbStore::Impl::SyncScope::~SyncScope() {
  if (--t_sync.depth == 0) t_sync = ThreadSyncState{};
}

Result<void> RocksdbStore::Impl::SyncScope::settle() {
  if (!outermost_ || t_sync.owed == 0) return {};
  const auto owed = std::exchange(t_sync.owed, 0);
  return m_.wal_sync.sync_upto(owed);
}

bool RocksdbStore::Impl::sync_after_lock(const std::string& thread_id, Durability durability) const {
  // Only for a busy thread's lock: otherwise RocksDB's own group commit (one wait per writer,
  // not two) is the cheaper path.
  return durability == Durability::synced && write_options.sync && t_sync.store == this &&
         thread_stripes[stripe_index(thread_id)].mu.contended(kBusyLockWindow);
}

Result<void> RocksdbStore::Impl::commit_locked(const std::string& thread_id, rocksdb::WriteBatch& b,
                                               std::string_view op, const rdb::ThreadMeta* meta,
                                               const RunDispatch* dispatch, Durability durability) {
  const bool after_lock = sync_after_lock(thread_id, durability);
  auto s = db->Write(durability == Durability::deferred || after_lock ? deferred_write_options : write_options, &b);
  // Read after the write returned: at least the write's own last sequence number.
  if (s.ok() && after_lock) t_sync.owed = std::max(t_sync.owed, db->GetLatestSequenceNumber());
  locked_writes.fetch_add(1, std::memory_order_release);
  const auto index = stripe_index(thread_id);
  auto& st = thread_stripes[index];
  if (!s.ok()) {
    st.metas.erase(thread_id);  // read the row again, whatever the failure left
    return to_error(s, op);
  }
  if (meta != nullptr) st.metas.put(thread_id, *meta);
  if (dispatch != nullptr && !is_terminal(dispatch->status) && dispatch->thread_id == thread_id) {
    st.live.put(dispatch->dispatch_id, *dispatch);
    live_hints[std::hash<std::string_view>{}(dispatch->dispatch_id) % kLiveHints].store(
        static_cast<std::uint16_t>(index + 1), std::memory_order_relaxed);
  }
  return {};
}

Result<RunDispatch> RocksdbStore::Impl::transition_locked(const std::string& op, const RunDispatch& before,
                                                          rdb::ThreadMeta& meta, const Change& change,
                                                          std::int64_t /*now_ms*/, Durability durability) {
  RunDispatch after = before;
  if (auto r = change(before, meta, after); !r) return r.error();
  rocksdb::WriteBatch b;
  const auto meta_before = meta;
  stage_dispatch(b, meta, &before, &after);
  stage_meta(b, before.thread_id, meta_before, meta);
  if (auto r = commit_locked(before.thread_id, b, op, &meta, &after, durability); !r) {
    meta = meta_before;
    return r.error();
  }
  return after;
}

Result<RunDispatch> RocksdbStore::Impl::owned_locked(const char* op, const Fence& fence,
                                                     const std::optional<RunDispatch>& loaded, rdb::ThreadMeta& meta,
                                                     std::int64_t now_ms) {
  if (!loaded) return not_found_error(std::string(op) + ": dispatch '" + fence.dispatch_id + "' not found");
  const RunDispatch& d = *loaded;
  switch (detail::check_fence(d, fence, meta.epoch)) {
    case detail::FenceVerdict::owned: return d;
    case detail::FenceVerdict::stale_epoch: {
      // Deferred (see MailboxStore): the epoch that makes the claim stale is in the log before
      // it, and whatever finds the claim next (a fenced write, reclaim, recovery) supersedes it.
      auto err = detail::fence_error(op, d, fence, meta.epoch);
      auto superseded = transition_locked(
          op, d, meta,
          [&](const RunDispatch&, const rdb::ThreadMeta& m, RunDispatch& after) {
            return after.mark_superseded_at_epoch(now_ms, m.epoch, kReasonClaimedStaleEpoch);
          },
          now_ms, Durability::deferred);
      if (!superseded) return superseded.error();
      return err;
    }
    case detail::FenceVerdict::not_owned: break;
  }
  return detail::fence_error(op, d, fence, meta.epoch);
}

Result<RunDispatch> RocksdbStore::Impl::fenced(const char* op, const Fence& fence, std::int64_t now_ms,
                                               const std::function<Result<void>(RunDispatch&)>& apply,
                                               Durability durability) {
  return durable<RunDispatch>([&]() -> Result<RunDispatch> {
    auto locked = lock_dispatch(fence.dispatch_id);
    if (!locked) return locked.error();
    if (!locked->dispatch) return not_found_error(std::string(op) + ": dispatch '" + fence.dispatch_id + "' not found");
    auto meta = get_meta_locked(locked->dispatch->thread_id);
    if (!meta) return meta.error();
    auto d = owned_locked(op, fence, locked->dispatch, *meta, now_ms);
    if (!d) return d.error();
    return transition_locked(
        op, *d, *meta, [&](const RunDispatch&, const rdb::ThreadMeta&, RunDispatch& after) { return apply(after); },
        now_ms, durability);
  });
}

}  // namespace mbx
