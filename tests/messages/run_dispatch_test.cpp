// RunDispatch transitions (messages/run_dispatch.hpp; awaken-reference 1.1): each legal
// transition with its effects, every illegal source status rejected with a validation error
// naming the method and leaving the dispatch unchanged, and validate() on good and broken rows.
#include "messages/enum_strings.hpp"
#include "messages/run_dispatch.hpp"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <initializer_list>
#include <string>

namespace mbx {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kLease = kT0 + 30'000;
constexpr std::int64_t kNow = kT0 + 5'000;
constexpr std::uint32_t kMax = 3;

constexpr std::array<DispatchStatus, 6> kAllStatuses{DispatchStatus::queued,     DispatchStatus::claimed,
                                                     DispatchStatus::acked,      DispatchStatus::cancelled,
                                                     DispatchStatus::superseded, DispatchStatus::dead_letter};

void expect_ok(const Result<void>& r, const std::string& what) {
  if (!r) ADD_FAILURE() << what << ": " << describe(r.error());
}

void expect_valid(const RunDispatch& d, const std::string& what) { expect_ok(d.validate(), what + " validate"); }

RunDispatchResult result_for(const std::string& run_id) {
  return RunDispatchResult{run_id,
                           "instance-2",
                           RunStatus::done,
                           TerminationReason{TerminationKind::natural_end, "", ""},
                           std::string("the answer"),
                           std::string("a warning")};
}

RunDispatch queued_dispatch() {
  RunDispatch d = RunDispatch::queued("d-1", "t-1", "r-1", kT0);
  d.max_attempts = kMax;
  d.dispatch_epoch = 2;
  d.dedupe_key = "dedupe-1";
  return d;
}

// Claimed by consumer-1 with token-1, started (instance-1, run_status running).
RunDispatch claimed_dispatch() {
  RunDispatch d = queued_dispatch();
  expect_ok(d.claim("consumer-1", "token-1", kLease, kT0 + 1), "claim");
  expect_ok(d.record_dispatch_start("instance-1", kT0 + 2), "record_dispatch_start");
  return d;
}

// Claimed with a recorded run result (full projection and completed_at).
RunDispatch claimed_with_result() {
  RunDispatch d = claimed_dispatch();
  expect_ok(d.record_run_result(result_for("r-1"), kT0 + 3), "record_run_result");
  return d;
}

// A valid dispatch in status `s`, reached through legal transitions.
RunDispatch in_status(DispatchStatus s) {
  RunDispatch d = queued_dispatch();
  switch (s) {
    case DispatchStatus::queued: break;
    case DispatchStatus::claimed: d = claimed_dispatch(); break;
    case DispatchStatus::acked:
      d = claimed_with_result();
      expect_ok(d.mark_acked(kT0 + 4), "mark_acked");
      break;
    case DispatchStatus::cancelled: expect_ok(d.mark_cancelled(kT0 + 4), "mark_cancelled"); break;
    case DispatchStatus::superseded: expect_ok(d.mark_superseded(kT0 + 4, "superseded by test"), "mark_superseded"); break;
    case DispatchStatus::dead_letter:
      d = claimed_with_result();
      expect_ok(d.mark_dead_letter(kT0 + 4, "poison"), "mark_dead_letter");
      break;
  }
  EXPECT_EQ(d.status, s);
  expect_valid(d, "in_status(" + std::string(to_string(s)) + ")");
  return d;
}

bool contains(std::initializer_list<DispatchStatus> set, DispatchStatus s) {
  for (auto x : set)
    if (x == s) return true;
  return false;
}

// Applies `op` to a dispatch in every status outside `allowed`: each call must fail with a
// validation error whose message names RunDispatch.<method> and the actual status, and must
// leave the dispatch equal to its copy taken before the call.
void expect_rejected_outside(std::initializer_list<DispatchStatus> allowed, const std::string& method,
                             const std::function<Result<void>(RunDispatch&)>& op) {
  int rejected = 0;
  for (auto s : kAllStatuses) {
    if (contains(allowed, s)) continue;
    SCOPED_TRACE(method + " from " + std::string(to_string(s)));
    RunDispatch d = in_status(s);
    const RunDispatch before = d;
    const Result<void> r = op(d);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::validation);
    EXPECT_NE(r.error().message.find("RunDispatch." + method + ":"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("status is " + std::string(to_string(s))), std::string::npos)
        << r.error().message;
    EXPECT_EQ(d, before);
    ++rejected;
  }
  EXPECT_EQ(rejected, static_cast<int>(kAllStatuses.size() - allowed.size()));
}

void expect_no_projection(const RunDispatch& d) {
  EXPECT_FALSE(d.has_projection());
  EXPECT_FALSE(d.dispatch_instance_id);
  EXPECT_FALSE(d.run_status);
  EXPECT_FALSE(d.termination);
  EXPECT_FALSE(d.run_response);
  EXPECT_FALSE(d.run_error);
}

void expect_no_claim(const RunDispatch& d) {
  EXPECT_FALSE(d.claim_token);
  EXPECT_FALSE(d.claimed_by);
  EXPECT_FALSE(d.lease_until);
}

void expect_same_projection(const RunDispatch& a, const RunDispatch& b) {
  EXPECT_EQ(a.dispatch_instance_id, b.dispatch_instance_id);
  EXPECT_EQ(a.run_status, b.run_status);
  EXPECT_EQ(a.termination, b.termination);
  EXPECT_EQ(a.run_response, b.run_response);
  EXPECT_EQ(a.run_error, b.run_error);
}

// -- queued / prepare_for_enqueue ----------------------------------------------------------------

TEST(RunDispatchTest, QueuedHasTheDefaults) {
  const RunDispatch d = RunDispatch::queued("d-1", "t-1", "r-1", kT0);
  EXPECT_EQ(d.dispatch_id, "d-1");
  EXPECT_EQ(d.thread_id, "t-1");
  EXPECT_EQ(d.run_id, "r-1");
  EXPECT_EQ(d.priority, 128);
  EXPECT_FALSE(d.dedupe_key);
  EXPECT_EQ(d.dispatch_epoch, 0u);
  EXPECT_EQ(d.status, DispatchStatus::queued);
  EXPECT_EQ(d.available_at, kT0);
  EXPECT_EQ(d.attempt_count, 0u);
  EXPECT_EQ(d.max_attempts, 5u);
  EXPECT_FALSE(d.last_error);
  expect_no_claim(d);
  expect_no_projection(d);
  EXPECT_FALSE(d.completed_at);
  EXPECT_EQ(d.created_at, kT0);
  EXPECT_EQ(d.updated_at, kT0);
  expect_valid(d, "queued");
}

TEST(RunDispatchTest, PrepareForEnqueueResetsEveryStatusToQueuedAtEpoch) {
  for (auto s : kAllStatuses) {
    SCOPED_TRACE(to_string(s));
    RunDispatch d = in_status(s);
    const RunDispatch before = d;
    d.prepare_for_enqueue(9);
    EXPECT_EQ(d.status, DispatchStatus::queued);
    EXPECT_EQ(d.dispatch_epoch, 9u);
    expect_no_claim(d);
    expect_no_projection(d);
    EXPECT_FALSE(d.completed_at);
    EXPECT_EQ(d.attempt_count, before.attempt_count);
    EXPECT_EQ(d.last_error, before.last_error);
    EXPECT_EQ(d.available_at, before.available_at);
    expect_valid(d, "prepare_for_enqueue");
  }
}

// -- claim ---------------------------------------------------------------------------------------

TEST(RunDispatchTest, ClaimFromQueuedSetsTokenClaimedByAndLease) {
  RunDispatch d = queued_dispatch();
  const RunDispatch before = d;
  expect_ok(d.claim("consumer-1", "token-1", kLease, kNow), "claim");
  EXPECT_EQ(d.status, DispatchStatus::claimed);
  EXPECT_EQ(d.claim_token, "token-1");
  EXPECT_EQ(d.claimed_by, "consumer-1");
  EXPECT_EQ(d.lease_until, kLease);
  EXPECT_EQ(d.updated_at, kNow);
  EXPECT_EQ(d.attempt_count, before.attempt_count);  // claims are not attempts
  EXPECT_EQ(d.available_at, before.available_at);
  EXPECT_EQ(d.dispatch_epoch, before.dispatch_epoch);
  expect_no_projection(d);
  EXPECT_FALSE(d.completed_at);
  expect_valid(d, "claim");
}

TEST(RunDispatchTest, ClaimFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::queued}, "claim",
                          [](RunDispatch& d) { return d.claim("consumer-2", "token-2", kLease, kNow); });
}

TEST(RunDispatchTest, ClaimWithBlankConsumerOrTokenIsRejectedAndUnchanged) {
  RunDispatch d = queued_dispatch();
  const RunDispatch before = d;
  auto r = d.claim("  ", "token-1", kLease, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find("RunDispatch.claim"), std::string::npos);
  EXPECT_EQ(d, before);
  r = d.claim("consumer-1", "", kLease, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find("RunDispatch.claim"), std::string::npos);
  EXPECT_EQ(d, before);
}

// -- extend_lease --------------------------------------------------------------------------------

TEST(RunDispatchTest, ExtendLeaseMovesLeaseUntil) {
  RunDispatch d = claimed_dispatch();
  RunDispatch expected = d;
  expect_ok(d.extend_lease(kLease + 60'000, kNow), "extend_lease");
  expected.lease_until = kLease + 60'000;
  expected.updated_at = kNow;
  EXPECT_EQ(d, expected);
  expect_valid(d, "extend_lease");
}

TEST(RunDispatchTest, ExtendLeaseFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "extend_lease",
                          [](RunDispatch& d) { return d.extend_lease(kLease + 1, kNow); });
}

// -- record_dispatch_start -----------------------------------------------------------------------

TEST(RunDispatchTest, RecordDispatchStartClearsResultAndSetsRunning) {
  RunDispatch d = claimed_with_result();
  ASSERT_TRUE(d.termination && d.run_response && d.run_error && d.completed_at);
  RunDispatch expected = d;
  expect_ok(d.record_dispatch_start("instance-3", kNow), "record_dispatch_start");
  expected.dispatch_instance_id = "instance-3";
  expected.run_status = RunStatus::running;
  expected.termination.reset();
  expected.run_response.reset();
  expected.run_error.reset();
  expected.completed_at.reset();
  expected.updated_at = kNow;
  EXPECT_EQ(d, expected);
  expect_valid(d, "record_dispatch_start");
}

TEST(RunDispatchTest, RecordDispatchStartWithBlankInstanceIsRejectedAndUnchanged) {
  RunDispatch d = claimed_with_result();
  const RunDispatch before = d;
  const auto r = d.record_dispatch_start(" ", kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find("RunDispatch.record_dispatch_start"), std::string::npos);
  EXPECT_EQ(d, before);
}

TEST(RunDispatchTest, RecordDispatchStartFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "record_dispatch_start",
                          [](RunDispatch& d) { return d.record_dispatch_start("instance-9", kNow); });
}

// -- record_run_result ---------------------------------------------------------------------------

TEST(RunDispatchTest, RecordRunResultCopiesTheResultAndSetsCompletedAt) {
  RunDispatch d = claimed_dispatch();
  RunDispatch expected = d;
  const RunDispatchResult result = result_for("r-1");
  expect_ok(d.record_run_result(result, kNow), "record_run_result");
  expected.dispatch_instance_id = result.dispatch_instance_id;
  expected.run_status = result.status;
  expected.termination = result.termination;
  expected.run_response = result.response;
  expected.run_error = result.error;
  expected.completed_at = kNow;
  expected.updated_at = kNow;
  EXPECT_EQ(d, expected);
  EXPECT_EQ(d.status, DispatchStatus::claimed);
  expect_valid(d, "record_run_result");
}

TEST(RunDispatchTest, RecordRunResultCopiesEmptyOptionalsToo) {
  RunDispatch d = claimed_with_result();
  RunDispatchResult result{"r-1", "instance-4", RunStatus::waiting, std::nullopt, std::nullopt, std::nullopt};
  expect_ok(d.record_run_result(result, kNow), "record_run_result");
  EXPECT_EQ(d.run_status, RunStatus::waiting);
  EXPECT_FALSE(d.termination);
  EXPECT_FALSE(d.run_response);
  EXPECT_FALSE(d.run_error);
}

TEST(RunDispatchTest, RecordRunResultWithMismatchedRunIdIsRejectedAndUnchanged) {
  RunDispatch d = claimed_dispatch();
  const RunDispatch before = d;
  const auto r = d.record_run_result(result_for("r-other"), kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find("RunDispatch.record_run_result"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("r-other"), std::string::npos) << r.error().message;
  EXPECT_EQ(d, before);
}

TEST(RunDispatchTest, RecordRunResultFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "record_run_result",
                          [](RunDispatch& d) { return d.record_run_result(result_for("r-1"), kNow); });
}

// -- mark_acked ----------------------------------------------------------------------------------

TEST(RunDispatchTest, AckKeepsTheProjectionAndClearsTheClaim) {
  RunDispatch d = claimed_with_result();
  const RunDispatch before = d;
  expect_ok(d.mark_acked(kNow), "mark_acked");
  EXPECT_EQ(d.status, DispatchStatus::acked);
  expect_no_claim(d);
  expect_same_projection(d, before);
  EXPECT_EQ(d.completed_at, kNow);
  EXPECT_EQ(d.updated_at, kNow);
  EXPECT_EQ(d.attempt_count, before.attempt_count);
  EXPECT_EQ(d.last_error, before.last_error);
  expect_valid(d, "mark_acked");
}

TEST(RunDispatchTest, AckFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "mark_acked", [](RunDispatch& d) { return d.mark_acked(kNow); });
}

// -- mark_nack_result ----------------------------------------------------------------------------

TEST(RunDispatchTest, NackBelowMaxAttemptsRequeuesAtRetryAt) {
  RunDispatch d = claimed_with_result();
  ASSERT_TRUE(d.completed_at);
  const RunDispatch before = d;
  expect_ok(d.mark_nack_result(kNow, kNow + 2'000, "tool crashed"), "mark_nack_result");
  EXPECT_EQ(d.status, DispatchStatus::queued);
  EXPECT_EQ(d.attempt_count, before.attempt_count + 1);
  EXPECT_EQ(d.available_at, kNow + 2'000);
  EXPECT_EQ(d.last_error, "tool crashed");
  expect_no_claim(d);
  expect_no_projection(d);
  EXPECT_FALSE(d.completed_at);
  EXPECT_EQ(d.updated_at, kNow);
  EXPECT_EQ(d.dispatch_epoch, before.dispatch_epoch);
  expect_valid(d, "mark_nack_result");
}

TEST(RunDispatchTest, NackCountsAttemptsAcrossRetries) {
  RunDispatch d = queued_dispatch();
  for (std::uint32_t attempt = 1; attempt < kMax; ++attempt) {
    expect_ok(d.claim("consumer-1", "token-" + std::to_string(attempt), kLease, kNow), "claim");
    expect_ok(d.mark_nack_result(kNow, kNow + attempt, "fail " + std::to_string(attempt)), "nack");
    EXPECT_EQ(d.status, DispatchStatus::queued);
    EXPECT_EQ(d.attempt_count, attempt);
    EXPECT_EQ(d.available_at, kNow + attempt);
    expect_valid(d, "nack " + std::to_string(attempt));
  }
  expect_ok(d.claim("consumer-1", "token-last", kLease, kNow), "claim");
  expect_ok(d.mark_nack_result(kNow + 9, kNow + 99, "fail last"), "nack");
  EXPECT_EQ(d.status, DispatchStatus::dead_letter);
  EXPECT_EQ(d.attempt_count, kMax);
  expect_valid(d, "nack at max");
}

TEST(RunDispatchTest, NackAtMaxAttemptsDeadLetters) {
  RunDispatch d = claimed_with_result();
  d.attempt_count = kMax - 1;
  const RunDispatch before = d;
  expect_ok(d.mark_nack_result(kNow, kNow + 2'000, "tool crashed again"), "mark_nack_result");
  EXPECT_EQ(d.status, DispatchStatus::dead_letter);
  EXPECT_EQ(d.attempt_count, kMax);
  EXPECT_EQ(d.last_error, "tool crashed again");
  EXPECT_EQ(d.completed_at, kNow);
  EXPECT_EQ(d.available_at, before.available_at);  // retry_at is not applied to a dead letter
  expect_no_claim(d);
  expect_same_projection(d, before);  // projection kept
  EXPECT_EQ(d.updated_at, kNow);
  expect_valid(d, "nack at max");
}

TEST(RunDispatchTest, NackFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "mark_nack_result",
                          [](RunDispatch& d) { return d.mark_nack_result(kNow, kNow + 1, "nope"); });
}

// -- mark_expired_lease --------------------------------------------------------------------------

TEST(RunDispatchTest, ExpiredLeaseBelowMaxRequeuesNowAndClearsProjection) {
  RunDispatch d = claimed_with_result();
  d.last_error = "earlier";
  const RunDispatch before = d;
  expect_ok(d.mark_expired_lease(kNow), "mark_expired_lease");
  EXPECT_EQ(d.status, DispatchStatus::queued);
  EXPECT_EQ(d.attempt_count, before.attempt_count + 1);
  EXPECT_EQ(d.available_at, kNow);
  EXPECT_EQ(d.last_error, "earlier");
  expect_no_claim(d);
  expect_no_projection(d);
  EXPECT_FALSE(d.completed_at);
  EXPECT_EQ(d.updated_at, kNow);
  expect_valid(d, "mark_expired_lease");
}

TEST(RunDispatchTest, ExpiredLeaseAtMaxAttemptsDeadLettersAndClearsProjection) {
  RunDispatch d = claimed_with_result();
  d.attempt_count = kMax - 1;
  expect_ok(d.mark_expired_lease(kNow), "mark_expired_lease");
  EXPECT_EQ(d.status, DispatchStatus::dead_letter);
  EXPECT_EQ(d.attempt_count, kMax);
  EXPECT_EQ(d.available_at, kNow);
  EXPECT_EQ(d.last_error, "lease expired; max attempts reached");
  EXPECT_EQ(d.completed_at, kNow);
  expect_no_claim(d);
  expect_no_projection(d);
  EXPECT_EQ(d.updated_at, kNow);
  expect_valid(d, "mark_expired_lease at max");
}

TEST(RunDispatchTest, ExpiredLeaseFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "mark_expired_lease",
                          [](RunDispatch& d) { return d.mark_expired_lease(kNow); });
}

// -- mark_superseded / mark_superseded_at_epoch --------------------------------------------------

TEST(RunDispatchTest, SupersedeFromQueuedRecordsReasonAndClearsProjection) {
  RunDispatch d = queued_dispatch();
  d.dispatch_instance_id = "stale-instance";  // hand-set: supersede must clear any projection
  d.run_error = "stale";
  const RunDispatch before = d;
  expect_ok(d.mark_superseded(kNow, "queued dispatch superseded by interrupt"), "mark_superseded");
  EXPECT_EQ(d.status, DispatchStatus::superseded);
  EXPECT_EQ(d.last_error, "queued dispatch superseded by interrupt");
  EXPECT_EQ(d.completed_at, kNow);
  EXPECT_EQ(d.updated_at, kNow);
  EXPECT_EQ(d.dispatch_epoch, before.dispatch_epoch);
  expect_no_claim(d);
  expect_no_projection(d);
  expect_valid(d, "mark_superseded");
}

TEST(RunDispatchTest, SupersedeWithoutReasonKeepsLastError) {
  RunDispatch d = queued_dispatch();
  d.last_error = "previous";
  expect_ok(d.mark_superseded(kNow, std::nullopt), "mark_superseded");
  EXPECT_EQ(d.status, DispatchStatus::superseded);
  EXPECT_EQ(d.last_error, "previous");
}

TEST(RunDispatchTest, SupersedeFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::queued}, "mark_superseded",
                          [](RunDispatch& d) { return d.mark_superseded(kNow, "reason"); });
}

TEST(RunDispatchTest, SupersedeAtEpochFromQueuedSetsEpoch) {
  RunDispatch d = queued_dispatch();
  expect_ok(d.mark_superseded_at_epoch(kNow, 7, "queued dispatch superseded by newer dispatch epoch"),
            "mark_superseded_at_epoch");
  EXPECT_EQ(d.status, DispatchStatus::superseded);
  EXPECT_EQ(d.dispatch_epoch, 7u);
  EXPECT_EQ(d.last_error, "queued dispatch superseded by newer dispatch epoch");
  EXPECT_EQ(d.completed_at, kNow);
  expect_no_claim(d);
  expect_no_projection(d);
  expect_valid(d, "mark_superseded_at_epoch from queued");
}

TEST(RunDispatchTest, SupersedeAtEpochFromClaimedClearsClaimAndProjection) {
  RunDispatch d = claimed_with_result();
  const RunDispatch before = d;
  expect_ok(d.mark_superseded_at_epoch(kNow, 8, "claimed dispatch superseded by newer dispatch epoch"),
            "mark_superseded_at_epoch");
  EXPECT_EQ(d.status, DispatchStatus::superseded);
  EXPECT_EQ(d.dispatch_epoch, 8u);
  EXPECT_EQ(d.last_error, "claimed dispatch superseded by newer dispatch epoch");
  EXPECT_EQ(d.completed_at, kNow);
  EXPECT_EQ(d.updated_at, kNow);
  EXPECT_EQ(d.attempt_count, before.attempt_count);
  expect_no_claim(d);
  expect_no_projection(d);
  expect_valid(d, "mark_superseded_at_epoch from claimed");
}

TEST(RunDispatchTest, SupersedeAtEpochFromTerminalIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::queued, DispatchStatus::claimed}, "mark_superseded_at_epoch",
                          [](RunDispatch& d) { return d.mark_superseded_at_epoch(kNow, 11, "reason"); });
}

// -- mark_cancelled ------------------------------------------------------------------------------

TEST(RunDispatchTest, CancelFromQueued) {
  RunDispatch d = queued_dispatch();
  RunDispatch expected = d;
  expect_ok(d.mark_cancelled(kNow), "mark_cancelled");
  expected.status = DispatchStatus::cancelled;
  expected.completed_at = kNow;
  expected.updated_at = kNow;
  EXPECT_EQ(d, expected);
  expect_valid(d, "mark_cancelled");
}

TEST(RunDispatchTest, CancelOnlyFromQueued) {
  expect_rejected_outside({DispatchStatus::queued}, "mark_cancelled",
                          [](RunDispatch& d) { return d.mark_cancelled(kNow); });
}

// -- mark_dead_letter ----------------------------------------------------------------------------

TEST(RunDispatchTest, DeadLetterKeepsAttemptCountAndProjection) {
  RunDispatch d = claimed_with_result();
  d.attempt_count = 1;
  const RunDispatch before = d;
  expect_ok(d.mark_dead_letter(kNow, "poison message"), "mark_dead_letter");
  EXPECT_EQ(d.status, DispatchStatus::dead_letter);
  EXPECT_EQ(d.attempt_count, 1u);
  EXPECT_EQ(d.last_error, "poison message");
  EXPECT_EQ(d.completed_at, kNow);
  EXPECT_EQ(d.updated_at, kNow);
  EXPECT_EQ(d.available_at, before.available_at);
  expect_no_claim(d);
  expect_same_projection(d, before);
  expect_valid(d, "mark_dead_letter");
}

TEST(RunDispatchTest, DeadLetterFromAnyOtherStatusIsRejectedAndUnchanged) {
  expect_rejected_outside({DispatchStatus::claimed}, "mark_dead_letter",
                          [](RunDispatch& d) { return d.mark_dead_letter(kNow, "poison"); });
}

// -- validate ------------------------------------------------------------------------------------

TEST(RunDispatchTest, ValidateAcceptsEveryStatusReachedLegally) {
  for (auto s : kAllStatuses) {
    SCOPED_TRACE(to_string(s));
    expect_valid(in_status(s), "in_status");
  }
}

TEST(RunDispatchTest, ValidateAcceptsAttemptCountEqualToMax) {
  RunDispatch d = in_status(DispatchStatus::dead_letter);
  d.attempt_count = d.max_attempts;
  expect_valid(d, "attempt_count == max_attempts");
}

void expect_invalid(const RunDispatch& d, const std::string& why_part) {
  const auto r = d.validate();
  ASSERT_FALSE(r) << "expected rejection: " << why_part;
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find(why_part), std::string::npos) << r.error().message;
}

TEST(RunDispatchTest, ValidateRejectsHandBrokenRecords) {
  {
    RunDispatch d = queued_dispatch();
    d.claim_token = "token";
    expect_invalid(d, "queued dispatch carries claim fields");
  }
  {
    RunDispatch d = queued_dispatch();
    d.claimed_by = "consumer";
    expect_invalid(d, "queued dispatch carries claim fields");
  }
  {
    RunDispatch d = queued_dispatch();
    d.lease_until = kLease;
    expect_invalid(d, "queued dispatch carries claim fields");
  }
  {
    RunDispatch d = queued_dispatch();
    d.completed_at = kNow;
    expect_invalid(d, "queued dispatch carries completed_at");
  }
  {
    RunDispatch d = queued_dispatch();
    d.run_status = RunStatus::running;
    expect_invalid(d, "queued dispatch carries a runtime projection");
  }
  {
    RunDispatch d = claimed_dispatch();
    d.lease_until.reset();
    expect_invalid(d, "claimed dispatch without lease_until");
  }
  {
    RunDispatch d = claimed_dispatch();
    d.claim_token = " ";
    expect_invalid(d, "claimed dispatch without claim_token");
  }
  {
    RunDispatch d = claimed_dispatch();
    d.claimed_by.reset();
    expect_invalid(d, "claimed dispatch without claimed_by");
  }
  for (auto s : {DispatchStatus::acked, DispatchStatus::cancelled, DispatchStatus::superseded,
                 DispatchStatus::dead_letter}) {
    SCOPED_TRACE(to_string(s));
    RunDispatch d = in_status(s);
    d.completed_at.reset();
    expect_invalid(d, "terminal dispatch without completed_at");
    RunDispatch c = in_status(s);
    c.claim_token = "token";
    expect_invalid(c, "terminal dispatch carries claim fields");
  }
  {
    RunDispatch d = queued_dispatch();
    d.attempt_count = d.max_attempts + 1;
    expect_invalid(d, "attempt_count exceeds max_attempts");
  }
  {
    RunDispatch d = queued_dispatch();
    d.max_attempts = 0;
    expect_invalid(d, "max_attempts must be > 0");
  }
  {
    RunDispatch d = queued_dispatch();
    d.dispatch_id = "";
    expect_invalid(d, "dispatch_id is blank");
    d.dispatch_id = " \t";
    expect_invalid(d, "dispatch_id is blank");
  }
  {
    RunDispatch d = queued_dispatch();
    d.thread_id = "  ";
    expect_invalid(d, "thread_id is blank");
  }
  {
    RunDispatch d = queued_dispatch();
    d.run_id = "";
    expect_invalid(d, "run_id is blank");
  }
}

TEST(RunDispatchTest, IsTerminalMatchesTheSpec) {
  EXPECT_FALSE(is_terminal(DispatchStatus::queued));
  EXPECT_FALSE(is_terminal(DispatchStatus::claimed));
  EXPECT_TRUE(is_terminal(DispatchStatus::acked));
  EXPECT_TRUE(is_terminal(DispatchStatus::cancelled));
  EXPECT_TRUE(is_terminal(DispatchStatus::superseded));
  EXPECT_TRUE(is_terminal(DispatchStatus::dead_letter));
}

}  // namespace
}  // namespace mbx
