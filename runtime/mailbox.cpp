// Mailbox: construction, start/stop, the registry of active runs, and the forwarding of the
// public API to the Engine. See runtime/detail/engine.hpp for the split of the flows.
#include "runtime/mailbox.hpp"

#include "actors/actor_system.hpp"
#include "actors/lease_keeper.hpp"
#include "actors/supervisor.hpp"
#include "actors/sweeper.hpp"
#include "messages/type_ids.hpp"
#include "runtime/detail/engine.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <functional>

namespace mbx {

std::string_view to_string(SubmitStatus status) noexcept {
  return status == SubmitStatus::running ? "running" : "queued";
}

// -- Engine: lifecycle -------------------------------------------------------------------------

Mailbox::Engine::Engine(Store& store, Executor& executor, MailboxConfig config, const Clock& clock, IdSource& ids)
    : user_store_(store),
      store_(store, metrics_),
      executor_(executor),
      config_(std::move(config)),
      clock_(clock),
      ids_(ids),
      preparer_(store_, clock, ids, config_) {}

Mailbox::Engine::~Engine() { stop(); }

Result<void> Mailbox::Engine::start() {
  if (auto r = recover(); !r) return r;
  io_pool_ = std::make_unique<BlockingPool>("mailbox-io", config_.io_threads);
  run_pool_ = std::make_unique<BlockingPool>("mailbox-run", config_.run_threads);
  lease_pool_ = std::make_unique<BlockingPool>("mailbox-lease", 1);
  maintenance_pool_ = std::make_unique<BlockingPool>("mailbox-maint", 1);
  interrupt_pool_ = std::make_unique<BlockingPool>("mailbox-intr", config_.interrupt_threads);
  actor_config_ = std::make_unique<caf::actor_system_config>();
  configure_actor_system(*actor_config_);
  actor_config_->set("logger.verbosity", caf::atom("quiet"));
  // Work sharing: idle scheduler threads wait on a condition variable and wake at once. CAF's
  // default work stealing polls, and an idle worker sleeps up to 10 ms between polls, which
  // added up to that to every actor hop of a submit on a quiet node.
  actor_config_->set("scheduler.policy", caf::atom("sharing"));
  // The actors never block (every store call runs on a pool), so one scheduler thread keeps up;
  // a second one mostly adds wake-ups: each message sent from a pool thread woke whichever
  // scheduler thread slept (docs/benchmarks.md: about 15% less CPU per dispatch with one).
  actor_config_->set("scheduler.max-threads", static_cast<std::size_t>(config_.actor_threads));
  actor_system_ = std::make_unique<caf::actor_system>(*actor_config_);
  EngineRefs refs{this,
                  io_pool_.get(),
                  run_pool_.get(),
                  lease_pool_.get(),
                  maintenance_pool_.get(),
                  interrupt_pool_.get(),
                  config_.idle_worker_linger_ms,
                  config_.max_idle_workers};
  supervisor_ = actor_system_->spawn(supervisor, refs);
  lease_keeper_ = actor_system_->spawn(lease_keeper, refs, config_.lease_renewal_interval_ms);
  // Before the sweeper exists: the one maintenance thread checks the open runs first, so no
  // purge can delete the terminal dispatch of a run that the check has yet to close.
  if (!recovery_run_ids_.empty())
    maintenance_pool_->post([this, ids = std::move(recovery_run_ids_)] { check_open_runs(ids); });
  recovery_run_ids_.clear();
  EngineIntervals intervals{config_.lease_renewal_interval_ms, config_.sweep_interval_ms, config_.gc_interval_ms};
  sweeper_ = actor_system_->spawn(sweeper, refs, supervisor_, intervals);
  started_ = true;
  caf::anon_send(supervisor_, wake_atom::value);  // start every thread with queued work
  spdlog::info("mailbox: started consumer '{}'", config_.consumer_id);
  return {};
}

void Mailbox::Engine::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  // Runs: those not started yet are released at once, running ones are asked to stop.
  auto runs = active_snapshot();
  for (auto& run : runs) {
    if (run->take_over_if_pending(detail::CancelReason::shutdown)) {
      release_for_shutdown(run);
      run->hub->close();
      unregister(run);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.shutdown_wait_ms);
  for (auto& run : runs) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!run->wait_stopped(std::max(left, std::chrono::milliseconds(0))))
      spdlog::warn("mailbox: run '{}' did not stop within {} ms; its lease will expire",
                   run->dispatch.run_id, config_.shutdown_wait_ms);
  }
  // Interrupts first: they wait for runs, which have been asked to stop above.
  for (auto* pool : {interrupt_pool_.get(), io_pool_.get(), run_pool_.get(), lease_pool_.get(), maintenance_pool_.get()})
    pool->stop();
  std::lock_guard<std::mutex> lock(actors_mu_);
  for (auto* a : {&supervisor_, &lease_keeper_, &sweeper_}) caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  supervisor_ = caf::actor();
  lease_keeper_ = caf::actor();
  sweeper_ = caf::actor();
  {
    // A caller still waiting on the supervisor gets its answer (or the supervisor's exit) soon.
    std::unique_lock<std::mutex> requests(requests_mu_);
    requests_cv_.wait(requests, [this] { return requests_in_flight_ == 0; });
  }
  actor_system_.reset();  // waits for every actor
  spdlog::info("mailbox: stopped consumer '{}'", config_.consumer_id);
}

// -- Engine: registry --------------------------------------------------------------------------

std::mutex& Mailbox::Engine::claim_lock(const std::string& thread_id) {
  return claim_locks_[std::hash<std::string>{}(thread_id) % kStripes];
}

Mailbox::Engine::ActiveRunPtr Mailbox::Engine::register_claimed(const RunDispatch& claimed) {
  return register_run(std::make_shared<detail::ActiveRun>(claimed, config_.event_channel_capacity));
}

Mailbox::Engine::ActiveRunPtr Mailbox::Engine::register_run(ActiveRunPtr run) {
  const std::string& token = run->fence.claim_token;
  std::lock_guard<std::mutex> lock(active_mu_);
  active_by_claim_[token] = run;
  active_by_thread_[run->dispatch.thread_id] = token;
  active_by_run_[run->dispatch.run_id] = token;
  return run;
}

void Mailbox::Engine::unregister(const ActiveRunPtr& run) {
  const std::string& token = run->fence.claim_token;
  std::lock_guard<std::mutex> lock(active_mu_);
  auto it = active_by_claim_.find(token);
  if (it == active_by_claim_.end() || it->second != run) return;
  const auto& d = run->dispatch;
  if (auto t = active_by_thread_.find(d.thread_id); t != active_by_thread_.end() && t->second == token)
    active_by_thread_.erase(t);
  if (auto r = active_by_run_.find(d.run_id); r != active_by_run_.end() && r->second == token)
    active_by_run_.erase(r);
  active_by_claim_.erase(it);
}

Mailbox::Engine::ActiveRunPtr Mailbox::Engine::find_claim(const RunDispatch& claimed) {
  if (!claimed.claim_token) return nullptr;
  std::lock_guard<std::mutex> lock(active_mu_);
  auto it = active_by_claim_.find(*claimed.claim_token);
  return it == active_by_claim_.end() ? nullptr : it->second;
}

Mailbox::Engine::ActiveRunPtr Mailbox::Engine::find_by_thread(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(active_mu_);
  auto it = active_by_thread_.find(thread_id);
  if (it == active_by_thread_.end()) return nullptr;
  auto jt = active_by_claim_.find(it->second);
  return jt == active_by_claim_.end() ? nullptr : jt->second;
}

Mailbox::Engine::ActiveRunPtr Mailbox::Engine::find_by_run(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(active_mu_);
  auto it = active_by_run_.find(run_id);
  if (it == active_by_run_.end()) return nullptr;
  auto jt = active_by_claim_.find(it->second);
  return jt == active_by_claim_.end() ? nullptr : jt->second;
}

std::vector<Mailbox::Engine::ActiveRunPtr> Mailbox::Engine::active_snapshot() {
  std::lock_guard<std::mutex> lock(active_mu_);
  std::vector<ActiveRunPtr> out;
  out.reserve(active_by_claim_.size());
  for (const auto& [token, run] : active_by_claim_) out.push_back(run);
  return out;
}

void Mailbox::Engine::hand_to_worker(const RunDispatch& claimed) {
  std::lock_guard<std::mutex> lock(actors_mu_);
  if (supervisor_) caf::anon_send(supervisor_, run_atom::value, claimed);  // stopped: its claim is released by stop()
}

void Mailbox::Engine::wake_in(std::int64_t delay_ms) {
  std::lock_guard<std::mutex> lock(actors_mu_);
  if (supervisor_) caf::anon_send(supervisor_, wake_atom::value, delay_ms);
}

void Mailbox::Engine::nudge_thread(const std::string& thread_id) {
  std::lock_guard<std::mutex> lock(actors_mu_);
  if (supervisor_) caf::anon_send(supervisor_, dispatch_next_atom::value, thread_id);
}

Result<InterruptOutcome> Mailbox::Engine::request_interrupt(const std::string& thread_id,
                                                             const std::string& supersede_reason,
                                                             Durability durability) {
  caf::actor supervisor;
  {
    std::lock_guard<std::mutex> lock(actors_mu_);
    if (!supervisor_ || stopping_.load()) return conflict_error("the mailbox is stopping");
    supervisor = supervisor_;
    std::lock_guard<std::mutex> requests(requests_mu_);
    ++requests_in_flight_;
  }
  Result<InterruptOutcome> answer = internal_error("the supervisor did not answer the interrupt");
  {
    // The answer comes when the old run has stopped: at most cancel_wait_ms after its turn (the
    // store writes around it and earlier interrupts of the thread come on top; a minute covers them).
    const auto timeout = std::chrono::milliseconds(config_.cancel_wait_ms) + std::chrono::minutes(1);
    caf::scoped_actor self{*actor_system_};
    self->request(supervisor, timeout, interrupt_atom::value, thread_id, supersede_reason,
                  durability == Durability::deferred)
        .receive([&](const InterruptOutcome& outcome) { answer = outcome; },
                 [&](const caf::error& error) { answer = from_caf_error(error); });
  }
  std::lock_guard<std::mutex> requests(requests_mu_);
  --requests_in_flight_;
  requests_cv_.notify_all();
  return answer;
}

Result<InterruptOutcome> Mailbox::Engine::interrupt(const std::string& thread_id, const std::string& supersede_reason,
                                                     Durability durability) {
  return interrupt_flow(thread_id, supersede_reason, durability);
}

MailboxStats Mailbox::Engine::stats() {
  MailboxStats s;
  {
    std::lock_guard<std::mutex> lock(active_mu_);
    s.active_runs = active_by_claim_.size();
  }
  std::lock_guard<std::mutex> lock(actors_mu_);
  if (actor_system_ && supervisor_) {
    caf::scoped_actor self{*actor_system_};
    self->request(supervisor_, std::chrono::seconds(5), status_atom::value)
        .receive([&](std::uint64_t workers) { s.workers = workers; }, [&](caf::error&) {});
  }
  return s;
}

// -- Mailbox -----------------------------------------------------------------------------------

Mailbox::Mailbox(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}
Mailbox::~Mailbox() { stop(); }

Result<std::unique_ptr<Mailbox>> Mailbox::start(Store& store, Executor& executor, MailboxConfig config,
                                                MailboxDeps deps) {
  if (auto r = config.validate(); !r) return r.error();
  static SystemClock system_clock;
  const Clock& clock = deps.clock != nullptr ? *deps.clock : system_clock;
  IdSource& ids = deps.ids != nullptr ? *deps.ids : default_id_source();
  auto engine = std::make_unique<Engine>(store, executor, std::move(config), clock, ids);
  if (auto r = engine->start(); !r) return r.error();
  return std::unique_ptr<Mailbox>(new Mailbox(std::move(engine)));
}

void Mailbox::stop() {
  if (engine_) engine_->stop();
}

Result<Submission> Mailbox::submit(RunActivation request, const SubmitOptions& options) {
  return engine_->submit(std::move(request), options);
}
Result<SubmitResult> Mailbox::submit_background(RunActivation request, const SubmitOptions& options) {
  return engine_->submit_background(std::move(request), options);
}
Result<std::string> Mailbox::submit_durable_message(const DurableMessage& message) {
  return engine_->submit_durable_message(message);
}
Result<SubmitResult> Mailbox::submit_live_then_queue(RunActivation request, std::optional<std::string> expected_run_id,
                                                     const SubmitOptions& options) {
  return engine_->submit_live_then_queue(std::move(request), std::move(expected_run_id), options);
}
Result<InterruptOutcome> Mailbox::interrupt_thread(const std::string& thread_id) {
  return engine_->interrupt_thread(thread_id);
}
Result<void> Mailbox::cancel_run(const std::string& run_id) { return engine_->cancel_run(run_id); }
Result<SubmitResult> Mailbox::decide(const std::string& run_id, const std::string& tool_call_id,
                                     ToolCallResume decision) {
  return engine_->decide(run_id, tool_call_id, std::move(decision));
}
Result<EventStream> Mailbox::attach(const std::string& run_id, std::uint64_t after_seq) {
  return engine_->attach(run_id, after_seq);
}
Result<std::optional<RunRecord>> Mailbox::active_run(const std::string& thread_id) {
  return engine_->active_run(thread_id);
}
Result<std::optional<RunRecord>> Mailbox::load_run(const std::string& run_id) {
  return engine_->store().load_run(run_id);
}
Result<std::optional<RunDispatch>> Mailbox::load_dispatch(const std::string& dispatch_id) {
  return engine_->store().load_dispatch(dispatch_id);
}
Result<std::vector<MessageRecord>> Mailbox::messages(const std::string& thread_id, std::uint64_t from_seq,
                                                     std::uint32_t limit) {
  return engine_->store().load_committed_messages(thread_id, from_seq, limit);
}
Result<DispatchPage> Mailbox::dispatches(const std::string& thread_id, std::uint64_t offset, std::uint32_t limit) {
  static const std::vector<DispatchStatus> kAll = {DispatchStatus::queued,   DispatchStatus::claimed,
                                                   DispatchStatus::acked,    DispatchStatus::cancelled,
                                                   DispatchStatus::superseded, DispatchStatus::dead_letter};
  return engine_->store().list_dispatches(thread_id, kAll, offset, limit, true);
}
Result<RunPage> Mailbox::runs(const std::string& thread_id, std::uint64_t offset, std::uint32_t limit) {
  return engine_->store().list_runs(thread_id, offset, limit);
}
Result<std::optional<RunRecord>> Mailbox::latest_run(const std::string& thread_id) {
  return engine_->store().latest_run(thread_id);
}
Result<void> Mailbox::health() {
  auto counts = engine_->store().count_dispatches_by_status();
  if (!counts) return counts.error();
  return {};
}
std::string Mailbox::metrics_text() { return engine_->metrics_text(); }
MailboxStats Mailbox::stats() { return engine_->stats(); }
const MailboxConfig& Mailbox::config() const { return engine_->config(); }

}  // namespace mbx
