// obs: the standard Prometheus process metrics, read from /proc/self at scrape
// time. Depends on metrics.h (Linux only).
//
//   MetricsRegistry reg;
//   RegisterProcessMetrics(reg);   // once per registry; a second call throws
#pragma once

#include "obs/fwd.h"

namespace shopd::obs {

// Registers process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds and process_threads. Values that cannot be read
// render as NaN rather than failing the scrape.
void RegisterProcessMetrics(MetricsRegistry& registry);

}  // namespace shopd::obs
