// Id minting: UUID v7 text (time ordered: ids minted later sort after earlier ones, also
// within one millisecond). IdSource is injectable; UuidV7Source is safe to share across threads.
#pragma once

#include "messages/clock.hpp"

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace mbx {

class IdSource {
public:
  virtual ~IdSource() = default;
  [[nodiscard]] virtual std::string next_id() = 0;
};

class UuidV7Source final : public IdSource {
public:
  explicit UuidV7Source(const Clock& clock);
  [[nodiscard]] std::string next_id() override;

private:
  const Clock& clock_;
  std::mutex mu_;
  std::mt19937_64 rng_;           // Guarded by mu_.
  std::int64_t last_ms_ = -1;     // Guarded by mu_.
  std::uint64_t counter_ = 0;     // Guarded by mu_. 12-bit sequence within last_ms_.
};

// A process-wide source over the system clock, for callers that have no injected one.
[[nodiscard]] IdSource& default_id_source();

// True for the canonical 36-char text form of a version-7 UUID.
[[nodiscard]] bool is_uuid_v7(std::string_view text);

// The millisecond timestamp encoded in a UUID v7 (-1 if `text` is not one).
[[nodiscard]] std::int64_t uuid_v7_millis(std::string_view text);

// True when the id is empty or only whitespace ("blank ids count as missing").
[[nodiscard]] bool is_blank(std::string_view id);

}  // namespace mbx
