// Store: one backend that implements both contracts (fenced writes need the dispatch and the
// thread history inside one atomic step), plus verify().
#pragma once

#include "store/mailbox_store.hpp"
#include "store/thread_run_store.hpp"

#include <string>
#include <vector>

namespace mbx {

class Store : public MailboxStore, public ThreadRunStore {
public:
  // Cross-checks every index against the records; one line per inconsistency found
  // (empty = consistent). Takes a consistent view; safe to call while others write.
  [[nodiscard]] virtual Result<std::vector<std::string>> verify() = 0;
};

}  // namespace mbx
