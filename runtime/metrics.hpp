// Metrics: the engine's counters, gauges and timings, named after awaken's (spec section 8) and
// rendered as Prometheus text. Each probe method names the event it counts. Thread-safe: every
// component of a Mailbox reports into one instance.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace mbx {

class Metrics {
public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One store operation: result is "ok", "empty" (nothing found / claimed) or "error".
  void store_operation(std::string_view operation, std::string_view result, double seconds);
  void submitted(std::string_view flow, std::string_view result);  // flow: foreground, background, ...
  void run_started(double enqueue_to_start_seconds);
  void run_finished(std::string_view outcome, double runtime_seconds);  // completed, waiting, cancelled, ...
  void lease_renewed();
  void lease_lost();
  void claims_reclaimed(std::uint64_t n);
  void live_delivery(std::string_view result);  // delivered, fallback
  void supersede(std::uint64_t n);
  void active_runs_changed(std::int64_t delta) { active_runs_.fetch_add(delta); }

  [[nodiscard]] std::int64_t active_runs() const { return active_runs_.load(); }
  // Counter value for a name and label set rendered as in the text format, e.g.
  // counter("mailbox_runs_finished_total", "outcome=\"completed\""); 0 if never counted.
  [[nodiscard]] double counter(std::string_view name, std::string_view labels) const;

  // Prometheus text exposition. `dispatch_depth` (by status name) is sampled by the caller.
  [[nodiscard]] std::string prometheus_text(const std::map<std::string, std::uint64_t>& dispatch_depth) const;

private:
  // Values are atomic and map nodes never move or go away, so a probe holds mu_ only to find
  // (or create) its series, and the store's probes not even that: each thread keeps the
  // series of the operations it reported before (operation_series).
  struct Counter {
    std::atomic<double> value{0};
  };
  struct Histogram {
    std::array<std::atomic<std::uint64_t>, 12> buckets{};  // cumulative at render time
    std::atomic<std::uint64_t> count{0};
    std::atomic<double> sum{0};
  };
  struct OperationSeries {
    Counter* total = nullptr;         // mailbox_operations_total{operation, result}
    Histogram* duration = nullptr;    // mailbox_operation_duration_seconds{operation}
  };
  void add(std::string_view name, std::string labels, double v);
  void observe(std::string_view name, std::string labels, double seconds);
  OperationSeries operation_series(std::string_view operation, std::string_view result);
  static void record(Histogram& h, double seconds);

  const std::uint64_t instance_;  // unique among all instances ever made: keys the per-thread caches
  mutable std::mutex mu_;         // guards the maps' structure, not the values
  template <class V>
  using ByName = std::map<std::string, std::map<std::string, V, std::less<>>, std::less<>>;
  ByName<Counter> counters_;      // name -> labels -> value
  ByName<Histogram> histograms_;  // name -> labels -> histogram
  // The series of `name` and `labels` in `by_name` (created at zero), under mu_.
  template <class V>
  V& series(ByName<V>& by_name, std::string_view name, std::string labels);
  std::atomic<std::int64_t> active_runs_{0};
};

}  // namespace mbx
