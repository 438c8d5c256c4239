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
  struct Histogram {
    std::array<std::uint64_t, 12> buckets{};  // cumulative at render time
    std::uint64_t count = 0;
    double sum = 0;
  };
  void add(std::string_view name, std::string labels, double v);
  void observe(std::string_view name, std::string labels, double seconds);

  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, double>> counters_;        // Guarded by mu_. name -> labels -> value
  std::map<std::string, std::map<std::string, Histogram>> histograms_;  // Guarded by mu_.
  std::atomic<std::int64_t> active_runs_{0};
};

}  // namespace mbx
