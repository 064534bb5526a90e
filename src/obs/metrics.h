// obs: a Prometheus metrics registry. Depends on nothing.
//
// Look a metric up once (registration takes a mutex), keep the reference, and
// update it from any thread: updates are single relaxed atomic operations, cheap
// enough for every request. References stay valid for the registry's lifetime.
// RenderPrometheus() produces text exposition format 0.0.4 that passes
// `promtool check metrics`; registration rejects what promtool would flag
// (counters without `_total`, missing help, invalid names) as programming errors.
//
//   MetricsRegistry reg;
//   Counter& ok = reg.GetCounter("shopd_http_requests_total", "HTTP requests served.",
//                                {{"route", "/users/{id}"}, {"status", "200"}});
//   Histogram& lat = reg.GetHistogram("shopd_http_request_duration_seconds",
//                                     "Request latency.", HttpLatencyBucketsSeconds());
//   ok.Inc();
//   lat.Observe(0.0031);
//   std::string body = reg.RenderPrometheus();   // GET /metrics
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shopd::obs {

// Label names and values of one series; order does not matter (series are
// identified and rendered with labels sorted by name).
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count. Cache-line aligned so that hot metrics
// updated from different cores do not share a line.
class alignas(64) Counter {
 public:
  void Inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (in-flight requests, pool sizes).
class alignas(64) Gauge {
 public:
  void Set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  double Value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets with fixed upper bounds (inclusive, as
// Prometheus' `le`), plus their sum. The count is the total over all buckets,
// so a scrape never sees `_count` disagree with the `+Inf` bucket.
class alignas(64) Histogram {
 public:
  // `upper_bounds` must be strictly increasing; a trailing +Inf is implied.
  // Throws std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value) noexcept;

  struct Snapshot {
    std::vector<uint64_t> bucket_counts;  // per bucket (not cumulative), +Inf last
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// The Content-Type of RenderPrometheus() output.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// 100 µs .. 10 s, for HTTP request latency in seconds.
std::vector<double> HttpLatencyBucketsSeconds();

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Find-or-create. Throw std::logic_error when `name` is already registered
  // with another type (or, for histograms, other bounds), and
  // std::invalid_argument for invalid names or labels, empty help, a counter
  // name without `_total`, or a non-counter name with it. Help text of an
  // existing family is kept.
  Counter& GetCounter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, Labels labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          std::vector<double> upper_bounds, Labels labels = {});

  // Series whose value is computed at scrape time, for state owned elsewhere
  // (/proc, queue depths). The callback runs under the registry's lock, so it
  // must not call back into the registry, and it must outlive the registry or
  // stay safe to call. Registering the same series twice throws std::logic_error.
  void AddCallbackGauge(std::string_view name, std::string_view help, Labels labels,
                        std::function<double()> fn);
  void AddCallbackCounter(std::string_view name, std::string_view help, Labels labels,
                          std::function<double()> fn);

  // Text exposition format 0.0.4, families sorted by name, each family's
  // series together and sorted by labels.
  std::string RenderPrometheus() const;

 private:
  struct Family;
  struct Series;
  enum class Type { kCounter, kGauge, kHistogram };

  // Requires mu_. A new series holds a null Counter pointer until the caller
  // fills it in, still under the lock.
  Series& FindOrCreateLocked(Type type, std::string_view name, std::string_view help,
                             Labels labels, const std::vector<double>* bounds, bool must_be_new);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
  // Every sample name in use (a histogram `x` uses x_bucket, x_sum, x_count),
  // so two families can never render colliding lines.
  std::map<std::string, std::string, std::less<>> sample_names_;
};

}  // namespace shopd::obs
