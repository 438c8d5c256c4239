// Metrics: counts from many threads add up, each instance counts only its own probes (the
// per-thread series cache is keyed by instance), and the histogram renders consistently.
#include "runtime/metrics.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace mbx {
namespace {

TEST(MetricsTest, StoreOperationsFromManyThreadsAllCount) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) {
        m.store_operation("claim", "ok", 0.0001);
        m.store_operation("claim", i % 2 == 0 ? "empty" : "ok", 0.002);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.counter("mailbox_operations_total", "operation=\"claim\",result=\"ok\""), 12000);
  EXPECT_EQ(m.counter("mailbox_operations_total", "operation=\"claim\",result=\"empty\""), 4000);
  const auto text = m.prometheus_text({});
  EXPECT_NE(text.find("mailbox_operation_duration_seconds_bucket{operation=\"claim\",le=\"0.0005\"} 8000"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mailbox_operation_duration_seconds_bucket{operation=\"claim\",le=\"+Inf\"} 16000"),
            std::string::npos);
  EXPECT_NE(text.find("mailbox_operation_duration_seconds_count{operation=\"claim\"} 16000"), std::string::npos);
}

TEST(MetricsTest, EachInstanceCountsOnlyItsOwnProbesEvenOnOneThread) {
  auto first = std::make_unique<Metrics>();
  first->store_operation("ack", "ok", 0.001);
  Metrics second;
  second.store_operation("ack", "ok", 0.001);
  second.store_operation("ack", "ok", 0.001);
  EXPECT_EQ(first->counter("mailbox_operations_total", "operation=\"ack\",result=\"ok\""), 1);
  EXPECT_EQ(second.counter("mailbox_operations_total", "operation=\"ack\",result=\"ok\""), 2);
  // A new instance made where a destroyed one lived starts from zero.
  first.reset();
  auto third = std::make_unique<Metrics>();
  third->store_operation("ack", "ok", 0.001);
  EXPECT_EQ(third->counter("mailbox_operations_total", "operation=\"ack\",result=\"ok\""), 1);
  EXPECT_EQ(second.counter("mailbox_operations_total", "operation=\"ack\",result=\"ok\""), 2);
}

TEST(MetricsTest, OtherProbesCountUnderTheirLabels) {
  Metrics m;
  m.submitted("background", "ok");
  m.submitted("background", "ok");
  m.run_finished("completed", 0.01);
  m.claims_reclaimed(3);
  EXPECT_EQ(m.counter("mailbox_submits_total", "flow=\"background\",result=\"ok\""), 2);
  EXPECT_EQ(m.counter("mailbox_runs_finished_total", "outcome=\"completed\""), 1);
  EXPECT_EQ(m.counter("mailbox_expired_claims_reclaimed_total", ""), 3);
  EXPECT_EQ(m.counter("mailbox_never_counted_total", ""), 0);
}

}  // namespace
}  // namespace mbx
