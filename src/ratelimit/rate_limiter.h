// ratelimit: the rate limiter interface. Depends on core.
//
// A limit is "at most `limit` events per `window_ms` for a key", enforced as
// GCRA (a token bucket of capacity `limit` refilled over `window_ms`): one
// number per key, exact Retry-After. Embedded: memory/ (per process);
// scale-out: a Redis implementation shares the counts between replicas.
//
//   auto d = co_await limiter.Hit("login:ip:10.0.0.1", 50, 60'000);
//   if (!d.allowed) return TooManyRequests(d.retry_after_ms);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string_view>

namespace shopd::ratelimit {

struct Decision {
  bool allowed = true;
  int64_t retry_after_ms = 0;  // when !allowed: time until one more event fits
  int RetryAfterSeconds() const { return static_cast<int>((retry_after_ms + 999) / 1000); }
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Counts one event for `key` if it fits; a rejected event is not counted.
  virtual boost::asio::awaitable<Decision> Hit(std::string_view key, int limit, int64_t window_ms) = 0;
  // Would one more event fit? Counts nothing.
  virtual boost::asio::awaitable<Decision> Peek(std::string_view key, int limit, int64_t window_ms) = 0;
};

}  // namespace shopd::ratelimit
