// mbx_crash_writer DIR SEED: the child process of the crash suite (crash_test.cpp). Opens the
// RocksDB store at DIR (sync=true) and writes forever, until it is SIGKILLed, a random mix of
// enqueue, claim + ack, claim + nack, interrupt, commit_run_append and append_event over
// kThreads mailbox threads, from kWorkers OS threads (worker w owns the mailbox threads
// i with i % kWorkers == w, so every thread has one writer and its history is exact).
//
// Protocol on stdout, one line per write(2) (atomic on a pipe: lines are short), no buffering:
//   R <pid>                                   the store is open
//   B <w> <op> <args...>                      worker w is about to make this write
//   <done line>                               that write returned; what is now durable:
//     E <w> <dispatch> <thread> <epoch>          enqueued, Queued
//     C <w> <dispatch> <thread> <token> <epoch>  claimed
//     C0 <w> <thread>                            claim found nothing (no write)
//     A <w> <dispatch>                           acked
//     N <w> <dispatch> <status> <attempts>       nacked: queued again or dead_letter
//     I <w> <thread> <new_epoch> <superseded...> interrupted
//     M <w> <thread> <run> <version> <message_id>:<seq>...   messages committed
//     V <w> <run> <seq> <nonce>                  event appended (text = nonce)
//     S <w> <dispatch> <status>                  a fenced write was refused; the dispatch as
//                                                read back (a stale epoch supersedes it)
//     X <w> <op> <errc> <message>                an unexpected error (the worker stops)
// Intent lines:
//   B <w> enq <dispatch> <thread>       B <w> claim <thread>      B <w> ack <dispatch>
//   B <w> nack <dispatch>               B <w> int <thread>
//   B <w> commit <thread> <expected> <fence dispatch|-> <run> <message_id>...
//   B <w> event <run> <fence dispatch|-> <nonce>
// Every id carries SEED, so successive children on one folder never reuse an id.
#include "messages/agent_event.hpp"
#include "messages/clock.hpp"
#include "messages/message.hpp"
#include "messages/run_dispatch.hpp"
#include "messages/run_record.hpp"
#include "store/fence.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 36;
constexpr int kWorkers = 4;
constexpr std::int64_t kLeaseMs = 10 * 60 * 1000;

// Writes one whole line with write(2); exits quietly when the reader is gone.
void emit(std::string line) {
  line.push_back('\n');
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const auto n = ::write(STDOUT_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::_Exit(0);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string thread_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "t%02d", i);
  return buf;
}

// What a worker knows about one of its threads (it is the only writer of that thread).
struct ThreadView {
  std::string id;
  std::optional<mbx::RunDispatch> claimed;  // the Claimed dispatch, possibly stale
  std::vector<std::string> runs;            // run ids seen on this thread (newest last)
};

class Worker {
public:
  Worker(mbx::Store& store, int index, std::uint64_t seed)
      : store_(store), w_(index), seed_(seed), rng_(seed * 7919 + static_cast<std::uint64_t>(index)) {}

  void run() {
    for (int i = w_; i < kThreads; i += kWorkers) adopt(thread_name(i));
    for (;;) step();
  }

private:
  // Picks up a thread as a previous (killed) child left it: its Claimed dispatch, its runs.
  void adopt(const std::string& thread) {
    ThreadView v;
    v.id = thread;
    auto claimed = store_.list_dispatches(thread, {mbx::DispatchStatus::claimed}, 0, 1, false);
    if (!claimed) fail("adopt", claimed.error());
    if (!claimed->items.empty()) v.claimed = claimed->items.front();
    auto recent = store_.list_dispatches(
        thread,
        {mbx::DispatchStatus::queued, mbx::DispatchStatus::claimed, mbx::DispatchStatus::acked,
         mbx::DispatchStatus::cancelled, mbx::DispatchStatus::superseded, mbx::DispatchStatus::dead_letter},
        0, 8, true);
    if (!recent) fail("adopt", recent.error());
    for (const auto& d : recent->items) v.runs.push_back(d.run_id);
    threads_.push_back(std::move(v));
  }

  [[noreturn]] void fail(const std::string& op, const mbx::Error& e) {
    std::string msg = e.message;
    for (auto& c : msg)
      if (c == '\n') c = ' ';
    emit("X " + std::to_string(w_) + " " + op + " " + std::string(mbx::to_string(e.code)) + " " + msg);
    // Park: the parent kills us; other workers keep going.
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }

  std::string fresh(const char* kind) {
    return std::string(kind) + "-" + std::to_string(seed_) + "-" + std::to_string(w_) + "-" + std::to_string(++n_);
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::string head() const { return " " + std::to_string(w_) + " "; }

  void step() {
    auto& t = threads_[static_cast<std::size_t>(pick(static_cast<int>(threads_.size())))];
    const int roll = pick(100);
    if (roll < 22) return enqueue(t);
    if (roll < 42) return t.claimed ? finish(t) : claim(t);
    if (roll < 47) return interrupt(t);
    if (roll < 72) return commit(t);
    return event(t);
  }

  void enqueue(ThreadView& t) {
    const auto now = clock_.now_ms();
    auto d = mbx::RunDispatch::queued(fresh("d"), t.id, fresh("r"), now);
    d.priority = static_cast<std::uint8_t>(pick(3) * 100);
    d.max_attempts = static_cast<std::uint32_t>(1 + pick(3));
    emit("B" + head() + "enq " + d.dispatch_id + " " + t.id);
    auto r = store_.enqueue(d, mbx::EnqueueOptions{});
    if (!r) fail("enqueue", r.error());
    t.runs.push_back(d.run_id);
    emit("E" + head() + r->dispatch_id + " " + t.id + " " + std::to_string(r->dispatch_epoch));
  }

  void claim(ThreadView& t) {
    emit("B" + head() + "claim " + t.id);
    auto r = store_.claim(t.id, "worker-" + std::to_string(w_), kLeaseMs, clock_.now_ms(), 1);
    if (!r) fail("claim", r.error());
    if (r->empty()) {
      emit("C0" + head() + t.id);
      return;
    }
    const auto& d = r->front();
    t.claimed = d;
    emit("C" + head() + d.dispatch_id + " " + t.id + " " + d.claim_token.value_or("?") + " " +
         std::to_string(d.dispatch_epoch));
  }

  // A refused fenced write: reports the dispatch as it is now and forgets the claim.
  void refused(ThreadView& t, const std::string& op, const mbx::Error& e) {
    if (e.code != mbx::Errc::fenced) fail(op, e);
    const auto id = t.claimed->dispatch_id;
    t.claimed.reset();
    auto now = store_.load_dispatch(id);
    if (!now) fail(op, now.error());
    if (!*now) fail(op, mbx::Error{mbx::Errc::internal, "dispatch '" + id + "' vanished"});
    emit("S" + head() + id + " " + std::string(mbx::to_string((*now)->status)));
  }

  void finish(ThreadView& t) {
    const auto fence = mbx::Fence::of(*t.claimed);
    const auto now = clock_.now_ms();
    if (pick(2) == 0) {
      emit("B" + head() + "ack " + fence.dispatch_id);
      auto r = store_.ack(fence, now);
      if (!r) return refused(t, "ack", r.error());
      t.claimed.reset();
      emit("A" + head() + r->dispatch_id);
    } else {
      emit("B" + head() + "nack " + fence.dispatch_id);
      auto r = store_.nack(fence, now, "crash-writer nack", now);
      if (!r) return refused(t, "nack", r.error());
      t.claimed.reset();
      emit("N" + head() + r->dispatch_id + " " + std::string(mbx::to_string(r->status)) + " " +
           std::to_string(r->attempt_count));
    }
  }

  void interrupt(ThreadView& t) {
    emit("B" + head() + "int " + t.id);
    auto r = store_.interrupt(t.id, clock_.now_ms());
    if (!r) fail("interrupt", r.error());
    std::string line = "I" + head() + t.id + " " + std::to_string(r->new_epoch);
    for (const auto& d : r->superseded) line += " " + d.dispatch_id;
    emit(line);
  }

  void commit(ThreadView& t) {
    const auto now = clock_.now_ms();
    auto version = store_.committed_version(t.id);
    if (!version) fail("committed_version", version.error());
    const mbx::Fence* fence = nullptr;
    mbx::Fence owned;
    std::string run_id;
    if (t.claimed && pick(2) == 0) {
      owned = mbx::Fence::of(*t.claimed);
      fence = &owned;
      run_id = t.claimed->run_id;
    } else if (!t.runs.empty() && pick(2) == 0) {
      run_id = t.runs[static_cast<std::size_t>(pick(static_cast<int>(t.runs.size())))];
    } else {
      run_id = fresh("r");
      t.runs.push_back(run_id);
    }
    mbx::RunRecord run;
    run.run_id = run_id;
    run.thread_id = t.id;
    run.status = mbx::RunStatus::running;
    run.created_at = now / 1000;
    run.updated_at = now / 1000;
    run.steps = static_cast<std::uint32_t>(pick(10));
    std::vector<mbx::Message> messages(static_cast<std::size_t>(1 + pick(3)));
    std::string intent = "B" + head() + "commit " + t.id + " " + std::to_string(*version) + " " +
                         (fence != nullptr ? fence->dispatch_id : std::string("-")) + " " + run_id;
    for (auto& m : messages) {
      m.id = fresh("m");
      m.role = pick(2) == 0 ? mbx::Role::user : mbx::Role::assistant;
      m.content = "content of " + m.id;
      intent += " " + m.id;
    }
    emit(intent);
    auto r = store_.commit_run_append(t.id, messages, *version, run, fence, now);
    if (!r) {
      if (fence != nullptr && r.error().code == mbx::Errc::fenced) return refused(t, "commit_run_append", r.error());
      fail("commit_run_append", r.error());
    }
    std::string line = "M" + head() + t.id + " " + run_id + " " + std::to_string(*r);
    for (std::size_t i = 0; i < messages.size(); ++i)
      line += " " + messages[i].id + ":" + std::to_string(*version + 1 + i);
    emit(line);
  }

  void event(ThreadView& t) {
    const mbx::Fence* fence = nullptr;
    mbx::Fence owned;
    std::string run_id;
    if (t.claimed && pick(2) == 0) {
      owned = mbx::Fence::of(*t.claimed);
      fence = &owned;
      run_id = t.claimed->run_id;
    } else if (!t.runs.empty()) {
      run_id = t.runs[static_cast<std::size_t>(pick(static_cast<int>(t.runs.size())))];
    } else {
      run_id = fresh("r");
      t.runs.push_back(run_id);
    }
    mbx::AgentEvent ev;
    ev.type = mbx::AgentEventType::text_delta;
    ev.thread_id = t.id;
    ev.text = fresh("v");
    ev.at_ms = clock_.now_ms();
    emit("B" + head() + "event " + run_id + " " + (fence != nullptr ? fence->dispatch_id : std::string("-")) + " " +
         ev.text);
    auto r = store_.append_event(run_id, ev, fence);
    if (!r) {
      if (fence != nullptr && r.error().code == mbx::Errc::fenced) return refused(t, "append_event", r.error());
      fail("append_event", r.error());
    }
    emit("V" + head() + run_id + " " + std::to_string(r->seq) + " " + ev.text);
  }

  mbx::Store& store_;
  int w_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;
  mbx::SystemClock clock_;
  std::uint64_t n_ = 0;
  std::vector<ThreadView> threads_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mbx_crash_writer DIR SEED\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const std::string dir = argv[1];
  const std::uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  auto opened = mbx::RocksdbStore::open(mbx::RocksdbOptions{dir, true});
  if (!opened) {
    std::fprintf(stderr, "mbx_crash_writer: %s\n", mbx::describe(opened.error()).c_str());
    return 1;
  }
  std::unique_ptr<mbx::RocksdbStore> store = std::move(*opened);
  emit("R " + std::to_string(::getpid()));
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back([&store, w, seed] { Worker(*store, w, seed).run(); });
  for (auto& t : workers) t.join();  // never: the workers loop until the process is killed
  return 0;
}
