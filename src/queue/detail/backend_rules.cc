#include "queue/detail/backend_rules.h"

#include <algorithm>

namespace shopd::queue::detail {

core::Error Invalid(std::string message) { return core::Error::Make(core::Errc::kInvalidArgument, std::move(message)); }

core::Result<void> ValidateEnqueue(const EnqueueRequest& r, const JobQueueOptions& options) {
  if (r.queue.empty() || r.queue.size() > kMaxQueueNameBytes) return Invalid("queue name must be 1..200 bytes");
  if (r.delay_ms < 0 || r.delay_ms > kMaxDelayMs) return Invalid("delay_ms must be 0..10 years");
  if (r.max_attempts < 0) return Invalid("max_attempts must not be negative");
  if (r.payload.size() > options.max_payload_bytes) return Invalid("job payload is too large");
  if (r.dedupe_key && (r.dedupe_key->empty() || r.dedupe_key->size() > kMaxDedupeKeyBytes))
    return Invalid("dedupe_key must be 1..512 bytes");
  return {};
}

core::Result<void> ValidateLease(int64_t lease_ms) {
  if (lease_ms <= 0 || lease_ms > kMaxLeaseMs) return Invalid("lease_ms must be 1 ms..24 h");
  return {};
}

int MaxAttempts(const EnqueueRequest& r, const JobQueueOptions& options) {
  return r.max_attempts > 0 ? r.max_attempts : std::max(options.default_max_attempts, 1);
}

}  // namespace shopd::queue::detail
