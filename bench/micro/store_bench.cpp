// Store micro benchmarks (Google Benchmark): enqueue, claim + ack and commit_run_append of one
// 200-byte message on the RocksDB store, synced and unsynced, from 1/2/8/32 concurrent
// writers, next to the limit: a bare RocksDB WriteBatch with the same number of keys and the
// same sync setting (BM_RawWriteBatch/keys:N). Each op is one iteration; items_per_second is
// the rate. Every benchmark opens a fresh store in a temp folder.
#include "messages/ids.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace {

using namespace mbx;

constexpr std::int64_t kNow = 1'700'000'000'000;

std::string fresh_dir(const char* tag) {
  static std::atomic<int> n{0};
  auto base = std::filesystem::temp_directory_path() / ("mbx-bench-" + std::to_string(::getpid()));
  auto dir = base / (std::string(tag) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// One store shared by the benchmark's threads; thread 0 opens it and publishes it in
// `g_open` (the other threads wait for it in wait_shared when they use it before the start
// barrier), and closes it after the end barrier.
struct Shared {
  std::unique_ptr<RocksdbStore> store;
  std::string dir;
};
Shared g_shared;
SystemClock g_clock;
UuidV7Source g_ids(g_clock);
enum class Open : int { pending, ready, failed };
std::atomic<Open> g_open{Open::pending};

void open_shared(benchmark::State& state, const char* tag) {
  if (state.thread_index() != 0) return;
  g_shared.dir = fresh_dir(tag);
  auto s = RocksdbStore::open(RocksdbOptions{g_shared.dir, state.range(0) != 0});
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    g_open.store(Open::failed, std::memory_order_release);
    return;
  }
  g_shared.store = std::move(*s);
  g_open.store(Open::ready, std::memory_order_release);
}

// For use before the timed loop: false (and the benchmark skipped) if the store did not open.
bool wait_shared(benchmark::State& state) {
  Open o;
  while ((o = g_open.load(std::memory_order_acquire)) == Open::pending) std::this_thread::yield();
  if (o == Open::ready) return true;
  state.SkipWithError("store did not open");
  return false;
}

// Every thread has left its timed loop (the end barrier) when thread 0 gets here, and the
// next run starts its threads after this one's have been joined.
void close_shared(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  g_shared.store.reset();
  g_open.store(Open::pending, std::memory_order_release);
  std::filesystem::remove_all(g_shared.dir);
}

std::string thread_name(benchmark::State& state, std::int64_t i) {
  return "t" + std::to_string(state.thread_index()) + "-" + std::to_string(i);
}

void BM_StoreEnqueue(benchmark::State& state) {
  open_shared(state, "enqueue");
  std::int64_t i = 0;
  for (auto _ : state) {
    auto r = g_shared.store->enqueue(RunDispatch::queued(g_ids.next_id(), thread_name(state, i++ % 64), "run", kNow),
                                     EnqueueOptions{});
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
  close_shared(state);
}

void BM_StoreClaimAck(benchmark::State& state) {
  open_shared(state, "claimack");
  // Each writer owns its threads, one dispatch each, all enqueued before the timed loop (the
  // start barrier waits for every writer), so the timed region holds claim + ack only and
  // no timer is paused per iteration.
  const auto n = wait_shared(state) ? static_cast<std::int64_t>(state.max_iterations) : 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto q = g_shared.store->enqueue(RunDispatch::queued(g_ids.next_id(), thread_name(state, i), "run", kNow),
                                     EnqueueOptions{});
    if (!q) {
      state.SkipWithError(q.error().message.c_str());
      break;
    }
  }
  std::int64_t i = 0;
  for (auto _ : state) {
    auto c = g_shared.store->claim(thread_name(state, i++), "bench", 30'000, kNow, 1);
    if (!c || c->empty()) {
      state.SkipWithError("claim failed");
      break;
    }
    auto a = g_shared.store->ack(Fence::of(c->front()), kNow + 1);
    if (!a) state.SkipWithError(a.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
  close_shared(state);
}

void BM_StoreAppend(benchmark::State& state) {
  open_shared(state, "append");
  const std::string thread = "append-" + std::to_string(state.thread_index());
  RunRecord run;
  run.run_id = "run-" + std::to_string(state.thread_index());
  run.thread_id = thread;
  std::uint64_t version = 0;
  for (auto _ : state) {
    Message m;
    m.id = g_ids.next_id();
    m.content = std::string(200, 'x');
    auto r = g_shared.store->commit_run_append(thread, {m}, version, run, nullptr, kNow);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    version = *r;
  }
  state.SetItemsProcessed(state.iterations());
  close_shared(state);
}

// The limit: a bare WriteBatch of `keys` puts (the first 200 bytes, the rest 40), same sync.
rocksdb::DB* g_raw = nullptr;

void BM_RawWriteBatch(benchmark::State& state) {
  std::string dir;
  if (state.thread_index() == 0) {
    dir = fresh_dir("raw");
    rocksdb::Options o;
    o.create_if_missing = true;
    o.enable_pipelined_write = false;  // the store's write path (rocksdb_store.cpp), its fastest on 2 cores
    auto s = rocksdb::DB::Open(o, dir, &g_raw);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);  // as the store's threads (rocksdb_store.cpp)
  rocksdb::WriteOptions wo;
  wo.sync = state.range(0) != 0;
  const auto keys = state.range(1);
  const std::string big(200, 'v');
  const std::string small(40, 'v');
  std::int64_t i = 0;
  for (auto _ : state) {
    rocksdb::WriteBatch b;
    const std::string base = g_ids.next_id() + std::to_string(state.thread_index()) + std::to_string(i++);
    for (std::int64_t k = 0; k < keys; ++k) std::ignore = b.Put(base + std::to_string(k), k == 0 ? big : small);
    auto s = g_raw->Write(wo, &b);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete g_raw;
    g_raw = nullptr;
    std::filesystem::remove_all(dir);
  }
}

void writer_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"sync"})->Arg(0)->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
}

// MBX_BENCH_ITERATIONS=N runs every benchmark for exactly N iterations instead of for at least
// 0.5 s: for profiling (valgrind --tool=callgrind), where a fixed amount of work makes the
// instruction counts per operation of two builds comparable.
void register_benchmarks() {
  const char* fixed = std::getenv("MBX_BENCH_ITERATIONS");
  const auto iterations = fixed != nullptr ? std::strtoll(fixed, nullptr, 10) : 0;
  const auto duration = [&](benchmark::internal::Benchmark* b) {
    if (iterations > 0)
      b->Iterations(iterations);
    else
      b->MinTime(0.5);
  };
  for (auto [name, fn] : {std::pair{"BM_StoreEnqueue", &BM_StoreEnqueue}, std::pair{"BM_StoreClaimAck", &BM_StoreClaimAck},
                          std::pair{"BM_StoreAppend", &BM_StoreAppend}}) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    writer_args(b);
    b->Threads(1)->Threads(2)->Threads(8)->Threads(32);
    duration(b);
  }
  auto* raw = benchmark::RegisterBenchmark("BM_RawWriteBatch", &BM_RawWriteBatch);
  raw->ArgNames({"sync", "keys"})->ArgsProduct({{0, 1}, {3, 8}})->UseRealTime()->Threads(1)->Threads(2)->Threads(8)->Threads(32);
  duration(raw);
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
