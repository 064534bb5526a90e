// ratelimit: a rate limiter whose store can fail (a remote one), so each
// answer is a decision or an error. Depends on core.
//
// When it answers, it means exactly what RateLimiter (rate_limiter.h) means.
// Callers do not use one directly: FallbackRateLimiter wraps it into a
// RateLimiter that always answers, which makes the choice of what happens
// while the store is unreachable explicit and in one place.
//
//   RedisRateLimiter shared(client);                     // a FallibleRateLimiter
//   MemoryRateLimiter local(clock);
//   FallbackRateLimiter limiter(shared, local, &metrics, "login");
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "ratelimit/rate_limiter.h"

namespace shopd::ratelimit {

class FallibleRateLimiter {
 public:
  virtual ~FallibleRateLimiter() = default;
  // As RateLimiter::Hit, Peek and Refund; an error when the store did not answer.
  virtual boost::asio::awaitable<core::Result<Decision>> Hit(std::string_view key, int limit, int64_t window_ms) = 0;
  virtual boost::asio::awaitable<core::Result<Decision>> Peek(std::string_view key, int limit, int64_t window_ms) = 0;
  virtual boost::asio::awaitable<core::Result<void>> Refund(std::string_view key, int limit, int64_t window_ms) = 0;
};

}  // namespace shopd::ratelimit
