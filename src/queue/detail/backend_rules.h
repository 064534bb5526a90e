// queue (internal): the rules every JobQueue backend applies the same way, so
// that they cannot drift apart: the bounds on requests, how a request's
// attempts are counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "queue/job_queue.h"

namespace shopd::queue::detail {

inline constexpr size_t kMaxQueueNameBytes = 200;
inline constexpr size_t kMaxDedupeKeyBytes = 512;
inline constexpr size_t kMaxEnqueueBatch = 10'000;
inline constexpr size_t kMaxErrorBytes = 4096;
// Bounds that keep `now + x` far from overflow and catch unit mistakes.
inline constexpr int64_t kMaxDelayMs = int64_t{10} * 365 * 24 * 3600 * 1000;  // 10 years
inline constexpr int64_t kMaxLeaseMs = int64_t{24} * 3600 * 1000;             // a day

core::Error Invalid(std::string message);

// kInvalidArgument for an empty or long queue name, a negative or huge delay,
// negative max_attempts, an oversize payload or a bad dedupe key.
core::Result<void> ValidateEnqueue(const EnqueueRequest& request, const JobQueueOptions& options);
// kInvalidArgument unless 1 ms <= lease_ms <= a day.
core::Result<void> ValidateLease(int64_t lease_ms);
// The request's max_attempts, or the options' default (at least 1).
int MaxAttempts(const EnqueueRequest& request, const JobQueueOptions& options);

}  // namespace shopd::queue::detail
