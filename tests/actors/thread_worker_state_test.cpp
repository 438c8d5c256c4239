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

TEST(ThreadWorkerStateTest, AHandoverWhileClaimingRunsAndALateEmptyClaimChangesNothing) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_dispatch_next(), WorkerAction::claim);
  EXPECT_EQ(w.on_start("d-inline"), WorkerAction::execute);
  EXPECT_EQ(w.on_claimed(std::nullopt), WorkerAction::none);
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.running_dispatch(), "d-inline");
}

TEST(ThreadWorkerStateTest, OnlyTheCurrentRunsFinishChangesTheStatus) {
  ThreadWorkerState w("t");
  ASSERT_EQ(w.on_start("d1"), WorkerAction::execute);
  ASSERT_EQ(w.on_start("d2"), WorkerAction::execute);  // d1 ended in the store, its message is late
  EXPECT_EQ(w.on_finished("d1"), WorkerAction::none);
  EXPECT_EQ(w.status(), WorkerStatus::running);
  EXPECT_EQ(w.on_finished("d2"), WorkerAction::claim);
}

}  // namespace
}  // namespace mbx
