#include "messages/ids.hpp"

#include <array>
#include <cctype>

namespace mbx {

namespace {
constexpr char kHex[] = "0123456789abcdef";

SystemClock& system_clock() {
  static SystemClock clock;
  return clock;
}
}  // namespace

UuidV7Source::UuidV7Source(const Clock& clock) : clock_(clock), rng_(std::random_device{}()) {}

std::string UuidV7Source::next_id() {
  std::array<std::uint8_t, 16> b{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::int64_t ms = clock_.now_ms();
    if (ms <= last_ms_) {
      // Same (or earlier: clock stepped back) millisecond: keep order with the counter,
      // borrowing the next millisecond when the 12-bit counter runs out.
      ms = last_ms_;
      if (++counter_ > 0xFFF) {
        ++ms;
        counter_ = 0;
      }
    } else {
      counter_ = 0;
    }
    last_ms_ = ms;
    const auto ums = static_cast<std::uint64_t>(ms);
    for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ums >> (8 * (5 - i)));
    b[6] = static_cast<std::uint8_t>(0x70 | ((counter_ >> 8) & 0x0F));
    b[7] = static_cast<std::uint8_t>(counter_ & 0xFF);
    const std::uint64_t r = rng_();
    for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(r >> (8 * i));
  }
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));  // RFC 9562 variant
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0F]);
  }
  return out;
}

IdSource& default_id_source() {
  static UuidV7Source source(system_clock());
  return source;
}

bool is_uuid_v7(std::string_view t) {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(t[i]))) {
      return false;
    }
  }
  const char variant = static_cast<char>(std::tolower(static_cast<unsigned char>(t[19])));
  return t[14] == '7' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

std::int64_t uuid_v7_millis(std::string_view t) {
  if (!is_uuid_v7(t)) return -1;
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 13; ++i) {
    if (t[i] == '-') continue;
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
    ms = ms * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return ms;
}

bool is_blank(std::string_view id) {
  for (char c : id)
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace mbx
