// Store: one backend that implements both contracts (fenced writes need the dispatch and the
// thread history inside one atomic step), plus the claim that also starts its run, and verify().
#pragma once

#include "store/mailbox_store.hpp"
#include "store/thread_run_store.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mbx {

// The start of a claimed dispatch's run, as the caller of claim_and_start makes it.
struct StartedRun {
  std::string instance_id;          // recorded as the dispatch's start (record_dispatch_start)
  RunRecord run;                    // the run record as started (same run id and thread)
  std::optional<AgentEvent> event;  // appended in the same write (the run's next seq), if set
};

// Given the claimed dispatch and its run record (Created), the start to write with the claim,
// or nullopt for the claim alone. Called under the store's lock: it must not call the store.
using RunStarter = std::function<std::optional<StartedRun>(const RunDispatch& claimed, const RunRecord& run)>;

struct ClaimStart {
  RunDispatch dispatch;             // as written: Claimed, with its start recorded when `run` is set
  std::optional<RunRecord> run;     // the started run as written; nullopt: the claim alone was made
  std::optional<AgentEvent> event;  // the start's event as stored, with its seq
};

class Store : public MailboxStore, public ThreadRunStore {
public:
  // claim(thread_id, consumer, lease_ms, now_ms, 1, durability) and, in the same atomic write,
  // the start of the claimed dispatch's run when it can start there: the dispatch's first
  // attempt (attempt_count 0), its run on this thread and Created, and `start` returns a start.
  // The start is what commit_run_step with a start step and no messages writes: the dispatch's
  // start recorded, the run record, the event. Otherwise the claim alone (as claim). A start
  // that is not a valid record of this run and thread is a validation error, nothing written.
  // Returns nullopt when nothing was claimed. The default makes the claim alone.
  [[nodiscard]] virtual Result<std::optional<ClaimStart>> claim_and_start(const std::string& thread_id,
                                                                          const std::string& consumer,
                                                                          std::int64_t lease_ms, std::int64_t now_ms,
                                                                          const RunStarter& start,
                                                                          Durability durability) {
    (void)start;
    auto claimed = claim(thread_id, consumer, lease_ms, now_ms, 1, durability);
    if (!claimed) return claimed.error();
    if (claimed->empty()) return std::optional<ClaimStart>();
    return std::optional<ClaimStart>(ClaimStart{std::move(claimed->front()), std::nullopt, std::nullopt});
  }

  // Cross-checks every index against the records; one line per inconsistency found
  // (empty = consistent). Takes a consistent view; safe to call while others write.
  [[nodiscard]] virtual Result<std::vector<std::string>> verify() = 0;

protected:
  // claim() for a store whose claim_and_start makes the claim itself (then it must not use the
  // default claim_and_start above, which calls claim()): at most one dispatch, never started.
  [[nodiscard]] Result<std::vector<RunDispatch>> claim_without_start(const std::string& thread_id,
                                                                     const std::string& consumer, std::int64_t lease_ms,
                                                                     std::int64_t now_ms, std::uint32_t limit,
                                                                     Durability durability) {
    if (limit == 0) return std::vector<RunDispatch>{};
    auto claimed = claim_and_start(thread_id, consumer, lease_ms, now_ms, RunStarter(), durability);
    if (!claimed) return claimed.error();
    if (!*claimed) return std::vector<RunDispatch>{};
    return std::vector<RunDispatch>{std::move((*claimed)->dispatch)};
  }
};

}  // namespace mbx
