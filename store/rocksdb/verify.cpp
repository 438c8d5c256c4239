// RocksdbStore::verify: cross-checks every index, the thread metadata and the counters against
// the records, on one snapshot. Used by the tests after every scenario and by operators.
#include "store/rocksdb/rocksdb_impl.hpp"

#include <map>
#include <set>

namespace mbx {

namespace {

struct ThreadSeen {
  std::uint64_t queued = 0;
  std::vector<std::string> claimed;
};

std::string printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> RocksdbStore::verify() {
  auto& m = *impl_;
  const rocksdb::Snapshot* snap = m.db->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{m.db, snap};

  std::vector<std::string> problems;
  std::map<std::string, std::string> expected_index;  // dispatch-owned index entries
  std::map<std::string, ThreadSeen> threads_seen;
  DispatchCounts counts{};

  // 1. dispatches
  {
    auto it = m.iterator(rdb::kDispatchesCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      RunDispatch d;
      const std::string key = it->key().ToString();
      if (auto r = rdb::decode(std::string_view(it->value().data(), it->value().size()), d); !r) {
        problems.push_back("dispatch '" + key + "': " + r.error().message);
        continue;
      }
      if (d.dispatch_id != key) problems.push_back("dispatch key '" + key + "' holds '" + d.dispatch_id + "'");
      if (auto r = d.validate(); !r) problems.push_back(r.error().message);
      counts[static_cast<std::size_t>(d.status)] += 1;
      auto& t = threads_seen[d.thread_id];
      if (d.status == DispatchStatus::queued) t.queued += 1;
      if (d.status == DispatchStatus::claimed) t.claimed.push_back(d.dispatch_id);
      for (auto& [k, v] : dispatch_index_entries(d)) expected_index.emplace(std::move(k), std::move(v));
    }
    if (!it->status().ok()) return to_error(it->status(), "verify");
  }

  // 2. threads: metadata against what the dispatches and messages say
  std::set<std::string> ready_expected;
  std::map<std::string, std::uint64_t> versions;
  {
    auto it = m.iterator(rdb::kThreadsCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string thread = it->key().ToString();
      rdb::ThreadMeta meta;
      if (auto r = rdb::decode(std::string_view(it->value().data(), it->value().size()), meta); !r) {
        problems.push_back("thread '" + thread + "': " + r.error().message);
        continue;
      }
      versions[thread] = meta.version;
      const auto seen = threads_seen.count(thread) != 0 ? threads_seen[thread] : ThreadSeen{};
      if (meta.queued != seen.queued)
        problems.push_back("thread '" + thread + "': meta says " + std::to_string(meta.queued) + " queued, found " +
                           std::to_string(seen.queued));
      if (seen.claimed.size() > 1) problems.push_back("thread '" + thread + "' has more than one claimed dispatch");
      const std::string claimed = seen.claimed.empty() ? std::string() : seen.claimed.front();
      if (meta.claimed != claimed)
        problems.push_back("thread '" + thread + "': meta claims '" + meta.claimed + "', found '" + claimed + "'");
      if (meta.queued > 0) ready_expected.insert(rdb::ready_key(thread));
      if (!meta.head.empty()) {
        std::string first;
        auto scanned = m.scan(
            rdb::kIndexCf, rdb::queued_prefix(thread),
            [&](std::string_view key, std::string_view) {
              first.assign(key);
              return false;
            },
            nullptr, snap);
        if (!scanned) return scanned.error();
        if (first != meta.head)
          problems.push_back("thread '" + thread + "': meta names queue head " + printable(meta.head) +
                             ", first queued " + printable(first));
      }
      if (!meta.latest_run_id.empty()) {
        auto run = m.get(rdb::kRunsCf, meta.latest_run_id, snap);
        if (!run) return run.error();
        if (!*run) problems.push_back("thread '" + thread + "': latest run '" + meta.latest_run_id + "' missing");
      }
      threads_seen.erase(thread);
    }
    if (!it->status().ok()) return to_error(it->status(), "verify");
    for (const auto& [thread, seen] : threads_seen)
      if (seen.queued > 0 || !seen.claimed.empty())
        problems.push_back("thread '" + thread + "' has live dispatches but no metadata");
  }

  // 3. messages: consecutive seqs per thread, each indexed by id
  std::set<std::string> message_ids_expected;
  {
    std::map<std::string, std::uint64_t> last_seq;
    auto it = m.iterator(rdb::kMessagesCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      MessageRecord rec;
      if (auto r = rdb::decode(std::string_view(it->value().data(), it->value().size()), rec); !r) {
        problems.push_back("message " + printable(it->key().ToString()) + ": " + r.error().message);
        continue;
      }
      if (it->key().ToString() != rdb::message_key(rec.thread_id, rec.seq))
        problems.push_back("message key " + printable(it->key().ToString()) + " does not match its record");
      auto& last = last_seq[rec.thread_id];
      if (rec.seq != last + 1)
        problems.push_back("thread '" + rec.thread_id + "': message seq " + std::to_string(rec.seq) + " follows " +
                           std::to_string(last));
      last = rec.seq;
      const auto id_key = rdb::message_id_key(rec.thread_id, rec.message.id);
      message_ids_expected.insert(id_key);
      auto seq = m.get(rdb::kIndexCf, id_key, snap);
      if (!seq) return seq.error();
      if (!*seq || rdb::get_u64(**seq) != rec.seq)
        problems.push_back("thread '" + rec.thread_id + "': message id index wrong for '" + rec.message.id + "'");
    }
    if (!it->status().ok()) return to_error(it->status(), "verify");
    for (const auto& [thread, version] : versions)
      if (last_seq[thread] != version)
        problems.push_back("thread '" + thread + "': version " + std::to_string(version) + " but " +
                           std::to_string(last_seq[thread]) + " messages");
  }

  // 4. runs and their indexes
  std::set<std::string> run_index_expected;
  {
    auto it = m.iterator(rdb::kRunsCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      RunRecord run;
      if (auto r = rdb::decode(std::string_view(it->value().data(), it->value().size()), run); !r) {
        problems.push_back("run '" + it->key().ToString() + "': " + r.error().message);
        continue;
      }
      std::string why;
      if (!run.check_invariants(&why)) problems.push_back(why);
      run_index_expected.insert(rdb::thread_run_key(run.thread_id, run.created_at, run.run_id));
      run_index_expected.insert(rdb::run_status_key(run.status, run.run_id));
    }
    if (!it->status().ok()) return to_error(it->status(), "verify");
  }

  // 5. every index entry is expected, and every expected entry is there
  {
    std::size_t found_expected = 0;
    auto it = m.iterator(rdb::kIndexCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      const char tag = key.empty() ? '?' : key[0];
      if (tag == 'm') {
        if (message_ids_expected.count(key) == 0) problems.push_back("stray message index " + printable(key));
      } else if (tag == 'u' || tag == 's') {
        if (run_index_expected.erase(key) == 0) problems.push_back("stray run index " + printable(key));
      } else if (tag == 'r') {
        if (ready_expected.erase(key) == 0) problems.push_back("stray ready marker " + printable(key));
      } else {
        auto e = expected_index.find(key);
        if (e == expected_index.end()) {
          problems.push_back("stray index entry " + printable(key));
        } else {
          ++found_expected;
          if (e->second != it->value().ToString()) problems.push_back("index entry " + printable(key) + " has a wrong value");
        }
      }
    }
    if (!it->status().ok()) return to_error(it->status(), "verify");
    if (found_expected != expected_index.size())
      problems.push_back(std::to_string(expected_index.size() - found_expected) + " dispatch index entries missing");
    for (const auto& k : run_index_expected) problems.push_back("missing run index " + printable(k));
    for (const auto& k : ready_expected) problems.push_back("missing ready marker " + printable(k));
  }

  // 6. counters
  auto stored_counts = m.read_counts(snap);
  if (!stored_counts) {
    problems.push_back(stored_counts.error().message);
    stored_counts = DispatchCounts{};
  }
  {
    auto it = m.iterator(rdb::kCountersCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (it->key() != rocksdb::Slice(rdb::kCountersKey.data(), rdb::kCountersKey.size()))
        problems.push_back("stray counter key " + printable(it->key().ToString()));
    if (!it->status().ok()) return to_error(it->status(), "verify");
  }
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const std::uint64_t stored = (*stored_counts)[i];
    if (stored != counts[i])
      problems.push_back("counter " + std::string(to_string(static_cast<DispatchStatus>(i))) + " is " +
                         std::to_string(stored) + ", found " + std::to_string(counts[i]));
  }

  // 7. events: consecutive seqs per run
  {
    std::map<std::string, std::uint64_t> last_seq;
    auto it = m.iterator(rdb::kEventsCf, snap);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      AgentEvent ev;
      if (auto r = rdb::decode(std::string_view(it->value().data(), it->value().size()), ev); !r) {
        problems.push_back("event " + printable(it->key().ToString()) + ": " + r.error().message);
        continue;
      }
      auto& last = last_seq[ev.run_id];
      if (ev.seq != last + 1)
        problems.push_back("run '" + ev.run_id + "': event seq " + std::to_string(ev.seq) + " follows " +
                           std::to_string(last));
      last = ev.seq;
    }
    if (!it->status().ok()) return to_error(it->status(), "verify");
  }

  // 8. the metadata cache: each cached entry reads like the stored row, and a known head is the
  // thread's first 'q' key; the live dispatch cache: each entry is the stored record of a live
  // (Queued or Claimed) dispatch of one of the stripe's threads. Checked under each stripe's lock against
  // the current database (no write of those threads can commit meanwhile), not against the
  // snapshot of 1-7.
  for (std::size_t index = 0; index < m.thread_stripes.size(); ++index) {
    auto& stripe = m.thread_stripes[index];
    std::lock_guard<rdb::CountedMutex> lock(stripe.mu);
    std::vector<RunDispatch> live;
    stripe.live.for_each([&](std::string_view, const RunDispatch& d) { live.push_back(d); });
    for (const auto& d : live) {
      auto stored = m.get_dispatch(d.dispatch_id);
      if (!stored) return stored.error();
      if (!*stored || !(**stored == d))
        problems.push_back("dispatch '" + d.dispatch_id + "': cached live record differs from the stored one");
      if (is_terminal(d.status)) problems.push_back("dispatch '" + d.dispatch_id + "': cached record is terminal");
      if (m.stripe_index(d.thread_id) != index)
        problems.push_back("dispatch '" + d.dispatch_id + "': cached by a stripe that is not its thread's");
    }
    std::vector<std::pair<std::string, rdb::ThreadMeta>> cached;
    stripe.metas.for_each([&](std::string_view thread, const rdb::ThreadMeta& meta) { cached.emplace_back(thread, meta); });
    for (const auto& [thread, meta] : cached) {
      auto stored = m.get_meta(thread);
      if (!stored) return stored.error();
      if (!(*stored == meta)) problems.push_back("thread '" + thread + "': cached metadata differs from the stored row");
      if (meta.head.empty()) continue;
      std::string first;
      auto scanned = m.scan(rdb::kIndexCf, rdb::queued_prefix(thread), [&](std::string_view key, std::string_view) {
        first.assign(key);
        return false;
      });
      if (!scanned) return scanned.error();
      if (first != meta.head)
        problems.push_back("thread '" + thread + "': cached queue head " + printable(meta.head) + ", first queued " +
                           printable(first));
    }
  }
  return problems;
}

}  // namespace mbx
