#include "workers/workers_config.h"

#include <charconv>

namespace shopd::workers {

void WorkersConfig::Declare(config::ConfigSource& src) {
  src.Declare({"workers", "128", "order saga jobs in flight per process (they mostly wait on the database)"});
  src.Declare({"payment-decline-rate", "0", "simulated payment provider: share of charges declined (0..1)"});
  src.Declare({"payment-latency-ms", "0", "simulated payment provider: latency per charge"});
  src.Declare({"payment-timeout-ms", "5000",
               "a charge without an answer after this long is retried later (outcome unknown)"});
  src.Declare({"job-lease-ms", "10000", "a job whose worker died is redelivered after this long"});
  src.Declare({"job-max-attempts", "8", "attempts before a job is dead-lettered"});
  src.Declare({"refund-max-attempts", "100",
               "attempts of an order refund (backoff up to 60 s apart) before it is dead-lettered for an operator"});
  src.Declare({"payment-failing-refunds", "0",
               "simulated payment provider: the first N refunds fail (to exercise the refund retries)"});
  src.Declare({"event-retention-s", "604800", "events older than this are trimmed from the embedded event log"});
}

core::Result<WorkersConfig> WorkersConfig::Load(const config::ConfigSource& src) {
  WorkersConfig c;
  config::ConfigErrors errs;
  int64_t v = 0;
  errs.Take(src.GetInt("workers", 1, 1024), v);
  c.workers = static_cast<int>(v);
  std::string rate = src.Raw("payment-decline-rate").value_or("0");
  double d = -1;
  auto [end, ec] = std::from_chars(rate.data(), rate.data() + rate.size(), d);
  if (ec != std::errc{} || end != rate.data() + rate.size() || d < 0 || d > 1)
    errs.Add("payment-decline-rate: expected a number from 0 to 1, got '" + rate + "'");
  else
    c.payment_decline_rate = d;
  errs.Take(src.GetInt("payment-latency-ms", 0, 60'000), c.payment_latency_ms);
  errs.Take(src.GetInt("payment-timeout-ms", 1, 600'000), c.payment_timeout_ms);
  errs.Take(src.GetInt("job-lease-ms", 100, 3'600'000), c.job_lease_ms);
  errs.Take(src.GetInt("job-max-attempts", 1, 1000), c.job_max_attempts);
  errs.Take(src.GetInt("refund-max-attempts", 1, 100'000), c.refund_max_attempts);
  errs.Take(src.GetInt("payment-failing-refunds", 0, 1'000'000'000), c.payment_failing_refunds);
  errs.Take(src.GetInt("event-retention-s", 60, 10LL * 365 * 24 * 3600), c.event_retention_s);
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::workers
