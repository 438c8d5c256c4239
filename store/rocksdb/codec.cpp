#include "store/rocksdb/codec.hpp"

#include "messages/type_ids.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/meta/type_name.hpp>

#include <vector>

namespace mbx::rdb {

// ThreadMeta rows: format 2 (written) ends with the queue head; format 1 (read) has no head.
struct ThreadMetaV1 {
  ThreadMeta* x;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ThreadMetaV1& v) {
  auto& x = *v.x;
  return f(caf::meta::type_name("ThreadMeta"), x.epoch, x.version, x.queued, x.claimed, x.latest_run_id,
           x.latest_updated_at, x.writes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ThreadMeta& x) {
  return f(caf::meta::type_name("ThreadMeta"), x.epoch, x.version, x.queued, x.claimed, x.latest_run_id,
           x.latest_updated_at, x.writes, x.head);
}

namespace {

constexpr char kFormatV1 = 1;
constexpr char kFormatV2 = 2;  // ThreadMeta with its queue head

template <class T>
std::string encode_any(const T& x, char format = kFormatV1) {
  std::vector<char> buf;
  buf.reserve(256);
  buf.push_back(format);
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(const_cast<T&>(x));  // CAF 0.17 inspectors take non-const references; nothing is modified.
  std::ignore = err;                   // serializing into a vector cannot fail
  return std::string(buf.begin(), buf.end());
}

template <class T>
Result<void> decode_any(std::string_view bytes, T& out, const char* kind, char format = kFormatV1) {
  if (bytes.empty() || bytes[0] != format)
    return store_error(std::string("decode ") + kind + ": unknown format byte");
  caf::binary_deserializer source{nullptr, bytes.data() + 1, bytes.size() - 1};
  T tmp;
  if (auto err = source(tmp))
    return store_error(std::string("decode ") + kind + ": corrupt record (code " +
                       std::to_string(static_cast<int>(err.code())) + ")");
  if (source.remaining() != 0) return store_error(std::string("decode ") + kind + ": trailing bytes");
  out = std::move(tmp);
  return {};
}

// Every row but the format 1 ThreadMeta (read only) is serialized and read by hand, byte for
// byte what CAF's binary serializer makes of its `inspect` (a fraction of its cost; RunRecord,
// AgentEvent and MessageRecord rows are written on every run write and event append, and a
// RunRecord is read by every commit): integers big-endian (u8 as one byte), a string as its size
// (varbyte, 7 bits a byte, low bits first, of the size as u32) then its bytes, an enum as its u8,
// an optional as its has-value bool (0 / 1; any other byte reads as set) then the value if set,
// a std::vector as its size (the same varbyte) then its elements, a nested record (and
// OpaqueJson, its JSON text) as its fields in `inspect` order (caf::meta::type_name writes
// nothing). rocksdb_codec_test checks them against CAF (encode_with_caf, decode_with_caf) for
// records with every field set and with none, and that truncated or corrupt rows are refused.
class RowWriter {
public:
  RowWriter(std::string& out, char format) : out_(out) {
    out_.clear();
    out_.push_back(format);
  }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xFF);
    out_.append(b, 4);
  }
  void u64(std::uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xFF);
    out_.append(b, 8);
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  // The size of a string or a vector.
  void size(std::size_t count) {
    auto n = static_cast<std::uint32_t>(count);
    while (n > 0x7F) {
      out_.push_back(static_cast<char>((n & 0x7F) | 0x80));
      n >>= 7;
    }
    out_.push_back(static_cast<char>(n));
  }
  void str(const std::string& v) {
    size(v.size());
    out_.append(v);
  }
  // A vector: its size, then `write` of each element.
  template <class T, class Write>
  void sequence(const std::vector<T>& v, Write write) {
    size(v.size());
    for (const auto& x : v) write(x);
  }
  void strings(const std::vector<std::string>& v) {
    sequence(v, [this](const std::string& x) { str(x); });
  }
  template <class E>
  void enumeration(E v) {
    u8(static_cast<std::uint8_t>(v));
  }
  // The has-value flag; true when the caller writes the value next.
  template <class T>
  bool flag(const std::optional<T>& v) {
    u8(v ? 1 : 0);
    return v.has_value();
  }

private:
  std::string& out_;
};

// The fields of the records nested in rows, in the order of their `inspect`.
void write_fields(RowWriter& w, const SeqRange& x) {
  w.u64(x.from_seq);
  w.u64(x.to_seq);
}

void write_fields(RowWriter& w, const OpaqueJson& x) { w.str(x.json); }

void write_fields(RowWriter& w, const TerminationReason& x) {
  w.enumeration(x.kind);
  w.str(x.code);
  w.str(x.detail);
}

void write_fields(RowWriter& w, const ToolCall& x) {
  w.str(x.id);
  w.str(x.name);
  write_fields(w, x.arguments);
}

void write_fields(RowWriter& w, const MessageMetadata& x) {
  if (w.flag(x.run_id)) w.str(*x.run_id);
  if (w.flag(x.step_index)) w.u32(*x.step_index);
  if (w.flag(x.sender_agent_id)) w.str(*x.sender_agent_id);
}

void write_fields(RowWriter& w, const Message& x) {
  w.str(x.id);
  w.enumeration(x.role);
  w.str(x.content);
  w.sequence(x.tool_calls, [&](const ToolCall& v) { write_fields(w, v); });
  if (w.flag(x.tool_call_id)) w.str(*x.tool_call_id);
  w.enumeration(x.visibility);
  write_fields(w, x.metadata);
}

void write_fields(RowWriter& w, const RunIntent& x) {
  w.str(x.thread_id);
  if (w.flag(x.agent_id)) w.str(*x.agent_id);
  w.enumeration(x.kind);
  if (w.flag(x.resume_run_id)) w.str(*x.resume_run_id);
}

void write_fields(RowWriter& w, const RunOptions& x) {
  write_fields(w, x.overrides);
  w.strings(x.frontend_tools);
}

void write_fields(RowWriter& w, const RunTrace& x) {
  w.enumeration(x.run_mode);
  w.enumeration(x.origin);
  if (w.flag(x.parent_run_id)) w.str(*x.parent_run_id);
  if (w.flag(x.parent_thread_id)) w.str(*x.parent_thread_id);
  if (w.flag(x.dispatch_id)) w.str(*x.dispatch_id);
  if (w.flag(x.session_id)) w.str(*x.session_id);
  if (w.flag(x.transport_request_id)) w.str(*x.transport_request_id);
}

void write_fields(RowWriter& w, const ToolCallResume& x) {
  w.enumeration(x.action);
  write_fields(w, x.result);
  if (w.flag(x.decision_id)) w.str(*x.decision_id);
}

void write_fields(RowWriter& w, const SeededDecision& x) {
  w.str(x.tool_call_id);
  write_fields(w, x.resume);
}

void write_fields(RowWriter& w, const RunMessageInput& x) {
  w.str(x.thread_id);
  if (w.flag(x.range)) write_fields(w, *x.range);
  w.strings(x.trigger_message_ids);
  w.strings(x.selected_message_ids);
}

void write_fields(RowWriter& w, const RunMessageOutput& x) {
  w.str(x.thread_id);
  if (w.flag(x.range)) write_fields(w, *x.range);
  w.strings(x.message_ids);
}

void write_fields(RowWriter& w, const RunActivationSnapshot& x) {
  write_fields(w, x.intent);
  write_fields(w, x.input);
  write_fields(w, x.options);
  write_fields(w, x.trace);
  w.sequence(x.seeded_decisions, [&](const SeededDecision& v) { write_fields(w, v); });
  if (w.flag(x.resolution_id)) w.str(*x.resolution_id);
}

void write_fields(RowWriter& w, const RunRequestSnapshot& x) {
  w.enumeration(x.origin);
  if (w.flag(x.sender_id)) w.str(*x.sender_id);
  w.strings(x.input_message_ids);
  w.u64(x.input_message_count);
  if (w.flag(x.request_extras)) write_fields(w, *x.request_extras);
  w.sequence(x.decisions, [&](const SeededDecision& v) { write_fields(w, v); });
  w.strings(x.frontend_tools);
  if (w.flag(x.parent_thread_id)) w.str(*x.parent_thread_id);
  if (w.flag(x.transport_request_id)) w.str(*x.transport_request_id);
}

void write_fields(RowWriter& w, const WaitingTicket& x) {
  w.str(x.ticket_id);
  w.str(x.tool_call_id);
  w.str(x.tool_name);
  write_fields(w, x.arguments);
  w.str(x.resume_mode);
  if (w.flag(x.reason)) w.str(*x.reason);
  w.i64(x.updated_at);
}

void write_fields(RowWriter& w, const RunWaitingState& x) {
  w.enumeration(x.reason);
  w.strings(x.ticket_ids);
  w.sequence(x.tickets, [&](const WaitingTicket& v) { write_fields(w, v); });
  if (w.flag(x.since_dispatch_id)) w.str(*x.since_dispatch_id);
  if (w.flag(x.message)) w.str(*x.message);
}

void write_fields(RowWriter& w, const RunOutcome& x) {
  write_fields(w, x.termination_reason);
  if (w.flag(x.final_output)) w.str(*x.final_output);
  if (w.flag(x.error_payload)) write_fields(w, *x.error_payload);
}

void write_row(std::string& out, const RunDispatch& x) {
  RowWriter w(out, kFormatV1);
  w.str(x.dispatch_id);
  w.str(x.thread_id);
  w.str(x.run_id);
  w.u8(x.priority);
  if (w.flag(x.dedupe_key)) w.str(*x.dedupe_key);
  w.u64(x.dispatch_epoch);
  w.enumeration(x.status);
  w.i64(x.available_at);
  w.u32(x.attempt_count);
  w.u32(x.max_attempts);
  if (w.flag(x.last_error)) w.str(*x.last_error);
  if (w.flag(x.claim_token)) w.str(*x.claim_token);
  if (w.flag(x.claimed_by)) w.str(*x.claimed_by);
  if (w.flag(x.lease_until)) w.i64(*x.lease_until);
  if (w.flag(x.dispatch_instance_id)) w.str(*x.dispatch_instance_id);
  if (w.flag(x.run_status)) w.enumeration(*x.run_status);
  if (w.flag(x.termination)) write_fields(w, *x.termination);
  if (w.flag(x.run_response)) w.str(*x.run_response);
  if (w.flag(x.run_error)) w.str(*x.run_error);
  if (w.flag(x.completed_at)) w.i64(*x.completed_at);
  w.i64(x.created_at);
  w.i64(x.updated_at);
}

void write_row(std::string& out, const ThreadMeta& x) {
  RowWriter w(out, kFormatV2);
  w.u64(x.epoch);
  w.u64(x.version);
  w.u64(x.queued);
  w.str(x.claimed);
  w.str(x.latest_run_id);
  w.i64(x.latest_updated_at);
  w.u64(x.writes);
  w.str(x.head);
}

void write_row(std::string& out, const RunRecord& x) {
  RowWriter w(out, kFormatV1);
  w.str(x.run_id);
  w.str(x.thread_id);
  w.str(x.agent_id);
  if (w.flag(x.parent_run_id)) w.str(*x.parent_run_id);
  if (w.flag(x.resolution_id)) w.str(*x.resolution_id);
  if (w.flag(x.activation)) write_fields(w, *x.activation);
  if (w.flag(x.request)) write_fields(w, *x.request);
  if (w.flag(x.input)) write_fields(w, *x.input);
  if (w.flag(x.output)) write_fields(w, *x.output);
  w.enumeration(x.status);
  if (w.flag(x.termination_reason)) write_fields(w, *x.termination_reason);
  if (w.flag(x.final_output)) w.str(*x.final_output);
  if (w.flag(x.error_payload)) write_fields(w, *x.error_payload);
  if (w.flag(x.dispatch_id)) w.str(*x.dispatch_id);
  if (w.flag(x.session_id)) w.str(*x.session_id);
  if (w.flag(x.transport_request_id)) w.str(*x.transport_request_id);
  if (w.flag(x.waiting)) write_fields(w, *x.waiting);
  if (w.flag(x.outcome)) write_fields(w, *x.outcome);
  w.i64(x.created_at);
  if (w.flag(x.started_at)) w.i64(*x.started_at);
  if (w.flag(x.finished_at)) w.i64(*x.finished_at);
  w.i64(x.updated_at);
  w.u32(x.steps);
  w.u64(x.input_tokens);
  w.u64(x.output_tokens);
  if (w.flag(x.state)) write_fields(w, *x.state);
}

void write_row(std::string& out, const MessageRecord& x) {
  RowWriter w(out, kFormatV1);
  w.str(x.thread_id);
  w.u64(x.seq);
  write_fields(w, x.message);
  if (w.flag(x.produced_by_run_id)) w.str(*x.produced_by_run_id);
  w.i64(x.created_at);
}

void write_row(std::string& out, const AgentEvent& x) {
  RowWriter w(out, kFormatV1);
  w.enumeration(x.type);
  w.u64(x.seq);
  w.str(x.thread_id);
  w.str(x.run_id);
  w.str(x.text);
  if (w.flag(x.tool_call_id)) w.str(*x.tool_call_id);
  if (w.flag(x.tool_name)) w.str(*x.tool_name);
  if (w.flag(x.message_id)) w.str(*x.message_id);
  if (w.flag(x.parent_run_id)) w.str(*x.parent_run_id);
  if (w.flag(x.code)) w.str(*x.code);
  if (w.flag(x.outcome)) w.enumeration(*x.outcome);
  if (w.flag(x.termination)) write_fields(w, *x.termination);
  write_fields(w, x.payload);
  w.i64(x.at_ms);
}

// Reads what RowWriter writes; every read fails (false) rather than run past the end, a size
// takes at most 5 varbytes, a vector whose elements cannot fit in the bytes left is refused
// before anything is allocated, and an enum value without a name is refused (as EnumField does).
class RowReader {
public:
  explicit RowReader(std::string_view bytes) : at_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  [[nodiscard]] bool u8(std::uint8_t& v) {
    if (at_ == end_) return false;
    v = static_cast<std::uint8_t>(*at_++);
    return true;
  }
  [[nodiscard]] bool u32(std::uint32_t& v) {
    std::uint64_t wide = 0;
    if (!big_endian(4, wide)) return false;
    v = static_cast<std::uint32_t>(wide);
    return true;
  }
  [[nodiscard]] bool u64(std::uint64_t& v) { return big_endian(8, v); }
  [[nodiscard]] bool i64(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!big_endian(8, u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  // The size of a string or a vector.
  [[nodiscard]] bool size(std::uint32_t& n) {
    n = 0;
    for (int shift = 0;; shift += 7) {
      std::uint8_t byte = 0;
      if (shift > 28 || !u8(byte)) return false;
      n |= static_cast<std::uint32_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
  }
  [[nodiscard]] bool str(std::string& v) {
    std::uint32_t n = 0;
    if (!size(n) || remaining() < n) return false;
    v.assign(at_, n);
    at_ += n;
    return true;
  }
  // A vector: its size, then `read` of each element. Every element takes at least `min_bytes`
  // bytes, so a size that cannot fit in the bytes left is corrupt (CAF would run out of bytes
  // reading the elements) and is refused before reserving room for it.
  template <class T, class Read>
  [[nodiscard]] bool sequence(std::vector<T>& v, std::size_t min_bytes, Read read) {
    std::uint32_t n = 0;
    if (!size(n) || n > remaining() / min_bytes) return false;
    v.clear();
    v.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      T item{};
      if (!read(item)) return false;
      v.push_back(std::move(item));
    }
    return true;
  }
  [[nodiscard]] bool strings(std::vector<std::string>& v) {
    return sequence(v, 1, [this](std::string& x) { return str(x); });
  }
  template <class E>
  [[nodiscard]] bool enumeration(E& v) {
    std::uint8_t raw = 0;
    if (!u8(raw) || to_string(static_cast<E>(raw)) == std::string_view{"unknown"}) return false;
    v = static_cast<E>(raw);
    return true;
  }
  // An optional: its has-value flag, then `read` of the value when set.
  template <class T, class Read>
  [[nodiscard]] bool optional(std::optional<T>& v, Read read) {
    std::uint8_t has = 0;
    if (!u8(has)) return false;
    if (has == 0) {
      v.reset();
      return true;
    }
    T value{};
    if (!read(value)) return false;
    v = std::move(value);
    return true;
  }
  [[nodiscard]] bool at_end() const { return at_ == end_; }

private:
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(end_ - at_); }
  [[nodiscard]] bool big_endian(int bytes, std::uint64_t& v) {
    if (end_ - at_ < bytes) return false;
    v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(*at_++);
    return true;
  }
  const char* at_;
  const char* end_;
};

// The least bytes an element of a vector takes: a string its size byte, a ToolCall three
// strings, a SeededDecision a string, an enum, the JSON string and a has-value flag, a
// WaitingTicket five strings, a flag and an i64.
constexpr std::size_t kMinString = 1;
constexpr std::size_t kMinToolCall = 3;
constexpr std::size_t kMinSeededDecision = 4;
constexpr std::size_t kMinWaitingTicket = 5 + 1 + 8;

bool read_fields(RowReader& r, SeqRange& x) { return r.u64(x.from_seq) && r.u64(x.to_seq); }

bool read_fields(RowReader& r, OpaqueJson& x) { return r.str(x.json); }

bool read_fields(RowReader& r, TerminationReason& x) {
  return r.enumeration(x.kind) && r.str(x.code) && r.str(x.detail);
}

bool read_fields(RowReader& r, ToolCall& x) { return r.str(x.id) && r.str(x.name) && read_fields(r, x.arguments); }

bool read_fields(RowReader& r, MessageMetadata& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  return r.optional(x.run_id, str) && r.optional(x.step_index, [&](std::uint32_t& v) { return r.u32(v); }) &&
         r.optional(x.sender_agent_id, str);
}

bool read_fields(RowReader& r, Message& x) {
  return r.str(x.id) && r.enumeration(x.role) && r.str(x.content) &&
         r.sequence(x.tool_calls, kMinToolCall, [&](ToolCall& v) { return read_fields(r, v); }) &&
         r.optional(x.tool_call_id, [&](std::string& v) { return r.str(v); }) && r.enumeration(x.visibility) &&
         read_fields(r, x.metadata);
}

bool read_fields(RowReader& r, RunIntent& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  return r.str(x.thread_id) && r.optional(x.agent_id, str) && r.enumeration(x.kind) &&
         r.optional(x.resume_run_id, str);
}

bool read_fields(RowReader& r, RunOptions& x) { return read_fields(r, x.overrides) && r.strings(x.frontend_tools); }

bool read_fields(RowReader& r, RunTrace& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  return r.enumeration(x.run_mode) && r.enumeration(x.origin) && r.optional(x.parent_run_id, str) &&
         r.optional(x.parent_thread_id, str) && r.optional(x.dispatch_id, str) && r.optional(x.session_id, str) &&
         r.optional(x.transport_request_id, str);
}

bool read_fields(RowReader& r, ToolCallResume& x) {
  return r.enumeration(x.action) && read_fields(r, x.result) &&
         r.optional(x.decision_id, [&](std::string& v) { return r.str(v); });
}

bool read_fields(RowReader& r, SeededDecision& x) { return r.str(x.tool_call_id) && read_fields(r, x.resume); }

bool read_fields(RowReader& r, RunMessageInput& x) {
  return r.str(x.thread_id) && r.optional(x.range, [&](SeqRange& v) { return read_fields(r, v); }) &&
         r.strings(x.trigger_message_ids) && r.strings(x.selected_message_ids);
}

bool read_fields(RowReader& r, RunMessageOutput& x) {
  return r.str(x.thread_id) && r.optional(x.range, [&](SeqRange& v) { return read_fields(r, v); }) &&
         r.strings(x.message_ids);
}

bool read_fields(RowReader& r, RunActivationSnapshot& x) {
  return read_fields(r, x.intent) && read_fields(r, x.input) && read_fields(r, x.options) &&
         read_fields(r, x.trace) &&
         r.sequence(x.seeded_decisions, kMinSeededDecision, [&](SeededDecision& v) { return read_fields(r, v); }) &&
         r.optional(x.resolution_id, [&](std::string& v) { return r.str(v); });
}

bool read_fields(RowReader& r, RunRequestSnapshot& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  return r.enumeration(x.origin) && r.optional(x.sender_id, str) && r.strings(x.input_message_ids) &&
         r.u64(x.input_message_count) &&
         r.optional(x.request_extras, [&](OpaqueJson& v) { return read_fields(r, v); }) &&
         r.sequence(x.decisions, kMinSeededDecision, [&](SeededDecision& v) { return read_fields(r, v); }) &&
         r.strings(x.frontend_tools) && r.optional(x.parent_thread_id, str) && r.optional(x.transport_request_id, str);
}

bool read_fields(RowReader& r, WaitingTicket& x) {
  return r.str(x.ticket_id) && r.str(x.tool_call_id) && r.str(x.tool_name) && read_fields(r, x.arguments) &&
         r.str(x.resume_mode) && r.optional(x.reason, [&](std::string& v) { return r.str(v); }) &&
         r.i64(x.updated_at);
}

bool read_fields(RowReader& r, RunWaitingState& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  return r.enumeration(x.reason) && r.strings(x.ticket_ids) &&
         r.sequence(x.tickets, kMinWaitingTicket, [&](WaitingTicket& v) { return read_fields(r, v); }) &&
         r.optional(x.since_dispatch_id, str) && r.optional(x.message, str);
}

bool read_fields(RowReader& r, RunOutcome& x) {
  return read_fields(r, x.termination_reason) &&
         r.optional(x.final_output, [&](std::string& v) { return r.str(v); }) &&
         r.optional(x.error_payload, [&](OpaqueJson& v) { return read_fields(r, v); });
}

bool read_fields(RowReader& r, RunDispatch& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  const auto i64 = [&](std::int64_t& v) { return r.i64(v); };
  return r.str(x.dispatch_id) && r.str(x.thread_id) && r.str(x.run_id) && r.u8(x.priority) &&
         r.optional(x.dedupe_key, str) && r.u64(x.dispatch_epoch) && r.enumeration(x.status) &&
         r.i64(x.available_at) && r.u32(x.attempt_count) && r.u32(x.max_attempts) &&
         r.optional(x.last_error, str) && r.optional(x.claim_token, str) && r.optional(x.claimed_by, str) &&
         r.optional(x.lease_until, i64) && r.optional(x.dispatch_instance_id, str) &&
         r.optional(x.run_status, [&](RunStatus& v) { return r.enumeration(v); }) &&
         r.optional(x.termination, [&](TerminationReason& v) { return read_fields(r, v); }) &&
         r.optional(x.run_response, str) && r.optional(x.run_error, str) && r.optional(x.completed_at, i64) &&
         r.i64(x.created_at) && r.i64(x.updated_at);
}

bool read_fields(RowReader& r, ThreadMeta& x) {
  return r.u64(x.epoch) && r.u64(x.version) && r.u64(x.queued) && r.str(x.claimed) && r.str(x.latest_run_id) &&
         r.i64(x.latest_updated_at) && r.u64(x.writes) && r.str(x.head);
}

bool read_fields(RowReader& r, RunRecord& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  const auto i64 = [&](std::int64_t& v) { return r.i64(v); };
  const auto fields = [&](auto& v) { return read_fields(r, v); };
  return r.str(x.run_id) && r.str(x.thread_id) && r.str(x.agent_id) && r.optional(x.parent_run_id, str) &&
         r.optional(x.resolution_id, str) && r.optional(x.activation, fields) && r.optional(x.request, fields) &&
         r.optional(x.input, fields) && r.optional(x.output, fields) && r.enumeration(x.status) &&
         r.optional(x.termination_reason, fields) && r.optional(x.final_output, str) &&
         r.optional(x.error_payload, fields) && r.optional(x.dispatch_id, str) && r.optional(x.session_id, str) &&
         r.optional(x.transport_request_id, str) && r.optional(x.waiting, fields) && r.optional(x.outcome, fields) &&
         r.i64(x.created_at) && r.optional(x.started_at, i64) && r.optional(x.finished_at, i64) &&
         r.i64(x.updated_at) && r.u32(x.steps) && r.u64(x.input_tokens) && r.u64(x.output_tokens) &&
         r.optional(x.state, fields);
}

bool read_fields(RowReader& r, MessageRecord& x) {
  return r.str(x.thread_id) && r.u64(x.seq) && read_fields(r, x.message) &&
         r.optional(x.produced_by_run_id, [&](std::string& v) { return r.str(v); }) && r.i64(x.created_at);
}

bool read_fields(RowReader& r, AgentEvent& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  return r.enumeration(x.type) && r.u64(x.seq) && r.str(x.thread_id) && r.str(x.run_id) && r.str(x.text) &&
         r.optional(x.tool_call_id, str) && r.optional(x.tool_name, str) && r.optional(x.message_id, str) &&
         r.optional(x.parent_run_id, str) && r.optional(x.code, str) &&
         r.optional(x.outcome, [&](ToolCallOutcome& v) { return r.enumeration(v); }) &&
         r.optional(x.termination, [&](TerminationReason& v) { return read_fields(r, v); }) &&
         read_fields(r, x.payload) && r.i64(x.at_ms);
}

template <class T>
Result<void> read_row(std::string_view bytes, T& out, const char* kind, char format) {
  if (bytes.empty() || bytes[0] != format) return store_error(std::string("decode ") + kind + ": unknown format byte");
  RowReader r(bytes.substr(1));
  T tmp;
  if (!read_fields(r, tmp)) return store_error(std::string("decode ") + kind + ": corrupt record");
  if (!r.at_end()) return store_error(std::string("decode ") + kind + ": trailing bytes");
  out = std::move(tmp);
  return {};
}

template <class T>
std::string write_row(const T& x, std::size_t reserve) {
  std::string out;
  out.reserve(reserve);
  write_row(out, x);
  return out;
}

}  // namespace

std::string encode(const RunDispatch& x) {
  const auto size = [](const std::optional<std::string>& v) { return v ? v->size() : 0; };
  return write_row(x, 64 + x.dispatch_id.size() + x.thread_id.size() + x.run_id.size() + size(x.claim_token) +
                          size(x.claimed_by) + size(x.dispatch_instance_id) + size(x.dedupe_key));
}
std::string encode(const RunRecord& x) {
  const auto size = [](const auto& v) { return v ? v->size() : 0; };
  const auto json = [](const std::optional<OpaqueJson>& v) { return v ? v->json.size() : 0; };
  return write_row(x, 256 + x.run_id.size() + x.thread_id.size() + x.agent_id.size() + size(x.final_output) +
                          json(x.error_payload) + json(x.state) + (x.activation ? 256 : 0) + (x.waiting ? 128 : 0));
}
std::string encode(const MessageRecord& x) {
  std::size_t calls = 0;
  for (const auto& c : x.message.tool_calls) calls += 8 + c.id.size() + c.name.size() + c.arguments.json.size();
  return write_row(x, 96 + x.thread_id.size() + x.message.id.size() + x.message.content.size() + calls +
                          (x.message.metadata.run_id ? x.message.metadata.run_id->size() : 0) +
                          (x.produced_by_run_id ? x.produced_by_run_id->size() : 0));
}
std::string encode(const AgentEvent& x) {
  return write_row(x, 64 + x.thread_id.size() + x.run_id.size() + x.text.size() + x.payload.json.size() +
                          (x.tool_call_id ? 8 + x.tool_call_id->size() : 0) +
                          (x.tool_name ? 8 + x.tool_name->size() : 0));
}
std::string encode(const ThreadMeta& x) {
  return write_row(x, 64 + x.claimed.size() + x.latest_run_id.size() + x.head.size());
}

std::string encode_with_caf(const RunDispatch& x) { return encode_any(x); }
std::string encode_with_caf(const ThreadMeta& x) { return encode_any(x, kFormatV2); }
std::string encode_with_caf(const RunRecord& x) { return encode_any(x); }
std::string encode_with_caf(const MessageRecord& x) { return encode_any(x); }
std::string encode_with_caf(const AgentEvent& x) { return encode_any(x); }
Result<void> decode_with_caf(std::string_view b, RunDispatch& out) { return decode_any(b, out, "RunDispatch"); }
Result<void> decode_with_caf(std::string_view b, ThreadMeta& out) { return decode_any(b, out, "ThreadMeta", kFormatV2); }
Result<void> decode_with_caf(std::string_view b, RunRecord& out) { return decode_any(b, out, "RunRecord"); }
Result<void> decode_with_caf(std::string_view b, MessageRecord& out) { return decode_any(b, out, "MessageRecord"); }
Result<void> decode_with_caf(std::string_view b, AgentEvent& out) { return decode_any(b, out, "AgentEvent"); }

Result<void> decode(std::string_view b, RunDispatch& out) { return read_row(b, out, "RunDispatch", kFormatV1); }
Result<void> decode(std::string_view b, RunRecord& out) { return read_row(b, out, "RunRecord", kFormatV1); }
Result<void> decode(std::string_view b, MessageRecord& out) { return read_row(b, out, "MessageRecord", kFormatV1); }
Result<void> decode(std::string_view b, AgentEvent& out) { return read_row(b, out, "AgentEvent", kFormatV1); }
Result<void> decode(std::string_view b, ThreadMeta& out) {
  if (b.empty() || b[0] != kFormatV1) return read_row(b, out, "ThreadMeta", kFormatV2);
  ThreadMeta old;
  ThreadMetaV1 v1{&old};
  caf::binary_deserializer source{nullptr, b.data() + 1, b.size() - 1};
  if (auto err = source(v1))
    return store_error("decode ThreadMeta: corrupt record (code " + std::to_string(static_cast<int>(err.code())) + ")");
  if (source.remaining() != 0) return store_error("decode ThreadMeta: trailing bytes");
  out = std::move(old);
  return {};
}

std::string encode_v1(const ThreadMeta& x) {
  ThreadMeta copy = x;
  ThreadMetaV1 v1{&copy};
  return encode_any(v1);
}

}  // namespace mbx::rdb
