// Queries: event streams (attach / reattach by seq), the active run of a thread, metrics.
#include "runtime/detail/engine.hpp"

namespace mbx {

Result<EventStream> Mailbox::Engine::attach(const std::string& run_id, std::uint64_t after_seq) {
  if (auto run = find_by_run(run_id)) return EventStream(run->hub, &store_, run_id, after_seq);
  auto record = store_.load_run(run_id);
  if (!record) return record.error();
  if (!*record) return not_found_error("run '" + run_id + "' not found");
  return EventStream(nullptr, &store_, run_id, after_seq);
}

Result<std::optional<RunRecord>> Mailbox::Engine::active_run(const std::string& thread_id) {
  std::string run_id;
  if (auto run = find_by_thread(thread_id)) {
    run_id = run->dispatch.run_id;
  } else {
    auto claimed = store_.list_dispatches(thread_id, {DispatchStatus::claimed}, 0, 1, false);
    if (!claimed) return claimed.error();
    if (claimed->items.empty()) return std::optional<RunRecord>();
    run_id = claimed->items.front().run_id;
  }
  return store_.load_run(run_id);
}

std::string Mailbox::Engine::metrics_text() {
  std::map<std::string, std::uint64_t> depth;
  if (auto counts = store_.count_dispatches_by_status(); counts)
    for (std::size_t i = 0; i < counts->size(); ++i)
      depth[std::string(to_string(static_cast<DispatchStatus>(i)))] = (*counts)[i];
  return metrics_.prometheus_text(depth);
}

}  // namespace mbx
