// The supervisor performs interrupts: it runs them on the interrupts pool, one at a time per
// thread and in arrival order, in parallel across threads, and answers each request with the
// outcome or the error. A fake EnginePort stands in for the engine; its interrupt blocks until
// the test releases it, like a real one waiting for the old run to stop.
#include "actors/actor_system.hpp"
#include "actors/supervisor.hpp"
#include "messages/type_ids.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace mbx {
namespace {

using namespace std::chrono_literals;

class GatedPort final : public EnginePort {
public:
  Result<std::optional<RunDispatch>> claim_next(const std::string&) override { return std::optional<RunDispatch>{}; }
  bool has_queued(const std::string&) override { return false; }
  void execute(const RunDispatch&) override {}
  void renew_leases() override {}
  std::vector<std::string> sweep() override { return {}; }
  ReadyThreads ready_threads() override { return {}; }
  void collect_garbage() override {}
  void thread_idle(const std::string&) override {}

  Result<InterruptOutcome> interrupt(const std::string& thread_id, const std::string& reason,
                                     Durability durability) override {
    std::unique_lock<std::mutex> lock(mu_);
    started_.push_back(thread_id + ":" + reason);
    durabilities_.push_back(durability);
    ++running_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_ > 0; });
    --released_;
    --running_;
    if (reason == "fail") return conflict_error("the active run did not stop");
    return InterruptOutcome{++epoch_, 1, std::string("run-of-") + thread_id};
  }

  // Lets one waiting interrupt finish.
  void release_one() {
    std::lock_guard<std::mutex> lock(mu_);
    ++released_;
    cv_.notify_all();
  }
  // Waits until `n` interrupts have started; false after 5 s.
  bool wait_started(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return started_.size() >= n; });
  }
  std::vector<std::string> started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  std::vector<Durability> durabilities() {
    std::lock_guard<std::mutex> lock(mu_);
    return durabilities_;
  }
  int running() {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> started_;  // Guarded by mu_.
  std::vector<Durability> durabilities_;  // Guarded by mu_.
  int running_ = 0;                   // Guarded by mu_.
  int released_ = 0;                  // Guarded by mu_.
  std::uint64_t epoch_ = 0;           // Guarded by mu_.
};

class SupervisorInterruptTest : public ::testing::Test {
protected:
  SupervisorInterruptTest() : system_(configure_actor_system(config_)) {
    refs_ = EngineRefs{&port_, &io_, &runs_, &leases_, &maintenance_, &interrupts_};
    supervisor_ = system_.spawn(supervisor, refs_);
  }
  ~SupervisorInterruptTest() override {
    for (auto* pool : {&interrupts_, &io_, &runs_, &leases_, &maintenance_}) pool->stop();
    caf::anon_send_exit(supervisor_, caf::exit_reason::user_shutdown);
  }

  // Sends an interrupt request from its own thread; the future holds the answer.
  std::future<Result<InterruptOutcome>> request(const std::string& thread_id, const std::string& reason,
                                                bool deferred = false) {
    return std::async(std::launch::async, [this, thread_id, reason, deferred] {
      Result<InterruptOutcome> answer = internal_error("no answer");
      caf::scoped_actor self{system_};
      self->request(supervisor_, 10s, interrupt_atom::value, thread_id, reason, deferred)
          .receive([&](const InterruptOutcome& o) { answer = o; },
                   [&](const caf::error& e) { answer = from_caf_error(e); });
      return answer;
    });
  }

  GatedPort port_;
  BlockingPool io_{"test-io", 1};
  BlockingPool runs_{"test-run", 1};
  BlockingPool leases_{"test-lease", 1};
  BlockingPool maintenance_{"test-maint", 1};
  BlockingPool interrupts_{"test-intr", 4};
  EngineRefs refs_;
  caf::actor_system_config config_;
  caf::actor_system system_;
  caf::actor supervisor_;
};

TEST_F(SupervisorInterruptTest, InterruptsOfOneThreadRunOneAtATimeInArrivalOrder) {
  auto first = request("t1", "first");
  ASSERT_TRUE(port_.wait_started(1));
  auto second = request("t1", "second");
  std::this_thread::sleep_for(100ms);  // the second request has reached the supervisor and waits
  EXPECT_EQ(port_.started().size(), 1u);
  EXPECT_EQ(first.wait_for(0ms), std::future_status::timeout);  // no answer before the old run stopped
  port_.release_one();
  auto a = first.get();
  ASSERT_TRUE(a) << describe(a.error());
  EXPECT_EQ(a->cancelled_run_id, "run-of-t1");
  ASSERT_TRUE(port_.wait_started(2));
  EXPECT_EQ(port_.started(), (std::vector<std::string>{"t1:first", "t1:second"}));
  port_.release_one();
  auto b = second.get();
  ASSERT_TRUE(b);
  EXPECT_GT(b->new_epoch, a->new_epoch);
}

TEST_F(SupervisorInterruptTest, InterruptsOfDifferentThreadsRunAtTheSameTime) {
  auto t1 = request("t1", "x");
  auto t2 = request("t2", "x");
  ASSERT_TRUE(port_.wait_started(2));
  EXPECT_EQ(port_.running(), 2);
  port_.release_one();
  port_.release_one();
  EXPECT_TRUE(t1.get());
  EXPECT_TRUE(t2.get());
}

TEST_F(SupervisorInterruptTest, AFailedInterruptAnswersWithItsErrorAndTheNextOneStillRuns) {
  auto failed = request("t1", "fail");
  ASSERT_TRUE(port_.wait_started(1));
  auto next = request("t1", "after");
  port_.release_one();
  auto f = failed.get();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::conflict);
  EXPECT_EQ(f.error().message, "the active run did not stop");
  ASSERT_TRUE(port_.wait_started(2));
  port_.release_one();
  EXPECT_TRUE(next.get());
}

TEST_F(SupervisorInterruptTest, EachInterruptReachesTheEngineWithTheDurabilityItAskedFor) {
  auto synced = request("t1", "synced", false);
  ASSERT_TRUE(port_.wait_started(1));
  auto deferred = request("t1", "deferred", true);
  port_.release_one();
  ASSERT_TRUE(port_.wait_started(2));
  port_.release_one();
  EXPECT_TRUE(synced.get());
  EXPECT_TRUE(deferred.get());
  EXPECT_EQ(port_.durabilities(), (std::vector<Durability>{Durability::synced, Durability::deferred}));
}

TEST_F(SupervisorInterruptTest, AnInterruptAfterThePoolStoppedIsRefusedAtOnce) {
  interrupts_.stop();
  auto refused = request("t1", "late").get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_TRUE(port_.started().empty());
}

}  // namespace
}  // namespace mbx
