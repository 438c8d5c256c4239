// MailboxConfig: every knob of the engine in one struct, with the spec's defaults
// (mailbox-spec.md section 6). Plain value; validate() before use.
#pragma once

#include "messages/error.hpp"

#include <cstdint>
#include <string>

namespace mbx {

struct MailboxConfig {
  std::string consumer_id = "mailbox-node";    // Default: "mailbox-node". This process's claim identity.
  std::int64_t lease_ms = 30'000;              // Default: 30 s. Claim lease and normal renewal extension.
  std::int64_t suspended_lease_ms = 600'000;   // Default: 600 s. Extension while a tool call waits for a human.
  std::int64_t lease_renewal_interval_ms = 10'000;  // Default: 10 s.
  std::int64_t sweep_interval_ms = 30'000;     // Default: 30 s. Reclaim expired leases, reconcile.
  std::int64_t gc_interval_ms = 60'000;        // Default: 60 s. Purge terminal dispatches and idle workers.
  std::int64_t gc_ttl_ms = 86'400'000;         // Default: 24 h. Terminal dispatches and event logs kept this long.
  std::uint32_t default_max_attempts = 5;      // Default: 5.
  std::int64_t default_retry_delay_ms = 250;   // Default: 250 ms. Nack backoff base (doubles per attempt).
  std::int64_t max_retry_delay_ms = 30'000;    // Default: 30 s. Backoff cap.
  std::int64_t inline_claim_guard_ms = 60'000; // Default: 60 s. available_at offset of a foreground dispatch.
  std::uint32_t event_channel_capacity = 256;  // Default: 256.
  std::uint32_t append_retries = 8;            // Default: 8. Versioned-append attempts under conflict.
  std::uint32_t max_queued_per_thread = 64;    // Default: 64. Past it a submit gets queue_full.
  std::int64_t idempotency_window_ms = 86'400'000;  // Default: 24 h.
  std::int64_t cancel_wait_ms = 30'000;        // Default: 30 s. How long an interrupt waits for the active run to stop.
  std::int64_t shutdown_wait_ms = 10'000;      // Default: 10 s. How long stop() waits for running runs.
  std::uint32_t io_threads = 1;                // Default: 1. Threads for the ready-thread scan (one runs at a time).
  std::uint32_t run_threads = 64;              // Default: 64. Runs executing at once on this node.
  std::uint32_t interrupt_threads = 8;         // Default: 8. Threads for interrupts (a synced write, then the wait
                                               // for the old run); interrupts of one thread run one at a time.
  std::uint32_t actor_threads = 1;             // Default: 1. CAF scheduler threads; the actors never block (store
                                               // calls run on the pools above), so one keeps up.
  std::int64_t idle_worker_linger_ms = 1'000;  // Default: 1 s. An idle thread worker stops after this long idle
                                               // (0: at once), so a busy thread's next run finds it still there.
  std::uint32_t max_idle_workers = 1'024;      // Default: 1 024. Idle workers kept at most; past it the one idle
                                               // longest stops at once (a million idle threads cost no workers).

  // Errors name the offending field (validation).
  [[nodiscard]] Result<void> validate() const;

  // Nack backoff for a dispatch that has failed `attempt_count` times before this failure:
  // base * 2^min(max(attempt_count - 1, 0), 6), capped at max_retry_delay_ms.
  [[nodiscard]] std::int64_t retry_delay_ms(std::uint32_t attempt_count) const;
};

}  // namespace mbx
