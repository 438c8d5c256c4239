// LiveDispatchCache: the records of the live (Queued or Claimed) dispatches one lock stripe of
// RocksdbStore wrote last, so a fenced write on a running dispatch (ack, nack, lease extension,
// run start and result, a fenced append or event) checks its fence and stages its transition,
// and a claim takes the head of its thread's queue, without reading and decoding the dispatch
// row. Bounded: kSlots entries per stripe, the least recently used one is replaced; only live
// records are put. Not thread-safe: each stripe's cache is guarded by that stripe's mutex, and
// RocksdbStore (the only writer of the rows, in-process) keeps it in step with the database:
// staging any write of a dispatch row drops its entry, and a committed write of a live record
// puts it back (rocksdb_impl.hpp). So an entry is always the stored record, of a dispatch whose
// thread hashes to this stripe. Empty when the store opens.
#pragma once

#include "messages/run_dispatch.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mbx::rdb {

class LiveDispatchCache {
public:
  // Two records per stripe: 8 192 in all, about 4.6 MB (a RunDispatch is 552 bytes, plus its
  // longer strings).
  static constexpr std::size_t kSlots = 2;

  // The cached record of `dispatch_id`, or null.
  [[nodiscard]] const RunDispatch* find(std::string_view dispatch_id) {
    for (auto& s : slots_) {
      if (s.used != 0 && s.record.dispatch_id == dispatch_id) {
        s.used = ++clock_;
        return &s.record;
      }
    }
    return nullptr;
  }

  // Remembers `record` (a Queued or Claimed dispatch) under its id, replacing the least
  // recently used entry.
  void put(const RunDispatch& record) {
    Slot* target = &slots_[0];
    for (auto& s : slots_) {
      if (s.used != 0 && s.record.dispatch_id == record.dispatch_id) {
        target = &s;
        break;
      }
      if (s.used < target->used) target = &s;
    }
    target->record = record;
    target->used = ++clock_;
  }

  void erase(std::string_view dispatch_id) {
    for (auto& s : slots_)
      if (s.used != 0 && s.record.dispatch_id == dispatch_id) s.used = 0;
  }

  // Calls fn(record) for each cached entry (verify()).
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& s : slots_)
      if (s.used != 0) fn(s.record);
  }

private:
  struct Slot {
    RunDispatch record;
    std::uint64_t used = 0;  // 0 = empty; else the clock_ value of the last use
  };
  std::array<Slot, kSlots> slots_{};
  std::uint64_t clock_ = 0;
};

}  // namespace mbx::rdb
