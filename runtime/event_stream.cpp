#include "runtime/event_stream.hpp"

#include "runtime/detail/run_event_hub.hpp"

#include <thread>

namespace mbx {

namespace {
constexpr std::uint32_t kLogPage = 256;
constexpr auto kRemotePoll = std::chrono::milliseconds(20);
}  // namespace

EventStream::EventStream(std::shared_ptr<detail::RunEventHub> hub, ThreadRunStore* store, std::string run_id,
                         std::uint64_t after_seq)
    : hub_(std::move(hub)), store_(store), run_id_(std::move(run_id)), last_seq_(after_seq), finished_(false) {}

Result<bool> EventStream::prefetch_from_log() {
  auto events = store_->read_events(run_id_, last_seq_, kLogPage);
  if (!events) return events.error();
  for (auto& e : *events) prefetched_.push_back(std::move(e));
  return !events->empty();
}

Result<bool> EventStream::run_has_stopped() {
  auto run = store_->load_run(run_id_);
  if (!run) return run.error();
  if (!*run) return true;  // unknown run: nothing will ever come
  return (*run)->status == RunStatus::done || (*run)->status == RunStatus::waiting;
}

Result<std::optional<AgentEvent>> EventStream::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!prefetched_.empty()) {
      AgentEvent e = std::move(prefetched_.front());
      prefetched_.pop_front();
      last_seq_ = e.seq;
      return std::optional<AgentEvent>(std::move(e));
    }
    if (finished_ || store_ == nullptr) {
      finished_ = true;
      return std::optional<AgentEvent>();
    }
    if (hub_) {
      AgentEvent e;
      switch (hub_->poll(last_seq_, &e)) {
        case detail::RunEventHub::Poll::ready:
          last_seq_ = e.seq;
          return std::optional<AgentEvent>(std::move(e));
        case detail::RunEventHub::Poll::gap: {
          auto got = prefetch_from_log();
          if (!got) return got.error();
          continue;
        }
        case detail::RunEventHub::Poll::closed: {
          auto got = prefetch_from_log();  // anything written after the hub closed (finalization)
          if (!got) return got.error();
          if (!*got) finished_ = true;
          continue;
        }
        case detail::RunEventHub::Poll::empty:
          if (std::chrono::steady_clock::now() >= deadline) return std::optional<AgentEvent>();
          hub_->wait(last_seq_, deadline);
          continue;
      }
    }
    // No live hub here: the run finished, waits, or runs on another node. Read the log.
    auto got = prefetch_from_log();
    if (!got) return got.error();
    if (*got) continue;
    auto stopped = run_has_stopped();
    if (!stopped) return stopped.error();
    if (*stopped) {
      auto again = prefetch_from_log();  // events written between the read and the status check
      if (!again) return again.error();
      if (!*again) finished_ = true;
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::optional<AgentEvent>();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kRemotePoll, deadline - now));
  }
}

Result<std::vector<AgentEvent>> EventStream::collect(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<AgentEvent> out;
  while (!finished()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto e = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!e) return e.error();
    if (*e) out.push_back(std::move(**e));
  }
  return out;
}

}  // namespace mbx
