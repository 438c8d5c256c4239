// reconstruct_run_request: rebuilds the RunActivation of a claimed dispatch from the stored
// run record and the committed message log, so that any worker (any node) can execute any
// dispatch. Two paths: the activation snapshot (current writes) and the legacy request
// snapshot (old rows). Reads only; safe for concurrent use.
#pragma once

#include "messages/run_activation.hpp"
#include "messages/run_dispatch.hpp"
#include "store/thread_run_store.hpp"

namespace mbx {

// Errors: validation (run missing or on another thread, a trigger message missing, no
// snapshot, corrupt legacy extras), store.
[[nodiscard]] Result<RunActivation> reconstruct_run_request(ThreadRunStore& store, const RunDispatch& dispatch);

// The same from a run record already in hand (the one the dispatch's own claim wrote, when the
// submit's write started the run): only the trigger messages are read.
[[nodiscard]] Result<RunActivation> reconstruct_run_request(ThreadRunStore& store, const RunDispatch& dispatch,
                                                            const RunRecord& run);

}  // namespace mbx
