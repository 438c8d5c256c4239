// MailboxStore: the dispatch lifecycle contract. The store is the only queue authority.
// Implementations (store/memory, store/rocksdb) are safe for concurrent use from many
// threads without external locking; every operation is one atomic step.
//
// Fenced operations (ack, nack, dead_letter, extend_lease, record_dispatch_start,
// record_run_result, supersede_claimed) take the owner's Fence. They fail with
// Errc::not_found for an unknown dispatch and Errc::fenced when the caller no longer owns it:
// not Claimed, another claim token, or another epoch. When the fence is only stale because
// the thread's epoch moved on (an interrupt), the store also supersedes the dispatch in the
// same atomic step ("claimed dispatch superseded by newer dispatch epoch"): that is how a
// run interrupted elsewhere releases its claim. That supersede is a deferred write (see
// Durability): the epoch bump that made the claim stale is in the log before it, and a stale
// claim found again (by a fenced write, or by reclaim_expired_leases once its lease ran out) is
// superseded then.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "store/durability.hpp"
#include "store/fence.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

inline constexpr const char* kReasonSupersededByInterrupt = "queued dispatch superseded by interrupt";
inline constexpr const char* kReasonQueuedStaleEpoch = "queued dispatch superseded by newer dispatch epoch";
inline constexpr const char* kReasonClaimedStaleEpoch = "claimed dispatch superseded by newer dispatch epoch";
inline constexpr const char* kReasonExpiredAfterInterrupt = "claimed dispatch lease expired after interrupt";

// A claim made in the same write as the enqueue (ThreadRunStore::commit_run_enqueue only).
struct InlineClaim {
  std::string consumer;
  std::int64_t lease_ms = 0;
  // Claim only when the thread has no Queued dispatch either (so the new one is the thread's
  // next in claim order); otherwise only its having no Claimed dispatch counts, as in
  // claim_dispatch (the foreground inline claim).
  bool only_if_no_queued = false;
  // Start the run in the same write too: when the claim is made, the dispatch's start is
  // recorded (record_dispatch_start with `start_instance_id`) and `started_run` is written
  // instead of the commit's run record (same run id and thread). When the claim is not made,
  // neither is used. Both set, or neither (validation).
  std::string start_instance_id;
  std::optional<RunRecord> started_run;
  // With a start: an event of the run appended in the same write when the start is made (as
  // DispatchStep::event), returned in StepCommit::event. Without a start: validation error.
  std::optional<AgentEvent> start_event;
};

struct EnqueueOptions {
  // At most this many Queued dispatches per thread; 0 = unbounded. Past it: Errc::queue_full.
  std::uint32_t max_queued_per_thread = 0;
  // commit_run_enqueue: store the dispatch Claimed by `claim->consumer` (lease from now) when
  // the thread allows it, else Queued as usual. enqueue() refuses it (validation).
  std::optional<InlineClaim> claim;
};

struct InterruptResult {
  std::uint64_t new_epoch = 0;
  std::optional<RunDispatch> active_dispatch;  // the Claimed dispatch, left Claimed
  std::uint64_t superseded_count = 0;
  std::vector<RunDispatch> superseded;         // the records as superseded
};

struct DispatchPage {
  std::vector<RunDispatch> items;
  std::uint64_t total = 0;  // matching dispatches in all pages
};

// What a thread has in the queue right now (a point read, whatever the thread's history).
struct ThreadQueueState {
  std::uint64_t epoch = 0;
  std::uint64_t queued = 0;                        // Queued dispatches
  std::optional<std::string> claimed_dispatch_id;  // the Claimed one, if any

  friend bool operator==(const ThreadQueueState&, const ThreadQueueState&) = default;
};

using DispatchCounts = std::array<std::uint64_t, 6>;  // indexed by DispatchStatus

[[nodiscard]] inline std::uint64_t count_of(const DispatchCounts& c, DispatchStatus s) {
  return c[static_cast<std::size_t>(s)];
}

// Limits: a `limit` of 0 means "no limit" for every listing and for reclaim; claim() with a
// limit of 0 claims nothing.
class MailboxStore {
public:
  virtual ~MailboxStore() = default;

  // Persists `dispatch` as Queued, stamped with its thread's current epoch (created at 0),
  // and returns it as stored. Errors: validation (not a clean Queued record), conflict
  // (duplicate dispatch id; dedupe_key held by a non-terminal dispatch of the same thread),
  // queue_full, store.
  [[nodiscard]] virtual Result<RunDispatch> enqueue(const RunDispatch& dispatch, const EnqueueOptions& options) = 0;

  // Claims the thread's best eligible dispatch (Queued, available_at <= now; order: priority,
  // available_at, created_at, dispatch id) unless the thread already has a Claimed one.
  // Queued dispatches behind the thread's epoch are superseded first. `limit` is accepted
  // for contract parity but a thread never has two Claimed dispatches: at most one is returned.
  // Synced; the overload takes a Durability (deferred: the engine's claim of a thread's next
  // dispatch, which nobody is told of; lost, the dispatch is simply Queued again).
  [[nodiscard]] Result<std::vector<RunDispatch>> claim(const std::string& thread_id, const std::string& consumer,
                                                       std::int64_t lease_ms, std::int64_t now_ms, std::uint32_t limit) {
    return claim(thread_id, consumer, lease_ms, now_ms, limit, Durability::synced);
  }
  [[nodiscard]] virtual Result<std::vector<RunDispatch>> claim(const std::string& thread_id, const std::string& consumer,
                                                               std::int64_t lease_ms, std::int64_t now_ms,
                                                               std::uint32_t limit, Durability durability) = 0;

  // Claims that one dispatch, ignoring available_at (the inline path). Empty when it is
  // missing, not Queued, stale (then superseded), or its thread already has a Claimed one.
  [[nodiscard]] virtual Result<std::optional<RunDispatch>> claim_dispatch(const std::string& dispatch_id,
                                                                          const std::string& consumer,
                                                                          std::int64_t lease_ms,
                                                                          std::int64_t now_ms) = 0;

  // Threads with claimable work at `now` (a Queued dispatch with available_at <= now and no
  // Claimed dispatch), sorted, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<std::string>> queued_thread_ids(std::int64_t now_ms,
                                                                           std::uint32_t limit) = 0;

  // The earliest available_at of a Queued dispatch that is later than `now` (a delayed retry
  // or an inline-claim guard), so that the engine can arm a timer; empty if none.
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> next_available_at(std::int64_t now_ms) = 0;

  [[nodiscard]] virtual Result<RunDispatch> ack(const Fence& fence, std::int64_t now_ms) = 0;
  // attempt+1; Queued again at retry_at, or DeadLetter at max attempts. Synced; the overload
  // takes a Durability (deferred: startup recovery's release of this node's own claims, which
  // the next recovery redoes when it is lost).
  [[nodiscard]] Result<RunDispatch> nack(const Fence& fence, std::int64_t retry_at_ms, const std::string& error,
                                         std::int64_t now_ms) {
    return nack(fence, retry_at_ms, error, now_ms, Durability::synced);
  }
  [[nodiscard]] virtual Result<RunDispatch> nack(const Fence& fence, std::int64_t retry_at_ms, const std::string& error,
                                                 std::int64_t now_ms, Durability durability) = 0;
  [[nodiscard]] virtual Result<RunDispatch> dead_letter(const Fence& fence, const std::string& error,
                                                        std::int64_t now_ms) = 0;
  // lease_until = now + lease_ms.
  [[nodiscard]] virtual Result<RunDispatch> extend_lease(const Fence& fence, std::int64_t lease_ms,
                                                         std::int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<RunDispatch> record_dispatch_start(const Fence& fence, const std::string& instance_id,
                                                                  std::int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<RunDispatch> record_run_result(const Fence& fence, const RunDispatchResult& result,
                                                              std::int64_t now_ms) = 0;
  // A claimed dispatch found stale before it started: Superseded at max(own, thread) epoch.
  // Fenced by claim token only (the epoch is expected to be stale). Synced; the overload
  // takes a Durability (deferred: the engine's release of an interrupted run, which recovery
  // redoes when it is lost).
  [[nodiscard]] Result<RunDispatch> supersede_claimed(const Fence& fence, std::int64_t now_ms,
                                                      const std::string& reason) {
    return supersede_claimed(fence, now_ms, reason, Durability::synced);
  }
  [[nodiscard]] virtual Result<RunDispatch> supersede_claimed(const Fence& fence, std::int64_t now_ms,
                                                              const std::string& reason, Durability durability) = 0;

  // Queued -> Cancelled; empty (and no change) for anything else.
  [[nodiscard]] virtual Result<std::optional<RunDispatch>> cancel(const std::string& dispatch_id,
                                                                  std::int64_t now_ms) = 0;

  // One atomic step: bump the thread's epoch, supersede every Queued dispatch of the thread,
  // report the Claimed one (left Claimed; it is now stale). Never fails for an unknown thread.
  // Synced; the overload takes a Durability (deferred: a foreground submit's interrupt, which
  // its synced enqueue follows).
  [[nodiscard]] Result<InterruptResult> interrupt(const std::string& thread_id, std::int64_t now_ms) {
    return interrupt(thread_id, now_ms, Durability::synced);
  }
  [[nodiscard]] virtual Result<InterruptResult> interrupt(const std::string& thread_id, std::int64_t now_ms,
                                                          Durability durability) = 0;

  // Claimed with lease_until < now (strict): Queued again (attempt+1, available now) or
  // DeadLetter at max attempts; a stale one (an interrupt moved the thread's epoch past its
  // claim) is Superseded. Each is returned in its new state (the caller closes the runs of the
  // dead-lettered and superseded ones). At most `limit`. Each dispatch transitions once, also
  // under concurrent sweeps.
  [[nodiscard]] virtual Result<std::vector<RunDispatch>> reclaim_expired_leases(std::int64_t now_ms,
                                                                                std::uint32_t limit) = 0;

  // Claimed dispatches whose claimed_by is `consumer`, ordered by lease_until, dispatch id
  // (recovery: the claims a restarted node left behind, found without reading every run).
  [[nodiscard]] virtual Result<std::vector<RunDispatch>> list_claimed_dispatches(const std::string& consumer) = 0;

  [[nodiscard]] virtual Result<std::uint64_t> current_epoch(const std::string& thread_id) = 0;
  // The thread's epoch, Queued count and Claimed dispatch; all zero / empty for an unknown thread.
  [[nodiscard]] virtual Result<ThreadQueueState> thread_state(const std::string& thread_id) = 0;
  [[nodiscard]] virtual Result<std::optional<RunDispatch>> load_dispatch(const std::string& dispatch_id) = 0;
  // The thread's dispatches whose status is in `statuses` (empty filter = none), ordered by
  // priority, created_at, dispatch id (or newest first), from `offset`, at most `limit`.
  [[nodiscard]] virtual Result<DispatchPage> list_dispatches(const std::string& thread_id,
                                                             const std::vector<DispatchStatus>& statuses,
                                                             std::uint64_t offset, std::uint32_t limit,
                                                             bool newest_first) = 0;
  // Terminal dispatches of all threads ordered by updated_at, created_at, dispatch id.
  [[nodiscard]] virtual Result<std::vector<RunDispatch>> list_terminal_dispatches(std::uint64_t offset,
                                                                                  std::uint32_t limit) = 0;
  [[nodiscard]] virtual Result<DispatchCounts> count_dispatches_by_status() = 0;
  // Deletes terminal dispatches with updated_at < older_than, and the event log of each run
  // that is left with no dispatch at all. Returns the number of dispatches deleted.
  [[nodiscard]] virtual Result<std::uint64_t> purge_terminal(std::int64_t older_than_ms) = 0;
};

}  // namespace mbx
