// How the built-in agents turn a failure into an ExecutionResult. Shared by the agents in
// this folder only. Stateless.
#pragma once

#include "messages/error.hpp"
#include "runtime/executor.hpp"

#include <string>

namespace mbx::detail {

inline ExecutionResult failed(ExecutionStatus status, std::string message) {
  ExecutionResult r;
  r.status = status;
  r.error = std::move(message);
  return r;
}

// A lost claim or a store hiccup is worth a retry; anything else will not get better.
inline ExecutionResult failed(const Error& e) {
  const bool transient = e.code == Errc::fenced || e.code == Errc::store || e.code == Errc::conflict;
  return failed(transient ? ExecutionStatus::transient_error : ExecutionStatus::permanent_error, describe(e));
}

}  // namespace mbx::detail
