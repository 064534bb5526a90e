// ratelimit: a RateLimiter that asks a shared store first (a
// FallibleRateLimiter, e.g. Redis) and, when that fails or times out, answers
// from an in-process one. Depends on core and obs.
//
// While the shared store is out, each replica counts only its own events, so
// a limit holds per replica rather than across all of them: looser by up to
// the number of replicas, never unlimited. Each fallback counts in
// shopd_ratelimit_fallbacks_total{limiter,op}, and a warning is logged at most
// once per log_interval. A Refund that cannot reach the shared store goes to
// the local one, where it finds nothing counted (unless the Hit was local
// too) and changes nothing: the shared count then stays one event stricter.
//
//   FallbackRateLimiter limiter(redis_limiter, memory_limiter, &metrics, "login");
//   auto d = co_await limiter.Hit("login:ip:10.0.0.1", 50, 60'000);   // never fails
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "obs/fwd.h"
#include "obs/log_throttle.h"
#include "obs/metrics.h"
#include "ratelimit/fallible_rate_limiter.h"
#include "ratelimit/rate_limiter.h"

namespace shopd::ratelimit {

class FallbackRateLimiter final : public RateLimiter {
 public:
  // `primary`, `fallback` and `metrics` (when given) must outlive this.
  FallbackRateLimiter(FallibleRateLimiter& primary, RateLimiter& fallback, obs::MetricsRegistry* metrics = nullptr,
                      std::string name = "default",
                      std::chrono::milliseconds log_interval = std::chrono::milliseconds(10'000));
  FallbackRateLimiter(const FallbackRateLimiter&) = delete;
  FallbackRateLimiter& operator=(const FallbackRateLimiter&) = delete;

  // RateLimiter
  boost::asio::awaitable<Decision> Hit(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<Decision> Peek(std::string_view key, int limit, int64_t window_ms) override;
  boost::asio::awaitable<void> Refund(std::string_view key, int limit, int64_t window_ms) override;

  // Answers given by `fallback`, over all operations.
  uint64_t fallbacks() const;

 private:
  enum class Op { kHit, kPeek, kRefund };
  void CountFallback(Op op, const core::Error& error);

  FallibleRateLimiter& primary_;
  RateLimiter& fallback_;
  const std::string name_;
  obs::LogThrottle log_;
  obs::Counter own_[3];
  obs::Counter* fallbacks_[3];
};

}  // namespace shopd::ratelimit
