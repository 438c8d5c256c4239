// Every key of the RocksDB store, built in one place. Byte grammar (also in docs/store.md):
//
//   id      := bytes without NUL (thread, dispatch, run and message ids are validated)
//   u64     := 8 bytes big-endian;  i64 := u64 of (value XOR 2^63) so signed order = byte order
//   dispatches: <dispatch_id>                         threads: <thread_id>
//   runs:       <run_id>                              messages: <thread_id> 0 <seq u64>
//   events:     <run_id> 0 <seq u64>                  counters: 'c' (one key, a u64 lane per status)
//   index:
//     'q' <thread> 0 <prio u8> <available_at i64> <created_at i64> <dispatch_id>   Queued, claim order
//     'w' <available_at i64> <dispatch_id>                          -> thread     Queued, by time
//     'r' <thread>                                                                thread has Queued
//     'd' <thread> 0 <created_at i64> <dispatch_id>                 -> status     all of a thread
//     'k' <thread> 0 <dedupe_key>                                   -> dispatch   non-terminal dedupe
//     'l' <lease_until i64> <dispatch_id>                                         Claimed, by lease
//     't' <updated_at i64> <created_at i64> <dispatch_id>                         terminal
//     'x' <run_id> 0 <dispatch_id>                                                dispatches of a run
//     'm' <thread> 0 <message_id>                                   -> seq u64    message id -> seq
//     'u' <thread> 0 <created_at i64> <run_id>                                    runs of a thread
//     's' <status u8> <run_id>                                                    runs by status
#pragma once

#include "messages/run_dispatch.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace mbx::rdb {

void put_u64(std::string& out, std::uint64_t v);
void put_i64(std::string& out, std::int64_t v);
[[nodiscard]] std::uint64_t get_u64(std::string_view bytes);  // first 8 bytes
[[nodiscard]] std::int64_t get_i64(std::string_view bytes);

[[nodiscard]] std::string message_key(std::string_view thread_id, std::uint64_t seq);
[[nodiscard]] std::string message_prefix(std::string_view thread_id);
[[nodiscard]] std::string event_key(std::string_view run_id, std::uint64_t seq);
[[nodiscard]] std::string event_prefix(std::string_view run_id);

[[nodiscard]] std::string queued_key(const RunDispatch& d);
[[nodiscard]] std::string queued_prefix(std::string_view thread_id);
[[nodiscard]] std::string wake_key(const RunDispatch& d);
inline constexpr std::string_view kWakePrefix = "w";
[[nodiscard]] std::string ready_key(std::string_view thread_id);
inline constexpr std::string_view kReadyPrefix = "r";
[[nodiscard]] std::string thread_dispatch_key(const RunDispatch& d);
[[nodiscard]] std::string thread_dispatch_prefix(std::string_view thread_id);
[[nodiscard]] std::string dedupe_key(std::string_view thread_id, std::string_view key);
[[nodiscard]] std::string lease_key(std::int64_t lease_until, std::string_view dispatch_id);
inline constexpr std::string_view kLeasePrefix = "l";
[[nodiscard]] std::string terminal_key(const RunDispatch& d);
inline constexpr std::string_view kTerminalPrefix = "t";
[[nodiscard]] std::string run_dispatch_key(std::string_view run_id, std::string_view dispatch_id);
[[nodiscard]] std::string run_dispatch_prefix(std::string_view run_id);
[[nodiscard]] std::string message_id_key(std::string_view thread_id, std::string_view message_id);
[[nodiscard]] std::string thread_run_key(std::string_view thread_id, std::int64_t created_at, std::string_view run_id);
[[nodiscard]] std::string thread_run_prefix(std::string_view thread_id);
[[nodiscard]] std::string run_status_key(RunStatus status, std::string_view run_id);
[[nodiscard]] std::string run_status_prefix(RunStatus status);
// The counters column family holds one key: its value is one u64 lane per DispatchStatus (in
// enum order; missing trailing lanes are 0), and merge operands add lane by lane, so a status
// move is one merge (-1 in the old lane, +1 in the new one).
inline constexpr std::string_view kCountersKey = "c";
[[nodiscard]] std::string counter_delta(DispatchStatus from, DispatchStatus to);  // -1 / +1 lanes
[[nodiscard]] std::string counter_delta(DispatchStatus status, std::int64_t delta);
// Before the single key, each status had its own key (its status byte, value one u64); the
// store folds those into kCountersKey when it opens a folder that still has them.
[[nodiscard]] std::string legacy_counter_key(DispatchStatus status);

// The smallest key greater than every key starting with `prefix`.
[[nodiscard]] std::string prefix_end(std::string prefix);

// Ids become key parts: they must be non-blank and contain no NUL byte.
[[nodiscard]] bool is_key_safe(std::string_view id);

}  // namespace mbx::rdb
