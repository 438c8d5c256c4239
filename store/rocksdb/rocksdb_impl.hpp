// Internals of RocksdbStore shared by its ops_*.cpp files: the open database, the striped
// per-thread locks, typed reads, and the write staging that keeps every index in step with
// the records it indexes. Only store/rocksdb/ includes this file.
//
// Locking: every read-check-write of one thread holds thread_lock(thread) for its whole span
// and ends in ONE WriteBatch, committed by commit_locked. Event appends also take
// event_lock(run) (after the thread lock when fenced). Plain reads take no lock (a WriteBatch
// is applied atomically). Each stripe caches the metadata of its last threads (MetaCache,
// guarded by the stripe's mutex); get_meta_locked reads through it. Each stripe also caches the
// records of the live (Queued or Claimed) dispatches it committed last (LiveDispatchCache):
// stage_dispatch drops a dispatch's entry, commit_locked puts the committed live record back,
// and lock_dispatch and get_dispatch_locked read through it.
// Synced writes happen on the caller's thread in commit_locked(); concurrent committers are grouped
// by RocksDB into one WAL write + fsync (group commit). On a busy thread (its lock waited for
// lately) a synced write inside durable() is fsynced after the lock instead (see durable()).
#pragma once

#include "store/rocksdb/live_dispatch_cache.hpp"
#include "store/rocksdb/codec.hpp"
#include "store/rocksdb/column_families.hpp"
#include "store/rocksdb/counted_mutex.hpp"
#include "store/rocksdb/keys.hpp"
#include "store/rocksdb/meta_cache.hpp"
#include "store/rocksdb/rocksdb_store.hpp"
#include "store/rocksdb/wal_sync.hpp"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mbx {

// The index entries (key, value) a dispatch owns in its current state (verify();
// stage_dispatch stages the same entries kind by kind).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> dispatch_index_entries(const RunDispatch& d);

// The only rocksdb::Status -> Error mapping (status.cpp).
[[nodiscard]] Error to_error(const rocksdb::Status& status, std::string_view op);

struct RocksdbStore::Impl {
  static constexpr std::size_t kThreadStripes = 4096;
  static constexpr std::size_t kEventStripes = 1024;
  static constexpr std::size_t kLiveHints = 65536;
  static_assert(kThreadStripes < 65535, "a live hint holds a stripe number + 1 in 16 bits");

  // One lock stripe: the mutex of the threads that hash to it and their cached metadata.
  struct Stripe {
    rdb::CountedMutex mu;
    rdb::MetaCache metas;         // Guarded by mu.
    rdb::LiveDispatchCache live;  // Guarded by mu.
  };

  RocksdbOptions options;
  IdSource& ids;
  rocksdb::DB* db = nullptr;                            // owned; closed in the destructor
  std::array<rocksdb::ColumnFamilyHandle*, rdb::kCfCount> cf{};
  rocksdb::WriteOptions write_options;           // synced unless RocksdbOptions::sync is false
  rocksdb::WriteOptions deferred_write_options;  // never synced (Durability::deferred)
  std::array<Stripe, kThreadStripes> thread_stripes;
  // One event stripe: the lock of the runs that hash to it, and the last event seq of the run
  // that appended last under it (its next append needs no seek of the log).
  struct EventStripe {
    std::mutex mu;
    std::string run_id;          // Guarded by mu.
    std::uint64_t last_seq = 0;  // Guarded by mu.
  };
  std::array<EventStripe, kEventStripes> event_stripes;
  // Counts the writes committed under a thread lock, bumped after each one (lock_dispatch).
  std::atomic<std::uint64_t> locked_writes{0};
  // Where to look first for a dispatch's cached live record: slot hash(dispatch id) %
  // kLiveHints holds the number + 1 of the stripe that cached a dispatch hashing there last (0:
  // none). Only a guess (slots are shared and never cleared): lock_dispatch trusts the record it
  // finds in that stripe's LiveDispatchCache, never the hint itself.
  std::array<std::atomic<std::uint16_t>, kLiveHints> live_hints{};

  Impl(RocksdbOptions opts, IdSource& id_source) : options(std::move(opts)), ids(id_source) {}
  ~Impl();

  Stripe& stripe(std::string_view thread_id);
  std::size_t stripe_index(std::string_view thread_id) const;
  rdb::CountedMutex& thread_lock(std::string_view thread_id) { return stripe(thread_id).mu; }
  EventStripe& event_stripe(std::string_view run_id);
  std::mutex& event_lock(std::string_view run_id) { return event_stripe(run_id).mu; }

  // Folds the per-status counter keys of a folder written before the single counters key
  // into that key (one synced batch); nothing to do on a current folder. Called by open.
  [[nodiscard]] Result<void> fold_legacy_counters();

  // ---- reads (no lock) ----
  [[nodiscard]] Result<DispatchCounts> read_counts(const rocksdb::Snapshot* snapshot = nullptr);
  [[nodiscard]] Result<std::optional<std::string>> get(rdb::Cf cf, const std::string& key,
                                                       const rocksdb::Snapshot* snapshot = nullptr);
  [[nodiscard]] Result<std::optional<RunDispatch>> get_dispatch(const std::string& id);
  // From the database; see get_meta_locked for the read of a lock holder.
  [[nodiscard]] Result<rdb::ThreadMeta> get_meta(const std::string& thread_id);
  // For a reader that holds no lock: the stripe's cached metadata when the stripe's lock is free
  // at once (a committed state, like a read of the database), else the database. Never waits
  // for a writer.
  [[nodiscard]] Result<rdb::ThreadMeta> read_meta(const std::string& thread_id);
  [[nodiscard]] Result<std::optional<RunRecord>> get_run(const std::string& run_id);
  // Calls fn(key, value) for each key in [prefix, prefix_end) of cf (or from `start` when
  // given) until it returns false.
  [[nodiscard]] Result<void> scan(rdb::Cf cf, const std::string& prefix,
                                  const std::function<bool(std::string_view, std::string_view)>& fn,
                                  const std::string* start = nullptr, const rocksdb::Snapshot* snapshot = nullptr);
  [[nodiscard]] std::unique_ptr<rocksdb::Iterator> iterator(rdb::Cf cf, const rocksdb::Snapshot* snapshot = nullptr);

  // Stages `event` as the next of run `run_id` (its seq: the stripe's cached last seq of the
  // run, else the log's last key) and returns it as it will be stored. The caller holds
  // stripe.mu and, once the batch is written, sets stripe.run_id / last_seq to it.
  [[nodiscard]] Result<AgentEvent> stage_event_locked(rocksdb::WriteBatch& b, EventStripe& stripe,
                                                      const std::string& run_id, const AgentEvent& event);
  // An event staged in a batch with its run's event lock taken (after the thread's) and held
  // until this goes away; committed() records it as the run's last once the batch is written.
  struct StagedEvent {
    std::unique_lock<std::mutex> lock;
    EventStripe* stripe = nullptr;
    std::optional<AgentEvent> event;  // as it will be stored
    [[nodiscard]] Result<void> stage(Impl& m, rocksdb::WriteBatch& b, const std::string& run_id,
                                     const AgentEvent& staged) {
      stripe = &m.event_stripe(run_id);
      lock = std::unique_lock<std::mutex>(stripe->mu);
      auto stored = m.stage_event_locked(b, *stripe, run_id, staged);
      if (!stored) return stored.error();
      event = std::move(*stored);
      return {};
    }
    void committed() {
      if (stripe == nullptr || !event) return;
      stripe->run_id = event->run_id;
      stripe->last_seq = event->seq;
    }
  };

  // ---- reads and writes of a lock holder (caller holds thread_lock(thread_id)) ----
  // The thread's metadata, from the stripe's cache or else the database (then cached).
  [[nodiscard]] Result<rdb::ThreadMeta> get_meta_locked(const std::string& thread_id);
  // The dispatch `dispatch_id` (of any thread), read while holding thread_lock(thread_id): from
  // the stripe's LiveDispatchCache when there, else the database.
  [[nodiscard]] Result<std::optional<RunDispatch>> get_dispatch_locked(const std::string& thread_id,
                                                                       const std::string& dispatch_id);
  // Stages `after` (and removes the index entries of `before` it no longer owns), adjusting meta
  // and counters; writes only what differs between the two states.
  void stage_dispatch(rocksdb::WriteBatch& b, rdb::ThreadMeta& meta, const RunDispatch* before,
                      const RunDispatch* after);
  // Stages run record `written` of thread_id over `existing` (its stored record; null for a new
  // run): the row, its 'u' and 's' index entries (only what changes) and, in meta, the write
  // count and the thread's latest run.
  [[nodiscard]] Result<void> stage_run_locked(rocksdb::WriteBatch& b, const std::string& thread_id,
                                              rdb::ThreadMeta& meta, const RunRecord* existing,
                                              const RunRecord& written);
  // Stages meta (if changed) and the thread's ready marker; drops the cached meta until the
  // batch is committed.
  void stage_meta(rocksdb::WriteBatch& b, const std::string& thread_id, const rdb::ThreadMeta& before,
                  const rdb::ThreadMeta& after);
  // ---- synced writes: the fsync after the locks ----
  // A store operation that may write synced runs as durable(body). Inside it, a synced write
  // of a thread whose lock is busy (CountedMutex::contended: a caller waits for it, or waited
  // within kBusyLockWindow, rocksdb_store.cpp) goes to the WAL and the memtables without the
  // fsync; when body has returned, its locks are released, and one WAL sync (wal_sync) covers
  // every write up to the sequence number seen after the write.
  // Callers that owe a sync while another one is running wait for it, and the next sync covers
  // all of them (group commit). So a busy thread's lock is not held across an fsync: a submit
  // and the end of a run on the same thread no longer take turns at the disk. Uncontended, a
  // synced write syncs in the write itself, through RocksDB's group commit, which costs each
  // writer one wait instead of two (measured: about 20% more CPU per dispatch at T = 100 when
  // every synced write took the sync-after path). Outside durable(), a synced write always
  // syncs in the write. The operation returns only once its writes are synced; another
  // operation may read them before (it can only make writes that come after them in the WAL,
  // so a power loss that drops the first drops those too). Nested durable() calls sync once,
  // at the outermost.
  template <class T, class F>
  [[nodiscard]] Result<T> durable(F&& body) {
    SyncScope scope(*this);
    Result<T> r = body();
    if (auto synced = scope.settle(); !synced && r) return synced.error();
    return r;
  }
  class SyncScope {
  public:
    explicit SyncScope(Impl& m);
    ~SyncScope();
    SyncScope(const SyncScope&) = delete;
    SyncScope& operator=(const SyncScope&) = delete;
    // The WAL sync owed by the writes of this scope (none when nested or nothing owed).
    [[nodiscard]] Result<void> settle();

  private:
    Impl& m_;
    bool outermost_;
  };
  // Whether a synced write of thread_id's rows is written unsynced and its sync owed to the
  // enclosing durable() scope: inside one, with a busy lock (commit_locked).
  [[nodiscard]] bool sync_after_lock(const std::string& thread_id, Durability durability) const;
  // The syncs owed by durable() scopes: DB::SyncWAL, shared by the callers that wait meanwhile.
  rdb::WalSyncGroup wal_sync{[this] { return db->GetLatestSequenceNumber(); },
                             [this]() -> Result<void> {
                               if (auto s = db->SyncWAL(); !s.ok()) return to_error(s, "sync of the WAL");
                               return {};
                             }};

  // Writes `b`, a write of thread_id's rows, and counts it in locked_writes. `meta`, when given,
  // is the thread's metadata after the batch: cached once the write succeeded. `dispatch`, when
  // given, is a dispatch record of thread_id the batch writes: cached once written if live. A
  // deferred write skips the fsync (deferred_write_options).
  [[nodiscard]] Result<void> commit_locked(const std::string& thread_id, rocksdb::WriteBatch& b, std::string_view op,
                                           const rdb::ThreadMeta* meta, const RunDispatch* dispatch = nullptr,
                                           Durability durability = Durability::synced);

  // One transition of one dispatch under its thread lock: load, apply `change`, write.
  // `change` returns an error to abort (nothing written) or fills `after`.
  using Change = std::function<Result<void>(const RunDispatch& before, const rdb::ThreadMeta& meta,
                                            RunDispatch& after)>;
  [[nodiscard]] Result<RunDispatch> transition_locked(const std::string& op, const RunDispatch& before,
                                                      rdb::ThreadMeta& meta, const Change& change,
                                                      std::int64_t now_ms, Durability durability = Durability::synced);

  // Checks `fence` against `d`, the fenced dispatch read under the held thread lock (nullopt:
  // not found). Stale epoch: supersedes (written) and returns the fenced error. Not owned /
  // missing: the error, nothing written.
  [[nodiscard]] Result<RunDispatch> owned_locked(const char* op, const Fence& fence, const std::optional<RunDispatch>& d,
                                                 rdb::ThreadMeta& meta, std::int64_t now_ms);

  // A dispatch read for a write: `lock` holds its thread's lock and `dispatch` is its record
  // as of that lock (nullopt if it does not exist; then `lock` may hold nothing).
  struct LockedDispatch {
    std::unique_lock<rdb::CountedMutex> lock;
    std::optional<RunDispatch> dispatch;
  };
  // A live dispatch cached by the stripe its hint names is taken from there under that
  // stripe's lock (no read). Otherwise reads the dispatch (which names its thread; a dispatch
  // never changes thread), takes the thread's lock and reads it again only if a write committed
  // under some thread lock since the first read, so the common case reads it once.
  [[nodiscard]] Result<LockedDispatch> lock_dispatch(const std::string& dispatch_id);

  // The checks of enqueue under the held thread lock (shape, ids, duplicate id, dedupe key,
  // queue bound); returns the record to stage, stamped with the thread's epoch, and Claimed
  // when options.claim asks for it and the thread allows it.
  [[nodiscard]] Result<RunDispatch> check_enqueue_locked(const RunDispatch& dispatch, const EnqueueOptions& options,
                                                         const rdb::ThreadMeta& meta, std::int64_t now_ms);

  // The dispatch under its thread's lock, with the thread's metadata, when it is Queued
  // (nullopt when it is missing or in another status): the start of claim_dispatch and cancel.
  struct LockedQueued {
    LockedDispatch locked;  // its dispatch is set
    rdb::ThreadMeta meta;
    [[nodiscard]] const RunDispatch& dispatch() const { return *locked.dispatch; }
  };
  [[nodiscard]] Result<std::optional<LockedQueued>> lock_queued(const std::string& dispatch_id);

  // A fenced transition: lock, check the fence, apply, write.
  [[nodiscard]] Result<RunDispatch> fenced(const char* op, const Fence& fence, std::int64_t now_ms,
                                           const std::function<Result<void>(RunDispatch&)>& apply,
                                           Durability durability = Durability::synced);
};

}  // namespace mbx
