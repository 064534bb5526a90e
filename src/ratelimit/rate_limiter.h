// ratelimit: the rate limiter interface. Depends on core.
//
// A limit is "at most `limit` events per `window_ms` for a key", enforced as
// GCRA (a token bucket of capacity `limit` refilled over `window_ms`): one
// number per key, exact Retry-After. Embedded: memory/ (per process);
// scale-out: a Redis implementation shares the counts between replicas.
//
// An expensive operation reserves its event before it starts (Hit) and gives
// it back when the event turned out not to count (Refund), so N requests sent
// at once cannot all pass a check made before any of them is counted:
//
//   auto d = co_await limiter.Hit("login:ip:10.0.0.1", 50, 60'000);
//   if (!d.allowed) return TooManyRequests(d.retry_after_ms);
//   if (co_await VerifyPassword(...)) co_await limiter.Refund("login:ip:10.0.0.1", 50, 60'000);
//
// Keys may be of any length; a backend stores a key of more than
// kMaxStoredKeyBytes as a fixed-size digest, so memory per key is bounded.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shopd::ratelimit {

// Longer keys are stored as their SHA-256 digest.
inline constexpr size_t kMaxStoredKeyBytes = 64;

struct Decision {
  bool allowed = true;
  int64_t retry_after_ms = 0;  // when !allowed: time until one more event fits
  int RetryAfterSeconds() const { return static_cast<int>((retry_after_ms + 999) / 1000); }
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Counts one event for `key` if it fits; a rejected event is not counted.
  // The check and the count are one atomic step.
  virtual boost::asio::awaitable<Decision> Hit(std::string_view key, int limit, int64_t window_ms) = 0;
  // Would one more event fit? Counts nothing.
  virtual boost::asio::awaitable<Decision> Peek(std::string_view key, int limit, int64_t window_ms) = 0;
  // Gives back one event counted by an earlier allowed Hit with the same
  // limit and window. Never credits more than a full bucket; a key with
  // nothing counted is left alone.
  virtual boost::asio::awaitable<void> Refund(std::string_view key, int limit, int64_t window_ms) = 0;
};

}  // namespace shopd::ratelimit
