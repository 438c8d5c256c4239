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

}  // namespace

std::string encode(const RunDispatch& x) { return encode_any(x); }
std::string encode(const RunRecord& x) { return encode_any(x); }
std::string encode(const MessageRecord& x) { return encode_any(x); }
std::string encode(const AgentEvent& x) { return encode_any(x); }
std::string encode(const ThreadMeta& x) { return encode_any(x, kFormatV2); }

Result<void> decode(std::string_view b, RunDispatch& out) { return decode_any(b, out, "RunDispatch"); }
Result<void> decode(std::string_view b, RunRecord& out) { return decode_any(b, out, "RunRecord"); }
Result<void> decode(std::string_view b, MessageRecord& out) { return decode_any(b, out, "MessageRecord"); }
Result<void> decode(std::string_view b, AgentEvent& out) { return decode_any(b, out, "AgentEvent"); }
Result<void> decode(std::string_view b, ThreadMeta& out) {
  if (b.empty() || b[0] != kFormatV1) return decode_any(b, out, "ThreadMeta", kFormatV2);
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
