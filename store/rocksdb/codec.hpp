// Value encoding of the RocksDB store: one format byte (1; 2 for ThreadMeta rows, which
// also read format 1), then CAF's binary serialization of the record (the same `inspect` that
// carries it between actors and nodes). Every row is written and read by a hand-written
// equivalent of that serialization, byte for byte (codec.cpp; CAF itself only reads format 1
// ThreadMeta rows and backs encode_with_caf / decode_with_caf). Decoding a corrupt value gives
// Errc::store naming the record kind; it never crashes.
#pragma once

#include "messages/agent_event.hpp"
#include "messages/error.hpp"
#include "messages/message.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mbx::rdb {

// Per-thread metadata, one row per thread in the threads column family.
struct ThreadMeta {
  std::uint64_t epoch = 0;              // dispatch epoch, bumped by interrupt
  std::uint64_t version = 0;            // committed message count
  std::uint64_t queued = 0;             // Queued dispatches
  std::string claimed;                  // the Claimed dispatch id, empty if none
  std::string latest_run_id;            // empty if none
  std::int64_t latest_updated_at = 0;   // seconds, of the latest run
  std::uint64_t writes = 0;             // run-record writes, orders runs with equal updated_at
  // The 'q' index key of the thread's first Queued dispatch in claim order, when known (so a
  // claim reads that dispatch instead of scanning the index). Empty: unknown, or no Queued
  // dispatch (queued == 0). Stored since value format 2 of the row; a format 1 row has none.
  std::string head;

  friend bool operator==(const ThreadMeta&, const ThreadMeta&) = default;
};

[[nodiscard]] std::string encode(const RunDispatch& x);
[[nodiscard]] std::string encode(const RunRecord& x);
[[nodiscard]] std::string encode(const MessageRecord& x);
[[nodiscard]] std::string encode(const AgentEvent& x);
[[nodiscard]] std::string encode(const ThreadMeta& x);

// CAF's own binary serialization of these rows: encode and decode above are written by hand
// (they run on every transition, run write, event append and run read), and the tests check
// them against these.
[[nodiscard]] std::string encode_with_caf(const RunDispatch& x);
[[nodiscard]] std::string encode_with_caf(const RunRecord& x);
[[nodiscard]] std::string encode_with_caf(const MessageRecord& x);
[[nodiscard]] std::string encode_with_caf(const AgentEvent& x);
[[nodiscard]] std::string encode_with_caf(const ThreadMeta& x);
[[nodiscard]] Result<void> decode_with_caf(std::string_view bytes, RunDispatch& out);
[[nodiscard]] Result<void> decode_with_caf(std::string_view bytes, RunRecord& out);
[[nodiscard]] Result<void> decode_with_caf(std::string_view bytes, MessageRecord& out);
[[nodiscard]] Result<void> decode_with_caf(std::string_view bytes, AgentEvent& out);
[[nodiscard]] Result<void> decode_with_caf(std::string_view bytes, ThreadMeta& out);

[[nodiscard]] Result<void> decode(std::string_view bytes, RunDispatch& out);
[[nodiscard]] Result<void> decode(std::string_view bytes, RunRecord& out);
[[nodiscard]] Result<void> decode(std::string_view bytes, MessageRecord& out);
[[nodiscard]] Result<void> decode(std::string_view bytes, AgentEvent& out);
[[nodiscard]] Result<void> decode(std::string_view bytes, ThreadMeta& out);  // format 1 or 2
// The former ThreadMeta row (format 1, no head), for tests of older folders.
[[nodiscard]] std::string encode_v1(const ThreadMeta& x);

}  // namespace mbx::rdb
