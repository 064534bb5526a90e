#include "obs/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "obs/process_metrics.h"

namespace shopd::obs {
namespace {

TEST(Metrics, CounterGaugeHistogramValues) {
  MetricsRegistry reg;
  Counter& c = reg.GetCounter("c_total", "A counter.");
  EXPECT_EQ(c.Value(), 0u);
  c.Inc();
  c.Inc(41);
  EXPECT_EQ(c.Value(), 42u);

  Gauge& g = reg.GetGauge("g", "A gauge.");
  g.Set(3.5);
  g.Add(-1);
  EXPECT_DOUBLE_EQ(g.Value(), 2.5);

  Histogram& h = reg.GetHistogram("h_seconds", "A histogram.", {1, 2});
  for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, std::nan("")}) h.Observe(v);
  const Histogram::Snapshot s = h.Read();
  // `le` is inclusive: 1.0 counts in the first bucket. NaN goes to +Inf.
  EXPECT_EQ(s.bucket_counts, (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_TRUE(std::isnan(s.sum));
}

TEST(Metrics, RendersExactTextFormat) {
  MetricsRegistry reg;
  reg.GetCounter("shopd_requests_total", "Requests served.", {{"route", "/a"}, {"method", "GET"}})
      .Inc(3);
  reg.GetGauge("shopd_in_flight", "In-flight requests.").Set(2.5);
  Histogram& h = reg.GetHistogram("shopd_latency_seconds", "Latency.", {0.25, 1});
  for (double v : {0.125, 0.25, 0.5, 8.0}) h.Observe(v);
  reg.GetCounter("shopd_requests_total", "ignored", {{"method", "POST"}, {"route", "/a"}});

  EXPECT_EQ(reg.RenderPrometheus(),
            "# HELP shopd_in_flight In-flight requests.\n"
            "# TYPE shopd_in_flight gauge\n"
            "shopd_in_flight 2.5\n"
            "# HELP shopd_latency_seconds Latency.\n"
            "# TYPE shopd_latency_seconds histogram\n"
            "shopd_latency_seconds_bucket{le=\"0.25\"} 2\n"
            "shopd_latency_seconds_bucket{le=\"1\"} 3\n"
            "shopd_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "shopd_latency_seconds_sum 8.875\n"
            "shopd_latency_seconds_count 4\n"
            "# HELP shopd_requests_total Requests served.\n"
            "# TYPE shopd_requests_total counter\n"
            "shopd_requests_total{method=\"GET\",route=\"/a\"} 3\n"
            "shopd_requests_total{method=\"POST\",route=\"/a\"} 0\n");
}

TEST(Metrics, FormatsNumbers) {
  MetricsRegistry reg;
  reg.GetCounter("big_total", "h").Inc(std::numeric_limits<uint64_t>::max());
  reg.GetGauge("a", "h").Set(1e20);
  reg.GetGauge("b", "h").Set(0.1);
  reg.GetGauge("c", "h").Set(-INFINITY);
  reg.GetGauge("d", "h").Set(-7);
  const std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("\nbig_total 18446744073709551615\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\na 1e+20\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nb 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc -Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nd -7\n"), std::string::npos) << text;
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  MetricsRegistry reg;
  reg.GetGauge("g", "Help with \\ and\nnewline \"quoted\".", {{"v", "a\"b\\c\nd\xff"}}).Set(1);
  EXPECT_EQ(reg.RenderPrometheus(),
            "# HELP g Help with \\\\ and\\nnewline \"quoted\".\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\"} 1\n");
}

TEST(Metrics, ReferencesStayStable) {
  MetricsRegistry reg;
  Counter* first = &reg.GetCounter("x_total", "h", {{"k", "0"}});
  Histogram* hist = &reg.GetHistogram("y_seconds", "h", HttpLatencyBucketsSeconds());
  for (int i = 1; i < 2000; ++i) {
    reg.GetCounter("x_total", "h", {{"k", std::to_string(i)}});
    reg.GetGauge("g" + std::to_string(i), "h");
  }
  EXPECT_EQ(&reg.GetCounter("x_total", "h", {{"k", "0"}}), first);
  EXPECT_EQ(&reg.GetHistogram("y_seconds", "h", HttpLatencyBucketsSeconds()), hist);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry reg;
  constexpr int kThreads = 4, kPerThread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Counter& c = reg.GetCounter("n_total", "h");
      Gauge& g = reg.GetGauge("g", "h");
      Histogram& h = reg.GetHistogram("h_seconds", "h", {0.5, 2});
      for (int i = 0; i < kPerThread; ++i) {
        c.Inc();
        g.Add(1);
        h.Observe(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reg.GetCounter("n_total", "h").Value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(reg.GetGauge("g", "h").Value(), double{kThreads} * kPerThread);
  const auto s = reg.GetHistogram("h_seconds", "h", {0.5, 2}).Read();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.bucket_counts[1], uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.sum, double{kThreads} * kPerThread);
}

TEST(Metrics, RejectsProgrammingErrors) {
  MetricsRegistry reg;
  reg.GetCounter("x_total", "h");
  EXPECT_THROW(reg.GetGauge("x_total", "h"), std::logic_error);
  EXPECT_THROW(reg.GetHistogram("x_total", "h", {1}), std::logic_error);
  reg.GetHistogram("lat_seconds", "h", {1, 2});
  EXPECT_THROW(reg.GetHistogram("lat_seconds", "h", {1, 3}), std::logic_error);
  EXPECT_THROW(reg.GetGauge("lat_seconds_count", "h"), std::logic_error);  // collides
  EXPECT_THROW(reg.GetCounter("no_suffix", "h"), std::invalid_argument);
  EXPECT_THROW(reg.GetGauge("g_total", "h"), std::invalid_argument);
  EXPECT_THROW(reg.GetGauge("1bad", "h"), std::invalid_argument);
  EXPECT_THROW(reg.GetGauge("g", ""), std::invalid_argument);
  EXPECT_THROW(reg.GetGauge("g", "h", {{"bad-name", "v"}}), std::invalid_argument);
  EXPECT_THROW(reg.GetGauge("g", "h", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  EXPECT_THROW(reg.GetHistogram("h_seconds", "h", {1}, {{"le", "1"}}), std::invalid_argument);
  EXPECT_THROW(reg.GetHistogram("h_seconds", "h", {2, 1}), std::invalid_argument);
  reg.AddCallbackGauge("cb", "h", {}, [] { return 1.0; });
  EXPECT_THROW(reg.AddCallbackGauge("cb", "h", {}, [] { return 2.0; }), std::logic_error);
  EXPECT_THROW(reg.GetGauge("cb", "h"), std::logic_error);
  // Failed registrations leave nothing half-made behind.
  EXPECT_EQ(reg.RenderPrometheus().find("# HELP g "), std::string::npos);
}

TEST(Metrics, CallbacksRunAtScrapeTime) {
  MetricsRegistry reg;
  double depth = 1;
  reg.AddCallbackGauge("queue_depth", "h", {{"queue", "jobs"}}, [&] { return depth; });
  reg.AddCallbackCounter("work_seconds_total", "h", {}, [] { return 0.75; });
  EXPECT_NE(reg.RenderPrometheus().find("queue_depth{queue=\"jobs\"} 1\n"), std::string::npos);
  depth = 17;
  const std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("queue_depth{queue=\"jobs\"} 17\n"), std::string::npos);
  EXPECT_NE(text.find("work_seconds_total 0.75\n"), std::string::npos);
}

TEST(Metrics, PromtoolAcceptsEveryKind) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed";
  }
  MetricsRegistry reg;
  RegisterProcessMetrics(reg);
  reg.GetCounter("shopd_http_requests_total", "HTTP requests.",
                 {{"route", "/users/{id}"}, {"status", "200"}})
      .Inc(5);
  reg.GetCounter("shopd_http_requests_total", "HTTP requests.",
                 {{"route", "/weird \"\\\n\xc3"}, {"status", "500"}});
  reg.GetGauge("shopd_http_in_flight_requests", "In-flight requests.").Set(-2);
  Histogram& h = reg.GetHistogram("shopd_http_request_duration_seconds", "Latency.\nTwo lines.",
                                  HttpLatencyBucketsSeconds(), {{"route", "/a"}});
  for (double v : {0.00005, 0.003, 0.2, 99.0}) h.Observe(v);
  reg.GetHistogram("shopd_http_request_duration_seconds", "Latency.", HttpLatencyBucketsSeconds(),
                   {{"route", "/b"}});
  reg.AddCallbackGauge("shopd_pool_connections", "Pool size.", {{"pool", "db"}}, [] { return 3.0; });

  const std::string path = testing::TempDir() + "/shopd_metrics_" + std::to_string(getpid());
  {
    std::ofstream out(path);
    out << reg.RenderPrometheus();
  }
  const int rc = std::system(("promtool check metrics < '" + path + "'").c_str());
  std::remove(path.c_str());
  ASSERT_NE(rc, -1);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << reg.RenderPrometheus();
}

}  // namespace
}  // namespace shopd::obs
