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

TEST(ThreadWorkerStateTest, AClaimedDispatchRunsAndTheClaimAfterItDecidesWhatComesNext) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  EXPECT_EQ(w.on_claimed(std::string("d1")), WorkerAction::execute);
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.runs_in_flight(), 1u);
  // The run thread claimed d2 after d1: it runs.
  EXPECT_EQ(w.on_finished("d1", std::string("d2")), WorkerAction::execute);
  EXPECT_EQ(w.running_dispatch(), "d2");
  EXPECT_EQ(w.runs_in_flight(), 1u);
  // Nothing after d2: idle, and it offers to stop.
  EXPECT_EQ(w.on_finished("d2", std::nullopt), WorkerAction::report_idle);
  EXPECT_EQ(w.status(), WorkerStatus::idle);
  EXPECT_EQ(w.runs_in_flight(), 0u);
}

TEST(ThreadWorkerStateTest, ADispatchNextWhileRunningIsClaimedAfterTheRun) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1"), WorkerAction::execute);
  EXPECT_EQ(w.on_dispatch_next(), WorkerAction::none);
  // The run thread's claim may have come before the work the dispatch_next announced.
  EXPECT_EQ(w.on_finished("d1", std::nullopt), WorkerAction::claim);
  EXPECT_EQ(w.status(), WorkerStatus::claiming);
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::report_idle);
}

TEST(ThreadWorkerStateTest, NeverReportsIdleWhileARunOfAnEarlierClaimIsStillOut) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1/a"), WorkerAction::execute);
  // d1 acked; a submitter claimed d2 and handed it over before d1's finished message came.
  ASSERT_EQ(w.on_start("d2/b"), WorkerAction::execute);
  EXPECT_EQ(w.runs_in_flight(), 2u);
  // d2 ends first with nothing after it: idle, but d1's run thread still owes its claim.
  EXPECT_EQ(w.on_finished("d2/b", std::nullopt), WorkerAction::none);
  EXPECT_EQ(w.status(), WorkerStatus::idle);
  // It claimed d3: d3 runs (a claimed dispatch is never dropped), without a claim count.
  EXPECT_EQ(w.on_finished("d1/a", std::string("d3/c")), WorkerAction::execute);
  EXPECT_EQ(w.running_dispatch(), "d3/c");
  EXPECT_EQ(w.claims_in_flight(), 0u);
  EXPECT_EQ(w.on_finished("d3/c", std::nullopt), WorkerAction::report_idle);
}

TEST(ThreadWorkerStateTest, ARunThreadThatYieldedLeavesTheNextClaimToTheWorker) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  ASSERT_EQ(w.on_claimed(std::string("d1/a")), WorkerAction::execute);
  // Other jobs waited for a run thread, so d1's run thread did not claim: the worker does.
  EXPECT_EQ(w.on_yielded("d1/a"), WorkerAction::claim);
  EXPECT_EQ(w.status(), WorkerStatus::claiming);
  EXPECT_EQ(w.runs_in_flight(), 0u);
  EXPECT_EQ(w.claims_in_flight(), 1u);
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::report_idle);
}

TEST(ThreadWorkerStateTest, AYieldWhileAnotherRunOrClaimIsOutClaimsAfterIt) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1/a"), WorkerAction::execute);
  ASSERT_EQ(w.on_start("d2/b"), WorkerAction::execute);  // handed over before d1's end came back
  EXPECT_EQ(w.on_yielded("d1/a"), WorkerAction::none);     // d2 runs: claim after it
  EXPECT_EQ(w.on_finished("d2/b", std::nullopt), WorkerAction::claim);
  // A late yield while idle (its run was not the current one) still claims: the thread may
  // have more work, and nobody else would look.
  ThreadWorkerState idle("t");
  ASSERT_EQ(idle.on_start("d1/a"), WorkerAction::execute);
  ASSERT_EQ(idle.on_start("d2/b"), WorkerAction::execute);
  ASSERT_EQ(idle.on_finished("d2/b", std::nullopt), WorkerAction::none);
  ASSERT_EQ(idle.status(), WorkerStatus::idle);
  EXPECT_EQ(idle.on_yielded("d1/a"), WorkerAction::claim);
  EXPECT_EQ(idle.status(), WorkerStatus::claiming);
}

TEST(ThreadWorkerStateTest, ALateFinishWithNothingAfterItLetsAnIdleWorkerGo) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1/a"), WorkerAction::execute);
  ASSERT_EQ(w.on_start("d2/b"), WorkerAction::execute);
  EXPECT_EQ(w.on_finished("d2/b", std::nullopt), WorkerAction::none);
  EXPECT_EQ(w.on_finished("d1/a", std::nullopt), WorkerAction::report_idle);
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
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);                  // claim 1 out
  ASSERT_EQ(w.on_start("d1/tok"), WorkerAction::execute);                // an inline handover
  ASSERT_EQ(w.on_finished("d1/tok", std::nullopt), WorkerAction::none);  // claim 1 still out
  EXPECT_EQ(w.status(), WorkerStatus::claiming);
  EXPECT_EQ(w.claims_in_flight(), 1u);
  EXPECT_EQ(w.on_claimed(std::string("d3/tok")), WorkerAction::execute);  // claim 1 found work
}

TEST(ThreadWorkerStateTest, OnlyTheCurrentRunsFinishChangesTheStatus) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1/a"), WorkerAction::execute);
  ASSERT_EQ(w.on_start("d1/b"), WorkerAction::execute);  // d1 claimed again after a lost lease
  EXPECT_EQ(w.on_finished("d1/a", std::nullopt), WorkerAction::none);  // the old claim's late message
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.on_finished("d1/b", std::nullopt), WorkerAction::report_idle);
}

}  // namespace
}  // namespace mbx
