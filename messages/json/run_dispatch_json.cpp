// JSON codecs of RunDispatch, RunDispatchResult, InterruptOutcome and Error (code as its snake_case name, e.g.
// "fenced"). Rules in json_codec.hpp; machinery in detail/json_decoder.hpp.
// Stateless; thread-safe.
#include "messages/json/json_codec.hpp"

#include "messages/json/detail/json_decoder.hpp"

namespace mbx {

namespace {

template <class Io, detail::OneOf<RunDispatchResult> X>
void fields(Io& io, X& x) {
  io.required("run_id", x.run_id);
  io.field("dispatch_instance_id", x.dispatch_instance_id);
  io.required("status", x.status);
  io.field("termination", x.termination);
  io.field("response", x.response);
  io.field("error", x.error);
}

template <class Io, detail::OneOf<InterruptOutcome> X>
void fields(Io& io, X& x) {
  io.field("new_epoch", x.new_epoch);
  io.field("superseded", x.superseded);
  io.field("cancelled_run_id", x.cancelled_run_id);
}

template <class Io, detail::OneOf<RunDispatch> X>
void fields(Io& io, X& x) {
  io.required("dispatch_id", x.dispatch_id);
  io.required("thread_id", x.thread_id);
  io.required("run_id", x.run_id);
  io.field("priority", x.priority);
  io.field("dedupe_key", x.dedupe_key);
  io.field("dispatch_epoch", x.dispatch_epoch);
  io.required("status", x.status);
  io.field("available_at", x.available_at);
  io.field("attempt_count", x.attempt_count);
  io.field("max_attempts", x.max_attempts);
  io.field("last_error", x.last_error);
  io.field("claim_token", x.claim_token);
  io.field("claimed_by", x.claimed_by);
  io.field("lease_until", x.lease_until);
  io.field("dispatch_instance_id", x.dispatch_instance_id);
  io.field("run_status", x.run_status);
  io.field("termination", x.termination);
  io.field("run_response", x.run_response);
  io.field("run_error", x.run_error);
  io.field("completed_at", x.completed_at);
  io.field("created_at", x.created_at);
  io.field("updated_at", x.updated_at);
}

template <class Io, detail::OneOf<Error> X>
void fields(Io& io, X& x) {
  io.required("code", x.code);
  io.field("message", x.message);
}

}  // namespace

MBX_JSON_OBJECT_CODEC(RunDispatchResult)
MBX_JSON_OBJECT_CODEC(RunDispatch)
MBX_JSON_OBJECT_CODEC(Error)
MBX_JSON_OBJECT_CODEC(InterruptOutcome)

}  // namespace mbx
