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
  // A run whose end is written is no longer active, though its thread lets go of it a moment later.
  auto run = store_.load_run(run_id);
  if (run && *run && (*run)->status == RunStatus::done) return std::optional<RunRecord>();
  return run;
}

Result<std::shared_ptr<const ThreadContext>> Mailbox::Engine::thread_context(const std::string& thread_id) {
  std::shared_ptr<const ThreadContext> cached;
  {
    std::lock_guard<std::mutex> lock(contexts_mu_);
    if (auto it = contexts_.find(thread_id); it != contexts_.end()) cached = it->second;
  }
  const std::uint64_t from = cached ? cached->version + 1 : 1;
  auto newer = store_.load_committed_messages(thread_id, from, 0);
  if (!newer) return newer.error();
  if (cached && newer->empty()) return cached;
  auto fresh = std::make_shared<ThreadContext>();
  fresh->thread_id = thread_id;
  if (cached) fresh->messages = cached->messages;  // the log only grows: keep what was read
  for (auto& r : *newer) fresh->messages.push_back(std::move(r));
  fresh->version = fresh->messages.empty() ? 0 : fresh->messages.back().seq;
  std::shared_ptr<const ThreadContext> result = fresh;
  std::lock_guard<std::mutex> lock(contexts_mu_);
  auto& slot = contexts_[thread_id];
  if (!slot || slot->version < result->version) slot = result;
  return result;
}

void Mailbox::Engine::thread_idle(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  contexts_.erase(thread_id);
}

std::string Mailbox::Engine::metrics_text() {
  std::map<std::string, std::uint64_t> depth;
  if (auto counts = store_.count_dispatches_by_status(); counts)
    for (std::size_t i = 0; i < counts->size(); ++i)
      depth[std::string(to_string(static_cast<DispatchStatus>(i)))] = (*counts)[i];
  return metrics_.prometheus_text(depth);
}

}  // namespace mbx
