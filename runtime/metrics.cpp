#include "runtime/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace mbx {

namespace {

constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                            0.05,   0.1,   0.25,   1.0,   5.0,  30.0};

std::string label(std::string_view key, std::string_view value) { return fmt::format("{}=\"{}\"", key, value); }

}  // namespace

Metrics::Metrics()
    : instance_([] {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1);
      }()) {}

template <class V>
V& Metrics::series(ByName<V>& by_name, std::string_view name, std::string labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name.find(name);
  if (it == by_name.end()) it = by_name.try_emplace(std::string(name)).first;
  return it->second[std::move(labels)];
}

void Metrics::record(Histogram& h, double seconds) {
  for (std::size_t i = 0; i < kBounds.size(); ++i)
    if (seconds <= kBounds[i]) {
      h.buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum.fetch_add(seconds, std::memory_order_relaxed);
}

void Metrics::add(std::string_view name, std::string labels, double v) {
  series(counters_, name, std::move(labels)).value.fetch_add(v, std::memory_order_relaxed);
}

void Metrics::observe(std::string_view name, std::string labels, double seconds) {
  record(series(histograms_, name, std::move(labels)), seconds);
}

Metrics::OperationSeries Metrics::operation_series(std::string_view operation, std::string_view result) {
  // Every store call reports here (about 15 per run), from every engine thread: a per-thread
  // list of the series found before saves the label formatting, the map lookups and the
  // shared lock. Entries of another (perhaps destroyed) instance never match its id.
  struct Slot {
    std::uint64_t instance;
    std::string operation;
    std::string result;
    OperationSeries series;
  };
  thread_local std::vector<Slot> slots;
  for (const auto& s : slots)
    if (s.instance == instance_ && s.operation == operation && s.result == result) return s.series;
  OperationSeries found;
  found.total =
      &series(counters_, "mailbox_operations_total", label("operation", operation) + "," + label("result", result));
  found.duration = &series(histograms_, "mailbox_operation_duration_seconds", label("operation", operation));
  if (slots.size() >= 256) slots.clear();  // bounded: many short-lived instances (tests) pass through
  slots.push_back(Slot{instance_, std::string(operation), std::string(result), found});
  return found;
}

void Metrics::store_operation(std::string_view operation, std::string_view result, double seconds) {
  const auto series = operation_series(operation, result);
  series.total->value.fetch_add(1, std::memory_order_relaxed);
  record(*series.duration, seconds);
}

void Metrics::submitted(std::string_view flow, std::string_view result) {
  add("mailbox_submits_total", label("flow", flow) + "," + label("result", result), 1);
}

void Metrics::run_started(double enqueue_to_start_seconds) {
  add("mailbox_runs_started_total", "", 1);
  observe("mailbox_enqueue_to_start_seconds", "", enqueue_to_start_seconds);
}

void Metrics::run_finished(std::string_view outcome, double runtime_seconds) {
  add("mailbox_runs_finished_total", label("outcome", outcome), 1);
  observe("mailbox_run_duration_seconds", "", runtime_seconds);
}

void Metrics::lease_renewed() { add("mailbox_lease_renewals_total", "", 1); }
void Metrics::lease_lost() { add("mailbox_leases_lost_total", "", 1); }
void Metrics::claims_reclaimed(std::uint64_t n) { add("mailbox_expired_claims_reclaimed_total", "", static_cast<double>(n)); }
void Metrics::live_delivery(std::string_view result) { add("mailbox_live_deliveries_total", label("result", result), 1); }
void Metrics::supersede(std::uint64_t n) { add("mailbox_superseded_dispatches_total", "", static_cast<double>(n)); }

double Metrics::counter(std::string_view name, std::string_view labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(name);
  if (it == counters_.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second.value.load();
}

std::string Metrics::prometheus_text(const std::map<std::string, std::uint64_t>& dispatch_depth) const {
  std::string out;
  auto series = [](std::string_view name, const std::string& labels) {
    return labels.empty() ? std::string(name) : fmt::format("{}{{{}}}", name, labels);
  };
  out += "# TYPE mailbox_dispatch_depth gauge\n";
  for (const auto& [status, n] : dispatch_depth)
    out += fmt::format("mailbox_dispatch_depth{{status=\"{}\"}} {}\n", status, n);
  out += "# TYPE mailbox_active_runs gauge\n";
  out += fmt::format("mailbox_active_runs {}\n", active_runs_.load());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, by_labels] : counters_) {
    out += fmt::format("# TYPE {} counter\n", name);
    for (const auto& [labels, v] : by_labels) out += fmt::format("{} {}\n", series(name, labels), v.value.load());
  }
  for (const auto& [name, by_labels] : histograms_) {
    out += fmt::format("# TYPE {} histogram\n", name);
    for (const auto& [labels, h] : by_labels) {
      const std::string sep = labels.empty() ? "" : ",";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += h.buckets[i].load();
        out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBounds[i], cumulative);
      }
      // Read apart from the buckets while probes go on: +Inf (= the count) is at least the last bucket.
      const std::uint64_t count = std::max(cumulative, h.count.load());
      out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count);
      out += fmt::format("{} {}\n", series(std::string(name) + "_sum", labels), h.sum.load());
      out += fmt::format("{} {}\n", series(std::string(name) + "_count", labels), count);
    }
  }
  return out;
}

}  // namespace mbx
