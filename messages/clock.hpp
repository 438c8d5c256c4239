// Injectable time. The engine never reads the system clock directly: it asks a Clock.
// SystemClock and ManualClock are safe to share across threads.
#pragma once

#include <atomic>
#include <cstdint>

namespace mbx {

class Clock {
public:
  virtual ~Clock() = default;
  // Unix time in milliseconds.
  [[nodiscard]] virtual std::int64_t now_ms() const = 0;
  // Unix time in seconds (run records keep seconds, dispatches milliseconds).
  [[nodiscard]] std::int64_t now_s() const { return now_ms() / 1000; }
};

class SystemClock final : public Clock {
public:
  [[nodiscard]] std::int64_t now_ms() const override;
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  [[nodiscard]] std::int64_t now_ms() const override { return now_.load(); }
  void set_ms(std::int64_t ms) { now_.store(ms); }
  void advance_ms(std::int64_t ms) { now_.fetch_add(ms); }

private:
  std::atomic<std::int64_t> now_;
};

}  // namespace mbx
