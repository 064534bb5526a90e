// ratelimit/redis: GCRA on Redis, one count per key shared by every replica.
// Depends on ratelimit, redis and core.
//
// Each decision is one Lua script run with EVALSHA (loaded on NOSCRIPT): it
// reads the key's theoretical arrival time, decides, and writes it back in one
// atomic step, on the Redis server's clock (TIME), so replicas whose clocks
// disagree still agree on every bucket. Same arithmetic as MemoryRateLimiter
// (integer milliseconds, interval = window / limit), and keys are stored the
// same way (StoredKey), under `key_prefix`. A key expires once its bucket is
// full again, so Redis holds only keys that still carry information.
//
// A FallibleRateLimiter: when Redis is down or slow (RedisClient's deadline),
// every call fails with kUnavailable; wrap it in a FallbackRateLimiter.
//
//   RedisRateLimiter shared(*client, {.key_prefix = "shopd:rl:"});
//   MemoryRateLimiter local(core::SystemClock::Instance());
//   FallbackRateLimiter limiter(shared, local, &metrics, "login");
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"
#include "ratelimit/fallible_rate_limiter.h"
#include "redis/fwd.h"

namespace shopd::ratelimit {

struct RedisRateLimiterOptions {
  std::string key_prefix = "shopd:rl:";
  // Tests only: this clock's MonotonicMs() is added to the server's TIME, so
  // a ManualClock moves Redis' notion of now forward. Null in production.
  const core::Clock* test_time_offset = nullptr;
};

class RedisRateLimiter final : public FallibleRateLimiter {
 public:
  // `client` must outlive the limiter.
  explicit RedisRateLimiter(redis::RedisClient& client, RedisRateLimiterOptions options = {});

  // FallibleRateLimiter
  boost::asio::awaitable<core::Result<Decision>> Hit(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<core::Result<Decision>> Peek(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<core::Result<void>> Refund(std::string_view key, int limit, int64_t window_ms) override;

  // Where `key`'s count lives in Redis.
  std::string RedisKey(std::string_view key) const;

 private:
  boost::asio::awaitable<core::Result<Decision>> Run(std::string_view key, int limit, int64_t window_ms,
                                                     const char* mode);

  redis::RedisClient& client_;
  const RedisRateLimiterOptions options_;
};

}  // namespace shopd::ratelimit
