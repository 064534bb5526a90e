// obs: forward declarations, so headers that only pass these around stay light.
#pragma once

namespace shopd::obs {
class Counter;
class Gauge;
class Histogram;
class MetricsRegistry;
class AccessLog;
struct AccessRecord;
struct AccessLogConfig;
struct LogConfig;
}  // namespace shopd::obs
