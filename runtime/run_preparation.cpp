#include "runtime/run_preparation.hpp"

#include <functional>

namespace mbx {

namespace {

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

bool has_text(const std::optional<std::string>& s) { return s && !is_blank(*s); }

}  // namespace

Result<void> validate_run_inputs(RunActivation& request) {
  request.intent.thread_id = trimmed(request.intent.thread_id);
  if (request.intent.thread_id.empty()) return validation_error("thread_id must not be empty");
  if (request.messages.empty() && request.control.seeded_decisions.empty())
    return validation_error("messages must not be empty (unless the request carries decisions)");
  if (request.intent.kind == RunKind::hitl_resume && !has_text(request.intent.resume_run_id))
    return validation_error("intent.resume_run_id must be set for a hitl_resume");
  return {};
}

void normalize_run_mode(RunActivation& request, bool background) {
  if (request.trace.run_mode != RunMode::foreground) return;
  if (!request.control.seeded_decisions.empty() || request.intent.resume_id()) {
    request.trace.run_mode = RunMode::resume;
  } else if (request.trace.origin == RunOrigin::internal) {
    request.trace.run_mode = RunMode::internal_wake;
  } else if (background) {
    request.trace.run_mode = RunMode::background;
  }
}

std::string ensure_dispatch_id_hint(RunActivation& request, IdSource& ids) {
  if (!has_text(request.persistence.dispatch_id_hint)) request.persistence.dispatch_id_hint = ids.next_id();
  return *request.persistence.dispatch_id_hint;
}

RunPreparer::RunPreparer(ThreadRunStore& store, const Clock& clock, IdSource& ids, const MailboxConfig& config)
    : store_(store), clock_(clock), ids_(ids), config_(config) {}

std::mutex& RunPreparer::append_lock(const std::string& thread_id) {
  return append_locks_[std::hash<std::string>{}(thread_id) % kAppendStripes];
}

Result<PreparedRun> RunPreparer::prepare(RunActivation& request, const EnqueueWith* enqueue) {
  const std::string thread_id = request.intent.thread_id;
  std::lock_guard<std::mutex> lock(append_lock(thread_id));

  // The thread's latest run, read once: its waiting state (step 1) and, for a new run, its agent
  // and state (step 3). Read under the append lock, like the store's reusable_waiting_run.
  auto previous = store_.latest_run(thread_id);
  if (!previous) return previous.error();
  // 1. HITL: a request that names no run resumes the thread's waiting run.
  if (!request.intent.resume_id() && !has_text(request.persistence.run_id_hint) && *previous &&
      (*previous)->is_resumable_waiting()) {
    request.intent.kind = RunKind::hitl_resume;
    request.intent.resume_run_id = (*previous)->run_id;
    request.trace.run_mode = RunMode::resume;
  }
  // 2. Run id and dispatch id.
  std::string run_id;
  if (auto resume = request.intent.resume_id(); resume && !is_blank(*resume)) {
    run_id = *resume;
  } else if (has_text(request.persistence.run_id_hint)) {
    run_id = *request.persistence.run_id_hint;
  } else {
    run_id = ids_.next_id();
  }
  if (!request.intent.resume_id()) request.persistence.run_id_hint = run_id;
  const std::string dispatch_id = ensure_dispatch_id_hint(request, ids_);
  normalize_message_ids(request.messages, ids_);
  std::vector<std::string> trigger_ids;
  for (const auto& m : request.messages) trigger_ids.push_back(m.id);

  // 3. The run record: existing (must be open) or new. A resumed waiting run is the latest one.
  Result<std::optional<RunRecord>> existing =
      *previous && (*previous)->run_id == run_id ? Result<std::optional<RunRecord>>(*previous) : store_.load_run(run_id);
  if (!existing) return existing.error();
  RunRecord record;
  const auto resolution_hint = request.persistence.resolution_id_hint;
  if (*existing) {
    record = std::move(**existing);
    if (record.thread_id != thread_id)
      return validation_error("run_id '" + run_id + "' belongs to thread '" + record.thread_id + "', not '" +
                              thread_id + "'");
    if (record.status != RunStatus::created && !record.is_resumable_waiting())
      return validation_error("run_id '" + run_id + "' is not open for dispatch");
    if (!request.intent.agent_id) request.intent.agent_id = record.agent_id;
    if (!record.resolution_id) record.resolution_id = has_text(resolution_hint) ? *resolution_hint : run_id;
    record.request.reset();
    record.dispatch_id = dispatch_id;
  } else {
    std::string agent = "default";
    if (has_text(request.intent.agent_id)) {
      agent = *request.intent.agent_id;
    } else if (*previous && (*previous)->status != RunStatus::created && !is_blank((*previous)->agent_id)) {
      agent = (*previous)->agent_id;
    }
    request.intent.agent_id = agent;
    const std::int64_t now_s = clock_.now_s();
    record.run_id = run_id;
    record.thread_id = thread_id;
    record.agent_id = agent;
    record.parent_run_id = request.trace.parent_run_id;
    record.resolution_id = has_text(resolution_hint) ? *resolution_hint : run_id;
    record.status = RunStatus::created;
    record.dispatch_id = dispatch_id;
    record.transport_request_id = request.trace.transport_request_id;
    record.created_at = now_s;
    record.updated_at = now_s;
    if (*previous && (*previous)->status != RunStatus::created) record.state = (*previous)->state;
  }

  // 4. The versioned append, retried under conflict.
  for (std::uint32_t attempt = 0; attempt < config_.append_retries; ++attempt) {
    auto version = store_.committed_version(thread_id);
    if (!version) return version.error();
    const std::uint64_t last_seq = *version + request.messages.size();
    RunMessageInput input;
    input.thread_id = thread_id;
    if (last_seq > 0) input.range = SeqRange{1, last_seq};
    input.trigger_message_ids = trigger_ids;
    RunActivationSnapshot snapshot;
    snapshot.intent = request.intent;
    snapshot.input = input;
    snapshot.options = request.options;
    snapshot.trace = request.trace;
    snapshot.seeded_decisions = request.control.seeded_decisions;
    snapshot.resolution_id = record.resolution_id;
    record.activation = std::move(snapshot);
    record.input = std::move(input);
    record.updated_at = clock_.now_s();
    Error failure;
    if (enqueue != nullptr) {
      auto dispatch = build_dispatch(request, enqueue->available_at_ms);
      if (!dispatch) return dispatch.error();
      const EnqueueOptions* options = &enqueue->options;
      EnqueueOptions starting;
      if (enqueue->start_on_claim && enqueue->options.claim) {
        starting = enqueue->options;
        starting.claim->start_instance_id = ids_.next_id();
        starting.claim->started_run = record;
        start_run_record(*starting.claim->started_run, dispatch->dispatch_id, record.updated_at);
        starting.claim->start_event = run_start_event(record, clock_.now_ms());
        options = &starting;
      }
      auto committed =
          store_.commit_run_enqueue(thread_id, request.messages, *version, record, *dispatch, *options, clock_.now_ms());
      if (committed) {
        PreparedRun prepared{run_id, dispatch_id, committed->version, std::move(committed->dispatch), std::nullopt,
                             std::nullopt};
        if (options->claim && options->claim->started_run && prepared.enqueued->status == DispatchStatus::claimed) {
          prepared.started = std::move(starting.claim->started_run);
          prepared.start_event = std::move(committed->event);
        }
        return prepared;
      }
      failure = committed.error();
    } else {
      auto committed = store_.commit_run_append(thread_id, request.messages, *version, record, nullptr, clock_.now_ms());
      if (committed) return PreparedRun{run_id, dispatch_id, *committed, std::nullopt, std::nullopt, std::nullopt};
      failure = committed.error();
    }
    if (failure.code != Errc::conflict) return failure;
    // Retry only a version conflict: a duplicate dispatch or dedupe key is final.
    auto now_version = store_.committed_version(thread_id);
    if (!now_version) return now_version.error();
    if (*now_version == *version) return failure;
  }
  return internal_error("committed append exhausted " + std::to_string(config_.append_retries) +
                        " retries under version conflict for thread '" + thread_id + "'");
}

void start_run_record(RunRecord& record, const std::string& dispatch_id, std::int64_t now_s) {
  record.status = RunStatus::running;
  record.waiting.reset();
  record.outcome.reset();
  record.finished_at.reset();
  record.termination_reason.reset();
  if (!record.started_at) record.started_at = now_s;
  record.updated_at = now_s;
  record.dispatch_id = dispatch_id;
}

AgentEvent run_start_event(const RunRecord& run, std::int64_t now_ms) {
  AgentEvent e;
  e.type = AgentEventType::run_start;
  e.run_id = run.run_id;
  e.thread_id = run.thread_id;
  e.parent_run_id = run.parent_run_id;
  e.at_ms = now_ms;
  return e;
}

Result<RunDispatch> RunPreparer::build_dispatch(const RunActivation& request, std::int64_t available_at_ms) const {
  std::optional<std::string> run_id = request.intent.resume_id();
  if (!run_id || is_blank(*run_id)) run_id = request.persistence.run_id_hint;
  if (!run_id || is_blank(*run_id)) return internal_error("run_id missing after preparation");
  const std::string dispatch_id =
      has_text(request.persistence.dispatch_id_hint) ? *request.persistence.dispatch_id_hint : ids_.next_id();
  const std::int64_t now = clock_.now_ms();
  auto d = RunDispatch::queued(dispatch_id, request.intent.thread_id, *run_id, now);
  d.available_at = available_at_ms;
  d.max_attempts = config_.default_max_attempts;
  return d;
}

}  // namespace mbx
