// Fence: the proof of ownership a running dispatch carries on every write it makes
// (message append, run record update, run result, event append, ack / nack / dead letter,
// lease extension). A store checks it inside the same atomic write: the dispatch must still
// be Claimed with this claim token, at this epoch, and the epoch must not be behind the
// thread's epoch. Otherwise the write is refused with Errc::fenced and writes nothing of
// the caller's. Plain value.
#pragma once

#include "messages/run_dispatch.hpp"

#include <cstdint>
#include <string>

namespace mbx {

struct Fence {
  std::string dispatch_id;
  std::string claim_token;
  std::uint64_t epoch = 0;  // the dispatch_epoch the owner claimed at

  // The fence of a dispatch as returned by claim / claim_dispatch.
  [[nodiscard]] static Fence of(const RunDispatch& claimed) {
    return Fence{claimed.dispatch_id, claimed.claim_token.value_or(std::string()), claimed.dispatch_epoch};
  }
  friend bool operator==(const Fence&, const Fence&) = default;
};

}  // namespace mbx
