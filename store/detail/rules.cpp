#include "store/detail/rules.hpp"

#include <limits>
#include <set>

namespace mbx::detail {

FenceVerdict check_fence(const RunDispatch& stored, const Fence& fence, std::uint64_t thread_epoch) {
  if (stored.status != DispatchStatus::claimed) return FenceVerdict::not_owned;
  if (!stored.claim_token || *stored.claim_token != fence.claim_token) return FenceVerdict::not_owned;
  if (stored.dispatch_epoch != fence.epoch) return FenceVerdict::not_owned;
  if (stored.dispatch_epoch < thread_epoch) return FenceVerdict::stale_epoch;
  return FenceVerdict::owned;
}

Error fence_error(const char* op, const RunDispatch& stored, const Fence& fence, std::uint64_t thread_epoch) {
  std::string why;
  if (stored.status != DispatchStatus::claimed) {
    why = "status is " + std::string(to_string(stored.status));
  } else if (!stored.claim_token || *stored.claim_token != fence.claim_token) {
    why = "claim token does not match";
  } else if (stored.dispatch_epoch != fence.epoch) {
    why = "fence epoch " + std::to_string(fence.epoch) + " differs from dispatch epoch " +
          std::to_string(stored.dispatch_epoch);
  } else {
    why = "dispatch epoch " + std::to_string(stored.dispatch_epoch) + " is behind thread epoch " +
          std::to_string(thread_epoch);
  }
  return fenced_error(std::string(op) + ": dispatch '" + stored.dispatch_id + "' is not owned by this claim (" +
                      why + ")");
}

Result<void> validate_for_enqueue(const RunDispatch& d) {
  if (d.status != DispatchStatus::queued)
    return validation_error("enqueue: dispatch '" + d.dispatch_id + "' status is " +
                            std::string(to_string(d.status)) + ", expected queued");
  return d.validate();
}

Result<void> validate_commit(const std::string& thread_id, const std::vector<Message>& messages,
                             std::optional<std::uint64_t> expected_version, const RunRecord& run) {
  if (is_blank(thread_id)) return validation_error("commit_run_append: thread_id is blank");
  if (run.thread_id != thread_id)
    return validation_error("commit_run_append: run '" + run.run_id + "' belongs to thread '" + run.thread_id +
                            "', not '" + thread_id + "'");
  std::string why;
  if (!run.check_invariants(&why)) return validation_error("commit_run_append: " + why);
  if (!messages.empty() && !expected_version)
    return validation_error("commit_run_append: appending messages requires an expected version");
  std::set<std::string> ids;
  for (const auto& m : messages) {
    if (!has_valid_shape(m, &why)) return validation_error("commit_run_append: " + why);
    if (!ids.insert(m.id).second)
      return validation_error("commit_run_append: message id '" + m.id + "' appears twice in the delta");
  }
  return {};
}

Result<void> apply_step(RunDispatch& d, const DispatchStep& step, std::int64_t now_ms) {
  switch (step.kind) {
    case DispatchStep::Kind::start: return d.record_dispatch_start(step.instance_id, now_ms);
    case DispatchStep::Kind::ack:
    case DispatchStep::Kind::dead_letter:
      if (step.result)
        if (auto r = d.record_run_result(*step.result, now_ms); !r) return r;
      return step.kind == DispatchStep::Kind::ack ? d.mark_acked(now_ms) : d.mark_dead_letter(now_ms, step.error);
  }
  return validation_error("commit_run_step: unknown step kind");
}

Result<void> validate_inline_start(const EnqueueOptions& options, const RunRecord& run) {
  if (!options.claim) return {};
  const auto& claim = *options.claim;
  if (claim.start_instance_id.empty() != !claim.started_run.has_value())
    return validation_error("commit_run_enqueue: an inline start needs both an instance id and the started run");
  if (!claim.started_run) {
    if (claim.start_event) return validation_error("commit_run_enqueue: a start event needs an inline start");
    return {};
  }
  const RunRecord& started = *claim.started_run;
  if (started.run_id != run.run_id || started.thread_id != run.thread_id)
    return validation_error("commit_run_enqueue: the started run '" + started.run_id + "' is not run '" + run.run_id +
                            "' of thread '" + run.thread_id + "'");
  std::string why;
  if (!started.check_invariants(&why)) return validation_error("commit_run_enqueue: started run: " + why);
  return {};
}

Result<const RunRecord*> apply_inline_start(RunDispatch& stored, const EnqueueOptions& options, const RunRecord& run,
                                            std::int64_t now_ms) {
  if (stored.status != DispatchStatus::claimed || !options.claim || !options.claim->started_run) return &run;
  if (auto r = stored.record_dispatch_start(options.claim->start_instance_id, now_ms); !r) return r.error();
  return &*options.claim->started_run;
}

const AgentEvent* event_of_commit(const DispatchStep* step, const EnqueueOptions* options, const RunRecord* written,
                                  const RunRecord& run) {
  if (step != nullptr && step->event) return &*step->event;
  if (options != nullptr && options->claim && options->claim->start_event && written != &run)
    return &*options->claim->start_event;
  return nullptr;
}

Result<std::optional<StartedRun>> start_of_claim(RunDispatch& claimed, const std::optional<RunRecord>& run,
                                                 const RunStarter& start, std::int64_t now_ms) {
  if (!start || claimed.attempt_count != 0 || !run || run->thread_id != claimed.thread_id ||
      run->run_id != claimed.run_id || run->status != RunStatus::created)
    return std::optional<StartedRun>();
  auto started = start(claimed, *run);
  if (!started) return std::optional<StartedRun>();
  if (started->run.run_id != claimed.run_id || is_blank(started->instance_id))
    return validation_error("claim_and_start: the start must be of run '" + claimed.run_id + "' with an instance id");
  if (auto r = validate_commit(claimed.thread_id, {}, std::nullopt, started->run); !r) return r.error();
  if (auto r = claimed.record_dispatch_start(started->instance_id, now_ms); !r) return r.error();
  return started;
}

Error version_conflict(const std::string& thread_id, std::uint64_t expected, std::uint64_t actual) {
  return conflict_error("version conflict on thread '" + thread_id + "': expected " + std::to_string(expected) +
                        ", actual " + std::to_string(actual));
}

std::int64_t lease_deadline(std::int64_t now_ms, std::int64_t lease_ms) {
  if (lease_ms > 0 && now_ms > std::numeric_limits<std::int64_t>::max() - lease_ms)
    return std::numeric_limits<std::int64_t>::max();
  return now_ms + lease_ms;
}

}  // namespace mbx::detail
