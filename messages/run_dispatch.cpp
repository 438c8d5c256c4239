#include "messages/run_dispatch.hpp"

#include "messages/ids.hpp"

#include <algorithm>
#include <string>

namespace mbx {

namespace {
std::string status_text(DispatchStatus s) { return std::string(to_string(s)); }

// -> `terminal`: claim fields cleared, completed_at and updated_at = now.
void finish(RunDispatch& d, DispatchStatus terminal, std::int64_t now_ms) {
  d.status = terminal;
  d.claim_token.reset();
  d.claimed_by.reset();
  d.lease_until.reset();
  d.completed_at = now_ms;
  d.updated_at = now_ms;
}
}  // namespace

RunDispatch RunDispatch::queued(std::string dispatch_id, std::string thread_id, std::string run_id,
                                std::int64_t now_ms) {
  RunDispatch d;
  d.dispatch_id = std::move(dispatch_id);
  d.thread_id = std::move(thread_id);
  d.run_id = std::move(run_id);
  d.available_at = now_ms;
  d.created_at = now_ms;
  d.updated_at = now_ms;
  return d;
}

bool RunDispatch::has_projection() const {
  return dispatch_instance_id || run_status || termination || run_response || run_error;
}

Result<void> RunDispatch::validate() const {
  auto bad = [&](const std::string& why) -> Result<void> {
    return validation_error("RunDispatch '" + dispatch_id + "': " + why);
  };
  if (is_blank(dispatch_id)) return bad("dispatch_id is blank");
  if (is_blank(thread_id)) return bad("thread_id is blank");
  if (is_blank(run_id)) return bad("run_id is blank");
  if (max_attempts == 0) return bad("max_attempts must be > 0");
  if (attempt_count > max_attempts) return bad("attempt_count exceeds max_attempts");
  const bool any_claim = claim_token || claimed_by || lease_until;
  switch (status) {
    case DispatchStatus::queued:
      if (any_claim) return bad("queued dispatch carries claim fields");
      if (completed_at) return bad("queued dispatch carries completed_at");
      if (has_projection()) return bad("queued dispatch carries a runtime projection");
      break;
    case DispatchStatus::claimed:
      if (!claim_token || is_blank(*claim_token)) return bad("claimed dispatch without claim_token");
      if (!claimed_by || is_blank(*claimed_by)) return bad("claimed dispatch without claimed_by");
      if (!lease_until) return bad("claimed dispatch without lease_until");
      break;
    default:
      if (any_claim) return bad("terminal dispatch carries claim fields");
      if (!completed_at) return bad("terminal dispatch without completed_at");
      break;
  }
  return {};
}

Result<void> RunDispatch::require(DispatchStatus expected, const char* op) const {
  if (status == expected) return {};
  return validation_error("RunDispatch." + std::string(op) + ": dispatch '" + dispatch_id + "' status is " +
                          status_text(status) + ", expected " + status_text(expected));
}

void RunDispatch::clear_claim() {
  claim_token.reset();
  claimed_by.reset();
  lease_until.reset();
}

void RunDispatch::clear_projection() {
  dispatch_instance_id.reset();
  run_status.reset();
  termination.reset();
  run_response.reset();
  run_error.reset();
}

void RunDispatch::prepare_for_enqueue(std::uint64_t epoch) {
  dispatch_epoch = epoch;
  status = DispatchStatus::queued;
  clear_claim();
  clear_projection();
  completed_at.reset();
}

Result<void> RunDispatch::claim(std::string consumer, std::string token, std::int64_t lease_until_ms,
                                std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::queued, "claim"); !r) return r;
  if (is_blank(consumer)) return validation_error("RunDispatch.claim: consumer is blank");
  if (is_blank(token)) return validation_error("RunDispatch.claim: claim token is blank");
  status = DispatchStatus::claimed;
  claimed_by = std::move(consumer);
  claim_token = std::move(token);
  lease_until = lease_until_ms;
  updated_at = now_ms;
  return {};
}

Result<void> RunDispatch::extend_lease(std::int64_t lease_until_ms, std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::claimed, "extend_lease"); !r) return r;
  lease_until = lease_until_ms;
  updated_at = now_ms;
  return {};
}

Result<void> RunDispatch::record_dispatch_start(std::string instance_id, std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::claimed, "record_dispatch_start"); !r) return r;
  if (is_blank(instance_id)) return validation_error("RunDispatch.record_dispatch_start: instance id is blank");
  dispatch_instance_id = std::move(instance_id);
  run_status = RunStatus::running;
  termination.reset();
  run_response.reset();
  run_error.reset();
  completed_at.reset();
  updated_at = now_ms;
  return {};
}

Result<void> RunDispatch::record_run_result(const RunDispatchResult& result, std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::claimed, "record_run_result"); !r) return r;
  if (is_blank(result.dispatch_instance_id))
    return validation_error("RunDispatch.record_run_result: dispatch instance id is blank");
  if (result.run_id != run_id)
    return validation_error("RunDispatch.record_run_result: result run_id '" + result.run_id +
                            "' does not match dispatch run_id '" + run_id + "'");
  dispatch_instance_id = result.dispatch_instance_id;
  run_status = result.status;
  termination = result.termination;
  run_response = result.response;
  run_error = result.error;
  completed_at = now_ms;
  updated_at = now_ms;
  return {};
}


Result<void> RunDispatch::mark_acked(std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::claimed, "mark_acked"); !r) return r;
  finish(*this, DispatchStatus::acked, now_ms);
  return {};
}

Result<void> RunDispatch::mark_cancelled(std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::queued, "mark_cancelled"); !r) return r;
  finish(*this, DispatchStatus::cancelled, now_ms);
  return {};
}

Result<void> RunDispatch::mark_superseded(std::int64_t now_ms, std::optional<std::string> reason) {
  if (auto r = require(DispatchStatus::queued, "mark_superseded"); !r) return r;
  if (reason) last_error = std::move(reason);
  clear_projection();
  finish(*this, DispatchStatus::superseded, now_ms);
  return {};
}

Result<void> RunDispatch::mark_superseded_at_epoch(std::int64_t now_ms, std::uint64_t epoch,
                                                   std::optional<std::string> reason) {
  if (status != DispatchStatus::queued && status != DispatchStatus::claimed)
    return validation_error("RunDispatch.mark_superseded_at_epoch: dispatch '" + dispatch_id + "' status is " +
                            status_text(status) + ", expected queued or claimed");
  dispatch_epoch = epoch;
  if (reason) last_error = std::move(reason);
  clear_projection();
  finish(*this, DispatchStatus::superseded, now_ms);
  return {};
}

Result<void> RunDispatch::mark_dead_letter(std::int64_t now_ms, std::string error) {
  if (auto r = require(DispatchStatus::claimed, "mark_dead_letter"); !r) return r;
  last_error = std::move(error);
  finish(*this, DispatchStatus::dead_letter, now_ms);
  return {};
}

Result<void> RunDispatch::mark_nack_result(std::int64_t now_ms, std::int64_t retry_at_ms, std::string error) {
  if (auto r = require(DispatchStatus::claimed, "mark_nack_result"); !r) return r;
  attempt_count = std::min(attempt_count + 1, max_attempts);
  last_error = std::move(error);
  clear_claim();
  if (attempt_count >= max_attempts) {
    status = DispatchStatus::dead_letter;
    completed_at = now_ms;
  } else {
    status = DispatchStatus::queued;
    available_at = retry_at_ms;
    clear_projection();
    completed_at.reset();
  }
  updated_at = now_ms;
  return {};
}

Result<void> RunDispatch::mark_expired_lease(std::int64_t now_ms) {
  if (auto r = require(DispatchStatus::claimed, "mark_expired_lease"); !r) return r;
  attempt_count = std::min(attempt_count + 1, max_attempts);
  clear_claim();
  clear_projection();
  available_at = now_ms;
  if (attempt_count >= max_attempts) {
    status = DispatchStatus::dead_letter;
    last_error = "lease expired; max attempts reached";
    completed_at = now_ms;
  } else {
    status = DispatchStatus::queued;
    completed_at.reset();
  }
  updated_at = now_ms;
  return {};
}

}  // namespace mbx
