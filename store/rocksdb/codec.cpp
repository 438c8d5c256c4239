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

// The rows written and read on every dispatch transition (RunDispatch, ThreadMeta; format 2) are
// serialized and read by hand, byte for byte what CAF's binary serializer makes of their
// `inspect` (a fraction of its cost): integers big-endian (u8 as one byte, bool as 0 / 1), a string as its size (varbyte,
// 7 bits a byte, low bits first, of the size as u32) then its bytes, an enum as its u8, an
// optional as its has-value bool then the value if set. rocksdb_codec_test checks them against
// CAF (encode_with_caf, decode_with_caf) for records with every field set and with none, and
// that truncated or corrupt rows are refused.
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
  void str(const std::string& v) {
    auto n = static_cast<std::uint32_t>(v.size());
    while (n > 0x7F) {
      out_.push_back(static_cast<char>((n & 0x7F) | 0x80));
      n >>= 7;
    }
    out_.push_back(static_cast<char>(n));
    out_.append(v);
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
  if (w.flag(x.termination)) {
    w.enumeration(x.termination->kind);
    w.str(x.termination->code);
    w.str(x.termination->detail);
  }
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

// Reads what RowWriter writes; every read fails (false) rather than run past the end, a size
// takes at most 5 varbytes, and an enum value without a name is refused (as EnumField does).
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
  [[nodiscard]] bool str(std::string& v) {
    std::uint32_t n = 0;
    for (int shift = 0;; shift += 7) {
      std::uint8_t byte = 0;
      if (shift > 28 || !u8(byte)) return false;
      n |= static_cast<std::uint32_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) break;
    }
    if (static_cast<std::size_t>(end_ - at_) < n) return false;
    v.assign(at_, n);
    at_ += n;
    return true;
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
  [[nodiscard]] bool big_endian(int bytes, std::uint64_t& v) {
    if (end_ - at_ < bytes) return false;
    v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(*at_++);
    return true;
  }
  const char* at_;
  const char* end_;
};

bool read_fields(RowReader& r, RunDispatch& x) {
  const auto str = [&](std::string& v) { return r.str(v); };
  const auto i64 = [&](std::int64_t& v) { return r.i64(v); };
  return r.str(x.dispatch_id) && r.str(x.thread_id) && r.str(x.run_id) && r.u8(x.priority) &&
         r.optional(x.dedupe_key, str) && r.u64(x.dispatch_epoch) && r.enumeration(x.status) &&
         r.i64(x.available_at) && r.u32(x.attempt_count) && r.u32(x.max_attempts) &&
         r.optional(x.last_error, str) && r.optional(x.claim_token, str) && r.optional(x.claimed_by, str) &&
         r.optional(x.lease_until, i64) && r.optional(x.dispatch_instance_id, str) &&
         r.optional(x.run_status, [&](RunStatus& v) { return r.enumeration(v); }) &&
         r.optional(x.termination,
                    [&](TerminationReason& v) { return r.enumeration(v.kind) && r.str(v.code) && r.str(v.detail); }) &&
         r.optional(x.run_response, str) && r.optional(x.run_error, str) && r.optional(x.completed_at, i64) &&
         r.i64(x.created_at) && r.i64(x.updated_at);
}

bool read_fields(RowReader& r, ThreadMeta& x) {
  return r.u64(x.epoch) && r.u64(x.version) && r.u64(x.queued) && r.str(x.claimed) && r.str(x.latest_run_id) &&
         r.i64(x.latest_updated_at) && r.u64(x.writes) && r.str(x.head);
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
std::string encode(const RunRecord& x) { return encode_any(x); }
std::string encode(const MessageRecord& x) { return encode_any(x); }
std::string encode(const AgentEvent& x) { return encode_any(x); }
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
Result<void> decode(std::string_view b, RunRecord& out) { return decode_any(b, out, "RunRecord"); }
Result<void> decode(std::string_view b, MessageRecord& out) { return decode_any(b, out, "MessageRecord"); }
Result<void> decode(std::string_view b, AgentEvent& out) { return decode_any(b, out, "AgentEvent"); }
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
