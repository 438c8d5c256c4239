// mailbox_demo: walks dispatches through their lifecycle on the embedded default store
// (RocksDB in ./mailbox-data, or --data-dir DIR) and prints every state as JSON.
// The main job of README until the node (mailboxd) exists.
#include "messages/clock.hpp"
#include "messages/ids.hpp"
#include "messages/json/json_codec.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

using namespace mbx;

void print(const char* step, const boost::json::value& v) {
  std::cout << "== " << step << "\n" << boost::json::serialize(v) << "\n";
}

int fail(const char* step, const Error& e) {
  std::cerr << "mailbox_demo: " << step << " failed: " << describe(e) << "\n";
  return 1;
}

void usage() {
  std::cout << "usage: mailbox_demo [--data-dir DIR]\n"
               "  Walks dispatches through claim, start, result, ack, nack, dead letter and interrupt\n"
               "  on a RocksDB store in DIR (default ./mailbox-data) and prints each state as JSON.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "./mailbox-data";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      std::cerr << "mailbox_demo: unknown argument '" << argv[i] << "'\n";
      usage();
      return 2;
    }
  }
  SystemClock clock;
  UuidV7Source ids(clock);
  auto opened = RocksdbStore::open(RocksdbOptions{dir});
  if (!opened) return fail("open", opened.error());
  auto& store = **opened;
  std::cout << "mailbox_demo: store at " << dir << "\n";

  const std::string thread = "demo-" + ids.next_id();
  const std::int64_t now = clock.now_ms();

  // 1. A user message and its run, committed to the thread's history in one versioned append.
  Message hello;
  hello.role = Role::user;
  hello.content = "What is the weather in Lisbon?";
  normalize_message_id(hello, ids);
  RunRecord run;
  run.run_id = ids.next_id();
  run.thread_id = thread;
  run.agent_id = "weather-agent";
  run.created_at = run.updated_at = clock.now_s();
  auto version = store.commit_run_append(thread, {hello}, 0, run, nullptr, now);
  if (!version) return fail("commit_run_append", version.error());
  auto history = store.load_committed_messages(thread, 1, 0);
  if (!history) return fail("load_committed_messages", history.error());
  print("committed history (version 1)", to_json(history->front()));

  // 2. Happy path: enqueue -> claim -> start -> result -> ack.
  auto queued = store.enqueue(RunDispatch::queued(ids.next_id(), thread, run.run_id, now), EnqueueOptions{64});
  if (!queued) return fail("enqueue", queued.error());
  print("enqueued", to_json(*queued));
  auto claimed = store.claim(thread, "demo-consumer", 30'000, now, 1);
  if (!claimed || claimed->empty()) return fail("claim", claimed ? internal_error("nothing claimed") : claimed.error());
  print("claimed", to_json(claimed->front()));
  const Fence fence = Fence::of(claimed->front());
  auto started = store.record_dispatch_start(fence, ids.next_id(), now + 1);
  if (!started) return fail("record_dispatch_start", started.error());
  print("started", to_json(*started));
  RunDispatchResult result{run.run_id, *started->dispatch_instance_id, RunStatus::done,
                           TerminationReason{TerminationKind::natural_end, "", ""}, "Sunny, 24 C", std::nullopt};
  auto recorded = store.record_run_result(fence, result, now + 2);
  if (!recorded) return fail("record_run_result", recorded.error());
  auto acked = store.ack(fence, now + 3);
  if (!acked) return fail("ack", acked.error());
  print("acked", to_json(*acked));
  auto stale = store.ack(fence, now + 4);
  print("a second ack with the same fence is refused", to_json(stale ? Error{Errc::internal, "accepted"} : stale.error()));

  // 3. Retries: nack with backoff, then dead letter at max attempts.
  auto retry = RunDispatch::queued(ids.next_id(), thread, run.run_id, now);
  retry.max_attempts = 2;
  if (auto r = store.enqueue(retry, {}); !r) return fail("enqueue", r.error());
  auto c1 = store.claim(thread, "demo-consumer", 30'000, now + 10, 1);
  if (!c1 || c1->empty()) return fail("claim", c1 ? internal_error("nothing claimed") : c1.error());
  auto nacked = store.nack(Fence::of(c1->front()), now + 260, "model rate limited", now + 10);
  if (!nacked) return fail("nack", nacked.error());
  print("nacked (queued again, available after the backoff)", to_json(*nacked));
  auto c2 = store.claim(thread, "demo-consumer", 30'000, now + 300, 1);
  if (!c2 || c2->empty()) return fail("claim", c2 ? internal_error("nothing claimed") : c2.error());
  auto dead = store.nack(Fence::of(c2->front()), now + 800, "model rate limited again", now + 300);
  if (!dead) return fail("nack", dead.error());
  print("dead-lettered at max attempts", to_json(*dead));

  // 4. Interrupt: queued work is superseded, the thread's epoch moves on.
  auto pending = store.enqueue(RunDispatch::queued(ids.next_id(), thread, run.run_id, now + 400), {});
  if (!pending) return fail("enqueue", pending.error());
  auto interrupted = store.interrupt(thread, now + 500);
  if (!interrupted) return fail("interrupt", interrupted.error());
  print("superseded by interrupt", to_json(interrupted->superseded.front()));

  auto counts = store.count_dispatches_by_status();
  if (!counts) return fail("count_dispatches_by_status", counts.error());
  boost::json::object by_status;
  for (std::size_t i = 0; i < counts->size(); ++i)
    by_status[to_string(static_cast<DispatchStatus>(i))] = (*counts)[i];
  print("dispatches in the store by status", by_status);
  auto problems = store.verify();
  if (!problems) return fail("verify", problems.error());
  std::cout << "== verify: " << (problems->empty() ? "consistent" : "INCONSISTENT") << "\n";
  for (const auto& p : *problems) std::cout << "  " << p << "\n";
  return problems->empty() ? 0 : 1;
}
