#include "messages/run_record.hpp"

#include "messages/ids.hpp"

namespace mbx {

bool RunRecord::check_invariants(std::string* why) const {
  auto fail = [&](const std::string& text) {
    if (why != nullptr) *why = "RunRecord '" + run_id + "': " + text;
    return false;
  };
  if (is_blank(run_id)) return fail("run_id is blank");
  if (is_blank(thread_id)) return fail("thread_id is blank");
  if (is_blank(agent_id)) return fail("agent_id is blank");
  switch (status) {
    case RunStatus::created:
    case RunStatus::running:
      if (waiting) return fail("created/running run carries a waiting state");
      if (outcome) return fail("created/running run carries an outcome");
      if (finished_at) return fail("created/running run carries finished_at");
      break;
    case RunStatus::waiting:
      if (!waiting) return fail("waiting run without a waiting state");
      if (outcome) return fail("waiting run carries an outcome");
      if (finished_at) return fail("waiting run carries finished_at");
      break;
    case RunStatus::done:
      if (!finished_at) return fail("done run without finished_at");
      if (waiting) return fail("done run carries a waiting state");
      break;
  }
  if (activation && activation->intent.thread_id != thread_id)
    return fail("activation intent thread_id differs from the run's");
  if (input && input->thread_id != thread_id) return fail("input thread_id differs from the run's");
  if (output && output->thread_id != thread_id) return fail("output thread_id differs from the run's");
  return true;
}

}  // namespace mbx
