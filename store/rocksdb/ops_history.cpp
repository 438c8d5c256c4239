// RocksdbStore: runs, the committed message log and the event log (the ThreadRunStore side).
#include "store/rocksdb/rocksdb_impl.hpp"

#include "store/detail/rules.hpp"

#include <limits>
#include <tuple>

namespace mbx {

namespace {

template <class T>
Result<std::vector<T>> decode_all(RocksdbStore::Impl& m, rdb::Cf cf, const std::string& prefix,
                                  const std::string& start, std::uint32_t limit,
                                  const std::function<bool(const T&)>& keep_going) {
  std::vector<T> out;
  std::optional<Error> failure;
  auto scanned = m.scan(
      cf, prefix,
      [&](std::string_view, std::string_view value) {
        T x;
        if (auto r = rdb::decode(value, x); !r) {
          failure = r.error();
          return false;
        }
        if (!keep_going(x)) return false;
        out.push_back(std::move(x));
        return limit == 0 || out.size() < limit;
      },
      &start);
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

Result<RunPage> runs_in_index(RocksdbStore::Impl& m, const std::string& prefix, std::size_t id_offset,
                              std::uint64_t offset, std::uint32_t limit) {
  RunPage out;
  std::vector<std::string> ids;
  auto scanned = m.scan(rdb::kIndexCf, prefix, [&](std::string_view key, std::string_view) {
    if (out.total >= offset && (limit == 0 || ids.size() < limit)) ids.emplace_back(key.substr(id_offset));
    ++out.total;
    return true;
  });
  if (!scanned) return scanned.error();
  out.items.reserve(ids.size());
  for (const auto& id : ids) {
    auto r = m.get_run(id);
    if (!r) return r.error();
    if (*r) out.items.push_back(std::move(**r));
  }
  return out;
}

}  // namespace

Result<std::optional<RunRecord>> RocksdbStore::load_run(const std::string& run_id) { return impl_->get_run(run_id); }

Result<std::optional<RunRecord>> RocksdbStore::latest_run(const std::string& thread_id) {
  if (!rdb::is_key_safe(thread_id)) return std::optional<RunRecord>{};
  auto meta = impl_->read_meta(thread_id);
  if (!meta) return meta.error();
  if (meta->latest_run_id.empty()) return std::optional<RunRecord>{};
  return impl_->get_run(meta->latest_run_id);
}

Result<RunPage> RocksdbStore::list_runs(const std::string& thread_id, std::uint64_t offset, std::uint32_t limit) {
  if (!rdb::is_key_safe(thread_id)) return RunPage{};
  const auto prefix = rdb::thread_run_prefix(thread_id);
  return runs_in_index(*impl_, prefix, prefix.size() + 8, offset, limit);
}

Result<RunPage> RocksdbStore::list_runs_by_status(RunStatus status, std::uint64_t offset, std::uint32_t limit) {
  const auto prefix = rdb::run_status_prefix(status);
  return runs_in_index(*impl_, prefix, prefix.size(), offset, limit);
}

Result<std::vector<std::string>> RocksdbStore::run_ids_by_status(RunStatus status) {
  const auto prefix = rdb::run_status_prefix(status);
  std::vector<std::string> ids;
  auto scanned = impl_->scan(rdb::kIndexCf, prefix, [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(prefix.size()));
    return true;
  });
  if (!scanned) return scanned.error();
  return ids;
}

Result<std::optional<RunRecord>> RocksdbStore::reusable_waiting_run(const std::string& thread_id) {
  auto latest = latest_run(thread_id);
  if (!latest) return latest.error();
  if (*latest && (*latest)->is_resumable_waiting()) return latest;
  return std::optional<RunRecord>{};
}

Result<std::uint64_t> RocksdbStore::commit_run_append(const std::string& thread_id,
                                                      const std::vector<Message>& messages,
                                                      std::optional<std::uint64_t> expected_version,
                                                      const RunRecord& run, const Fence* fence, std::int64_t now_ms,
                                                      Durability durability) {
  auto committed = commit_run(thread_id, messages, expected_version, run, fence, nullptr, nullptr, now_ms, durability);
  if (!committed) return committed.error();
  return committed->version;
}

Result<StepCommit> RocksdbStore::commit_run_enqueue(const std::string& thread_id, const std::vector<Message>& messages,
                                                    std::optional<std::uint64_t> expected_version,
                                                    const RunRecord& run, const RunDispatch& dispatch,
                                                    const EnqueueOptions& options, std::int64_t now_ms) {
  const Enqueue enqueue{&dispatch, &options};
  return commit_run(thread_id, messages, expected_version, run, nullptr, nullptr, &enqueue, now_ms, Durability::synced);
}

Result<StepCommit> RocksdbStore::commit_run_step(const std::string& thread_id, const std::vector<Message>& messages,
                                                 std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                                 const Fence& fence, const DispatchStep& step, std::int64_t now_ms,
                                                 Durability durability) {
  return commit_run(thread_id, messages, expected_version, run, &fence, &step, nullptr, now_ms, durability);
}

Result<void> RocksdbStore::Impl::stage_run_locked(rocksdb::WriteBatch& b, const std::string& thread_id,
                                                 rdb::ThreadMeta& meta, const RunRecord* existing,
                                                 const RunRecord& written) {
  // An index entry whose key stays the same is only written again (its value may change): a
  // Delete before the Put would be one more memtable insert for nothing.
  const bool same_created = existing != nullptr && existing->created_at == written.created_at;
  const bool same_status = existing != nullptr && existing->status == written.status;
  if (existing != nullptr && !same_created)
    std::ignore = b.Delete(cf[rdb::kIndexCf], rdb::thread_run_key(thread_id, existing->created_at, written.run_id));
  if (existing != nullptr && !same_status)
    std::ignore = b.Delete(cf[rdb::kIndexCf], rdb::run_status_key(existing->status, written.run_id));
  // The 'u' entry carries (updated_at, write seq): the latest run is the greatest of them.
  const std::uint64_t write_seq = ++meta.writes;
  std::string order;
  rdb::put_i64(order, written.updated_at);
  rdb::put_u64(order, write_seq);
  std::ignore = b.Put(cf[rdb::kIndexCf], rdb::thread_run_key(thread_id, written.created_at, written.run_id), order);
  if (!same_status) std::ignore = b.Put(cf[rdb::kIndexCf], rdb::run_status_key(written.status, written.run_id), "");
  std::ignore = b.Put(cf[rdb::kRunsCf], written.run_id, rdb::encode(written));
  if (meta.latest_run_id.empty() || written.updated_at >= meta.latest_updated_at) {
    meta.latest_run_id = written.run_id;
    meta.latest_updated_at = written.updated_at;
  } else if (meta.latest_run_id == written.run_id) {
    // The latest run moved back in time: the greatest of the others may now be later.
    auto best = std::make_tuple(written.updated_at, write_seq, written.run_id);
    const auto prefix = rdb::thread_run_prefix(thread_id);
    auto scanned = scan(rdb::kIndexCf, prefix, [&](std::string_view key, std::string_view value) {
      std::string id(key.substr(prefix.size() + 8));
      if (id != written.run_id && value.size() == 16) {
        auto other = std::make_tuple(rdb::get_i64(value), rdb::get_u64(value.substr(8)), std::move(id));
        if (other > best) best = std::move(other);
      }
      return true;
    });
    if (!scanned) return scanned.error();
    meta.latest_updated_at = std::get<0>(best);
    meta.latest_run_id = std::get<2>(best);
  }
  return {};
}

Result<StepCommit> RocksdbStore::commit_run(const std::string& thread_id, const std::vector<Message>& messages,
                                            std::optional<std::uint64_t> expected_version, const RunRecord& run,
                                            const Fence* fence, const DispatchStep* step, const Enqueue* enqueue,
                                            std::int64_t now_ms, Durability durability) {
  return impl_->durable<StepCommit>([&]() -> Result<StepCommit> {
    if (auto r = detail::validate_commit(thread_id, messages, expected_version, run); !r) return r.error();
    if (!rdb::is_key_safe(thread_id) || !rdb::is_key_safe(run.run_id))
      return validation_error("commit_run_append: thread and run ids must contain no NUL byte");
    for (const auto& msg : messages)
      if (!rdb::is_key_safe(msg.id)) return validation_error("commit_run_append: message ids must contain no NUL byte");
    if (step != nullptr && fence == nullptr) return validation_error("commit_run_step: a step needs a fence");
    if (enqueue != nullptr)
      if (auto r = detail::validate_inline_start(*enqueue->options, run); !r) return r.error();
    auto& m = *impl_;
    StepCommit out;
    std::optional<RunDispatch> owned;  // the dispatch before the step, when there is one
    std::lock_guard<rdb::CountedMutex> lock(m.thread_lock(thread_id));
    auto meta = m.get_meta_locked(thread_id);
    if (!meta) return meta.error();
    if (fence != nullptr) {
      // The fence must name a dispatch of this thread (its lock and epoch are the ones held, so
      // this read is current).
      auto fenced = m.get_dispatch_locked(thread_id, fence->dispatch_id);
      if (!fenced) return fenced.error();
      if (*fenced && (*fenced)->thread_id != thread_id)
        return validation_error("commit_run_append: fence dispatch '" + fence->dispatch_id + "' belongs to thread '" +
                                (*fenced)->thread_id + "', not '" + thread_id + "'");
      auto d = m.owned_locked("commit_run_append", *fence, *fenced, *meta, now_ms);
      if (!d) return d.error();
      if (d->run_id != run.run_id || d->thread_id != thread_id)
        return validation_error("commit_run_append: fence dispatch '" + fence->dispatch_id + "' runs '" + d->run_id +
                                "', not '" + run.run_id + "'");
      if (step != nullptr) {
        out.dispatch = *d;
        if (auto r = detail::apply_step(out.dispatch, *step, now_ms); !r) return r.error();
        owned = std::move(*d);
      }
    }
    const RunRecord* written = &run;  // an inline start writes the started record instead
    auto existing = m.get_run(run.run_id);
    if (!existing) return existing.error();
    if (*existing && (*existing)->thread_id != thread_id)
      return validation_error("commit_run_append: run '" + run.run_id + "' belongs to thread '" +
                              (*existing)->thread_id + "'");
    if (expected_version && *expected_version != meta->version)
      return detail::version_conflict(thread_id, *expected_version, meta->version);
    if (enqueue != nullptr) {
      if (enqueue->dispatch->thread_id != thread_id || enqueue->dispatch->run_id != run.run_id)
        return validation_error("commit_run_enqueue: dispatch '" + enqueue->dispatch->dispatch_id + "' is not of run '" +
                                run.run_id + "' on thread '" + thread_id + "'");
      auto stored = m.check_enqueue_locked(*enqueue->dispatch, *enqueue->options, *meta, now_ms);
      if (!stored) return stored.error();
      out.dispatch = std::move(*stored);
      auto started = detail::apply_inline_start(out.dispatch, *enqueue->options, run, now_ms);
      if (!started) return started.error();
      written = *started;
    }
    for (const auto& msg : messages) {
      auto seen = m.get(rdb::kIndexCf, rdb::message_id_key(thread_id, msg.id));
      if (!seen) return seen.error();
      if (*seen)
        return validation_error("commit_run_append: message '" + msg.id + "' is already committed on thread '" +
                                thread_id + "'");
    }
    const RunRecord& written_run = *written;
    const auto meta_before = *meta;
    rocksdb::WriteBatch b;
    for (const auto& msg : messages) {
      MessageRecord rec{thread_id, ++meta->version, msg, run.run_id, now_ms / 1000};
      std::string seq;
      rdb::put_u64(seq, rec.seq);
      std::ignore = b.Put(m.cf[rdb::kIndexCf], rdb::message_id_key(thread_id, msg.id), seq);
      std::ignore = b.Put(m.cf[rdb::kMessagesCf], rdb::message_key(thread_id, rec.seq), rdb::encode(rec));
    }
    if (auto r = m.stage_run_locked(b, thread_id, *meta, *existing ? &**existing : nullptr, written_run); !r)
      return r.error();
    if (owned) m.stage_dispatch(b, *meta, &*owned, &out.dispatch);
    if (enqueue != nullptr) m.stage_dispatch(b, *meta, nullptr, &out.dispatch);
    m.stage_meta(b, thread_id, meta_before, *meta);
    // The step's event goes in the same write, under its run's event lock (after the thread's,
    // as in append_event).
    Impl::StagedEvent staged;
    if (const AgentEvent* event = detail::event_of_commit(step, enqueue != nullptr ? enqueue->options : nullptr,
                                                          written, run))
      if (auto r = staged.stage(m, b, run.run_id, *event); !r) return r.error();
    const char* op = step != nullptr ? "commit_run_step" : enqueue != nullptr ? "commit_run_enqueue" : "commit_run_append";
    const RunDispatch* written_dispatch = owned || enqueue != nullptr ? &out.dispatch : nullptr;
    if (auto r = m.commit_locked(thread_id, b, op, &*meta, written_dispatch, durability); !r) return r.error();
    staged.committed();
    out.event = std::move(staged.event);
    out.version = meta->version;
    return out;
  });
}

Result<std::uint64_t> RocksdbStore::committed_version(const std::string& thread_id) {
  if (!rdb::is_key_safe(thread_id)) return std::uint64_t{0};
  auto meta = impl_->read_meta(thread_id);
  if (!meta) return meta.error();
  return meta->version;
}

Result<std::vector<MessageRecord>> RocksdbStore::load_committed_messages(const std::string& thread_id,
                                                                        std::uint64_t from_seq, std::uint32_t limit) {
  if (!rdb::is_key_safe(thread_id)) return std::vector<MessageRecord>{};
  return decode_all<MessageRecord>(*impl_, rdb::kMessagesCf, rdb::message_prefix(thread_id),
                                   rdb::message_key(thread_id, std::max<std::uint64_t>(from_seq, 1)), limit,
                                   [](const MessageRecord&) { return true; });
}

Result<std::optional<MessageRecord>> RocksdbStore::load_message_record(const std::string& thread_id,
                                                                       const std::string& message_id) {
  if (!rdb::is_key_safe(thread_id) || message_id.find('\0') != std::string::npos) return std::optional<MessageRecord>{};
  auto& m = *impl_;
  auto seq = m.get(rdb::kIndexCf, rdb::message_id_key(thread_id, message_id));
  if (!seq) return seq.error();
  if (!*seq) return std::optional<MessageRecord>{};
  auto v = m.get(rdb::kMessagesCf, rdb::message_key(thread_id, rdb::get_u64(**seq)));
  if (!v) return v.error();
  if (!*v) return store_error("load_message_record: index names missing message '" + message_id + "'");
  MessageRecord rec;
  if (auto r = rdb::decode(**v, rec); !r) return r.error();
  return std::optional<MessageRecord>{std::move(rec)};
}

Result<std::vector<MessageRecord>> RocksdbStore::load_message_records_range(const std::string& thread_id,
                                                                            std::uint64_t from_seq,
                                                                            std::uint64_t to_seq) {
  if (!rdb::is_key_safe(thread_id) || to_seq < from_seq) return std::vector<MessageRecord>{};
  return decode_all<MessageRecord>(*impl_, rdb::kMessagesCf, rdb::message_prefix(thread_id),
                                   rdb::message_key(thread_id, std::max<std::uint64_t>(from_seq, 1)), 0,
                                   [&](const MessageRecord& r) { return r.seq <= to_seq; });
}

Result<AgentEvent> RocksdbStore::append_event(const std::string& run_id, const AgentEvent& event,
                                              const Fence* fence) {
  if (!rdb::is_key_safe(run_id)) return validation_error("append_event: run_id must be non-blank without NUL");
  auto& m = *impl_;
  std::unique_lock<rdb::CountedMutex> thread_lock;
  if (fence != nullptr) {
    auto locked = m.lock_dispatch(fence->dispatch_id);
    if (!locked) return locked.error();
    if (!locked->dispatch) return not_found_error("append_event: dispatch '" + fence->dispatch_id + "' not found");
    thread_lock = std::move(locked->lock);
    auto meta = m.get_meta_locked(locked->dispatch->thread_id);
    if (!meta) return meta.error();
    auto d = m.owned_locked("append_event", *fence, locked->dispatch, *meta, event.at_ms);
    if (!d) return d.error();
    if (d->run_id != run_id)
      return validation_error("append_event: fence dispatch '" + fence->dispatch_id + "' runs '" + d->run_id +
                              "', not '" + run_id + "'");
  }
  rocksdb::WriteBatch b;
  Impl::StagedEvent staged;
  if (auto r = staged.stage(m, b, run_id, event); !r) return r.error();
  rocksdb::WriteOptions wo = m.write_options;
  wo.sync = m.options.sync && m.options.sync_events;
  if (auto s = m.db->Write(wo, &b); !s.ok()) return to_error(s, "append_event");
  staged.committed();
  return std::move(*staged.event);
}

Result<std::vector<AgentEvent>> RocksdbStore::read_events(const std::string& run_id, std::uint64_t after_seq,
                                                          std::uint32_t limit) {
  if (!rdb::is_key_safe(run_id)) return std::vector<AgentEvent>{};
  if (after_seq == std::numeric_limits<std::uint64_t>::max()) return std::vector<AgentEvent>{};
  return decode_all<AgentEvent>(*impl_, rdb::kEventsCf, rdb::event_prefix(run_id),
                                rdb::event_key(run_id, after_seq + 1), limit,
                                [](const AgentEvent&) { return true; });
}

}  // namespace mbx
