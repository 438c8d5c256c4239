#include "store/rocksdb/keys.hpp"

#include "messages/ids.hpp"

namespace mbx::rdb {

namespace {
constexpr char kSep = '\0';

std::string with_prefix(char tag, std::string_view a) {
  std::string k;
  k.reserve(2 + a.size() + 24);
  k.push_back(tag);
  k.append(a);
  k.push_back(kSep);
  return k;
}
}  // namespace

void put_u64(std::string& out, std::uint64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xFF);
  out.append(bytes, 8);
}

void put_i64(std::string& out, std::int64_t v) {
  put_u64(out, static_cast<std::uint64_t>(v) ^ (std::uint64_t{1} << 63));
}

std::uint64_t get_u64(std::string_view b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < b.size(); ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

std::int64_t get_i64(std::string_view b) {
  return static_cast<std::int64_t>(get_u64(b) ^ (std::uint64_t{1} << 63));
}

std::string message_prefix(std::string_view thread_id) {
  std::string k(thread_id);
  k.push_back(kSep);
  return k;
}

std::string message_key(std::string_view thread_id, std::uint64_t seq) {
  auto k = message_prefix(thread_id);
  put_u64(k, seq);
  return k;
}

std::string event_prefix(std::string_view run_id) { return message_prefix(run_id); }

std::string event_key(std::string_view run_id, std::uint64_t seq) { return message_key(run_id, seq); }

std::string queued_prefix(std::string_view thread_id) { return with_prefix('q', thread_id); }

std::string queued_key(const RunDispatch& d) {
  auto k = queued_prefix(d.thread_id);
  k.push_back(static_cast<char>(d.priority));
  put_i64(k, d.available_at);
  put_i64(k, d.created_at);
  k.append(d.dispatch_id);
  return k;
}

std::string wake_key(const RunDispatch& d) {
  std::string k(kWakePrefix);
  put_i64(k, d.available_at);
  k.append(d.dispatch_id);
  return k;
}

std::string ready_key(std::string_view thread_id) {
  std::string k(kReadyPrefix);
  k.append(thread_id);
  return k;
}

std::string thread_dispatch_prefix(std::string_view thread_id) { return with_prefix('d', thread_id); }

std::string thread_dispatch_key(const RunDispatch& d) {
  auto k = thread_dispatch_prefix(d.thread_id);
  put_i64(k, d.created_at);
  k.append(d.dispatch_id);
  return k;
}

std::string dedupe_key(std::string_view thread_id, std::string_view key) {
  auto k = with_prefix('k', thread_id);
  k.append(key);
  return k;
}

std::string lease_key(std::int64_t lease_until, std::string_view dispatch_id) {
  std::string k(kLeasePrefix);
  put_i64(k, lease_until);
  k.append(dispatch_id);
  return k;
}

std::string terminal_key(const RunDispatch& d) {
  std::string k(kTerminalPrefix);
  put_i64(k, d.updated_at);
  put_i64(k, d.created_at);
  k.append(d.dispatch_id);
  return k;
}

std::string run_dispatch_prefix(std::string_view run_id) { return with_prefix('x', run_id); }

std::string run_dispatch_key(std::string_view run_id, std::string_view dispatch_id) {
  auto k = run_dispatch_prefix(run_id);
  k.append(dispatch_id);
  return k;
}

std::string message_id_key(std::string_view thread_id, std::string_view message_id) {
  auto k = with_prefix('m', thread_id);
  k.append(message_id);
  return k;
}

std::string thread_run_prefix(std::string_view thread_id) { return with_prefix('u', thread_id); }

std::string thread_run_key(std::string_view thread_id, std::int64_t created_at, std::string_view run_id) {
  auto k = thread_run_prefix(thread_id);
  put_i64(k, created_at);
  k.append(run_id);
  return k;
}

std::string run_status_prefix(RunStatus status) {
  std::string k("s");
  k.push_back(static_cast<char>(status));
  return k;
}

std::string run_status_key(RunStatus status, std::string_view run_id) {
  auto k = run_status_prefix(status);
  k.append(run_id);
  return k;
}

namespace {
void put_lane(std::string& lanes, std::size_t lane, std::int64_t v) {
  if (lanes.size() < 8 * (lane + 1)) lanes.resize(8 * (lane + 1), '\0');
  const auto u = static_cast<std::uint64_t>(v);
  for (std::size_t i = 0; i < 8; ++i) lanes[8 * lane + i] = static_cast<char>((u >> (8 * (7 - i))) & 0xFF);
}
}  // namespace

std::string counter_delta(DispatchStatus status, std::int64_t delta) {
  std::string out;
  put_lane(out, static_cast<std::size_t>(status), delta);
  return out;
}

std::string counter_delta(DispatchStatus from, DispatchStatus to) {
  std::string out;
  put_lane(out, static_cast<std::size_t>(from), -1);
  put_lane(out, static_cast<std::size_t>(to), 1);
  return out;
}

std::string legacy_counter_key(DispatchStatus status) { return std::string(1, static_cast<char>(status)); }

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = prefix.back();
    if (static_cast<unsigned char>(c) != 0xFF) {
      c = static_cast<char>(static_cast<unsigned char>(c) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(64, '\xFF');
}

bool is_key_safe(std::string_view id) { return !is_blank(id) && id.find('\0') == std::string_view::npos; }

}  // namespace mbx::rdb
