#include "actors/thread_worker_state.hpp"

#include <gtest/gtest.h>

namespace mbx {
namespace {

TEST(ThreadWorkerStateTest, IdleWorkerClaimsOnDispatchNext) {
  ThreadWorkerState w("t");
  EXPECT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  EXPECT_EQ(w.status(), WorkerStatus::claiming);
}

TEST(ThreadWorkerStateTest, DispatchNextWhileBusyClaimsAgainAfterAnEmptyClaim) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  EXPECT_EQ(w.on_dispatch_next(), WorkerAction::none);  // one claim in flight at a time
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::claim);
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::report_idle);
  EXPECT_EQ(w.status(), WorkerStatus::idle);
  EXPECT_EQ(w.routed(), 2u);
}

TEST(ThreadWorkerStateTest, AClaimedDispatchRunsAndTheNextIsClaimedWhenItFinishes) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  EXPECT_EQ(w.on_claimed(std::string("d1")), WorkerAction::execute);
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.on_dispatch_next(), WorkerAction::none);
  EXPECT_EQ(w.on_finished("d1"), WorkerAction::claim);
  EXPECT_EQ(w.status(), WorkerStatus::claiming);
}

TEST(ThreadWorkerStateTest, ADispatchClaimedAfterARunThatWasNoLongerCurrentRunsAllTheSame) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1/a"), WorkerAction::execute);
  ASSERT_EQ(w.on_start("d2/b"), WorkerAction::execute);  // a handover after d1's end, before its message
  EXPECT_EQ(w.on_finished("d1/a"), WorkerAction::none);  // not the current run: no claim asked
  // ... but its run thread claimed d3 after d1's end (d2 has ended too): d3 runs, and the claim
  // count is untouched.
  EXPECT_EQ(w.on_claimed_unasked("d3/c"), WorkerAction::execute);
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.running_dispatch(), "d3/c");
  EXPECT_EQ(w.claims_in_flight(), 0u);
  EXPECT_EQ(w.on_finished("d3/c"), WorkerAction::claim);
  EXPECT_EQ(w.claims_in_flight(), 1u);
}

TEST(ThreadWorkerStateTest, AHandoverWhileClaimingRunsAndALateEmptyClaimChangesNothing) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  EXPECT_EQ(w.on_start("d-inline"), WorkerAction::execute);
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::none);
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.running_dispatch(), "d-inline");
}

TEST(ThreadWorkerStateTest, NeverReportsIdleWhileAClaimIsStillOut) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);     // claim 1 out
  ASSERT_EQ(w.on_start("d1/tok"), WorkerAction::execute);   // an inline handover
  ASSERT_EQ(w.on_finished("d1/tok"), WorkerAction::claim);  // claim 2 out
  EXPECT_EQ(w.claims_in_flight(), 2u);
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::none);  // claim 1: empty, but claim 2 is out
  EXPECT_EQ(w.status(), WorkerStatus::claiming);
  EXPECT_EQ(w.on_claimed(std::string("d3/tok")), WorkerAction::execute);  // claim 2 found work
}

TEST(ThreadWorkerStateTest, OnlyTheCurrentRunsFinishChangesTheStatus) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1/a"), WorkerAction::execute);
  ASSERT_EQ(w.on_start("d1/b"), WorkerAction::execute);  // d1 claimed again after a lost lease
  EXPECT_EQ(w.on_finished("d1/a"), WorkerAction::none);  // the old claim's late message
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.on_finished("d1/b"), WorkerAction::claim);
}

}  // namespace
}  // namespace mbx
