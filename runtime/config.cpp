#include "runtime/config.hpp"

#include "messages/ids.hpp"

#include <algorithm>

namespace mbx {

Result<void> MailboxConfig::validate() const {
  auto positive = [](std::int64_t v, const char* name) -> Result<void> {
    if (v > 0) return {};
    return validation_error(std::string("MailboxConfig.") + name + ": must be > 0, got " + std::to_string(v));
  };
  if (is_blank(consumer_id)) return validation_error("MailboxConfig.consumer_id: must not be blank");
  for (auto [v, name] : {std::pair{lease_ms, "lease_ms"}, std::pair{suspended_lease_ms, "suspended_lease_ms"},
                         std::pair{lease_renewal_interval_ms, "lease_renewal_interval_ms"},
                         std::pair{sweep_interval_ms, "sweep_interval_ms"}, std::pair{gc_interval_ms, "gc_interval_ms"},
                         std::pair{gc_ttl_ms, "gc_ttl_ms"}, std::pair{default_retry_delay_ms, "default_retry_delay_ms"},
                         std::pair{max_retry_delay_ms, "max_retry_delay_ms"},
                         std::pair{inline_claim_guard_ms, "inline_claim_guard_ms"},
                         std::pair{idempotency_window_ms, "idempotency_window_ms"},
                         std::pair{cancel_wait_ms, "cancel_wait_ms"}, std::pair{shutdown_wait_ms, "shutdown_wait_ms"}})
    if (auto r = positive(v, name); !r) return r;
  if (lease_renewal_interval_ms >= lease_ms)
    return validation_error("MailboxConfig.lease_renewal_interval_ms: must be shorter than lease_ms (" +
                            std::to_string(lease_ms) + "), or leases lapse between renewals");
  if (default_max_attempts == 0) return validation_error("MailboxConfig.default_max_attempts: must be > 0");
  if (event_channel_capacity == 0) return validation_error("MailboxConfig.event_channel_capacity: must be > 0");
  if (append_retries == 0) return validation_error("MailboxConfig.append_retries: must be > 0");
  if (io_threads == 0) return validation_error("MailboxConfig.io_threads: must be > 0");
  if (run_threads == 0) return validation_error("MailboxConfig.run_threads: must be > 0");
  if (interrupt_threads == 0) return validation_error("MailboxConfig.interrupt_threads: must be > 0");
  if (actor_threads == 0) return validation_error("MailboxConfig.actor_threads: must be > 0");
  if (max_queued_per_thread == 0) return validation_error("MailboxConfig.max_queued_per_thread: must be > 0");
  if (idle_worker_linger_ms < 0) return validation_error("MailboxConfig.idle_worker_linger_ms: must be >= 0");
  return {};
}

std::int64_t MailboxConfig::retry_delay_ms(std::uint32_t attempt_count) const {
  const int exponent = std::min<int>(std::max<int>(static_cast<int>(attempt_count) - 1, 0), 6);
  const std::int64_t delay = default_retry_delay_ms << exponent;
  return std::min(delay, max_retry_delay_ms);
}

}  // namespace mbx
