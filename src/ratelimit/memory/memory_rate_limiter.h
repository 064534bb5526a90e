// ratelimit: in-process GCRA limiter, sharded, bounded in keys.
//
// Bounded so that an attacker cycling through keys (IPs, emails) cannot grow
// memory: a full shard first forgets keys whose bucket has refilled (they are
// indistinguishable from new keys), then the key closest to refilled.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "ratelimit/rate_limiter.h"

namespace shopd::ratelimit {

class MemoryRateLimiter final : public RateLimiter {
 public:
  explicit MemoryRateLimiter(const core::Clock& clock, size_t max_keys = 200'000);

  // RateLimiter
  boost::asio::awaitable<Decision> Hit(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<Decision> Peek(std::string_view key, int limit, int64_t window_ms) override;

  // The synchronous core, for callers that are not coroutines.
  Decision Apply(std::string_view key, int limit, int64_t window_ms, bool count);
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, int64_t> tat_ms;  // theoretical arrival time per key
  };
  void MakeRoom(Shard& shard, int64_t now);

  const core::Clock& clock_;
  const size_t max_keys_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace shopd::ratelimit
