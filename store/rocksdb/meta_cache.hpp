// MetaCache: the ThreadMeta rows of the few threads one lock stripe of RocksdbStore wrote or
// read last, so the read-check-write of an active thread does not read and decode its
// metadata row every time. Bounded: kSlots entries per stripe, the least recently used one
// is replaced. Not thread-safe: each stripe's cache is guarded by that stripe's mutex, and
// RocksdbStore (the only writer of the rows, in-process) keeps it in step with the database:
// a staged metadata write drops the entry and a committed one puts it back (rocksdb_impl.hpp).
// Empty when the store opens, so a reopened store reads the rows again.
#pragma once

#include "store/rocksdb/codec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mbx::rdb {

class MetaCache {
public:
  static constexpr std::size_t kSlots = 4;

  // The cached metadata of `thread_id`, or null.
  [[nodiscard]] const ThreadMeta* find(std::string_view thread_id) {
    for (auto& s : slots_) {
      if (s.used != 0 && s.thread_id == thread_id) {
        s.used = ++clock_;
        return &s.meta;
      }
    }
    return nullptr;
  }

  // Remembers `meta` as the metadata of `thread_id` (replacing the least recently used entry).
  void put(std::string_view thread_id, const ThreadMeta& meta) {
    Slot* target = &slots_[0];
    for (auto& s : slots_) {
      if (s.used != 0 && s.thread_id == thread_id) {
        target = &s;
        break;
      }
      if (s.used < target->used) target = &s;
    }
    target->thread_id.assign(thread_id);
    target->meta = meta;
    target->used = ++clock_;
  }

  // Calls fn(thread_id, meta) for each cached entry (verify()).
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& s : slots_)
      if (s.used != 0) fn(std::string_view(s.thread_id), s.meta);
  }

  void erase(std::string_view thread_id) {
    for (auto& s : slots_)
      if (s.used != 0 && s.thread_id == thread_id) s.used = 0;
  }

private:
  struct Slot {
    std::string thread_id;
    ThreadMeta meta;
    std::uint64_t used = 0;  // 0 = empty; else the clock_ value of the last use
  };
  std::array<Slot, kSlots> slots_{};
  std::uint64_t clock_ = 0;
};

}  // namespace mbx::rdb
