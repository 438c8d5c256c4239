// mbx_loadgen: end-to-end load generator over the real engine path (Mailbox on RocksdbStore in
// a temp folder, a no-op executor that emits one text_delta and completes). Each workload is
// measured next to its limit in the same process and run (docs/benchmarks.md, issue 6):
//
//   throughput  background submits to T threads from a few submitter threads; dispatches per
//               second from the first submit to the last dispatch acked; synced and unsynced
//               store. Limit: bare RocksDB WriteBatches, as many per dispatch as the engine
//               wrote (counted from mailbox_operations_total), same sync, same writer count.
//   latency     foreground submit -> first event and -> run finished on idle threads, p50/p99/max.
//               Limit: a synced 1-key WriteBatch (the bare fsync), p50/p99.
//   interrupt   foreground submit on a thread whose run blocks in wait_for_cancel: submit -> old
//               run stopped (its run_finish), -> new run's first event, -> new run finished.
//   idle        N threads each run once and go idle: RSS and RocksDB folder size per thread,
//               and Mailbox::stats().workers after idling.
//
// usage: mbx_loadgen [--workloads throughput,latency,interrupt,idle] [--json FILE]
//                    [--threads 1,100,10000] [--sync both|on|off] [--submitters 4]
//                    [--dispatches-1 2000] [--dispatches-n 20000] [--max-seconds 60]
//                    [--latency-samples 200] [--interrupt-samples 100] [--fsync-samples 500]
//                    [--idle-threads 100000] [--idle-sync 0] [--dir /tmp]
// Markdown goes to stdout, progress to stderr, the JSON (one object per row) to --json.
#include "runtime/mailbox.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace mbx;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- flags -----------------------------------------------------------------------------------

struct Flags {
  std::vector<std::string> workloads{"throughput", "latency", "interrupt", "idle"};
  std::string json;
  std::vector<long> threads{1, 100, 10000};
  std::string sync = "both";
  int submitters = 4;
  long dispatches_1 = 2000;
  long dispatches_n = 20000;
  double max_seconds = 60;
  int latency_samples = 200;
  int interrupt_samples = 100;
  int fsync_samples = 500;
  long idle_threads = 100000;
  bool idle_sync = false;
  std::string dir = std::filesystem::temp_directory_path().string();
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

[[noreturn]] void usage(const std::string& why, int code = 2) {
  std::cerr << (why.empty() ? "" : "mbx_loadgen: " + why + "\n")
            << "usage: mbx_loadgen [--workloads throughput,latency,interrupt,idle] [--json FILE]\n"
               "  [--threads 1,100,10000] [--sync both|on|off] [--submitters N] [--dispatches-1 N]\n"
               "  [--dispatches-n N] [--max-seconds S] [--latency-samples N] [--interrupt-samples N]\n"
               "  [--fsync-samples N] [--idle-threads N] [--idle-sync 0|1] [--dir PATH]\n";
  std::exit(code);
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage("", 0);
    if (i + 1 >= argc) usage("missing value for " + a);
    const std::string v = argv[++i];
    try {
      if (a == "--workloads") f.workloads = split(v);
      else if (a == "--json") f.json = v;
      else if (a == "--threads") {
        f.threads.clear();
        for (const auto& t : split(v)) f.threads.push_back(std::stol(t));
      } else if (a == "--sync") f.sync = v;
      else if (a == "--submitters") f.submitters = std::stoi(v);
      else if (a == "--dispatches-1") f.dispatches_1 = std::stol(v);
      else if (a == "--dispatches-n") f.dispatches_n = std::stol(v);
      else if (a == "--max-seconds") f.max_seconds = std::stod(v);
      else if (a == "--latency-samples") f.latency_samples = std::stoi(v);
      else if (a == "--interrupt-samples") f.interrupt_samples = std::stoi(v);
      else if (a == "--fsync-samples") f.fsync_samples = std::stoi(v);
      else if (a == "--idle-threads") f.idle_threads = std::stol(v);
      else if (a == "--idle-sync") f.idle_sync = v == "1" || v == "true" || v == "on";
      else if (a == "--dir") f.dir = v;
      else usage("unknown flag " + a);
    } catch (const std::exception&) {
      usage("bad value for " + a + ": " + v);
    }
  }
  if (f.submitters < 1 || f.submitters > 256) usage("--submitters must be 1..256");
  if (f.sync != "both" && f.sync != "on" && f.sync != "off") usage("--sync must be both, on or off");
  return f;
}

// ---- helpers ---------------------------------------------------------------------------------

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string fresh_dir(const Flags& flags, const std::string& tag) {
  static int n = 0;
  auto dir = std::filesystem::path(flags.dir) / ("mbx-loadgen-" + std::to_string(::getpid())) /
             (tag + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  return total;
}

std::uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t n = 0;
};

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) ;
    return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

RunActivation request(const std::string& thread_id, const std::string& text) {
  RunActivation r;
  r.intent.thread_id = thread_id;
  Message m;
  m.role = Role::user;
  m.content = text;
  r.messages.push_back(std::move(m));
  return r;
}

// ---- the executor ----------------------------------------------------------------------------

// "noop": one text_delta, completed. "block": waits for cancellation (at most 60 s), then returns.
class LoadgenExecutor final : public Executor {
public:
  ExecutionResult execute(RunContext& ctx) override {
    const auto& msgs = ctx.activation().messages;
    const bool block = !msgs.empty() && msgs.back().content == "block";
    if (block) {
      std::ignore = ctx.wait_for_cancel(60s);
      executions.fetch_add(1);
      return {};
    }
    AgentEvent e;
    e.type = AgentEventType::text_delta;
    e.text = "ok";
    ExecutionResult r;
    if (auto emitted = ctx.emit(std::move(e)); !emitted) {
      r.status = ExecutionStatus::transient_error;
      r.error = describe(emitted.error());
    } else {
      r.response = "ok";
    }
    executions.fetch_add(1);
    return r;
  }
  std::atomic<std::uint64_t> executions{0};
};

// ---- results ---------------------------------------------------------------------------------

struct Row {
  std::string workload;
  std::string setting;
  std::string metric;
  double value = 0;
  std::string unit;
  std::optional<double> limit;
  std::string limit_what;
  std::optional<double> ratio;  // value / limit
  std::string note;
};

std::vector<Row> g_rows;

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void add_row(Row r) {
  std::cerr << "  => " << r.workload << " | " << r.setting << " | " << r.metric << " = " << num(r.value) << " "
            << r.unit;
  if (r.limit) std::cerr << " | limit " << num(*r.limit) << " (" << r.limit_what << ")";
  if (r.ratio) std::cerr << " | ratio " << num(*r.ratio);
  if (!r.note.empty()) std::cerr << " | " << r.note;
  std::cerr << "\n";
  g_rows.push_back(std::move(r));
}

// ---- the engine under test -------------------------------------------------------------------

struct Engine {
  std::string dir;
  std::unique_ptr<RocksdbStore> store;
  std::unique_ptr<LoadgenExecutor> executor;
  std::unique_ptr<Mailbox> mailbox;

  static Engine open(const Flags& flags, const std::string& tag, bool sync) {
    Engine e;
    e.dir = fresh_dir(flags, tag);
    auto s = RocksdbStore::open(RocksdbOptions{e.dir, sync});
    if (!s) throw std::runtime_error("store open: " + describe(s.error()));
    e.store = std::move(*s);
    e.executor = std::make_unique<LoadgenExecutor>();
    MailboxConfig config;
    config.consumer_id = "loadgen";
    auto m = Mailbox::start(*e.store, *e.executor, config);
    if (!m) throw std::runtime_error("mailbox start: " + describe(m.error()));
    e.mailbox = std::move(*m);
    return e;
  }
  void close() {
    if (mailbox) mailbox->stop();
    mailbox.reset();
    store.reset();
    executor.reset();
    remove_tree(dir);
  }
  std::uint64_t acked() {
    auto c = store->count_dispatches_by_status();
    return c ? count_of(*c, DispatchStatus::acked) : 0;
  }
  std::uint64_t terminal() {
    auto c = store->count_dispatches_by_status();
    if (!c) return 0;
    return count_of(*c, DispatchStatus::acked) + count_of(*c, DispatchStatus::dead_letter) +
           count_of(*c, DispatchStatus::cancelled) + count_of(*c, DispatchStatus::superseded);
  }
};

// The write operations in mailbox_operations_total (result ok), summed by name. append_event is
// the only unsynced one (RocksdbOptions::sync_events = false).
const std::vector<std::string> kWriteOps = {
    "enqueue",    "claim",         "claim_dispatch",    "ack",       "nack",      "dead_letter",
    "extend_lease", "record_dispatch_start", "record_run_result", "supersede_claimed", "cancel",
    "interrupt",  "reclaim_expired_leases", "purge_terminal", "commit_run_append", "append_event"};

std::map<std::string, double> write_ops(const std::string& metrics) {
  std::map<std::string, double> out;
  std::istringstream in(metrics);
  const std::string prefix = "mailbox_operations_total{operation=\"";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto q = line.find('"', prefix.size());
    if (q == std::string::npos) continue;
    const std::string op = line.substr(prefix.size(), q - prefix.size());
    if (line.find("result=\"ok\"") == std::string::npos) continue;
    if (std::find(kWriteOps.begin(), kWriteOps.end(), op) == kWriteOps.end()) continue;
    out[op] += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

// "synced writes per sample: X (op n, ...)" from the metrics, for a workload of `samples` submits.
std::string writes_per_run(const std::string& metrics, std::size_t samples) {
  const double n = static_cast<double>(std::max<std::size_t>(samples, 1));
  double synced = 0;
  std::string parts;
  for (const auto& [op, count] : write_ops(metrics)) {
    if (op != "append_event") synced += count;
    parts += (parts.empty() ? "" : ", ") + op + " " + num(count / n);
  }
  return "store writes per sample: " + num(synced / n) + " synced (" + parts + ")";
}

// ---- the limit: bare RocksDB ----------------------------------------------------------------

struct BareDb {
  std::string dir;
  rocksdb::DB* db = nullptr;
  explicit BareDb(const Flags& flags) : dir(fresh_dir(flags, "bare")) {
    rocksdb::Options o;  // as the store opens its DB (rocksdb_store.cpp), one column family
    o.create_if_missing = true;
    o.IncreaseParallelism(2);
    o.enable_pipelined_write = true;
    o.max_background_jobs = 2;
    o.OptimizeLevelStyleCompaction(64 << 20);
    auto s = rocksdb::DB::Open(o, dir, &db);
    if (!s.ok()) throw std::runtime_error("bare open: " + s.ToString());
  }
  ~BareDb() {
    delete db;
    remove_tree(dir);
  }
  // A batch like a store write: the first value 200 bytes, the rest 40.
  bool write(bool sync, const std::string& base, int keys) {
    rocksdb::WriteBatch b;
    static const std::string big(200, 'v'), small(40, 'v');
    for (int k = 0; k < keys; ++k) std::ignore = b.Put(base + "/" + std::to_string(k), k == 0 ? big : small);
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return db->Write(wo, &b).ok();
  }
};

constexpr int kStoreBatchKeys = 8;  // a store write: the record, index entries, meta, counter

// Synced 1-key batches, one writer, one at a time: the bare fsync latency.
Percentiles fsync_latency(const Flags& flags) {
  BareDb bare(flags);
  std::vector<double> ms;
  const auto deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
  for (int i = 0; i < flags.fsync_samples && Clock::now() < deadline; ++i) {
    const auto t0 = Clock::now();
    if (!bare.write(true, "fsync-" + std::to_string(i), 1)) throw std::runtime_error("bare write failed");
    ms.push_back(ms_between(t0, Clock::now()));
  }
  return percentiles(ms);
}

// ---- 1. background throughput ----------------------------------------------------------------

void throughput(const Flags& flags, long threads, bool sync) {
  const long total = threads == 1 ? flags.dispatches_1 : std::max(flags.dispatches_n, threads);
  const std::string setting = std::string(sync ? "synced" : "unsynced") + ", T=" + std::to_string(threads) +
                              ", " + std::to_string(total) + " dispatches";
  std::cerr << "throughput: " << setting << "\n";
  Engine e = Engine::open(flags, "tput", sync);
  // Calibration: one background run on an idle engine gives the writes a dispatch needs at
  // minimum (no back-pressure, no retries); the limit replays that many per dispatch.
  std::map<std::string, double> calib;
  {
    auto r = e.mailbox->submit_background(request("calibration", "noop"));
    if (!r) throw std::runtime_error("calibration submit: " + describe(r.error()));
    for (int k = 0; k < 5000 && e.terminal() < 1; ++k) std::this_thread::sleep_for(1ms);
    calib = write_ops(e.mailbox->metrics_text());
  }
  const std::uint64_t calib_terminal = e.terminal();
  const std::uint64_t calib_executions = e.executor->executions.load();
  const auto deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
  std::atomic<long> submitted{0}, errors{0}, retries{0};
  std::atomic<bool> timed_out{false};
  const auto t0 = Clock::now();
  std::vector<std::thread> submitters;
  for (int s = 0; s < flags.submitters; ++s)
    submitters.emplace_back([&, s] {
      for (long i = s; i < total; i += flags.submitters) {
        const std::string thread = "tp-" + std::to_string(i % threads);
        for (int attempt = 0;; ++attempt) {
          if (Clock::now() > deadline) {
            timed_out = true;
            return;
          }
          auto r = e.mailbox->submit_background(request(thread, "noop"));
          if (r) {
            submitted.fetch_add(1);
            break;
          }
          // Back-pressure (the per-thread queue bound) or a version conflict between submitters
          // of one thread: retry after a pause.
          if (r.error().code == Errc::queue_full || r.error().code == Errc::conflict) {
            retries.fetch_add(1);
            std::this_thread::sleep_for(r.error().code == Errc::queue_full ? 2ms : 0ms);
            continue;
          }
          errors.fetch_add(1);
          std::cerr << "  submit failed: " << describe(r.error()) << "\n";
          break;
        }
      }
    });
  // Progress and the end: every submitted dispatch acked (or the time cap).
  std::uint64_t done = 0;
  auto last_progress = Clock::now();
  bool all_submitted = false;
  // The executor's count is free to read; the store's counters are read only once every run has
  // executed (a counter read merges every +1/-1 operand still in the memtable, so polling it
  // all along would cost the engine CPU).
  for (;;) {
    done = e.executor->executions.load() - calib_executions;
    if (!all_submitted && submitted.load() + errors.load() >= total) all_submitted = true;
    if (all_submitted && done >= static_cast<std::uint64_t>(submitted.load())) {
      done = e.terminal() - calib_terminal;
      if (done >= static_cast<std::uint64_t>(submitted.load())) break;
    }
    if (Clock::now() > deadline) {
      timed_out = true;
      break;
    }
    if (seconds_since(last_progress) > 5) {
      std::cerr << "  " << seconds_since(t0) << " s: submitted " << submitted.load() << ", executed " << done << "\n";
      last_progress = Clock::now();
    }
    std::this_thread::sleep_for(1ms);
  }
  const double elapsed = seconds_since(t0);
  for (auto& t : submitters) t.join();
  const std::uint64_t acked = e.acked() - 1;
  const double rate = static_cast<double>(done) / elapsed;
  const auto ops = write_ops(e.mailbox->metrics_text());
  e.close();

  // Writes the workload made (calibration run excluded), and the calibrated minimum per dispatch.
  double min_synced = 0, min_unsynced = 0, measured_synced = 0;
  std::string breakdown, minimum;
  for (const auto& [op, n] : calib) {
    (op == "append_event" ? min_unsynced : min_synced) += n;
    minimum += (minimum.empty() ? "" : ", ") + op + " " + num(n);
  }
  for (const auto& [op, total_n] : ops) {
    const double n = total_n - (calib.count(op) ? calib.at(op) : 0.0);
    if (op != "append_event") measured_synced += n;
    breakdown += (breakdown.empty() ? "" : ", ") + op + " " + num(n / static_cast<double>(std::max<std::uint64_t>(done, 1)));
  }
  const double per_run_synced = min_synced, per_run_unsynced = min_unsynced;
  const double synced_writes = min_synced * static_cast<double>(done);
  const double unsynced_writes = min_unsynced * static_cast<double>(done);

  // The limit: the same number of writes as bare WriteBatches, same sync, same writer count
  // (the run pool's threads that can be busy at once plus the submitters).
  const int writers = static_cast<int>(std::min<long>(threads, 64)) + flags.submitters;
  const long units = static_cast<long>(done);
  const long sync_batches = std::lround(synced_writes), unsync_batches = std::lround(unsynced_writes);
  std::atomic<long> next_sync{0}, next_unsync{0};
  std::atomic<bool> bare_capped{false};
  double bare_elapsed = 0;
  {
    BareDb bare(flags);
    const auto b_deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
    const auto b0 = Clock::now();
    std::vector<std::thread> ws;
    for (int w = 0; w < writers; ++w)
      ws.emplace_back([&, w] {
        // Per unit of work, the synced writes first, then the unsynced ones (a run's order).
        const double ratio = sync_batches > 0 ? static_cast<double>(unsync_batches) / sync_batches : 0;
        double owed = 0;
        for (long i = 0;; ++i) {
          if ((i & 15) == 0 && Clock::now() > b_deadline) {
            bare_capped = true;
            return;
          }
          const long s = next_sync.fetch_add(1);
          if (s >= sync_batches) break;
          if (!bare.write(sync, "s" + std::to_string(w) + "-" + std::to_string(s), kStoreBatchKeys)) return;
          owed += ratio;
          while (owed >= 1) {
            owed -= 1;
            const long u = next_unsync.fetch_add(1);
            if (u < unsync_batches) std::ignore = bare.write(false, "u" + std::to_string(w) + "-" + std::to_string(u), 1);
          }
        }
        for (long u = next_unsync.fetch_add(1); u < unsync_batches && Clock::now() < b_deadline;
             u = next_unsync.fetch_add(1))
          std::ignore = bare.write(false, "u" + std::to_string(w) + "-" + std::to_string(u), 1);
      });
    for (auto& t : ws) t.join();
    bare_elapsed = seconds_since(b0);
  }
  const double done_fraction =
      sync_batches > 0 ? std::min(1.0, static_cast<double>(std::min(next_sync.load(), sync_batches)) / sync_batches) : 1.0;
  const double limit_rate = static_cast<double>(units) * done_fraction / bare_elapsed;

  Row r;
  r.workload = "background throughput";
  r.setting = setting;
  r.metric = "dispatches/s";
  r.value = rate;
  r.unit = "dispatches/s";
  r.limit = limit_rate;
  r.limit_what = "bare WriteBatches/dispatch: " + num(per_run_synced) + " x " + std::to_string(kStoreBatchKeys) +
                 "-key " + (sync ? "synced" : "unsynced") + " + " + num(per_run_unsynced) + " x 1-key unsynced, " +
                 std::to_string(writers) + " writers";
  r.ratio = rate / limit_rate;
  r.note = "finished " + std::to_string(done) + " (acked " + std::to_string(acked) + ") of " + std::to_string(total) +
           " in " + num(elapsed) + " s; submit retries " + std::to_string(retries.load()) + ", errors " +
           std::to_string(errors.load()) + (timed_out ? "; TIME CAP HIT" : "") +
           (bare_capped ? "; limit time cap hit (rate extrapolated)" : "") + "; minimum writes/dispatch (one run alone): " +
           minimum + "; measured writes/dispatch under load: " + breakdown + " (" +
           num(measured_synced / static_cast<double>(std::max<std::uint64_t>(done, 1))) + " synced)";
  add_row(r);
}

// ---- 2. foreground latency on idle threads ------------------------------------------------

struct Timed {
  std::optional<double> first_ms, finish_ms;
};

// Reads `events` until the stream ends (bounded): when the first event and run_finish arrived.
Timed follow(EventStream& events, Clock::time_point t0, std::chrono::milliseconds budget) {
  Timed t;
  const auto deadline = Clock::now() + budget;
  while (Clock::now() < deadline) {
    auto e = events.next(100ms);
    if (!e) break;
    if (*e) {
      if (!t.first_ms) t.first_ms = ms_between(t0, Clock::now());
      if ((*e)->type == AgentEventType::run_finish) {
        t.finish_ms = ms_between(t0, Clock::now());
        break;
      }
    } else if (events.finished()) {
      break;
    }
  }
  return t;
}

void latency(const Flags& flags, bool sync, const Percentiles& fsync) {
  std::cerr << "latency: foreground on idle threads, " << flags.latency_samples << " samples, "
            << (sync ? "synced" : "unsynced") << "\n";
  Engine e = Engine::open(flags, "lat", sync);
  std::vector<double> first, finish;
  int failed = 0;
  const auto deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
  for (int i = 0; i < flags.latency_samples && Clock::now() < deadline; ++i) {
    // Half new threads, half threads that ran before and went idle.
    const std::string thread = "fg-" + std::to_string(i % 2 == 0 ? i : i / 4);
    const auto t0 = Clock::now();
    auto s = e.mailbox->submit(request(thread, "noop"));
    if (!s) {
      ++failed;
      continue;
    }
    auto t = follow(s->events, t0, 10s);
    if (t.first_ms) first.push_back(*t.first_ms);
    if (t.finish_ms) finish.push_back(*t.finish_ms);
    else ++failed;
    // Wait for the ack so the next sample starts on an idle node (bounded).
    for (int k = 0; k < 2000; ++k) {
      auto d = e.store->load_dispatch(s->result.dispatch_id);
      if (!d || !*d || is_terminal((*d)->status)) break;
      std::this_thread::sleep_for(1ms);
    }
  }
  const std::string writes = writes_per_run(e.mailbox->metrics_text(), first.size());
  e.close();
  const std::string setting = std::string(sync ? "synced" : "unsynced") + ", idle threads";
  const std::string note = "n=" + std::to_string(first.size()) + ", failed " + std::to_string(failed) + "; " + writes;
  const auto p1 = percentiles(first), p2 = percentiles(finish);
  for (const auto& [metric, p] : {std::pair{"submit -> first event", p1}, std::pair{"submit -> run finished", p2}}) {
    for (const auto& [q, v] : {std::pair{"p50", p.p50}, std::pair{"p99", p.p99}, std::pair{"max", p.max}}) {
      Row r;
      r.workload = "foreground latency";
      r.setting = setting;
      r.metric = std::string(metric) + " " + q;
      r.value = v;
      r.unit = "ms";
      r.note = note;
      if (sync && std::string(q) != "max") {
        r.limit = std::string(q) == "p50" ? fsync.p50 : fsync.p99;
        r.limit_what = std::string("bare synced 1-key WriteBatch ") + q;
        r.ratio = v / *r.limit;
      }
      add_row(r);
    }
  }
}

// ---- 3. interrupt: foreground submit on a thread with a blocking run ------------------------

void interrupt(const Flags& flags, bool sync, const Percentiles& fsync) {
  std::cerr << "interrupt: foreground on threads with a blocking run, " << flags.interrupt_samples << " samples, "
            << (sync ? "synced" : "unsynced") << "\n";
  Engine e = Engine::open(flags, "int", sync);
  std::vector<double> stopped, first, finish;
  int failed = 0;
  const auto deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
  for (int i = 0; i < flags.interrupt_samples && Clock::now() < deadline; ++i) {
    const std::string thread = "int-" + std::to_string(i);
    auto old = e.mailbox->submit(request(thread, "block"));
    if (!old) {
      ++failed;
      continue;
    }
    // The old run is active once its run_start arrived.
    bool started = false;
    for (int k = 0; k < 100 && !started; ++k) {
      auto ev = old->events.next(100ms);
      if (ev && *ev && (*ev)->type == AgentEventType::run_start) started = true;
    }
    if (!started) {
      ++failed;
      continue;
    }
    // A reader notes when the old stream's run_finish arrives.
    std::atomic<bool> go{false};
    Clock::time_point t0{};
    std::optional<double> old_stopped;
    std::thread reader([&] {
      while (!go.load()) std::this_thread::yield();
      auto t = follow(old->events, t0, 30s);
      old_stopped = t.finish_ms;
    });
    t0 = Clock::now();
    go = true;
    auto s = e.mailbox->submit(request(thread, "noop"));
    if (!s) {
      ++failed;
      std::cerr << "  interrupting submit failed: " << describe(s.error()) << "\n";
      reader.join();
      continue;
    }
    auto t = follow(s->events, t0, 10s);
    reader.join();
    if (old_stopped) stopped.push_back(*old_stopped);
    if (t.first_ms) first.push_back(*t.first_ms);
    if (t.finish_ms) finish.push_back(*t.finish_ms);
    if (!old_stopped || !t.finish_ms) ++failed;
  }
  const std::string writes = writes_per_run(e.mailbox->metrics_text(), first.size());
  e.close();
  const std::string setting = std::string(sync ? "synced" : "unsynced") + ", thread with a blocking run";
  const std::string note = "n=" + std::to_string(first.size()) + ", failed " + std::to_string(failed) + "; " + writes;
  for (const auto& [metric, v] : {std::pair{"submit -> old run stopped", percentiles(stopped)},
                                  std::pair{"submit -> new run first event", percentiles(first)},
                                  std::pair{"submit -> new run finished", percentiles(finish)}}) {
    for (const auto& [q, x] : {std::pair{"p50", v.p50}, std::pair{"p99", v.p99}, std::pair{"max", v.max}}) {
      Row r;
      r.workload = "interrupt latency";
      r.setting = setting;
      r.metric = std::string(metric) + " " + q;
      r.value = x;
      r.unit = "ms";
      r.note = note;
      if (sync && std::string(q) != "max") {
        r.limit = std::string(q) == "p50" ? fsync.p50 : fsync.p99;
        r.limit_what = std::string("bare synced 1-key WriteBatch ") + q;
        r.ratio = x / *r.limit;
      }
      add_row(r);
    }
  }
}

// ---- 4. idle threads -------------------------------------------------------------------------

void idle(const Flags& flags) {
  const long n = flags.idle_threads;
  std::cerr << "idle: " << n << " threads, one run each, " << (flags.idle_sync ? "synced" : "unsynced") << "\n";
  Engine e = Engine::open(flags, "idle", flags.idle_sync);
  // Warm up so that pools, actors and allocator arenas exist before the baseline.
  for (int i = 0; i < 200; ++i) std::ignore = e.mailbox->submit_background(request("warm-" + std::to_string(i), "noop"));
  for (int k = 0; k < 10000 && e.terminal() < 200; ++k) std::this_thread::sleep_for(1ms);
  const std::uint64_t base_terminal = e.terminal();
  const std::uint64_t base_executions = e.executor->executions.load();
  const std::uint64_t rss0 = rss_bytes();
  const std::uint64_t disk0 = dir_bytes(e.dir);
  const auto deadline = Clock::now() + std::chrono::duration<double>(std::max(flags.max_seconds, 600.0));
  const auto t0 = Clock::now();
  std::atomic<long> submitted{0}, errors{0};
  std::vector<std::thread> submitters;
  for (int s = 0; s < flags.submitters; ++s)
    submitters.emplace_back([&, s] {
      for (long i = s; i < n && Clock::now() < deadline; i += flags.submitters) {
        auto r = e.mailbox->submit_background(request("idle-" + std::to_string(i), "noop"));
        if (r) submitted.fetch_add(1);
        else errors.fetch_add(1);
      }
    });
  auto last = Clock::now();
  std::uint64_t done = 0;
  for (;;) {  // the executor's count while running, the store's counters at the end (see throughput)
    done = e.executor->executions.load() - base_executions;
    if (submitted.load() + errors.load() >= n && done >= static_cast<std::uint64_t>(submitted.load())) {
      done = e.terminal() - base_terminal;
      if (done >= static_cast<std::uint64_t>(submitted.load())) break;
    }
    if (Clock::now() > deadline) break;
    if (seconds_since(last) > 10) {
      std::cerr << "  " << seconds_since(t0) << " s: submitted " << submitted.load() << ", executed " << done
                << ", RSS " << rss_bytes() / (1 << 20) << " MiB\n";
      last = Clock::now();
    }
    std::this_thread::sleep_for(5ms);
  }
  for (auto& t : submitters) t.join();
  const double elapsed = seconds_since(t0);
  // Workers go idle after their run: wait (bounded) until none is left.
  std::uint64_t workers = e.mailbox->stats().workers;
  for (int k = 0; k < 3000 && workers != 0; ++k) {
    std::this_thread::sleep_for(10ms);
    workers = e.mailbox->stats().workers;
  }
  std::this_thread::sleep_for(500ms);
  const std::uint64_t rss1 = rss_bytes();
  const std::uint64_t disk1 = dir_bytes(e.dir);
  const auto stats = e.mailbox->stats();
  e.close();
  const double per = static_cast<double>(std::max<std::uint64_t>(done, 1));
  const std::string setting = std::to_string(n) + " threads" + (flags.idle_sync ? ", synced" : ", unsynced");
  const std::string note = std::to_string(done) + " ran; workers after idling " + std::to_string(stats.workers) + ", active runs " +
                           std::to_string(stats.active_runs) + "; RSS " + std::to_string(rss0 >> 20) + " -> " +
                           std::to_string(rss1 >> 20) + " MiB; " + num(elapsed) + " s; submit errors " +
                           std::to_string(errors.load());
  Row r;
  r.workload = "idle threads";
  r.setting = setting;
  r.metric = "RSS delta per thread";
  r.value = (static_cast<double>(rss1) - static_cast<double>(rss0)) / per;
  r.unit = "bytes";
  r.limit = 1024;
  r.limit_what = "target: 1 KiB";
  r.ratio = r.value / 1024;
  r.note = note;
  add_row(r);
  Row d;
  d.workload = "idle threads";
  d.setting = setting;
  d.metric = "RocksDB folder per thread";
  d.value = (static_cast<double>(disk1) - static_cast<double>(disk0)) / per;
  d.unit = "bytes";
  d.note = "folder " + std::to_string(disk0 >> 10) + " -> " + std::to_string(disk1 >> 10) + " KiB (WAL + SSTs)";
  add_row(d);
  Row w;
  w.workload = "idle threads";
  w.setting = setting;
  w.metric = "workers alive after idling";
  w.value = static_cast<double>(stats.workers);
  w.unit = "actors";
  add_row(w);
}

// ---- output ----------------------------------------------------------------------------------

void write_json(const Flags& flags) {
  if (flags.json.empty()) return;
  std::ofstream out(flags.json);
  out << "{\"rows\": [\n";
  for (std::size_t i = 0; i < g_rows.size(); ++i) {
    const auto& r = g_rows[i];
    out << "  {\"workload\": \"" << json_escape(r.workload) << "\", \"setting\": \"" << json_escape(r.setting)
        << "\", \"metric\": \"" << json_escape(r.metric) << "\", \"value\": " << num(r.value) << ", \"unit\": \""
        << json_escape(r.unit) << "\", \"limit\": " << (r.limit ? num(*r.limit) : "null") << ", \"limit_what\": \""
        << json_escape(r.limit_what) << "\", \"ratio\": " << (r.ratio ? num(*r.ratio) : "null") << ", \"note\": \""
        << json_escape(r.note) << "\"}" << (i + 1 < g_rows.size() ? "," : "") << "\n";
  }
  out << "]}\n";
}

void write_markdown() {
  std::cout << "| workload | setting | metric | value | limit | ratio |\n|---|---|---|---:|---:|---:|\n";
  for (const auto& r : g_rows)
    std::cout << "| " << r.workload << " | " << r.setting << " | " << r.metric << " | " << num(r.value) << " "
              << r.unit << " | " << (r.limit ? num(*r.limit) + " (" + r.limit_what + ")" : "") << " | "
              << (r.ratio ? num(*r.ratio) : "") << " |\n";
}

bool wants(const Flags& f, const std::string& w) {
  return std::find(f.workloads.begin(), f.workloads.end(), w) != f.workloads.end();
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the engine logs every run at info
  std::vector<bool> syncs;
  if (flags.sync != "off") syncs.push_back(true);
  if (flags.sync != "on") syncs.push_back(false);
  try {
    if (wants(flags, "throughput"))
      for (bool sync : syncs)
        for (long t : flags.threads) throughput(flags, t, sync);
    if (wants(flags, "latency") || wants(flags, "interrupt")) {
      std::cerr << "fsync limit: " << flags.fsync_samples << " synced 1-key WriteBatches\n";
      const Percentiles fsync = fsync_latency(flags);
      Row r;
      r.workload = "limit";
      r.setting = "bare synced 1-key WriteBatch, 1 writer";
      r.note = "n=" + std::to_string(fsync.n);
      r.metric = "latency p50";
      r.value = fsync.p50;
      r.unit = "ms";
      add_row(r);
      r.metric = "latency p99";
      r.value = fsync.p99;
      add_row(r);
      for (bool sync : syncs) {
        if (wants(flags, "latency")) latency(flags, sync, fsync);
        if (wants(flags, "interrupt")) interrupt(flags, sync, fsync);
      }
    }
    if (wants(flags, "idle")) idle(flags);
  } catch (const std::exception& ex) {
    std::cerr << "mbx_loadgen: " << ex.what() << "\n";
    write_json(flags);
    return 1;
  }
  write_json(flags);
  write_markdown();
  remove_tree((std::filesystem::path(flags.dir) / ("mbx-loadgen-" + std::to_string(::getpid()))).string());
  return 0;
}
