#include "http/middleware/observability.h"

#include <time.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "obs/access_log.h"
#include "obs/metrics.h"

namespace shopd::http {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct SeriesKey {
  const void* route;  // the route template's characters: stable for the router's life
  size_t route_len;
  Method method;
  int status;  // 0 for the per-(route, method) histogram
  bool operator==(const SeriesKey&) const = default;
};

struct SeriesKeyHash {
  size_t operator()(const SeriesKey& k) const {
    size_t h = std::hash<const void*>{}(k.route);
    h ^= (static_cast<size_t>(k.method) << 20) ^ (static_cast<size_t>(k.status) << 3) ^ k.route_len;
    return h;
  }
};

}  // namespace

struct ObservabilityMiddleware::Impl {
  obs::MetricsRegistry& metrics;
  obs::AccessLog* access_log;
  obs::Gauge* in_flight;
  uint64_t id;  // tells this instance's entries apart in the thread-local caches

  obs::Counter& RequestCounter(std::string_view route, Method m, int status) {
    thread_local std::unordered_map<SeriesKey, obs::Counter*, SeriesKeyHash> cache;
    thread_local uint64_t cache_owner = 0;
    if (cache_owner != id) cache.clear(), cache_owner = id;
    SeriesKey key{route.data(), route.size(), m, status};
    if (auto it = cache.find(key); it != cache.end()) return *it->second;
    obs::Counter& c = metrics.GetCounter(
        "shopd_http_requests_total", "HTTP requests answered, by route template, method and status.",
        {{"route", std::string(route)}, {"method", std::string(MethodName(m))}, {"status", std::to_string(status)}});
    cache.emplace(key, &c);
    return c;
  }

  obs::Histogram& Latency(std::string_view route, Method m) {
    thread_local std::unordered_map<SeriesKey, obs::Histogram*, SeriesKeyHash> cache;
    thread_local uint64_t cache_owner = 0;
    if (cache_owner != id) cache.clear(), cache_owner = id;
    SeriesKey key{route.data(), route.size(), m, 0};
    if (auto it = cache.find(key); it != cache.end()) return *it->second;
    obs::Histogram& h = metrics.GetHistogram(
        "shopd_http_request_duration_seconds", "Time from a complete request to its response, in seconds.",
        obs::HttpLatencyBucketsSeconds(), {{"route", std::string(route)}, {"method", std::string(MethodName(m))}});
    cache.emplace(key, &h);
    return h;
  }
};

namespace {
std::atomic<uint64_t> next_instance_id{1};
}

ObservabilityMiddleware::ObservabilityMiddleware(obs::MetricsRegistry& metrics, obs::AccessLog* access_log)
    : impl_(new Impl{metrics, access_log,
                     &metrics.GetGauge("shopd_http_requests_in_flight", "Requests being handled right now."),
                     next_instance_id++}) {}

ObservabilityMiddleware::~ObservabilityMiddleware() = default;

std::optional<Response> ObservabilityMiddleware::OnRequest(Request&) {
  impl_->in_flight->Add(1);
  return std::nullopt;
}

void ObservabilityMiddleware::OnResponse(const Request& req, Response& res) {
  impl_->in_flight->Add(-1);
  // Unknown methods share one label value, so a client cannot mint series.
  const Method m = req.method();
  const int64_t elapsed_ns = req.start_ns() > 0 ? NowNs() - req.start_ns() : 0;
  impl_->RequestCounter(req.route(), m, res.status).Inc();
  impl_->Latency(req.route(), m).Observe(static_cast<double>(elapsed_ns) / 1e9);
  if (impl_->access_log) {
    obs::AccessRecord rec;
    rec.request_id = req.request_id();
    rec.method = req.method_text().empty() ? MethodName(m) : req.method_text();
    rec.path = req.route();
    rec.target = req.target();
    rec.status = res.status;
    rec.duration_ms = static_cast<double>(elapsed_ns) / 1e6;
    rec.remote_ip = req.client_address();
    rec.bytes_out = res.body.size();
    impl_->access_log->Write(rec);
  }
}

}  // namespace shopd::http
