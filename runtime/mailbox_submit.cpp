// The submit flows of the seed (submit, submit_background, submit_durable_message,
// submit_live_then_queue) plus the multitask strategies, idempotency keys, the queue bound and
// HITL decisions. They run on the caller's thread and block on synced store writes; the claimed
// dispatch is then handed to its thread's worker actor, which runs it on the run pool.
#include "runtime/detail/engine.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mbx {

namespace {

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string messages_fingerprint(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) {
    out += fmt::format("{}|{}|{}|{}|", to_string(m.role), m.content.size(), m.content, m.tool_call_id.value_or(""));
    for (const auto& c : m.tool_calls) out += fmt::format("{}:{}:{};", c.id, c.name, c.arguments.json);
    out += '\n';
  }
  return out;
}

std::string request_fingerprint(const RunActivation& r, MultitaskStrategy strategy) {
  std::string out = fmt::format("strategy={}|agent={}|kind={}|resume={}\n", static_cast<int>(strategy),
                                r.intent.agent_id.value_or(""), to_string(r.intent.kind),
                                r.intent.resume_run_id.value_or(""));
  out += messages_fingerprint(r.messages);
  for (const auto& d : r.control.seeded_decisions)
    out += fmt::format("decision {}|{}|{}\n", d.tool_call_id, to_string(d.resume.action), d.resume.result.json);
  return out;
}

Error stopping_error() { return internal_error("mailbox is stopping; submission refused"); }

// A run its own submit closed (lost claim race; "enqueue failed" is what earlier versions wrote
// for a refused enqueue, which now writes nothing): nothing of it ever ran.
bool closed_by_failed_submit(const RunRecord& run) {
  if (run.status != RunStatus::done || !run.termination_reason) return false;
  const auto& t = *run.termination_reason;
  return t.kind == TerminationKind::cancelled &&
         (t.detail == "enqueue failed" || t.detail == "inline dispatch cancelled after claim race");
}

}  // namespace

// -- entry points ------------------------------------------------------------------------------

Result<Submission> Mailbox::Engine::submit(RunActivation request, const SubmitOptions& options) {
  return submit_any(std::move(request), options, options.strategy.value_or(MultitaskStrategy::interrupt));
}

Result<SubmitResult> Mailbox::Engine::submit_background(RunActivation request, const SubmitOptions& options) {
  auto r = submit_any(std::move(request), options, options.strategy.value_or(MultitaskStrategy::enqueue));
  if (!r) return r.error();
  return r->result;
}

Result<SubmitResult> Mailbox::Engine::submit_live_then_queue(RunActivation request,
                                                             std::optional<std::string> expected_run_id,
                                                             const SubmitOptions& options) {
  SubmitOptions o = options;
  o.expected_run_id = std::move(expected_run_id);
  auto r = submit_any(std::move(request), o, MultitaskStrategy::steer);
  if (!r) return r.error();
  return r->result;
}

Result<Submission> Mailbox::Engine::submit_any(RunActivation request, const SubmitOptions& options,
                                               MultitaskStrategy strategy) {
  if (stopping_.load()) return stopping_error();
  if (auto v = validate_run_inputs(request); !v) return v.error();
  const std::string& thread_id = request.intent.thread_id;

  // Idempotency: replay the original result, or refuse a different request under the same key.
  // The key's lock is held only to check and mark it; the submit itself runs unlocked.
  std::string scope_key;
  std::string fingerprint;
  if (options.idempotency_key) {
    if (is_blank(*options.idempotency_key)) return validation_error("idempotency_key must not be blank");
    scope_key = thread_id + '\n' + *options.idempotency_key;
    fingerprint = request_fingerprint(request, strategy);
    std::lock_guard<std::mutex> key_lock(idempotency_lock(scope_key));
    std::string derived_run_id;
    auto replay = idempotent_replay(scope_key, fingerprint, request, &derived_run_id);
    if (!replay) return replay.error();
    if (*replay) {
      auto events = attach((*replay)->run_id, 0);
      if (!events) return events.error();
      return Submission{**replay, std::move(*events)};
    }
    if (!derived_run_id.empty()) request.persistence.run_id_hint = derived_run_id;
    std::lock_guard<std::mutex> lock(idempotency_mu_);
    idempotency_[scope_key] = IdempotencyEntry{fingerprint, SubmitResult{}, now_ms() + config_.idempotency_window_ms, true};
  }
  struct KeyRelease {  // a failed submit forgets the key, so the client can retry it
    Engine* engine;
    const std::string* key;
    bool keep = false;
    ~KeyRelease() {
      if (key->empty() || keep) return;
      std::lock_guard<std::mutex> lock(engine->idempotency_mu_);
      auto it = engine->idempotency_.find(*key);
      if (it != engine->idempotency_.end() && it->second.in_progress) engine->idempotency_.erase(it);
    }
  } key_release{this, &scope_key};

  Result<Submission> outcome = internal_error("unreachable");
  switch (strategy) {
    case MultitaskStrategy::interrupt:
      outcome = submit_foreground(std::move(request));
      break;
    case MultitaskStrategy::reject: {
      auto claimed = store_.list_dispatches(thread_id, {DispatchStatus::claimed}, 0, 1, false);
      if (!claimed) return claimed.error();
      if (claimed->total > 0 || find_by_thread(thread_id))
        return conflict_error("thread '" + thread_id + "' has an active run (multitask strategy reject)");
      outcome = submit_foreground(std::move(request), /*interrupt=*/false);  // the inline claim decides
      break;
    }
    case MultitaskStrategy::enqueue:
    case MultitaskStrategy::steer: {
      Result<SubmitResult> r = internal_error("unreachable");
      if (strategy == MultitaskStrategy::steer) {
        auto active = find_by_thread(thread_id);
        if (active && (!options.expected_run_id || *options.expected_run_id == active->dispatch.run_id)) {
          normalize_message_ids(request.messages, ids_);
          auto live = deliver_live(active, request.messages);
          if (!live) return live.error();
          if (*live) {
            metrics_.live_delivery("delivered");
            outcome = Submission{**live, EventStream(active->hub, &store_, active->dispatch.run_id, 0)};
            break;
          }
        }
        metrics_.live_delivery("fallback");
      }
      const bool resume = request.intent.kind == RunKind::hitl_resume;
      std::uint64_t start_seq = 0;
      r = background_flow(std::move(request), start_seq);
      if (!r) {
        outcome = r.error();
        break;
      }
      auto events = attach(r->run_id, stream_start(r->run_id, start_seq, resume));
      if (!events) return events.error();
      outcome = Submission{*r, std::move(*events)};
      break;
    }
  }
  metrics_.submitted(strategy == MultitaskStrategy::interrupt || strategy == MultitaskStrategy::reject ? "foreground"
                     : strategy == MultitaskStrategy::steer                                            ? "steer"
                                                                                                       : "background",
                     outcome ? "ok" : std::string(to_string(outcome.error().code)));
  if (outcome && options.idempotency_key) {
    remember_idempotent(scope_key, fingerprint, outcome->result);
    key_release.keep = true;
  }
  return outcome;
}

// -- foreground --------------------------------------------------------------------------------

Result<Submission> Mailbox::Engine::submit_foreground(RunActivation request, bool interrupt) {
  normalize_run_mode(request, false);
  const std::string thread_id = request.intent.thread_id;
  // Pending-message barriers (spec section 7) are not implemented, so there is no preflight.
  if (interrupt && thread_has_work(thread_id)) {
    // Deferred: the enqueue below is synced, and the log keeps no write without the earlier ones.
    auto interrupted =
        request_interrupt(thread_id, "queued dispatch superseded by foreground submit", Durability::deferred);
    if (!interrupted) return interrupted.error();
  }

  ensure_dispatch_id_hint(request, ids_);
  // Prepared, enqueued and claimed inline in one write when the thread has no claimed dispatch.
  // Otherwise it is enqueued behind the inline-claim guard (no other consumer takes it before
  // our claim, and a crash between enqueue and claim is recovered by the wake-up after the
  // guard) and claimed inline in a second step, which is where the claim race is decided.
  // On an idle thread the write also starts the run, so run_start is in the stream on return.
  EnqueueWith enqueue;
  enqueue.available_at_ms = now_ms() + config_.inline_claim_guard_ms;
  enqueue.options.max_queued_per_thread = config_.max_queued_per_thread;
  enqueue.options.claim = inline_claim(false);
  enqueue.start_on_claim = true;
  ActiveRunPtr run;
  std::uint64_t start_seq = 0;
  auto prepared = prepare_and_claim(request, enqueue, run, start_seq);
  if (!prepared) return prepared.error();
  const RunDispatch* dispatch = &*prepared->enqueued;
  if (!run) {
    std::lock_guard<std::mutex> lock(claim_lock(thread_id));
    auto claimed = store_.claim_dispatch(dispatch->dispatch_id, config_.consumer_id, config_.lease_ms, now_ms());
    if (!claimed) return claimed.error();  // still Queued behind its guard: the wake-up recovers it
    if (*claimed) run = register_claimed(**claimed);
  }
  if (run) {
    const std::uint64_t after = stream_start(prepared->run_id, start_seq, request.intent.kind == RunKind::hitl_resume);
    hand_to_worker(run->dispatch);
    spdlog::info("run {} thread {}: claimed inline (dispatch {})", prepared->run_id, thread_id,
                 dispatch->dispatch_id);
    return Submission{SubmitResult{dispatch->dispatch_id, prepared->run_id, thread_id, SubmitStatus::running, false},
                      EventStream(run->hub, &store_, prepared->run_id, after)};
  }
  // Lost a race for the thread (another submit claimed first): cancel our own dispatch.
  auto cancelled = store_.cancel(dispatch->dispatch_id, now_ms());
  if (cancelled && *cancelled) {
    std::ignore = finalize_stopped_run(
        prepared->run_id, TerminationReason{TerminationKind::cancelled, {}, "inline dispatch cancelled after claim race"},
        false);  // best effort: recovery closes runs of terminal dispatches
  } else if (cancelled) {
    if (auto d = store_.load_dispatch(dispatch->dispatch_id); d && *d) reconcile_terminal_dispatch(**d);
  } else {
    spdlog::warn("dispatch {}: cancel after a lost inline claim failed: {}", dispatch->dispatch_id,
                 describe(cancelled.error()));
  }
  return conflict_error(kActiveRunConflictMessage);
}

// -- background --------------------------------------------------------------------------------

Result<PreparedRun> Mailbox::Engine::prepare_and_claim(RunActivation& request, const EnqueueWith& enqueue,
                                                       ActiveRunPtr& run, std::uint64_t& start_seq) {
  // Under the thread's claim lock, like every claim: an interrupt that sees the claim in the
  // store also finds it registered.
  start_seq = 0;
  std::lock_guard<std::mutex> lock(claim_lock(request.intent.thread_id));
  auto prepared = preparer_.prepare(request, &enqueue);
  if (!prepared || !prepared->enqueued || prepared->enqueued->status != DispatchStatus::claimed) return prepared;
  auto claimed = std::make_shared<detail::ActiveRun>(*prepared->enqueued, config_.event_channel_capacity);
  if (prepared->started) {
    claimed->instance_id = prepared->enqueued->dispatch_instance_id.value_or("");
    start_seq = announce_start(claimed, *prepared->started, prepared->start_event);
  }
  run = register_run(std::move(claimed));
  return prepared;
}

InlineClaim Mailbox::Engine::inline_claim(bool only_if_no_queued) const {
  InlineClaim claim;
  claim.consumer = config_.consumer_id;
  claim.lease_ms = config_.lease_ms;
  claim.only_if_no_queued = only_if_no_queued;
  return claim;
}

bool Mailbox::Engine::thread_has_work(const std::string& thread_id) {
  // A thread with nothing queued and nothing claimed has nothing to interrupt: the foreground
  // submit skips the interrupt (a synced write and a round trip to the supervisor). Work that
  // arrives after this read is ordered behind ours, as it would be after an interrupt. A failed
  // read interrupts anyway.
  auto state = store_.thread_state(thread_id);
  return !state || state->queued > 0 || state->claimed_dispatch_id.has_value();
}

Result<SubmitResult> Mailbox::Engine::background_flow(RunActivation request, std::uint64_t& start_seq) {
  normalize_run_mode(request, true);
  const std::string thread_id = request.intent.thread_id;
  ensure_dispatch_id_hint(request, ids_);
  // Prepared and enqueued in one write (a refused enqueue leaves no run and no message), and
  // claimed in it too when the thread is idle (nothing claimed, nothing else queued).
  EnqueueWith enqueue;
  enqueue.available_at_ms = now_ms();
  enqueue.options.max_queued_per_thread = config_.max_queued_per_thread;
  if (!stopping_.load()) enqueue.options.claim = inline_claim(true);
  enqueue.start_on_claim = true;
  ActiveRunPtr run;
  auto prepared = prepare_and_claim(request, enqueue, run, start_seq);
  if (!prepared) return prepared.error();
  const RunDispatch* dispatch = &*prepared->enqueued;
  SubmitResult result{dispatch->dispatch_id, prepared->run_id, thread_id, SubmitStatus::queued, false};
  if (run) {
    hand_to_worker(run->dispatch);
    result.status = SubmitStatus::running;
    return result;
  }
  auto claimed = claim_next(thread_id);
  if (claimed && *claimed) {
    hand_to_worker(**claimed);
    if ((*claimed)->dispatch_id == dispatch->dispatch_id) result.status = SubmitStatus::running;
  } else if (!claimed) {
    nudge_thread(thread_id);  // let the worker retry
  }
  return result;
}

Result<std::string> Mailbox::Engine::submit_durable_message(const DurableMessage& message) {
  if (is_blank(message.message_id)) return validation_error("message_id must not be blank");
  const std::string run_id = "durable-msg-" + message.message_id;
  std::lock_guard<std::mutex> lock(durable_locks_[fnv1a(run_id) % durable_locks_.size()]);
  auto existing = store_.load_run(run_id);
  if (!existing) return existing.error();
  if (*existing) {
    if (closed_by_failed_submit(**existing))
      return conflict_error("durable message '" + message.message_id + "' was refused earlier (" +
                            (*existing)->termination_reason->detail + "); send it with a new message id");
    return (*existing)->dispatch_id.value_or(run_id);
  }

  Message m;
  m.id = message.message_id;
  m.role = Role::user;
  m.content = message.content;
  m.metadata.sender_agent_id = message.sender_agent_id;
  RunActivation request;
  request.intent.thread_id = message.recipient_thread_id;
  request.intent.agent_id = message.recipient_agent_id;
  request.messages.push_back(std::move(m));
  request.trace.origin = RunOrigin::internal;
  request.persistence.run_id_hint = run_id;
  request.persistence.dispatch_id_hint = message.message_id;
  auto r = submit_any(std::move(request), SubmitOptions{}, MultitaskStrategy::enqueue);
  if (!r) return r.error();
  return r->result.dispatch_id;
}

// -- live input --------------------------------------------------------------------------------

Result<std::optional<SubmitResult>> Mailbox::Engine::deliver_live(const ActiveRunPtr& run,
                                                                  std::vector<Message> messages) {
  std::lock_guard<std::mutex> lock(run->write_mu);
  if (!run->accepts_live_input || !run->record) return std::optional<SubmitResult>();
  const auto& d = run->dispatch;
  for (std::uint32_t attempt = 0; attempt < config_.append_retries; ++attempt) {
    auto version = store_.committed_version(d.thread_id);
    if (!version) return version.error();
    auto committed = store_.commit_run_append(d.thread_id, messages, *version, *run->record, &run->fence, now_ms());
    if (committed) {
      for (auto& m : messages) run->live_inbox.push_back(std::move(m));
      return std::optional<SubmitResult>(SubmitResult{d.dispatch_id, d.run_id, d.thread_id, SubmitStatus::running});
    }
    if (committed.error().code == Errc::fenced) return std::optional<SubmitResult>();  // the run lost its claim
    if (committed.error().code != Errc::conflict) return committed.error();
  }
  return internal_error(fmt::format("live delivery exhausted {} retries under version conflict for thread '{}'",
                                    config_.append_retries, d.thread_id));
}

Result<SubmitResult> Mailbox::Engine::queue_followup_run(const std::string& thread_id,
                                                         const std::vector<std::string>& message_ids) {
  // The messages are committed already: a new run whose trigger is those messages.
  auto previous = store_.latest_run(thread_id);
  if (!previous) return previous.error();
  auto version = store_.committed_version(thread_id);
  if (!version) return version.error();
  RunRecord record;
  record.run_id = ids_.next_id();
  record.thread_id = thread_id;
  record.agent_id = *previous ? (*previous)->agent_id : "default";
  record.resolution_id = record.run_id;
  record.dispatch_id = ids_.next_id();
  record.created_at = record.updated_at = clock_.now_s();
  if (*previous) record.state = (*previous)->state;
  RunActivationSnapshot snapshot;
  snapshot.intent.thread_id = thread_id;
  snapshot.intent.agent_id = record.agent_id;
  snapshot.input.thread_id = thread_id;
  snapshot.input.range = SeqRange{1, std::max<std::uint64_t>(*version, 1)};
  snapshot.input.trigger_message_ids = message_ids;
  snapshot.trace.run_mode = RunMode::background;
  snapshot.resolution_id = record.resolution_id;
  record.input = snapshot.input;
  record.activation = std::move(snapshot);
  auto d = RunDispatch::queued(*record.dispatch_id, thread_id, record.run_id, now_ms());
  d.max_attempts = config_.default_max_attempts;
  // The run and its dispatch in one write; not bounded: these messages were already accepted.
  auto committed = store_.commit_run_enqueue(thread_id, {}, std::nullopt, record, d, EnqueueOptions{}, now_ms());
  if (!committed) return committed.error();
  nudge_thread(thread_id);
  return SubmitResult{d.dispatch_id, record.run_id, thread_id, SubmitStatus::queued};
}

// -- HITL --------------------------------------------------------------------------------------

Result<SubmitResult> Mailbox::Engine::decide(const std::string& run_id, const std::string& tool_call_id,
                                             ToolCallResume decision) {
  auto run = store_.load_run(run_id);
  if (!run) return run.error();
  if (!*run) return not_found_error("run '" + run_id + "' not found");
  if (!(*run)->is_resumable_waiting()) return validation_error("run '" + run_id + "' is not waiting for a decision");
  const auto& tickets = (*run)->waiting->tickets;
  if (!tickets.empty() && std::none_of(tickets.begin(), tickets.end(),
                                       [&](const WaitingTicket& t) { return t.tool_call_id == tool_call_id; }))
    return validation_error("run '" + run_id + "' does not wait on tool call '" + tool_call_id + "'");
  // One resume at a time: a second decision while the first is queued would overwrite it.
  std::lock_guard<std::mutex> lock(durable_locks_[fnv1a(run_id) % durable_locks_.size()]);
  auto pending = store_.list_dispatches((*run)->thread_id, {DispatchStatus::queued, DispatchStatus::claimed}, 0, 0, false);
  if (!pending) return pending.error();
  for (const auto& d : pending->items)
    if (d.run_id == run_id) return conflict_error("run '" + run_id + "' already has a resume pending");
  RunActivation request;
  request.intent.thread_id = (*run)->thread_id;
  request.intent.kind = RunKind::hitl_resume;
  request.intent.resume_run_id = run_id;
  request.control.seeded_decisions.push_back(SeededDecision{tool_call_id, std::move(decision)});
  return submit_background(std::move(request), SubmitOptions{});
}

// -- idempotency -------------------------------------------------------------------------------

std::mutex& Mailbox::Engine::idempotency_lock(const std::string& scope_key) {
  return idempotency_locks_[fnv1a(scope_key) % idempotency_locks_.size()];
}

Result<std::optional<SubmitResult>> Mailbox::Engine::idempotent_replay(const std::string& scope_key,
                                                                       const std::string& fingerprint,
                                                                       const RunActivation& request,
                                                                       std::string* derived_run_id) {
  const std::int64_t now = now_ms();
  {
    std::lock_guard<std::mutex> lock(idempotency_mu_);
    auto it = idempotency_.find(scope_key);
    if (it != idempotency_.end() && it->second.expires_at_ms > now) {
      if (it->second.fingerprint != fingerprint)
        return conflict_error("idempotency key already used with a different request");
      if (it->second.in_progress)
        return conflict_error("a request with this idempotency key is still in progress; retry later");
      SubmitResult r = it->second.result;
      r.replayed = true;
      return std::optional<SubmitResult>(r);
    }
  }
  // Not in memory (a restart, or never seen): the key's run id is derived from it, so a run
  // created under it before a restart is found in the store.
  auto waiting = store_.reusable_waiting_run(request.intent.thread_id);
  if (!waiting) return waiting.error();
  if (*waiting || request.intent.resume_id() || request.persistence.run_id_hint) return std::optional<SubmitResult>();
  // The key's run id is derived from it; a run under it that was closed by its own submit's
  // failure (lost claim race, refused enqueue) does not count: the retry takes the next id.
  Result<std::optional<RunRecord>> run = std::optional<RunRecord>();
  for (int generation = 0;; ++generation) {
    if (generation == 8) return conflict_error("idempotency key was refused too often; use a new key");
    *derived_run_id = generation == 0 ? fmt::format("idem-{:016x}", fnv1a(scope_key))
                                      : fmt::format("idem-{:016x}-{}", fnv1a(scope_key), generation);
    run = store_.load_run(*derived_run_id);
    if (!run) return run.error();
    if (!*run) return std::optional<SubmitResult>();
    if (!closed_by_failed_submit(**run)) break;
  }
  if ((*run)->created_at * 1000 + config_.idempotency_window_ms < now) {
    derived_run_id->clear();  // the key expired: a new request with fresh ids
    return std::optional<SubmitResult>();
  }
  std::vector<Message> stored;
  if ((*run)->activation)
    for (const auto& id : (*run)->activation->input.trigger_message_ids) {
      auto rec = store_.load_message_record((*run)->thread_id, id);
      if (!rec) return rec.error();
      if (*rec) stored.push_back((*rec)->message);
    }
  if (messages_fingerprint(stored) != messages_fingerprint(request.messages))
    return conflict_error("idempotency key already used with a different request");
  SubmitResult r{(*run)->dispatch_id.value_or(""), (*run)->run_id, (*run)->thread_id, SubmitStatus::queued, true};
  if ((*run)->dispatch_id) {
    auto d = store_.load_dispatch(*(*run)->dispatch_id);
    if (!d) return d.error();
    if (*d && (*d)->status != DispatchStatus::queued) r.status = SubmitStatus::running;
  }
  return std::optional<SubmitResult>(r);
}

void Mailbox::Engine::remember_idempotent(const std::string& scope_key, const std::string& fingerprint,
                                          const SubmitResult& result) {
  std::lock_guard<std::mutex> lock(idempotency_mu_);
  idempotency_[scope_key] = IdempotencyEntry{fingerprint, result, now_ms() + config_.idempotency_window_ms, false};
}

std::uint64_t Mailbox::Engine::stream_start(const std::string& run_id, std::uint64_t start_seq, bool resumed) {
  // A resumed run keeps its id and its log: its stream starts after the earlier events, at its
  // new run_start when the submit's write started it.
  if (start_seq > 0) return start_seq - 1;
  return resumed ? event_count(run_id) : 0;
}

std::uint64_t Mailbox::Engine::event_count(const std::string& run_id) {
  auto events = store_.read_events(run_id, 0, 0);  // seqs are 1..n
  return events && !events->empty() ? events->back().seq : 0;
}

}  // namespace mbx
