// InstrumentedStore: a Store that forwards every call to another Store and reports it to
// Metrics (operation, result ok / empty / error, duration). The Mailbox wraps its store in one,
// so every store operation of the engine is counted and timed. Thread-safe as the inner store.
#pragma once

#include "runtime/metrics.hpp"
#include "store/store.hpp"

namespace mbx {

class InstrumentedStore : public Store {
public:
  InstrumentedStore(Store& inner, Metrics& metrics) : inner_(inner), metrics_(metrics) {}

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
  Result<std::vector<MessageRecord>> load_message_records_range(const std::string& thread_id, std::uint64_t from_seq,
                                                                std::uint64_t to_seq) override;
  Result<AgentEvent> append_event(const std::string& run_id, const AgentEvent& event, const Fence* fence) override;
  Result<std::vector<AgentEvent>> read_events(const std::string& run_id, std::uint64_t after_seq,
                                              std::uint32_t limit) override;
  Result<std::vector<std::string>> verify() override;

  [[nodiscard]] Store& inner() { return inner_; }

private:
  Store& inner_;
  Metrics& metrics_;
};

}  // namespace mbx
