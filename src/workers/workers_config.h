// workers: settings of the in-process order workers and the simulated payment provider.
#pragma once

#include <cstdint>

#include "config/config_source.h"
#include "core/error.h"

namespace shopd::workers {

struct WorkersConfig {
  int workers = 128;               // saga jobs in flight per process
  double payment_decline_rate = 0.0;
  int64_t payment_latency_ms = 0;
  int64_t payment_timeout_ms = 5'000;  // a slower charge is retried as "outcome unknown"
  int64_t job_lease_ms = 10'000;   // a job whose worker died is redelivered after this
  int64_t job_max_attempts = 8;    // then it is dead-lettered
  // Refunds are retried far longer than saga steps: money owed to a customer
  // waits out a provider outage (about 1.5 h at the 60 s backoff cap) before
  // an operator is asked (a dead letter, `shopd queue dead-letters`).
  int64_t refund_max_attempts = 100;
  int64_t payment_failing_refunds = 0;  // simulated provider: the first N refunds fail
  int64_t event_retention_s = 7 * 24 * 3600;  // older events are trimmed from the log

  static void Declare(config::ConfigSource& src);
  static core::Result<WorkersConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::workers
