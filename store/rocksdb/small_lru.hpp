// SmallLru: a handful of values by string key, the least recently used one replaced when full.
// A linear scan over N slots (N is 2 to 4 here), no allocation beyond the keys and values.
// Not thread-safe: RocksdbStore keeps one per lock stripe (MetaCache, LiveDispatchCache),
// guarded by that stripe's mutex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mbx::rdb {

template <class Value, std::size_t N>
class SmallLru {
public:
  static constexpr std::size_t kSlots = N;

  // The value cached under `key`, or null.
  [[nodiscard]] const Value* find(std::string_view key) {
    for (auto& s : slots_) {
      if (s.used != 0 && s.key == key) {
        s.used = ++clock_;
        return &s.value;
      }
    }
    return nullptr;
  }

  // Remembers `value` under `key` (replacing the entry of that key, else the least recently
  // used one).
  void put(std::string_view key, const Value& value) {
    Slot* target = &slots_[0];
    for (auto& s : slots_) {
      if (s.used != 0 && s.key == key) {
        target = &s;
        break;
      }
      if (s.used < target->used) target = &s;
    }
    target->key.assign(key);
    target->value = value;
    target->used = ++clock_;
  }

  void erase(std::string_view key) {
    for (auto& s : slots_)
      if (s.used != 0 && s.key == key) s.used = 0;
  }

  // Calls fn(key, value) for each cached entry (verify()).
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& s : slots_)
      if (s.used != 0) fn(std::string_view(s.key), s.value);
  }

private:
  struct Slot {
    std::string key;
    Value value;
    std::uint64_t used = 0;  // 0 = empty; else the clock_ value of the last use
  };
  std::array<Slot, N> slots_{};
  std::uint64_t clock_ = 0;
};

}  // namespace mbx::rdb
