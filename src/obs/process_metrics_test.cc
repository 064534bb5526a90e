#include "obs/process_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "obs/metrics.h"

namespace shopd::obs {
namespace {

// The value of the unlabelled sample `name` in an exposition, NaN if absent.
double Sample(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = text.find(key);
  if (at == std::string::npos) return NAN;
  return std::stod(text.substr(at + key.size()));
}

TEST(ProcessMetrics, ReportsSaneValues) {
  MetricsRegistry reg;
  RegisterProcessMetrics(reg);
  const std::string text = reg.RenderPrometheus();
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();

  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 1e5) << text;
  EXPECT_GE(Sample(text, "process_virtual_memory_bytes"),
            Sample(text, "process_resident_memory_bytes"));
  EXPECT_GE(Sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_GE(Sample(text, "process_open_fds"), 3);  // stdin, stdout, stderr
  EXPECT_GE(Sample(text, "process_max_fds"), Sample(text, "process_open_fds"));
  EXPECT_GE(Sample(text, "process_threads"), 1);
  const double start = Sample(text, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 86400);  // a test binary is younger than a day
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

TEST(ProcessMetrics, SecondRegistrationThrows) {
  MetricsRegistry reg;
  RegisterProcessMetrics(reg);
  EXPECT_THROW(RegisterProcessMetrics(reg), std::logic_error);
}

}  // namespace
}  // namespace shopd::obs
