#include "runtime/config.hpp"

#include <gtest/gtest.h>

namespace mbx {
namespace {

TEST(MailboxConfigTest, DefaultsAreTheSpecs) {
  const MailboxConfig c;
  EXPECT_EQ(c.lease_ms, 30'000);
  EXPECT_EQ(c.suspended_lease_ms, 600'000);
  EXPECT_EQ(c.lease_renewal_interval_ms, 10'000);
  EXPECT_EQ(c.sweep_interval_ms, 30'000);
  EXPECT_EQ(c.gc_interval_ms, 60'000);
  EXPECT_EQ(c.gc_ttl_ms, 86'400'000);
  EXPECT_EQ(c.default_max_attempts, 5u);
  EXPECT_EQ(c.default_retry_delay_ms, 250);
  EXPECT_EQ(c.max_retry_delay_ms, 30'000);
  EXPECT_EQ(c.inline_claim_guard_ms, 60'000);
  EXPECT_EQ(c.event_channel_capacity, 256u);
  EXPECT_EQ(c.append_retries, 8u);
  EXPECT_EQ(c.max_queued_per_thread, 64u);
  EXPECT_EQ(c.actor_threads, 1u);
  EXPECT_EQ(c.idle_worker_linger_ms, 1'000);
  EXPECT_EQ(c.max_idle_workers, 1'024u);
  EXPECT_TRUE(c.validate());
}

TEST(MailboxConfigTest, RetryDelayDoublesFromTheSecondAttemptAndIsCapped) {
  MailboxConfig c;
  EXPECT_EQ(c.retry_delay_ms(0), 250);
  EXPECT_EQ(c.retry_delay_ms(1), 250);
  EXPECT_EQ(c.retry_delay_ms(2), 500);
  EXPECT_EQ(c.retry_delay_ms(3), 1'000);
  EXPECT_EQ(c.retry_delay_ms(7), 16'000);
  EXPECT_EQ(c.retry_delay_ms(50), 16'000);  // exponent capped at 6
  c.max_retry_delay_ms = 700;
  EXPECT_EQ(c.retry_delay_ms(3), 700);
}

TEST(MailboxConfigTest, ValidateNamesTheBadField) {
  MailboxConfig c;
  c.lease_ms = 0;
  auto r = c.validate();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_NE(r.error().message.find("lease_ms"), std::string::npos) << r.error().message;

  c = MailboxConfig{};
  c.lease_renewal_interval_ms = c.lease_ms;
  r = c.validate();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("lease_renewal_interval_ms"), std::string::npos) << r.error().message;

  c = MailboxConfig{};
  c.consumer_id = "  ";
  ASSERT_FALSE(c.validate());
  c = MailboxConfig{};
  c.default_max_attempts = 0;
  ASSERT_FALSE(c.validate());
  c = MailboxConfig{};
  c.idle_worker_linger_ms = -1;
  r = c.validate();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("idle_worker_linger_ms"), std::string::npos) << r.error().message;
  c.idle_worker_linger_ms = 0;  // stop at once
  EXPECT_TRUE(c.validate());
  c.actor_threads = 0;
  ASSERT_FALSE(c.validate());
}

}  // namespace
}  // namespace mbx
