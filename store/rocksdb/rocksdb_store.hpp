// RocksdbStore: the embedded default Store, on RocksDB in a local folder. Column families
// hold dispatches, runs, committed messages, events, per-thread metadata and the indexes
// (layout: keys.hpp and docs/store.md). Every operation is one atomic WriteBatch, made under
// a per-thread striped mutex (the read-check-write of one thread never interleaves; different
// threads write concurrently and share fsyncs through RocksDB's group commit).
// Safe for concurrent use. A second open of the same folder fails (RocksDB's LOCK file).
// A thread that calls the store has RocksDB's per-thread perf counting turned off
// (rocksdb::SetPerfLevel(kDisable); nothing here reads it, and it costs every read and write).
#pragma once

#include "messages/ids.hpp"
#include "store/store.hpp"

#include <memory>
#include <string>

namespace mbx {

struct RocksdbOptions {
  std::string path;               // the data folder; created if missing
  bool sync = true;               // Default: true. fsync the WAL on every write (power-loss safe);
                                  // false = process-crash safe only.
  bool sync_events = false;       // Default: false. Event-log appends skip the fsync (they survive a
                                  // process crash; a power loss may drop the newest events).
  bool create_if_missing = true;  // Default: true.
};

class RocksdbStore final : public Store {
public:
  // Opens (or creates) the store; a database killed mid-write recovers here from its WAL.
  // Errors: store (locked by another process, I/O, corruption).
  [[nodiscard]] static Result<std::unique_ptr<RocksdbStore>> open(const RocksdbOptions& options,
                                                                  IdSource& ids = default_id_source());
  ~RocksdbStore() override;
  RocksdbStore(const RocksdbStore&) = delete;
  RocksdbStore& operator=(const RocksdbStore&) = delete;

  // MailboxStore
  Result<RunDispatch> enqueue(const RunDispatch& dispatch, const EnqueueOptions& options) override;
  using MailboxStore::claim;
  Result<std::vector<RunDispatch>> claim(const std::string& thread_id, const std::string& consumer,
                                         std::int64_t lease_ms, std::int64_t now_ms, std::uint32_t limit,
                                         Durability durability) override;
  Result<std::optional<RunDispatch>> claim_dispatch(const std::string& dispatch_id, const std::string& consumer,
                                                    std::int64_t lease_ms, std::int64_t now_ms) override;
  Result<std::optional<ClaimStart>> claim_and_start(const std::string& thread_id, const std::string& consumer,
                                                    std::int64_t lease_ms, std::int64_t now_ms, const RunStarter& start,
                                                    Durability durability) override;
  Result<std::vector<std::string>> queued_thread_ids(std::int64_t now_ms, std::uint32_t limit) override;
  Result<std::optional<std::int64_t>> next_available_at(std::int64_t now_ms) override;
  Result<RunDispatch> ack(const Fence& fence, std::int64_t now_ms) override;
  using MailboxStore::nack;
  Result<RunDispatch> nack(const Fence& fence, std::int64_t retry_at_ms, const std::string& error,
                           std::int64_t now_ms, Durability durability) override;
  Result<RunDispatch> dead_letter(const Fence& fence, const std::string& error, std::int64_t now_ms) override;
  Result<RunDispatch> extend_lease(const Fence& fence, std::int64_t lease_ms, std::int64_t now_ms) override;
  Result<RunDispatch> record_dispatch_start(const Fence& fence, const std::string& instance_id,
                                            std::int64_t now_ms) override;
  Result<RunDispatch> record_run_result(const Fence& fence, const RunDispatchResult& result,
                                        std::int64_t now_ms) override;
  using MailboxStore::supersede_claimed;
  Result<RunDispatch> supersede_claimed(const Fence& fence, std::int64_t now_ms, const std::string& reason,
                                        Durability durability) override;
  Result<std::optional<RunDispatch>> cancel(const std::string& dispatch_id, std::int64_t now_ms) override;
  using MailboxStore::interrupt;
  Result<InterruptResult> interrupt(const std::string& thread_id, std::int64_t now_ms, Durability durability) override;
  Result<std::vector<RunDispatch>> reclaim_expired_leases(std::int64_t now_ms, std::uint32_t limit) override;
  Result<std::vector<RunDispatch>> list_claimed_dispatches(const std::string& consumer) override;
  Result<std::uint64_t> current_epoch(const std::string& thread_id) override;
  Result<ThreadQueueState> thread_state(const std::string& thread_id) override;
  Result<std::optional<RunDispatch>> load_dispatch(const std::string& dispatch_id) override;
  Result<DispatchPage> list_dispatches(const std::string& thread_id, const std::vector<DispatchStatus>& statuses,
                                       std::uint64_t offset, std::uint32_t limit, bool newest_first) override;
  Result<std::vector<RunDispatch>> list_terminal_dispatches(std::uint64_t offset, std::uint32_t limit) override;
  Result<DispatchCounts> count_dispatches_by_status() override;
  Result<std::uint64_t> purge_terminal(std::int64_t older_than_ms) override;

  // ThreadRunStore
  Result<std::optional<RunRecord>> load_run(const std::string& run_id) override;
  Result<std::optional<RunRecord>> latest_run(const std::string& thread_id) override;
  Result<RunPage> list_runs(const std::string& thread_id, std::uint64_t offset, std::uint32_t limit) override;
  Result<RunPage> list_runs_by_status(RunStatus status, std::uint64_t offset, std::uint32_t limit) override;
  Result<std::vector<std::string>> run_ids_by_status(RunStatus status) override;
  Result<std::optional<RunRecord>> reusable_waiting_run(const std::string& thread_id) override;
  using ThreadRunStore::commit_run_append;
  Result<std::uint64_t> commit_run_append(const std::string& thread_id, const std::vector<Message>& messages,
                                          std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                          const Fence* fence, std::int64_t now_ms, Durability durability) override;
  using ThreadRunStore::commit_run_step;
  Result<StepCommit> commit_run_step(const std::string& thread_id, const std::vector<Message>& messages,
                                     std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                     const Fence& fence, const DispatchStep& step, std::int64_t now_ms,
                                     Durability durability) override;
  Result<StepCommit> commit_run_enqueue(const std::string& thread_id, const std::vector<Message>& messages,
                                        std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                        const RunDispatch& dispatch, const EnqueueOptions& options,
                                        std::int64_t now_ms) override;
  Result<std::uint64_t> committed_version(const std::string& thread_id) override;
  Result<std::vector<MessageRecord>> load_committed_messages(const std::string& thread_id, std::uint64_t from_seq,
                                                            std::uint32_t limit) override;
  Result<std::optional<MessageRecord>> load_message_record(const std::string& thread_id,
                                                           const std::string& message_id) override;
  Result<std::vector<MessageRecord>> load_message_records_range(const std::string& thread_id,
                                                                std::uint64_t from_seq, std::uint64_t to_seq) override;
  Result<AgentEvent> append_event(const std::string& run_id, const AgentEvent& event, const Fence* fence) override;
  Result<std::vector<AgentEvent>> read_events(const std::string& run_id, std::uint64_t after_seq,
                                              std::uint32_t limit) override;

  // Store
  Result<std::vector<std::string>> verify() override;

  // What RocksDB holds in memory now (its own estimates): memtables of all column families,
  // the shared block cache, and table readers (SST indexes and filters). Bounded by RocksDB's
  // settings, not by the number of threads. For benchmarks and operations.
  struct MemoryUsage {
    std::uint64_t memtables = 0;
    std::uint64_t block_cache = 0;
    std::uint64_t table_readers = 0;
  };
  [[nodiscard]] MemoryUsage memory_usage() const;

  struct Impl;

private:
  explicit RocksdbStore(std::unique_ptr<Impl> impl);
  struct Enqueue {
    const RunDispatch* dispatch;
    const EnqueueOptions* options;
  };
  // commit_run_append with an optional step (commit_run_step) or enqueue (commit_run_enqueue);
  // one locked write.
  Result<StepCommit> commit_run(const std::string& thread_id, const std::vector<Message>& messages,
                                std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                const Fence* fence, const DispatchStep* step, const Enqueue* enqueue,
                                std::int64_t now_ms, Durability durability);

  std::unique_ptr<Impl> impl_;
};

}  // namespace mbx
