// mbx_loadgen: end-to-end load generator over the real engine path (Mailbox on RocksdbStore in
// a temp folder, a no-op executor that emits one text_delta and completes). Each workload is
// measured next to its limit in the same process and run (docs/benchmarks.md, issue 6):
//
//   throughput  background submits to T threads from submitter threads (4 per conversation
//               thread, at most 16: min(4 T, 16) unless --submitters says); dispatches per
//               second from the first submit to the last dispatch acked; synced and unsynced
//               store. Limit: bare RocksDB WriteBatches, as many per dispatch as the engine
//               wrote (counted from mailbox_operations_total), same sync, same writer count.
//   latency     foreground submit -> first event and -> run finished on idle threads, p50/p99/max.
//               Limit: a synced 1-key WriteBatch (the bare fsync), p50/p99.
//   interrupt   foreground submit on a thread whose run blocks in wait_for_cancel: submit -> old
//               run stopped (its run_finish), -> new run's first event, -> new run finished.
//   idle        N threads each run once and go idle: RSS and RocksDB folder size per thread,
//               and Mailbox::stats().workers after idling.
//   recovery    what a killed node leaves: N queued + C claimed dispatches (the claims are this
//               node's consumer id, so startup recovery releases them) on T threads, built
//               through the store API (RunPreparer + build_dispatch + enqueue, then claim) with
//               the store UNSYNCED while building (the fixture is not what is measured), by a
//               child process (this binary, --recovery-fixture) that is SIGKILLed with its store
//               open once it has built them. Measured: RocksdbStore::open (synced; reported
//               without a limit, it is RocksDB's own open), then Mailbox::start with a no-op
//               executor and the same consumer id; from the start call to (a) start returned
//               (recovery done), (b) every dispatch started by the executor at least once
//               (claimed again), (c) every dispatch acked (store counters); and from the store's
//               open: (d) every thread with work had a run started (its first), (e) every thread
//               whose head the killed node had claimed had a run started. Limit for (a): the bare
//               RocksDB read of the same dispatch records: the same folder opened read-only (not
//               timed), one iterator over the dispatches column family reading every key and
//               value (N + C records), timed.
//               (b) and (d) are shown against the issue's target (5 s): a thread runs one
//               dispatch at a time, so (b) waits for every thread's whole backlog; (d) does not.
//   http        throughput (background submits) and foreground latency (submit -> first SSE
//               event, -> run_finish) through a real mailboxd child process on 127.0.0.1 (fresh
//               data folder, built-in `echo` agent, keep-alive HttpClient connections per
//               submitter; an SSE reply ends its connection, so every foreground sample opens
//               one, read with Beast's read_some so that each event counts when it arrives).
//               Limit: the same shapes on an embedded Mailbox with the same agent registry
//               (echo) and the same completion poll, in the same run; ratio = HTTP / embedded.
//
// usage: mbx_loadgen [--workloads throughput,latency,interrupt,idle,recovery,http] [--json FILE]
//                    [--threads 1,100,10000] [--sync both|on|off] [--submitters N]
//                    [--dispatches-1 2000] [--dispatches-n 20000] [--max-seconds 60]
//                    [--latency-samples 200] [--interrupt-samples 100] [--fsync-samples 500]
//                    [--idle-threads 100000] [--idle-sync 0] [--dir /tmp]
//                    [--recovery-queued 100000] [--recovery-claimed 1000] [--recovery-threads 10000]
//                    [--mailboxd PATH] [--http-threads 100] [--http-dispatches 5000]
//                    [--http-samples 200] [--http-poll-ms 100]
// The default workloads are throughput,latency,interrupt,idle; recovery and http run when named.
// Markdown goes to stdout, progress to stderr, the JSON (one object per row) to --json.
#include "agents/agent_registry.hpp"
#include "agents/echo_agent.hpp"
#include "mailboxctl/http_client.hpp"
#include "runtime/mailbox.hpp"
#include "runtime/run_preparation.hpp"
#include "store/rocksdb/column_families.hpp"
#include "store/rocksdb/rocksdb_store.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <sys/resource.h>
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
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#ifndef MBX_MAILBOXD_PATH
#define MBX_MAILBOXD_PATH "mailboxd"
#endif

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
  int submitters = 0;  // 0: each workload's default (4; throughput: min(4 T, 16))
  [[nodiscard]] int submitters_or(int workload_default) const { return submitters > 0 ? submitters : workload_default; }
  long dispatches_1 = 2000;
  long dispatches_n = 20000;
  double max_seconds = 60;
  int latency_samples = 200;
  int interrupt_samples = 100;
  int fsync_samples = 500;
  long idle_threads = 100000;
  bool idle_sync = false;
  std::string dir = std::filesystem::temp_directory_path().string();
  long recovery_queued = 100000;
  long recovery_claimed = 1000;
  long recovery_threads = 10000;
  std::string recovery_fixture;  // internal: the child that builds the recovery fixture, then is killed
  std::string mailboxd = MBX_MAILBOXD_PATH;
  long http_threads = 100;
  long http_dispatches = 5000;
  int http_samples = 200;
  int http_poll_ms = 100;
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
            << "usage: mbx_loadgen [--workloads throughput,latency,interrupt,idle,recovery,http] [--json FILE]\n"
               "  [--threads 1,100,10000] [--sync both|on|off] [--submitters N] [--dispatches-1 N]\n"
               "  [--dispatches-n N] [--max-seconds S] [--latency-samples N] [--interrupt-samples N]\n"
               "  [--fsync-samples N] [--idle-threads N] [--idle-sync 0|1] [--dir PATH]\n"
               "  [--recovery-queued N] [--recovery-claimed N] [--recovery-threads N]\n"
               "  [--mailboxd PATH] [--http-threads N] [--http-dispatches N] [--http-samples N] [--http-poll-ms MS]\n"
               "Default workloads: throughput,latency,interrupt,idle (recovery and http run when named).\n"
               "(--recovery-fixture DIR is internal: the recovery workload runs itself with it as the node it\n"
               "kills: it builds the fixture in DIR, prints what it built and SIGKILLs itself.)\n"
               "Default --mailboxd: " MBX_MAILBOXD_PATH "\n";
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
      else if (a == "--submitters") {
        f.submitters = std::stoi(v);
        if (f.submitters < 1 || f.submitters > 256) usage("--submitters must be 1..256");
      }
      else if (a == "--dispatches-1") f.dispatches_1 = std::stol(v);
      else if (a == "--dispatches-n") f.dispatches_n = std::stol(v);
      else if (a == "--max-seconds") f.max_seconds = std::stod(v);
      else if (a == "--latency-samples") f.latency_samples = std::stoi(v);
      else if (a == "--interrupt-samples") f.interrupt_samples = std::stoi(v);
      else if (a == "--fsync-samples") f.fsync_samples = std::stoi(v);
      else if (a == "--idle-threads") f.idle_threads = std::stol(v);
      else if (a == "--idle-sync") f.idle_sync = v == "1" || v == "true" || v == "on";
      else if (a == "--dir") f.dir = v;
      else if (a == "--recovery-queued") f.recovery_queued = std::stol(v);
      else if (a == "--recovery-claimed") f.recovery_claimed = std::stol(v);
      else if (a == "--recovery-threads") f.recovery_threads = std::stol(v);
      else if (a == "--recovery-fixture") f.recovery_fixture = v;
      else if (a == "--mailboxd") f.mailboxd = v;
      else if (a == "--http-threads") f.http_threads = std::stol(v);
      else if (a == "--http-dispatches") f.http_dispatches = std::stol(v);
      else if (a == "--http-samples") f.http_samples = std::stoi(v);
      else if (a == "--http-poll-ms") f.http_poll_ms = std::stoi(v);
      else usage("unknown flag " + a);
    } catch (const std::exception&) {
      usage("bad value for " + a + ": " + v);
    }
  }
  if (f.sync != "both" && f.sync != "on" && f.sync != "off") usage("--sync must be both, on or off");
  if (f.recovery_threads < 1) usage("--recovery-threads must be at least 1");
  if (f.recovery_queued < 0 || f.recovery_claimed < 0 || f.recovery_queued + f.recovery_claimed < 1)
    usage("--recovery-queued + --recovery-claimed must be at least 1");
  if (f.recovery_claimed > f.recovery_threads)
    usage("--recovery-claimed must not exceed --recovery-threads (a thread has at most one claimed dispatch)");
  if (f.http_threads < 1 || f.http_dispatches < 1 || f.http_samples < 1) usage("--http-* sizes must be at least 1");
  if (f.http_poll_ms < 1 || f.http_poll_ms > 10000) usage("--http-poll-ms must be 1..10000");
  for (const auto& w : f.workloads)
    if (w != "throughput" && w != "latency" && w != "interrupt" && w != "idle" && w != "recovery" && w != "http")
      usage("unknown workload " + w);
  return f;
}

// ---- helpers ---------------------------------------------------------------------------------

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU time (user + system) of the whole process so far, in seconds: with the wall time it tells
// how much of the machine a phase used, a steadier figure than a rate on a shared machine.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}
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

// p50 / p99 / max rows of each latency metric; synced p50 and p99 get the bare fsync as limit.
void add_latency_rows(const std::string& workload, const std::string& setting, const std::string& note, bool sync,
                      const Percentiles& fsync, const std::vector<std::pair<std::string, Percentiles>>& metrics) {
  for (const auto& [metric, p] : metrics) {
    for (const auto& [q, v] : {std::pair{"p50", p.p50}, std::pair{"p99", p.p99}, std::pair{"max", p.max}}) {
      Row r;
      r.workload = workload;
      r.setting = setting;
      r.metric = metric + " " + q;
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

// ---- the engine under test -------------------------------------------------------------------

struct Engine {
  std::string dir;
  std::unique_ptr<RocksdbStore> store;
  std::unique_ptr<LoadgenExecutor> executor;
  std::unique_ptr<Mailbox> mailbox;

  // `custom`: run the dispatches on this executor instead of the loadgen one (which then stays idle).
  static Engine open(const Flags& flags, const std::string& tag, bool sync, Executor* custom = nullptr) {
    Engine e;
    e.dir = fresh_dir(flags, tag);
    auto s = RocksdbStore::open(RocksdbOptions{e.dir, sync});
    if (!s) throw std::runtime_error("store open: " + describe(s.error()));
    e.store = std::move(*s);
    e.executor = std::make_unique<LoadgenExecutor>();
    MailboxConfig config;
    config.consumer_id = "loadgen";
    auto m = Mailbox::start(*e.store, custom != nullptr ? *custom : *e.executor, config);
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

// The write operations in mailbox_operations_total (result ok), summed by name. append_event
// (RocksdbOptions::sync_events = false) and the deferred writes ("<op>_deferred": Durability)
// are the unsynced ones.
const std::vector<std::string> kWriteOps = {
    "enqueue",    "claim",         "claim_dispatch",    "ack",       "nack",      "dead_letter",
    "extend_lease", "record_dispatch_start", "record_run_result", "supersede_claimed", "cancel",
    "interrupt",  "reclaim_expired_leases", "purge_terminal", "commit_run_append", "commit_run_step",
    "commit_run_enqueue", "append_event", "claim_and_start"};

bool unsynced_write(const std::string& op) { return op == "append_event" || op.ends_with("_deferred"); }

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
    const std::string base = op.ends_with("_deferred") ? op.substr(0, op.size() - 9) : op;
    if (std::find(kWriteOps.begin(), kWriteOps.end(), base) == kWriteOps.end()) continue;
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
    if (!unsynced_write(op)) synced += count;
    parts += (parts.empty() ? "" : ", ") + op + " " + num(count / n);
  }
  return "store writes per sample: " + num(synced / n) + " synced (" + parts + ")";
}

// ---- the limit: bare RocksDB ----------------------------------------------------------------

struct BareDb {
  std::string dir;
  rocksdb::DB* db = nullptr;
  explicit BareDb(const Flags& flags) : dir(fresh_dir(flags, "bare")) {
    rocksdb::Options o;  // the write path as the store opens its DB (rocksdb_store.cpp), one column family
    o.create_if_missing = true;
    o.IncreaseParallelism(2);
    o.enable_pipelined_write = false;  // as the store: on 2 cores the faster write path
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
    thread_local const bool quiet = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);  // as the store
    (void)quiet;
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
  // Clients: 4 per conversation thread, at most 16 (the peers' producers pipeline every add).
  const int submitter_count = flags.submitters_or(static_cast<int>(std::min<long>(16, 4 * threads)));
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
  const double cpu0 = process_cpu_seconds();
  std::vector<std::thread> submitters;
  for (int s = 0; s < submitter_count; ++s)
    submitters.emplace_back([&, s] {
      for (long i = s; i < total; i += submitter_count) {
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
  const double engine_cpu = process_cpu_seconds() - cpu0;
  for (auto& t : submitters) t.join();
  const std::uint64_t acked = e.acked() - 1;
  const double rate = static_cast<double>(done) / elapsed;
  const auto ops = write_ops(e.mailbox->metrics_text());
  e.close();

  // Writes the workload made (calibration run excluded), and the calibrated minimum per dispatch.
  double min_synced = 0, min_unsynced = 0, measured_synced = 0;
  std::string breakdown, minimum;
  for (const auto& [op, n] : calib) {
    (unsynced_write(op) ? min_unsynced : min_synced) += n;
    minimum += (minimum.empty() ? "" : ", ") + op + " " + num(n);
  }
  for (const auto& [op, total_n] : ops) {
    const double n = total_n - (calib.count(op) ? calib.at(op) : 0.0);
    if (!unsynced_write(op)) measured_synced += n;
    breakdown += (breakdown.empty() ? "" : ", ") + op + " " + num(n / static_cast<double>(std::max<std::uint64_t>(done, 1)));
  }
  const double per_run_synced = min_synced, per_run_unsynced = min_unsynced;
  const double synced_writes = min_synced * static_cast<double>(done);
  const double unsynced_writes = min_unsynced * static_cast<double>(done);

  // The limit: the same number of writes as bare WriteBatches, same sync, same writer count
  // (the run pool's threads that can be busy at once plus the submitters).
  const int writers = static_cast<int>(std::min<long>(threads, 64)) + submitter_count;
  const long units = static_cast<long>(done);
  const long sync_batches = std::lround(synced_writes), unsync_batches = std::lround(unsynced_writes);
  std::atomic<long> next_sync{0}, next_unsync{0};
  std::atomic<bool> bare_capped{false};
  double bare_elapsed = 0;
  double bare_cpu = 0;
  {
    BareDb bare(flags);
    const auto b_deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
    const auto b0 = Clock::now();
    const double bare_cpu0 = process_cpu_seconds();
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
    bare_cpu = process_cpu_seconds() - bare_cpu0;
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
           " in " + num(elapsed) + " s; " + std::to_string(submitter_count) + " submitters, submit retries " +
           std::to_string(retries.load()) + ", errors " +
           std::to_string(errors.load()) + (timed_out ? "; TIME CAP HIT" : "") +
           (bare_capped ? "; limit time cap hit (rate extrapolated)" : "") + "; minimum writes/dispatch (one run alone): " +
           minimum + "; measured writes/dispatch under load: " + breakdown + " (" +
           num(measured_synced / static_cast<double>(std::max<std::uint64_t>(done, 1))) + " synced)" +
           "; CPU per dispatch (user + system, whole process): engine " +
           num(engine_cpu * 1e6 / static_cast<double>(std::max<std::uint64_t>(done, 1))) + " us over " + num(elapsed) +
           " s, limit " + num(bare_cpu * 1e6 / std::max(1.0, static_cast<double>(units) * done_fraction)) + " us over " +
           num(bare_elapsed) + " s";
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
  add_latency_rows("foreground latency", setting, note, sync, fsync,
                   {{"submit -> first event", percentiles(first)}, {"submit -> run finished", percentiles(finish)}});
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
  add_latency_rows("interrupt latency", setting, note, sync, fsync,
                   {{"submit -> old run stopped", percentiles(stopped)},
                    {"submit -> new run first event", percentiles(first)},
                    {"submit -> new run finished", percentiles(finish)}});
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
  const auto rocks0 = e.store->memory_usage();
  const auto deadline = Clock::now() + std::chrono::duration<double>(std::max(flags.max_seconds, 600.0));
  const auto t0 = Clock::now();
  std::atomic<long> submitted{0}, errors{0};
  const int submitter_count = flags.submitters_or(4);
  std::vector<std::thread> submitters;
  for (int s = 0; s < submitter_count; ++s)
    submitters.emplace_back([&, s] {
      for (long i = s; i < n && Clock::now() < deadline; i += submitter_count) {
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
  const auto rocks1 = e.store->memory_usage();
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
  // RocksDB's bounded memory (memtables, block cache, table readers) is part of that delta;
  // what is left is what the node keeps per thread outside RocksDB's budgets.
  auto total = [](const RocksdbStore::MemoryUsage& m) {
    return static_cast<double>(m.memtables + m.block_cache + m.table_readers);
  };
  Row x = r;
  x.metric = "RSS delta per thread less RocksDB's memtables and caches";
  x.value = (static_cast<double>(rss1) - static_cast<double>(rss0) - (total(rocks1) - total(rocks0))) / per;
  x.ratio = x.value / 1024;
  x.note = "RocksDB memory " + num(total(rocks0) / (1 << 20)) + " -> " + num(total(rocks1) / (1 << 20)) +
           " MiB (memtables " + num(static_cast<double>(rocks1.memtables) / (1 << 20)) + ", block cache " +
           num(static_cast<double>(rocks1.block_cache) / (1 << 20)) + ", table readers " +
           num(static_cast<double>(rocks1.table_readers) / (1 << 20)) + " MiB)";
  add_row(x);
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

// ---- 5. recovery -----------------------------------------------------------------------------

// The no-op executor (one text_delta, completed) that also notes which dispatches it started,
// and when each conversation thread first got a run again (seconds since `t0`).
class RecoveryExecutor final : public Executor {
public:
  ExecutionResult execute(RunContext& ctx) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (seen_.insert(ctx.dispatch().dispatch_id).second) distinct.fetch_add(1);
      first_start_.emplace(ctx.dispatch().thread_id, seconds_since(t0));
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
  // The latest first start among `thread_ids` (those that never started are left out).
  std::optional<double> last_first_start(const std::vector<std::string>& thread_ids) {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<double> out;
    for (const auto& t : thread_ids)
      if (auto it = first_start_.find(t); it != first_start_.end()) out = std::max(out.value_or(0.0), it->second);
    return out;
  }
  // Conversation threads that had a run started.
  std::uint64_t threads_started() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_start_.size();
  }
  Clock::time_point t0 = Clock::now();        // the restart (set before Mailbox::start)
  std::atomic<std::uint64_t> distinct{0};     // dispatches started at least once
  std::atomic<std::uint64_t> executions{0};   // executions finished (retries included)

private:
  std::mutex mu_;
  std::unordered_set<std::string> seen_;
  std::unordered_map<std::string, double> first_start_;
};

struct Fixture {
  long built = 0;    // dispatches enqueued
  long claimed = 0;  // of them, claimed by the restarting node's consumer id
  long errors = 0;
  double seconds = 0;
  bool capped = false;
  std::uint64_t bytes = 0;
};

constexpr const char* kRecoveryConsumer = "loadgen-recovery";  // the killed node's and the restarted one's

// What a killed node leaves, built through the store API (as RestartRecoversClaimedAndQueuedWork-
// OnRocksdb in tests/runtime/mailbox_lifecycle_test.cpp): background-mode requests prepared by a
// RunPreparer (run + message appended), their dispatches built and enqueued, spread round-robin
// over the threads; then the first dispatch of each of the first C threads claimed by `consumer`
// with a one-hour lease (so only startup recovery, not the lease sweeper, releases them). The
// store is unsynced while building (the fixture is not what is measured; an unsynced write is in
// the WAL once it returns, so the kill loses none). Runs in the child process of
// build_killed_fixture (--recovery-fixture): with the store still open, it prints what it built
// on stdout and SIGKILLs itself, so the folder is what a killed node leaves, WAL included.
[[noreturn]] void build_recovery_fixture_and_die(const Flags& flags, const std::string& dir, const std::string& consumer) {
  Fixture fx;
  const long total = flags.recovery_queued + flags.recovery_claimed;
  const long threads = flags.recovery_threads;
  const auto t0 = Clock::now();
  {
    auto store = RocksdbStore::open(RocksdbOptions{dir, false});
    if (!store) throw std::runtime_error("fixture store open: " + describe(store.error()));
    SystemClock clock;
    MailboxConfig config;
    config.consumer_id = consumer;
    RunPreparer preparer(**store, clock, default_id_source(), config);
    // Building is bounded like the idle workload: at least 10 minutes, or --max-seconds.
    const auto deadline = Clock::now() + std::chrono::duration<double>(std::max(flags.max_seconds, 600.0));
    std::atomic<long> next{0}, built{0}, errors{0};
    const int builder_count = flags.submitters_or(4);
    std::atomic<int> running{builder_count};
    std::atomic<bool> capped{false};
    std::vector<std::thread> builders;
    for (int b = 0; b < builder_count; ++b)
      builders.emplace_back([&] {
        for (long k = next.fetch_add(1); k < total; k = next.fetch_add(1)) {
          if (Clock::now() > deadline) {
            capped = true;
            break;
          }
          RunActivation req = request("rec-" + std::to_string(k % threads), "noop");
          normalize_run_mode(req, true);
          ensure_dispatch_id_hint(req, default_id_source());
          std::string failure;
          if (auto prepared = preparer.prepare(req); !prepared) {
            failure = "prepare: " + describe(prepared.error());
          } else if (auto d = preparer.build_dispatch(req, clock.now_ms()); !d) {
            failure = "build_dispatch: " + describe(d.error());
          } else if (auto enq = (*store)->enqueue(*d, EnqueueOptions{}); !enq) {
            failure = "enqueue: " + describe(enq.error());
          }
          if (failure.empty()) {
            built.fetch_add(1);
          } else if (errors.fetch_add(1) < 5) {
            std::cerr << "  fixture: " << failure << "\n";
          }
        }
        running.fetch_sub(1);
      });
    auto last = Clock::now();
    for (long k = 0; running.load() > 0 && k < 100'000'000; ++k) {
      if (seconds_since(last) > 5) {
        std::cerr << "  fixture: " << seconds_since(t0) << " s: enqueued " << built.load() << " of " << total << "\n";
        last = Clock::now();
      }
      std::this_thread::sleep_for(10ms);
    }
    for (auto& t : builders) t.join();
    fx.built = built.load();
    fx.errors = errors.load();
    fx.capped = capped.load();
    for (long i = 0; i < flags.recovery_claimed && Clock::now() < deadline; ++i) {
      auto c = (*store)->claim("rec-" + std::to_string(i), consumer, 3'600'000, clock.now_ms(), 1);
      if (c && c->size() == 1) ++fx.claimed;
      else if (!c && fx.errors++ < 5) std::cerr << "  fixture: claim: " << describe(c.error()) << "\n";
    }
    std::cout << "fixture " << fx.built << " " << fx.claimed << " " << fx.errors << " " << (fx.capped ? 1 : 0)
              << " " << seconds_since(t0) << std::endl;
    ::raise(SIGKILL);  // the node dies with its store open
  }
  std::abort();  // not reached
}

// Runs this binary as the node to kill (--recovery-fixture) and waits for its death.
Fixture build_killed_fixture(const Flags& flags, const std::string& dir) {
  std::vector<std::string> args = {"/proc/self/exe", "--recovery-fixture", dir,
                                   "--recovery-queued", std::to_string(flags.recovery_queued),
                                   "--recovery-claimed", std::to_string(flags.recovery_claimed),
                                   "--recovery-threads", std::to_string(flags.recovery_threads),
                                   "--max-seconds", num(flags.max_seconds)};
  if (flags.submitters > 0) args.insert(args.end(), {"--submitters", std::to_string(flags.submitters)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (pid < 0) {
    ::close(out[0]);
    throw std::runtime_error("fork failed");
  }
  std::string text;
  char buf[256];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    throw std::runtime_error("recovery fixture: the building node was not killed (wait status " +
                             std::to_string(status) + ", output '" + text + "')");
  Fixture fx;
  // The report is the line that starts with "fixture" (the engine may log warnings around it).
  const auto at = text.rfind("fixture ");
  std::istringstream in(at == std::string::npos ? std::string() : text.substr(at));
  std::string tag;
  int capped = 0;
  double child_seconds = 0;
  if (!(in >> tag >> fx.built >> fx.claimed >> fx.errors >> capped >> child_seconds) || tag != "fixture")
    throw std::runtime_error("recovery fixture: unreadable report '" + text + "'");
  fx.capped = capped != 0;
  fx.seconds = seconds_since(t0);
  fx.bytes = dir_bytes(dir);
  return fx;
}

struct BareScan {
  double open_s = 0;  // read-only open: the WAL replayed into memtables
  double scan_s = 0;  // one iterator over the dispatches column family, keys and values read
  std::uint64_t keys = 0, bytes = 0;
};

// The limit of recovery: reading every dispatch record once, with bare RocksDB, from the same
// folder (read-only: the fixture is left as it is). Default options, two column families.
BareScan bare_scan_dispatches(const std::string& dir) {
  BareScan out;
  rocksdb::DBOptions o;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {rdb::kCfNames[rdb::kDispatchesCf], rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const auto t0 = Clock::now();
  auto s = rocksdb::DB::OpenForReadOnly(o, dir, cfs, &handles, &db);
  if (!s.ok()) throw std::runtime_error("bare read-only open: " + s.ToString());
  out.open_s = seconds_since(t0);
  const auto t1 = Clock::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++out.keys;
      out.bytes += it->key().size() + it->value().size();
    }
    if (!it->status().ok()) throw std::runtime_error("bare scan: " + it->status().ToString());
  }
  out.scan_s = seconds_since(t1);
  for (auto* h : handles) std::ignore = db->DestroyColumnFamilyHandle(h);
  delete db;
  return out;
}

void recovery(const Flags& flags) {
  const std::string consumer = kRecoveryConsumer;
  const std::string dir = fresh_dir(flags, "recovery");
  const long want = flags.recovery_queued + flags.recovery_claimed;
  std::cerr << "recovery: building " << flags.recovery_queued << " queued + " << flags.recovery_claimed
            << " claimed dispatches on " << flags.recovery_threads << " threads (unsynced, " << flags.submitters_or(4)
            << " builder threads)\n";
  const Fixture fx = build_killed_fixture(flags, dir);
  const long total = fx.built;
  std::cerr << "  fixture: " << fx.built << " dispatches (" << fx.claimed << " claimed) in " << fx.seconds << " s, "
            << (fx.bytes >> 20) << " MiB; bare scan\n";
  const BareScan scan = bare_scan_dispatches(dir);
  std::cerr << "  bare: read-only open " << scan.open_s << " s, scan of " << scan.keys << " dispatch records "
            << scan.scan_s << " s; restarting the engine\n";

  // The restart: the store opens synced (the default), then the engine starts on it.
  const auto o0 = Clock::now();
  auto opened = RocksdbStore::open(RocksdbOptions{dir, true});
  if (!opened) throw std::runtime_error("store open: " + describe(opened.error()));
  std::unique_ptr<RocksdbStore> store = std::move(*opened);
  const double open_s = seconds_since(o0);
  RecoveryExecutor ex;
  MailboxConfig config;
  config.consumer_id = consumer;
  const auto t0 = Clock::now();
  ex.t0 = t0;
  auto started = Mailbox::start(*store, ex, config);
  const double start_s = seconds_since(t0);
  if (!started) throw std::runtime_error("mailbox start: " + describe(started.error()));
  std::unique_ptr<Mailbox> mailbox = std::move(*started);
  std::cerr << "  Mailbox::start returned after " << start_s << " s\n";
  const auto deadline = t0 + std::chrono::duration<double>(flags.max_seconds);
  const auto n = static_cast<std::uint64_t>(total);
  std::optional<double> claimed_s, finished_s;
  std::uint64_t terminal = 0;
  auto last = Clock::now();
  // The executor's counts are free to read; the store's counters only once every dispatch has
  // executed (see throughput).
  for (;;) {
    if (!claimed_s && ex.distinct.load() >= n) claimed_s = seconds_since(t0);
    if (claimed_s && ex.executions.load() >= n) {
      auto c = store->count_dispatches_by_status();
      if (c) {
        terminal = count_of(*c, DispatchStatus::acked) + count_of(*c, DispatchStatus::dead_letter) +
                   count_of(*c, DispatchStatus::cancelled) + count_of(*c, DispatchStatus::superseded);
        if (terminal >= n) {
          finished_s = seconds_since(t0);
          break;
        }
      }
    }
    if (Clock::now() > deadline) break;
    if (seconds_since(last) > 5) {
      std::cerr << "  " << seconds_since(t0) << " s: started " << ex.distinct.load() << " of " << n << ", executed "
                << ex.executions.load() << "\n";
      last = Clock::now();
    }
    std::this_thread::sleep_for(1ms);
  }
  const double elapsed = seconds_since(t0);
  const std::uint64_t distinct = ex.distinct.load(), executions = ex.executions.load();
  // The fixture spreads dispatches round-robin over rec-0..rec-(T-1) and claims the head of
  // rec-0..rec-(C-1): when every thread with work, and every thread the killed node had a
  // claim on, had a run started again.
  const long threads_with_work = std::min<long>(flags.recovery_threads, total);
  std::vector<std::string> all_threads, claimed_threads;
  for (long i = 0; i < threads_with_work; ++i) all_threads.push_back("rec-" + std::to_string(i));
  for (long i = 0; i < fx.claimed; ++i) claimed_threads.push_back("rec-" + std::to_string(i));
  const std::uint64_t threads_started = ex.threads_started();
  const std::optional<double> every_thread_s =
      threads_started >= static_cast<std::uint64_t>(threads_with_work) ? ex.last_first_start(all_threads) : std::nullopt;
  const std::optional<double> claimed_threads_s = ex.last_first_start(claimed_threads);
  DispatchCounts counts{};
  if (auto c = store->count_dispatches_by_status(); c) counts = *c;
  const std::string metrics = mailbox->metrics_text();
  mailbox->stop();
  mailbox.reset();
  store.reset();
  remove_tree(dir);

  std::string status_counts;
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] != 0)
      status_counts += (status_counts.empty() ? "" : ", ") + std::string(to_string(static_cast<DispatchStatus>(i))) +
                       " " + std::to_string(counts[i]);
  double reclaimed = 0;
  {
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("mailbox_expired_claims_reclaimed_total ", 0) == 0) reclaimed = std::stod(line.substr(line.rfind(' ') + 1));
  }
  const std::string setting = std::to_string(fx.built - fx.claimed) + " queued + " + std::to_string(fx.claimed) +
                              " claimed on " + std::to_string(flags.recovery_threads) + " threads, synced";
  const std::string note =
      "fixture: " + std::to_string(fx.built) + " of " + std::to_string(want) + " dispatches built in " + num(fx.seconds) +
      " s by a child process SIGKILLed with its store open (unsynced store, " + std::to_string(flags.submitters_or(4)) + " builder threads, errors " +
      std::to_string(fx.errors) + (fx.capped ? ", FIXTURE TIME CAP HIT" : "") + "), folder " +
      std::to_string(fx.bytes >> 20) + " MiB; store open " + num(open_s) + " s; Mailbox::start " + num(start_s) +
      " s; started at least once " + std::to_string(distinct) + " of " + std::to_string(total) + ", executions " +
      std::to_string(executions) + "; at the end (" + num(elapsed) + " s): " + status_counts +
      "; expired leases reclaimed by the sweeper " + num(reclaimed) + (finished_s ? "" : "; TIME CAP HIT");
  const std::string capped_note = note + (claimed_s ? "" : "; claimed-again TIME CAP HIT");

  Row open_row;
  open_row.workload = "recovery";
  open_row.setting = setting;
  open_row.metric = "store open (RocksdbStore::open, WAL replay)";
  open_row.value = open_s;
  open_row.unit = "s";
  // No limit: the store's open is RocksDB's own (DB::Open of 8 column families, the WAL replayed
  // and flushed); the bare read-only open below replays the WAL without flushing it.
  open_row.note = "bare read-only open of the same folder (2 of 8 column families, WAL replayed, not flushed): " +
                  num(scan.open_s) + " s; " + note;
  add_row(open_row);

  Row a;
  a.workload = "recovery";
  a.setting = setting;
  a.metric = "restart -> recovery done (Mailbox::start returned)";
  a.value = start_s;
  a.unit = "s";
  a.limit = scan.scan_s;
  a.limit_what = "bare RocksDB: one iterator over the dispatches column family of the same folder (" +
                 std::to_string(scan.keys) + " records, " + std::to_string(scan.bytes >> 10) + " KiB)";
  a.ratio = start_s / std::max(scan.scan_s, 1e-9);
  a.note = note;
  add_row(a);

  Row b;
  b.workload = "recovery";
  b.setting = setting;
  b.metric = "restart -> every dispatch claimed again (executor started)";
  b.value = claimed_s.value_or(elapsed);
  b.unit = "s";
  b.limit = 5;
  b.limit_what = "target: 5 s";
  b.ratio = b.value / 5;
  b.note = capped_note;
  add_row(b);

  // A thread runs one dispatch at a time, so its 10th queued dispatch cannot start before its
  // first nine have finished; when every thread (and every thread of a recovered claim) runs
  // again is the part of recovery that does not wait for the backlog itself.
  Row t;
  t.workload = "recovery";
  t.setting = setting;
  t.metric = "restart (store open + Mailbox::start) -> every thread with work running again (first run started on each of " +
             std::to_string(threads_with_work) + ")";
  t.value = open_s + every_thread_s.value_or(elapsed);
  t.unit = "s";
  t.limit = 5;
  t.limit_what = "target: 5 s (read per thread)";
  t.ratio = t.value / 5;
  t.note = note + "; threads with a run started " + std::to_string(threads_started) + " of " +
           std::to_string(threads_with_work) + (every_thread_s ? "" : "; TIME CAP HIT");
  add_row(t);

  Row tc;
  tc.workload = "recovery";
  tc.setting = setting;
  tc.metric = "restart (store open + Mailbox::start) -> every thread of a released claim running again (" +
              std::to_string(fx.claimed) + " threads)";
  tc.value = open_s + claimed_threads_s.value_or(elapsed);
  tc.unit = "s";
  tc.note = note;
  add_row(tc);

  Row c;
  c.workload = "recovery";
  c.setting = setting;
  c.metric = "restart -> every dispatch finished (acked)";
  c.value = finished_s.value_or(elapsed);
  c.unit = "s";
  c.note = note;
  add_row(c);

  Row br;
  br.workload = "recovery";
  br.setting = setting;
  br.metric = "claimed again per second (restart to last first start)";
  br.value = static_cast<double>(distinct) / std::max(claimed_s.value_or(elapsed), 1e-9);
  br.unit = "dispatches/s";
  br.note = capped_note;
  add_row(br);

  Row cr;
  cr.workload = "recovery";
  cr.setting = setting;
  cr.metric = "finished per second (restart to last ack)";
  cr.value = static_cast<double>(finished_s ? n : std::min<std::uint64_t>(executions, n)) /
             std::max(finished_s.value_or(elapsed), 1e-9);
  cr.unit = "dispatches/s";
  cr.note = note;
  add_row(cr);
}

// ---- 6. the HTTP path through mailboxd -------------------------------------------------------

// A mailboxd child process on 127.0.0.1 (any free port) with a fresh data folder; its output
// goes to a log file in the folder; stopped with SIGTERM (SIGKILL after 10 s).
class NodeChild {
public:
  NodeChild(const Flags& flags, bool sync) : root_(fresh_dir(flags, "http-node")) {
    if (!std::filesystem::exists(flags.mailboxd))
      throw std::runtime_error("mailboxd not found at '" + flags.mailboxd +
                               "': build it (make mailboxd) or pass --mailboxd PATH");
    const std::string data = root_ + "/data", config = root_ + "/config.json";
    log_ = root_ + "/mailboxd.log";
    std::ofstream(config) << R"({"log_level":"warn"})";
    std::vector<std::string> args = {flags.mailboxd, "--data-dir", data, "--listen", "127.0.0.1:0", "--config", config};
    if (!sync) args.emplace_back("--unsynced");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot create " + log_);
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::close(log_fd);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error("fork failed");
    for (int i = 0; i < 400 && port_ == 0; ++i) {  // up to 20 s
      std::ifstream in(log_);
      for (std::string l; std::getline(in, l);)
        if (auto at = l.find("listening on http://127.0.0.1:"); at != std::string::npos)
          port_ = static_cast<std::uint16_t>(std::stoi(l.substr(at + 30)));
      int status = 0;
      if (port_ == 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      if (port_ == 0) std::this_thread::sleep_for(50ms);
    }
    if (port_ == 0) {
      std::ifstream in(log_);
      std::stringstream all;
      all << in.rdbuf();
      stop();
      remove_tree(root_);
      throw std::runtime_error("mailboxd did not start; its output:\n" + all.str());
    }
  }
  ~NodeChild() {
    stop();
    remove_tree(root_);
  }
  NodeChild(const NodeChild&) = delete;
  NodeChild& operator=(const NodeChild&) = delete;

  // SIGTERM, then waits (10 s at most) and kills; the exit status, or -1 if it had to be killed.
  int stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return exit_status_;
      }
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_status_ = -1;
    return exit_status_;
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }

private:
  std::string root_;
  std::string log_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  int exit_status_ = -1;
};

struct Counts {
  std::uint64_t terminal = 0, acked = 0;
};

Counts counts_of(const DispatchCounts& c) {
  return {count_of(c, DispatchStatus::acked) + count_of(c, DispatchStatus::dead_letter) +
              count_of(c, DispatchStatus::cancelled) + count_of(c, DispatchStatus::superseded),
          count_of(c, DispatchStatus::acked)};
}

// The dispatch gauges of a /metrics reply (mailbox_dispatch_depth{status="..."} N).
std::optional<Counts> counts_from_metrics(const std::string& text) {
  Counts out;
  bool any = false;
  std::istringstream in(text);
  const std::string prefix = "mailbox_dispatch_depth{status=\"";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const auto q = line.find('"', prefix.size());
    if (q == std::string::npos) continue;
    const std::string status = line.substr(prefix.size(), q - prefix.size());
    const auto v = static_cast<std::uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
    any = true;
    if (status == "acked") out.acked = v;
    if (status == "acked" || status == "dead_letter" || status == "cancelled" || status == "superseded") out.terminal += v;
  }
  return any ? std::optional<Counts>(out) : std::nullopt;
}

// POSTs `body` to `target` on a fresh loopback connection and hands each SSE event type to
// `on_event` as soon as its frame has arrived (false stops reading). HttpClient::stream reads the
// body with http::read into an 8 KiB buffer, which returns only when that buffer is full or the
// reply ends: on a short run every event would arrive with the last one, hiding the time to the
// first event. Returns the HTTP status, or an error text.
std::variant<int, std::string> sse_post(std::uint16_t port, const std::string& target, const std::string& body,
                                        std::chrono::milliseconds timeout,
                                        const std::function<bool(const std::string&)>& on_event) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.expires_after(timeout);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return "connect: " + ec.message();
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return "write: " + ec.message();
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(stream, buffer, parser, ec);
  if (ec) return "read header: " + ec.message();
  const int status = static_cast<int>(parser.get().result_int());
  if (status != 200) return status;
  std::string pending, event;
  char chunk[8192];
  for (int reads = 0; !parser.is_done() && reads < 100000; ++reads) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    stream.expires_after(timeout);
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    pending.append(chunk, sizeof(chunk) - parser.get().body().size);
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("event:", 0) == 0) {
        event = line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6);
      } else if (line.empty() && !event.empty()) {
        if (!on_event(event)) return status;
        event.clear();
      }
    }
    if (ec) break;  // the end of the reply (the server closes an SSE reply) or a broken connection
  }
  return status;
}

enum class Outcome { ok, full, conflict, error };

struct BackgroundResult {
  std::uint64_t done = 0, acked = 0;
  long submitted = 0, errors = 0, retries = 0;
  double elapsed = 0;
  bool timed_out = false;
  long polls = 0;
  double poll_ms = 0;  // total time spent in the completion polls
  [[nodiscard]] double rate() const { return static_cast<double>(done) / std::max(elapsed, 1e-9); }
  [[nodiscard]] std::string describe_run() const {
    return "finished " + std::to_string(done) + " (acked " + std::to_string(acked) + ") of " +
           std::to_string(submitted) + " submitted in " + num(elapsed) + " s; submit retries " +
           std::to_string(retries) + ", errors " + std::to_string(errors) + "; " + std::to_string(polls) +
           " completion polls, " + num(poll_ms / std::max<long>(polls, 1)) + " ms each" +
           (timed_out ? "; TIME CAP HIT" : "");
  }
};

// Background submits of `total` dispatches to `threads` threads from the submitter threads
// (submit(submitter index, thread id)); queue_full and conflict are retried (2 ms pause after
// queue_full). The end: the terminal dispatch count (read every --http-poll-ms once every
// dispatch is submitted) reaches the submitted count, or the time cap.
BackgroundResult background_load(const Flags& flags, long threads, long total, const std::string& prefix,
                                 const std::function<Outcome(int, const std::string&)>& submit,
                                 const std::function<std::optional<Counts>()>& counts) {
  BackgroundResult out;
  const auto deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
  std::atomic<long> submitted{0}, errors{0}, retries{0};
  std::atomic<bool> timed_out{false};
  const auto t0 = Clock::now();
  const int submitter_count = flags.submitters_or(4);
  std::vector<std::thread> submitters;
  for (int s = 0; s < submitter_count; ++s)
    submitters.emplace_back([&, s] {
      for (long i = s; i < total; i += submitter_count) {
        const std::string thread = prefix + std::to_string(i % threads);
        for (;;) {
          if (Clock::now() > deadline) {
            timed_out = true;
            return;
          }
          const Outcome o = submit(s, thread);
          if (o == Outcome::ok) {
            submitted.fetch_add(1);
            break;
          }
          if (o == Outcome::full || o == Outcome::conflict) {
            retries.fetch_add(1);
            if (o == Outcome::full) std::this_thread::sleep_for(2ms);
            continue;
          }
          errors.fetch_add(1);
          break;
        }
      }
    });
  auto last = Clock::now();
  const auto interval = std::chrono::milliseconds(flags.http_poll_ms);
  for (;;) {
    const auto p0 = Clock::now();
    // The counts cost the node a counter merge (and a request): read them only once everything
    // is submitted (the end can only come then), and for the progress line every 5 s.
    const bool all_submitted = submitted.load() + errors.load() >= total || timed_out.load();
    if (all_submitted || seconds_since(last) > 5) {
      auto c = counts();
      out.poll_ms += ms_between(p0, Clock::now());
      ++out.polls;
      if (c) {
        out.done = c->terminal;
        out.acked = c->acked;
      }
    }
    if (all_submitted && out.done >= static_cast<std::uint64_t>(submitted.load())) break;
    if (Clock::now() > deadline) {
      timed_out = true;
      break;
    }
    if (seconds_since(last) > 5) {
      std::cerr << "  " << seconds_since(t0) << " s: submitted " << submitted.load() << ", finished " << out.done << "\n";
      last = Clock::now();
    }
    std::this_thread::sleep_until(p0 + interval);
  }
  out.elapsed = seconds_since(t0);
  for (auto& t : submitters) t.join();
  out.submitted = submitted.load();
  out.errors = errors.load();
  out.retries = retries.load();
  out.timed_out = timed_out.load();
  return out;
}

struct ForegroundResult {
  std::vector<double> first, finish;
  int failed = 0;
};

// --http-samples foreground samples one at a time, half on new threads and half on threads that
// ran before (as the latency workload); sample(thread) submits, follows the stream, and waits
// for the ack before it returns.
ForegroundResult foreground_load(const Flags& flags, const std::string& prefix,
                                 const std::function<Timed(const std::string&)>& sample) {
  ForegroundResult out;
  const auto deadline = Clock::now() + std::chrono::duration<double>(flags.max_seconds);
  for (int i = 0; i < flags.http_samples && Clock::now() < deadline; ++i) {
    const auto t = sample(prefix + std::to_string(i % 2 == 0 ? i : i / 4));
    if (t.first_ms) out.first.push_back(*t.first_ms);
    if (t.finish_ms) out.finish.push_back(*t.finish_ms);
    else ++out.failed;
  }
  return out;
}

Outcome outcome_of(const Error& e) {
  if (e.code == Errc::queue_full) return Outcome::full;
  if (e.code == Errc::conflict) return Outcome::conflict;
  return Outcome::error;
}

void http_path(const Flags& flags, bool sync) {
  const long threads = flags.http_threads, total = std::max(flags.http_dispatches, threads);
  const std::string mode = sync ? "synced" : "unsynced";
  std::cerr << "http: " << mode << ", T=" << threads << ", " << total << " background dispatches, "
            << flags.http_samples << " foreground samples; embedded first, then through mailboxd\n";
  // The agents mailboxd registers for these runs: echo (and "default" = echo).
  AgentRegistry agents;
  auto echo = std::make_shared<EchoAgent>();
  std::ignore = agents.add("echo", echo);
  std::ignore = agents.add("default", echo);
  std::atomic<int> printed{0};
  auto report_error = [&](const std::string& what) {
    if (printed.fetch_add(1) < 5) std::cerr << "  " << what << "\n";
  };

  // Embedded: the same shapes on a Mailbox in this process.
  BackgroundResult eb;
  ForegroundResult ef;
  {
    std::cerr << "  embedded background\n";
    Engine e = Engine::open(flags, "http-embedded", sync, &agents);
    eb = background_load(
        flags, threads, total, "hb-",
        [&](int, const std::string& thread) {
          RunActivation req = request(thread, "ok");
          req.intent.agent_id = "echo";
          auto r = e.mailbox->submit_background(std::move(req));
          if (r) return Outcome::ok;
          const Outcome o = outcome_of(r.error());
          if (o == Outcome::error) report_error("embedded submit: " + describe(r.error()));
          return o;
        },
        [&]() -> std::optional<Counts> {
          auto c = e.store->count_dispatches_by_status();
          if (!c) return std::nullopt;
          return counts_of(*c);
        });
    std::cerr << "  embedded foreground\n";
    ef = foreground_load(flags, "hf-", [&](const std::string& thread) {
      RunActivation req = request(thread, "ok");
      req.intent.agent_id = "echo";
      const auto t0 = Clock::now();
      auto s = e.mailbox->submit(std::move(req));
      if (!s) {
        report_error("embedded foreground submit: " + describe(s.error()));
        return Timed{};
      }
      auto t = follow(s->events, t0, 10s);
      for (int k = 0; k < 2000; ++k) {  // the ack, so the next sample starts on an idle node
        auto d = e.store->load_dispatch(s->result.dispatch_id);
        if (!d || !*d || is_terminal((*d)->status)) break;
        std::this_thread::sleep_for(1ms);
      }
      return t;
    });
    e.close();
  }

  // Through mailboxd: keep-alive clients, one per submitter, one for the polls, one for samples.
  BackgroundResult hb;
  ForegroundResult hf;
  int exit_status = -1;
  {
    NodeChild node(flags, sync);
    std::cerr << "  mailboxd up on 127.0.0.1:" << node.port() << "; HTTP background\n";
    std::vector<std::unique_ptr<client::HttpClient>> clients;
    for (int s = 0; s < flags.submitters_or(4); ++s)
      clients.push_back(std::make_unique<client::HttpClient>("127.0.0.1", node.port(), 30s));
    client::HttpClient poller("127.0.0.1", node.port(), 30s);
    const std::string body = R"({"messages":[{"role":"user","content":"ok"}],"agent_id":"echo"})";
    hb = background_load(
        flags, threads, total, "hb-",
        [&](int s, const std::string& thread) {
          auto r = clients[static_cast<std::size_t>(s)]->request("POST", "/v1/threads/" + thread + "/mailbox", body);
          if (!r) {
            report_error("HTTP submit: " + describe(r.error()));
            return Outcome::error;
          }
          if (r->status == 201 || r->status == 202) return Outcome::ok;
          if (r->status == 429) return Outcome::full;
          if (r->status == 409) return Outcome::conflict;
          report_error("HTTP submit: " + std::to_string(r->status) + " " + r->body);
          return Outcome::error;
        },
        [&]() -> std::optional<Counts> {
          auto r = poller.request("GET", "/metrics");
          if (!r || r->status != 200) return std::nullopt;
          return counts_from_metrics(r->body);
        });
    std::cerr << "  HTTP foreground\n";
    client::HttpClient fg("127.0.0.1", node.port(), 30s);
    const std::string fg_body = R"({"messages":[{"role":"user","content":"ok"}],"agent_id":"echo","stream":true})";
    hf = foreground_load(flags, "hf-", [&](const std::string& thread) {
      Timed t;
      const auto t0 = Clock::now();
      auto r = sse_post(node.port(), "/v1/threads/" + thread + "/messages", fg_body, 30s,
                        [&](const std::string& event) {
                          if (!t.first_ms) t.first_ms = ms_between(t0, Clock::now());
                          if (event == "run_finish") {
                            t.finish_ms = ms_between(t0, Clock::now());
                            return false;
                          }
                          return true;
                        });
      if (!std::holds_alternative<int>(r) || std::get<int>(r) != 200) {
        report_error("HTTP foreground submit: " +
                     (std::holds_alternative<int>(r) ? std::to_string(std::get<int>(r)) : std::get<std::string>(r)));
        return Timed{};
      }
      // The ack (the thread's newest dispatch terminal), so the next sample starts on an idle node.
      for (int k = 0; k < 2000; ++k) {
        auto g = fg.request("GET", "/v1/threads/" + thread + "/mailbox?limit=1");
        if (!g || g->status != 200) break;
        try {
          const boost::json::value listing = boost::json::parse(g->body);
          const auto& ds = listing.as_object().at("dispatches").as_array();
          if (ds.empty()) break;
          const auto st = ds.at(0).as_object().at("status").as_string();
          if (st != "queued" && st != "claimed") break;
        } catch (const std::exception&) {
          break;
        }
        std::this_thread::sleep_for(1ms);
      }
      return t;
    });
    exit_status = node.stop();
  }

  const std::string bg_setting = mode + ", T=" + std::to_string(threads) + ", " + std::to_string(total) +
                                 " dispatches, echo agent";
  Row r;
  r.workload = "http path";
  r.setting = bg_setting;
  r.metric = "background dispatches/s";
  r.value = hb.rate();
  r.unit = "dispatches/s";
  r.limit = eb.rate();
  r.limit_what = "embedded Mailbox, same agent registry (echo), shape and completion poll (every " +
                 std::to_string(flags.http_poll_ms) + " ms), same run";
  r.ratio = r.value / std::max(*r.limit, 1e-9);
  r.note = "HTTP: " + hb.describe_run() + "; embedded: " + eb.describe_run() + "; mailboxd exit status " +
           std::to_string(exit_status);
  add_row(r);

  const std::string fg_setting = mode + ", idle threads, echo agent";
  const std::string fg_note = "HTTP n=" + std::to_string(hf.first.size()) + ", failed " + std::to_string(hf.failed) +
                              "; embedded n=" + std::to_string(ef.first.size()) + ", failed " +
                              std::to_string(ef.failed) +
                              "; every HTTP sample opens a loopback connection (an SSE reply ends its connection), "
                              "events read as they arrive";
  const auto hp1 = percentiles(hf.first), hp2 = percentiles(hf.finish);
  const auto ep1 = percentiles(ef.first), ep2 = percentiles(ef.finish);
  for (const auto& [metric, hp, ep] : {std::tuple{"submit -> first event", hp1, ep1},
                                       std::tuple{"submit -> run finished", hp2, ep2}}) {
    for (const auto& [q, hv, ev] : {std::tuple{"p50", hp.p50, ep.p50}, std::tuple{"p99", hp.p99, ep.p99},
                                    std::tuple{"max", hp.max, ep.max}}) {
      Row f;
      f.workload = "http path";
      f.setting = fg_setting;
      f.metric = std::string("foreground ") + metric + " " + q;
      f.value = hv;
      f.unit = "ms";
      f.limit = ev;
      f.limit_what = std::string("embedded Mailbox, same agent, same run, ") + q;
      f.ratio = hv / std::max(ev, 1e-9);
      f.note = fg_note;
      add_row(f);
    }
  }
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
  if (!flags.recovery_fixture.empty()) build_recovery_fixture_and_die(flags, flags.recovery_fixture, kRecoveryConsumer);
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
    if (wants(flags, "recovery")) recovery(flags);
    if (wants(flags, "http"))
      for (bool sync : syncs) http_path(flags, sync);
  } catch (const std::exception& ex) {
    std::cerr << "mbx_loadgen: " << ex.what() << "\n";
    write_json(flags);
    remove_tree((std::filesystem::path(flags.dir) / ("mbx-loadgen-" + std::to_string(::getpid()))).string());
    return 1;
  }
  write_json(flags);
  write_markdown();
  remove_tree((std::filesystem::path(flags.dir) / ("mbx-loadgen-" + std::to_string(::getpid()))).string());
  return 0;
}
