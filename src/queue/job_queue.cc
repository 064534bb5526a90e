#include "queue/job_queue.h"

#include <algorithm>
#include <random>

#include "core/random.h"

namespace shopd::queue {

int64_t BackoffMs(const RetryPolicy& policy, int failed_attempt, double unit) {
  const int64_t cap = std::max<int64_t>(policy.cap_ms, 0);
  int64_t delay = std::clamp<int64_t>(policy.base_ms, 0, cap);
  // Doubling stops at the cap, so large attempt numbers cannot overflow.
  for (int i = 1; i < failed_attempt && delay < cap; ++i) delay = std::min(cap, delay * 2);
  if (!policy.jitter) return delay;
  unit = std::clamp(unit, 0.0, 1.0);
  return static_cast<int64_t>(static_cast<double>(delay) * unit);
}

int64_t BackoffMs(const RetryPolicy& policy, int failed_attempt) {
  thread_local std::mt19937_64 rng = [] {
    uint64_t seed = 0;
    core::SecureRandomBytes(&seed, sizeof seed);
    return std::mt19937_64(seed);
  }();
  // [0, 1] inclusive, so the full delay is reachable.
  const double unit = static_cast<double>(rng()) / static_cast<double>(std::mt19937_64::max());
  return BackoffMs(policy, failed_attempt, unit);
}

}  // namespace shopd::queue
