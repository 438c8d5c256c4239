#include "runtime/run_reconstruction.hpp"

#include "messages/enum_strings.hpp"
#include "messages/json/json_codec.hpp"

#include <boost/json/parse.hpp>

namespace mbx {

namespace {

Result<std::vector<Message>> messages_by_id(ThreadRunStore& store, const RunRecord& run,
                                            const std::vector<std::string>& ids) {
  std::vector<Message> out;
  for (const auto& id : ids) {
    auto rec = store.load_message_record(run.thread_id, id);
    if (!rec) return rec.error();
    if (!*rec) return validation_error("message '" + id + "' not found for run '" + run.run_id + "'");
    out.push_back(std::move((*rec)->message));
  }
  return out;
}

// The legacy request_extras object: each field optional; a wrong type is corruption.
struct LegacyExtras {
  std::vector<SeededDecision> decisions;
  std::optional<std::vector<std::string>> frontend_tools;
  std::optional<std::string> continue_run_id;
  std::optional<std::string> parent_thread_id;
  std::optional<std::string> transport_request_id;
  RunMode run_mode = RunMode::resume;  // legacy rows replay as Resume by default
};

Result<LegacyExtras> decode_extras(const OpaqueJson& extras) {
  auto corrupt = [](const std::string& why) { return validation_error("corrupt request_extras: " + why); };
  boost::system::error_code ec;
  auto v = boost::json::parse(extras.json, ec);
  if (ec) return corrupt(ec.message());
  LegacyExtras out;
  if (v.is_null()) return out;
  if (!v.is_object()) return corrupt("not an object");
  const auto& o = v.as_object();
  auto text = [&](const char* key, std::optional<std::string>& field) -> Result<void> {
    auto* f = o.if_contains(key);
    if (f == nullptr || f->is_null()) return {};
    if (!f->is_string()) return corrupt(std::string(key) + " is not a string");
    field = std::string(f->as_string());
    return {};
  };
  for (auto [key, field] : {std::pair{"continue_run_id", &out.continue_run_id},
                            std::pair{"parent_thread_id", &out.parent_thread_id},
                            std::pair{"transport_request_id", &out.transport_request_id}})
    if (auto r = text(key, *field); !r) return r.error();
  if (auto* f = o.if_contains("run_mode"); f != nullptr && !f->is_null()) {
    if (!f->is_string() || !from_string(std::string_view(f->as_string()), out.run_mode))
      return corrupt("run_mode is not a run mode");
  }
  if (auto* f = o.if_contains("frontend_tools"); f != nullptr && !f->is_null()) {
    if (!f->is_array()) return corrupt("frontend_tools is not an array");
    std::vector<std::string> tools;
    for (const auto& t : f->as_array()) {
      if (!t.is_string()) return corrupt("frontend_tools holds a non-string");
      tools.emplace_back(t.as_string());
    }
    out.frontend_tools = std::move(tools);
  }
  if (auto* f = o.if_contains("decisions"); f != nullptr && !f->is_null()) {
    if (!f->is_array()) return corrupt("decisions is not an array");
    for (const auto& d : f->as_array()) {
      auto decision = from_json<SeededDecision>(d);
      if (!decision) return corrupt(decision.error().message);
      out.decisions.push_back(std::move(*decision));
    }
  }
  return out;
}

Result<RunActivation> from_legacy(ThreadRunStore& store, const RunRecord& run, const RunRequestSnapshot& snap) {
  RunActivation req;
  req.intent.thread_id = run.thread_id;
  req.intent.agent_id = run.agent_id;
  if (!snap.input_message_ids.empty()) {
    auto ms = messages_by_id(store, run, snap.input_message_ids);
    if (!ms) return ms.error();
    req.messages = std::move(*ms);
  } else if (snap.input_message_count > 0 && run.input && run.input->range) {
    const auto& range = *run.input->range;
    const auto count = std::min<std::uint64_t>(snap.input_message_count, range.to_seq - range.from_seq + 1);
    auto recs = store.load_message_records_range(run.thread_id, range.to_seq - count + 1, range.to_seq);
    if (!recs) return recs.error();
    for (auto& r : *recs) req.messages.push_back(std::move(r.message));
  }
  LegacyExtras extras;
  if (snap.request_extras) {
    auto decoded = decode_extras(*snap.request_extras);
    if (!decoded) return decoded.error();
    extras = std::move(*decoded);
  }
  req.trace.origin = snap.origin;
  req.trace.run_mode = extras.run_mode;
  req.trace.parent_run_id = run.parent_run_id;
  req.trace.parent_thread_id = extras.parent_thread_id ? extras.parent_thread_id : snap.parent_thread_id;
  req.trace.transport_request_id = extras.transport_request_id ? extras.transport_request_id : snap.transport_request_id;
  req.options.frontend_tools = extras.frontend_tools ? *extras.frontend_tools : snap.frontend_tools;
  req.control.seeded_decisions = extras.decisions.empty() ? snap.decisions : extras.decisions;
  if (extras.continue_run_id) {
    req.intent.kind = RunKind::hitl_resume;
    req.intent.resume_run_id = extras.continue_run_id;
  }
  return req;
}

}  // namespace

Result<RunActivation> reconstruct_run_request(ThreadRunStore& store, const RunDispatch& dispatch) {
  auto loaded = store.load_run(dispatch.run_id);
  if (!loaded) return loaded.error();
  if (!*loaded)
    return validation_error("run '" + dispatch.run_id + "' not found for dispatch '" + dispatch.dispatch_id + "'");
  return reconstruct_run_request(store, dispatch, **loaded);
}

Result<RunActivation> reconstruct_run_request(ThreadRunStore& store, const RunDispatch& dispatch, const RunRecord& run) {
  if (run.run_id != dispatch.run_id)
    return validation_error("run '" + run.run_id + "' is not the run of dispatch '" + dispatch.dispatch_id + "'");
  if (run.thread_id != dispatch.thread_id)
    return validation_error("run '" + run.run_id + "' belongs to thread '" + run.thread_id +
                            "', not dispatch thread '" + dispatch.thread_id + "'");
  RunActivation req;
  if (run.activation) {
    const auto& snap = *run.activation;
    auto ms = messages_by_id(store, run, snap.input.trigger_message_ids);
    if (!ms) return ms.error();
    req.messages = std::move(*ms);
    req.intent = snap.intent;
    req.options = snap.options;
    req.trace = snap.trace;
    req.control.seeded_decisions = snap.seeded_decisions;
  } else if (run.request) {
    auto legacy = from_legacy(store, run, *run.request);
    if (!legacy) return legacy.error();
    req = std::move(*legacy);
  } else {
    return validation_error("run '" + run.run_id + "' has no activation snapshot");
  }
  req.persistence.messages_already_persisted = true;
  req.persistence.resolution_id_hint = run.resolution_id;
  // Replay wiring: a waiting run is resumed; anything else replays under its own run id.
  if (run.is_resumable_waiting()) {
    req.intent.kind = RunKind::hitl_resume;
    req.intent.resume_run_id = run.run_id;
    if (req.trace.run_mode == RunMode::foreground) req.trace.run_mode = RunMode::resume;
  } else {
    req.persistence.run_id_hint = run.run_id;
  }
  req.trace.dispatch_id = dispatch.dispatch_id;
  req.persistence.dispatch_id_hint = dispatch.dispatch_id;
  return req;
}

}  // namespace mbx
